//! The AssembleGroups children (a group of manifest parts concatenated, with its error rows and
//! reports), the Finalize step (the groups assembled into the manifest, the manifest hashed in as
//! many passes as it takes, the summary and statement written, the outcome recorded and
//! published) and the RecordFailure step.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::digest::common::hazmat::SerializableState;
use sha2::{Digest, Sha256};

use super::{EXPIRY_METADATA, recorded_enumeration, require_recorded, running_record};
use crate::backend::Backend;
use crate::domain::assembly::{MAX_PART_BYTES, MAX_UPLOAD_PARTS, MIN_PART_BYTES, PlannedPart, plan_parts};
use crate::domain::error::{Error, Result};
use crate::domain::hex;
use crate::domain::manifest::{Summary, SummaryCoverage, SummaryManifest, empty_manifest_for};
use crate::domain::model::{
    Enumerated, ExportRecord, ExportResult, ExportStatus, FailureInfo, ReportFile, StatementFile, Via,
};
use crate::domain::owner::ExportOwner;
use crate::domain::payloads::{ExportJob, StepError};
use crate::domain::reports::{Coverage, PartReport, ScopeEntry, ScopeList, coverage_csv, errors_header};
use crate::domain::statement::{self, ChainLink, FileDigest, SignatureInfo, Statement};
use crate::domain::time::Timestamp;
use crate::ports::{
    Clock, ExportStore, Notifier, ObjectStore, StateChange, StatementSigner, StatusChange, UploadedPart,
    Workflow,
};
use crate::rules::assistant::{self, ReplyLinks};

/// Objects read, copied or HEADed at once while assembling.
const ASSEMBLY_CONCURRENCY: usize = 8;

/// Bytes of the manifest read per request while hashing (a multiple of SHA-256's 64-byte block).
const HASH_CHUNK: u64 = 8 * 1024 * 1024;

/// Chunks read ahead while hashing.
const HASH_READ_AHEAD: usize = 4;

/// A Finalize pass stops hashing, and checkpoints, with this much of its invocation left: enough
/// for the chunks in flight and the checkpoint (or for delivering, once hashing is done).
const PASS_MARGIN: Duration = Duration::from_secs(120);

/// What a Finalize input claims of the enumeration: checked against what the enumeration recorded
/// (a mismatch is refused). The counts and bytes come from the parts' reports, not from here.
#[derive(Debug, Clone)]
pub struct Enumeration {
    pub part_count: u32,
    pub listed: u64,
    /// When the URLs were signed; without a part to say otherwise, they expire `url_expiry` later.
    pub signed_at: Timestamp,
    pub url_expiry: Duration,
}

/// What one Finalize pass did.
#[derive(Debug, Clone, PartialEq)]
pub enum Finalized {
    /// The manifest and errors.csv are assembled and hashed this far: the state machine runs
    /// Finalize again, which resumes from the checkpoint.
    Hashing { hashed: u64, bytes: u64 },
    /// The export is delivered.
    Done(Box<ExportResult>),
}

/// What an AssembleGroups child leaves for Finalize (`parts/group-NNNNN.json`, written last: its
/// existence says the group is assembled): its two files' sizes, the earliest expiry of its URLs
/// and its parts' reports summed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupReport {
    pub manifest_bytes: u64,
    pub errors_bytes: u64,
    #[serde(default)]
    pub urls_expire_at: Option<Timestamp>,
    pub report: PartReport,
}

/// Finalize's checkpoint between passes (`parts/finalize.json`): the manifest and errors.csv are
/// assembled; how far each is hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    manifest: Hashing,
    errors: Hashing,
}

/// One file's hash, resumable: the SHA-256 state after `hashed` bytes (a multiple of 64 until
/// the end), and the line feeds in them; once `hashed` is `bytes`, `state` is the file's SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hashing {
    bytes: u64,
    hashed: u64,
    lines: u64,
    /// Hex of `Sha256`'s serialized state (`SerializableState`).
    state: String,
}

impl Hashing {
    fn start(bytes: u64) -> Self {
        // An empty file is hashed already.
        let state = if bytes == 0 {
            hex::encode(&Sha256::digest(b""))
        } else {
            hex::encode(&Sha256::new().serialize())
        };
        Self { bytes, hashed: 0, lines: 0, state }
    }

