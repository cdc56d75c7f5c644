//! The links of a manifest (DESIGN §8): each file's link points at the download function and
//! carries a token MAC'd with the export's own key (`LinkKeys`), so the link is only as good as
//! the export's record when it is used — revocable, counted, and never a credential of S3's.

use std::time::Duration;

use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::domain::link_token::LinkMaker;
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;
use crate::ports::LinkKeys;

/// Makes the link maker of one export's part: its key derived once, under the current `kid`.
#[derive(Clone)]
pub struct ManifestLinks<K: LinkKeys> {
    pub keys: K,
    /// The download function's URL (`DOWNLOAD_BASE_URL`), without a trailing slash.
    pub base_url: String,
    /// How long links work after the enumeration's signing time (`URL_EXPIRY_SECONDS`).
    pub lifetime: Duration,
}

impl<K: LinkKeys> ManifestLinks<K> {
    /// The maker of `export`'s links; every part of the export makes the same links, because they
    /// all use the enumeration's `signed_at`.
    pub async fn maker(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        signed_at: Timestamp,
    ) -> Result<LinkMaker> {
        let kid = self.keys.current_kid();
        let key = self.keys.derive(kid, owner, export).await?;
        let expires_at = signed_at.plus(self.lifetime);
        LinkMaker::new(&self.base_url, kid, owner, export, expires_at, &key)
            .ok_or_else(|| Error::Internal(format!("links cannot expire at {expires_at}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::AttachmentId;
    use crate::domain::link_token;
    use crate::memory::FakeLinkKeys;

    #[tokio::test]
    async fn a_link_names_its_file_export_and_expiry_and_verifies_under_the_exports_key_only() {
        let keys = FakeLinkKeys { keys: 2 };
        let links = ManifestLinks {
            keys: keys.clone(),
            base_url: "https://dl.invalid".into(),
            lifetime: Duration::from_secs(518_400),
        };
        let (account_id, export) = (crate::domain::ids::AccountId::random(), ExportId::new());
        let account = ExportOwner::from(account_id.clone());
        let signed_at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let maker = links.maker(&account, &export, signed_at).await.unwrap();
        assert_eq!(maker.expires_at(), signed_at.plus(Duration::from_secs(518_400)));
        let (file, uploaded_at) =
            (AttachmentId::random(), Timestamp::parse("2026-11-01T08:00:00.125Z").unwrap());
        let mut link = String::from("left over");
        assert!(maker.link(&account_id, &file, uploaded_at, &mut link));
        let token = link.strip_prefix("https://dl.invalid/f/").expect("a link of the download function");
        let unverified = link_token::decode(token).unwrap();
        let claims = unverified.claims().clone();
        assert_eq!(
            (claims.kid, &claims.owner, claims.export_id, &claims.attachment_id, claims.uploaded_at),
            (2, &account, export, &file, uploaded_at),
            "made with the newest key"
        );
        assert_eq!(claims.expires_at, signed_at.plus(Duration::from_secs(518_400)));
        let own = keys.derive(2, &account, &export).await.unwrap();
        let other = keys.derive(2, &account, &ExportId::new()).await.unwrap();
        assert!(link_token::decode(token).unwrap().verify(&other).is_err(), "another export's key");
        assert!(unverified.verify(&own).is_ok());
        // Another part of the same export makes the same link.
        let again = links.maker(&account, &export, signed_at).await.unwrap();
        let mut same = String::new();
        assert!(again.link(&account_id, &file, uploaded_at, &mut same));
        assert_eq!(same, link);
    }
}
