//! The DynamoDB adapter: one table, the keys in [`keys`], and the transactions that
//! make the contract's rules hold under concurrency.

pub mod keys;
mod realtime;
mod table;
mod transactions;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use futures::future::try_join_all;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{Chat, JoinRequest, ObjectId, RequestStatus, Score, User};
use keys::Key;

pub use realtime::{Connection, OutboxItem};
pub use table::TableSpec;
pub use transactions::{Acceptance, CreatePlan, DecisionPlan, Guard, NotificationRef, TxError};

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Sdk { operation: &'static str, message: String },
    #[error("item {pk}/{sk} does not have the expected shape: {source}")]
    Shape { pk: String, sk: String, source: serde_dynamo::Error },
    #[error("could not write an item: {0}")]
    Encode(serde_dynamo::Error),
    #[error("BatchGetItem left keys unprocessed after {0} attempts")]
    Unprocessed(u32),
    #[error("the change is still contended after {0} attempts")]
    Contended(u32),
    #[error("{0}")]
    TooLarge(String),
}

impl StoreError {
    fn sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        error: aws_sdk_dynamodb::error::SdkError<E>,
    ) -> Self {
        Self::Sdk { operation, message: DisplayErrorContext(&error).to_string() }
    }
}

/// The handle every function builds once at cold start.
#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

/// Everything a call may need to read besides the request itself, fetched by key in
/// one batched read.
#[derive(Debug, Default)]
pub struct Lookup {
    pub users: Vec<ObjectId>,
    pub chats: Vec<ObjectId>,
    pub scores: Vec<ObjectId>,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub users: HashMap<ObjectId, User>,
    pub chats: HashMap<ObjectId, Chat>,
    pub scores: HashMap<ObjectId, VersionedScore>,
}

/// A score and the version it was read at, for the optimistic write that counts an action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionedScore {
    #[serde(flatten)]
    pub score: Score,
    pub version: u64,
}

/// A stored request with the admins that were told of it, so deciding it can dismiss
/// their notifications without a query.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub request: JoinRequest,
    pub notified: Vec<NotificationRef>,
}

