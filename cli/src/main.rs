//! `attachment-export`: seed an account, start an export, follow it, fetch the manifest and
//! download every file it lists. Human output by default, `--json` for scripts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use attachment_export_cli::CliError;
use attachment_export_cli::api::{ApiClient, Reply};
use attachment_export_cli::download::{DownloadOptions, download, read_manifest};
use attachment_export_cli::safe_fs::Folder;
use attachment_export_cli::safety::{
    checked_url, hide_links, http_client, http_error, json_safe, redact, terminal_safe, terminal_safe_lines,
};
use attachment_export_cli::seed::{SeedOptions, SeedTarget, SizeProfile, seed};
use attachment_export_cli::verify::{ExportFiles, VerifyOptions, read_statement, verify};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

#[derive(Parser)]
#[command(
    name = "attachment-export",
    version,
    about = "Export every file an Enterprise chat account's users uploaded"
)]
struct Cli {
    /// The REST API's base URL (the local gateway after `make up`; a deployed stack's ApiUrl output).
    #[arg(long, env = "API_URL", global = true, default_value = "http://127.0.0.1:18005")]
    api_url: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Whose exports: an account's (its administrators) or a self-service user's own (DESIGN §15).
#[derive(clap::Args, Clone)]
#[group(required = true, multiple = false)]
struct OwnerArgs {
    /// The chat account (administrators).
    #[arg(long)]
    account_id: Option<String>,
    /// A chat user whom no account manages, for their own files (the /users routes).
    #[arg(long)]
    user_id: Option<String>,
}

impl OwnerArgs {
    /// The API's path of the owner's exports.
    fn exports_path(&self) -> String {
        match (&self.account_id, &self.user_id) {
            (Some(account), _) => format!("/accounts/{account}/data-exports"),
            (None, Some(user)) => format!("/users/{user}/data-exports"),
            (None, None) => unreachable!("clap requires one of --account-id and --user-id"),
        }
    }

