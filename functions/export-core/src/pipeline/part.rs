//! The WriteParts step: one inventory part becomes one manifest part, every URL signed.

use super::{EXPIRY_METADATA, running_record};
use crate::error::{Error, Result};
use crate::manifest::{InventoryLine, ManifestEncoder};
use crate::payloads::ExportJob;
use crate::ports::{ExportStore, ObjectStore, UrlSigner};

/// The WriteParts step: one inventory part → one manifest part, every URL signed.
pub struct PartWriter<'a, S, O> {
    pub store: &'a S,
    pub objects: &'a O,
}

impl<S: ExportStore, O: ObjectStore> PartWriter<'_, S, O> {
    pub async fn run(&self, job: &ExportJob, part: u32, signer: &mut impl UrlSigner) -> Result<u64> {
        let record = running_record(self.store, job).await?;
        let inventory = self.objects.get(&job.inventory_part_key(part)).await?;
        let expires_at = signer.urls_expire_at().to_string();
        let mut encoder = ManifestEncoder::new(record.format, part == 1)?;
        let mut url = String::with_capacity(2048);
        for raw in inventory.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let line: InventoryLine = serde_json::from_slice(raw)
                .map_err(|e| Error::Internal(format!("inventory part {part} has a bad line: {e}")))?;
            signer.sign_get(&line.bucket, &line.object_key, &mut url);
            encoder.row(&line, &url, &expires_at)?;
        }
        let rows = encoder.rows();
        let body = encoder.finish()?;
        self.objects
            .put(
                &job.manifest_part_key(part),
                body,
                record.format.content_type(),
                &[(EXPIRY_METADATA, &expires_at)],
            )
            .await?;
        self.store.mark_part_written(&job.account_id, &job.export_id, part).await?;
        Ok(rows)
    }
}
