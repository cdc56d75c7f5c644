//! DynamoDB adapters on the tables of DESIGN §4. Items are (de)serialized by serde_dynamo from the
//! model's structs; only keys and update expressions are written here.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::{from_item, to_attribute_value, to_item};

use super::from_sdk;
use crate::config::ConfigError;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, ExportId, RoomId, UserId};
use crate::domain::model::{
    Account, Attachment, CatalogRow, ExportRecord, ExportStatus, Room, Throttle, ThrottleWindow,
    UnreadableAttachment, User,
};
use crate::domain::time::Timestamp;
use crate::ports::{Admission, AttachmentCatalog, Directory, ExportStore, Page, StatusChange};

pub type Item = HashMap<String, AttributeValue>;

/// Key layout of AccountsTable and ExportsTable.
pub mod keys {
    use super::*;

    pub const ACCOUNT_SK: &str = "ACCOUNT";
    pub const USER_PREFIX: &str = "USER#";
    pub const ROOM_PREFIX: &str = "ROOM#";
    pub const EXPORT_PREFIX: &str = "EXPORT#";
    pub const THROTTLE_SK: &str = "THROTTLE";
    /// AccountsTable's inverted index (sk → pk): lists accounts without a Scan.
    pub const BY_ITEM_TYPE_INDEX: &str = "by-item-type";
    const ACCOUNT_PREFIX: &str = "ACCOUNT#";

    pub fn account_pk(id: &AccountId) -> String {
        format!("{ACCOUNT_PREFIX}{id}")
    }

    pub fn account_from_pk(pk: &str) -> Result<AccountId> {
        pk.strip_prefix(ACCOUNT_PREFIX)
            .ok_or_else(|| Error::Internal(format!("not an account key: {pk}")))
            .and_then(AccountId::parse)
    }

    pub fn user_sk(id: &UserId) -> String {
        format!("{USER_PREFIX}{id}")
    }

    pub fn room_sk(id: &RoomId) -> String {
        format!("{ROOM_PREFIX}{id}")
    }

    pub fn export_sk(id: &ExportId) -> String {
        format!("{EXPORT_PREFIX}{id}")
    }
}

/// Items as the chat service stores them, for seeding (tests, the CLI) through any writer.
pub mod items {
    use super::*;

    #[derive(Serialize)]
    struct Keyed<'a, T: Serialize> {
        pk: String,
        sk: String,
        #[serde(flatten)]
        value: &'a T,
    }

    fn keyed<T: Serialize>(pk: String, sk: String, value: &T) -> Result<Item> {
        Ok(to_item(Keyed { pk, sk, value })?)
    }

    pub fn account(id: &AccountId, account: &Account) -> Result<Item> {
        keyed(keys::account_pk(id), keys::ACCOUNT_SK.into(), account)
    }

    pub fn user(account: &AccountId, id: &UserId, user: &User) -> Result<Item> {
        keyed(keys::account_pk(account), keys::user_sk(id), user)
    }

    pub fn room(account: &AccountId, id: &RoomId, room: &Room) -> Result<Item> {
        keyed(keys::account_pk(account), keys::room_sk(id), room)
    }

    #[derive(Serialize)]
    struct AttachmentItem<'a> {
        sk: String,
        #[serde(flatten)]
        attachment: &'a Attachment,
    }

    pub fn attachment(a: &Attachment) -> Result<Item> {
        Ok(to_item(AttachmentItem { sk: a.sort_key(), attachment: a })?)
    }

    #[derive(Serialize)]
    struct SortKeyed<'a, T: Serialize> {
        sk: String,
        #[serde(flatten)]
        value: &'a T,
    }

    pub fn export(record: &ExportRecord) -> Result<Item> {
        Ok(to_item(SortKeyed { sk: keys::export_sk(&record.export_id), value: record })?)
    }

    pub fn throttle(account: &AccountId, throttle: &Throttle) -> Result<Item> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ThrottleItem<'a> {
            account_id: &'a AccountId,
            sk: &'static str,
            #[serde(flatten)]
            throttle: &'a Throttle,
        }
        Ok(to_item(ThrottleItem { account_id: account, sk: keys::THROTTLE_SK, throttle })?)
    }
}

