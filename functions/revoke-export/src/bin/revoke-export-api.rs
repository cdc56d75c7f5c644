//! revoke-export-api: `POST /accounts/{accountId}/data-exports/{exportId}/revoke` behind the
//! REST API (DESIGN §8). Only API Gateway may invoke it. Wiring only; see `api_handler`.

use export_core::aws::CognitoPeople;
use lambda_runtime::service_fn;
use revoke_export::{RevokeExport, api_handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = RevokeExport::on_aws(&config, &sdk, CognitoPeople::from_config(&sdk, &config)?)?;
    lambda_runtime::run(service_fn(|event| api_handler(&function, event))).await
}
