//! The data model of DESIGN §4. Field names are the stored attribute names (camelCase); serde_dynamo
//! maps these structs to DynamoDB items, so the attribute types follow from the Rust types
//! (`u64` → N, `bool` → BOOL, `Vec<String>` → L of S, the rest S).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::error::Error;
use crate::domain::ids::{AccountId, AttachmentId, ConversationId, ExportId, MessageId, RoomId, UserId};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountType {
    Team,
    Enterprise,
}

/// The `ACCOUNT` item of AccountsTable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(skip)]
    pub account_id: Option<AccountId>,
    pub account_type: AccountType,
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub scheduled_exports: bool,
    /// Scheduled exports are incremental (`since: previous`); the first is full (DESIGN §14).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled_exports_incremental: bool,
}

/// A `USER#{userId}` item of AccountsTable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(skip)]
    pub user_id: Option<UserId>,
    pub email: String,
    pub display_name: String,
    #[serde(default)]
    pub managed: bool,
}

/// One account whose directory lists a chat user (a `USER#{userId}` item), and how: what the
/// self-service rule (DESIGN §15) decides who may ask from.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    /// The account (its id filled in).
    pub account: Account,
    /// The account's `USER#` item says `managed`.
    pub managed: bool,
}

/// A `ROOM#{roomId}` item of AccountsTable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    #[serde(skip)]
    pub room_id: Option<RoomId>,
    pub name: String,
    pub created_by: UserId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConversationType {
    Direct,
    Group,
    Room,
}

impl ConversationType {
    pub const ALL: [ConversationType; 3] = [Self::Direct, Self::Group, Self::Room];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Direct => "DIRECT",
            Self::Group => "GROUP",
            Self::Room => "ROOM",
        }
    }
}

impl fmt::Display for ConversationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item of AttachmentsTable (the chat service's catalog).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub account_id: AccountId,
    pub attachment_id: AttachmentId,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub conversation_type: ConversationType,
    pub uploader_id: UserId,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub bucket: String,
    pub object_key: String,
    pub uploaded_at: Timestamp,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A catalog item that cannot be read as an [`Attachment`] (a missing attribute, a size that is not
/// a number...): what could be read of it, so it is reported in `errors.csv` instead of failing the
/// export. Empty strings and `None` stand for what could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreadableAttachment {
    /// The item's sort key (always there: it is the table's key); orders it among the others.
    pub sort_key: String,
    /// The item's partition key (always there): where an index's listing resumes after it.
    #[serde(default)]
    pub account_id: String,
    pub attachment_id: String,
    pub conversation_type: Option<ConversationType>,
    pub conversation_id: String,
    pub uploader_id: String,
    pub file_name: String,
    pub uploaded_at: Option<Timestamp>,
    pub deleted: bool,
    /// Why it could not be read (attribute names only, never values).
    pub detail: String,
}

/// One item of the catalog, read or not.
pub type CatalogRow = std::result::Result<Attachment, Box<UnreadableAttachment>>;

/// The sort key of a catalog row, read or not.
/// Export status (DESIGN §4). `Expired` is derived for display, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExportStatus {
    Queued,
    Running,
    Succeeded,
    /// Delivered, with rows that failed a check listed in `errors.csv` instead of the manifest.
    SucceededWithErrors,
    Failed,
    Expired,
    /// Delivered, then revoked by an administrator: every link refused, for good.
    Revoked,
}

