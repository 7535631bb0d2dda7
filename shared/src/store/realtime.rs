//! Items of the real-time path: open WebSocket connections and the outbox.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::items::{self, decode, encode, item_key, key_item};
use super::{keys, Store, StoreError};
use crate::domain::{NotificationRef, ObjectId, Outbox};

/// Writes in flight at once when one call dismisses many notifications.
const CONCURRENT_WRITES: usize = 16;

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
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    /// One `DeleteItem`; deleting a connection that is already gone is not an error.
    pub async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        self.delete(&keys::connection(connection_id)).await
    }

    /// One `Query` of GSI1 (connections of one user are few).
    pub async fn connections_of(&self, user: ObjectId) -> Result<Vec<Connection>, StoreError> {
        self.query_index(keys::requests_of(user), keys::CONNECTION_ORDER_PREFIX, None).await
    }

    /// Outbox items created before `before` (an RFC 3339 time), oldest first, at most
    /// `limit`. One `Query` of the sparse outbox partition of GSI1.
    pub async fn outbox_before(&self, before: &str, limit: i32) -> Result<Vec<Outbox>, StoreError> {
        self.query_index(keys::OUTBOX_INDEX_PARTITION.to_owned(), "", Some((before, limit))).await
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
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }

    async fn delete(&self, key: &keys::Key) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("DeleteItem", e))?;
        Ok(())
    }

    async fn query_index<T: serde::de::DeserializeOwned>(
        &self,
        partition: String,
        prefix: &str,
        before: Option<(&str, i32)>,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1PK)
            .expression_attribute_names("#sk", keys::GSI1SK)
            .expression_attribute_values(":pk", AttributeValue::S(partition));
        let query = match before {
            Some((before, limit)) => query
                .key_condition_expression("#pk = :pk AND #sk < :before")
                .expression_attribute_values(":before", AttributeValue::S(before.to_owned()))
                .limit(limit),
            None => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned())),
        };
        let output = query.send().await.map_err(|e| StoreError::sdk("Query", e))?;
        output.items.unwrap_or_default().into_iter().map(|item| decode(&item_key(&item), item)).collect()
    }
}
