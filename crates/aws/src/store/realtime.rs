//! Items of the real-time path: open WebSocket connections, the outbox and the events
//! kept for their recipients.

use app::ports::{EventsFrom, KeptEvent, OutboxPage, StoreError, StoredOutbox, Undecodable};
use app::requests::KEEP_EVENTS_SECONDS;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{NotificationRef, ObjectId, OutboundEvent};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::items::{self, decode, encode, item_key, key_item};
use super::{keys, sdk_error, Cursor, Store};

/// Writes in flight at once when one call dismisses many notifications.
const CONCURRENT_WRITES: usize = 16;

/// An outbox item set aside, as an operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAside {
    #[serde(rename = "PK")]
    pub key: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    pub user: ObjectId,
    pub connected_at: String,
    /// Epoch seconds when DynamoDB's TTL may delete it: API Gateway closes every
    /// connection after 2 hours, so a `$disconnect` that never came costs nothing.
    pub ttl: i64,
}

impl Store {
    /// A `Query` of GSI1 partition `partition` (`#pk = :pk` in the key condition).
    fn gsi1(&self, partition: &str) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1PK)
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
    }

    /// One `PutItem`.
    pub async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut item = encode(&keys::connection(&connection.connection_id), items::CONNECTION, connection)?;
        item.insert(keys::GSI1PK.into(), AttributeValue::S(keys::requests_of(connection.user)));
        item.insert(keys::GSI1SK.into(), AttributeValue::S(keys::connection_order(&connection.connection_id)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// One `DeleteItem`; deleting a connection that is already gone is not an error.
    pub async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        self.delete(&keys::connection(connection_id)).await
    }

    /// Every connection of `user`: one `Query` of GSI1 per 1 MB of them (one, unless the
    /// user has thousands of connections open).
    pub async fn connections_of(&self, user: ObjectId) -> Result<Vec<Connection>, StoreError> {
        let mut connections = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .gsi1(&keys::requests_of(user))
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", keys::GSI1SK)
                .expression_attribute_values(":prefix", AttributeValue::S(keys::CONNECTION_ORDER_PREFIX.to_owned()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                connections.push(decode(&item_key(&item), item)?);
            }
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(connections);
            }
        }
    }

    /// One page of the outbox items created before `before` (an RFC 3339 time), oldest
    /// first, at most `limit`, from `start` (the previous page's `next`). One `Query` of
    /// the sparse outbox partition of GSI1. An item that does not decode is returned as
    /// such, so that one bad item cannot stop the sweep.
    pub async fn outbox_page(
        &self,
        before: &str,
        limit: usize,
        start: Option<Cursor>,
    ) -> Result<OutboxPage<Cursor>, StoreError> {
        let output = self
            .gsi1(keys::OUTBOX_INDEX_PARTITION)
            .key_condition_expression("#pk = :pk AND #sk < :before")
            .expression_attribute_names("#sk", keys::GSI1SK)
            .expression_attribute_values(":before", AttributeValue::S(before.to_owned()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.map(|cursor| cursor.0))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut entries = Vec::new();
        for item in output.items.unwrap_or_default() {
            let key = item_key(&item);
            match decode::<StoredOutbox>(&key, item) {
                Ok(stored) => entries.push(Ok(stored)),
                Err(error) => match keys::outbox_id(&key) {
                    Some(id) => entries.push(Err(Undecodable { id, reason: error.to_string() })),
                    // Not an item this service wrote: nothing to set aside by id.
                    None => tracing::error!(pk = %key.pk, %error, "an item in the outbox index is no outbox item"),
                },
            }
        }
        Ok(OutboxPage { entries, next: output.last_evaluated_key.map(Cursor) })
    }

    /// Records one more failed attempt at an outbox item (`attempts` in all), with its
    /// reason; with `set_aside`, moves it out of the partition the sweeper reads, into
    /// the one an operator lists. One `UpdateItem`. Returns whether the item was there.
    pub async fn outbox_failed(
        &self,
        id: ObjectId,
        attempts: u32,
        reason: &str,
        set_aside: bool,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::outbox(id))))
            .update_expression(if set_aside {
                "SET attempts = :attempts, lastError = :reason, #pk = :aside"
            } else {
                "SET attempts = :attempts, lastError = :reason"
            })
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":attempts", AttributeValue::N(attempts.to_string()))
            .expression_attribute_values(":reason", AttributeValue::S(reason.chars().take(1000).collect()));
        if set_aside {
            update = update
                .expression_attribute_names("#pk", keys::GSI1PK)
                .expression_attribute_values(":aside", AttributeValue::S(keys::OUTBOX_ASIDE_PARTITION.to_owned()));
        }
        match update.send().await {
            Ok(_) => Ok(true),
            // Delivered and deleted meanwhile by the call that wrote it: nothing to count.
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(error) => Err(sdk_error("UpdateItem", error)),
        }
    }

    /// The outbox items set aside, oldest first, at most `limit`: what an operator looks
    /// at (`dev outbox aside`). One `Query` per MB of them (an item may be large).
    pub async fn outbox_set_aside(&self, limit: usize) -> Result<Vec<SetAside>, StoreError> {
        let mut items = self
            .gsi1(keys::OUTBOX_ASIDE_PARTITION)
            .key_condition_expression("#pk = :pk")
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(item) = items.next().await else { break };
            let item = item.map_err(|e| sdk_error("Query", e))?;
            found.push(decode(&item_key(&item), item)?);
        }
        Ok(found)
    }

    /// How many outbox items are set aside: one `Query` counting the keys of that
    /// partition (empty when all is well), for the metric the alarm watches.
    pub async fn outbox_set_aside_count(&self) -> Result<usize, StoreError> {
        let pages = self
            .gsi1(keys::OUTBOX_ASIDE_PARTITION)
            .key_condition_expression("#pk = :pk")
            .select(aws_sdk_dynamodb::types::Select::Count)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut count = 0;
        for page in pages {
            count += page.map_err(|e| sdk_error("Query", e))?.count as usize;
        }
        Ok(count)
    }

    /// Puts a set-aside outbox item back in the sweeper's partition with its attempts
    /// reset: the operator's replay, once the cause is fixed. One `UpdateItem`; `false`
    /// when no such item is set aside.
    pub async fn replay_outbox(&self, id: ObjectId) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::outbox(id))))
            .update_expression("SET #pk = :outbox, attempts = :zero REMOVE lastError")
            .condition_expression("#pk = :aside")
            .expression_attribute_names("#pk", keys::GSI1PK)
            .expression_attribute_values(":outbox", AttributeValue::S(keys::OUTBOX_INDEX_PARTITION.to_owned()))
            .expression_attribute_values(":aside", AttributeValue::S(keys::OUTBOX_ASIDE_PARTITION.to_owned()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(error) => Err(sdk_error("UpdateItem", error)),
        }
    }

    /// One `DeleteItem`: the outbox item is done.
    pub async fn delete_outbox(&self, id: ObjectId) -> Result<(), StoreError> {
        self.delete(&keys::outbox(id)).await
    }

    /// Marks each notification dismissed: one `UpdateItem` each, 16 in flight. Only
    /// notifications that still exist are touched (the rest of the app may have
    /// removed one), so no stub item is ever made; doing it twice changes nothing.
    pub async fn dismiss_notifications(&self, notifications: &[NotificationRef]) -> Result<(), StoreError> {
        let updates: Vec<_> = notifications.iter().map(|notification| self.dismiss(notification)).collect();
        let results: Vec<Result<(), StoreError>> =
            stream::iter(updates).buffer_unordered(CONCURRENT_WRITES).collect().await;
        results.into_iter().collect()
    }

    async fn dismiss(&self, notification: &NotificationRef) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::notification(notification.user, notification.id))))
            .update_expression("SET dismissed = :true")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(sdk_error("UpdateItem", error)),
        }
    }

    async fn delete(&self, key: &keys::Key) -> Result<(), StoreError> {
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

impl Store {
    /// Keeps `event` for its recipient: one `PutItem` that writes only if it is not kept
    /// yet, so a redelivery never moves it (its place stays where a client may have
    /// read up to).
    async fn keep_event(&self, event: &OutboundEvent, created_at: &str, written_at: &str) -> Result<(), StoreError> {
        let kept = KeptEvent {
            id: event.id,
            event: event.event.clone(),
            data: event.data.clone(),
            created_at: created_at.to_owned(),
        };
        let mut item = encode(&keys::inbox_event(event.to, event.id), items::INBOX_EVENT, &kept)?;
        item.insert(keys::LSI1SK.into(), AttributeValue::S(keys::inbox_order(written_at, event.id)));
        item.insert("writtenAt".into(), AttributeValue::S(written_at.to_owned()));
        item.insert("ttl".into(), AttributeValue::N(domain::time::epoch_seconds_in(KEEP_EVENTS_SECONDS).to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(sdk_error("PutItem", error)),
        }
    }

    /// Keeps the events of one change, 16 writes in flight, all stamped with one write
    /// time: within a change they then sort by id, which is the order they were made.
    pub async fn keep_events(&self, events: &[OutboundEvent], created_at: &str) -> Result<(), StoreError> {
        let written_at = domain::time::now_timestamp();
        let writes: Vec<_> = events.iter().map(|event| self.keep_event(event, created_at, &written_at)).collect();
        let results: Vec<Result<(), StoreError>> =
            stream::iter(writes).buffer_unordered(CONCURRENT_WRITES).collect().await;
        results.into_iter().collect()
    }

    /// The place of `event` in `user`'s kept events, if it is kept: one `GetItem`.
    async fn kept_event_place(&self, user: ObjectId, event: ObjectId) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::inbox_event(user, event))))
            .projection_expression(keys::LSI1SK)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(output.item.and_then(|item| match item.get(keys::LSI1SK) {
            Some(AttributeValue::S(place)) => Some(place.clone()),
            _ => None,
        }))
    }

    /// `user`'s kept events from `from` written before `settled_before`, oldest first,
    /// at most `limit`, and whether there are more: one strongly consistent `Query` of
    /// LSI1, after one `GetItem` for the place of an `after` event. `None` when that
    /// event is not kept for `user`.
    pub async fn kept_events(
        &self,
        user: ObjectId,
        from: EventsFrom<'_>,
        settled_before: &str,
        limit: usize,
    ) -> Result<Option<(Vec<KeptEvent>, bool)>, StoreError> {
        let place = match from {
            EventsFrom::Since(time) => keys::inbox_order_from(time),
            EventsFrom::After(event) => match self.kept_event_place(user, event).await? {
                Some(place) => place,
                None => return Ok(None),
            },
        };
        self.kept_events_after(user, &place, settled_before, limit).await.map(Some)
    }

    async fn kept_events_after(
        &self,
        user: ObjectId,
        place: &str,
        settled_before: &str,
        limit: usize,
    ) -> Result<(Vec<KeptEvent>, bool), StoreError> {
        // Keys are all the same length, so `place` plus a space is the least key after it.
        let from = format!("{place} ");
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::LSI1)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::LSI1SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::requests_of(user)))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":to", AttributeValue::S(keys::inbox_order_from(settled_before)))
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut events: Vec<KeptEvent> = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode(&item_key(&item), item))
            .collect::<Result<_, _>>()?;
        let more = events.len() > limit;
        events.truncate(limit);
        Ok((events, more))
    }
}
