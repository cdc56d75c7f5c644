//! The listing (DESIGN §6), in three steps of one function: **Plan** splits the export's range of
//! upload times into segments; **ListSegments** lists each segment into inventory parts, in
//! parallel, each pass resuming from its segment's checkpoint; **Close** numbers the segments'
//! parts in order and records the enumeration the later steps rely on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::pace::ReadPace;
use super::{
    MAX_GROUP_PARTS, MAX_GROUPS, MAX_PARTS, MAX_SEGMENTS, SEGMENT_WORKERS, recorded_enumeration,
    running_record,
};
use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, ConversationId, RoomId, UserId};
use crate::domain::manifest::InventoryLine;
use crate::domain::model::{
    Attachment, ConversationType, Enumerated, ExportRecord, ListingPlan, PlannedRoom, Room, SegmentListing,
    UnreadableAttachment, User,
};
use crate::domain::owner::ExportOwner;
use crate::domain::payloads::{
    EnumerateReply, EnumerateRequest, EnumerateResponse, ExportJob, PlanResponse, SegmentResponse,
};
use crate::domain::reports::{ScopeEntry, ScopeList, UnreadableLine};
use crate::ports::{
    AttachmentCatalog, CatalogSource, Clock, Directory, ExportStore, ObjectStore, StatusChange, UploadRange,
};
use crate::rules::scope::Scope;
use crate::rules::self_service::{Reason, SelfDecision, SelfScope};

/// The listing's three steps.
pub struct Enumerator<B: Backend> {
    pub catalog: B::Catalog,
    pub store: B::Store,
    pub objects: B::Objects,
    pub clock: B::Clock,
    /// Attachments per inventory part.
    pub part_items: usize,
    /// Segments a listing is split into (at most [`MAX_SEGMENTS`]).
    pub segments: u32,
    /// Catalog rows an export may read a second, its segments together (0: no cap).
    pub max_read_rate: u32,
    /// Manifest parts per assembly group (at most [`MAX_GROUP_PARTS`]), recorded by Close.
    pub group_parts: u32,
    /// The bucket `objects` writes to, named in the replies for the Maps' ItemReaders.
    pub export_bucket: String,
}

impl<B: Backend> Enumerator<B> {
    /// One step, by the request's mode; a segment pass stops at a part boundary when `remaining()`
    /// runs short.
    pub async fn run(
        &self,
        request: EnumerateRequest,
        remaining: impl Fn() -> Duration,
    ) -> Result<EnumerateReply> {
        match request {
            EnumerateRequest::Plan { job } => self.plan(&job).await.map(EnumerateReply::Plan),
            EnumerateRequest::Segment { job, segment } => {
                self.segment(&job, segment, remaining).await.map(EnumerateReply::Segment)
            }
            EnumerateRequest::Close { job } => self.close(&job).await.map(EnumerateReply::Close),
        }
    }

    /// Moves the export to RUNNING and splits its range into equal slices of upload time, from its
    /// first upload in range to its cutoff. An export whose range's catalog rows fit in one part is
    /// one segment (found by reading that many): a small export costs one child execution, not
    /// [`Self::segments`]. The plan is recorded once; a retry uses the recorded one.
    pub async fn plan(&self, job: &ExportJob) -> Result<PlanResponse> {
        let record = running_record(&self.store, job).await?;
        let job = &ExportJob::from(&record);
        self.store
            .change_status(&job.owner, &job.export_id, StatusChange::Running { started_at: self.clock.now() })
            .await?;
        let plan = match record.plan.clone() {
            Some(plan) => plan,
            None => {
                let found = match &job.owner {
                    ExportOwner::Account(account) => self.probe(job, account).await?,
                    ExportOwner::User(user) => self.plan_by_source(job, user).await?,
                };
                match self.store.record_plan(&job.owner, &job.export_id, &found).await {
                    Ok(()) => found,
                    // A duplicate Plan step got there first: its plan stands.
                    Err(Error::StatusConflict(_)) => recorded_plan(&running_record(&self.store, job).await?)?,
                    Err(e) => return Err(e),
                }
            }
        };
        let numbers: Vec<u32> = (0..plan.segments).collect();
        let body = serde_json::to_vec(&numbers).map_err(|e| Error::Internal(format!("segment list: {e}")))?;
        self.objects.put(&job.segments_list_key(), body, "application/json", &[]).await?;
        tracing::info!(
            owner = %job.owner, export = %job.export_id, segments = plan.segments, "listing planned"
        );
        Ok(PlanResponse {
            segments: plan.segments,
            segments_bucket: self.export_bucket.clone(),
            segments_key: job.segments_list_key(),
        })
    }