fn string_attr(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(Error::Internal(format!("item has no string attribute {name}"))),
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn attr<T: Serialize>(value: &T) -> Result<AttributeValue> {
    Ok(to_attribute_value(value)?)
}

impl From<serde_dynamo::Error> for Error {
    fn from(e: serde_dynamo::Error) -> Self {
        Error::Internal(format!("item does not match the data model: {e}"))
    }
}

/// AccountsTable: the directory.
#[derive(Debug, Clone)]
pub struct DynamoDirectory {
    client: Client,
    accounts_table: String,
}

impl DynamoDirectory {
    /// On the table named by the configuration (`ACCOUNTS_TABLE`, required here).
    pub fn from_config(client: Client, config: &crate::Config) -> Result<Self, ConfigError> {
        Ok(Self::new(client, config.accounts_table()?))
    }

    pub fn new(client: Client, accounts_table: impl Into<String>) -> Self {
        Self { client, accounts_table: accounts_table.into() }
    }

    /// Every item of the account's partition whose sort key starts with `prefix`, all pages.
    async fn directory_entries<T: DeserializeOwned>(
        &self,
        account: &AccountId,
        prefix: &str,
    ) -> Result<Vec<(String, T)>> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.accounts_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::account_pk(account)))
            .expression_attribute_values(":prefix", s(prefix))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| from_sdk("Query AccountsTable", e))?;
        items
            .into_iter()
            .map(|item| {
                let sk = string_attr(&item, "sk")?;
                let id = sk[prefix.len()..].to_owned();
                Ok((id, from_item(item)?))
            })
            .collect()
    }
}

impl Directory for DynamoDirectory {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.accounts_table)
            .key("pk", s(keys::account_pk(account)))
            .key("sk", s(keys::ACCOUNT_SK))
            .send()
            .await
            .map_err(|e| from_sdk("GetItem AccountsTable", e))?;
        out.item
            .map(|item| {
                let mut a: Account = from_item(item)?;
                a.account_id = Some(account.clone());
                Ok(a)
            })
            .transpose()
    }

    async fn users(&self, account: &AccountId) -> Result<Vec<User>> {
        self.directory_entries::<User>(account, keys::USER_PREFIX)
            .await?
            .into_iter()
            .map(|(id, mut u)| {
                u.user_id = Some(UserId::parse(&id)?);
                Ok(u)
            })
            .collect()
    }

    async fn rooms(&self, account: &AccountId) -> Result<Vec<Room>> {
        self.directory_entries::<Room>(account, keys::ROOM_PREFIX)
            .await?
            .into_iter()
            .map(|(id, mut r)| {
                r.room_id = Some(RoomId::parse(&id)?);
                Ok(r)
            })
            .collect()
    }

    async fn accounts(&self, after: Option<&str>, limit: u32) -> Result<Page<AccountId>> {
        let out =
            self.client
                .query()
                .table_name(&self.accounts_table)
                .index_name(keys::BY_ITEM_TYPE_INDEX)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1))
                .key_condition_expression("sk = :sk")
                .expression_attribute_values(":sk", s(keys::ACCOUNT_SK))
                .set_exclusive_start_key(after.map(|pk| {
                    HashMap::from([("sk".to_owned(), s(keys::ACCOUNT_SK)), ("pk".to_owned(), s(pk))])
                }))
                .send()
                .await
                .map_err(|e| from_sdk("Query AccountsTable by-item-type", e))?;
        let next = out.last_evaluated_key.as_ref().map(|k| string_attr(k, "pk")).transpose()?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| keys::account_from_pk(&string_attr(item, "pk")?))
            .collect::<Result<_>>()?;
        Ok(Page { items, next })
    }
}

/// AccountsTable + AttachmentsTable: the directory and the catalog, for the Enumerate step.
#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    directory: DynamoDirectory,
    attachments_table: String,
}

