//! start-export-api: StartDataExport behind the REST API (DESIGN §5). Only API Gateway may invoke
//! it, and it takes API Gateway's proxy events only. Wiring only; see `api_handler`.

use lambda_runtime::service_fn;
use start_export::{AwsDeps, api_handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::startup::cold_start().await?;
    let deps = AwsDeps::new(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event| api_handler(&deps, event))).await
}
