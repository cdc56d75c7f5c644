//! State changes in memory (the `Notifier` port).

use std::sync::{Arc, Mutex};

use crate::domain::error::Result;

/// Records what was published.
#[derive(Clone, Default)]
pub struct FakeNotifier {
    pub published: Arc<Mutex<Vec<crate::ports::StateChange>>>,
}

impl crate::ports::Notifier for FakeNotifier {
    async fn publish(&self, change: &crate::ports::StateChange) -> Result<()> {
        self.published.lock().unwrap().push(change.clone());
        Ok(())
    }
}
