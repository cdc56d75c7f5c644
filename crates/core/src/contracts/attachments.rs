//! AttachmentObjects: what HeadObject tells the part writer.

use crate::ports::{AttachmentObjects, HeadResult};

/// The caller has stored `body` in `bucket` under `plain` (no checksum) and under `checked` (with a
/// SHA-256 checksum), and nothing under `missing`: a HEAD reports the size of both, the SHA-256 as
/// hex of the one stored with it only, and the missing key as missing.
pub async fn an_attachment_head_reports_size_and_stored_sha256<A: AttachmentObjects>(
    objects: &A,
    bucket: &str,
    body: &[u8],
    plain: &str,
    checked: &str,
    missing: &str,
) {
    use sha2::Digest;
    let size = body.len() as u64;
    let hex = crate::domain::hex::encode(&sha2::Sha256::digest(body));
    let found = async |key: &str| match objects.head(bucket, key).await.unwrap() {
        HeadResult::Found(head) => head,
        other => panic!("{key} exists, and the HEAD says {other:?}"),
    };
    let head = found(plain).await;
    assert_eq!(head.size, size);
    assert_eq!(head.sha256, None, "no checksum was stored with it");
    let head = found(checked).await;
    assert_eq!(head.size, size);
    assert_eq!(head.sha256.as_deref(), Some(hex.as_str()));
    assert_eq!(objects.head(bucket, missing).await.unwrap(), HeadResult::Missing);
}

/// The caller's `refused` is an object S3 will not read for this adapter (the caller arranges a
/// refusal: a key the role may not use, or credentials the server does not take): its HEAD is
/// refused, not an error of the export and not a missing object.
pub async fn a_refused_head_is_told_apart_from_a_missing_object<A: AttachmentObjects>(
    objects: &A,
    bucket: &str,
    refused: &str,
) {
    assert_eq!(objects.head(bucket, refused).await.unwrap(), HeadResult::Refused);
}

/// What fetching a download URL answered: the status, the two headers that make it a download, and
/// the body.
#[derive(Debug, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub content_disposition: Option<String>,
    pub cache_control: Option<String>,
    pub body: Vec<u8>,
}

/// A download URL, fetched (through `fetch`) for the lifetime asked, answers the object as a
/// download: its `Content-Disposition` the one asked for and `Cache-Control: private, no-store`,
/// whatever the object was stored with (S3 applies a signed GET's `response-*` parameters).
pub async fn a_download_url_fetches_the_object_as_a_download<
    A: AttachmentObjects,
    F: Future<Output = Fetched>,
>(
    objects: &A,
    bucket: &str,
    key: &str,
    body: &[u8],
    fetch: impl Fn(String) -> F,
) {
    let disposition = crate::domain::content_disposition::attachment("page ü.html");
    let url = objects
        .presign_download(bucket, key, &disposition, std::time::Duration::from_secs(45))
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Expires=45"), "{url}");
    let expected = Fetched {
        status: 200,
        content_disposition: Some(disposition),
        cache_control: Some("private, no-store".to_owned()),
        body: body.to_vec(),
    };
    assert_eq!(fetch(url).await, expected);
}
