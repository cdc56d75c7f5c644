//! DynamoDB adapters on the tables of DESIGN §4. Items are (de)serialized by serde_dynamo from the
//! model's structs; only keys and update expressions are written here. One file a table and concern: `keys` (the key layout), `items` (items as the chat service
//! writes them, for seeding), `directory`, `catalog`, `exports`, `sweep_ledger`.

mod catalog;
mod directory;
mod exports;
pub mod items;
pub mod keys;
mod sweep_ledger;

pub use catalog::DynamoCatalog;
pub use directory::DynamoDirectory;
pub use exports::DynamoExportStore;
pub use sweep_ledger::DynamoSweepLedger;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_dynamo::to_attribute_value;

use super::from_sdk;
use crate::domain::error::{Error, Result};

fn string_attr(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(Error::Internal(format!("item has no string attribute {name}"))),
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn attr<T: Serialize>(value: &T) -> Result<AttributeValue> {
    Ok(to_attribute_value(value)?)
}

impl From<serde_dynamo::Error> for Error {
    fn from(e: serde_dynamo::Error) -> Self {
        Error::Internal(format!("item does not match the data model: {e}"))
    }
}
