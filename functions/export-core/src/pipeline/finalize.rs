//! The Finalize step (the manifest assembled from its parts, the summary, the outcome recorded and
//! published) and the RecordFailure step.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{EXPIRY_METADATA, MIN_MULTIPART_PART};
use crate::error::{Error, Result};
use crate::hex;
use crate::manifest::{Summary, SummaryManifest, empty_manifest};
use crate::model::{ConversationType, ExportRecord, ExportResult, ExportStatus, FailureInfo, TypeTotals};
use crate::payloads::{ExportJob, StepError};
use crate::ports::{Clock, ExportStore, Notifier, ObjectStore, StateChange, StatusChange, UploadedPart};
use crate::time::Timestamp;

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
            let digest = hex::encode(&Sha256::digest(&body));
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
            Ok::<_, Error>((size, hex::encode(&hasher.finalize())))
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
