//! The DynamoDB adapter: one table, the keys in [`keys`], the item shapes in
//! [`items`], and the transactions that make the contract's rules hold under
//! concurrency.

pub mod items;
pub mod keys;
mod realtime;
mod transactions;

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::domain::chat::SHOWN_PARTICIPANTS;
use crate::domain::{ChatSnapshot, JoinRequest, NotificationRef, ObjectId, Participant, RequestStatus, Score, User};
use crate::retry::backoff;
use items::{decode, item_key, key_item, kind_of};
use keys::Key;

pub use items::Item;
pub use realtime::{
    Connection, KeptEvent, OutboxPage, SetAside, StoredOutbox, KEEP_EVENTS_SECONDS, MAX_OUTBOX_ATTEMPTS, SETTLE_SECONDS,
};
pub use transactions::{Acceptance, ClosePlan, CreatePlan, Guard, TxError, MAX_NOTIFIED_ADMINS};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Sdk { operation: &'static str, message: String },
    /// Timed out, throttled past the SDK's retries, unreachable, or DynamoDB's own
    /// transient failure: the call may succeed if made again.
    #[error("DynamoDB {operation} is unavailable: {message}")]
    Unavailable { operation: &'static str, message: String },
    #[error("item {pk}/{sk} does not have the expected shape: {source}")]
    Shape { pk: String, sk: String, source: serde_dynamo::Error },
    #[error("could not write an item: {0}")]
    Encode(serde_dynamo::Error),
    #[error("{operation} left items unprocessed after {attempts} attempts")]
    Unprocessed { operation: &'static str, attempts: u32 },
    #[error("the change is still contended after {0} attempts")]
    Contended(u32),
    #[error("{0}")]
    TooLarge(String),
    /// A condition that no race can fail did fail: a bug or a corrupted item.
    #[error("a transaction failed on a condition that cannot fail: {0:?}")]
    UnexpectedCondition(Guard),
}

/// Error codes DynamoDB answers when the same call may succeed a moment later.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

impl StoreError {
    pub fn sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        error: aws_sdk_dynamodb::error::SdkError<E>,
    ) -> Self {
        use aws_sdk_dynamodb::error::SdkError;
        let message = DisplayErrorContext(&error).to_string();
        let transient = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => {
                service.raw().status().is_server_error()
                    || service.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
            }
            _ => false,
        };
        if transient {
            Self::Unavailable { operation, message }
        } else {
            Self::Sdk { operation, message }
        }
    }

    /// Whether making the same call again may succeed: the caller is told `503`.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Contended(_) | Self::Unprocessed { .. })
    }
}

/// The handle every function builds once at cold start.
#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

/// Everything a call may need to read besides the request itself, fetched by key in
/// one round: a `BatchGetItem` of the keys, beside one `Query` per chat for the
/// participants it shows.
#[derive(Debug, Default)]
pub struct Lookup {
    pub users: Vec<ObjectId>,
    /// Each with the participants it shows.
    pub chats: Vec<ObjectId>,
    pub scores: Vec<ObjectId>,
    /// (chat, user): one user's participant entry in one chat.
    pub memberships: Vec<(ObjectId, ObjectId)>,
    /// Chats whose request counts to read (their count shards).
    pub counts: Vec<ObjectId>,
    /// (user, chat): the pending (or cooldown) marker.
    pub markers: Vec<(ObjectId, ObjectId)>,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub users: HashMap<ObjectId, User>,
    pub chats: HashMap<ObjectId, ChatSnapshot>,
    pub scores: HashMap<ObjectId, StoredScore>,
    pub memberships: HashMap<(ObjectId, ObjectId), Participant>,
    pub counts: HashMap<ObjectId, RequestCounts>,
    pub markers: HashMap<(ObjectId, ObjectId), items::Marker>,
}

/// A chat's requests counted by status: the sum of its count shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts(HashMap<RequestStatus, u64>);

impl RequestCounts {
    /// In one status, or all of them.
    pub fn of(&self, status: Option<RequestStatus>) -> u64 {
        match status {
            Some(status) => self.0.get(&status).copied().unwrap_or_default(),
            None => self.0.values().sum(),
        }
    }
}

impl Loaded {
    pub fn membership(&self, chat: ObjectId, user: ObjectId) -> Option<&Participant> {
        self.memberships.get(&(chat, user))
    }
}

/// A score as stored, and whether its item has an `actions` map at all (another
/// writer's item may not), which decides how an action is added to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredScore {
    pub score: Score,
    pub has_actions: bool,
}

/// A stored request with the admins that were told of it, so deciding it can dismiss
/// their notifications without a query.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub request: JoinRequest,
    pub notified: Vec<NotificationRef>,
}

