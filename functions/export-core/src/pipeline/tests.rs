//! The pipeline's steps against the in-memory fakes.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::*;
use crate::hex;
use crate::ids::{AttachmentId, ConversationId, MessageId};
use crate::manifest::{InventoryLine, Summary, empty_manifest};
use crate::model::{AccountType, Attachment, ExportFormat, RequestedBy, Via};
use crate::model::{ConversationType, FailureInfo};
use crate::payloads::{EnumerateRequest, EnumerateResponse, StepError};
use crate::ports::Admission;
use crate::ports::Clock;
use crate::testing::{FakeCatalog, FakeNotifier, FakeObjectStore, FakeSigner, FakeStore, FixedClock};
use crate::time::Timestamp;

const SIX_DAYS: Duration = Duration::from_secs(518_400);

struct World {
    catalog: FakeCatalog,
    store: FakeStore,
    objects: FakeObjectStore,
    notifier: FakeNotifier,
    clock: FixedClock,
    job: ExportJob,
    in_scope: Vec<Attachment>,
}

/// An account with `n` in-scope attachments (DIRECT by a managed user, and ROOM in a managed
/// room), interleaved with out-of-scope ones, and a QUEUED export.
async fn world(n: usize, format: ExportFormat) -> World {
    let catalog = FakeCatalog::default();
    let clock = FixedClock::at("2026-11-24T10:00:00Z");
    let account = catalog.add_account(AccountType::Enterprise, false);
    let managed = catalog.add_user(&account, true);
    let unmanaged = catalog.add_user(&account, false);
    let room = catalog.add_room(&account, &managed);
    let mut all = Vec::new();
    let mut in_scope = Vec::new();
    for i in 0..n {
        let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap().plus(Duration::from_secs(i as u64 * 60));
        let (kind, conversation) = if i % 3 == 0 {
            (ConversationType::Room, ConversationId::parse(room.as_str()).unwrap())
        } else {
            (ConversationType::Direct, ConversationId::random())
        };
        let a = Attachment {
            account_id: account.clone(),
            attachment_id: AttachmentId::random(),
            message_id: MessageId::random(),
            conversation_id: conversation,
            conversation_type: kind,
            uploader_id: managed.clone(),
            file_name: format!("file {i}, \"v{i}\".txt"),
            content_type: "text/plain".into(),
            size_bytes: 100 + i as u64,
            sha256: "00".repeat(32),
            bucket: "attachments".into(),
            object_key: format!("{account}/{i}"),
            uploaded_at: at,
            deleted: false,
        };
        in_scope.push(a.clone());
        all.push(a.clone());
        let mut out = a.clone();
        out.attachment_id = AttachmentId::random();
        out.uploader_id = unmanaged.clone();
        out.conversation_type = ConversationType::Group;
        all.push(out);
    }
    catalog.attachments.lock().unwrap().insert(account.clone(), all);
    let store = FakeStore::default();
    let record = ExportRecord::new_request(
        account,
        format,
        RequestedBy { principal: "p".into(), via: Via::Api },
        None,
        clock.now(),
    );
    let job = ExportJob::from(&record);
    assert!(matches!(
        store.admit(&record, Duration::from_secs(604_800)).await.unwrap(),
        Admission::Accepted { .. }
    ));
    World {
        catalog,
        store,
        objects: FakeObjectStore::default(),
        notifier: FakeNotifier::default(),
        clock,
        job,
        in_scope,
    }
}

impl World {
    fn enumerator(
        &self,
        part_items: usize,
    ) -> Enumerator<'_, FakeCatalog, FakeStore, FakeObjectStore, FixedClock> {
        Enumerator {
            catalog: &self.catalog,
            store: &self.store,
            objects: &self.objects,
            clock: &self.clock,
            part_items,
        }
    }

    fn finisher(&self) -> Finisher<'_, FakeStore, FakeObjectStore, FakeNotifier, FixedClock> {
        Finisher { store: &self.store, objects: &self.objects, notifier: &self.notifier, clock: &self.clock }
    }

    fn first_request(&self) -> EnumerateRequest {
        EnumerateRequest {
            job: self.job.clone(),
            cursor: None,
            part_count: 0,
            listed: 0,
            totals: BTreeMap::new(),
        }
    }

    async fn enumerate_all(&self, part_items: usize) -> EnumerateResponse {
        self.enumerator(part_items).run(self.first_request(), || Duration::from_secs(900)).await.unwrap()
    }

    async fn write_parts(&self, e: &EnumerateResponse) {
        let writer = PartWriter { store: &self.store, objects: &self.objects };
        let mut signer = FakeSigner { expires_at: e.signed_at.unwrap().plus(SIX_DAYS) };
        for part in &e.parts {
            writer.run(&self.job, *part, &mut signer).await.unwrap();
        }
    }

    fn enumeration(&self, e: &EnumerateResponse) -> Enumeration {
        Enumeration {
            part_count: e.part_count,
            listed: e.listed,
            totals: e.totals.clone(),
            signed_at: e.signed_at.unwrap(),
            url_expiry: SIX_DAYS,
        }
    }

    fn object(&self, key: &str) -> Vec<u8> {
        self.objects.objects.lock().unwrap().get(key).cloned().unwrap_or_else(|| panic!("no object {key}"))
    }
}

