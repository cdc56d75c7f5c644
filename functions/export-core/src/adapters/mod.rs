//! AWS adapters of the ports. Each owns its client and its resource names; the clients are built
//! once at cold start from one `SdkConfig` (local endpoints come from `AWS_ENDPOINT_URL_<SERVICE>`).

pub mod dynamo;
pub mod events;
pub mod s3;
pub mod sfn;

pub use dynamo::{DynamoCatalog, DynamoExportStore};
pub use events::EventBridgeNotifier;
pub use s3::S3ObjectStore;
pub use sfn::StepFunctionsWorkflow;

/// The SDK configuration from the standard chain (environment, profile, role).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
