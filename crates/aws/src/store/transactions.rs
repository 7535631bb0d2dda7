//! The two writes that change state, each one `TransactWriteItems`. Every item carries
//! the condition that makes a race lose cleanly, and a [`Guard`] that names it so a
//! cancelled transaction maps to the precise contract error.
//!
//! What each names, by construction:
//! - a create: the requester's own participant entry (checked), their pending marker,
//!   the request, a shard of the chat's counts and the outbox. Nothing every create of
//!   a chat writes, so any number of users can ask to join one chat at once; and a
//!   fixed number of items, whatever the number of admins: the outbox writes the
//!   notifications, in a transaction of their own ([`Store::notify`]).
//! - a decision: the request, its pending marker, the decider's own entry (checked), and
//!   on accept the requester's entry, the chat item (its participant count), the
//!   requester's score; and the outbox. A fixed number of items, whatever the number of
//!   admins: the notifications are dismissed through the outbox.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

use app::ports::{
    Acceptance, AnswerToKeep, ClosePlan, CreateLimit, CreatePlan, Guard, KeptAnswer, StoreError, TxError,
};
use app::requests::KEEP_ANSWERS_SECONDS;
use domain::sync::AppChange;
use domain::{Admission, Block, ObjectId, Outbox, Participant, Question, RequestNotifications, RequestStatus, Score};

use super::items::{self, encode, key_item, s, Item, CHANGED_AT};
use super::sync::NEWER;
use super::{keys, sdk_error, Store};

/// DynamoDB's limit on actions in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// Reads and transactions of one membership change before it gives up as contended.
const SYNC_ATTEMPTS: u32 = 5;
const IS_ACTIVE: &str = "attribute_exists(PK) AND attribute_not_exists(leftAt)";
const IS_NOT_ACTIVE: &str = "(attribute_not_exists(PK) OR attribute_exists(leftAt))";

/// Membership changes written in one transaction: an entry and its chat's count each,
/// within DynamoDB's 100 actions.
pub const MEMBERSHIPS_PER_TRANSACTION: usize = MAX_TRANSACTION_ITEMS / 2;

#[derive(Debug, Default, Clone)]
pub(super) struct KeptEntry {
    exists: bool,
    pub(super) active: bool,
    pub(super) changed_at: Option<String>,
}

impl KeptEntry {
    fn of(item: &Item) -> Self {
        let changed_at = match item.get(CHANGED_AT) {
            Some(AttributeValue::S(at)) => Some(at.clone()),
            _ => None,
        };
        Self { exists: true, active: !item.contains_key("leftAt"), changed_at }
    }
}

/// Adds the write of a membership change to `tx`, given its entry as kept: how much it
/// moves the chat's `participantsCount`, or `None` when the change is not newer than
/// the entry, or is not a membership change (it writes nothing). A `member.left` for
/// an entry never seen keeps it as left, so that an older `member.upserted` arriving
/// later changes nothing.
fn add_membership(tx: &mut Transaction, change: &AppChange, kept: &KeptEntry) -> Result<Option<i64>, StoreError> {
    let at = change.at();
    if kept.changed_at.as_deref().is_some_and(|kept| kept >= at) {
        return Ok(None);
    }
    match change {
        AppChange::MemberUpserted { chat, entry, .. } => {
            let mut item = items::member(*chat, entry)?;
            item.insert(CHANGED_AT.into(), s(at));
            let state = if kept.active { IS_ACTIVE } else { IS_NOT_ACTIVE };
            tx.add(
                Write::Put { item, names: Names::new(), values: values([(":at", s(at))]) },
                Some((&format!("{NEWER} AND {state}"), Guard::RequesterEntry)),
            )?;
            Ok(Some(i64::from(!kept.active)))
        }
        AppChange::MemberLeft { chat, user, .. } if !kept.exists => {
            let entry = Participant {
                id: ObjectId::generate(),
                user: *user,
                last_read_at: at.to_owned(),
                is_admin: false,
                left_at: Some(at.to_owned()),
            };
            let mut item = items::member(*chat, &entry)?;
            item.insert(CHANGED_AT.into(), s(at));
            tx.put_new(item, Guard::RequesterEntry)?;
            Ok(Some(0))
        }
        AppChange::MemberLeft { chat, user, .. } => {
            // An active entry also leaves the shown order.
            let (expression, state, names) = if kept.active {
                ("SET leftAt = :at, changedAt = :at REMOVE #order", IS_ACTIVE, names([("#order", keys::LSI1SK)]))
            } else {
                ("SET leftAt = :at, changedAt = :at", "attribute_exists(leftAt)", Names::new())
            };
            tx.add(
                Write::Update { key: keys::member(*chat, *user), expression, names, values: values([(":at", s(at))]) },
                Some((&format!("{NEWER} AND {state}"), Guard::RequesterEntry)),
            )?;
            Ok(Some(-i64::from(kept.active)))
        }
        _ => Ok(None),
    }
}

