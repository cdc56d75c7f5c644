//! The WriteParts step: one inventory part becomes one manifest part. Every row is checked before
//! its URL is signed (DESIGN §7): its bucket must be an attachment bucket and its key below its
//! account's folder and, unless the export was asked not to, its object must be readable and exist
//! with the catalog's size and SHA-256. A row that fails, or an unreadable catalog item, goes to the
//! part's error rows instead.

use futures::StreamExt;

use super::{EXPIRY_METADATA, PART_WORKERS, pace, recorded_enumeration, require_recorded, running_record};
use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::key_layout::KeyLayout;
use crate::domain::manifest::{InventoryLine, ManifestEncoder};
use crate::domain::model::{ConversationType, UnreadableAttachment};
use crate::domain::payloads::ExportJob;
use crate::domain::reports::{
    ErrorEncoder, ErrorRow, PartReport, Problem, UNREADABLE_PREFIX, UnreadableLine,
};
use crate::domain::time::Timestamp;
use crate::ports::{AttachmentHead, AttachmentObjects, ExportStore, HeadResult, ObjectStore};

/// HEADs in flight at once per part: with `PART_WORKERS` parts at once and a HEAD of ~15 ms, an
/// export can ask S3 for some 34,000 a second, so `MAX_CHECK_RATE`, not latency, sets its pace.
pub const HEAD_CONCURRENCY: usize = 64;

/// The WriteParts step: one inventory part → one manifest part, every URL signed.
pub struct PartWriter<B: Backend> {
    pub store: B::Store,
    pub objects: B::Objects,
    /// The attachment buckets (HEAD only).
    pub attachments: B::Attachments,
    /// The buckets whose objects may be signed (`ATTACHMENT_BUCKETS`).
    pub buckets: Vec<String>,
    /// Where each account's objects are in them (`ATTACHMENT_KEY_LAYOUT`).
    pub key_layout: KeyLayout,
    /// Makes the part's links, for the signing time the enumeration recorded.
    pub links: crate::rules::links::ManifestLinks<B::LinkKeys>,
    /// HEADs of attachments an export makes a second, its parts together (`MAX_CHECK_RATE`; 0: no
    /// cap): S3 serves 5,500 a second per partitioned prefix and answers 503 SlowDown past it.
    pub max_check_rate: u32,
}

/// What was learnt of one readable line before it is signed.
enum Check {
    Ok,
    Failed(Problem, String),
}

impl<B: Backend> PartWriter<B> {
    /// Writes the manifest part, its error rows and its report; returns the manifest rows. The
    /// part number and `signed_at` must be the enumeration's (its record's), and what defines the
    /// export (format, checks) is the record's too, whatever the step input says.
    pub async fn run(&self, job: &ExportJob, part: u32, signed_at: Timestamp) -> Result<u64> {
        let record = running_record(&self.store, job).await?;
        let enumerated = recorded_enumeration(&record)?;
        // Which segment's inventory part this manifest part is: the enumeration's numbering.
        let located = enumerated.locate(part).filter(|_| part <= enumerated.part_count);
        let Some((segment, index)) = located else {
            return Err(Error::BadRequest(format!(
                "export {} has parts 1 to {}, not {part}; nothing was written",
                record.export_id, enumerated.part_count
            )));
        };
        require_recorded(&record, "signedAt", signed_at, enumerated.signed_at)?;
        let job = &ExportJob::from(&record);
        let links = self.links.maker(&job.owner, &job.export_id, enumerated.signed_at).await?;
        let inventory = self.objects.get(&job.inventory_part_key(segment, index)).await?;
        let expires_at = links.expires_at().to_string();
        let mut encoder = ManifestEncoder::for_owner(record.format, part == 1, &record.owner)?;
        let mut errors = ErrorEncoder::new(false)?;
        let mut report = PartReport::default();

        // The part's lines in order: readable ones by index into `lines`, unreadable ones as read.
        let mut lines = Vec::new();
        let mut order: Vec<std::result::Result<usize, UnreadableAttachment>> = Vec::new();
        for raw in inventory.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let bad_line =
                |e: serde_json::Error| Error::Internal(format!("inventory part {part} has a bad line: {e}"));
            if raw.starts_with(UNREADABLE_PREFIX) {
                let UnreadableLine { unreadable } = serde_json::from_slice(raw).map_err(bad_line)?;
                order.push(Err(unreadable));
            } else {
                let line: InventoryLine = serde_json::from_slice(raw).map_err(bad_line)?;
                order.push(Ok(lines.len()));
                lines.push(line);
            }
        }

        // The checks, HEAD_CONCURRENCY objects at a time, in the lines' order, each started no
        // sooner than this part's share of the export's check rate allows.
        let per_second = pace::share(self.max_check_rate, PART_WORKERS);
        let started = tokio::time::Instant::now();
        let checks: Vec<Check> = futures::stream::iter(lines.iter().enumerate())
            .map(|(i, line)| async move {
                if job.verify_objects {
                    tokio::time::sleep_until(started + pace::due(i as u64, per_second)).await;
                }
                self.check(job, line).await
            })
            .buffered(HEAD_CONCURRENCY)
            .collect::<Vec<Result<Check>>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;

