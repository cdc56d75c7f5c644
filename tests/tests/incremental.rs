//! Incremental exports (DESIGN §14) on the local stack: `"since": "<time>"` and `"since":
//! "previous"` hold exactly the files uploaded after it (and up to the cutoff); the reply, the
//! export, summary.json and the signed statement say the window; bad values are 400s that use no
//! window; an account's incremental scheduled exports start full.

use std::time::Duration;

use export_core::Timestamp;
use export_core::domain::model::{AccountType, Attachment, ConversationType};
use integration_tests::{Stack, attachment, download_manifest, rows, seed_account};

fn ids(manifest: &[u8]) -> Vec<String> {
    rows(manifest).iter().map(|r| r[0].to_owned()).collect()
}

async fn request(
    stack: &Stack,
    account: &export_core::domain::ids::AccountId,
    body: &str,
) -> integration_tests::ApiReply {
    stack
        .api(reqwest::Method::POST, &format!("/accounts/{account}/data-exports"), Some(body.to_owned()), None)
        .await
}

async fn delivered(
    stack: &Stack,
    account: &export_core::domain::ids::AccountId,
    body: &str,
) -> serde_json::Value {
    let reply = request(stack, account, body).await;
    assert_eq!(reply.status, 202, "{body}: {:?}", reply.body);
    let export_id = reply.body["exportId"].as_str().unwrap().to_owned();
    let view = stack.wait_for_export(account, &export_id, Duration::from_secs(180)).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    view
}

#[tokio::test]
async fn incremental_exports_hold_exactly_the_files_after_since() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let account = seeded.id.clone();
    let base = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let at = |minutes: u64| base.plus(Duration::from_secs(minutes * 60));
    let mut files: Vec<Attachment> = (0..6)
        .map(|i| attachment(&account, &seeded.managed_user, ConversationType::Direct, at(i * 10)))
        .collect();
    stack.add_attachments(&mut files, true).await;

    // Refused, and no window used: garbage, the future, and "previous" without a delivered export.
    let future = Timestamp::now().plus(Duration::from_secs(3600));
    for (body, needle) in [
        (r#"{"since": "last tuesday"}"#.to_owned(), "RFC 3339"),
        (format!(r#"{{"since": "{future}"}}"#), "in the future"),
        (r#"{"since": "previous"}"#.to_owned(), "has none"),
    ] {
        let reply = request(&stack, &account, &body).await;
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "BadRequestException");
        assert!(reply.body["message"].as_str().unwrap().contains(needle), "{body}: {:?}", reply.body);
    }

    // A given time: strictly after it. Files 3, 4 and 5 (file 2 was uploaded exactly at `since`).
    let since = at(20);
    let view = delivered(&stack, &account, &format!(r#"{{"since": "{since}"}}"#)).await;
    assert_eq!(view["since"], since.to_string(), "{view}");
    let expected: Vec<String> = files[3..].iter().map(|a| a.attachment_id.to_string()).collect();
    assert_eq!(ids(&download_manifest(&view).await), expected);
    let objects = stack.export_objects();
    let prefix = format!("exports/{account}/{}/", view["exportId"].as_str().unwrap());
    let get = |key: String| {
        let objects = objects.clone();
        async move { export_core::ports::ObjectStore::get(&objects, &key).await.unwrap() }
    };
    let summary: serde_json::Value =
        serde_json::from_slice(&get(format!("{prefix}summary.json")).await).unwrap();
    assert_eq!(
        (summary["since"].as_str(), summary["attachmentCount"].as_u64()),
        (Some(since.to_string().as_str()), Some(3))
    );
    let statement =
        export_core::domain::statement::parse(&get(format!("{prefix}statement.json")).await).unwrap();
    assert_eq!(statement.since, Some(since));
    // The manifest (a multipart upload) and coverage.csv say the window in their metadata.
    for name in ["attachments.csv", "coverage.csv"] {
        let head = export_core::ports::ObjectStore::head(&objects, &format!("{prefix}{name}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.metadata.get("export-window-since"), Some(&since.to_string()), "{name}");
        assert_eq!(
            head.metadata.get("export-window-cutoff").map(String::as_str),
            view["cutoff"].as_str(),
            "{name}"
        );
    }
    let first_cutoff = Timestamp::parse(view["cutoff"].as_str().unwrap()).unwrap();

    // "previous": after the cutoff of that export. Two files uploaded since then (the catalog's
    // times are in the past of the new request's cutoff), one before it that arrived late.
    stack.open_window(&account).await;
    let mut later = vec![
        attachment(
            &account,
            &seeded.managed_user,
            ConversationType::Direct,
            first_cutoff.plus(Duration::from_millis(1)),
        ),
        attachment(&account, &seeded.managed_user, ConversationType::Direct, Timestamp::now()),
        attachment(&account, &seeded.managed_user, ConversationType::Direct, first_cutoff),
    ];
    stack.add_attachments(&mut later, true).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let view = delivered(&stack, &account, r#"{"since": "previous"}"#).await;
    assert_eq!(view["since"], first_cutoff.to_string(), "{view}");
    let expected: Vec<String> = later[..2].iter().map(|a| a.attachment_id.to_string()).collect();
    assert_eq!(ids(&download_manifest(&view).await), expected, "strictly after the previous cutoff");
}
