//! The export bucket in memory (the `ObjectStore` port).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::error::{Error, Result};

type UploadParts = BTreeMap<i32, Vec<u8>>;

/// S3's smallest part of a multipart upload but the last.
const MIN_PART: usize = 5 * 1024 * 1024;

/// An in-memory bucket. Its "pre-signed" links are recognisably fake and carry the lifetime.
#[derive(Clone, Default)]
pub struct FakeObjectStore {
    pub objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    pub metadata: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
    /// Parts of open multipart uploads, by upload id.
    uploads: Arc<Mutex<HashMap<String, UploadParts>>>,
    /// The metadata each open upload's object will have.
    upload_metadata: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
    /// Server-side part copies made (whole, ranged), so tests can see which path assembly took.
    pub copies: Arc<Mutex<(usize, usize)>>,
}

impl FakeObjectStore {
    fn object(&self, key: &str) -> Result<Vec<u8>> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("object {key} not found")))
    }
}

impl crate::ports::ObjectStore for FakeObjectStore {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<()> {
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.metadata.lock().unwrap().insert(key.to_owned(), metadata);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.object(key)
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        let body = self.object(key)?;
        let (start, end) = (start as usize, (end as usize).min(body.len()));
        Ok(body.get(start..end).unwrap_or_default().to_vec())
    }

    async fn head(&self, key: &str) -> Result<Option<crate::ports::ObjectHead>> {
        let size = self.objects.lock().unwrap().get(key).map(|o| o.len() as u64);
        Ok(size.map(|size| crate::ports::ObjectHead {
            size,
            metadata: self.metadata.lock().unwrap().get(key).cloned().unwrap_or_default(),
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self.objects.lock().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect())
    }

    async fn delete(&self, keys: &[String]) -> Result<()> {
        let mut objects = self.objects.lock().unwrap();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }

    async fn start_multipart(
        &self,
        _key: &str,
        _content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<String> {
        let id = ulid::Ulid::new().to_string();
        self.uploads.lock().unwrap().insert(id.clone(), BTreeMap::new());
        let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.upload_metadata.lock().unwrap().insert(id.clone(), metadata);
        Ok(id)
    }

    async fn upload_part(
        &self,
        _key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> Result<crate::ports::UploadedPart> {
        let mut uploads = self.uploads.lock().unwrap();
        let upload = uploads.get_mut(upload_id).ok_or_else(|| Error::NotFound("no such upload".into()))?;
        upload.insert(part_number, body);
        Ok(crate::ports::UploadedPart { part_number, etag: format!("\"etag-{part_number}\"") })
    }

    async fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        source_key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<crate::ports::UploadedPart> {
        let mut body = self.object(source_key)?;
        {
            let mut copies = self.copies.lock().unwrap();
            if range.is_some() { copies.1 += 1 } else { copies.0 += 1 }
        }
        if let Some((start, end)) = range {
            // As S3: a range only of a source larger than 5 MiB, and within it.
            if body.len() <= MIN_PART || start >= end || end as usize > body.len() {
                return Err(Error::BadRequest(format!(
                    "InvalidRequest: cannot copy bytes {start}..{end} of a {}-byte object",
                    body.len()
                )));
            }
            body = body[start as usize..end as usize].to_vec();
        }
        crate::ports::ObjectStore::upload_part(self, key, upload_id, part_number, body).await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<crate::ports::UploadedPart>,
    ) -> Result<()> {
        let stored = self
            .uploads
            .lock()
            .unwrap()
            .remove(upload_id)
            .ok_or_else(|| Error::NotFound("no such upload".into()))?;
        // As S3: at most 10,000 parts, in ascending order, each but the last at least 5 MiB.
        if parts.len() > 10_000 || parts.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(Error::BadRequest("InvalidPartOrder or too many parts".into()));
        }
        let mut body = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let part = stored.get(&p.part_number).ok_or_else(|| Error::Internal("missing part".into()))?;
            if i + 1 < parts.len() && part.len() < MIN_PART {
                return Err(Error::BadRequest(format!(
                    "EntityTooSmall: part {} is {} bytes, under 5 MiB",
                    p.part_number,
                    part.len()
                )));
            }
            body.extend_from_slice(part);
        }
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        let metadata = self.upload_metadata.lock().unwrap().remove(upload_id).unwrap_or_default();
        self.metadata.lock().unwrap().insert(key.to_owned(), metadata);
        Ok(())
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<()> {
        self.uploads.lock().unwrap().remove(upload_id);
        self.upload_metadata.lock().unwrap().remove(upload_id);
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String> {
        Ok(format!(
            "https://fake-s3.invalid/{key}?X-Amz-Expires={}&X-Amz-Signature=fake",
            expires_in.as_secs()
        ))
    }
}
