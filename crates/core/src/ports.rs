//! The ports of DESIGN §3: small traits the rules are written against. Adapters (in `adapters`)
//! implement them on AWS; unit tests implement them in memory.
//!
//! Methods return `impl Future + Send` (rather than `async fn`) so handlers generic over these traits
//! stay `Send`, as the Lambda runtime requires.

use std::future::Future;
use std::time::Duration;

use crate::domain::error::Result;
use crate::domain::ids::{AccountId, AttachmentId, ConversationId, ExportId, UserId};
use crate::domain::model::{
    Account, Attachment, CatalogRow, DownloadSummary, Enumerated, ExportRecord, ExportResult, FailureInfo,
    Fetch, Handout, ListingPlan, Membership, Person, Receipt, Room, SegmentListing, Throttle, User,
};
use crate::domain::owner::ExportOwner;
use crate::domain::payloads::{ExportJob, StepError};
use crate::domain::time::Timestamp;

/// One page of a listing and the opaque cursor of the next one (`None` at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The chat service's directory (AccountsTable): accounts, their users and rooms. Read-only to the
/// exporter.
pub trait Directory: Send + Sync {
    fn account(&self, account: &AccountId) -> impl Future<Output = Result<Option<Account>>> + Send;

    /// Every user of the account, managed or not (ids filled in).
    fn users(&self, account: &AccountId) -> impl Future<Output = Result<Vec<User>>> + Send;

    /// Every room of the account (ids filled in).
    fn rooms(&self, account: &AccountId) -> impl Future<Output = Result<Vec<Room>>> + Send;

    /// Every account whose directory lists `user`, and whether as managed (AccountsTable's
    /// inverted index on `USER#{userId}`: no Scan). None for a user outside every account.
    fn memberships(&self, user: &UserId) -> impl Future<Output = Result<Vec<Membership>>> + Send;

    /// Every room `user` created, in any account, with that account (AccountsTable's `by-creator`
    /// index), rooms' ids filled in.
    fn rooms_created_by(&self, user: &UserId) -> impl Future<Output = Result<Vec<(AccountId, Room)>>> + Send;

    /// Every account id, at most `limit` a page (the sweep).
    fn accounts(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Page<AccountId>>> + Send;
}

/// Which uploads a catalog listing covers: those after `since` (from the first when `None`), up to
/// and including `cutoff`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UploadRange {
    pub since: Option<Timestamp>,
    pub cutoff: Timestamp,
}

/// Which catalog rows a listing reads (DESIGN §6, §15).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CatalogSource {
    /// An account's partition: an account's export.
    Account(AccountId),
    /// A user's uploads, in every account (AttachmentsTable's `by-uploader` index).
    Uploader(UserId),
    /// One conversation's files, in whichever account holds it (the `by-conversation` index): a
    /// room a self-service user created.
    Conversation(ConversationId),
}

/// The chat service's attachment catalog (AttachmentsTable), read beside its directory (only the
/// Enumerate step needs it). Read-only to the exporter.
pub trait AttachmentCatalog: Directory {
    /// The source's attachments uploaded in `range`, in upload order, one page at a time. `after`
    /// is where the previous page (its `next`) or a row (its [`Self::position`]) left off; `limit`
    /// caps the items read (DynamoDB still stops at 1 MB). An item that cannot be read as an
    /// attachment is an `Err` row, not an error of the page.
    fn attachments(
        &self,
        source: &CatalogSource,
        range: UploadRange,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<Page<CatalogRow>>> + Send;

    /// Where a listing of `source` resumes after `row`: an opaque cursor, for the `after` of a
    /// later call of the same source.
    fn position(source: &CatalogSource, row: &CatalogRow) -> String;

    /// One attachment of the account, by its upload time and id (the catalog's key): `None` if
    /// there is none, or if its item cannot be read as an attachment.
    fn attachment(
        &self,
        account: &AccountId,
        uploaded_at: Timestamp,
        id: &AttachmentId,
    ) -> impl Future<Output = Result<Option<Attachment>>> + Send;
}

/// A status move and the fields that come with it.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusChange {
    Running {
        started_at: Timestamp,
    },
    Succeeded {
        completed_at: Timestamp,
        result: Box<ExportResult>,
    },
    Failed {
        completed_at: Timestamp,
        error: FailureInfo,
    },
    /// A delivered export's links revoked, for good (`RevokeDataExport`).
    Revoked {
        at: Timestamp,
        by: crate::domain::model::RequestedBy,
    },
}

/// Outcome of asking for the 7-day window.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// The record was written QUEUED and the window taken.
    Accepted { throttle: Throttle },
    /// The window is closed by another export (see `throttle.current.last_export_id`).
    WindowClosed { throttle: Throttle },
}

