//! write-manifest: the state machine's WriteParts, Finalize and RecordFailure steps (DESIGN §6).

use export_core::Error;
use export_core::payloads::WriteManifestRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (_config, _sdk) = export_core::telemetry::cold_start().await?;
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request: WriteManifestRequest = serde_json::from_value(event.payload)
        .map_err(|e| Error::BadRequest(format!("not a write-manifest step input: {e}")))?;
    tracing::info!(mode = ?std::mem::discriminant(&request), "write-manifest");
    Err(Error::Internal("manifest writing is not part of this build yet".into()))
}
