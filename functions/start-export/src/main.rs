//! start-export: the only way an export begins (DESIGN §5).

use export_core::Error;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (_config, _sdk) = export_core::telemetry::cold_start().await?;
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Err(Error::Internal(
        "starting exports is not part of this build yet".into(),
    ))
}
