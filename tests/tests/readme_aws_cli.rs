//! The README's AWS CLI commands, run exactly as printed with the real AWS CLI against the local
//! stack, and a refusal as the AWS CLI shows it.
//!
//! **Which README blocks run.** A fenced shell block of README.md is run by this test when the line
//! right before its opening fence is exactly `<!-- readme-test: aws-cli -->` (an HTML comment, so
//! invisible on GitHub; indentation is allowed, for a block inside a list item). Mark a block only
//! if it runs unattended against the local stack.
//!
//! **How they run.** In README order, each through `bash -euo pipefail`, in one fresh temporary
//! working directory, after `source .local/stack.env` (as the README tells the reader), with a
//! HOME of its own (no AWS config or credentials files: the CLI needs none) and only `PATH`, `HOME`
//! and the variables the README tells the reader to set: `ACCOUNT_ID` (here a freshly seeded
//! Enterprise account) and, once a block has written an `out.json` with an `exportId`, `EXPORT_ID`.
//! The `aws` they reach must be the pinned AWS CLI v1 of `.local/awscli`
//! (`infra/local/requirements-awscli.lock`), which `.local/stack.env` puts first on PATH.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use export_core::domain::model::AccountType;
use integration_tests::{Stack, repo_root, seed_account};
use serde_json::{Value, json};

const MARKER: &str = "<!-- readme-test: aws-cli -->";

/// The marked shell blocks of a Markdown text, in order, without their fences and with the fence's
/// indentation removed.
fn marked_blocks(markdown: &str) -> Vec<String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != MARKER {
            i += 1;
            continue;
        }
        let fence = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            fence.trim_start().starts_with("```"),
            "README line {}: {MARKER} must come right before a fenced block, not {fence:?}",
            i + 2
        );
        let indent = fence.len() - fence.trim_start().len();
        let mut body = Vec::new();
        let mut j = i + 2;
        loop {
            let line = *lines.get(j).unwrap_or_else(|| panic!("README line {}: unclosed block", i + 2));
            if line.trim() == "```" {
                break;
            }
            body.push(line.get(indent..).unwrap_or_else(|| line.trim_start()));
            j += 1;
        }
        blocks.push(body.join("\n") + "\n");
        i = j + 1;
    }
    blocks
}

