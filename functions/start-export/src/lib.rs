//! StartDataExport's handlers (DESIGN §5), one per trust path, over the rules of
//! `export_core::rules::start`: [`api_handler`] serves `start-export-api` (API Gateway's proxy events
//! only), [`direct_handler`] serves `start-export` (`aws lambda invoke`, operators only). Each
//! refuses the other's events with `WrongEntryPointException`, before reading or writing anything.
//! The daily sweep is sweep-exports'. No rules live here.

pub use entry::{api_handler, direct_handler};

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use entry::api::{HttpReply, parse_body};
use entry::{ApiFunction, DIRECT_INVOKE_PRINCIPAL, DirectFunction, principal, to_value};
use export_core::aws::{Aws, CognitoPeople};
use export_core::config::ConfigError;
use export_core::domain::ids::{AccountId, UserId};
use export_core::domain::model::{ExportFormat, RequestedBy, Via};
use export_core::domain::owner::ExportOwner;
use export_core::rules::start::{Since, StartReply, StartRequest, Starter, validate_client_token};
use export_core::{Backend, Error};
use serde::Deserialize;
use serde_json::Value;

/// An account's StartDataExport (its administrators).
pub const ROUTE: &str = "/accounts/{accountId}/data-exports";
/// A self-service user's own (DESIGN §15): IAM confines the caller to the userId of their
/// `chatUserId` tag (SelfServiceDataExport).
pub const USER_ROUTE: &str = "/users/{userId}/data-exports";

/// StartDataExport on both trust paths: the rules, and the console's origin (CONSOLE_ORIGIN) for
/// the API's replies.
pub struct StartExport<B: Backend> {
    pub starter: Starter<B>,
    pub cors: entry::Cors,
    /// Names the console user behind an API request (`CognitoPeople::nobody` for start-export).
    pub people: B::People,
}

impl StartExport<Aws> {
    pub fn on_aws(
        config: &export_core::Config,
        sdk: &aws_config::SdkConfig,
        people: CognitoPeople,
    ) -> Result<Self, ConfigError> {
        Ok(StartExport {
            starter: Starter::on_aws(config, sdk)?,
            cors: entry::Cors::from_config(config),
            people,
        })
    }
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
    #[serde(default, deserialize_with = "present_flag")]
    pub verify_objects: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub since: Option<String>,
}

/// The optional POST body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartBody {
    #[serde(default, deserialize_with = "present")]
    client_token: Option<String>,
    #[serde(default, deserialize_with = "present")]
    format: Option<String>,
    #[serde(default, deserialize_with = "present_flag")]
    verify_objects: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    since: Option<String>,
}

/// An optional field may be left out, but not sent as `null`: the API's schema (which API Gateway
/// enforces) says it is a string, and the direct invocation answers the same.
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<String>, D::Error> {
    String::deserialize(value).map(Some)
}

/// The same for a boolean (`verifyObjects`).
fn present_flag<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<bool>, D::Error> {
    bool::deserialize(value).map(Some)
}

const DIRECT_SHAPE: &str = "a direct invocation {\"accountId\": \"...\", \"clientToken\"?: \"...\", \"format\"?: \"csv\" | \"jsonl\", \"verifyObjects\"?: true | false, \"since\"?: \"previous\" | \"<RFC 3339 time>\"}";

fn start_request(
    owner: ExportOwner,
    client_token: Option<String>,
    format: Option<String>,
    verify_objects: Option<bool>,
    since: Option<String>,
    requested_by: RequestedBy,
) -> Result<StartRequest, Error> {
    if let Some(token) = &client_token {
        validate_client_token(token)?;
    }
    let format = format.as_deref().map(str::parse).transpose()?.unwrap_or(ExportFormat::Csv);
    let verify_objects = verify_objects.unwrap_or(true);
    let since = since.as_deref().map(Since::parse).transpose()?;
    Ok(StartRequest { owner, client_token, format, verify_objects, since, requested_by })
}

