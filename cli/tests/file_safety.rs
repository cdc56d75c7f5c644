//! The `attachment-export` command handles secrets and files as a careful admin would: no link in
//! any error, report or output; files 0600 and folders 0700 whatever the umask; planted symbolic
//! links refused, never followed; bodies cut at the manifest's size; no redirects; https except on
//! loopback; clean saved names, escaped terminal output, and an index a spreadsheet shows as text.
//!
//! No local stack: each test runs its own tiny HTTP/1.1 server on 127.0.0.1 with canned answers.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attachment_export_cli::download::{DownloadOptions, DownloadReport, Entry, download, local_path};
use common::write_manifest;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SIGNATURE: &str = "5ec7e75167a7u7eabcdef0123456789";
const CREDENTIAL: &str = "AKIASECRETCREDENTIAL";

/// A loopback server answering each path with canned bytes, recording every request head.
struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (table, seen) = (routes.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (table, seen) = (table.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("/").split('?').next().unwrap().to_owned();
                    seen.lock().unwrap().push(head);
                    let answer = table.lock().unwrap().get(&path).cloned();
                    let answer = answer.unwrap_or_else(|| raw(404, &[], b"no such key"));
                    let _ = socket.write_all(&answer).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Server { addr, routes, requests }
    }

    fn route(&self, path: &str, answer: Vec<u8>) -> &Self {
        self.routes.lock().unwrap().insert(path.to_owned(), answer);
        self
    }

    /// A pre-signed-looking link to `path` on this server.
    fn link(&self, path: &str) -> String {
        signed(&format!("http://{}{path}", self.addr))
    }

    fn requested(&self, path: &str) -> bool {
        self.requests.lock().unwrap().iter().any(|h| h.split(' ').nth(1).is_some_and(|p| p.starts_with(path)))
    }
}

fn signed(base: &str) -> String {
    format!(
        "{base}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}%2F20991231%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20991231T000000Z&X-Amz-Expires=518400&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
    )
}

/// An HTTP/1.1 answer with a Content-Length.
fn raw(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A 200 answer without Content-Length: the body runs until the connection closes.
fn unannounced(body: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    out.extend_from_slice(body);
    out
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn uuid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

fn entry(n: u32, kind: &str, name: &str, body: &[u8], url: String) -> Entry {
    Entry {
        attachment_id: uuid(n),
        conversation_type: kind.into(),
        conversation_id: uuid(1000 + n % 3),
        file_name: name.into(),
        size_bytes: body.len() as u64,
        sha256: sha(body),
        url,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ae-file-safety-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        out.push(path.clone());
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(tree(&path));
        }
    }
    out
}

fn options(out: &Path) -> DownloadOptions {
    DownloadOptions { out: out.to_owned(), concurrency: 4, retries: 1 }
}

fn failure<'a>(report: &'a DownloadReport, e: &Entry) -> &'a str {
    &report
        .failed
        .iter()
        .find(|f| f.attachment_id == e.attachment_id)
        .unwrap_or_else(|| panic!("{report:?}"))
        .reason
}

/// Runs the binary under `umask 000` (so only explicit modes can make anything private).
async fn cli(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("umask 000; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_attachment-export"))
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    })
    .await
    .unwrap()
}