/// One transaction for the membership changes of `part` (each entry's newest, by its
/// place in `changes`), given each entry as kept by `kept`: the writes, one count update
/// per chat, and the places of the changes it writes.
fn memberships_transaction(
    table: &str,
    changes: &[AppChange],
    part: &[((ObjectId, ObjectId), usize)],
    kept: &HashMap<(ObjectId, ObjectId), KeptEntry>,
) -> Result<(Transaction, Vec<usize>), StoreError> {
    let mut tx = Transaction::new(table);
    let mut deltas: HashMap<ObjectId, i64> = HashMap::new();
    let mut written = Vec::new();
    for (entry, at) in part {
        let kept = kept.get(entry).map_or_else(KeptEntry::default, Clone::clone);
        if let Some(delta) = add_membership(&mut tx, &changes[*at], &kept)? {
            *deltas.entry(entry.0).or_default() += delta;
            written.push(*at);
        }
    }
    for (chat, delta) in deltas {
        if delta != 0 {
            move_count(&mut tx, chat, delta)?;
        }
    }
    Ok((tx, written))
}

/// The chat's `participantsCount` moved by `delta`: an `ADD`, which makes the item if
/// the chat's own event has not arrived yet.
fn move_count(tx: &mut Transaction, chat: ObjectId, delta: i64) -> Result<(), StoreError> {
    tx.add(
        Write::Update {
            key: keys::chat(chat),
            expression: "ADD participantsCount :delta",
            names: Names::new(),
            values: values([(":delta", number(delta))]),
        },
        None,
    )
}

/// Admin rights are checked by DynamoDB at commit, not only when they were read.
fn check_admin(tx: &mut Transaction, chat: ObjectId, admin: ObjectId) -> Result<(), StoreError> {
    tx.add(
        Write::Check {
            key: keys::member(chat, admin),
            names: Names::new(),
            values: values([(":true", AttributeValue::Bool(true))]),
        },
        Some(("isAdmin = :true AND attribute_not_exists(leftAt)", Guard::DeciderRights)),
    )
}

/// One more (or one fewer) block of `block.chat`, on the shard its user picks.
fn count_block(tx: &mut Transaction, block: &Block, delta: i64) -> Result<(), StoreError> {
    tx.add(
        Write::Update {
            key: keys::block_count(block.chat, keys::count_shard_of(block.user)),
            expression: "SET entity = :kind ADD blocked :delta",
            names: Names::new(),
            values: values([(":kind", s(items::BLOCK_COUNT)), (":delta", number(delta))]),
        },
        None,
    )
}

/// One more create on the requester's counter of this hour, if it has counted fewer
/// than the limit. The counter expires (TTL) when its hour has ended.
fn count_create(tx: &mut Transaction, user: ObjectId, limit: &CreateLimit) -> Result<(), StoreError> {
    tx.add(
        Write::Update {
            key: keys::creates_in(user, &limit.hour.name),
            expression: "SET entity = :kind, #ttl = :ttl ADD #count :one",
            names: names([("#count", "count"), ("#ttl", "ttl")]),
            values: values([
                (":kind", s(items::CREATE_COUNT)),
                (":ttl", number(limit.hour.ends_at)),
                (":one", number(1)),
                (":limit", number(i64::from(limit.per_hour))),
            ]),
        },
        Some(("attribute_not_exists(#count) OR #count < :limit", Guard::CreateLimit)),
    )
}

