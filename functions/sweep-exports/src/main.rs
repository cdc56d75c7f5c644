//! sweep-exports: the daily sweep (DESIGN §5), invoked only by its two EventBridge rules. Wiring
//! only; see the library.

use lambda_runtime::service_fn;
use sweep_exports::{AwsDeps, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::startup::cold_start().await?;
    let deps = AwsDeps::new(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event| handler(&deps, event))).await
}