/// start-export: direct invocations only. The caller is not known to the function (Lambda does not
/// pass it); the export records `via: invoke` and CloudTrail names the caller.
impl<B: Backend> DirectFunction for StartExport<B> {
    const NAME: &'static str = "start-export";

    async fn invoke(&self, payload: Value) -> Result<Value, Error> {
        let request: DirectRequest =
            entry::direct_payload(<Self as DirectFunction>::NAME, DIRECT_SHAPE, payload)?;
        let requested_by =
            RequestedBy { principal: DIRECT_INVOKE_PRINCIPAL.into(), via: Via::Invoke, person: None };
        let request = start_request(
            AccountId::parse(&request.account_id)?.into(),
            request.client_token,
            request.format,
            request.verify_objects,
            request.since,
            requested_by,
        )?;
        to_value(&self.starter.start(request).await?)
    }
}

/// start-export-api: API Gateway's proxy events only (and only API Gateway may invoke it).
impl<B: Backend> ApiFunction for StartExport<B> {
    const NAME: &'static str = "start-export-api";

    fn cors(&self) -> &entry::Cors {
        &self.cors
    }

    async fn answer(&self, request: &ApiGatewayProxyRequest) -> Result<HttpReply, Error> {
        let principal = principal(request, "StartDataExport")?;
        let owner: ExportOwner = match (request.http_method.as_str(), request.resource.as_deref()) {
            ("POST", Some(ROUTE)) => AccountId::parse(entry::path_parameter(request, "accountId"))?.into(),
            ("POST", Some(USER_ROUTE)) => UserId::parse(entry::path_parameter(request, "userId"))?.into(),
            (method, resource) => {
                return Err(Error::NotFound(format!(
                    "start-export serves POST {ROUTE} and POST {USER_ROUTE}, not {method} {}",
                    resource.unwrap_or("?")
                )));
            }
        };
        entry::require_json_body(request)?;
        let body: StartBody = parse_body(request.body.as_deref(), request.is_base64_encoded)?
            .unwrap_or(StartBody { client_token: None, format: None, verify_objects: None, since: None });
        // A console administrator is named from the user pool; a self-service user is the chat
        // service's, and the principal is theirs.
        let person = match owner {
            ExportOwner::Account(_) => entry::person(&self.people, request).await,
            ExportOwner::User(_) => None,
        };
        let requested_by = RequestedBy { principal, via: Via::Api, person };
        let start = start_request(
            owner,
            body.client_token,
            body.format,
            body.verify_objects,
            body.since,
            requested_by,
        )?;
        self.starter.start(start).await.map(|reply| reply_for(&reply))
    }
}

fn reply_for(reply: &StartReply) -> HttpReply {
    HttpReply::json(if reply.repeated { 200 } else { 202 }, reply)
}

#[cfg(test)]
mod tests {
    use export_core::domain::model::{AccountType, ExportStatus};
    use export_core::ports::ExportStore;
    use std::time::Duration;

    use export_core::memory::{Harness, InMemory, World};
    use lambda_runtime::{Context, LambdaEvent};

    use super::*;

