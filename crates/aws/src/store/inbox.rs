//! The events kept for their recipients (7 days, by TTL), under their user partition,
//! ordered in LSI1 by when they were written: what `GET /events` reads.

use app::ports::{EventsFrom, KeptEvent, StoreError};
use app::requests::KEEP_EVENTS_SECONDS;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{ObjectId, OutboundEvent};
use futures::stream::{self, StreamExt};

use super::items::{self, decode, encode, item_key, key_item};
use super::{keys, sdk_error, Store, CONCURRENT_WRITES};

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
