//! ExportsTable in memory (the `ExportStore` port), with the adapter's conditions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::error::{Error, Result};
use crate::domain::ids::{ExportId, UserId};
use crate::domain::model::{
    DownloadSummary, Enumerated, ExportRecord, ExportStatus, Fetch, Handout, ListingPlan, Receipt,
    SegmentListing, Throttle, ThrottleWindow,
};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;
use crate::ports::{Admission, ExportStore, Page, StatusChange};

/// The adapter's status condition, with its message.
fn require_status(record: &ExportRecord, allowed: &[ExportStatus], what: &str) -> Result<()> {
    if allowed.contains(&record.status) {
        Ok(())
    } else {
        Err(Error::StatusConflict(format!("export {} is {}; cannot {what}", record.export_id, record.status)))
    }
}

#[derive(Clone, Default)]
pub struct FakeStore {
    state: Arc<Mutex<StoreState>>,
}

#[derive(Clone, Default)]
struct StoreState {
    records: HashMap<(ExportOwner, ExportId), ExportRecord>,
    throttles: HashMap<ExportOwner, Throttle>,
    handouts: HashMap<(ExportOwner, ExportId), Vec<Handout>>,
    /// Receipts by `{uploadedAt}#{attachmentId}`, the order the adapter's sort key gives them.
    receipts: HashMap<(ExportOwner, ExportId), BTreeMap<String, Receipt>>,
    summaries: HashMap<(ExportOwner, ExportId), DownloadSummary>,
    /// Listing segments' checkpoints, in segment order.
    segments: HashMap<(ExportOwner, ExportId), BTreeMap<u32, SegmentListing>>,
    /// Pending Assistant confirmations: the code's SHA-256 and its expiry, by user.
    confirmations: HashMap<UserId, (String, Timestamp)>,
    /// Written manifest parts (the adapter's `PART#` items).
    parts: HashMap<(ExportOwner, ExportId), std::collections::BTreeSet<u32>>,
}

impl FakeStore {
    /// Runs `change` on a stored record (`Error::NotFound` if there is none), under the lock.
    fn update<T>(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        change: impl FnOnce(&mut ExportRecord) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.state.lock().unwrap();
        let record = state
            .records
            .get_mut(&(owner.clone(), *export))
            .ok_or_else(|| Error::NotFound(format!("export {export} not found")))?;
        change(record)
    }

    /// One record (tests name its owner by an account id or an owner).
    pub fn record(&self, owner: impl Into<ExportOwner>, export: &ExportId) -> Option<ExportRecord> {
        self.state.lock().unwrap().records.get(&(owner.into(), *export)).cloned()
    }

    pub fn records(&self, owner: impl Into<ExportOwner>) -> Vec<ExportRecord> {
        let owner = owner.into();
        let state = self.state.lock().unwrap();
        state.records.values().filter(|r| r.owner == owner).cloned().collect()
    }

    /// A record as it would stand after some steps (handler tests use the sample events' ids).
    pub fn insert(&self, record: ExportRecord) {
        self.state.lock().unwrap().records.insert((record.owner.clone(), record.export_id), record);
    }

    /// Drops an export's segment checkpoints, as if its listing had not begun.
    pub fn forget_segments(&self, owner: &ExportOwner, export: &ExportId) {
        self.state.lock().unwrap().segments.remove(&(owner.clone(), *export));
    }
}

impl ExportStore for FakeStore {
    async fn admit(&self, record: &ExportRecord, window: Duration) -> Result<Admission> {
        let mut state = self.state.lock().unwrap();
        let account = record.owner.clone();
        let seen = state.throttles.get(&account).cloned();
        if let Some(t) = &seen
            && !t.is_open_at(record.requested_at)
        {
            return Ok(Admission::WindowClosed { throttle: t.clone() });
        }
        let throttle = Throttle {
            current: ThrottleWindow {
                last_export_id: record.export_id,
                last_requested_at: record.requested_at,
                next_allowed_at: record.requested_at.plus(window),
            },
            previous: seen.map(|t| t.current),
        };
        state.throttles.insert(account.clone(), throttle.clone());
        state.records.insert((account, record.export_id), record.clone());
        Ok(Admission::Accepted { throttle })
    }

    async fn get(&self, owner: &ExportOwner, export: &ExportId) -> Result<Option<ExportRecord>> {
        Ok(self.record(owner, export))
    }

    async fn unfinished(&self, after: Option<&str>, _limit: u32) -> Result<Page<ExportRecord>> {
        // One record per page, so callers' paging is exercised; the cursor is the last export id.
        let state = self.state.lock().unwrap();
        let mut open: Vec<&ExportRecord> = state.records.values().filter(|r| !r.status.is_final()).collect();
        open.sort_by_key(|r| r.export_id);
        let next_record =
            open.into_iter().find(|r| after.is_none_or(|a| r.export_id.to_string().as_str() > a));
        Ok(match next_record {
            Some(r) => Page { items: vec![r.clone()], next: Some(r.export_id.to_string()) },
            None => Page { items: vec![], next: None },
        })
    }

