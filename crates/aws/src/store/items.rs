//! How each entity is stored: its attributes plus its keys and the `entity` attribute.
//! [`Record`] is the one public way in, for loaders of data the rest of the app owns
//! (users, chats, participants): it writes exactly what this service reads.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use app::ports::{StoreError, StoredRequest};
use domain::chat::shown_order;
use domain::{Block, Chat, JoinRequest, NotificationRef, ObjectId, Outbox, Participant, Question, User};

use super::keys;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The entity attribute. Not `type`: notifications have a `type` of their own.
pub(crate) const ENTITY: &str = "entity";
pub(crate) const USER: &str = "User";
pub(crate) const CHAT: &str = "Chat";
pub(crate) const MEMBER: &str = "Member";
pub(crate) const REQUEST: &str = "Request";
pub(crate) const PENDING: &str = "PendingRequest";
pub(crate) const NOTIFICATION: &str = "Notification";
pub(crate) const SCORE: &str = "Score";
pub(crate) const OUTBOX: &str = "Outbox";
pub(crate) const CONNECTION: &str = "Connection";
pub(crate) const REQUEST_COUNT: &str = "RequestCount";
pub(crate) const INBOX_EVENT: &str = "InboxEvent";
pub(crate) const KEPT_ANSWER: &str = "KeptAnswer";
pub(crate) const QUESTIONS: &str = "Questions";
pub(crate) const BLOCK_COUNT: &str = "BlockCount";
pub(crate) const CREATE_COUNT: &str = "CreateCount";
/// What a `user.deleted` or `chat.deleted` leaves: the time of the deletion, so that an
/// older upsert arriving later changes nothing. Readers see no user or chat.
pub(crate) const DELETED_USER: &str = "DeletedUser";
pub(crate) const DELETED_CHAT: &str = "DeletedChat";
pub(crate) const APP_EVENT_SET_ASIDE: &str = "AppEventSetAside";
/// The time of the app's change an item of its data reflects (newer wins).
pub(crate) const CHANGED_AT: &str = "changedAt";

/// One entity of the rest of the app, as this service stores it, ready to write with
/// [`super::Store::put_batch`].
#[derive(Debug, Clone)]
pub struct Record(pub(crate) Item);

impl Record {
    pub fn user(user: &User) -> Result<Self, StoreError> {
        encode(&keys::user(user.id), USER, user).map(Self)
    }

    /// The chat item; `participants_count` must match its active participant items.
    pub fn chat(chat: &Chat) -> Result<Self, StoreError> {
        encode(&keys::chat(chat.id), CHAT, chat).map(Self)
    }

    /// A participant entry, in LSI1 at its place in the shown order while it is active.
    pub fn member(chat: ObjectId, entry: &Participant) -> Result<Self, StoreError> {
        member(chat, entry).map(Self)
    }

    /// A participant entry as of the app's change at `at` (newer wins).
    pub fn member_at(chat: ObjectId, entry: &Participant, at: &str) -> Result<Self, StoreError> {
        let mut item = member(chat, entry)?;
        item.insert(CHANGED_AT.into(), s(at));
        Ok(Self(item))
    }

    /// Its size as DynamoDB counts it against the 400 KB item limit.
    pub fn size(&self) -> usize {
        item_size(&self.0)
    }
}

/// DynamoDB's size of an item, by its published rules: each attribute's name plus its
/// value (strings and binaries by length, numbers about 1 byte per 2 digits + 1,
/// 3 bytes of overhead per list or map plus 1 per element).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(text) => text.len(),
            AttributeValue::N(number) => number.trim_start_matches('-').len().div_ceil(2) + 1,
            AttributeValue::B(blob) => blob.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(values) => 3 + values.iter().map(|v| value_size(v) + 1).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
            AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
            AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn key_item(key: &keys::Key) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(key.pk.clone())), (keys::SK.to_owned(), s(key.sk.clone()))])
}

pub(crate) fn item_key(item: &Item) -> keys::Key {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    };
    keys::Key { pk: text(keys::PK), sk: text(keys::SK) }
}

pub(crate) fn kind_of(item: &Item) -> Option<&str> {
    match item.get(ENTITY) {
        Some(AttributeValue::S(kind)) => Some(kind.as_str()),
        _ => None,
    }
}

/// An entity as an item: its attributes plus the keys and the entity type.
pub(crate) fn encode<T: Serialize>(key: &keys::Key, kind: &str, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Encode(e.to_string()))?;
    item.extend(key_item(key));
    item.insert(ENTITY.to_owned(), s(kind));
    Ok(item)
}

pub(crate) fn decode<T: DeserializeOwned>(key: &keys::Key, item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|source| StoreError::Shape { item: format!("{}/{}", key.pk, key.sk), reason: source.to_string() })
}

pub(crate) fn member(chat: ObjectId, entry: &Participant) -> Result<Item, StoreError> {
    let mut item = encode(&keys::member(chat, entry.user), MEMBER, entry)?;
    if let Some(order) = shown_order(entry) {
        item.insert(keys::LSI1SK.into(), s(order));
    }
    Ok(item)
}

/// The uniqueness marker of a pending request: `USER#<user>` / `PENDING#<chat>` with
/// the request's id.
/// In the expiry partition of GSI3 (its shard) while it exists.
pub(crate) fn pending_marker(request: &JoinRequest) -> Result<Item, StoreError> {
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
pub(crate) fn cooldown_marker(user: ObjectId, chat: ObjectId, until: &str) -> Result<Item, StoreError> {
    encode(&keys::pending_marker(user, chat), PENDING, &serde_json::json!({ "cooldownUntil": until }))
}

/// The same key while `block.user` is blocked from `block.chat`: the block, and its
/// place in the chat's list of blocks (GSI3).
pub(crate) fn block_marker(block: &Block) -> Result<Item, StoreError> {
    let mut item =
        encode(&keys::pending_marker(block.user, block.chat), PENDING, &serde_json::json!({ "block": block }))?;
    item.insert(keys::GSI3PK.into(), s(keys::blocks_of(block.chat)));
    item.insert(keys::GSI3SK.into(), s(keys::block_order(&block.blocked_at, block.user)));
    Ok(item)
}

pub(crate) fn questions(chat: ObjectId, questions: &[Question]) -> Result<Item, StoreError> {
    encode(&keys::questions(chat), QUESTIONS, &serde_json::json!({ "questions": questions }))
}

pub(crate) fn request(request: &JoinRequest, notified: &[NotificationRef]) -> Result<Item, StoreError> {
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
    item.insert(
        "notified".into(),
        serde_dynamo::to_attribute_value(notified).map_err(|e| StoreError::Encode(e.to_string()))?,
    );
    Ok(item)
}

pub(crate) fn decode_request(key: &keys::Key, item: Item) -> Result<StoredRequest, StoreError> {
    #[derive(Deserialize)]
    struct Notified {
        #[serde(default)]
        notified: Vec<NotificationRef>,
    }
    let notified: Notified = decode(key, item.clone())?;
    Ok(StoredRequest { request: decode(key, item)?, notified: notified.notified })
}

/// In the sparse `OUTBOX` partition of GSI1 until done and deleted.
pub(crate) fn outbox(outbox: &Outbox) -> Result<Item, StoreError> {
    let mut item = encode(&keys::outbox(outbox.id), OUTBOX, outbox)?;
    item.insert(keys::GSI1PK.into(), s(keys::OUTBOX_INDEX_PARTITION));
    item.insert(keys::GSI1SK.into(), s(keys::outbox_order(&outbox.created_at, outbox.id)));
    Ok(item)
}
