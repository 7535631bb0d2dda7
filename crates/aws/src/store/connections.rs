//! Open WebSocket connections: by their own id, so `$disconnect` (which knows only the
//! id) deletes one with one write, and in GSI1 under their user, so the notifier finds
//! all of a user's connections with one query.

use app::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::ObjectId;
use serde::{Deserialize, Serialize};

use super::items::{self, decode, encode, item_key};
use super::{keys, sdk_error, Store};

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
}