/// The notifications of a request are written in one transaction with the check that
/// it is still pending.
pub const MAX_NOTIFIED_ADMINS: usize = MAX_TRANSACTION_ITEMS - 1;

type Values = HashMap<String, AttributeValue>;
type Names = HashMap<String, String>;

fn names<const N: usize>(pairs: [(&str, &str); N]) -> Names {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Values {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Refused { operation: "TransactWriteItems", message: e.to_string() }
}

const IS_NEW: &str = "attribute_not_exists(PK)";

/// One transaction being built: its items and, in step, the guard of each.
struct Transaction {
    table: String,
    items: Vec<TransactWriteItem>,
    guards: Vec<Option<Guard>>,
}

/// One write of a transaction, before it is bound to the table.
enum Write<'a> {
    Put { item: Item, names: Names, values: Values },
    Update { key: keys::Key, expression: &'a str, names: Names, values: Values },
    Check { key: keys::Key, names: Names, values: Values },
    Delete { key: keys::Key, names: Names },
}

impl Transaction {
    fn new(table: &str) -> Self {
        Self { table: table.to_owned(), items: Vec::new(), guards: Vec::new() }
    }

    fn add(&mut self, write: Write<'_>, condition: Option<(&str, Guard)>) -> Result<(), StoreError> {
        let table = self.table.clone();
        let expression = condition.map(|(c, _)| c.to_owned());
        let optional = |values: Values| (!values.is_empty()).then_some(values);
        let item = match write {
            Write::Put { item, names, values } => {
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values(optional(values));
                TransactWriteItem::builder().put(put.build().map_err(invalid)?).build()
            }
            Write::Update { key, expression: update, names, values } => {
                let update = Update::builder()
                    .table_name(table)
                    .set_key(Some(key_item(&key)))
                    .update_expression(update)
                    .set_condition_expression(expression)
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values(optional(values));
                TransactWriteItem::builder().update(update.build().map_err(invalid)?).build()
            }
            Write::Check { key, names, values } => {
                let check = ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_item(&key)))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values(optional(values));
                TransactWriteItem::builder().condition_check(check.build().map_err(invalid)?).build()
            }
            Write::Delete { key, names } => {
                let delete = Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_item(&key)))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names((!names.is_empty()).then_some(names));
                TransactWriteItem::builder().delete(delete.build().map_err(invalid)?).build()
            }
        };
        self.guards.push(condition.map(|(_, guard)| guard));
        self.items.push(item);
        Ok(())
    }

    fn put_new(&mut self, item: Item, guard: Guard) -> Result<(), StoreError> {
        self.add(Write::Put { item, names: Names::new(), values: Values::new() }, Some((IS_NEW, guard)))
    }

    /// The answer kept under an idempotency key, first of the transaction so that its
    /// guard is the one a cancellation names: the same call at the same moment is a
    /// replay, not a conflict on the request. An expired answer (its TTL not yet acted
    /// on) is replaced.
    fn answer(&mut self, answer: Option<&AnswerToKeep<'_>>) -> Result<(), StoreError> {
        let Some(answer) = answer else { return Ok(()) };
        let key = keys::kept_answer(answer.caller, &answer.idempotency.key);
        let kept = KeptAnswer { fingerprint: answer.idempotency.fingerprint.clone(), value: answer.value.clone() };
        let mut item = encode(&key, items::KEPT_ANSWER, &kept)?;
        item.insert("ttl".into(), number(domain::time::epoch_seconds_in(KEEP_ANSWERS_SECONDS)));
        let now = number(domain::time::epoch_seconds_in(0));
        self.add(
            Write::Put { item, names: names([("#ttl", "ttl")]), values: values([(":now", now)]) },
            Some(("attribute_not_exists(PK) OR #ttl < :now", Guard::KeptAnswer)),
        )
    }

    fn outbox(&mut self, outbox: &Outbox) -> Result<(), StoreError> {
        if outbox.is_empty() {
            return Ok(());
        }
        self.put_new(items::outbox(outbox)?, Guard::FreshItem)
    }
}

