//! Property-test strategies shared by every entry point's fuzz tests (a dev-dependency only): arbitrary
//! JSON, mutations of real sample events, and the check that a function error carries a documented
//! errorType.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use export_core::Error;

/// Every `errorType` a function error may carry: one list, kept with the error type.
pub const DOCUMENTED_CODES: &[&str] = Error::CODES;

/// Values that get past the first checks: ids, times, enum words and shape markers.
pub const INTERESTING: &[&str] = &[
    "",
    " ",
    "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
    "6F1C2D3E-4B5A-4C7D-8E9F-0A1B2C3D4E5F",
    "00000000-0000-4000-8000-000000000000",
    "01KAW6ZQ5V0000000000000000",
    "01kaw6zq5v0000000000000000",
    "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
    "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
    "2026-11-24T10:05:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "0000-01-01T00:00:00+23:59",
    "2026-11-24T10:00:00.000Z#0b7e3c1a-2f4d-4e5a-9b6c-7d8e9f0a1b2c",
    "csv",
    "jsonl",
    "CSV",
    "part",
    "finalize",
    "fail",
    "DIRECT",
    "ROOM",
    "GROUP",
    "GET",
    "POST",
    "/accounts/{accountId}/data-exports",
    "/accounts/{accountId}/data-exports/{exportId}",
    "arn:aws:iam::123456789012:user/it-admin",
    "Scheduled Event",
    "aws.events",
    "aws.scheduler",
    "{}",
    "{\"format\":\"jsonl\",\"clientToken\":\"t-1\"}",
    "eyJmb3JtYXQiOiJqc29ubCJ9",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"errorType\":\"TransientError\",\"errorMessage\":\"x\"}",
    "alloc::boxed::Box<dyn core::any::Any + core::marker::Send>",
    "States.Timeout",
    "\u{0}",
    "\u{202e}🙂",
];

/// Keys that steer the shape detection and the step inputs.
pub const KEYS: &[&str] = &[
    "accountId",
    "exportId",
    "clientToken",
    "format",
    "maxResults",
    "nextToken",
    "httpMethod",
    "requestContext",
    "resource",
    "path",
    "pathParameters",
    "queryStringParameters",
    "body",
    "isBase64Encoded",
    "identity",
    "userArn",
    "headers",
    "detail-type",
    "source",
    "resources",
    "job",
    "mode",
    "cutoff",
    "cursor",
    "partCount",
    "listed",
    "totals",
    "count",
    "bytes",
    "signedAt",
    "part",
    "error",
    "Error",
    "Cause",
    "DIRECT",
    "ROOM",
];

pub fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..12).prop_map(Value::from),
        prop::sample::select(vec![
            json!(u32::MAX),
            json!(u64::from(u32::MAX) + 1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(0.5),
            json!(-1e300),
        ]),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
    ]
}

pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(INTERESTING).prop_map(str::to_owned), any::<String>()]
}

pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ]
}

/// Arbitrary JSON, at most 6 levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![prop::sample::select(KEYS).prop_map(str::to_owned), any::<String>()];
    leaf().prop_recursive(6, 64, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
pub enum Mutation {
    /// Replace a number, string or boolean with another of its kind (steps past type checks).
    Retype(prop::sample::Index, Value, String, bool),
    /// Replace the value at one of the event's paths (the root included) with any value.
    Replace(prop::sample::Index, Value),
    /// Remove an object member or array element.
    Delete(prop::sample::Index),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<prop::sample::Index>;
    prop_oneof![
        4 => (at(), number(), string(), any::<bool>()).prop_map(|(i, n, s, b)| Mutation::Retype(i, n, s, b)),
        2 => (at(), leaf()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => (at(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => at().prop_map(Mutation::Delete),
    ]
}

#[derive(Debug, Clone)]
pub enum Step {
    Key(String),
    Item(usize),
}

pub fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        let children: Vec<(Step, &Value)> = match value {
            Value::Object(m) => m.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(i, v)| (Step::Item(i), v)).collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            prefix.push(step);
            out.push(prefix.clone());
            walk(child, prefix, out);
            prefix.pop();
        }
    }
    let mut out = vec![Vec::new()];
    walk(value, &mut Vec::new(), &mut out);
    out
}

pub fn at<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Item(i) => &mut v[*i],
    })
}

