//! The export state machine on Step Functions.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::HistoryEvent;

use super::from_sdk;
use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::domain::payloads::{ExecutionInput, ExportJob, StepError};
use crate::ports::{ExecutionState, FAILURE_STATE, Workflow};

/// History is read newest first, a page of 1,000 events at a time (AWS's largest), for at most
/// this many pages: the failure step's own throttled attempts (2 events each, up to 240 of them),
/// the Map's aborted iterations and the caught failure all fit, and a forged call costs no more.
const HISTORY_PAGE: i32 = 1000;
const HISTORY_PAGES: usize = 5;

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

    async fn failure(&self, export: &ExportId) -> Result<Option<StepError>> {
        let arn = self.execution_arn(&export.to_string());
        let described = match self.client.describe_execution().execution_arn(&arn).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {
                return Ok(None);
            }
            Err(e) => return Err(from_sdk("DescribeExecution", e)),
        };
        match described.status.as_str() {
            "RUNNING" => {}
            "FAILED" | "TIMED_OUT" | "ABORTED" => {
                let status = described.status.as_str();
                return Ok(Some(StepError {
                    error: described.error.unwrap_or_else(|| format!("States.{status}")),
                    cause: described.cause,
                }));
            }
            _ => return Ok(None),
        }
        let mut events: Vec<HistoryEvent> = Vec::new();
        let mut token: Option<String> = None;
        let mut scan = Scan::NoEntryYet;
        for _ in 0..HISTORY_PAGES {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(&arn)
                .reverse_order(true)
                .max_results(HISTORY_PAGE)
                .include_execution_data(false)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| from_sdk("GetExecutionHistory", e))?;
            events.extend(page.events().iter().cloned());
            token = page.next_token().map(str::to_owned);
            scan = failure_being_handled(&events);
            // Read further back only while the entry, or the failure it caught, is still unseen.
            let decided = matches!(scan, Scan::NotFailing | Scan::Failing(Some(_)));
            if decided || token.is_none() {
                break;
            }
        }
        Ok(match scan {
            // The entry is the state machine's own Catch: a failure happened even if its details
            // are further back than was read (then it is reported as an internal failure).
            Scan::Failing(error) => {
                Some(error.unwrap_or(StepError { error: "States.Runtime".into(), cause: None }))
            }
            Scan::NoEntryYet | Scan::NotFailing => None,
        })
    }
}

/// What the newest events read so far say.
#[derive(Debug, PartialEq)]
enum Scan {
    /// No state entry among them yet: read further back.
    NoEntryYet,
    /// The newest state entry is another state's: the execution is not in its failure step.
    NotFailing,
    /// The newest state entry is the failure step's, with the failure it caught if read yet.
    Failing(Option<StepError>),
}

/// The failure a running execution is handling, from its newest events (newest first): its newest
/// state entry must be the failure step's, and the failure is the newest one recorded before that
/// entry (the failure step's own retried attempts come after it and are not the export's).
fn failure_being_handled(newest_first: &[HistoryEvent]) -> Scan {
    let mut events = newest_first.iter();
    let Some(entered) = events.find_map(|event| event.state_entered_event_details()) else {
        return Scan::NoEntryYet;
    };
    if entered.name() != FAILURE_STATE {
        return Scan::NotFailing;
    }
    Scan::Failing(events.find_map(failure_of))
}

/// The error and cause of a history event that records a failure.
fn failure_of(event: &HistoryEvent) -> Option<StepError> {
    let details = [
        event.lambda_function_failed_event_details().map(|d| (d.error(), d.cause())),
        event.lambda_function_timed_out_event_details().map(|d| (d.error(), d.cause())),
        event.lambda_function_start_failed_event_details().map(|d| (d.error(), d.cause())),
        event.lambda_function_schedule_failed_event_details().map(|d| (d.error(), d.cause())),
        event.task_failed_event_details().map(|d| (d.error(), d.cause())),
        event.task_timed_out_event_details().map(|d| (d.error(), d.cause())),
        event.map_run_failed_event_details().map(|d| (d.error(), d.cause())),
        event.evaluation_failed_event_details().map(|d| (d.error(), d.cause())),
    ];
    let (error, cause) = details.into_iter().flatten().next()?;
    Some(StepError { error: error.unwrap_or("States.Runtime").to_owned(), cause: cause.map(str::to_owned) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{HistoryEventType, LambdaFunctionFailedEventDetails, StateEnteredEventDetails};

    fn entered(id: i64, name: &str) -> HistoryEvent {
        HistoryEvent::builder()
            .id(id)
            .r#type(HistoryEventType::TaskStateEntered)
            .timestamp(aws_smithy_types::DateTime::from_secs(id))
            .state_entered_event_details(StateEnteredEventDetails::builder().name(name).build().unwrap())
            .build()
            .unwrap()
    }

    fn lambda_failed(id: i64, error: &str) -> HistoryEvent {
        HistoryEvent::builder()
            .id(id)
            .r#type(HistoryEventType::LambdaFunctionFailed)
            .timestamp(aws_smithy_types::DateTime::from_secs(id))
            .lambda_function_failed_event_details(
                LambdaFunctionFailedEventDetails::builder().error(error).cause("c").build(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn the_failure_step_entered_after_a_caught_failure_names_that_failure() {
        // Newest first: the failure step's own first attempt failed transiently and is retried.
        let events = [
            lambda_failed(9, "TransientError"),
            entered(8, FAILURE_STATE),
            lambda_failed(7, "ServiceFailureException"),
            entered(6, "Finalize"),
        ];
        let Scan::Failing(Some(caught)) = failure_being_handled(&events) else { panic!("not failing") };
        assert_eq!((caught.error.as_str(), caught.cause.as_deref()), ("ServiceFailureException", Some("c")));
        // Its entry read, the failure not yet (further back): read on.
        assert_eq!(failure_being_handled(&events[..2]), Scan::Failing(None));
    }

    #[test]
    fn an_execution_in_any_other_step_is_handling_no_failure() {
        // A failed attempt that is being retried (Finalize still runs) is not a failure to record.
        let retried = [lambda_failed(7, "TransientError"), entered(6, "Finalize")];
        assert_eq!(failure_being_handled(&retried), Scan::NotFailing);
        assert_eq!(failure_being_handled(&[entered(2, "Enumerate")]), Scan::NotFailing);
        // Only the failure step's throttled attempts in view: read further back before deciding.
        let throttled = [lambda_failed(9, "Lambda.TooManyRequestsException")];
        assert_eq!(failure_being_handled(&throttled), Scan::NoEntryYet);
        assert_eq!(failure_being_handled(&[]), Scan::NoEntryYet);
    }

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
