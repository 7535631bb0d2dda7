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

/// The `entity` attribute's name.
pub const ENTITY: &str = items::ENTITY;

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

/// The GSI2 partition of a user's requests in one status.
pub fn requests_of_in_partition(user: ObjectId, status: domain::RequestStatus) -> String {
    keys::requests_of_in(user, status)
}

fn pair(key: keys::Key) -> (String, String) {
    (key.pk, key.sk)
}
