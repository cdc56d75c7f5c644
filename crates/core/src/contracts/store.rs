//! ExportStore: admission, the window, status moves, listing.

use std::time::Duration;

use crate::Timestamp;
use crate::domain::error::Error;
use crate::domain::ids::{AccountId, ExportId};
use crate::domain::model::{ExportStatus, FailureInfo, Handout, Person, SegmentListing};
use crate::domain::owner::ExportOwner;
use crate::ports::{Admission, ExportStore, StatusChange};

use super::{WEEK, request};

/// Of twenty simultaneous admissions for one account exactly one takes the window; the rest see it
/// closed by the winner, and only the winner's record exists.
pub async fn exactly_one_of_twenty_concurrent_requests_takes_the_window<S: ExportStore>(store: &S) {
    let account = ExportOwner::from(AccountId::random());
    let now = Timestamp::now();

    let attempts = (0..20).map(|_| {
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

/// The window closes for exactly its length, and releasing it restores what the previous export set.
pub async fn the_window_reopens_after_seven_days_and_a_failure_gives_it_back<S: ExportStore>(store: &S) {
    let account = ExportOwner::from(AccountId::random());
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

/// Status moves only forward; retried steps are idempotent; a final status is final.
pub async fn status_moves_forward_only_and_conditions_name_the_problem<S: ExportStore>(store: &S) {
    let account = ExportOwner::from(AccountId::random());
    let record = request(&account, Timestamp::now());
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let started = Timestamp::now();

    store.change_status(&account, &id, StatusChange::Running { started_at: started }).await.unwrap();
    // A retried step re-enters RUNNING without moving startedAt.
    let later = started.plus(Duration::from_secs(5));
    store.change_status(&account, &id, StatusChange::Running { started_at: later }).await.unwrap();
    let listing = SegmentListing {
        part_count: 1,
        listed: 1234,
        cursor: "2026-11-24T09:00:00.000Z#a1".into(),
        done: false,
    };
    store.checkpoint_segment(&account, &id, 0, None, &listing).await.unwrap();
    store.checkpoint_segment(&account, &id, 0, None, &listing).await.unwrap(); // retried: not added
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
    let next = SegmentListing {
        part_count: 2,
        listed: 2000,
        cursor: "2026-11-24T09:30:00.000Z#b2".into(),
        done: false,
    };
    let moved = store.checkpoint_segment(&account, &id, 0, Some(&listing), &next).await;
    assert!(matches!(moved, Err(Error::StatusConflict(ref m)) if m.contains("FAILED")), "{moved:?}");
    assert_eq!(store.segment(&account, &id, 0).await.unwrap(), Some(listing), "the checkpoint stands");
    let r = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!((r.status, r.error, r.completed_at), (ExportStatus::Failed, Some(failed), Some(later)));

    let unknown = ExportId::new();
    let missing = store.change_status(&account, &unknown, StatusChange::Running { started_at: later }).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    // Another account's export is unknown here, whatever its id.
    let other = ExportOwner::from(AccountId::random());
    assert!(store.get(&other, &id).await.unwrap().is_none());
}

/// An account's exports list newest first, page after page, with the last id as the cursor.
pub async fn exports_list_newest_first_across_pages<S: ExportStore>(store: &S) {
    let account = ExportOwner::from(AccountId::random());
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
    let mut cursor: Option<ExportId> = None;
    let mut pages = 0;
    loop {
        let page = store.list(&account, 2, cursor.as_ref()).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|r| r.export_id));
        match page.next {
            Some(next) => cursor = Some(next.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert!(pages >= 3);
}

/// A written part is counted once however often its step runs, however many parts are written at
/// once, and only while the export runs.
pub async fn written_parts_are_counted_once_only_while_running<S: ExportStore>(store: &S) {
    let account = ExportOwner::from(AccountId::random());
    let record = request(&account, Timestamp::now());
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let queued = store.mark_part_written(&account, &id, 1).await;
    assert!(matches!(queued, Err(Error::StatusConflict(_))), "a QUEUED export has no parts yet: {queued:?}");

    store.change_status(&account, &id, StatusChange::Running { started_at: Timestamp::now() }).await.unwrap();
    for part in [1, 2, 2, 3, 1] {
        store.mark_part_written(&account, &id, part).await.unwrap();
    }
    let r = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!(r.progress.parts_written, 3, "a retried part is not counted twice");
    // Many writers at once, each part delivered twice: each counted once.
    let writes = (4..=23).chain(4..=23).map(|part| store.mark_part_written(&account, &id, part));
    for written in futures::future::join_all(writes).await {
        written.unwrap();
    }
    let r = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!(r.progress.parts_written, 23, "parts written at once are each counted once");

    let failed = FailureInfo { code: "X".into(), message: "y".into() };
    store
        .change_status(&account, &id, StatusChange::Failed { completed_at: Timestamp::now(), error: failed })
        .await
        .unwrap();
    let late = store.mark_part_written(&account, &id, 4).await;
    assert!(matches!(late, Err(Error::StatusConflict(_))), "a FAILED export takes no parts: {late:?}");
    let unknown = store.mark_part_written(&account, &ExportId::new(), 1).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

/// A manifest hand-out is counted (how many, when last, by whom) and kept in the export's history
/// (newest first, with the person) on a delivered export only; an export that is queued, running
/// or failed, or unknown, counts and keeps nothing, and another account sees no history.
pub async fn retrievals_are_counted_on_delivered_exports_only<S: ExportStore>(store: &S) {
    let handout = |principal: &str, at: Timestamp| Handout { at, principal: principal.into(), person: None };
    let account = ExportOwner::from(AccountId::random());
    let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
    let record = request(&account, at);
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let queued = store.record_retrieval(&account, &id, &handout("arn:aws:iam::1:user/a", at)).await;
    assert!(matches!(queued, Err(Error::StatusConflict(_))), "{queued:?}");
    store.change_status(&account, &id, StatusChange::Running { started_at: at }).await.unwrap();
    let running = store.record_retrieval(&account, &id, &handout("arn:aws:iam::1:user/a", at)).await;
    assert!(matches!(running, Err(Error::StatusConflict(_))), "{running:?}");

    let result = crate::domain::model::ExportResult {
        attachment_count: 1,
        total_bytes: 10,
        by_conversation_type: Default::default(),
        manifest_key: format!("exports/{account}/{id}/attachments.csv"),
        manifest_bytes: 100,
        manifest_sha256: "ab".repeat(32),
        summary_key: format!("exports/{account}/{id}/summary.json"),
        urls_expire_at: at.plus(Duration::from_secs(518_400)),
        error_count: 0,
        errors: None,
        coverage_key: None,
        statement: None,
    };
    let succeeded = StatusChange::Succeeded { completed_at: at, result: Box::new(result) };
    store.change_status(&account, &id, succeeded).await.unwrap();
    let later = at.plus(Duration::from_secs(60));
    store.record_retrieval(&account, &id, &handout("arn:aws:iam::1:user/a", at)).await.unwrap();
    let jane = Person {
        username: "jane.doe".into(),
        name: Some("Jane Doe".into()),
        email: Some("jane@example.com".into()),
    };
    let by_jane = Handout { person: Some(jane), ..handout("arn:aws:iam::1:user/b", later) };
    store.record_retrieval(&account, &id, &by_jane).await.unwrap();
    let history = store.handouts(&account, &id, 10).await.unwrap();
    assert_eq!(history, vec![by_jane.clone(), handout("arn:aws:iam::1:user/a", at)], "newest first");
    assert_eq!(store.handouts(&account, &id, 1).await.unwrap(), vec![by_jane], "at most the limit");
    assert!(
        store.handouts(&ExportOwner::from(AccountId::random()), &id, 10).await.unwrap().is_empty(),
        "another account's"
    );
    let r = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!(r.retrievals, 2);
    assert_eq!(r.last_retrieved_at, Some(later));
    assert_eq!(r.last_retrieved_by.as_deref(), Some("arn:aws:iam::1:user/b"));

    let unknown = store.record_retrieval(&account, &ExportId::new(), &handout("p", at)).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    // Another account's export is unknown here, and its count does not move.
    let other = store.record_retrieval(&ExportOwner::from(AccountId::random()), &id, &handout("p", at)).await;
    assert!(matches!(other, Err(Error::NotFound(_))), "{other:?}");
    assert_eq!(store.get(&account, &id).await.unwrap().unwrap().retrievals, 2);

    // A failed export counts nothing either.
    let failed = request(&account, at.plus(WEEK));
    assert!(matches!(store.admit(&failed, WEEK).await.unwrap(), Admission::Accepted { .. }));
    let error = FailureInfo { code: "X".into(), message: "y".into() };
    store
        .change_status(&account, &failed.export_id, StatusChange::Failed { completed_at: at, error })
        .await
        .unwrap();
    let refused = store.record_retrieval(&account, &failed.export_id, &handout("p", at)).await;
    assert!(matches!(refused, Err(Error::StatusConflict(_))), "{refused:?}");
    assert!(store.handouts(&account, &failed.export_id, 10).await.unwrap().is_empty(), "nothing kept");
    // Listing the account's exports never reads the history beside them.
    let listed = store.list(&account, 10, None).await.unwrap();
    assert_eq!(listed.items.len(), 2, "{:?}", listed.items.iter().map(|r| r.export_id).collect::<Vec<_>>());
}

/// The enumeration is recorded once, while the export runs: a second recording (a duplicate last
/// pass, or a forged one) is refused and the first stands.
pub async fn the_enumeration_is_recorded_once_while_running<S: ExportStore>(store: &S) {
    use crate::domain::model::Enumerated;
    let account = ExportOwner::from(AccountId::random());
    let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
    let record = request(&account, at);
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let first = Enumerated {
        part_count: 3,
        listed: 25_000,
        signed_at: at.plus(Duration::from_secs(60)),
        segment_parts: vec![1, 0, 2],
        group_parts: 2,
    };
    let queued = store.record_enumerated(&account, &id, &first).await;
    assert!(matches!(queued, Err(Error::StatusConflict(_))), "{queued:?}");
    store.change_status(&account, &id, StatusChange::Running { started_at: at }).await.unwrap();
    store.record_enumerated(&account, &id, &first).await.unwrap();
    let second = Enumerated {
        part_count: 1,
        listed: 1,
        signed_at: at.plus(Duration::from_secs(86_400)),
        segment_parts: vec![1],
        group_parts: 100,
    };
    let again = store.record_enumerated(&account, &id, &second).await;
    assert!(matches!(again, Err(Error::StatusConflict(_))), "{again:?}");
    assert_eq!(store.get(&account, &id).await.unwrap().unwrap().enumerated, Some(first.clone()));
    let unknown = store.record_enumerated(&account, &ExportId::new(), &first).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

/// The listing plan is recorded once, while the export runs; the first stands.
pub async fn the_listing_plan_is_recorded_once_while_running<S: ExportStore>(store: &S) {
    use crate::domain::model::ListingPlan;
    let account = ExportOwner::from(AccountId::random());
    let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
    let record = request(&account, at);
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let first = ListingPlan {
        segments: 32,
        from: Timestamp::parse("2024-02-29T12:00:00.250Z").unwrap(),
        rooms: None,
    };
    let queued = store.record_plan(&account, &id, &first).await;
    assert!(matches!(queued, Err(Error::StatusConflict(_))), "only while RUNNING: {queued:?}");
    store.change_status(&account, &id, StatusChange::Running { started_at: at }).await.unwrap();
    store.record_plan(&account, &id, &first).await.unwrap();
    let other = ListingPlan { segments: 1, from: at, rooms: None };
    let again = store.record_plan(&account, &id, &other).await;
    assert!(matches!(again, Err(Error::StatusConflict(ref m)) if m.contains("planned")), "{again:?}");
    assert_eq!(store.get(&account, &id).await.unwrap().unwrap().plan.as_ref(), Some(&first));
    let unknown = store.record_plan(&account, &ExportId::new(), &first).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");

    // A self-service user's plan keeps their rooms, in order, as written.
    use crate::domain::ids::{RoomId, UserId};
    use crate::domain::model::PlannedRoom;
    let user = ExportOwner::User(UserId::random());
    let theirs = request(&user, at);
    store.admit(&theirs, WEEK).await.unwrap();
    store.change_status(&user, &theirs.export_id, StatusChange::Running { started_at: at }).await.unwrap();
    let rooms = (0..3)
        .map(|i| PlannedRoom {
            account_id: AccountId::random(),
            room_id: RoomId::random(),
            name: format!("room {i}"),
        })
        .collect();
    let by_source = ListingPlan::by_source(rooms, at);
    assert_eq!(by_source.segments, 4);
    store.record_plan(&user, &theirs.export_id, &by_source).await.unwrap();
    assert_eq!(store.get(&user, &theirs.export_id).await.unwrap().unwrap().plan, Some(by_source));
}

/// Each segment's checkpoint moves one part at a time, while the export runs, apart from the
/// other segments': part 1 first, then each next part, then done; a retried pass may write its own
/// checkpoint again (counted once); a skipped part, a checkpoint from elsewhere, or going back is
/// refused and the checkpoint stands. The export's listed count is the segments' sum.
pub async fn segment_checkpoints_move_one_part_at_a_time_each_on_its_own<S: ExportStore>(store: &S) {
    let account = ExportOwner::from(AccountId::random());
    let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
    let record = request(&account, at);
    store.admit(&record, WEEK).await.unwrap();
    let id = record.export_id;
    let part = |n: u32, cursor: &str| SegmentListing {
        part_count: n,
        listed: u64::from(n) * 10,
        cursor: cursor.into(),
        done: false,
    };
    let done = |l: SegmentListing| SegmentListing { done: true, ..l };
    let queued = store.checkpoint_segment(&account, &id, 3, None, &part(1, "a")).await;
    assert!(matches!(queued, Err(Error::StatusConflict(_))), "only while RUNNING: {queued:?}");
    store.change_status(&account, &id, StatusChange::Running { started_at: at }).await.unwrap();
    assert_eq!(store.segments(&account, &id).await.unwrap(), vec![]);
    let skipped = store.checkpoint_segment(&account, &id, 3, Some(&part(1, "a")), &part(2, "b")).await;
    assert!(matches!(skipped, Err(Error::StatusConflict(_))), "part 1 comes first: {skipped:?}");
    store.checkpoint_segment(&account, &id, 3, None, &part(1, "a")).await.unwrap();
    store.checkpoint_segment(&account, &id, 3, None, &part(1, "a")).await.unwrap();
    store.checkpoint_segment(&account, &id, 3, Some(&part(1, "a")), &part(2, "b")).await.unwrap();
    // Another segment, at once: its own checkpoint; an empty one is done at its start.
    store.checkpoint_segment(&account, &id, 11, None, &part(1, "x")).await.unwrap();
    store.checkpoint_segment(&account, &id, 0, None, &done(SegmentListing::default())).await.unwrap();
    for (from, refused) in [
        (None, part(1, "a")),
        (Some(part(1, "a")), part(2, "elsewhere")),
        (Some(part(1, "elsewhere")), part(2, "b2")),
        (Some(part(3, "c")), part(4, "d")),
    ] {
        let answer = store.checkpoint_segment(&account, &id, 3, from.as_ref(), &refused).await;
        assert!(matches!(answer, Err(Error::StatusConflict(_))), "{refused:?}: {answer:?}");
    }
    // A checkpoint that cannot follow the one it names (a part skipped) is the caller's bug.
    let unfollowed = store.checkpoint_segment(&account, &id, 3, Some(&part(2, "b")), &part(4, "d")).await;
    assert!(matches!(unfollowed, Err(Error::Internal(_))), "{unfollowed:?}");
    store.checkpoint_segment(&account, &id, 3, Some(&part(2, "b")), &done(part(2, "b"))).await.unwrap();
    let past_the_end = store.checkpoint_segment(&account, &id, 3, Some(&part(2, "b")), &part(3, "c")).await;
    assert!(matches!(past_the_end, Err(Error::StatusConflict(_))), "{past_the_end:?}");
    assert_eq!(
        store.segments(&account, &id).await.unwrap(),
        vec![(0, done(SegmentListing::default())), (3, done(part(2, "b"))), (11, part(1, "x"))],
        "in segment order"
    );
    assert_eq!(store.segment(&account, &id, 11).await.unwrap(), Some(part(1, "x")));
    assert_eq!(store.segment(&account, &id, 12).await.unwrap(), None);
    let stored = store.get(&account, &id).await.unwrap().unwrap();
    assert_eq!(stored.progress.attachments_listed, 30, "20 + 10, each part once");
    // Another export of the account has none of them.
    let other = request(&account, at.plus(Duration::from_secs(1)));
    assert!(store.segments(&account, &other.export_id).await.unwrap().is_empty());
    let unknown = store.checkpoint_segment(&account, &ExportId::new(), 0, None, &part(1, "a")).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

/// Receipts: every fetch of a file is counted on its receipt (first and last time and address),
/// each file once in the export's summary however many of its fetches race, receipts list in
/// upload order across pages, and another export or account sees none of them.
pub async fn receipts_count_every_fetch_and_each_file_once<S: ExportStore>(store: &S) {
    use crate::domain::ids::AttachmentId;
    use crate::domain::model::Fetch;
    let (account, export) = (ExportOwner::from(AccountId::random()), ExportId::new());
    let t0 = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
    let files: Vec<(Timestamp, AttachmentId)> = (0..3u64)
        .map(|i| {
            (
                Timestamp::parse("2026-11-01T09:00:00Z").unwrap().plus(Duration::from_secs(60 * (3 - i))),
                AttachmentId::random(),
            )
        })
        .collect();
    let fetch = |file: usize, secs: u64, ip: &str| Fetch {
        uploaded_at: files[file].0,
        attachment_id: files[file].1.clone(),
        at: t0.plus(Duration::from_secs(secs)),
        source_ip: ip.into(),
    };
    assert_eq!(store.download_summary(&account, &export).await.unwrap(), Default::default(), "nothing yet");
    // Ten racing first fetches of file 0.
    let first_fetch = fetch(0, 1, "192.0.2.1");
    let racing = (0..10).map(|_| store.record_fetch(&account, &export, &first_fetch));
    for outcome in futures::future::join_all(racing).await {
        outcome.unwrap();
    }
    store.record_fetch(&account, &export, &fetch(0, 30, "198.51.100.7")).await.unwrap();
    store.record_fetch(&account, &export, &fetch(2, 20, "203.0.113.9")).await.unwrap();

    let summary = store.download_summary(&account, &export).await.unwrap();
    assert_eq!(summary.files_fetched, 2, "{summary:?}");
    assert_eq!(summary.first_at, Some(t0.plus(Duration::from_secs(1))));
    assert_eq!(summary.last_first_fetch_at, Some(t0.plus(Duration::from_secs(20))));

    let first = store.receipts(&account, &export, None, 1).await.unwrap();
    assert_eq!(first.items.len(), 1);
    let second = store.receipts(&account, &export, first.next.as_deref(), 1).await.unwrap();
    let mut all = first.items.clone();
    all.extend(second.items.clone());
    if let Some(next) = second.next.as_deref() {
        assert!(
            store.receipts(&account, &export, Some(next), 1).await.unwrap().items.is_empty(),
            "two receipts only"
        );
    }
    // Upload order: file 2 was uploaded first.
    assert_eq!(
        all.iter().map(|r| r.attachment_id.clone()).collect::<Vec<_>>(),
        vec![files[2].1.clone(), files[0].1.clone()]
    );
    let zero = &all[1];
    assert_eq!(zero.fetch_count, 11);
    assert_eq!(
        (zero.first_at, zero.last_at),
        (t0.plus(Duration::from_secs(1)), t0.plus(Duration::from_secs(30)))
    );
    assert_eq!((zero.first_source_ip.as_str(), zero.last_source_ip.as_str()), ("192.0.2.1", "198.51.100.7"));
    assert_eq!(all[0].fetch_count, 1);

    assert!(
        store.receipts(&account, &ExportId::new(), None, 10).await.unwrap().items.is_empty(),
        "another export's"
    );
    assert!(
        store
            .receipts(&ExportOwner::from(AccountId::random()), &export, None, 10)
            .await
            .unwrap()
            .items
            .is_empty(),
        "another account's"
    );
    assert_eq!(
        store.download_summary(&ExportOwner::from(AccountId::random()), &export).await.unwrap().files_fetched,
        0
    );
}

/// A self-service user's exports and window are the user's own: an account whose id is the
/// user's id (the two are UUIDs of separate spaces) and another user see none of them, and each
/// window closes for its owner only.
pub async fn a_users_exports_and_window_are_apart_from_every_accounts<S: ExportStore>(store: &S) {
    use crate::domain::ids::UserId;
    let user_id = UserId::random();
    let user = ExportOwner::User(user_id.clone());
    let same_id_account = ExportOwner::Account(AccountId::parse(user_id.as_str()).unwrap());
    let other_user = ExportOwner::User(UserId::random());
    let now = Timestamp::now();

    let mine = request(&user, now);
    assert!(matches!(store.admit(&mine, WEEK).await.unwrap(), Admission::Accepted { .. }));
    let stored = store.get(&user, &mine.export_id).await.unwrap().expect("the user's record");
    assert_eq!(stored.owner, user);
    assert_eq!(stored, mine, "stored as written");
    for other in [&same_id_account, &other_user] {
        assert!(store.get(other, &mine.export_id).await.unwrap().is_none(), "{other} sees it");
        assert!(store.list(other, 10, None).await.unwrap().items.is_empty(), "{other} lists it");
        assert!(store.throttle(other).await.unwrap().is_none(), "{other} has the user's window");
        // Each has a window of its own, open.
        let theirs = request(other, now);
        assert!(matches!(store.admit(&theirs, WEEK).await.unwrap(), Admission::Accepted { .. }), "{other}");
    }
    // The user's own window is closed, and theirs did not change it.
    let again = request(&user, now.plus(Duration::from_secs(1)));
    assert!(matches!(store.admit(&again, WEEK).await.unwrap(), Admission::WindowClosed { .. }));
    let listed = store.list(&user, 10, None).await.unwrap();
    assert_eq!(listed.items.iter().map(|r| r.export_id).collect::<Vec<_>>(), vec![mine.export_id]);
    // A status move through the user's key, and none through the account's of the same id.
    let running = StatusChange::Running { started_at: now };
    let wrong = store.change_status(&same_id_account, &mine.export_id, running.clone()).await;
    assert!(matches!(wrong, Err(Error::NotFound(_))), "{wrong:?}");
    store.change_status(&user, &mine.export_id, running).await.unwrap();
    assert_eq!(store.get(&user, &mine.export_id).await.unwrap().unwrap().status, ExportStatus::Running);
}

/// An Assistant confirmation (DESIGN §15) is redeemed once, by its own user, with its own code,
/// before it expires; a new one replaces the last; two racing redemptions succeed once.
pub async fn a_confirmation_is_redeemed_once_by_its_user_before_it_expires<S: ExportStore>(store: &S) {
    use crate::domain::ids::UserId;
    let (me, other) = (UserId::random(), UserId::random());
    let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
    let until = at.plus(Duration::from_secs(600));
    store.put_confirmation(&me, "aa", until).await.unwrap();
    assert!(!store.take_confirmation(&me, "bb", at).await.unwrap(), "another code");
    assert!(!store.take_confirmation(&other, "aa", at).await.unwrap(), "another user");
    assert!(!store.take_confirmation(&me, "aa", until).await.unwrap(), "expired at its end");
    let racing = futures::future::join_all((0..5).map(|_| store.take_confirmation(&me, "aa", at))).await;
    assert_eq!(racing.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1, "once");
    assert!(!store.take_confirmation(&me, "aa", at).await.unwrap(), "used");
    store.put_confirmation(&me, "cc", until).await.unwrap();
    store.put_confirmation(&me, "dd", until).await.unwrap();
    assert!(!store.take_confirmation(&me, "cc", at).await.unwrap(), "replaced");
    assert!(store.take_confirmation(&me, "dd", at).await.unwrap());
    // A user's confirmation is none of an account's records.
    assert!(store.list(&ExportOwner::User(me.clone()), 10, None).await.unwrap().items.is_empty());
}
