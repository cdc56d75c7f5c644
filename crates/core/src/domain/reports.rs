//! The reports beside the manifest (DESIGN §7): `errors.csv` (rows that failed a check, never a
//! URL) and `coverage.csv` (one row per managed user and per room in scope, with or without
//! files). Both are CSV whatever the manifest's format, cells guarded like the manifest's.
//!
//! Each part writes its error rows (CSV without the header) and a small [`PartReport`] (counts by
//! user and room); Finalize concatenates the former and sums the latter, so memory is one part
//! plus one entry per user and room, whatever the number of attachments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::error::{Error, Result};
use crate::domain::manifest::{guard_cell, starts_like_a_formula};
use crate::domain::model::{ConversationType, TypeTotals, UnreadableAttachment};
use crate::domain::time::Timestamp;

pub const ERRORS_HEADER: [&str; 6] =
    ["attachment_id", "conversation_id", "uploader_id", "file_name", "problem", "detail"];

pub const COVERAGE_HEADER: [&str; 8] =
    ["kind", "id", "name", "files", "bytes", "first_upload", "last_upload", "problems"];

/// Why a row is not in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// Its bucket is not one of the configured attachment buckets: never signed.
    ForeignBucket,
    /// Its object key is outside its account's folder (`ATTACHMENT_KEY_LAYOUT`): never signed.
    ForeignKey,
    MissingObject,
    /// S3 refused the HEAD (e.g. a customer KMS key the service may not use): no link would work.
    ObjectUnreadable,
    SizeMismatch,
    ChecksumMismatch,
    /// The catalog item could not be read as an attachment.
    UnreadableRow,
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Self::ForeignBucket => "foreign-bucket",
            Self::ForeignKey => "foreign-key",
            Self::MissingObject => "missing-object",
            Self::ObjectUnreadable => "object-unreadable",
            Self::SizeMismatch => "size-mismatch",
            Self::ChecksumMismatch => "checksum-mismatch",
            Self::UnreadableRow => "unreadable-row",
        }
    }
}

/// An inventory line for a catalog item that could not be read: `{"unreadable": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnreadableLine {
    pub unreadable: UnreadableAttachment,
}

/// How an inventory line for an unreadable item begins (the part writer tells the two kinds apart
/// without a second parse).
pub const UNREADABLE_PREFIX: &[u8] = b"{\"unreadable\":";

/// A user or room in scope, for coverage.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeEntry {
    pub id: String,
    /// The user's email or the room's name.
    pub name: String,
}

/// The users and rooms in scope, written by Enumerate (`inventory/scope.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeList {
    pub users: Vec<ScopeEntry>,
    pub rooms: Vec<ScopeEntry>,
}

/// One user's or room's files in the manifest, and its rows in errors.csv.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub files: u64,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    #[serde(default)]
    pub problems: u64,
}

