//! RevokeDataExport's handlers, one per trust path, over `export_core::rules::revoke`:
//! [`api_handler`] serves `revoke-export-api` (its two routes: an account's export, and a chat
//! user's own, DESIGN §15; API Gateway's proxy events only), [`direct_handler`] serves
//! `revoke-export` (`aws lambda invoke`, operators only, for an account's or a user's export).
//! Each refuses the other's events with `WrongEntryPointException`.

pub use entry::{api_handler, direct_handler};

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use entry::api::HttpReply;
use entry::{ApiFunction, DIRECT_INVOKE_PRINCIPAL, DirectFunction, to_value};
use export_core::aws::{Aws, CognitoPeople};
use export_core::config::ConfigError;
use export_core::domain::ids::{AccountId, ExportId, UserId};
use export_core::domain::model::{ExportRecord, ExportStatus, RequestedBy, Via};
use export_core::domain::owner::ExportOwner;
use export_core::rules::revoke::Revoker;
use export_core::{Backend, Error, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const ROUTE: &str = "/accounts/{accountId}/data-exports/{exportId}/revoke";
/// A chat user revokes their own export (SelfServiceDataExport; DESIGN §15).
pub const USER_ROUTE: &str = "/users/{userId}/data-exports/{exportId}/revoke";

pub struct RevokeExport<B: Backend> {
    pub revoker: Revoker<B>,
    pub cors: entry::Cors,
    /// Names the console user behind an API request (`CognitoPeople::nobody` for revoke-export).
    pub people: B::People,
    /// SELF_SERVICE_ENABLED: off, the users' route refuses (an operator still revokes directly).
    pub self_service: bool,
}

impl RevokeExport<Aws> {
    pub fn on_aws(
        config: &export_core::Config,
        sdk: &aws_config::SdkConfig,
        people: CognitoPeople,
    ) -> Result<Self, ConfigError> {
        Ok(RevokeExport {
            revoker: Revoker::on_aws(config, sdk)?,
            cors: entry::Cors::from_config(config),
            people,
            self_service: config.self_service_enabled,
        })
    }
}

/// What a revocation answers: the export, REVOKED, and who revoked it when.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    #[serde(flatten)]
    pub owner: export_core::domain::owner::ExportOwner,
    pub export_id: ExportId,
    pub status: ExportStatus,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<RequestedBy>,
}

impl From<ExportRecord> for Revoked {
    fn from(r: ExportRecord) -> Self {
        Self {
            owner: r.owner,
            export_id: r.export_id,
            status: r.status,
            revoked_at: r.revoked_at,
            revoked_by: r.revoked_by,
        }
    }
}

/// The route's body: nothing, or an empty object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {}

/// `aws lambda invoke` payload: the export's owner, an account or a chat user, and its id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectRequest {
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    pub export_id: String,
}

impl DirectRequest {
    fn owner(&self) -> Result<ExportOwner, Error> {
        match (&self.account_id, &self.user_id) {
            (Some(account), None) => Ok(ExportOwner::Account(AccountId::parse(account)?)),
            (None, Some(user)) => Ok(ExportOwner::User(UserId::parse(user)?)),
            _ => Err(Error::BadRequest(
                "Name the export's owner: \"accountId\" for an account's export, or \"userId\" for a chat user's own, not both.".into(),
            )),
        }
    }
}

const DIRECT_SHAPE: &str =
    "a direct invocation {\"accountId\" or \"userId\": \"...\", \"exportId\": \"...\"}";

/// revoke-export: direct invocations only (operators). The revocation names the CloudTrail-recorded
/// caller, as Lambda does not tell the function who invoked it.
impl<B: Backend> DirectFunction for RevokeExport<B> {
    const NAME: &'static str = "revoke-export";

    async fn invoke(&self, payload: Value) -> Result<Value, Error> {
        let request: DirectRequest =
            // Named by its export: the owner is either of two fields (DirectRequest::owner).
            entry::direct_payload_naming(<Self as DirectFunction>::NAME, DIRECT_SHAPE, "exportId", payload)?;
        let (owner, export) = (request.owner()?, ExportId::parse(&request.export_id)?);
        let by = RequestedBy { principal: DIRECT_INVOKE_PRINCIPAL.into(), via: Via::Invoke, person: None };
        to_value(&Revoked::from(self.revoker.revoke(&owner, &export, by).await?))
    }
}

/// revoke-export-api: API Gateway's proxy events only (and only API Gateway may invoke it).
impl<B: Backend> ApiFunction for RevokeExport<B> {
    const NAME: &'static str = "revoke-export-api";

    fn cors(&self) -> &entry::Cors {
        &self.cors
    }

