//! AWS adapters of the ports. Each owns its client and its resource names; the clients are built
//! once at cold start from one `SdkConfig` (local endpoints come from `AWS_ENDPOINT_URL_<SERVICE>`).

pub mod cognito;
pub mod dynamo;
pub mod events;
pub mod kms;
pub mod s3;
pub mod sfn;
mod wiring;

pub use cognito::CognitoPeople;
pub use dynamo::{DynamoCatalog, DynamoDirectory, DynamoExportStore, DynamoSweepLedger};
pub use events::EventBridgeNotifier;
pub use kms::{KmsLinkKeys, KmsStatementSigner};
pub use s3::{S3AttachmentObjects, S3ObjectStore};
pub use sfn::StepFunctionsWorkflow;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::backend::Backend;
use crate::domain::error::Error;
use crate::ports::SystemClock;

/// The deployed backend: DynamoDB, S3, Step Functions, EventBridge, Secrets Manager and KMS.
pub struct Aws;

impl Backend for Aws {
    type Directory = DynamoDirectory;
    type Catalog = DynamoCatalog;
    type Store = DynamoExportStore;
    type Ledger = DynamoSweepLedger;
    type Objects = S3ObjectStore;
    type Attachments = S3AttachmentObjects;
    type StatementKey = KmsStatementSigner;
    type Notifier = EventBridgeNotifier;
    type Workflow = StepFunctionsWorkflow;
    type People = CognitoPeople;
    type LinkKeys = KmsLinkKeys;
    type Clock = SystemClock;
}

/// Classifies an AWS SDK error of any service: throttling, timeouts, 5xx and connection failures
/// are transient (the state machine retries them); everything else is a service failure.
/// `operation` names what failed, for the logs; the SDK's error is kept as the source.
pub fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    const TRANSIENT_CODES: &[&str] = &[
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "TransactionConflict",
        "TransactionInProgressException",
    ];
    let detail = format!("{operation}: {}", DisplayErrorContext(&err));
    let transient = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            TRANSIENT_CODES.contains(&service.err().code().unwrap_or_default())
        }
        _ => false,
    };
    Error::Service { detail, transient, source: Box::new(err) }
}

/// One attempt at any AWS call may take this long. The SDK sets no such limit by default, so a
/// connection to a stalled server would otherwise hang until the Lambda's own timeout; with it, the
/// SDK's retries (and then the state machine's) take over. Generous: an UploadPartCopy of a large
/// manifest part is the slowest call.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The SDK configuration from the standard chain (environment, profile, role), with timeouts.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    /// The causes of `error`, outermost first.
    fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string).collect()
    }

    #[test]
    fn an_sdk_error_keeps_its_chain_and_is_classified() {
        let timeout: SdkError<GetItemError, ()> =
            SdkError::timeout_error(std::io::Error::other("attempt took longer than 60s"));
        let error = from_sdk("GetItem ExportsTable", timeout);
        assert_eq!(error.code(), "TransientError");
        assert!(error.to_string().starts_with("GetItem ExportsTable: "), "{error}");
        let causes = chain(&error);
        assert!(causes.len() >= 3, "the SDK's error and its own cause: {causes:?}");
        assert!(causes.last().unwrap().contains("attempt took longer than 60s"), "{causes:?}");

        // The public API's code hides the kind, not the chain.
        let api = error.into_api();
        assert_eq!(api.code(), "ServiceFailureException");
        assert!(chain(&api).iter().any(|c| c.contains("attempt took longer than 60s")));

        let construction: SdkError<GetItemError, ()> =
            SdkError::construction_failure(std::io::Error::other("no region"));
        assert_eq!(from_sdk("GetItem ExportsTable", construction).code(), "ServiceFailureException");
    }
}
