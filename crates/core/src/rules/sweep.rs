//! The daily sweep (DESIGN §5), served by sweep-exports: closes stuck exports, then (if scheduled
//! exports are on) starts an export for every opted-in Enterprise account whose window is open.
//!
//! One invocation is not enough for every deployment (Lambda stops at 15 minutes; 100,000 accounts
//! take longer), so the sweep is a record, not a loop: each invocation claims the record (a lease,
//! with a version check), works page by page within its budget, saves its cursor after every page,
//! and gives the lease back. The daily rule begins a sweep; the resume rule continues an unfinished
//! one. An invocation that dies keeps the lease until its deadline, then the next one resumes from
//! the last saved page: every step is safe to repeat (admission is transactional, recovery is
//! conditional).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::ids::AccountId;
use crate::domain::model::{
    AccountType, ExportFormat, ExportRecord, ExportStatus, FailureInfo, RequestedBy, Via,
};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;
use crate::ports::{Clock, Directory, ExecutionState, ExportStore, StatusChange, SweepLedger, Workflow};
use crate::rules::start::{NOT_STARTED_GRACE, StartRequest, Starter, throttled};

/// Items read per page: small enough that a page ends well inside any time budget.
pub const PAGE_ITEMS: u32 = 500;

/// Counts of a sweep, summed over its invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub started: u32,
    pub skipped: u32,
    pub failed: u32,
    /// Stuck exports (execution ended or never started without a final status) marked FAILED,
    /// their windows given back.
    pub recovered: u32,
    /// Invocations that stopped starting exports because the sweep's exports in flight reached
    /// the pipeline's cap (`SWEEP_MAX_RUNNING`); the next one carries on.
    #[serde(default)]
    pub paced: u32,
}

/// An export the sweep started, while it may still be running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InFlight {
    pub account_id: AccountId,
    pub export_id: crate::domain::ids::ExportId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepPhase {
    /// Searching for stuck exports (first: recovering one reopens its account's window).
    Recover,
    /// Starting scheduled exports, account by account.
    Accounts,
    Done,
}

/// The sweep's progress, kept by the [`SweepLedger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepRecord {
    /// When the sweep began; also its id.
    pub started_at: Timestamp,
    /// The rule that began it (recorded as the principal of the exports it starts).
    pub rule: String,
    pub start_exports: bool,
    pub phase: SweepPhase,
    /// Where the current phase stands (an opaque page cursor); `None` at the phase's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub report: SweepReport,
    pub invocations: u32,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// Until then the sweep belongs to the invocation that claimed it.
    pub lease_until: Timestamp,
    /// Bumped by every save; a save expects the version it read.
    pub version: u64,
    /// The exports this sweep started that were QUEUED or RUNNING when last looked at: at most
    /// `SWEEP_MAX_RUNNING` of them, so the list stays small.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_flight: Vec<InFlight>,
}

impl SweepRecord {
    fn begin(rule: &str, now: Timestamp, start_exports: bool) -> Self {
        Self {
            started_at: now,
            rule: rule.to_owned(),
            start_exports,
            phase: SweepPhase::Recover,
            cursor: None,
            report: SweepReport::default(),
            invocations: 0,
            updated_at: now,
            completed_at: None,
            lease_until: now,
            version: 0,
            in_flight: Vec::new(),
        }
    }

    fn next_phase(&mut self) {
        self.cursor = None;
        self.phase = match self.phase {
            SweepPhase::Recover if self.start_exports => SweepPhase::Accounts,
            _ => SweepPhase::Done,
        };
    }
}

/// What started this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The daily rule: begin a sweep (or continue the unfinished one).
    Begin,
    /// The resume rule: continue an unfinished sweep; nothing to do otherwise.
    Resume,
}

/// How much one invocation may do.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop before a new page after this instant (the invocation's deadline less a margin).
    pub stop_at: Option<Instant>,
    /// Stop after this many items (accounts, or stuck-export candidates read).
    pub max_items: Option<u32>,
    /// The lease: when the invocation is surely over (its deadline).
    pub lease_until: Timestamp,
}

impl Budget {
    fn exhausted(&self, done: u32) -> bool {
        self.max_items.is_some_and(|max| done >= max) || self.stop_at.is_some_and(|t| Instant::now() >= t)
    }

