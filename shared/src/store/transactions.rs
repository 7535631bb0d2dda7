//! The two writes that change state, each one `TransactWriteItems`. Every item carries
//! the condition that makes a race lose cleanly, and a [`Guard`] that names it so a
//! cancelled transaction maps to the precise contract error.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::{encode, key_item, keys, table, Item, Store, StoreError, VersionedScore};
use crate::domain::{Admission, JoinRequest, Notification, ObjectId, OutboundEvent, RequestStatus};

/// DynamoDB's limit on actions in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// A decision writes 5 items besides one per notification, so a request may notify at
/// most this many admins and still be decidable.
pub const MAX_NOTIFIED_ADMINS: usize = MAX_TRANSACTION_ITEMS - 5;

/// Which condition cancelled a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Another pending request of the same user for the same chat exists.
    PendingMarker,
    /// The request is no longer pending.
    RequestPending,
    /// The chat no longer is what the plan was made from (membership, admin rights,
    /// group or restricted flags): read again and decide again.
    ChatState,
    /// The requester's score changed since it was read: read again.
    ScoreVersion,
    /// An id that must be new already exists. Ids are random enough that this means
    /// a bug, not a race.
    FreshItem,
}

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("condition failed: {0:?}")]
    Failed(Guard),
    #[error("another transaction touched the same items")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which admin got which notification, kept on the request item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRef {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: ObjectId,
}

pub struct CreatePlan<'a> {
    pub request: &'a JoinRequest,
    pub notifications: &'a [Notification],
    pub events: &'a [OutboundEvent],
}

/// What accepting adds to a decision.
pub struct Acceptance {
    /// How the requester's participant entry changes.
    pub admission: Admission,
    /// The requester's score after counting the action.
    pub score: VersionedScore,
    /// The version the score was read at; `None` when the user had no score yet.
    pub read_version: Option<u64>,
}

pub struct DecisionPlan<'a> {
    pub decided: &'a JoinRequest,
    pub notified: &'a [NotificationRef],
    pub decider: ObjectId,
    /// `Some` on accept.
    pub acceptance: Option<&'a Acceptance>,
    pub events: &'a [OutboundEvent],
}

struct Transaction<'t> {
    table: &'t str,
    items: Vec<TransactWriteItem>,
    guards: Vec<Option<Guard>>,
}

type Values = HashMap<String, AttributeValue>;
type Names = HashMap<String, String>;

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn names<const N: usize>(pairs: [(&str, String); N]) -> Names {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Values {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Sdk { operation: "TransactWriteItems", message: e.to_string() }
}

/// The condition that `#decider` is an active admin. Admin rights are checked by
/// DynamoDB at commit, not only when the chat was read.
const DECIDER_IS_ACTIVE_ADMIN: &str =
    "participants.#decider.isAdmin = :true AND attribute_not_exists(participants.#decider.leftAt)";

impl<'t> Transaction<'t> {
    fn new(table: &'t str) -> Self {
        Self { table, items: Vec::new(), guards: Vec::new() }
    }

    fn put(&mut self, item: Item, condition: Option<(&str, Guard)>) -> Result<(), StoreError> {
        self.put_with(item, condition, Values::new())
    }

    fn put_with(&mut self, item: Item, condition: Option<(&str, Guard)>, values: Values) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(|(c, _)| c.to_owned()))
            .set_expression_attribute_values((!values.is_empty()).then_some(values));
        self.guards.push(condition.map(|(_, guard)| guard));
        self.items.push(TransactWriteItem::builder().put(put.build().map_err(invalid)?).build());
        Ok(())
    }

    fn update(
        &mut self,
        key: &keys::Key,
        expression: &str,
        condition: Option<(&str, Guard)>,
        names: Names,
        values: Values,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(self.table)
            .set_key(Some(key_item(key)))
            .update_expression(expression)
            .set_condition_expression(condition.map(|(c, _)| c.to_owned()))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(invalid)?;
        self.guards.push(condition.map(|(_, guard)| guard));
        self.items.push(TransactWriteItem::builder().update(update).build());
        Ok(())
    }

    fn check(
        &mut self,
        key: &keys::Key,
        condition: &str,
        guard: Guard,
        names: Names,
        values: Values,
    ) -> Result<(), StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table)
            .set_key(Some(key_item(key)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(invalid)?;
        self.guards.push(Some(guard));
        self.items.push(TransactWriteItem::builder().condition_check(check).build());
        Ok(())
    }

    fn delete(&mut self, key: &keys::Key) -> Result<(), StoreError> {
        let delete = Delete::builder().table_name(self.table).set_key(Some(key_item(key))).build().map_err(invalid)?;
        self.guards.push(None);
        self.items.push(TransactWriteItem::builder().delete(delete).build());
        Ok(())
    }

    fn outbox(&mut self, events: &[OutboundEvent], now: &str) -> Result<(), StoreError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Outbox<'a> {
            events: &'a [OutboundEvent],
            created_at: &'a str,
        }
        // Keyed by the first event's id: unique, and stable if the write is retried.
        let mut item = encode(&keys::outbox(first.id), table::OUTBOX, &Outbox { events, created_at: now })?;
        // In the sparse outbox partition of GSI1 until published and deleted.
        item.insert(keys::GSI1PK.into(), s(keys::OUTBOX_INDEX_PARTITION));
        item.insert(keys::GSI1SK.into(), s(keys::outbox_order(now, first.id)));
        self.put(item, Some(("attribute_not_exists(PK)", Guard::FreshItem)))
    }
}

