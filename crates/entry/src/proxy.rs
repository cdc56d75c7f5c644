//! API Gateway's proxy responses: an [`HttpReply`] as a proxy response, with the console's CORS.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderName, HeaderValue};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlResponse;
use export_core::Error;
use serde_json::Value;

use crate::api::HttpReply;

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

/// A function URL's response (payload format 2.0): the same reply, for the download links.
pub fn to_function_url_response(reply: HttpReply) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(reply.status);
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers.insert(HeaderName::from_static(name), value);
        }
    }
    response.body = Some(reply.body);
    response
}

/// CORS for the console: the API's replies allow its one origin (CONSOLE_ORIGIN) and no other.
/// API Gateway answers the preflight itself (the OPTIONS mock integrations of openapi.yaml) and
/// adds the header to its own refusals (gateway responses); a proxy integration's replies must
/// carry it themselves, which is this. A request from any other origin gets no Allow-Origin, so a
/// browser on that origin cannot read the reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cors {
    origin: Option<String>,
}

impl Cors {
    pub fn new(origin: Option<&str>) -> Self {
        Self { origin: origin.map(str::to_owned) }
    }

    /// The configured console's origin (CONSOLE_ORIGIN); none allowed without one.
    pub fn from_config(config: &export_core::Config) -> Self {
        Self::new(config.console_origin.as_deref())
    }

    pub fn apply(&self, request: &ApiGatewayProxyRequest, mut reply: HttpReply) -> HttpReply {
        let Some(allowed) = &self.origin else {
            return reply;
        };
        // Caches must not hand one origin's answer to another.
        reply.headers.push(("vary", "Origin".to_owned()));
        let origin = request.headers.get("origin").and_then(|v| v.to_str().ok());
        if origin == Some(allowed.as_str()) {
            reply.headers.push(("access-control-allow-origin", allowed.clone()));
            // A 429's Retry-After, for the console to say when.
            reply.headers.push(("access-control-expose-headers", "Retry-After".to_owned()));
        }
        reply
    }
}

/// A reply for Lambda: any serializable value as JSON.
pub fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("serializing the reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::tests::request;

    #[test]
    fn cors_allows_the_console_origin_only() {
        let cors = Cors::new(Some("https://d111.cloudfront.net"));
        let from = |origin: &str| {
            let mut r = request(None, None);
            r.headers.insert("origin", HeaderValue::from_str(origin).unwrap());
            r
        };
        let header = |reply: &HttpReply, name: &str| {
            reply.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
        };
        let reply = cors.apply(&from("https://d111.cloudfront.net"), HttpReply::json(200, &1));
        assert_eq!(
            header(&reply, "access-control-allow-origin").as_deref(),
            Some("https://d111.cloudfront.net")
        );
        assert_eq!(header(&reply, "access-control-expose-headers").as_deref(), Some("Retry-After"));
        assert_eq!(header(&reply, "vary").as_deref(), Some("Origin"));
        let other = cors.apply(&from("https://evil.example"), HttpReply::json(200, &1));
        assert_eq!(header(&other, "access-control-allow-origin"), None);
        assert_eq!(header(&other, "vary").as_deref(), Some("Origin"));
        let unset = Cors::default().apply(&from("https://d111.cloudfront.net"), HttpReply::json(200, &1));
        assert_eq!(unset, HttpReply::json(200, &1));
    }
}
