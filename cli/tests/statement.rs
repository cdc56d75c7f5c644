//! The signed, chained statement (DESIGN §14) end to end on the local stack: an export's statement,
//! signed by moto's KMS with the key provisioned from the template, verifies with
//! `attachment-export verify` (the key fetched with kms:GetPublicKey, or given as PEM); a changed
//! byte in the manifest, in the statement or in a downloaded file, and a broken chain, each make
//! `verify` exit non-zero, and `download` refuses a manifest its statement does not sign. No
//! output holds a URL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use attachment_export_cli::seed::{SeedOptions, SeedReport, SeedTarget, SizeProfile, seed};
use export_core::domain::ids::AccountId;
use integration_tests::Stack;

fn out_dir() -> PathBuf {
    let dir =
        integration_tests::repo_root().join(".local/test-downloads").join(ulid::Ulid::new().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn seeded(stack: &Stack) -> SeedReport {
    let target = SeedTarget {
        dynamodb: stack.dynamodb(),
        s3: stack.s3(),
        accounts_table: stack.var("ACCOUNTS_TABLE").into(),
        attachments_table: stack.var("ATTACHMENTS_TABLE").into(),
        attachment_bucket: stack.var("ATTACHMENT_BUCKET").into(),
    };
    let options = SeedOptions {
        attachments: 40,
        users: 6,
        rooms: 2,
        sizes: SizeProfile::Small,
        upload_objects: true,
        seed: 11,
        concurrency: 8,
    };
    seed(&target, &options, &|_| {}).await.expect("seeding works")
}

/// The binary, with the stack's variables (API_URL, keys, endpoints) in its environment.
async fn cli(stack: &Stack, args: &[&str]) -> Output {
    cli_without(stack, args, &[]).await
}

/// The binary, with the stack's variables but those `left_out` in its environment.
async fn cli_without(stack: &Stack, args: &[&str], left_out: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_attachment-export"));
    command.args(args).stdin(Stdio::null());
    for (k, v) in stack.vars().iter().filter(|(k, _)| !left_out.contains(&k.as_str())) {
        command.env(k, v);
    }
    // Nor inherited from the test's own environment (test.sh exports the stack's variables).
    for k in left_out {
        command.env_remove(k);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!text.contains("X-Amz-") && !text.contains("://"), "no URL is ever printed: {text}");
    output
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Requests an export of `account`, waits for it, and saves its manifest and the files beside it.
async fn export_and_fetch(stack: &Stack, account: &AccountId, dir: &Path) -> (String, PathBuf) {
    let reply =
        stack.api(reqwest::Method::POST, &format!("/accounts/{account}/data-exports"), None, None).await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let export_id = reply.body["exportId"].as_str().unwrap().to_owned();
    let view = stack.wait_for_export(account, &export_id, Duration::from_secs(180)).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    let statement = &view["result"]["statement"];
    assert_eq!(statement["key"], format!("exports/{account}/{export_id}/statement.json"), "{view}");
    let manifest = dir.join(format!("{export_id}.csv"));
    let out = cli(
        stack,
        &[
            "manifest",
            "--account-id",
            account.as_str(),
            "--export-id",
            &export_id,
            "--out",
            manifest.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed statement saved to"), "{}", text(&out));
    (export_id, manifest)
}

fn flip_byte(path: &Path, at: usize) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    let mut changed = original.clone();
    changed[at] = if changed[at] == b'a' { b'b' } else { b'a' };
    std::fs::write(path, &changed).unwrap();
    original
}

fn verdict_of(check: &str, output: &Output) -> bool {
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)));
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("{report}"))["ok"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn a_statement_verifies_and_every_tampering_and_a_broken_chain_are_detected() {
    let stack = Stack::load();
    let report = seeded(&stack).await;
    let account = report.account_id.clone();
    let dir = out_dir();
    let (first_id, first) = export_and_fetch(&stack, &account, &dir).await;
    let files = dir.join("files");
    let files_arg = files.to_str().unwrap().to_owned();
    let m = first.to_str().unwrap().to_owned();

    // download verifies the statement first (the key the statement names, fetched from KMS).
    let out = cli(&stack, &["download", &m, "--out", &files_arg]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("statement verified"), "{}", text(&out));

    // verify: every check passes, with the key fetched by id, or given as PEM.
    let key_id = stack.var("STATEMENT_KEY_ID").to_owned();
    let out = cli(&stack, &["verify", &m, "--files", &files_arg, "--key-id", &key_id]).await;
    assert!(out.status.success(), "{}", text(&out));
    let human = text(&out);
    for check in ["signature", "manifest", "errors", "coverage", "files"] {
        assert!(
            human.lines().any(|l| l.trim_start().starts_with("ok") && l.contains(check)),
            "{check}: {human}"
        );
    }
    assert!(human.contains("verdict: VERIFIED"), "{human}");
    let sdk = stack.sdk_config();
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk).endpoint_url(stack.var("AWS_ENDPOINT_URL_KMS")).build(),
    );
    let der = kms.get_public_key().key_id(&key_id).send().await.unwrap().public_key.unwrap().into_inner();
    let key = export_core::domain::statement::public_key(&der).unwrap();
    let pem = p256::pkcs8::EncodePublicKey::to_public_key_pem(&key, p256::pkcs8::LineEnding::LF).unwrap();
    let pem_path = dir.join("statement-key.pem");
    std::fs::write(&pem_path, pem).unwrap();
    let pem_arg = pem_path.to_str().unwrap().to_owned();
    let out = cli(&stack, &["--json", "verify", &m, "--public-key", &pem_arg]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(verdict_of("signature", &out));

    // A changed byte in the manifest: the manifest check fails, and download refuses to start.
    let original = flip_byte(&first, 200);
    let out = cli(&stack, &["--json", "verify", &m, "--public-key", &pem_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(verdict_of("signature", &out) && !verdict_of("manifest", &out));
    let out = cli(
        &stack,
        &["download", &m, "--out", dir.join("refused").to_str().unwrap(), "--public-key", &pem_arg],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("does not verify against its signed statement"), "{}", text(&out));
    assert!(!dir.join("refused").exists(), "nothing downloaded");
    std::fs::write(&first, original).unwrap();

    // A changed byte in the statement: its signature no longer verifies.
    let statement_path = dir.join(format!("{first_id}.statement.json"));
    let original = flip_byte(&statement_path, 40);
    let out = cli(&stack, &["--json", "verify", &m, "--public-key", &pem_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!verdict_of("signature", &out));
    std::fs::write(&statement_path, original).unwrap();

    // A changed byte in a downloaded file.
    let downloaded = integration_tests_files(&files);
    let victim = downloaded.iter().find(|p| std::fs::metadata(p).unwrap().len() > 0).unwrap();
    flip_byte(victim, 0);
    let out = cli(&stack, &["--json", "verify", &m, "--public-key", &pem_arg, "--files", &files_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(verdict_of("manifest", &out) && !verdict_of("files", &out));

    // The chain: the account's next export names the first statement's SHA-256 ...
    stack.open_window(&account).await;
    let (_, second) = export_and_fetch(&stack, &account, &dir).await;
    let s = second.to_str().unwrap().to_owned();
    let statement_arg = statement_path.to_str().unwrap().to_owned();
    let out = cli(&stack, &["verify", &s, "--public-key", &pem_arg, "--previous", &statement_arg]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("follows export {first_id}")), "{}", text(&out));
    // ... so a changed earlier statement, or another account's, breaks it.
    let forged = dir.join("forged.statement.json");
    let mut bytes = std::fs::read(&statement_path).unwrap();
    let at = bytes.len() - 3;
    bytes.insert(at, b' ');
    std::fs::write(&forged, bytes).unwrap();
    let out = cli(
        &stack,
        &["--json", "verify", &s, "--public-key", &pem_arg, "--previous", forged.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(verdict_of("signature", &out) && !verdict_of("chain", &out));
    // The first statement has no predecessor: naming one is a broken chain too.
    let out =
        cli(&stack, &["--json", "verify", &m, "--public-key", &pem_arg, "--previous", &statement_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!verdict_of("chain", &out));
}

/// A forger rewrites an export's statement, names a KMS key of their own in it and signs it with
/// that key. Every check passes with the key the statement names, so without a pinned key the
/// verdict is UNPINNED and `verify` exits 1; `--allow-unpinned` exits 0 and still says UNPINNED; the
/// stack's key (`STATEMENT_KEY_ID`) refuses the signature.
#[tokio::test]
async fn a_statement_signed_with_a_key_it_names_itself_is_not_verified_without_a_pinned_key() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};

    let stack = Stack::load();
    let report = seeded(&stack).await;
    let (_, manifest) = export_and_fetch(&stack, &report.account_id, &out_dir()).await;
    let m = manifest.to_str().unwrap().to_owned();
    let statement_path = manifest.with_extension("statement.json");
    let kms = stack.kms();
    let created = kms.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify);
    let forger = created.send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&statement_path).unwrap()).unwrap();
    forged["signature"]["keyId"] = forger.clone().into();
    let bytes = serde_json::to_vec_pretty(&forged).unwrap();
    std::fs::write(&statement_path, &bytes).unwrap();
    let signed = kms
        .sign()
        .key_id(&forger)
        .message(aws_sdk_kms::primitives::Blob::new(bytes))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    let der = signed.signature.unwrap().into_inner();
    let signature = export_core::domain::statement::encode_signature(&der);
    std::fs::write(manifest.with_extension("statement.sig"), signature).unwrap();

    let unpinned = cli_without(&stack, &["--json", "verify", &m], &["STATEMENT_KEY_ID"]).await;
    assert!(!unpinned.status.success(), "{}", text(&unpinned));
    let report: serde_json::Value = serde_json::from_slice(&unpinned.stdout).unwrap();
    assert_eq!(report["verdict"], "UNPINNED", "{report}");
    assert_eq!(report["pinned"], false);
    assert!(verdict_of("signature", &unpinned), "the forged signature is good for the forger's key");

    let allowed = cli_without(&stack, &["verify", &m, "--allow-unpinned"], &["STATEMENT_KEY_ID"]).await;
    assert!(allowed.status.success(), "{}", text(&allowed));
    assert!(text(&allowed).contains("verdict: UNPINNED"), "{}", text(&allowed));

    let pinned = cli(&stack, &["--json", "verify", &m]).await;
    assert!(!pinned.status.success(), "{}", text(&pinned));
    assert!(!verdict_of("signature", &pinned), "the stack's key refuses the forger's signature");
    let report: serde_json::Value = serde_json::from_slice(&pinned.stdout).unwrap();
    assert_eq!(report["verdict"], "NOT VERIFIED", "{report}");
}

fn integration_tests_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(integration_tests_files(&path))
        } else if path.file_name().is_some_and(|n| n != "index.csv") {
            out.push(path)
        }
    }
    out
}
