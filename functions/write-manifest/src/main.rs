//! write-manifest: the state machine's WriteParts, Finalize and RecordFailure steps (DESIGN §6).
//! Wiring only.

mod handler;

use export_core::rules::pipeline::{Finisher, PartWriter};
use handler::WriteManifest;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = WriteManifest {
        parts: PartWriter::on_aws(&config, &sdk)?,
        finisher: Finisher::on_aws(&config, &sdk)?,
        url_expiry: config.url_expiry,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&function, event))).await
}
