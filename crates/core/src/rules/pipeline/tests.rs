//! The pipeline's steps against the in-memory fakes.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::*;
use crate::domain::hex;
use crate::domain::ids::{AccountId, AttachmentId, ConversationId, MessageId};
use crate::domain::manifest::{InventoryLine, Summary, empty_manifest};
use crate::domain::model::{AccountType, Attachment, ExportFormat, ExportResult, RequestedBy, Via};
use crate::domain::model::{ConversationType, FailureInfo};
use crate::domain::payloads::{EnumerateResponse, StepError};
use crate::domain::time::Timestamp;
use crate::ports::Admission;
use crate::ports::{Clock, ObjectStore};
use crate::testing::csv_records;

const SIX_DAYS: Duration = Duration::from_secs(518_400);

/// The fakes, one account's export and what it must list.
struct World {
    world: crate::memory::World,
    job: ExportJob,
    in_scope: Vec<Attachment>,
    /// The account whose export `job` is.
    account: AccountId,
}

impl std::ops::Deref for World {
    type Target = crate::memory::World;

    fn deref(&self) -> &crate::memory::World {
        &self.world
    }
}

/// An account with `n` in-scope attachments (DIRECT by a managed user, and ROOM in a managed
/// room), interleaved with out-of-scope ones, and a QUEUED export.
async fn world(n: usize, format: ExportFormat) -> World {
    let world = crate::memory::World::at("2026-11-24T10:00:00Z");
    let (catalog, clock, attachments, store) =
        (&world.directory, &world.clock, &world.attachments, &world.store);
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
    for a in &in_scope {
        attachments.put_head(&a.bucket, &a.object_key, a.size_bytes, None);
    }
    let record = ExportRecord::new_request(
        account.clone().into(),
        format,
        RequestedBy { principal: "p".into(), via: Via::Api, person: None },
        None,
        clock.now(),
    );
    let job = ExportJob::from(&record);
    assert!(matches!(
        store.admit(&record, Duration::from_secs(604_800)).await.unwrap(),
        Admission::Accepted { .. }
    ));
    World { world, job, in_scope, account }
}

impl World {
    fn enumerator(&self, part_items: usize) -> Enumerator<crate::memory::InMemory> {
        self.world.enumerator(part_items)
    }

    fn finisher(&self) -> Finisher<crate::memory::InMemory> {
        self.world.finisher()
    }

    /// The listing as the state machine runs it: Plan, every segment's passes until it is done
    /// (the ListSegments Map, in any order: here last to first), Close.
    async fn enumerate_all(&self, part_items: usize) -> EnumerateResponse {
        list_all(&self.enumerator(part_items), &self.job, || Duration::from_secs(900)).await.0
    }

    /// The inventory parts in manifest order, as the enumeration numbered them.
    fn inventory(&self, job: &ExportJob) -> Vec<Vec<u8>> {
        let enumerated = self.store.record(&job.owner, &job.export_id).unwrap().enumerated.unwrap();
        (1..=enumerated.part_count)
            .map(|p| {
                let (segment, index) = enumerated.locate(p).unwrap();
                self.object(&job.inventory_part_key(segment, index))
            })
            .collect()
    }

    /// The WriteParts Map's items: the part numbers the last pass wrote to `parts_key`.
    fn parts(&self, e: &EnumerateResponse) -> Vec<u32> {
        assert_eq!(e.parts_bucket.as_deref(), Some("exports-test"));
        let key = e.parts_key.as_deref().expect("a finished enumeration names its part list");
        assert_eq!(key, self.job.parts_list_key());
        serde_json::from_slice(&self.object(key)).unwrap()
    }

    async fn write_parts(&self, e: &EnumerateResponse) {
        let writer = self.world.part_writer(&["attachments"]);
        for part in self.parts(e) {
            writer.run(&self.job, part, e.signed_at.unwrap()).await.unwrap();
        }
    }

    /// Assembly and Finalize as the state machine runs them: every group the AssembleGroups Map's
    /// items name (here last to first), then Finalize's passes until it delivers.
    async fn finish(&self, job: &ExportJob, enumeration: &Enumeration) -> crate::Result<ExportResult> {
        let finisher = self.finisher();
        let groups: Vec<u32> = match self.objects.objects.lock().unwrap().get(&self.job.groups_list_key()) {
            Some(raw) => serde_json::from_slice(raw).unwrap(),
            None => Vec::new(),
        };
        for group in groups.into_iter().rev() {
            finisher.assemble_group(job, group).await?;
        }
        loop {
            match finisher.finalize(job, enumeration, || Duration::from_secs(900)).await? {
                Finalized::Done(result) => return Ok(*result),
                Finalized::Hashing { .. } => continue,
            }
        }
    }

    fn enumeration(&self, e: &EnumerateResponse) -> Enumeration {
        Enumeration {
            part_count: e.part_count,
            listed: e.listed,
            signed_at: e.signed_at.unwrap(),
            url_expiry: SIX_DAYS,
        }
    }

    fn object(&self, key: &str) -> Vec<u8> {
        self.objects.objects.lock().unwrap().get(key).cloned().unwrap_or_else(|| panic!("no object {key}"))
    }
}

/// Plan, every segment to its end, Close: the enumeration and the passes it took.
async fn list_all(
    e: &Enumerator<crate::memory::InMemory>,
    job: &ExportJob,
    remaining: impl Fn() -> Duration + Copy,
) -> (EnumerateResponse, u32) {
    let plan = e.plan(job).await.unwrap();
    assert_eq!(plan.segments_bucket, "exports-test");
    let segments: Vec<u32> =
        serde_json::from_slice(&e.objects.objects.lock().unwrap()[&plan.segments_key]).unwrap();
    assert_eq!(segments, (0..plan.segments).collect::<Vec<_>>());
    let mut passes = 0;
    for segment in segments.into_iter().rev() {
        loop {
            passes += 1;
            let reply = e.segment(job, segment, remaining).await.unwrap();
            if reply.done {
                // A retried last pass answers the same and writes nothing new.
                assert_eq!(e.segment(job, segment, remaining).await.unwrap(), reply);
                break;
            }
        }
    }
    let closed = e.close(job).await.unwrap();
    assert!(closed.done);
    (closed, passes)
}

fn lines_of(body: &[u8]) -> Vec<InventoryLine> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[tokio::test]
async fn enumerate_writes_fixed_size_parts_of_the_in_scope_set_in_upload_order() {
    let w = world(7, ExportFormat::Csv).await;
    let e = w.enumerate_all(3).await;
    assert!(e.done);
    assert_eq!((e.part_count, e.listed, w.parts(&e)), (3, 7, vec![1, 2, 3]));
    let mut listed = Vec::new();
    for (part, body) in w.inventory(&w.job).into_iter().enumerate() {
        let lines = lines_of(&body);
        assert_eq!(lines.len(), if part < 2 { 3 } else { 1 });
        listed.extend(lines);
    }
    let ids: Vec<_> = listed.iter().map(|l| l.attachment_id.clone()).collect();
    let expected: Vec<_> = w.in_scope.iter().map(|a| a.attachment_id.clone()).collect();
    assert_eq!(ids, expected);
    assert_eq!(listed[0].conversation_name, "R", "room name resolved");
    assert!(listed[0].uploader_managed && listed[0].uploader_email.ends_with("@example.com"));
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!((record.status, record.progress.attachments_listed), (ExportStatus::Running, 7));
}