    fn page_limit(&self, done: u32) -> u32 {
        self.max_items.map_or(PAGE_ITEMS, |max| max.saturating_sub(done).clamp(1, PAGE_ITEMS))
    }
}

/// What an invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReply {
    /// `idle` (nothing to continue), `busy` (another invocation holds the sweep), `progress`
    /// (stopped at its budget; the resume rule continues) or `done`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepRecord>,
}

pub struct Sweeper<B: Backend> {
    /// Starts the sweep's exports, with the same rules as a request (and holds the ports the sweep
    /// reads: directory, store, workflow, clock).
    pub starter: Starter<B>,
    pub ledger: B::Ledger,
    /// `SCHEDULED_EXPORTS`: whether a sweep starts exports, besides closing stuck ones.
    pub start_exports: bool,
    /// `SWEEP_MAX_RUNNING`: at most this many of the sweep's exports in flight at once (the
    /// template: `ConcurrentExports`, what the pipeline's reserved concurrency runs at full speed,
    /// far below the account's 1,000 open Map Runs). Exports past it would only queue in the
    /// state machine's throttle retries and could outwait them; the rest start at later
    /// invocations, as these finish. `None`: no cap.
    pub max_running: Option<u32>,
}

impl<B: Backend> Sweeper<B> {
    /// Claims the sweep, advances it within `budget`, and gives it back.
    pub async fn advance(&self, trigger: Trigger, rule: &str, budget: &Budget) -> Result<SweepReply> {
        let now = self.starter.clock.now();
        let stored = self.ledger.load().await?;
        let mut expected = stored.as_ref().map(|r| r.version);
        let mut record = match stored {
            Some(unfinished) if unfinished.phase != SweepPhase::Done => {
                if unfinished.lease_until > now {
                    tracing::info!(sweep = %unfinished.started_at, lease_until = %unfinished.lease_until, "sweep: busy in another invocation");
                    return Ok(SweepReply { outcome: "busy", sweep: Some(unfinished) });
                }
                unfinished
            }
            _ if trigger == Trigger::Resume => return Ok(SweepReply { outcome: "idle", sweep: None }),
            _ => SweepRecord::begin(rule, now, self.start_exports),
        };
        record.invocations += 1;
        record.lease_until = budget.lease_until;
        if !self.save(&mut record, &mut expected).await? {
            return Ok(SweepReply { outcome: "busy", sweep: Some(record) });
        }
        tracing::info!(sweep = %record.started_at, invocation = record.invocations, phase = ?record.phase, "sweep: claimed");

        let mut done = 0;
        if record.phase == SweepPhase::Accounts {
            self.refresh_in_flight(&mut record).await?;
        }
        while record.phase != SweepPhase::Done && !(done > 0 && budget.exhausted(done)) {
            let mut limit = budget.page_limit(done);
            if record.phase == SweepPhase::Accounts
                && let Some(cap) = self.max_running
            {
                // A page no longer than the exports it may still start: never past the cap.
                let free = cap.saturating_sub(record.in_flight.len() as u32);
                if free == 0 {
                    record.report.paced += 1;
                    tracing::info!(sweep = %record.started_at, in_flight = record.in_flight.len(), cap, "sweep: paced; the next invocation carries on");
                    break;
                }
                limit = limit.min(free);
            }
            let next = match record.phase {
                SweepPhase::Recover => self.recover_page(&mut record, limit).await?,
                SweepPhase::Accounts => self.accounts_page(&mut record, limit).await?,
                SweepPhase::Done => unreachable!("the loop stops at Done"),
            };
            done += limit;
            match next {
                Some(cursor) => record.cursor = Some(cursor),
                None => {
                    record.next_phase();
                    if record.phase == SweepPhase::Accounts {
                        self.refresh_in_flight(&mut record).await?;
                    }
                }
            }
            if !self.save(&mut record, &mut expected).await? {
                tracing::warn!(sweep = %record.started_at, "sweep: lost the lease; stopping");
                return Ok(SweepReply { outcome: "busy", sweep: Some(record) });
            }
        }

        // Give the lease back at once, so the resume rule need not wait for this one's deadline.
        record.lease_until = self.starter.clock.now();
        let outcome = if record.phase == SweepPhase::Done {
            record.completed_at = Some(self.starter.clock.now());
            "done"
        } else {
            "progress"
        };
        self.save(&mut record, &mut expected).await?;
        let r = &record.report;
        tracing::info!(
            sweep = %record.started_at, invocation = record.invocations, outcome, phase = ?record.phase,
            started = r.started, skipped = r.skipped, failed = r.failed, recovered = r.recovered,
            "sweep: invocation done"
        );
        Ok(SweepReply { outcome, sweep: Some(record) })
    }

