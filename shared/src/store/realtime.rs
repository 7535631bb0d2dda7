//! Items of the real-time path: open WebSocket connections and the outbox.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{decode, encode, item_key, key_item, keys, table, Store, StoreError};
use crate::domain::{ObjectId, OutboundEvent};

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

/// The events one committed change caused, until they are published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub events: Vec<OutboundEvent>,
    pub created_at: String,
}

impl OutboxItem {
    pub fn id(&self) -> Option<ObjectId> {
        self.events.first().map(|event| event.id)
    }
}

impl Store {
    /// One `PutItem`.
    pub async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut item = encode(&keys::connection(&connection.connection_id), table::CONNECTION, connection)?;
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
    pub async fn outbox_before(&self, before: &str, limit: i32) -> Result<Vec<OutboxItem>, StoreError> {
        self.query_index(keys::OUTBOX_INDEX_PARTITION.to_owned(), "", Some((before, limit))).await
    }

    /// One `DeleteItem`: the outbox item's events are published.
    pub async fn delete_outbox(&self, id: ObjectId) -> Result<(), StoreError> {
        self.delete(&keys::outbox(id)).await
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
