//! The state machine in memory (the `Workflow` port): records what was started.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::domain::payloads::{ExportJob, StepError};
use crate::ports::{ExecutionState, Workflow};

#[derive(Clone, Default)]
pub struct FakeWorkflow {
    pub fail: Arc<AtomicBool>,
    pub started: Arc<Mutex<Vec<ExportJob>>>,
    /// Executions that ended, with their Step Functions status; started ones are otherwise RUNNING.
    pub ended: Arc<Mutex<HashMap<ExportId, String>>>,
    /// Running executions in their failure step, with the error their Catch caught.
    pub failing: Arc<Mutex<HashMap<ExportId, StepError>>>,
}

impl FakeWorkflow {
    pub fn failing() -> Self {
        let w = Self::default();
        w.fail.store(true, Ordering::SeqCst);
        w
    }

    /// The export's execution enters its failure step, having caught `error` (as a Catch does).
    pub fn enter_failure(&self, export: &ExportId, error: StepError) {
        self.failing.lock().unwrap().insert(*export, error);
    }

    /// The export's execution ends with this Step Functions status.
    pub fn end(&self, export: &ExportId, status: &str) {
        self.failing.lock().unwrap().remove(export);
        self.ended.lock().unwrap().insert(*export, status.to_owned());
    }
}

impl Workflow for FakeWorkflow {
    async fn start(&self, job: &ExportJob) -> Result<String> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Transient("StartExecution: service unavailable".into()));
        }
        self.started.lock().unwrap().push(job.clone());
        Ok(format!("arn:aws:states:us-east-1:000000000000:execution:ExportStateMachine:{}", job.export_id))
    }

    async fn state(&self, export: &ExportId) -> Result<ExecutionState> {
        if let Some(status) = self.ended.lock().unwrap().get(export) {
            return Ok(ExecutionState::Ended(status.clone()));
        }
        let started = self.started.lock().unwrap().iter().any(|job| job.export_id == *export);
        Ok(if started { ExecutionState::Running } else { ExecutionState::NotStarted })
    }

    async fn failure(&self, export: &ExportId) -> Result<Option<StepError>> {
        if let Some(status) = self.ended.lock().unwrap().get(export) {
            return Ok(
                (status != "SUCCEEDED").then(|| StepError { error: format!("States.{status}"), cause: None })
            );
        }
        Ok(self.failing.lock().unwrap().get(export).cloned())
    }
}
