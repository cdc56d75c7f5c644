//! One serde struct per state-machine payload (DESIGN §6). They carry ids, keys and counts, never
//! attachment lists, so every payload stays far below Step Functions' 256 KB whatever the account.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, ExportId, UserId};
use crate::domain::model::{ExportFormat, ExportRecord};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;

/// What every step needs to know about the export. Carried as `accountId` or `userId` (its
/// owner, [`ExportOwner`]) beside the other fields; any other field is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "JobWire", into = "JobWire")]
pub struct ExportJob {
    pub owner: ExportOwner,
    pub export_id: ExportId,
    pub cutoff: Timestamp,
    /// Incremental: only files uploaded after this time (left out for a full export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub format: ExportFormat,
    /// Whether the part writer HEADs each object before signing it (the bucket check stays).
    #[serde(default = "crate::domain::model::yes", skip_serializing_if = "crate::domain::model::is_true")]
    pub verify_objects: bool,
}

/// [`ExportJob`] as the state machine carries it: serde refuses unknown fields only without
/// `flatten`, so the owner is two optional fields here, exactly one of them set.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JobWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<AccountId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<UserId>,
    export_id: ExportId,
    cutoff: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<Timestamp>,
    format: ExportFormat,
    #[serde(default = "crate::domain::model::yes", skip_serializing_if = "crate::domain::model::is_true")]
    verify_objects: bool,
}

impl TryFrom<JobWire> for ExportJob {
    type Error = String;
    fn try_from(w: JobWire) -> Result<Self, String> {
        let owner = match (w.account_id, w.user_id) {
            (Some(account), None) => ExportOwner::Account(account),
            (None, Some(user)) => ExportOwner::User(user),
            _ => return Err("a job names exactly one of accountId and userId".into()),
        };
        Ok(Self {
            owner,
            export_id: w.export_id,
            cutoff: w.cutoff,
            since: w.since,
            format: w.format,
            verify_objects: w.verify_objects,
        })
    }
}

impl From<ExportJob> for JobWire {
    fn from(j: ExportJob) -> Self {
        Self {
            account_id: j.owner.account().cloned(),
            user_id: j.owner.user().cloned(),
            export_id: j.export_id,
            cutoff: j.cutoff,
            since: j.since,
            format: j.format,
            verify_objects: j.verify_objects,
        }
    }
}

impl From<&ExportRecord> for ExportJob {
    fn from(r: &ExportRecord) -> Self {
        Self {
            owner: r.owner.clone(),
            export_id: r.export_id,
            cutoff: r.cutoff,
            since: r.since,
            format: r.format,
            verify_objects: r.verify_objects,
        }
    }
}

impl ExportJob {
    /// Prefix of every object this export writes.
    pub fn prefix(&self) -> String {
        format!("exports/{}/{}/", self.owner.folder(), self.export_id)
    }

    /// Inventory part `index` (from 1) of listing segment `segment`: the keys sort in the manifest's
    /// order, segment by segment.
    pub fn inventory_part_key(&self, segment: u32, index: u32) -> String {
        format!("{}inventory/s{segment:04}-part-{index:07}.jsonl", self.prefix())
    }

    /// The segment numbers (a JSON array), the ListSegments Map's items; written by the Plan step.
    pub fn segments_list_key(&self) -> String {
        format!("{}inventory/segments.json", self.prefix())
    }

    /// The part numbers (a JSON array), the WriteParts Map's items; written by the Close step.
    pub fn parts_list_key(&self) -> String {
        format!("{}inventory/parts.json", self.prefix())
    }

    /// The assembly group numbers (a JSON array), the AssembleGroups Map's items; written by Close.
    pub fn groups_list_key(&self) -> String {
        format!("{}inventory/groups.json", self.prefix())
    }

    /// Assembly group `group`'s manifest parts, concatenated (an AssembleGroups child writes it).
    pub fn group_manifest_key(&self, group: u32) -> String {
        format!("{}parts/group-{group:05}.{}", self.prefix(), self.format.extension())
    }

    /// Assembly group `group`'s error rows, concatenated (CSV, no header).
    pub fn group_errors_key(&self, group: u32) -> String {
        format!("{}parts/group-{group:05}-errors.csv", self.prefix())
    }

    /// What assembly group `group` left for Finalize (JSON, written last: the group is done).
    pub fn group_report_key(&self, group: u32) -> String {
        format!("{}parts/group-{group:05}.json", self.prefix())
    }

