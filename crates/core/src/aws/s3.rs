//! The export bucket on S3.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};

use super::from_sdk;
use crate::config::Config;
use crate::domain::error::{Error, Result};
use crate::ports::{AttachmentHead, AttachmentObjects, HeadResult, ObjectHead, ObjectStore, UploadedPart};

/// S3 deletes at most this many keys per request.
const DELETE_BATCH: usize = 1000;

#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    /// The export bucket named by the configuration.
    /// On the export bucket (`EXPORT_BUCKET`, required here).
    pub fn export_bucket(
        sdk: &aws_config::SdkConfig,
        config: &Config,
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(client(sdk, config), config.export_bucket()?))
    }

    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// The chat service's attachment buckets, read with HeadObject only.
#[derive(Debug, Clone)]
pub struct S3AttachmentObjects {
    client: Client,
}

impl S3AttachmentObjects {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl AttachmentObjects for S3AttachmentObjects {
    async fn head(&self, bucket: &str, key: &str) -> Result<HeadResult> {
        let request = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled);
        match request.send().await {
            Ok(out) => Ok(HeadResult::Found(AttachmentHead {
                size: out.content_length.unwrap_or(0).max(0) as u64,
                sha256: out.checksum_sha256.as_deref().and_then(checksum_hex),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(HeadResult::Missing),
            // A HEAD has no body: S3's refusal is its status alone (AccessDenied, a KMS key the
            // role may not use, a signature the server does not take).
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                tracing::warn!(bucket, error = %aws_sdk_s3::error::DisplayErrorContext(&e), "HeadObject refused");
                Ok(HeadResult::Refused)
            }
            Err(e) => Err(from_sdk("HeadObject", e)),
        }
    }

    async fn presign_download(
        &self,
        bucket: &str,
        key: &str,
        disposition: &str,
        ttl: Duration,
    ) -> Result<String> {
        let config = PresigningConfig::expires_in(ttl)
            .map_err(|e| Error::Internal(format!("a download link's lifetime: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .response_content_disposition(disposition)
            .response_cache_control("private, no-store")
            .presigned(config)
            .await
            .map_err(|e| from_sdk("presign GetObject", e))?;
        Ok(request.uri().to_owned())
    }
}

/// S3's `ChecksumSHA256` (base64 of the 32-byte digest) as lower-case hex; `None` for anything else
/// (a composite multipart checksum `…-N` is not the object's SHA-256).
pub fn checksum_hex(base64: &str) -> Option<String> {
    let bytes = aws_smithy_types::base64::decode(base64).ok()?;
    (bytes.len() == 32).then(|| crate::domain::hex::encode(&bytes))
}

/// An S3 client honouring `S3_FORCE_PATH_STYLE` (the local S3 server has no virtual hosts).
pub fn client(sdk: &aws_config::SdkConfig, config: &Config) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.s3_force_path_style).build(),
    )
}

/// The client that HEADs attachments: adaptive retries, so a prefix S3 is still partitioning
/// (503 SlowDown) slows the export's checks down instead of failing its parts.
pub fn attachments_client(sdk: &aws_config::SdkConfig, config: &Config) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(config.s3_force_path_style)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::adaptive().with_max_attempts(8))
            .build(),
    )
}

fn missing_etag(op: &str) -> Error {
    Error::Internal(format!("{op}: S3 returned no ETag"))
}

/// Every export file is saved by a browser that opens its link (the console's Download file),
/// never shown in it: a manifest opened in a tab would put every link on screen.
const DOWNLOAD: &str = "attachment";

