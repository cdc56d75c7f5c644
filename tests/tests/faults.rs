//! Faults on the local stack (DESIGN §4–§6, issue #9): a server stopped in the middle of a step, a
//! panicking step, an execution that ends without recording an outcome. These tests stop and pause
//! the shared servers, so `make test` runs this file alone, after every other test, one test at a time.

use std::time::Duration;

use export_core::domain::model::{AccountType, ConversationType, ExportStatus};
use export_core::ports::ExportStore;
use integration_tests::{
    SeededAccount, Server, Stack, attachment, download_manifest, repo_root, rows, seed_account, sha256_hex,
};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(300);
const ATTACHMENTS: u64 = 40;

async fn seeded_with_files(stack: &Stack) -> SeededAccount {
    let seeded = seed_account(stack, AccountType::Enterprise, false).await;
    let base = export_core::Timestamp::parse("2026-05-01T08:00:00Z").unwrap();
    let mut attachments: Vec<_> = (0..ATTACHMENTS)
        .map(|i| {
            attachment(
                &seeded.id,
                &seeded.managed_user,
                ConversationType::Direct,
                base.plus(Duration::from_secs(i)),
            )
        })
        .collect();
    stack.add_attachments(&mut attachments, true).await;
    seeded
}

async fn request_export(stack: &Stack, seeded: &SeededAccount) -> String {
    let reply = stack.api(Method::POST, &format!("/accounts/{}/data-exports", seeded.id), None, None).await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    reply.body["exportId"].as_str().unwrap().to_owned()
}

/// The promise after any fault: SUCCEEDED with a complete, correct manifest whose every link
/// downloads the right bytes; or FAILED with the window given back and no manifest in the bucket.
async fn assert_kept_its_promise(stack: &Stack, seeded: &SeededAccount, export_id: &str, view: &Value) {
    match view["status"].as_str().unwrap() {
        "SUCCEEDED" => {
            let manifest = download_manifest(view).await;
            let rows = rows(&manifest);
            assert_eq!(rows.len() as u64, ATTACHMENTS, "every attachment listed once");
            assert_eq!(view["result"]["attachmentCount"].as_u64(), Some(ATTACHMENTS));
            let client = reqwest::Client::new();
            for row in &rows {
                let body = client.get(&row[13]).send().await.unwrap();
                assert_eq!(body.status(), 200);
                assert_eq!(sha256_hex(&body.bytes().await.unwrap()), row[11].to_string(), "the right bytes");
            }
        }
        "FAILED" => {
            let throttle = stack.export_store().throttle(&seeded.owner()).await.unwrap();
            assert!(
                throttle.is_none_or(|t| t.current.last_export_id.to_string() != export_id),
                "a FAILED export gives its window back"
            );
            let key = format!("exports/{}/{export_id}/attachments.csv", seeded.id);
            let head = stack.s3().head_object().bucket(stack.var("EXPORT_BUCKET")).key(&key).send().await;
            assert!(head.is_err(), "no manifest of a FAILED export");
            let again =
                stack.api(Method::POST, &format!("/accounts/{}/data-exports", seeded.id), None, None).await;
            assert_eq!(again.status, 202, "the administrator can ask again at once: {:?}", again.body);
        }
        other => panic!("export {export_id} ended {other}"),
    }
}

#[tokio::test]
async fn the_s3_server_stopped_during_write_parts_and_started_again() {
    let stack = Stack::load();
    let seeded = seeded_with_files(&stack).await;
    let held = stack.hold("write-manifest", &seeded.id, Some("part")).await;
    let export_id = request_export(&stack, &seeded).await;
    held.arrived(WAIT).await;

    let s3 = Server("s3");
    s3.stop();
    held.release().await; // WriteParts now runs against a stopped S3 server
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert!(!during.status.is_final(), "nothing can finish while S3 is down: {}", during.status);
    s3.start();

    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_kept_its_promise(&stack, &seeded, &export_id, &view).await;
}

#[tokio::test]
async fn dynamodb_paused_during_enumerate_and_resumed() {
    let stack = Stack::load();
    let seeded = seeded_with_files(&stack).await;
    let held = stack.hold("enumerate-attachments", &seeded.id, None).await;
    let export_id = request_export(&stack, &seeded).await;
    held.arrived(WAIT).await;

    let dynamodb = Server("dynamodb");
    dynamodb.pause();
    held.release().await; // Enumerate's Queries now hang on a frozen DynamoDB
    tokio::time::sleep(Duration::from_secs(5)).await;
    dynamodb.resume();

    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_kept_its_promise(&stack, &seeded, &export_id, &view).await;
}

