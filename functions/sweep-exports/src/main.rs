//! sweep-exports: the daily sweep (DESIGN §5), invoked only by its two EventBridge rules. Wiring
//! only; see the library.

use lambda_runtime::service_fn;
use sweep_exports::{SweepExports, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = SweepExports::on_aws(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event| handler(&function, event))).await
}
