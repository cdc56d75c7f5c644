//! The export pipeline (DESIGN §6): the rules behind the state machine's steps. Each step is safe to
//! run again with the same input: Enumerate rewrites the same part keys from the same cursor, a part
//! is rewritten whole, Finalize of a SUCCEEDED export only tidies up, and recording a failure twice
//! changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ids::{RoomId, UserId};
use crate::manifest::{InventoryLine, ManifestEncoder, Summary, SummaryManifest, empty_manifest};
use crate::model::{ConversationType, ExportRecord, ExportResult, ExportStatus, FailureInfo, TypeTotals};
use crate::payloads::{EnumerateRequest, EnumerateResponse, ExportJob, StepError};
use crate::ports::{
    AttachmentCatalog, Clock, ExportStore, Notifier, ObjectStore, StateChange, StatusChange, UploadedPart,
    UrlSigner,
};
use crate::scope::Scope;
use crate::time::Timestamp;

/// S3's smallest part of a multipart upload, except the last.
pub const MIN_MULTIPART_PART: usize = 5 * 1024 * 1024;

/// The most inventory parts an export may have: Enumerate's reply lists every part number (the
/// WriteParts Map's items), and 20,000 of them take about 110 KB of Step Functions' 256 KB payload.
pub const MAX_PARTS: u32 = 20_000;

/// User metadata on a manifest part: when its URLs stop working.
const EXPIRY_METADATA: &str = "urls-expire-at";

async fn running_record<S: ExportStore>(store: &S, job: &ExportJob) -> Result<ExportRecord> {
    let record = store.get(&job.account_id, &job.export_id).await?.ok_or_else(|| {
        Error::NotFound(format!("export {} of account {} not found", job.export_id, job.account_id))
    })?;
    match record.status {
        ExportStatus::Queued | ExportStatus::Running => Ok(record),
        status => Err(Error::StatusConflict(format!("export {} is already {status}", job.export_id))),
    }
}

/// The Enumerate step.
pub struct Enumerator<'a, C, S, O, K> {
    pub catalog: &'a C,
    pub store: &'a S,
    pub objects: &'a O,
    pub clock: &'a K,
    /// Attachments per inventory part.
    pub part_items: usize,
}

