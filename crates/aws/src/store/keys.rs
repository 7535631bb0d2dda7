//! Every key of the single table, in one place: built here and parsed here, nowhere
//! else. docs/data-model.md lists the same shapes; change them together.

use domain::{ObjectId, RequestStatus};

pub(crate) const PK: &str = "PK";
pub(crate) const SK: &str = "SK";
pub(crate) const GSI1: &str = "GSI1";
pub(crate) const GSI1PK: &str = "GSI1PK";
pub(crate) const GSI1SK: &str = "GSI1SK";
pub(crate) const GSI2: &str = "GSI2";
pub(crate) const GSI2PK: &str = "GSI2PK";
pub(crate) const GSI2SK: &str = "GSI2SK";
pub(crate) const GSI3: &str = "GSI3";
pub(crate) const GSI3PK: &str = "GSI3PK";
pub(crate) const GSI3SK: &str = "GSI3SK";
pub(crate) const GSI4: &str = "GSI4";
pub(crate) const GSI4PK: &str = "GSI4PK";
pub(crate) const GSI4SK: &str = "GSI4SK";
/// A local secondary index: same partition as the table, so it can be read strongly
/// consistent. It orders a chat's participant items by
/// [`shown_order`](domain::chat::shown_order); only active participants have
/// the attribute, so the index's first page is the shown list.
pub(crate) const LSI1: &str = "LSI1";
pub(crate) const LSI1SK: &str = "LSI1SK";

/// The partition key that `Store::open_connections` reads and no item has; the
/// template allows every function a `GetItem` of this partition key alone.
pub(crate) const CONNECT_AT_INIT: &str = "connect-at-init";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) pk: String,
    pub(crate) sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

pub(crate) fn user(id: ObjectId) -> Key {
    key(format!("USER#{id}"), "PROFILE")
}

pub(crate) fn chat(id: ObjectId) -> Key {
    key(format!("CHAT#{id}"), "CHAT")
}

/// One user's participant entry in one chat: keyed by user, so one entry per user holds
/// by construction, and checking one user's membership is one read of one small item.
pub(crate) fn member(chat: ObjectId, user: ObjectId) -> Key {
    key(format!("CHAT#{chat}"), format!("MEMBER#{user}"))
}

/// The partition that holds a chat's item and its participant items.
pub(crate) fn chat_partition(chat: ObjectId) -> String {
    format!("CHAT#{chat}")
}

pub(crate) fn request(id: ObjectId) -> Key {
    key(format!("REQUEST#{id}"), "REQUEST")
}

/// Exists while `user` has a pending request for `chat` (the uniqueness marker), while
/// a rejection's cooldown runs, or while `user` is blocked from `chat`.
pub(crate) fn pending_marker(user: ObjectId, chat: ObjectId) -> Key {
    key(format!("USER#{user}"), format!("PENDING#{chat}"))
}

/// A chat's screening questions, beside its item: read in the same `BatchGetItem`.
pub(crate) fn questions(chat: ObjectId) -> Key {
    key(format!("CHAT#{chat}"), "QUESTIONS")
}

/// A chat's blocks are counted over [`COUNT_SHARDS`] items, each block on the shard
/// its user's id picks, so that no one item takes every block of a chat.
pub(crate) fn block_count(chat: ObjectId, shard: u8) -> Key {
    key(format!("CHAT#{chat}"), format!("BLOCKS#{shard:02}"))
}

/// GSI3 partition of a chat's blocks (the markers that hold one), newest first.
pub(crate) fn blocks_of(chat: ObjectId) -> String {
    format!("BLOCKS#{chat}")
}

pub(crate) fn block_order(blocked_at: &str, user: ObjectId) -> String {
    format!("{blocked_at}#{user}")
}

/// The requests `user` made in one clock hour (`2026-12-02T03`), against the hourly
/// limit: the user's own item, so no two users share one.
pub(crate) fn creates_in(user: ObjectId, hour: &str) -> Key {
    key(format!("USER#{user}"), format!("CREATES#{hour}"))
}

pub(crate) fn notification(admin: ObjectId, id: ObjectId) -> Key {
    key(format!("USER#{admin}"), format!("NOTIFICATION#{id}"))
}

/// An answer kept under one of `user`'s idempotency keys (a digest of the key).
pub(crate) fn kept_answer(user: ObjectId, digest: &str) -> Key {
    key(format!("USER#{user}"), format!("IDEMPOTENCY#{digest}"))
}

pub(crate) fn score(user: ObjectId) -> Key {
    key(format!("USER#{user}"), "SCORE")
}

pub(crate) fn outbox(id: ObjectId) -> Key {
    key(format!("OUTBOX#{id}"), "OUTBOX")
}

/// GSI1: all requests of a user, newest first.
pub(crate) fn requests_of(user: ObjectId) -> String {
    format!("USER#{user}")
}

/// GSI2: the requests of a user in one status, newest first.
pub(crate) fn requests_of_in(user: ObjectId, status: RequestStatus) -> String {
    format!("USER#{user}#{}", status.as_str())
}

/// GSI3: all requests of a chat, newest first (the admins' queue).
pub(crate) fn requests_to(chat: ObjectId) -> String {
    format!("CHAT#{chat}")
}

/// GSI4: the requests of a chat in one status, newest first.
pub(crate) fn requests_to_in(chat: ObjectId, status: RequestStatus) -> String {
    format!("CHAT#{chat}#{}", status.as_str())
}

/// The counts of a chat's requests by status are split over this many items, so that
/// creates for one chat rarely touch the same item: each request counts on the shard
/// its id picks, for its whole life.
pub(crate) const COUNT_SHARDS: u8 = 16;

