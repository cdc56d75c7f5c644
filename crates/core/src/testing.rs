//! Helpers for tests of every crate: the sample events under `events/` with their declared
//! outcomes, the sample export as delivered, and a CSV reader for what the encoders wrote.

/// The sample events of one function, read from `events/<function>/` (they are real events, usable
/// with `cargo lambda invoke --data-file`), each with its expected outcome from `expected`. A file
/// without an entry in the table, or an entry without a file, fails: a new sample event is tested
/// as soon as it exists. Names and texts are leaked, so fuzz strategies can take them as `'static`.
pub fn sample_events<E: Copy + std::fmt::Debug>(
    manifest_dir: &str,
    function: &str,
    expected: &[(&str, E)],
) -> Vec<(&'static str, &'static str, E)> {
    let dir = std::path::Path::new(manifest_dir).join("../../events").join(function);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    for (name, _) in expected {
        assert!(files.iter().any(|f| f == name), "the table expects events/{function}/{name}, which is gone");
    }
    files
        .into_iter()
        .map(|name| {
            let outcome = expected
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("events/{function}/{name} has no expected outcome in the table"))
                .1;
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            (&*Box::leak(name.into_boxed_str()), &*Box::leak(text.into_boxed_str()), outcome)
        })
        .collect()
}

/// The records of a CSV file (a manifest or a report) as strings, the header row left out when
/// `has_headers`; for tests that read what the encoders wrote.
pub fn csv_records(bytes: &[u8], has_headers: bool) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

/// The sample account of the events under `events/`.
pub const SAMPLE_ACCOUNT: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
/// The sample export of the events under `events/`.
pub const SAMPLE_EXPORT: &str = "01KAW6ZQ5V0000000000000000";

/// The sample export as delivered: SUCCEEDED at the sample request time (2026-11-24T10:00:00Z),
/// its files under its prefix, its links valid six days, requested by an IAM administrator.
pub fn delivered_sample_record(attachment_count: u64) -> crate::domain::model::ExportRecord {
    use crate::domain::ids::{AccountId, ExportId};
    use crate::domain::model::{ExportFormat, ExportRecord, ExportResult, ExportStatus, RequestedBy, Via};
    let account = AccountId::parse(SAMPLE_ACCOUNT).expect("the sample account id");
    let at = crate::Timestamp::parse("2026-11-24T10:00:00Z").expect("a time");
    let mut record = ExportRecord::new_request(
        account.clone().into(),
        ExportFormat::Csv,
        RequestedBy::new("arn:aws:iam::123456789012:user/it-admin", Via::Api),
        None,
        at,
    );
    record.export_id = ExportId::parse(SAMPLE_EXPORT).expect("the sample export id");
    record.status = ExportStatus::Succeeded;
    let prefix = format!("exports/{account}/{SAMPLE_EXPORT}/");
    record.result = Some(ExportResult {
        attachment_count,
        total_bytes: 10 * attachment_count,
        by_conversation_type: Default::default(),
        manifest_key: format!("{prefix}attachments.csv"),
        manifest_bytes: 400,
        manifest_sha256: "cd".repeat(32),
        summary_key: format!("{prefix}summary.json"),
        urls_expire_at: at.plus(std::time::Duration::from_secs(518_400)),
        error_count: 0,
        errors: None,
        coverage_key: None,
        statement: None,
    });
    record
}

/// An attachment of a random account, message and id, as a scope rule sees it.
pub fn attachment(
    kind: crate::domain::model::ConversationType,
    conversation: &crate::domain::ids::ConversationId,
    uploader: &crate::domain::ids::UserId,
    at: crate::Timestamp,
) -> crate::domain::model::Attachment {
    use crate::domain::ids::{AccountId, AttachmentId, MessageId};
    crate::domain::model::Attachment {
        account_id: AccountId::random(),
        attachment_id: AttachmentId::random(),
        message_id: MessageId::random(),
        conversation_id: conversation.clone(),
        conversation_type: kind,
        uploader_id: uploader.clone(),
        file_name: "f.txt".into(),
        content_type: "text/plain".into(),
        size_bytes: 1,
        sha256: String::new(),
        bucket: "b".into(),
        object_key: "k".into(),
        uploaded_at: at,
        deleted: false,
    }
}
