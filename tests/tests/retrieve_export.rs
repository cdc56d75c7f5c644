//! RetrieveDataExport on the local stack: history paging, each status's shape, the counted
//! manifest hand-out, expiry, and refusals that reveal nothing about other accounts.

use std::collections::BTreeMap;
use std::time::Duration;

use export_core::Timestamp;
use export_core::aws::dynamo;
use export_core::domain::ids::{AccountId, ExportId};
use export_core::domain::model::{
    AccountType, ExportFormat, ExportRecord, ExportResult, ExportStatus, FailureInfo, RequestedBy, Via,
};
use export_core::ports::ExportStore;
use integration_tests::{Stack, batch_put, seed_account, sha256_hex};
use reqwest::Method;
use serde_json::json;

/// Writes an export record directly, as the pipeline would have left it.
async fn put_record(
    stack: &Stack,
    account: &AccountId,
    status: ExportStatus,
    requested_at: Timestamp,
) -> ExportRecord {
    let mut record = ExportRecord::new_request(
        account.clone().into(),
        ExportFormat::Csv,
        RequestedBy { principal: "arn:aws:iam::000000000000:user/it".into(), via: Via::Api, person: None },
        None,
        requested_at,
    );
    record.status = status;
    match status {
        ExportStatus::Running => record.progress.attachments_listed = 42,
        ExportStatus::Failed => {
            record.error =
                Some(FailureInfo { code: "TransientError".into(), message: "S3 was unavailable.".into() })
        }
        ExportStatus::Succeeded => {
            let manifest_key = format!("exports/{account}/{}/attachments.csv", record.export_id);
            let body = b"attachment_id\r\n".to_vec();
            export_core::ports::ObjectStore::put(
                &stack.export_objects(),
                &manifest_key,
                body.clone(),
                "text/csv",
                &[],
            )
            .await
            .unwrap();
            record.result = Some(ExportResult {
                attachment_count: 0,
                total_bytes: 0,
                by_conversation_type: BTreeMap::new(),
                manifest_key,
                manifest_bytes: body.len() as u64,
                manifest_sha256: sha256_hex(&body),
                summary_key: "unused".into(),
                urls_expire_at: requested_at.plus(Duration::from_secs(518_400)),
                error_count: 0,
                errors: None,
                coverage_key: None,
                statement: None,
            });
        }
        _ => {}
    }
    batch_put(&stack.dynamodb(), stack.var("EXPORTS_TABLE"), vec![dynamo::items::export(&record).unwrap()])
        .await;
    record
}

fn path(account: &AccountId, export: Option<&ExportId>) -> String {
    match export {
        Some(e) => format!("/accounts/{account}/data-exports/{e}"),
        None => format!("/accounts/{account}/data-exports"),
    }
}

#[tokio::test]
async fn the_history_pages_newest_first() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let start = Timestamp::parse("2026-01-05T00:00:00Z").unwrap();
    let mut ids = Vec::new();
    for week in 0..5u32 {
        ids.push(
            put_record(
                &stack,
                &account,
                ExportStatus::Failed,
                start.plus(Duration::from_secs(604_800) * week),
            )
            .await
            .export_id,
        );
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut query = "?maxResults=2".to_owned();
    let mut pages = 0;
    loop {
        let reply = stack.api(Method::GET, &format!("{}{query}", path(&account, None)), None, None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        pages += 1;
        let exports = reply.body["exports"].as_array().unwrap();
        assert!(exports.len() <= 2);
        seen.extend(exports.iter().map(|e| e["exportId"].as_str().unwrap().parse::<ExportId>().unwrap()));
        assert!(reply.body["nextAllowedAt"].is_string());
        match reply.body["nextToken"].as_str() {
            Some(token) => query = format!("?maxResults=2&nextToken={token}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert!(pages >= 3);
}

#[tokio::test]
async fn each_status_has_its_shape_and_a_succeeded_export_hands_out_a_counted_link() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let now = Timestamp::now();
    let running = put_record(&stack, &account, ExportStatus::Running, now).await;
    let failed = put_record(&stack, &account, ExportStatus::Failed, now).await;
    let succeeded = put_record(&stack, &account, ExportStatus::Succeeded, now).await;

    let r = stack.api(Method::GET, &path(&account, Some(&running.export_id)), None, None).await.body;
    assert_eq!(
        (r["status"].as_str(), r["progress"]["attachmentsListed"].as_u64()),
        (Some("RUNNING"), Some(42))
    );
    assert!(r.get("manifest").is_none() && r.get("error").is_none());
    let f = stack.api(Method::GET, &path(&account, Some(&failed.export_id)), None, None).await.body;
    assert_eq!(f["error"]["code"], "TransientError");
    assert!(f.get("progress").is_none() && f.get("manifest").is_none());

    let s = stack
        .api(
            Method::GET,
            &path(&account, Some(&succeeded.export_id)),
            None,
            Some("arn:aws:iam::000000000000:user/auditor"),
        )
        .await;
    assert_eq!(s.status, 200);
    let link = s.body["manifest"]["url"].as_str().unwrap();
    assert!(link.contains("X-Amz-Expires=900"), "the link lives 15 minutes");
    let issued = Timestamp::parse(s.body["manifest"]["urlExpiresAt"].as_str().unwrap()).unwrap();
    let lifetime = Timestamp::now().seconds_until(&issued);
    assert!((880..=900).contains(&lifetime), "{lifetime}");
    let manifest = reqwest::get(link).await.unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(sha256_hex(&manifest.bytes().await.unwrap()), s.body["manifest"]["sha256"].as_str().unwrap());
    let tampered = integration_tests::tamper_signature(link);
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);

    stack.api(Method::GET, &path(&account, Some(&succeeded.export_id)), None, None).await;
    let record =
        stack.export_store().get(&account.clone().into(), &succeeded.export_id).await.unwrap().unwrap();
    assert_eq!(record.retrievals, 2, "each hand-out counted");
    assert_eq!(record.last_retrieved_by.as_deref(), Some("arn:aws:iam::000000000000:user/local-admin"));
    // The list shows the export without handing out a link.
    let list = stack.api(Method::GET, &path(&account, None), None, None).await.body;
    assert!(list["exports"].as_array().unwrap().iter().all(|e| e.get("manifest").is_none()));
}

#[tokio::test]
async fn an_expired_export_is_gone() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let long_ago = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let expired = put_record(&stack, &account, ExportStatus::Succeeded, long_ago).await;
    let reply = stack.api(Method::GET, &path(&account, Some(&expired.export_id)), None, None).await;
    assert_eq!(reply.status, 410, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "GoneException");
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains("expired at 2026-01-07T00:00:00.000Z") && message.contains("request one now"),
        "{message}"
    );
    // The refusal is in the function's log, with the caller and the reason.
    let expired_id = expired.export_id.to_string();
    let line = integration_tests::log_line(
        "lambda-watch",
        &["request refused", "retrieve-export-api", "GoneException", &expired_id],
    )
    .await;
    assert!(line.contains("arn:aws:iam::000000000000:user/local-admin"), "{line}");
    let list = stack.api(Method::GET, &path(&account, None), None, None).await.body;
    assert_eq!(list["exports"][0]["status"], "EXPIRED");
    let record =
        stack.export_store().get(&account.clone().into(), &expired.export_id).await.unwrap().unwrap();
    assert_eq!(record.retrievals, 0);
}

