//! State changes and the Assistant's replies in memory (the `Notifier` port).

use std::sync::{Arc, Mutex};

use crate::domain::error::Result;
use crate::ports::{AssistantReply, StateChange};

/// Records what was published.
#[derive(Clone, Default)]
pub struct FakeNotifier {
    pub published: Arc<Mutex<Vec<StateChange>>>,
    pub replies: Arc<Mutex<Vec<AssistantReply>>>,
}

impl crate::ports::Notifier for FakeNotifier {
    async fn publish(&self, change: &StateChange) -> Result<()> {
        self.published.lock().unwrap().push(change.clone());
        Ok(())
    }

    async fn reply(&self, reply: &AssistantReply) -> Result<()> {
        self.replies.lock().unwrap().push(reply.clone());
        Ok(())
    }
}
