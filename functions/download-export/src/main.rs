//! download-export: the download links of delivered exports, behind the function's own URL
//! (AuthType NONE; docs/DESIGN.md §8). Only function URL requests are served. Wiring only; see
//! `url_handler`.

use download_export::{DownloadExport, url_handler};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = DownloadExport::on_aws(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event| url_handler(&function, event))).await
}