impl<C, S, O, K> Enumerator<'_, C, S, O, K>
where
    C: AttachmentCatalog,
    S: ExportStore,
    O: ObjectStore,
    K: Clock,
{
    /// Lists from `request.cursor` and writes whole inventory parts until the catalog is exhausted
    /// or `remaining()` runs short. The returned cursor is the last attachment of the last part
    /// written, so a retry or the next pass writes exactly the parts that follow.
    pub async fn run(
        &self,
        request: EnumerateRequest,
        remaining: impl Fn() -> Duration,
    ) -> Result<EnumerateResponse> {
        let job = &request.job;
        if request.part_count > MAX_PARTS {
            return Err(Error::BadRequest(format!(
                "partCount {} is more than an export can have ({MAX_PARTS})",
                request.part_count
            )));
        }
        running_record(self.store, job).await?;
        self.store
            .change_status(
                &job.account_id,
                &job.export_id,
                StatusChange::Running { started_at: self.clock.now() },
            )
            .await?;

        let users = self.catalog.users(&job.account_id).await?;
        let rooms = self.catalog.rooms(&job.account_id).await?;
        let scope = Scope::new(job.cutoff, &users, &rooms);
        let directory: HashMap<UserId, (String, bool)> =
            users.into_iter().filter_map(|u| Some((u.user_id?, (u.email, u.managed)))).collect();
        let room_names: HashMap<RoomId, String> =
            rooms.into_iter().filter_map(|r| Some((r.room_id?, r.name))).collect();

        let mut out = EnumerateResponse {
            cursor: request.cursor.clone(),
            done: false,
            part_count: request.part_count,
            listed: request.listed,
            totals: request.totals.clone(),
            parts: Vec::new(),
            signed_at: None,
        };
        let mut part = Vec::with_capacity(self.part_items * 512);
        let mut part_lines = 0usize;
        let mut pending_totals = out.totals.clone();
        let mut last_sort_key = String::new();
        let mut slowest_part = Duration::ZERO;
        let mut part_started = Instant::now();
        let mut page_cursor = request.cursor.clone();
        loop {
            let page =
                self.catalog.attachments(&job.account_id, job.cutoff, page_cursor.as_deref(), None).await?;
            for attachment in page.items {
                if !scope.includes(&attachment) {
                    continue;
                }
                let sort_key = attachment.sort_key();
                let totals = pending_totals.entry(attachment.conversation_type).or_default();
                // Saturating: counts from a step input (or sizes from the catalog) may be hostile.
                totals.count = totals.count.saturating_add(1);
                totals.bytes = totals.bytes.saturating_add(attachment.size_bytes);
                let conversation_name = match attachment.conversation_type {
                    ConversationType::Room => room_names
                        .get(&RoomId::from(&attachment.conversation_id))
                        .cloned()
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let (email, managed) = directory.get(&attachment.uploader_id).cloned().unwrap_or_default();
                let line = InventoryLine::new(attachment, conversation_name, email, managed);
                serde_json::to_writer(&mut part, &line)
                    .map_err(|e| Error::Internal(format!("inventory line: {e}")))?;
                part.push(b'\n');
                part_lines += 1;
                last_sort_key = sort_key;
                if part_lines == self.part_items {
                    self.write_part(job, &mut out, &mut part, part_lines, &last_sort_key, &pending_totals)
                        .await?;
                    part_lines = 0;
                    slowest_part = slowest_part.max(part_started.elapsed());
                    part_started = Instant::now();
                    // Stop at a part boundary while there is time for two more parts and the reply.
                    if remaining() < (slowest_part * 2).max(Duration::from_secs(5)) {
                        return Ok(out);
                    }
                }
            }
            match page.next {
                Some(next) => page_cursor = Some(next),
                None => break,
            }
        }
        if part_lines > 0 {
            self.write_part(job, &mut out, &mut part, part_lines, &last_sort_key, &pending_totals).await?;
        }
        out.done = true;
        out.parts = (1..=out.part_count).collect();
        out.signed_at = Some(self.clock.now());
        self.store.set_listed(&job.account_id, &job.export_id, out.listed).await?;
        tracing::info!(
            account = %job.account_id, export = %job.export_id, listed = out.listed, parts = out.part_count,
            "enumeration done"
        );
        Ok(out)
    }

    async fn write_part(
        &self,
        job: &ExportJob,
        out: &mut EnumerateResponse,
        part: &mut Vec<u8>,
        lines: usize,
        last_sort_key: &str,
        totals: &BTreeMap<ConversationType, TypeTotals>,
    ) -> Result<()> {
        let number = out.part_count + 1;
        let body = std::mem::replace(part, Vec::with_capacity(part.capacity()));
        self.objects.put(&job.inventory_part_key(number), body, "application/x-ndjson", &[]).await?;
        out.part_count = number;
        out.listed = out.listed.saturating_add(lines as u64);
        out.cursor = Some(last_sort_key.to_owned());
        out.totals = totals.clone();
        self.store.set_listed(&job.account_id, &job.export_id, out.listed).await
    }
}

/// The WriteParts step: one inventory part → one manifest part, every URL signed.
pub struct PartWriter<'a, S, O> {
    pub store: &'a S,
    pub objects: &'a O,
}

impl<S: ExportStore, O: ObjectStore> PartWriter<'_, S, O> {
    pub async fn run(&self, job: &ExportJob, part: u32, signer: &mut impl UrlSigner) -> Result<u64> {
        let record = running_record(self.store, job).await?;
        let inventory = self.objects.get(&job.inventory_part_key(part)).await?;
        let expires_at = signer.urls_expire_at().to_string();
        let mut encoder = ManifestEncoder::new(record.format, part == 1)?;
        let mut url = String::with_capacity(2048);
        for raw in inventory.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let line: InventoryLine = serde_json::from_slice(raw)
                .map_err(|e| Error::Internal(format!("inventory part {part} has a bad line: {e}")))?;
            signer.sign_get(&line.bucket, &line.object_key, &mut url);
            encoder.row(&line, &url, &expires_at)?;
        }
        let rows = encoder.rows();
        let body = encoder.finish()?;
        self.objects
            .put(
                &job.manifest_part_key(part),
                body,
                record.format.content_type(),
                &[(EXPIRY_METADATA, &expires_at)],
            )
            .await?;
        self.store.mark_part_written(&job.account_id, &job.export_id, part).await?;
        Ok(rows)
    }
}

