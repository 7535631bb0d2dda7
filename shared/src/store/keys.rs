//! Every key of the single table, in one place. The README's table design lists the
//! same shapes; change them together.

use crate::domain::{ObjectId, RequestStatus};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
pub const GSI4: &str = "GSI4";
pub const GSI4PK: &str = "GSI4PK";
pub const GSI4SK: &str = "GSI4SK";
/// A local secondary index: same partition as the table, so it can be read strongly
/// consistent. It orders a chat's participant items by
/// [`shown_order`](crate::domain::chat::shown_order); only active participants have
/// the attribute, so the index's first page is the shown list.
pub const LSI1: &str = "LSI1";
pub const LSI1SK: &str = "LSI1SK";

/// The partition key that `Store::open_connections` reads and no item has; the
/// template allows every function a `GetItem` of this partition key alone.
pub const CONNECT_AT_INIT: &str = "connect-at-init";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

pub fn user(id: ObjectId) -> Key {
    key(format!("USER#{id}"), "PROFILE")
}

pub fn chat(id: ObjectId) -> Key {
    key(format!("CHAT#{id}"), "CHAT")
}

/// One user's participant entry in one chat: keyed by user, so one entry per user holds
/// by construction, and checking one user's membership is one read of one small item.
pub fn member(chat: ObjectId, user: ObjectId) -> Key {
    key(format!("CHAT#{chat}"), format!("MEMBER#{user}"))
}

/// The partition that holds a chat's item and its participant items.
pub fn chat_partition(chat: ObjectId) -> String {
    format!("CHAT#{chat}")
}

pub fn request(id: ObjectId) -> Key {
    key(format!("REQUEST#{id}"), "REQUEST")
}

/// Exists exactly while `user` has a pending request for `chat`: the uniqueness marker.
pub fn pending_marker(user: ObjectId, chat: ObjectId) -> Key {
    key(format!("USER#{user}"), format!("PENDING#{chat}"))
}

pub fn notification(admin: ObjectId, id: ObjectId) -> Key {
    key(format!("USER#{admin}"), format!("NOTIFICATION#{id}"))
}

pub fn score(user: ObjectId) -> Key {
    key(format!("USER#{user}"), "SCORE")
}

pub fn outbox(id: ObjectId) -> Key {
    key(format!("OUTBOX#{id}"), "OUTBOX")
}

/// GSI1: all requests of a user, newest first.
pub fn requests_of(user: ObjectId) -> String {
    format!("USER#{user}")
}

/// GSI2: the requests of a user in one status, newest first.
pub fn requests_of_in(user: ObjectId, status: RequestStatus) -> String {
    format!("USER#{user}#{}", status.as_str())
}

/// GSI3: all requests of a chat, newest first (the admins' queue).
pub fn requests_to(chat: ObjectId) -> String {
    format!("CHAT#{chat}")
}

/// GSI4: the requests of a chat in one status, newest first.
pub fn requests_to_in(chat: ObjectId, status: RequestStatus) -> String {
    format!("CHAT#{chat}#{}", status.as_str())
}

/// The counts of a chat's requests by status are split over this many items, so that
/// creates for one chat rarely touch the same item: each request counts on the shard
/// its id picks, for its whole life.
pub const COUNT_SHARDS: u8 = 16;

pub fn count_shard_of(request: ObjectId) -> u8 {
    // The id's last byte is its counter's: spread evenly over consecutive ids.
    let text = request.to_string();
    u8::from_str_radix(&text[22..], 16).unwrap_or_default() % COUNT_SHARDS
}

pub fn request_count(chat: ObjectId, shard: u8) -> Key {
    key(format!("CHAT#{chat}"), format!("COUNT#{shard:02}"))
}

/// One event kept for its recipient (7 days, by TTL), under their user partition.
pub fn inbox_event(user: ObjectId, event: ObjectId) -> Key {
    key(format!("USER#{user}"), format!("EVENT#{event}"))
}

/// An inbox event's place in LSI1: when it was written, then its id. See
/// [`crate::store::Store::inbox_after`] for why write time and not creation time.
pub fn inbox_order(written_at: &str, event: ObjectId) -> String {
    format!("EVENT#{written_at}#{event}")
}

pub fn inbox_order_from(time: &str) -> String {
    format!("EVENT#{time}")
}

/// GSI3 partition of the pending markers of one expiry shard: the markers exist
/// exactly while their request is pending, so the partition holds what may expire,
/// oldest first. Sharded like the counts, so that no one index partition takes every
/// create.
pub fn expiry_partition(shard: u8) -> String {
    format!("EXPIRY#{shard:02}")
}

pub fn expiry_order(created_at: &str, request: ObjectId) -> String {
    format!("{created_at}#{request}")
}

/// The sort key of a request in all four indexes: creation time, then id to break ties.
pub fn request_order(created_at: &str, id: ObjectId) -> String {
    format!("REQUEST#{created_at}#{id}")
}

/// One open WebSocket connection. In GSI1 under its user, so the notifier finds all of
/// a user's connections with one query; by its own id, so `$disconnect` (which knows
/// only the id) deletes it with one write.
/// What `Store::open_connections` reads: [`CONNECT_AT_INIT`] as partition and sort key.
pub fn connect_at_init() -> Key {
    key(CONNECT_AT_INIT.to_owned(), CONNECT_AT_INIT)
}

pub fn connection(connection_id: &str) -> Key {
    key(format!("CONN#{connection_id}"), "CONN")
}

pub fn connection_order(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
}

/// GSI1 partition of outbox items not yet carried out: a sparse index the sweeper reads.
pub const OUTBOX_INDEX_PARTITION: &str = "OUTBOX";

/// GSI1 partition of outbox items the sweeper gave up on: an operator lists and replays
/// them; the sweeper never reads them, so they cannot delay the others.
pub const OUTBOX_ASIDE_PARTITION: &str = "OUTBOX#ASIDE";

/// Sort key of an outbox item in GSI1: its creation time first, so the sweeper can ask
/// for the ones older than a cut-off, then its id.
pub fn outbox_order(created_at: &str, id: ObjectId) -> String {
    format!("{created_at}#{id}")
}

/// Sort-key prefixes that keep the entities sharing a GSI1 partition apart.
pub const REQUEST_ORDER_PREFIX: &str = "REQUEST#";
pub const CONNECTION_ORDER_PREFIX: &str = "CONN#";