/// The score update that counts `action` once, written so that every other field of
/// the item (other actions, other writers' attributes) is left as it is: `SET` of
/// paths, never a whole-item put, except when there is no item at all.
fn count_action(tx: &mut Transaction, user: ObjectId, acceptance: &Acceptance<'_>) -> Result<(), StoreError> {
    let key = keys::score(user);
    let points = acceptance.points;
    let tally = |count: i64| {
        AttributeValue::M(HashMap::from([("count".into(), number(count)), ("points".into(), number(points))]))
    };
    let Some(stored) = acceptance.score else {
        let score = Score::default().counted(acceptance.action, points);
        return tx.put_new(encode(&key, items::SCORE, &score)?, Guard::ScoreShape);
    };
    // DynamoDB refuses a name placeholder that the expressions do not use.
    let names_for = |tally_fields: bool| {
        let mut chosen = names([("#total", "total"), ("#actions", "actions"), ("#action", acceptance.action)]);
        if tally_fields {
            chosen.extend(names([("#count", "count"), ("#points", "points")]));
        }
        chosen
    };
    let add_total = "#total = if_not_exists(#total, :zero) + :points";
    let (expression, condition, names, values) = if !stored.has_actions {
        let actions = AttributeValue::M(HashMap::from([(acceptance.action.to_owned(), tally(1))]));
        (
            format!("SET {add_total}, #actions = :actions"),
            "attribute_exists(PK) AND attribute_not_exists(#actions)",
            names([("#total", "total"), ("#actions", "actions")]),
            values([(":zero", number(0)), (":points", number(points)), (":actions", actions)]),
        )
    } else if !stored.score.actions.contains_key(acceptance.action) {
        (
            format!("SET {add_total}, #actions.#action = :tally"),
            "attribute_exists(#actions) AND attribute_not_exists(#actions.#action)",
            names_for(false),
            values([(":zero", number(0)), (":points", number(points)), (":tally", tally(1))]),
        )
    } else {
        (
            format!(
                "SET {add_total}, \
                 #actions.#action.#count = if_not_exists(#actions.#action.#count, :zero) + :one, \
                 #actions.#action.#points = if_not_exists(#actions.#action.#points, :zero) + :points"
            ),
            "attribute_exists(#actions.#action)",
            names_for(true),
            values([(":zero", number(0)), (":one", number(1)), (":points", number(points))]),
        )
    };
    tx.add(Write::Update { key, expression: &expression, names, values }, Some((condition, Guard::ScoreShape)))
}

/// The request's move between statuses in its chat's counts: one `ADD` on the shard
/// its id picks (created: `from` is `None`).
fn count(
    tx: &mut Transaction,
    chat: ObjectId,
    request: ObjectId,
    from: Option<RequestStatus>,
    to: RequestStatus,
) -> Result<(), StoreError> {
    let kind = (":kind", s(items::REQUEST_COUNT));
    let (expression, names, values) = match from {
        None => ("SET entity = :kind ADD #to :one", names([("#to", to.as_str())]), values([(":one", number(1)), kind])),
        Some(from) => (
            "SET entity = :kind ADD #from :minus, #to :one",
            names([("#from", from.as_str()), ("#to", to.as_str())]),
            values([(":one", number(1)), (":minus", number(-1)), kind]),
        ),
    };
    let key = keys::request_count(chat, keys::count_shard_of(request));
    tx.add(Write::Update { key, expression, names, values }, None)
}