#[tokio::test]
async fn refusals_reveal_nothing_about_other_accounts() {
    let stack = Stack::load();
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let theirs = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let their_export = put_record(&stack, &theirs, ExportStatus::Succeeded, Timestamp::now()).await.export_id;

    let foreign = stack.api(Method::GET, &path(&mine, Some(&their_export)), None, None).await;
    let unknown = stack.api(Method::GET, &path(&mine, Some(&ExportId::new())), None, None).await;
    assert_eq!((foreign.status, unknown.status), (404, 404));
    assert_eq!(foreign.body["code"], "NotFoundException");
    let shape = |m: &str| m.split_whitespace().filter(|w| w.len() != 26).collect::<Vec<_>>().join(" ");
    assert_eq!(
        shape(foreign.body["message"].as_str().unwrap()),
        shape(unknown.body["message"].as_str().unwrap())
    );

    let cases = [
        (format!("/accounts/{mine}/data-exports/not-an-id"), None, 400),
        (format!("/accounts/{mine}/data-exports/..%2F..%2F{theirs}"), None, 400),
        (format!("/accounts/{mine}/data-exports?maxResults=0"), None, 400),
        (format!("/accounts/{mine}/data-exports?maxResults=101"), None, 400),
        (format!("/accounts/{mine}/data-exports?nextToken=EXPORT%23x"), None, 400),
        ("/accounts/NOPE/data-exports".to_string(), None, 400),
        (format!("/accounts/{}/data-exports", AccountId::random()), None, 404),
        (format!("/accounts/{mine}/data-exports"), Some("none"), 403),
        (format!("/accounts/{mine}/data-exports/{their_export}"), Some("none"), 403),
    ];
    for (p, principal, status) in cases {
        let reply = stack.api(Method::GET, &p, None, principal).await;
        assert_eq!(reply.status, status, "{p}: {:?}", reply.body);
        assert!(reply.body["message"].as_str().unwrap().len() > 20, "{p}");
    }
    // A forged token of another account's export cannot read across accounts.
    let forged = stack
        .api(Method::GET, &format!("/accounts/{mine}/data-exports?nextToken={their_export}"), None, None)
        .await;
    assert_eq!(forged.status, 200);
    assert!(forged.body["exports"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn direct_invocation_answers_the_same_json() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let record = put_record(&stack, &account, ExportStatus::Succeeded, Timestamp::now()).await;
    let one = stack
        .invoke("retrieve-export", &json!({"accountId": account, "exportId": record.export_id}))
        .await
        .unwrap();
    assert_eq!(one["status"], "SUCCEEDED");
    assert!(one["manifest"]["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    let list = stack.invoke("retrieve-export", &json!({"accountId": account})).await.unwrap();
    assert_eq!(list["exports"].as_array().unwrap().len(), 1);
    let (error_type, _) = stack
        .invoke("retrieve-export", &json!({"accountId": account, "exportId": ExportId::new()}))
        .await
        .unwrap_err();
    assert_eq!(error_type, "NotFoundException");
}
