//! Every row is checked before it is signed (DESIGN §7), on the local stack: a missing object, a
//! size mismatch, a foreign bucket, a checksum mismatch (the local S3 server keeps an upload's
//! SHA-256 checksum and returns it on HEAD with ChecksumMode=ENABLED) and an unreadable catalog item
//! each land in errors.csv, exactly; every other row is in the manifest and downloads; the export
//! ends SUCCEEDED_WITH_ERRORS; coverage.csv lists every managed user and room, idle ones too.

use integration_tests::{Stack, download_manifest, download_report, rows, sha256_hex};

#[tokio::test]
async fn each_bad_row_lands_in_errors_csv_and_every_other_row_downloads() {
    let stack = Stack::load();
    let x = stack.export_with_bad_rows("{}").await;
    let view = &x.view;
    assert_eq!(view["status"], "SUCCEEDED_WITH_ERRORS", "{view}");
    assert_eq!(view["result"]["errorCount"], 5, "{view}");
    assert_eq!(view["result"]["attachmentCount"].as_u64(), Some(x.good.len() as u64));
    assert_eq!(view["errors"]["rows"], 5);

    // The manifest: exactly the good rows, in upload order, each downloading its bytes.
    let manifest = download_manifest(view).await;
    let rows = rows(&manifest);
    let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    let expected: Vec<String> = x.good.iter().map(|a| a.attachment_id.to_string()).collect();
    assert_eq!(ids, expected);
    let client = reqwest::Client::new();
    for (row, a) in rows.iter().zip(&x.good) {
        let body = client.get(&row[13]).send().await.unwrap();
        assert_eq!(body.status(), 200, "{}", a.attachment_id);
        assert_eq!(sha256_hex(&body.bytes().await.unwrap()), a.sha256);
    }

    // errors.csv: exactly the bad rows with their codes, no URL.
    let errors = download_report(view, "errors").await;
    let listed: Vec<(String, String)> = errors.iter().map(|r| (r[0].clone(), r[4].clone())).collect();
    let expected: Vec<(String, String)> =
        x.bad.iter().map(|(id, code)| (id.clone(), (*code).to_owned())).collect();
    assert_eq!(listed, expected);
    assert!(errors.iter().all(|r| !r.iter().any(|c| c.contains("://") || c.contains("X-Amz-"))));
    let unreadable = errors.iter().find(|r| r[4] == "unreadable-row").unwrap();
    assert!(unreadable[5].contains("sizeBytes"), "{unreadable:?}");
    assert!(!unreadable[5].contains("about a megabyte"), "values are not quoted: {unreadable:?}");

    // coverage.csv: the two managed users and the two managed rooms, idle ones with zeros.
    let coverage = download_report(view, "coverage").await;
    let user = |id: &str| coverage.iter().find(|r| r[0] == "user" && r[1] == id).cloned().unwrap();
    let room = |id: &str| coverage.iter().find(|r| r[0] == "room" && r[1] == id).cloned().unwrap();
    assert_eq!(coverage.len(), 4, "{coverage:?}");
    let busy = user(x.seeded.managed_user.as_str());
    let first = x.good.iter().map(|a| a.uploaded_at).min().unwrap().to_string();
    let last = x.good.iter().map(|a| a.uploaded_at).max().unwrap().to_string();
    let bytes: u64 = x.good.iter().map(|a| a.size_bytes).sum();
    assert_eq!(
        busy[2..],
        ["ada@example.com".to_owned(), x.good.len().to_string(), bytes.to_string(), first, last, "5".into()]
    );
    assert_eq!(user(x.idle_user.as_str())[2..], ["'=idle@example.com", "0", "0", "", "", "0"]);
    let ops = room(x.seeded.managed_room.as_str());
    let in_room: Vec<_> = x
        .good
        .iter()
        .filter(|a| a.conversation_type == export_core::domain::model::ConversationType::Room)
        .collect();
    assert_eq!((ops[2].as_str(), ops[3].clone()), ("Ops", in_room.len().to_string()));
    assert_eq!(ops[7], "3", "the size-mismatch, checksum-mismatch and unreadable rows were in the room");
    assert_eq!(room(x.idle_room.as_str())[2..], ["Quiet", "0", "0", "", "", "0"]);
}

#[tokio::test]
async fn without_object_checks_only_the_bucket_and_the_catalog_are_checked() {
    let stack = Stack::load();
    let x = stack.export_with_bad_rows(r#"{"verifyObjects": false}"#).await;
    let view = &x.view;
    assert_eq!(view["status"], "SUCCEEDED_WITH_ERRORS", "{view}");
    let errors = download_report(view, "errors").await;
    let codes: Vec<&str> = errors.iter().map(|r| r[4].as_str()).collect();
    assert_eq!(codes, ["foreign-bucket", "unreadable-row"], "no HEAD: the other problems go unseen");
    assert_eq!(view["result"]["attachmentCount"].as_u64(), Some(x.good.len() as u64 + 3));
    let log = integration_tests::log_line("lambda-watch", &[x.export_id.as_str(), "errors=2"]).await;
    assert!(!log.contains("X-Amz-"), "no URL in the log");
}

/// A row in tenant A's partition that points at tenant B's object (which exists, in the same
/// bucket, and which the signing identity could read) is a `foreign-key` row, never a link — with
/// the object checks and without them — while B's own export still signs it.
#[tokio::test]
async fn a_row_pointing_at_another_tenants_object_is_never_signed() {
    use export_core::domain::model::{AccountType, ConversationType};
    use integration_tests::{attachment, seed_account};

    let stack = Stack::load();
    let at = export_core::Timestamp::parse("2026-05-01T09:00:00Z").unwrap();
    let victim = seed_account(&stack, AccountType::Enterprise, false).await;
    let mut theirs = vec![attachment(&victim.id, &victim.managed_user, ConversationType::Direct, at)];
    stack.add_attachments(&mut theirs, true).await;
    for request in [r#"{"verifyObjects": false}"#, "{}"] {
        let tenant = seed_account(&stack, AccountType::Enterprise, false).await;
        let mut ours = vec![
            attachment(&tenant.id, &tenant.managed_user, ConversationType::Direct, at),
            attachment(&tenant.id, &tenant.managed_user, ConversationType::Direct, at),
        ];
        stack.add_attachments(&mut ours, true).await;
        // The catalog row now names the victim's object, with its size and SHA-256.
        let mut forged = ours[1].clone();
        (forged.object_key, forged.size_bytes, forged.sha256) =
            (theirs[0].object_key.clone(), theirs[0].size_bytes, theirs[0].sha256.clone());
        stack.add_attachments(std::slice::from_mut(&mut forged), false).await;

        let export_id = stack.request_export(&tenant.id, request).await;
        let view = stack.wait_for_export(&tenant.id, &export_id, std::time::Duration::from_secs(120)).await;
        assert_eq!(view["status"], "SUCCEEDED_WITH_ERRORS", "{request}: {view}");
        let errors = download_report(&view, "errors").await;
        let listed: Vec<(&str, &str)> = errors.iter().map(|r| (r[0].as_str(), r[4].as_str())).collect();
        assert_eq!(listed, [(forged.attachment_id.as_str(), "foreign-key")], "{request}");
        let manifest = download_manifest(&view).await;
        assert!(!String::from_utf8_lossy(&manifest).contains(victim.id.as_str()), "no link to B's files");
        assert_eq!(rows(&manifest).len(), 1, "{request}: only the tenant's own file");
    }
}
