//! enumerate-attachments: the state machine's Enumerate step (DESIGN §6). Wiring only.

mod handler;

use export_core::adapters::{DynamoCatalog, DynamoExportStore, S3ObjectStore, s3};
use export_core::ports::SystemClock;
use handler::Deps;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::telemetry::cold_start().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let deps = Deps {
        catalog: DynamoCatalog::new(dynamodb.clone(), &config.accounts_table, &config.attachments_table),
        store: DynamoExportStore::new(dynamodb, &config.exports_table),
        objects: S3ObjectStore::new(s3::client(&sdk, &config), &config.export_bucket),
        clock: SystemClock,
        part_items: config.part_items,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