    /// Every sample event of start-export-api (events/start-export-api/), with what it must produce.
    pub(super) const API_EVENTS: &[(&str, Expect)] = &[
        ("api-start.json", Expect::Http(202, None)),
        ("api-start-no-body.json", Expect::Http(202, None)),
        ("api-start-jsonl.json", Expect::Http(202, None)),
        ("api-no-identity.json", Expect::Http(403, Some("ForbiddenException"))),
        ("api-bad-account-id.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-bad-format.json", Expect::Http(400, Some("BadRequestException"))),
        // The sample account has no delivered export yet: "previous" is refused, not made full.
        ("api-since-previous-first.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-unknown-field.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-malformed-json.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-body-too-large.json", Expect::Http(413, Some("BadRequestException"))),
        ("direct-payload.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    /// Every sample event of start-export (events/start-export/), with what it must produce.
    pub(super) const DIRECT_EVENTS: &[(&str, Expect)] = &[
        ("direct.json", Expect::Started),
        ("direct-minimal.json", Expect::Started),
        ("direct-incremental.json", Expect::Started),
        ("direct-bad-since.json", Expect::FunctionError("BadRequestException")),
        ("direct-bad-format.json", Expect::FunctionError("BadRequestException")),
        ("direct-unknown-field.json", Expect::FunctionError("BadRequestException")),
        ("forged-api-event.json", Expect::FunctionError("WrongEntryPointException")),
        ("forged-schedule.json", Expect::FunctionError("WrongEntryPointException")),
        ("unknown-shape.json", Expect::FunctionError("BadRequestException")),
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
    }

    type TestDeps = Harness<StartExport<InMemory>>;

    /// The sample events under events/<function>/, each with its outcome from the table.
    pub(super) fn events(
        function: &str,
        table: &[(&str, Expect)],
    ) -> Vec<(&'static str, &'static str, Expect)> {
        export_core::testing::sample_events(env!("CARGO_MANIFEST_DIR"), function, table)
    }

    pub(super) fn deps(account_type: AccountType) -> TestDeps {
        let world = World::at("2026-11-24T10:15:30.123Z");
        world.directory.insert_account(AccountId::parse(SAMPLE_ACCOUNT).unwrap(), account_type, true);
        let function = StartExport {
            starter: world.starter(Duration::from_secs(604_800)),
            cors: entry::Cors::default(),
            people: world.people.clone(),
        };
        Harness { world, function }
    }

    /// Through the function that serves this event's trust path: API events to start-export-api,
    /// everything else to start-export.
    async fn invoke(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).expect("sample event is JSON");
        if entry::is_proxy_event(&payload) {
            api_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
        } else {
            direct_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
        }
    }

    async fn invoke_api(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).expect("sample event is JSON");
        api_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
    }

