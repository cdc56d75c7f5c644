//! AttachmentsTable beside AccountsTable: the catalog the Enumerate step reads.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::from_item;

use super::from_sdk;
use crate::config::ConfigError;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, AttachmentId, UserId};
use crate::domain::model::{Account, Attachment, CatalogRow, Room, UnreadableAttachment, User};
use crate::domain::time::Timestamp;
use crate::ports::{AttachmentCatalog, CatalogSource, Directory, Page, UploadRange};

use super::{DynamoDirectory, Item, keys, s, string_attr};

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

    async fn memberships(
        &self,
        user: &crate::domain::ids::UserId,
    ) -> Result<Vec<crate::domain::model::Membership>> {
        self.directory.memberships(user).await
    }

    async fn rooms_created_by(&self, user: &crate::domain::ids::UserId) -> Result<Vec<(AccountId, Room)>> {
        self.directory.rooms_created_by(user).await
    }
}

impl AttachmentCatalog for DynamoCatalog {
    async fn attachments(
        &self,
        source: &CatalogSource,
        range: UploadRange,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<CatalogRow>> {
        // Both ends of the range are key conditions, so nothing outside it is even read. No
        // attachment has the bound keys themselves. An index keeps the table's sort key as its
        // own, so the same bounds hold there.
        let (index, key, value) = match source {
            CatalogSource::Account(a) => (None, "accountId", a.as_str()),
            CatalogSource::Uploader(u) => (Some(keys::BY_UPLOADER_INDEX), "uploaderId", u.as_str()),
            CatalogSource::Conversation(c) => {
                (Some(keys::BY_CONVERSATION_INDEX), "conversationId", c.as_str())
            }
        };
        let upper = s(keys::after_uploads_at(&range.cutoff));
        let query = self
            .directory
            .client
            .query()
            .table_name(&self.attachments_table)
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":a", s(value))
            .expression_attribute_values(":upper", upper);
        let query = match range.since {
            None => query.key_condition_expression("#key = :a AND sk <= :upper"),
            Some(since) => query
                .key_condition_expression("#key = :a AND sk BETWEEN :lower AND :upper")
                .expression_attribute_values(":lower", s(keys::after_uploads_at(&since))),
        };
        // An index's position names the table's key too: `{accountId}|{sk}`.
        let start = match (after, index) {
            (None, _) => None,
            (Some(sk), None) => {
                Some(HashMap::from([("accountId".to_owned(), s(value)), ("sk".to_owned(), s(sk))]))
            }
            (Some(position), Some(_)) => {
                let (account, sk) = position
                    .split_once('|')
                    .ok_or_else(|| Error::Internal("an index listing's cursor names no account".into()))?;
                Some(HashMap::from([
                    ("accountId".to_owned(), s(account)),
                    ("sk".to_owned(), s(sk)),
                    (key.to_owned(), s(value)),
                ]))
            }
        };
        let out = query
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| l as i32))
            .send()
            .await
            .map_err(|e| from_sdk("Query AttachmentsTable", e))?;
        let next = match (&out.last_evaluated_key, index) {
            (None, _) => None,
            (Some(k), None) => Some(string_attr(k, "sk")?),
            (Some(k), Some(_)) => Some(format!("{}|{}", string_attr(k, "accountId")?, string_attr(k, "sk")?)),
        };
        let items = out.items.unwrap_or_default().into_iter().map(catalog_row).collect();
        Ok(Page { items, next })
    }

    async fn attachment(
        &self,
        account: &AccountId,
        uploaded_at: Timestamp,
        id: &AttachmentId,
    ) -> Result<Option<Attachment>> {
        let out = self
            .directory
            .client
            .get_item()
            .table_name(&self.attachments_table)
            .key("accountId", s(account.as_str()))
            .key("sk", s(keys::attachment_sk(&uploaded_at, id)))
            .send()
            .await
            .map_err(|e| from_sdk("GetItem AttachmentsTable", e))?;
        Ok(out.item.and_then(|item| catalog_row(item).ok()))
    }

    /// The row's sort key (an account's listing), or its partition and sort keys (an index's):
    /// what a Query's exclusive start key is made of.
    fn position(source: &CatalogSource, row: &CatalogRow) -> String {
        keys::catalog_position(source, row)
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
        account_id: text("accountId"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::items;
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
        assert_eq!(row.sort_key, keys::attachment_sk(&a.uploaded_at, &a.attachment_id));
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