/// What a real panic in a step looks like to Lambda: the fixture function panics under a Runtime
/// API, exactly as the four functions run on Lambda (same runtime crate, same release profile).
fn real_panic_report() -> (String, Value) {
    let dir = std::env::temp_dir().join(format!("panic-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let (panic, echo) = (dir.join("panic.json"), dir.join("echo.json"));
    std::fs::write(&panic, r#"{"panic": true}"#).unwrap();
    std::fs::write(&echo, r#"{"still": "alive"}"#).unwrap();
    let output = std::process::Command::new(repo_root().join(".local/venv/bin/python"))
        .arg(repo_root().join("infra/local/servers/runtime_api.py"))
        .args(["--event", panic.to_str().unwrap(), "--event", echo.to_str().unwrap(), "--"])
        .arg(env!("CARGO_BIN_EXE_panicking-function"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = &report["runs"][0]["results"];
    assert_eq!(results[0]["kind"], "error", "{report}");
    assert_eq!(results[1]["kind"], "response", "the process lives on after a panic: {report}");
    assert_eq!(results[1]["body"], json!({"still": "alive"}));
    let error = results[0]["body"].clone();
    (error["errorType"].as_str().unwrap().to_owned(), error)
}

#[tokio::test]
async fn a_panicking_step_fails_the_export_instead_of_hanging_it() {
    let (error_type, error) = real_panic_report();
    assert!(error["errorMessage"].as_str().unwrap().starts_with("Lambda panicked"), "{error}");

    // That errorType, raised by the Finalize step: the state machine's Catch takes it.
    let stack = Stack::load();
    let seeded = seeded_with_files(&stack).await;
    stack.inject_fault("write-manifest", &seeded.id, Some("finalize"), &error_type, 1).await;
    let export_id = request_export(&stack, &seeded).await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "FAILED", "{view}");
    assert_eq!(view["error"]["code"], "StepCrashed", "{view}");
    assert!(!view["error"]["message"].as_str().unwrap().contains("alloc::"), "no internals: {view}");
    assert_kept_its_promise(&stack, &seeded, &export_id, &view).await;
}

#[tokio::test]
async fn the_schedule_fails_an_export_whose_execution_ended_and_gives_its_window_back() {
    let stack = Stack::load();
    let seeded = seeded_with_files(&stack).await;
    let held = stack.hold("enumerate-attachments", &seeded.id, None).await;
    let export_id = request_export(&stack, &seeded).await;
    held.arrived(WAIT).await;

    // The execution is stopped under the export (an operator, a bug, the total timeout): none of its
    // steps will ever record an outcome.
    let execution_arn = format!(
        "{}:{export_id}",
        stack.var("STATE_MACHINE_ARN").replacen(":stateMachine:", ":execution:", 1)
    );
    stack.sfn().stop_execution().execution_arn(&execution_arn).send().await.unwrap();
    // The step in flight finishes; the execution then ends ABORTED, with the export still open.
    held.release().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let execution = stack.sfn().describe_execution().execution_arn(&execution_arn).send().await.unwrap();
        if execution.status.as_str() != "RUNNING" {
            assert_eq!(execution.status.as_str(), "ABORTED");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the stopped execution never ended");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stuck =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert!(!stuck.status.is_final(), "stuck: {}", stuck.status);
    let throttle = stack.export_store().throttle(&seeded.owner()).await.unwrap().unwrap();
    assert_eq!(throttle.current.last_export_id.to_string(), export_id, "and holding the window");

    // The daily schedule finds it.
    let (reply, _) = stack.sweep().await;
    assert!(reply["sweep"]["report"]["recovered"].as_u64().unwrap() >= 1, "{reply}");

    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "FAILED", "{view}");
    assert_eq!(view["error"]["code"], "ExecutionAborted", "{view}");
    assert!(view["error"]["message"].as_str().unwrap().contains("request an export again now"));
    let record =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    assert_kept_its_promise(&stack, &seeded, &export_id, &view).await;
}
