//! enumerate-attachments: the state machine's Enumerate step (DESIGN §6).

use export_core::Error;
use export_core::payloads::{EnumerateRequest, EnumerateResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (_config, _sdk) = export_core::telemetry::cold_start().await?;
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<EnumerateResponse, Error> {
    let request: EnumerateRequest = serde_json::from_value(event.payload)
        .map_err(|e| Error::BadRequest(format!("not an Enumerate step input: {e}")))?;
    tracing::info!(account = %request.job.account_id, export = %request.job.export_id, "enumerate");
    Err(Error::Internal("enumeration is not part of this build yet".into()))
}
