//! The table's layout as tests and policies see it from outside: the keys they name to
//! check what the store wrote, or to plant what the rest of the app may leave behind.
//! Built by the same functions the store uses, so a layout change moves them too.

use domain::ObjectId;

use super::{items, keys};

/// The partition key that init's `GetItem` reads and no item has: the one key every
/// function's `ConnectAtInitPolicy` allows.
pub const CONNECT_AT_INIT: &str = keys::CONNECT_AT_INIT;

/// The `entity` of an outbox item.
pub const OUTBOX_ENTITY: &str = items::OUTBOX;

/// The `entity` attribute's name, and the values of the entities tests plant.
pub const ENTITY: &str = items::ENTITY;
pub const SCORE_ENTITY: &str = items::SCORE;
pub const MEMBER_ENTITY: &str = items::MEMBER;

/// What a (partition, sort) key names, as the store reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOf {
    User(ObjectId),
    Chat(ObjectId),
    Member {
        chat: ObjectId,
        user: ObjectId,
    },
    Marker {
        user: ObjectId,
        chat: ObjectId,
    },
    Request(ObjectId),
    Notification {
        admin: ObjectId,
    },
    Score(ObjectId),
    /// A user's requests of one clock hour, against the hourly limit.
    Creates {
        user: ObjectId,
    },
    Count {
        chat: ObjectId,
    },
    Outbox(ObjectId),
    Other,
}

impl KeyOf {
    pub fn parse(pk: &str, sk: &str) -> Self {
        let key = keys::Key { pk: pk.to_owned(), sk: sk.to_owned() };
        let id_after = |prefix: &str| sk.strip_prefix(prefix).and_then(|id| ObjectId::parse(id).ok());
        if let Some(user) = keys::owner_of(&key) {
            return match sk {
                "PROFILE" => Self::User(user),
                "SCORE" => Self::Score(user),
                _ if sk.starts_with("NOTIFICATION#") => Self::Notification { admin: user },
                _ if sk.starts_with("CREATES#") => Self::Creates { user },
                _ => keys::marker_chat(&key).map_or(Self::Other, |chat| Self::Marker { user, chat }),
            };
        }
        if let Some(chat) = keys::chat_of(&key) {
            return match sk {
                "CHAT" => Self::Chat(chat),
                _ if sk.starts_with("COUNT#") => Self::Count { chat },
                _ => id_after("MEMBER#").map_or(Self::Other, |user| Self::Member { chat, user }),
            };
        }
        if let Some(id) = keys::outbox_id(&key) {
            return Self::Outbox(id);
        }
        match pk.strip_prefix("REQUEST#").and_then(|id| ObjectId::parse(id).ok()) {
            Some(id) if sk == "REQUEST" => Self::Request(id),
            _ => Self::Other,
        }
    }
}

/// (partition, sort) of a user's profile, a chat, a request, a connection.
pub fn user_key(user: ObjectId) -> (String, String) {
    pair(keys::user(user))
}

pub fn chat_key(chat: ObjectId) -> (String, String) {
    pair(keys::chat(chat))
}

pub fn request_key(request: ObjectId) -> (String, String) {
    pair(keys::request(request))
}

pub fn connection_key(connection_id: &str) -> (String, String) {
    pair(keys::connection(connection_id))
}

/// The pending (or cooldown) marker of `user` for `chat`.
pub fn marker_key(user: ObjectId, chat: ObjectId) -> (String, String) {
    pair(keys::pending_marker(user, chat))
}

/// The member item of `user` in `chat`.
pub fn member_key(chat: ObjectId, user: ObjectId) -> (String, String) {
    pair(keys::member(chat, user))
}

/// The count shard a request of `chat` counts on.
pub fn request_count_key(chat: ObjectId, request: ObjectId) -> (String, String) {
    pair(keys::request_count(chat, keys::count_shard_of(request)))
}

/// An admin's notification.
pub fn notification_key(admin: ObjectId, notification: ObjectId) -> (String, String) {
    pair(keys::notification(admin, notification))
}

/// An outbox item.
pub fn outbox_key(outbox: ObjectId) -> (String, String) {
    pair(keys::outbox(outbox))
}

/// A user's score item.
pub fn score_key(user: ObjectId) -> (String, String) {
    pair(keys::score(user))
}

/// (partition, sort-key prefix) of a user's pending and cooldown markers.
pub fn markers_of(user: ObjectId) -> (String, &'static str) {
    (keys::requests_of(user), "PENDING#")
}

/// (partition, sort-key prefix) of an admin's notifications.
pub fn notifications_of(admin: ObjectId) -> (String, &'static str) {
    (keys::requests_of(admin), "NOTIFICATION#")
}

/// The partition of a chat's item and its participants.
pub fn chat_partition(chat: ObjectId) -> String {
    keys::chat_partition(chat)
}

/// (GSI1PK, GSI1SK) of an outbox item waiting for the sweeper.
pub fn outbox_index(created_at: &str, outbox: ObjectId) -> (String, String) {
    (keys::OUTBOX_INDEX_PARTITION.to_owned(), keys::outbox_order(created_at, outbox))
}

/// (partition, sort) of an event kept for `user`, and its place in LSI1 when it was
/// written at `written_at`: what `GET /events` reads in order.
pub fn kept_event_key(user: ObjectId, event: ObjectId, written_at: &str) -> ((String, String), String) {
    (pair(keys::inbox_event(user, event)), keys::inbox_order(written_at, event))
}

/// (partition, sort) of the answer kept under one of `user`'s idempotency keys (its
/// digest), and the entity of such an item.
pub fn kept_answer_key(user: ObjectId, key_digest: &str) -> (String, String) {
    pair(keys::kept_answer(user, key_digest))
}
pub const KEPT_ANSWER_ENTITY: &str = items::KEPT_ANSWER;

/// The cursor an answer gives after `user`'s event `event` written at `written_at`.
pub fn events_cursor_after(user: ObjectId, written_at: &str, event: ObjectId) -> String {
    super::inbox::cursor_after(user, written_at, event)
}

/// The attribute holding an item's place in LSI1, and the entity of a kept event.
pub const LSI1_PLACE: &str = keys::LSI1SK;
pub const KEPT_EVENT_ENTITY: &str = items::INBOX_EVENT;

/// The GSI2 partition of a user's requests in one status.
pub fn requests_of_in_partition(user: ObjectId, status: domain::RequestStatus) -> String {
    keys::requests_of_in(user, status)
}

fn pair(key: keys::Key) -> (String, String) {
    (key.pk, key.sk)
}
