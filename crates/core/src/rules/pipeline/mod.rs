//! The export pipeline (DESIGN §6): the rules behind the state machine's steps, one file a step —
//! [`enumerate`] (Plan, ListSegments, Close), [`part`] (WriteParts), [`finalize`] (Finalize and
//! RecordFailure). Each step is safe to run again with the same input: the plan is recorded once,
//! a segment's pass rewrites the same part keys from the same checkpoint, Close numbers the same
//! parts, a part is rewritten whole, Finalize of a SUCCEEDED export only tidies up, and recording a
//! failure twice changes nothing.

mod enumerate;
mod finalize;
mod pace;
mod part;

pub use enumerate::Enumerator;
pub use finalize::{Enumeration, Finalized, Finisher, GroupReport, describe_failure};
pub use part::{HEAD_CONCURRENCY, PartWriter};

use crate::domain::error::{Error, Result};
use crate::domain::model::{Enumerated, ExportRecord, ExportStatus};
use crate::domain::payloads::ExportJob;
use crate::ports::ExportStore;

/// S3's smallest part of a multipart upload, except the last.
pub const MIN_MULTIPART_PART: usize = 5 * 1024 * 1024;

/// The most assembly groups an export may have: Finalize makes each group at most two parts of
/// the manifest's multipart upload (a read top-up and a copy, `domain::assembly`), and S3 takes
/// at most 10,000 (the group numbers themselves are in `inventory/groups.json`, not in a payload).
pub const MAX_GROUPS: u32 = 4_999;

/// Manifest parts per assembly group unless `ASSEMBLY_GROUP_PARTS` says otherwise: at 10,000 rows
/// a part, a group is about 100 × 6 MB = 600 MB (a copy source may be 5 GiB), and 4,999 groups
/// carry 5 billion attachments.
pub const DEFAULT_GROUP_PARTS: u32 = 100;

/// The most manifest parts a group may have: a group is one multipart upload of its parts.
pub const MAX_GROUP_PARTS: u32 = 4_999;

/// The most inventory (and manifest) parts an export may have, whatever its groups: part keys
/// carry seven digits, so they sort in part order. An export's own ceiling is the smaller of this
/// and `MAX_GROUPS` × its group size.
pub const MAX_PARTS: u32 = 9_999_999;

/// Attachments per inventory part unless `PART_ITEMS` says otherwise (the template's `PartItems`).
pub const DEFAULT_PART_ITEMS: usize = 10_000;

/// Segments a listing is split into unless `LIST_SEGMENTS` says otherwise: more than the workers,
/// so a dense slice of time does not hold the others up for long.
pub const DEFAULT_LIST_SEGMENTS: u32 = 32;

/// The most segments a listing is split into: the plan and the numbering of parts by segment
/// (`Enumerated::segment_parts`) live on the export's record, which stays small.
pub const MAX_SEGMENTS: u32 = 256;

/// Segments listed at once: the ListSegments Map's MaxConcurrency (infra/statemachine/export.asl.json;
/// tests/tests/template_consistency.rs keeps them equal). An export's read rate cap is shared
/// among them.
pub const SEGMENT_WORKERS: u32 = 8;

/// Parts written at once: the WriteParts Map's MaxConcurrency (tests/tests/template_consistency.rs
/// keeps them equal). An export's object-check rate cap is shared among them.
pub const PART_WORKERS: u32 = 8;

/// User metadata on a manifest part: when its URLs stop working.
const EXPIRY_METADATA: &str = "urls-expire-at";

/// The export's record, if a step may still work on it (QUEUED or RUNNING).
async fn running_record<S: ExportStore>(store: &S, job: &ExportJob) -> Result<ExportRecord> {
    let record = store
        .get(&job.owner, &job.export_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("export {} of {} not found", job.export_id, job.owner)))?;
    match record.status {
        ExportStatus::Queued | ExportStatus::Running => Ok(record),
        status => Err(Error::StatusConflict(format!("export {} is already {status}", job.export_id))),
    }
}

/// What the enumeration recorded: the part count and signing time the later steps use.
fn recorded_enumeration(record: &ExportRecord) -> Result<Enumerated> {
    record
        .enumerated
        .clone()
        .ok_or_else(|| Error::StatusConflict(format!("export {} is not enumerated yet", record.export_id)))
}

/// A step input's claim against what the enumeration recorded: a forged or stale input is
/// refused, since what it would change (the parts, the signing time) defines the export.
fn require_recorded<T: PartialEq + std::fmt::Display>(
    record: &ExportRecord,
    what: &str,
    claimed: T,
    recorded: T,
) -> Result<()> {
    if claimed == recorded {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "the step input's {what} ({claimed}) is not export {}'s ({recorded}); nothing was written",
            record.export_id
        )))
    }
}

#[cfg(test)]
mod tests;