#[tokio::test]
async fn enumerate_writes_fixed_size_parts_of_the_in_scope_set_in_upload_order() {
    let w = world(7, ExportFormat::Csv).await;
    let e = w.enumerate_all(3).await;
    assert!(e.done);
    assert_eq!((e.part_count, e.listed, e.parts.clone()), (3, 7, vec![1, 2, 3]));
    assert_eq!(e.totals[&ConversationType::Room].count, 3);
    assert_eq!(e.totals[&ConversationType::Direct].count, 4);
    assert!(!e.totals.contains_key(&ConversationType::Group));
    let mut listed = Vec::new();
    for part in 1..=3 {
        let body = w.object(&w.job.inventory_part_key(part));
        let lines: Vec<InventoryLine> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), if part < 3 { 3 } else { 1 });
        listed.extend(lines);
    }
    let ids: Vec<_> = listed.iter().map(|l| l.attachment_id.clone()).collect();
    let expected: Vec<_> = w.in_scope.iter().map(|a| a.attachment_id.clone()).collect();
    assert_eq!(ids, expected);
    assert_eq!(listed[0].conversation_name, "R", "room name resolved");
    assert!(listed[0].uploader_managed && listed[0].uploader_email.ends_with("@example.com"));
    let record = w.store.record(&w.job.account_id, &w.job.export_id).unwrap();
    assert_eq!((record.status, record.progress.attachments_listed), (ExportStatus::Running, 7));
}

#[tokio::test]
async fn enumerate_stops_at_a_part_boundary_when_time_runs_short_and_resumes_exactly() {
    let w = world(7, ExportFormat::Csv).await;
    let whole = w.enumerate_all(3).await;
    let parts_whole: Vec<Vec<u8>> = (1..=3).map(|p| w.object(&w.job.inventory_part_key(p))).collect();

    let w2 = world(0, ExportFormat::Csv).await;
    *w2.catalog.attachments.lock().unwrap() = w.catalog.attachments.lock().unwrap().clone();
    w2.catalog.users.lock().unwrap().extend(w.catalog.users.lock().unwrap().clone());
    w2.catalog.rooms.lock().unwrap().extend(w.catalog.rooms.lock().unwrap().clone());
    let mut job = w.job.clone();
    job.export_id = w2.job.export_id;
    job.account_id = w.job.account_id.clone();
    let record = ExportRecord {
        export_id: job.export_id,
        account_id: job.account_id.clone(),
        ..w2.store.records(&w2.job.account_id)[0].clone()
    };
    w2.store.insert(record);
    let mut request = EnumerateRequest {
        job: job.clone(),
        cursor: None,
        part_count: 0,
        listed: 0,
        totals: BTreeMap::new(),
    };
    let mut passes = 0;
    loop {
        passes += 1;
        // No time left: each pass writes one part and returns.
        let response = w2.enumerator(3).run(request.clone(), || Duration::ZERO).await.unwrap();
        // A retry of the same pass rewrites the same part and answers the same.
        let retried = w2.enumerator(3).run(request.clone(), || Duration::ZERO).await.unwrap();
        assert_eq!(response.cursor, retried.cursor);
        assert_eq!(response.part_count, retried.part_count);
        if response.done {
            assert_eq!(
                (response.part_count, response.listed, response.totals.clone()),
                (3, 7, whole.totals.clone())
            );
            break;
        }
        request = EnumerateRequest {
            job: job.clone(),
            cursor: response.cursor,
            part_count: response.part_count,
            listed: response.listed,
            totals: response.totals,
        };
    }
    assert_eq!(passes, 3);
    for (p, expected) in (1..=3).zip(parts_whole) {
        assert_eq!(w2.object(&job.inventory_part_key(p)), expected, "part {p} identical");
    }
}