    async fn answer(&self, request: &ApiGatewayProxyRequest) -> Result<HttpReply, Error> {
        let route = (request.http_method.as_str(), request.resource.as_deref().unwrap_or_default());
        let (permission, users_route) = match route {
            ("POST", ROUTE) => ("RevokeDataExport", false),
            ("POST", USER_ROUTE) => ("SelfServiceDataExport", true),
            _ => {
                return Err(Error::NotFound(format!(
                    "revoke-export serves POST {ROUTE} and POST {USER_ROUTE}, not {} {}",
                    route.0, route.1
                )));
            }
        };
        let principal = entry::principal(request, permission)?;
        let owner = if users_route {
            export_core::rules::self_service::require_enabled(self.self_service)?;
            ExportOwner::User(UserId::parse(entry::path_parameter(request, "userId"))?)
        } else {
            ExportOwner::Account(AccountId::parse(entry::path_parameter(request, "accountId"))?)
        };
        let export = ExportId::parse(entry::path_parameter(request, "exportId"))?;
        // The route takes no body, or `{}`: anything in it is refused, not ignored.
        entry::require_json_body(request)?;
        let _: Option<RevokeBody> =
            entry::api::parse_body(request.body.as_deref(), request.is_base64_encoded)?;
        let person = entry::person(&self.people, request).await;
        let by = RequestedBy { principal, via: Via::Api, person };
        let revoked = self.revoker.revoke(&owner, &export, by).await?;
        Ok(HttpReply::json(200, &Revoked::from(revoked)))
    }
}

#[cfg(test)]
mod tests {
    use export_core::domain::model::AccountType;
    use export_core::memory::{Harness, InMemory, World};
    use export_core::ports::ObjectStore;
    use lambda_runtime::{Context, LambdaEvent};

    use super::*;

    use export_core::testing::{SAMPLE_ACCOUNT, SAMPLE_EXPORT};

