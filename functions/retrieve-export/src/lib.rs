//! RetrieveDataExport's handlers, one per trust path, over the rules of `export_core::rules::retrieve`:
//! [`api_handler`] serves `retrieve-export-api` (the two GET routes; API Gateway's proxy events
//! only), [`direct_handler`] serves `retrieve-export` (`aws lambda invoke`, operators only). Each
//! refuses the other's events with `WrongEntryPointException`.

pub use entry::{api_handler, direct_handler};

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use entry::api::HttpReply;
use entry::{ApiFunction, DIRECT_INVOKE_PRINCIPAL, DirectFunction, to_value};
use export_core::aws::{Aws, CognitoPeople};
use export_core::config::ConfigError;
use export_core::domain::ids::{AccountId, ExportId, UserId};
use export_core::rules::retrieve::{ListQuery, Retriever};
use export_core::{Backend, Error};
use serde::Deserialize;
use serde_json::Value;

pub const LIST_ROUTE: &str = "/accounts/{accountId}/data-exports";
pub const GET_ROUTE: &str = "/accounts/{accountId}/data-exports/{exportId}";
/// A self-service user's own exports (DESIGN §15).
pub const USER_LIST_ROUTE: &str = "/users/{userId}/data-exports";
pub const USER_GET_ROUTE: &str = "/users/{userId}/data-exports/{exportId}";

/// RetrieveDataExport on both trust paths: the rules, and the console's origin (CONSOLE_ORIGIN)
/// for the API's replies.
pub struct RetrieveExport<B: Backend> {
    pub retriever: Retriever<B>,
    pub cors: entry::Cors,
    /// Names the console user behind a hand-out (`CognitoPeople::nobody` for retrieve-export).
    pub people: B::People,
}

impl RetrieveExport<Aws> {
    pub fn on_aws(
        config: &export_core::Config,
        sdk: &aws_config::SdkConfig,
        people: CognitoPeople,
    ) -> Result<Self, ConfigError> {
        Ok(RetrieveExport {
            retriever: Retriever::on_aws(config, sdk)?,
            cors: entry::Cors::from_config(config),
            people,
        })
    }
}

/// `aws lambda invoke` payload: one export with `exportId`, else the list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectRequest {
    pub account_id: String,
    pub export_id: Option<String>,
    pub max_results: Option<u32>,
    pub next_token: Option<String>,
}

const DIRECT_SHAPE: &str = "a direct invocation {\"accountId\": \"...\", \"exportId\"?: \"...\", \"maxResults\"?: n, \"nextToken\"?: \"...\"}";

/// retrieve-export: direct invocations only (operators). A hand-out is counted against the
/// CloudTrail-recorded caller, as Lambda does not tell the function who invoked it.
impl<B: Backend> DirectFunction for RetrieveExport<B> {
    const NAME: &'static str = "retrieve-export";

    async fn invoke(&self, payload: Value) -> Result<Value, Error> {
        let request: DirectRequest =
            entry::direct_payload(<Self as DirectFunction>::NAME, DIRECT_SHAPE, payload)?;
        let account = AccountId::parse(&request.account_id)?;
        match request.export_id.as_deref() {
            Some(id) => {
                let export = ExportId::parse(id)?;
                to_value(&self.retriever.get(&account, &export, DIRECT_INVOKE_PRINCIPAL, None).await?)
            }
            None => {
                // The same validation as the API's query string.
                let max_results = request.max_results.map(|n| n.to_string());
                let query = ListQuery::parse(max_results.as_deref(), request.next_token.as_deref())?;
                to_value(&self.retriever.list(&account, &query).await?)
            }
        }
    }
}

/// retrieve-export-api: API Gateway's proxy events only (and only API Gateway may invoke it).
impl<B: Backend> ApiFunction for RetrieveExport<B> {
    const NAME: &'static str = "retrieve-export-api";

    fn cors(&self) -> &entry::Cors {
        &self.cors
    }

