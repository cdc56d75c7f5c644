//! StartDataExport (DESIGN §1, §4, §5): the rules that admit an export request, whatever the entry
//! point. Written against the ports only, so every rule is unit-tested with in-memory fakes.

use std::time::Duration;

use serde::Serialize;

use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{ExportId, quote_for_message};
use crate::domain::model::{
    Account, AccountType, ExportFormat, ExportRecord, ExportStatus, FailureInfo, RequestedBy, Throttle,
};
use crate::domain::owner::ExportOwner;
use crate::domain::payloads::ExportJob;
use crate::domain::time::Timestamp;
use crate::ports::{Admission, Clock, Directory, ExportStore, StatusChange, Workflow};

/// Guidance for a Team account (DESIGN §1).
pub const TEAM_ACCOUNT_GUIDANCE: &str = "Data exports are available to Enterprise accounts only, and this is a \
Team account. To export your users' files, claim your organisation's email domain so the account \
becomes an Enterprise account; or remove the users from the Team so each of them can download their \
own files.";

/// How long a QUEUED export may have no execution before the schedule calls it stuck: longer than
/// start-export can run (Lambda's 15-minute maximum), so a start still in flight is never touched.
pub const NOT_STARTED_GRACE: Duration = Duration::from_secs(900);

/// Client tokens: 1 to 64 visible ASCII characters (the AWS convention).
const CLIENT_TOKEN_MAX: usize = 64;

/// A validated request to start an export.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// Whose export: an account's (its administrators ask) or a self-service user's (they ask).
    pub owner: ExportOwner,
    pub client_token: Option<String>,
    pub format: ExportFormat,
    /// Whether each object is checked (HEAD) before its URL is signed; `verifyObjects`, default true.
    pub verify_objects: bool,
    /// An incremental export: only files uploaded after this (DESIGN §14); `None`: everything.
    pub since: Option<Since>,
    pub requested_by: RequestedBy,
}

/// Where an incremental export starts (`since` of a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// After the cutoff of the account's last export that delivered.
    Previous,
    /// After this time.
    After(Timestamp),
}

impl Since {
    /// `"previous"` or an RFC 3339 time with a zone (`2026-11-01T00:00:00Z`).
    pub fn parse(value: &str) -> Result<Self> {
        if value == "previous" {
            return Ok(Self::Previous);
        }
        Timestamp::parse(value).map(Self::After).map_err(|_| {
            Error::BadRequest(format!(
                "since must be \"previous\" or an RFC 3339 time with a zone, such as \"2026-11-01T00:00:00Z\"; got {}",
                quote_for_message(value)
            ))
        })
    }
}

pub fn validate_client_token(token: &str) -> Result<()> {
    let ok = (1..=CLIENT_TOKEN_MAX).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "clientToken must be 1 to {CLIENT_TOKEN_MAX} visible ASCII characters (no spaces); got {}",
            quote_for_message(token)
        )))
    }
}

/// The reply: 202 for a new export, 200 for the repeat of an accepted one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartReply {
    pub export_id: ExportId,
    pub status: ExportStatus,
    pub requested_at: Timestamp,
    pub cutoff: Timestamp,
    /// An incremental export covers files uploaded after this time (and up to `cutoff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub next_allowed_at: Timestamp,
    #[serde(skip)]
    pub repeated: bool,
}

impl StartReply {
    fn of(record: &ExportRecord, throttle: &Throttle, repeated: bool) -> Self {
        Self {
            export_id: record.export_id,
            status: record.status,
            requested_at: record.requested_at,
            cutoff: record.cutoff,
            since: record.since,
            next_allowed_at: throttle.current.next_allowed_at,
            repeated,
        }
    }
}

/// The refusal of `"verifyObjects": false` where the operator has not allowed it.
pub const UNCHECKED_REFUSED: &str = "This deployment checks every object before it signs its link, so \
     \"verifyObjects\": false is not accepted: leave it out. Its operator can allow it (AllowUncheckedExports).";