    /// A self-service user's plan (DESIGN §15): their own uploads (the `by-uploader` index), then
    /// each room they created (`by-conversation`), in account and room order, so a retried Plan
    /// finds the same; each segment over the export's whole range.
    async fn plan_by_source(&self, job: &ExportJob, user: &UserId) -> Result<ListingPlan> {
        let mut rooms: Vec<PlannedRoom> = self
            .catalog
            .rooms_created_by(user)
            .await?
            .into_iter()
            .filter_map(|(account_id, r)| Some(PlannedRoom { account_id, room_id: r.room_id?, name: r.name }))
            .collect();
        rooms.sort_by(|a, b| (&a.account_id, &a.room_id).cmp(&(&b.account_id, &b.room_id)));
        if rooms.len() >= MAX_SEGMENTS as usize {
            return Err(Error::BadRequest(format!(
                "export {} would list {} rooms the user created; an export lists at most {}",
                job.export_id,
                rooms.len(),
                MAX_SEGMENTS - 1
            )));
        }
        Ok(ListingPlan::by_source(rooms, job.cutoff))
    }

    async fn probe(&self, job: &ExportJob, account: &AccountId) -> Result<ListingPlan> {
        let range = UploadRange { since: job.since, cutoff: job.cutoff };
        // One row more than a part: a range whose first page ends it fits in one part. (A page
        // DynamoDB cut at 1 MB names a next page: that range is split, at worst needlessly.)
        let limit = u32::try_from(self.part_items).unwrap_or(u32::MAX).saturating_add(1);
        let source = CatalogSource::Account(account.clone());
        let page = self.catalog.attachments(&source, range, None, Some(limit)).await?;
        let fits = page.next.is_none();
        // The first upload in range: the slices start there, not at the epoch. (A range that
        // opens with unreadable rows only is listed as one segment; they carry no upload time.)
        let first = page.items.iter().find_map(|row| row.as_ref().ok().map(|a| a.uploaded_at));
        Ok(match (fits, first) {
            (false, Some(from)) => ListingPlan::new(self.segments.clamp(1, MAX_SEGMENTS), from, job.cutoff),
            _ => ListingPlan::new(1, job.cutoff, job.cutoff),
        })
    }

