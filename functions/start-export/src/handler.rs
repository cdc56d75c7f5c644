//! start-export's handler: tells the three entry points apart by their shape, turns each into a
//! `StartRequest` (or a sweep), and shapes the reply the caller expects. No rules live here.

use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use export_core::Error;
use export_core::api::{HttpReply, describe_json_error, parse_body};
use export_core::ids::AccountId;
use export_core::model::{ExportFormat, RequestedBy, Via};
use export_core::ports::{AttachmentCatalog, Clock, ExportStore, Workflow};
use export_core::start::{StartReply, StartRequest, Starter, validate_client_token};
use gateway::{DIRECT_INVOKE_PRINCIPAL, principal, to_proxy_response, to_value};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;

/// The only route this function serves.
pub const ROUTE: &str = "/accounts/{accountId}/data-exports";

pub struct Deps<C, S, W, K> {
    pub catalog: C,
    pub store: S,
    pub workflow: W,
    pub clock: K,
    pub window: Duration,
    /// `SCHEDULED_EXPORTS`: whether the schedule starts exports, besides closing stuck ones.
    pub scheduled_exports: bool,
}

impl<C: AttachmentCatalog, S: ExportStore, W: Workflow, K: Clock> Deps<C, S, W, K> {
    fn starter(&self) -> Starter<'_, C, S, W, K> {
        Starter {
            catalog: &self.catalog,
            store: &self.store,
            workflow: &self.workflow,
            clock: &self.clock,
            window: self.window,
        }
    }
}

/// The three shapes start-export accepts.
#[derive(Debug)]
pub enum Entry {
    Api(Box<ApiGatewayProxyRequest>),
    Direct(DirectRequest),
    Schedule(EventBridgeEvent<Value>),
}

/// `aws lambda invoke` payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectRequest {
    pub account_id: String,
    #[serde(default, deserialize_with = "present")]
    pub client_token: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub format: Option<String>,
}

/// The optional POST body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartBody {
    #[serde(default, deserialize_with = "present")]
    client_token: Option<String>,
    #[serde(default, deserialize_with = "present")]
    format: Option<String>,
}

/// An optional field may be left out, but not sent as `null`: the API's schema (which API Gateway
/// enforces) says it is a string, and the direct invocation answers the same.
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<String>, D::Error> {
    String::deserialize(value).map(Some)
}

const UNKNOWN_SHAPE: &str = "start-export accepts an API Gateway request for POST /accounts/{accountId}/data-exports, \
a direct invocation {\"accountId\": \"...\", \"clientToken\"?: \"...\", \"format\"?: \"csv\" | \"jsonl\"}, or an \
EventBridge Scheduled Event; this event is none of these.";

pub fn classify(payload: Value) -> Result<Entry, Error> {
    let Value::Object(fields) = &payload else {
        return Err(Error::BadRequest(UNKNOWN_SHAPE.into()));
    };
    let is_scheduled = fields.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && matches!(fields.get("source").and_then(Value::as_str), Some("aws.events" | "aws.scheduler"));
    if gateway::is_proxy_event(&payload) {
        gateway::parse_proxy_event(payload).map(|r| Entry::Api(Box::new(r)))
    } else if is_scheduled {
        serde_json::from_value(payload)
            .map(Entry::Schedule)
            .map_err(|e| Error::BadRequest(format!("malformed Scheduled Event: {e}")))
    } else if fields.contains_key("accountId") {
        serde_json::from_value(payload).map(Entry::Direct).map_err(|e| {
            Error::BadRequest(format!("The invocation payload is not valid: {}.", describe_json_error(&e)))
        })
    } else {
        Err(Error::BadRequest(UNKNOWN_SHAPE.into()))
    }
}

fn start_request(
    account_id: &str,
    client_token: Option<String>,
    format: Option<String>,
    requested_by: RequestedBy,
) -> Result<StartRequest, Error> {
    let account_id = AccountId::parse(account_id)?;
    if let Some(token) = &client_token {
        validate_client_token(token)?;
    }
    let format = format.as_deref().map(str::parse).transpose()?.unwrap_or(ExportFormat::Csv);
    Ok(StartRequest { account_id, client_token, format, requested_by })
}