#[tokio::test]
async fn enumerate_stops_at_a_part_boundary_when_time_runs_short_and_resumes_exactly() {
    let w = world(7, ExportFormat::Csv).await;
    let whole = w.enumerate_all(3).await;
    assert_eq!(whole.part_count, 3);
    let parts_whole = w.inventory(&w.job);

    let w2 = world(0, ExportFormat::Csv).await;
    *w2.directory.attachments.lock().unwrap() = w.directory.attachments.lock().unwrap().clone();
    w2.directory.users.lock().unwrap().extend(w.directory.users.lock().unwrap().clone());
    w2.directory.rooms.lock().unwrap().extend(w.directory.rooms.lock().unwrap().clone());
    let mut job = w.job.clone();
    job.export_id = w2.job.export_id;
    job.owner = w.job.owner.clone();
    let record = ExportRecord {
        export_id: job.export_id,
        owner: job.owner.clone(),
        ..w2.store.records(&w2.job.owner)[0].clone()
    };
    w2.store.insert(record);
    // No time left: each pass writes one part and returns; the next resumes from its segment's
    // checkpoint. Segment 0 holds the 7 rows (3 passes); the 3 later slices are empty (1 each).
    let (closed, passes) = list_all(&w2.enumerator(3), &job, || Duration::ZERO).await;
    assert_eq!((closed.part_count, closed.listed), (whole.part_count, whole.listed));
    assert_eq!(passes, 6);
    assert_eq!(w2.inventory(&job), parts_whole, "the same parts, byte for byte");
    // A retried Close answers the enumeration recorded.
    assert_eq!(w2.enumerator(3).close(&job).await.unwrap(), closed);
    let record = w2.store.record(&job.owner, &job.export_id).unwrap();
    assert_eq!(record.progress.attachments_listed, 7, "each part counted once");
}

/// Uploads spread over the year fall in several segments: each segment writes its own parts, and
/// the parts numbered by segment are the in-scope set in upload order, whatever order the segments
/// ran in; the manifest is assembled from them in that order.
#[tokio::test]
async fn segments_list_slices_of_time_apart_and_the_parts_keep_upload_order() {
    let mut w = world(7, ExportFormat::Csv).await;
    // Attachment i (and its out-of-scope twin) 40 days after attachment i-1, from 2026-01-01: the
    // 4 slices from the first upload to the cutoff (2026-11-24) hold 3, 2, 2 and 0 of them.
    let day = Duration::from_secs(86_400);
    let first = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    for a in w.directory.attachments.lock().unwrap().get_mut(&w.account).unwrap().iter_mut() {
        let i = u64::try_from(a.object_key.rsplit('/').next().unwrap().parse::<usize>().unwrap()).unwrap();
        a.uploaded_at = first.plus(day * 40 * u32::try_from(i).unwrap());
    }
    for (i, a) in w.in_scope.iter_mut().enumerate() {
        a.uploaded_at = first.plus(day * 40 * u32::try_from(i).unwrap());
    }
    let e = w.enumerate_all(2).await;
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!(record.plan.map(|p| (p.segments, p.from)), Some((4, first)));
    let enumerated = record.enumerated.unwrap();
    assert_eq!(enumerated.segment_parts, vec![2, 1, 1, 0], "3 rows, 2 rows, 2 rows, none at 2 a part");
    assert_eq!((e.part_count, e.listed, record.progress.attachments_listed), (4, 7, 7));
    let listed: Vec<_> =
        w.inventory(&w.job).iter().flat_map(|b| lines_of(b)).map(|l| l.attachment_id).collect();
    let expected: Vec<_> = w.in_scope.iter().map(|a| a.attachment_id.clone()).collect();
    assert_eq!(listed, expected, "upload order across segments");
    w.write_parts(&e).await;
    w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    let rows = csv_records(&w.object(&w.job.manifest_key()), true);
    let ids: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, expected.iter().map(|a| a.to_string()).collect::<Vec<_>>());
}

/// A segment or Close step out of its place is refused and writes nothing: before the plan, a
/// segment the plan does not have, a Close before every segment is listed.
#[tokio::test]
async fn segment_steps_out_of_place_are_refused() {
    let w = world(7, ExportFormat::Csv).await;
    let e = w.enumerator(3);
    let time = || Duration::from_secs(900);
    // (7 rows in scope and 7 not, 3 a part: split in 4.)
    let early = e.segment(&w.job, 0, time).await.unwrap_err();
    assert_eq!(early.code(), "StatusConflict", "{early}");
    assert_eq!(e.close(&w.job).await.unwrap_err().code(), "StatusConflict");
    let plan = e.plan(&w.job).await.unwrap();
    assert_eq!(plan.segments, 4);
    assert_eq!(e.plan(&w.job).await.unwrap(), plan, "a retried Plan answers the recorded plan");
    let beyond = e.segment(&w.job, 4, time).await.unwrap_err();
    assert_eq!(beyond.code(), "BadRequestException", "{beyond}");
    e.segment(&w.job, 0, time).await.unwrap();
    let open = e.close(&w.job).await.unwrap_err();
    assert_eq!(open.code(), "BadRequestException");
    assert!(open.to_string().contains("1 of its 4 listing segments"), "{open}");
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert!(record.enumerated.is_none(), "nothing recorded");
    assert!(!w.objects.objects.lock().unwrap().contains_key(&w.job.parts_list_key()));
}

/// A small export is one segment: its range's catalog rows (3 in scope, 3 not) fit in the part's
/// worth the plan reads first; one row more and it is split.
#[tokio::test]
async fn an_export_that_fits_in_one_part_is_one_segment() {
    let w = world(3, ExportFormat::Csv).await;
    assert_eq!(w.enumerator(6).plan(&w.job).await.unwrap().segments, 1);
    let w = world(3, ExportFormat::Csv).await;
    assert_eq!(w.enumerator(5).plan(&w.job).await.unwrap().segments, 4);
    let w = world(0, ExportFormat::Csv).await;
    assert_eq!(w.enumerator(3).plan(&w.job).await.unwrap().segments, 1);
}