pub(crate) fn count_shard_of(request: ObjectId) -> u8 {
    // The id's last byte is its counter's: spread evenly over consecutive ids.
    let text = request.to_string();
    u8::from_str_radix(&text[22..], 16).unwrap_or_default() % COUNT_SHARDS
}

pub(crate) fn request_count(chat: ObjectId, shard: u8) -> Key {
    key(format!("CHAT#{chat}"), format!("COUNT#{shard:02}"))
}

/// One event kept for its recipient (7 days, by TTL), under their user partition.
pub(crate) fn inbox_event(user: ObjectId, event: ObjectId) -> Key {
    key(format!("USER#{user}"), format!("EVENT#{event}"))
}

/// An inbox event's place in LSI1: when it was written, then its id. See
/// [`super::Store::keep_events`] for why write time and not creation time.
pub(crate) fn inbox_order(written_at: &str, event: ObjectId) -> String {
    format!("EVENT#{written_at}#{event}")
}

/// Beyond every inbox place: a place's time starts with a digit.
pub(crate) const INBOX_ORDER_END: &str = "EVENT#~";

/// Whether `text` is an inbox place (or the start of one): `EVENT#` and a time.
pub(crate) fn is_inbox_order(text: &str) -> bool {
    text.strip_prefix("EVENT#").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

pub(crate) fn inbox_order_from(time: &str) -> String {
    format!("EVENT#{time}")
}

/// GSI3 partition of the pending markers of one expiry shard: the markers exist
/// exactly while their request is pending, so the partition holds what may expire,
/// oldest first. Sharded like the counts, so that no one index partition takes every
/// create.
pub(crate) fn expiry_partition(shard: u8) -> String {
    format!("EXPIRY#{shard:02}")
}

pub(crate) fn expiry_order(created_at: &str, request: ObjectId) -> String {
    format!("{created_at}#{request}")
}

/// The sort key of a request in all four indexes: creation time, then id to break ties.
pub(crate) fn request_order(created_at: &str, id: ObjectId) -> String {
    format!("REQUEST#{created_at}#{id}")
}

/// One open WebSocket connection. In GSI1 under its user, so the notifier finds all of
/// a user's connections with one query; by its own id, so `$disconnect` (which knows
/// only the id) deletes it with one write.
/// What `Store::open_connections` reads: [`CONNECT_AT_INIT`] as partition and sort key.
pub(crate) fn connect_at_init() -> Key {
    key(CONNECT_AT_INIT.to_owned(), CONNECT_AT_INIT)
}

pub(crate) fn connection(connection_id: &str) -> Key {
    key(format!("CONN#{connection_id}"), "CONN")
}

pub(crate) fn connection_order(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
}

/// GSI1 partition of outbox items not yet carried out: a sparse index the sweeper reads.
pub(crate) const OUTBOX_INDEX_PARTITION: &str = "OUTBOX";

/// GSI1 partition of outbox items the sweeper gave up on: an operator lists and replays
/// them; the sweeper never reads them, so they cannot delay the others.
pub(crate) const OUTBOX_ASIDE_PARTITION: &str = "OUTBOX#ASIDE";

/// Sort key of an outbox item in GSI1: its creation time first, so the sweeper can ask
/// for the ones older than a cut-off, then its id.
pub(crate) fn outbox_order(created_at: &str, id: ObjectId) -> String {
    format!("{created_at}#{id}")
}

/// An event of the app that could not be applied, kept for an operator.
pub(crate) fn app_event_set_aside(id: ObjectId) -> Key {
    key(format!("APPEVENT#{id}"), "APPEVENT")
}

/// GSI1 partition of the app's events set aside: an operator lists and replays them.
pub(crate) const APP_EVENTS_ASIDE_PARTITION: &str = "APPEVENT#ASIDE";

/// The id of a set-aside app event's key.
pub(crate) fn app_event_id(key: &Key) -> Option<ObjectId> {
    key.pk.strip_prefix("APPEVENT#").and_then(|id| ObjectId::parse(id).ok())
}

/// Sort-key prefixes that keep the entities sharing a GSI1 partition apart.
pub(crate) const REQUEST_ORDER_PREFIX: &str = "REQUEST#";
pub(crate) const CONNECTION_ORDER_PREFIX: &str = "CONN#";

/// The user a `USER#<id>` partition belongs to.
pub(crate) fn owner_of(key: &Key) -> Option<ObjectId> {
    key.pk.strip_prefix("USER#").and_then(|id| ObjectId::parse(id).ok())
}

/// The chat a `CHAT#<id>` partition belongs to.
pub(crate) fn chat_of(key: &Key) -> Option<ObjectId> {
    key.pk.strip_prefix("CHAT#").and_then(|id| ObjectId::parse(id).ok())
}

/// The partition of `chat` and the sort-key prefix of its participant entries.
pub(crate) fn members_of(chat: ObjectId) -> (String, &'static str) {
    (format!("CHAT#{chat}"), "MEMBER#")
}

/// The user of a participant entry's key.
pub(crate) fn member_user(key: &Key) -> Option<ObjectId> {
    key.sk.strip_prefix("MEMBER#").and_then(|id| ObjectId::parse(id).ok())
}

/// The chat of a pending marker's key.
pub(crate) fn marker_chat(key: &Key) -> Option<ObjectId> {
    key.sk.strip_prefix("PENDING#").and_then(|id| ObjectId::parse(id).ok())
}

/// The id of an outbox item's key.
pub(crate) fn outbox_id(key: &Key) -> Option<ObjectId> {
    key.pk.strip_prefix("OUTBOX#").and_then(|id| ObjectId::parse(id).ok())
}