    async fn answer(&self, request: &ApiGatewayProxyRequest) -> Result<HttpReply, Error> {
        let principal = entry::principal(request, "RetrieveDataExport")?;
        let route = (request.http_method.as_str(), request.resource.as_deref().unwrap_or_default());
        let list_query = || {
            ListQuery::parse(
                request.query_string_parameters.first("maxResults"),
                request.query_string_parameters.first("nextToken"),
            )
        };
        match route {
            ("GET", LIST_ROUTE) => {
                let account = AccountId::parse(entry::path_parameter(request, "accountId"))?;
                self.retriever.list(&account, &list_query()?).await.map(|list| HttpReply::json(200, &list))
            }
            ("GET", GET_ROUTE) => {
                let account = AccountId::parse(entry::path_parameter(request, "accountId"))?;
                let export = ExportId::parse(entry::path_parameter(request, "exportId"))?;
                let person = entry::person(&self.people, request).await;
                self.retriever
                    .get(&account, &export, &principal, person)
                    .await
                    .map(|view| HttpReply::json(200, &view))
            }
            // A self-service user's own exports (DESIGN §15): IAM confines the caller to the
            // userId of their `chatUserId` tag (SelfServiceDataExport).
            ("GET", USER_LIST_ROUTE) => {
                let user = UserId::parse(entry::path_parameter(request, "userId"))?;
                let list = self.retriever.list_for_user(&user, &list_query()?).await?;
                Ok(HttpReply::json(200, &list))
            }
            ("GET", USER_GET_ROUTE) => {
                let user = UserId::parse(entry::path_parameter(request, "userId"))?;
                let export = ExportId::parse(entry::path_parameter(request, "exportId"))?;
                let view = self.retriever.get_for_user(&user, &export, &principal).await?;
                Ok(HttpReply::json(200, &view))
            }
            (method, resource) => Err(Error::NotFound(format!(
                "retrieve-export serves GET {LIST_ROUTE}, {GET_ROUTE}, {USER_LIST_ROUTE} and {USER_GET_ROUTE}, not {method} {resource}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use export_core::domain::model::AccountType;

    use export_core::memory::{Harness, InMemory, World};
    use lambda_runtime::{Context, LambdaEvent};

    use super::*;

    use export_core::testing::{SAMPLE_ACCOUNT, SAMPLE_EXPORT};

    #[derive(Debug, Clone, Copy)]
    pub(super) enum Expect {
        Http(i64, Option<&'static str>),
        /// The sample account's history: the sample export.
        List,
        /// The sample export, SUCCEEDED, with a manifest link.
        Export,
        FunctionError(&'static str),
    }

    /// Every sample event of retrieve-export-api (events/retrieve-export-api/).
    pub(super) const API_EVENTS: &[(&str, Expect)] = &[
        ("api-list.json", Expect::Http(200, None)),
        ("api-list-page.json", Expect::Http(200, None)),
        ("api-list-bad-max-results.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-get.json", Expect::Http(200, None)),
        ("api-get-bad-export-id.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-get-no-identity.json", Expect::Http(403, Some("ForbiddenException"))),
        ("direct-payload.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    /// Every sample event of retrieve-export (events/retrieve-export/).
    pub(super) const DIRECT_EVENTS: &[(&str, Expect)] = &[
        ("direct-list.json", Expect::List),
        ("direct-get.json", Expect::Export),
        ("direct-unknown-field.json", Expect::FunctionError("BadRequestException")),
        ("forged-api-event.json", Expect::FunctionError("WrongEntryPointException")),
        ("forged-schedule.json", Expect::FunctionError("WrongEntryPointException")),
        ("unknown-shape.json", Expect::FunctionError("BadRequestException")),
    ];

    type TestDeps = Harness<RetrieveExport<InMemory>>;

    /// The sample events under events/<function>/, each with its outcome from the table.
    pub(super) fn events(
        function: &str,
        table: &[(&str, Expect)],
    ) -> Vec<(&'static str, &'static str, Expect)> {
        export_core::testing::sample_events(env!("CARGO_MANIFEST_DIR"), function, table)
    }

    /// The sample account with the sample export, SUCCEEDED.
    pub(super) fn deps() -> TestDeps {
        let world = World::at("2026-11-25T09:00:00Z");
        let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
        world.directory.insert_account(account.clone(), AccountType::Enterprise, false);
        let record = export_core::testing::delivered_sample_record(2);
        world.store.insert(record);
        let manifest = format!("exports/{account}/{SAMPLE_EXPORT}/attachments.csv");
        let header = "attachment_id,conversation_type,file_name\r\n";
        world.objects.objects.lock().unwrap().insert(manifest, header.as_bytes().to_vec());
        let retriever = world.retriever(Duration::from_secs(900), Duration::from_secs(604_800));
        let function =
            RetrieveExport { retriever, cors: entry::Cors::default(), people: world.people.clone() };
        Harness { world, function }
    }

    /// Through the function that serves this event's trust path.
    async fn invoke(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).unwrap();
        if entry::is_proxy_event(&payload) {
            api_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
        } else {
            direct_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
        }
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        let api = events("retrieve-export-api", API_EVENTS).into_iter().map(|(n, j, e)| (n, j, e, true));
        let direct = events("retrieve-export", DIRECT_EVENTS).into_iter().map(|(n, j, e)| (n, j, e, false));
        for (name, json, expect, is_api_function) in api.chain(direct) {
            let deps = deps();
            let payload: Value = serde_json::from_str(json).unwrap();
            let event = LambdaEvent::new(payload, Context::default());
            let outcome = if is_api_function {
                api_handler(&deps.function, event).await
            } else {
                direct_handler(&deps.function, event).await
            };
            match (expect, outcome) {
                (Expect::Http(status, code), Ok(response)) => {
                    assert_eq!(response["statusCode"], status, "{name}: {response}");
                    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                    if let Some(code) = code {
                        assert_eq!(body["code"], code, "{name}");
                        assert!(body["message"].as_str().unwrap().len() > 20, "{name}");
                    }
                }
                (Expect::List, Ok(reply)) => {
                    assert_eq!(reply["exports"][0]["exportId"], SAMPLE_EXPORT, "{name}: {reply}");
                    assert_eq!(reply["exports"].as_array().unwrap().len(), 1, "{name}");
                    assert!(
                        reply["exports"][0].get("manifest").is_none(),
                        "{name}: listing hands out no link"
                    );
                    assert!(reply["nextAllowedAt"].is_string(), "{name}");
                }
                (Expect::Export, Ok(reply)) => {
                    assert_eq!(
                        (reply["exportId"].as_str(), reply["status"].as_str()),
                        (Some(SAMPLE_EXPORT), Some("SUCCEEDED")),
                        "{name}"
                    );
                    assert!(
                        reply["manifest"]["url"].as_str().unwrap().contains("X-Amz-Expires=900"),
                        "{name}"
                    );
                }
                (Expect::FunctionError(code), Err(e)) => assert_eq!(e.code(), code, "{name}: {e}"),
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_forged_api_event_sent_directly_hands_out_nothing_and_counts_nothing() {
        let deps = deps();
        let forged = include_str!("../../../events/retrieve-export/forged-api-event.json");
        let payload: Value = serde_json::from_str(forged).unwrap();
        let error =
            direct_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await.unwrap_err();
        assert_eq!(error.code(), "WrongEntryPointException");
        let record = deps
            .store
            .record(AccountId::parse(SAMPLE_ACCOUNT).unwrap(), &ExportId::parse(SAMPLE_EXPORT).unwrap())
            .unwrap();
        assert_eq!(record.retrievals, 0, "no hand-out counted");
    }

    #[tokio::test]
    async fn get_hands_out_the_manifest_and_counts_the_api_principal() {
        let deps = deps();
        let response =
            invoke(&deps, include_str!("../../../events/retrieve-export-api/api-get.json")).await.unwrap();
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["status"], "SUCCEEDED");
        assert_eq!(response["headers"]["cache-control"], "no-store", "a reply with a link is never stored");
        assert!(body["manifest"]["url"].as_str().unwrap().contains("X-Amz-Expires=900"));
        assert_eq!(body["manifest"]["urlExpiresAt"], "2026-11-25T09:15:00.000Z");
        assert_eq!(body["urlsExpireAt"], "2026-11-30T10:00:00.000Z");
        let record = deps
            .store
            .record(AccountId::parse(SAMPLE_ACCOUNT).unwrap(), &ExportId::parse(SAMPLE_EXPORT).unwrap())
            .unwrap();
        assert_eq!(record.retrievals, 1);
        assert_eq!(record.last_retrieved_by.as_deref(), Some("arn:aws:iam::123456789012:user/it-admin"));
    }

    #[tokio::test]
    async fn direct_get_of_an_expired_export_is_gone() {
        let deps = deps();
        deps.clock.advance(Duration::from_secs(7 * 86_400));
        let err =
            invoke(&deps, include_str!("../../../events/retrieve-export/direct-get.json")).await.unwrap_err();
        assert_eq!(err.code(), "GoneException");
        let api =
            invoke(&deps, include_str!("../../../events/retrieve-export-api/api-get.json")).await.unwrap();
        assert_eq!(api["statusCode"], 410);
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile events: arbitrary JSON and mutated sample events never panic; a function error
    //! carries a documented errorType and, the fakes being healthy, is never a service failure; a
    //! proxy reply is below 500 with `{code, message}` on errors.
    use fuzzing::*;

    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use std::time::Duration;

    use super::*;

    fn samples() -> Vec<(&'static str, &'static str)> {
        let api = super::tests::events("retrieve-export-api", super::tests::API_EVENTS);
        let direct = super::tests::events("retrieve-export", super::tests::DIRECT_EVENTS);
        api.into_iter().chain(direct).map(|(name, json, _)| (name, json)).collect()
    }

    fn run(event: &Value, expired: bool) -> Result<(), TestCaseError> {
        let deps = super::tests::deps();
        if expired {
            deps.clock.advance(Duration::from_secs(7 * 86_400));
        }
        through_both_trust_paths(&deps.function, event)
    }

    proptest! {
        // A failing case is kept as a regular #[test], not in a proptest-regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn arbitrary_json_is_refused_cleanly(event in json_value(), expired in any::<bool>()) {
            run(&event, expired)?;
        }

        #[test]
        fn mutated_sample_events_are_refused_cleanly(
            (_name, event) in mutated(samples()),
            expired in any::<bool>(),
        ) {
            run(&event, expired)?;
        }
    }
}