/// What starting an export needs.
pub struct Starter<B: Backend> {
    pub directory: B::Directory,
    pub store: B::Store,
    pub workflow: B::Workflow,
    pub clock: B::Clock,
    /// The rolling window between accepted requests (DESIGN §1).
    pub window: Duration,
    /// Whether a request may skip the object checks (`ALLOW_UNCHECKED_EXPORTS`).
    pub allow_unchecked: bool,
    /// Whether users whom no account manages may export their own files (`SELF_SERVICE_ENABLED`,
    /// the template's `SelfServiceEnabled`; DESIGN §15).
    pub self_service: bool,
}

impl<B: Backend> Starter<B> {
    pub async fn start(&self, request: StartRequest) -> Result<StartReply> {
        if !request.verify_objects && !self.allow_unchecked {
            return Err(Error::BadRequest(UNCHECKED_REFUSED.to_owned()));
        }
        let owner = &request.owner;
        match owner {
            ExportOwner::Account(account_id) => {
                let account = self.directory.account(account_id).await?.ok_or_else(|| {
                    Error::NotFound(format!("No account with accountId {account_id} exists."))
                })?;
                require_enterprise(&account)?;
            }
            ExportOwner::User(user) => self.require_self_service(user).await?,
        }

        let now = self.clock.now();
        let since = match request.since {
            None => None,
            Some(since) => Some(self.resolve_since(owner, since, now).await?),
        };
        let mut record = ExportRecord::new_request(
            owner.clone(),
            request.format,
            request.requested_by.clone(),
            request.client_token.clone(),
            now,
        );
        record.verify_objects = request.verify_objects;
        record.since = since;
        let throttle = match self.store.admit(&record, self.window).await? {
            Admission::Accepted { throttle } => throttle,
            Admission::WindowClosed { throttle } => {
                return self.closed_window(&request, throttle, now).await;
            }
        };
        tracing::info!(
            %owner,
            export = %record.export_id,
            principal = %request.requested_by.principal,
            via = ?request.requested_by.via,
            format = ?request.format,
            since = ?record.since,
            "export accepted"
        );
        self.launch(&record).await?;
        Ok(StartReply::of(&record, &throttle, false))
    }

    /// A self-service user may ask (DESIGN §15): self-service is on, and no Enterprise account
    /// manages them and no Team holds them (each refusal names the account, nothing else of it).
    pub async fn require_self_service(&self, user: &crate::domain::ids::UserId) -> Result<()> {
        crate::rules::self_service::require(self.self_service, &self.directory, user).await
    }

    /// The time an incremental export starts after: a given time must not be in the future;
    /// `previous` is the cutoff of the account's newest delivered export (SUCCEEDED or
    /// SUCCEEDED_WITH_ERRORS, expired or not), and without one the request is refused (400) rather
    /// than silently made full.
    async fn resolve_since(&self, owner: &ExportOwner, since: Since, now: Timestamp) -> Result<Timestamp> {
        match since {
            Since::After(time) if time > now => Err(Error::BadRequest(format!(
                "since {time} is in the future: an export covers files uploaded up to the request time ({now})"
            ))),
            Since::After(time) => Ok(time),
            Since::Previous => self.last_delivered_cutoff(owner).await?.ok_or_else(|| {
                let who = match owner {
                    ExportOwner::Account(account) => format!("account {account} has"),
                    ExportOwner::User(_) => "you have".to_owned(),
                };
                Error::BadRequest(format!(
                    "since \"previous\" needs an earlier export that delivered, and {who} none: \
                     request a full export (leave since out), or give a time"
                ))
            }),
        }
    }

    /// The cutoff of the account's newest delivered export, if any.
    pub async fn last_delivered_cutoff(&self, owner: &ExportOwner) -> Result<Option<Timestamp>> {
        let mut after: Option<ExportId> = None;
        loop {
            let page = self.store.list(owner, 100, after.as_ref()).await?;
            if let Some(record) = page.items.iter().find(|r| r.status.is_delivered()) {
                return Ok(Some(record.cutoff));
            }
            match (page.next, page.items.last()) {
                (Some(_), Some(last)) => after = Some(last.export_id),
                _ => return Ok(None),
            }
        }
    }