    /// The file's digest, once it is hashed to its end.
    fn digest(&self, key: String) -> FileDigest {
        FileDigest { key, bytes: self.bytes, lines: self.lines, sha256: self.state.clone() }
    }

    fn hasher(&self) -> Result<Sha256> {
        let bad = || Error::Internal("Finalize's checkpoint holds no hash state".into());
        let raw = hex::decode(&self.state).ok_or_else(bad)?;
        let state = raw.as_slice().try_into().map_err(|_| bad())?;
        Sha256::deserialize(state).map_err(|_| bad())
    }

    fn done(&self) -> bool {
        self.hashed == self.bytes
    }
}

/// The Finalize and RecordFailure steps.
pub struct Finisher<B: Backend> {
    pub store: B::Store,
    pub objects: B::Objects,
    pub notifier: B::Notifier,
    pub clock: B::Clock,
    /// Signs the statement (DESIGN §14).
    pub statement_key: B::StatementKey,
    /// Vouches for a failure before it is recorded: only the execution's own Catch ends an export.
    pub workflow: B::Workflow,
    /// At most this many bytes hashed per Finalize pass (`None`: as many as its time allows).
    pub pass_bytes: Option<u64>,
    /// The manifest link of the Assistant's reply to a user's ended export (DESIGN §15).
    pub reply_links: ReplyLinks<B::LinkKeys>,
}