/// What Finalize knows from the enumeration.
#[derive(Debug, Clone)]
pub struct Enumeration {
    pub part_count: u32,
    pub listed: u64,
    pub totals: BTreeMap<ConversationType, TypeTotals>,
    /// When the URLs were signed; without a part to say otherwise, they expire `url_expiry` later.
    pub signed_at: Timestamp,
    pub url_expiry: Duration,
}

/// The Finalize and RecordFailure steps.
pub struct Finisher<'a, S, O, N, K> {
    pub store: &'a S,
    pub objects: &'a O,
    pub notifier: &'a N,
    pub clock: &'a K,
}

impl<S, O, N, K> Finisher<'_, S, O, N, K>
where
    S: ExportStore,
    O: ObjectStore,
    N: Notifier,
    K: Clock,
{
    /// Assembles the manifest server-side, writes the summary, marks the export SUCCEEDED with its
    /// result, removes the intermediates and announces it. The manifest's key exists only once it
    /// is complete (a multipart upload is invisible until completed).
    pub async fn finalize(&self, job: &ExportJob, enumeration: &Enumeration) -> Result<ExportResult> {
        let record = self
            .store
            .get(&job.account_id, &job.export_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("export {} not found", job.export_id)))?;
        if record.status == ExportStatus::Succeeded
            && let Some(result) = record.result
        {
            // A retried or duplicate Finalize: the work is done; only tidy up.
            self.remove_intermediates(job).await?;
            return Ok(result);
        }
        if record.status != ExportStatus::Running {
            return Err(Error::StatusConflict(format!(
                "export {} is {}; cannot finalize",
                job.export_id, record.status
            )));
        }

        let (manifest_bytes, manifest_sha256, urls_expire_at) = self.assemble(job, enumeration).await?;
        let attachment_count = enumeration.listed;
        // Saturating: the counts come from the step input.
        let total_bytes = enumeration.totals.values().fold(0u64, |sum, t| sum.saturating_add(t.bytes));
        let lines =
            attachment_count.saturating_add(u64::from(record.format == crate::model::ExportFormat::Csv));
        let now = self.clock.now();
        let summary = Summary {
            account_id: job.account_id.clone(),
            export_id: job.export_id,
            cutoff: job.cutoff,
            generated_at: now,
            urls_expire_at,
            attachment_count,
            total_bytes,
            by_conversation_type: enumeration.totals.clone(),
            manifest: SummaryManifest {
                key: job.manifest_key(),
                format: record.format,
                bytes: manifest_bytes,
                lines,
                sha256: manifest_sha256.clone(),
            },
        };
        let summary_json =
            serde_json::to_vec_pretty(&summary).map_err(|e| Error::Internal(format!("summary.json: {e}")))?;
        self.objects.put(&job.summary_key(), summary_json, "application/json", &[]).await?;

        let result = ExportResult {
            attachment_count,
            total_bytes,
            by_conversation_type: enumeration.totals.clone(),
            manifest_key: job.manifest_key(),
            manifest_bytes,
            manifest_sha256,
            summary_key: job.summary_key(),
            urls_expire_at,
        };
        let change = StatusChange::Succeeded { completed_at: now, result: result.clone() };
        match self.store.change_status(&job.account_id, &job.export_id, change).await {
            Ok(()) => {}
            // A concurrent duplicate got there first with the same manifest: fine.
            Err(Error::StatusConflict(_)) if self.is_succeeded(job).await? => {}
            Err(e) => return Err(e),
        }
        self.remove_intermediates(job).await?;
        tracing::info!(
            account = %job.account_id, export = %job.export_id, attachments = attachment_count,
            manifest_bytes, "export succeeded"
        );
        self.announce(&record, ExportStatus::Succeeded, now, Some(&result), None).await;
        Ok(result)
    }

    async fn is_succeeded(&self, job: &ExportJob) -> Result<bool> {
        let record = self.store.get(&job.account_id, &job.export_id).await?;
        Ok(record.is_some_and(|r| r.status == ExportStatus::Succeeded))
    }

    /// Concatenates the manifest parts in order into the manifest, copying parts server-side where
    /// S3 allows (every part but the last must be at least 5 MiB) and re-uploading small ones in
    /// groups. Returns its size, SHA-256, and the earliest expiry of its URLs.
    async fn assemble(&self, job: &ExportJob, enumeration: &Enumeration) -> Result<(u64, String, Timestamp)> {
        let key = job.manifest_key();
        let content_type = job.format.content_type();
        let mut urls_expire_at = enumeration.signed_at.plus(enumeration.url_expiry);
        if enumeration.part_count == 0 {
            let body = empty_manifest(job.format)?;
            let digest = hex(&Sha256::digest(&body));
            let size = body.len() as u64;
            self.objects.put(&key, body, content_type, &[]).await?;
            return Ok((size, digest, urls_expire_at));
        }
        let upload = self.objects.start_multipart(&key, content_type).await?;
        let assembled = async {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut uploaded: Vec<UploadedPart> = Vec::new();
            let mut pending: Vec<u8> = Vec::new();
            for part in 1..=enumeration.part_count {
                let part_key = job.manifest_part_key(part);
                let head = self
                    .objects
                    .head(&part_key)
                    .await?
                    .ok_or_else(|| Error::Internal(format!("manifest part {part} is missing")))?;
                if let Some(expiry) =
                    head.metadata.get(EXPIRY_METADATA).and_then(|t| Timestamp::parse(t).ok())
                {
                    urls_expire_at = urls_expire_at.min(expiry);
                }
                // Read for the SHA-256 (streamed part by part; memory stays one part).
                let bytes = self.objects.get(&part_key).await?;
                hasher.update(&bytes);
                size += bytes.len() as u64;
                let last = part == enumeration.part_count;
                let number = uploaded.len() as i32 + 1;
                if pending.is_empty() && (bytes.len() >= MIN_MULTIPART_PART || last) {
                    uploaded.push(self.objects.upload_part_copy(&key, &upload, number, &part_key).await?);
                } else {
                    pending.extend_from_slice(&bytes);
                    if pending.len() >= MIN_MULTIPART_PART || last {
                        let body = std::mem::take(&mut pending);
                        uploaded.push(self.objects.upload_part(&key, &upload, number, body).await?);
                    }
                }
            }
            self.objects.complete_multipart(&key, &upload, uploaded).await?;
            Ok::<_, Error>((size, hex(&hasher.finalize())))
        }
        .await;
        match assembled {
            Ok((size, digest)) => Ok((size, digest, urls_expire_at)),
            Err(e) => {
                if let Err(abort) = self.objects.abort_multipart(&key, &upload).await {
                    tracing::warn!(error = %abort, "could not abort the manifest upload; the bucket lifecycle will");
                }
                Err(e)
            }
        }
    }

    async fn remove_intermediates(&self, job: &ExportJob) -> Result<()> {
        let mut keys = self.objects.list(&format!("{}inventory/", job.prefix())).await?;
        keys.extend(self.objects.list(&format!("{}parts/", job.prefix())).await?);
        self.objects.delete(&keys).await
    }

    /// Records FAILED with a message an administrator can read, gives the window back, removes the
    /// intermediates and announces it. Recording a failure twice changes nothing.
    pub async fn record_failure(&self, job: &ExportJob, error: &StepError) -> Result<()> {
        let Some(record) = self.store.get(&job.account_id, &job.export_id).await? else {
            tracing::warn!(export = %job.export_id, "failure of an unknown export; nothing to record");
            return Ok(());
        };
        let failure = describe_failure(error);
        tracing::error!(
            account = %job.account_id, export = %job.export_id, code = %failure.code, "export failed: {}",
            failure.message
        );
        let now = self.clock.now();
        let change = StatusChange::Failed { completed_at: now, error: failure.clone() };
        let newly_failed = match self.store.change_status(&job.account_id, &job.export_id, change).await {
            Ok(()) => true,
            Err(Error::StatusConflict(_)) => false, // already FAILED or SUCCEEDED: leave it
            Err(e) => return Err(e),
        };
        // Only a FAILED export gives its window back: a late or duplicate failure report about an
        // export that SUCCEEDED must not reopen the window it rightly holds.
        let failed = newly_failed
            || self
                .store
                .get(&job.account_id, &job.export_id)
                .await?
                .is_some_and(|r| r.status == ExportStatus::Failed);
        if !failed {
            tracing::warn!(export = %job.export_id, "failure reported for an export that did not fail; ignored");
            return Ok(());
        }
        self.store.release_window(&job.account_id, &job.export_id).await?;
        if let Err(e) = self.remove_intermediates(job).await {
            tracing::warn!(error = %e, "could not remove a failed export's intermediates; the bucket lifecycle will");
        }
        if newly_failed {
            self.announce(&record, ExportStatus::Failed, now, None, Some(&failure.code)).await;
        }
        Ok(())
    }

    /// Best effort: a lost notification must not turn a finished export into a failed one.
    async fn announce(
        &self,
        record: &ExportRecord,
        status: ExportStatus,
        at: Timestamp,
        result: Option<&ExportResult>,
        error_code: Option<&str>,
    ) {
        let change = StateChange {
            account_id: record.account_id.clone(),
            export_id: record.export_id,
            status,
            requested_at: record.requested_at,
            completed_at: at,
            attachment_count: result.map(|r| r.attachment_count),
            total_bytes: result.map(|r| r.total_bytes),
            error_code: error_code.map(str::to_owned),
        };
        if let Err(e) = self.notifier.publish(&change).await {
            tracing::warn!(export = %record.export_id, error = %e, "could not publish the state change event");
        }
    }
}