impl DynamoCatalog {
    /// On the tables named by the configuration (`ACCOUNTS_TABLE`, `ATTACHMENTS_TABLE`).
    pub fn from_config(client: Client, config: &crate::Config) -> Result<Self, ConfigError> {
        Ok(Self::new(client, config.accounts_table()?, config.attachments_table()?))
    }

    pub fn new(
        client: Client,
        accounts_table: impl Into<String>,
        attachments_table: impl Into<String>,
    ) -> Self {
        Self {
            directory: DynamoDirectory::new(client, accounts_table),
            attachments_table: attachments_table.into(),
        }
    }
}

impl Directory for DynamoCatalog {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>> {
        self.directory.account(account).await
    }

    async fn users(&self, account: &AccountId) -> Result<Vec<User>> {
        self.directory.users(account).await
    }

    async fn rooms(&self, account: &AccountId) -> Result<Vec<Room>> {
        self.directory.rooms(account).await
    }

    async fn accounts(&self, after: Option<&str>, limit: u32) -> Result<Page<AccountId>> {
        self.directory.accounts(after, limit).await
    }
}

impl AttachmentCatalog for DynamoCatalog {
    async fn attachments(
        &self,
        account: &AccountId,
        cutoff: Timestamp,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<CatalogRow>> {
        // `{cutoff}#~` sorts after every `{cutoff}#{uuid}` and before any later time: the cutoff
        // is a key condition, so nothing after it is even read.
        let upper = format!("{cutoff}#~");
        let out = self
            .directory
            .client
            .query()
            .table_name(&self.attachments_table)
            .key_condition_expression("accountId = :a AND sk <= :upper")
            .expression_attribute_values(":a", s(account.as_str()))
            .expression_attribute_values(":upper", s(upper))
            .set_exclusive_start_key(after.map(|sk| {
                HashMap::from([("accountId".to_owned(), s(account.as_str())), ("sk".to_owned(), s(sk))])
            }))
            .set_limit(limit.map(|l| l as i32))
            .send()
            .await
            .map_err(|e| from_sdk("Query AttachmentsTable", e))?;
        let next = out.last_evaluated_key.as_ref().map(|k| string_attr(k, "sk")).transpose()?;
        let items = out.items.unwrap_or_default().into_iter().map(catalog_row).collect();
        Ok(Page { items, next })
    }
}

/// Why an attachment item cannot be read, naming attributes but never quoting a value.
fn unreadable_detail(item: &Item) -> String {
    const TEXT: [&str; 11] = [
        "attachmentId",
        "messageId",
        "conversationId",
        "conversationType",
        "uploaderId",
        "fileName",
        "contentType",
        "sha256",
        "bucket",
        "objectKey",
        "uploadedAt",
    ];
    let mut problems = Vec::new();
    match item.get("sizeBytes") {
        Some(AttributeValue::N(n)) if n.parse::<u64>().is_ok() => {}
        None => problems.push("sizeBytes is missing".to_owned()),
        Some(_) => problems.push("sizeBytes is not a whole number of bytes".to_owned()),
    }
    for name in TEXT {
        match item.get(name) {
            Some(AttributeValue::S(_)) => {}
            None => problems.push(format!("{name} is missing")),
            Some(_) => problems.push(format!("{name} is not a string")),
        }
    }
    if problems.is_empty() {
        // Every attribute has its type: a value of the wrong form (an id, a time, a type). The
        // parser's message quotes the value, so it is not used.
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => s.as_str(),
            _ => "",
        };
        type Valid = fn(&str) -> bool;
        let ids: [(&str, Valid); 4] = [
            ("attachmentId", |v| crate::domain::ids::AttachmentId::parse(v).is_ok()),
            ("messageId", |v| crate::domain::ids::MessageId::parse(v).is_ok()),
            ("conversationId", |v| crate::domain::ids::ConversationId::parse(v).is_ok()),
            ("uploaderId", |v| UserId::parse(v).is_ok()),
        ];
        for (name, valid) in ids {
            if !valid(text(name)) {
                problems.push(format!("{name} is not a valid id"));
            }
        }
        if Timestamp::parse(text("uploadedAt")).is_err() {
            problems.push("uploadedAt is not a valid time".to_owned());
        }
        if serde_json::from_value::<crate::domain::model::ConversationType>(serde_json::Value::String(
            text("conversationType").to_owned(),
        ))
        .is_err()
        {
            problems.push("conversationType is not DIRECT, GROUP or ROOM".to_owned());
        }
        if problems.is_empty() {
            problems.push("the item cannot be read as an attachment".to_owned());
        }
    }
    problems.join("; ")
}

