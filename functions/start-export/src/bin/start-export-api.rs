//! start-export-api: StartDataExport behind the REST API (DESIGN §5). Only API Gateway may invoke
//! it, and it takes API Gateway's proxy events only. Wiring only; see `api_handler`.

use export_core::aws::CognitoPeople;
use lambda_runtime::service_fn;
use start_export::{StartExport, api_handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = StartExport::on_aws(&config, &sdk, CognitoPeople::from_config(&sdk, &config)?)?;
    lambda_runtime::run(service_fn(|event| api_handler(&function, event))).await
}
