//! The Finalize step (the manifest assembled from its parts, the summary, the outcome recorded and
//! published) and the RecordFailure step.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{EXPIRY_METADATA, MIN_MULTIPART_PART, recorded_enumeration, require_recorded};
use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::hex;
use crate::domain::manifest::{Summary, SummaryCoverage, SummaryManifest, empty_manifest};
use crate::domain::model::{
    ExportRecord, ExportResult, ExportStatus, FailureInfo, ReportFile, StatementFile,
};
use crate::domain::payloads::{ExportJob, StepError};
use crate::domain::reports::{Coverage, PartReport, ScopeEntry, ScopeList, coverage_csv, errors_header};
use crate::domain::statement::{self, ChainLink, FileDigest, SignatureInfo, Statement};
use crate::domain::time::Timestamp;
use crate::ports::{
    Clock, ExportStore, Notifier, ObjectStore, StateChange, StatementSigner, StatusChange, UploadedPart,
    Workflow,
};

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
}

impl<B: Backend> Finisher<B> {
    /// Assembles the manifest server-side, writes the summary, marks the export SUCCEEDED with its
    /// result, removes the intermediates and announces it. The manifest's key exists only once it
    /// is complete (a multipart upload is invisible until completed).
    pub async fn finalize(&self, job: &ExportJob, enumeration: &Enumeration) -> Result<ExportResult> {
        let record = self
            .store
            .get(&job.account_id, &job.export_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("export {} not found", job.export_id)))?;
        if record.status.is_delivered()
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
        let (manifest, urls_expire_at) = self.assemble(job, enumeration, &window).await?;
        let (manifest_bytes, manifest_sha256) = (manifest.bytes, manifest.sha256.clone());
        // The parts' reports, summed: memory is one entry per user and room, not per attachment.
        let mut sums = PartReport::default();
        for part in 1..=enumeration.part_count {
            let raw = self.objects.get(&job.coverage_part_key(part)).await?;
            let report: PartReport = serde_json::from_slice(&raw)
                .map_err(|e| Error::Internal(format!("report of part {part}: {e}")))?;
            sums.add(&report);
        }
        let errors_digest = self
            .concatenate(
                &job.errors_key(),
                "text/csv; charset=utf-8",
                errors_header()?,
                (1..=enumeration.part_count).map(|p| job.errors_part_key(p)).collect(),
                &window,
            )
            .await?;
        let scope: ScopeList = match self.objects.get(&job.scope_key()).await {
            Ok(raw) => {
                serde_json::from_slice(&raw).map_err(|e| Error::Internal(format!("scope list: {e}")))?
            }
            Err(Error::NotFound(_)) => ScopeList::default(),
            Err(e) => return Err(e),
        };
        let coverage = coverage_csv(&scope, &sums)?;
        let coverage_digest = FileDigest::of(job.coverage_key(), &coverage);
        self.objects.put(&job.coverage_key(), coverage, "text/csv; charset=utf-8", &window).await?;

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
            account_id: job.account_id.clone(),
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
        self.objects.put(&job.summary_key(), summary_json, "application/json", &window).await?;

        let statement = Statement {
            version: statement::STATEMENT_VERSION,
            account_id: job.account_id.clone(),
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
        match self.store.change_status(&job.account_id, &job.export_id, change).await {
            Ok(()) => {}
            // A concurrent duplicate got there first with the same manifest: fine.
            Err(Error::StatusConflict(_)) if self.is_succeeded(job).await? => {}
            Err(e) => return Err(e),
        }
        self.remove_intermediates(job).await?;
        tracing::info!(
            account = %job.account_id, export = %job.export_id, attachments = attachment_count,
            errors = error_count, manifest_bytes, "export succeeded"
        );
        self.announce(&record, result.status(), now, Some(&result), None).await;
        Ok(result)
    }