        let mut url = String::with_capacity(2048);
        for entry in order {
            let index = match entry {
                Ok(index) => index,
                Err(u) => {
                    errors.row(&ErrorRow {
                        attachment_id: &u.attachment_id,
                        conversation_id: &u.conversation_id,
                        uploader_id: &u.uploader_id,
                        file_name: &u.file_name,
                        problem: Problem::UnreadableRow,
                        detail: &u.detail,
                    })?;
                    report.errors += 1;
                    if !u.uploader_id.is_empty() {
                        report.users.entry(u.uploader_id.clone()).or_default().problems += 1;
                    }
                    if u.conversation_type == Some(ConversationType::Room) && !u.conversation_id.is_empty() {
                        report.rooms.entry(u.conversation_id.clone()).or_default().problems += 1;
                    }
                    continue;
                }
            };
            let (line, check) = (&lines[index], &checks[index]);
            let uploader = line.uploader_id.as_str().to_owned();
            let room = (line.conversation_type == ConversationType::Room)
                .then(|| line.conversation_id.as_str().to_owned());
            match check {
                Check::Ok => {
                    // The row's account passed the folder check (`check`), so it is there.
                    let Some(account) = job.owner.account().or(line.account_id.as_ref()) else {
                        return Err(Error::Internal(format!(
                            "attachment {} names no account",
                            line.attachment_id
                        )));
                    };
                    if !links.link(account, &line.attachment_id, line.uploaded_at, &mut url) {
                        return Err(Error::Internal(format!(
                            "attachment {} has an upload time no link can carry",
                            line.attachment_id
                        )));
                    }
                    encoder.row(line, &url, &expires_at)?;
                    report.rows += 1;
                    let totals = report.by_conversation_type.entry(line.conversation_type).or_default();
                    totals.count = totals.count.saturating_add(1);
                    totals.bytes = totals.bytes.saturating_add(line.size_bytes);
                    report.users.entry(uploader).or_default().file(line.size_bytes, line.uploaded_at);
                    if let Some(room) = room {
                        report.rooms.entry(room).or_default().file(line.size_bytes, line.uploaded_at);
                    }
                }
                Check::Failed(problem, detail) => {
                    errors.row(&ErrorRow {
                        attachment_id: line.attachment_id.as_str(),
                        conversation_id: line.conversation_id.as_str(),
                        uploader_id: line.uploader_id.as_str(),
                        file_name: &line.file_name,
                        problem: *problem,
                        detail,
                    })?;
                    report.errors += 1;
                    report.users.entry(uploader).or_default().problems += 1;
                    if let Some(room) = room {
                        report.rooms.entry(room).or_default().problems += 1;
                    }
                }
            }
        }
        let rows = encoder.rows();
        let body = encoder.finish()?;
        // The error rows and the report first: the manifest part's existence is what Finalize
        // relies on, and a retried part rewrites all three.
        self.objects
            .put(&job.errors_part_key(part), errors.finish()?, "text/csv; charset=utf-8", &[])
            .await?;
        let report_json =
            serde_json::to_vec(&report).map_err(|e| Error::Internal(format!("part report: {e}")))?;
        self.objects.put(&job.coverage_part_key(part), report_json, "application/json", &[]).await?;
        self.objects
            .put(
                &job.manifest_part_key(part),
                body,
                record.format.content_type(),
                &[(EXPIRY_METADATA, &expires_at)],
            )
            .await?;
        self.store.mark_part_written(&job.owner, &job.export_id, part).await?;
        if report.errors > 0 {
            tracing::warn!(
                owner = %job.owner, export = %job.export_id, part, errors = report.errors,
                "rows left out of the manifest (listed in errors.csv)"
            );
        }
        Ok(rows)
    }

    async fn check(&self, job: &ExportJob, line: &InventoryLine) -> Result<Check> {
        if !self.buckets.contains(&line.bucket) {
            return Ok(Check::Failed(
                Problem::ForeignBucket,
                "the object is not in an attachment bucket of this service".to_owned(),
            ));
        }
        // Whatever the export's checks: the signing identity can read every tenant's objects.
        // An account's rows are its own; a self-service user's come from many accounts, each row
        // bound to its own account's folder.
        let tenant = job.owner.account().or(line.account_id.as_ref());
        if !tenant.is_some_and(|tenant| self.key_layout.holds(tenant, &line.object_key)) {
            return Ok(Check::Failed(
                Problem::ForeignKey,
                format!("the object is not under this account's folder ({})", self.key_layout),
            ));
        }
        if !job.verify_objects {
            return Ok(Check::Ok);
        }
        let AttachmentHead { size, sha256 } =
            match self.attachments.head(&line.bucket, &line.object_key).await? {
                HeadResult::Found(head) => head,
                HeadResult::Missing => {
                    return Ok(Check::Failed(Problem::MissingObject, "the object does not exist".to_owned()));
                }
                HeadResult::Refused => {
                    return Ok(Check::Failed(
                        Problem::ObjectUnreadable,
                        "the attachment bucket refused to read the object (its operator can tell why)"
                            .to_owned(),
                    ));
                }
            };
        if size != line.size_bytes {
            return Ok(Check::Failed(
                Problem::SizeMismatch,
                format!("the catalog says {} bytes, the object has {size}", line.size_bytes),
            ));
        }
        if let Some(stored) = sha256
            && !stored.eq_ignore_ascii_case(&line.sha256)
        {
            return Ok(Check::Failed(
                Problem::ChecksumMismatch,
                "the object's stored SHA-256 is not the catalog's".to_owned(),
            ));
        }
        Ok(Check::Ok)
    }
}
