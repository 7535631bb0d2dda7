//! How each entity is stored: its attributes plus its keys and the `entity` attribute.
//! The builders are public for loaders of data the rest of the app owns (users, chats,
//! participants): they write exactly what this service reads.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{keys, StoreError, StoredRequest};
use crate::domain::chat::shown_order;
use crate::domain::{Chat, JoinRequest, NotificationRef, ObjectId, Outbox, Participant, User};

pub type Item = HashMap<String, AttributeValue>;

/// The entity attribute. Not `type`: notifications have a `type` of their own.
pub const ENTITY: &str = "entity";
pub const USER: &str = "User";
pub const CHAT: &str = "Chat";
pub const MEMBER: &str = "Member";
pub const REQUEST: &str = "Request";
pub const PENDING: &str = "PendingRequest";
pub const NOTIFICATION: &str = "Notification";
pub const SCORE: &str = "Score";
pub const OUTBOX: &str = "Outbox";
pub const CONNECTION: &str = "Connection";
pub const REQUEST_COUNT: &str = "RequestCount";
pub const INBOX_EVENT: &str = "InboxEvent";

pub(super) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(super) fn key_item(key: &keys::Key) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(key.pk.clone())), (keys::SK.to_owned(), s(key.sk.clone()))])
}

pub(super) fn item_key(item: &Item) -> keys::Key {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    };
    keys::Key { pk: text(keys::PK), sk: text(keys::SK) }
}

pub(super) fn kind_of(item: &Item) -> Option<&str> {
    match item.get(ENTITY) {
        Some(AttributeValue::S(kind)) => Some(kind.as_str()),
        _ => None,
    }
}

/// The user a `USER#<id>` partition belongs to.
pub(super) fn owner_of(key: &keys::Key) -> Option<ObjectId> {
    key.pk.strip_prefix("USER#").and_then(|id| ObjectId::parse(id).ok())
}

/// The chat a `CHAT#<id>` partition belongs to.
pub(super) fn chat_of(key: &keys::Key) -> Option<ObjectId> {
    key.pk.strip_prefix("CHAT#").and_then(|id| ObjectId::parse(id).ok())
}

/// An entity as an item: its attributes plus the keys and the entity type.
pub(super) fn encode<T: Serialize>(key: &keys::Key, kind: &str, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(StoreError::Encode)?;
    item.extend(key_item(key));
    item.insert(ENTITY.to_owned(), s(kind));
    Ok(item)
}

pub(super) fn decode<T: DeserializeOwned>(key: &keys::Key, item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|source| StoreError::Shape { pk: key.pk.clone(), sk: key.sk.clone(), source })
}

pub fn user(user: &User) -> Result<Item, StoreError> {
    encode(&keys::user(user.id), USER, user)
}

/// The chat item; `participants_count` must match its active participant items.
pub fn chat(chat: &Chat) -> Result<Item, StoreError> {
    encode(&keys::chat(chat.id), CHAT, chat)
}

/// A participant entry, in LSI1 at its place in the shown order while it is active.
pub fn member(chat: ObjectId, entry: &Participant) -> Result<Item, StoreError> {
    let mut item = encode(&keys::member(chat, entry.user), MEMBER, entry)?;
    if let Some(order) = shown_order(entry) {
        item.insert(keys::LSI1SK.into(), s(order));
    }
    Ok(item)
}

/// The uniqueness marker of a pending request: `USER#<user>` / `PENDING#<chat>` with
/// the request's id.
/// In the expiry partition of GSI3 (its shard) while it exists.
pub(super) fn pending_marker(request: &JoinRequest) -> Result<Item, StoreError> {
    let mut item = encode(
        &keys::pending_marker(request.user, request.chat),
        PENDING,
        &serde_json::json!({ "request": request.id }),
    )?;
    item.insert(keys::GSI3PK.into(), s(keys::expiry_partition(keys::count_shard_of(request.id))));
    item.insert(keys::GSI3SK.into(), s(keys::expiry_order(&request.created_at, request.id)));
    Ok(item)
}

/// The same key after a rejection while a cooldown is on: no request, and until when a
/// new one is refused.
pub(super) fn cooldown_marker(user: ObjectId, chat: ObjectId, until: &str) -> Result<Item, StoreError> {
    encode(&keys::pending_marker(user, chat), PENDING, &serde_json::json!({ "cooldownUntil": until }))
}

/// What the marker says, as a create reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// The pending request, if one is.
    #[serde(default)]
    pub request: Option<ObjectId>,
    /// Until when a new request is refused, after a rejection.
    #[serde(default)]
    pub cooldown_until: Option<String>,
}

pub(super) fn request(request: &JoinRequest, notified: &[NotificationRef]) -> Result<Item, StoreError> {
    let mut item = encode(&keys::request(request.id), REQUEST, request)?;
    let order = keys::request_order(&request.created_at, request.id);
    item.insert(keys::GSI1PK.into(), s(keys::requests_of(request.user)));
    item.insert(keys::GSI1SK.into(), s(order.clone()));
    item.insert(keys::GSI2PK.into(), s(keys::requests_of_in(request.user, request.status)));
    item.insert(keys::GSI2SK.into(), s(order.clone()));
    item.insert(keys::GSI3PK.into(), s(keys::requests_to(request.chat)));
    item.insert(keys::GSI3SK.into(), s(order.clone()));
    item.insert(keys::GSI4PK.into(), s(keys::requests_to_in(request.chat, request.status)));
    item.insert(keys::GSI4SK.into(), s(order));
    item.insert("notified".into(), serde_dynamo::to_attribute_value(notified).map_err(StoreError::Encode)?);
    Ok(item)
}

pub(super) fn decode_request(key: &keys::Key, item: Item) -> Result<StoredRequest, StoreError> {
    #[derive(Deserialize)]
    struct Notified {
        #[serde(default)]
        notified: Vec<NotificationRef>,
    }
    let notified: Notified = decode(key, item.clone())?;
    Ok(StoredRequest { request: decode(key, item)?, notified: notified.notified })
}

/// In the sparse `OUTBOX` partition of GSI1 until done and deleted.
pub(super) fn outbox(outbox: &Outbox) -> Result<Item, StoreError> {
    let mut item = encode(&keys::outbox(outbox.id), OUTBOX, outbox)?;
    item.insert(keys::GSI1PK.into(), s(keys::OUTBOX_INDEX_PARTITION));
    item.insert(keys::GSI1SK.into(), s(keys::outbox_order(&outbox.created_at, outbox.id)));
    Ok(item)
}