/// An AttachmentsTable item as an attachment, or what can be read of it.
fn catalog_row(item: Item) -> CatalogRow {
    match from_item::<_, Attachment>(item.clone()) {
        Ok(attachment) => Ok(attachment),
        Err(_) => Err(Box::new(unreadable(&item))),
    }
}

fn unreadable(item: &Item) -> UnreadableAttachment {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    let detail = unreadable_detail(item);
    UnreadableAttachment {
        sort_key: text("sk"),
        attachment_id: text("attachmentId"),
        conversation_type: serde_json::from_value(serde_json::Value::String(text("conversationType"))).ok(),
        conversation_id: text("conversationId"),
        uploader_id: text("uploaderId"),
        file_name: text("fileName"),
        uploaded_at: Timestamp::parse(&text("uploadedAt")).ok(),
        deleted: matches!(item.get("deleted"), Some(AttributeValue::Bool(true))),
        detail,
    }
}

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

    fn key(account: &AccountId, sk: String) -> Item {
        HashMap::from([("accountId".to_owned(), s(account.as_str())), ("sk".to_owned(), s(sk))])
    }

    /// One attempt at the admission transaction. `Ok(false)` means the throttle changed under us.
    async fn try_admit(
        &self,
        record: &ExportRecord,
        seen: Option<&Throttle>,
        window: Duration,
    ) -> Result<bool> {
        let account = &record.account_id;
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
            Put::builder().table_name(&self.table).set_item(Some(items::throttle(account, &taken)?));
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
        account: &AccountId,
        export: &ExportId,
        update: RecordUpdate<'_>,
    ) -> Result<()> {
        let RecordUpdate { what, expression, allowed_from, mut values } = update;
        let placeholders: Vec<String> = (0..allowed_from.len()).map(|i| format!(":from{i}")).collect();
        let mut condition = "attribute_exists(sk)".to_owned();
        if !allowed_from.is_empty() {
            condition.push_str(&format!(" AND #status IN ({})", placeholders.join(", ")));
        }
        for (placeholder, status) in placeholders.iter().zip(allowed_from) {
            values.push((placeholder.as_str(), s(status.as_str())));
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, keys::export_sk(export))))
            .update_expression(expression)
            .condition_expression(&condition);
        // Reserved words are written `#word` in expressions.
        for word in ["status", "result", "error"] {
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
                match self.get(account, export).await? {
                    None => Err(Error::NotFound(format!("export {export} not found for account {account}"))),
                    Some(r) => {
                        Err(Error::StatusConflict(format!("export {export} is {}; cannot {what}", r.status)))
                    }
                }
            }
            Err(err) => Err(from_sdk(&format!("UpdateItem ExportsTable ({what})"), err)),
        }
    }
}

/// A conditional update of one export record.
struct RecordUpdate<'a> {
    /// What the update does, for messages: "move to RUNNING".
    what: &'a str,
    expression: &'a str,
    /// Stored statuses that allow the update; empty means any.
    allowed_from: &'a [ExportStatus],
    values: Vec<(&'a str, AttributeValue)>,
}

/// An export record as stored, with `progress.partsWritten` derived from the `partsDone` set.
fn export_record(item: Item) -> Result<ExportRecord> {
    let mut record: ExportRecord = from_item(item)?;
    record.progress.parts_written = record.parts_done.len() as u64;
    Ok(record)
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Internal(format!("building a DynamoDB request: {e}"))
}

