//! Workflow: an export's execution, named by its export id.

use crate::domain::ids::ExportId;
use crate::domain::payloads::{ExportJob, StepError};
use crate::ports::{ExecutionState, Workflow};

/// The caller passes the job of an export it has admitted (the execution really runs it). Before
/// the start the export has no execution; the start names it by the export id; starting it again
/// is harmless and answers the same execution; an export never started stays without one.
pub async fn an_execution_is_named_by_its_export_and_starting_twice_is_harmless<W: Workflow>(
    workflow: &W,
    job: &ExportJob,
) {
    assert_eq!(workflow.state(&job.export_id).await.unwrap(), ExecutionState::NotStarted);
    let arn = workflow.start(job).await.unwrap();
    assert!(arn.ends_with(&format!(":{}", job.export_id)), "the execution is named by the export: {arn}");
    assert_ne!(workflow.state(&job.export_id).await.unwrap(), ExecutionState::NotStarted);
    assert_eq!(workflow.start(job).await.unwrap(), arn, "a second start is the same execution");
    assert_eq!(workflow.state(&ExportId::new()).await.unwrap(), ExecutionState::NotStarted);
}

/// An execution that runs normally, or was never started, is handling no failure; once one has
/// failed, the failure is named. `doomed` is a job whose execution fails (on Step Functions, one
/// for an export no step finds); `wait_for_failure` lets it fail and answers `Workflow::failure`
/// once it is `Some` (or `None` if it never is).
pub async fn only_a_failing_execution_names_a_failure<W: Workflow, F: Future<Output = Option<StepError>>>(
    workflow: &W,
    doomed: &ExportJob,
    wait_for_failure: impl FnOnce() -> F,
) {
    assert_eq!(workflow.failure(&doomed.export_id).await.unwrap(), None, "never started");
    assert_eq!(workflow.failure(&ExportId::new()).await.unwrap(), None, "unknown");
    workflow.start(doomed).await.unwrap();
    let failure = wait_for_failure().await.expect("the doomed execution's failure is named");
    assert!(!failure.error.is_empty(), "{failure:?}");
}