pub async fn handler<C, S, W, K>(deps: &Deps<C, S, W, K>, event: LambdaEvent<Value>) -> Result<Value, Error>
where
    C: AttachmentCatalog,
    S: ExportStore,
    W: Workflow,
    K: Clock,
{
    match classify(event.payload)? {
        Entry::Api(request) => to_value(&to_proxy_response(api(deps, &request).await)),
        Entry::Direct(request) => {
            let requested_by = RequestedBy { principal: DIRECT_INVOKE_PRINCIPAL.into(), via: Via::Cli };
            let request =
                start_request(&request.account_id, request.client_token, request.format, requested_by)?;
            let reply = deps.starter().start(request).await.map_err(Error::into_api)?;
            to_value(&reply)
        }
        Entry::Schedule(event) => {
            let rule =
                event.resources.and_then(|r| r.into_iter().next()).unwrap_or_else(|| "schedule".into());
            to_value(&deps.starter().sweep(&rule, deps.scheduled_exports).await?)
        }
    }
}

async fn api<C, S, W, K>(deps: &Deps<C, S, W, K>, request: &ApiGatewayProxyRequest) -> HttpReply
where
    C: AttachmentCatalog,
    S: ExportStore,
    W: Workflow,
    K: Clock,
{
    let outcome = async {
        let principal = principal(request, "StartDataExport")?;
        if request.resource.as_deref() != Some(ROUTE) || request.http_method.as_str() != "POST" {
            return Err(Error::NotFound(format!(
                "start-export serves POST {ROUTE}, not {} {}",
                request.http_method,
                request.resource.as_deref().unwrap_or("?")
            )));
        }
        let account_id = gateway::path_parameter(request, "accountId");
        gateway::require_json_body(request)?;
        let body: StartBody = parse_body(request.body.as_deref(), request.is_base64_encoded)?
            .unwrap_or(StartBody { client_token: None, format: None });
        let requested_by = RequestedBy { principal, via: Via::Api };
        let start = start_request(account_id, body.client_token, body.format, requested_by)?;
        deps.starter().start(start).await
    }
    .await;
    match outcome {
        Ok(reply) => reply_for(&reply),
        Err(e) => {
            if e.http_status() >= 500 {
                tracing::error!(code = e.code(), error = %e, "start-export failed");
            }
            HttpReply::error(e)
        }
    }
}

fn reply_for(reply: &StartReply) -> HttpReply {
    HttpReply::json(if reply.repeated { 200 } else { 202 }, reply)
}

#[cfg(test)]
mod tests {
    use export_core::model::{AccountType, ExportStatus};
    use export_core::testing::{FakeCatalog, FakeStore, FakeWorkflow, FixedClock};
    use lambda_runtime::Context;

    use super::*;

    /// Every sample event of this function, with what it must produce.
    pub(super) const EVENTS: &[(&str, &str, Expect)] = &[
        (
            "api-start.json",
            include_str!("../../../events/start-export/api-start.json"),
            Expect::Http(202, None),
        ),
        (
            "api-start-no-body.json",
            include_str!("../../../events/start-export/api-start-no-body.json"),
            Expect::Http(202, None),
        ),
        (
            "api-start-jsonl.json",
            include_str!("../../../events/start-export/api-start-jsonl.json"),
            Expect::Http(202, None),
        ),
        (
            "api-no-identity.json",
            include_str!("../../../events/start-export/api-no-identity.json"),
            Expect::Http(403, Some("ForbiddenException")),
        ),
        (
            "api-bad-account-id.json",
            include_str!("../../../events/start-export/api-bad-account-id.json"),
            Expect::Http(400, Some("BadRequestException")),
        ),
        (
            "api-bad-format.json",
            include_str!("../../../events/start-export/api-bad-format.json"),
            Expect::Http(400, Some("BadRequestException")),
        ),
        (
            "api-unknown-field.json",
            include_str!("../../../events/start-export/api-unknown-field.json"),
            Expect::Http(400, Some("BadRequestException")),
        ),
        (
            "api-malformed-json.json",
            include_str!("../../../events/start-export/api-malformed-json.json"),
            Expect::Http(400, Some("BadRequestException")),
        ),
        (
            "api-body-too-large.json",
            include_str!("../../../events/start-export/api-body-too-large.json"),
            Expect::Http(413, Some("BadRequestException")),
        ),
        ("direct.json", include_str!("../../../events/start-export/direct.json"), Expect::Started),
        (
            "direct-minimal.json",
            include_str!("../../../events/start-export/direct-minimal.json"),
            Expect::Started,
        ),
        (
            "direct-bad-format.json",
            include_str!("../../../events/start-export/direct-bad-format.json"),
            Expect::FunctionError("BadRequestException"),
        ),
        (
            "direct-unknown-field.json",
            include_str!("../../../events/start-export/direct-unknown-field.json"),
            Expect::FunctionError("BadRequestException"),
        ),
        ("schedule.json", include_str!("../../../events/start-export/schedule.json"), Expect::Swept),
        (
            "unknown-shape.json",
            include_str!("../../../events/start-export/unknown-shape.json"),
            Expect::FunctionError("BadRequestException"),
        ),
    ];

