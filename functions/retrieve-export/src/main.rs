//! retrieve-export: status, history and the guarded manifest hand-out (DESIGN §5). Wiring only.

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
        // The manifest link is signed by this function's own role: short-lived is right here.
        objects: S3ObjectStore::new(s3::client(&sdk, &config), &config.export_bucket),
        clock: SystemClock,
        manifest_link: config.manifest_link,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
