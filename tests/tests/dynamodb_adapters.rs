//! The DynamoDB adapters against DynamoDB Local: conditional writes, the 7-day throttle
//! transaction under concurrency, and Query pagination.

use std::collections::HashSet;
use std::time::Duration;

use export_core::Error;
use export_core::Timestamp;
use export_core::adapters::dynamo;
use export_core::ids::ExportId;
use export_core::model::{
    AccountType, ConversationType, ExportFormat, ExportRecord, ExportStatus, FailureInfo, RequestedBy, Via,
};
use export_core::ports::{Admission, AttachmentCatalog, ExportStore, StatusChange};
use integration_tests::{Stack, attachment, batch_put, seed_account};

const WEEK: Duration = Duration::from_secs(604_800);

fn request(account: &export_core::ids::AccountId, at: Timestamp) -> ExportRecord {
    ExportRecord::new_request(
        account.clone(),
        ExportFormat::Csv,
        RequestedBy { principal: "arn:aws:iam::000000000000:user/local-admin".into(), via: Via::Api },
        Some("token-1".into()),
        at,
    )
}

#[tokio::test]
async fn exactly_one_of_twenty_concurrent_requests_takes_the_window() {
    let stack = Stack::load();
    let store = stack.export_store();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let now = Timestamp::now();

    let attempts = (0..20).map(|_| {
        let store = store.clone();
        let record = request(&account, now);
        async move { (record.export_id, store.admit(&record, WEEK).await) }
    });
    let outcomes = futures::future::join_all(attempts).await;

    let winners: Vec<ExportId> = outcomes
        .iter()
        .filter_map(|(id, r)| matches!(r, Ok(Admission::Accepted { .. })).then_some(*id))
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    for (_, outcome) in &outcomes {
        match outcome {
            Ok(Admission::Accepted { .. }) => {}
            Ok(Admission::WindowClosed { throttle }) => {
                assert_eq!(throttle.current.last_export_id, winners[0])
            }
            Err(e) => panic!("a losing request must see the closed window, not {e:?}"),
        }
    }
    let throttle = store.throttle(&account).await.unwrap().expect("throttle written");
    assert_eq!(throttle.current.last_export_id, winners[0]);
    assert_eq!(throttle.current.next_allowed_at, now.plus(WEEK));
    assert_eq!(throttle.previous, None);
    // Only the winner's record exists: the losers' Puts were part of failed transactions.
    let listed = store.list(&account, 100, None).await.unwrap();
    assert_eq!(listed.items.iter().map(|r| r.export_id).collect::<Vec<_>>(), winners);
    assert_eq!(listed.items[0].status, ExportStatus::Queued);
}

#[tokio::test]
async fn the_window_reopens_after_seven_days_and_a_failure_gives_it_back() {
    let stack = Stack::load();
    let store = stack.export_store();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let first_at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();

    let first = request(&account, first_at);
    assert!(matches!(store.admit(&first, WEEK).await.unwrap(), Admission::Accepted { .. }));

    // One millisecond before the window ends: refused; at its end: accepted.
    let early = request(&account, first_at.plus(WEEK - Duration::from_millis(1)));
    match store.admit(&early, WEEK).await.unwrap() {
        Admission::WindowClosed { throttle } => {
            assert_eq!(throttle.current.last_export_id, first.export_id);
            assert_eq!(throttle.current.next_allowed_at, first_at.plus(WEEK));
        }
        other => panic!("expected the window closed, got {other:?}"),
    }
    assert!(store.get(&account, &early.export_id).await.unwrap().is_none(), "refused request left a record");

    let second = request(&account, first_at.plus(WEEK));
    let Admission::Accepted { throttle } = store.admit(&second, WEEK).await.unwrap() else {
        panic!("the window should be open after 7 days")
    };
    assert_eq!(throttle.previous.as_ref().unwrap().last_export_id, first.export_id);

    // The second export fails: the window goes back to what the first export set.
    store
        .change_status(
            &account,
            &second.export_id,
            StatusChange::Failed {
                completed_at: Timestamp::now(),
                error: FailureInfo { code: "TransientError".into(), message: "S3 unavailable".into() },
            },
        )
        .await
        .unwrap();
    assert!(store.release_window(&account, &second.export_id).await.unwrap());
    let restored = store.throttle(&account).await.unwrap().unwrap();
    assert_eq!(restored.current.last_export_id, first.export_id);
    assert_eq!(restored.current.next_allowed_at, first_at.plus(WEEK));
    // Releasing twice, or for an export that no longer holds the window, changes nothing.
    assert!(!store.release_window(&account, &second.export_id).await.unwrap());

    // The first export fails too: no previous window, so the account may ask again at once.
    assert!(store.release_window(&account, &first.export_id).await.unwrap());
    assert!(store.throttle(&account).await.unwrap().is_none());
    let again = request(&account, first_at.plus(Duration::from_secs(60)));
    assert!(matches!(store.admit(&again, WEEK).await.unwrap(), Admission::Accepted { .. }));
}