fn request_item(request: &JoinRequest, notified: &[NotificationRef]) -> Result<Item, StoreError> {
    let mut item = encode(&keys::request(request.id), table::REQUEST, request)?;
    let order = keys::request_order(&request.created_at, request.id);
    item.insert(keys::GSI1PK.into(), s(keys::requests_of(request.user)));
    item.insert(keys::GSI1SK.into(), s(order.clone()));
    item.insert(keys::GSI2PK.into(), s(keys::requests_of_in(request.user, request.status)));
    item.insert(keys::GSI2SK.into(), s(order));
    item.insert("notified".into(), serde_dynamo::to_attribute_value(notified).map_err(StoreError::Encode)?);
    Ok(item)
}

impl Store {
    /// Request, uniqueness marker, one notification per admin and the outbox: all or
    /// nothing. Items: 3 + admins (+1 chat condition check).
    pub async fn commit_create(&self, plan: &CreatePlan<'_>) -> Result<(), TxError> {
        let request = plan.request;
        if plan.notifications.len() > MAX_NOTIFIED_ADMINS {
            return Err(StoreError::TooLarge(format!(
                "chat {} has {} active admins; at most {MAX_NOTIFIED_ADMINS} can be notified in one transaction",
                request.chat,
                plan.notifications.len()
            ))
            .into());
        }
        let mut tx = Transaction::new(&self.table);
        tx.check(
            &keys::chat(request.chat),
            "isGroup = :true AND restricted = :true AND \
             (attribute_not_exists(participants.#requester) OR attribute_exists(participants.#requester.leftAt))",
            Guard::ChatState,
            names([("#requester", request.user.to_string())]),
            values([(":true", AttributeValue::Bool(true))]),
        )?;
        let marker = encode(
            &keys::pending_marker(request.user, request.chat),
            table::PENDING,
            &serde_json::json!({ "request": request.id }),
        )?;
        tx.put(marker, Some(("attribute_not_exists(PK)", Guard::PendingMarker)))?;
        let notified: Vec<NotificationRef> =
            plan.notifications.iter().map(|n| NotificationRef { id: n.id, user: n.user }).collect();
        tx.put(request_item(request, &notified)?, Some(("attribute_not_exists(PK)", Guard::FreshItem)))?;
        for notification in plan.notifications {
            let item =
                encode(&keys::notification(notification.user, notification.id), table::NOTIFICATION, notification)?;
            tx.put(item, Some(("attribute_not_exists(PK)", Guard::FreshItem)))?;
        }
        tx.outbox(plan.events, &request.created_at)?;
        self.commit(tx).await
    }