/// The requester's entry written as `admission` planned it, each with the condition
/// that the entry is still as it was read.
fn admit(tx: &mut Transaction, chat: ObjectId, user: ObjectId, admission: &Admission) -> Result<(), StoreError> {
    let key = keys::member(chat, user);
    match admission {
        // Stamped with the time of the acceptance, as the app's own membership changes
        // are: an older `member.left` arriving later changes nothing.
        Admission::NewEntry(entry) => {
            let mut item = items::member(chat, entry)?;
            item.insert(CHANGED_AT.into(), s(entry.last_read_at.clone()));
            tx.put_new(item, Guard::RequesterEntry)
        }
        Admission::Reactivate(entry) => {
            let order = domain::chat::shown_order(entry).unwrap_or_default();
            tx.add(
                Write::Update {
                    key,
                    expression: "SET lastReadAt = :now, changedAt = :now, #order = :order REMOVE leftAt, isAdmin",
                    names: names([("#order", keys::LSI1SK)]),
                    values: values([(":now", s(entry.last_read_at.clone())), (":order", s(order))]),
                },
                Some(("attribute_exists(leftAt)", Guard::RequesterEntry)),
            )
        }
        Admission::AlreadyActive => tx.add(
            Write::Check { key, names: Names::new(), values: Values::new() },
            Some(("attribute_exists(PK) AND attribute_not_exists(leftAt)", Guard::RequesterEntry)),
        ),
    }
}

impl Store {
    /// The requester's entry checked (absent or left), the uniqueness marker, the
    /// request, the chat's count shard, the requester's counter of the hour (with the
    /// limit on) and the outbox (with the notifications to write): all or nothing.
    /// Items: 5, 6 with the limit on, 1 more for a kept answer.
    pub async fn commit_create(&self, plan: &CreatePlan<'_>) -> Result<(), TxError> {
        let request = plan.request;
        let notified = plan.outbox.notify.as_ref().map_or(&[][..], |n| &n.admins);
        if notified.len() > MAX_NOTIFIED_ADMINS {
            return Err(StoreError::TooLarge(format!(
                "chat {} has {} active admins; at most {MAX_NOTIFIED_ADMINS} can be notified in one transaction",
                request.chat,
                notified.len()
            ))
            .into());
        }
        let mut tx = Transaction::new(&self.table);
        tx.answer(plan.answer.as_ref())?;
        tx.add(
            Write::Check { key: keys::member(request.chat, request.user), names: Names::new(), values: Values::new() },
            Some(("attribute_not_exists(PK) OR attribute_exists(leftAt)", Guard::RequesterEntry)),
        )?;
        // The marker may be a rejection's cooldown marker, replaced once it has run out.
        let marker = items::pending_marker(request)?;
        tx.add(
            Write::Put {
                item: marker,
                names: names([("#request", "request"), ("#block", "block")]),
                values: values([(":now", s(request.created_at.clone()))]),
            },
            Some((
                "attribute_not_exists(PK) OR \
                 (attribute_not_exists(#request) AND attribute_not_exists(#block) AND cooldownUntil <= :now)",
                Guard::PendingMarker,
            )),
        )?;
        tx.put_new(items::request(request, notified)?, Guard::FreshItem)?;
        count(&mut tx, request.chat, request.id, None, RequestStatus::Pending)?;
        // After every other condition: a create refused for another reason counts nothing,
        // and says that reason.
        if let Some(limit) = &plan.limit {
            count_create(&mut tx, request.user, limit)?;
        }
        tx.outbox(plan.outbox)?;
        self.commit(tx).await
    }