impl ExportStatus {
    pub const ALL: [ExportStatus; 7] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::SucceededWithErrors,
        Self::Failed,
        Self::Expired,
        Self::Revoked,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::SucceededWithErrors => "SUCCEEDED_WITH_ERRORS",
            Self::Failed => "FAILED",
            Self::Expired => "EXPIRED",
            Self::Revoked => "REVOKED",
        }
    }

    /// The stored statuses a record may be in for a move to `self`; the store turns this into the
    /// condition of its write, so a status never goes backwards. Re-entering RUNNING is allowed so a
    /// retried Enumerate step is harmless.
    pub fn allowed_from(&self) -> &'static [ExportStatus] {
        match self {
            Self::Queued => &[],
            Self::Running => &[Self::Queued, Self::Running],
            Self::Succeeded | Self::SucceededWithErrors => &[Self::Running],
            Self::Failed => &[Self::Queued, Self::Running],
            Self::Expired => &[],
            // Only what delivered links can be revoked, and nothing leaves REVOKED.
            Self::Revoked => &[Self::Succeeded, Self::SucceededWithErrors, Self::Expired],
        }
    }

    pub fn can_move_to(&self, next: ExportStatus) -> bool {
        next.allowed_from().contains(self)
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::SucceededWithErrors | Self::Failed | Self::Expired | Self::Revoked
        )
    }

    /// The statuses of an export that delivered a manifest (with or without error rows): the only
    /// ones whose manifest may be handed out.
    pub const DELIVERED: [ExportStatus; 2] = [Self::Succeeded, Self::SucceededWithErrors];

    /// Whether the export delivered a manifest (with or without error rows).
    pub fn is_delivered(&self) -> bool {
        Self::DELIVERED.contains(self)
    }
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Csv,
    Jsonl,
}

impl ExportFormat {
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/x-ndjson; charset=utf-8",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "csv" => Ok(Self::Csv),
            "jsonl" => Ok(Self::Jsonl),
            other => Err(Error::BadRequest(format!(
                "format must be \"csv\" or \"jsonl\"; got {}",
                crate::domain::ids::quote_for_message(other)
            ))),
        }
    }
}

/// How a request reached the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Api,
    /// A direct invocation (`aws lambda invoke`): Lambda does not tell the function who invoked
    /// it, so the principal names CloudTrail, where the caller is recorded. Records written before
    /// this name existed say `cli`.
    #[serde(alias = "cli")]
    Invoke,
    Schedule,
    /// A self-service user's confirmed request to the Assistant (DESIGN §15), which the chat
    /// service delivered for them.
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedBy {
    /// The IAM principal that signed the request (for a console user, the role session and the
    /// user pool user behind it): the detail an investigator matches against CloudTrail.
    pub principal: String,
    pub via: Via,
    /// The console user behind the principal, as the user pool names them, resolved server-side
    /// from the identity API Gateway vouched for (never from what the browser sends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
}

impl RequestedBy {
    pub fn new(principal: impl Into<String>, via: Via) -> Self {
        Self { principal: principal.into(), via, person: None }
    }
}

/// Whether `sub` has the form of a user pool user's id (letters, digits and `-`, at most 64): the
/// only form that reaches a ListUsers filter, an export record or a log line.
pub fn is_user_pool_sub(sub: &str) -> bool {
    (1..=64).contains(&sub.len()) && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A console user, as the user pool names them. The username, `name` and `email` are set by an
/// operator (the app client writes none of them), so a user cannot rename themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Person {
    /// "Jane Doe (jane@example.com)", or as much of it as the user pool holds.
    pub fn display(&self) -> String {
        match (&self.name, &self.email) {
            (Some(name), Some(email)) => format!("{name} ({email})"),
            (Some(name), None) => format!("{name} ({})", self.username),
            (None, Some(email)) => email.clone(),
            (None, None) => self.username.clone(),
        }
    }
}

/// One hand-out of an export's links (RetrieveDataExport's GET of a delivered export): when, to
/// which principal, and the person behind it. Kept as its own item, one per hand-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handout {
    pub at: Timestamp,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
}

/// One fetch of one file through its download link (docs/proposals/revocable-links.md): which
/// file (the catalog's sort key, so receipts sort in the manifest's order), when, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub uploaded_at: Timestamp,
    pub attachment_id: AttachmentId,
    pub at: Timestamp,
    /// The client's address as the function URL saw it.
    pub source_ip: String,
}

/// The receipts of one file of an export: how often and when it was fetched, and from where first
/// and last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub uploaded_at: Timestamp,
    pub attachment_id: AttachmentId,
    pub fetch_count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    pub first_source_ip: String,
    pub last_source_ip: String,
}

/// How many of an export's files were fetched at least once, and when the first and the latest
/// first fetch happened. Written once per file, on its first fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadSummary {
    pub files_fetched: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_first_fetch_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub attachments_listed: u64,
    pub parts_written: u64,
}

