//! The export bucket in memory (the `ObjectStore` port).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::error::{Error, Result};

type UploadParts = BTreeMap<i32, Vec<u8>>;

/// An in-memory bucket. Its "pre-signed" links are recognisably fake and carry the lifetime.
#[derive(Clone, Default)]
pub struct FakeObjectStore {
    pub objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    pub metadata: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
    /// Parts of open multipart uploads, by upload id.
    uploads: Arc<Mutex<HashMap<String, UploadParts>>>,
    /// The metadata each open upload's object will have.
    upload_metadata: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
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
    ) -> Result<crate::ports::UploadedPart> {
        let body = self.object(source_key)?;
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
        let mut body = Vec::new();
        for p in parts {
            body.extend_from_slice(
                stored.get(&p.part_number).ok_or_else(|| Error::Internal("missing part".into()))?,
            );
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
