//! The trust paths (README "Who may do what"): which path an event's shape belongs to, the refusal
//! of another path's events, who signed an API request, and what an API request must carry.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use export_core::Error;
use export_core::domain::model::{Person, is_user_pool_sub};
use export_core::ports::People;
use serde_json::Value;

use crate::{Caller, log_unsuccessful};

/// Recorded as the principal of a direct invocation: Lambda does not pass the IAM caller to the
/// function; CloudTrail's Invoke data events name it (the template's optional invoke trail).
pub const DIRECT_INVOKE_PRINCIPAL: &str = "lambda:Invoke (caller recorded by CloudTrail)";

/// The trust path an event's shape belongs to. Each function serves one path and refuses the
/// others, so an event sent down one path is never taken for another (README "Who may do what").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// API Gateway's REST proxy event.
    ApiGateway,
    /// An EventBridge event (a Scheduled Event or any other envelope with `source`/`detail-type`).
    EventBridge,
    /// A Lambda function URL's request (payload format 2.0): the download links.
    FunctionUrl,
    /// Anything else: a direct invocation's payload, or garbage.
    Other,
}

pub fn shape_of(payload: &Value) -> Shape {
    if is_proxy_event(payload) {
        Shape::ApiGateway
    } else if payload.get("detail-type").is_some() && payload.get("source").is_some() {
        Shape::EventBridge
    } else if is_function_url_event(payload) {
        Shape::FunctionUrl
    } else {
        Shape::Other
    }
}

/// A direct invocation's payload for `function`, which takes `serves` (a description for messages):
/// refused as `WrongEntryPointException` if it has another trust path's shape, as
/// `BadRequestException` if it names no account or does not parse, else parsed into `T`.
pub fn direct_payload<T: serde::de::DeserializeOwned>(
    function: &str,
    serves: &str,
    payload: Value,
) -> Result<T, Error> {
    direct_payload_naming(function, serves, "accountId", payload)
}

/// [`direct_payload`] for a function whose payload names `field` (the Assistant's `userId`).
pub fn direct_payload_naming<T: serde::de::DeserializeOwned>(
    function: &str,
    serves: &str,
    field: &str,
    payload: Value,
) -> Result<T, Error> {
    let shape = shape_of(&payload);
    if shape != Shape::Other {
        return Err(wrong_entry_point(function, serves, shape));
    }
    if payload.get(field).is_none() {
        return Err(Error::BadRequest(format!("{function} takes {serves}; this payload has no {field}.")));
    }
    serde_json::from_value(payload).map_err(|e| {
        Error::BadRequest(format!(
            "The invocation payload is not valid: {}.",
            crate::api::describe_json_error(&e)
        ))
    })
}

/// An API function's event: API Gateway's proxy event, or a logged `WrongEntryPointException`.
pub fn api_event(function: &str, payload: Value) -> Result<ApiGatewayProxyRequest, Error> {
    let shape = shape_of(&payload);
    if shape != Shape::ApiGateway {
        let refusal = wrong_entry_point(function, "API Gateway's proxy events", shape);
        log_unsuccessful(function, &Caller::unknown("unknown (not API Gateway)"), "lambda:Invoke", &refusal);
        return Err(refusal);
    }
    parse_proxy_event(payload)
}

/// A download link's request: a function URL event (payload format 2.0), or a logged
/// `WrongEntryPointException`.
pub fn function_url_event(function: &str, payload: Value) -> Result<LambdaFunctionUrlRequest, Error> {
    let shape = shape_of(&payload);
    if shape != Shape::FunctionUrl {
        let refusal = wrong_entry_point(function, "its function URL's requests", shape);
        log_unsuccessful(
            function,
            &Caller::unknown("unknown (not the function URL)"),
            "lambda:Invoke",
            &refusal,
        );
        return Err(refusal);
    }
    serde_json::from_value(payload)
        .map_err(|e| Error::BadRequest(format!("malformed function URL event: {e}")))
}

/// Whether a payload has the shape of a function URL request (payload format 2.0).
pub fn is_function_url_event(payload: &Value) -> bool {
    payload.get("version").and_then(Value::as_str) == Some("2.0")
        && payload.get("rawPath").is_some()
        && payload.pointer("/requestContext/http").is_some()
}

/// The refusal of an event that belongs to another trust path (`WrongEntryPointException`). It
/// names the function that serves that path, and nothing of the event.
pub fn wrong_entry_point(function: &str, serves: &str, shape: Shape) -> Error {
    let got = match shape {
        Shape::ApiGateway => {
            "an API Gateway request; the REST API has its own function, which only API Gateway may invoke"
        }
        Shape::EventBridge => {
            "an EventBridge event; the daily sweep is sweep-exports, invoked only by its rules"
        }
        Shape::FunctionUrl => {
            "a function URL request; download links have their own function, download-export"
        }
        Shape::Other => "neither",
    };
    Error::WrongEntryPoint(format!(
        "{function} takes {serves} only, and this event is {got}. Nothing was read or recorded."
    ))
}

