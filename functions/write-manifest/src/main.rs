//! write-manifest: the state machine's WriteParts, Finalize and RecordFailure steps (DESIGN §6).
//! Wiring only.

mod handler;

use export_core::adapters::PresignerFactory;
use export_core::adapters::{
    DynamoExportStore, EventBridgeNotifier, KmsStatementSigner, S3AttachmentObjects, S3ObjectStore,
};
use export_core::ports::SystemClock;
use handler::Deps;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::startup::cold_start().await?;
    let deps = Deps {
        store: DynamoExportStore::from_config(aws_sdk_dynamodb::Client::new(&sdk), &config)?,
        objects: S3ObjectStore::export_bucket(&sdk, &config)?,
        attachments: S3AttachmentObjects::new(export_core::adapters::s3::client(&sdk, &config)),
        buckets: config.attachment_buckets()?.to_vec(),
        notifier: EventBridgeNotifier::new(aws_sdk_eventbridge::Client::new(&sdk)),
        clock: SystemClock,
        // Credentials are loaded on first use, so a signing problem fails the export with a clear
        // error instead of failing every step (the failure step included) at start-up.
        signers: PresignerFactory::new(&config, &sdk)?,
        url_expiry: config.url_expiry,
        statements: KmsStatementSigner::from_config(aws_sdk_kms::Client::new(&sdk), &config)?,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
