//! `downloads.csv`: which of an export's files were fetched through their links, how often, when
//! and from where — one row per manifest row, in the manifest's order, and every file never
//! fetched says so. Cells are formula-guarded like every CSV the product writes (DESIGN §7).

use std::collections::HashMap;

use crate::domain::error::{Error, Result};
use crate::domain::manifest::guard_cell;
use crate::domain::model::{ExportFormat, Receipt};

pub const HEADER: [&str; 8] = [
    "attachment_id",
    "file_name",
    "fetched",
    "fetch_count",
    "first_fetch",
    "last_fetch",
    "first_source_ip",
    "last_source_ip",
];

/// The report of a manifest (`format`, its bytes) and the export's receipts. Receipts of files the
/// manifest does not list (none, unless the manifest is gone) are listed after it, nameless.
pub fn report(format: ExportFormat, manifest: Option<&[u8]>, receipts: Vec<Receipt>) -> Result<Vec<u8>> {
    let mut by_id: HashMap<String, Receipt> =
        receipts.into_iter().map(|r| (r.attachment_id.as_str().to_owned(), r)).collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| Error::Internal(format!("downloads.csv: {e}"));
    out.write_record(HEADER).map_err(bad)?;
    let mut row = |id: &str, name: &str, receipt: Option<&Receipt>| -> Result<()> {
        let (fetched, count, first, last, first_ip, last_ip) = match receipt {
            Some(r) => (
                "yes",
                r.fetch_count.to_string(),
                r.first_at.to_string(),
                r.last_at.to_string(),
                r.first_source_ip.as_str(),
                r.last_source_ip.as_str(),
            ),
            None => ("no", "0".into(), String::new(), String::new(), "", ""),
        };
        let cells = [id, name, fetched, &count, &first, &last, first_ip, last_ip];
        out.write_record(cells.map(guard_cell).iter().map(|c| c.as_ref())).map_err(bad)
    };
    let files = match manifest {
        Some(bytes) => manifest_files(format, bytes)?,
        None => Vec::new(),
    };
    for (id, name) in files {
        let receipt = by_id.remove(&id);
        row(&id, &name, receipt.as_ref())?;
    }
    let mut rest: Vec<Receipt> = by_id.into_values().collect();
    rest.sort_by(|a, b| {
        (a.uploaded_at, a.attachment_id.as_str()).cmp(&(b.uploaded_at, b.attachment_id.as_str()))
    });
    for receipt in &rest {
        row(receipt.attachment_id.as_str(), "", Some(receipt))?;
    }
    out.into_inner().map_err(|e| Error::Internal(format!("downloads.csv: {e}")))
}

/// Each manifest row's attachment id and file name (as the manifest shows it, guard undone).
fn manifest_files(format: ExportFormat, manifest: &[u8]) -> Result<Vec<(String, String)>> {
    let bad = |what: &str| Error::Internal(format!("the manifest has a bad {what}"));
    match format {
        ExportFormat::Csv => {
            let mut reader = csv::Reader::from_reader(manifest);
            let headers = reader.headers().map_err(|_| bad("header"))?.clone();
            let column = |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| bad("header"));
            let (id, name) = (column("attachment_id")?, column("file_name")?);
            reader
                .records()
                .map(|r| {
                    let r = r.map_err(|_| bad("row"))?;
                    let shown = &r[name];
                    // The manifest guarded a formula-like name with a leading `'`: undo it, the
                    // report guards again.
                    let raw = shown
                        .strip_prefix('\'')
                        .filter(|rest| crate::domain::manifest::starts_like_a_formula(rest))
                        .unwrap_or(shown);
                    Ok((r[id].to_owned(), raw.to_owned()))
                })
                .collect()
        }
        ExportFormat::Jsonl => manifest
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(|line| {
                let v: serde_json::Value = serde_json::from_slice(line).map_err(|_| bad("line"))?;
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                Ok((text("attachment_id"), text("file_name")))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::domain::ids::AttachmentId;

    #[test]
    fn every_manifest_row_is_listed_fetched_or_not_and_cells_are_guarded() {
        let (a, b) = (AttachmentId::random(), AttachmentId::random());
        let manifest = format!(
            "attachment_id,conversation_type,file_name\r\n{a},DIRECT,'=cmd.xlsx\r\n{b},ROOM,notes.txt\r\n"
        );
        let at = Timestamp::parse("2026-11-25T09:00:00Z").unwrap();
        let receipt = Receipt {
            uploaded_at: at,
            attachment_id: b.clone(),
            fetch_count: 3,
            first_at: at,
            last_at: at,
            first_source_ip: "203.0.113.7".into(),
            last_source_ip: "@evil".into(),
        };
        let bytes = report(ExportFormat::Csv, Some(manifest.as_bytes()), vec![receipt]).unwrap();
        let rows: Vec<csv::StringRecord> =
            csv::Reader::from_reader(&bytes[..]).records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (&rows[0][0], &rows[0][1], &rows[0][2], &rows[0][3]),
            (a.as_str(), "'=cmd.xlsx", "no", "0")
        );
        assert_eq!(
            (&rows[1][2], &rows[1][3], &rows[1][6], &rows[1][7]),
            ("yes", "3", "203.0.113.7", "'@evil")
        );
        // A JSONL manifest, and receipts without a manifest (it was deleted).
        let jsonl = format!("{{\"attachment_id\":\"{a}\",\"file_name\":\"x\"}}\n");
        let bytes = report(ExportFormat::Jsonl, Some(jsonl.as_bytes()), Vec::new()).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap().lines().nth(1).unwrap(), format!("{a},x,no,0,,,,"));
    }
}
