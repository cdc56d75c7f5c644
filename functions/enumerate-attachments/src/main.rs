//! enumerate-attachments: the state machine's Enumerate step (DESIGN §6). Wiring only.

mod handler;

use export_core::rules::pipeline::Enumerator;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let enumerator = Enumerator::on_aws(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event| handler::handler(&enumerator, event))).await
}