    /// Starts the state machine. If that fails, the export ends FAILED and the window is given
    /// back, so the administrator can retry at once and nothing is left QUEUED forever.
    async fn launch(&self, record: &ExportRecord) -> Result<()> {
        let (owner, export) = (&record.owner, &record.export_id);
        match self.workflow.start(&ExportJob::from(record)).await {
            Ok(execution_arn) => {
                // The execution is running either way; a missing ARN on the record only costs a
                // look-up, so it is not worth failing the request over.
                if let Err(e) = self.store.set_execution_arn(owner, export, &execution_arn).await {
                    tracing::warn!(%owner, %export, error = %e, "could not record the execution ARN");
                }
                Ok(())
            }
            Err(start_error) => {
                tracing::error!(%owner, %export, error = %start_error, "StartExecution failed; marking the export FAILED");
                let failure = FailureInfo {
                    code: start_error.code().to_owned(),
                    message: "The export could not be started. No export window was used: you can request \
                              an export again now."
                        .to_owned(),
                };
                self.store
                    .change_status(
                        owner,
                        export,
                        StatusChange::Failed { completed_at: self.clock.now(), error: failure },
                    )
                    .await?;
                self.store.release_window(owner, export).await?;
                Err(start_error)
            }
        }
    }

    /// Inside the window: the repeat of the accepted request returns it; anything else is throttled.
    async fn closed_window(
        &self,
        request: &StartRequest,
        throttle: Throttle,
        now: Timestamp,
    ) -> Result<StartReply> {
        let last = &throttle.current.last_export_id;
        if let Some(token) = &request.client_token
            && let Some(accepted) = self.store.get(&request.owner, last).await?
            && accepted.client_token.as_deref() == Some(token)
        {
            return Ok(StartReply::of(&accepted, &throttle, true));
        }
        Err(throttled(&request.owner, &throttle, now, self.window))
    }
}

/// Exports are for Enterprise accounts only: a Team account gets 422 with the guidance.
pub fn require_enterprise(account: &Account) -> Result<()> {
    match account.account_type {
        AccountType::Team => Err(Error::Unprocessable(TEAM_ACCOUNT_GUIDANCE.to_owned())),
        AccountType::Enterprise => Ok(()),
    }
}

/// What StartDataExport would answer a request for `account` now, if it would refuse it: the Team
/// rule, then the window. `Starter::start` applies the same two rules, the window atomically
/// through `ExportStore::admit`; RetrieveDataExport's list reports this beforehand.
pub fn refusal(
    owner: &ExportOwner,
    account: &Account,
    throttle: Option<&Throttle>,
    now: Timestamp,
    window: Duration,
) -> Option<Error> {
    require_enterprise(account)
        .err()
        .or_else(|| throttle.filter(|t| !t.is_open_at(now)).map(|t| throttled(owner, t, now, window)))
}

/// The refusal inside the window: when the window closed, by which export, and when it reopens.
pub fn throttled(owner: &ExportOwner, throttle: &Throttle, now: Timestamp, window: Duration) -> Error {
    let next = throttle.current.next_allowed_at;
    let retry_after_seconds = now.seconds_until(&next).max(1);
    let (who, per) = match owner {
        ExportOwner::Account(_) => ("This account", "account"),
        ExportOwner::User(_) => ("You", "user"),
    };
    Error::Throttled {
        message: format!(
            "{who} accepted an export request at {} (exportId {}). One export is accepted per {per} \
             every {}; the next request is possible at {next}. To get the files of the accepted \
             export, retrieve it with its exportId.",
            throttle.current.last_requested_at,
            throttle.current.last_export_id,
            describe_window(window)
        ),
        next_allowed_at: next,
        retry_after_seconds,
    }
}

