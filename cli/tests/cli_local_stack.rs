//! The `attachment-export` command against the local stack: seeding limits, and downloading a real
//! export's files with resume, SHA-256 verification, expired URLs and hostile names.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use attachment_export_cli::download::{DownloadOptions, Entry, download, read_manifest};
use attachment_export_cli::seed::{
    MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_MESSAGE, MAX_MESSAGE_BYTES, SeedOptions, SeedReport,
    SeedTarget, SizeProfile, seed,
};
use common::write_manifest;
use export_core::Timestamp;
use export_core::ports::{AttachmentCatalog, CatalogSource, Directory, UploadRange};
use integration_tests::Stack;

fn target(stack: &Stack) -> SeedTarget {
    SeedTarget {
        dynamodb: stack.dynamodb(),
        s3: stack.s3(),
        accounts_table: stack.var("ACCOUNTS_TABLE").into(),
        attachments_table: stack.var("ATTACHMENTS_TABLE").into(),
        attachment_bucket: stack.var("ATTACHMENT_BUCKET").into(),
    }
}

async fn seeded(stack: &Stack, attachments: u64, sizes: SizeProfile, upload_objects: bool) -> SeedReport {
    let options =
        SeedOptions { attachments, users: 12, rooms: 4, sizes, upload_objects, seed: 7, concurrency: 16 };
    seed(&target(stack), &options, &|_| {}).await.expect("seeding works")
}

