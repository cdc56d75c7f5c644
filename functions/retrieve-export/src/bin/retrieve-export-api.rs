//! retrieve-export-api: status, history and the guarded manifest hand-out behind the REST API
//! (DESIGN §5). Only API Gateway may invoke it. Wiring only; see `api_handler`.

use export_core::aws::CognitoPeople;
use lambda_runtime::service_fn;
use retrieve_export::{RetrieveExport, api_handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = RetrieveExport::on_aws(&config, &sdk, CognitoPeople::from_config(&sdk, &config)?)?;
    lambda_runtime::run(service_fn(|event| api_handler(&function, event))).await
}