#[tokio::test]
async fn parts_sign_every_line_and_finalize_assembles_one_manifest() {
    let w = world(7, ExportFormat::Csv).await;
    let e = w.enumerate_all(3).await;
    w.write_parts(&e).await;
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!(record.progress.parts_written, 3);
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();

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
        // The file's link: to the download function, naming this file of this export.
        let token = row[13].strip_prefix("https://dl.invalid/f/").expect("a download link");
        let claims = crate::domain::link_token::decode(token).unwrap().claims().clone();
        assert_eq!((&claims.attachment_id, claims.uploaded_at), (&a.attachment_id, a.uploaded_at));
        assert_eq!((claims.owner.clone(), claims.export_id), (w.job.owner.clone(), w.job.export_id));
    }
    let summary: Summary = serde_json::from_slice(&w.object(&w.job.summary_key())).unwrap();
    assert_eq!((summary.manifest.lines, summary.attachment_count), (8, 7));
    assert_eq!(summary.manifest.sha256, result.manifest_sha256);

    let keys: Vec<String> = w.objects.objects.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            w.job.manifest_key(),
            w.job.coverage_key(),
            w.job.errors_key(),
            w.job.statement_key(),
            w.job.statement_signature_key(),
            w.job.summary_key()
        ],
        "intermediates removed"
    );
    assert_eq!(w.object(&w.job.errors_key()), crate::domain::reports::errors_header().unwrap());
    assert_eq!((result.error_count, summary.error_count, summary.objects_checked), (0, 0, true));
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::Succeeded);
    assert_eq!(record.result.as_ref(), Some(&result));
    let published = w.notifier.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!((published[0].status, published[0].attachment_count), (ExportStatus::Succeeded, Some(7)));

    // A duplicate Finalize changes nothing and announces nothing new.
    let again = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    assert_eq!(again, result);
    assert_eq!(w.notifier.published.lock().unwrap().len(), 1);
}

/// At the size where S3's part rules bite: groups of parts are assembled into objects, and the
/// groups into the manifest with every part but the last at least 5 MiB (the fake refuses
/// otherwise, as S3 does) — large ones copied server-side, small ones read and topped up. Hashed
/// 1 MiB a pass, Finalize takes many passes, each resuming the SHA-256 from the checkpoint, and
/// the digest is the whole file's.
#[tokio::test]
async fn groups_assemble_within_s3s_part_rules_and_the_hash_resumes_across_passes() {
    // Four segments of 12,000 rows, two parts each; groups of two parts are over 5 MiB.
    let w = world(48_000, ExportFormat::Csv).await;
    let e = w.enumerate_all(6_000).await;
    w.write_parts(&e).await;
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    let enumerated = record.enumerated.unwrap();
    assert_eq!((enumerated.group_parts, enumerated.groups()), (2, e.part_count.div_ceil(2)));
    let groups: Vec<u32> = serde_json::from_slice(&w.object(&w.job.groups_list_key())).unwrap();
    assert_eq!(groups, (1..=enumerated.groups()).collect::<Vec<_>>(), "the AssembleGroups Map's items");
    let part_bytes: Vec<usize> =
        (1..=e.part_count).map(|p| w.object(&w.job.manifest_part_key(p)).len()).collect();
    let expected: Vec<u8> = (1..=e.part_count).flat_map(|p| w.object(&w.job.manifest_part_key(p))).collect();
    assert!(expected.len() > 3 * 5 * 1024 * 1024, "large enough for several upload parts: {part_bytes:?}");

    let finisher = Finisher { pass_bytes: Some(1024 * 1024), ..w.finisher() };
    for group in groups.into_iter().rev() {
        finisher.assemble_group(&w.job, group).await.unwrap();
    }
    let mut passes = 0;
    let result = loop {
        passes += 1;
        match finisher.finalize(&w.job, &w.enumeration(&e), || Duration::from_secs(900)).await.unwrap() {
            Finalized::Done(result) => break *result,
            Finalized::Hashing { hashed, bytes } => {
                assert!(hashed < bytes);
                assert_eq!(hashed, passes * 1024 * 1024, "each pass hashes its budget, on from the last");
            }
        }
    };
    let manifest = w.object(&w.job.manifest_key());
    assert!(manifest == expected, "the manifest is its parts in order");
    // One pass a MiB; errors.csv (its header) fits in what the last one has left.
    assert_eq!(passes as usize, manifest.len().div_ceil(1024 * 1024));
    assert_eq!(result.manifest_sha256, hex::encode(&Sha256::digest(&manifest)), "the whole file's SHA-256");
    assert_eq!(result.manifest_bytes, manifest.len() as u64);
    assert_eq!(result.attachment_count, 48_000);
    let summary: Summary = serde_json::from_slice(&w.object(&w.job.summary_key())).unwrap();
    assert_eq!(summary.manifest.lines, 48_001);
    let (whole, _ranged) = *w.objects.copies.lock().unwrap();
    assert!(
        whole >= 3,
        "groups over 5 MiB are copied into the manifest server-side, not read: {part_bytes:?}"
    );
    assert!(
        w.objects.list(&format!("{}parts/", w.job.prefix())).await.unwrap().is_empty(),
        "intermediates removed"
    );

    // With no time left, each pass still hashes a chunk, so the loop ends.
    let w = world(2_000, ExportFormat::Jsonl).await;
    let e = w.enumerate_all(500).await;
    w.write_parts(&e).await;
    let finisher = Finisher { pass_bytes: Some(64 * 1024), ..w.finisher() };
    let groups: Vec<u32> = serde_json::from_slice(&w.object(&w.job.groups_list_key())).unwrap();
    for group in groups {
        finisher.assemble_group(&w.job, group).await.unwrap();
    }
    let mut passes = 0;
    let result = loop {
        passes += 1;
        assert!(passes < 1_000);
        if let Finalized::Done(result) =
            finisher.finalize(&w.job, &w.enumeration(&e), || Duration::ZERO).await.unwrap()
        {
            break *result;
        }
    };
    assert!(passes > 2, "{passes} passes");
    assert_eq!(result.manifest_sha256, hex::encode(&Sha256::digest(w.object(&w.job.manifest_key()))));
}

/// A part's checks keep to its share of the export's check rate (`MAX_CHECK_RATE` / the 8 part
/// workers): 40 checks at 10 a second take four seconds (of paused time: nothing waits for real);
/// without a cap, or without checks, they start at once.
#[tokio::test(start_paused = true)]
async fn a_parts_object_checks_keep_to_its_share_of_the_check_rate() {
    let w = world(40, ExportFormat::Csv).await;
    let e = w.enumerate_all(100).await;
    assert_eq!(e.part_count, 1);
    let paced = PartWriter { max_check_rate: 80, ..w.world.part_writer(&["attachments"]) };
    let started = tokio::time::Instant::now();
    assert_eq!(paced.run(&w.job, 1, e.signed_at.unwrap()).await.unwrap(), 40);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(3_900) && took < Duration::from_secs(5), "{took:?}");
    let free = w.world.part_writer(&["attachments"]);
    let started = tokio::time::Instant::now();
    free.run(&w.job, 1, e.signed_at.unwrap()).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(100), "no cap: {:?}", started.elapsed());
}

#[tokio::test]
async fn an_empty_account_gets_a_header_only_manifest() {
    let w = world(0, ExportFormat::Csv).await;
    let e = w.enumerate_all(3).await;
    assert_eq!((e.part_count, e.listed, w.parts(&e).len()), (0, 0, 0));
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    assert_eq!(w.object(&w.job.manifest_key()), empty_manifest(ExportFormat::Csv).unwrap());
    assert_eq!(result.attachment_count, 0);
}

