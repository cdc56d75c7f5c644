//! Promises under duplicate deliveries, and what the logs may never contain (DESIGN §4–§9).

use std::time::Duration;

use export_core::domain::model::{AccountType, ExportStatus};
use export_core::ports::ExportStore;
use integration_tests::{Stack, attachment, repo_root, seed_account};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_duplicate_delivery_of_any_step_leaves_the_same_final_state() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let base = export_core::Timestamp::parse("2026-02-01T00:00:00Z").unwrap();
    let mut attachments: Vec<_> = (0..30u64)
        .map(|i| {
            attachment(
                &seeded.id,
                &seeded.managed_user,
                export_core::domain::model::ConversationType::Group,
                base.plus(Duration::from_secs(i)),
            )
        })
        .collect();
    stack.add_attachments(&mut attachments, true).await;
    let reply = stack.api(Method::POST, &format!("/accounts/{}/data-exports", seeded.id), None, None).await;
    let export_id = reply.body["exportId"].as_str().unwrap().to_owned();
    let done = stack.wait_for_export(&seeded.id, &export_id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "SUCCEEDED");
    let before =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();

    // Every step's input delivered again, after the fact.
    let job =
        json!({"accountId": seeded.id, "exportId": export_id, "cutoff": before.cutoff, "format": "csv"});
    for listing in [
        json!({"mode": "plan", "job": job}),
        json!({"mode": "segment", "job": job, "segment": 0}),
        json!({"mode": "close", "job": job}),
    ] {
        let again = stack.invoke_as_state_machine("enumerate-attachments", &listing).await;
        assert_eq!(
            again.unwrap_err().0,
            "StatusConflict",
            "no step runs again on a finished export: {listing}"
        );
    }
    let part = stack
        .invoke_as_state_machine(
            "write-manifest",
            &json!({"mode": "part", "job": job, "part": 1, "signedAt": before.requested_at}),
        )
        .await;
    assert_eq!(part.unwrap_err().0, "StatusConflict");
    let signed_at = before.enumerated.unwrap().signed_at;
    let finalize = stack
        .invoke_as_state_machine(
            "write-manifest",
            &json!({"mode": "finalize", "job": job, "partCount": 1, "listed": 30, "signedAt": signed_at}),
        )
        .await
        .unwrap();
    assert_eq!(finalize["attachmentCount"], 30);
    // The failure step, its execution having SUCCEEDED: refused, nothing recorded.
    let fail = stack.invoke_as_state_machine("write-manifest", &json!({"mode": "fail", "job": job})).await;
    assert_eq!(fail.unwrap_err().0, "BadRequestException");

    let after =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(after.status, ExportStatus::Succeeded);
    assert_eq!(after.result, before.result, "same manifest, same counts");
    assert_eq!(after.progress, before.progress);
    let throttle = stack.export_store().throttle(&seeded.owner()).await.unwrap().unwrap();
    assert_eq!(throttle.current.last_export_id.to_string(), export_id, "the window stays taken");
    let view = stack
        .api(Method::GET, &format!("/accounts/{}/data-exports/{export_id}", seeded.id), None, None)
        .await;
    assert_eq!(view.body["manifest"]["sha256"], done["manifest"]["sha256"]);
}

/// After real exports have run (this test runs one), no log of any server or function holds a
/// pre-signed URL, a signature, or the secret key.
#[tokio::test]
async fn the_logs_of_a_whole_export_hold_no_url_signature_or_secret() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let mut attachments = vec![attachment(
        &seeded.id,
        &seeded.managed_user,
        export_core::domain::model::ConversationType::Direct,
        export_core::Timestamp::now(),
    )];
    stack.add_attachments(&mut attachments, true).await;
    let reply = stack.api(Method::POST, &format!("/accounts/{}/data-exports", seeded.id), None, None).await;
    let export_id = reply.body["exportId"].as_str().unwrap().to_owned();
    let done = stack.wait_for_export(&seeded.id, &export_id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert!(done["manifest"]["url"].as_str().unwrap().contains("X-Amz-Signature="));
    // A download link used once and an altered one refused: neither token reaches a log.
    let manifest = integration_tests::download_manifest(&done).await;
    let link = integration_tests::rows(&manifest)[0][13].to_owned();
    let token = link.rsplit('/').next().unwrap().to_owned();
    let last = if link.ends_with('A') { 'B' } else { 'A' };
    let altered = format!("{}{last}", &link[..link.len() - 1]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(http.get(&link).send().await.unwrap().status(), 302);
    let refused = http.get(&altered).send().await.unwrap().status();
    assert_eq!(refused, 403);
    let links = format!("{}/f/", stack.var("DOWNLOAD_BASE_URL"));

    let secret = stack.var("AWS_SECRET_ACCESS_KEY");
    let logs = repo_root().join(".local/logs");
    let mut read = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        read += 1;
        let altered_token = altered.rsplit('/').next().unwrap();
        for forbidden in [
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            secret,
            &token,
            altered_token,
            &links,
        ] {
            assert!(!text.contains(forbidden), "{} contains {forbidden:?}", path.display());
        }
    }
    assert!(read >= 6, "every server's log was read");
}
