//! The S3 adapter against the local S3 server (s3s-fs, which verifies SigV4): multipart upload with
//! server-side part copies, and pre-signed URLs that work until tampered with or expired.

use std::time::Duration;

use export_core::Error;
use export_core::ports::ObjectStore;
use integration_tests::Stack;

const MIB: usize = 1024 * 1024;

fn prefix() -> String {
    format!("tests/{}/", ulid::Ulid::new())
}

#[tokio::test]
async fn multipart_upload_assembles_copied_parts_and_a_tail_server_side() {
    let stack = Stack::load();
    let store = stack.export_objects();
    let p = prefix();
    // Two 5 MiB sources (S3's minimum for a non-final part) and a small tail.
    let a: Vec<u8> = (0..5 * MIB).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = (0..5 * MIB).map(|i| (i % 241) as u8).collect();
    let tail = "last,line\nwith \"quotes\", ünïcode\n".as_bytes().to_vec();
    store
        .put(
            &format!("{p}a"),
            a.clone(),
            "application/octet-stream",
            &[("urls-expire-at", "2026-11-30T10:00:00.000Z")],
        )
        .await
        .unwrap();
    store.put(&format!("{p}b"), b.clone(), "application/octet-stream", &[]).await.unwrap();

    let key = format!("{p}assembled.csv");
    let upload = store.start_multipart(&key, "text/csv").await.unwrap();
    let parts = vec![
        store.upload_part_copy(&key, &upload, 1, &format!("{p}a")).await.unwrap(),
        store.upload_part_copy(&key, &upload, 2, &format!("{p}b")).await.unwrap(),
        store.upload_part(&key, &upload, 3, tail.clone()).await.unwrap(),
    ];
    assert!(parts.iter().all(|part| !part.etag.is_empty()));
    // Nothing is visible before completion.
    assert_eq!(store.head(&key).await.unwrap(), None);
    store.complete_multipart(&key, &upload, parts).await.unwrap();

    let expected: Vec<u8> = [a, b, tail].concat();
    assert_eq!(store.head(&key).await.unwrap().unwrap().size, expected.len() as u64);
    let a_head = store.head(&format!("{p}a")).await.unwrap().unwrap();
    assert_eq!(a_head.metadata["urls-expire-at"], "2026-11-30T10:00:00.000Z", "user metadata survives");
    let got = store.get(&key).await.unwrap();
    assert!(got == expected, "assembled object differs from its parts");

    let mut listed = store.list(&p).await.unwrap();
    listed.sort();
    assert_eq!(listed, vec![format!("{p}a"), format!("{p}assembled.csv"), format!("{p}b")]);
    store.delete(&listed).await.unwrap();
    assert!(store.list(&p).await.unwrap().is_empty());
    assert!(matches!(store.get(&key).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn an_aborted_upload_leaves_nothing() {
    let stack = Stack::load();
    let store = stack.export_objects();
    let key = format!("{}aborted.csv", prefix());
    let upload = store.start_multipart(&key, "text/csv").await.unwrap();
    store.upload_part(&key, &upload, 1, b"partial".to_vec()).await.unwrap();
    store.abort_multipart(&key, &upload).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
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