impl ExportStore for DynamoExportStore {
    async fn admit(&self, record: &ExportRecord, window: Duration) -> Result<Admission> {
        for _ in 0..ADMIT_ATTEMPTS {
            let seen = self.throttle(&record.account_id).await?;
            if let Some(t) = &seen
                && !t.is_open_at(record.requested_at)
            {
                return Ok(Admission::WindowClosed { throttle: t.clone() });
            }
            if self.try_admit(record, seen.as_ref(), window).await? {
                let throttle = self
                    .throttle(&record.account_id)
                    .await?
                    .ok_or_else(|| Error::Internal("throttle vanished after admission".into()))?;
                return Ok(Admission::Accepted { throttle });
            }
        }
        Err(Error::Transient(format!(
            "gave up taking the export window of account {} after {ADMIT_ATTEMPTS} contended attempts",
            record.account_id
        )))
    }

    async fn get(&self, account: &AccountId, export: &ExportId) -> Result<Option<ExportRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, keys::export_sk(export))))
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
        account: &AccountId,
        limit: u32,
        after: Option<&ExportId>,
    ) -> Result<Page<ExportRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("accountId = :a AND begins_with(sk, :p)")
            .expression_attribute_values(":a", s(account.as_str()))
            .expression_attribute_values(":p", s(keys::EXPORT_PREFIX))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(after.map(|id| Self::key(account, keys::export_sk(id))))
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

    async fn throttle(&self, account: &AccountId) -> Result<Option<Throttle>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(account, keys::THROTTLE_SK.into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem ExportsTable throttle", e))?;
        Ok(out.item.map(from_item).transpose()?)
    }

    async fn change_status(
        &self,
        account: &AccountId,
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
        };
        let mut values = values;
        values.push((":to", s(to.as_str())));
        let what = format!("move to {to}");
        let update =
            RecordUpdate { what: &what, expression: update, allowed_from: to.allowed_from(), values };
        self.update_export(account, export, update).await
    }

    async fn set_execution_arn(
        &self,
        account: &AccountId,
        export: &ExportId,
        execution_arn: &str,
    ) -> Result<()> {
        let update = RecordUpdate {
            what: "record its execution",
            expression: "SET executionArn = :arn",
            allowed_from: &[],
            values: vec![(":arn", s(execution_arn))],
        };
        self.update_export(account, export, update).await
    }

    async fn set_listed(&self, account: &AccountId, export: &ExportId, listed: u64) -> Result<()> {
        let update = RecordUpdate {
            what: "record progress",
            expression: "SET progress.attachmentsListed = :n",
            allowed_from: &[ExportStatus::Queued, ExportStatus::Running],
            values: vec![(":n", AttributeValue::N(listed.to_string()))],
        };
        self.update_export(account, export, update).await
    }

    async fn mark_part_written(&self, account: &AccountId, export: &ExportId, part: u32) -> Result<()> {
        let update = RecordUpdate {
            what: "record a written part",
            // A number set: adding a part twice leaves one entry.
            expression: "ADD partsDone :part",
            allowed_from: &[ExportStatus::Running],
            values: vec![(":part", AttributeValue::Ns(vec![part.to_string()]))],
        };
        self.update_export(account, export, update).await
    }

    async fn record_retrieval(
        &self,
        account: &AccountId,
        export: &ExportId,
        principal: &str,
        at: Timestamp,
    ) -> Result<()> {
        let update = RecordUpdate {
            what: "count a manifest retrieval",
            // ADD is atomic: concurrent hand-outs are all counted.
            expression: "ADD retrievals :one SET lastRetrievedAt = :at, lastRetrievedBy = :by",
            allowed_from: &[ExportStatus::Succeeded, ExportStatus::SucceededWithErrors],
            values: vec![
                (":one", AttributeValue::N("1".into())),
                (":at", s(at.to_string())),
                (":by", s(principal)),
            ],
        };
        self.update_export(account, export, update).await
    }

    async fn release_window(&self, account: &AccountId, export: &ExportId) -> Result<bool> {
        let Some(current) = self.throttle(account).await? else {
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
                .set_item(Some(items::throttle(account, &Throttle { current: previous, previous: None })?))
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
                .set_key(Some(Self::key(account, keys::THROTTLE_SK.into())))
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
    R: std::fmt::Debug,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    if err.code() == Some("ConditionalCheckFailedException") { None } else { Some(from_sdk(operation, err)) }
}

/// The sweep's record: one item in ExportsTable under a key no account can have (`accountId`
/// `#sweep`; accounts are UUIDs), outside the `EXPORT#` keys the stuck-export search reads.
#[derive(Debug, Clone)]
pub struct DynamoSweepLedger {
    client: Client,
    table: String,
    /// The record's `accountId`: `#sweep`, or another key for tests beside a live sweep.
    account: String,
}

impl DynamoSweepLedger {
    const ACCOUNT: &'static str = "#sweep";
    const SK: &'static str = "SWEEP";

    pub fn from_config(client: Client, config: &crate::Config) -> Result<Self, ConfigError> {
        Ok(Self::new(client, config.exports_table()?))
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), account: Self::ACCOUNT.into() }
    }

    /// The same ledger under another key (contract tests run beside the stack's own sweep).
    pub fn at_key(client: Client, table: impl Into<String>, account: impl Into<String>) -> Self {
        Self { client, table: table.into(), account: account.into() }
    }
}