/// A window as an administrator reads it: "7 days", "1 day", "36 hours", "90 seconds".
pub fn describe_window(window: Duration) -> String {
    let seconds = window.as_secs();
    let (n, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::AccountId;
    use crate::domain::model::Via;
    use crate::memory::{FakeWorkflow, World};

    const WEEK: Duration = Duration::from_secs(604_800);

    fn request(account: &AccountId, token: Option<&str>) -> StartRequest {
        StartRequest {
            owner: account.into(),
            client_token: token.map(str::to_owned),
            format: ExportFormat::Jsonl,
            verify_objects: true,
            since: None,
            requested_by: RequestedBy {
                principal: "arn:aws:iam::1:user/admin".into(),
                via: Via::Api,
                person: None,
            },
        }
    }

    #[tokio::test]
    async fn accepts_an_enterprise_request_and_starts_the_workflow() {
        let w = World::at("2026-11-24T10:00:00Z");
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let reply = w.starter(WEEK).start(request(&account, Some("t1"))).await.unwrap();
        assert!(!reply.repeated);
        assert_eq!(reply.status, ExportStatus::Queued);
        assert_eq!(reply.requested_at, w.clock.now());
        assert_eq!(reply.cutoff, w.clock.now());
        assert_eq!(reply.next_allowed_at, w.clock.now().plus(WEEK));
        let started = w.workflow.started.lock().unwrap().clone();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].export_id, reply.export_id);
        assert_eq!(started[0].format, ExportFormat::Jsonl);
        let record = w.store.record(&account, &reply.export_id).unwrap();
        assert_eq!(record.requested_by.via, Via::Api);
        assert_eq!(record.client_token.as_deref(), Some("t1"));
        assert!(record.execution_arn.unwrap().ends_with(&reply.export_id.to_string()));
    }

    /// `since` (DESIGN §14): a past time is kept as it is; a future time, garbage and `previous`
    /// without a delivered export are 400s that write nothing; `previous` is the cutoff of the
    /// newest delivered export, a FAILED one in between not counting.
    #[tokio::test]
    async fn since_is_validated_and_previous_is_the_last_delivered_cutoff() {
        let w = World::at("2026-11-24T10:00:00Z");
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let with = |since| StartRequest { since: Some(since), ..request(&account, None) };
        assert_eq!(Since::parse("previous").unwrap(), Since::Previous);
        let err = Since::parse("last week").unwrap_err();
        assert_eq!(err.code(), "BadRequestException");
        assert!(err.to_string().contains("RFC 3339") && err.to_string().contains("last week"), "{err}");
        let future = w.clock.now().plus(Duration::from_secs(60));
        let err = w.starter(WEEK).start(with(Since::After(future))).await.unwrap_err();
        assert_eq!(err.code(), "BadRequestException");
        assert!(err.to_string().contains("in the future"), "{err}");
        let err = w.starter(WEEK).start(with(Since::Previous)).await.unwrap_err();
        assert_eq!(err.code(), "BadRequestException");
        assert!(err.to_string().contains("has none"), "{err}");
        assert!(w.store.records(&account).is_empty(), "a refused request writes nothing");

        let past = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
        let reply = w.starter(WEEK).start(with(Since::After(past))).await.unwrap();
        assert_eq!(reply.since, Some(past));
        assert_eq!(w.store.record(&account, &reply.export_id).unwrap().since, Some(past));
        assert_eq!(w.workflow.started.lock().unwrap()[0].since, Some(past));

        // That export delivers; a later one fails; `previous` is the delivered one's cutoff.
        let delivered = w.store.record(&account, &reply.export_id).unwrap();
        let mut done = delivered.clone();
        done.status = ExportStatus::Succeeded;
        w.store.insert(done);
        w.clock.advance(WEEK);
        let failed = w.starter(WEEK).start(request(&account, None)).await.unwrap();
        let mut f = w.store.record(&account, &failed.export_id).unwrap();
        f.status = ExportStatus::Failed;
        w.store.insert(f);
        w.store.release_window(&account.clone().into(), &failed.export_id).await.unwrap();
        w.clock.advance(Duration::from_secs(60));
        let next = w.starter(WEEK).start(with(Since::Previous)).await.unwrap();
        assert_eq!(next.since, Some(delivered.cutoff));
    }

    /// A self-service user's request (DESIGN §15): refused with the operator's message when
    /// self-service is off, with the account's guidance for a managed user or a Team member,
    /// before any write; an eligible user's is accepted under a window of their own, apart from
    /// the account whose guest they are.
    #[tokio::test]
    async fn self_service_requests_follow_the_users_standing_and_their_own_window() {
        use crate::domain::ids::UserId;
        let w = World::at("2026-11-24T10:00:00Z");
        let enterprise = w.directory.add_account(AccountType::Enterprise, false);
        let team = w.directory.add_account(AccountType::Team, false);
        let managed = w.directory.add_user(&enterprise, true);
        let guest = w.directory.add_user(&enterprise, false);
        let member = w.directory.add_user(&team, false);
        let outside = UserId::random();
        let ask = |user: &UserId| StartRequest { owner: user.clone().into(), ..request(&enterprise, None) };

        let off = Starter { self_service: false, ..w.starter(WEEK) };
        let refused = off.start(ask(&outside)).await.unwrap_err();
        assert_eq!(refused.code(), "ForbiddenException");
        assert!(refused.to_string().contains("turned off"), "{refused}");
        for (user, says) in [(&managed, "IT administrator"), (&member, "remove you from the Team")] {
            let refused = w.starter(WEEK).start(ask(user)).await.unwrap_err();
            assert_eq!(refused.code(), "UnprocessableEntityException");
            assert!(refused.to_string().contains(says), "{refused}");
            assert!(w.store.records(ExportOwner::User(user.clone())).is_empty(), "nothing written");
        }
        assert!(w.workflow.started.lock().unwrap().is_empty(), "no execution started");

        for user in [&guest, &outside] {
            let reply = w.starter(WEEK).start(ask(user)).await.unwrap();
            assert_eq!(reply.status, ExportStatus::Queued);
            let again = w.starter(WEEK).start(ask(user)).await.unwrap_err();
            assert_eq!(again.code(), "ThrottledClientException");
            assert!(again.to_string().starts_with("You accepted"), "{again}");
        }
        // The account's own window is untouched by its guest's request.
        assert!(w.starter(WEEK).start(request(&enterprise, None)).await.is_ok());
    }

    #[tokio::test]
    async fn unknown_and_team_accounts_are_refused_before_any_write() {
        let w = World::at("2026-11-24T10:00:00Z");
        let unknown = AccountId::random();
        let err = w.starter(WEEK).start(request(&unknown, None)).await.unwrap_err();
        assert_eq!(err.code(), "NotFoundException");
        assert!(err.to_string().contains(unknown.as_str()));

        let team = w.directory.add_account(AccountType::Team, false);
        let err = w.starter(WEEK).start(request(&team, None)).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("UnprocessableEntityException", 422));
        assert!(err.to_string().contains("claim"), "{err}");
        assert!(err.to_string().contains("remove the users"), "{err}");
        assert!(w.store.records(&team).is_empty());
        assert!(w.workflow.started.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_second_request_inside_the_window_is_throttled_with_retry_after() {
        let w = World::at("2026-11-24T10:00:00Z");
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let first = w.starter(WEEK).start(request(&account, Some("a"))).await.unwrap();
        w.clock.advance(Duration::from_secs(3600));
        let err = w.starter(WEEK).start(request(&account, Some("b"))).await.unwrap_err();
        match &err {
            Error::Throttled { next_allowed_at, retry_after_seconds, message } => {
                assert_eq!(*next_allowed_at, first.next_allowed_at);
                assert_eq!(*retry_after_seconds, 604_800 - 3600);
                assert!(message.contains(&first.export_id.to_string()), "{message}");
            }
            other => panic!("expected throttled, got {other:?}"),
        }
        assert_eq!(err.http_status(), 429);
        // A request without a token is throttled too.
        assert!(matches!(w.starter(WEEK).start(request(&account, None)).await, Err(Error::Throttled { .. })));
        assert_eq!(w.store.records(&account).len(), 1);

        // Seven days after the first request, the window is open again.
        w.clock.advance(WEEK - Duration::from_secs(3600));
        let third = w.starter(WEEK).start(request(&account, Some("c"))).await.unwrap();
        assert_ne!(third.export_id, first.export_id);
    }

    #[tokio::test]
    async fn repeating_the_accepted_client_token_returns_the_same_export() {
        let w = World::at("2026-11-24T10:00:00Z");
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let first = w.starter(WEEK).start(request(&account, Some("same"))).await.unwrap();
        w.clock.advance(Duration::from_secs(86_400));
        let again = w.starter(WEEK).start(request(&account, Some("same"))).await.unwrap();
        assert!(again.repeated);
        assert_eq!(again.export_id, first.export_id);
        assert_eq!(again.requested_at, first.requested_at);
        assert_eq!(w.workflow.started.lock().unwrap().len(), 1, "no second execution");
    }

    #[tokio::test]
    async fn a_failed_start_marks_the_export_failed_and_gives_the_window_back() {
        let mut w = World::at("2026-11-24T10:00:00Z");
        w.workflow = FakeWorkflow::failing();
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let err = w.starter(WEEK).start(request(&account, None)).await.unwrap_err();
        assert_eq!(err.code(), "TransientError");
        let records = w.store.records(&account);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].status, ExportStatus::Failed);
        assert!(records[0].error.as_ref().unwrap().message.contains("request an export again now"));
        assert!(w.store.throttle(&account.clone().into()).await.unwrap().is_none());
        // The administrator retries at once and is accepted.
        w.workflow.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(w.starter(WEEK).start(request(&account, None)).await.is_ok());
    }

    #[test]
    fn windows_read_in_the_largest_whole_unit() {
        assert_eq!(describe_window(WEEK), "7 days");
        assert_eq!(describe_window(Duration::from_secs(86_400)), "1 day");
        assert_eq!(describe_window(Duration::from_secs(129_600)), "36 hours");
        assert_eq!(describe_window(Duration::from_secs(90)), "90 seconds");
        assert_eq!(describe_window(Duration::from_secs(120)), "2 minutes");
    }

    /// A tenant cannot switch the object checks off where the operator has not allowed it: the
    /// request is a 400 that records nothing and takes no window; a checked request then goes ahead.
    #[tokio::test]
    async fn skipping_the_object_checks_is_the_operators_choice_not_the_tenants() {
        let w = World::at("2026-11-24T10:00:00Z");
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let starter = Starter { allow_unchecked: false, ..w.starter(WEEK) };
        let unchecked = StartRequest { verify_objects: false, ..request(&account, None) };
        let err = starter.start(unchecked).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("BadRequestException", 400));
        assert!(err.to_string().contains("verifyObjects"), "{err}");
        assert!(w.store.records(&account).is_empty());
        assert!(w.store.throttle(&account.clone().into()).await.unwrap().is_none(), "no window taken");
        assert!(w.workflow.started.lock().unwrap().is_empty());
        let reply = starter.start(request(&account, None)).await.unwrap();
        assert!(w.store.record(&account, &reply.export_id).unwrap().verify_objects);
    }

    #[tokio::test]
    async fn the_refusal_names_the_configured_window_not_a_fixed_one() {
        let w = World::at("2026-11-24T10:00:00Z");
        let account = w.directory.add_account(AccountType::Enterprise, false);
        let starter = w.starter(Duration::from_secs(3 * 86_400));
        starter.start(request(&account, None)).await.unwrap();
        let err = starter.start(request(&account, None)).await.unwrap_err();
        assert!(err.to_string().contains("every 3 days"), "{err}");
        assert!(!err.to_string().contains("7 days"), "{err}");
    }

    #[test]
    fn client_tokens_are_bounded_visible_ascii() {
        assert!(validate_client_token("abc-123_XYZ.:").is_ok());
        assert!(validate_client_token(&"a".repeat(64)).is_ok());
        for bad in ["", "has space", "tab\t", "é", &"a".repeat(65)] {
            assert_eq!(validate_client_token(bad).unwrap_err().code(), "BadRequestException", "{bad:?}");
        }
    }
}