    /// One pass over segment `segment`: lists from its checkpoint and writes whole inventory parts
    /// until the segment's range is exhausted (then marks it done) or `remaining()` runs short.
    /// Each part written moves the checkpoint to its last row, so a retry or the next pass writes
    /// exactly the parts that follow, and a forged pass can only write what the real one would.
    pub async fn segment(
        &self,
        job: &ExportJob,
        segment: u32,
        remaining: impl Fn() -> Duration,
    ) -> Result<SegmentResponse> {
        // What defines the export (cutoff, since) and its plan are its record's.
        let record = running_record(&self.store, job).await?;
        let job = &ExportJob::from(&record);
        let plan = recorded_plan(&record)?;
        let Some((since, cutoff)) = plan.bounds(segment, job.since, job.cutoff) else {
            return Err(Error::BadRequest(format!(
                "export {} is listed in segments 0 to {}, not {segment}; nothing was written",
                job.export_id,
                plan.segments - 1
            )));
        };
        let mut at = self.store.segment(&job.owner, &job.export_id, segment).await?;
        if let Some(done) = at.as_ref().filter(|at| at.done) {
            return Ok(SegmentResponse { done: true, part_count: done.part_count, listed: done.listed });
        }

        let source = listing_source(job, &plan, segment)?;
        let rule = self.row_rule(job, &plan, segment).await?;

        let mut part = Vec::with_capacity(self.part_items * 512);
        let mut part_lines = 0usize;
        // Where the catalog resumes after the last row written: the cursor of the next pass.
        let mut last_position = String::new();
        let mut slowest_part = Duration::ZERO;
        let mut part_started = Instant::now();
        let mut pace = ReadPace::new(self.max_read_rate, SEGMENT_WORKERS);
        let range = UploadRange { since, cutoff };
        let mut page_cursor = at.as_ref().map(|at| at.cursor.clone()).filter(|c| !c.is_empty());
        loop {
            let page = self.catalog.attachments(&source, range, page_cursor.as_deref(), None).await?;
            let wait = pace.read(page.items.len());
            for row in page.items {
                let position = B::Catalog::position(&source, &row);
                // The row's inventory line, if it is in scope: an attachment, or an item that
                // cannot be read (reported in errors.csv by the part writer, never signed).
                let written = match row {
                    Ok(attachment) => match rule.line(attachment) {
                        Some(line) => serde_json::to_writer(&mut part, &line),
                        None => continue,
                    },
                    Err(unreadable) if rule.includes_unreadable(&unreadable) => {
                        serde_json::to_writer(&mut part, &UnreadableLine { unreadable: *unreadable })
                    }
                    Err(_) => continue,
                };
                written.map_err(|e| Error::Internal(format!("inventory line: {e}")))?;
                part.push(b'\n');
                part_lines += 1;
                last_position = position;
                if part_lines == self.part_items {
                    let next =
                        self.write_part(job, segment, at.as_ref(), &mut part, part_lines, &last_position);
                    match next.await? {
                        Some(next) => at = Some(next),
                        None => return Ok(not_done(at.as_ref())),
                    }
                    part_lines = 0;
                    slowest_part = slowest_part.max(part_started.elapsed());
                    part_started = Instant::now();
                    // Stop at a part boundary while there is time for two more parts and the reply.
                    if remaining() < (slowest_part * 2).max(Duration::from_secs(5)) {
                        return Ok(not_done(at.as_ref()));
                    }
                }
            }
            match page.next {
                Some(next) => page_cursor = Some(next),
                None => break,
            }
            // Within the export's read rate: its share of it, before the next page.
            if !wait.is_zero() {
                tokio::time::sleep(wait.min(remaining().saturating_sub(Duration::from_secs(5)))).await;
            }
        }
        if part_lines > 0 {
            match self.write_part(job, segment, at.as_ref(), &mut part, part_lines, &last_position).await? {
                Some(next) => at = Some(next),
                None => return Ok(not_done(at.as_ref())),
            }
        }
        // The segment's end: the same parts, marked done.
        let last = at.clone().unwrap_or_default();
        let done = SegmentListing { done: true, ..last };
        match self.store.checkpoint_segment(&job.owner, &job.export_id, segment, at.as_ref(), &done).await {
            Ok(()) => {}
            Err(Error::StatusConflict(_)) if self.ahead(job, segment, &done).await? => {}
            Err(e) => return Err(e),
        }
        Ok(SegmentResponse { done: true, part_count: done.part_count, listed: done.listed })
    }

