//! Who may do what (README "Who may do what"): the local gateway evaluates template.yaml's managed
//! policies as IAM does, so a tenant administrator (principal tag chatAccountId) reaches its own
//! account only and only the routes its policies name; the operator reaches every account; an
//! untagged or unsigned caller reaches nothing. A refusal is IAM's, before any function runs: it
//! reveals nothing about another account. And Lambda's resource policies let each function be
//! invoked by its own caller only.

use export_core::domain::ids::{AccountId, ExportId};
use export_core::domain::model::AccountType;
use integration_tests::{ApiReply, Caller, Stack, seed_account};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Route {
    Start,
    List,
    Get,
}

const ROUTES: [Route; 3] = [Route::Start, Route::List, Route::Get];

impl Route {
    fn method(self) -> Method {
        if self == Route::Start { Method::POST } else { Method::GET }
    }

    fn path(self, account: &str, export_id: &str) -> String {
        match self {
            Route::Get => format!("/accounts/{account}/data-exports/{export_id}"),
            _ => format!("/accounts/{account}/data-exports"),
        }
    }

    /// The managed policies that allow this route (for the caller's own account).
    fn granted_by(self, policies: &[String]) -> bool {
        let needed = if self == Route::Start { "StartDataExport" } else { "RetrieveDataExport" };
        policies.iter().any(|p| p == needed || p == "DataExportFullAccess")
    }
}

/// Whether IAM lets `caller` call `route` on `target`, by the policies' rules.
fn allowed(caller: &Caller, route: Route, target: &AccountId) -> bool {
    if caller.policies.iter().any(|p| p == "DataExportOperator") {
        return caller.principal.is_some();
    }
    let tagged = caller.tags.iter().find(|(k, _)| k == "chatAccountId").map(|(_, v)| v.as_str());
    caller.principal.is_some() && tagged == Some(target.as_str()) && route.granted_by(&caller.policies)
}

/// API Gateway's refusal of a signed caller no policy allows, exactly.
fn expected_denial(caller: &Caller, method: &Method, path: &str) -> Value {
    let principal = caller.principal.as_deref().unwrap();
    json!({
        "Message": format!(
            "User: {principal} is not authorized to perform: execute-api:Invoke on resource: \
             arn:aws:execute-api:us-east-1:********0000:local/local/{method}{path}"
        )
    })
}