    /// Status change (only from pending), marker removal, the decider's rights checked,
    /// and on accept the requester's entry, the chat's count and the score; the outbox
    /// (events and the notifications to dismiss), and the chat's count shard. Items: 4
    /// (withdrawal), 5 (reject), 6 (reject and block: the marker becomes the block, and
    /// a block count shard) or 8 (accept), whatever the number of admins.
    pub async fn commit_close(&self, plan: &ClosePlan<'_>) -> Result<(), TxError> {
        let closed = plan.closed;
        let now = closed.updated_at.clone().unwrap_or_default();
        let mut expression =
            String::from("SET #status = :status, updatedAt = :now, GSI2PK = :statusIndex, GSI4PK = :chatStatusIndex");
        let mut update_values = values([
            (":status", s(closed.status.as_str())),
            (":pending", s(RequestStatus::Pending.as_str())),
            (":now", s(now.clone())),
            (":statusIndex", s(keys::requests_of_in(closed.user, closed.status))),
            (":chatStatusIndex", s(keys::requests_to_in(closed.chat, closed.status))),
        ]);
        if let (Some(decider), Some(decided_at)) = (closed.decided_by, &closed.decided_at) {
            expression.push_str(", decidedBy = :decider, decidedAt = :decidedAt");
            update_values.insert(":decider".into(), s(decider.to_string()));
            update_values.insert(":decidedAt".into(), s(decided_at.clone()));
        }
        if let Some(reason) = &closed.reason {
            expression.push_str(", reason = :reason");
            update_values.insert(":reason".into(), s(reason.as_str()));
        }
        let mut tx = Transaction::new(&self.table);
        tx.answer(plan.answer.as_ref())?;
        tx.add(
            Write::Update {
                key: keys::request(closed.id),
                expression: &expression,
                names: names([("#status", "status")]),
                values: update_values,
            },
            Some(("#status = :pending", Guard::RequestPending)),
        )?;
        // The pending rule is freed either way; after a rejection with a cooldown the
        // marker stays, as the cooldown's, until then; after one that blocks, as the block.
        match (plan.block, &plan.cooldown_until) {
            (Some(block), _) => {
                let item = items::block_marker(block)?;
                tx.add(Write::Put { item, names: Names::new(), values: Values::new() }, None)?;
            }
            (None, Some(until)) => {
                let cooldown = items::cooldown_marker(closed.user, closed.chat, until)?;
                tx.add(Write::Put { item: cooldown, names: Names::new(), values: Values::new() }, None)?;
            }
            (None, None) => tx.add(
                Write::Delete { key: keys::pending_marker(closed.user, closed.chat), names: Names::new() },
                None,
            )?,
        }
        if let Some(decider) = plan.decider {
            check_admin(&mut tx, closed.chat, decider)?;
        }
        if let Some(block) = plan.block {
            count_block(&mut tx, block, 1)?;
        }
        if let Some(acceptance) = &plan.acceptance {
            admit(&mut tx, closed.chat, closed.user, acceptance.admission)?;
            if acceptance.admission.entry().is_some() {
                tx.add(
                    Write::Update {
                        key: keys::chat(closed.chat),
                        expression: "SET updatedAt = :now ADD participantsCount :one",
                        names: Names::new(),
                        values: values([(":now", s(now.clone())), (":one", number(1))]),
                    },
                    Some(("attribute_exists(PK)", Guard::ChatExists)),
                )?;
            }
            count_action(&mut tx, closed.user, acceptance)?;
        }
        count(&mut tx, closed.chat, closed.id, Some(RequestStatus::Pending), closed.status)?;
        tx.outbox(plan.outbox)?;
        self.commit(tx).await
    }

    /// The notifications of a request, written only while it is pending: the check and
    /// every notification in one transaction (1 + admins items). A failed condition
    /// means the request was closed, or an earlier delivery wrote them all (the
    /// transaction is all or nothing): either way there is nothing to do, and a
    /// notification the app removed since is not written again.
    pub async fn notify(&self, notify: &RequestNotifications) -> Result<(), StoreError> {
        if notify.is_empty() {
            return Ok(());
        }
        let mut tx = Transaction::new(&self.table);
        tx.add(
            Write::Check {
                key: keys::request(notify.request),
                names: names([("#status", "status")]),
                values: values([(":pending", s(RequestStatus::Pending.as_str()))]),
            },
            Some(("#status = :pending", Guard::RequestPending)),
        )?;
        for notification in notify.notifications() {
            let key = keys::notification(notification.user, notification.id);
            tx.put_new(encode(&key, items::NOTIFICATION, &notification)?, Guard::FreshItem)?;
        }
        match self.commit(tx).await {
            Ok(()) | Err(TxError::Failed(_)) => Ok(()),
            Err(TxError::Conflict) => Err(StoreError::Contended(1)),
            Err(TxError::Store(error)) => Err(error),
        }
    }

