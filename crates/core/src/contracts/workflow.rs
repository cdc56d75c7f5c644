//! Workflow: an export's execution, named by its export id.

use crate::domain::ids::ExportId;
use crate::domain::payloads::ExportJob;
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