#[tokio::test]
async fn status_moves_forward_only_and_conditions_name_the_problem() {
    let stack = Stack::load();
    let store = stack.export_store();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let record = request(&account, Timestamp::now());
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let started = Timestamp::now();

    store.change_status(&account, &id, StatusChange::Running { started_at: started }).await.unwrap();
    // A retried step re-enters RUNNING without moving startedAt.
    let later = started.plus(Duration::from_secs(5));
    store.change_status(&account, &id, StatusChange::Running { started_at: later }).await.unwrap();
    store.set_listed(&account, &id, 1234).await.unwrap();
    store.set_listed(&account, &id, 1234).await.unwrap(); // retried: absolute, not added
    store
        .set_execution_arn(&account, &id, "arn:aws:states:us-east-1:000000000000:execution:m:x")
        .await
        .unwrap();
    let r = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!(r.status, ExportStatus::Running);
    assert_eq!(r.started_at, Some(started));
    assert_eq!(r.progress.attachments_listed, 1234);
    assert_eq!(r.execution_arn.as_deref(), Some("arn:aws:states:us-east-1:000000000000:execution:m:x"));

    let failed = FailureInfo { code: "X".into(), message: "y".into() };
    store
        .change_status(&account, &id, StatusChange::Failed { completed_at: later, error: failed.clone() })
        .await
        .unwrap();
    // FAILED is final: neither RUNNING nor FAILED again, and progress no longer moves.
    let back = store.change_status(&account, &id, StatusChange::Running { started_at: later }).await;
    assert!(matches!(back, Err(Error::StatusConflict(ref m)) if m.contains("FAILED")), "{back:?}");
    let twice = store
        .change_status(&account, &id, StatusChange::Failed { completed_at: later, error: failed.clone() })
        .await;
    assert!(matches!(twice, Err(Error::StatusConflict(_))), "{twice:?}");
    assert!(matches!(store.set_listed(&account, &id, 1).await, Err(Error::StatusConflict(_))));
    let r = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!((r.status, r.error, r.completed_at), (ExportStatus::Failed, Some(failed), Some(later)));

    let unknown = ExportId::new();
    let missing = store.change_status(&account, &unknown, StatusChange::Running { started_at: later }).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    // Another account's export is unknown here, whatever its id.
    let other = seed_account(&stack, AccountType::Enterprise, false).await.id;
    assert!(store.get(&other, &id).await.unwrap().is_none());
}

#[tokio::test]
async fn exports_list_newest_first_across_pages() {
    let stack = Stack::load();
    let store = stack.export_store();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    // Five accepted requests a week apart (each reopens the window).
    let start = Timestamp::parse("2025-01-01T00:00:00Z").unwrap();
    let mut ids = Vec::new();
    for week in 0..5u32 {
        let r = request(&account, start.plus(WEEK * week));
        assert!(matches!(store.admit(&r, WEEK).await.unwrap(), Admission::Accepted { .. }));
        ids.push(r.export_id);
        std::thread::sleep(Duration::from_millis(2)); // distinct ULID milliseconds
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.list(&account, 2, cursor.as_deref()).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|r| r.export_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert!(pages >= 3);
}

#[tokio::test]
async fn catalog_reads_the_directory_and_lists_accounts_by_index() {
    let stack = Stack::load();
    let catalog = stack.catalog();
    let seeded = seed_account(&stack, AccountType::Team, true).await;
    let account = catalog.account(&seeded.id).await.unwrap().expect("account found");
    assert_eq!(account.account_type, AccountType::Team);
    assert!(account.scheduled_exports);
    assert_eq!(account.domains, vec!["example.com".to_string()]);

    let users = catalog.users(&seeded.id).await.unwrap();
    let managed: HashSet<_> = users.iter().filter(|u| u.managed).filter_map(|u| u.user_id.clone()).collect();
    assert_eq!(managed, HashSet::from([seeded.managed_user.clone()]));
    assert_eq!(users.len(), 2);
    let rooms = catalog.rooms(&seeded.id).await.unwrap();
    assert_eq!(rooms.len(), 2);
    assert!(
        rooms
            .iter()
            .any(|r| r.room_id.as_ref() == Some(&seeded.managed_room) && r.created_by == seeded.managed_user)
    );
    assert!(catalog.account(&export_core::ids::AccountId::random()).await.unwrap().is_none());

    // The inverted index lists every account; walk it to the end and find ours.
    let mut found = false;
    let mut cursor: Option<String> = None;
    loop {
        let page = catalog.accounts(cursor.as_deref(), 500).await.unwrap();
        found |= page.items.contains(&seeded.id);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert!(found);
}

#[tokio::test]
async fn attachment_query_pages_past_one_megabyte_in_upload_order_up_to_the_cutoff() {
    let stack = Stack::load();
    let catalog = stack.catalog();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let base = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    // 700 items of ~2 KB each: about 1.4 MB, more than one Query response can carry.
    let mut all: Vec<_> = (0..700u64)
        .map(|i| {
            let mut a = attachment(
                &seeded.id,
                &seeded.managed_user,
                ConversationType::Direct,
                base.plus(Duration::from_secs(i)),
            );
            a.file_name = format!("{i:04}-{}", "x".repeat(2000));
            a
        })
        .collect();
    let items = all.iter().map(|a| dynamo::items::attachment(a).unwrap()).collect();
    batch_put(&stack.dynamodb(), stack.var("ATTACHMENTS_TABLE"), items).await;

    // Cutoff at item 599's upload time: 600 items are in the snapshot.
    let cutoff = base.plus(Duration::from_secs(599));
    let mut listed = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = catalog.attachments(&seeded.id, cutoff, cursor.as_deref(), None).await.unwrap();
        pages += 1;
        listed.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert!(pages >= 2, "1.2 MB should take more than one 1 MB page, took {pages}");
    all.truncate(600);
    assert_eq!(listed.len(), 600);
    assert_eq!(listed, all, "every attachment, once, in upload order, none after the cutoff");

    // An explicit limit pages too, and the cursor resumes exactly after the last item.
    let first = catalog.attachments(&seeded.id, cutoff, None, Some(7)).await.unwrap();
    assert_eq!(first.items.len(), 7);
    let second = catalog.attachments(&seeded.id, cutoff, first.next.as_deref(), Some(7)).await.unwrap();
    assert_eq!(second.items[0], all[7]);
}