    /// One membership change (`member.upserted`, `member.left`): the entry's write if
    /// the change is newer than the entry kept, and the chat's `participantsCount`
    /// moved in the same transaction when the user becomes or stops being active. The
    /// read picks the write; the transaction's condition that the entry is still in the
    /// state read is what holds (a race reads again).
    pub(super) async fn sync_membership(&self, change: &AppChange) -> Result<bool, StoreError> {
        let Some((chat, user)) = change.membership() else { return Ok(false) };
        for attempt in 0..SYNC_ATTEMPTS {
            let kept = self.kept_entry(chat, user).await?;
            let mut tx = Transaction::new(&self.table);
            let Some(delta) = add_membership(&mut tx, change, &kept)? else { return Ok(false) };
            if delta != 0 {
                move_count(&mut tx, chat, delta)?;
            }
            match self.commit(tx).await {
                Ok(()) => return Ok(true),
                Err(TxError::Failed(_) | TxError::Conflict) => tokio::time::sleep(app::backoff(attempt)).await,
                Err(TxError::Store(error)) => return Err(error),
            }
        }
        Err(StoreError::Contended(SYNC_ATTEMPTS))
    }

    /// The membership changes among `changes` together: the newest change of each
    /// entry (an older one of the same entry would change nothing after it), their
    /// entries in one `BatchGetItem`, and one transaction of their writes and one count
    /// update per chat, the deltas summed (`MEMBERSHIPS_PER_TRANSACTION`, 50, entries a
    /// transaction). A condition failing there (another writer changed an entry since
    /// the read) sends that transaction's changes one at a time. `true` at the index of
    /// each change that changed something.
    pub async fn apply_memberships(&self, changes: &[AppChange]) -> Result<Vec<bool>, StoreError> {
        let mut newest: HashMap<(ObjectId, ObjectId), usize> = HashMap::new();
        for (at, change) in changes.iter().enumerate() {
            let Some(entry) = change.membership() else { continue };
            let chosen = newest.entry(entry).or_insert(at);
            if changes[*chosen].at() < change.at() {
                *chosen = at;
            }
        }
        let mut chosen: Vec<((ObjectId, ObjectId), usize)> = newest.into_iter().collect();
        chosen.sort_unstable_by_key(|(_, at)| *at);
        let mut applied = vec![false; changes.len()];
        for part in chosen.chunks(MEMBERSHIPS_PER_TRANSACTION) {
            let kept = self.kept_entries(part.iter().map(|(entry, _)| *entry)).await?;
            let (tx, written) = memberships_transaction(&self.table, changes, part, &kept)?;
            if written.is_empty() {
                continue;
            }
            match self.commit(tx).await {
                Ok(()) => written.iter().for_each(|at| applied[*at] = true),
                Err(TxError::Failed(_) | TxError::Conflict) => {
                    for at in written {
                        applied[at] = self.sync_membership(&changes[at]).await?;
                    }
                }
                Err(TxError::Store(error)) => return Err(error),
            }
        }
        Ok(applied)
    }

    /// What the sync needs of a kept participant entry: one strongly consistent
    /// `GetItem`.
    async fn kept_entry(&self, chat: ObjectId, user: ObjectId) -> Result<KeptEntry, StoreError> {
        let item = self.get_consistent(&keys::member(chat, user), Some("PK, leftAt, changedAt")).await?;
        Ok(item.as_ref().map_or_else(KeptEntry::default, KeptEntry::of))
    }