    /// Saves with the version check; on success the record carries its new version.
    async fn save(&self, record: &mut SweepRecord, expected: &mut Option<u64>) -> Result<bool> {
        record.version = expected.unwrap_or(0) + 1;
        record.updated_at = self.starter.clock.now();
        let saved = self.ledger.save(record, *expected).await?;
        if saved {
            *expected = Some(record.version);
        }
        Ok(saved)
    }

    async fn recover_page(&self, record: &mut SweepRecord, limit: u32) -> Result<Option<String>> {
        let page = self.starter.store.unfinished(record.cursor.as_deref(), limit).await?;
        for export in page.items {
            match self.recover_one(&export).await {
                Ok(true) => record.report.recovered += 1,
                Ok(false) => {}
                // One unreadable execution must not stop the search.
                Err(e) => tracing::error!(
                    owner = %export.owner, export = %export.export_id, code = e.code(), error = %e,
                    "sweep: could not check a possibly stuck export"
                ),
            }
        }
        Ok(page.next)
    }

    async fn accounts_page(&self, record: &mut SweepRecord, limit: u32) -> Result<Option<String>> {
        let page = self.starter.directory.accounts(record.cursor.as_deref(), limit).await?;
        for account_id in page.items {
            let report = &mut record.report;
            match self.sweep_one(&account_id, &record.rule).await {
                Ok(Some(export)) => {
                    report.started += 1;
                    record.in_flight.push(InFlight { account_id: account_id.clone(), export_id: export });
                    tracing::info!(account = %account_id, %export, "sweep: started");
                }
                Ok(None) => report.skipped += 1,
                Err(Error::Throttled { next_allowed_at, .. }) => {
                    report.skipped += 1;
                    tracing::info!(account = %account_id, %next_allowed_at, "sweep: skipped, window closed");
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(account = %account_id, code = e.code(), error = %e, "sweep: failed");
                }
            }
        }
        Ok(page.next)
    }

    /// Keeps the sweep's exports that are still QUEUED or RUNNING (one read each, at most the cap).
    async fn refresh_in_flight(&self, record: &mut SweepRecord) -> Result<()> {
        let mut still = Vec::new();
        for started in std::mem::take(&mut record.in_flight) {
            let stored =
                self.starter.store.get(&ExportOwner::from(&started.account_id), &started.export_id).await?;
            if stored.is_some_and(|r| matches!(r.status, ExportStatus::Queued | ExportStatus::Running)) {
                still.push(started);
            }
        }
        record.in_flight = still;
        Ok(())
    }

