//! The Enumerate step: lists the attachments in scope into inventory parts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{MAX_PARTS, recorded_enumeration, running_record};
use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{RoomId, UserId};
use crate::domain::manifest::InventoryLine;
use crate::domain::model::{ConversationType, Enumerated, Listing};
use crate::domain::payloads::{EnumerateRequest, EnumerateResponse, ExportJob};
use crate::domain::reports::{ScopeEntry, ScopeList, UnreadableLine};
use crate::ports::{
    AttachmentCatalog, Clock, Directory, ExportStore, ObjectStore, StatusChange, UploadRange,
};
use crate::rules::scope::Scope;

/// The Enumerate step.
pub struct Enumerator<B: Backend> {
    pub catalog: B::Catalog,
    pub store: B::Store,
    pub objects: B::Objects,
    pub clock: B::Clock,
    /// Attachments per inventory part.
    pub part_items: usize,
    /// The bucket `objects` writes to, named in the reply for the WriteParts Map's ItemReader.
    pub export_bucket: String,
}

impl<B: Backend> Enumerator<B> {
    /// Lists from the record's checkpoint and writes whole inventory parts until the catalog is
    /// exhausted or `remaining()` runs short. Each part written moves the checkpoint to its last
    /// row, so a retry or the next pass writes exactly the parts that follow, and a forged pass
    /// can only write what the real one would.
    pub async fn run(
        &self,
        request: EnumerateRequest,
        remaining: impl Fn() -> Duration,
    ) -> Result<EnumerateResponse> {
        // What defines the export (cutoff, since) and where its listing stands are its record's.
        let record = running_record(&self.store, &request.job).await?;
        let job = &ExportJob::from(&record);
        let resume = record.listing.clone();
        self.store
            .change_status(
                &job.account_id,
                &job.export_id,
                StatusChange::Running { started_at: self.clock.now() },
            )
            .await?;

        let users = self.catalog.users(&job.account_id).await?;
        let rooms = self.catalog.rooms(&job.account_id).await?;
        let scope = Scope::new(job.cutoff, &users, &rooms).with_since(job.since);
        let scope_list = ScopeList {
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
        };
        let directory: HashMap<UserId, (String, bool)> =
            users.into_iter().filter_map(|u| Some((u.user_id?, (u.email, u.managed)))).collect();
        let room_names: HashMap<RoomId, String> =
            rooms.into_iter().filter_map(|r| Some((r.room_id?, r.name))).collect();

        let mut out = EnumerateResponse {
            done: false,
            part_count: resume.as_ref().map_or(0, |at| at.part_count),
            listed: resume.as_ref().map_or(0, |at| at.listed),
            parts_bucket: None,
            parts_key: None,
            signed_at: None,
        };
        let mut part = Vec::with_capacity(self.part_items * 512);
        let mut part_lines = 0usize;
        // Where the catalog resumes after the last row written: the cursor of the next pass.
        let mut last_position = String::new();
        let mut slowest_part = Duration::ZERO;
        let mut part_started = Instant::now();
        // An incremental export lists only what was uploaded after `since`.
        let range = UploadRange { since: job.since, cutoff: job.cutoff };
        let mut page_cursor = resume.map(|at| at.cursor);
        loop {
            let page = self.catalog.attachments(&job.account_id, range, page_cursor.as_deref(), None).await?;
            for row in page.items {
                let position = B::Catalog::position(&row);
                // The row's inventory line, if it is in scope: an attachment, or an item that
                // cannot be read (reported in errors.csv by the part writer, never signed).
                let written = match row {
                    Ok(attachment) if scope.includes(&attachment) => {
                        let conversation_name = match attachment.conversation_type {
                            ConversationType::Room => room_names
                                .get(&RoomId::from(&attachment.conversation_id))
                                .cloned()
                                .unwrap_or_default(),
                            _ => String::new(),
                        };
                        let (email, managed) =
                            directory.get(&attachment.uploader_id).cloned().unwrap_or_default();
                        serde_json::to_writer(
                            &mut part,
                            &InventoryLine::new(attachment, conversation_name, email, managed),
                        )
                    }
                    Err(unreadable) if scope.includes_unreadable(&unreadable) => {
                        serde_json::to_writer(&mut part, &UnreadableLine { unreadable: *unreadable })
                    }
                    _ => continue,
                };
                written.map_err(|e| Error::Internal(format!("inventory line: {e}")))?;
                part.push(b'\n');
                part_lines += 1;
                last_position = position;
                if part_lines == self.part_items {
                    if self.write_part(job, &mut out, &mut part, part_lines, &last_position).await?
                        == Written::Behind
                    {
                        return Ok(out);
                    }
                    part_lines = 0;
                    slowest_part = slowest_part.max(part_started.elapsed());
                    part_started = Instant::now();
                    // Stop at a part boundary while there is time for two more parts and the reply.
                    if remaining() < (slowest_part * 2).max(Duration::from_secs(5)) {
                        return Ok(out);
                    }
                }
            }
            match page.next {
                Some(next) => page_cursor = Some(next),
                None => break,
            }
        }
        if part_lines > 0
            && self.write_part(job, &mut out, &mut part, part_lines, &last_position).await? == Written::Behind
        {
            return Ok(out);
        }
        // The users and rooms in scope, for coverage.csv (one small object; rewritten on a retry).
        self.objects
            .put(
                &job.scope_key(),
                serde_json::to_vec(&scope_list).map_err(|e| Error::Internal(format!("scope list: {e}")))?,
                "application/json",
                &[],
            )
            .await?;
        // Recorded once: the later steps take the part count and the signing time from the record.
        let found =
            Enumerated { part_count: out.part_count, listed: out.listed, signed_at: self.clock.now() };
        let enumerated = match self.store.record_enumerated(&job.account_id, &job.export_id, &found).await {
            Ok(()) => found,
            // A duplicate of this last pass got there first: its enumeration stands.
            Err(Error::StatusConflict(_)) => recorded_enumeration(&running_record(&self.store, job).await?)?,
            Err(e) => return Err(e),
        };
        // The WriteParts Map's items, as a file its ItemReader reads: a payload listing them would
        // grow with the export (rewritten the same by a retry; removed with the intermediates).
        let parts: Vec<u32> = (1..=enumerated.part_count).collect();
        let parts_json =
            serde_json::to_vec(&parts).map_err(|e| Error::Internal(format!("part list: {e}")))?;
        self.objects.put(&job.parts_list_key(), parts_json, "application/json", &[]).await?;
        out.done = true;
        out.parts_bucket = Some(self.export_bucket.clone());
        out.parts_key = Some(job.parts_list_key());
        out.signed_at = Some(enumerated.signed_at);
        tracing::info!(
            account = %job.account_id, export = %job.export_id, listed = out.listed, parts = out.part_count,
            "enumeration done"
        );
        Ok(out)
    }