/// Turns a Step Functions error (`{"Error", "Cause"}`) into what the administrator reads.
pub fn describe_failure(error: &StepError) -> FailureInfo {
    let cause_message = error
        .cause
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned));
    // lambda_runtime reports a panic with the panic payload's type name as the errorType and
    // "Lambda panicked: …" as the message: internals the administrator has no use for.
    let panicked = error.error.trim_start_matches('&').starts_with("alloc::boxed::Box<dyn core::any::Any")
        || cause_message.as_deref().is_some_and(|m| m.starts_with("Lambda panicked"));
    if panicked {
        return FailureInfo {
            code: "StepCrashed".to_owned(),
            message:
                "A step of the export crashed. Request the export again; if it keeps failing, give your AWS \
                      operator the export id."
                    .to_owned(),
        };
    }
    let message = match error.error.as_str() {
        "States.Timeout" => "A step of the export took too long and was stopped. Request the export again; if it keeps \
                             timing out, give your AWS operator the export id."
            .to_owned(),
        "States.TaskFailed" | "States.Runtime" | "Lambda.Unknown" => {
            "A step of the export crashed. Request the export again; if it keeps failing, give your AWS operator \
             the export id."
                .to_owned()
        }
        _ => cause_message.unwrap_or_else(|| format!("The export failed ({}).", error.error)),
    };
    FailureInfo { code: error.error.clone(), message }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AttachmentId, ConversationId, MessageId};
    use crate::model::{AccountType, Attachment, ExportFormat, RequestedBy, Via};
    use crate::ports::Admission;
    use crate::testing::{FakeCatalog, FakeNotifier, FakeObjectStore, FakeSigner, FakeStore, FixedClock};

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
            let at =
                Timestamp::parse("2026-01-01T00:00:00Z").unwrap().plus(Duration::from_secs(i as u64 * 60));
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
            Finisher {
                store: &self.store,
                objects: &self.objects,
                notifier: &self.notifier,
                clock: &self.clock,
            }
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
            self.objects
                .objects
                .lock()
                .unwrap()
                .get(key)
                .cloned()
                .unwrap_or_else(|| panic!("no object {key}"))
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
        assert_eq!(result.manifest_sha256, hex(&Sha256::digest(&manifest)));
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
}
