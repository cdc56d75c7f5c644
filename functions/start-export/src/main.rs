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
        catalog: DynamoCatalog::from_config(dynamodb.clone(), &config),
        store: DynamoExportStore::from_config(dynamodb, &config),
        workflow: StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk), config.state_machine_arn()?),
        clock: SystemClock,
        window: config.throttle_window,
        scheduled_exports: config.scheduled_exports,
    };
    lambda_runtime::run(service_fn(|event| handler::handler(&deps, event))).await
}
