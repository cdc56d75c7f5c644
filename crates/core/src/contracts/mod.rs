//! Contract suites of the ports: one suite per port, run against the in-memory
//! fake in unit tests and against the real adapter on the local stack (tests/tests/*_adapters.rs),
//! so a fake that behaves differently from DynamoDB or S3 fails a test. Each function is one
//! behaviour; every store passed in must be empty for the ids the suite makes up.

use std::time::Duration;

use crate::Timestamp;
use crate::domain::error::Error;
use crate::domain::ids::{AccountId, ExportId};
use crate::domain::model::{ExportFormat, ExportRecord, ExportStatus, FailureInfo, RequestedBy, Via};
use crate::ports::{Admission, AttachmentObjects, ExportStore, ObjectStore, StatusChange, SweepLedger};

const WEEK: Duration = Duration::from_secs(604_800);
const MIB: usize = 1024 * 1024;

fn request(account: &AccountId, at: Timestamp) -> ExportRecord {
    ExportRecord::new_request(
        account.clone(),
        ExportFormat::Csv,
        RequestedBy { principal: "arn:aws:iam::000000000000:user/local-admin".into(), via: Via::Api },
        Some("token-1".into()),
        at,
    )
}

// --- ExportStore: admission, the window, status moves, listing.

/// Of twenty simultaneous admissions for one account exactly one takes the window; the rest see it
/// closed by the winner, and only the winner's record exists.
pub async fn exactly_one_of_twenty_concurrent_requests_takes_the_window<S: ExportStore>(store: &S) {
    let account = AccountId::random();
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
    let account = AccountId::random();
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
    let account = AccountId::random();
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
    let other = AccountId::random();
    assert!(store.get(&other, &id).await.unwrap().is_none());
}