pub fn mutate(event: &mut Value, mutation: &Mutation) {
    let paths = paths(event);
    match mutation {
        Mutation::Retype(index, number, string, boolean) => {
            let target = at(event, index.get::<Vec<Step>>(&paths));
            match target {
                Value::Number(_) => *target = number.clone(),
                Value::String(_) => *target = Value::String(string.clone()),
                Value::Bool(_) => *target = Value::Bool(*boolean),
                _ => {}
            }
        }
        Mutation::Replace(index, value) => *at(event, index.get::<Vec<Step>>(&paths)) = value.clone(),
        Mutation::Delete(index) => {
            if paths.len() < 2 {
                return;
            }
            let (last, parent) = index.get::<Vec<Step>>(&paths[1..]).split_last().expect("not the root");
            match (at(event, parent), last) {
                (Value::Object(m), Step::Key(k)) => {
                    m.remove(k);
                }
                (Value::Array(a), Step::Item(i)) => {
                    a.remove(*i);
                }
                _ => unreachable!("paths follow the value"),
            }
        }
    }
}

/// A sample event with one to three mutations.
pub fn mutated(samples: Vec<(&'static str, &'static str)>) -> impl Strategy<Value = (&'static str, Value)> {
    (prop::sample::select(samples), prop::collection::vec(mutation(), 1..3)).prop_map(
        |((name, json), mutations)| {
            let mut event: Value = serde_json::from_str(json).expect("sample event is JSON");
            for m in &mutations {
                mutate(&mut event, m);
            }
            (name, event)
        },
    )
}

/// A function error: a documented errorType, the same one Lambda reports.
pub fn check_function_error(e: Error) -> Result<&'static str, TestCaseError> {
    let code = e.code();
    let diagnostic: lambda_runtime::Diagnostic = e.into();
    prop_assert_eq!(diagnostic.error_type.as_str(), code);
    prop_assert!(DOCUMENTED_CODES.contains(&code), "undocumented errorType {}", code);
    Ok(code)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// An API Gateway proxy reply: below 500, a JSON body, `{code, message}` on errors.
pub fn check_proxy_reply(reply: &Value) -> Result<(), TestCaseError> {
    let status = reply["statusCode"].as_i64();
    prop_assert!(status.is_some_and(|s| (200..500).contains(&s)), "reply {}", reply);
    prop_assert_eq!(&reply["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap_or_default())
        .map_err(|e| TestCaseError::fail(format!("body is not JSON ({e}): {reply}")))?;
    if status.unwrap() >= 400 {
        let code = body["code"].as_str().unwrap_or_default();
        prop_assert!(DOCUMENTED_CODES.contains(&code), "reply {}", reply);
        prop_assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "reply {}", reply);
    }
    Ok(())
}

/// A function error where every port is healthy: a documented errorType (as Lambda reports it), and
/// never a service, transient or configuration failure — bad input is the caller's fault.
pub fn check_healthy_error(e: Error, input: &Value) -> Result<&'static str, TestCaseError> {
    let code = check_function_error(e)?;
    prop_assert!(
        !matches!(code, "ServiceFailureException" | "TransientError" | "ConfigurationError"),
        "{} for input {}",
        code,
        input
    );
    Ok(code)
}

/// What an API-facing function (start-export, retrieve-export) answered on healthy fakes: a proxy
/// reply for a proxy event, a JSON object for a direct invocation, or a healthy function error.
pub fn check_api_outcome(
    outcome: Result<Value, Error>,
    event: &Value,
    is_proxy: bool,
) -> Result<(), TestCaseError> {
    match outcome {
        Ok(reply) if is_proxy => check_proxy_reply(&reply),
        Ok(reply) => {
            prop_assert!(reply.is_object(), "reply {}", reply);
            Ok(())
        }
        Err(e) => check_healthy_error(e, event).map(|_| ()),
    }
}

/// Sends `event` to a function's two trust paths: each answers its own and refuses the other
/// cleanly ([`check_api_outcome`]).
pub fn through_both_trust_paths<F>(function: &F, event: &Value) -> Result<(), TestCaseError>
where
    F: entry::ApiFunction + entry::DirectFunction,
{
    let context = || lambda_runtime::LambdaEvent::new(event.clone(), lambda_runtime::Context::default());
    let api = runtime().block_on(entry::api_handler(function, context()));
    check_api_outcome(api, event, entry::is_proxy_event(event))?;
    let direct = runtime().block_on(entry::direct_handler(function, context()));
    check_api_outcome(direct, event, false)
}