    async fn invoke_direct(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).expect("sample event is JSON");
        direct_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
    }

    fn body(response: &Value) -> Value {
        serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
    }

    /// A console user's request names the person the user pool holds for the `sub` API Gateway
    /// vouched for; the same request with a forged pool names nobody, and the principal stands.
    #[tokio::test]
    async fn a_console_request_records_the_person_behind_the_role_session() {
        let api_start = events("start-export-api", API_EVENTS)
            .into_iter()
            .find(|(name, _, _)| *name == "api-start.json")
            .expect("the sample API request")
            .1;
        for (pool_is_the_consoles, expected_name) in [(true, Some("Jane Doe")), (false, None)] {
            let deps = deps(AccountType::Enterprise);
            let jane = export_core::domain::model::Person {
                username: "jane.doe".into(),
                name: Some("Jane Doe".into()),
                email: Some("jane@example.com".into()),
            };
            let sub = deps.people.add(jane);
            let pool =
                if pool_is_the_consoles { deps.people.pool_id.clone() } else { "us-east-1_Forged".into() };
            let issuer = format!("cognito-idp.us-east-1.amazonaws.com/{pool}");
            let mut payload: Value = serde_json::from_str(api_start).unwrap();
            payload["requestContext"]["identity"]["cognitoAuthenticationProvider"] =
                Value::String(format!("{issuer},{issuer}:CognitoSignIn:{sub}"));
            let response =
                api_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await.unwrap();
            assert_eq!(response["statusCode"], 202, "{response}");
            let record = deps.store.records(AccountId::parse(SAMPLE_ACCOUNT).unwrap())[0].clone();
            let person = record.requested_by.person.as_ref();
            assert_eq!(person.and_then(|p| p.name.as_deref()), expected_name);
            assert!(record.requested_by.principal.contains(&sub), "the ARN and sub stay as the detail");
            if let Some(person) = person {
                assert_eq!(person.display(), "Jane Doe (jane@example.com)");
            }
        }
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        let api = events("start-export-api", API_EVENTS).into_iter().map(|(n, j, e)| (n, j, e, true));
        let direct = events("start-export", DIRECT_EVENTS).into_iter().map(|(n, j, e)| (n, j, e, false));
        for (name, json, expect, is_api_function) in api.chain(direct) {
            let deps = deps(AccountType::Enterprise);
            let outcome = if is_api_function {
                invoke_api(&deps, json).await
            } else {
                invoke_direct(&deps, json).await
            };
            match (expect, outcome) {
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
                    assert!(deps.workflow.started.lock().unwrap().is_empty(), "{name}: nothing started");
                    assert!(
                        deps.store.records(AccountId::parse(SAMPLE_ACCOUNT).unwrap()).is_empty(),
                        "{name}: nothing recorded"
                    );
                }
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_forged_api_event_sent_directly_records_nothing_and_names_no_principal() {
        // The forged event claims a principal; the direct function must not take it for an API call.
        let deps = deps(AccountType::Enterprise);
        let forged = include_str!("../../../events/start-export/forged-api-event.json");
        let error = invoke_direct(&deps, forged).await.unwrap_err();
        assert_eq!(error.code(), "WrongEntryPointException");
        assert!(error.to_string().contains("API Gateway"), "{error}");
        assert!(!error.to_string().contains("it-admin"), "the refusal echoes nothing of the event");
        assert!(deps.store.records(AccountId::parse(SAMPLE_ACCOUNT).unwrap()).is_empty());
        assert!(
            deps.store.throttle(&AccountId::parse(SAMPLE_ACCOUNT).unwrap().into()).await.unwrap().is_none()
        );

        let direct =
            invoke_direct(&deps, include_str!("../../../events/start-export/direct.json")).await.unwrap();
        let export_id = direct["exportId"].as_str().unwrap().parse().unwrap();
        let record = deps.store.record(AccountId::parse(SAMPLE_ACCOUNT).unwrap(), &export_id).unwrap();
        assert_eq!(record.requested_by.via, Via::Invoke);
        assert_eq!(record.requested_by.principal, DIRECT_INVOKE_PRINCIPAL);
        assert!(record.requested_by.principal.contains("CloudTrail"));
    }

    #[tokio::test]
    async fn the_api_records_the_principal_and_a_repeat_answers_200() {
        let deps = deps(AccountType::Enterprise);
        let json = include_str!("../../../events/start-export-api/api-start.json");
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

        let other_token = include_str!("../../../events/start-export-api/api-start-jsonl.json");
        let throttled = invoke(&deps, other_token).await.unwrap();
        assert_eq!(throttled["statusCode"], 429);
        assert_eq!(throttled["headers"]["retry-after"], (604_800 - 60).to_string());
        assert_eq!(body(&throttled)["nextAllowedAt"], "2026-12-01T10:15:30.123Z");
    }

    /// `since` in a direct payload or an API body reaches the record, the job and the reply; a bad
    /// one is a 400 naming the accepted forms.
    #[tokio::test]
    async fn since_is_carried_to_the_job_and_a_bad_one_is_refused() {
        let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
        let deps = deps(AccountType::Enterprise);
        let payload = format!(r#"{{"accountId": "{SAMPLE_ACCOUNT}", "since": "2026-11-01T00:00:00Z"}}"#);
        let reply = invoke_direct(&deps, &payload).await.unwrap();
        assert_eq!(reply["since"], "2026-11-01T00:00:00.000Z", "{reply}");
        let export = reply["exportId"].as_str().unwrap().parse().unwrap();
        let since = Some(export_core::Timestamp::parse("2026-11-01T00:00:00Z").unwrap());
        assert_eq!(deps.store.record(&account, &export).unwrap().since, since);
        assert_eq!(deps.workflow.started.lock().unwrap()[0].since, since);

        let deps = super::tests::deps(AccountType::Enterprise);
        let mut api: Value =
            serde_json::from_str(include_str!("../../../events/start-export-api/api-start.json")).unwrap();
        for bad in [r#"{"since": "yesterday"}"#, r#"{"since": "previous"}"#, r#"{"since": 5}"#] {
            api["body"] = Value::String(bad.into());
            let reply = invoke_api(&deps, &api.to_string()).await.unwrap();
            assert_eq!(reply["statusCode"], 400, "{bad}: {reply}");
            let message = body(&reply)["message"].as_str().unwrap().to_owned();
            assert!(bad.contains('5') || message.contains("since"), "{bad}: {reply}");
        }
    }

    /// `verifyObjects: false`, in a direct payload or an API body, reaches the record and the job
    /// the state machine is started with; left out, it is true; `null` is refused.
    #[tokio::test]
    async fn verify_objects_is_carried_to_the_job_and_defaults_to_true() {
        let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
        for (payload, expected) in [
            (format!(r#"{{"accountId": "{SAMPLE_ACCOUNT}", "verifyObjects": false}}"#), false),
            (format!(r#"{{"accountId": "{SAMPLE_ACCOUNT}"}}"#), true),
        ] {
            let deps = deps(AccountType::Enterprise);
            let reply = invoke_direct(&deps, &payload).await.unwrap();
            let export = reply["exportId"].as_str().unwrap().parse().unwrap();
            assert_eq!(deps.store.record(&account, &export).unwrap().verify_objects, expected);
            assert_eq!(deps.workflow.started.lock().unwrap()[0].verify_objects, expected);
        }
        let deps = deps(AccountType::Enterprise);
        let null = format!(r#"{{"accountId": "{SAMPLE_ACCOUNT}", "verifyObjects": null}}"#);
        assert_eq!(invoke_direct(&deps, &null).await.unwrap_err().code(), "BadRequestException");

        let mut api: Value =
            serde_json::from_str(include_str!("../../../events/start-export-api/api-start.json")).unwrap();
        api["body"] = Value::String(r#"{"verifyObjects": false}"#.into());
        let reply = invoke_api(&deps, &api.to_string()).await.unwrap();
        assert_eq!(reply["statusCode"], 202, "{reply}");
        let export = body(&reply)["exportId"].as_str().unwrap().parse().unwrap();
        assert!(!deps.store.record(&account, &export).unwrap().verify_objects);
    }

    #[tokio::test]
    async fn a_team_account_gets_422_with_guidance_and_direct_calls_get_the_same_code() {
        let deps = deps(AccountType::Team);
        let api =
            invoke(&deps, include_str!("../../../events/start-export-api/api-start.json")).await.unwrap();
        assert_eq!(api["statusCode"], 422);
        assert!(body(&api)["message"].as_str().unwrap().contains("claim"));
        let direct =
            invoke(&deps, include_str!("../../../events/start-export/direct.json")).await.unwrap_err();
        assert_eq!(direct.code(), "UnprocessableEntityException");
    }

    #[tokio::test]
    async fn a_failed_start_is_a_500_without_internals() {
        let deps = deps(AccountType::Enterprise);
        deps.workflow.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let api =
            invoke(&deps, include_str!("../../../events/start-export-api/api-start.json")).await.unwrap();
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
    use export_core::domain::model::AccountType;
    use fuzzing::*;

    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;

    fn samples() -> Vec<(&'static str, &'static str)> {
        let api = super::tests::events("start-export-api", super::tests::API_EVENTS);
        let direct = super::tests::events("start-export", super::tests::DIRECT_EVENTS);
        api.into_iter().chain(direct).map(|(name, json, _)| (name, json)).collect()
    }

    fn run(event: &Value, team: bool) -> Result<(), TestCaseError> {
        let deps = super::tests::deps(if team { AccountType::Team } else { AccountType::Enterprise });
        through_both_trust_paths(&deps.function, event)
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
