//! The key layout of the three tables (DESIGN §4), in one place: partition and sort keys, the
//! catalog's sort key (upload time, then attachment id, so a Query reads in upload order), and the
//! bounds of a range of upload times.

use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, AttachmentId, ExportId, RoomId, UserId};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;

pub const ACCOUNT_SK: &str = "ACCOUNT";
pub const USER_PREFIX: &str = "USER#";
pub const ROOM_PREFIX: &str = "ROOM#";
pub const EXPORT_PREFIX: &str = "EXPORT#";
pub const THROTTLE_SK: &str = "THROTTLE";
/// An export's hand-out history: `HANDOUT#{exportId}#{at}#{nonce}`, beside (not under) the
/// export's `EXPORT#` item, so listing exports never reads them.
pub const HANDOUT_PREFIX: &str = "HANDOUT#";
/// An export's download receipts: `FETCH#{exportId}#{uploadedAt}#{attachmentId}`, one per file
/// fetched, in the manifest's order; and its summary, `FETCHSUM#{exportId}`.
pub const FETCH_PREFIX: &str = "FETCH#";
pub const FETCH_SUMMARY_PREFIX: &str = "FETCHSUM#";
/// An export's listing segments: `SEGMENT#{exportId}#{segment:04}`, one checkpoint each.
pub const SEGMENT_PREFIX: &str = "SEGMENT#";
/// An export's written manifest parts: `PART#{exportId}#{part:06}`, one item each, so a part is
/// counted once however many writers race (no item grows with the export).
pub const PART_PREFIX: &str = "PART#";
/// AccountsTable's inverted index (sk → pk): lists accounts without a Scan.
pub const BY_ITEM_TYPE_INDEX: &str = "by-item-type";
/// AttachmentsTable's rows by uploader and by conversation (`uploaderId` or `conversationId`
/// HASH, `sk` RANGE, all attributes): a self-service user's own uploads and their rooms' files,
/// in upload order, without a Scan (DESIGN §15).
pub const BY_UPLOADER_INDEX: &str = "by-uploader";
pub const BY_CONVERSATION_INDEX: &str = "by-conversation";
/// AccountsTable's rooms by their creator (`createdBy` HASH, `sk` RANGE, all attributes): a
/// self-service user's rooms without a Scan (DESIGN §15).
pub const BY_CREATOR_INDEX: &str = "by-creator";
const ACCOUNT_PREFIX: &str = "ACCOUNT#";

/// ExportsTable's partition key (its attribute is named `accountId`, for the accounts it first
/// held): an account's id, or `USER#{userId}` for a self-service user's exports and throttle, which
/// no account id (a bare UUID) can equal.
pub fn exports_pk(owner: &ExportOwner) -> String {
    match owner {
        ExportOwner::Account(id) => id.to_string(),
        ExportOwner::User(id) => format!("{USER_PREFIX}{id}"),
    }
}

/// A self-service user's pending Assistant confirmation, beside their exports (`USER#{userId}`).
pub const CONFIRMATION_SK: &str = "CONFIRMATION";

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

/// The prefix of one export's hand-outs; they sort by time within it.
pub fn handouts_of(export: &ExportId) -> String {
    format!("{HANDOUT_PREFIX}{export}#")
}

/// One hand-out's sort key: its time, then a nonce, so two hand-outs in one millisecond both stay.
pub fn handout_sk(export: &ExportId, at: &Timestamp, nonce: &str) -> String {
    format!("{}{at}#{nonce}", handouts_of(export))
}

/// The prefix of one export's receipts; they sort in upload order within it.
pub fn receipts_of(export: &ExportId) -> String {
    format!("{FETCH_PREFIX}{export}#")
}

/// One file's receipt: the prefix, then the file's catalog sort key.
pub fn receipt_sk(export: &ExportId, uploaded_at: &Timestamp, id: &AttachmentId) -> String {
    format!("{}{}", receipts_of(export), attachment_sk(uploaded_at, id))
}

/// The prefix of one export's segment checkpoints; they sort in segment order within it.
pub fn segments_of(export: &ExportId) -> String {
    format!("{SEGMENT_PREFIX}{export}#")
}

pub fn segment_sk(export: &ExportId, segment: u32) -> String {
    format!("{}{segment:04}", segments_of(export))
}

pub fn part_sk(export: &ExportId, part: u32) -> String {
    format!("{PART_PREFIX}{export}#{part:06}")
}

pub fn download_summary_sk(export: &ExportId) -> String {
    format!("{FETCH_SUMMARY_PREFIX}{export}")
}

/// AttachmentsTable's sort key: the upload time (fixed-width RFC 3339, so it sorts as time) and the
/// attachment id.
pub fn attachment_sk(uploaded_at: &Timestamp, id: &AttachmentId) -> String {
    format!("{uploaded_at}#{id}")
}

/// Where a listing of `source` resumes after `row`: its sort key in an account's partition; in an
/// index (whose rows come from many partitions), `{accountId}|{sort key}`.
pub fn catalog_position(
    source: &crate::ports::CatalogSource,
    row: &crate::domain::model::CatalogRow,
) -> String {
    let sk = catalog_sort_key(row);
    let account = match row {
        Ok(a) => a.account_id.as_str(),
        Err(unreadable) => unreadable.account_id.as_str(),
    };
    match source {
        crate::ports::CatalogSource::Account(_) => sk,
        _ => format!("{account}|{sk}"),
    }
}

/// A catalog row's sort key, read or not (an unreadable item keeps the one it is stored under).
pub fn catalog_sort_key(row: &crate::domain::model::CatalogRow) -> String {
    match row {
        Ok(a) => attachment_sk(&a.uploaded_at, &a.attachment_id),
        Err(unreadable) => unreadable.sort_key.clone(),
    }
}

/// A sort key after every attachment uploaded at `time` and before any uploaded later (`~` sorts
/// after every id character): the bound of a range of upload times.
pub fn after_uploads_at(time: &Timestamp) -> String {
    format!("{time}#~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_sort_key_orders_by_upload_time() {
        let id = AttachmentId::random();
        let a = attachment_sk(&Timestamp::parse("2026-01-02T00:00:00Z").unwrap(), &id);
        let b = attachment_sk(&Timestamp::parse("2026-01-10T00:00:00Z").unwrap(), &id);
        assert!(a < b);
        assert!(a.starts_with("2026-01-02T00:00:00.000Z#"));
    }

    #[test]
    fn the_range_bound_sorts_after_every_upload_of_its_time_and_before_later_ones() {
        let at = Timestamp::parse("2026-01-02T00:00:00Z").unwrap();
        let bound = after_uploads_at(&at);
        assert!(attachment_sk(&at, &AttachmentId::random()) < bound);
        let later = at.plus(std::time::Duration::from_millis(1));
        assert!(bound < attachment_sk(&later, &AttachmentId::random()));
    }
}