impl ObjectStore for S3ObjectStore {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<()> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_disposition(DOWNLOAD)
            .body(ByteStream::from(body));
        for (name, value) in metadata {
            request = request.metadata(*name, *value);
        }
        request.send().await.map_err(|e| from_sdk("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                Error::NotFound(format!("object {key} not found"))
            } else {
                from_sdk("GetObject", e)
            }
        })?;
        let bytes = out.body.collect().await.map_err(|e| Error::Service {
            detail: format!("GetObject {key}: reading the body: {e}"),
            transient: true,
            source: Box::new(e),
        })?;
        Ok(bytes.to_vec())
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        if end <= start {
            return Ok(Vec::new());
        }
        let range = format!("bytes={start}-{}", end - 1);
        let out = self.client.get_object().bucket(&self.bucket).key(key).range(range).send().await.map_err(
            |e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    Error::NotFound(format!("object {key} not found"))
                } else {
                    from_sdk("GetObject (range)", e)
                }
            },
        )?;
        let bytes = out.body.collect().await.map_err(|e| Error::Service {
            detail: format!("GetObject {key} (range): reading the body: {e}"),
            transient: true,
            source: Box::new(e),
        })?;
        let bytes = bytes.to_vec();
        if bytes.len() as u64 != end - start {
            return Err(Error::Internal(format!(
                "GetObject {key} bytes {start}..{end} returned {} bytes",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectHead {
                size: out.content_length.unwrap_or(0).max(0) as u64,
                metadata: out.metadata.unwrap_or_default(),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(from_sdk("HeadObject", e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("ListObjectsV2", e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        Ok(keys)
    }

    async fn delete(&self, keys: &[String]) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Internal(format!("DeleteObjects request: {e}")))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::Internal(format!("DeleteObjects request: {e}")))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteObjects", e))?;
            if let Some(first) = out.errors().first() {
                return Err(Error::Transient(format!(
                    "DeleteObjects: {} keys not deleted, first {:?}: {:?}",
                    out.errors().len(),
                    first.key(),
                    first.code()
                )));
            }
        }
        Ok(())
    }

    async fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<String> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_disposition(DOWNLOAD);
        for (name, value) in metadata {
            request = request.metadata(*name, *value);
        }
        let out = request.send().await.map_err(|e| from_sdk("CreateMultipartUpload", e))?;
        out.upload_id.ok_or_else(|| Error::Internal("CreateMultipartUpload: no upload id".into()))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> Result<UploadedPart> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk("UploadPart", e))?;
        let etag = out.e_tag.ok_or_else(|| missing_etag("UploadPart"))?;
        Ok(UploadedPart { part_number, etag })
    }

    async fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        source_key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<UploadedPart> {
        let out = self
            .client
            .upload_part_copy()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .copy_source(copy_source(&self.bucket, source_key))
            .set_copy_source_range(
                range.map(|(start, end)| format!("bytes={start}-{}", end.saturating_sub(1))),
            )
            .send()
            .await
            .map_err(|e| from_sdk("UploadPartCopy", e))?;
        let etag =
            out.copy_part_result.and_then(|r| r.e_tag).ok_or_else(|| missing_etag("UploadPartCopy"))?;
        Ok(UploadedPart { part_number, etag })
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<UploadedPart>) -> Result<()> {
        let parts = parts
            .into_iter()
            .map(|p| CompletedPart::builder().part_number(p.part_number).e_tag(p.etag).build())
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| from_sdk("CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| from_sdk("AbortMultipartUpload", e))?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String> {
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::Configuration(format!("pre-signed URL lifetime: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| from_sdk("presign GetObject", e))?;
        Ok(request.uri().to_owned())
    }
}

/// `x-amz-copy-source`: `bucket/key` with the key URL-encoded (S3 decodes it; `/` may stay).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + key.len() + 1);
    out.push_str(bucket);
    out.push('/');
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::checksum_hex;

    #[test]
    fn a_checksum_is_hex_only_when_it_is_a_whole_sha256() {
        // SHA-256 of "abc".
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(checksum_hex("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=").as_deref(), Some(hex));
        assert_eq!(checksum_hex("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=-3"), None);
        assert_eq!(checksum_hex("AAAA"), None);
        assert_eq!(checksum_hex("not base64!"), None);
    }

    #[test]
    fn copy_source_encodes_everything_but_unreserved_and_slash() {
        assert_eq!(super::copy_source("b", "exports/a b/ü+%.csv"), "b/exports/a%20b/%C3%BC%2B%25.csv");
    }
}
