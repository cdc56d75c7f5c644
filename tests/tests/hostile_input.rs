//! Hostile request bodies and ids, through the local gateway and the Lambda Invoke API (issue #9):
//! each gets the documented 4xx with a message an administrator can act on, and nothing is written.

use export_core::domain::model::AccountType;
use export_core::ports::ExportStore;
use integration_tests::{Stack, seed_account};
use serde_json::{Value, json};

async fn post_raw(stack: &Stack, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", stack.var("API_URL")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn hostile_bodies_get_the_documented_refusal_and_start_nothing() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let path = format!("/accounts/{account}/data-exports");
    let deep = format!("{}{}", "[".repeat(8000), "]".repeat(8000)).into_bytes();
    let deep_object = format!("{}1{}", r#"{"format":"#.repeat(1200), "}".repeat(1200)).into_bytes();
    let oversized = format!(r#"{{"clientToken": "{}"}}"#, "a".repeat(20_000)).into_bytes();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("deep array", "application/json", deep, 400, "not valid"),
        ("deep object", "application/json", deep_object, 400, "not valid"),
        ("over 16 KiB", "application/json", oversized, 413, "16 KiB"),
        ("invalid UTF-8", "application/json", b"{\"format\": \"\xff\xfe\"}".to_vec(), 400, "UTF-8"),
        ("a form", "application/x-www-form-urlencoded", br#"{"format":"csv"}"#.to_vec(), 400, "Content-Type"),
        ("plain text", "text/plain", b"format=csv".to_vec(), 400, "Content-Type"),
        ("not JSON", "application/json", b"format=csv".to_vec(), 400, "malformed JSON"),
        ("JSON, not an object", "application/json", b"[\"csv\"]".to_vec(), 400, "not valid"),
        ("NUL in a value", "application/json", b"{\"format\": \"csv\\u0000\"}".to_vec(), 400, "format"),
        (
            "unknown field",
            "application/json",
            br#"{"format":"csv","bucket":"theirs"}"#.to_vec(),
            400,
            "bucket",
        ),
    ];
    for (what, content_type, body, status, says) in cases {
        let (got, reply) = post_raw(&stack, &path, content_type, body).await;
        assert_eq!(got, status, "{what}: {reply}");
        assert_eq!(reply["code"], "BadRequestException", "{what}: {reply}");
        let message = reply["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
    }
    let exports = stack.export_store().list(&account.clone().into(), 10, None).await.unwrap();
    assert!(exports.items.is_empty(), "no refused request started an export");
    assert!(
        stack.export_store().throttle(&account.clone().into()).await.unwrap().is_none(),
        "nor took the window"
    );
}

#[tokio::test]
async fn hostile_ids_in_direct_invocations_are_refused_before_any_lookup() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let hostile = [
        "../".to_string() + account.as_str(),
        format!("{account}/../other"),
        format!("{account}%2F..%2F"),
        account.as_str().to_uppercase(),
        format!(" {account}"),
        format!("{account}\u{0}"),
        "ACCOUNT#".to_string() + account.as_str(),
        String::new(),
        "x".repeat(10_000),
    ];
    for id in hostile {
        let (error_type, message) =
            stack.invoke("start-export", &json!({"accountId": id})).await.unwrap_err();
        assert_eq!(error_type, "BadRequestException", "{id:?}: {message}");
        let (error_type, _) = stack
            .invoke("retrieve-export", &json!({"accountId": account, "exportId": id}))
            .await
            .unwrap_err();
        assert_eq!(error_type, "BadRequestException", "exportId {id:?}");
    }
    assert!(stack.export_store().list(&account.clone().into(), 10, None).await.unwrap().items.is_empty());
}