impl crate::ports::SweepLedger for DynamoSweepLedger {
    async fn load(&self) -> Result<Option<crate::rules::sweep::SweepRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("accountId", s(&self.account))
            .key("sk", s(Self::SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem sweep record", e))?;
        out.item.map(|item| Ok(from_item(item)?)).transpose()
    }

    async fn save(
        &self,
        record: &crate::rules::sweep::SweepRecord,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct SweepItem<'a> {
            account_id: &'a str,
            sk: &'static str,
            #[serde(flatten)]
            record: &'a crate::rules::sweep::SweepRecord,
        }
        let item: Item = to_item(SweepItem { account_id: &self.account, sk: Self::SK, record })?;
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let put = match expected_version {
            None => put.condition_expression("attribute_not_exists(sk)"),
            Some(v) => put.condition_expression("version = :v").expression_attribute_values(":v", attr(&v)?),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(from_sdk("PutItem sweep record", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{AttachmentId, ConversationId, MessageId};
    use crate::domain::model::ConversationType;

    fn item() -> (Attachment, Item) {
        let a = Attachment {
            account_id: AccountId::random(),
            attachment_id: AttachmentId::random(),
            message_id: MessageId::random(),
            conversation_id: ConversationId::random(),
            conversation_type: ConversationType::Group,
            uploader_id: UserId::random(),
            file_name: "q3.xlsx".into(),
            content_type: "application/vnd.ms-excel".into(),
            size_bytes: 12,
            sha256: "ab".repeat(32),
            bucket: "attachments".into(),
            object_key: "k".into(),
            uploaded_at: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
            deleted: false,
        };
        let item = items::attachment(&a).unwrap();
        (a, item)
    }

    #[test]
    fn an_unreadable_item_is_a_row_of_what_can_be_read_naming_attributes_not_values() {
        let (a, item) = item();
        assert_eq!(catalog_row(item.clone()), Ok(a.clone()));

        let mut bad = item.clone();
        bad.insert("sizeBytes".into(), s("twelve secret bytes"));
        let row = *catalog_row(bad).unwrap_err();
        assert_eq!(row.sort_key, a.sort_key());
        assert_eq!(row.attachment_id, a.attachment_id.as_str());
        assert_eq!(row.uploader_id, a.uploader_id.as_str());
        assert_eq!(row.conversation_type, Some(ConversationType::Group));
        assert_eq!(row.uploaded_at, Some(a.uploaded_at));
        assert_eq!(row.detail, "sizeBytes is not a whole number of bytes");

        let mut bad = item.clone();
        bad.remove("fileName");
        assert_eq!(catalog_row(bad).unwrap_err().detail, "fileName is missing");

        let mut bad = item;
        bad.insert("uploaderId".into(), s("\"not-an-id\""));
        let detail = catalog_row(bad).unwrap_err().detail;
        assert_eq!(detail, "uploaderId is not a valid id");
    }
}
