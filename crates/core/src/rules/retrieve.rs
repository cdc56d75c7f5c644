//! RetrieveDataExport (DESIGN §5, §7, §9): an account's export history, one export's status, and
//! the guarded hand-out of its manifest link. Every hand-out is counted on the record and logged
//! with the principal; the link itself never reaches a log.

use std::time::Duration;

use serde::Serialize;

use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, ExportId, UserId, quote_for_message};
use crate::domain::model::{
    Account, AccountType, DownloadSummary, ExportFormat, ExportRecord, ExportResult, ExportStatus,
    FailureInfo, Handout, Person, Progress, RequestedBy, Throttle,
};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;
use crate::ports::{Clock, Directory, ExportStore, ObjectStore};
use crate::rules::start;

pub const DEFAULT_MAX_RESULTS: u32 = 20;
pub const MAX_MAX_RESULTS: u32 = 100;

/// A validated list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub max_results: u32,
    /// The export to continue after, decoded from `nextToken`.
    after: Option<ExportId>,
}

impl ListQuery {
    pub fn parse(max_results: Option<&str>, next_token: Option<&str>) -> Result<Self> {
        let max_results = match max_results {
            None => DEFAULT_MAX_RESULTS,
            Some(raw) => {
                raw.parse::<u32>().ok().filter(|n| (1..=MAX_MAX_RESULTS).contains(n)).ok_or_else(|| {
                    Error::BadRequest(format!(
                        "maxResults must be a whole number from 1 to {MAX_MAX_RESULTS}; got {}",
                        quote_for_message(raw)
                    ))
                })?
            }
        };
        // The token is the last listed export's id. The Query stays inside the path's account
        // whatever the token says, so a forged token cannot reach another account's exports.
        let after = next_token
            .map(|t| {
                ExportId::parse(t).map_err(|_| {
                    Error::BadRequest(
                        "nextToken is not valid: pass the nextToken of the previous page unchanged.".into(),
                    )
                })
            })
            .transpose()?;
        Ok(Self { max_results, after })
    }
}

/// The manifest hand-out of a SUCCEEDED export.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestLink {
    pub url: String,
    pub url_expires_at: Timestamp,
    pub format: ExportFormat,
    pub bytes: u64,
    pub sha256: String,
}

/// The hand-out of a report beside the manifest (`errors.csv`, `coverage.csv`): a 15-minute link.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportLink {
    pub url: String,
    pub url_expires_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Rows in the report (errors.csv: `result.errorCount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// The hand-out of the signed statement (DESIGN §14): a 15-minute link to `statement.json` and one
/// to its signature `statement.sig`, with the statement's size and SHA-256 and the KMS key that
/// signed (whose public key `attachment-export verify --key-id` fetches).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementLink {
    pub url: String,
    pub url_expires_at: Timestamp,
    pub bytes: u64,
    pub sha256: String,
    pub key_id: String,
    pub signature: ReportLink,
}

/// An export as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportView {
    pub export_id: ExportId,
    /// `accountId`, or `userId` for a self-service user's export.
    #[serde(flatten)]
    pub owner: ExportOwner,
    pub status: ExportStatus,
    pub format: ExportFormat,
    pub requested_at: Timestamp,
    pub cutoff: Timestamp,
    /// An incremental export covers files uploaded after this time (and up to `cutoff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub requested_by: RequestedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ExportResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls_expire_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestLink>,
    /// errors.csv, when the export has error rows (SUCCEEDED_WITH_ERRORS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ReportLink>,
    /// coverage.csv, when the export has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<ReportLink>,
    /// statement.json and statement.sig, when the export has a statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementLink>,
    pub retrievals: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_retrieved_at: Option<Timestamp>,
    /// Who had the last hand-out (the principal recorded with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_retrieved_by: Option<String>,
    /// The latest hand-outs ([`HANDOUTS_SHOWN`] at most), newest first, this one included: when,
    /// to which principal, and the person behind it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handouts: Vec<Handout>,
    /// When the export's links were revoked, and by whom (REVOKED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<RequestedBy>,
    /// How many of the export's files were fetched through their links (delivered and revoked
    /// exports, in the view of one export).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloads: Option<DownloadSummary>,
    /// downloads.csv: every file of the manifest, fetched or not, with its receipts (exports of
    /// up to [`DOWNLOADS_REPORT_MAX_FILES`] files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloads_report: Option<ReportLink>,
}

/// The largest export whose downloads.csv is built while the request waits (its manifest is read
/// whole, within API Gateway's 29 s); larger ones show the summary only.
pub const DOWNLOADS_REPORT_MAX_FILES: u64 = 200_000;

