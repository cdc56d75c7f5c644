//! ExportsTable: export records and each owner's window (an account's, or a self-service user's).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use serde_dynamo::from_item;

use super::from_sdk;
use crate::config::ConfigError;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{ExportId, UserId};
use crate::domain::model::{
    DownloadSummary, Enumerated, ExportRecord, ExportStatus, Fetch, Handout, ListingPlan, Receipt,
    SegmentListing, Throttle, ThrottleWindow,
};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;
use crate::ports::{Admission, ExportStore, Page, StatusChange};

use super::{Item, attr, items, keys, s, string_attr};

/// ExportsTable.
#[derive(Debug, Clone)]
pub struct DynamoExportStore {
    client: Client,
    table: String,
}

/// How often `admit` re-reads the throttle after losing a race before it reports contention.
const ADMIT_ATTEMPTS: usize = 10;

impl DynamoExportStore {
    /// On the table named by the configuration (`EXPORTS_TABLE`, required here).
    pub fn from_config(client: Client, config: &crate::Config) -> Result<Self, ConfigError> {
        Ok(Self::new(client, config.exports_table()?))
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// One unconditional PutItem; `what` names the item in an error.
    async fn put(&self, item: Item, what: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("PutItem ExportsTable ({what})"), e))?;
        Ok(())
    }

    fn key(owner: &ExportOwner, sk: String) -> Item {
        HashMap::from([("accountId".to_owned(), s(keys::exports_pk(owner))), ("sk".to_owned(), s(sk))])
    }

    /// One attempt at the admission transaction. `Ok(false)` means the throttle changed under us.
    async fn try_admit(
        &self,
        record: &ExportRecord,
        seen: Option<&Throttle>,
        window: Duration,
    ) -> Result<bool> {
        let owner = &record.owner;
        let taken = Throttle {
            current: ThrottleWindow {
                last_export_id: record.export_id,
                last_requested_at: record.requested_at,
                next_allowed_at: record.requested_at.plus(window),
            },
            previous: seen.map(|t| t.current.clone()),
        };
        // DESIGN §4's condition (window open), plus "still the throttle we read", so that `previous`
        // is exactly what the acceptance replaced and a failure restores the right window.
        let mut throttle_put =
            Put::builder().table_name(&self.table).set_item(Some(items::throttle(owner, &taken)?));
        throttle_put = match seen {
            None => throttle_put.condition_expression("attribute_not_exists(nextAllowedAt)"),
            Some(t) => throttle_put
                .condition_expression("nextAllowedAt <= :now AND lastExportId = :seen")
                .expression_attribute_values(":now", s(record.requested_at.to_string()))
                .expression_attribute_values(":seen", s(t.current.last_export_id.to_string())),
        };
        let record_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(items::export(record)?))
            .condition_expression("attribute_not_exists(sk)");
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder().put(throttle_put.build().map_err(build_err)?).build(),
            )
            .transact_items(TransactWriteItem::builder().put(record_put.build().map_err(build_err)?).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    err.as_service_error()
                {
                    let reasons: Vec<&str> =
                        cancel.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
                    match reasons.as_slice() {
                        // Lost the race for the throttle, or collided with the winner's transaction.
                        ["ConditionalCheckFailed" | "TransactionConflict", ..] => return Ok(false),
                        [_, "TransactionConflict"] => return Ok(false),
                        [_, "ConditionalCheckFailed"] => {
                            return Err(Error::Internal(format!(
                                "export id {} already exists",
                                record.export_id
                            )));
                        }
                        _ => {}
                    }
                }
                Err(from_sdk("TransactWriteItems ExportsTable (admit)", err))
            }
        }
    }

    /// A conditional update of an export record that names what went wrong when the condition
    /// fails: an unknown export, or a status that does not allow the change.
    async fn update_export(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        update: RecordUpdate<'_>,
    ) -> Result<()> {
        let RecordUpdate { what, expression, allowed_from, also, mut values } = update;
        let placeholders: Vec<String> = (0..allowed_from.len()).map(|i| format!(":from{i}")).collect();
        let mut condition = "attribute_exists(sk)".to_owned();
        if !allowed_from.is_empty() {
            condition.push_str(&format!(" AND #status IN ({})", placeholders.join(", ")));
        }
        if let Some((extra, _)) = also {
            condition.push_str(&format!(" AND {extra}"));
        }
        for (placeholder, status) in placeholders.iter().zip(allowed_from) {
            values.push((placeholder.as_str(), s(status.as_str())));
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::export_sk(export))))
            .update_expression(expression)
            .condition_expression(&condition);
        // Reserved words are written `#word` in expressions.
        for word in ["status", "result", "error", "cursor", "plan"] {
            let name = format!("#{word}");
            if expression.contains(&name) || condition.contains(&name) {
                request = request.expression_attribute_names(name, word);
            }
        }
        for (placeholder, value) in values {
            request = request.expression_attribute_values(placeholder, value);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                match self.get(owner, export).await? {
                    None => Err(Error::NotFound(format!("export {export} not found for {owner}"))),
                    Some(r) if allowed_from.is_empty() || allowed_from.contains(&r.status) => {
                        let (_, described) = also.unwrap_or(("", "changed meanwhile"));
                        Err(Error::StatusConflict(format!("export {export} {described}; cannot {what}")))
                    }
                    Some(r) => {
                        Err(Error::StatusConflict(format!("export {export} is {}; cannot {what}", r.status)))
                    }
                }
            }
            Err(err) => Err(from_sdk(&format!("UpdateItem ExportsTable ({what})"), err)),
        }
    }
}