fn error_type(reply: &ApiReply) -> &str {
    reply.headers.get("x-amzn-ErrorType").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Asserts a refusal by the gateway (IAM), not by a function.
fn assert_refused(reply: &ApiReply, caller: &Caller, method: &Method, path: &str, what: &str) {
    assert_eq!(reply.status, 403, "{what}: {:?}", reply.body);
    assert!(reply.body.get("code").is_none(), "{what}: a function answered: {:?}", reply.body);
    match caller.principal {
        None => {
            assert_eq!(error_type(reply), "MissingAuthenticationTokenException", "{what}");
            assert_eq!(reply.body, json!({"message": "Missing Authentication Token"}), "{what}");
        }
        Some(_) => {
            assert_eq!(error_type(reply), "AccessDeniedException", "{what}");
            let message = reply.body["Message"].as_str().unwrap_or_default();
            assert!(message.starts_with("User: "), "{what}: {message}");
            assert_eq!(reply.body, expected_denial(caller, method, path), "{what}");
        }
    }
}

fn tenant_callers(a: &AccountId) -> Vec<(String, Caller)> {
    let policy_sets: [&[&str]; 4] = [
        &["StartDataExport"],
        &["RetrieveDataExport"],
        &["DataExportFullAccess"],
        &["StartDataExport", "RetrieveDataExport"],
    ];
    let mut callers: Vec<(String, Caller)> = policy_sets
        .iter()
        .map(|policies| (format!("tenant A with {}", policies.join("+")), Caller::tenant(a, policies)))
        .collect();
    callers.push(("untagged with DataExportFullAccess".into(), Caller::untagged(&["DataExportFullAccess"])));
    callers.push(("unsigned".into(), Caller::unsigned()));
    callers.push(("operator".into(), Caller::operator()));
    callers
}

async fn export_count(stack: &Stack, account: &AccountId) -> usize {
    let list =
        stack.api_as(&Caller::operator(), Method::GET, &Route::List.path(account.as_str(), ""), None).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    list.body["exports"].as_array().expect("a list of exports").len()
}

#[tokio::test]
async fn every_route_admits_exactly_the_callers_its_policies_name() {
    let stack = Stack::load();
    let a = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let b = seed_account(&stack, AccountType::Enterprise, false).await.id;
    // B has a real export, so its by-id route is tried with an id that exists.
    let started =
        stack.api_as(&Caller::operator(), Method::POST, &Route::Start.path(b.as_str(), ""), None).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let b_export = started.body["exportId"].as_str().unwrap().to_owned();
    // A's export comes from the first caller allowed to start one.
    let mut a_export: Option<String> = None;
    let callers = tenant_callers(&a);

    // Route-major, so A's export exists before its by-id route is tried.
    for route in ROUTES {
        for (name, caller) in &callers {
            for (target, target_name) in [(&a, "A"), (&b, "B")] {
                let export_id =
                    if target == &b { b_export.clone() } else { a_export.clone().unwrap_or_default() };
                let path = route.path(target.as_str(), &export_id);
                let method = route.method();
                let what = format!("{name}: {method} {route:?} of {target_name}");
                let reply = stack.api_as(caller, method.clone(), &path, None).await;
                if !allowed(caller, route, target) {
                    assert_refused(&reply, caller, &method, &path, &what);
                    if target == &b {
                        if route != Route::Get {
                            assert!(!reply.body.to_string().contains(&b_export), "{what}: {:?}", reply.body);
                        }
                        // Whether B exists or not, the refusal is the same, but for the ids asked for.
                        let unknown = AccountId::random();
                        let unknown_export = ExportId::new().to_string();
                        let unknown_path = route.path(unknown.as_str(), &unknown_export);
                        let other = stack.api_as(caller, method.clone(), &unknown_path, None).await;
                        assert_eq!(
                            (other.status, error_type(&other)),
                            (reply.status, error_type(&reply)),
                            "{what}"
                        );
                        let masked = |body: &Value, account: &str, export: &str| {
                            body.to_string().replace(account, "ACCOUNT").replace(export, "EXPORT")
                        };
                        assert_eq!(
                            masked(&reply.body, b.as_str(), &b_export),
                            masked(&other.body, unknown.as_str(), &unknown_export),
                            "{what}"
                        );
                    }
                    continue;
                }
                // Allowed: the function answered.
                match route {
                    Route::Start if target == &a && a_export.is_none() => {
                        assert_eq!(reply.status, 202, "{what}: {:?}", reply.body);
                        a_export = Some(reply.body["exportId"].as_str().unwrap().to_owned());
                    }
                    Route::Start => {
                        // The account's 7-day window is taken: the function's own refusal.
                        assert_eq!(reply.status, 429, "{what}: {:?}", reply.body);
                        assert_eq!(reply.body["code"], "ThrottledClientException", "{what}");
                    }
                    Route::List => {
                        assert_eq!(reply.status, 200, "{what}: {:?}", reply.body);
                        let ids: Vec<&str> = reply.body["exports"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|e| e["exportId"].as_str().unwrap())
                            .collect();
                        assert_eq!(ids, [export_id.as_str()], "{what}: the target's export only");
                    }
                    Route::Get => {
                        assert_eq!(reply.status, 200, "{what}: {:?}", reply.body);
                        assert_eq!(reply.body["exportId"], export_id.as_str(), "{what}");
                    }
                }
            }
        }
    }
    assert!(a_export.is_some(), "a tenant with StartDataExport started A's export");

    // Refused requests wrote nothing: one export each, the throttled ones left none either.
    assert_eq!(export_count(&stack, &a).await, 1);
    assert_eq!(export_count(&stack, &b).await, 1);

    // The operator reaches an unknown account's routes too, and the function answers 404.
    let unknown = AccountId::random();
    for route in ROUTES {
        let path = route.path(unknown.as_str(), &ExportId::new().to_string());
        let reply = stack.api_as(&Caller::operator(), route.method(), &path, None).await;
        assert_eq!(reply.status, 404, "operator: {path}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "NotFoundException", "{path}");
    }
}

#[tokio::test]
async fn a_tag_value_is_an_account_id_not_a_pattern() {
    let stack = Stack::load();
    let b = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let mut wildcard = Caller::untagged(&["DataExportFullAccess"]);
    wildcard.tags = vec![("chatAccountId".into(), "*".into())];
    let path = Route::Start.path(b.as_str(), "");
    let reply = stack.api_as(&wildcard, Method::POST, &path, None).await;
    assert_refused(&reply, &wildcard, &Method::POST, &path, "chatAccountId=*");
    assert_eq!(export_count(&stack, &b).await, 0);
}

#[tokio::test]
async fn a_service_principal_only_reaches_its_own_function() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let event: Value = serde_json::from_str(
        &include_str!("../../events/start-export-api/api-start.json")
            .replace("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f", account.as_str()),
    )
    .unwrap();
    let route_arn = |method: &str| {
        format!(
            "arn:aws:execute-api:us-east-1:000000000000:local/local/{method}/accounts/{account}/data-exports"
        )
    };

    // The operator may invoke the two direct functions, not the API's, nor the sweep.
    let (error_type, message) = stack.invoke("start-export-api", &event).await.unwrap_err();
    assert_eq!(error_type, "AccessDeniedException", "{message}");
    assert_eq!(
        message,
        format!(
            "User: {} is not authorized to perform: lambda:InvokeFunction on resource: \
             arn:aws:lambda:us-east-1:000000000000:function:start-export-api because no identity-based \
             policy allows the lambda:InvokeFunction action",
            Caller::OPERATOR_ARN
        )
    );
    let daily: Value = serde_json::from_str(include_str!("../../events/sweep-exports/daily.json")).unwrap();
    let (error_type, _) = stack.invoke("sweep-exports", &daily).await.unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    let (error_type, _) = stack.invoke_as_state_machine("start-export-api", &event).await.unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");

    // API Gateway, but from another route: no permission's SourceArn matches.
    let (error_type, message) = stack
        .invoke_as_service("start-export-api", "apigateway.amazonaws.com", &route_arn("GET"), &event)
        .await
        .unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    assert!(
        message.ends_with("because no resource-based policy allows the lambda:InvokeFunction action"),
        "{message}"
    );
    // API Gateway may not invoke the direct function, nor EventBridge the API's.
    let (error_type, _) = stack
        .invoke_as_service("start-export", "apigateway.amazonaws.com", &route_arn("POST"), &event)
        .await
        .unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    let rule = "arn:aws:events:us-east-1:000000000000:rule/attachment-export-sweep";
    let (error_type, _) =
        stack.invoke_as_service("start-export-api", "events.amazonaws.com", rule, &event).await.unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    // EventBridge from a rule that is not one of the sweep's two.
    let (error_type, _) = stack
        .invoke_as_service(
            "sweep-exports",
            "events.amazonaws.com",
            "arn:aws:events:us-east-1:000000000000:rule/attachment-export-other",
            &daily,
        )
        .await
        .unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    assert_eq!(export_count(&stack, &account).await, 0, "no refused invocation reached the function");

    // API Gateway from the POST route reaches start-export-api, which answers a proxy result.
    let reply = stack
        .invoke_as_service("start-export-api", "apigateway.amazonaws.com", &route_arn("POST"), &event)
        .await
        .unwrap();
    assert!(reply["statusCode"].is_u64(), "{reply}");
}
