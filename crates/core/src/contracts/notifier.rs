//! Notifier: a state change reaches whoever subscribed to the account's events, as ids, status and
//! counts, never a URL.

use crate::Timestamp;
use crate::domain::ids::{AccountId, ExportId};
use crate::domain::model::ExportStatus;
use crate::ports::{Notifier, StateChange};

/// A change of a fresh account's export, as Finalize publishes it.
pub fn example_change() -> StateChange {
    StateChange {
        owner: AccountId::random().into(),
        export_id: ExportId::new(),
        status: ExportStatus::SucceededWithErrors,
        requested_at: Timestamp::parse("2026-11-24T10:00:00Z").unwrap(),
        completed_at: Timestamp::parse("2026-11-24T10:06:00Z").unwrap(),
        attachment_count: Some(3185),
        total_bytes: Some(7_340_032),
        error_count: Some(5),
        error_code: None,
        revoked_at: None,
    }
}

/// `received` answers the details delivered so far to a subscriber of `change`'s account (as
/// JSON). Publishing delivers exactly one, which says what the change says.
pub async fn a_published_change_reaches_the_accounts_subscriber_once<N: Notifier>(
    notifier: &N,
    change: &StateChange,
    received: impl AsyncFn() -> Vec<serde_json::Value>,
) {
    notifier.publish(change).await.unwrap();
    let mut details = Vec::new();
    for _ in 0..20 {
        details = received().await;
        if !details.is_empty() {
            break;
        }
    }
    assert_eq!(details.len(), 1, "one event for one change: {details:?}");
    let detail = &details[0];
    assert_eq!(detail, &serde_json::to_value(change).unwrap());
    assert_eq!(detail["exportId"], change.export_id.to_string());
    assert_eq!(detail["status"], "SUCCEEDED_WITH_ERRORS");
    assert!(!detail.to_string().contains("http"), "no URL in an event: {detail}");
}
