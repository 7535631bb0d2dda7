//! The table's shape, for the fixture loader, the local stack and the tests. In AWS the
//! SAM template creates the same table; `template.yaml` and this file change together.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use shared::store::{keys, StoreError};

pub struct TableSpec;

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Sdk { operation: "CreateTable", message: e.to_string() }
}

fn key_schema(partition: &str, sort: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder().attribute_name(partition).key_type(KeyType::Hash).build().map_err(build_error)?,
        KeySchemaElement::builder().attribute_name(sort).key_type(KeyType::Range).build().map_err(build_error)?,
    ])
}

impl TableSpec {
    /// Deletes the table if it exists, so that a fixture loads into an empty one.
    pub async fn drop(client: &Client, table: &str) -> Result<(), StoreError> {
        match client.delete_table().table_name(table).send().await {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(()),
            Err(error) => Err(StoreError::sdk("DeleteTable", error)),
        }
    }

    /// Creates the table unless it exists. Returns whether it created it.
    pub async fn ensure(client: &Client, table: &str) -> Result<bool, StoreError> {
        let attributes = [
            keys::PK,
            keys::SK,
            keys::GSI1PK,
            keys::GSI1SK,
            keys::GSI2PK,
            keys::GSI2SK,
            keys::GSI3PK,
            keys::GSI3SK,
            keys::GSI4PK,
            keys::GSI4SK,
            keys::LSI1SK,
        ]
        .into_iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
        let index = |name: &str, partition: &str, sort: &str| -> Result<GlobalSecondaryIndex, StoreError> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .set_key_schema(Some(key_schema(partition, sort)?))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build_error)
        };
        let result = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(keys::PK, keys::SK)?))
            .global_secondary_indexes(index(keys::GSI1, keys::GSI1PK, keys::GSI1SK)?)
            .global_secondary_indexes(index(keys::GSI2, keys::GSI2PK, keys::GSI2SK)?)
            .global_secondary_indexes(index(keys::GSI3, keys::GSI3PK, keys::GSI3SK)?)
            .global_secondary_indexes(index(keys::GSI4, keys::GSI4PK, keys::GSI4SK)?)
            .local_secondary_indexes(
                LocalSecondaryIndex::builder()
                    .index_name(keys::LSI1)
                    .set_key_schema(Some(key_schema(keys::PK, keys::LSI1SK)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(false),
            Err(error) => Err(StoreError::sdk("CreateTable", error)),
        }
    }
}