/// The IAM principal that signed the request. API Gateway's AWS_IAM authorizer already refuses
/// unsigned calls; this is defence in depth (and what the local gateway's `none` principal tests).
pub fn principal(request: &ApiGatewayProxyRequest, permission: &str) -> Result<String, Error> {
    let arn =
        request.request_context.identity.user_arn.clone().filter(|arn| !arn.is_empty()).ok_or_else(|| {
            Error::Forbidden(format!(
                "The request is not signed by an IAM principal; {permission} needs one."
            ))
        })?;
    // Every console user of a group shares one role session name (CognitoIdentityCredentials):
    // the user pool's user id (`sub`), which API Gateway passes for identity-pool callers, says who.
    let user =
        request.request_context.identity.cognito_authentication_provider.as_deref().and_then(cognito_user);
    Ok(match user {
        Some(sub) => format!("{arn} (user pool user {sub})"),
        None => arn,
    })
}

/// The `sub` in `cognito-idp.<region>.amazonaws.com/<pool>,cognito-idp…/<pool>:CognitoSignIn:<sub>`,
/// if it looks like one (it reaches the export record and the logs, so nothing else passes).
fn cognito_user(provider: &str) -> Option<&str> {
    console_user(provider).map(|(_, sub)| sub)
}

/// The user pool and the user (`sub`) of a console caller's `cognitoAuthenticationProvider`, if
/// both look like ones.
fn console_user(provider: &str) -> Option<(&str, &str)> {
    let (issuer, sub) = provider.rsplit_once(":CognitoSignIn:")?;
    let (_, pool) = issuer.rsplit_once('/')?;
    let pool_like = (1..=64).contains(&pool.len())
        && pool.contains('_')
        && pool.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (is_user_pool_sub(sub) && pool_like).then_some((pool, sub))
}

/// The person behind a console request, resolved server-side from the user pool user that API
/// Gateway vouched for (never from anything the browser sends). `None` for an IAM caller, and
/// when the user pool cannot say: the principal still names the caller, and a failed look-up
/// never fails the request (it is logged).
pub async fn person<P: People>(people: &P, request: &ApiGatewayProxyRequest) -> Option<Person> {
    let provider = request.request_context.identity.cognito_authentication_provider.as_deref()?;
    let (pool, sub) = console_user(provider)?;
    match people.person(pool, sub).await {
        Ok(person) => person,
        Err(error) => {
            tracing::warn!(%error, user = sub, "could not name the console user; the principal stands");
            None
        }
    }
}

/// A path parameter, or "" (which then fails id validation with a clear message).
pub fn path_parameter<'a>(request: &'a ApiGatewayProxyRequest, name: &str) -> &'a str {
    request.path_parameters.get(name).map(String::as_str).unwrap_or_default()
}

/// Whether a payload has the shape of a REST API proxy event.
/// Request bodies are JSON (DESIGN §5). A body declared as something else (curl's `-d` sends
/// `application/x-www-form-urlencoded`) is refused with the fix in the message, rather than parsed
/// on a guess. No Content-Type at all is accepted.
pub fn require_json_body(request: &ApiGatewayProxyRequest) -> Result<(), Error> {
    if request.body.as_deref().is_none_or(str::is_empty) {
        return Ok(());
    }
    let Some(declared) = request.headers.get("content-type") else {
        return Ok(());
    };
    let media_type = declared.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim();
    let media_type = media_type.to_ascii_lowercase();
    let (kind, subtype) = media_type.split_once('/').unwrap_or_default();
    if kind == "application" && (subtype == "json" || subtype.ends_with("+json")) {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "The request body must be JSON, sent with Content-Type: application/json; this request declared {:?}.",
        declared.to_str().unwrap_or("a non-ASCII value")
    )))
}

pub fn is_proxy_event(payload: &Value) -> bool {
    payload.get("httpMethod").is_some() && payload.get("requestContext").is_some()
}