    /// The same for many entries (one never seen is absent): one strongly consistent
    /// `BatchGetItem` per 100, 32 in flight.
    pub(super) async fn kept_entries(
        &self,
        entries: impl Iterator<Item = (ObjectId, ObjectId)>,
    ) -> Result<HashMap<(ObjectId, ObjectId), KeptEntry>, StoreError> {
        use futures::stream::{self, StreamExt};
        let wanted: Vec<keys::Key> = entries.map(|(chat, user)| keys::member(chat, user)).collect();
        // Collected first: a lazy map's closure would make the future not `Send`.
        let reads: Vec<_> = wanted.chunks(super::BATCH_GET_LIMIT).map(|chunk| self.batch_get(chunk)).collect();
        let mut pages = stream::iter(reads).buffer_unordered(super::CONCURRENT_READS);
        let mut kept = HashMap::with_capacity(wanted.len());
        while let Some(items) = pages.next().await {
            for item in items? {
                let key = super::items::item_key(&item);
                if let (Some(chat), Some(user)) = (keys::chat_of(&key), keys::member_user(&key)) {
                    kept.insert((chat, user), KeptEntry::of(&item));
                }
            }
        }
        Ok(kept)
    }

    /// `chat`'s questions replaced, while `admin` is an active admin of it: 2 items.
    pub async fn put_questions(&self, chat: ObjectId, admin: ObjectId, questions: &[Question]) -> Result<(), TxError> {
        let mut tx = Transaction::new(&self.table);
        check_admin(&mut tx, chat, admin)?;
        tx.add(
            Write::Put { item: items::questions(chat, questions)?, names: Names::new(), values: Values::new() },
            None,
        )?;
        self.commit(tx).await
    }

    /// A block of a user with no pending request: the admin's rights, the user not an
    /// active participant, the marker (absent, or a cooldown's) becoming the block, and
    /// a block count shard: 4 items. A create at the same moment either commits first
    /// (its marker fails this condition: read again, and reject it) or finds the block.
    pub async fn commit_block(&self, block: &Block) -> Result<(), TxError> {
        let mut tx = Transaction::new(&self.table);
        check_admin(&mut tx, block.chat, block.blocked_by)?;
        tx.add(
            Write::Check { key: keys::member(block.chat, block.user), names: Names::new(), values: Values::new() },
            Some((IS_NOT_ACTIVE, Guard::RequesterEntry)),
        )?;
        tx.add(
            Write::Put {
                item: items::block_marker(block)?,
                names: names([("#request", "request"), ("#block", "block")]),
                values: Values::new(),
            },
            Some((
                "attribute_not_exists(PK) OR (attribute_not_exists(#request) AND attribute_not_exists(#block))",
                Guard::PendingMarker,
            )),
        )?;
        count_block(&mut tx, block, 1)?;
        self.commit(tx).await
    }

    /// `block` lifted by `admin`: the admin's rights, the marker deleted if it still
    /// holds a block, the count shard: 3 items.
    pub async fn commit_unblock(&self, block: &Block, admin: ObjectId) -> Result<(), TxError> {
        let mut tx = Transaction::new(&self.table);
        check_admin(&mut tx, block.chat, admin)?;
        tx.add(
            Write::Delete { key: keys::pending_marker(block.user, block.chat), names: names([("#block", "block")]) },
            Some(("attribute_exists(#block)", Guard::PendingMarker)),
        )?;
        count_block(&mut tx, block, -1)?;
        self.commit(tx).await
    }

    async fn commit(&self, tx: Transaction) -> Result<(), TxError> {
        if tx.items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(format!(
                "the change needs {} items in one transaction; DynamoDB allows {MAX_TRANSACTION_ITEMS}",
                tx.items.len()
            ))
            .into());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(tx.items)).send().await;
        let Err(error) = result else { return Ok(()) };
        let reasons = error.as_service_error().and_then(|e| {
            match e {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                cancelled,
            ) => Some(cancelled.cancellation_reasons()),
            _ => None,
        }
        });
        let Some(reasons) = reasons else {
            return Err(sdk_error("TransactWriteItems", error).into());
        };
        let code_at = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        if let Some(guard) = (0..reasons.len())
            .filter(|&i| code_at(i) == "ConditionalCheckFailed")
            .find_map(|i| tx.guards.get(i).copied().flatten())
        {
            return Err(TxError::Failed(guard));
        }
        if (0..reasons.len()).any(|i| matches!(code_at(i), "TransactionConflict" | "ThrottlingError")) {
            return Err(TxError::Conflict);
        }
        Err(sdk_error("TransactWriteItems", error).into())
    }
}