    /// Finalize's checkpoint between its passes (how far the manifest and errors.csv are hashed).
    pub fn finalize_checkpoint_key(&self) -> String {
        format!("{}parts/finalize.json", self.prefix())
    }

    pub fn manifest_part_key(&self, part: u32) -> String {
        format!("{}parts/part-{part:07}.{}", self.prefix(), self.format.extension())
    }

    pub fn manifest_key(&self) -> String {
        format!("{}attachments.{}", self.prefix(), self.format.extension())
    }

    pub fn summary_key(&self) -> String {
        format!("{}summary.json", self.prefix())
    }

    /// Rows that failed a check, beside the manifest.
    pub fn errors_key(&self) -> String {
        format!("{}errors.csv", self.prefix())
    }

    /// Which files were fetched through their links (built when handed out).
    pub fn downloads_key(&self) -> String {
        format!("{}downloads.csv", self.prefix())
    }

    /// One row per managed user and room in scope, beside the manifest.
    pub fn coverage_key(&self) -> String {
        format!("{}coverage.csv", self.prefix())
    }

    /// The signed statement (DESIGN §14).
    pub fn statement_key(&self) -> String {
        format!("{}statement.json", self.prefix())
    }

    /// The statement's signature: base64 of the DER ECDSA signature, one line.
    pub fn statement_signature_key(&self) -> String {
        format!("{}statement.sig", self.prefix())
    }

    /// A part's error rows (CSV, no header), assembled into `errors.csv` by Finalize.
    pub fn errors_part_key(&self, part: u32) -> String {
        format!("{}parts/errors-{part:07}.csv", self.prefix())
    }

    /// A part's coverage counts (JSON), summed into `coverage.csv` by Finalize.
    pub fn coverage_part_key(&self, part: u32) -> String {
        format!("{}parts/coverage-{part:07}.json", self.prefix())
    }

    /// The users and rooms in scope (JSON), written by the Close step.
    pub fn scope_key(&self) -> String {
        format!("{}inventory/scope.json", self.prefix())
    }
}

/// StartExecution input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInput {
    pub job: ExportJob,
}

/// Input of enumerate-attachments, by mode: the export's ids, and for a segment its number. What
/// the plan is and where a segment resumes are the store's (`ExportRecord::plan`,
/// `ExportStore::segment`), never the input's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum EnumerateRequest {
    /// The Plan step: split the export's range into segments; write their list.
    Plan { job: ExportJob },
    /// One pass of a ListSegments child: list segment `segment` from its checkpoint.
    Segment { job: ExportJob, segment: u32 },
    /// The Close step: number the segments' parts in order, record the enumeration.
    Close { job: ExportJob },
}

/// Output of the Plan step; becomes `$.plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanResponse {
    pub segments: u32,
    /// Where the segment numbers 0..segments are (a JSON array), which the ListSegments
    /// Distributed Map reads as its items.
    pub segments_bucket: String,
    pub segments_key: String,
}

/// Output of one pass over a segment; becomes the child's `$.listing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentResponse {
    pub done: bool,
    pub part_count: u32,
    pub listed: u64,
}

/// Output of the Close step; becomes `$.enumeration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnumerateResponse {
    pub done: bool,
    pub part_count: u32,
    pub listed: u64,
    /// Where the part numbers 1..=part_count are (a JSON array), which the WriteParts
    /// Distributed Map reads as its items. Not in the payload: that would grow with the export.
    pub parts_bucket: Option<String>,
    pub parts_key: Option<String>,
    /// Where the assembly group numbers 1..=groups are (a JSON array), which the AssembleGroups
    /// Distributed Map reads as its items.
    #[serde(default)]
    pub groups_key: Option<String>,
    /// The signing time of every URL of this export, so all parts share one expiry.
    pub signed_at: Option<crate::domain::time::Timestamp>,
}

/// What enumerate-attachments answers, by mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnumerateReply {
    Plan(PlanResponse),
    Segment(SegmentResponse),
    Close(EnumerateResponse),
}

