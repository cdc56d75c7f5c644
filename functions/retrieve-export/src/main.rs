//! retrieve-export: status, history and the guarded manifest hand-out (DESIGN §5). Wiring only.

mod handler;

use export_core::adapters::{DynamoCatalog, DynamoExportStore, S3ObjectStore};
use export_core::ports::SystemClock;
use handler::Deps;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::telemetry::cold_start().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let deps = Deps {
        catalog: DynamoCatalog::from_config(dynamodb.clone(), &config),
        store: DynamoExportStore::from_config(dynamodb, &config),
        // The manifest link is signed by this function's own role: short-lived is right here.
        objects: S3ObjectStore::export_bucket(&sdk, &config),
        clock: SystemClock,
        manifest_link: config.manifest_link,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