/// How the listing is split into segments read in parallel (DESIGN §6): for an account's export,
/// `segments` equal slices of upload time, from `from` (the first upload in scope) to the cutoff;
/// for a self-service user's (DESIGN §15), one segment for their own uploads and one for each room
/// they created (`rooms`), each over the whole range. Recorded once by the Plan step; a segment
/// pass reads its bounds and source from here, never from its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingPlan {
    pub segments: u32,
    pub from: Timestamp,
    /// A self-service user's rooms, in segment order from segment 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<PlannedRoom>>,
}

/// A room a self-service user created, as their export's plan keeps it: where it is and what it
/// is called (the manifest's `conversation_name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRoom {
    pub account_id: AccountId,
    pub room_id: RoomId,
    pub name: String,
}

impl ListingPlan {
    /// A plan of at most `segments` slices from `from` to `cutoff`: fewer when the span has fewer
    /// milliseconds than that (every slice must hold at least one instant), and at least one.
    pub fn new(segments: u32, from: Timestamp, cutoff: Timestamp) -> Self {
        let span = (cutoff.unix_millis() - from.unix_millis()).max(1);
        Self { segments: segments.clamp(1, u32::try_from(span).unwrap_or(u32::MAX)), from, rooms: None }
    }

    /// A self-service user's plan: their uploads, then each room, over the whole range.
    pub fn by_source(rooms: Vec<PlannedRoom>, cutoff: Timestamp) -> Self {
        let segments = u32::try_from(rooms.len()).unwrap_or(u32::MAX).saturating_add(1);
        Self { segments, from: cutoff, rooms: Some(rooms) }
    }

    /// Segment `segment`'s uploads: after the first bound (exclusive), up to the second
    /// (inclusive). Segment 0 starts where the export does (`since`, or the first upload) and the
    /// last ends at the cutoff, so the segments cover the export's range once, in upload order.
    pub fn bounds(
        &self,
        segment: u32,
        since: Option<Timestamp>,
        cutoff: Timestamp,
    ) -> Option<(Option<Timestamp>, Timestamp)> {
        if segment >= self.segments {
            return None;
        }
        if self.rooms.is_some() {
            return Some((since, cutoff));
        }
        let (from, span) = (self.from.unix_millis(), cutoff.unix_millis() - self.from.unix_millis());
        let n = i64::from(self.segments);
        // i64: a span of centuries in milliseconds times 2^32 segments still fits.
        let bound = |i: u32| Timestamp::from_unix_millis(from + span * i64::from(i) / n);
        let lower = if segment == 0 { since } else { Some(bound(segment)?) };
        let upper = if segment + 1 == self.segments { cutoff } else { bound(segment + 1)? };
        Some((lower, upper))
    }
}

/// Where one segment of the listing stands after inventory part `part_count` of that segment: how
/// many attachments its parts hold, the catalog position to resume after, and whether the segment
/// is listed to its end. A pass reads it from the store, so a forged input cannot skip or repeat
/// rows of the export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentListing {
    pub part_count: u32,
    pub listed: u64,
    pub cursor: String,
    pub done: bool,
}

impl SegmentListing {
    /// The rows `self` adds to `from` (none: the segment's start), if it is a checkpoint that may
    /// follow it: the next part, or the same parts marked done. `None` otherwise.
    pub fn rows_after(&self, from: Option<&SegmentListing>) -> Option<u64> {
        let start = SegmentListing::default();
        let from = from.unwrap_or(&start);
        let added = self.listed.checked_sub(from.listed)?;
        let next_part = self.part_count == from.part_count + 1;
        let marks_done = self.part_count == from.part_count && self.done && added == 0;
        (!from.done && (next_part || marks_done)).then_some(added)
    }
}

/// What the enumeration found, recorded by its Close step: the steps after it (WriteParts,
/// Finalize) take the part count and the signing time from here, never from their input, so a
/// forged step input cannot make a manifest or a signed statement misstate the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enumerated {
    pub part_count: u32,
    pub listed: u64,
    /// When every URL of the export is signed, so all parts share one expiry.
    pub signed_at: Timestamp,
    /// Inventory parts of each segment, in segment order: manifest part `n` is the inventory part
    /// that comes `n`th in this order (bounded by the plan's segments, not by the export).
    #[serde(default)]
    pub segment_parts: Vec<u32>,
    /// Manifest parts per assembly group (DESIGN §6): group `g` (from 1) is parts
    /// `(g - 1) × groupParts + 1 ..= g × groupParts`, assembled by one AssembleGroups child.
    #[serde(default = "default_group_parts")]
    pub group_parts: u32,
}

