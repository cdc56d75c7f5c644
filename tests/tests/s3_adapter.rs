//! The S3 adapter against the local S3 server (s3s-fs, which verifies SigV4): the ObjectStore
//! contract (multipart upload with server-side part copies, aborts), which the in-memory fake keeps
//! too, and pre-signed URLs that work until tampered with or expired.

use std::time::Duration;

use export_core::contracts;
use export_core::ports::ObjectStore;
use integration_tests::Stack;

fn prefix() -> String {
    format!("tests/{}/", ulid::Ulid::new())
}

/// The ObjectStore contract (export_core::contracts), which the in-memory fake keeps too.
#[tokio::test]
async fn the_object_store_keeps_the_contract() {
    let store = Stack::load().export_objects();
    contracts::multipart_upload_assembles_copied_parts_and_a_tail_server_side(&store, &prefix()).await;
    contracts::an_aborted_upload_leaves_nothing(&store, &prefix()).await;
    contracts::a_missing_object_is_absent(&store, &prefix()).await;
}

#[tokio::test]
async fn a_presigned_url_downloads_and_refuses_tampering_and_expiry() {
    let stack = Stack::load();
    let store = stack.export_objects();
    let key = format!("{}folder with spaces/report ü+1.csv", prefix());
    let body = b"id,name\n1,first\n".to_vec();
    store.put(&key, body.clone(), "text/csv", &[]).await.unwrap();
    let http = reqwest::Client::new();

    let url = store.presign_get(&key, Duration::from_secs(900)).await.unwrap();
    assert!(url.contains("X-Amz-Expires=900"), "lifetime is in the URL");
    let ok = http.get(&url).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.bytes().await.unwrap().to_vec(), body);

    // One character of the signature changed.
    let tampered = integration_tests::tamper_signature(&url);
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);

    // The same signature for another key.
    let other_key = url.replacen("report", "rep0rt", 1);
    assert_eq!(http.get(&other_key).send().await.unwrap().status(), 403);

    // A URL that has expired.
    let short = store.presign_get(&key, Duration::from_secs(1)).await.unwrap();
    assert_eq!(http.get(&short).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(http.get(&short).send().await.unwrap().status(), 403);
}
