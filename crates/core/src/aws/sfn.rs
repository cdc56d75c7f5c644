//! The export state machine on Step Functions.

use aws_sdk_sfn::Client;

use super::from_sdk;
use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::domain::payloads::{ExecutionInput, ExportJob};
use crate::ports::{ExecutionState, Workflow};

#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflow {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsWorkflow {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self { client, state_machine_arn: state_machine_arn.into() }
    }

    /// `arn:…:stateMachine:NAME` → `arn:…:execution:NAME:EXECUTION`.
    fn execution_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
    }
}

impl Workflow for StepFunctionsWorkflow {
    async fn start(&self, job: &ExportJob) -> Result<String> {
        let name = job.export_id.to_string();
        let input = serde_json::to_string(&ExecutionInput { job: job.clone() })
            .map_err(|e| Error::Internal(format!("execution input: {e}")))?;
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&name)
            .input(input)
            .send()
            .await
        {
            Ok(out) => Ok(out.execution_arn),
            // The execution name is the export id: an execution that already exists is this
            // export's, started by an earlier attempt.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                Ok(self.execution_arn(&name))
            }
            Err(e) => Err(from_sdk("StartExecution", e)),
        }
    }

    async fn state(&self, export: &ExportId) -> Result<ExecutionState> {
        let arn = self.execution_arn(&export.to_string());
        match self.client.describe_execution().execution_arn(&arn).send().await {
            Ok(out) => Ok(match out.status.as_str() {
                "RUNNING" | "PENDING_REDRIVE" => ExecutionState::Running,
                ended => ExecutionState::Ended(ended.to_owned()),
            }),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {
                Ok(ExecutionState::NotStarted)
            }
            Err(e) => Err(from_sdk("DescribeExecution", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arn_is_derived_from_the_state_machine() {
        let conf = aws_sdk_sfn::Config::builder().behavior_version_latest().build();
        let wf = StepFunctionsWorkflow::new(
            Client::from_conf(conf),
            "arn:aws:states:us-east-1:000000000000:stateMachine:ExportStateMachine",
        );
        assert_eq!(
            wf.execution_arn("01JDZ3Q4V5W6X7Y8Z9A0B1C2D3"),
            "arn:aws:states:us-east-1:000000000000:execution:ExportStateMachine:01JDZ3Q4V5W6X7Y8Z9A0B1C2D3"
        );
    }
}
