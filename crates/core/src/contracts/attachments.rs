//! AttachmentObjects: what HeadObject tells the part writer.

use crate::ports::AttachmentObjects;

/// The caller has stored `body` in `bucket` under `plain` (no checksum) and under `checked` (with a
/// SHA-256 checksum), and nothing under `missing`: a HEAD reports the size of both, the SHA-256 as
/// hex of the one stored with it only, and nothing for the missing key.
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
    let head = objects.head(bucket, plain).await.unwrap().expect("the plain object exists");
    assert_eq!(head.size, size);
    assert_eq!(head.sha256, None, "no checksum was stored with it");
    let head = objects.head(bucket, checked).await.unwrap().expect("the checked object exists");
    assert_eq!(head.size, size);
    assert_eq!(head.sha256.as_deref(), Some(hex.as_str()));
    assert_eq!(objects.head(bucket, missing).await.unwrap(), None);
}