impl DynamoExportStore {
    /// `expression` on the export's record, on condition that it is RUNNING: a step's progress,
    /// written in the same transaction as the item the step moves (a segment's checkpoint, a part).
    fn running_progress(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        expression: &str,
        (name, value): (&str, AttributeValue),
    ) -> Result<Update> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::export_sk(export))))
            .update_expression(expression)
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(name, value)
            .expression_attribute_values(":running", s(ExportStatus::Running.as_str()))
            .build()
            .map_err(build_err)
    }
}

/// A conditional update of one export record.
struct RecordUpdate<'a> {
    /// What the update does, for messages: "move to RUNNING".
    what: &'a str,
    expression: &'a str,
    /// Stored statuses that allow the update; empty means any.
    allowed_from: &'a [ExportStatus],
    /// A further condition, and how a record that fails it is described ("is enumerated already").
    also: Option<(&'a str, &'a str)>,
    values: Vec<(&'a str, AttributeValue)>,
}

/// An export record as stored. A user's record holds its partition key (`USER#{userId}`) in
/// `accountId` beside its owner's `userId`; the key is not the record's.
fn export_record(mut item: Item) -> Result<ExportRecord> {
    if item.get("accountId").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with(keys::USER_PREFIX)) {
        item.remove("accountId");
    }
    Ok(from_item(item)?)
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Internal(format!("building a DynamoDB request: {e}"))
}

impl ExportStore for DynamoExportStore {
    async fn admit(&self, record: &ExportRecord, window: Duration) -> Result<Admission> {
        for _ in 0..ADMIT_ATTEMPTS {
            let seen = self.throttle(&record.owner).await?;
            if let Some(t) = &seen
                && !t.is_open_at(record.requested_at)
            {
                return Ok(Admission::WindowClosed { throttle: t.clone() });
            }
            if self.try_admit(record, seen.as_ref(), window).await? {
                let throttle = self
                    .throttle(&record.owner)
                    .await?
                    .ok_or_else(|| Error::Internal("throttle vanished after admission".into()))?;
                return Ok(Admission::Accepted { throttle });
            }
        }
        Err(Error::Transient(format!(
            "gave up taking the export window of {} after {ADMIT_ATTEMPTS} contended attempts",
            record.owner
        )))
    }

