//! StartDataExport end to end on the local stack: through the local API gateway (real REST proxy
//! events, IAM principal) to start-export-api, and through the Lambda Invoke API (`aws lambda
//! invoke`) to start-export, which refuses the events of the other trust paths. The schedule is
//! sweep-exports' (tests/tests/sweep.rs).

use std::time::Duration;

use export_core::aws::Aws;
use export_core::aws::StepFunctionsWorkflow;
use export_core::domain::model::{AccountType, ExportStatus, Via};
use export_core::ports::{ExportStore, SystemClock};
use export_core::rules::start::{StartRequest, Starter};
use integration_tests::{Stack, seed_account};
use reqwest::Method;
use serde_json::json;

const LOCAL_PRINCIPAL: &str = "arn:aws:iam::000000000000:user/local-admin";

fn path(account: &export_core::domain::ids::AccountId) -> String {
    format!("/accounts/{account}/data-exports")
}

#[tokio::test]
async fn accepted_then_throttled_then_repeated_by_token() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;

    let first = stack
        .api(Method::POST, &path(&account), Some(r#"{"clientToken":"wk-48","format":"jsonl"}"#.into()), None)
        .await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let export_id = first.body["exportId"].as_str().unwrap().to_owned();
    assert_eq!(first.body["status"], "QUEUED");
    assert_eq!(first.body["requestedAt"], first.body["cutoff"]);
    let record = stack
        .export_store()
        .get(&account.clone().into(), &export_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.requested_by.principal, LOCAL_PRINCIPAL);
    assert_eq!(record.requested_by.via, Via::Api);
    assert_eq!(record.format, export_core::domain::model::ExportFormat::Jsonl);
    // The state machine was started, named by the export id.
    let execution_arn = record.execution_arn.expect("execution recorded");
    assert!(execution_arn.ends_with(&export_id));
    let execution = stack.sfn().describe_execution().execution_arn(&execution_arn).send().await.unwrap();
    let input: serde_json::Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(input["job"]["exportId"], export_id);
    assert_eq!(input["job"]["accountId"], account.as_str());

    // Another request in the window: 429 with Retry-After and nextAllowedAt.
    let second =
        stack.api(Method::POST, &path(&account), Some(r#"{"clientToken":"other"}"#.into()), None).await;
    assert_eq!(second.status, 429, "{:?}", second.body);
    assert_eq!(second.body["code"], "ThrottledClientException");
    assert_eq!(second.body["nextAllowedAt"], first.body["nextAllowedAt"]);
    let retry_after: u64 = second.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((604_000..=604_800).contains(&retry_after), "{retry_after}");

    // The accepted request's token again: the same export, 200.
    let repeat = stack
        .api(Method::POST, &path(&account), Some(r#"{"clientToken":"wk-48","format":"jsonl"}"#.into()), None)
        .await;
    assert_eq!(repeat.status, 200, "{:?}", repeat.body);
    assert_eq!(repeat.body["exportId"], export_id.as_str());
    assert_eq!(stack.export_store().list(&account.clone().into(), 10, None).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn refusals_carry_the_documented_codes_and_write_nothing() {
    let stack = Stack::load();
    let team = seed_account(&stack, AccountType::Team, false).await.id;
    let enterprise = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let unknown = export_core::domain::ids::AccountId::random();
    let big = format!(r#"{{"clientToken":"{}"}}"#, "x".repeat(17 * 1024));
    // (path, body, principal, status, code)
    type Case<'a> = (String, Option<String>, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (path(&team), None, None, 422, "UnprocessableEntityException"),
        (path(&unknown), None, None, 404, "NotFoundException"),
        ("/accounts/NOT-A-UUID/data-exports".into(), None, None, 400, "BadRequestException"),
        (path(&enterprise), Some(r#"{"format":"xlsx"}"#.into()), None, 400, "BadRequestException"),
        (
            path(&enterprise),
            Some(r#"{"clientToken":"a","notify":true}"#.into()),
            None,
            400,
            "BadRequestException",
        ),
        (path(&enterprise), Some(r#"{"clientToken": "#.into()), None, 400, "BadRequestException"),
        (path(&enterprise), Some(r#"{"clientToken":"has spaces"}"#.into()), None, 400, "BadRequestException"),
        (path(&enterprise), Some(r#"[1,2]"#.into()), None, 400, "BadRequestException"),
        (path(&enterprise), Some(big), None, 413, "BadRequestException"),
    ];
    for (p, body, principal, status, code) in cases {
        let reply = stack.api(Method::POST, &p, body.clone(), principal).await;
        assert_eq!(reply.status, status, "{p} {body:?}: {:?}", reply.body);
        assert_eq!(reply.body["code"], code, "{p}");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.len() > 20 && !message.contains("Error("), "{p}: {message}");
    }
    assert!(reply_has(&stack.api(Method::POST, &path(&team), None, None).await, "claim"));
    // Nothing was written for any refused request.
    for account in [&team, &enterprise] {
        assert!(stack.export_store().list(&account.into(), 10, None).await.unwrap().items.is_empty());
        assert!(stack.export_store().throttle(&account.into()).await.unwrap().is_none());
    }
}

fn reply_has(reply: &integration_tests::ApiReply, text: &str) -> bool {
    reply.body["message"].as_str().is_some_and(|m| m.contains(text))
}

#[tokio::test]
async fn twenty_concurrent_api_requests_get_exactly_one_202() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let requests =
        (0..20).map(|i| {
            let stack = stack.clone();
            let p = path(&account);
            async move {
                stack.api(Method::POST, &p, Some(format!(r#"{{"clientToken":"c{i}"}}"#)), None).await.status
            }
        });
    let mut statuses = futures::future::join_all(requests).await;
    statuses.sort();
    let mut expected = vec![202];
    expected.extend([429; 19]);
    assert_eq!(statuses, expected);
    assert_eq!(stack.export_store().list(&account.clone().into(), 50, None).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn direct_invocation_answers_the_same_json_and_refuses_with_error_types() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let reply =
        stack.invoke("start-export", &json!({"accountId": account, "clientToken": "cli-1"})).await.unwrap();
    assert_eq!(reply["status"], "QUEUED");
    let export_id = reply["exportId"].as_str().unwrap();
    let record = stack
        .export_store()
        .get(&account.clone().into(), &export_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.requested_by.via, Via::Invoke);
    assert!(record.requested_by.principal.contains("CloudTrail"), "{}", record.requested_by.principal);
    assert_eq!(record.format, export_core::domain::model::ExportFormat::Csv);

    let (error_type, message) =
        stack.invoke("start-export", &json!({"accountId": account})).await.unwrap_err();
    assert_eq!(error_type, "ThrottledClientException");
    assert!(message.contains("next request is possible"), "{message}");
    let team = seed_account(&stack, AccountType::Team, false).await.id;
    let (error_type, _) = stack.invoke("start-export", &json!({"accountId": team})).await.unwrap_err();
    assert_eq!(error_type, "UnprocessableEntityException");
    let (error_type, _) =
        stack.invoke("start-export", &json!({"accountId": "x", "format": "csv"})).await.unwrap_err();
    assert_eq!(error_type, "BadRequestException");
    let (error_type, message) = stack.invoke("start-export", &json!({"hello": "world"})).await.unwrap_err();
    assert_eq!(error_type, "BadRequestException");
    assert!(message.contains("no accountId"), "{message}");
}

#[tokio::test]
async fn forged_api_and_scheduled_events_sent_to_start_export_are_refused_and_write_nothing() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, true).await.id;
    // An API-shaped event naming a principal of the caller's choosing: it must never be recorded.
    let forged_api = json!({
        "resource": "/accounts/{accountId}/data-exports", "path": format!("/accounts/{account}/data-exports"),
        "httpMethod": "POST", "pathParameters": {"accountId": account},
        "requestContext": {"identity": {"userArn": "arn:aws:iam::000000000000:user/someone-else"},
                           "resourcePath": "/accounts/{accountId}/data-exports", "httpMethod": "POST"},
        "headers": {}, "body": null, "isBase64Encoded": false
    });
    let forged_schedule = integration_tests::scheduled_event(integration_tests::SWEEP_RULE_ARN);
    for forged in [&forged_api, &forged_schedule] {
        let (error_type, message) = stack.invoke("start-export", forged).await.unwrap_err();
        assert_eq!(error_type, "WrongEntryPointException", "{message}");
        assert!(message.contains("Nothing was read or recorded"), "{message}");
        assert!(!message.contains("someone-else"), "{message}");
    }
    assert!(stack.export_store().list(&account.clone().into(), 10, None).await.unwrap().items.is_empty());
    assert!(stack.export_store().throttle(&account.clone().into()).await.unwrap().is_none());
    // Nor is the API function reachable by the operator's own invocation.
    let (error_type, _) = stack.invoke("start-export-api", &forged_api).await.unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    assert!(stack.export_store().list(&account.clone().into(), 10, None).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn an_unsigned_request_gets_api_gateways_own_answer_and_reaches_no_function() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let reply = stack.api(Method::POST, &path(&account), None, Some("none")).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, json!({"message": "Missing Authentication Token"}));
    assert_eq!(reply.headers["x-amzn-errortype"], "MissingAuthenticationTokenException");
    assert!(stack.export_store().list(&account.clone().into(), 10, None).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_failed_start_execution_leaves_the_export_failed_and_the_window_open() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let store = stack.export_store();
    // A state machine that does not exist: StartExecution fails after the record is written.
    let workflow = StepFunctionsWorkflow::new(
        stack.sfn(),
        "arn:aws:states:us-east-1:000000000000:stateMachine:NoSuchStateMachine",
    );
    let starter = Starter::<Aws> {
        directory: stack.directory(),
        store: store.clone(),
        workflow,
        clock: SystemClock,
        window: Duration::from_secs(604_800),
        allow_unchecked: false,
        self_service: false,
    };
    let request = StartRequest {
        owner: account.clone().into(),
        client_token: None,
        format: export_core::domain::model::ExportFormat::Csv,
        verify_objects: true,
        since: None,
        requested_by: export_core::domain::model::RequestedBy {
            principal: LOCAL_PRINCIPAL.into(),
            via: Via::Api,
            person: None,
        },
    };
    let err = starter.start(request).await.unwrap_err();
    assert_eq!(err.into_api().code(), "ServiceFailureException");
    let records = store.list(&account.clone().into(), 10, None).await.unwrap().items;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, ExportStatus::Failed);
    assert!(records[0].error.as_ref().unwrap().message.contains("request an export again now"));
    assert!(store.throttle(&account.clone().into()).await.unwrap().is_none(), "window given back");

    // The administrator can ask again at once, through the real stack.
    let again = stack.api(Method::POST, &path(&account), None, None).await;
    assert_eq!(again.status, 202, "{:?}", again.body);
}
