//! The chat service's attachment buckets in memory (the `AttachmentObjects` port).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::domain::error::Result;
use crate::ports::HeadResult;

/// In-memory attachment buckets: objects by (bucket, key), each with its size and, if it was
/// uploaded with one, its SHA-256. Counts the HEADs asked.
#[derive(Clone, Default)]
pub struct FakeAttachmentObjects {
    pub objects: Arc<Mutex<HashMap<(String, String), crate::ports::AttachmentHead>>>,
    pub heads: Arc<std::sync::atomic::AtomicUsize>,
    /// Objects whose HEAD S3 refuses (a customer key the role may not use).
    pub refused: Arc<Mutex<HashSet<(String, String)>>>,
}

impl FakeAttachmentObjects {
    /// Stores `body` under `bucket`/`key`, with its SHA-256 as S3 would keep it if `checksum`.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8], checksum: bool) {
        use sha2::Digest;
        let sha256 = checksum.then(|| crate::domain::hex::encode(&sha2::Sha256::digest(body)));
        let head = crate::ports::AttachmentHead { size: body.len() as u64, sha256 };
        self.objects.lock().unwrap().insert((bucket.to_owned(), key.to_owned()), head);
    }

    /// Stores an object that claims `sha256` whatever its body.
    pub fn put_head(&self, bucket: &str, key: &str, size: u64, sha256: Option<&str>) {
        let head = crate::ports::AttachmentHead { size, sha256: sha256.map(str::to_owned) };
        self.objects.lock().unwrap().insert((bucket.to_owned(), key.to_owned()), head);
    }

    /// Makes the HEAD of `bucket`/`key` refused, as S3 refuses it without kms:Decrypt on its key.
    pub fn refuse(&self, bucket: &str, key: &str) {
        self.refused.lock().unwrap().insert((bucket.to_owned(), key.to_owned()));
    }
}

impl crate::ports::AttachmentObjects for FakeAttachmentObjects {
    async fn head(&self, bucket: &str, key: &str) -> Result<HeadResult> {
        self.heads.fetch_add(1, Ordering::SeqCst);
        let id = (bucket.to_owned(), key.to_owned());
        if self.refused.lock().unwrap().contains(&id) {
            return Ok(HeadResult::Refused);
        }
        Ok(self.objects.lock().unwrap().get(&id).cloned().map_or(HeadResult::Missing, HeadResult::Found))
    }

    /// A URL that names what it fetches and how: `https://download.invalid/BUCKET/KEY?ttl=S&disposition=…`.
    async fn presign_download(
        &self,
        bucket: &str,
        key: &str,
        disposition: &str,
        ttl: std::time::Duration,
    ) -> Result<String> {
        let disposition: String = disposition
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect();
        Ok(format!("https://download.invalid/{bucket}/{key}?ttl={}&disposition={disposition}", ttl.as_secs()))
    }
}
