//! Notifier: a state change reaches whoever subscribed to the account's events, as ids, status and
//! counts, never a URL; the Assistant's reply reaches the subscriber of its own bus, and only it.

use crate::Timestamp;
use crate::domain::ids::{AccountId, ExportId, UserId};
use crate::domain::model::ExportStatus;
use crate::ports::{AssistantReply, Notifier, StateChange};

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

/// The Assistant's reply to a user's delivered export, as Finalize publishes it.
pub fn example_reply() -> AssistantReply {
    AssistantReply {
        user_id: UserId::random(),
        export_id: ExportId::new(),
        status: ExportStatus::Succeeded,
        reply: "Your attachments are ready: 3 files. https://dl.example/m/token".into(),
        link: Some("https://dl.example/m/token".into()),
        link_expires_at: Some(Timestamp::parse("2026-11-30T10:06:00Z").unwrap()),
        attachment_count: Some(3),
        error_count: Some(0),
        error_code: None,
    }
}

/// `received` answers the (detail-type, detail) pairs delivered so far to a subscriber of
/// `reply`'s user on the Assistant's bus. Replying delivers exactly one "Assistant Reply" that says
/// what the reply says; a state change published beside it is not delivered there.
pub async fn a_reply_reaches_the_users_subscriber_once_and_a_state_change_does_not<N: Notifier>(
    notifier: &N,
    reply: &AssistantReply,
    received: impl AsyncFn() -> Vec<(String, serde_json::Value)>,
) {
    let change =
        StateChange { owner: reply.user_id.clone().into(), export_id: reply.export_id, ..example_change() };
    notifier.publish(&change).await.unwrap();
    notifier.reply(reply).await.unwrap();
    let mut delivered = Vec::new();
    for _ in 0..20 {
        delivered.extend(received().await);
        if !delivered.is_empty() {
            break;
        }
    }
    assert_eq!(delivered.len(), 1, "one reply, and no state change, on the Assistant's bus: {delivered:?}");
    let (detail_type, detail) = &delivered[0];
    assert_eq!(detail_type, "Assistant Reply");
    assert_eq!(detail, &serde_json::to_value(reply).unwrap());
    assert_eq!(detail["userId"], reply.user_id.to_string());
}