/// Connections [`Store::open_connections`] opens during init: a call's first round is
/// often two requests at once (a `BatchGetItem` beside a `Query`), and each needs a
/// connection of its own; one more would be a handshake most calls never use.
pub const CONNECTIONS_AT_INIT: usize = 2;

const BATCH_GET_LIMIT: usize = 100;
const BATCH_ATTEMPTS: u32 = 8;
/// Reads in flight at once for one call: a list page may show 100 chats.
const CONCURRENT_READS: usize = 32;

impl Store {
    /// Opens [`CONNECTIONS_AT_INIT`] connections to DynamoDB during init (TCP and, in
    /// AWS, the TLS handshake; the credentials resolved, the first request signed), so
    /// that the first invocation after a cold start does not pay for them: that many
    /// eventually consistent `GetItem`s of [`keys::connect_at_init`], which no item
    /// has, at once, with one attempt each. The connections stay in the client's pool.
    pub async fn open_connections(&self) -> Result<(), StoreError> {
        let key = key_item(&keys::connect_at_init());
        let reads = (0..CONNECTIONS_AT_INIT).map(|_| {
            self.client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .projection_expression(keys::PK)
                .customize()
                .config_override(
                    aws_sdk_dynamodb::config::Builder::default()
                        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()),
                )
                .send()
        });
        for read in futures::future::join_all(reads).await {
            read.map_err(|e| StoreError::sdk("GetItem", e))?;
        }
        Ok(())
    }

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
        output.item.map(|item| items::decode_request(&key, item)).transpose()
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
        let mut found = Vec::new();
        let mut start_key = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            found.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(found);
            }
        }
    }

    /// The newest `take` requests of `chat` (in one status, if given), newest first: one
    /// `Query` of GSI3 (or GSI4) per MB, stopping as soon as it has them.
    pub async fn requests_to(
        &self,
        chat: ObjectId,
        status: Option<RequestStatus>,
        take: usize,
    ) -> Result<Vec<JoinRequest>, StoreError> {
        let (index, partition_attribute, partition) = match status {
            None => (keys::GSI3, keys::GSI3PK, keys::requests_to(chat)),
            Some(status) => (keys::GSI4, keys::GSI4PK, keys::requests_to_in(chat, status)),
        };
        // Not `with_capacity(take)`: `take` is page × limit, and a client picks the page.
        let mut found = Vec::new();
        let mut start_key = None;
        while found.len() < take {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", partition_attribute)
                .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(take - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            for item in output.items.unwrap_or_default() {
                found.push(decode(&item_key(&item), item)?);
            }
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// One page of the pending requests of expiry shard `shard` made before `before`,
    /// oldest first, from `start`: their ids, and where the next page starts. One
    /// `Query` of GSI3.
    pub async fn due_for_expiry(
        &self,
        shard: u8,
        before: &str,
        start: Option<Item>,
    ) -> Result<(Vec<ObjectId>, Option<Item>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI3)
            .key_condition_expression("#pk = :pk AND #sk < :before")
            .expression_attribute_names("#pk", keys::GSI3PK)
            .expression_attribute_names("#sk", keys::GSI3SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::expiry_partition(shard)))
            .expression_attribute_values(":before", AttributeValue::S(before.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let ids = output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| match item.get("request") {
                Some(AttributeValue::S(id)) => ObjectId::parse(id).ok(),
                _ => None,
            })
            .collect();
        Ok((ids, output.last_evaluated_key))
    }

    /// The participants a chat shows: one strongly consistent `Query` of the first
    /// [`SHOWN_PARTICIPANTS`] entries of its partition in LSI1, whatever its size.
    pub async fn shown_participants(&self, chat: ObjectId) -> Result<Vec<Participant>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::LSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::chat_partition(chat)))
            .consistent_read(true)
            .limit(SHOWN_PARTICIPANTS as i32)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        output.items.unwrap_or_default().into_iter().map(|item| decode(&item_key(&item), item)).collect()
    }

    /// Users, chats (with the participants they show), scores and memberships: one
    /// `BatchGetItem` per 100 keys and one `Query` per chat, all sent together, plus
    /// retries of whatever DynamoDB leaves unprocessed.
    pub async fn load(&self, lookup: &Lookup) -> Result<Loaded, StoreError> {
        let mut seen = HashSet::new();
        let wanted: Vec<Key> = lookup
            .users
            .iter()
            .map(|id| keys::user(*id))
            .chain(lookup.chats.iter().map(|id| keys::chat(*id)))
            .chain(lookup.scores.iter().map(|id| keys::score(*id)))
            .chain(lookup.memberships.iter().map(|(chat, user)| keys::member(*chat, *user)))
            .chain(lookup.markers.iter().map(|(user, chat)| keys::pending_marker(*user, *chat)))
            .chain(lookup.counts.iter().flat_map(|chat| (0..keys::COUNT_SHARDS).map(|n| keys::request_count(*chat, n))))
            .filter(|key| seen.insert(key.clone()))
            .collect();
        let mut chats: Vec<ObjectId> = lookup.chats.clone();
        chats.sort();
        chats.dedup();

        // The futures are made eagerly, so the streams hold plain futures: that keeps the
        // whole call `Send` for spawning (a lazy closure trips a higher-ranked bound).
        let batch_reads: Vec<_> = wanted.chunks(BATCH_GET_LIMIT).map(|chunk| self.batch_get(chunk)).collect();
        let shown_reads: Vec<_> = chats.iter().map(|chat| self.shown_of(*chat)).collect();
        let batches = stream::iter(batch_reads).buffer_unordered(CONCURRENT_READS).try_collect::<Vec<Vec<Item>>>();
        let shown = stream::iter(shown_reads)
            .buffer_unordered(CONCURRENT_READS)
            .try_collect::<HashMap<ObjectId, Vec<Participant>>>();
        let (batches, mut shown) = futures::try_join!(batches, shown)?;

        let mut loaded = Loaded::default();
        for item in batches.into_iter().flatten() {
            let key = item_key(&item);
            match kind_of(&item) {
                Some(items::USER) => {
                    let user: User = decode(&key, item)?;
                    loaded.users.insert(user.id, user);
                }
                Some(items::CHAT) => {
                    let chat: crate::domain::Chat = decode(&key, item)?;
                    let shown = shown.remove(&chat.id).unwrap_or_default();
                    loaded.chats.insert(chat.id, ChatSnapshot { chat, shown });
                }
                Some(items::SCORE) => {
                    if let Some(owner) = items::owner_of(&key) {
                        let has_actions = matches!(item.get("actions"), Some(AttributeValue::M(_)));
                        loaded.scores.insert(owner, StoredScore { score: decode(&key, item)?, has_actions });
                    }
                }
                Some(items::PENDING) => {
                    let chat = key.sk.strip_prefix("PENDING#").and_then(|id| ObjectId::parse(id).ok());
                    if let (Some(user), Some(chat)) = (items::owner_of(&key), chat) {
                        loaded.markers.insert((user, chat), decode(&key, item)?);
                    }
                }
                Some(items::REQUEST_COUNT) => {
                    if let Some(chat) = items::chat_of(&key) {
                        let counts = loaded.counts.entry(chat).or_default();
                        for status in RequestStatus::ALL {
                            if let Some(AttributeValue::N(n)) = item.get(status.as_str()) {
                                *counts.0.entry(status).or_default() +=
                                    n.parse::<i64>().unwrap_or_default().max(0) as u64;
                            }
                        }
                    }
                }
                Some(items::MEMBER) => {
                    let entry: Participant = decode(&key, item)?;
                    if let Some(chat) = items::chat_of(&key) {
                        loaded.memberships.insert((chat, entry.user), entry);
                    }
                }
                _ => {}
            }
        }
        Ok(loaded)
    }

    async fn shown_of(&self, chat: ObjectId) -> Result<(ObjectId, Vec<Participant>), StoreError> {
        Ok((chat, self.shown_participants(chat).await?))
    }

    async fn batch_get(&self, chunk: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(chunk.len());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(chunk.iter().map(key_item).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Sdk { operation: "BatchGetItem", message: e.to_string() })?;
        for attempt in 0..BATCH_ATTEMPTS {
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
        Err(StoreError::Unprocessed { operation: "BatchGetItem", attempts: BATCH_ATTEMPTS })
    }

    /// Puts up to 25 items in one `BatchWriteItem`, retrying what DynamoDB leaves
    /// unprocessed. For loaders of data the rest of the app owns (the fixture loader).
    pub async fn put_batch(&self, batch: Vec<Item>) -> Result<(), StoreError> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Sdk {
            operation: "BatchWriteItem",
            message: e.to_string(),
        };
        let writes = batch
            .into_iter()
            .map(|item| {
                let put =
                    aws_sdk_dynamodb::types::PutRequest::builder().set_item(Some(item)).build().map_err(invalid)?;
                Ok(aws_sdk_dynamodb::types::WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut pending = HashMap::from([(self.table.clone(), writes)]);
        for attempt in 0..BATCH_ATTEMPTS {
            let output = self
                .client
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchWriteItem", e))?;
            pending = output.unprocessed_items.unwrap_or_default();
            pending.retain(|_, writes| !writes.is_empty());
            if pending.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StoreError::Unprocessed { operation: "BatchWriteItem", attempts: BATCH_ATTEMPTS })
    }
}