    /// Writes the segment's next inventory part and checkpoints it: the new checkpoint, or `None`
    /// if another pass of this segment (a duplicate, or a forged one) is ahead of this one and
    /// wrote this part and more, the same (this pass then stops; the next resumes from the store).
    async fn write_part(
        &self,
        job: &ExportJob,
        segment: u32,
        at: Option<&SegmentListing>,
        part: &mut Vec<u8>,
        lines: usize,
        last_position: &str,
    ) -> Result<Option<SegmentListing>> {
        let index = at.map_or(0, |at| at.part_count) + 1;
        if index > MAX_PARTS {
            return Err(too_many_parts(job));
        }
        let body = std::mem::replace(part, Vec::with_capacity(part.capacity()));
        self.objects.put(&job.inventory_part_key(segment, index), body, "application/x-ndjson", &[]).await?;
        let next = SegmentListing {
            part_count: index,
            listed: at.map_or(0, |at| at.listed) + lines as u64,
            cursor: last_position.to_owned(),
            done: false,
        };
        match self.store.checkpoint_segment(&job.owner, &job.export_id, segment, at, &next).await {
            Ok(()) => Ok(Some(next)),
            Err(Error::StatusConflict(_)) if self.ahead(job, segment, &next).await? => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the segment's stored checkpoint is at or past `mine` (another pass got there).
    async fn ahead(&self, job: &ExportJob, segment: u32, mine: &SegmentListing) -> Result<bool> {
        // The export must still be RUNNING: a conflict on a finished export is that conflict.
        running_record(&self.store, job).await?;
        Ok(self
            .store
            .segment(&job.owner, &job.export_id, segment)
            .await?
            .is_some_and(|at| at.part_count >= mine.part_count && (at.done || !mine.done)))
    }

    /// Numbers the segments' parts in segment order (which is upload order), writes the users and
    /// rooms in scope and the WriteParts Map's items, and records the enumeration, once. Every
    /// segment must be listed to its end.
    pub async fn close(&self, job: &ExportJob) -> Result<EnumerateResponse> {
        let record = running_record(&self.store, job).await?;
        let job = &ExportJob::from(&record);
        let plan = recorded_plan(&record)?;
        let enumerated = match record.enumerated.clone() {
            Some(enumerated) => enumerated,
            None => {
                // The plan's segments listed to their end: the parts are theirs, in segment order.
                let stored = self.store.segments(&job.owner, &job.export_id).await?;
                let segments: Vec<SegmentListing> = stored
                    .into_iter()
                    .filter(|(n, at)| *n < plan.segments && at.done)
                    .map(|(_, at)| at)
                    .collect();
                let listed_segments = segments.len();
                if listed_segments != plan.segments as usize {
                    return Err(Error::BadRequest(format!(
                        "export {} has {listed_segments} of its {} listing segments listed; it cannot be \
                         closed yet",
                        job.export_id, plan.segments
                    )));
                }
                let segment_parts: Vec<u32> = segments.iter().map(|at| at.part_count).collect();
                let part_count = segment_parts.iter().try_fold(0u32, |sum, n| sum.checked_add(*n));
                let group_parts = self.group_parts.clamp(1, MAX_GROUP_PARTS);
                let ceiling = MAX_PARTS.min(MAX_GROUPS.saturating_mul(group_parts));
                let part_count = part_count.filter(|n| *n <= ceiling).ok_or_else(|| too_many_parts(job))?;
                let found = Enumerated {
                    part_count,
                    listed: segments.iter().map(|at| at.listed).sum(),
                    signed_at: self.clock.now(),
                    segment_parts,
                    group_parts,
                };
                match self.store.record_enumerated(&job.owner, &job.export_id, &found).await {
                    Ok(()) => found,
                    // A duplicate Close got there first: its enumeration stands.
                    Err(Error::StatusConflict(_)) => {
                        recorded_enumeration(&running_record(&self.store, job).await?)?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        // The users and rooms in scope, for coverage.csv (one small object; rewritten on a retry).
        let scope_list = match &job.owner {
            ExportOwner::Account(account) => {
                let users = self.catalog.users(account).await?;
                let rooms = self.catalog.rooms(account).await?;
                scope_list(job, &users, &rooms)
            }
            // The user, and the rooms they created; no other account's directory is read.
            ExportOwner::User(user) => ScopeList {
                users: vec![ScopeEntry { id: user.to_string(), name: String::new() }],
                rooms: plan
                    .rooms
                    .iter()
                    .flatten()
                    .map(|r| ScopeEntry { id: r.room_id.to_string(), name: r.name.clone() })
                    .collect(),
            },
        };
        let scope_json =
            serde_json::to_vec(&scope_list).map_err(|e| Error::Internal(format!("scope list: {e}")))?;
        self.objects.put(&job.scope_key(), scope_json, "application/json", &[]).await?;
        // The WriteParts Map's items, as a file its ItemReader reads: a payload listing them would
        // grow with the export (rewritten the same by a retry; removed with the intermediates).
        let parts: Vec<u32> = (1..=enumerated.part_count).collect();
        let parts_json =
            serde_json::to_vec(&parts).map_err(|e| Error::Internal(format!("part list: {e}")))?;
        self.objects.put(&job.parts_list_key(), parts_json, "application/json", &[]).await?;
        // The AssembleGroups Map's items, likewise.
        let groups: Vec<u32> = (1..=enumerated.groups()).collect();
        let groups_json =
            serde_json::to_vec(&groups).map_err(|e| Error::Internal(format!("group list: {e}")))?;
        self.objects.put(&job.groups_list_key(), groups_json, "application/json", &[]).await?;
        tracing::info!(
            owner = %job.owner, export = %job.export_id, listed = enumerated.listed,
            parts = enumerated.part_count, segments = plan.segments, "enumeration done"
        );
        Ok(EnumerateResponse {
            done: true,
            part_count: enumerated.part_count,
            listed: enumerated.listed,
            parts_bucket: Some(self.export_bucket.clone()),
            parts_key: Some(job.parts_list_key()),
            groups_key: Some(job.groups_list_key()),
            signed_at: Some(enumerated.signed_at),
        })
    }
}

fn not_done(at: Option<&SegmentListing>) -> SegmentResponse {
    SegmentResponse {
        done: false,
        part_count: at.map_or(0, |at| at.part_count),
        listed: at.map_or(0, |at| at.listed),
    }
}

fn too_many_parts(job: &ExportJob) -> Error {
    Error::BadRequest(format!(
        "export {} would have more inventory parts than an export of this deployment can ({MAX_GROUPS} \
         assembly groups, at most {MAX_PARTS} parts); ask the AWS operator to raise ASSEMBLY_GROUP_PARTS",
        job.export_id
    ))
}

/// What segment `segment` of the plan reads: the account's partition (every segment of an
/// account's export), or for a self-service user's, their uploads (segment 0) or a room.
fn listing_source(job: &ExportJob, plan: &ListingPlan, segment: u32) -> Result<CatalogSource> {
    match (&job.owner, &plan.rooms) {
        (ExportOwner::Account(account), None) => Ok(CatalogSource::Account(account.clone())),
        (ExportOwner::User(user), Some(_)) if segment == 0 => Ok(CatalogSource::Uploader(user.clone())),
        (ExportOwner::User(_), Some(rooms)) => {
            let room = rooms.get(segment as usize - 1).ok_or_else(|| {
                Error::Internal(format!("export {} has no room for segment {segment}", job.export_id))
            })?;
            Ok(CatalogSource::Conversation(ConversationId::parse(room.room_id.as_str())?))
        }
        _ => Err(Error::Internal(format!("export {}'s plan is not {}'s", job.export_id, job.owner))),
    }
}

/// Which rows of a listing are the export's, and their inventory lines.
enum RowRule {
    /// An account's export: the scope rule of DESIGN §1, the directory's names.
    Account { scope: Scope, directory: HashMap<UserId, (String, bool)>, room_names: HashMap<RoomId, String> },
    /// A self-service user's (DESIGN §15): their own uploads and their rooms; no other account's
    /// directory is read, so no uploader's address is shown. A segment keeps the rows of its own
    /// source's reason only (`only`): their uploads to a room they created come from that room's
    /// segment, not again from their uploads'.
    User { scope: SelfScope, room_names: HashMap<RoomId, String>, only: Reason },
}

impl RowRule {
    fn line(&self, attachment: Attachment) -> Option<InventoryLine> {
        let room = (attachment.conversation_type == ConversationType::Room)
            .then(|| RoomId::from(&attachment.conversation_id));
        match self {
            RowRule::Account { scope, directory, room_names } => {
                if !scope.includes(&attachment) {
                    return None;
                }
                let name = room.and_then(|r| room_names.get(&r).cloned()).unwrap_or_default();
                let (email, managed) = directory.get(&attachment.uploader_id).cloned().unwrap_or_default();
                Some(InventoryLine::new(attachment, name, email, managed))
            }
            RowRule::User { scope, room_names, only } => {
                let reason = match scope.decide(&attachment) {
                    SelfDecision::InScope(reason) if reason == *only => reason,
                    _ => return None,
                };
                let name = room.and_then(|r| room_names.get(&r).cloned()).unwrap_or_default();
                let mut line = InventoryLine::new(attachment, name, String::new(), false);
                line.in_scope_because = Some(reason);
                Some(line)
            }
        }
    }

    fn includes_unreadable(&self, unreadable: &UnreadableAttachment) -> bool {
        match self {
            RowRule::Account { scope, .. } => scope.includes_unreadable(unreadable),
            RowRule::User { scope, only, .. } => {
                // An unreadable row of a room is the room's to report; of their uploads, theirs.
                let room = unreadable.conversation_type == Some(ConversationType::Room);
                scope.includes_unreadable(unreadable) && (room == (*only == Reason::CreatedRoom))
            }
        }
    }
}

impl<B: Backend> Enumerator<B> {
    /// The rule of `job`'s rows, read once a pass.
    async fn row_rule(&self, job: &ExportJob, plan: &ListingPlan, segment: u32) -> Result<RowRule> {
        Ok(match &job.owner {
            ExportOwner::Account(account) => {
                let users = self.catalog.users(account).await?;
                let rooms = self.catalog.rooms(account).await?;
                let scope = Scope::new(job.cutoff, &users, &rooms).with_since(job.since);
                let directory =
                    users.into_iter().filter_map(|u| Some((u.user_id?, (u.email, u.managed)))).collect();
                let room_names = rooms.into_iter().filter_map(|r| Some((r.room_id?, r.name))).collect();
                RowRule::Account { scope, directory, room_names }
            }
            ExportOwner::User(user) => {
                let rooms = plan.rooms.clone().unwrap_or_default();
                let ids = rooms.iter().map(|r| r.room_id.clone());
                let scope = SelfScope::new(user.clone(), job.cutoff, ids).with_since(job.since);
                let only = if segment == 0 { Reason::OwnUpload } else { Reason::CreatedRoom };
                let room_names = rooms.into_iter().map(|r| (r.room_id, r.name)).collect();
                RowRule::User { scope, room_names, only }
            }
        })
    }
}

/// The plan the Plan step recorded: a segment or Close step before it is refused.
fn recorded_plan(record: &ExportRecord) -> Result<ListingPlan> {
    record.plan.clone().ok_or_else(|| {
        Error::StatusConflict(format!("export {}'s listing is not planned yet", record.export_id))
    })
}

/// The managed users and rooms in scope, for coverage.csv.
fn scope_list(job: &ExportJob, users: &[User], rooms: &[Room]) -> ScopeList {
    let scope = Scope::new(job.cutoff, users, rooms).with_since(job.since);
    ScopeList {
        users: users
            .iter()
            .filter_map(|u| Some((u.user_id.clone()?, u)))
            .filter(|(id, _)| scope.is_managed(id))
            .map(|(id, u)| ScopeEntry { id: id.to_string(), name: u.email.clone() })
            .collect(),
        rooms: rooms
            .iter()
            .filter_map(|r| Some((r.room_id.clone()?, r)))
            .filter(|(id, _)| scope.is_managed_room(id))
            .map(|(id, r)| ScopeEntry { id: id.to_string(), name: r.name.clone() })
            .collect(),
    }
}