/// The hand-outs an export's view lists (the count, `retrievals`, covers them all).
pub const HANDOUTS_SHOWN: u32 = 20;

impl ExportView {
    fn of(record: ExportRecord, now: Timestamp) -> Self {
        let status = record.visible_status(now);
        let running = matches!(status, ExportStatus::Queued | ExportStatus::Running);
        Self {
            export_id: record.export_id,
            owner: record.owner,
            status,
            format: record.format,
            requested_at: record.requested_at,
            cutoff: record.cutoff,
            since: record.since,
            requested_by: record.requested_by,
            started_at: record.started_at,
            completed_at: record.completed_at,
            progress: running.then_some(record.progress),
            error: record.error.filter(|_| status == ExportStatus::Failed),
            urls_expire_at: record.result.as_ref().map(|r| r.urls_expire_at),
            result: record.result,
            manifest: None,
            errors: None,
            coverage: None,
            statement: None,
            retrievals: record.retrievals,
            last_retrieved_at: record.last_retrieved_at,
            last_retrieved_by: record.last_retrieved_by,
            handouts: Vec::new(),
            revoked_at: record.revoked_at,
            revoked_by: record.revoked_by,
            downloads: None,
            downloads_report: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportList {
    pub exports: Vec<ExportView>,
    pub next_token: Option<String>,
    /// When this account may next request an export (now, if the window is open).
    pub next_allowed_at: Timestamp,
    /// The account itself, for a console's account page.
    pub account: AccountView,
    /// Whether StartDataExport would accept a request now; if not, what it would answer.
    pub request: NextRequest,
}

/// A self-service user's own exports (DESIGN §15): no account is named, and none of its
/// settings; `request` says whether StartDataExport would accept the user's request now, with
/// the same refusals it would answer (self-service off, managed, Team member, the window).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserExportList {
    pub user_id: UserId,
    pub exports: Vec<ExportView>,
    pub next_token: Option<String>,
    /// When the user may next request an export (now, if their window is open).
    pub next_allowed_at: Timestamp,
    pub request: NextRequest,
}

/// The account as its administrators see it: no setting, no user.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account_id: AccountId,
    pub name: String,
    #[serde(rename = "type")]
    pub account_type: AccountType,
    pub domains: Vec<String>,
}

/// Whether a request would be accepted now. When not, `code` and `message` are exactly what
/// StartDataExport would answer (422 for a Team account, 429 inside the window), so a console
/// can say why before anyone tries. Who may request is IAM's to say, not this.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextRequest {
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl NextRequest {
    fn refused(error: &Error) -> Self {
        Self { allowed: false, code: Some(error.code()), message: Some(error.public_message()) }
    }
}

/// When the account may next request an export: now, if its window is open.
fn next_allowed_at(throttle: Option<&Throttle>, now: Timestamp) -> Timestamp {
    throttle.map_or(now, |t| t.current.next_allowed_at.max(now))
}

pub struct Retriever<B: Backend> {
    pub directory: B::Directory,
    pub store: B::Store,
    pub objects: B::Objects,
    pub clock: B::Clock,
    /// How long a handed-out manifest link works.
    pub manifest_link: Duration,
    /// StartDataExport's window, for [`NextRequest`]'s message.
    pub window: Duration,
    /// Whether self-service is on (`SELF_SERVICE_ENABLED`, DESIGN §15).
    pub self_service: bool,
}

impl<B: Backend> Retriever<B> {
    /// downloads.csv's link, or none when it cannot be built (logged): the report is the
    /// receipts' view, and never stands between an administrator and the manifest.
    async fn downloads_report(
        &self,
        view: &ExportView,
        manifest: Option<&[u8]>,
        rows: u64,
        now: Timestamp,
    ) -> Option<ReportLink> {
        match self.build_downloads_report(view, manifest, rows, now).await {
            Ok(link) => Some(link),
            Err(error) => {
                let (owner, export) = (&view.owner, &view.export_id);
                tracing::warn!(%owner, %export, %error, "downloads.csv was not built");
                None
            }
        }
    }