    #[derive(Debug, Clone, Copy)]
    enum Expect {
        Http(i64, Option<&'static str>),
        Revoked,
        /// The sample user's export (same id as the account's) is REVOKED, the account's is not.
        UserRevoked(Via),
        FunctionError(&'static str),
    }

    /// A chat user whom no account manages, with a delivered export of the sample export's id.
    const SAMPLE_USER: &str = "2b7e8d4c-1f3a-4e6b-9c2d-5a8f0e1b3c7d";

    const API_EVENTS: &[(&str, Expect)] = &[
        ("api-revoke.json", Expect::Http(200, None)),
        ("api-revoke-unknown-export.json", Expect::Http(404, Some("NotFoundException"))),
        ("api-revoke-bad-export-id.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-revoke-no-identity.json", Expect::Http(403, Some("ForbiddenException"))),
        ("api-revoke-unknown-field.json", Expect::Http(400, Some("BadRequestException"))),
        ("api-revoke-user.json", Expect::UserRevoked(Via::Api)),
        // The user route with the account's id as the user's: another owner's key, not found.
        ("api-revoke-user-account-twin.json", Expect::Http(404, Some("NotFoundException"))),
        ("direct-payload.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    const DIRECT_EVENTS: &[(&str, Expect)] = &[
        ("direct-revoke.json", Expect::Revoked),
        ("direct-revoke-user.json", Expect::UserRevoked(Via::Invoke)),
        ("direct-revoke-two-owners.json", Expect::FunctionError("BadRequestException")),
        ("direct-revoke-no-owner.json", Expect::FunctionError("BadRequestException")),
        ("direct-unknown-field.json", Expect::FunctionError("BadRequestException")),
        ("forged-api-event.json", Expect::FunctionError("WrongEntryPointException")),
        ("link-event.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    /// The sample account's delivered sample export, with its files in the export bucket.
    fn deps() -> Harness<RevokeExport<InMemory>> {
        let world = World::at("2026-11-25T09:00:00Z");
        let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
        world.directory.insert_account(account.clone(), AccountType::Enterprise, false);
        let record = export_core::testing::delivered_sample_record(2);
        let prefix = format!("exports/{account}/{SAMPLE_EXPORT}/");
        world.store.insert(record);
        world.objects.objects.lock().unwrap().insert(format!("{prefix}attachments.csv"), Default::default());
        let mut theirs = export_core::testing::delivered_sample_record(1);
        theirs.owner = ExportOwner::User(UserId::parse(SAMPLE_USER).unwrap());
        world.store.insert(theirs);
        let user_prefix = format!("exports/users/{SAMPLE_USER}/{SAMPLE_EXPORT}/");
        world
            .objects
            .objects
            .lock()
            .unwrap()
            .insert(format!("{user_prefix}attachments.csv"), Default::default());
        let function = RevokeExport {
            revoker: world.revoker(),
            cors: entry::Cors::default(),
            people: world.people.clone(),
            self_service: true,
        };
        Harness { world, function }
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        let manifest_dir = env!("CARGO_MANIFEST_DIR");
        let api = export_core::testing::sample_events(manifest_dir, "revoke-export-api", API_EVENTS)
            .into_iter()
            .map(|(n, j, e)| (n, j, e, true));
        let direct = export_core::testing::sample_events(manifest_dir, "revoke-export", DIRECT_EVENTS)
            .into_iter()
            .map(|(n, j, e)| (n, j, e, false));
        for (name, json, expect, is_api_function) in api.chain(direct) {
            let deps = deps();
            let event = LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default());
            let outcome = if is_api_function {
                api_handler(&deps.function, event).await
            } else {
                direct_handler(&deps.function, event).await
            };
            let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
            let export = ExportId::parse(SAMPLE_EXPORT).unwrap();
            let stored = deps.world.store.record(&account, &export).unwrap();
            let user = ExportOwner::User(UserId::parse(SAMPLE_USER).unwrap());
            let users = deps.world.store.record(user.clone(), &export).unwrap();
            if !matches!(expect, Expect::UserRevoked(_)) {
                assert_eq!(users.status, ExportStatus::Succeeded, "{name}: the user's export untouched");
            }
            match (expect, outcome) {
                (Expect::Http(status, code), Ok(reply)) => {
                    assert_eq!(reply["statusCode"], status, "{name}: {reply}");
                    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
                    match code {
                        Some(code) => {
                            assert_eq!(body["code"], code, "{name}");
                            assert_eq!(stored.status, ExportStatus::Succeeded, "{name}: nothing revoked");
                        }
                        None => {
                            assert_eq!(body["status"], "REVOKED", "{name}");
                            assert_eq!(
                                body["revokedBy"]["principal"],
                                "arn:aws:iam::123456789012:user/it-admin"
                            );
                            assert_eq!(stored.status, ExportStatus::Revoked, "{name}");
                            let prefix = format!("exports/{account}/{export}/");
                            assert!(deps.world.objects.list(&prefix).await.unwrap().is_empty(), "{name}");
                        }
                    }
                }
                (Expect::Revoked, Ok(reply)) => {
                    assert_eq!(reply["status"], "REVOKED", "{name}: {reply}");
                    assert_eq!(stored.revoked_by.unwrap().via, Via::Invoke, "{name}");
                }
                (Expect::UserRevoked(via), Ok(reply)) => {
                    let body: Value = match via {
                        Via::Api => {
                            assert_eq!(reply["statusCode"], 200, "{name}: {reply}");
                            serde_json::from_str(reply["body"].as_str().unwrap()).unwrap()
                        }
                        _ => reply,
                    };
                    assert_eq!(
                        (body["userId"].as_str(), body["status"].as_str()),
                        (Some(SAMPLE_USER), Some("REVOKED"))
                    );
                    assert!(body["accountId"].is_null(), "{name}: {body}");
                    assert_eq!(users.status, ExportStatus::Revoked, "{name}");
                    assert_eq!(users.revoked_by.unwrap().via, via, "{name}");
                    assert_eq!(
                        stored.status,
                        ExportStatus::Succeeded,
                        "{name}: the account's export untouched"
                    );
                    let prefix = format!("exports/users/{SAMPLE_USER}/{export}/");
                    assert!(deps.world.objects.list(&prefix).await.unwrap().is_empty(), "{name}");
                    let account_prefix = format!("exports/{account}/{export}/");
                    assert_eq!(deps.world.objects.list(&account_prefix).await.unwrap().len(), 1, "{name}");
                }
                (Expect::FunctionError(code), Err(e)) => {
                    assert_eq!(e.code(), code, "{name}: {e}");
                    assert_eq!(stored.status, ExportStatus::Succeeded, "{name}: nothing revoked");
                }
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }

    /// With self-service off, the users' route refuses and revokes nothing; the operator still can.
    #[tokio::test]
    async fn with_self_service_off_a_user_cannot_revoke_but_an_operator_can() {
        let mut deps = deps();
        deps.function.self_service = false;
        let json = std::fs::read_to_string(format!(
            "{}/../../events/revoke-export-api/api-revoke-user.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let event = LambdaEvent::new(serde_json::from_str(&json).unwrap(), Context::default());
        let reply = api_handler(&deps.function, event).await.unwrap();
        assert_eq!(reply["statusCode"], 403, "{reply}");
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["code"], "ForbiddenException");
        let user = ExportOwner::User(UserId::parse(SAMPLE_USER).unwrap());
        let export = ExportId::parse(SAMPLE_EXPORT).unwrap();
        assert_eq!(deps.world.store.record(user.clone(), &export).unwrap().status, ExportStatus::Succeeded);
        let payload = serde_json::json!({"userId": SAMPLE_USER, "exportId": SAMPLE_EXPORT});
        let reply =
            direct_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await.unwrap();
        assert_eq!(reply["status"], "REVOKED");
    }
}