    /// The client, calling as the user for a user's routes (see [`ApiClient::as_user`]).
    async fn client(&self, api_url: &str) -> Result<ApiClient, CliError> {
        let api = ApiClient::new(api_url).await?;
        Ok(match &self.user_id {
            Some(user) => api.as_user(user),
            None => api,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a realistic Enterprise account (and a Team account) with attachments.
    Seed {
        #[arg(long, default_value_t = 300)]
        attachments: u64,
        #[arg(long, default_value_t = 20)]
        users: usize,
        #[arg(long, default_value_t = 5)]
        rooms: usize,
        #[arg(long, value_enum, default_value_t = SizeProfile::Realistic)]
        sizes: SizeProfile,
        /// Write the catalog only, without uploading file contents (very large benchmarks).
        #[arg(long)]
        no_objects: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, env = "ACCOUNTS_TABLE")]
        accounts_table: String,
        #[arg(long, env = "ATTACHMENTS_TABLE")]
        attachments_table: String,
        #[arg(long, env = "ATTACHMENT_BUCKET")]
        attachment_bucket: String,
    },
    /// Request an export (StartDataExport): an account's (`--account-id`), or a self-service
    /// user's own files (`--user-id`).
    Start {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        client_token: Option<String>,
        /// Do not HEAD each object before signing it (`verifyObjects: false`); the bucket is still
        /// checked.
        #[arg(long)]
        no_verify_objects: bool,
        /// An incremental export: only files uploaded after this — "previous" (the cutoff of the
        /// account's last delivered export) or an RFC 3339 time such as 2026-11-01T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
    },
    /// Show an export (RetrieveDataExport); `--wait` follows it until it ends.
    Status {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        export_id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Save an export's downloads.csv (RetrieveDataExport): which of its files were fetched
    /// through their links, how often, when and from where — also after its links were revoked.
    Downloads {
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        export_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a delivered export's links (RevokeDataExport; a self-service user's own with
    /// --user-id): within a minute every link of it — attachments, manifest, reports, statement,
    /// the Assistant's reply link — stops working, for good. Asks for confirmation unless `--yes`.
    Revoke {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        export_id: String,
        /// Do not ask (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// List an account's exports, or a self-service user's own, newest first.
    List {
        #[command(flatten)]
        owner: OwnerArgs,
    },
    /// Fetch a finished export's manifest through RetrieveDataExport and verify its SHA-256; its
    /// reports and signed statement are saved beside it (FILE.errors.csv, FILE.coverage.csv,
    /// FILE.statement.json, FILE.statement.sig).
    Manifest {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        export_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Download and verify every file a manifest lists. When the export's statement is beside the
    /// manifest (FILE.statement.json), the manifest is first checked against it, and nothing is
    /// downloaded if it does not verify.
    Download {
        manifest: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 4)]
        retries: u32,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Check an export offline against its signed statement: the signature, the manifest, errors
    /// and coverage files (bytes, lines, SHA-256), every downloaded file (--files) and the chain to
    /// an earlier statement (--previous). Exits 1 if any check fails.
    Verify {
        /// The manifest `attachment-export manifest --out` saved; the statement, its signature and
        /// the reports are read from beside it unless given.
        manifest: PathBuf,
        #[arg(long)]
        statement: Option<PathBuf>,
        #[arg(long)]
        signature: Option<PathBuf>,
        #[arg(long)]
        errors: Option<PathBuf>,
        #[arg(long)]
        coverage: Option<PathBuf>,
        /// The folder `download --out` filled: every file is checked against the manifest.
        #[arg(long)]
        files: Option<PathBuf>,
        /// An earlier statement of the same account (its .sig beside it is checked too, if there).
        #[arg(long)]
        previous: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
        /// Exit 0 when every check passes with the key the statement names (verdict UNPINNED):
        /// for a statement whose key cannot be pinned; it proves the files match the statement,
        /// not who signed it.
        #[arg(long)]
        allow_unpinned: bool,
    },
}

/// The public key that statements are checked with.
#[derive(clap::Args)]
struct KeyArgs {
    /// The statement key's public half, PEM (or DER) SubjectPublicKeyInfo, e.g. from
    /// `aws kms get-public-key`. Takes precedence over --key-id.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Fetch the public key of this KMS key (id, ARN or alias) with kms:GetPublicKey; the stack's
    /// output StatementKeyArn (`STATEMENT_KEY_ID`, which `.local/stack.env` sets). Without either
    /// option, the key the statement names is fetched, and the verdict says the key was not pinned:
    /// a forged statement could name a key of its own.
    #[arg(long, env = "STATEMENT_KEY_ID")]
    key_id: Option<String>,
}

/// A key to check statements with.
struct TrustedKey {
    key: p256::ecdsa::VerifyingKey,
    /// Where it came from (for the report).
    source: String,
    /// Whether the caller pinned it (a file, a key id), rather than the statement naming it.
    pinned: bool,
}

/// The key to check a statement with.
async fn trusted_key(
    args: &KeyArgs,
    statement: &export_core::domain::statement::Statement,
) -> Result<TrustedKey, CliError> {
    if let Some(path) = &args.public_key {
        let bytes = std::fs::read(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        let key = export_core::domain::statement::public_key(&bytes)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        return Ok(TrustedKey { key, source: format!("public key from {}", path.display()), pinned: true });
    }
    let pinned = args.key_id.is_some();
    let (key_id, source) = match &args.key_id {
        Some(id) => (id.clone(), format!("public key of KMS key {id}")),
        None => (
            statement.signature.key_id.clone(),
            format!(
                "public key of KMS key {}, as the statement names it; pin the key with --public-key or --key-id",
                statement.signature.key_id
            ),
        ),
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let out = aws_sdk_kms::Client::new(&sdk).get_public_key().key_id(&key_id).send().await.map_err(|e| {
        CliError::Aws(format!(
            "could not fetch the public key of KMS key {key_id} (kms:GetPublicKey): {}; give it with --public-key FILE",
            aws_sdk_kms::error::DisplayErrorContext(&e)
        ))
    })?;
    let der = out.public_key().map(|k| k.as_ref().to_vec()).unwrap_or_default();
    let key = export_core::domain::statement::public_key(&der)
        .map_err(|e| CliError::Aws(format!("KMS key {key_id}: {e}")))?;
    Ok(TrustedKey { key, source, pinned })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", terminal_safe_lines(&redact(&e.to_string())));
            ExitCode::from(2)
        }
    }
}

/// Prints a result: JSON with every link withheld and every character a terminal would act on
/// escaped, or the human text escaped line by line (names from a manifest can hold anything; the
/// human texts never include a link).
fn print(json_mode: bool, value: &Value, human: impl FnOnce() -> String) {
    if json_mode {
        let mut shown = value.clone();
        hide_links(&mut shown);
        println!("{}", json_safe(&serde_json::to_string_pretty(&shown).unwrap_or_default()));
    } else {
        println!("{}", terminal_safe_lines(&human()));
    }
}

/// One export as RetrieveDataExport answers it (a hand-out, for a delivered export), or the
/// refusal.
async fn export_view(api_url: &str, owner: &OwnerArgs, export_id: &str) -> Result<Reply, CliError> {
    let api = owner.client(api_url).await?;
    let reply = api.call(Method::GET, &format!("{}/{export_id}", owner.exports_path()), None).await?;
    if reply.status != 200 {
        return Err(refusal(&reply));
    }
    Ok(reply)
}

fn refusal(reply: &Reply) -> CliError {
    let code = reply.body["code"].as_str().unwrap_or("HTTP error");
    let message = reply.body["message"].as_str().map(str::to_owned).unwrap_or_else(|| reply.body.to_string());
    CliError::Http(redact(&format!("{code} (HTTP {}): {message}", reply.status)))
}

fn bytes_human(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let json_mode = cli.json;
    match cli.command {
        Command::Seed {
            attachments,
            users,
            rooms,
            sizes,
            no_objects,
            seed: seed_value,
            concurrency,
            accounts_table,
            attachments_table,
            attachment_bucket,
        } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            // As every client of a custom S3 endpoint: the setting says, not the API's address.
            let path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build(),
            );
            let target = SeedTarget {
                dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
                s3,
                accounts_table,
                attachments_table,
                attachment_bucket,
            };
            let options = SeedOptions {
                attachments,
                users,
                rooms,
                sizes,
                upload_objects: !no_objects,
                seed: seed_value,
                concurrency,
            };
            let bar =
                progress_bar(attachments, json_mode, "{bar:30} {pos}/{len} attachments {per_sec} ETA {eta}");
            let started = Instant::now();
            let report = seed(&target, &options, &|n| bar.inc(n)).await?;
            bar.finish_and_clear();
            let value = serde_json::to_value(&report).unwrap_or_default();
            print(json_mode, &value, || {
                format!(
                    "seeded Enterprise account {} ({} users, {} managed; {} rooms)\n  {} attachments in {} messages, {} ({} deleted)\n  an export requested now must list {} attachments ({})\n  Team account (refused with guidance): {}\n  took {:.1}s",
                    report.account_id,
                    report.users,
                    report.managed_users,
                    report.rooms,
                    report.attachments,
                    report.messages,
                    bytes_human(report.attachment_bytes),
                    report.deleted,
                    report.expected_in_export,
                    bytes_human(report.expected_bytes),
                    report.team_account_id,
                    started.elapsed().as_secs_f64()
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Start { owner, format, client_token, no_verify_objects, since } => {
            let api = owner.client(&cli.api_url).await?;
            let mut body = json!({"format": format});
            if let Some(t) = client_token {
                body["clientToken"] = json!(t);
            }
            if no_verify_objects {
                body["verifyObjects"] = json!(false);
            }
            if let Some(since) = since {
                body["since"] = json!(since);
            }
            let reply = api.call(Method::POST, &owner.exports_path(), Some(body)).await?;
            if reply.status == 202 || reply.status == 200 {
                print(json_mode, &reply.body, || {
                    format!(
                        "export {} {} (snapshot of files uploaded {}up to {}); next request possible at {}",
                        reply.body["exportId"].as_str().unwrap_or("?"),
                        if reply.status == 202 { "accepted" } else { "already accepted (same clientToken)" },
                        reply.body["since"].as_str().map(|s| format!("after {s} and ")).unwrap_or_default(),
                        reply.body["cutoff"].as_str().unwrap_or("?"),
                        reply.body["nextAllowedAt"].as_str().unwrap_or("?")
                    )
                });
                Ok(ExitCode::SUCCESS)
            } else {
                if json_mode {
                    let refused =
                        json!({"status": reply.status, "body": reply.body, "retryAfter": reply.retry_after});
                    print(true, &refused, String::new);
                }
                Err(refusal(&reply))
            }
        }
        Command::Status { owner, export_id, wait } => {
            let api = owner.client(&cli.api_url).await?;
            let path = format!("{}/{export_id}", owner.exports_path());
            let spinner = if wait && !json_mode { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
            loop {
                let reply = api.call(Method::GET, &path, None).await?;
                if reply.status != 200 {
                    spinner.finish_and_clear();
                    return Err(refusal(&reply));
                }
                let status = reply.body["status"].as_str().unwrap_or_default().to_owned();
                let running = status == "QUEUED" || status == "RUNNING";
                if wait && running {
                    spinner.set_message(format!(
                        "{status}: {} attachments listed, {} manifest parts written",
                        reply.body["progress"]["attachmentsListed"], reply.body["progress"]["partsWritten"]
                    ));
                    spinner.tick();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                spinner.finish_and_clear();
                let mut shown = reply.body.clone();
                if let Some(m) = shown.get_mut("manifest") {
                    // The link is the key to every file: never print it; `manifest` fetches it.
                    m["url"] = json!("(use `attachment-export manifest` to download)");
                }
                for report in ["errors", "coverage"] {
                    if let Some(r) = shown.get_mut(report) {
                        // Not a key to any file, but a link all the same: never printed either.
                        r["url"] = json!("(use `attachment-export manifest` to download)");
                    }
                }
                print(json_mode, &shown, || describe(&reply.body));
                return Ok(if status == "FAILED" { ExitCode::FAILURE } else { ExitCode::SUCCESS });
            }
        }
        Command::Downloads { account_id, export_id, out } => {
            let owner = OwnerArgs { account_id: Some(account_id), user_id: None };
            let reply = export_view(&cli.api_url, &owner, &export_id).await?;
            let report = &reply.body["downloadsReport"];
            let link = report["url"].as_str().ok_or_else(|| {
                CliError::Usage(format!(
                    "export {export_id} is {}: it has no downloads report (only delivered and revoked exports of up to 200,000 files do)",
                    reply.body["status"]
                ))
            })?;
            let expected = report["sha256"].as_str().unwrap_or_default().to_owned();
            let (size, digest) = fetch_manifest(link, &out, Some(&expected)).await?;
            let fetched = reply.body["downloads"]["filesFetched"].as_u64().unwrap_or(0);
            let value = json!({"path": out, "bytes": size, "sha256": digest, "filesFetched": fetched,
                "status": reply.body["status"]});
            print(json_mode, &value, || {
                format!(
                    "downloads.csv saved to {} ({}); {fetched} of {} files fetched through their links",
                    out.display(),
                    bytes_human(size),
                    reply.body["result"]["attachmentCount"].as_u64().unwrap_or(0)
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke { owner, export_id, yes } => {
            if !yes {
                use std::io::{BufRead, IsTerminal};
                if !std::io::stdin().is_terminal() {
                    return Err(CliError::Usage(
                        "revoke asks for confirmation on a terminal; pass --yes to revoke without asking"
                            .into(),
                    ));
                }
                eprint!(
                    "Every download link of export {} (attachments, manifest, reports, statement) stops \
                     working within a minute, for everyone who has them. This cannot be undone. Type \
                     \"revoke\" to go on: ",
                    terminal_safe(&export_id)
                );
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer).map_err(|e| CliError::Usage(e.to_string()))?;
                if answer.trim() != "revoke" {
                    eprintln!("nothing revoked");
                    return Ok(ExitCode::FAILURE);
                }
            }
            let api = owner.client(&cli.api_url).await?;
            let path = format!("{}/{export_id}/revoke", owner.exports_path());
            let reply = api.call(Method::POST, &path, Some(json!({}))).await?;
            if reply.status != 200 {
                return Err(refusal(&reply));
            }
            print(json_mode, &reply.body, || describe(&reply.body));
            Ok(ExitCode::SUCCESS)
        }
        Command::List { owner } => {
            let api = owner.client(&cli.api_url).await?;
            let reply = api.call(Method::GET, &owner.exports_path(), None).await?;
            if reply.status != 200 {
                return Err(refusal(&reply));
            }
            print(json_mode, &reply.body, || {
                let body = &reply.body;
                let mut lines = vec![match body["userId"].as_str() {
                    Some(user) => format!("your exports (user {user})"),
                    None => format!(
                        "account {} ({})",
                        body["account"]["name"].as_str().unwrap_or("?"),
                        body["account"]["type"].as_str().unwrap_or("?")
                    ),
                }];
                lines.extend(body["exports"].as_array().into_iter().flatten().map(describe));
                // The API's own words when a request would be refused now (Team account, window).
                lines.push(match body["request"]["message"].as_str() {
                    Some(why) if body["request"]["allowed"] == false => {
                        format!("a new request would be refused: {why}")
                    }
                    _ => {
                        format!("next request possible at {}", body["nextAllowedAt"].as_str().unwrap_or("?"))
                    }
                });
                lines.join("\n")
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Manifest { owner, export_id, out } => {
            let reply = export_view(&cli.api_url, &owner, &export_id).await?;
            let link = reply.body["manifest"]["url"].as_str().ok_or_else(|| {
                CliError::Usage(format!("export {export_id} is {}: no manifest yet", reply.body["status"]))
            })?;
            let expected = reply.body["manifest"]["sha256"].as_str().unwrap_or_default().to_owned();
            let (size, digest) = fetch_manifest(link, &out, Some(&expected)).await?;
            let beside = ExportFiles::beside(&out);
            // A SUCCEEDED_WITH_ERRORS export: its errors.csv is saved beside, as FILE.errors.csv.
            let mut errors_saved = None;
            if let Some(errors_link) = reply.body["errors"]["url"].as_str() {
                let expected = reply.body["errors"]["sha256"].as_str().unwrap_or_default().to_owned();
                fetch_manifest(errors_link, &beside.errors, Some(&expected)).await?;
                errors_saved = Some(beside.errors.clone());
            }
            if let Some(coverage_link) = reply.body["coverage"]["url"].as_str() {
                fetch_manifest(coverage_link, &beside.coverage, None).await?;
            }
            // The signed statement and its signature (`verify` checks them).
            let mut statement_saved = None;
            if let Some(statement_link) = reply.body["statement"]["url"].as_str() {
                let expected = reply.body["statement"]["sha256"].as_str().unwrap_or_default().to_owned();
                fetch_manifest(statement_link, &beside.statement, Some(&expected)).await?;
                let signature_link = reply.body["statement"]["signature"]["url"].as_str().unwrap_or_default();
                fetch_manifest(signature_link, &beside.signature, None).await?;
                statement_saved = Some(beside.statement.clone());
            }
            let value = json!({"path": out, "bytes": size, "sha256": digest, "urlsExpireAt": reply.body["urlsExpireAt"],
                "errorCount": reply.body["result"]["errorCount"], "errorsPath": errors_saved,
                "statementPath": statement_saved});
            print(json_mode, &value, || {
                let mut text = format!(
                    "manifest saved to {} ({}, SHA-256 verified); its download links work until {}",
                    out.display(),
                    bytes_human(size),
                    reply.body["urlsExpireAt"].as_str().unwrap_or("?")
                );
                if let Some(statement) = &statement_saved {
                    text.push_str(&format!(
                        "\nsigned statement saved to {} (check it with `attachment-export verify {}`)",
                        statement.display(),
                        out.display()
                    ));
                }
                if let Some(errors) = &errors_saved {
                    text.push_str(&format!(
                        "\n{} rows failed a check and are not in the manifest: see {}",
                        reply.body["result"]["errorCount"],
                        errors.display()
                    ));
                }
                text
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Download { manifest, out, concurrency, retries, key } => {
            // The statement first, when the export has one: a manifest that does not match its
            // signed statement is not downloaded from.
            let beside = ExportFiles::beside(&manifest);
            if beside.statement.exists() {
                let (_, statement) = read_statement(&beside.statement)?;
                let trusted = trusted_key(&key, &statement).await?;
                let options = VerifyOptions { manifest_only: true, ..VerifyOptions::default() };
                let verdict =
                    verify(&beside, (&trusted.key, trusted.pinned), &trusted.source, &options).await?;
                if !verdict.verified {
                    if json_mode {
                        print(true, &serde_json::to_value(&verdict).unwrap_or_default(), String::new);
                    } else {
                        eprintln!("{}", terminal_safe_lines(&verdict.describe()));
                    }
                    return Err(CliError::Usage(format!(
                        "{} does not verify against its signed statement {}: nothing downloaded",
                        manifest.display(),
                        beside.statement.display()
                    )));
                }
                if !json_mode {
                    println!(
                        "{}",
                        terminal_safe_lines(&format!(
                            "statement {} ({}); the manifest is the one it signs",
                            if trusted.pinned { "verified" } else { "checked, UNPINNED" },
                            trusted.source
                        ))
                    );
                }
            }
            let bytes = std::fs::read(&manifest)
                .map_err(|e| CliError::Usage(format!("{}: {e}", manifest.display())))?;
            let entries = read_manifest(&bytes)?;
            let total: u64 = entries.iter().map(|e| e.size_bytes).sum();
            let bar = progress_bar(
                total,
                json_mode,
                "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            );
            let files = std::sync::atomic::AtomicU64::new(0);
            let count = entries.len();
            let started = Instant::now();
            let options = DownloadOptions { out: out.clone(), concurrency, retries };
            let report = download(&entries, &options, &|f, b| {
                let done = files.fetch_add(f, std::sync::atomic::Ordering::Relaxed) + f;
                bar.inc(b);
                bar.set_message(format!("{done}/{count} files"));
            })
            .await?;
            bar.finish_and_clear();
            let value = serde_json::to_value(&report).unwrap_or_default();
            print(json_mode, &value, || {
                let mut text = format!(
                    "{} files downloaded, {} already complete, {} failed; {} in {:.1}s into {} (index: {})",
                    report.downloaded,
                    report.skipped,
                    report.failed.len(),
                    bytes_human(report.bytes),
                    started.elapsed().as_secs_f64(),
                    out.display(),
                    out.join("index.csv").display()
                );
                for (kind, n) in &report.by_conversation_type {
                    text.push_str(&format!("\n  {kind}: {n}"));
                }
                for f in &report.failed {
                    let tag = if f.expired { "EXPIRED" } else { "FAILED" };
                    text.push_str(&format!(
                        "\n  {tag} {} (\"{}\"): {}",
                        terminal_safe(&f.attachment_id),
                        terminal_safe(&f.file_name),
                        terminal_safe(&redact(&f.reason))
                    ));
                }
                text
            });
            Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Verify {
            manifest,
            statement,
            signature,
            errors,
            coverage,
            files,
            previous,
            key,
            allow_unpinned,
        } => {
            let mut paths = ExportFiles::beside(&manifest);
            paths.statement = statement.unwrap_or(paths.statement);
            paths.signature = signature.unwrap_or(paths.signature);
            paths.errors = errors.unwrap_or(paths.errors);
            paths.coverage = coverage.unwrap_or(paths.coverage);
            let (_, parsed) = read_statement(&paths.statement)?;
            let trusted = trusted_key(&key, &parsed).await?;
            let options = VerifyOptions { files, previous, manifest_only: false };
            let verdict = verify(&paths, (&trusted.key, trusted.pinned), &trusted.source, &options).await?;
            let mut report = serde_json::to_value(&verdict).unwrap_or_default();
            report["verdict"] = verdict.outcome().into();
            print(json_mode, &report, || verdict.describe());
            let accepted = verdict.verified && (verdict.pinned || allow_unpinned);
            Ok(if accepted { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// Streams the manifest (or a file beside it) behind `link` to `out` (through `out.part`, mode 0600,
/// never following a link), verifying its SHA-256 on the way when one is expected; returns its size
/// and digest. Nothing of the link is in
/// any error.
async fn fetch_manifest(
    link: &str,
    out: &std::path::Path,
    expected: Option<&str>,
) -> Result<(u64, String), CliError> {
    let url = checked_url(link, "the manifest link").map_err(CliError::Http)?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CliError::Usage(format!("{}: not a file name", out.display())))?
        .to_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let folder = Folder::root(&parent).map_err(|e| CliError::Usage(e.0))?;
    let http = http_client(Duration::from_secs(600)).map_err(CliError::Http)?;
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| CliError::Http(format!("fetching the manifest: {}", http_error(e))))?;
    let status = response.status();
    if !status.is_success() {
        let hint = if status.is_redirection() { "; redirects are not followed" } else { "" };
        return Err(CliError::Http(format!("fetching the manifest: HTTP {}{hint}", status.as_u16())));
    }
    let partial = format!("{name}.part");
    let mut file = tokio::fs::File::from_std(folder.create_new(&partial).map_err(|e| CliError::Usage(e.0))?);
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut stream = response.bytes_stream();
    let streamed: Result<(), String> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("fetching the manifest: {}", http_error(e)))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| format!("{}: {e}", out.display()))?;
        }
        file.flush().await.map_err(|e| format!("{}: {e}", out.display()))
    }
    .await;
    drop(file);
    if let Err(why) = streamed {
        folder.remove(&partial);
        return Err(CliError::Http(why));
    }
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if expected.is_some_and(|expected| digest != expected) {
        folder.remove(&partial);
        return Err(CliError::Http("the downloaded manifest does not match its SHA-256".into()));
    }
    folder.rename(&partial, &name).map_err(|e| CliError::Usage(e.0))?;
    Ok((size, digest))
}

fn progress_bar(len: u64, hidden: bool, template: &str) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn describe(export: &Value) -> String {
    let s = |k: &str| export[k].as_str().unwrap_or("-").to_owned();
    let mut line = format!(
        "{}  {}  requested {} by {}",
        s("exportId"),
        s("status"),
        s("requestedAt"),
        export["requestedBy"]["principal"].as_str().unwrap_or("-")
    );
    match export["status"].as_str() {
        Some("SUCCEEDED") => line.push_str(&format!(
            "\n  {} attachments, {} bytes; links valid until {}",
            export["result"]["attachmentCount"],
            export["result"]["totalBytes"],
            s("urlsExpireAt")
        )),
        Some("SUCCEEDED_WITH_ERRORS") => line.push_str(&format!(
            "\n  {} attachments, {} bytes; links valid until {}\n  {} rows failed a check and are not in \
             the manifest: they are listed in errors.csv (`manifest` saves it beside the manifest)",
            export["result"]["attachmentCount"],
            export["result"]["totalBytes"],
            s("urlsExpireAt"),
            export["result"]["errorCount"]
        )),
        Some("FAILED") => {
            line.push_str(&format!("\n  {}: {}", export["error"]["code"], export["error"]["message"]))
        }
        Some("QUEUED" | "RUNNING") => line
            .push_str(&format!("\n  {} attachments listed so far", export["progress"]["attachmentsListed"])),
        Some("REVOKED") => {
            let by = &export["revokedBy"];
            let who = by["person"]["name"]
                .as_str()
                .or(by["person"]["username"].as_str())
                .or(by["principal"].as_str());
            line.push_str(&format!(
                "\n  links revoked at {} by {}: none of them works any more",
                s("revokedAt"),
                who.unwrap_or("-")
            ))
        }
        _ => {}
    }
    if let Some(fetched) = export["downloads"]["filesFetched"].as_u64() {
        line.push_str(&format!(
            "\n  {fetched} of {} files fetched through their links",
            export["result"]["attachmentCount"].as_u64().unwrap_or(0)
        ));
    }
    line
}