#[tokio::test]
async fn jsonl_manifests_have_no_header() {
    let w = world(4, ExportFormat::Jsonl).await;
    let e = w.enumerate_all(3).await;
    w.write_parts(&e).await;
    w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
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
    // Refused until the execution itself is in its failure step: a claim alone ends nothing.
    let refused = w.finisher().record_failure(&w.job).await.unwrap_err();
    assert_eq!(refused.code(), "BadRequestException");
    assert_eq!(w.store.record(&w.job.owner, &w.job.export_id).unwrap().status, ExportStatus::Running);
    w.workflow.enter_failure(&w.job.export_id, error);
    w.finisher().record_failure(&w.job).await.unwrap();
    w.finisher().record_failure(&w.job).await.unwrap();
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    assert_eq!(
        record.error.unwrap(),
        FailureInfo { code: "TransientError".into(), message: "The service is busy.".into() }
    );
    assert!(w.store.throttle(&w.job.owner).await.unwrap().is_none());
    assert!(w.objects.objects.lock().unwrap().is_empty(), "intermediates removed");
    let published = w.notifier.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].error_code.as_deref(), Some("TransientError"));
    // No step runs on a FAILED export.
    for e in [
        w.enumerator(2).plan(&w.job).await.unwrap_err(),
        w.enumerator(2).segment(&w.job, 0, || Duration::from_secs(60)).await.unwrap_err(),
        w.enumerator(2).close(&w.job).await.unwrap_err(),
    ] {
        assert_eq!(e.code(), "StatusConflict");
    }
}

#[tokio::test]
async fn a_late_failure_report_leaves_a_succeeded_export_and_its_window_alone() {
    let w = world(3, ExportFormat::Csv).await;
    let e = w.enumerate_all(2).await;
    w.write_parts(&e).await;
    w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    w.workflow.enter_failure(&w.job.export_id, StepError { error: "States.Timeout".into(), cause: None });
    w.finisher().record_failure(&w.job).await.unwrap();
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::Succeeded);
    assert!(w.store.throttle(&w.job.owner).await.unwrap().is_some(), "the window stays taken");
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
    let part = describe_failure(&StepError {
        error: "States.ExceedToleratedFailureThreshold".into(),
        cause: Some("The specified tolerated failure threshold was exceeded".into()),
    });
    assert!(part.message.starts_with("A part of the export could not be written"), "{}", part.message);
    let opaque = describe_failure(&StepError { error: "Weird".into(), cause: Some("not json".into()) });
    assert_eq!(opaque.message, "The export failed (Weird).");
}

/// Whoever may invoke the step functions cannot change what defines an export through their input:
/// a part with another signing time or number is refused; a part's checks, and the statement's
/// cutoff, are the record's; Finalize before every part is written, or with fewer parts than the
/// enumeration recorded, is refused and leaves the export RUNNING with no statement.
#[tokio::test]
async fn forged_step_inputs_cannot_change_what_defines_the_export() {
    let w = world(5, ExportFormat::Csv).await;
    let e = w.enumerate_all(2).await;
    assert_eq!(e.part_count, 3);
    let signed_at = e.signed_at.unwrap();
    let writer = w.world.part_writer(&["attachments"]);
    let later = signed_at.plus(Duration::from_secs(86_400));
    let future = writer.run(&w.job, 1, later).await.unwrap_err();
    assert_eq!(future.code(), "BadRequestException", "{future}");
    assert!(future.to_string().contains("signedAt"), "{future}");
    assert_eq!(writer.run(&w.job, 4, signed_at).await.unwrap_err().code(), "BadRequestException");
    assert!(w.objects.head(&w.job.manifest_part_key(1)).await.unwrap().is_none(), "nothing written");

    // A part whose input says "no checks" is checked all the same: the record asks for checks.
    let missing = &w.in_scope[0];
    w.attachments.objects.lock().unwrap().remove(&(missing.bucket.clone(), missing.object_key.clone()));
    let unchecked = ExportJob { verify_objects: false, ..w.job.clone() };
    for part in 1..=2 {
        writer.run(&unchecked, part, signed_at).await.unwrap();
    }
    let errors = String::from_utf8(w.object(&w.job.errors_part_key(1))).unwrap();
    assert!(errors.contains("missing-object"), "{errors}");

    let early = w.finish(&w.job, &w.enumeration(&e)).await.unwrap_err();
    assert_eq!(early.code(), "BadRequestException", "{early}");
    writer.run(&w.job, 3, signed_at).await.unwrap();
    let fewer = Enumeration { part_count: 2, ..w.enumeration(&e) };
    let short = w.finish(&w.job, &fewer).await.unwrap_err();
    assert!(short.to_string().contains("partCount"), "{short}");
    assert_eq!(w.store.record(&w.job.owner, &w.job.export_id).unwrap().status, ExportStatus::Running);
    assert!(w.objects.head(&w.job.statement_key()).await.unwrap().is_none(), "no statement");

    // The input's cutoff is not the statement's: the record's is.
    let earlier = ExportJob { cutoff: w.job.cutoff.plus(Duration::from_secs(1)), ..w.job.clone() };
    w.finish(&earlier, &w.enumeration(&e)).await.unwrap();
    let statement = crate::domain::statement::parse(&w.object(&w.job.statement_key())).unwrap();
    assert_eq!(statement.cutoff, w.job.cutoff);
}

/// An object the attachment bucket refuses to read (SSE-KMS under a key write-manifest may not use)
/// is an `object-unreadable` row, not a failed export and not a link.
#[tokio::test]
async fn a_refused_head_is_an_object_unreadable_row() {
    let w = world(4, ExportFormat::Csv).await;
    let refused = &w.in_scope[1];
    w.attachments.refuse(&refused.bucket, &refused.object_key);
    let e = w.enumerate_all(10).await;
    w.write_parts(&e).await;
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    let errors = csv_records(&w.object(&w.job.errors_key()), true);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0][4], "object-unreadable");
    assert_eq!((result.attachment_count, result.error_count), (3, 1));
}