/// ExportsTable: export records and each owner's throttle (an account's, or a self-service user's).
pub trait ExportStore: Send + Sync {
    /// Writes the QUEUED record and takes its owner's window in one transaction (DESIGN §4): of
    /// any number of simultaneous calls for one owner, exactly one is accepted.
    fn admit(
        &self,
        record: &ExportRecord,
        window: Duration,
    ) -> impl Future<Output = Result<Admission>> + Send;

    fn get(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
    ) -> impl Future<Output = Result<Option<ExportRecord>>> + Send;

    /// Exports of every owner that are still QUEUED or RUNNING, a page at a time (the sweep's
    /// search for stuck exports; a full-table read, once a day). `limit` caps the items examined.
    fn unfinished(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Page<ExportRecord>>> + Send;

    /// The owner's exports, newest first, at most `limit`, after (older than) the export `after`.
    /// `next` is the id of the last export listed when more may follow.
    fn list(
        &self,
        owner: &ExportOwner,
        limit: u32,
        after: Option<&ExportId>,
    ) -> impl Future<Output = Result<Page<ExportRecord>>> + Send;

    fn throttle(&self, owner: &ExportOwner) -> impl Future<Output = Result<Option<Throttle>>> + Send;

    /// Moves the status on condition that the stored status allows it (`Error::StatusConflict`
    /// otherwise; `Error::NotFound` for an unknown export).
    fn change_status(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        change: StatusChange,
    ) -> impl Future<Output = Result<()>> + Send;

    fn set_execution_arn(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        execution_arn: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records how the listing is split, once, while the export is RUNNING (`Error::StatusConflict`
    /// if it is not, or if a plan is recorded already: the first one stands).
    fn record_plan(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        plan: &ListingPlan,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Where segment `segment` of the export's listing stands (`None` before its first checkpoint).
    fn segment(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        segment: u32,
    ) -> impl Future<Output = Result<Option<SegmentListing>>> + Send;

    /// Every checkpointed segment of the export's listing, in segment order. One item a segment:
    /// bounded by the plan, not by the export.
    fn segments(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
    ) -> impl Future<Output = Result<Vec<(u32, SegmentListing)>>> + Send;

    /// Moves segment `segment`'s checkpoint from `from` (`None`: its start) to `to`, and adds the
    /// rows between them to `progress.attachmentsListed`, at once and only while the export is
    /// RUNNING. A checkpoint already at `to` (a retried pass) changes nothing and is `Ok`; anything
    /// else (a skipped, repeated or forged part, a checkpoint elsewhere) is `Error::StatusConflict`.
    /// `to` must follow `from` ([`SegmentListing::rows_after`]; else `Error::Internal`, nothing written). Many segments checkpoint at once, each
    /// its own item: no item's write rate or size grows with the export.
    fn checkpoint_segment(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        segment: u32,
        from: Option<&SegmentListing>,
        to: &SegmentListing,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records what the enumeration found, once, while the export is RUNNING (`Error::StatusConflict`
    /// if it is not, or if an enumeration is recorded already: the first one stands).
    fn record_enumerated(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        enumerated: &Enumerated,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records that manifest part `part` is written and adds it to `progress.partsWritten`, once
    /// however often its step runs, and only while the export is RUNNING (`Error::StatusConflict`
    /// otherwise). Each part is an item of its own: many parts are written at once, and no item's
    /// size or write rate grows with the export.
    fn mark_part_written(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        part: u32,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Keeps `user`'s pending Assistant confirmation (DESIGN §15): the SHA-256 of its code, until
    /// `expires_at`. One a user: a new one replaces the last.
    fn put_confirmation(
        &self,
        user: &UserId,
        code_sha256: &str,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Redeems `user`'s pending confirmation if its code's SHA-256 is `code_sha256` and it has not
    /// expired at `now`: `true` once, and it is gone; `false` (nothing changes) for any other code,
    /// a used or expired one, or another user's.
    fn take_confirmation(
        &self,
        user: &UserId,
        code_sha256: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Counts one hand-out of a delivered export's links (`retrievals`, `lastRetrievedAt`,
    /// `lastRetrievedBy`) and keeps it in the export's hand-out history, once the count is taken
    /// (`Error::StatusConflict` unless the export is delivered: nothing is kept then).
    fn record_retrieval(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        handout: &Handout,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The export's hand-outs, newest first, at most `limit`; none for another owner's export.
    fn handouts(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Handout>>> + Send;

    /// Counts one fetch of one of the export's files (its receipt: count, first and last time and
    /// address) and, on the file's first fetch only, the export's download summary — exactly once
    /// per file, however many fetches race or are retried.
    fn record_fetch(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        fetch: &Fetch,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The export's download summary (zero files when nothing was fetched; nothing of another
    /// account's export).
    fn download_summary(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
    ) -> impl Future<Output = Result<DownloadSummary>> + Send;

    /// The export's receipts in upload order (the manifest's), at most `limit` a page, after the
    /// position `after` (a previous page's `next`).
    fn receipts(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Page<Receipt>>> + Send;

    /// Gives the window back after `export` failed: restores the throttle's `previous` values, on
    /// condition that `export` still holds the window. Returns whether anything changed.
    fn release_window(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// Where the sweep keeps its progress, so that each invocation resumes where the last one stopped
/// (one record; DESIGN §5).
pub trait SweepLedger: Send + Sync {
    fn load(&self) -> impl Future<Output = Result<Option<crate::rules::sweep::SweepRecord>>> + Send;

    /// Writes the record on condition that the stored one still has `expected_version` (`None`:
    /// that there is none). `Ok(false)` when another invocation got there first.
    fn save(
        &self,
        record: &crate::rules::sweep::SweepRecord,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: i32,
    pub etag: String,
}

/// An object's size and user metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectHead {
    pub size: u64,
    pub metadata: std::collections::HashMap<String, String>,
}

/// The export bucket.
pub trait ObjectStore: Send + Sync {
    /// Writes an object with user metadata (`x-amz-meta-*`).
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> impl Future<Output = Result<()>> + Send;

    /// The whole object (`Error::NotFound` if absent). Only for bounded objects such as one part.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// Bytes `start..end` of the object (`Error::NotFound` if absent): a bounded read of a large
    /// object, such as the manifest while Finalize hashes it.
    fn get_range(&self, key: &str, start: u64, end: u64) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// The object's size and metadata, or `None` if absent.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectHead>>> + Send;

    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>>> + Send;

    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<()>> + Send;

    /// Starts an upload; `metadata` (`x-amz-meta-*`) is the completed object's.
    fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> impl Future<Output = Result<String>> + Send;

    fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<UploadedPart>> + Send;

    /// Copies an existing object in as a part, server-side: all of it, or bytes `start..end`
    /// (S3 copies a range only of a source larger than 5 MiB).
    fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        source_key: &str,
        range: Option<(u64, u64)>,
    ) -> impl Future<Output = Result<UploadedPart>> + Send;

    /// Completes the upload from `parts` in part-number order. As S3: every part but the last must
    /// be at least 5 MiB (`EntityTooSmall`), and there are at most 10,000.
    fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> impl Future<Output = Result<()>> + Send;

    fn abort_multipart(&self, key: &str, upload_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// A GET link signed by the function's own (short-lived) credentials: the manifest hand-out.
    fn presign_get(&self, key: &str, expires_in: Duration) -> impl Future<Output = Result<String>> + Send;
}

/// What HeadObject says about an attachment: its size and, where S3 holds one, its SHA-256 (hex,
/// lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentHead {
    pub size: u64,
    pub sha256: Option<String>,
}

/// What a HEAD of an attachment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadResult {
    Found(AttachmentHead),
    /// No such object.
    Missing,
    /// S3 refused to answer (403): without `kms:Decrypt` on a customer key that encrypts it, or a
    /// bucket policy. The object cannot be checked, and its link would not work either.
    Refused,
}

/// The chat service's attachment buckets, read-only: the part writer checks each object before it
/// signs its URL (DESIGN §7).
pub trait AttachmentObjects: Send + Sync {
    /// The object's size and stored SHA-256, or that it does not exist or cannot be read.
    fn head(&self, bucket: &str, key: &str) -> impl Future<Output = Result<HeadResult>> + Send;

    /// A GET of the object that works for `ttl` only (signed with the function's own, temporary
    /// credentials) and that S3 answers as a download: `Content-Disposition` set to `disposition`
    /// and `Cache-Control: private, no-store`, whatever the object's stored headers.
    fn presign_download(
        &self,
        bucket: &str,
        key: &str,
        disposition: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// A change of an export's status, as operators receive it (DESIGN §6): ids, status, counts and
/// an error code; never a URL.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    #[serde(flatten)]
    pub owner: ExportOwner,
    pub export_id: ExportId,
    pub status: crate::domain::model::ExportStatus,
    pub requested_at: Timestamp,
    pub completed_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    /// Rows left out of the manifest (listed in errors.csv); on delivered exports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// When a delivered export's links were revoked (REVOKED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

/// What the Assistant says to a user when their export ends (DESIGN §15), for the chat service to
/// deliver in the user's 1:1 chat: the reply's text and, for a delivered export, the manifest link
/// (revocable, `domain::manifest_link`) and when it stops working. It holds a link, so it goes to
/// the Assistant's own bus, never to the default bus or a log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssistantReply {
    pub user_id: crate::domain::ids::UserId,
    pub export_id: ExportId,
    pub status: crate::domain::model::ExportStatus,
    /// What the user reads; it repeats the link, so the chat service can post it as it is.
    pub reply: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Where export state changes are published (EventBridge's default bus), and the Assistant's
/// replies (its own bus).
pub trait Notifier: Send + Sync {
    fn publish(&self, change: &StateChange) -> impl Future<Output = Result<()>> + Send;

    /// Publishes the Assistant's reply to a user's ended export.
    fn reply(&self, reply: &AssistantReply) -> impl Future<Output = Result<()>> + Send;
}

/// The state machine.
pub trait Workflow: Send + Sync {
    /// Starts the export's execution, named by its export id; starting it again is harmless.
    /// Returns the execution ARN.
    fn start(&self, job: &ExportJob) -> impl Future<Output = Result<String>> + Send;

    /// Where the export's execution stands.
    fn state(&self, export: &ExportId) -> impl Future<Output = Result<ExecutionState>> + Send;

    /// The failure the export's execution is handling, as Step Functions recorded it: `Some` while
    /// the execution runs its failure step ([`FAILURE_STATE`], entered by the state machine's own
    /// Catch) or once it has ended FAILED, TIMED_OUT or ABORTED; `None` for an execution that runs
    /// normally, succeeded, or was never started. The failure step records nothing without it, so
    /// an invocation that merely claims a failure cannot end a running export.
    fn failure(&self, export: &ExportId) -> impl Future<Output = Result<Option<StepError>>> + Send;
}

/// The state machine's failure step (infra/statemachine/export.asl.json), which every Catch enters.
pub const FAILURE_STATE: &str = "RecordFailure";

/// An execution as the schedule's stuck-export search sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    /// Running (or pending a redrive): its own steps will record the outcome.
    Running,
    /// Ended with this Step Functions status (`SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`).
    Ended(String),
    /// No execution by that name.
    NotStarted,
}

/// A statement's signature, as the signer made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementSignature {
    /// DER-encoded ECDSA P-256 signature.
    pub der: Vec<u8>,
    /// The key that signed, as the signer names it (KMS answers the key's ARN).
    pub key_id: String,
}

/// Signs export statements with the stack's asymmetric key (DESIGN §14): ECDSA P-256 with SHA-256
/// (`ECDSA_SHA_256`) over the statement's bytes. Only write-manifest holds one.
pub trait StatementSigner: Send + Sync {
    /// The key as configured (recorded in the statement before it is signed).
    fn key_id(&self) -> &str;

    /// Signs a statement's exact bytes (KMS `MessageType = RAW`, `ECDSA_SHA_256`: KMS hashes them),
    /// at most [`crate::domain::statement::MAX_STATEMENT_BYTES`].
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<StatementSignature>> + Send;

    /// The public key, DER SubjectPublicKeyInfo (KMS GetPublicKey).
    fn public_key_der(&self) -> impl Future<Output = Result<Vec<u8>>> + Send;
}

/// The console's users (its Cognito user pool): names the person behind a console request.
pub trait People: Send + Sync {
    /// The user `sub` of user pool `pool_id`, if that pool is the console's and the user is in it.
    /// A user of any other pool is nobody this stack knows (`None`, whatever the pool says).
    fn person(&self, pool_id: &str, sub: &str) -> impl Future<Output = Result<Option<Person>>> + Send;
}

/// The keys of revocable download links (docs/proposals/revocable-links.md): each export's link
/// key is derived from a long-term key nobody can read (KMS `GenerateMac`), so no secret is stored
/// anywhere and one export's key verifies that export's links only.
pub trait LinkKeys: Send + Sync {
    /// The key links are made with now (a token's `kid`).
    fn current_kid(&self) -> u8;

    /// The link key of `export` under key `kid`: the same every time, another for every other
    /// export, owner or kid. An unknown `kid` is `Error::NotFound` (a link of a retired key).
    fn derive(
        &self,
        kid: u8,
        owner: &ExportOwner,
        export: &ExportId,
    ) -> impl Future<Output = Result<[u8; 32]>> + Send;
}

/// What a link key is derived from: a fixed label, then the owner's and the export's 16 bytes. A
/// user's export has a label of its own, so a user and an account of the same id never share a key.
pub fn link_key_context(owner: &ExportOwner, export: &ExportId) -> Vec<u8> {
    let mut message = match owner {
        ExportOwner::Account(_) => b"attachment-export/link/v1\0".to_vec(),
        ExportOwner::User(_) => b"attachment-export/link/user/v1\0".to_vec(),
    };
    let owner_bytes = uuid::Uuid::parse_str(owner.id()).map(|u| *u.as_bytes()).unwrap_or_default();
    message.extend_from_slice(&owner_bytes);
    message.extend_from_slice(&export.to_bytes());
    message
}
