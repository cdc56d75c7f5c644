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
    contracts::ranges_read_and_copy_and_small_parts_are_refused(&store, &prefix()).await;
    contracts::a_missing_object_is_absent(&store, &prefix()).await;
}

/// The AttachmentObjects contract on the attachment bucket: HEAD with ChecksumMode=ENABLED reports
/// the size and the SHA-256 S3 stored with an object uploaded with one.
#[tokio::test]
async fn the_attachment_heads_keep_the_contract() {
    let stack = Stack::load();
    let s3 = stack.s3();
    let bucket = stack.var("ATTACHMENT_BUCKET");
    let objects = export_core::aws::S3AttachmentObjects::new(s3.clone());
    let prefix = prefix();
    let body = b"quarterly figures, with a checksum or without".to_vec();
    let (plain, checked, missing) =
        (format!("{prefix}plain ü.bin"), format!("{prefix}checked+1.bin"), format!("{prefix}missing"));
    let put = |key: &str, checksum: bool| {
        let mut request = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()));
        if checksum {
            request = request.checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256);
        }
        request.send()
    };
    put(&plain, false).await.unwrap();
    put(&checked, true).await.unwrap();
    contracts::an_attachment_head_reports_size_and_stored_sha256(
        &objects, bucket, &body, &plain, &checked, &missing,
    )
    .await;
    // The local S3 server (infra/local/s3-server) applies the signed response-* parameters, as S3
    // does: the headers fetched are the URL's, not the stored object's.
    contracts::a_download_url_fetches_the_object_as_a_download(
        &objects,
        bucket,
        &plain,
        &body,
        async |url| {
            let response = reqwest::get(url).await.unwrap();
            let header = |name: reqwest::header::HeaderName| {
                response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
            };
            contracts::Fetched {
                status: response.status().as_u16(),
                content_disposition: header(reqwest::header::CONTENT_DISPOSITION),
                cache_control: header(reqwest::header::CACHE_CONTROL),
                body: response.bytes().await.unwrap().to_vec(),
            }
        },
    )
    .await;
    // The local S3 server has no SSE-KMS, so the refusal S3 gives a role without kms:Decrypt on
    // the object's key (403 AccessDenied) is shown with credentials the server refuses (403).
    let stranger = aws_credential_types::Credentials::new("AKIASTRANGER00000000", "wrong", None, None, "t");
    let sdk = stack
        .sdk_config()
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(stranger));
    let refused_client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk.build())
            .endpoint_url(stack.var("AWS_ENDPOINT_URL_S3"))
            .force_path_style(true)
            .build(),
    );
    let refusing = export_core::aws::S3AttachmentObjects::new(refused_client);
    contracts::a_refused_head_is_told_apart_from_a_missing_object(&refusing, bucket, &checked).await;
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