    async fn get(&self, owner: &ExportOwner, export: &ExportId) -> Result<Option<ExportRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::export_sk(export))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem ExportsTable", e))?;
        out.item.map(export_record).transpose()
    }

    async fn unfinished(&self, after: Option<&str>, limit: u32) -> Result<Page<ExportRecord>> {
        // The cursor is `{accountId}|{sk}`: a Scan's position names both keys.
        let start = after
            .map(|cursor| {
                cursor
                    .split_once('|')
                    .map(|(account, sk)| {
                        HashMap::from([("accountId".to_owned(), s(account)), ("sk".to_owned(), s(sk))])
                    })
                    .ok_or_else(|| Error::BadRequest(format!("not a stuck-export cursor: {cursor:?}")))
            })
            .transpose()?;
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(sk, :p) AND #status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":p", s(keys::EXPORT_PREFIX))
            .expression_attribute_values(":queued", s(ExportStatus::Queued.as_str()))
            .expression_attribute_values(":running", s(ExportStatus::Running.as_str()))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("Scan ExportsTable", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .map(|k| Ok::<_, Error>(format!("{}|{}", string_attr(k, "accountId")?, string_attr(k, "sk")?)))
            .transpose()?;
        let items = out.items.unwrap_or_default().into_iter().map(export_record).collect::<Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn list(
        &self,
        owner: &ExportOwner,
        limit: u32,
        after: Option<&ExportId>,
    ) -> Result<Page<ExportRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("accountId = :a AND begins_with(sk, :p)")
            .expression_attribute_values(":a", s(keys::exports_pk(owner)))
            .expression_attribute_values(":p", s(keys::EXPORT_PREFIX))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(after.map(|id| Self::key(owner, keys::export_sk(id))))
            .send()
            .await
            .map_err(|e| from_sdk("Query ExportsTable", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .map(|k| {
                let sk = string_attr(k, "sk")?;
                sk.strip_prefix(keys::EXPORT_PREFIX)
                    .map(str::to_owned)
                    .ok_or_else(|| Error::Internal(format!("not an export's sort key: {sk}")))
            })
            .transpose()?;
        let items = out.items.unwrap_or_default().into_iter().map(export_record).collect::<Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn throttle(&self, owner: &ExportOwner) -> Result<Option<Throttle>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::THROTTLE_SK.into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem ExportsTable throttle", e))?;
        Ok(out.item.map(from_item).transpose()?)
    }

    async fn change_status(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        change: StatusChange,
    ) -> Result<()> {
        let (to, update, values) = match &change {
            StatusChange::Running { started_at } => (
                ExportStatus::Running,
                "SET #status = :to, startedAt = if_not_exists(startedAt, :at)",
                vec![(":at", s(started_at.to_string()))],
            ),
            StatusChange::Succeeded { completed_at, result } => (
                result.status(),
                "SET #status = :to, completedAt = :at, #result = :r",
                vec![(":at", s(completed_at.to_string())), (":r", attr(&**result)?)],
            ),
            StatusChange::Failed { completed_at, error } => (
                ExportStatus::Failed,
                "SET #status = :to, completedAt = :at, #error = :e",
                vec![(":at", s(completed_at.to_string())), (":e", attr(error)?)],
            ),
            StatusChange::Revoked { at, by } => (
                ExportStatus::Revoked,
                "SET #status = :to, revokedAt = :at, revokedBy = :by",
                vec![(":at", s(at.to_string())), (":by", attr(by)?)],
            ),
        };
        let mut values = values;
        values.push((":to", s(to.as_str())));
        let what = format!("move to {to}");
        let update = RecordUpdate {
            what: &what,
            expression: update,
            allowed_from: to.allowed_from(),
            also: None,
            values,
        };
        self.update_export(owner, export, update).await
    }

    async fn set_execution_arn(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        execution_arn: &str,
    ) -> Result<()> {
        let update = RecordUpdate {
            what: "record its execution",
            expression: "SET executionArn = :arn",
            allowed_from: &[],
            also: None,
            values: vec![(":arn", s(execution_arn))],
        };
        self.update_export(owner, export, update).await
    }

    async fn record_plan(&self, owner: &ExportOwner, export: &ExportId, plan: &ListingPlan) -> Result<()> {
        let update = RecordUpdate {
            what: "record its listing plan",
            expression: "SET #plan = :plan",
            allowed_from: &[ExportStatus::Running],
            // Once: a duplicate Plan step finds the first one's, which the segments already use.
            also: Some(("attribute_not_exists(#plan)", "is planned already")),
            values: vec![(":plan", attr(plan)?)],
        };
        self.update_export(owner, export, update).await
    }

    async fn segment(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        segment: u32,
    ) -> Result<Option<SegmentListing>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::segment_sk(export, segment))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem ExportsTable (listing segment)", e))?;
        out.item.map(|item| Ok(from_item(item)?)).transpose()
    }

    async fn segments(&self, owner: &ExportOwner, export: &ExportId) -> Result<Vec<(u32, SegmentListing)>> {
        let prefix = keys::segments_of(export);
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("accountId = :a AND begins_with(sk, :p)")
                .expression_attribute_values(":a", s(keys::exports_pk(owner)))
                .expression_attribute_values(":p", s(&prefix))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| from_sdk("Query ExportsTable (listing segments)", e))?;
            for item in out.items.unwrap_or_default() {
                let sk = string_attr(&item, "sk")?;
                let number = sk
                    .strip_prefix(&prefix)
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| Error::Internal(format!("not a listing segment's key: {sk}")))?;
                found.push((number, from_item(item)?));
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(found),
            }
        }
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
        let key = Self::key(owner, keys::segment_sk(export, segment));
        // The segment's item moves from `from` to `to` only: the condition is the whole of `from`.
        let mut move_segment = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET partCount = :part, listed = :listed, #cursor = :cursor, done = :done")
            .expression_attribute_names("#cursor", "cursor")
            .expression_attribute_values(":part", AttributeValue::N(to.part_count.to_string()))
            .expression_attribute_values(":listed", AttributeValue::N(to.listed.to_string()))
            .expression_attribute_values(":cursor", s(&to.cursor))
            .expression_attribute_values(":done", AttributeValue::Bool(to.done));
        move_segment = match from {
            None => move_segment.condition_expression("attribute_not_exists(sk)"),
            Some(from) => move_segment
                .condition_expression(
                    "partCount = :fromPart AND listed = :fromListed AND #cursor = :fromCursor AND done = :no",
                )
                .expression_attribute_values(":fromPart", AttributeValue::N(from.part_count.to_string()))
                .expression_attribute_values(":fromListed", AttributeValue::N(from.listed.to_string()))
                .expression_attribute_values(":fromCursor", s(&from.cursor))
                .expression_attribute_values(":no", AttributeValue::Bool(false)),
        };
        // The export's progress grows by the rows between, in the same transaction: once per part.
        let progress = self.running_progress(
            owner,
            export,
            "SET progress.attachmentsListed = progress.attachmentsListed + :added",
            (":added", AttributeValue::N(added.to_string())),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder().update(move_segment.build().map_err(build_err)?).build(),
            )
            .transact_items(TransactWriteItem::builder().update(progress).build())
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        let canceled =
            matches!(err.as_service_error(), Some(TransactWriteItemsError::TransactionCanceledException(_)));
        if !canceled {
            return Err(from_sdk("TransactWriteItems ExportsTable (listing segment)", err));
        }
        // Only one pass of a segment runs at a time (its child execution's loop), so a canceled
        // transaction is a retry that got there before, or a record no longer RUNNING.
        if self.segment(owner, export, segment).await?.as_ref() == Some(to) {
            return Ok(());
        }
        match self.get(owner, export).await? {
            None => Err(Error::NotFound(format!("export {export} not found for {owner}"))),
            Some(r) if r.status != ExportStatus::Running => Err(Error::StatusConflict(format!(
                "export {export} is {}; cannot checkpoint a listing segment",
                r.status
            ))),
            Some(_) => Err(Error::StatusConflict(format!(
                "export {export}'s listing segment {segment} has its checkpoint elsewhere"
            ))),
        }
    }

    async fn record_enumerated(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        enumerated: &Enumerated,
    ) -> Result<()> {
        let update = RecordUpdate {
            what: "record its enumeration",
            expression: "SET enumerated = :enumerated",
            allowed_from: &[ExportStatus::Running],
            // Once: a duplicate last pass finds the first one's, which the later steps already use.
            also: Some(("attribute_not_exists(enumerated)", "is enumerated already")),
            values: vec![(":enumerated", attr(enumerated)?)],
        };
        self.update_export(owner, export, update).await
    }

    async fn mark_part_written(&self, owner: &ExportOwner, export: &ExportId, part: u32) -> Result<()> {
        // The part's own item, new only once, and the count in the same transaction: a retried part
        // is counted once, and parts written at once contend on no growing item.
        let put_part = Put::builder()
            .table_name(&self.table)
            .item("accountId", s(keys::exports_pk(owner)))
            .item("sk", s(keys::part_sk(export, part)))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(build_err)?;
        let count = self.running_progress(
            owner,
            export,
            "ADD progress.partsWritten :one",
            (":one", AttributeValue::N("1".into())),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_part).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        let reasons: Vec<String> = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                e.cancellation_reasons().iter().map(|r| r.code().unwrap_or_default().to_owned()).collect()
            }
            _ => return Err(from_sdk("TransactWriteItems ExportsTable (written part)", err)),
        };
        let failed = |i: usize| reasons.get(i).is_some_and(|c| c == "ConditionalCheckFailed");
        if failed(1) {
            return match self.get(owner, export).await? {
                None => Err(Error::NotFound(format!("export {export} not found for {owner}"))),
                Some(r) => Err(Error::StatusConflict(format!(
                    "export {export} is {}; cannot record a written part",
                    r.status
                ))),
            };
        }
        if failed(0) {
            // Written before (a retried part): counted then.
            return Ok(());
        }
        Err(Error::Transient(format!("recording part {part} of export {export} was canceled: {reasons:?}")))
    }

    async fn put_confirmation(&self, user: &UserId, code_sha256: &str, expires_at: Timestamp) -> Result<()> {
        let mut item = Self::key(&ExportOwner::User(user.clone()), keys::CONFIRMATION_SK.into());
        item.insert("codeSha256".into(), s(code_sha256));
        item.insert("expiresAt".into(), s(expires_at.to_string()));
        self.put(item, "confirmation").await
    }

    async fn take_confirmation(&self, user: &UserId, code_sha256: &str, now: Timestamp) -> Result<bool> {
        // One conditional delete: of two racing redemptions of one code, one wins.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&ExportOwner::User(user.clone()), keys::CONFIRMATION_SK.into())))
            .condition_expression("codeSha256 = :code AND expiresAt > :now")
            .expression_attribute_values(":code", s(code_sha256))
            .expression_attribute_values(":now", s(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(from_sdk("DeleteItem ExportsTable (confirmation)", e)),
        }
    }

    async fn record_retrieval(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        handout: &Handout,
    ) -> Result<()> {
        let (principal, at) = (handout.principal.as_str(), handout.at);
        let update = RecordUpdate {
            what: "count a manifest retrieval",
            // ADD is atomic: concurrent hand-outs are all counted.
            expression: "ADD retrievals :one SET lastRetrievedAt = :at, lastRetrievedBy = :by",
            allowed_from: &ExportStatus::DELIVERED,
            also: None,
            values: vec![
                (":one", AttributeValue::N("1".into())),
                (":at", s(at.to_string())),
                (":by", s(principal)),
            ],
        };
        self.update_export(owner, export, update).await?;
        // Counted first (the condition says the export is delivered), then kept: a hand-out whose
        // history item failed to write is refused, never handed out uncounted.
        let mut item = match attr(handout)? {
            AttributeValue::M(fields) => fields,
            _ => return Err(Error::Internal("a hand-out is not a map".into())),
        };
        let nonce = crate::domain::ids::ExportId::new().to_string();
        item.extend(Self::key(owner, keys::handout_sk(export, &at, &nonce)));
        self.put(item, "hand-out").await
    }

    async fn handouts(&self, owner: &ExportOwner, export: &ExportId, limit: u32) -> Result<Vec<Handout>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("accountId = :a AND begins_with(sk, :p)")
            .expression_attribute_values(":a", s(keys::exports_pk(owner)))
            .expression_attribute_values(":p", s(keys::handouts_of(export)))
            // Strongly consistent: the view lists the hand-out just written.
            .consistent_read(true)
            .scan_index_forward(false)
            .limit(limit.max(1) as i32)
            .send()
            .await
            .map_err(|e| from_sdk("Query ExportsTable (hand-outs)", e))?;
        out.items.unwrap_or_default().into_iter().map(|item| Ok(from_item(item)?)).collect()
    }

    async fn record_fetch(&self, owner: &ExportOwner, export: &ExportId, fetch: &Fetch) -> Result<()> {
        let receipt_key =
            Self::key(owner, keys::receipt_sk(export, &fetch.uploaded_at, &fetch.attachment_id));
        let (at, ip) = (s(fetch.at.to_string()), s(&fetch.source_ip));
        // One write per fetch. ADD is atomic, so racing fetches are all counted.
        let old = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(receipt_key.clone()))
            .update_expression(
                "ADD fetchCount :one SET uploadedAt = :u, attachmentId = :id, \
                 firstAt = if_not_exists(firstAt, :at), firstSourceIp = if_not_exists(firstSourceIp, :ip), \
                 lastAt = :at, lastSourceIp = :ip",
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":u", s(fetch.uploaded_at.to_string()))
            .expression_attribute_values(":id", s(fetch.attachment_id.as_str()))
            .expression_attribute_values(":at", at.clone())
            .expression_attribute_values(":ip", ip)
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| from_sdk("UpdateItem ExportsTable (receipt)", e))?;
        if old.attributes().is_some_and(|a| a.contains_key("counted")) {
            return Ok(());
        }
        // Not yet in the summary: count the file and mark its receipt counted in one transaction,
        // on condition that it is not counted yet, so a retried or racing first fetch counts once.
        let summary = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::download_summary_sk(export))))
            .update_expression(
                "ADD filesFetched :one SET firstAt = if_not_exists(firstAt, :at), lastFirstFetchAt = :at",
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":at", at)
            .build()
            .map_err(build_err)?;
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(receipt_key))
            .update_expression("SET counted = :yes")
            .condition_expression("attribute_not_exists(counted)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()
            .map_err(build_err)?;
        for attempt in 0..5u64 {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(summary.clone()).build())
                .transact_items(TransactWriteItem::builder().update(mark.clone()).build())
                .send()
                .await;
            let Err(err) = result else { return Ok(()) };
            let reasons: Vec<String> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => cancel
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect(),
                _ => return Err(from_sdk("TransactWriteItems ExportsTable (download summary)", err)),
            };
            if reasons.iter().any(|r| r == "ConditionalCheckFailed") {
                return Ok(()); // another fetch of this file counted it
            }
            if !reasons.iter().any(|r| r == "TransactionConflict") {
                return Err(from_sdk("TransactWriteItems ExportsTable (download summary)", err));
            }
            // A racing fetch's transaction on the same items: try again; the condition decides.
            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
        }
        Err(Error::Transient(
            "the download summary stayed contended; the fetch is counted on its retry".into(),
        ))
    }

    async fn download_summary(&self, owner: &ExportOwner, export: &ExportId) -> Result<DownloadSummary> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, keys::download_summary_sk(export))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem ExportsTable (download summary)", e))?;
        match out.item {
            Some(item) => Ok(from_item(item)?),
            None => Ok(DownloadSummary::default()),
        }
    }

    async fn receipts(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Receipt>> {
        let prefix = keys::receipts_of(export);
        let start = after.map(|position| Self::key(owner, format!("{prefix}{position}")));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("accountId = :a AND begins_with(sk, :p)")
            .expression_attribute_values(":a", s(keys::exports_pk(owner)))
            .expression_attribute_values(":p", s(&prefix))
            .set_exclusive_start_key(start)
            .limit(limit.max(1) as i32)
            .send()
            .await
            .map_err(|e| from_sdk("Query ExportsTable (receipts)", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .map(|key| string_attr(key, "sk"))
            .transpose()?
            .and_then(|sk| sk.strip_prefix(&prefix).map(str::to_owned));
        let items =
            out.items.unwrap_or_default().into_iter().map(|i| Ok(from_item(i)?)).collect::<Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn release_window(&self, owner: &ExportOwner, export: &ExportId) -> Result<bool> {
        let Some(current) = self.throttle(owner).await? else {
            return Ok(false);
        };
        if current.current.last_export_id != *export {
            return Ok(false); // another export holds the window now; leave it alone
        }
        // Conditional on `export` still holding the window: it may be taken over meanwhile.
        let id = s(export.to_string());
        let result = match current.previous {
            Some(previous) => self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(items::throttle(owner, &Throttle { current: previous, previous: None })?))
                .condition_expression("lastExportId = :id")
                .expression_attribute_values(":id", id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| lost_condition_or(e, "PutItem ExportsTable (release window)")),
            None => self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(owner, keys::THROTTLE_SK.into())))
                .condition_expression("lastExportId = :id")
                .expression_attribute_values(":id", id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| lost_condition_or(e, "DeleteItem ExportsTable (release window)")),
        };
        match result {
            Ok(()) => Ok(true),
            Err(None) => Ok(false),
            Err(Some(e)) => Err(e),
        }
    }
}

/// `None` when a conditional write lost its condition (someone else changed the item), otherwise
/// the classified error.
fn lost_condition_or<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>, operation: &str) -> Option<Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    if err.code() == Some("ConditionalCheckFailedException") { None } else { Some(from_sdk(operation, err)) }
}
