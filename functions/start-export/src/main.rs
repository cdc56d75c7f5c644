//! start-export: the only way an export begins (DESIGN §5). Wiring only; see `handler`.

mod handler;

use export_core::adapters::{DynamoCatalog, DynamoExportStore, StepFunctionsWorkflow};
use export_core::ports::SystemClock;
use handler::Deps;
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = export_core::telemetry::cold_start().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let deps = Deps {
        catalog: DynamoCatalog::new(dynamodb.clone(), &config.accounts_table, &config.attachments_table),
        store: DynamoExportStore::new(dynamodb, &config.exports_table),
        workflow: StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk), config.state_machine_arn()?),
        clock: SystemClock,
        window: config.throttle_window,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