/// Seeds, exports through the API, and returns the downloaded manifest's entries.
async fn exported(stack: &Stack, attachments: u64) -> (SeedReport, Vec<Entry>) {
    let report = seeded(stack, attachments, SizeProfile::Small, true).await;
    let reply = stack
        .api(reqwest::Method::POST, &format!("/accounts/{}/data-exports", report.account_id), None, None)
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let export_id = reply.body["exportId"].as_str().unwrap().to_owned();
    let view = stack.wait_for_export(&report.account_id, &export_id, Duration::from_secs(180)).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    let manifest =
        reqwest::get(view["manifest"]["url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    let entries = read_manifest(&manifest).unwrap();
    assert_eq!(entries.len() as u64, report.expected_in_export, "the manifest holds the in-scope set");
    (report, entries)
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

fn out_dir() -> std::path::PathBuf {
    let dir =
        integration_tests::repo_root().join(".local/test-downloads").join(ulid::Ulid::new().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn seeding_respects_the_message_limits_and_reports_the_in_scope_count() {
    let stack = Stack::load();
    let report = seeded(&stack, 3_000, SizeProfile::Realistic, false).await;
    let catalog = stack.catalog();
    let far_future = Timestamp::parse("2100-01-01T00:00:00Z").unwrap();
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = catalog
            .attachments(
                &CatalogSource::Account(report.account_id.clone()),
                UploadRange { since: None, cutoff: far_future },
                cursor.as_deref(),
                None,
            )
            .await
            .unwrap();
        all.extend(page.items.into_iter().map(|row| row.expect("every seeded item reads")));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    // The 3,000, and the 7 the self-service users add to this account (two 1:1 uploads, three in
    // the room one of them created, a deleted one, one in a managed user's room).
    assert_eq!(all.len(), 3_007);
    let mut per_message: HashMap<String, (usize, u64)> = HashMap::new();
    for a in &all {
        assert!(a.size_bytes >= 1 && a.size_bytes <= MAX_ATTACHMENT_BYTES);
        let m = per_message.entry(a.message_id.to_string()).or_default();
        m.0 += 1;
        m.1 += a.size_bytes;
    }
    // Each of the self-service users' 7 rows here is a message of its own.
    assert_eq!(per_message.len() as u64, report.messages + 7);
    assert!(
        per_message
            .values()
            .all(|(n, bytes)| *n <= MAX_ATTACHMENTS_PER_MESSAGE && *bytes <= MAX_MESSAGE_BYTES)
    );
    assert!(per_message.values().any(|(n, _)| *n > 1), "some messages carry several files");
    let kinds: std::collections::BTreeSet<_> = all.iter().map(|a| a.conversation_type).collect();
    assert_eq!(kinds.len(), 3, "1:1, group and room conversations");
    assert!(all.iter().any(|a| a.deleted));
    // The in-scope count the seeder reports is the scope rule applied to what it wrote.
    let users = catalog.users(&report.account_id).await.unwrap();
    let rooms = catalog.rooms(&report.account_id).await.unwrap();
    let scope = export_core::rules::scope::Scope::new(Timestamp::now(), &users, &rooms);
    assert_eq!(all.iter().filter(|a| scope.includes(a)).count() as u64, report.expected_in_export);
    assert!(report.expected_in_export > 0 && report.expected_in_export < 3_000);
    let team = catalog.account(&report.team_account_id).await.unwrap().unwrap();
    assert_eq!(team.account_type, export_core::domain::model::AccountType::Team);

    // The self-service users (DESIGN §15): one no account manages (a guest of Partner Ltd only),
    // with a room of their own in this account; and a member of the Team.
    let own = &report.self_service;
    let memberships = catalog.memberships(&own.user_id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!((memberships[0].account.name.as_str(), memberships[0].managed), ("Partner Ltd", false));
    let rooms = catalog.rooms_created_by(&own.user_id).await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].0, report.account_id);
    assert_eq!(own.expected_in_export, 7, "4 own uploads in two accounts, 3 files of their room");
    let member = catalog.memberships(&own.team_member_id).await.unwrap();
    assert_eq!(member.len(), 1);
    assert_eq!(member[0].account.account_type, export_core::domain::model::AccountType::Team);
    assert_eq!(own.team_member_expected_in_export, 3);
}

#[tokio::test]
async fn a_killed_download_resumes_and_every_file_is_verified_and_contained() {
    let stack = Stack::load();
    let (_, entries) = exported(&stack, 120).await;
    let out = out_dir();
    let options = DownloadOptions { out: out.clone(), concurrency: 8, retries: 2 };

    // The first run is "killed" after half the files, one of them mid-write (a .part file).
    let half = entries.len() / 2;
    let first = download(&entries[..half], &options, &|_, _| {}).await.unwrap();
    assert_eq!((first.downloaded as usize, first.failed.len()), (half, 0));
    let interrupted = attachment_export_cli::download::local_path(&out, &entries[half]);
    std::fs::create_dir_all(interrupted.parent().unwrap()).unwrap();
    std::fs::write(interrupted.with_extension("part"), b"half a fi").unwrap();

    // The re-run, through the real binary: skips what is complete, fetches the rest.
    let manifest_path = out.join("manifest.csv");
    write_manifest(&manifest_path, &entries);
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_attachment-export"))
        .args(["download", manifest_path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let printed = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(!printed.contains("X-Amz-") && !printed.contains("://"), "no link is printed: {printed}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["skipped"].as_u64().unwrap() as usize, half);
    assert_eq!(report["downloaded"].as_u64().unwrap() as usize, entries.len() - half);

    // Every file is where the layout says, inside the folder, with the right bytes.
    let files: Vec<_> = files_under(&out)
        .into_iter()
        .filter(|p| !p.ends_with("index.csv") && !p.ends_with("manifest.csv"))
        .collect();
    assert_eq!(files.len(), entries.len(), "no stray .part files: {files:?}");
    for e in &entries {
        let path = attachment_export_cli::download::local_path(&out, e);
        assert!(path.starts_with(&out));
        assert_eq!(integration_tests::sha256_hex(&std::fs::read(&path).unwrap()), e.sha256);
    }
    // Hostile names were in the seed; they are kept in the index, not on disk.
    let index = std::fs::read_to_string(out.join("index.csv")).unwrap();
    if entries.iter().any(|e| e.file_name.contains("..")) {
        assert!(index.contains("../../../etc/passwd") || index.contains(",..,"));
    }

    // A corrupted local file is not "complete": the next run fetches it again.
    let victim = attachment_export_cli::download::local_path(&out, &entries[0]);
    std::fs::write(&victim, b"corrupted").unwrap();
    let again = download(&entries, &options, &|_, _| {}).await.unwrap();
    assert_eq!((again.downloaded, again.skipped as usize), (1, entries.len() - 1));
    assert_eq!(integration_tests::sha256_hex(&std::fs::read(&victim).unwrap()), entries[0].sha256);
    std::fs::remove_dir_all(&out).unwrap();
}

#[tokio::test]
async fn a_changed_object_fails_its_sha256_and_an_expired_url_is_named_as_such() {
    let stack = Stack::load();
    let (_, entries) = exported(&stack, 40).await;
    let out = out_dir();
    let options = DownloadOptions { out: out.clone(), concurrency: 4, retries: 1 };

    // What a link names (its token), and where that file's object is (the catalog).
    let claims = |url: &str| {
        let token = url.rsplit('/').next().unwrap();
        export_core::domain::link_token::decode(token).unwrap().claims().clone()
    };
    // The object changed in the bucket after the export: the download must not pass it off.
    let mut changed = entries[0].clone();
    let c = claims(&changed.url);
    let row = stack.catalog().attachment(&c.account_id, c.uploaded_at, &c.attachment_id).await.unwrap();
    let key = row.expect("the linked file is in the catalog").object_key;
    stack
        .s3()
        .put_object()
        .bucket(stack.var("ATTACHMENT_BUCKET"))
        .key(&key)
        .body(b"tampered".to_vec().into())
        .send()
        .await
        .unwrap();
    // And one link that has expired: made with the export's own key, so only its expiry fails.
    let mut expired = entries[1].clone();
    let c = claims(&expired.url);
    let keys = export_core::aws::KmsLinkKeys::new(stack.kms(), vec![stack.var("LINK_KEY_IDS").to_owned()]);
    let key = export_core::ports::LinkKeys::derive(&keys, 1, &c.owner, &c.export_id).await.unwrap();
    let past = export_core::Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let maker = export_core::domain::link_token::LinkMaker::new(
        stack.var("DOWNLOAD_BASE_URL"),
        1,
        &c.owner,
        &c.export_id,
        past,
        &key,
    )
    .unwrap();
    assert!(maker.link(&c.account_id, &c.attachment_id, c.uploaded_at, &mut expired.url));
    changed.file_name = "../../escape attempt".into();

    let report = download(&[changed.clone(), expired.clone(), entries[2].clone()], &options, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.downloaded, 1);
    assert_eq!(report.failed.len(), 2);
    let mismatch = report.failed.iter().find(|f| f.attachment_id == changed.attachment_id).unwrap();
    assert!(mismatch.reason.contains("SHA-256 mismatch") && !mismatch.expired, "{mismatch:?}");
    let gone = report.failed.iter().find(|f| f.attachment_id == expired.attachment_id).unwrap();
    assert!(gone.expired && gone.reason.contains("expired"), "{gone:?}");
    for f in &report.failed {
        assert!(!f.reason.contains("X-Amz-") && !f.reason.contains("://"), "no link in a reason: {f:?}");
    }
    assert!(!attachment_export_cli::download::local_path(&out, &changed).exists(), "a bad file is not kept");
    assert!(files_under(&out).iter().all(|p| p.starts_with(&out)));
    std::fs::remove_dir_all(&out).unwrap();
}

/// An export that SUCCEEDED_WITH_ERRORS, through the real binary: `status` says so and names
/// errors.csv without printing a link; `manifest` saves the manifest and errors.csv beside it.
#[tokio::test]
async fn status_and_manifest_of_an_export_with_errors() {
    let stack = Stack::load();
    let x = stack.export_with_bad_rows("{}").await;
    assert_eq!(x.view["status"], "SUCCEEDED_WITH_ERRORS", "{}", x.view);
    let account = x.seeded.id.to_string();
    let run = |args: &[&str]| {
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_attachment-export")).args(args).output().unwrap();
        let printed =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!printed.contains("X-Amz-") && !printed.contains("://"), "no link is printed: {printed}");
        assert!(out.status.success(), "{printed}");
        out
    };
    let status = run(&["status", "--account-id", &account, "--export-id", &x.export_id, "--json"]);
    let view: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        (view["status"].as_str(), view["result"]["errorCount"].as_u64()),
        (Some("SUCCEEDED_WITH_ERRORS"), Some(5))
    );
    let text = run(&["status", "--account-id", &account, "--export-id", &x.export_id]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("SUCCEEDED_WITH_ERRORS") && text.contains("5 rows failed a check"), "{text}");

    let dir = out_dir();
    let manifest = dir.join("manifest.csv");
    let saved = run(&[
        "manifest",
        "--account-id",
        &account,
        "--export-id",
        &x.export_id,
        "--out",
        manifest.to_str().unwrap(),
        "--json",
    ]);
    let saved: serde_json::Value = serde_json::from_slice(&saved.stdout).unwrap();
    assert_eq!(saved["errorCount"], 5);
    let errors = std::fs::read_to_string(dir.join("manifest.errors.csv")).unwrap();
    assert_eq!(errors.lines().count(), 6, "the header and five rows: {errors}");
    let entries = read_manifest(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(entries.len(), x.good.len());
}

/// Revocation through the real binary: `revoke` without `--yes` off a terminal revokes nothing;
/// with it the export is REVOKED, `status` says so with who and when, a link of it is refused by
/// `download` with the service's reason, and `downloads` saves what was fetched before.
#[tokio::test]
async fn revoke_status_and_downloads_through_the_binary() {
    let stack = Stack::load();
    let (report, entries) = exported(&stack, 12).await;
    let account = report.account_id.to_string();
    // The export's id, from a link's token.
    let token = entries[0].url.rsplit('/').next().unwrap();
    let export = export_core::domain::link_token::decode(token).unwrap().claims().export_id.to_string();
    let cli = |args: &[&str]| {
        let (code, out, err) = run_cli(args);
        let printed = format!("{out}{err}");
        assert!(!printed.contains("X-Amz-") && !printed.contains("/f/"), "no link is printed: {printed}");
        (code, printed)
    };
    // One file fetched before the revocation.
    let out = out_dir();
    let options = DownloadOptions { out: out.clone(), concurrency: 1, retries: 1 };
    assert_eq!(download(&entries[..1], &options, &|_, _| {}).await.unwrap().downloaded, 1);

    let (code, printed) = cli(&["revoke", "--account-id", &account, "--export-id", &export]);
    assert_eq!(code, Some(2), "{printed}");
    assert!(printed.contains("--yes"), "{printed}");
    let (code, printed) = cli(&["status", "--account-id", &account, "--export-id", &export]);
    assert!(code == Some(0) && printed.contains("SUCCEEDED"), "nothing was revoked: {printed}");

    let (code, printed) = cli(&["revoke", "--account-id", &account, "--export-id", &export, "--yes"]);
    assert_eq!(code, Some(0), "{printed}");
    let (code, printed) = cli(&["status", "--account-id", &account, "--export-id", &export]);
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("REVOKED") && printed.contains("links revoked at"), "{printed}");
    assert!(printed.contains(&format!("1 of {} files fetched", entries.len())), "{printed}");

    // A link of it: refused, with the service's reason, which names no one.
    let again = DownloadOptions { out: out_dir(), concurrency: 1, retries: 0 };
    let refused = download(&entries[1..2], &again, &|_, _| {}).await.unwrap();
    let reason = &refused.failed[0].reason;
    assert!(reason.contains("revoked at") && !reason.contains("arn:"), "{reason}");

    let saved = out.join("downloads.csv");
    let (code, printed) = cli(&[
        "downloads",
        "--account-id",
        &account,
        "--export-id",
        &export,
        "--out",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{printed}");
    let csv = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(csv.lines().count(), 2, "the header and the one file fetched: {csv}");
    assert!(csv.contains(entries[0].attachment_id.as_str()), "{csv}");
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&again.out).unwrap();
}

/// A chat user's own export through the binary (DESIGN §15): `start`, `status --wait` and
/// `revoke --user-id` call the /users routes as the user; another user's id finds nothing to revoke.
#[tokio::test]
async fn a_user_revokes_their_own_export_through_the_binary() {
    let _stack = Stack::load();
    // A user in no account: may ask, and gets an empty (delivered) export.
    let user = export_core::domain::ids::UserId::random().to_string();
    let (code, out, err) = run_cli(&["start", "--user-id", &user, "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let started: serde_json::Value = serde_json::from_str(&out).unwrap();
    let export = started["exportId"].as_str().unwrap().to_owned();
    let (code, out, err) =
        run_cli(&["status", "--user-id", &user, "--export-id", &export, "--wait", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("SUCCEEDED"), "{out}");

    let other = export_core::domain::ids::UserId::random().to_string();
    let (code, out, err) = run_cli(&["revoke", "--user-id", &other, "--export-id", &export, "--yes"]);
    assert_ne!(code, Some(0), "another user revokes nothing: {out}");
    assert!(err.contains("no export"), "{err}");
    let (code, out, err) =
        run_cli(&["revoke", "--user-id", &user, "--export-id", &export, "--yes", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let revoked: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (revoked["status"].as_str(), revoked["userId"].as_str()),
        (Some("REVOKED"), Some(user.as_str()))
    );
    let (_, out, _) = run_cli(&["status", "--user-id", &user, "--export-id", &export, "--json"]);
    assert!(out.contains("REVOKED"), "{out}");
    // Both owners at once is a usage error, before any call.
    let (code, _, err) =
        run_cli(&["revoke", "--user-id", &user, "--account-id", &user, "--export-id", &export, "--yes"]);
    assert_eq!(code, Some(2), "{err}");
}

/// The binary with ARGS, stdin closed (not a terminal): (exit code, stdout, stderr).
fn run_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attachment-export"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
