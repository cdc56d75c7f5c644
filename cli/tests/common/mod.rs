//! Helpers shared by the CLI's test binaries.

use std::path::Path;

use attachment_export_cli::download::Entry;

/// Writes `entries` as a CSV manifest with the columns `download` reads.
pub fn write_manifest(path: &Path, entries: &[Entry]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record([
        "attachment_id",
        "conversation_type",
        "conversation_id",
        "file_name",
        "size_bytes",
        "sha256",
        "url",
    ])
    .unwrap();
    for e in entries {
        let size = e.size_bytes.to_string();
        w.write_record([
            &e.attachment_id,
            &e.conversation_type,
            &e.conversation_id,
            &e.file_name,
            &size,
            &e.sha256,
            &e.url,
        ])
        .unwrap();
    }
    w.flush().unwrap();
}
