//! assistant: the Assistant's answers to a chat user's 1:1 messages (DESIGN §15), invoked by the
//! chat service only (its role holds `ChatServiceAssistant`). Wiring only; see `direct_handler`.

use assistant::AssistantFunction;
use entry::direct_handler;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = entry::startup::cold_start().await?;
    let function = AssistantFunction::on_aws(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event| direct_handler(&function, event))).await
}
