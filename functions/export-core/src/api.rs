//! The REST API's conventions (DESIGN §5), free of any Lambda event type: bounded JSON request
//! bodies, and replies whose errors are `{"code", "message"}` with the documented statuses.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Largest request body accepted (DESIGN §5: 413 above it).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// An HTTP reply, ready for any gateway event type.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_allowed_at: Option<String>,
}

impl HttpReply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Self { status, headers: vec![("content-type", "application/json".into())], body },
            Err(e) => Self::error(Error::Internal(format!("serializing a reply: {e}"))),
        }
    }

    pub fn error(error: Error) -> Self {
        let error = error.into_api();
        let mut headers = vec![("content-type", "application/json".to_owned())];
        let next_allowed_at = match &error {
            Error::Throttled { next_allowed_at, retry_after_seconds, .. } => {
                headers.push(("retry-after", retry_after_seconds.to_string()));
                Some(next_allowed_at.to_string())
            }
            _ => None,
        };
        let body = ErrorBody { code: error.code(), message: error.public_message(), next_allowed_at };
        Self {
            status: error.http_status(),
            headers,
            body: serde_json::to_string(&body).expect("an error body always serializes"),
        }
    }
}

/// Decodes and parses an optional JSON request body: at most [`MAX_BODY_BYTES`], UTF-8, one JSON
/// value of type `T` (whose serde attributes refuse unknown fields). An absent or empty body is
/// `None`.
pub fn parse_body<T: DeserializeOwned>(body: Option<&str>, base64_encoded: bool) -> Result<Option<T>> {
    let Some(raw) = body.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    let too_large = || {
        Error::PayloadTooLarge(format!("The request body is larger than {MAX_BODY_BYTES} bytes (16 KiB)."))
    };
    let bytes = if base64_encoded {
        // Base64 is 4/3 the decoded size: refuse before decoding anything huge.
        if raw.len() > MAX_BODY_BYTES.div_ceil(3) * 4 + 4 {
            return Err(too_large());
        }
        aws_smithy_types::base64::decode(raw)
            .map_err(|_| Error::BadRequest("The request body is not valid base64.".into()))?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::BadRequest("The request body is not valid UTF-8 JSON.".into()))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|e| {
        Error::BadRequest(format!("The request body is not valid: {}.", describe_json_error(&e)))
    })
}

/// serde_json's message without the Rust type names it sometimes carries.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("malformed JSON ({msg})")
        }
        _ => msg.replace("struct ", "").replace("variant identifier", "value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        a: Option<String>,
    }

    #[test]
    fn bodies_are_bounded_utf8_json_without_unknown_fields() {
        assert_eq!(parse_body::<Body>(None, false).unwrap(), None);
        assert_eq!(parse_body::<Body>(Some(""), false).unwrap(), None);
        assert_eq!(
            parse_body::<Body>(Some("{\"a\":\"x\"}"), false).unwrap(),
            Some(Body { a: Some("x".into()) })
        );
        let err = parse_body::<Body>(Some("{\"b\":1}"), false).unwrap_err();
        assert_eq!(err.code(), "BadRequestException");
        assert!(err.to_string().contains("unknown field `b`"), "{err}");
        let err = parse_body::<Body>(Some("{\"a\":"), false).unwrap_err();
        assert!(err.to_string().contains("malformed JSON"), "{err}");
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(parse_body::<Body>(Some(&big), false).unwrap_err().http_status(), 413);
        let b64 = aws_smithy_types::base64::encode(b"{\"a\":\"y\"}");
        assert_eq!(parse_body::<Body>(Some(&b64), true).unwrap(), Some(Body { a: Some("y".into()) }));
        let not_utf8 = aws_smithy_types::base64::encode([0xff, 0xfe, b'{']);
        assert!(parse_body::<Body>(Some(&not_utf8), true).unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn throttled_replies_carry_retry_after_and_next_allowed_at() {
        let next = Timestamp::parse("2026-12-01T10:00:00Z").unwrap();
        let reply = HttpReply::error(Error::Throttled {
            message: "wait".into(),
            next_allowed_at: next,
            retry_after_seconds: 42,
        });
        assert_eq!(reply.status, 429);
        assert!(reply.headers.contains(&("retry-after", "42".to_owned())));
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["code"], "ThrottledClientException");
        assert_eq!(body["nextAllowedAt"], "2026-12-01T10:00:00.000Z");
    }

    #[test]
    fn internal_errors_reply_500_without_detail() {
        let reply = HttpReply::error(Error::Internal("secret table name".into()));
        assert_eq!(reply.status, 500);
        assert!(!reply.body.contains("secret"));
        assert!(reply.body.contains("ServiceFailureException"));
    }
}
