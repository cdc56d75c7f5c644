//! revoke-export: RevokeDataExport by direct invocation (`aws lambda invoke`; operators only;
//! DESIGN §8). API-shaped payloads are refused. Wiring only; see `direct_handler`.

use export_core::aws::CognitoPeople;
use lambda_runtime::service_fn;
use revoke_export::{RevokeExport, direct_handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = RevokeExport::on_aws(&config, &sdk, CognitoPeople::nobody(&sdk))?;
    lambda_runtime::run(service_fn(|event| direct_handler(&function, event))).await
}