const BATCH_GET_LIMIT: usize = 100;
const BATCH_GET_ATTEMPTS: u32 = 8;

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One `GetItem`, strongly consistent so a request just created or decided is seen.
    pub async fn request(&self, id: ObjectId) -> Result<Option<StoredRequest>, StoreError> {
        let key = keys::request(id);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.map(|item| decode_request(&key, item)).transpose()
    }

    /// All requests of `user` (in one status, if given), newest first. One `Query` per
    /// 1 MB of index data: the exact count needs every matching entry anyway.
    pub async fn requests_of(
        &self,
        user: ObjectId,
        status: Option<RequestStatus>,
    ) -> Result<Vec<JoinRequest>, StoreError> {
        // GSI1 also holds the user's connections, hence the sort-key prefix.
        let (index, partition_attribute, sort_attribute, partition) = match status {
            None => (keys::GSI1, keys::GSI1PK, keys::GSI1SK, keys::requests_of(user)),
            Some(status) => (keys::GSI2, keys::GSI2PK, keys::GSI2SK, keys::requests_of_in(user, status)),
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", partition_attribute)
            .expression_attribute_names("#sk", sort_attribute)
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::REQUEST_ORDER_PREFIX.into()))
            .scan_index_forward(false);
        self.query_all(query).await?.into_iter().map(|item| decode(&item_key(&item), item)).collect()
    }

    /// Every page of `query`, in order.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
        }
    }

    /// Users, chats and scores by key: one `BatchGetItem` per 100 keys, sent together,
    /// plus retries of whatever DynamoDB leaves unprocessed.
    pub async fn load(&self, lookup: &Lookup) -> Result<Loaded, StoreError> {
        let mut seen = HashSet::new();
        let wanted: Vec<Key> = lookup
            .users
            .iter()
            .map(|id| keys::user(*id))
            .chain(lookup.chats.iter().map(|id| keys::chat(*id)))
            .chain(lookup.scores.iter().map(|id| keys::score(*id)))
            .filter(|key| seen.insert(key.clone()))
            .collect();
        let items = try_join_all(wanted.chunks(BATCH_GET_LIMIT).map(|chunk| self.batch_get(chunk))).await?;

        let mut loaded = Loaded::default();
        for item in items.into_iter().flatten() {
            let key = item_key(&item);
            match kind_of(&item) {
                Some(table::USER) => {
                    let user: User = decode(&key, item)?;
                    loaded.users.insert(user.id, user);
                }
                Some(table::CHAT) => {
                    let chat: Chat = decode(&key, item)?;
                    loaded.chats.insert(chat.id, chat);
                }
                Some(table::SCORE) => {
                    let owner = key.pk.strip_prefix("USER#").and_then(|id| ObjectId::parse(id).ok());
                    if let Some(owner) = owner {
                        loaded.scores.insert(owner, decode(&key, item)?);
                    }
                }
                _ => {}
            }
        }
        Ok(loaded)
    }

    async fn batch_get(&self, chunk: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(chunk.len());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(chunk.iter().map(key_item).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Sdk { operation: "BatchGetItem", message: e.to_string() })?;
        for attempt in 0..BATCH_GET_ATTEMPTS {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchGetItem", e))?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            match output.unprocessed_keys.and_then(|mut left| left.remove(&self.table)) {
                Some(left) if !left.keys().is_empty() => {
                    pending = left;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unprocessed(BATCH_GET_ATTEMPTS))
    }

    /// Loads users and chats (the fixture format), replacing what is stored under the
    /// same ids. 25 items per `BatchWriteItem`, the API's limit.
    pub async fn put_fixture(&self, users: &[User], chats: &[Chat]) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(users.len() + chats.len());
        for user in users {
            items.push(encode(&keys::user(user.id), table::USER, user)?);
        }
        for chat in chats {
            items.push(encode(&keys::chat(chat.id), table::CHAT, chat)?);
        }
        for chunk in items.chunks(25) {
            let writes = chunk
                .iter()
                .map(|item| {
                    let put = aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| StoreError::Sdk { operation: "BatchWriteItem", message: e.to_string() })?;
                    Ok(aws_sdk_dynamodb::types::WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut pending = HashMap::from([(self.table.clone(), writes)]);
            let mut attempt = 0;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("BatchWriteItem", e))?;
                pending = output.unprocessed_items.unwrap_or_default();
                pending.retain(|_, writes| !writes.is_empty());
                attempt += 1;
                if attempt >= BATCH_GET_ATTEMPTS && !pending.is_empty() {
                    return Err(StoreError::Unprocessed(attempt));
                }
                if !pending.is_empty() {
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        Ok(())
    }

    /// Every item whose partition key is `pk`: for tests and tools that inspect state.
    pub async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true);
        self.query_all(query).await
    }
}

/// Exponential backoff with full jitter: contending writers spread out instead of
/// colliding again in lock step.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 10u64 << attempt.min(6);
    let mut random = [0u8; 8];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % ceiling_ms.max(1),
        Err(_) => ceiling_ms / 2,
    };
    Duration::from_millis(jitter + 1)
}

fn key_item(key: &Key) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (keys::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn item_key(item: &Item) -> Key {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    };
    Key { pk: text(keys::PK), sk: text(keys::SK) }
}

fn kind_of(item: &Item) -> Option<&str> {
    match item.get(table::TYPE) {
        Some(AttributeValue::S(kind)) => Some(kind.as_str()),
        _ => None,
    }
}

/// An entity as an item: its attributes plus the keys and the entity type.
fn encode<T: Serialize>(key: &Key, kind: &str, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(StoreError::Encode)?;
    item.extend(key_item(key));
    item.insert(table::TYPE.to_owned(), AttributeValue::S(kind.to_owned()));
    Ok(item)
}

fn decode<T: DeserializeOwned>(key: &Key, item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|source| StoreError::Shape { pk: key.pk.clone(), sk: key.sk.clone(), source })
}

fn decode_request(key: &Key, item: Item) -> Result<StoredRequest, StoreError> {
    #[derive(Deserialize)]
    struct Notified {
        #[serde(default)]
        notified: Vec<NotificationRef>,
    }
    let notified: Notified = decode(key, item.clone())?;
    Ok(StoredRequest { request: decode(key, item)?, notified: notified.notified })
}
