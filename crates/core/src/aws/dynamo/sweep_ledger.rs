//! ExportsTable: the sweep's record.

use aws_sdk_dynamodb::Client;
use serde::Serialize;
use serde_dynamo::{from_item, to_item};

use super::from_sdk;
use crate::config::ConfigError;
use crate::domain::error::Result;

use super::{Item, attr, s};

/// The sweep's record: one item in ExportsTable under a key no account can have (`accountId`
/// `#sweep`; accounts are UUIDs), outside the `EXPORT#` keys the stuck-export search reads.
#[derive(Debug, Clone)]
pub struct DynamoSweepLedger {
    client: Client,
    table: String,
    /// The record's `accountId`: `#sweep`, or another key for tests beside a live sweep.
    account: String,
}

impl DynamoSweepLedger {
    const ACCOUNT: &'static str = "#sweep";
    const SK: &'static str = "SWEEP";

    pub fn from_config(client: Client, config: &crate::Config) -> Result<Self, ConfigError> {
        Ok(Self::new(client, config.exports_table()?))
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), account: Self::ACCOUNT.into() }
    }

    /// The same ledger under another key (contract tests run beside the stack's own sweep).
    pub fn at_key(client: Client, table: impl Into<String>, account: impl Into<String>) -> Self {
        Self { client, table: table.into(), account: account.into() }
    }
}

impl crate::ports::SweepLedger for DynamoSweepLedger {
    async fn load(&self) -> Result<Option<crate::rules::sweep::SweepRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("accountId", s(&self.account))
            .key("sk", s(Self::SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem sweep record", e))?;
        out.item.map(|item| Ok(from_item(item)?)).transpose()
    }

    async fn save(
        &self,
        record: &crate::rules::sweep::SweepRecord,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct SweepItem<'a> {
            account_id: &'a str,
            sk: &'static str,
            #[serde(flatten)]
            record: &'a crate::rules::sweep::SweepRecord,
        }
        let item: Item = to_item(SweepItem { account_id: &self.account, sk: Self::SK, record })?;
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let put = match expected_version {
            None => put.condition_expression("attribute_not_exists(sk)"),
            Some(v) => put.condition_expression("version = :v").expression_attribute_values(":v", attr(&v)?),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(from_sdk("PutItem sweep record", e)),
        }
    }
}