/// What records enumerated before assembly groups existed are taken to have.
fn default_group_parts() -> u32 {
    crate::rules::pipeline::DEFAULT_GROUP_PARTS
}

impl Enumerated {
    /// How many assembly groups the parts make (none for an export without parts).
    pub fn groups(&self) -> u32 {
        self.part_count.div_ceil(self.group_parts.max(1))
    }

    /// The manifest parts of assembly group `group` (from 1), if the export has that group.
    pub fn group_range(&self, group: u32) -> Option<std::ops::RangeInclusive<u32>> {
        if group == 0 || group > self.groups() {
            return None;
        }
        let size = self.group_parts.max(1);
        let first = (group - 1).checked_mul(size)?.checked_add(1)?;
        Some(first..=first.saturating_add(size - 1).min(self.part_count))
    }

    /// Which segment's inventory part (segment, 1-based index) manifest part `part` is.
    pub fn locate(&self, part: u32) -> Option<(u32, u32)> {
        let mut before = 0u32;
        for (segment, &count) in self.segment_parts.iter().enumerate() {
            if part > before && part <= before.checked_add(count)? {
                return Some((u32::try_from(segment).ok()?, part - before));
            }
            before = before.checked_add(count)?;
        }
        None
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeTotals {
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportResult {
    pub attachment_count: u64,
    pub total_bytes: u64,
    pub by_conversation_type: BTreeMap<ConversationType, TypeTotals>,
    pub manifest_key: String,
    pub manifest_bytes: u64,
    pub manifest_sha256: String,
    pub summary_key: String,
    pub urls_expire_at: Timestamp,
    /// Rows not in the manifest because they failed a check (listed in `errors.csv`).
    #[serde(default)]
    pub error_count: u64,
    /// `errors.csv`, when there are error rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ReportFile>,
    /// `coverage.csv` (absent on exports made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage_key: Option<String>,
    /// The signed statement (absent on exports made before statements existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementFile>,
}

impl ExportResult {
    /// The status an export with this result ends in.
    pub fn status(&self) -> ExportStatus {
        if self.error_count > 0 { ExportStatus::SucceededWithErrors } else { ExportStatus::Succeeded }
    }
}

/// A report file beside the manifest (`errors.csv`): its key, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportFile {
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The signed statement beside the manifest (DESIGN §14): its key, size and SHA-256 (which the
/// account's next statement chains to), its signature's key, and the KMS key that signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementFile {
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
    pub signature_key: String,
    pub key_id: String,
}

/// Why an export failed, as the administrator reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureInfo {
    pub code: String,
    pub message: String,
}

/// The `EXPORT#{exportId}` item of ExportsTable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    /// The account, or the self-service user, whose export it is (`accountId` or `userId`).
    #[serde(flatten)]
    pub owner: ExportOwner,
    pub export_id: ExportId,
    pub status: ExportStatus,
    pub format: ExportFormat,
    pub requested_at: Timestamp,
    pub cutoff: Timestamp,
    /// An incremental export covers files uploaded after this time only (and up to the cutoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub requested_by: RequestedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Whether each object is HEADed (exists, size, SHA-256) before its URL is signed.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub verify_objects: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    #[serde(default)]
    pub progress: Progress,
    /// How the listing is split into segments, set once by the Plan step (each segment's progress
    /// is an item of its own, `ExportStore::checkpoint_segment`).
    #[serde(default, skip_serializing)]
    pub plan: Option<ListingPlan>,
    /// Set once, by the enumeration's Close step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enumerated: Option<Enumerated>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExportResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureInfo>,
    #[serde(default)]
    pub retrievals: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_retrieved_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_retrieved_by: Option<String>,
    /// When the export's links were revoked, and by whom (REVOKED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<RequestedBy>,
}

impl ExportRecord {
    /// A new request, QUEUED, whose snapshot is everything uploaded up to the request time.
    pub fn new_request(
        owner: ExportOwner,
        format: ExportFormat,
        requested_by: RequestedBy,
        client_token: Option<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            owner,
            export_id: ExportId::at(now),
            status: ExportStatus::Queued,
            format,
            requested_at: now,
            cutoff: now,
            since: None,
            requested_by,
            client_token,
            verify_objects: true,
            execution_arn: None,
            started_at: None,
            completed_at: None,
            progress: Progress::default(),
            plan: None,
            enumerated: None,
            result: None,
            error: None,
            retrievals: 0,
            last_retrieved_at: None,
            last_retrieved_by: None,
            revoked_at: None,
            revoked_by: None,
        }
    }

