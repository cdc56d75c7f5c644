//! The REST API's conventions (DESIGN §5), free of any Lambda event type: bounded JSON request
//! bodies, and replies whose errors are `{"code", "message"}` with the documented statuses.

use serde::Serialize;
use serde::de::DeserializeOwned;

use export_core::domain::error::{Error, Result};

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
    /// Every reply is JSON, and none may be stored by a browser or a proxy: replies name an
    /// account's exports and may carry a manifest link, which is a key to every file.
    fn base_headers() -> Vec<(&'static str, String)> {
        vec![("content-type", "application/json".to_owned()), ("cache-control", "no-store".to_owned())]
    }

    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Self { status, headers: Self::base_headers(), body },
            Err(e) => Self::error(Error::Internal(format!("serializing a reply: {e}"))),
        }
    }

    pub fn error(error: Error) -> Self {
        let error = error.into_api();
        let mut headers = Self::base_headers();
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
    let invalid = |e: serde_json::Error| {
        Error::BadRequest(format!("The request body is not valid: {}.", describe_json_error(&e)))
    };
    // Parsed as JSON first: serde would also read a struct from a JSON array (`["csv"]`), and every
    // body of this API is an object.
    let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    if !value.is_object() {
        return Err(Error::BadRequest(
            "The request body is not valid: it must be a JSON object, such as {\"format\": \"csv\"}.".into(),
        ));
    }
    serde_json::from_value(value).map(Some).map_err(invalid)
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
    use export_core::domain::time::Timestamp;

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
        // serde alone would read a struct from an array: `["x"]` is not `{"a": "x"}`.
        let array = parse_body::<Body>(Some("[\"x\"]"), false).unwrap_err();
        assert!(array.to_string().contains("must be a JSON object"), "{array}");
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

#[cfg(test)]
mod fuzz {
    //! Hostile request bodies: never a panic, only `BadRequestException` (400, or 413 over the
    //! limit), and plain JSON within the limit parses exactly as serde_json parses it.
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    /// A body shape for the parser; the fuzz test only needs it to parse or not.
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "parsed to check the parser, never read")]
    struct Body {
        a: Option<String>,
        b: Option<Vec<Value>>,
    }

    /// `n` opening brackets (and, when `close`, the matching closing ones).
    fn nested(open: &str, n: usize, close: bool) -> String {
        let closing = match open {
            "[" => "]",
            "{\"a\":" => "}",
            _ => "]}",
        };
        let mut s = open.repeat(n);
        s.push_str("null");
        if close {
            s.push_str(&closing.repeat(n));
        }
        s
    }

    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(prop_oneof![Just("a".to_owned()), any::<String>()], inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .prop_map(|v| v.to_string())
    }

    /// (body, isBase64Encoded).
    fn bodies() -> impl Strategy<Value = (String, bool)> {
        let b64 = |bytes: &[u8]| aws_smithy_types::base64::encode(bytes);
        prop_oneof![
            // Arbitrary unicode, either way.
            (any::<String>(), any::<bool>()),
            // Arbitrary JSON, plain or base64.
            (json_text(), any::<bool>()).prop_map(move |(t, enc)| if enc {
                (b64(t.as_bytes()), true)
            } else {
                (t, false)
            }),
            // Deeply nested, balanced or not, up to past the size limit.
            (
                prop::sample::select(vec!["[", "{\"a\":", "{\"b\":["]),
                1usize..12_000,
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(move |(open, n, close, enc)| {
                    let t = nested(open, n, close);
                    if enc { (b64(t.as_bytes()), true) } else { (t, false) }
                }),
            // Right around the limit.
            (MAX_BODY_BYTES - 12..MAX_BODY_BYTES + 4, any::<bool>()).prop_map(move |(n, enc)| {
                let t = format!("{{\"a\":\"{}\"}}", "x".repeat(n - 8));
                if enc { (b64(t.as_bytes()), true) } else { (t, false) }
            }),
            // Base64 of arbitrary bytes (mostly invalid UTF-8).
            prop::collection::vec(any::<u8>(), 0..256).prop_map(move |bytes| (b64(&bytes), true)),
            // Almost base64: valid text with junk spliced in.
            (prop::collection::vec(any::<u8>(), 0..64), any::<prop::sample::Index>(), any::<char>())
                .prop_map(move |(bytes, at, junk)| {
                    let mut s = b64(&bytes);
                    let at = at.index(s.len() + 1);
                    s.insert(at, junk);
                    (s, true)
                }),
            // Huge, far past the limit.
            (1usize..4, any::<bool>()).prop_map(|(m, enc)| ("7".repeat(m * 3 * MAX_BODY_BYTES), enc)),
        ]
    }

    fn check_error(e: &Error) {
        assert_eq!(e.code(), "BadRequestException", "{e:?}");
        assert!(matches!(e.http_status(), 400 | 413), "{e:?} has status {}", e.http_status());
        assert!(!e.public_message().is_empty());
    }

    proptest! {
        // A failing case is kept as a regular #[test], not in a proptest-regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn hostile_bodies_are_bad_requests_never_panics((body, base64) in bodies()) {
            for outcome in [
                parse_body::<Value>(Some(&body), base64).map(|v| v.is_some()),
                parse_body::<Body>(Some(&body), base64).map(|v| v.is_some()),
            ] {
                match outcome {
                    Ok(_) => {}
                    Err(e) => check_error(&e),
                }
            }
            // 413 exactly when the body is over the limit (for base64, decoded or plainly too long).
            let too_large = if base64 {
                body.len() > MAX_BODY_BYTES.div_ceil(3) * 4 + 4
                    || aws_smithy_types::base64::decode(&body).is_ok_and(|b| b.len() > MAX_BODY_BYTES)
            } else {
                body.len() > MAX_BODY_BYTES
            };
            match parse_body::<Value>(Some(&body), base64) {
                Err(e) => prop_assert_eq!(e.http_status(), if too_large { 413 } else { 400 }, "{:?}", e),
                Ok(_) => prop_assert!(!too_large),
            }
            if !base64 && body.len() <= MAX_BODY_BYTES {
                // Within the limit, plain JSON means exactly what serde_json says it means.
                let ours = parse_body::<Value>(Some(&body), false);
                if body.trim().is_empty() {
                    prop_assert!(matches!(ours, Ok(None)));
                } else {
                    match serde_json::from_str::<Value>(&body) {
                        Ok(v) if v.is_object() => prop_assert_eq!(ours.unwrap(), Some(v)),
                        _ => prop_assert_eq!(ours.unwrap_err().http_status(), 400),
                    }
                }
            }
        }
    }
}