/// A fresh temporary working directory, removed when the test passes.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("readme-aws-cli-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(path.join("home")).unwrap();
        Self(path)
    }

    fn read_json(&self, file: &str) -> Value {
        let path = self.0.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
    }

    fn write_json(&self, file: &str, value: &Value) {
        std::fs::write(self.0.join(file), serde_json::to_vec(value).unwrap()).unwrap();
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs `script` through `bash -euo pipefail` in `dir`, after `source .local/stack.env`, with
/// nothing of this process's environment but PATH, plus `vars`.
fn run(dir: &WorkDir, script: &str, vars: &[(&str, String)]) -> Output {
    let stack_env = repo_root().join(".local/stack.env");
    assert!(stack_env.is_file(), "{} is missing; run `make up`", stack_env.display());
    let stack_env = stack_env.to_str().expect("a UTF-8 repo path");
    assert!(!stack_env.contains('\''), "a repo path without quotes");
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &format!("source '{stack_env}'\n{script}")])
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.0.join("home"))
        .env("LANG", "C.UTF-8");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("bash runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `script` and insists that it succeeded; returns its standard output.
fn run_ok(dir: &WorkDir, script: &str, vars: &[(&str, String)]) -> String {
    let output = run(dir, script, vars);
    assert!(
        output.status.success(),
        "{}\nexited with {}\nstdout:\n{}\nstderr:\n{}",
        script,
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// The `aws` after `source .local/stack.env` is the pinned AWS CLI v1 of .local/awscli, and the
/// environment it sees is the running stack's.
fn assert_the_real_aws_cli_runs(stack: &Stack, dir: &WorkDir) {
    let out = run_ok(
        dir,
        "command -v aws\naws --version 2>&1\nprintf '%s\\n' \"$AWS_DEFAULT_REGION\" \"$AWS_ENDPOINT_URL_LAMBDA\"",
        &[],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(Path::new(lines[0]), repo_root().join(".local/awscli/bin/aws"), "{out}");
    assert!(lines[1].starts_with("aws-cli/1."), "not the pinned AWS CLI v1: {out}");
    assert_eq!(lines[2], stack.var("AWS_REGION"), "stack.env sets AWS_DEFAULT_REGION, which the CLI reads");
    assert_eq!(lines[3], stack.var("AWS_ENDPOINT_URL_LAMBDA"), ".local/stack.env is not the running stack's");
}

#[test]
fn the_readme_marks_its_aws_cli_blocks_and_they_need_no_placeholders_or_endpoint_flags() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let blocks = marked_blocks(&readme);
    for needle in ["--function-name start-export", "--function-name retrieve-export", "aws stepfunctions"] {
        assert!(blocks.iter().any(|b| b.contains(needle)), "no marked README block runs `{needle}`");
    }
    for block in &blocks {
        for refused in ["--endpoint-url", "--cli-binary-format", "<", "..."] {
            assert!(!block.contains(refused), "a marked README block holds {refused:?}:\n{block}");
        }
    }
    // Every `aws lambda invoke` of the README passes its payload as a file, which CLI v1 and v2
    // both send unchanged.
    for line in readme.lines().filter(|l| l.trim_start().starts_with("aws lambda invoke")) {
        assert!(line.contains("--payload fileb://"), "{line}");
    }
    // The extraction itself, on a list item's indented block.
    let sample =
        format!("text\n\n  {MARKER}\n  ```sh\n  echo a\n    echo b\n  ```\n\n```sh\nnot marked\n```\n");
    assert_eq!(marked_blocks(&sample), vec!["echo a\n  echo b\n".to_owned()]);
}

#[tokio::test]
async fn the_readme_aws_cli_blocks_run_as_printed_with_the_real_aws_cli() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let dir = WorkDir::new("blocks");
    assert_the_real_aws_cli_runs(&stack, &dir);

    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut vars = vec![("ACCOUNT_ID", account.to_string())];
    let mut export_id: Option<String> = None;
    for block in marked_blocks(&readme) {
        let stdout = run_ok(&dir, &block, &vars);
        if block.contains("--function-name start-export") {
            // StartDataExport through the CLI: accepted, QUEUED.
            assert!(stdout.contains("\"StatusCode\": 200"), "{stdout}");
            assert!(!stdout.contains("FunctionError"), "{stdout}");
            let reply = dir.read_json("out.json");
            assert_eq!(reply["status"], "QUEUED", "{reply}");
            let id = reply["exportId"].as_str().filter(|id| !id.is_empty()).expect("an exportId").to_owned();
            vars.push(("EXPORT_ID", id.clone()));
            export_id = Some(id);
        }
        if block.contains("--function-name retrieve-export") {
            // RetrieveDataExport through the CLI: the list shows the export, and that export answers.
            let id = export_id.as_deref().expect("the start-export block comes first");
            let list = dir.read_json("exports.json");
            let listed = list["exports"].as_array().expect("a list of exports");
            assert_eq!(listed.len(), 1, "{list}");
            assert_eq!(listed[0]["exportId"], id, "{list}");
            let one = dir.read_json("export.json");
            assert_eq!(one["exportId"], id, "{one}");
            assert_eq!(one["accountId"], account.as_str(), "{one}");
        }
        if block.contains("aws stepfunctions") {
            // Step Functions through the CLI (AWS_ENDPOINT_URL_SFN): the export's execution.
            let id = export_id.as_deref().expect("the start-export block comes first");
            assert!(stdout.contains(&format!("execution:ExportStateMachine:{id}")), "{stdout}");
            assert!(stdout.contains("\"events\""), "no execution history: {stdout}");
        }
    }
    assert!(export_id.is_some(), "no marked README block started an export");
}

/// Sends `payload` to start-export through the real CLI, as `aws lambda invoke ... fileb://`.
/// Returns the CLI's standard output and the function's reply (out.json).
fn invoke_start_export(dir: &WorkDir, payload: &Value) -> (String, Value) {
    dir.write_json("forged.json", payload);
    let stdout = run_ok(
        dir,
        "aws lambda invoke --function-name start-export --payload fileb://forged.json out.json",
        &[],
    );
    (stdout, dir.read_json("out.json"))
}

/// The account's exports, as retrieve-export lists them to the real CLI.
fn listed_exports(dir: &WorkDir, account: &str) -> Vec<Value> {
    dir.write_json("list.json", &json!({"accountId": account}));
    let stdout = run_ok(
        dir,
        "aws lambda invoke --function-name retrieve-export --payload fileb://list.json exports.json",
        &[],
    );
    assert!(!stdout.contains("FunctionError"), "{stdout}");
    dir.read_json("exports.json")["exports"].as_array().expect("a list of exports").clone()
}

#[tokio::test]
async fn start_export_refuses_an_api_gateway_event_through_the_real_cli_and_writes_nothing() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let dir = WorkDir::new("forged-api");
    assert_the_real_aws_cli_runs(&stack, &dir);

    let forged = json!({
        "httpMethod": "POST",
        "resource": "/accounts/{accountId}/data-exports",
        "path": format!("/accounts/{account}/data-exports"),
        "requestContext": {"identity": {"userArn": "arn:aws:iam::000000000000:user/forged"}},
        "pathParameters": {"accountId": account.as_str()},
    });
    let (stdout, reply) = invoke_start_export(&dir, &forged);
    assert!(stdout.contains("\"FunctionError\": \"Unhandled\""), "{stdout}");
    assert_eq!(reply["errorType"], "WrongEntryPointException", "{reply}");
    assert!(listed_exports(&dir, account.as_str()).is_empty(), "a refused event wrote an export");
}

#[tokio::test]
async fn start_export_refuses_a_scheduled_event_through_the_real_cli_and_writes_nothing() {
    let stack = Stack::load();
    // Opted in to scheduled exports: a sweep would start one for it.
    let account = seed_account(&stack, AccountType::Enterprise, true).await.id;
    let dir = WorkDir::new("forged-schedule");
    assert_the_real_aws_cli_runs(&stack, &dir);

    let forged = json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-11-24T03:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/attachment-export-sweep"],
        "detail": {},
    });
    let (stdout, reply) = invoke_start_export(&dir, &forged);
    assert!(stdout.contains("\"FunctionError\": \"Unhandled\""), "{stdout}");
    assert_eq!(reply["errorType"], "WrongEntryPointException", "{reply}");
    assert!(listed_exports(&dir, account.as_str()).is_empty(), "a refused event wrote an export");
}
