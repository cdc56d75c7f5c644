//! The manifest (DESIGN §7): one row per attachment in upload order, as RFC 4180 CSV with a header
//! row (cells guarded against spreadsheet formula injection) or as JSON Lines with raw values.
//! Inventory parts, written by Enumerate, carry everything a row needs except the URL.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, AttachmentId, ConversationId, ExportId, MessageId, UserId};
use crate::domain::model::{Attachment, ConversationType, ExportFormat, TypeTotals};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;

pub const CSV_HEADER: [&str; 15] = [
    "attachment_id",
    "conversation_type",
    "conversation_id",
    "conversation_name",
    "message_id",
    "uploader_id",
    "uploader_email",
    "uploader_managed",
    "file_name",
    "content_type",
    "size_bytes",
    "sha256",
    "uploaded_at",
    "url",
    "url_expires_at",
];

/// Why a row is in a self-service user's export (DESIGN §15): the manifest's `in_scope_because`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InScopeBecause {
    /// The user uploaded it to a 1:1 or group conversation.
    OwnUpload,
    /// It is in a room the user created, whoever uploaded it.
    CreatedRoom,
}

impl InScopeBecause {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OwnUpload => "own-upload",
            Self::CreatedRoom => "created-room",
        }
    }
}

/// A self-service user's manifest has one column more, last: why each row is theirs.
pub const IN_SCOPE_BECAUSE_COLUMN: &str = "in_scope_because";

/// One line of an inventory part: an in-scope attachment with its directory names resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryLine {
    /// The account whose catalog the row is in (a self-service user's rows come from many).
    /// Absent from inventories written before self-service existed, whose rows are their
    /// export's account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    pub attachment_id: AttachmentId,
    pub conversation_type: ConversationType,
    pub conversation_id: ConversationId,
    /// The room's name for ROOM conversations; empty otherwise (1:1 and group chats have none).
    pub conversation_name: String,
    pub message_id: MessageId,
    pub uploader_id: UserId,
    /// Empty when the uploader is not in the account's directory (a guest in a room).
    pub uploader_email: String,
    pub uploader_managed: bool,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub uploaded_at: Timestamp,
    pub bucket: String,
    pub object_key: String,
    /// A self-service user's row: why it is theirs (absent on an account's export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_scope_because: Option<InScopeBecause>,
}

impl InventoryLine {
    pub fn new(
        a: Attachment,
        conversation_name: String,
        uploader_email: String,
        uploader_managed: bool,
    ) -> Self {
        Self {
            account_id: Some(a.account_id),
            attachment_id: a.attachment_id,
            conversation_type: a.conversation_type,
            conversation_id: a.conversation_id,
            conversation_name,
            message_id: a.message_id,
            uploader_id: a.uploader_id,
            uploader_email,
            uploader_managed,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            uploaded_at: a.uploaded_at,
            bucket: a.bucket,
            object_key: a.object_key,
            in_scope_because: None,
        }
    }
}

/// A manifest row as JSON Lines carries it: the raw values, borrowed (no per-line allocation).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
struct JsonRow<'a> {
    attachment_id: &'a AttachmentId,
    conversation_type: ConversationType,
    conversation_id: &'a ConversationId,
    conversation_name: &'a str,
    message_id: &'a MessageId,
    uploader_id: &'a UserId,
    uploader_email: &'a str,
    uploader_managed: bool,
    file_name: &'a str,
    content_type: &'a str,
    size_bytes: u64,
    sha256: &'a str,
    uploaded_at: &'a Timestamp,
    url: &'a str,
    url_expires_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_scope_because: Option<&'static str>,
}

/// Writes manifest rows into one in-memory part (bounded by the part size).
pub struct ManifestEncoder {
    sink: Sink,
    /// Reused buffers: a guarded CSV cell, a formatted time.
    cell: String,
    time: String,
    rows: u64,
    /// A self-service user's manifest: the `in_scope_because` column, last.
    reason_column: bool,
}