impl Coverage {
    pub fn file(&mut self, bytes: u64, at: Timestamp) {
        self.files = self.files.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes);
        self.first = Some(self.first.map_or(at, |t| t.min(at)));
        self.last = Some(self.last.map_or(at, |t| t.max(at)));
    }

    pub fn add(&mut self, other: &Coverage) {
        self.files = self.files.saturating_add(other.files);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.problems = self.problems.saturating_add(other.problems);
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What one part put in the manifest and in errors.csv (`parts/coverage-NNNNN.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartReport {
    pub rows: u64,
    pub errors: u64,
    pub by_conversation_type: BTreeMap<ConversationType, TypeTotals>,
    /// By uploader id (any uploader; Finalize keeps the managed users).
    pub users: BTreeMap<String, Coverage>,
    /// By conversation id of ROOM conversations.
    pub rooms: BTreeMap<String, Coverage>,
}

impl PartReport {
    pub fn add(&mut self, other: &PartReport) {
        self.rows = self.rows.saturating_add(other.rows);
        self.errors = self.errors.saturating_add(other.errors);
        for (kind, t) in &other.by_conversation_type {
            let mine = self.by_conversation_type.entry(*kind).or_default();
            mine.count = mine.count.saturating_add(t.count);
            mine.bytes = mine.bytes.saturating_add(t.bytes);
        }
        for (id, c) in &other.users {
            self.users.entry(id.clone()).or_default().add(c);
        }
        for (id, c) in &other.rooms {
            self.rooms.entry(id.clone()).or_default().add(c);
        }
    }
}

/// Writes error rows (CSV, CRLF, guarded cells) into one part's buffer.
pub struct ErrorEncoder {
    writer: csv::Writer<Vec<u8>>,
    rows: u64,
}

/// The identifying cells of an error row.
pub struct ErrorRow<'a> {
    pub attachment_id: &'a str,
    pub conversation_id: &'a str,
    pub uploader_id: &'a str,
    pub file_name: &'a str,
    pub problem: Problem,
    pub detail: &'a str,
}

impl ErrorEncoder {
    /// `header`: whether this buffer starts errors.csv.
    pub fn new(header: bool) -> Result<Self> {
        let mut writer = csv_writer();
        if header {
            writer.write_record(ERRORS_HEADER).map_err(csv_error)?;
        }
        Ok(Self { writer, rows: 0 })
    }

    pub fn row(&mut self, row: &ErrorRow<'_>) -> Result<()> {
        self.rows += 1;
        for value in [
            row.attachment_id,
            row.conversation_id,
            row.uploader_id,
            row.file_name,
            row.problem.code(),
            row.detail,
        ] {
            self.writer.write_field(guard_cell(value).as_bytes()).map_err(csv_error)?;
        }
        self.writer.write_record(None::<&[u8]>).map_err(csv_error)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        self.writer.into_inner().map_err(|e| Error::Internal(format!("CSV flush: {e}")))
    }
}

/// coverage.csv: every user, then every room, of the scope list, with their sums (zero when they
/// have no file).
pub fn coverage_csv(scope: &ScopeList, totals: &PartReport) -> Result<Vec<u8>> {
    let mut writer = csv_writer();
    writer.write_record(COVERAGE_HEADER).map_err(csv_error)?;
    let none = Coverage::default();
    let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    for (kind, entries, sums) in
        [("user", &scope.users, &totals.users), ("room", &scope.rooms, &totals.rooms)]
    {
        for entry in entries {
            let c = sums.get(&entry.id).unwrap_or(&none);
            let cells = [
                kind.to_owned(),
                entry.id.clone(),
                guard_cell(&entry.name).into_owned(),
                c.files.to_string(),
                c.bytes.to_string(),
                time(c.first),
                time(c.last),
                c.problems.to_string(),
            ];
            writer.write_record(&cells).map_err(csv_error)?;
        }
    }
    writer.into_inner().map_err(|e| Error::Internal(format!("CSV flush: {e}")))
}

/// The header of errors.csv alone (an export without error rows writes none).
pub fn errors_header() -> Result<Vec<u8>> {
    ErrorEncoder::new(true)?.finish()
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

fn csv_error(e: csv::Error) -> Error {
    Error::Internal(format!("CSV row: {e}"))
}

/// Whether a value needs the guard (re-exported for tests).
pub fn needs_guard(value: &str) -> bool {
    starts_like_a_formula(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::csv_records;

    #[test]
    fn error_rows_are_guarded_csv_with_a_code_and_no_url() {
        let mut e = ErrorEncoder::new(true).unwrap();
        e.row(&ErrorRow {
            attachment_id: "a1",
            conversation_id: "c1",
            uploader_id: "u1",
            file_name: "=HYPERLINK(\"x\"), \"q\"",
            problem: Problem::SizeMismatch,
            detail: "catalog says 3 bytes, the object has 4",
        })
        .unwrap();
        let bytes = e.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("attachment_id,conversation_id,uploader_id,file_name,problem,detail\r\n"));
        let rows = csv_records(&bytes, false);
        assert_eq!(rows[1][3], "'=HYPERLINK(\"x\"), \"q\"");
        assert_eq!(rows[1][4], "size-mismatch");
        assert!(needs_guard("-1") && !needs_guard("a"));
    }

    #[test]
    fn coverage_lists_everyone_in_scope_with_zeros_for_no_files() {
        let scope = ScopeList {
            users: vec![
                ScopeEntry { id: "u1".into(), name: "ada@example.com".into() },
                ScopeEntry { id: "u2".into(), name: "@bob@example.com".into() },
            ],
            rooms: vec![ScopeEntry { id: "r1".into(), name: "Ops".into() }],
        };
        let t1 = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
        let t2 = Timestamp::parse("2026-11-02T00:00:00Z").unwrap();
        let mut a = PartReport::default();
        a.users.entry("u1".into()).or_default().file(10, t2);
        a.users.entry("stranger".into()).or_default().file(10, t2);
        let mut b = PartReport::default();
        b.users.entry("u1".into()).or_default().file(5, t1);
        b.users.entry("u1".into()).or_default().problems += 1;
        a.add(&b);
        let rows = csv_records(&coverage_csv(&scope, &a).unwrap(), false);
        assert_eq!(rows.len(), 4, "header, two users, one room; nobody else");
        assert_eq!(
            rows[1],
            ["user", "u1", "ada@example.com", "2", "15", &t1.to_string(), &t2.to_string(), "1"]
        );
        assert_eq!(rows[2], ["user", "u2", "'@bob@example.com", "0", "0", "", "", "0"]);
        assert_eq!(rows[3], ["room", "r1", "Ops", "0", "0", "", "", "0"]);
    }
}
