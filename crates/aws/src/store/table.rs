//! The table's one definition: [`TABLE`]. The local stack and the tests create their
//! tables from it; `template.yaml` declares the same for AWS, and a test in the dev
//! crate holds the two together.

use app::ports::StoreError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType,
};

use super::{keys, sdk_error, Store};

/// An index: its name, partition key and sort key attributes; every index projects all
/// attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub partition: &'static str,
    pub sort: &'static str,
}

/// The table: its string key attributes, key schema and indexes, billed per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub attributes: &'static [&'static str],
    pub partition: &'static str,
    pub sort: &'static str,
    pub global_indexes: &'static [IndexDefinition],
    pub local_indexes: &'static [IndexDefinition],
}

pub const TABLE: TableDefinition = TableDefinition {
    attributes: &[
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
    ],
    partition: keys::PK,
    sort: keys::SK,
    global_indexes: &[
        IndexDefinition { name: keys::GSI1, partition: keys::GSI1PK, sort: keys::GSI1SK },
        IndexDefinition { name: keys::GSI2, partition: keys::GSI2PK, sort: keys::GSI2SK },
        IndexDefinition { name: keys::GSI3, partition: keys::GSI3PK, sort: keys::GSI3SK },
        IndexDefinition { name: keys::GSI4, partition: keys::GSI4PK, sort: keys::GSI4SK },
    ],
    local_indexes: &[IndexDefinition { name: keys::LSI1, partition: keys::PK, sort: keys::LSI1SK }],
};

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Refused { operation: "CreateTable", message: e.to_string() }
}

fn key_schema(partition: &str, sort: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder().attribute_name(partition).key_type(KeyType::Hash).build().map_err(build_error)?,
        KeySchemaElement::builder().attribute_name(sort).key_type(KeyType::Range).build().map_err(build_error)?,
    ])
}

fn all_attributes() -> Projection {
    Projection::builder().projection_type(ProjectionType::All).build()
}

impl Store {
    /// Deletes the table if it exists, so that a fixture loads into an empty one.
    pub async fn drop_table(&self) -> Result<(), StoreError> {
        match self.client.delete_table().table_name(&self.table).send().await {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(()),
            Err(error) => Err(sdk_error("DeleteTable", error)),
        }
    }

    /// Creates the table as [`TABLE`] defines it, unless it exists. Returns whether it
    /// created it.
    pub async fn create_table_if_missing(&self) -> Result<bool, StoreError> {
        let attributes = TABLE
            .attributes
            .iter()
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The SDK's global and local index builders share no trait: one macro for both.
        macro_rules! indexes {
            ($all:expr, $kind:ty) => {
                $all.iter()
                    .map(|index| {
                        <$kind>::builder()
                            .index_name(index.name)
                            .set_key_schema(Some(key_schema(index.partition, index.sort)?))
                            .projection(all_attributes())
                            .build()
                            .map_err(build_error)
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            };
        }
        let global = indexes!(TABLE.global_indexes, GlobalSecondaryIndex)?;
        let local = indexes!(TABLE.local_indexes, LocalSecondaryIndex)?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(TABLE.partition, TABLE.sort)?))
            .set_global_secondary_indexes(Some(global))
            .set_local_secondary_indexes(Some(local))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(false),
            Err(error) => Err(sdk_error("CreateTable", error)),
        }
    }
}