enum Sink {
    Csv(Box<csv::Writer<Vec<u8>>>),
    Jsonl(Vec<u8>),
}

impl ManifestEncoder {
    /// An account's manifest. `header`: whether this part starts the manifest (CSV writes its
    /// header row there).
    pub fn new(format: ExportFormat, header: bool) -> Result<Self> {
        Self::with_columns(format, header, false)
    }

    /// The manifest of `owner`'s export: a self-service user's has the `in_scope_because` column.
    pub fn for_owner(format: ExportFormat, header: bool, owner: &ExportOwner) -> Result<Self> {
        Self::with_columns(format, header, owner.user().is_some())
    }

    fn with_columns(format: ExportFormat, header: bool, reason_column: bool) -> Result<Self> {
        let sink = match format {
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .quote_style(csv::QuoteStyle::Necessary)
                    .from_writer(Vec::with_capacity(1 << 20));
                if header && reason_column {
                    w.write_record(CSV_HEADER.iter().chain([&IN_SCOPE_BECAUSE_COLUMN])).map_err(csv_error)?;
                } else if header {
                    w.write_record(CSV_HEADER).map_err(csv_error)?;
                }
                Sink::Csv(Box::new(w))
            }
            ExportFormat::Jsonl => Sink::Jsonl(Vec::with_capacity(1 << 20)),
        };
        Ok(Self {
            sink,
            cell: String::with_capacity(256),
            time: String::with_capacity(32),
            rows: 0,
            reason_column,
        })
    }

    pub fn row(&mut self, line: &InventoryLine, url: &str, url_expires_at: &str) -> Result<()> {
        self.rows += 1;
        match &mut self.sink {
            Sink::Jsonl(out) => {
                let row = JsonRow {
                    attachment_id: &line.attachment_id,
                    conversation_type: line.conversation_type,
                    conversation_id: &line.conversation_id,
                    conversation_name: &line.conversation_name,
                    message_id: &line.message_id,
                    uploader_id: &line.uploader_id,
                    uploader_email: &line.uploader_email,
                    uploader_managed: line.uploader_managed,
                    file_name: &line.file_name,
                    content_type: &line.content_type,
                    size_bytes: line.size_bytes,
                    sha256: &line.sha256,
                    uploaded_at: &line.uploaded_at,
                    url,
                    url_expires_at,
                    in_scope_because: line.in_scope_because.map(|r| r.as_str()),
                };
                serde_json::to_writer(&mut *out, &row)
                    .map_err(|e| Error::Internal(format!("JSONL row: {e}")))?;
                out.push(b'\n');
            }
            Sink::Csv(w) => {
                use std::fmt::Write;
                let cell = &mut self.cell;
                let mut field = |w: &mut Box<csv::Writer<Vec<u8>>>, value: &str| -> Result<()> {
                    if starts_like_a_formula(value) {
                        cell.clear();
                        cell.push('\'');
                        cell.push_str(value);
                        w.write_field(cell.as_bytes()).map_err(csv_error)
                    } else {
                        w.write_field(value.as_bytes()).map_err(csv_error)
                    }
                };
                field(w, line.attachment_id.as_str())?;
                field(w, line.conversation_type.as_str())?;
                field(w, line.conversation_id.as_str())?;
                field(w, &line.conversation_name)?;
                field(w, line.message_id.as_str())?;
                field(w, line.uploader_id.as_str())?;
                field(w, &line.uploader_email)?;
                field(w, if line.uploader_managed { "true" } else { "false" })?;
                field(w, &line.file_name)?;
                field(w, &line.content_type)?;
                let mut number = itoa_buffer();
                field(w, number.format(line.size_bytes))?;
                field(w, &line.sha256)?;
                self.time.clear();
                let _ = write!(self.time, "{}", line.uploaded_at);
                w.write_field(self.time.as_bytes()).map_err(csv_error)?;
                w.write_field(url.as_bytes()).map_err(csv_error)?;
                w.write_field(url_expires_at.as_bytes()).map_err(csv_error)?;
                if self.reason_column {
                    let reason = line.in_scope_because.map_or("", |r| r.as_str());
                    w.write_field(reason.as_bytes()).map_err(csv_error)?;
                }
                w.write_record(None::<&[u8]>).map_err(csv_error)?;
            }
        }
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        match self.sink {
            Sink::Csv(w) => w.into_inner().map_err(|e| Error::Internal(format!("CSV flush: {e}"))),
            Sink::Jsonl(out) => Ok(out),
        }
    }
}