/// What a tenant reads of a failure never quotes the deployment: a configuration error's detail
/// and a platform error's message (ARNs, request ids) stay in the logs; our own codes' messages,
/// written for the caller, are shown.
#[test]
fn a_failure_shows_the_tenant_a_fixed_message_not_the_deployments_details() {
    let arn = "arn:aws:kms:us-east-1:123456789012:key/0b7e3c1a";
    let cause = |message: &str| Some(format!(r#"{{"errorType": "x", "errorMessage": "{message}"}}"#));
    let configuration = describe_failure(&StepError {
        error: "ConfigurationError".into(),
        cause: cause(&format!("environment variable STATEMENT_KEY_ID {arn} is disabled")),
    });
    assert_eq!(configuration.code, "ConfigurationError");
    assert!(!configuration.message.contains(arn) && !configuration.message.contains("STATEMENT_KEY_ID"));
    assert!(configuration.message.contains("operator"), "{}", configuration.message);
    let platform = describe_failure(&StepError {
        error: "Lambda.ServiceException".into(),
        cause: cause(&format!("User: {arn} is not authorized")),
    });
    assert_eq!(platform.message, "The export failed (Lambda.ServiceException).");
    let ours = describe_failure(&StepError {
        error: "TransientError".into(),
        cause: cause("The service is busy or briefly unavailable. Try again in a few minutes."),
    });
    assert_eq!(ours.message, "The service is busy or briefly unavailable. Try again in a few minutes.");
}

/// The world's export with every kind of bad row: one missing object, one size mismatch, one
/// object in a foreign bucket, one checksum mismatch and one unreadable catalog item; plus a
/// managed user and a managed room without any file. Returns the ids of the bad rows by problem.
fn spoil(w: &World) -> Vec<(String, &'static str)> {
    let a = &w.in_scope;
    w.attachments.objects.lock().unwrap().remove(&(a[0].bucket.clone(), a[0].object_key.clone()));
    w.attachments.put_head(&a[1].bucket, &a[1].object_key, a[1].size_bytes + 1, None);
    {
        let mut catalog = w.directory.attachments.lock().unwrap();
        let row = catalog
            .get_mut(&w.account)
            .unwrap()
            .iter_mut()
            .find(|r| r.attachment_id == a[2].attachment_id)
            .unwrap();
        row.bucket = "someone-elses-bucket".into();
    }
    w.attachments.put_head("someone-elses-bucket", &a[2].object_key, a[2].size_bytes, None);
    w.attachments.put_head(&a[4].bucket, &a[4].object_key, a[4].size_bytes, Some(&"ff".repeat(32)));
    // The catalog's own SHA-256 matches where S3 has one.
    w.attachments.put_head(
        &a[5].bucket,
        &a[5].object_key,
        a[5].size_bytes,
        Some(&a[5].sha256.to_uppercase()),
    );
    let unreadable = crate::domain::model::UnreadableAttachment {
        sort_key: format!("{}#{}", a[3].uploaded_at, "99999999-9999-4999-8999-999999999999"),
        account_id: w.account.to_string(),
        attachment_id: "99999999-9999-4999-8999-999999999999".into(),
        conversation_type: Some(ConversationType::Direct),
        conversation_id: a[3].conversation_id.to_string(),
        uploader_id: a[3].uploader_id.to_string(),
        file_name: "=cmd|' /C calc'!A0".into(),
        uploaded_at: Some(a[3].uploaded_at),
        deleted: false,
        detail: "sizeBytes is not a whole number of bytes".into(),
    };
    w.directory.unreadable.lock().unwrap().insert(w.account.clone(), vec![unreadable]);
    let idle = w.directory.add_user(&w.account, true);
    w.directory.add_room(&w.account, &idle);
    vec![
        (a[0].attachment_id.to_string(), "missing-object"),
        (a[1].attachment_id.to_string(), "size-mismatch"),
        (a[2].attachment_id.to_string(), "foreign-bucket"),
        ("99999999-9999-4999-8999-999999999999".to_owned(), "unreadable-row"),
        (a[4].attachment_id.to_string(), "checksum-mismatch"),
    ]
}

#[tokio::test]
async fn bad_rows_go_to_errors_csv_and_the_export_succeeds_with_errors() {
    let w = world(8, ExportFormat::Csv).await;
    let bad = spoil(&w);
    let e = w.enumerate_all(3).await;
    assert_eq!(e.listed, 9, "eight attachments and the unreadable item");
    w.write_parts(&e).await;
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();

    // Every other row is in the manifest, signed; no bad row is.
    let good: Vec<&Attachment> =
        w.in_scope.iter().filter(|a| !bad.iter().any(|(id, _)| *id == a.attachment_id.as_str())).collect();
    let manifest = csv_records(&w.object(&w.job.manifest_key()), true);
    let ids: Vec<&str> = manifest.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, good.iter().map(|a| a.attachment_id.as_str()).collect::<Vec<_>>());
    assert_eq!(result.attachment_count, 4);
    assert_eq!(result.total_bytes, good.iter().map(|a| a.size_bytes).sum::<u64>());

    // errors.csv: exactly the bad rows, in upload order, with their codes, guarded, no URL.
    let errors_body = w.object(&w.job.errors_key());
    let text = String::from_utf8(errors_body.clone()).unwrap();
    assert!(text.starts_with("attachment_id,conversation_id,uploader_id,file_name,problem,detail\r\n"));
    assert!(!text.contains("https://"), "{text}");
    let errors = csv_records(&errors_body, true);
    let mut listed: Vec<(String, String)> = errors.iter().map(|r| (r[0].clone(), r[4].clone())).collect();
    let mut expected: Vec<(String, String)> =
        bad.iter().map(|(id, code)| (id.clone(), (*code).to_owned())).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let unreadable = errors.iter().find(|r| r[4] == "unreadable-row").unwrap();
    assert_eq!(unreadable[3], "'=cmd|' /C calc'!A0", "the formula guard applies");
    assert!(errors.iter().find(|r| r[4] == "size-mismatch").unwrap()[5].contains("bytes"));

    assert_eq!(result.error_count, 5);
    let errors_file = result.errors.clone().unwrap();
    assert_eq!(errors_file.bytes, errors_body.len() as u64);
    assert_eq!(errors_file.sha256, hex::encode(&Sha256::digest(&errors_body)));
    let record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    assert_eq!(record.status, ExportStatus::SucceededWithErrors);
    let published = w.notifier.published.lock().unwrap().clone();
    assert_eq!(published[0].status, ExportStatus::SucceededWithErrors);
    assert!(w.store.throttle(&w.job.owner).await.unwrap().is_some(), "the window is used");

    // coverage.csv: every managed user and managed room, the idle ones with zeros.
    let coverage = csv_records(&w.object(&w.job.coverage_key()), true);
    let users: Vec<&Vec<String>> = coverage.iter().filter(|r| r[0] == "user").collect();
    let rooms: Vec<&Vec<String>> = coverage.iter().filter(|r| r[0] == "room").collect();
    assert_eq!((users.len(), rooms.len()), (2, 2), "{coverage:?}");
    let uploader = w.in_scope[0].uploader_id.as_str();
    let busy = users.iter().find(|r| r[1] == uploader).unwrap();
    let first = good.iter().map(|a| a.uploaded_at).min().unwrap().to_string();
    let last = good.iter().map(|a| a.uploaded_at).max().unwrap().to_string();
    let bytes = good.iter().map(|a| a.size_bytes).sum::<u64>().to_string();
    assert_eq!(busy[3..], ["4".to_owned(), bytes, first, last, "5".to_owned()]);
    let idle = users.iter().find(|r| r[1] != uploader).unwrap();
    assert_eq!(idle[3..], ["0", "0", "", "", "0"]);
    let room = w.in_scope[0].conversation_id.as_str();
    let room_files: Vec<&&Attachment> =
        good.iter().filter(|a| a.conversation_type == ConversationType::Room).collect();
    let busy_room = rooms.iter().find(|r| r[1] == room).unwrap();
    assert_eq!(busy_room[2], "R");
    assert_eq!(busy_room[3], room_files.len().to_string());
    assert_eq!(busy_room[7], "1", "the missing object of a[0] was in the room");
    let idle_room = rooms.iter().find(|r| r[1] != room).unwrap();
    assert_eq!(idle_room[3..], ["0", "0", "", "", "0"]);

    let summary: Summary = serde_json::from_slice(&w.object(&w.job.summary_key())).unwrap();
    assert_eq!((summary.error_count, summary.objects_checked), (5, true));
    assert_eq!(
        (summary.coverage.users, summary.coverage.users_with_files, summary.coverage.users_without_files),
        (2, 1, 1)
    );
    assert_eq!(
        (summary.coverage.rooms, summary.coverage.rooms_with_files, summary.coverage.rooms_without_files),
        (2, 1, 1)
    );
    // A retried Finalize of the delivered export changes nothing.
    assert_eq!(w.finish(&w.job, &w.enumeration(&e)).await.unwrap(), result);
}

#[tokio::test]
async fn a_retried_part_rewrites_the_same_errors_and_counts_them_once() {
    let w = world(8, ExportFormat::Jsonl).await;
    spoil(&w);
    let e = w.enumerate_all(3).await;
    w.write_parts(&e).await;
    let first: Vec<Vec<u8>> = (1..=e.part_count).map(|p| w.object(&w.job.errors_part_key(p))).collect();
    w.write_parts(&e).await;
    let again: Vec<Vec<u8>> = (1..=e.part_count).map(|p| w.object(&w.job.errors_part_key(p))).collect();
    assert_eq!(first, again);
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    assert_eq!((result.attachment_count, result.error_count), (4, 5));
    let manifest = String::from_utf8(w.object(&w.job.manifest_key())).unwrap();
    assert_eq!(manifest.lines().count(), 4, "JSON Lines: the good rows only");
}

#[tokio::test]
async fn without_object_checks_only_the_bucket_is_checked() {
    let mut w = world(8, ExportFormat::Csv).await;
    let mut record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    record.verify_objects = false;
    w.store.insert(record.clone());
    w.job = ExportJob::from(&record);
    assert!(!w.job.verify_objects);
    spoil(&w);
    let e = w.enumerate_all(3).await;
    w.write_parts(&e).await;
    assert_eq!(w.attachments.heads.load(std::sync::atomic::Ordering::SeqCst), 0, "no HEAD at all");
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    let errors = csv_records(&w.object(&w.job.errors_key()), true);
    let mut codes: Vec<&str> = errors.iter().map(|r| r[4].as_str()).collect();
    codes.sort();
    assert_eq!(codes, ["foreign-bucket", "unreadable-row"]);
    assert_eq!((result.attachment_count, result.error_count), (7, 2));
    let summary: Summary = serde_json::from_slice(&w.object(&w.job.summary_key())).unwrap();
    assert!(!summary.objects_checked, "the summary says the objects were not checked");
}

/// A row in this account's partition whose object key is another tenant's object (the signing
/// identity could read it) is a `foreign-key` error row and never a link, with object checks or
/// without; so is a key that climbs out of the account's folder.
#[tokio::test]
async fn a_row_pointing_at_another_tenants_object_is_never_signed() {
    for verify_objects in [true, false] {
        let mut w = world(6, ExportFormat::Csv).await;
        let mut record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
        record.verify_objects = verify_objects;
        w.store.insert(record.clone());
        w.job = ExportJob::from(&record);
        let victim = AccountId::random();
        let foreign = [format!("{victim}/secret.pdf"), format!("{}/../{victim}/secret.pdf", w.account)];
        {
            let mut catalog = w.directory.attachments.lock().unwrap();
            let rows = catalog.get_mut(&w.account).unwrap();
            for (row, key) in
                rows.iter_mut().filter(|r| r.uploader_id == w.in_scope[0].uploader_id).zip(&foreign)
            {
                row.object_key = key.clone();
                // The object exists, with the catalog's size: only the key gives it away.
                w.attachments.put_head(&row.bucket, key, row.size_bytes, None);
            }
        }
        let e = w.enumerate_all(4).await;
        w.write_parts(&e).await;
        let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
        let errors = csv_records(&w.object(&w.job.errors_key()), true);
        let codes: Vec<&str> = errors.iter().map(|r| r[4].as_str()).collect();
        assert_eq!(codes, ["foreign-key", "foreign-key"], "verifyObjects {verify_objects}");
        assert_eq!((result.attachment_count, result.error_count), (4, 2));
        let manifest = String::from_utf8(w.object(&w.job.manifest_key())).unwrap();
        assert!(!manifest.contains(victim.as_str()), "no link to the other tenant's object");
        assert!(!manifest.contains("/../"), "no link that climbs out of the folder");
    }
}

/// Finalize writes a statement that binds the manifest and both reports (key, bytes, lines,
/// SHA-256), signed over its exact bytes; the account's next export chains to it, and the first
/// has no predecessor. A failed export in between is not a link.
#[tokio::test]
async fn the_statement_binds_the_files_is_signed_and_chains_to_the_accounts_previous_one() {
    use crate::domain::statement;
    use crate::ports::StatementSigner;
    let mut w = world(5, ExportFormat::Csv).await;
    let e = w.enumerate_all(2).await;
    w.write_parts(&e).await;
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    let file = result.statement.clone().expect("a statement");
    let bytes = w.object(&w.job.statement_key());
    assert_eq!((file.bytes, file.sha256.clone()), (bytes.len() as u64, hex::encode(&Sha256::digest(&bytes))));
    assert_eq!(file.key_id, "fake-statement-key-1");
    let first = statement::parse(&bytes).unwrap();
    assert_eq!(
        (first.owner.clone(), first.export_id, first.cutoff),
        (w.job.owner.clone(), w.job.export_id, w.job.cutoff)
    );
    assert_eq!(first.previous, None, "the account's first statement has no predecessor");
    for (digest, key) in [
        (&first.manifest, w.job.manifest_key()),
        (&first.errors, w.job.errors_key()),
        (&first.coverage, w.job.coverage_key()),
    ] {
        assert_eq!(digest, &statement::FileDigest::of(key.clone(), &w.object(&key)), "{key}");
    }
    assert_eq!((first.manifest.lines, first.errors.lines), (6, 1), "header + 5 rows; header only");
    let key = statement::public_key(&w.statement_key.public_key_der().await.unwrap()).unwrap();
    let sig = w.object(&w.job.statement_signature_key());
    assert_eq!(statement::verify_signature(&key, &bytes, &sig), Ok(()));
    // A duplicate Finalize that ran before the first recorded the outcome (the record still
    // RUNNING, the parts still there) writes the very same statement, later: its SHA-256 on the
    // record matches whichever copy was stored last.
    let mut running = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    // (And its listing not yet begun, so its inventory parts are written again.)
    (running.status, running.result, running.plan) = (ExportStatus::Running, None, None);
    w.store.insert(running);
    w.store.forget_segments(&w.job.owner, &w.job.export_id);
    let replayed = w.enumerate_all(2).await;
    assert_eq!(replayed.signed_at, e.signed_at);
    w.write_parts(&e).await;
    w.clock.advance(Duration::from_secs(90));
    let again = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    assert_eq!(w.object(&w.job.statement_key()), bytes, "the same bytes, whatever the clock says");
    assert_eq!(again.statement.unwrap().sha256, file.sha256);

    // A failed export, then a delivered one, a week later each: the delivered one chains to the first.
    let next_job = |days: u64| {
        w.clock.advance(Duration::from_secs(days * 86_400));
        let record = ExportRecord::new_request(
            w.job.owner.clone(),
            ExportFormat::Csv,
            RequestedBy { principal: "p".into(), via: Via::Api, person: None },
            None,
            w.clock.now(),
        );
        (record.clone(), ExportJob::from(&record))
    };
    let (failed, failed_job) = next_job(8);
    let (second, second_job) = next_job(8);
    w.store.insert(failed);
    w.workflow
        .enter_failure(&failed_job.export_id, StepError { error: "TransientError".into(), cause: None });
    w.finisher().record_failure(&failed_job).await.unwrap();
    assert!(matches!(
        w.store.admit(&second, Duration::from_secs(604_800)).await.unwrap(),
        Admission::Accepted { .. }
    ));
    w.job = second_job;
    let e = w.enumerate_all(10).await;
    w.write_parts(&e).await;
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    let next = statement::parse(&w.object(&w.job.statement_key())).unwrap();
    assert_eq!(
        next.previous,
        Some(statement::ChainLink {
            export_id: first.export_id,
            cutoff: first.cutoff,
            statement_sha256: file.sha256
        })
    );
    assert_ne!(result.statement.unwrap().sha256, next.previous.unwrap().statement_sha256);

    // KMS unavailable: Finalize fails (the state machine retries), nothing is recorded as delivered.
    let w = world(1, ExportFormat::Csv).await;
    let e = w.enumerate_all(10).await;
    w.write_parts(&e).await;
    w.statement_key.unavailable.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = w.finish(&w.job, &w.enumeration(&e)).await.unwrap_err();
    assert_eq!(err.code(), "TransientError");
    assert_eq!(w.store.record(&w.job.owner, &w.job.export_id).unwrap().status, ExportStatus::Running);
}

/// An incremental export (`job.since`) lists exactly the in-scope files uploaded after `since`,
/// and its summary and statement say the window.
#[tokio::test]
async fn an_incremental_export_holds_exactly_the_files_after_since() {
    use crate::domain::statement;
    let mut w = world(9, ExportFormat::Csv).await;
    // Attachment i was uploaded i minutes after 2026-01-01T00:00Z; since = attachment 4's time.
    let since = w.in_scope[4].uploaded_at;
    // As StartDataExport records it: the steps read it from the record.
    let mut record = w.store.record(&w.job.owner, &w.job.export_id).unwrap();
    record.since = Some(since);
    w.store.insert(record.clone());
    w.job = ExportJob::from(&record);
    let e = w.enumerate_all(2).await;
    w.write_parts(&e).await;
    let result = w.finish(&w.job, &w.enumeration(&e)).await.unwrap();
    let rows = csv_records(&w.object(&w.job.manifest_key()), true);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let expected: Vec<String> = w.in_scope[5..].iter().map(|a| a.attachment_id.to_string()).collect();
    assert_eq!(ids, expected, "strictly after since, up to the cutoff");
    assert_eq!(result.attachment_count, 4);
    let summary: Summary = serde_json::from_slice(&w.object(&w.job.summary_key())).unwrap();
    assert_eq!((summary.since, summary.cutoff), (Some(since), w.job.cutoff));
    let signed = statement::parse(&w.object(&w.job.statement_key())).unwrap();
    assert_eq!(signed.since, Some(since));
    // The manifest, the reports and the summary carry the window as user metadata.
    for key in [w.job.manifest_key(), w.job.errors_key(), w.job.coverage_key(), w.job.summary_key()] {
        let metadata = w.objects.metadata.lock().unwrap().get(&key).cloned().unwrap_or_default();
        assert_eq!(metadata.get("export-window-since"), Some(&since.to_string()), "{key}");
        assert_eq!(metadata.get("export-window-cutoff"), Some(&w.job.cutoff.to_string()), "{key}");
    }
}

/// A self-service user's export (DESIGN §15), through Plan, the segments, the parts, the groups
/// and Finalize: exactly their own DIRECT and GROUP uploads, in both accounts, and every file of
/// the room they created, whoever uploaded it; none of anyone else's DIRECT or GROUP files, none
/// of their uploads to a room someone else created, none deleted, none after the cutoff. Each row
/// says why it is theirs; each link names its file's own account; the statement is the user's.
#[tokio::test]
async fn a_users_export_is_their_uploads_and_their_rooms_files_across_accounts() {
    use crate::domain::ids::{RoomId, UserId};
    use crate::domain::manifest::InScopeBecause;
    use crate::domain::owner::ExportOwner;
    let world = crate::memory::World::at("2026-11-24T10:00:00Z");
    let (hosting, elsewhere) = (
        world.directory.add_account(AccountType::Enterprise, false),
        world.directory.add_account(AccountType::Enterprise, false),
    );
    let user = UserId::random();
    let someone = world.directory.add_user(&elsewhere, true);
    let my_room = world.directory.add_room(&hosting, &user);
    let their_room = world.directory.add_room(&elsewhere, &someone);
    let base = Timestamp::parse("2026-05-01T00:00:00Z").unwrap();
    let mut n = 0u64;
    let mut row =
        |account: &AccountId, uploader: &UserId, kind: ConversationType, conversation: ConversationId| {
            n += 1;
            Attachment {
                account_id: account.clone(),
                attachment_id: AttachmentId::random(),
                message_id: MessageId::random(),
                conversation_id: conversation,
                conversation_type: kind,
                uploader_id: uploader.clone(),
                file_name: format!("f{n}.txt"),
                content_type: "text/plain".into(),
                size_bytes: n,
                sha256: "00".repeat(32),
                bucket: "attachments".into(),
                object_key: format!("{account}/{n}"),
                uploaded_at: base.plus(Duration::from_secs(60 * n)),
                deleted: false,
            }
        };
    let room = |r: &RoomId| ConversationId::parse(r.as_str()).unwrap();
    let own_direct = row(&hosting, &user, ConversationType::Direct, ConversationId::random());
    let own_group_elsewhere = row(&elsewhere, &user, ConversationType::Group, ConversationId::random());
    let in_my_room = row(&hosting, &someone, ConversationType::Room, room(&my_room));
    let mine_in_my_room = row(&hosting, &user, ConversationType::Room, room(&my_room));
    let others_direct = row(&hosting, &someone, ConversationType::Direct, ConversationId::random());
    let mine_in_their_room = row(&elsewhere, &user, ConversationType::Room, room(&their_room));
    let mut deleted = row(&hosting, &user, ConversationType::Group, ConversationId::random());
    deleted.deleted = true;
    let mut later = row(&elsewhere, &user, ConversationType::Direct, ConversationId::random());
    later.uploaded_at = Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
    let all = [
        &own_direct,
        &own_group_elsewhere,
        &in_my_room,
        &mine_in_my_room,
        &others_direct,
        &mine_in_their_room,
        &deleted,
        &later,
    ];
    for a in all {
        world.directory.attachments.lock().unwrap().entry(a.account_id.clone()).or_default().push(a.clone());
        world.attachments.put_head(&a.bucket, &a.object_key, a.size_bytes, None);
    }
    let owner = ExportOwner::User(user.clone());
    let record = ExportRecord::new_request(
        owner.clone(),
        ExportFormat::Csv,
        RequestedBy {
            principal: "arn:aws:sts::1:assumed-role/chat-user/sam".into(),
            via: Via::Api,
            person: None,
        },
        None,
        world.clock.now(),
    );
    let job = ExportJob::from(&record);
    assert!(matches!(
        world.store.admit(&record, Duration::from_secs(604_800)).await.unwrap(),
        Admission::Accepted { .. }
    ));
    let w = World { world, job: job.clone(), in_scope: Vec::new(), account: hosting.clone() };

    let e = w.enumerate_all(2).await;
    let plan = w.store.record(&owner, &job.export_id).unwrap().plan.unwrap();
    assert_eq!(plan.segments, 2, "their uploads, then the one room they created");
    w.write_parts(&e).await;
    let result = w.finish(&job, &w.enumeration(&e)).await.unwrap();
    assert_eq!(result.attachment_count, 4);
    assert!(result.manifest_key.starts_with(&format!("exports/users/{user}/")), "{}", result.manifest_key);

    let manifest = w.object(&result.manifest_key);
    let rows = csv_records(&manifest, false);
    assert_eq!(rows[0].last().map(String::as_str), Some("in_scope_because"), "the column, last");
    let listed: Vec<(String, String)> = rows[1..].iter().map(|r| (r[0].clone(), r[15].clone())).collect();
    let expected = [
        (&own_direct, InScopeBecause::OwnUpload),
        (&own_group_elsewhere, InScopeBecause::OwnUpload),
        (&in_my_room, InScopeBecause::CreatedRoom),
        (&mine_in_my_room, InScopeBecause::CreatedRoom),
    ];
    assert_eq!(
        listed,
        expected
            .iter()
            .map(|(a, why)| (a.attachment_id.to_string(), why.as_str().to_owned()))
            .collect::<Vec<_>>(),
        "their uploads in upload order, then their room's files"
    );
    for (r, (a, _)) in rows[1..].iter().zip(expected) {
        assert_eq!(r[6], "", "no uploader's address from any account's directory");
        let token = r[13].strip_prefix("https://dl.invalid/f/").expect("a download link");
        let claims = crate::domain::link_token::decode(token).unwrap().claims().clone();
        assert_eq!((claims.owner.clone(), claims.account_id.clone()), (owner.clone(), a.account_id.clone()));
    }
    let statement = crate::domain::statement::parse(&w.object(&job.statement_key())).unwrap();
    assert_eq!(statement.owner, owner);
    assert!(w.notifier.replies.lock().unwrap().is_empty(), "asked through the API: no Assistant reply");
}

/// A user's export that the Assistant started ends with the Assistant's reply (DESIGN §15): the
/// manifest link (the export's own key made it; it works as long as the manifest's links) with the
/// count, or, for a failed export, the failure's message and that the user may ask again. Both go
/// to the reply port only: the state change carries no link.
#[tokio::test]
async fn an_assistant_export_ends_with_a_reply_that_links_the_manifest_or_says_why_it_failed() {
    use crate::domain::ids::UserId;
    use crate::domain::manifest_link;
    use crate::domain::owner::ExportOwner;
    use crate::ports::LinkKeys;
    let world = crate::memory::World::at("2026-11-24T10:00:00Z");
    let account = world.directory.add_account(AccountType::Enterprise, false);
    let begin = async |user: &UserId| {
        let record = ExportRecord::new_request(
            ExportOwner::User(user.clone()),
            ExportFormat::Csv,
            RequestedBy::new(crate::rules::assistant::ASSISTANT_PRINCIPAL, Via::Assistant),
            None,
            world.clock.now(),
        );
        world.store.admit(&record, Duration::from_secs(604_800)).await.unwrap();
        ExportJob::from(&record)
    };
    let (done, doomed) = (UserId::random(), UserId::random());
    let (done_job, doomed_job) = (begin(&done).await, begin(&doomed).await);
    let w = World { world, job: done_job.clone(), in_scope: Vec::new(), account };

    let e = w.enumerate_all(2).await;
    w.write_parts(&e).await;
    let result = w.finish(&done_job, &w.enumeration(&e)).await.unwrap();
    let replies = w.notifier.replies.lock().unwrap().clone();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let reply = &replies[0];
    assert_eq!((&reply.user_id, reply.export_id), (&done, done_job.export_id));
    assert_eq!((reply.attachment_count, reply.link_expires_at), (Some(0), Some(result.urls_expire_at)));
    let link = reply.link.as_deref().expect("the manifest link");
    let token = link.strip_prefix("https://dl.invalid/m/").expect("on the download function, under /m/");
    let key = w
        .link_keys
        .derive(w.link_keys.current_kid(), &done.clone().into(), &done_job.export_id)
        .await
        .unwrap();
    let claims = manifest_link::decode(token).unwrap().verify(&key).unwrap();
    assert_eq!((claims.user, claims.expires_at), (done.clone(), result.urls_expire_at));
    assert!(reply.reply.contains("no attachments") && reply.reply.contains(link), "{}", reply.reply);
    assert!(reply.reply.contains("2026-11-30 10:00 UTC"), "when the links stop: {}", reply.reply);
    let changes = serde_json::to_string(&*w.notifier.published.lock().unwrap()).unwrap();
    assert!(!changes.contains("dl.invalid"), "no link in a state change: {changes}");

    // The other export fails: the reply says why, and that the week is not spent.
    w.enumerator(2).plan(&doomed_job).await.unwrap();
    let error = StepError {
        error: "TransientError".into(),
        cause: Some(r#"{"errorType":"TransientError","errorMessage":"The service is busy."}"#.into()),
    };
    w.workflow.enter_failure(&doomed_job.export_id, error);
    w.finisher().record_failure(&doomed_job).await.unwrap();
    w.finisher().record_failure(&doomed_job).await.unwrap();
    let replies = w.notifier.replies.lock().unwrap().clone();
    assert_eq!(replies.len(), 2, "one reply per ended export, however often it is reported");
    let failed = &replies[1];
    assert_eq!(
        (&failed.user_id, failed.status, failed.link.as_deref()),
        (&doomed, ExportStatus::Failed, None)
    );
    assert_eq!(failed.error_code.as_deref(), Some("TransientError"));
    assert!(
        failed.reply.contains("The service is busy.") && failed.reply.contains("ask again"),
        "{}",
        failed.reply
    );
}