    /// The status to show: a delivered export whose URLs have died is EXPIRED.
    pub fn visible_status(&self, now: Timestamp) -> ExportStatus {
        match (&self.status, &self.result) {
            (s, Some(r)) if s.is_delivered() && r.urls_expire_at <= now => ExportStatus::Expired,
            (s, _) => *s,
        }
    }
}

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn is_true(value: &bool) -> bool {
    *value
}

/// What the throttle item held before the last acceptance, so a failed export can give the window
/// back (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleWindow {
    pub last_export_id: ExportId,
    pub last_requested_at: Timestamp,
    pub next_allowed_at: Timestamp,
}

/// The `THROTTLE` item of ExportsTable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    #[serde(flatten)]
    pub current: ThrottleWindow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<ThrottleWindow>,
}

impl Throttle {
    pub fn is_open_at(&self, now: Timestamp) -> bool {
        self.current.next_allowed_at <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExportStatus::*;

    #[test]
    fn status_moves_only_forward() {
        let allowed = [
            (Queued, Running),
            (Running, Running),
            (Running, Succeeded),
            (Running, SucceededWithErrors),
            (Queued, Failed),
            (Running, Failed),
            // Revocation: of delivered links only, and for good.
            (Succeeded, Revoked),
            (SucceededWithErrors, Revoked),
            (Expired, Revoked),
        ];
        for from in ExportStatus::ALL {
            for to in ExportStatus::ALL {
                assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn succeeded_export_shows_expired_once_urls_die() {
        let now = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let mut record = ExportRecord::new_request(
            AccountId::random().into(),
            ExportFormat::Csv,
            RequestedBy { principal: "arn:aws:iam::1:user/a".into(), via: Via::Api, person: None },
            None,
            now,
        );
        record.status = Succeeded;
        record.result = Some(ExportResult {
            attachment_count: 0,
            total_bytes: 0,
            by_conversation_type: BTreeMap::new(),
            manifest_key: "k".into(),
            manifest_bytes: 0,
            manifest_sha256: String::new(),
            summary_key: "s".into(),
            urls_expire_at: now.plus(std::time::Duration::from_secs(10)),
            error_count: 0,
            errors: None,
            coverage_key: None,
            statement: None,
        });
        assert_eq!(record.visible_status(now), Succeeded);
        assert_eq!(record.visible_status(now.plus(std::time::Duration::from_secs(10))), Expired);
    }

    #[test]
    fn format_parses_only_documented_values() {
        assert_eq!("csv".parse::<ExportFormat>().unwrap(), ExportFormat::Csv);
        assert_eq!("jsonl".parse::<ExportFormat>().unwrap(), ExportFormat::Jsonl);
        assert!("CSV".parse::<ExportFormat>().is_err());
        assert!("xlsx".parse::<ExportFormat>().is_err());
    }

    mod listing_plan {
        use super::*;
        use proptest::prelude::*;

        fn at(ms: i64) -> Timestamp {
            Timestamp::from_unix_millis(ms).unwrap()
        }

        /// The segment holding an upload at `t`, if any: its lower bound is exclusive, its upper
        /// inclusive, as a catalog range is.
        fn holder(plan: &ListingPlan, since: Option<Timestamp>, cutoff: Timestamp, t: Timestamp) -> Vec<u32> {
            (0..plan.segments)
                .filter(|&s| {
                    let (lower, upper) = plan.bounds(s, since, cutoff).unwrap();
                    lower.is_none_or(|l| t > l) && t <= upper
                })
                .collect()
        }

        #[test]
        fn a_short_span_gets_fewer_segments_and_never_none() {
            assert_eq!(ListingPlan::new(32, at(1_000), at(1_004)).segments, 4);
            assert_eq!(ListingPlan::new(32, at(1_000), at(1_000)).segments, 1);
            assert_eq!(ListingPlan::new(0, at(1_000), at(9_000)).segments, 1);
            assert_eq!(ListingPlan::new(32, at(0), at(86_400_000)).segments, 32);
            assert_eq!(ListingPlan::new(4, at(0), at(100)).bounds(4, None, at(100)), None);
        }

        #[test]
        fn equal_slices_end_at_the_cutoff() {
            let plan = ListingPlan::new(4, at(0), at(400));
            let bounds: Vec<_> = (0..4).map(|s| plan.bounds(s, None, at(400)).unwrap()).collect();
            assert_eq!(
                bounds,
                vec![
                    (None, at(100)),
                    (Some(at(100)), at(200)),
                    (Some(at(200)), at(300)),
                    (Some(at(300)), at(400))
                ]
            );
        }

        proptest! {
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]

            /// Every upload of the export's range is in exactly one segment, and segment order is
            /// upload order: the manifest stays in upload order when the segments are read apart.
            #[test]
            fn segments_cover_the_range_once_in_order(
                since in proptest::option::of(0i64..1_000_000),
                from_after in 1i64..1_000_000,
                span in 0i64..10_000_000,
                segments in 1u32..300,
                offset in 0i64..11_000_000,
            ) {
                let since_at = since.map(at);
                let from = at(since.unwrap_or(0) + from_after);
                let cutoff = at(from.unix_millis() + span);
                let plan = ListingPlan::new(segments, from, cutoff);
                prop_assert!(plan.segments >= 1 && plan.segments <= segments.max(1));
                let t = at(from.unix_millis() + offset.min(span));
                prop_assert_eq!(holder(&plan, since_at, cutoff, t).len(), 1);
                let mut last = since_at;
                for s in 0..plan.segments {
                    let (lower, upper) = plan.bounds(s, since_at, cutoff).unwrap();
                    prop_assert_eq!(lower, last);
                    prop_assert!(lower.is_none_or(|l| l < upper), "segment {} is empty of instants", s);
                    last = Some(upper);
                }
                prop_assert_eq!(last, Some(cutoff));
            }
        }

        #[test]
        fn a_checkpoint_follows_the_one_before_or_marks_it_done() {
            let part =
                |n, listed, done| SegmentListing { part_count: n, listed, cursor: format!("c{n}"), done };
            assert_eq!(part(1, 10, false).rows_after(None), Some(10));
            assert_eq!(part(0, 0, true).rows_after(None), Some(0), "an empty segment is done at once");
            assert_eq!(part(2, 20, false).rows_after(Some(&part(1, 10, false))), Some(10));
            assert_eq!(part(1, 10, true).rows_after(Some(&part(1, 10, false))), Some(0));
            assert_eq!(part(3, 30, false).rows_after(Some(&part(1, 10, false))), None, "a skipped part");
            assert_eq!(part(2, 5, false).rows_after(Some(&part(1, 10, false))), None, "fewer rows listed");
            assert_eq!(
                part(2, 20, false).rows_after(Some(&part(1, 10, true))),
                None,
                "past the segment's end"
            );
            assert_eq!(part(1, 11, true).rows_after(Some(&part(1, 10, false))), None, "done with other rows");
        }

        #[test]
        fn manifest_parts_are_the_segments_parts_in_order() {
            let e = Enumerated {
                part_count: 5,
                listed: 0,
                signed_at: at(0),
                segment_parts: vec![2, 0, 3],
                group_parts: 2,
            };
            let located: Vec<_> = (0..=6).map(|p| e.locate(p)).collect();
            assert_eq!(
                located,
                vec![None, Some((0, 1)), Some((0, 2)), Some((2, 1)), Some((2, 2)), Some((2, 3)), None]
            );
        }
    }
}