    /// Builds downloads.csv from the manifest and every receipt, stores it beside the manifest and
    /// hands out its link.
    async fn build_downloads_report(
        &self,
        view: &ExportView,
        manifest: Option<&[u8]>,
        rows: u64,
        now: Timestamp,
    ) -> Result<ReportLink> {
        let (owner, export) = (&view.owner, &view.export_id);
        let mut receipts = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.receipts(owner, export, after.as_deref(), 1000).await?;
            receipts.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let body = crate::domain::downloads::report(view.format, manifest, receipts)?;
        let key = crate::domain::payloads::ExportJob {
            owner: owner.clone(),
            export_id: *export,
            cutoff: view.cutoff,
            since: view.since,
            format: view.format,
            verify_objects: true,
        }
        .downloads_key();
        let sha256 = crate::domain::hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&body));
        let bytes = body.len() as u64;
        self.objects.put(&key, body, "text/csv; charset=utf-8", &[]).await?;
        Ok(ReportLink {
            url: self.objects.presign_get(&key, self.manifest_link).await?,
            url_expires_at: now.plus(self.manifest_link),
            bytes: Some(bytes),
            sha256: Some(sha256),
            rows: Some(rows),
        })
    }

    async fn require_account(&self, account: &AccountId) -> Result<Account> {
        self.directory
            .account(account)
            .await?
            .ok_or_else(|| Error::NotFound(format!("No account with accountId {account} exists.")))
    }

    /// A self-service user's exports, newest first, and whether they may ask now. With
    /// self-service off, nothing is listed: the refusal is the answer.
    pub async fn list_for_user(&self, user: &UserId, query: &ListQuery) -> Result<UserExportList> {
        // Self-service off is the answer itself; a managed user's or a Team member's refusal is
        // what `request` reports; any other failure (the directory unreachable) is the reply's.
        let eligibility =
            match crate::rules::self_service::require(self.self_service, &self.directory, user).await {
                Err(refused @ Error::Unprocessable(_)) => Err(refused),
                other => Ok(other?),
            };
        let now = self.clock.now();
        let owner = ExportOwner::User(user.clone());
        let page = self.store.list(&owner, query.max_results, query.after.as_ref()).await?;
        let next_token = page.items.last().filter(|_| page.next.is_some()).map(|r| r.export_id.to_string());
        let throttle = self.store.throttle(&owner).await?;
        let refusal = eligibility.err().or_else(|| {
            throttle
                .as_ref()
                .filter(|t| !t.is_open_at(now))
                .map(|t| start::throttled(&owner, t, now, self.window))
        });
        Ok(UserExportList {
            user_id: user.clone(),
            exports: page.items.into_iter().map(|r| ExportView::of(r, now)).collect(),
            next_token,
            next_allowed_at: next_allowed_at(throttle.as_ref(), now),
            request: refusal
                .as_ref()
                .map_or(NextRequest { allowed: true, code: None, message: None }, NextRequest::refused),
        })
    }

    /// One of a self-service user's exports: as [`Self::hand_out`] for the user's own key, so
    /// another user's or an account's export of the same id is not found.
    pub async fn get_for_user(
        &self,
        user: &UserId,
        export: &ExportId,
        principal: &str,
    ) -> Result<ExportView> {
        crate::rules::self_service::require_enabled(self.self_service)?;
        let not_found = || Error::NotFound(format!("You have no export {export}."));
        self.hand_out(&ExportOwner::User(user.clone()), export, principal, None, not_found).await
    }

    pub async fn list(&self, account: &AccountId, query: &ListQuery) -> Result<ExportList> {
        let item = self.require_account(account).await?;
        let now = self.clock.now();
        let owner = ExportOwner::from(account);
        let page = self.store.list(&owner, query.max_results, query.after.as_ref()).await?;
        let next_token = page.items.last().filter(|_| page.next.is_some()).map(|r| r.export_id.to_string());
        let throttle = self.store.throttle(&owner).await?;
        let refusal = start::refusal(&owner, &item, throttle.as_ref(), now, self.window);
        Ok(ExportList {
            exports: page.items.into_iter().map(|r| ExportView::of(r, now)).collect(),
            next_token,
            next_allowed_at: next_allowed_at(throttle.as_ref(), now),
            account: AccountView {
                account_id: account.clone(),
                name: item.name,
                account_type: item.account_type,
                domains: item.domains,
            },
            request: refusal
                .as_ref()
                .map_or(NextRequest { allowed: true, code: None, message: None }, NextRequest::refused),
        })
    }

    /// One export. For a delivered export (SUCCEEDED or SUCCEEDED_WITH_ERRORS) this hands out the
    /// manifest link and its reports' links: counted, kept in its hand-out history and logged.
    /// `person` is who the caller's identity names (resolved server-side), if anyone.
    pub async fn get(
        &self,
        account: &AccountId,
        export: &ExportId,
        principal: &str,
        person: Option<Person>,
    ) -> Result<ExportView> {
        self.require_account(account).await?;
        let not_found = || Error::NotFound(format!("No export {export} exists for account {account}."));
        self.hand_out(&ExportOwner::from(account), export, principal, person, not_found).await
    }

    /// One export of `owner` (whoever may ask for it has been decided): its view, and for a
    /// delivered export its links, counted and kept in its hand-out history. `not_found` is the
    /// refusal for an export the owner does not have.
    pub async fn hand_out(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        principal: &str,
        person: Option<Person>,
        not_found: impl FnOnce() -> Error,
    ) -> Result<ExportView> {
        let record = self.store.get(owner, export).await?.ok_or_else(not_found)?;
        let now = self.clock.now();
        let mut view = ExportView::of(record, now);
        match view.status {
            ExportStatus::Expired => {
                let expired_at = view.urls_expire_at.unwrap_or(now);
                let next = next_allowed_at(self.store.throttle(owner).await?.as_ref(), now);
                let when = if next <= now { "now".to_owned() } else { format!("from {next}") };
                let who = match owner {
                    ExportOwner::Account(_) => "this account",
                    ExportOwner::User(_) => "you",
                };
                Err(Error::Gone(format!(
                    "Export {export} expired at {expired_at}: the download links in its manifest no longer work. \
                     Request a new export; {who} can request one {when}."
                )))
            }
            ExportStatus::Succeeded | ExportStatus::SucceededWithErrors => {
                let result = view
                    .result
                    .as_ref()
                    .ok_or_else(|| Error::Internal(format!("export {export} has no result")))?;
                // Counted and kept before it is handed out: no hand-out ever goes unrecorded.
                let handout = Handout { at: now, principal: principal.to_owned(), person };
                self.store.record_retrieval(owner, export, &handout).await?;
                let url = self.objects.presign_get(&result.manifest_key, self.manifest_link).await?;
                let person = handout.person.as_ref().map(Person::display);
                tracing::info!(%owner, %export, %principal, ?person, "manifest link handed out");
                view.manifest = Some(ManifestLink {
                    url,
                    url_expires_at: now.plus(self.manifest_link),
                    format: view.format,
                    bytes: result.manifest_bytes,
                    sha256: result.manifest_sha256.clone(),
                });
                if let Some(errors) = result.errors.as_ref().filter(|_| result.error_count > 0) {
                    view.errors = Some(ReportLink {
                        url: self.objects.presign_get(&errors.key, self.manifest_link).await?,
                        url_expires_at: now.plus(self.manifest_link),
                        bytes: Some(errors.bytes),
                        sha256: Some(errors.sha256.clone()),
                        rows: Some(result.error_count),
                    });
                }
                if let Some(key) = &result.coverage_key {
                    view.coverage = Some(ReportLink {
                        url: self.objects.presign_get(key, self.manifest_link).await?,
                        url_expires_at: now.plus(self.manifest_link),
                        bytes: None,
                        sha256: None,
                        rows: None,
                    });
                }
                if let Some(statement) = &result.statement {
                    view.statement = Some(StatementLink {
                        url: self.objects.presign_get(&statement.key, self.manifest_link).await?,
                        url_expires_at: now.plus(self.manifest_link),
                        bytes: statement.bytes,
                        sha256: statement.sha256.clone(),
                        key_id: statement.key_id.clone(),
                        signature: ReportLink {
                            url: self
                                .objects
                                .presign_get(&statement.signature_key, self.manifest_link)
                                .await?,
                            url_expires_at: now.plus(self.manifest_link),
                            bytes: None,
                            sha256: None,
                            rows: None,
                        },
                    });
                }
                view.retrievals += 1;
                view.last_retrieved_at = Some(now);
                view.last_retrieved_by = Some(principal.to_owned());
                view.handouts = self.store.handouts(owner, export, HANDOUTS_SHOWN).await?;
                view.downloads = Some(self.store.download_summary(owner, export).await?);
                if result.attachment_count <= DOWNLOADS_REPORT_MAX_FILES {
                    // A manifest that is gone (a lifecycle rule, an operator) leaves the receipts.
                    let rows = result.attachment_count;
                    view.downloads_report = match self.objects.get(&result.manifest_key).await {
                        Ok(manifest) => self.downloads_report(&view, Some(&manifest), rows, now).await,
                        Err(Error::NotFound(_)) => {
                            tracing::warn!(%owner, %export, "the manifest is gone: downloads.csv lists the fetched files only");
                            self.downloads_report(&view, None, rows, now).await
                        }
                        // Not now (S3 busy): the hand-out goes ahead without the report.
                        Err(error) => {
                            tracing::warn!(%owner, %export, %error, "downloads.csv was not built");
                            None
                        }
                    };
                }
                Ok(view)
            }
            ExportStatus::Revoked => {
                // Who fetched what before the links stopped (the manifest is gone: the fetched
                // files only); nothing else is handed out.
                view.downloads = Some(self.store.download_summary(owner, export).await?);
                let rows = view.downloads.as_ref().map_or(0, |d| d.files_fetched);
                if rows <= DOWNLOADS_REPORT_MAX_FILES {
                    view.downloads_report = self.downloads_report(&view, None, rows, now).await;
                }
                Ok(view)
            }
            _ => Ok(view),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::model::{AccountType, Via};
    use crate::ports::StatusChange;

    const WEEK: Duration = Duration::from_secs(604_800);
    const SIX_DAYS: Duration = Duration::from_secs(518_400);

    /// The n-th fixed attachment id of the fake manifests.
    struct AttachmentIdOf(u32);

    impl std::fmt::Display for AttachmentIdOf {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "00000000-0000-4000-8000-{:012}", self.0)
        }
    }

    /// The fakes, with one Enterprise account.
    struct World {
        world: crate::memory::World,
        account: AccountId,
    }

    impl std::ops::Deref for World {
        type Target = crate::memory::World;

        fn deref(&self) -> &crate::memory::World {
            &self.world
        }
    }

    impl World {
        fn new() -> Self {
            let world = crate::memory::World::at("2026-11-24T10:00:00Z");
            let account = world.directory.add_account(AccountType::Enterprise, false);
            Self { world, account }
        }

        fn retriever(&self) -> Retriever<crate::memory::InMemory> {
            self.world.retriever(Duration::from_secs(900), WEEK)
        }

        async fn export(&self, status: ExportStatus) -> ExportId {
            let record = ExportRecord::new_request(
                self.account.clone().into(),
                ExportFormat::Csv,
                RequestedBy { principal: "arn:aws:iam::1:user/a".into(), via: Via::Api, person: None },
                None,
                self.clock.now(),
            );
            let id = record.export_id;
            self.store.admit(&record, WEEK).await.unwrap();
            let now = self.clock.now();
            if status != ExportStatus::Queued {
                self.store
                    .change_status(
                        &self.account.clone().into(),
                        &id,
                        StatusChange::Running { started_at: now },
                    )
                    .await
                    .unwrap();
            }
            match status {
                ExportStatus::Succeeded | ExportStatus::SucceededWithErrors => {
                    let errors = status == ExportStatus::SucceededWithErrors;
                    let result = ExportResult {
                        attachment_count: 3,
                        total_bytes: 300,
                        by_conversation_type: BTreeMap::new(),
                        manifest_key: format!("exports/{}/{id}/attachments.csv", self.account),
                        manifest_bytes: 1234,
                        manifest_sha256: "ab".repeat(32),
                        summary_key: "s".into(),
                        urls_expire_at: now.plus(SIX_DAYS),
                        error_count: if errors { 2 } else { 0 },
                        errors: errors.then(|| crate::domain::model::ReportFile {
                            key: format!("exports/{}/{id}/errors.csv", self.account),
                            bytes: 99,
                            sha256: "ef".repeat(32),
                        }),
                        coverage_key: errors.then(|| format!("exports/{}/{id}/coverage.csv", self.account)),
                        statement: errors.then(|| crate::domain::model::StatementFile {
                            key: format!("exports/{}/{id}/statement.json", self.account),
                            bytes: 500,
                            sha256: "cd".repeat(32),
                            signature_key: format!("exports/{}/{id}/statement.sig", self.account),
                            key_id: "arn:aws:kms:us-east-1:1:key/k".into(),
                        }),
                    };
                    // The manifest the downloads report is built from: three files.
                    let rows: String =
                        (0..3).map(|i| format!("{},DIRECT,file-{i}.pdf\r\n", AttachmentIdOf(i))).collect();
                    let manifest = format!("attachment_id,conversation_type,file_name\r\n{rows}");
                    self.objects
                        .put(&result.manifest_key, manifest.into_bytes(), "text/csv", &[])
                        .await
                        .unwrap();
                    self.store
                        .change_status(
                            &self.account.clone().into(),
                            &id,
                            StatusChange::Succeeded { completed_at: now, result: Box::new(result) },
                        )
                        .await
                        .unwrap();
                }
                ExportStatus::Failed => {
                    let error =
                        FailureInfo { code: "TransientError".into(), message: "S3 was unavailable".into() };
                    self.store
                        .change_status(
                            &self.account.clone().into(),
                            &id,
                            StatusChange::Failed { completed_at: now, error },
                        )
                        .await
                        .unwrap();
                }
                _ => {}
            }
            id
        }
    }

    #[tokio::test]
    async fn a_succeeded_export_hands_out_a_counted_manifest_link() {
        let w = World::new();
        let id = w.export(ExportStatus::Succeeded).await;
        let view = w.retriever().get(&w.account, &id, "arn:aws:iam::1:user/it", None).await.unwrap();
        let manifest = view.manifest.unwrap();
        assert!(manifest.url.contains("X-Amz-Expires=900"));
        assert_eq!(manifest.url_expires_at, w.clock.now().plus(Duration::from_secs(900)));
        assert_eq!((manifest.bytes, manifest.sha256.len()), (1234, 64));
        assert_eq!(view.urls_expire_at, Some(w.clock.now().plus(SIX_DAYS)));
        assert_eq!(view.retrievals, 1);
        assert!(view.progress.is_none());
        w.retriever().get(&w.account, &id, "arn:aws:iam::1:user/other", None).await.unwrap();
        let record = w.store.record(&w.account, &id).unwrap();
        assert_eq!(record.retrievals, 2);
        assert_eq!(record.last_retrieved_by.as_deref(), Some("arn:aws:iam::1:user/other"));
    }

    #[tokio::test]
    async fn a_delivered_export_hands_out_its_downloads_and_a_revoked_one_only_what_was_fetched() {
        use crate::domain::ids::AttachmentId;
        use crate::domain::model::Fetch;
        let w = World::new();
        let id = w.export(ExportStatus::Succeeded).await;
        let fetch = |i: u32, ip: &str| Fetch {
            uploaded_at: w.clock.now(),
            attachment_id: AttachmentId::parse(&AttachmentIdOf(i).to_string()).unwrap(),
            at: w.clock.now(),
            source_ip: ip.into(),
        };
        w.store.record_fetch(&w.account.clone().into(), &id, &fetch(1, "192.0.2.1")).await.unwrap();
        w.store.record_fetch(&w.account.clone().into(), &id, &fetch(1, "192.0.2.2")).await.unwrap();
        let view = w.retriever().get(&w.account, &id, "arn:aws:iam::1:user/it", None).await.unwrap();
        assert_eq!(view.downloads.as_ref().map(|d| d.files_fetched), Some(1));
        let report = view.downloads_report.expect("downloads.csv is handed out");
        assert_eq!(report.rows, Some(3));
        let key = format!("exports/{}/{id}/downloads.csv", w.account);
        let text = String::from_utf8(w.objects.get(&key).await.unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].contains(",file-0.pdf,no,0,"), "{text}");
        assert!(
            lines[2].contains(",file-1.pdf,yes,2,") && lines[2].ends_with(",192.0.2.1,192.0.2.2"),
            "{text}"
        );

        // Revoked: the files are gone, nothing is handed out but what was fetched.
        w.revoker()
            .revoke(&w.account.clone().into(), &id, RequestedBy::new("arn:aws:iam::1:user/sec", Via::Api))
            .await
            .unwrap();
        let view = w.retriever().get(&w.account, &id, "arn:aws:iam::1:user/it", None).await.unwrap();
        assert_eq!(view.status, ExportStatus::Revoked);
        assert!(view.manifest.is_none() && view.statement.is_none() && view.errors.is_none());
        assert_eq!(view.revoked_by.as_ref().map(|b| b.principal.as_str()), Some("arn:aws:iam::1:user/sec"));
        assert_eq!(view.downloads_report.as_ref().and_then(|r| r.rows), Some(1));
        let text = String::from_utf8(w.objects.get(&key).await.unwrap()).unwrap();
        assert_eq!(text.lines().count(), 2, "the one fetched file: {text}");
    }

    #[tokio::test]
    async fn every_hand_out_is_kept_and_the_view_lists_them_newest_first_with_the_person() {
        let w = World::new();
        let id = w.export(ExportStatus::Succeeded).await;
        let jane = Person { username: "jane.doe".into(), name: Some("Jane Doe".into()), email: None };
        let role = "arn:aws:sts::1:assumed-role/ConsoleRetrieveRole/CognitoIdentityCredentials";
        w.retriever().get(&w.account, &id, "arn:aws:iam::1:user/it", None).await.unwrap();
        w.clock.advance(Duration::from_secs(60));
        let view = w.retriever().get(&w.account, &id, role, Some(jane.clone())).await.unwrap();
        let seen: Vec<_> = view.handouts.iter().map(|h| (h.principal.as_str(), h.person.clone())).collect();
        assert_eq!(seen, vec![(role, Some(jane)), ("arn:aws:iam::1:user/it", None)]);
        assert_eq!(view.handouts[0].at, w.clock.now());
        // A view that hands nothing out (a running export) lists no history.
        let w = World::new();
        let running = w.export(ExportStatus::Running).await;
        let view = w.retriever().get(&w.account, &running, role, None).await.unwrap();
        assert!(view.handouts.is_empty());
        assert!(w.store.handouts(&w.account.clone().into(), &running, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_export_with_errors_hands_out_its_errors_and_coverage_links_too() {
        let w = World::new();
        let id = w.export(ExportStatus::SucceededWithErrors).await;
        let view = w.retriever().get(&w.account, &id, "arn:aws:iam::1:user/it", None).await.unwrap();
        assert_eq!(view.status, ExportStatus::SucceededWithErrors);
        assert!(view.manifest.is_some());
        let errors = view.errors.unwrap();
        assert!(errors.url.contains("errors.csv") && errors.url.contains("X-Amz-Expires=900"));
        assert_eq!((errors.bytes, errors.rows), (Some(99), Some(2)));
        assert!(view.coverage.unwrap().url.contains("coverage.csv"));
        let statement = view.statement.unwrap();
        assert!(
            statement.url.contains("statement.json") && statement.signature.url.contains("statement.sig")
        );
        assert_eq!((statement.bytes, statement.key_id.as_str()), (500, "arn:aws:kms:us-east-1:1:key/k"));
        assert_eq!(w.store.record(&w.account, &id).unwrap().retrievals, 1);
        // A SUCCEEDED export without error rows hands out no errors link.
        w.clock.advance(WEEK);
        let clean = w.export(ExportStatus::Succeeded).await;
        assert!(w.retriever().get(&w.account, &clean, "p", None).await.unwrap().errors.is_none());
    }

    #[tokio::test]
    async fn each_status_has_its_shape() {
        let w = World::new();
        let queued =
            w.retriever().get(&w.account, &w.export(ExportStatus::Queued).await, "p", None).await.unwrap();
        assert_eq!(queued.status, ExportStatus::Queued);
        assert!(queued.progress.is_some() && queued.manifest.is_none() && queued.error.is_none());
        w.clock.advance(WEEK);
        let running =
            w.retriever().get(&w.account, &w.export(ExportStatus::Running).await, "p", None).await.unwrap();
        assert_eq!(running.status, ExportStatus::Running);
        assert!(running.progress.is_some() && running.started_at.is_some());
        w.clock.advance(WEEK);
        let failed =
            w.retriever().get(&w.account, &w.export(ExportStatus::Failed).await, "p", None).await.unwrap();
        assert_eq!(failed.error.unwrap().code, "TransientError");
        assert!(failed.progress.is_none() && failed.manifest.is_none());
        // Retrievals count hand-outs only: none for these.
        assert_eq!(w.store.records(&w.account).iter().map(|r| r.retrievals).sum::<u64>(), 0);
    }

    #[tokio::test]
    async fn an_expired_export_is_gone_and_says_when_a_new_one_is_possible() {
        let w = World::new();
        let id = w.export(ExportStatus::Succeeded).await;
        w.clock.advance(SIX_DAYS);
        let err = w.retriever().get(&w.account, &id, "p", None).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("GoneException", 410));
        let msg = err.to_string();
        assert!(msg.contains("expired at 2026-11-30T10:00:00.000Z"), "{msg}");
        assert!(msg.contains("from 2026-12-01T10:00:00.000Z"), "{msg}");
        assert_eq!(w.store.record(&w.account, &id).unwrap().retrievals, 0, "nothing handed out");
        // In the list it shows EXPIRED.
        let list = w.retriever().list(&w.account, &ListQuery::parse(None, None).unwrap()).await.unwrap();
        assert_eq!(list.exports[0].status, ExportStatus::Expired);
        w.clock.advance(Duration::from_secs(86_400));
        let err = w.retriever().get(&w.account, &id, "p", None).await.unwrap_err();
        assert!(err.to_string().contains("request one now"), "{err}");
    }

    #[tokio::test]
    async fn unknown_and_foreign_exports_are_not_found_alike() {
        let w = World::new();
        let id = w.export(ExportStatus::Succeeded).await;
        let other = w.directory.add_account(AccountType::Enterprise, false);
        let foreign = w.retriever().get(&other, &id, "p", None).await.unwrap_err();
        let unknown = w.retriever().get(&other, &ExportId::new(), "p", None).await.unwrap_err();
        assert_eq!((foreign.code(), unknown.code()), ("NotFoundException", "NotFoundException"));
        assert_eq!(
            foreign.to_string().replace(&id.to_string(), "X"),
            unknown
                .to_string()
                .split(' ')
                .map(|w| if w.len() == 26 { "X" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        );
        let no_account = w.retriever().get(&AccountId::random(), &id, "p", None).await.unwrap_err();
        assert_eq!(no_account.code(), "NotFoundException");
    }

    #[tokio::test]
    async fn the_list_pages_newest_first_and_reports_the_next_window() {
        let w = World::new();
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(w.export(ExportStatus::Failed).await);
            w.clock.advance(WEEK);
        }
        ids.reverse();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = ListQuery::parse(Some("2"), token.as_deref()).unwrap();
            let page = w.retriever().list(&w.account, &query).await.unwrap();
            assert!(page.exports.len() <= 2);
            // The last export's window ended exactly now: a request is possible at once.
            assert_eq!(page.next_allowed_at, w.clock.now());
            seen.extend(page.exports.iter().map(|e| e.export_id));
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, ids);
        // A new export closes the window for a week from now.
        w.export(ExportStatus::Queued).await;
        let page = w.retriever().list(&w.account, &ListQuery::parse(None, None).unwrap()).await.unwrap();
        assert_eq!(page.next_allowed_at, w.clock.now().plus(WEEK));
    }

    /// The list says whether a request would be accepted, with exactly StartDataExport's answer.
    #[tokio::test]
    async fn the_list_tells_whether_start_would_accept_and_why_not() {
        use crate::rules::start::StartRequest;

        let w = World::new();
        let starter = |account: &AccountId| {
            let request = StartRequest {
                owner: account.clone().into(),
                client_token: None,
                format: ExportFormat::Csv,
                verify_objects: true,
                since: None,
                requested_by: RequestedBy { principal: "p".into(), via: Via::Api, person: None },
            };
            (request, w.starter(WEEK))
        };
        let list = |account: AccountId| {
            let r = w.retriever();
            async move { r.list(&account, &ListQuery::parse(None, None).unwrap()).await.unwrap() }
        };

        let open = list(w.account.clone()).await;
        assert_eq!(open.request, NextRequest { allowed: true, code: None, message: None });
        assert_eq!(open.account.account_type, AccountType::Enterprise);
        assert_eq!(open.account.name, "Example");
        assert_eq!(open.account.account_id, w.account);

        let (request, start) = starter(&w.account);
        start.start(request).await.unwrap();
        w.clock.advance(Duration::from_secs(3600));
        let closed = list(w.account.clone()).await;
        let (request, start) = starter(&w.account);
        let refusal = start.start(request).await.unwrap_err();
        assert_eq!(closed.request, NextRequest::refused(&refusal));
        assert_eq!(closed.request.code, Some("ThrottledClientException"));
        assert_eq!(closed.next_allowed_at, w.clock.now().plus(WEEK - Duration::from_secs(3600)));

        let team = w.directory.add_account(AccountType::Team, false);
        let listed = list(team.clone()).await;
        let (request, start) = starter(&team);
        let refusal = start.start(request).await.unwrap_err();
        assert_eq!(listed.request, NextRequest::refused(&refusal));
        assert_eq!(listed.request.code, Some("UnprocessableEntityException"));
        assert_eq!(listed.account.account_type, AccountType::Team);

        // Serialized as the API documents it.
        let json = serde_json::to_value(&closed).unwrap();
        assert_eq!(json["account"]["type"], "ENTERPRISE");
        assert_eq!(json["request"]["allowed"], false);
        assert!(json["request"]["message"].as_str().unwrap().contains("next request is possible"));
    }

    #[test]
    fn list_parameters_are_validated() {
        assert_eq!(ListQuery::parse(None, None).unwrap().max_results, 20);
        assert_eq!(ListQuery::parse(Some("100"), None).unwrap().max_results, 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(
                ListQuery::parse(Some(bad), None).unwrap_err().code(),
                "BadRequestException",
                "{bad:?}"
            );
        }
        assert!(ListQuery::parse(None, Some("../../other-account")).is_err());
        assert!(ListQuery::parse(None, Some(&ExportId::new().to_string())).is_ok());
    }
}
