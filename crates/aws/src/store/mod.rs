//! The DynamoDB adapter: one table, the keys in `keys` (private: built and parsed only
//! there), the item shapes in `items`, and the transactions that make the contract's rules hold under
//! concurrency.

mod connections;
mod inbox;
pub mod inspect;
mod items;
mod keys;
mod outbox;
mod sync;
mod table;
mod transactions;

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};

use app::backoff;
use app::ports::{Loaded, Lookup, StoreError, StoredRequest, StoredScore};
use domain::chat::SHOWN_PARTICIPANTS;
use domain::{ChatSnapshot, JoinRequest, ObjectId, Participant, RequestStatus, User};
use items::{decode, item_key, key_item, kind_of, Item};
use keys::Key;

pub use connections::Connection;
pub use items::{item_size, Record};
pub use outbox::{SetAside, SetAsideFields};
pub use sync::{KeptMember, SetAsideAppEvent};
pub use table::{IndexDefinition, TableDefinition, TABLE};
pub use transactions::{MAX_NOTIFIED_ADMINS, MEMBERSHIPS_PER_TRANSACTION};

/// Error codes DynamoDB answers when the same call may succeed a moment later.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// A failed SDK call as a [`StoreError`]: transient (the call may succeed if made
/// again) or not.
pub(crate) fn sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    error: aws_sdk_dynamodb::error::SdkError<E>,
) -> StoreError {
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
        StoreError::Unavailable { operation, message }
    } else {
        StoreError::Refused { operation, message }
    }
}

/// Whether a conditional write was made (`false`: its condition did not hold, which the
/// callers take as "already so"), or the call's failure as a [`StoreError`].
pub(crate) fn condition_held<T, E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E>>,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(error) => Err(sdk_error(operation, error)),
    }
}

/// Where the next page of a paged read starts: opaque outside the store.
#[derive(Debug, Clone)]
pub struct Cursor(Item);