pub fn parse_proxy_event(payload: Value) -> Result<ApiGatewayProxyRequest, Error> {
    serde_json::from_value(payload)
        .map_err(|e| Error::BadRequest(format!("malformed API Gateway event: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lambda_events::http::HeaderValue;

    pub(crate) fn request(content_type: Option<&str>, body: Option<&str>) -> ApiGatewayProxyRequest {
        let mut request = ApiGatewayProxyRequest::default();
        request.body = body.map(str::to_owned);
        if let Some(value) = content_type {
            request.headers.insert("content-type", HeaderValue::from_str(value).unwrap());
        }
        request
    }

    #[test]
    fn a_console_user_is_named_by_the_user_pool_id_beside_the_shared_role_session() {
        let mut r = request(None, None);
        let role = "arn:aws:sts::123456789012:assumed-role/ConsoleStartRole/CognitoIdentityCredentials";
        r.request_context.identity.user_arn = Some(role.into());
        assert_eq!(principal(&r, "StartDataExport").unwrap(), role);
        let pool = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC";
        r.request_context.identity.cognito_authentication_provider =
            Some(format!("{pool},{pool}:CognitoSignIn:7d1f5a6e-0c1b-4d2e-9f3a-5b6c7d8e9f00"));
        assert_eq!(
            principal(&r, "StartDataExport").unwrap(),
            format!("{role} (user pool user 7d1f5a6e-0c1b-4d2e-9f3a-5b6c7d8e9f00)")
        );
        // Anything but an id is left out rather than recorded.
        r.request_context.identity.cognito_authentication_provider =
            Some(format!("{pool}:CognitoSignIn:x\nforged log line"));
        assert_eq!(principal(&r, "StartDataExport").unwrap(), role);
        r.request_context.identity.user_arn = None;
        assert_eq!(principal(&r, "StartDataExport").unwrap_err().code(), "ForbiddenException");
    }

    #[tokio::test]
    async fn the_person_is_the_console_pool_user_api_gateway_named_and_nobody_else() {
        let people = export_core::memory::FakePeople::default();
        let jane = Person { username: "jane.doe".into(), name: Some("Jane Doe".into()), email: None };
        let sub = people.add(jane.clone());
        let provider = |pool: &str, sub: &str| {
            let issuer = format!("cognito-idp.us-east-1.amazonaws.com/{pool}");
            Some(format!("{issuer},{issuer}:CognitoSignIn:{sub}"))
        };
        let mut r = request(None, None);
        assert_eq!(person(&people, &r).await, None, "an IAM caller is no console user");
        r.request_context.identity.cognito_authentication_provider = provider(&people.pool_id, &sub);
        assert_eq!(person(&people, &r).await, Some(jane));
        // Another pool's user with the same sub, an unknown sub, or a forged provider: nobody.
        r.request_context.identity.cognito_authentication_provider = provider("us-east-1_Other", &sub);
        assert_eq!(person(&people, &r).await, None);
        r.request_context.identity.cognito_authentication_provider = provider(&people.pool_id, "0000");
        assert_eq!(person(&people, &r).await, None);
        r.request_context.identity.cognito_authentication_provider =
            Some(format!("{}\"\n:CognitoSignIn:{sub}", provider(&people.pool_id, &sub).unwrap()));
        assert_eq!(person(&people, &r).await, None);
    }

    #[test]
    fn a_function_url_request_is_its_own_path_and_every_other_function_refuses_it() {
        let link: Value =
            serde_json::from_str(include_str!("../../../events/download-export/link.json")).unwrap();
        assert_eq!(shape_of(&link), Shape::FunctionUrl);
        let direct =
            direct_payload::<Value>("start-export", "a direct invocation", link.clone()).unwrap_err();
        assert_eq!(direct.code(), "WrongEntryPointException");
        assert!(direct.to_string().contains("download-export"), "{direct}");
        assert_eq!(
            api_event("start-export-api", link.clone()).unwrap_err().code(),
            "WrongEntryPointException"
        );
        assert!(function_url_event("download-export", link).is_ok());
        let api: Value =
            serde_json::from_str(include_str!("../../../events/retrieve-export-api/api-get.json")).unwrap();
        assert_eq!(
            function_url_event("download-export", api).unwrap_err().code(),
            "WrongEntryPointException"
        );
        let direct: Value = serde_json::json!({"accountId": "x", "version": "2.0"});
        assert_eq!(
            function_url_event("download-export", direct).unwrap_err().code(),
            "WrongEntryPointException"
        );
    }

    #[test]
    fn json_bodies_pass_and_other_declared_media_types_are_refused_with_the_fix() {
        let body = Some(r#"{"format": "csv"}"#);
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.x+json",
        ] {
            assert!(require_json_body(&request(Some(ok), body)).is_ok(), "{ok}");
        }
        assert!(require_json_body(&request(None, body)).is_ok(), "no declared type");
        assert!(require_json_body(&request(Some("text/plain"), None)).is_ok(), "no body, nothing to check");
        for refused in
            ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "json"]
        {
            let error = require_json_body(&request(Some(refused), body)).unwrap_err();
            assert_eq!(error.code(), "BadRequestException");
            assert_eq!(error.http_status(), 400);
            assert!(error.to_string().contains("Content-Type: application/json"), "{error}");
        }
    }
}