    async fn write_part(
        &self,
        job: &ExportJob,
        out: &mut EnumerateResponse,
        part: &mut Vec<u8>,
        lines: usize,
        last_position: &str,
    ) -> Result<Written> {
        let number = out.part_count + 1;
        if number > MAX_PARTS {
            return Err(Error::BadRequest(format!(
                "export {} would have more inventory parts than an export can ({MAX_PARTS})",
                job.export_id
            )));
        }
        let body = std::mem::replace(part, Vec::with_capacity(part.capacity()));
        self.objects.put(&job.inventory_part_key(number), body, "application/x-ndjson", &[]).await?;
        let listing = Listing {
            part_count: number,
            listed: out.listed + lines as u64,
            cursor: last_position.to_owned(),
        };
        match self.store.checkpoint_listing(&job.account_id, &job.export_id, &listing).await {
            Ok(()) => {}
            // Another pass of this export (a duplicate, or a forged one) is ahead of this one: it
            // wrote this part and more, the same. Stop here; the next pass resumes from the record.
            Err(Error::StatusConflict(_))
                if running_record(&self.store, job)
                    .await?
                    .listing
                    .is_some_and(|at| at.part_count >= number) =>
            {
                return Ok(Written::Behind);
            }
            Err(e) => return Err(e),
        }
        out.part_count = number;
        out.listed = listing.listed;
        Ok(Written::Checkpointed)
    }
}

/// What writing a part came to.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    Checkpointed,
    /// Another pass had checkpointed past it: this pass stops, not done; the next resumes.
    Behind,
}