    async fn recover_one(&self, record: &ExportRecord) -> Result<bool> {
        let (owner, export) = (&record.owner, &record.export_id);
        let now = self.starter.clock.now();
        let code = match self.starter.workflow.state(export).await? {
            ExecutionState::Running => return Ok(false),
            ExecutionState::NotStarted if now < record.requested_at.plus(NOT_STARTED_GRACE) => {
                return Ok(false);
            }
            ExecutionState::NotStarted => "ExecutionNotStarted".to_owned(),
            ExecutionState::Ended(status) => match status.as_str() {
                "TIMED_OUT" => "States.Timeout".to_owned(),
                "ABORTED" => "ExecutionAborted".to_owned(),
                _ => "ExecutionEndedWithoutResult".to_owned(),
            },
        };
        let failure = FailureInfo {
            code,
            message: "The export stopped before it could finish and was closed by the daily check. No \
                      export window was used: you can request an export again now."
                .to_owned(),
        };
        tracing::warn!(%owner, %export, status = %record.status, code = %failure.code, "sweep: recovering a stuck export");
        match self
            .starter
            .store
            .change_status(owner, export, StatusChange::Failed { completed_at: now, error: failure })
            .await
        {
            Ok(()) => {}
            // It finished while we looked: its own steps recorded the outcome.
            Err(Error::StatusConflict(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.starter.store.release_window(owner, export).await?;
        Ok(true)
    }

    /// `Ok(None)`: not an opted-in Enterprise account. `Ok(Some(export))`: started.
    async fn sweep_one(
        &self,
        account_id: &AccountId,
        rule: &str,
    ) -> Result<Option<crate::domain::ids::ExportId>> {
        let Some(account) = self.starter.directory.account(account_id).await? else {
            return Ok(None);
        };
        if account.account_type != AccountType::Enterprise || !account.scheduled_exports {
            return Ok(None);
        }
        // Cheap check first: most weeks most windows are closed, and a refused transaction costs more.
        let owner = ExportOwner::from(account_id);
        if let Some(t) = self.starter.store.throttle(&owner).await?
            && !t.is_open_at(self.starter.clock.now())
        {
            return Err(throttled(&owner, &t, self.starter.clock.now(), self.starter.window));
        }
        // An account that asked for incremental scheduled exports gets `since: previous`, once it
        // has an export that delivered; its first scheduled export is full.
        let since = if account.scheduled_exports_incremental
            && self.starter.last_delivered_cutoff(&owner).await?.is_some()
        {
            Some(crate::rules::start::Since::Previous)
        } else {
            None
        };
        let request = StartRequest {
            owner,
            client_token: None,
            format: ExportFormat::Csv,
            verify_objects: true,
            since,
            requested_by: RequestedBy { principal: rule.to_owned(), via: Via::Schedule, person: None },
        };
        self.starter.start(request).await.map(|reply| Some(reply.export_id))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::model::ExportStatus;
    use crate::ports::Admission;

    const WEEK: Duration = Duration::from_secs(604_800);
    const RULE: &str = "arn:aws:events:us-east-1:000000000000:rule/attachment-export-sweep";

    impl<B: Backend> Sweeper<B> {
        /// Finds exports still QUEUED or RUNNING whose execution has ended (timed out, aborted, or failed
        /// before its Catch could run) or was never started, and ends them FAILED with the window given
        /// back — so nothing stays stuck and no administrator waits a week for nothing. Returns how many.
        /// The whole search in one call; the sweep itself goes page by page.
        async fn recover_stuck(&self) -> Result<u32> {
            let mut record = SweepRecord::begin("recover", self.starter.clock.now(), false);
            loop {
                match self.recover_page(&mut record, PAGE_ITEMS).await? {
                    Some(next) => record.cursor = Some(next),
                    None => return Ok(record.report.recovered),
                }
            }
        }
    }

    /// The fakes, and the sweep run as its two rules run it.
    struct World(crate::memory::World);

    impl std::ops::Deref for World {
        type Target = crate::memory::World;

        fn deref(&self) -> &crate::memory::World {
            &self.0
        }
    }

    impl World {
        fn new() -> Self {
            Self(crate::memory::World::at("2026-11-24T03:00:00Z"))
        }

        fn sweeper(&self, start_exports: bool) -> Sweeper<crate::memory::InMemory> {
            self.0.sweeper(WEEK, start_exports)
        }

        fn budget(&self, max_items: Option<u32>) -> Budget {
            Budget { stop_at: None, max_items, lease_until: self.clock.now().plus(Duration::from_secs(900)) }
        }

        /// Runs the daily rule, then the resume rule until the sweep is done; the last reply and
        /// the number of invocations.
        async fn sweep(&self, start_exports: bool, max_items: Option<u32>) -> (SweepReply, u32) {
            let mut reply = self
                .sweeper(start_exports)
                .advance(Trigger::Begin, RULE, &self.budget(max_items))
                .await
                .unwrap();
            let mut invocations = 1;
            while reply.outcome == "progress" {
                self.clock.advance(Duration::from_secs(300));
                reply = self
                    .sweeper(start_exports)
                    .advance(Trigger::Resume, "resume", &self.budget(max_items))
                    .await
                    .unwrap();
                invocations += 1;
                assert!(invocations < 1000, "the sweep never ends");
            }
            (reply, invocations)
        }
    }

    fn report(reply: &SweepReply) -> SweepReport {
        reply.sweep.as_ref().expect("a sweep").report.clone()
    }

    #[tokio::test]
    async fn the_sweep_starts_only_opted_in_enterprise_accounts_with_open_windows() {
        let w = World::new();
        let opted_in = w.directory.add_account(AccountType::Enterprise, true);
        let opted_in_2 = w.directory.add_account(AccountType::Enterprise, true);
        let _opted_out = w.directory.add_account(AccountType::Enterprise, false);
        let _team = w.directory.add_account(AccountType::Team, true);
        let throttled_account = w.directory.add_account(AccountType::Enterprise, true);
        let broken = w.directory.add_account(AccountType::Enterprise, true);
        w.directory.broken.lock().unwrap().push(broken.clone());
        let request = StartRequest {
            owner: throttled_account.clone().into(),
            client_token: None,
            format: ExportFormat::Csv,
            verify_objects: true,
            since: None,
            requested_by: RequestedBy {
                principal: "arn:aws:iam::1:user/admin".into(),
                via: Via::Api,
                person: None,
            },
        };
        w.sweeper(true).starter.start(request).await.unwrap();

        let (reply, _) = w.sweep(true, None).await;
        assert_eq!(reply.outcome, "done");
        assert_eq!(report(&reply), SweepReport { started: 2, skipped: 3, failed: 1, recovered: 0, paced: 0 });
        for account in [&opted_in, &opted_in_2] {
            let records = w.store.records(account);
            assert_eq!(records.len(), 1);
            assert_eq!(records[0].requested_by.via, Via::Schedule);
            assert_eq!(records[0].requested_by.principal, RULE);
        }
        // A second sweep the same day starts nothing.
        w.clock.advance(Duration::from_secs(3600));
        let (again, _) = w.sweep(true, None).await;
        assert_eq!(report(&again), SweepReport { started: 0, skipped: 5, failed: 1, recovered: 0, paced: 0 });
    }

    /// An account with `scheduledExportsIncremental`: its first scheduled export is full, the next
    /// one (once the first delivered) covers the files after the first's cutoff. Other accounts stay
    /// full.
    #[tokio::test]
    async fn incremental_scheduled_exports_start_full_then_follow_the_last_delivered_one() {
        let w = World::new();
        let incremental = w.directory.add_account(AccountType::Enterprise, true);
        let full = w.directory.add_account(AccountType::Enterprise, true);
        w.directory
            .accounts
            .lock()
            .unwrap()
            .get_mut(incremental.as_str())
            .unwrap()
            .scheduled_exports_incremental = true;
        w.sweep(true, None).await;
        let first = w.store.records(&incremental)[0].clone();
        assert_eq!(first.since, None, "the first scheduled export is full");
        for account in [&incremental, &full] {
            let mut record = w.store.records(account)[0].clone();
            record.status = ExportStatus::Succeeded;
            w.store.insert(record);
        }
        w.clock.advance(WEEK + Duration::from_secs(3600));
        w.sweep(true, None).await;
        let records = w.store.records(&incremental);
        let second = records.iter().find(|r| r.export_id != first.export_id).unwrap();
        assert_eq!(second.since, Some(first.cutoff));
        assert!(w.store.records(&full).iter().all(|r| r.since.is_none()));
    }

    #[tokio::test]
    async fn a_sweep_larger_than_one_budget_resumes_where_it_stopped_and_covers_every_account() {
        let w = World::new();
        let mut opted_in = Vec::new();
        for i in 0..47 {
            let scheduled = i % 5 == 0;
            let id = w.directory.add_account(AccountType::Enterprise, scheduled);
            if scheduled {
                opted_in.push(id);
            }
        }
        let (reply, invocations) = w.sweep(true, Some(10)).await;
        assert_eq!(reply.outcome, "done");
        // 47 accounts at 10 per invocation, after one invocation that found no stuck export.
        assert!(invocations >= 5, "{invocations} invocations");
        let sweep = reply.sweep.unwrap();
        assert_eq!(sweep.invocations, invocations);
        assert_eq!(sweep.report, SweepReport { started: 10, skipped: 37, failed: 0, recovered: 0, paced: 0 });
        for account in &opted_in {
            assert_eq!(w.store.records(account).len(), 1, "every opted-in account started once");
        }
        assert!(sweep.completed_at.is_some());
        // The resume rule then finds nothing to do.
        let idle = w.sweeper(true).advance(Trigger::Resume, "resume", &w.budget(Some(10))).await.unwrap();
        assert_eq!(idle.outcome, "idle");
    }

    /// With the pipeline's cap at 2, the sweep never has more than 2 of its exports QUEUED or
    /// RUNNING: an invocation stops starting at the cap (paced; the cursor stays), the next ones
    /// start none while those run, and carry on as they finish, until every opted-in account has
    /// started exactly once.
    #[tokio::test]
    async fn the_sweep_starts_no_more_exports_at_once_than_the_pipelines_cap() {
        let w = World::new();
        let opted_in: Vec<AccountId> =
            (0..5).map(|_| w.directory.add_account(AccountType::Enterprise, true)).collect();
        for _ in 0..3 {
            w.directory.add_account(AccountType::Enterprise, false);
        }
        let sweeper = Sweeper { max_running: Some(2), ..w.sweeper(true) };
        let unfinished = || {
            opted_in
                .iter()
                .flat_map(|a| w.store.records(a))
                .filter(|r| matches!(r.status, ExportStatus::Queued | ExportStatus::Running))
                .collect::<Vec<_>>()
        };
        let first = sweeper.advance(Trigger::Begin, "daily", &w.budget(None)).await.unwrap();
        assert_eq!(first.outcome, "progress", "{first:?}");
        assert_eq!(unfinished().len(), 2, "two started, at the cap");
        let record = first.sweep.unwrap();
        assert_eq!((record.report.started, record.report.paced, record.in_flight.len()), (2, 1, 2));

        // While those run, the resume rule starts nothing more.
        let held = sweeper.advance(Trigger::Resume, "resume", &w.budget(None)).await.unwrap();
        assert_eq!((held.outcome, held.sweep.as_ref().unwrap().report.started), ("progress", 2));
        assert_eq!(unfinished().len(), 2);

        // As exports finish, later invocations start the rest, never past the cap.
        let mut invocations = 0;
        loop {
            for r in unfinished() {
                let done = StatusChange::Failed {
                    completed_at: w.clock.now(),
                    error: FailureInfo { code: "X".into(), message: "y".into() },
                };
                w.store.change_status(&r.owner, &r.export_id, done).await.unwrap();
            }
            let reply = sweeper.advance(Trigger::Resume, "resume", &w.budget(None)).await.unwrap();
            assert!(unfinished().len() <= 2, "never more than the cap in flight");
            invocations += 1;
            if reply.outcome == "done" {
                let report = reply.sweep.unwrap().report;
                assert_eq!((report.started, report.skipped), (5, 3), "{report:?}");
                break;
            }
            assert!(invocations < 10, "the sweep finishes");
        }
        for account in &opted_in {
            assert_eq!(w.store.records(account).len(), 1, "every opted-in account started once");
        }
    }

    #[tokio::test]
    async fn a_sweep_held_by_another_invocation_is_left_alone_until_its_lease_ends() {
        let w = World::new();
        for _ in 0..5 {
            w.directory.add_account(AccountType::Enterprise, true);
        }
        let first = w.sweeper(true).advance(Trigger::Begin, RULE, &w.budget(Some(2))).await.unwrap();
        assert_eq!(first.outcome, "progress");
        // An invocation that died mid-way: it still holds the lease.
        let mut held = w.ledger.load().await.unwrap().unwrap();
        held.lease_until = w.clock.now().plus(Duration::from_secs(900));
        let expected = Some(held.version);
        held.version += 1;
        assert!(w.ledger.save(&held, expected).await.unwrap());
        let busy = w.sweeper(true).advance(Trigger::Resume, "resume", &w.budget(Some(2))).await.unwrap();
        assert_eq!(busy.outcome, "busy");
        // A second daily trigger does not begin a second sweep either.
        let busy = w.sweeper(true).advance(Trigger::Begin, RULE, &w.budget(Some(2))).await.unwrap();
        assert_eq!(busy.outcome, "busy");
        assert_eq!(busy.sweep.unwrap().started_at, first.sweep.unwrap().started_at);
        // After its deadline, the resume rule carries on from the saved cursor.
        w.clock.advance(Duration::from_secs(901));
        let mut reply = w.sweeper(true).advance(Trigger::Resume, "resume", &w.budget(Some(2))).await.unwrap();
        while reply.outcome == "progress" {
            reply = w.sweeper(true).advance(Trigger::Resume, "resume", &w.budget(Some(2))).await.unwrap();
        }
        assert_eq!(reply.outcome, "done");
        assert_eq!(report(&reply).started, 5);
    }

    #[tokio::test]
    async fn a_stale_version_is_refused_so_two_invocations_never_both_advance() {
        let w = World::new();
        w.directory.add_account(AccountType::Enterprise, true);
        let reply = w.sweeper(true).advance(Trigger::Begin, RULE, &w.budget(None)).await.unwrap();
        let record = reply.sweep.unwrap();
        let stale = Some(record.version - 1);
        assert!(!w.ledger.save(&record, stale).await.unwrap());
        assert!(!w.ledger.save(&record, None).await.unwrap(), "a record exists");
        assert!(w.ledger.save(&record, Some(record.version)).await.unwrap());
    }

    #[tokio::test]
    async fn the_sweep_fails_stuck_exports_and_gives_their_windows_back() {
        let w = World::new();
        let timed_out = w.directory.add_account(AccountType::Enterprise, false);
        let running = w.directory.add_account(AccountType::Enterprise, false);
        let never_started = w.directory.add_account(AccountType::Enterprise, true);
        let mut ids = Vec::new();
        for account in [&timed_out, &running] {
            let request = StartRequest {
                owner: account.clone().into(),
                client_token: None,
                format: ExportFormat::Jsonl,
                verify_objects: true,
                since: None,
                requested_by: RequestedBy { principal: "p".into(), via: Via::Api, person: None },
            };
            ids.push(w.sweeper(true).starter.start(request).await.unwrap().export_id);
        }
        w.workflow.ended.lock().unwrap().insert(ids[0], "TIMED_OUT".into());
        // Admitted, but start-export died before StartExecution.
        let orphan = ExportRecord::new_request(
            never_started.clone().into(),
            ExportFormat::Csv,
            RequestedBy { principal: "p".into(), via: Via::Api, person: None },
            None,
            w.clock.now(),
        );
        assert!(matches!(w.store.admit(&orphan, WEEK).await.unwrap(), Admission::Accepted { .. }));

        // Within the grace period the orphan may still be starting: left alone.
        assert_eq!(w.sweeper(true).recover_stuck().await.unwrap(), 1);
        let record = w.store.record(&timed_out, &ids[0]).unwrap();
        assert_eq!(record.status, ExportStatus::Failed);
        assert_eq!(record.error.unwrap().code, "States.Timeout");
        assert!(w.store.throttle(&timed_out.clone().into()).await.unwrap().is_none(), "window given back");
        assert_eq!(w.store.record(&running, &ids[1]).unwrap().status, ExportStatus::Queued);
        assert_eq!(w.store.record(&never_started, &orphan.export_id).unwrap().status, ExportStatus::Queued);

        // After it, the orphan is failed, and the same sweep starts the account's scheduled export.
        w.clock.advance(NOT_STARTED_GRACE + Duration::from_secs(1));
        let (reply, _) = w.sweep(true, None).await;
        assert_eq!(report(&reply).recovered, 1);
        assert_eq!(report(&reply).started, 1);
        let orphaned = w.store.record(&never_started, &orphan.export_id).unwrap();
        assert_eq!(orphaned.status, ExportStatus::Failed);
        assert_eq!(orphaned.error.unwrap().code, "ExecutionNotStarted");
        assert_eq!(w.store.record(&running, &ids[1]).unwrap().status, ExportStatus::Queued, "still running");
        assert_eq!(w.sweeper(true).recover_stuck().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn with_scheduled_exports_off_the_sweep_only_closes_stuck_exports() {
        let w = World::new();
        let opted_in = w.directory.add_account(AccountType::Enterprise, true);
        let (reply, invocations) = w.sweep(false, None).await;
        assert_eq!((reply.outcome, invocations), ("done", 1));
        assert_eq!(report(&reply), SweepReport::default());
        assert!(w.store.records(&opted_in).is_empty());
    }
}