    /// The chain (DESIGN §14): the account's newest delivered export before this one that has a
    /// statement, with that statement's SHA-256 as recorded on its export. Exports of one account
    /// never finalize at once (one accepted request per window; an execution ends within hours), so
    /// the predecessor cannot change under us; a retried Finalize finds the same one.
    async fn previous_statement(&self, job: &ExportJob) -> Result<Option<ChainLink>> {
        let mut after: Option<crate::domain::ids::ExportId> = None;
        loop {
            let page = self.store.list(&job.account_id, 100, after.as_ref()).await?;
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
        let record = self.store.get(&job.account_id, &job.export_id).await?;
        Ok(record.is_some_and(|r| r.status.is_delivered()))
    }

    /// Concatenates the manifest parts in order into the manifest. Returns its digest (size, lines,
    /// SHA-256) and the earliest expiry of its URLs.
    async fn assemble(
        &self,
        job: &ExportJob,
        enumeration: &Enumeration,
        window: &[(&str, &str)],
    ) -> Result<(FileDigest, Timestamp)> {
        let mut urls_expire_at = enumeration.signed_at.plus(enumeration.url_expiry);
        // Not sized from part_count: it comes from the payload, and a count of u32::MAX would ask
        // for 100 GB before the first missing part refused it (found by the fuzz test).
        let mut part_keys = Vec::new();
        for part in 1..=enumeration.part_count {
            let part_key = job.manifest_part_key(part);
            let head = self
                .objects
                .head(&part_key)
                .await?
                .ok_or_else(|| Error::Internal(format!("manifest part {part} is missing")))?;
            if let Some(expiry) = head.metadata.get(EXPIRY_METADATA).and_then(|t| Timestamp::parse(t).ok()) {
                urls_expire_at = urls_expire_at.min(expiry);
            }
            part_keys.push(part_key);
        }
        let start = if enumeration.part_count == 0 { empty_manifest(job.format)? } else { Vec::new() };
        let digest = self
            .concatenate(&job.manifest_key(), job.format.content_type(), start, part_keys, window)
            .await?;
        Ok((digest, urls_expire_at))
    }

    /// Writes `start` followed by the objects `part_keys` in order as the object `key`, copying
    /// parts server-side where S3 allows (every part but the last must be at least 5 MiB) and
    /// re-uploading small ones in groups; empty parts are skipped. Returns its size, lines and
    /// SHA-256. Memory stays one part (plus a group below 5 MiB).
    async fn concatenate(
        &self,
        key: &str,
        content_type: &str,
        start: Vec<u8>,
        part_keys: Vec<String>,
        window: &[(&str, &str)],
    ) -> Result<FileDigest> {
        if part_keys.is_empty() {
            let digest = FileDigest::of(key.to_owned(), &start);
            self.objects.put(key, start, content_type, window).await?;
            return Ok(digest);
        }
        let upload = self.objects.start_multipart(key, content_type, window).await?;
        let assembled = async {
            let mut hasher = Sha256::new();
            hasher.update(&start);
            let mut size = start.len() as u64;
            let mut lines = statement::count_lines(&start);
            let mut uploaded: Vec<UploadedPart> = Vec::new();
            let mut pending: Vec<u8> = start;
            let count = part_keys.len();
            for (i, part_key) in part_keys.iter().enumerate() {
                // Read for the SHA-256 (streamed part by part; memory stays one part).
                let bytes = self.objects.get(part_key).await?;
                let last = i + 1 == count;
                if bytes.is_empty() {
                    continue;
                }
                hasher.update(&bytes);
                size += bytes.len() as u64;
                lines += statement::count_lines(&bytes);
                let number = uploaded.len() as i32 + 1;
                if pending.is_empty() && (bytes.len() >= MIN_MULTIPART_PART || last) {
                    uploaded.push(self.objects.upload_part_copy(key, &upload, number, part_key).await?);
                } else {
                    pending.extend_from_slice(&bytes);
                    if pending.len() >= MIN_MULTIPART_PART {
                        let body = std::mem::take(&mut pending);
                        uploaded.push(self.objects.upload_part(key, &upload, number, body).await?);
                    }
                }
            }
            if !pending.is_empty() {
                let number = uploaded.len() as i32 + 1;
                uploaded.push(self.objects.upload_part(key, &upload, number, pending).await?);
            }
            if uploaded.is_empty() {
                // Every part was empty (and so is `start`): an empty object.
                self.objects.abort_multipart(key, &upload).await?;
                self.objects.put(key, Vec::new(), content_type, window).await?;
            } else {
                self.objects.complete_multipart(key, &upload, uploaded).await?;
            }
            Ok::<_, Error>(FileDigest {
                key: key.to_owned(),
                bytes: size,
                lines,
                sha256: hex::encode(&hasher.finalize()),
            })
        }
        .await;
        if assembled.is_err()
            && let Err(abort) = self.objects.abort_multipart(key, &upload).await
        {
            tracing::warn!(error = %abort, "could not abort an upload; the bucket lifecycle will");
        }
        assembled
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
        let Some(record) = self.store.get(&job.account_id, &job.export_id).await? else {
            tracing::warn!(export = %job.export_id, "failure of an unknown export; nothing to record");
            return Ok(());
        };
        let Some(error) = self.workflow.failure(&job.export_id).await? else {
            tracing::warn!(
                account = %job.account_id, export = %job.export_id,
                "a failure step input for an export whose execution is not failing; refused"
            );
            return Err(Error::BadRequest(format!(
                "export {}'s execution is not in its failure step; nothing was recorded",
                job.export_id
            )));
        };
        let failure = describe_failure(&error);
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