    async fn list(
        &self,
        owner: &ExportOwner,
        limit: u32,
        after: Option<&ExportId>,
    ) -> Result<Page<ExportRecord>> {
        let mut all = self.records(owner);
        all.sort_by_key(|r| std::cmp::Reverse(r.export_id));
        let items: Vec<ExportRecord> =
            all.into_iter().filter(|r| after.is_none_or(|a| r.export_id < *a)).take(limit as usize).collect();
        // The same cursor as the adapter: the last listed export's id.
        let next = (items.len() == limit as usize).then(|| items.last().unwrap().export_id.to_string());
        Ok(Page { items, next })
    }

    async fn throttle(&self, owner: &ExportOwner) -> Result<Option<Throttle>> {
        Ok(self.state.lock().unwrap().throttles.get(owner).cloned())
    }

    async fn change_status(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        change: StatusChange,
    ) -> Result<()> {
        self.update(owner, export, |record| {
            let to = match &change {
                StatusChange::Running { .. } => ExportStatus::Running,
                StatusChange::Succeeded { result, .. } => result.status(),
                StatusChange::Failed { .. } => ExportStatus::Failed,
                StatusChange::Revoked { .. } => ExportStatus::Revoked,
            };
            if !record.status.can_move_to(to) {
                return Err(Error::StatusConflict(format!("export {export} is {}", record.status)));
            }
            record.status = to;
            match change {
                StatusChange::Running { started_at } => {
                    record.started_at.get_or_insert(started_at);
                }
                StatusChange::Succeeded { completed_at, result } => {
                    record.completed_at = Some(completed_at);
                    record.result = Some(*result);
                }
                StatusChange::Failed { completed_at, error } => {
                    record.completed_at = Some(completed_at);
                    record.error = Some(error);
                }
                StatusChange::Revoked { at, by } => {
                    record.revoked_at = Some(at);
                    record.revoked_by = Some(by);
                }
            }
            Ok(())
        })
    }

    async fn set_execution_arn(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        execution_arn: &str,
    ) -> Result<()> {
        self.update(owner, export, |record| {
            record.execution_arn = Some(execution_arn.to_owned());
            Ok(())
        })
    }

    async fn record_plan(&self, owner: &ExportOwner, export: &ExportId, plan: &ListingPlan) -> Result<()> {
        self.update(owner, export, |record| {
            // As the adapter's condition: RUNNING, and no plan recorded yet.
            require_status(record, &[ExportStatus::Running], "record its listing plan")?;
            if record.plan.is_some() {
                return Err(Error::StatusConflict(format!("export {export} is planned already")));
            }
            record.plan = Some(plan.clone());
            Ok(())
        })
    }

    async fn segment(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        segment: u32,
    ) -> Result<Option<SegmentListing>> {
        let state = self.state.lock().unwrap();
        Ok(state.segments.get(&(owner.clone(), *export)).and_then(|s| s.get(&segment)).cloned())
    }

    async fn segments(&self, owner: &ExportOwner, export: &ExportId) -> Result<Vec<(u32, SegmentListing)>> {
        let state = self.state.lock().unwrap();
        Ok(state
            .segments
            .get(&(owner.clone(), *export))
            .map(|s| s.iter().map(|(n, l)| (*n, l.clone())).collect())
            .unwrap_or_default())
    }

    async fn checkpoint_segment(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        segment: u32,
        from: Option<&SegmentListing>,
        to: &SegmentListing,
    ) -> Result<()> {
        let added = to
            .rows_after(from)
            .ok_or_else(|| Error::Internal(format!("segment checkpoint {to:?} does not follow {from:?}")))?;
        let mut state = self.state.lock().unwrap();
        let key = (owner.clone(), *export);
        let stored = state.segments.get(&key).and_then(|s| s.get(&segment)).cloned();
        // A retried pass: already there.
        if stored.as_ref() == Some(to) {
            return Ok(());
        }
        // As the adapter's transaction: the record RUNNING, the segment at `from`.
        let record = state
            .records
            .get_mut(&key)
            .ok_or_else(|| Error::NotFound(format!("export {export} not found")))?;
        require_status(record, &[ExportStatus::Running], "checkpoint a listing segment")?;
        if stored.as_ref() != from {
            return Err(Error::StatusConflict(format!(
                "export {export}'s listing segment {segment} has its checkpoint elsewhere"
            )));
        }
        record.progress.attachments_listed += added;
        state.segments.entry(key).or_default().insert(segment, to.clone());
        Ok(())
    }

    async fn record_enumerated(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        enumerated: &Enumerated,
    ) -> Result<()> {
        self.update(owner, export, |record| {
            // As the adapter's condition: RUNNING, and no enumeration recorded yet.
            require_status(record, &[ExportStatus::Running], "record its enumeration")?;
            if record.enumerated.is_some() {
                return Err(Error::StatusConflict(format!("export {export} is enumerated already")));
            }
            record.enumerated = Some(enumerated.clone());
            Ok(())
        })
    }