    const SAMPLE_ACCOUNT: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

    #[derive(Debug, Clone, Copy)]
    pub(super) enum Expect {
        /// A proxy response with this status (and error code).
        Http(i64, Option<&'static str>),
        /// A direct invocation that started an export.
        Started,
        /// A function error with this errorType.
        FunctionError(&'static str),
        /// A schedule sweep report.
        Swept,
    }

    type TestDeps = Deps<FakeCatalog, FakeStore, FakeWorkflow, FixedClock>;

    pub(super) fn deps(account_type: AccountType) -> TestDeps {
        let catalog = FakeCatalog::default();
        catalog.insert_account(AccountId::parse(SAMPLE_ACCOUNT).unwrap(), account_type, true);
        Deps {
            catalog,
            store: FakeStore::default(),
            workflow: FakeWorkflow::default(),
            clock: FixedClock::at("2026-11-24T10:15:30.123Z"),
            window: Duration::from_secs(604_800),
            scheduled_exports: true,
        }
    }

    async fn invoke(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).expect("sample event is JSON");
        handler(deps, LambdaEvent::new(payload, Context::default())).await
    }

    fn body(response: &Value) -> Value {
        serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        for (name, json, expect) in EVENTS {
            let deps = deps(AccountType::Enterprise);
            let outcome = invoke(&deps, json).await;
            match (*expect, outcome) {
                (Expect::Http(status, code), Ok(response)) => {
                    assert_eq!(response["statusCode"], status, "{name}: {response}");
                    assert_eq!(response["headers"]["content-type"], "application/json", "{name}");
                    let body = body(&response);
                    match code {
                        Some(code) => {
                            assert_eq!(body["code"], code, "{name}");
                            assert!(body["message"].as_str().unwrap().len() > 20, "{name}: message too thin");
                            assert!(
                                deps.workflow.started.lock().unwrap().is_empty(),
                                "{name}: no export on error"
                            );
                        }
                        None => {
                            assert_eq!(body["status"], "QUEUED", "{name}");
                            assert_eq!(body["requestedAt"], "2026-11-24T10:15:30.123Z", "{name}");
                            assert_eq!(body["nextAllowedAt"], "2026-12-01T10:15:30.123Z", "{name}");
                            assert_eq!(deps.workflow.started.lock().unwrap().len(), 1, "{name}");
                        }
                    }
                }
                (Expect::Started, Ok(reply)) => {
                    assert_eq!(reply["status"], "QUEUED", "{name}");
                    assert!(reply["exportId"].as_str().unwrap().len() == 26, "{name}");
                }
                (Expect::FunctionError(code), Err(e)) => {
                    assert_eq!(e.code(), code, "{name}: {e}");
                    let diagnostic: lambda_runtime::Diagnostic = e.into();
                    assert_eq!(diagnostic.error_type, code, "{name}");
                }
                (Expect::Swept, Ok(report)) => {
                    assert_eq!(
                        report,
                        serde_json::json!({"started": 1, "skipped": 0, "failed": 0, "recovered": 0}),
                        "{name}"
                    );
                }
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }

    #[test]
    fn every_file_under_events_is_covered() {
        let covered: Vec<&str> = EVENTS.iter().map(|(n, _, _)| *n).collect();
        export_core::testing::assert_every_sample_event_is_covered(
            env!("CARGO_MANIFEST_DIR"),
            "start-export",
            &covered,
        );
    }

    #[tokio::test]
    async fn the_api_records_the_principal_and_a_repeat_answers_200() {
        let deps = deps(AccountType::Enterprise);
        let json = include_str!("../../../events/start-export/api-start.json");
        let first = invoke(&deps, json).await.unwrap();
        assert_eq!(first["statusCode"], 202);
        let export_id = body(&first)["exportId"].as_str().unwrap().to_owned();
        let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
        let record = deps.store.record(&account, &export_id.parse().unwrap()).unwrap();
        assert_eq!(record.requested_by.principal, "arn:aws:iam::123456789012:user/it-admin");
        assert_eq!(record.requested_by.via, Via::Api);
        assert_eq!(record.status, ExportStatus::Queued);

        deps.clock.advance(Duration::from_secs(60));
        let repeat = invoke(&deps, json).await.unwrap();
        assert_eq!(repeat["statusCode"], 200);
        assert_eq!(body(&repeat)["exportId"], export_id);

        let other_token = include_str!("../../../events/start-export/api-start-jsonl.json");
        let throttled = invoke(&deps, other_token).await.unwrap();
        assert_eq!(throttled["statusCode"], 429);
        assert_eq!(throttled["headers"]["retry-after"], (604_800 - 60).to_string());
        assert_eq!(body(&throttled)["nextAllowedAt"], "2026-12-01T10:15:30.123Z");
    }

    #[tokio::test]
    async fn a_team_account_gets_422_with_guidance_and_direct_calls_get_the_same_code() {
        let deps = deps(AccountType::Team);
        let api = invoke(&deps, include_str!("../../../events/start-export/api-start.json")).await.unwrap();
        assert_eq!(api["statusCode"], 422);
        assert!(body(&api)["message"].as_str().unwrap().contains("claim"));
        let direct =
            invoke(&deps, include_str!("../../../events/start-export/direct.json")).await.unwrap_err();
        assert_eq!(direct.code(), "UnprocessableEntityException");
    }

    #[tokio::test]
    async fn a_failed_start_is_a_500_without_internals() {
        let mut deps = deps(AccountType::Enterprise);
        deps.workflow = FakeWorkflow::failing();
        let api = invoke(&deps, include_str!("../../../events/start-export/api-start.json")).await.unwrap();
        assert_eq!(api["statusCode"], 500);
        let body = body(&api);
        assert_eq!(body["code"], "ServiceFailureException");
        assert!(!body["message"].as_str().unwrap().contains("StartExecution"));
        let direct =
            invoke(&deps, include_str!("../../../events/start-export/direct.json")).await.unwrap_err();
        assert_eq!(direct.code(), "ServiceFailureException");
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile events: arbitrary JSON and mutated sample events never panic; a function error
    //! carries a documented errorType and, the fakes being healthy, is never a service failure; a
    //! proxy reply is below 500 with `{code, message}` on errors.
    use export_core::fuzzing::*;
    use export_core::model::AccountType;
    use lambda_runtime::Context;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;

    fn samples() -> Vec<(&'static str, &'static str)> {
        super::tests::EVENTS.iter().map(|(name, json, _)| (*name, *json)).collect()
    }

    fn run(event: &Value, team: bool) -> Result<(), TestCaseError> {
        let deps = super::tests::deps(if team { AccountType::Team } else { AccountType::Enterprise });
        let outcome = runtime().block_on(handler(&deps, LambdaEvent::new(event.clone(), Context::default())));
        check_api_outcome(outcome, event, gateway::is_proxy_event(event))
    }

    proptest! {
        // A failing case is kept as a regular #[test], not in a proptest-regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn arbitrary_json_is_refused_cleanly(event in json_value(), team in any::<bool>()) {
            run(&event, team)?;
        }

        #[test]
        fn mutated_sample_events_are_refused_cleanly((_name, event) in mutated(samples()), team in any::<bool>()) {
            run(&event, team)?;
        }
    }
}