/// An account's exports list newest first, page after page, with the last id as the cursor.
pub async fn exports_list_newest_first_across_pages<S: ExportStore>(store: &S) {
    let account = AccountId::random();
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

// --- ObjectStore: multipart uploads with part copies, aborts, absent objects.

/// Parts copied server-side and an uploaded tail assemble into one object, visible only once complete.
pub async fn multipart_upload_assembles_copied_parts_and_a_tail_server_side<O: ObjectStore>(
    store: &O,
    prefix: &str,
) {
    let p = prefix;
    // Two 5 MiB sources (S3's minimum for a non-final part) and a small tail.
    let a: Vec<u8> = (0..5 * MIB).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = (0..5 * MIB).map(|i| (i % 241) as u8).collect();
    let tail = "last,line\nwith \"quotes\", ünïcode\n".as_bytes().to_vec();
    store
        .put(
            &format!("{p}a"),
            a.clone(),
            "application/octet-stream",
            &[("urls-expire-at", "2026-11-30T10:00:00.000Z")],
        )
        .await
        .unwrap();
    store.put(&format!("{p}b"), b.clone(), "application/octet-stream", &[]).await.unwrap();

    let key = format!("{p}assembled.csv");
    let upload = store
        .start_multipart(&key, "text/csv", &[("export-window-cutoff", "2026-11-24T10:00:00.000Z")])
        .await
        .unwrap();
    let parts = vec![
        store.upload_part_copy(&key, &upload, 1, &format!("{p}a")).await.unwrap(),
        store.upload_part_copy(&key, &upload, 2, &format!("{p}b")).await.unwrap(),
        store.upload_part(&key, &upload, 3, tail.clone()).await.unwrap(),
    ];
    assert!(parts.iter().all(|part| !part.etag.is_empty()));
    // Nothing is visible before completion.
    assert_eq!(store.head(&key).await.unwrap(), None);
    store.complete_multipart(&key, &upload, parts).await.unwrap();

    let expected: Vec<u8> = [a, b, tail].concat();
    assert_eq!(store.head(&key).await.unwrap().unwrap().size, expected.len() as u64);
    let a_head = store.head(&format!("{p}a")).await.unwrap().unwrap();
    assert_eq!(a_head.metadata["urls-expire-at"], "2026-11-30T10:00:00.000Z", "user metadata survives");
    let assembled = store.head(&key).await.unwrap().unwrap();
    assert_eq!(
        assembled.metadata.get("export-window-cutoff").map(String::as_str),
        Some("2026-11-24T10:00:00.000Z"),
        "an upload's metadata is the completed object's"
    );
    let got = store.get(&key).await.unwrap();
    assert!(got == expected, "assembled object differs from its parts");

    let mut listed = store.list(p).await.unwrap();
    listed.sort();
    assert_eq!(listed, vec![format!("{p}a"), format!("{p}assembled.csv"), format!("{p}b")]);
    store.delete(&listed).await.unwrap();
    assert!(store.list(p).await.unwrap().is_empty());
    assert!(matches!(store.get(&key).await, Err(Error::NotFound(_))));
}

/// An aborted upload leaves no object.
pub async fn an_aborted_upload_leaves_nothing<O: ObjectStore>(store: &O, prefix: &str) {
    let key = format!("{}aborted.csv", prefix);
    let upload = store.start_multipart(&key, "text/csv", &[]).await.unwrap();
    store.upload_part(&key, &upload, 1, b"partial".to_vec()).await.unwrap();
    store.abort_multipart(&key, &upload).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
}

/// An unknown key reads as absent (`get` says NotFound, `head` says None).
pub async fn a_missing_object_is_absent<O: ObjectStore>(store: &O, prefix: &str) {
    let key = format!("{prefix}missing");
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(matches!(store.get(&key).await, Err(Error::NotFound(_))));
    assert!(store.list(prefix).await.unwrap().is_empty());
}

// --- SweepLedger: one record, saved only over the version it was read at.

pub async fn the_sweep_ledger_saves_only_over_the_version_it_read<L: SweepLedger>(ledger: &L) {
    use crate::rules::sweep::{SweepPhase, SweepRecord, SweepReport};
    let now = Timestamp::parse("2026-11-30T03:00:00Z").unwrap();
    let mut record = SweepRecord {
        started_at: now,
        rule: "arn:aws:events:us-east-1:000000000000:rule/contract".into(),
        start_exports: true,
        phase: SweepPhase::Accounts,
        cursor: Some("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f".into()),
        report: SweepReport { started: 1, skipped: 2, failed: 0, recovered: 3 },
        invocations: 1,
        updated_at: now,
        completed_at: None,
        lease_until: now.plus(Duration::from_secs(900)),
        version: 1,
    };
    assert_eq!(ledger.load().await.unwrap(), None, "a fresh ledger holds no sweep");
    assert!(ledger.save(&record, None).await.unwrap(), "the first save expects no record");
    assert!(!ledger.save(&record, None).await.unwrap(), "a second first save loses");
    assert_eq!(ledger.load().await.unwrap().as_ref(), Some(&record), "what was saved reads back");
    record.version = 2;
    record.cursor = None;
    record.phase = SweepPhase::Done;
    record.completed_at = Some(now.plus(Duration::from_secs(60)));
    assert!(!ledger.save(&record, Some(0)).await.unwrap(), "a stale version loses");
    assert!(ledger.save(&record, Some(1)).await.unwrap());
    assert_eq!(ledger.load().await.unwrap().as_ref(), Some(&record));
    assert!(!ledger.save(&record, Some(1)).await.unwrap(), "the version moved on");
}

// --- AttachmentObjects: what HeadObject tells the part writer.

/// The caller has stored `body` in `bucket` under `plain` (no checksum) and under `checked` (with a
/// SHA-256 checksum), and nothing under `missing`: a HEAD reports the size of both, the SHA-256 as
/// hex of the one stored with it only, and nothing for the missing key.
pub async fn an_attachment_head_reports_size_and_stored_sha256<A: AttachmentObjects>(
    objects: &A,
    bucket: &str,
    body: &[u8],
    plain: &str,
    checked: &str,
    missing: &str,
) {
    use sha2::Digest;
    let size = body.len() as u64;
    let hex = crate::domain::hex::encode(&sha2::Sha256::digest(body));
    let head = objects.head(bucket, plain).await.unwrap().expect("the plain object exists");
    assert_eq!(head.size, size);
    assert_eq!(head.sha256, None, "no checksum was stored with it");
    let head = objects.head(bucket, checked).await.unwrap().expect("the checked object exists");
    assert_eq!(head.size, size);
    assert_eq!(head.sha256.as_deref(), Some(hex.as_str()));
    assert_eq!(objects.head(bucket, missing).await.unwrap(), None);
}

// --- StatementSigner: what it signs verifies with its public key, and nothing else does.

/// A signature verifies (P-256, DER SubjectPublicKeyInfo from the signer) over exactly the
/// statement's bytes; another statement does not; a message over KMS's RAW limit is refused. The
/// signer names its key.
pub async fn a_statement_signature_verifies_with_its_public_key<G: crate::ports::StatementSigner>(
    signer: &G,
) {
    use crate::domain::statement;
    let bytes = format!("{{\"exportId\": \"{}\"}}\n", ExportId::at(Timestamp::now())).into_bytes();
    let signed = signer.sign(&bytes).await.unwrap();
    assert!(!signed.key_id.is_empty(), "the signer names the key that signed");
    let key = statement::public_key(&signer.public_key_der().await.unwrap()).unwrap();
    let file = statement::encode_signature(&signed.der);
    assert_eq!(statement::verify_signature(&key, &bytes, &file), Ok(()));
    let mut other = bytes.clone();
    other[0] = b' ';
    assert_eq!(statement::verify_signature(&key, &other, &file), Err(statement::SignatureProblem::Mismatch));
    // ECDSA signatures differ from one signing to the next (KMS) or not (RFC 6979); both verify.
    let again = signer.sign(&bytes).await.unwrap();
    assert_eq!(statement::verify_signature(&key, &bytes, &statement::encode_signature(&again.der)), Ok(()));
    assert!(signer.sign(&vec![b' '; statement::MAX_STATEMENT_BYTES + 1]).await.is_err());
}

#[cfg(test)]
mod against_the_fakes {
    //! The same suites against the in-memory fakes the unit tests use.
    use super::*;
    use crate::memory::{FakeObjectStore, FakeStore, FakeSweepLedger};

    #[tokio::test]
    async fn the_fake_export_store_keeps_the_contract() {
        exactly_one_of_twenty_concurrent_requests_takes_the_window(&FakeStore::default()).await;
        the_window_reopens_after_seven_days_and_a_failure_gives_it_back(&FakeStore::default()).await;
        status_moves_forward_only_and_conditions_name_the_problem(&FakeStore::default()).await;
        exports_list_newest_first_across_pages(&FakeStore::default()).await;
    }

    #[tokio::test]
    async fn the_fake_object_store_keeps_the_contract() {
        multipart_upload_assembles_copied_parts_and_a_tail_server_side(&FakeObjectStore::default(), "c/")
            .await;
        an_aborted_upload_leaves_nothing(&FakeObjectStore::default(), "c/").await;
        a_missing_object_is_absent(&FakeObjectStore::default(), "c/").await;
    }

    #[tokio::test]
    async fn the_fake_attachment_objects_keep_the_contract() {
        let objects = crate::memory::FakeAttachmentObjects::default();
        let body = b"quarterly figures";
        objects.put("attachments", "a/plain", body, false);
        objects.put("attachments", "a/checked", body, true);
        an_attachment_head_reports_size_and_stored_sha256(
            &objects,
            "attachments",
            body,
            "a/plain",
            "a/checked",
            "a/missing",
        )
        .await;
    }

    #[tokio::test]
    async fn the_fake_statement_signer_keeps_the_contract() {
        a_statement_signature_verifies_with_its_public_key(&crate::memory::FakeStatementSigner::default())
            .await;
    }

    #[tokio::test]
    async fn the_fake_sweep_ledger_keeps_the_contract() {
        the_sweep_ledger_saves_only_over_the_version_it_read(&FakeSweepLedger::default()).await;
    }
}