/// The error a Catch hands on: Step Functions' `{"Error", "Cause"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// Input of write-manifest, by mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum WriteManifestRequest {
    /// Sign one inventory part into one manifest part.
    #[serde(rename_all = "camelCase")]
    Part { job: ExportJob, part: u32, signed_at: crate::domain::time::Timestamp },
    /// Concatenate assembly group `group`'s manifest parts, error rows and reports.
    #[serde(rename_all = "camelCase")]
    Group { job: ExportJob, group: u32 },
    /// Assemble the groups into the manifest and hash it (in as many passes as it takes), then
    /// write the summary and statement and mark SUCCEEDED.
    #[serde(rename_all = "camelCase")]
    Finalize { job: ExportJob, part_count: u32, listed: u64, signed_at: crate::domain::time::Timestamp },
    /// Record FAILED and give the window back. The failure is read from the execution's history
    /// (`Workflow::failure`), never from the input.
    #[serde(rename_all = "camelCase")]
    Fail { job: ExportJob },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ExportJob {
        ExportJob {
            owner: AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap().into(),
            export_id: ExportId::parse("01JDZ3Q4V5W6X7Y8Z9A0B1C2D3").unwrap(),
            cutoff: Timestamp::parse("2026-11-24T10:15:30.123Z").unwrap(),
            since: None,
            format: ExportFormat::Csv,
            verify_objects: true,
        }
    }

    #[test]
    fn keys_follow_the_design_layout() {
        let j = job();
        let base = "exports/6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f/01JDZ3Q4V5W6X7Y8Z9A0B1C2D3/";
        assert_eq!(j.inventory_part_key(3, 1), format!("{base}inventory/s0003-part-0000001.jsonl"));
        assert!(j.inventory_part_key(2, 99_999) < j.inventory_part_key(10, 1), "segment order first");
        assert_eq!(j.manifest_key(), format!("{base}attachments.csv"));
        assert_eq!(j.summary_key(), format!("{base}summary.json"));
    }

    #[test]
    fn write_manifest_modes_match_the_state_machine() {
        let part: WriteManifestRequest = serde_json::from_value(serde_json::json!({
            "mode": "part",
            "job": serde_json::to_value(job()).unwrap(),
            "part": 3,
            "signedAt": "2026-11-24T10:20:00.000Z"
        }))
        .unwrap();
        let signed_at = crate::domain::time::Timestamp::parse("2026-11-24T10:20:00Z").unwrap();
        assert_eq!(part, WriteManifestRequest::Part { job: job(), part: 3, signed_at });
        let fail: WriteManifestRequest = serde_json::from_value(serde_json::json!({
            "mode": "fail",
            "job": serde_json::to_value(job()).unwrap(),
            "error": {"Error": "TransientError", "Cause": "{}"}
        }))
        .unwrap();
        assert!(matches!(fail, WriteManifestRequest::Fail { .. }));
    }

    #[test]
    fn enumerate_modes_refuse_a_cursor_or_counts_from_the_input() {
        let job = serde_json::to_value(job()).unwrap();
        let segment: EnumerateRequest =
            serde_json::from_value(serde_json::json!({"mode": "segment", "job": job, "segment": 3})).unwrap();
        assert_eq!(segment, EnumerateRequest::Segment { job: super::tests::job(), segment: 3 });
        for forged in [
            serde_json::json!({"mode": "segment", "job": job, "segment": 3, "cursor": "x"}),
            serde_json::json!({"mode": "close", "job": job, "partCount": 9}),
            serde_json::json!({"mode": "plan", "job": job, "segments": 9}),
            serde_json::json!({"job": job}),
            serde_json::json!({"mode": "segment", "job": job, "segment": -1}),
        ] {
            assert!(serde_json::from_value::<EnumerateRequest>(forged.clone()).is_err(), "{forged}");
        }
    }

    #[test]
    fn job_refuses_unknown_fields_and_bad_ids() {
        let mut v = serde_json::to_value(job()).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ExportJob>(v).is_err());
        let mut v = serde_json::to_value(job()).unwrap();
        v["accountId"] = serde_json::json!("../other");
        assert!(serde_json::from_value::<ExportJob>(v).is_err());
        let mut v = serde_json::to_value(job()).unwrap();
        v["userId"] = serde_json::json!(UserId::random());
        assert!(serde_json::from_value::<ExportJob>(v).is_err(), "two owners");
        let mut v = serde_json::to_value(job()).unwrap();
        v.as_object_mut().unwrap().remove("accountId");
        assert!(serde_json::from_value::<ExportJob>(v).is_err(), "no owner");
    }

    #[test]
    fn a_users_job_keeps_its_files_in_the_users_folder() {
        let user = UserId::parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").unwrap();
        let j = ExportJob { owner: user.clone().into(), ..job() };
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["userId"], user.as_str());
        assert!(v.get("accountId").is_none());
        assert_eq!(serde_json::from_value::<ExportJob>(v).unwrap(), j);
        assert_eq!(
            j.manifest_key(),
            format!("exports/users/{user}/01JDZ3Q4V5W6X7Y8Z9A0B1C2D3/attachments.csv")
        );
    }
}
