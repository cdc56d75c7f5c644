//! The audit trail on the local stack: every refusal (404, 410, 422, 429, and a direct invocation's
//! function error) is logged by the function with the caller and the reason; every API request,
//! refused by IAM or not, has an access-log line naming the caller, route, path (its ids, never the
//! query string), status and request id, in the deployed API's format (its values are text, as
//! API Gateway writes them); replies that may carry a link are never cacheable.

use export_core::domain::ids::{AccountId, ExportId};
use export_core::domain::model::AccountType;
use integration_tests::{Caller, Stack, log_line, seed_account};
use reqwest::Method;
use serde_json::json;

fn path(account: &AccountId) -> String {
    format!("/accounts/{account}/data-exports")
}

#[tokio::test]
async fn every_refusal_is_logged_by_the_function_with_the_caller_and_the_reason() {
    let stack = Stack::load();
    let team = seed_account(&stack, AccountType::Team, false).await.id;
    let enterprise = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let unknown = AccountId::random();
    let tenant = Caller::tenant(&team, &["DataExportFullAccess"]);

    // 422: a Team account's own administrator.
    let reply = stack.api_as(&tenant, Method::POST, &path(&team), None).await;
    assert_eq!(reply.status, 422);
    let line = log_line(
        "lambda-watch",
        &["request refused", Caller::TENANT_ARN, "UnprocessableEntityException", team.as_str()],
    )
    .await;
    assert!(line.contains("claim"), "the reason the caller was given: {line}");
    // The whole principal API Gateway vouched for, not the role session alone (the local stack's
    // functions log as text: `field="value"`).
    assert!(line.contains(r#"caller_account="000000000000""#), "{line}");
    assert!(line.contains("principal_id=") && !line.contains(r#"principal_id="-""#), "{line}");
    assert!(line.contains("request_id=") && !line.contains(r#"request_id="-""#), "{line}");

    // 404 and 429 for the operator.
    assert_eq!(stack.api(Method::POST, &path(&unknown), None, None).await.status, 404);
    log_line(
        "lambda-watch",
        &["request refused", Caller::OPERATOR_ARN, "NotFoundException", unknown.as_str()],
    )
    .await;
    assert_eq!(stack.api(Method::POST, &path(&enterprise), None, None).await.status, 202);
    assert_eq!(stack.api(Method::POST, &path(&enterprise), None, None).await.status, 429);
    log_line(
        "lambda-watch",
        &["request refused", Caller::OPERATOR_ARN, "ThrottledClientException", enterprise.as_str()],
    )
    .await;
    let missing = ExportId::new();
    let reply = stack.api(Method::GET, &format!("{}/{missing}", path(&enterprise)), None, None).await;
    assert_eq!(reply.status, 404);
    log_line(
        "lambda-watch",
        &["request refused", "retrieve-export-api", "NotFoundException", &missing.to_string()],
    )
    .await;

    // A direct invocation's refusal: Lambda does not name the caller, so the log says CloudTrail does.
    let (code, _) = stack.invoke("start-export", &json!({"accountId": unknown})).await.unwrap_err();
    assert_eq!(code, "NotFoundException");
    let line = log_line(
        "lambda-watch",
        &["request refused", "CloudTrail", "lambda:Invoke", "NotFoundException", unknown.as_str()],
    )
    .await;
    // Under the invocation's request id, which CloudTrail's Invoke data event carries too.
    let request_id = line.split(r#"request_id=""#).nth(1).and_then(|rest| rest.split('"').next());
    assert!(request_id.is_some_and(|id| id.len() >= 32), "{line}");
    // And an event of another trust path.
    let forged = integration_tests::scheduled_event(integration_tests::SWEEP_RULE_ARN);
    let (code, _) = stack.invoke("retrieve-export", &forged).await.unwrap_err();
    assert_eq!(code, "WrongEntryPointException");
    log_line("lambda-watch", &["request refused", "retrieve-export", "WrongEntryPointException"]).await;
}

#[tokio::test]
async fn every_api_request_has_an_access_log_line_without_a_query_string() {
    let stack = Stack::load();
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let theirs = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let tenant = Caller::tenant(&mine, &["RetrieveDataExport"]);
    // Only this test's lines: the stack (and its log) may have served other tests and runs.
    let log_path = integration_tests::repo_root().join(".local/logs/api-gateway.log");
    let before = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
    // Refused by IAM: the function never runs, the access log still names the caller.
    let denied = stack
        .api_as(
            &tenant,
            Method::GET,
            &format!("{}?maxResults=7&nextToken=X-Amz-Signature", path(&theirs)),
            None,
        )
        .await;
    assert_eq!(denied.status, 403);
    let allowed = stack.api_as(&tenant, Method::GET, &format!("{}?maxResults=3", path(&mine)), None).await;
    assert_eq!(allowed.status, 200);
    // API Gateway delivers access logs after the reply, and so does the local gateway: wait for
    // both of this test's lines rather than read the log once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let (whole, entries) = loop {
        let whole = std::fs::read(&log_path).unwrap();
        let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&whole[before..])
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .filter(|e: &serde_json::Value| e["userArn"] == Caller::TENANT_ARN && e["httpMethod"] == "GET")
            .collect();
        let has = |status: &str| entries.iter().any(|e| e["status"] == status);
        if (has("403") && has("200")) || std::time::Instant::now() > deadline {
            break (whole, entries);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for (status, account) in [("403", &theirs), ("200", &mine)] {
        let entry = entries
            .iter()
            .find(|e| e["status"] == status)
            .unwrap_or_else(|| panic!("no {status} entry: {entries:?}"));
        assert_eq!(entry["resourcePath"], "/accounts/{accountId}/data-exports");
        // The path as called (the local stage is `local`), which names the account: no query string.
        assert_eq!(entry["path"], format!("/local{}", path(account)), "{entry}");
        assert_eq!(entry["requestId"].as_str().unwrap().len(), 36, "{entry}");
        // Signed by a principal of the account, not by a console user's Cognito credentials.
        assert_eq!(entry["callerAccountId"], "000000000000", "{entry}");
        assert_eq!(entry["cognitoIdentityId"], "-", "{entry}");
    }
    let log = String::from_utf8_lossy(&whole);
    assert!(!log.contains("X-Amz-Signature") && !log.contains("maxResults"), "no query string is logged");
}

#[tokio::test]
async fn api_replies_are_never_cacheable() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let started = stack.api(Method::POST, &path(&account), None, None).await;
    let list = stack.api(Method::GET, &path(&account), None, None).await;
    let one = stack
        .api(
            Method::GET,
            &format!("{}/{}", path(&account), started.body["exportId"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    let refused = stack.api(Method::POST, &path(&account), None, None).await;
    for reply in [&started, &list, &one, &refused] {
        assert_eq!(reply.headers["cache-control"], "no-store", "{:?}", reply.body);
    }
}
