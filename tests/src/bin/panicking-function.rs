//! A test fixture, not a product function: a Lambda that panics on `{"panic": true}` and echoes
//! anything else, built with the same runtime and profile as the four functions. The fault tests run
//! it under a Runtime API to show what Lambda (and so the state machine) sees when a step panics.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload["panic"] == Value::Bool(true) {
        let parts: Vec<u32> = Vec::new();
        // An index bug, the kind of panic a real step could hit.
        return Ok(Value::from(parts[event.payload["index"].as_u64().unwrap_or(3) as usize]));
    }
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