impl<B: Backend> Finisher<B> {
    /// One AssembleGroups child: concatenates group `group`'s manifest parts into one object and
    /// its parts' error rows into another (server-side where S3 allows), and sums their reports.
    /// Returns the group's manifest rows. A retry rewrites the same three objects.
    pub async fn assemble_group(&self, job: &ExportJob, group: u32) -> Result<u64> {
        let record = running_record(&self.store, job).await?;
        let enumerated = recorded_enumeration(&record)?;
        let parts = enumerated.group_range(group).ok_or_else(|| {
            Error::BadRequest(format!(
                "export {} has assembly groups 1 to {}, not {group}; nothing was written",
                record.export_id,
                enumerated.groups()
            ))
        })?;
        let job = &ExportJob::from(&record);
        // Each part's files, as its writer left them (the manifest part last: it says the part is done).
        let found: Vec<(u64, u64, Option<Timestamp>, PartReport)> = futures::stream::iter(parts.clone())
            .map(|part| async move {
                let not_written = || {
                    Error::BadRequest(format!("part {part} of export {} is not written yet", job.export_id))
                };
                let head = self.objects.head(&job.manifest_part_key(part)).await?.ok_or_else(not_written)?;
                let errors = self.objects.head(&job.errors_part_key(part)).await?.ok_or_else(not_written)?;
                let raw = self.objects.get(&job.coverage_part_key(part)).await?;
                let report: PartReport = serde_json::from_slice(&raw)
                    .map_err(|e| Error::Internal(format!("report of part {part}: {e}")))?;
                let expiry = head.metadata.get(EXPIRY_METADATA).and_then(|t| Timestamp::parse(t).ok());
                Ok::<_, Error>((head.size, errors.size, expiry, report))
            })
            .buffered(ASSEMBLY_CONCURRENCY)
            .try_collect()
            .await?;
        let mut summed = GroupReport::default();
        for (_, _, expiry, report) in &found {
            summed.report.add(report);
            summed.urls_expire_at = match (summed.urls_expire_at, *expiry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let manifest: Vec<(String, u64)> =
            parts.clone().zip(&found).map(|(p, f)| (job.manifest_part_key(p), f.0)).collect();
        let errors: Vec<(String, u64)> =
            parts.zip(&found).map(|(p, f)| (job.errors_part_key(p), f.1)).collect();
        summed.manifest_bytes = self
            .copy_into(&job.group_manifest_key(group), job.format.content_type(), Vec::new(), &manifest, &[])
            .await?;
        summed.errors_bytes = self
            .copy_into(&job.group_errors_key(group), "text/csv; charset=utf-8", Vec::new(), &errors, &[])
            .await?;
        let json = serde_json::to_vec(&summed).map_err(|e| Error::Internal(format!("group report: {e}")))?;
        self.objects.put(&job.group_report_key(group), json, "application/json", &[]).await?;
        Ok(summed.report.rows)
    }

    /// One Finalize pass. The first assembles the groups into the manifest and errors.csv (the
    /// manifest's key exists only once it is complete: a multipart upload is invisible until
    /// then). Each pass then hashes them on from the checkpoint until its time or
    /// `pass_bytes` runs short; the pass that finishes writes the summary and statement, marks the
    /// export SUCCEEDED with its result, removes the intermediates and announces it.
    pub async fn finalize(
        &self,
        job: &ExportJob,
        enumeration: &Enumeration,
        remaining: impl Fn() -> Duration,
    ) -> Result<Finalized> {
        let record = self
            .store
            .get(&job.owner, &job.export_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("export {} not found", job.export_id)))?;
        if record.status.is_delivered()
            && let Some(result) = record.result
        {
            // A retried or duplicate Finalize: the work is done; only tidy up.
            self.remove_intermediates(job).await?;
            return Ok(Finalized::Done(Box::new(result)));
        }
        if record.status != ExportStatus::Running {
            return Err(Error::StatusConflict(format!(
                "export {} is {}; cannot finalize",
                job.export_id, record.status
            )));
        }
        // The parts and the signing time are the enumeration's, and every part must be written:
        // a forged or early Finalize cannot deliver (and sign a statement for) part of an export.
        let recorded = recorded_enumeration(&record)?;
        require_recorded(&record, "partCount", enumeration.part_count, recorded.part_count)?;
        require_recorded(&record, "listed", enumeration.listed, recorded.listed)?;
        require_recorded(&record, "signedAt", enumeration.signed_at, recorded.signed_at)?;
        // Each part is counted once, and only parts 1..=partCount are ever written (the part
        // writer refuses others): the count says whether every part is.
        let written = record.progress.parts_written;
        if written != u64::from(recorded.part_count) {
            return Err(Error::BadRequest(format!(
                "export {} has {written} of its {} parts written; it cannot be finalized yet",
                job.export_id, recorded.part_count
            )));
        }
        // What defines the export (cutoff, since, format) is its record's, whatever the input says.
        let job = &ExportJob::from(&record);
        let window = window(job);
        let window: Vec<(&str, &str)> = window.iter().map(|(k, v)| (*k, v.as_str())).collect();

        let checkpoint = match self.checkpoint(job).await? {
            Some(checkpoint) => checkpoint,
            None => {
                let groups = self.group_reports(job, &recorded).await?;
                let checkpoint = self.assemble(job, &recorded, &groups, &window).await?;
                self.save(job, &checkpoint).await?;
                checkpoint
            }
        };
        let checkpoint = self.hash_pass(job, checkpoint, &remaining).await?;
        if !(checkpoint.manifest.done() && checkpoint.errors.done()) {
            return Ok(Finalized::Hashing {
                hashed: checkpoint.manifest.hashed + checkpoint.errors.hashed,
                bytes: checkpoint.manifest.bytes + checkpoint.errors.bytes,
            });
        }
        let groups = self.group_reports(job, &recorded).await?;
        self.deliver(job, &record, enumeration, &groups, &checkpoint, &window)
            .await
            .map(|r| Finalized::Done(Box::new(r)))
    }

    /// Every group's report, in group order; a group not assembled yet is refused.
    async fn group_reports(&self, job: &ExportJob, enumerated: &Enumerated) -> Result<Vec<GroupReport>> {
        futures::stream::iter(1..=enumerated.groups())
            .map(|group| async move {
                let raw = match self.objects.get(&job.group_report_key(group)).await {
                    Ok(raw) => raw,
                    Err(Error::NotFound(_)) => {
                        return Err(Error::BadRequest(format!(
                            "assembly group {group} of export {} is not assembled yet; it cannot be finalized",
                            job.export_id
                        )));
                    }
                    Err(e) => return Err(e),
                };
                serde_json::from_slice::<GroupReport>(&raw)
                    .map_err(|e| Error::Internal(format!("report of assembly group {group}: {e}")))
            })
            .buffered(ASSEMBLY_CONCURRENCY)
            .try_collect()
            .await
    }

    /// The groups' objects, in order, into the manifest and errors.csv: the checkpoint of a
    /// hash about to begin.
    async fn assemble(
        &self,
        job: &ExportJob,
        enumerated: &Enumerated,
        groups: &[GroupReport],
        window: &[(&str, &str)],
    ) -> Result<Checkpoint> {
        let start =
            if enumerated.part_count == 0 { empty_manifest_for(job.format, &job.owner)? } else { Vec::new() };
        let numbered = || (1..=enumerated.groups()).zip(groups);
        let manifest: Vec<(String, u64)> =
            numbered().map(|(g, r)| (job.group_manifest_key(g), r.manifest_bytes)).collect();
        let errors: Vec<(String, u64)> =
            numbered().map(|(g, r)| (job.group_errors_key(g), r.errors_bytes)).collect();
        let manifest_bytes =
            self.copy_into(&job.manifest_key(), job.format.content_type(), start, &manifest, window).await?;
        let errors_bytes = self
            .copy_into(&job.errors_key(), "text/csv; charset=utf-8", errors_header()?, &errors, window)
            .await?;
        Ok(Checkpoint { manifest: Hashing::start(manifest_bytes), errors: Hashing::start(errors_bytes) })
    }

    async fn checkpoint(&self, job: &ExportJob) -> Result<Option<Checkpoint>> {
        match self.objects.get(&job.finalize_checkpoint_key()).await {
            Ok(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| Error::Internal(format!("Finalize's checkpoint: {e}"))),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn save(&self, job: &ExportJob, checkpoint: &Checkpoint) -> Result<()> {
        let json = serde_json::to_vec(checkpoint)
            .map_err(|e| Error::Internal(format!("Finalize's checkpoint: {e}")))?;
        self.objects.put(&job.finalize_checkpoint_key(), json, "application/json", &[]).await
    }

    /// Hashes the manifest, then errors.csv, on from the checkpoint, in chunks read ahead, until
    /// both are done or the pass's time or bytes run short (always one chunk at least, so every
    /// pass moves on); saves the checkpoint when it stops short.
    async fn hash_pass(
        &self,
        job: &ExportJob,
        mut checkpoint: Checkpoint,
        remaining: &impl Fn() -> Duration,
    ) -> Result<Checkpoint> {
        let mut budget = self.pass_bytes.unwrap_or(u64::MAX);
        let stopped =
            self.hash_file(&job.manifest_key(), &mut checkpoint.manifest, &mut budget, remaining).await?
                || self.hash_file(&job.errors_key(), &mut checkpoint.errors, &mut budget, remaining).await?;
        if stopped {
            self.save(job, &checkpoint).await?;
        }
        Ok(checkpoint)
    }

    /// Hashes one file on from where `hashing` stands; true if it stopped short of the end.
    async fn hash_file(
        &self,
        key: &str,
        hashing: &mut Hashing,
        budget: &mut u64,
        remaining: &impl Fn() -> Duration,
    ) -> Result<bool> {
        if hashing.done() {
            return Ok(false);
        }
        if *budget == 0 {
            // The pass's bytes went to the file before: the next pass goes on.
            return Ok(true);
        }
        let mut hasher = hashing.hasher()?;
        // A pass's byte budget below a chunk makes smaller chunks (a multiple of 64 bytes, so the
        // checkpointed state is on a block boundary).
        let chunk = HASH_CHUNK.min(*budget / 64 * 64).max(64);
        let chunks = (hashing.hashed..hashing.bytes)
            .step_by(chunk as usize)
            .map(|at| (at, (at + chunk).min(hashing.bytes)));
        let mut reads = futures::stream::iter(chunks)
            .map(|(at, end)| self.objects.get_range(key, at, end))
            .buffered(HASH_READ_AHEAD);
        while let Some(chunk) = reads.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            hashing.lines += statement::count_lines(&chunk);
            hashing.hashed += chunk.len() as u64;
            *budget = budget.saturating_sub(chunk.len() as u64);
            if !hashing.done() && (*budget == 0 || remaining() < PASS_MARGIN) {
                break;
            }
        }
        if hashing.done() {
            hashing.state = hex::encode(&hasher.finalize());
            Ok(false)
        } else {
            hashing.state = hex::encode(&hasher.serialize());
            Ok(true)
        }
    }

    /// The pass that finishes: reports, summary, statement, the outcome recorded and announced.
    async fn deliver(
        &self,
        job: &ExportJob,
        record: &ExportRecord,
        enumeration: &Enumeration,
        groups: &[GroupReport],
        checkpoint: &Checkpoint,
        window: &[(&str, &str)],
    ) -> Result<ExportResult> {
        let manifest = checkpoint.manifest.digest(job.manifest_key());
        let errors_digest = checkpoint.errors.digest(job.errors_key());
        let manifest_bytes = manifest.bytes;
        let manifest_sha256 = manifest.sha256.clone();
        // The groups' reports, summed: memory is one entry per user and room, not per attachment.
        let mut sums = PartReport::default();
        let mut urls_expire_at = enumeration.signed_at.plus(enumeration.url_expiry);
        for group in groups {
            sums.add(&group.report);
            if let Some(expiry) = group.urls_expire_at {
                urls_expire_at = urls_expire_at.min(expiry);
            }
        }
        let scope: ScopeList = match self.objects.get(&job.scope_key()).await {
            Ok(raw) => {
                serde_json::from_slice(&raw).map_err(|e| Error::Internal(format!("scope list: {e}")))?
            }
            Err(Error::NotFound(_)) => ScopeList::default(),
            Err(e) => return Err(e),
        };
        let coverage = coverage_csv(&scope, &sums)?;
        let coverage_digest = FileDigest::of(job.coverage_key(), &coverage);
        self.objects.put(&job.coverage_key(), coverage, "text/csv; charset=utf-8", window).await?;

        let attachment_count = sums.rows;
        let error_count = sums.errors;
        let by_conversation_type = sums.by_conversation_type.clone();
        // Saturating: sizes come from the catalog.
        let total_bytes = by_conversation_type.values().fold(0u64, |sum, t| sum.saturating_add(t.bytes));
        let lines = attachment_count
            .saturating_add(u64::from(record.format == crate::domain::model::ExportFormat::Csv));
        let now = self.clock.now();
        let errors = ReportFile {
            key: job.errors_key(),
            bytes: errors_digest.bytes,
            sha256: errors_digest.sha256.clone(),
        };
        let with_files = |entries: &[ScopeEntry], sums: &BTreeMap<String, Coverage>| {
            entries.iter().filter(|e| sums.get(&e.id).is_some_and(|c| c.files > 0)).count() as u64
        };
        let users_with_files = with_files(&scope.users, &sums.users);
        let rooms_with_files = with_files(&scope.rooms, &sums.rooms);
        let summary = Summary {
            owner: job.owner.clone(),
            export_id: job.export_id,
            cutoff: job.cutoff,
            since: job.since,
            generated_at: now,
            urls_expire_at,
            attachment_count,
            total_bytes,
            by_conversation_type: by_conversation_type.clone(),
            manifest: SummaryManifest {
                key: job.manifest_key(),
                format: record.format,
                bytes: manifest_bytes,
                lines,
                sha256: manifest_sha256.clone(),
            },
            error_count,
            objects_checked: job.verify_objects,
            errors: errors.clone(),
            coverage: SummaryCoverage {
                key: job.coverage_key(),
                users: scope.users.len() as u64,
                users_with_files,
                users_without_files: scope.users.len() as u64 - users_with_files,
                rooms: scope.rooms.len() as u64,
                rooms_with_files,
                rooms_without_files: scope.rooms.len() as u64 - rooms_with_files,
            },
        };
        let summary_json =
            serde_json::to_vec_pretty(&summary).map_err(|e| Error::Internal(format!("summary.json: {e}")))?;
        self.objects.put(&job.summary_key(), summary_json, "application/json", window).await?;

        let statement = Statement {
            version: statement::STATEMENT_VERSION,
            owner: job.owner.clone(),
            export_id: job.export_id,
            cutoff: job.cutoff,
            since: job.since,
            urls_signed_at: enumeration.signed_at,
            format: record.format,
            attachment_count,
            total_bytes,
            error_count,
            objects_checked: job.verify_objects,
            urls_expire_at,
            manifest,
            errors: errors_digest,
            coverage: coverage_digest,
            previous: self.previous_statement(job).await?,
            signature: SignatureInfo {
                key_id: self.statement_key.key_id().to_owned(),
                algorithm: statement::SIGNING_ALGORITHM.to_owned(),
                message_type: "RAW".to_owned(),
                signature_key: job.statement_signature_key(),
            },
        };
        let statement = self.sign_and_write(job, &statement).await?;

        let result = ExportResult {
            attachment_count,
            total_bytes,
            by_conversation_type,
            manifest_key: job.manifest_key(),
            manifest_bytes,
            manifest_sha256,
            summary_key: job.summary_key(),
            urls_expire_at,
            error_count,
            errors: Some(errors),
            coverage_key: Some(job.coverage_key()),
            statement: Some(statement),
        };
        let change = StatusChange::Succeeded { completed_at: now, result: Box::new(result.clone()) };
        match self.store.change_status(&job.owner, &job.export_id, change).await {
            Ok(()) => {}
            // A concurrent duplicate got there first with the same manifest: fine.
            Err(Error::StatusConflict(_)) if self.is_succeeded(job).await? => {}
            Err(e) => return Err(e),
        }
        self.remove_intermediates(job).await?;
        tracing::info!(
            owner = %job.owner, export = %job.export_id, attachments = attachment_count,
            errors = error_count, manifest_bytes, "export succeeded"
        );
        self.announce(record, result.status(), now, Some(&result), None).await;
        self.reply_to_user(record, Some(&result), None).await;
        Ok(result)
    }

    /// The chain (DESIGN §14): the account's newest delivered export before this one that has a
    /// statement, with that statement's SHA-256 as recorded on its export. Exports of one account
    /// never finalize at once (one accepted request per window; an execution ends within hours), so
    /// the predecessor cannot change under us; a retried Finalize finds the same one.
    async fn previous_statement(&self, job: &ExportJob) -> Result<Option<ChainLink>> {
        let mut after: Option<crate::domain::ids::ExportId> = None;
        loop {
            let page = self.store.list(&job.owner, 100, after.as_ref()).await?;
            for record in &page.items {
                if record.export_id >= job.export_id || !record.status.is_delivered() {
                    continue;
                }
                if let Some(file) = record.result.as_ref().and_then(|r| r.statement.as_ref()) {
                    return Ok(Some(ChainLink {
                        export_id: record.export_id,
                        cutoff: record.cutoff,
                        statement_sha256: file.sha256.clone(),
                    }));
                }
            }
            match (page.next, page.items.last()) {
                (Some(_), Some(last)) => after = Some(last.export_id),
                _ => return Ok(None),
            }
        }
    }

    /// Writes `statement.json` (its exact bytes) and `statement.sig` (base64 of the DER signature
    /// KMS made over them).
    async fn sign_and_write(&self, job: &ExportJob, statement: &Statement) -> Result<StatementFile> {
        let bytes = statement::encode(statement)?;
        let digest = statement::digest(&bytes);
        let signed = self.statement_key.sign(&bytes).await?;
        let file = StatementFile {
            key: job.statement_key(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(&digest),
            signature_key: job.statement_signature_key(),
            key_id: signed.key_id,
        };
        self.objects
            .put(&job.statement_signature_key(), statement::encode_signature(&signed.der), "text/plain", &[])
            .await?;
        self.objects.put(&job.statement_key(), bytes, "application/json", &[]).await?;
        Ok(file)
    }

    async fn is_succeeded(&self, job: &ExportJob) -> Result<bool> {
        let record = self.store.get(&job.owner, &job.export_id).await?;
        Ok(record.is_some_and(|r| r.status.is_delivered()))
    }

    /// Writes `start` followed by the objects `sources` (key, size) in order as the object `key`,
    /// as `domain::assembly` plans it: large sources copied server-side, small ones read and
    /// uploaded together. Returns its size. Memory stays a few parts of 5 MiB.
    async fn copy_into(
        &self,
        key: &str,
        content_type: &str,
        start: Vec<u8>,
        sources: &[(String, u64)],
        window: &[(&str, &str)],
    ) -> Result<u64> {
        let sizes: Vec<u64> = sources.iter().map(|(_, size)| *size).collect();
        let total = start.len() as u64 + sizes.iter().sum::<u64>();
        let plan = plan_parts(start.len() as u64, &sizes, MIN_PART_BYTES, MAX_PART_BYTES);
        if plan.len() <= 1 && sizes.iter().all(|s| *s < MIN_PART_BYTES) {
            // Small enough to write in one request (an empty file, a small export).
            let mut body = start;
            for (source, size) in sources {
                if *size > 0 {
                    body.extend_from_slice(&self.objects.get(source).await?);
                }
            }
            self.objects.put(key, body, content_type, window).await?;
            return Ok(total);
        }
        if plan.len() > MAX_UPLOAD_PARTS {
            return Err(Error::Internal(format!(
                "{key} would be {} upload parts, over S3's 10,000",
                plan.len()
            )));
        }
        let upload = self.objects.start_multipart(key, content_type, window).await?;
        let (start, upload_id) = (&start, upload.as_str());
        let assembled = async {
            let parts: Vec<UploadedPart> = futures::stream::iter(plan.iter().enumerate())
                .map(|(i, part)| async move {
                    let number = i as i32 + 1;
                    match part {
                        PlannedPart::Copy { source, range } => {
                            let (source, size) = &sources[*source];
                            let whole = range.start == 0 && range.end == *size;
                            let range = (!whole).then_some((range.start, range.end));
                            self.objects.upload_part_copy(key, upload_id, number, source, range).await
                        }
                        PlannedPart::Upload { with_start, pieces } => {
                            let mut body = if *with_start { start.clone() } else { Vec::new() };
                            for (source, range) in pieces {
                                body.extend(
                                    self.objects
                                        .get_range(&sources[*source].0, range.start, range.end)
                                        .await?,
                                );
                            }
                            self.objects.upload_part(key, upload_id, number, body).await
                        }
                    }
                })
                .buffered(ASSEMBLY_CONCURRENCY)
                .try_collect()
                .await?;
            self.objects.complete_multipart(key, upload_id, parts).await
        }
        .await;
        if let Err(e) = assembled {
            if let Err(abort) = self.objects.abort_multipart(key, &upload).await {
                tracing::warn!(error = %abort, "could not abort an upload; the bucket lifecycle will");
            }
            return Err(e);
        }
        Ok(total)
    }

    async fn remove_intermediates(&self, job: &ExportJob) -> Result<()> {
        let mut keys = self.objects.list(&format!("{}inventory/", job.prefix())).await?;
        keys.extend(self.objects.list(&format!("{}parts/", job.prefix())).await?);
        self.objects.delete(&keys).await
    }

    /// Records FAILED with a message an administrator can read, gives the window back, removes the
    /// intermediates and announces it. Recording a failure twice changes nothing.
    ///
    /// The failure recorded is the one Step Functions says the export's execution is handling
    /// (`Workflow::failure`); the step input names the export only. An input for an export whose
    /// execution runs normally is refused and changes nothing.
    pub async fn record_failure(&self, job: &ExportJob) -> Result<()> {
        let Some(record) = self.store.get(&job.owner, &job.export_id).await? else {
            tracing::warn!(export = %job.export_id, "failure of an unknown export; nothing to record");
            return Ok(());
        };
        let Some(error) = self.workflow.failure(&job.export_id).await? else {
            tracing::warn!(
                owner = %job.owner, export = %job.export_id,
                "a failure step input for an export whose execution is not failing; refused"
            );
            return Err(Error::BadRequest(format!(
                "export {}'s execution is not in its failure step; nothing was recorded",
                job.export_id
            )));
        };
        let failure = describe_failure(&error);
        tracing::error!(
            owner = %job.owner, export = %job.export_id, code = %failure.code, "export failed: {}",
            failure.message
        );
        let now = self.clock.now();
        let change = StatusChange::Failed { completed_at: now, error: failure.clone() };
        let newly_failed = match self.store.change_status(&job.owner, &job.export_id, change).await {
            Ok(()) => true,
            Err(Error::StatusConflict(_)) => false, // already FAILED or SUCCEEDED: leave it
            Err(e) => return Err(e),
        };
        // Only a FAILED export gives its window back: a late or duplicate failure report about an
        // export that SUCCEEDED must not reopen the window it rightly holds.
        let failed = newly_failed
            || self
                .store
                .get(&job.owner, &job.export_id)
                .await?
                .is_some_and(|r| r.status == ExportStatus::Failed);
        if !failed {
            tracing::warn!(export = %job.export_id, "failure reported for an export that did not fail; ignored");
            return Ok(());
        }
        self.store.release_window(&job.owner, &job.export_id).await?;
        if let Err(e) = self.remove_intermediates(job).await {
            tracing::warn!(error = %e, "could not remove a failed export's intermediates; the bucket lifecycle will");
        }
        if newly_failed {
            self.announce(&record, ExportStatus::Failed, now, None, Some(&failure.code)).await;
            self.reply_to_user(&record, None, Some(&failure)).await;
        }
        Ok(())
    }

    /// The Assistant's reply to an export it started (DESIGN §15); best effort, as the event. An
    /// export a user asked for in the console or the API is shown there, and gets no reply.
    async fn reply_to_user(
        &self,
        record: &ExportRecord,
        result: Option<&ExportResult>,
        failure: Option<&FailureInfo>,
    ) {
        let ExportOwner::User(user) = &record.owner else { return };
        if record.requested_by.via != Via::Assistant {
            return;
        }
        let link = match result {
            Some(r) => self.reply_links.manifest_link(user, &record.export_id, r.urls_expire_at).await,
            None => None,
        };
        let reply = assistant::ended_reply(record, user, result, failure, link);
        match self.notifier.reply(&reply).await {
            // Who and which export, never the reply: it holds the link.
            Ok(()) => {
                tracing::info!(%user, export = %record.export_id, status = %reply.status, "assistant: reply published")
            }
            Err(e) => {
                tracing::warn!(%user, export = %record.export_id, error = %e, "could not publish the assistant's reply")
            }
        }
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
            owner: record.owner.clone(),
            export_id: record.export_id,
            status,
            requested_at: record.requested_at,
            completed_at: at,
            attachment_count: result.map(|r| r.attachment_count),
            total_bytes: result.map(|r| r.total_bytes),
            error_count: result.map(|r| r.error_count),
            error_code: error_code.map(str::to_owned),
            revoked_at: None,
        };
        if let Err(e) = self.notifier.publish(&change).await {
            tracing::warn!(export = %record.export_id, error = %e, "could not publish the state change event");
        }
    }
}

/// User metadata on the manifest, errors.csv, coverage.csv and summary.json: the window of upload
/// times the export covers, (`export-window-since`, `export-window-cutoff`]; no `since` for a full
/// export (DESIGN §14).
fn window(job: &ExportJob) -> Vec<(&'static str, String)> {
    let mut window = vec![("export-window-cutoff", job.cutoff.to_string())];
    if let Some(since) = &job.since {
        window.push(("export-window-since", since.to_string()));
    }
    window
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
        // The WriteParts Map Run failed: a part's child execution failed after its retries (the
        // Map Run's failed execution in the console says which and why).
        "States.ExceedToleratedFailureThreshold" => "A part of the export could not be written, even after retries. \
                                                     Request the export again; if it keeps failing, give your AWS \
                                                     operator the export id."
            .to_owned(),
        "States.TaskFailed" | "States.Runtime" | "Lambda.Unknown" => {
            "A step of the export crashed. Request the export again; if it keeps failing, give your AWS operator \
             the export id."
                .to_owned()
        }
        // The deployment's own problem: its detail (variable names, ARNs) is for the operator, in
        // the function's log, not for the tenant.
        "ConfigurationError" => "The service is not set up to finish this export. Give your AWS operator the \
                                 export id; the details are in the service's logs."
            .to_owned(),
        // Our own codes carry a message written for the caller (`Error::public_message`).
        code if Error::CODES.contains(&code) => {
            cause_message.unwrap_or_else(|| format!("The export failed ({}).", error.error))
        }
        // Anything else (a Lambda or Step Functions error) may quote ARNs and request ids.
        _ => format!("The export failed ({}).", error.error),
    };
    FailureInfo { code: error.error.clone(), message }
}
