//! Export state changes on the default EventBridge bus (DESIGN §6), for operators to route to email,
//! chat or a ticket: the detail carries ids, status, counts and an error code; never a URL. And the
//! Assistant's replies on a bus of their own (`ASSISTANT_REPLY_BUS`, DESIGN §15), which only the
//! chat service's rule reads: a reply carries the user's manifest link.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::from_sdk;
use crate::domain::error::{Error, Result};
use crate::ports::{AssistantReply, Notifier, StateChange};

pub const SOURCE: &str = "attachment-export";
pub const DETAIL_TYPE: &str = "Data Export State Change";
pub const REPLY_DETAIL_TYPE: &str = "Assistant Reply";

#[derive(Debug, Clone)]
pub struct EventBridgeNotifier {
    client: Client,
    bus: String,
    reply_bus: Option<String>,
}

impl EventBridgeNotifier {
    pub fn new(client: Client) -> Self {
        Self { client, bus: "default".into(), reply_bus: None }
    }

    /// Also publishes the Assistant's replies, on `bus` (its name or ARN).
    pub fn with_reply_bus(self, bus: impl Into<String>) -> Self {
        Self { reply_bus: Some(bus.into()), ..self }
    }

    async fn put(&self, bus: &str, detail_type: &str, detail: String) -> Result<()> {
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .event_bus_name(bus)
            .build();
        let out =
            self.client.put_events().entries(entry).send().await.map_err(|e| from_sdk("PutEvents", e))?;
        if out.failed_entry_count() > 0 {
            let code = out.entries().first().and_then(|e| e.error_code()).unwrap_or("unknown");
            return Err(Error::Transient(format!("PutEvents refused the event: {code}")));
        }
        Ok(())
    }
}

impl Notifier for EventBridgeNotifier {
    async fn publish(&self, change: &StateChange) -> Result<()> {
        let detail =
            serde_json::to_string(change).map_err(|e| Error::Internal(format!("event detail: {e}")))?;
        self.put(&self.bus, DETAIL_TYPE, detail).await
    }

    async fn reply(&self, reply: &AssistantReply) -> Result<()> {
        let bus = self
            .reply_bus
            .as_deref()
            .ok_or_else(|| Error::Internal("this function publishes no Assistant replies".into()))?;
        let detail =
            serde_json::to_string(reply).map_err(|e| Error::Internal(format!("reply detail: {e}")))?;
        self.put(bus, REPLY_DETAIL_TYPE, detail).await
    }
}