/// No link, signature or credential, nor this server's address, anywhere in `text`.
fn assert_no_link(text: &str, server: &Server) {
    for secret in [
        SIGNATURE,
        CREDENTIAL,
        "X-Amz-",
        "x-amz-",
        "://",
        &server.addr.to_string(),
        "10.255.255.1",
        "bucket.example",
    ] {
        assert!(!text.contains(secret), "{secret:?} appears in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_planted_in_the_output_folder_are_refused_and_nothing_outside_is_written() {
    let base = scratch("symlinks");
    let (out, outside) = (base.join("out"), base.join("outside"));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("target"), b"keep me").unwrap();

    let body = b"attachment contents".to_vec();
    let server = Server::start().await;
    server.route("/f", raw(200, &[], &body));
    let through_type = entry(1, "DIRECT", "a.txt", &body, server.link("/f"));
    let through_conversation = entry(2, "GROUP", "b.txt", &body, server.link("/f"));
    let as_the_file = entry(3, "ROOM", "c.txt", &body, server.link("/f"));
    let as_the_part = entry(6, "ROOM", "d.txt", &body, server.link("/f"));
    let entries =
        [through_type.clone(), through_conversation.clone(), as_the_file.clone(), as_the_part.clone()];

    // Plant links: a type folder, a conversation folder, a final file, a .part file, the index.
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("direct")).unwrap();
    let conversation = local_path(&out, &through_conversation).parent().unwrap().to_owned();
    std::fs::create_dir_all(conversation.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&outside, &conversation).unwrap();
    let file = local_path(&out, &as_the_file);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(outside.join("target"), &file).unwrap();
    let part = local_path(&out, &as_the_part).with_extension("part");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(outside.join("target"), &part).unwrap();
    std::os::unix::fs::symlink(outside.join("target"), out.join("index.csv")).unwrap();

    let report = download(&entries, &options(&out), &|_, _| {}).await.unwrap();

    for e in [&through_type, &through_conversation, &as_the_file] {
        let why = failure(&report, e);
        assert!(why.contains("symbolic link this tool did not create"), "{why}");
    }
    assert_eq!(report.downloaded, 1, "the planted .part link is removed, not followed: {report:?}");
    let saved = local_path(&out, &as_the_part);
    assert_eq!(std::fs::read(&saved).unwrap(), body);
    assert!(std::fs::symlink_metadata(&saved).unwrap().is_file());
    // Nothing outside was written: the same single file with the same bytes.
    assert_eq!(tree(&outside), vec![outside.join("target")]);
    assert_eq!(std::fs::read(outside.join("target")).unwrap(), b"keep me");
    // The index link was replaced by the real index, its target untouched.
    assert!(std::fs::symlink_metadata(out.join("index.csv")).unwrap().is_file());
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_longer_than_the_manifest_says_is_cut_there_and_the_file_fails() {
    let base = scratch("oversize");
    let out = base.join("out");
    let body = b"exactly these bytes".to_vec();
    let longer = [body.clone(), vec![b'X'; 1 << 20]].concat();
    let server = Server::start().await;
    server
        .route("/announced", raw(200, &[], &longer))
        .route("/unannounced", unannounced(&longer))
        .route("/right", raw(200, &[], &body));
    let announced = entry(1, "DIRECT", "announced.bin", &body, server.link("/announced"));
    let streamed = entry(2, "DIRECT", "streamed.bin", &body, server.link("/unannounced"));
    let right = entry(3, "DIRECT", "right.bin", &body, server.link("/right"));
    let entries = [announced.clone(), streamed.clone(), right.clone()];
    let report = download(&entries, &options(&out), &|_, _| {}).await.unwrap();

    assert_eq!(report.downloaded, 1, "{report:?}");
    for e in [&announced, &streamed] {
        let why = failure(&report, e);
        assert!(why.contains("size mismatch"), "{why}");
        assert!(!local_path(&out, e).exists() && !local_path(&out, e).with_extension("part").exists());
    }
    for path in tree(&out) {
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.is_dir() || path.ends_with("index.csv") || meta.len() <= body.len() as u64, "{path:?}");
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_redirect_to_a_signed_s3_download_is_followed() {
    let base = scratch("redirect");
    let out = base.join("out");
    let body = b"the real file".to_vec();
    let server = Server::start().await;
    // Every redirect points at this very server, which would serve the right bytes.
    let signed_target = server.link("/download");
    let unsigned_target = format!("http://{}/elsewhere", server.addr);
    let elsewhere = format!("https://attachments.example.com/k?X-Amz-Signature={SIGNATURE}");
    server
        .route("/download", raw(200, &[], &body))
        .route("/elsewhere", raw(200, &[], &body))
        .route("/link", raw(302, &[("Location", &signed_target)], b""))
        .route("/unsigned", raw(302, &[("Location", &unsigned_target)], b""))
        .route("/foreign", raw(302, &[("Location", &elsewhere)], b""))
        .route("/again", raw(302, &[("Location", &server.link("/link"))], b""));
    let followed = entry(1, "DIRECT", "followed.bin", &body, server.link("/link"));
    let unsigned = entry(2, "DIRECT", "unsigned.bin", &body, server.link("/unsigned"));
    let foreign = entry(3, "DIRECT", "foreign.bin", &body, server.link("/foreign"));
    let twice = entry(4, "DIRECT", "twice.bin", &body, server.link("/again"));
    let entries = [followed.clone(), unsigned.clone(), foreign.clone(), twice.clone()];
    let report = download(&entries, &options(&out), &|_, _| {}).await.unwrap();
    assert_eq!(report.downloaded, 1, "the link's redirect to its S3 download is followed: {report:?}");
    assert!(local_path(&out, &followed).exists());
    for e in [&unsigned, &foreign] {
        let why = failure(&report, e);
        assert!(why.contains("not followed") && !why.contains("://"), "{why}");
        assert!(!local_path(&out, e).exists());
    }
    assert!(!server.requested("/elsewhere"), "an unsigned target was requested");
    assert!(failure(&report, &twice).contains("only one redirect"), "{report:?}");
    assert!(!local_path(&out, &twice).exists());
    assert_no_link(&serde_json::to_string(&report).unwrap(), &server);
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_carries_a_referer_and_plain_http_off_loopback_is_refused_before_any_request() {
    let base = scratch("transport");
    let out = base.join("out");
    let body = b"x".to_vec();
    let server = Server::start().await;
    server.route("/f", raw(200, &[], &body));
    let fine = entry(1, "DIRECT", "fine.txt", &body, server.link("/f"));
    // A non-routable address: were it requested, the download would hang until its timeout.
    let remote = entry(2, "DIRECT", "remote.txt", &body, signed("http://10.255.255.1/bucket/key"));
    let remote_name = entry(3, "DIRECT", "remote.txt", &body, signed("http://bucket.example/key"));
    let started = Instant::now();
    let entries = [fine.clone(), remote.clone(), remote_name.clone()];
    let report = download(&entries, &options(&out), &|_, _| {}).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "a refused link was tried: {:?}", started.elapsed());
    assert_eq!(report.downloaded, 1, "{report:?}");
    for e in [&remote, &remote_name] {
        let why = failure(&report, e);
        assert!(why.contains("plain http") && why.contains("refused before any request"), "{why}");
    }
    let heads = server.requests.lock().unwrap().join("\n").to_ascii_lowercase();
    assert!(heads.contains("get /f") && !heads.contains("referer"), "{heads}");

    // The API base URL obeys the same rule, before any request or credential look-up.
    let run = cli(
        vec!["list".into(), "--account-id".into(), uuid(7)],
        vec![("API_URL", "http://10.255.255.1:18005".into())],
    )
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("API_URL uses plain http") && !stderr.contains("10.255.255.1"), "{stderr}");
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_failure_report_error_or_json_output_holds_a_link_or_signature() {
    let base = scratch("no-links");
    let out = base.join("out");
    let body = b"file bytes".to_vec();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = Server::start().await;
    let elsewhere = server.link("/ok");
    server
        .route("/ok", raw(200, &[], &body))
        .route("/forbidden", raw(403, &[], b"<Error>AccessDenied</Error>"))
        .route("/broken", raw(500, &[], b"oops"))
        .route("/moved", raw(301, &[("Location", &elsewhere)], b""))
        .route("/long", raw(200, &[], &[body.clone(), body.clone()].concat()))
        .route("/changed", raw(200, &[], b"other byte"))
        // A body that stops short of its announced length: the connection breaks mid-file.
        .route("/cut", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nfile".to_vec());
    // A download link whose token expired: the download function answers 410 with its reason.
    let expired_path = {
        use export_core::domain::ids::{AccountId, AttachmentId, ExportId};
        let expires = export_core::Timestamp::parse("2020-01-01T00:01:00Z").unwrap();
        let maker = export_core::domain::link_token::LinkMaker::new(
            &format!("http://{}", server.addr),
            1,
            &AccountId::random().into(),
            &ExportId::new(),
            expires,
            &[3; 32],
        )
        .unwrap();
        let mut link = String::new();
        assert!(maker.link(&AccountId::random(), &AttachmentId::random(), expires, &mut link));
        link.split_once(&server.addr.to_string()).unwrap().1.to_owned()
    };
    let gone = br#"{"code":"GoneException","message":"This download link expired at 2020-01-01T00:01:00.000Z. Ask your administrator for a new export."}"#;
    server.route(&expired_path, raw(410, &[("Content-Type", "application/json")], gone));
    let expired_link = format!("http://{}{expired_path}", server.addr);
    let entries = vec![
        entry(1, "DIRECT", "ok.txt", &body, server.link("/ok")),
        entry(2, "DIRECT", "missing.txt", &body, server.link("/missing")),
        entry(3, "GROUP", "forbidden.txt", &body, server.link("/forbidden")),
        entry(4, "GROUP", "expired.txt", &body, expired_link),
        entry(5, "GROUP", "broken.txt", &body, server.link("/broken")),
        entry(6, "ROOM", "moved.txt", &body, server.link("/moved")),
        entry(7, "ROOM", "long.txt", &body, server.link("/long")),
        entry(8, "ROOM", "changed.txt", &body, server.link("/changed")),
        entry(9, "ROOM", "cut.txt", &body, server.link("/cut")),
        entry(10, "ROOM", "refused.txt", &body, signed(&format!("http://{closed}/k"))),
        entry(11, "ROOM", "remote.txt", &body, signed("http://10.255.255.1/k")),
        entry(12, "ROOM", "garbage.txt", &body, format!("not a link X-Amz-Signature={SIGNATURE}")),
        entry(13, "ROOM", "ftp.txt", &body, signed("ftp://127.0.0.1/k")),
    ];

    // The library's report and index.
    let report = download(&entries, &options(&out), &|_, _| {}).await.unwrap();
    assert_eq!((report.downloaded, report.failed.len()), (1, entries.len() - 1), "{report:?}");
    assert_no_link(&serde_json::to_string(&report).unwrap(), &server);
    assert_no_link(&std::fs::read_to_string(out.join("index.csv")).unwrap(), &server);
    let expired = report.failed.iter().find(|f| f.file_name == "expired.txt").unwrap();
    assert!(expired.expired && expired.reason.contains("expired at 2020-01-01T00:01:00"), "{expired:?}");
    for (name, reason) in [
        ("missing.txt", "HTTP 404"),
        ("broken.txt", "HTTP 500"),
        ("moved.txt", "HTTP 301"),
        ("long.txt", "size mismatch"),
        ("changed.txt", "SHA-256 mismatch"),
        ("cut.txt", "interrupted"),
        ("refused.txt", "could not connect"),
        ("garbage.txt", "not a valid URL"),
        ("ftp.txt", "scheme"),
    ] {
        let f = report.failed.iter().find(|f| f.file_name == name).unwrap();
        assert!(f.reason.contains(reason), "{name}: {f:?}");
    }

    // The binary, as text and as JSON.
    let manifest = base.join("manifest.csv");
    write_manifest(&manifest, &entries);
    for json in [false, true] {
        let target = base.join(if json { "json" } else { "text" });
        let mut args: Vec<String> = vec!["download".into(), manifest.display().to_string(), "--out".into()];
        args.extend([target.display().to_string(), "--retries".into(), "1".into()]);
        if json {
            args.push("--json".into());
        }
        let run = cli(args, vec![]).await;
        assert_eq!(run.status.code(), Some(1));
        let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert_no_link(&stdout, &server);
        assert_no_link(&stderr, &server);
        if json {
            let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(value["failed"].as_array().unwrap().len(), entries.len() - 1);
        } else {
            assert!(stdout.contains("12 failed") && stdout.contains("HTTP 404"), "{stdout}");
        }
    }

    // `manifest`: this server plays the API too. The fetched manifest is streamed to a 0600 file;
    // failing fetches (wrong SHA-256, gone, redirected, refused) name no link either.
    let manifest_bytes = b"attachment_id,conversation_type\n".to_vec();
    server.route("/m.csv", raw(200, &[], &manifest_bytes));
    let cases = [
        ("ok", "/m.csv", sha(&manifest_bytes), None),
        ("tampered", "/m.csv", sha(b"something else"), Some("does not match its SHA-256")),
        ("gone", "/gone.csv", sha(&manifest_bytes), Some("HTTP 404")),
        ("moved", "/moved", sha(&manifest_bytes), Some("HTTP 301")),
    ];
    for (n, (case, path, digest, error)) in cases.into_iter().enumerate() {
        let export = format!("01JDZ3Q4V5W6X7Y8Z9A0B1C2D{n}");
        let view = serde_json::json!({"exportId": export, "status": "SUCCEEDED",
            "urlsExpireAt": "2099-12-31T00:00:00.000Z",
            "manifest": {"url": server.link(path), "sha256": digest}});
        let api_path = format!("/accounts/{}/data-exports/{export}", uuid(9));
        server
            .route(&api_path, raw(200, &[("Content-Type", "application/json")], view.to_string().as_bytes()));
        let saved = base.join(format!("{case}.csv"));
        for json in [false, true] {
            let mut args: Vec<String> = vec!["manifest".into(), "--account-id".into(), uuid(9)];
            args.extend(["--export-id".into(), export.clone(), "--out".into(), saved.display().to_string()]);
            if json {
                args.push("--json".into());
            }
            let run = cli(args, vec![("API_URL", format!("http://{}", server.addr))]).await;
            let (stdout, stderr) =
                (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
            assert_no_link(&stdout, &server);
            assert_no_link(&stderr, &server);
            match error {
                None => {
                    assert!(run.status.success(), "{case}: {stderr}");
                    assert_eq!(std::fs::read(&saved).unwrap(), manifest_bytes);
                    assert_eq!(
                        std::fs::metadata(&saved).unwrap().mode() & 0o777,
                        0o600,
                        "umask 000 notwithstanding"
                    );
                }
                Some(why) => {
                    assert_eq!(run.status.code(), Some(2), "{case}: {stdout}");
                    assert!(stderr.contains(why), "{case}: {stderr}");
                    assert!(!saved.exists() && !base.join(format!("{case}.csv.part")).exists());
                }
            }
        }
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_0600_and_folders_0700_whatever_the_umask() {
    let base = scratch("modes");
    let out = base.join("deep/out");
    let server = Server::start().await;
    let mut entries = Vec::new();
    for (n, kind) in [(1, "DIRECT"), (2, "GROUP"), (3, "ROOM"), (4, "ROOM"), (5, "SOMETHING")] {
        let body = format!("body {n}").into_bytes();
        server.route(&format!("/{n}"), raw(200, &[], &body));
        entries.push(entry(n, kind, &format!("file {n}.txt"), &body, server.link(&format!("/{n}"))));
    }
    let manifest = base.join("manifest.csv");
    write_manifest(&manifest, &entries);
    let args =
        vec!["download".into(), manifest.display().to_string(), "--out".into(), out.display().to_string()];
    let run = cli(args.clone(), vec![]).await;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // A second run (everything already complete) changes nothing.
    let again = cli([args, vec!["--json".into()]].concat(), vec![]).await;
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["skipped"], 5);

    let all = [vec![out.clone()], tree(&out)].concat();
    assert_eq!(all.iter().filter(|p| p.is_file()).count(), 6, "five files and the index: {all:?}");
    for path in all {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(meta.mode() & 0o7777, want, "{path:?}");
        assert_eq!(std::fs::Permissions::from_mode(meta.mode()).mode() & 0o077, 0, "{path:?}");
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_lose_bidi_and_zero_width_characters_and_the_terminal_sees_controls_escaped() {
    let base = scratch("names");
    let out = base.join("out");
    let server = Server::start().await;
    let body = b"contents".to_vec();
    server.route("/f", raw(200, &[], &body));
    let names = [
        "invoice\u{202e}fdp.exe",
        "a\u{200b}b\u{200c}c\u{200d}d\u{2060}e\u{feff}.txt",
        "\u{2066}x\u{2069}\u{200e}\u{200f}\u{061c}\u{202a}\u{202b}\u{202c}\u{202d}\u{2067}\u{2068}.pdf",
    ];
    let mut entries: Vec<Entry> = names
        .iter()
        .enumerate()
        .map(|(i, n)| entry(i as u32 + 1, "DIRECT", n, &body, server.link("/f")))
        .collect();
    // Failing files with names that would drive a terminal: shown, escaped, in the report.
    let hostile = [
        "\u{1b}]0;owned\u{7}title.txt",
        "\u{1b}[2J\u{1b}[31mred.txt",
        "csi\u{9b}2J.txt",
        "carriage\rreturn.txt",
        "del\u{7f}.txt",
        "rtl\u{202e}txt.exe",
    ];
    for (i, n) in hostile.iter().enumerate() {
        entries.push(entry(100 + i as u32, "GROUP", n, &body, server.link("/missing")));
    }

    let report = download(&entries[..names.len()], &options(&out), &|_, _| {}).await.unwrap();
    assert_eq!(report.downloaded as usize, names.len(), "{report:?}");
    let saved: Vec<String> = tree(&out.join("direct"))
        .iter()
        .filter(|p| p.is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(saved.len(), names.len());
    let invisible = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}');
    for name in &saved {
        assert!(!name.chars().any(invisible), "{name:?}");
    }
    let mut tails: Vec<&str> = saved.iter().map(|n| &n[37..]).collect();
    tails.sort();
    assert_eq!(tails, ["abcde.txt", "invoicefdp.exe", "x.pdf"]);
    // The index keeps the original names.
    let index = std::fs::read_to_string(out.join("index.csv")).unwrap();
    assert!(names.iter().all(|n| index.contains(n)));

    let manifest = base.join("manifest.csv");
    write_manifest(&manifest, &entries);
    for json in [false, true] {
        let target = base.join(if json { "json" } else { "text" });
        let mut args: Vec<String> = vec!["download".into(), manifest.display().to_string(), "--out".into()];
        args.extend([target.display().to_string(), "--retries".into(), "0".into()]);
        if json {
            args.push("--json".into());
        }
        let run = cli(args, vec![]).await;
        assert_eq!(run.status.code(), Some(1));
        for stream in [&run.stdout, &run.stderr] {
            let text = String::from_utf8(stream.clone()).unwrap();
            let raw: Vec<char> =
                text.chars().filter(|c| (c.is_control() && *c != '\n') || invisible(*c)).collect();
            assert!(raw.is_empty(), "raw {raw:?} reach the terminal:\n{text}");
        }
        let stdout = String::from_utf8(run.stdout).unwrap();
        if json {
            let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let shown: Vec<&str> =
                value["failed"].as_array().unwrap().iter().map(|f| f["fileName"].as_str().unwrap()).collect();
            assert_eq!(shown, hostile, "JSON escapes read back to the original names");
        } else {
            for escaped in [
                "\\u{1b}]0;owned\\u{7}title.txt",
                "\\u{1b}[2J\\u{1b}[31mred.txt",
                "csi\\u{9b}2J.txt",
                "carriage\\rreturn.txt",
                "del\\u{7f}.txt",
                "rtl\\u{202e}txt.exe",
            ] {
                assert!(stdout.contains(escaped), "{escaped} not in:\n{stdout}");
            }
        }
    }
    std::fs::remove_dir_all(&base).unwrap();
}

/// Converts each CSV to flat ODF (`.fods`) with LibreOffice Calc, importing with formula
/// evaluation on (the 13th filter token), as a spreadsheet user opening the file would.
fn calc_import(dir: &Path, csvs: &[&Path]) -> Vec<String> {
    let home = dir.join("soffice-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut child = Command::new("soffice")
        .env("HOME", &home)
        .arg(format!("-env:UserInstallation=file://{}", home.join("profile").display()))
        .args(["--headless", "--norestore", "--nolockcheck"])
        .arg("--infilter=CSV:44,34,76,1,,1033,false,true,false,false,false,-1,true")
        .args(["--convert-to", "fods", "--outdir"])
        .arg(dir.join("converted"))
        .args(csvs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run soffice ({e}): infra/local/install.sh installs it (libreoffice-calc-nogui)")
        });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "soffice failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("soffice took more than 180 s to convert {csvs:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    csvs.iter()
        .map(|csv| {
            let stem = csv.file_stem().unwrap().to_string_lossy();
            let fods = dir.join("converted").join(format!("{stem}.fods"));
            std::fs::read_to_string(&fods).unwrap_or_else(|e| panic!("{}: {e}", fods.display()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_csv_opened_by_a_spreadsheet_shows_no_formula() {
    let base = scratch("spreadsheet");
    let out = base.join("out");
    let server = Server::start().await;
    let body = b"contents".to_vec();
    server.route("/f", raw(200, &[], &body));
    let formulas = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "=1+1", "\t=2+2", "\r=3+3"];
    let mut entries: Vec<Entry> = formulas
        .iter()
        .enumerate()
        .map(|(i, n)| entry(i as u32 + 1, "DIRECT", n, &body, server.link("/f")))
        .collect();
    // A hostile manifest puts formulas in the other columns too (this one fails: 404).
    let mut hostile = entry(99, "=1+1", "=2+2", &body, server.link("/missing"));
    hostile.attachment_id = "=HYPERLINK(\"http://x\",\"id\")".into();
    hostile.sha256 = "@SUM(1)".into();
    entries.push(hostile);
    let report = download(&entries, &options(&out), &|_, _| {}).await.unwrap();
    assert_eq!(report.downloaded as usize, formulas.len(), "{report:?}");
    let index = out.join("index.csv");
    let text = std::fs::read_to_string(&index).unwrap();
    for name in formulas {
        assert!(text.contains(&format!("'{}", name.replace('"', "\"\""))), "{name:?} unguarded in:\n{text}");
    }

    // The control: the same name unguarded does become a formula, so the check below can see one.
    let control = base.join("control.csv");
    std::fs::write(&control, "file_name\n\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n").unwrap();
    let converted = calc_import(&base, &[&index, &control]);
    assert!(converted[1].contains("table:formula"), "the import evaluates formulas:\n{}", converted[1]);
    assert!(!converted[0].contains("table:formula"), "a formula in the index:\n{}", converted[0]);
    assert!(
        converted[0].contains("&apos;=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)"),
        "{}",
        converted[0]
    );
    std::fs::remove_dir_all(&base).unwrap();
}