/// The manifest of an export with no attachments: the CSV header alone, or an empty JSONL file.
pub fn empty_manifest(format: ExportFormat) -> Result<Vec<u8>> {
    ManifestEncoder::new(format, true)?.finish()
}

/// The empty manifest of `owner`'s export (a self-service user's CSV header has its column more).
pub fn empty_manifest_for(format: ExportFormat, owner: &ExportOwner) -> Result<Vec<u8>> {
    ManifestEncoder::for_owner(format, true, owner)?.finish()
}

/// A cell as written to a CSV file: prefixed with `'` if a spreadsheet would run it as a formula.
pub(crate) fn guard_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if starts_like_a_formula(value) { format!("'{value}").into() } else { value.into() }
}

/// A cell a spreadsheet would run as a formula (DESIGN §7): `=`, `+`, `-`, `@`, tab, CR.
pub(crate) fn starts_like_a_formula(value: &str) -> bool {
    matches!(value.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

fn csv_error(e: csv::Error) -> Error {
    Error::Internal(format!("CSV row: {e}"))
}

/// Formats integers without allocating.
struct NumberBuffer([u8; 20], usize);

fn itoa_buffer() -> NumberBuffer {
    NumberBuffer([0; 20], 0)
}

impl NumberBuffer {
    fn format(&mut self, mut n: u64) -> &str {
        let mut i = self.0.len();
        loop {
            i -= 1;
            self.0[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.1 = i;
        std::str::from_utf8(&self.0[i..]).expect("digits are ASCII")
    }
}

/// `summary.json` (DESIGN §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `accountId`, or `userId` for a self-service user's export.
    #[serde(flatten)]
    pub owner: crate::domain::owner::ExportOwner,
    pub export_id: ExportId,
    pub cutoff: Timestamp,
    /// An incremental export covers files uploaded after this time (and up to `cutoff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub generated_at: Timestamp,
    pub urls_expire_at: Timestamp,
    pub attachment_count: u64,
    pub total_bytes: u64,
    pub by_conversation_type: BTreeMap<ConversationType, TypeTotals>,
    pub manifest: SummaryManifest,
    /// Rows left out of the manifest, listed in `errors`.
    pub error_count: u64,
    /// Whether each object was HEADed (exists, size, SHA-256) before its URL was signed; `false`
    /// when the export was started with `verifyObjects: false` (the bucket was still checked).
    pub objects_checked: bool,
    pub errors: crate::domain::model::ReportFile,
    pub coverage: SummaryCoverage,
}

/// `coverage.csv` and its totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryCoverage {
    pub key: String,
    pub users: u64,
    pub users_with_files: u64,
    pub users_without_files: u64,
    pub rooms: u64,
    pub rooms_with_files: u64,
    pub rooms_without_files: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryManifest {
    pub key: String,
    pub format: ExportFormat,
    pub bytes: u64,
    pub lines: u64,
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::csv_records;

    fn line(file_name: &str) -> InventoryLine {
        InventoryLine {
            account_id: None,
            attachment_id: AttachmentId::parse("11111111-1111-4111-8111-111111111111").unwrap(),
            conversation_type: ConversationType::Room,
            conversation_id: ConversationId::parse("22222222-2222-4222-8222-222222222222").unwrap(),
            conversation_name: "=Ops, \"core\"".into(),
            message_id: MessageId::parse("33333333-3333-4333-8333-333333333333").unwrap(),
            uploader_id: UserId::parse("44444444-4444-4444-8444-444444444444").unwrap(),
            uploader_email: "@ada@example.com".into(),
            uploader_managed: true,
            file_name: file_name.into(),
            content_type: "text/plain".into(),
            size_bytes: 1234,
            sha256: "ab".repeat(32),
            uploaded_at: Timestamp::parse("2026-11-24T10:15:30.123Z").unwrap(),
            bucket: "b".into(),
            object_key: "k".into(),
            in_scope_because: None,
        }
    }

    #[test]
    fn a_self_service_users_manifest_says_why_each_row_is_theirs() {
        let owner = crate::domain::owner::ExportOwner::User(UserId::random());
        let mut e = ManifestEncoder::for_owner(ExportFormat::Csv, true, &owner).unwrap();
        let mut row = line("a.txt");
        row.in_scope_because = Some(InScopeBecause::CreatedRoom);
        e.row(&row, "https://dl/f/t", "2026-11-30T10:00:00.000Z").unwrap();
        let rows = csv_records(&e.finish().unwrap(), false);
        assert_eq!(rows[0].last().map(String::as_str), Some(IN_SCOPE_BECAUSE_COLUMN));
        assert_eq!(rows[0].len(), CSV_HEADER.len() + 1);
        assert_eq!(rows[1].last().map(String::as_str), Some("created-room"));
        let mut j = ManifestEncoder::for_owner(ExportFormat::Jsonl, true, &owner).unwrap();
        j.row(&row, "https://dl/f/t", "2026-11-30T10:00:00.000Z").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&j.finish().unwrap()).unwrap();
        assert_eq!(value["in_scope_because"], "created-room");
        // An account's manifest keeps its columns.
        let account = crate::domain::owner::ExportOwner::Account(crate::domain::ids::AccountId::random());
        let empty = empty_manifest_for(ExportFormat::Csv, &account).unwrap();
        assert_eq!(empty, empty_manifest(ExportFormat::Csv).unwrap());
        let mut j = ManifestEncoder::new(ExportFormat::Jsonl, true).unwrap();
        j.row(&line("b.txt"), "u", "t").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&j.finish().unwrap()).unwrap();
        assert!(value.get("in_scope_because").is_none());
    }

    #[test]
    fn csv_has_the_header_then_rfc4180_rows() {
        let mut e = ManifestEncoder::new(ExportFormat::Csv, true).unwrap();
        let hostile = "report, \"final\"\nv2 ü.pdf";
        e.row(&line(hostile), "https://u?a=1&b=2", "2026-11-30T10:15:30.123Z").unwrap();
        let bytes = e.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("attachment_id,conversation_type,conversation_id,conversation_name,message_id,uploader_id,uploader_email,uploader_managed,file_name,content_type,size_bytes,sha256,uploaded_at,url,url_expires_at\r\n"));
        assert!(text.contains("\"report, \"\"final\"\"\nv2 ü.pdf\""), "{text}");
        assert!(text.ends_with("\r\n"));
        let rows = csv_records(&bytes, false);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][8], hostile, "a reader gets the exact file name back");
        assert_eq!(rows[1][10], "1234");
        assert_eq!(rows[1][12], "2026-11-24T10:15:30.123Z");
        assert_eq!(rows[1][13], "https://u?a=1&b=2");
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_defused() {
        for (name, expected) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tTAB", "'\tTAB"),
            ("\rCR", "'\rCR"),
            ("plain=fine", "plain=fine"),
        ] {
            let mut e = ManifestEncoder::new(ExportFormat::Csv, false).unwrap();
            e.row(&line(name), "u", "t").unwrap();
            let rows = csv_records(&e.finish().unwrap(), false);
            assert_eq!(rows[0][8], expected, "{name:?}");
            assert_eq!(rows[0][3], "'=Ops, \"core\"", "conversation name guarded too");
            assert_eq!(rows[0][6], "'@ada@example.com", "email guarded too");
        }
    }

    #[test]
    fn jsonl_carries_raw_values() {
        let mut e = ManifestEncoder::new(ExportFormat::Jsonl, true).unwrap();
        e.row(&line("=raw, \"x\"\n"), "https://u", "2026-11-30T10:15:30.123Z").unwrap();
        e.row(&line("b"), "https://v", "2026-11-30T10:15:30.123Z").unwrap();
        assert_eq!(e.rows(), 2);
        let text = String::from_utf8(e.finish().unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["file_name"], "=raw, \"x\"\n");
        assert_eq!(lines[0]["conversation_name"], "=Ops, \"core\"");
        assert_eq!(lines[0]["size_bytes"], 1234);
        assert_eq!(lines[0]["uploader_managed"], true);
        assert_eq!(lines[1]["url"], "https://v");
        let keys: Vec<&str> = lines[0].as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = CSV_HEADER.to_vec();
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected, "JSONL has the CSV's columns");
    }

    #[test]
    fn an_empty_manifest_is_the_header_alone() {
        assert_eq!(
            empty_manifest(ExportFormat::Csv).unwrap(),
            format!("{}\r\n", CSV_HEADER.join(",")).into_bytes()
        );
        assert!(empty_manifest(ExportFormat::Jsonl).unwrap().is_empty());
    }

    #[test]
    fn numbers_format_without_allocating() {
        let mut b = itoa_buffer();
        assert_eq!(b.format(0), "0");
        assert_eq!(b.format(u64::MAX), "18446744073709551615");
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile field values round-trip exactly: CSV through the `csv` crate (formula-like cells of
    //! the guarded columns come back with their `'`), JSONL through serde_json with raw values.
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    /// Arbitrary unicode, weighted towards what breaks CSV and spreadsheets.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            any::<char>().prop_map(String::from),
            prop::sample::select(vec![
                "=",
                "+",
                "-",
                "@",
                "\t",
                "\r",
                "\n",
                "\r\n",
                "\"",
                "\"\"",
                ",",
                ";",
                "\0",
                "'",
                " ",
                "#",
                "é",
                "🙂",
                "\u{feff}",
                "\u{2028}",
                "=HYPERLINK(\"x\")",
                "\\",
                "\u{7f}",
                "\u{1b}[31m",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z0-9 ]{1,8}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    fn uuid() -> impl Strategy<Value = String> {
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string())
    }

    prop_compose! {
        fn inventory_line()(
            ids in (uuid(), uuid(), uuid(), uuid()),
            conversation_type in prop::sample::select(ConversationType::ALL.to_vec()),
            conversation_name in hostile(),
            uploader_email in hostile(),
            uploader_managed in any::<bool>(),
            file_name in hostile(),
            content_type in hostile(),
            size_bytes in any::<u64>(),
            sha256 in hostile(),
            // Every millisecond from year 0 to 9999.
            uploaded_at in -62_167_219_200_000i64..253_402_300_799_999,
            bucket in hostile(),
            object_key in hostile(),
        ) -> InventoryLine {
            InventoryLine {
                account_id: None,
                attachment_id: AttachmentId::parse(&ids.0).unwrap(),
                conversation_type,
                conversation_id: ConversationId::parse(&ids.1).unwrap(),
                conversation_name,
                message_id: MessageId::parse(&ids.2).unwrap(),
                uploader_id: UserId::parse(&ids.3).unwrap(),
                uploader_email,
                uploader_managed,
                file_name,
                content_type,
                size_bytes,
                sha256,
                uploaded_at: Timestamp::from_unix_millis(uploaded_at).unwrap(),
                bucket,
                object_key,
                in_scope_because: None,
            }
        }
    }

    /// (line, url, url_expires_at) rows.
    fn rows() -> impl Strategy<Value = Vec<(InventoryLine, String, String)>> {
        prop::collection::vec((inventory_line(), hostile(), hostile()), 0..4)
    }

    /// The cells of a row as the writer lays them out, before any guard.
    fn raw_cells(line: &InventoryLine, url: &str, url_expires_at: &str) -> Vec<String> {
        vec![
            line.attachment_id.to_string(),
            line.conversation_type.as_str().to_owned(),
            line.conversation_id.to_string(),
            line.conversation_name.clone(),
            line.message_id.to_string(),
            line.uploader_id.to_string(),
            line.uploader_email.clone(),
            line.uploader_managed.to_string(),
            line.file_name.clone(),
            line.content_type.clone(),
            line.size_bytes.to_string(),
            line.sha256.clone(),
            line.uploaded_at.to_string(),
            url.to_owned(),
            url_expires_at.to_owned(),
        ]
    }

    /// The writer guards the columns that carry catalog data (0 to 11, `attachment_id` to
    /// `sha256`); `uploaded_at`, `url` and `url_expires_at` are written as our own code formats them.
    const GUARDED_COLUMNS: usize = 12;

    fn expected_csv_cell(column: usize, raw: &str) -> String {
        let formula = matches!(raw.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
        if column < GUARDED_COLUMNS && formula { format!("'{raw}") } else { raw.to_owned() }
    }

    proptest! {
        // A failing case is kept as a regular #[test], not in a proptest-regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn csv_round_trips_with_formula_cells_guarded(rows in rows(), header in any::<bool>()) {
            let mut e = ManifestEncoder::new(ExportFormat::Csv, header).unwrap();
            for (line, url, expires) in &rows {
                e.row(line, url, expires).unwrap();
            }
            prop_assert_eq!(e.rows(), rows.len() as u64);
            let bytes = e.finish().unwrap();
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[..]);
            let mut parsed: Vec<Vec<String>> = Vec::new();
            for record in reader.records() {
                parsed.push(record.unwrap().iter().map(str::to_owned).collect());
            }
            let mut expected: Vec<Vec<String>> = Vec::new();
            if header {
                expected.push(CSV_HEADER.iter().map(|h| h.to_string()).collect());
            }
            for (line, url, expires) in &rows {
                let cells = raw_cells(line, url, expires);
                expected.push(cells.iter().enumerate().map(|(i, c)| expected_csv_cell(i, c)).collect());
            }
            prop_assert_eq!(parsed, expected);
            if !bytes.is_empty() {
                prop_assert!(bytes.ends_with(b"\r\n"));
            }
        }

        #[test]
        fn jsonl_round_trips_raw_values(rows in rows(), header in any::<bool>()) {
            let mut e = ManifestEncoder::new(ExportFormat::Jsonl, header).unwrap();
            for (line, url, expires) in &rows {
                e.row(line, url, expires).unwrap();
            }
            let bytes = e.finish().unwrap();
            let text = String::from_utf8(bytes).unwrap();
            let lines: Vec<&str> = text.split_terminator('\n').collect();
            prop_assert_eq!(lines.len(), rows.len());
            for (json, (line, url, expires)) in lines.iter().zip(&rows) {
                let parsed: Value = serde_json::from_str(json).unwrap();
                let object = parsed.as_object().unwrap();
                prop_assert_eq!(object.len(), CSV_HEADER.len());
                for (column, raw) in CSV_HEADER.iter().zip(raw_cells(line, url, expires)) {
                    let value = &object[*column];
                    match *column {
                        "size_bytes" => prop_assert_eq!(value.as_u64(), Some(line.size_bytes)),
                        "uploader_managed" => prop_assert_eq!(value.as_bool(), Some(line.uploader_managed)),
                        _ => prop_assert_eq!(value.as_str(), Some(raw.as_str()), "{}", column),
                    }
                }
            }
        }
    }
}
