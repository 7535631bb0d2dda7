//! The outbox as the sweeper and an operator see it: its pages, failed attempts, the
//! items set aside and their replay; and the writes of carrying one out (dismissing
//! notifications, deleting the item).

use app::ports::{OutboxPage, StoreError, StoredOutbox, Undecodable};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{NotificationRef, ObjectId};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::items::{decode, item_key, key_item};
use super::{condition_held, keys, sdk_error, Cursor, Store, CONCURRENT_WRITES};

/// An outbox item set aside, as an operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAside {
    /// Its id, from its key (an item that does not decode has no other), which
    /// `dev outbox replay` takes.
    pub id: ObjectId,
    #[serde(flatten)]
    pub fields: SetAsideFields,
}

/// What a set-aside item says of itself; each may be missing from an item that does
/// not decode as an outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAsideFields {
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: String,
}

impl Store {
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
        // `false`: delivered and deleted meanwhile by the call that wrote it, nothing to count.
        condition_held("UpdateItem", update.send().await)
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
            let key = item_key(&item);
            match keys::outbox_id(&key) {
                Some(id) => found.push(SetAside { id, fields: decode(&key, item)? }),
                None => tracing::error!(pk = %key.pk, "an item among the set-aside outbox items is no outbox item"),
            }
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
        condition_held("UpdateItem", result)
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
        condition_held("UpdateItem", result).map(|_| ())
    }
}
