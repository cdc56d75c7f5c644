//! The local stack itself (DESIGN §11): the variables of stack.env, loopback-only endpoints, the
//! invoke proxy's Lambda semantics, the gateway's API Gateway semantics, and a state machine that
//! really runs its Lambda tasks through the proxy.

use std::time::Duration;

use integration_tests::{STACK_VARIABLES, Stack, parse_env_file, repo_root};
use serde_json::json;

#[test]
fn stack_env_names_every_contract_variable_with_loopback_endpoints() {
    let text =
        std::fs::read_to_string(repo_root().join(".local/stack.env")).expect("make up wrote stack.env");
    let vars = parse_env_file(&text);
    for name in STACK_VARIABLES {
        assert!(vars.get(name).is_some_and(|v| !v.is_empty()), "{name} missing");
    }
    for (name, value) in &vars {
        if name.starts_with("AWS_ENDPOINT_URL_") || name == "API_URL" || name == "DOWNLOAD_BASE_URL" {
            assert!(value.starts_with("http://127.0.0.1:"), "{name}={value} is not loopback");
        }
    }
    assert!(!vars.contains_key("AWS_SESSION_TOKEN"), "local keys are long-term: no session token");
}

#[tokio::test]
async fn the_invoke_proxy_answers_like_lambda() {
    let stack = Stack::load();
    let lambda = stack.var("AWS_ENDPOINT_URL_LAMBDA");
    let http = reqwest::Client::new();
    // Lambda authenticates, then authorizes on the ARN asked for, before it looks the function up:
    // an unsigned call is refused, and so is a function no policy names, whether it exists or not.
    let operator = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0",
        stack.var("AWS_ACCESS_KEY_ID")
    );
    for name in ["no-such-function", "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Anope"] {
        let url = format!("{lambda}/2015-03-31/functions/{name}/invocations");
        let r = http.post(&url).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-amzn-ErrorType"], "MissingAuthenticationTokenException");
        let r = http.post(&url).header("Authorization", &operator).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-amzn-ErrorType"], "AccessDeniedException");
    }
    // A function error is HTTP 200 + X-Amz-Function-Error with the errorType, by ARN or qualified
    // ARN (the state machine's steps, invoked as the state machine's role).
    let (error_type, message) = stack
        .invoke_as_state_machine("enumerate-attachments", &json!({"not": "a step input"}))
        .await
        .unwrap_err();
    assert_eq!(error_type, "BadRequestException");
    assert!(message.contains("Enumerate"), "{message}");
    let qualified = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Awrite-manifest%3A%24LATEST";
    let state_machine = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0",
        integration_tests::STATE_MACHINE_ACCESS_KEY
    );
    let r = http
        .post(format!("{lambda}/2015-03-31/functions/{qualified}/invocations"))
        .header("Authorization", &state_machine)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["X-Amz-Function-Error"], "Unhandled");
}

#[tokio::test]
async fn the_gateway_refuses_unknown_routes_like_api_gateway() {
    let stack = Stack::load();
    for (method, path) in [
        (reqwest::Method::GET, "/nope"),
        (reqwest::Method::DELETE, "/accounts/6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f/data-exports"),
        (reqwest::Method::POST, "/accounts/6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f/data-exports/extra/segments"),
    ] {
        let reply = stack.api(method.clone(), path, None, None).await;
        assert_eq!(reply.status, 403, "{method} {path}");
        assert_eq!(reply.body["message"], "Missing Authentication Token");
    }
}

#[tokio::test]
async fn the_state_machine_runs_its_lambda_tasks_and_sees_their_error_types() {
    let stack = Stack::load();
    let sfn = stack.sfn();
    let name = format!("wiring-{}", ulid::Ulid::new());
    // A job no step accepts: Enumerate refuses it with BadRequestException, and the Catch routes
    // to RecordFailure — proof that the interpreter called the function and read its errorType.
    let input =
        json!({"job": {"accountId": "not-an-account", "exportId": "x", "cutoff": "x", "format": "csv"}});
    let execution = sfn
        .start_execution()
        .state_machine_arn(stack.var("STATE_MACHINE_ARN"))
        .name(&name)
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn;
    let mut seen_enumerate_failure = false;
    let mut entered_record_failure = false;
    for _ in 0..100 {
        let history = sfn.get_execution_history().execution_arn(&execution).send().await.unwrap();
        for event in history.events() {
            if let Some(failed) = event.lambda_function_failed_event_details() {
                seen_enumerate_failure |= failed.error() == Some("BadRequestException");
            }
            if let Some(entered) = event.state_entered_event_details() {
                entered_record_failure |= entered.name() == "RecordFailure";
            }
        }
        if seen_enumerate_failure && entered_record_failure {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen_enumerate_failure, "Enumerate's BadRequestException reached the state machine");
    assert!(entered_record_failure, "the Catch routed the failure to RecordFailure");
}
