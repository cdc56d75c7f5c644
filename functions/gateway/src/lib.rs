//! The REST API's proxy-event glue, shared by start-export and retrieve-export: who is calling,
//! and the proxy response for an [`HttpReply`]. Rules stay in export-core, which knows no event types.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderName, HeaderValue};
use export_core::Error;
use export_core::api::HttpReply;
use serde_json::Value;

/// Recorded as the principal of a direct invocation: Lambda does not pass the IAM caller to the
/// function; CloudTrail's Invoke events name it.
pub const DIRECT_INVOKE_PRINCIPAL: &str = "lambda:Invoke (caller recorded by CloudTrail)";

/// The IAM principal that signed the request. API Gateway's AWS_IAM authorizer already refuses
/// unsigned calls; this is defence in depth (and what the local gateway's `none` principal tests).
pub fn principal(request: &ApiGatewayProxyRequest, permission: &str) -> Result<String, Error> {
    request.request_context.identity.user_arn.clone().filter(|arn| !arn.is_empty()).ok_or_else(|| {
        Error::Forbidden(format!("The request is not signed by an IAM principal; {permission} needs one."))
    })
}

/// A path parameter, or "" (which then fails id validation with a clear message).
pub fn path_parameter<'a>(request: &'a ApiGatewayProxyRequest, name: &str) -> &'a str {
    request.path_parameters.get(name).map(String::as_str).unwrap_or_default()
}

/// Whether a payload has the shape of a REST API proxy event.
pub fn is_proxy_event(payload: &Value) -> bool {
    payload.get("httpMethod").is_some() && payload.get("requestContext").is_some()
}

pub fn parse_proxy_event(payload: Value) -> Result<ApiGatewayProxyRequest, Error> {
    serde_json::from_value(payload)
        .map_err(|e| Error::BadRequest(format!("malformed API Gateway event: {e}")))
}

pub fn to_proxy_response(reply: HttpReply) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(reply.status);
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers.insert(HeaderName::from_static(name), value);
        }
    }
    response.body = Some(Body::Text(reply.body));
    response
}

/// A reply for Lambda: any serializable value as JSON.
pub fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("serializing the reply: {e}")))
}