    /// Status change, marker removal, notifications dismissed, and on accept the
    /// participant entry, the score and the outbox: all or nothing. Items: 3 +
    /// notifications (+2 on accept).
    pub async fn commit_decision(&self, plan: &DecisionPlan<'_>) -> Result<(), TxError> {
        let decided = plan.decided;
        let now = decided.updated_at.clone().unwrap_or_default();
        let mut tx = Transaction::new(&self.table);
        tx.update(
            &keys::request(decided.id),
            "SET #status = :status, updatedAt = :now, decidedBy = :decider, decidedAt = :now, GSI2PK = :statusIndex",
            Some(("#status = :pending", Guard::RequestPending)),
            names([("#status", "status".to_owned())]),
            values([
                (":status", s(decided.status.as_str())),
                (":pending", s(RequestStatus::Pending.as_str())),
                (":now", s(now.clone())),
                (":decider", s(plan.decider.to_string())),
                (":statusIndex", s(keys::requests_of_in(decided.user, decided.status))),
            ]),
        )?;
        tx.delete(&keys::pending_marker(decided.user, decided.chat))?;
        for notification in plan.notified {
            // Unconditional: a notification the rest of the app already deleted must not
            // block the decision.
            tx.update(
                &keys::notification(notification.user, notification.id),
                "SET dismissed = :true",
                None,
                Names::new(),
                values([(":true", AttributeValue::Bool(true))]),
            )?;
        }

        let chat_key = keys::chat(decided.chat);
        let chat_names = names([("#decider", plan.decider.to_string()), ("#requester", decided.user.to_string())]);
        match plan.acceptance {
            None => {
                let mut chat_names = chat_names;
                chat_names.remove("#requester");
                tx.check(
                    &chat_key,
                    DECIDER_IS_ACTIVE_ADMIN,
                    Guard::ChatState,
                    chat_names,
                    values([(":true", AttributeValue::Bool(true))]),
                )?;
            }
            Some(Acceptance { admission, score, read_version }) => {
                let mut chat_values = values([(":true", AttributeValue::Bool(true)), (":now", s(now.clone()))]);
                let (expression, entry_condition) = match admission {
                    Admission::NewEntry(entry) => {
                        let value = serde_dynamo::to_attribute_value(entry).map_err(StoreError::Encode)?;
                        chat_values.insert(":entry".into(), value);
                        ("SET participants.#requester = :entry, updatedAt = :now", "attribute_not_exists(participants.#requester)")
                    }
                    Admission::Reactivate => (
                        "SET participants.#requester.lastReadAt = :now, updatedAt = :now \
                         REMOVE participants.#requester.leftAt, participants.#requester.isAdmin",
                        "attribute_exists(participants.#requester.leftAt)",
                    ),
                    Admission::AlreadyActive => (
                        "SET updatedAt = :now",
                        "attribute_exists(participants.#requester) AND attribute_not_exists(participants.#requester.leftAt)",
                    ),
                };
                let condition = format!("{DECIDER_IS_ACTIVE_ADMIN} AND {entry_condition}");
                tx.update(&chat_key, expression, Some((&condition, Guard::ChatState)), chat_names, chat_values)?;

                let score_item = encode(&keys::score(decided.user), table::SCORE, score)?;
                match read_version {
                    None => tx.put(score_item, Some(("attribute_not_exists(PK)", Guard::ScoreVersion)))?,
                    Some(version) => tx.put_with(
                        score_item,
                        Some(("version = :read", Guard::ScoreVersion)),
                        values([(":read", AttributeValue::N(version.to_string()))]),
                    )?,
                }
            }
        }
        tx.outbox(plan.events, &now)?;
        self.commit(tx).await
    }

    async fn commit(&self, tx: Transaction<'_>) -> Result<(), TxError> {
        if tx.items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(format!(
                "the change needs {} items in one transaction; DynamoDB allows {MAX_TRANSACTION_ITEMS}",
                tx.items.len()
            ))
            .into());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(tx.items)).send().await;
        let Err(error) = result else { return Ok(()) };
        let reasons = error
            .as_service_error()
            .and_then(|e| match e {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                    cancelled,
                ) => Some(cancelled.cancellation_reasons()),
                _ => None,
            });
        let Some(reasons) = reasons else {
            return Err(StoreError::sdk("TransactWriteItems", error).into());
        };
        let code_at = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        if let Some(guard) = (0..reasons.len())
            .filter(|&i| code_at(i) == "ConditionalCheckFailed")
            .find_map(|i| tx.guards.get(i).copied().flatten())
        {
            return Err(TxError::Failed(guard));
        }
        if (0..reasons.len()).any(|i| code_at(i) == "TransactionConflict") {
            return Err(TxError::Conflict);
        }
        Err(StoreError::sdk("TransactWriteItems", error).into())
    }
}