#[tokio::test]
async fn parts_sign_every_line_and_finalize_assembles_one_manifest() {
    let w = world(7, ExportFormat::Csv).await;
    let e = w.enumerate_all(3).await;
    w.write_parts(&e).await;
    let record = w.store.record(&w.job.account_id, &w.job.export_id).unwrap();
    assert_eq!(record.progress.parts_written, 3);
    let result = w.finisher().finalize(&w.job, &w.enumeration(&e)).await.unwrap();

    let manifest = w.object(&w.job.manifest_key());
    assert_eq!(result.manifest_bytes, manifest.len() as u64);
    assert_eq!(result.manifest_sha256, hex::encode(&Sha256::digest(&manifest)));
    assert_eq!(result.attachment_count, 7);
    assert_eq!(result.total_bytes, w.in_scope.iter().map(|a| a.size_bytes).sum::<u64>());
    assert_eq!(result.urls_expire_at, e.signed_at.unwrap().plus(SIX_DAYS));
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(&manifest[..]).records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 7, "one header, then one row per attachment");
    for (row, a) in rows.iter().zip(&w.in_scope) {
        assert_eq!(&row[0], a.attachment_id.as_str());
        assert_eq!(&row[8], a.file_name.as_str());
        assert_eq!(&row[13], format!("https://signed.invalid/attachments/{}", a.object_key).as_str());
    }
    let summary: Summary = serde_json::from_slice(&w.object(&w.job.summary_key())).unwrap();
    assert_eq!((summary.manifest.lines, summary.attachment_count), (8, 7));
    assert_eq!(summary.manifest.sha256, result.manifest_sha256);

    let keys: Vec<String> = w.objects.objects.lock().unwrap().keys().cloned().collect();
    assert_eq!(keys, vec![w.job.manifest_key(), w.job.summary_key()], "intermediates removed");
    let record = w.store.record(&w.job.account_id, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::Succeeded);
    assert_eq!(record.result.as_ref(), Some(&result));
    let published = w.notifier.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!((published[0].status, published[0].attachment_count), (ExportStatus::Succeeded, Some(7)));

    // A duplicate Finalize changes nothing and announces nothing new.
    let again = w.finisher().finalize(&w.job, &w.enumeration(&e)).await.unwrap();
    assert_eq!(again, result);
    assert_eq!(w.notifier.published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_empty_account_gets_a_header_only_manifest() {
    let w = world(0, ExportFormat::Csv).await;
    let e = w.enumerate_all(3).await;
    assert_eq!((e.part_count, e.listed, e.parts.len()), (0, 0, 0));
    let result = w.finisher().finalize(&w.job, &w.enumeration(&e)).await.unwrap();
    assert_eq!(w.object(&w.job.manifest_key()), empty_manifest(ExportFormat::Csv).unwrap());
    assert_eq!(result.attachment_count, 0);
}

#[tokio::test]
async fn jsonl_manifests_have_no_header() {
    let w = world(4, ExportFormat::Jsonl).await;
    let e = w.enumerate_all(3).await;
    w.write_parts(&e).await;
    w.finisher().finalize(&w.job, &w.enumeration(&e)).await.unwrap();
    let manifest = String::from_utf8(w.object(&w.job.manifest_key())).unwrap();
    assert_eq!(manifest.lines().count(), 4);
    assert!(manifest.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
}

#[tokio::test]
async fn a_failure_is_recorded_once_and_gives_the_window_back() {
    let w = world(3, ExportFormat::Csv).await;
    w.enumerate_all(2).await;
    let error = StepError {
        error: "TransientError".into(),
        cause: Some(r#"{"errorType":"TransientError","errorMessage":"The service is busy."}"#.into()),
    };
    w.finisher().record_failure(&w.job, &error).await.unwrap();
    w.finisher().record_failure(&w.job, &error).await.unwrap();
    let record = w.store.record(&w.job.account_id, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    assert_eq!(
        record.error.unwrap(),
        FailureInfo { code: "TransientError".into(), message: "The service is busy.".into() }
    );
    assert!(w.store.throttle(&w.job.account_id).await.unwrap().is_none());
    assert!(w.objects.objects.lock().unwrap().is_empty(), "intermediates removed");
    let published = w.notifier.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].error_code.as_deref(), Some("TransientError"));
    // No step runs on a FAILED export.
    let e = w.enumerator(2).run(w.first_request(), || Duration::from_secs(60)).await.unwrap_err();
    assert_eq!(e.code(), "StatusConflict");
}

#[tokio::test]
async fn a_late_failure_report_leaves_a_succeeded_export_and_its_window_alone() {
    let w = world(3, ExportFormat::Csv).await;
    let e = w.enumerate_all(2).await;
    w.write_parts(&e).await;
    w.finisher().finalize(&w.job, &w.enumeration(&e)).await.unwrap();
    let error = StepError { error: "States.Timeout".into(), cause: None };
    w.finisher().record_failure(&w.job, &error).await.unwrap();
    let record = w.store.record(&w.job.account_id, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::Succeeded);
    assert!(w.store.throttle(&w.job.account_id).await.unwrap().is_some(), "the window stays taken");
    assert!(w.objects.objects.lock().unwrap().contains_key(&w.job.manifest_key()), "the manifest stays");
    assert_eq!(w.notifier.published.lock().unwrap().len(), 1, "no FAILED event");
}

#[test]
fn failures_read_well() {
    let panic = describe_failure(&StepError {
        error: "&alloc::boxed::Box<dyn core::any::Any + core::marker::Send>".into(),
        cause: Some(r#"{"errorMessage": "Lambda panicked: index out of bounds"}"#.into()),
    });
    assert_eq!(panic.code, "StepCrashed");
    assert!(!panic.message.contains("index out of bounds"), "no internals for the administrator");
    let timeout = describe_failure(&StepError { error: "States.Timeout".into(), cause: None });
    assert!(timeout.message.contains("took too long"));
    let opaque = describe_failure(&StepError { error: "Weird".into(), cause: Some("not json".into()) });
    assert_eq!(opaque.message, "The export failed (Weird).");
}
