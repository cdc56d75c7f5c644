//! enumerate-attachments: the state machine's Enumerate step (DESIGN §6). Wiring only.

mod handler;

use export_core::adapters::{DynamoCatalog, DynamoExportStore, S3ObjectStore};
use export_core::ports::SystemClock;
use handler::Deps;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::startup::cold_start().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let deps = Deps {
        catalog: DynamoCatalog::from_config(dynamodb.clone(), &config)?,
        store: DynamoExportStore::from_config(dynamodb, &config)?,
        objects: S3ObjectStore::export_bucket(&sdk, &config)?,
        clock: SystemClock,
        part_items: config.part_items,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
