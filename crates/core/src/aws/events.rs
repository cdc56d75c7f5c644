//! Export state changes on the default EventBridge bus (DESIGN §6), for operators to route to email,
//! chat or a ticket. The detail carries ids, status, counts and an error code; never a URL.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::from_sdk;
use crate::domain::error::{Error, Result};
use crate::ports::{Notifier, StateChange};

pub const SOURCE: &str = "attachment-export";
pub const DETAIL_TYPE: &str = "Data Export State Change";

#[derive(Debug, Clone)]
pub struct EventBridgeNotifier {
    client: Client,
    bus: String,
}

impl EventBridgeNotifier {
    pub fn new(client: Client) -> Self {
        Self { client, bus: "default".into() }
    }
}

impl Notifier for EventBridgeNotifier {
    async fn publish(&self, change: &StateChange) -> Result<()> {
        let detail =
            serde_json::to_string(change).map_err(|e| Error::Internal(format!("event detail: {e}")))?;
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(DETAIL_TYPE)
            .detail(detail)
            .event_bus_name(&self.bus)
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