    async fn mark_part_written(&self, owner: &ExportOwner, export: &ExportId, part: u32) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let key = (owner.clone(), *export);
        let record = state
            .records
            .get_mut(&key)
            .ok_or_else(|| Error::NotFound(format!("export {export} not found")))?;
        require_status(record, &[ExportStatus::Running], "record a written part")?;
        // As the adapter: the part's own item, and the count grows only when the item is new.
        if state.parts.entry(key.clone()).or_default().insert(part) {
            state.records.get_mut(&key).expect("checked above").progress.parts_written += 1;
        }
        Ok(())
    }

    async fn put_confirmation(&self, user: &UserId, code_sha256: &str, expires_at: Timestamp) -> Result<()> {
        self.state.lock().unwrap().confirmations.insert(user.clone(), (code_sha256.to_owned(), expires_at));
        Ok(())
    }

    async fn take_confirmation(&self, user: &UserId, code_sha256: &str, now: Timestamp) -> Result<bool> {
        let mut state = self.state.lock().unwrap();
        let valid =
            state.confirmations.get(user).is_some_and(|(code, until)| code == code_sha256 && *until > now);
        if valid {
            state.confirmations.remove(user);
        }
        Ok(valid)
    }

    async fn record_retrieval(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        handout: &Handout,
    ) -> Result<()> {
        self.update(owner, export, |record| {
            // As the adapter's condition.
            require_status(record, &ExportStatus::DELIVERED, "count a manifest retrieval")?;
            record.retrievals += 1;
            record.last_retrieved_at = Some(handout.at);
            record.last_retrieved_by = Some(handout.principal.clone());
            Ok(())
        })?;
        let mut state = self.state.lock().unwrap();
        state.handouts.entry((owner.clone(), *export)).or_default().push(handout.clone());
        Ok(())
    }

    async fn handouts(&self, owner: &ExportOwner, export: &ExportId, limit: u32) -> Result<Vec<Handout>> {
        let state = self.state.lock().unwrap();
        let mut all = state.handouts.get(&(owner.clone(), *export)).cloned().unwrap_or_default();
        // Newest first, as the adapter's descending Query (equal times keep their order of arrival).
        all.reverse();
        all.sort_by_key(|h| std::cmp::Reverse(h.at));
        all.truncate(limit as usize);
        Ok(all)
    }

    async fn record_fetch(&self, owner: &ExportOwner, export: &ExportId, fetch: &Fetch) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let position = format!("{}#{}", fetch.uploaded_at, fetch.attachment_id);
        let receipts = state.receipts.entry((owner.clone(), *export)).or_default();
        let first = !receipts.contains_key(&position);
        let receipt = receipts.entry(position).or_insert_with(|| Receipt {
            uploaded_at: fetch.uploaded_at,
            attachment_id: fetch.attachment_id.clone(),
            fetch_count: 0,
            first_at: fetch.at,
            last_at: fetch.at,
            first_source_ip: fetch.source_ip.clone(),
            last_source_ip: fetch.source_ip.clone(),
        });
        receipt.fetch_count += 1;
        (receipt.last_at, receipt.last_source_ip) = (fetch.at, fetch.source_ip.clone());
        if first {
            let summary = state.summaries.entry((owner.clone(), *export)).or_default();
            summary.files_fetched += 1;
            summary.first_at.get_or_insert(fetch.at);
            summary.last_first_fetch_at = Some(fetch.at);
        }
        Ok(())
    }

    async fn download_summary(&self, owner: &ExportOwner, export: &ExportId) -> Result<DownloadSummary> {
        let state = self.state.lock().unwrap();
        Ok(state.summaries.get(&(owner.clone(), *export)).cloned().unwrap_or_default())
    }

    async fn receipts(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Receipt>> {
        let state = self.state.lock().unwrap();
        let Some(all) = state.receipts.get(&(owner.clone(), *export)) else {
            return Ok(Page { items: Vec::new(), next: None });
        };
        let from = after.map_or(std::ops::Bound::Unbounded, |a| std::ops::Bound::Excluded(a.to_owned()));
        let mut page: Vec<(&String, &Receipt)> =
            all.range((from, std::ops::Bound::Unbounded)).take(limit.max(1) as usize + 1).collect();
        let more = page.len() > limit.max(1) as usize;
        page.truncate(limit.max(1) as usize);
        let next = more.then(|| page.last().map(|(k, _)| (*k).clone())).flatten();
        Ok(Page { items: page.into_iter().map(|(_, r)| r.clone()).collect(), next })
    }

    async fn release_window(&self, owner: &ExportOwner, export: &ExportId) -> Result<bool> {
        let mut state = self.state.lock().unwrap();
        let Some(current) = state.throttles.get(owner).cloned() else {
            return Ok(false);
        };
        if current.current.last_export_id != *export {
            return Ok(false);
        }
        match current.previous {
            Some(previous) => {
                state.throttles.insert(owner.clone(), Throttle { current: previous, previous: None });
            }
            None => {
                state.throttles.remove(owner);
            }
        }
        Ok(true)
    }
}