/// The handle every function builds once at cold start.
#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
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
    /// The expiry shards [`Store::due_for_expiry`] reads, each on its own.
    pub const EXPIRY_SHARDS: std::ops::Range<u8> = 0..keys::COUNT_SHARDS;

    /// Opens [`CONNECTIONS_AT_INIT`] connections to DynamoDB during init (TCP and, in
    /// AWS, the TLS handshake; the credentials resolved, the first request signed), so
    /// that the first invocation after a cold start does not pay for them: that many
    /// eventually consistent `GetItem`s of [`inspect::CONNECT_AT_INIT`], which no item
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
            read.map_err(|e| sdk_error("GetItem", e))?;
        }
        Ok(())
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// A store of `table` with a client built from the SDK configuration.
    pub fn from_config(config: &aws_types::SdkConfig, table: &str) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item under `key`, or the attributes `projection` names of it: one strongly
    /// consistent `GetItem`, so that what a call just committed is seen.
    pub(crate) async fn get_consistent(&self, key: &Key, projection: Option<&str>) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .set_projection_expression(projection.map(str::to_owned))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(output.item)
    }

    /// The answer kept under `caller`'s idempotency `key`, unless it has expired (DynamoDB's
    /// TTL removes an item within days, not at once): one strongly consistent `GetItem`.
    pub async fn kept_answer(&self, caller: ObjectId, key: &str) -> Result<Option<app::ports::KeptAnswer>, StoreError> {
        let key = keys::kept_answer(caller, key);
        let Some(item) = self.get_consistent(&key, None).await? else { return Ok(None) };
        let expired = match item.get("ttl") {
            Some(AttributeValue::N(ttl)) => ttl.parse::<i64>().is_ok_and(|ttl| ttl < domain::time::epoch_seconds_in(0)),
            _ => false,
        };
        if expired {
            return Ok(None);
        }
        decode(&key, item).map(Some)
    }

    /// One `GetItem`, strongly consistent so a request just created or decided is seen.
    pub async fn request(&self, id: ObjectId) -> Result<Option<StoredRequest>, StoreError> {
        let key = keys::request(id);
        self.get_consistent(&key, None).await?.map(|item| items::decode_request(&key, item)).transpose()
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
            let output =
                query.clone().set_exclusive_start_key(start_key).send().await.map_err(|e| sdk_error("Query", e))?;
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
        let items = self.newest_of(index, partition_attribute, partition, take).await?;
        items.into_iter().map(|item| decode(&item_key(&item), item)).collect()
    }

    /// The first `take` items of one partition of a global index, in descending sort
    /// order: one `Query` per MB, stopping as soon as it has them.
    async fn newest_of(
        &self,
        index: &str,
        partition_attribute: &str,
        partition: String,
        take: usize,
    ) -> Result<Vec<Item>, StoreError> {
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
                .map_err(|e| sdk_error("Query", e))?;
            found.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// The newest `take` blocks of `chat`, newest first: one `Query` of GSI3 per MB,
    /// stopping as soon as it has them.
    pub async fn blocks_of(&self, chat: ObjectId, take: usize) -> Result<Vec<domain::Block>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Marked {
            block: domain::Block,
        }
        let items = self.newest_of(keys::GSI3, keys::GSI3PK, keys::blocks_of(chat), take).await?;
        items.into_iter().map(|item| Ok(decode::<Marked>(&item_key(&item), item)?.block)).collect()
    }

    /// One page of the pending requests of expiry shard `shard` made before `before`,
    /// oldest first, from `start`: their ids, and where the next page starts. One
    /// `Query` of GSI3.
    pub async fn due_for_expiry(
        &self,
        shard: u8,
        before: &str,
        start: Option<Cursor>,
    ) -> Result<(Vec<ObjectId>, Option<Cursor>), StoreError> {
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
            .set_exclusive_start_key(start.map(|cursor| cursor.0))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let ids = output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| match item.get("request") {
                Some(AttributeValue::S(id)) => ObjectId::parse(id).ok(),
                _ => None,
            })
            .collect();
        Ok((ids, output.last_evaluated_key.map(Cursor)))
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
            .map_err(|e| sdk_error("Query", e))?;
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
            .chain(lookup.questions.iter().map(|chat| keys::questions(*chat)))
            .chain(
                lookup
                    .block_counts
                    .iter()
                    .flat_map(|chat| (0..keys::COUNT_SHARDS).map(|n| keys::block_count(*chat, n))),
            )
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
                    let chat: domain::Chat = decode(&key, item)?;
                    let shown = shown.remove(&chat.id).unwrap_or_default();
                    loaded.chats.insert(chat.id, ChatSnapshot { chat, shown });
                }
                Some(items::SCORE) => {
                    if let Some(owner) = keys::owner_of(&key) {
                        let has_actions = matches!(item.get("actions"), Some(AttributeValue::M(_)));
                        loaded.scores.insert(owner, StoredScore { score: decode(&key, item)?, has_actions });
                    }
                }
                Some(items::PENDING) => {
                    if let (Some(user), Some(chat)) = (keys::owner_of(&key), keys::marker_chat(&key)) {
                        loaded.markers.insert((user, chat), decode(&key, item)?);
                    }
                }
                Some(items::REQUEST_COUNT) => {
                    if let Some(chat) = keys::chat_of(&key) {
                        let counts = loaded.counts.entry(chat).or_default();
                        for status in RequestStatus::ALL {
                            if let Some(AttributeValue::N(n)) = item.get(status.as_str()) {
                                counts.add(status, n.parse::<i64>().unwrap_or_default().max(0) as u64);
                            }
                        }
                    }
                }
                Some(items::QUESTIONS) => {
                    #[derive(serde::Deserialize)]
                    struct Asked {
                        questions: Vec<domain::Question>,
                    }
                    if let Some(chat) = keys::chat_of(&key) {
                        loaded.questions.insert(chat, decode::<Asked>(&key, item)?.questions);
                    }
                }
                Some(items::BLOCK_COUNT) => {
                    if let (Some(chat), Some(AttributeValue::N(n))) = (keys::chat_of(&key), item.get("blocked")) {
                        *loaded.block_counts.entry(chat).or_default() +=
                            n.parse::<i64>().unwrap_or_default().max(0) as u64;
                    }
                }
                Some(items::MEMBER) => {
                    let entry: Participant = decode(&key, item)?;
                    if let Some(chat) = keys::chat_of(&key) {
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
            .map_err(|e| StoreError::Refused { operation: "BatchGetItem", message: e.to_string() })?;
        for attempt in 0..BATCH_ATTEMPTS {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
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
    pub async fn put_batch(&self, batch: Vec<Record>) -> Result<(), StoreError> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Refused {
            operation: "BatchWriteItem",
            message: e.to_string(),
        };
        let writes = batch
            .into_iter()
            .map(|item| {
                let put =
                    aws_sdk_dynamodb::types::PutRequest::builder().set_item(Some(item.0)).build().map_err(invalid)?;
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
                .map_err(|e| sdk_error("BatchWriteItem", e))?;
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

/// The store as the use cases see it: each method is the inherent one of the same name.
impl app::ports::Storage for Store {
    type Cursor = Cursor;

    async fn request(&self, id: ObjectId) -> Result<Option<StoredRequest>, StoreError> {
        Store::request(self, id).await
    }

    async fn load(&self, lookup: &Lookup) -> Result<Loaded, StoreError> {
        Store::load(self, lookup).await
    }

    async fn requests_of(&self, user: ObjectId, status: Option<RequestStatus>) -> Result<Vec<JoinRequest>, StoreError> {
        Store::requests_of(self, user, status).await
    }

    async fn requests_to(
        &self,
        chat: ObjectId,
        status: Option<RequestStatus>,
        take: usize,
    ) -> Result<Vec<JoinRequest>, StoreError> {
        Store::requests_to(self, chat, status, take).await
    }

    async fn kept_answer(&self, caller: ObjectId, key: &str) -> Result<Option<app::ports::KeptAnswer>, StoreError> {
        Store::kept_answer(self, caller, key).await
    }

    async fn commit_create(&self, plan: &app::ports::CreatePlan<'_>) -> Result<(), app::ports::TxError> {
        Store::commit_create(self, plan).await
    }

    async fn commit_close(&self, plan: &app::ports::ClosePlan<'_>) -> Result<(), app::ports::TxError> {
        Store::commit_close(self, plan).await
    }

    async fn kept_events(
        &self,
        user: ObjectId,
        from: app::ports::EventsFrom<'_>,
        late_seconds: i64,
        limit: usize,
    ) -> Result<Option<app::ports::KeptPage>, StoreError> {
        Store::kept_events(self, user, from, late_seconds, limit).await
    }

    async fn keep_events(&self, events: &[domain::OutboundEvent], created_at: &str) -> Result<(), StoreError> {
        Store::keep_events(self, events, created_at).await
    }

    async fn notify(&self, notifications: &domain::RequestNotifications) -> Result<(), StoreError> {
        Store::notify(self, notifications).await
    }

    async fn dismiss_notifications(&self, notifications: &[domain::NotificationRef]) -> Result<(), StoreError> {
        Store::dismiss_notifications(self, notifications).await
    }

    async fn delete_outbox(&self, id: ObjectId) -> Result<(), StoreError> {
        Store::delete_outbox(self, id).await
    }

    async fn outbox_page(
        &self,
        before: &str,
        limit: usize,
        start: Option<Cursor>,
    ) -> Result<app::ports::OutboxPage<Cursor>, StoreError> {
        Store::outbox_page(self, before, limit, start).await
    }

    async fn outbox_failed(
        &self,
        id: ObjectId,
        attempts: u32,
        reason: &str,
        set_aside: bool,
    ) -> Result<bool, StoreError> {
        Store::outbox_failed(self, id, attempts, reason, set_aside).await
    }
}

impl app::ports::Moderation for Store {
    async fn put_questions(
        &self,
        chat: ObjectId,
        admin: ObjectId,
        questions: &[domain::Question],
    ) -> Result<(), app::ports::TxError> {
        Store::put_questions(self, chat, admin, questions).await
    }

    async fn commit_block(&self, block: &domain::Block) -> Result<(), app::ports::TxError> {
        Store::commit_block(self, block).await
    }

    async fn commit_unblock(&self, block: &domain::Block, admin: ObjectId) -> Result<(), app::ports::TxError> {
        Store::commit_unblock(self, block, admin).await
    }

    async fn blocks_of(&self, chat: ObjectId, take: usize) -> Result<Vec<domain::Block>, StoreError> {
        Store::blocks_of(self, chat, take).await
    }
}

impl app::ports::Replica for Store {
    async fn apply_change(&self, change: &domain::sync::AppChange) -> Result<bool, StoreError> {
        Store::apply_change(self, change).await
    }

    async fn apply_memberships(&self, changes: &[domain::sync::AppChange]) -> Result<Vec<bool>, StoreError> {
        Store::apply_memberships(self, changes).await
    }

    async fn pending_requests_to(
        &self,
        chat: ObjectId,
        start: Option<Cursor>,
    ) -> Result<(Vec<ObjectId>, Option<Cursor>), StoreError> {
        Store::pending_requests_to(self, chat, start).await
    }
}

/// One item of the table as an operator's check reads it: its entity, the user or chat
/// its partition belongs to, whether it has a place in LSI1 (an active participant, a
/// kept event) and its attributes as JSON (keys left out).
#[derive(Debug, Clone)]
pub struct ScannedItem {
    pub entity: String,
    pub partition_of: Option<ObjectId>,
    pub ordered: bool,
    pub attributes: serde_json::Value,
}

impl Store {
    /// Every item of the table: a full `Scan`, one call per MB. For checks over a whole
    /// table after a load run, never for a call's path.
    pub async fn scan_all(&self) -> Result<Vec<ScannedItem>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            for mut item in page.items.unwrap_or_default() {
                let key = item_key(&item);
                let entity = kind_of(&item).unwrap_or_default().to_owned();
                let ordered = item.contains_key(keys::LSI1SK);
                for name in TABLE.attributes {
                    item.remove(*name);
                }
                let attributes: serde_json::Value = decode(&key, item)?;
                let partition_of = keys::owner_of(&key).or_else(|| keys::chat_of(&key));
                found.push(ScannedItem { entity, partition_of, ordered, attributes });
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }
}

/// Writes in flight at once when one call writes many items one by one.
const CONCURRENT_WRITES: usize = 16;

impl Store {
    /// A `Query` of GSI1 partition `partition` (`#pk = :pk` in the key condition).
    pub(super) fn gsi1(&self, partition: &str) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1PK)
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
    }

    pub(super) async fn delete(&self, key: &keys::Key) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }
}
