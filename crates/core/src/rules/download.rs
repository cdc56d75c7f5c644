//! A revocable download link's answer (docs/proposals/revocable-links.md): the token is checked
//! (its MAC under the export's own key, its expiry), then the export's record (delivered, not
//! expired), then the file (in the catalog, in the export's scope, in a configured bucket and the
//! account's folder); the answer is a short-lived GET of the object that S3 serves as a download.
//! Nothing of the token and no URL is logged; refusals name no other account's data.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::backend::Backend;
use crate::domain::content_disposition;
use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::domain::key_layout::KeyLayout;
use crate::domain::link_token::{self, LinkError};
use crate::domain::manifest_link;
use crate::domain::model::{ExportRecord, ExportStatus, Fetch, Handout};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;
use crate::ports::{AttachmentCatalog, AttachmentObjects, Clock, ExportStore, LinkKeys, ObjectStore};

/// How long the redirect's S3 URL works: long enough for a client to follow it and for each
/// connection of a segmented download to start, short enough that a revoked export's links stop
/// within a minute.
pub const DEFAULT_REDIRECT: Duration = Duration::from_secs(45);

/// How long one environment trusts an export's record before it reads it again: the time until a
/// revocation reaches every environment (plus the redirect's lifetime for URLs already handed out).
pub const DEFAULT_RECORD_CACHE: Duration = Duration::from_secs(5);

/// Entries each cache keeps before it starts again: an environment serves a handful of exports at
/// a time, and a flood of forged exports must not grow its memory.
const CACHE_ENTRIES: usize = 1024;

/// Who a hand-out through a manifest link is recorded as: the link the Assistant sent, followed.
pub const MANIFEST_LINK_PRINCIPAL: &str = "assistant-reply-link";

/// The download endpoint's rule.
pub struct Downloader<B: Backend> {
    pub store: B::Store,
    /// The export bucket: a user's manifest, for the link of the Assistant's reply.
    pub objects: B::Objects,
    pub catalog: B::Catalog,
    pub files: B::Attachments,
    pub link_keys: B::LinkKeys,
    pub clock: B::Clock,
    /// The attachment buckets the stack may serve (`ATTACHMENT_BUCKETS`).
    pub buckets: Vec<String>,
    /// Where each account's objects live (`ATTACHMENT_KEY_LAYOUT`).
    pub key_layout: KeyLayout,
    /// The redirect's lifetime (`REDIRECT_URL_SECONDS`).
    pub redirect: Duration,
    /// How long a record read is trusted (`LINK_STATE_CACHE_SECONDS`).
    pub record_cache: Duration,
    pub caches: Caches,
}

/// What one environment remembers between requests: each export's link key (one KMS call per
/// export, not per file) and its record for `record_cache`.
#[derive(Default)]
pub struct Caches {
    keys: Mutex<HashMap<(u8, ExportOwner, ExportId), [u8; 32]>>,
    records: Mutex<HashMap<(ExportOwner, ExportId), (Timestamp, ExportRecord)>>,
}

/// One request for a link: its token and the client's address (for the receipt).
pub struct LinkRequest<'a> {
    pub token: &'a str,
    pub source_ip: &'a str,
}

/// The one message for every link that is not one of ours: whether the token was malformed,
/// forged or made with a retired key is not the caller's to learn.
const NOT_OURS: &str = "This is not a download link of this service, or it was altered.";

fn remember<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, V>>, key: K, value: V) {
    let mut map = map.lock().expect("a cache lock is never poisoned");
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl<B: Backend> Downloader<B> {
    /// The short-lived URL the link's request is redirected to, once its fetch is counted.
    pub async fn redirect(&self, request: &LinkRequest<'_>) -> Result<String> {
        let unverified = link_token::decode(request.token).map_err(|_| Error::Forbidden(NOT_OURS.into()))?;
        let claims = unverified.claims().clone();
        let key = self.link_key(claims.kid, &claims.owner, &claims.export_id).await?;
        let claims = unverified.verify(&key).map_err(|e: LinkError| {
            tracing::warn!(owner = %claims.owner, export = %claims.export_id, "download link refused: {e}");
            Error::Forbidden(NOT_OURS.into())
        })?;
        let now = self.clock.now();
        if now >= claims.expires_at {
            return Err(Error::Gone(format!(
                "This download link expired at {}. Ask your administrator for a new export.",
                claims.expires_at
            )));
        }
        let record = self.record(&claims.owner, &claims.export_id, now).await?;
        match record.visible_status(now) {
            ExportStatus::Succeeded | ExportStatus::SucceededWithErrors => {}
            ExportStatus::Revoked => {
                // When, not who: whoever holds the link learns nothing of the account's people.
                let at = record.revoked_at.map_or_else(|| "an earlier time".to_owned(), |at| at.to_string());
                let by = match claims.owner {
                    ExportOwner::Account(_) => " by the account's administrators",
                    ExportOwner::User(_) => "",
                };
                return Err(Error::Gone(format!("The links of this export were revoked at {at}{by}.")));
            }
            ExportStatus::Expired => {
                return Err(Error::Gone("The export this link belongs to has expired.".into()));
            }
            status => {
                return Err(Error::Gone(format!(
                    "The export this link belongs to is {status}, not delivered."
                )));
            }
        }
        let in_scope = claims.uploaded_at <= record.cutoff
            && record.since.is_none_or(|since| claims.uploaded_at > since);
        let attachment = match in_scope {
            true => {
                self.catalog.attachment(&claims.account_id, claims.uploaded_at, &claims.attachment_id).await?
            }
            false => None,
        };
        let not_found = || Error::NotFound("The file of this link is no longer available.".into());
        let attachment = attachment.ok_or_else(not_found)?;
        // The checks the part writer made before it listed the file (DESIGN §7), again: the link is
        // only as good as the row it was made from.
        if !self.buckets.contains(&attachment.bucket)
            || !self.key_layout.holds(&claims.account_id, &attachment.object_key)
        {
            tracing::warn!(owner = %claims.owner, export = %claims.export_id, "download of a row outside the account's objects refused");
            return Err(not_found());
        }
        let disposition = content_disposition::attachment(&attachment.file_name);
        let url = self
            .files
            .presign_download(&attachment.bucket, &attachment.object_key, &disposition, self.redirect)
            .await?;
        // Counted before the redirect is answered: no file leaves without its receipt.
        let fetch = Fetch {
            uploaded_at: claims.uploaded_at,
            attachment_id: claims.attachment_id.clone(),
            at: now,
            source_ip: request.source_ip.to_owned(),
        };
        self.store.record_fetch(&claims.owner, &claims.export_id, &fetch).await?;
        tracing::info!(owner = %claims.owner, export = %claims.export_id, attachment = %claims.attachment_id, "download redirected");
        Ok(url)
    }

    /// The short-lived URL of a self-service user's manifest (`/m/{token}`, the link of the
    /// Assistant's reply, DESIGN §15), once the link and its export check out and the hand-out is
    /// counted and kept in the export's history. The record is read afresh: a revocation stops the
    /// link at once.
    pub async fn manifest_redirect(&self, token: &str) -> Result<String> {
        let unverified = manifest_link::decode(token).map_err(|_| Error::Forbidden(NOT_OURS.into()))?;
        let claims = unverified.claims().clone();
        let owner = ExportOwner::User(claims.user.clone());
        let key = self.link_key(claims.kid, &owner, &claims.export_id).await?;
        let claims = unverified.verify(&key).map_err(|e: LinkError| {
            tracing::warn!(%owner, export = %claims.export_id, "manifest link refused: {e}");
            Error::Forbidden(NOT_OURS.into())
        })?;
        let now = self.clock.now();
        let export = claims.export_id;
        if now >= claims.expires_at {
            return Err(Error::Gone(format!(
                "This link expired at {}. Write \"Get my attachments\" to the Assistant for a new export.",
                claims.expires_at
            )));
        }
        let record = self
            .store
            .get(&owner, &export)
            .await?
            .ok_or_else(|| Error::Gone("The export this link belongs to no longer exists.".into()))?;
        let result = match (record.visible_status(now), record.result.as_ref()) {
            (ExportStatus::Succeeded | ExportStatus::SucceededWithErrors, Some(result)) => result,
            (ExportStatus::Revoked, _) => {
                let at = record.revoked_at.map_or_else(|| "an earlier time".to_owned(), |at| at.to_string());
                return Err(Error::Gone(format!("The links of this export were revoked at {at}.")));
            }
            (ExportStatus::Expired, _) => {
                return Err(Error::Gone("The export this link belongs to has expired.".into()));
            }
            (status, _) => {
                return Err(Error::Gone(format!(
                    "The export this link belongs to is {status}, not delivered."
                )));
            }
        };
        // Counted and kept before the redirect: no hand-out goes unrecorded.
        let handout = Handout { at: now, principal: MANIFEST_LINK_PRINCIPAL.to_owned(), person: None };
        self.store.record_retrieval(&owner, &export, &handout).await?;
        let url = self.objects.presign_get(&result.manifest_key, self.redirect).await?;
        tracing::info!(%owner, %export, principal = MANIFEST_LINK_PRINCIPAL, "manifest link handed out");
        Ok(url)
    }

    /// The export's link key under `kid`, derived once per environment.
    async fn link_key(&self, kid: u8, owner: &ExportOwner, export: &ExportId) -> Result<[u8; 32]> {
        let cache_key = (kid, owner.clone(), *export);
        if let Some(key) = self.caches.keys.lock().expect("never poisoned").get(&cache_key) {
            return Ok(*key);
        }
        let key = match self.link_keys.derive(kid, owner, export).await {
            Ok(key) => key,
            Err(Error::NotFound(_)) => return Err(Error::Forbidden(NOT_OURS.into())),
            Err(e) => return Err(e),
        };
        remember(&self.caches.keys, cache_key, key);
        Ok(key)
    }

    /// The export's record, read again once it is `record_cache` old.
    async fn record(&self, owner: &ExportOwner, export: &ExportId, now: Timestamp) -> Result<ExportRecord> {
        let cache_key = (owner.clone(), *export);
        if let Some((read_at, record)) = self.caches.records.lock().expect("never poisoned").get(&cache_key)
            && now < read_at.plus(self.record_cache)
        {
            return Ok(record.clone());
        }
        let record = self
            .store
            .get(owner, export)
            .await?
            .ok_or_else(|| Error::Gone("The export this link belongs to no longer exists.".into()))?;
        remember(&self.caches.records, cache_key, (now, record.clone()));
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::domain::ids::{AccountId, AttachmentId, ExportId};
    use crate::domain::link_token::LinkMaker;
    use crate::domain::model::ConversationType;
    use crate::memory::World;

    const SIX_DAYS: Duration = Duration::from_secs(518_400);

    /// A delivered export of one account with two files in the catalog (an HTML page, inside the
    /// account's folder; and one after the cutoff), and the link of each.
    struct Setup {
        world: World,
        account: AccountId,
        export: ExportId,
        page: AttachmentId,
        page_link: String,
        late_link: String,
    }

    async fn setup() -> Setup {
        let world = World::at("2026-11-24T10:00:00Z");
        let account = world.directory.add_account(crate::domain::model::AccountType::Enterprise, false);
        let now = world.clock.now();
        let export = world.deliver(&account.clone().into(), 1).await.export_id;
        let mut files =
            crate::contracts::attachments_a_minute_apart(&account, now.plus(Duration::from_secs(0)), 2);
        // One uploaded before the cutoff (the request time), one after it.
        files[0].uploaded_at = Timestamp::parse("2026-11-01T09:00:00.250Z").unwrap();
        files[0].file_name = "report.html".into();
        files[0].bucket = "attachments".into();
        files[0].object_key = format!("{account}/report.html");
        files[0].conversation_type = ConversationType::Direct;
        files[1].uploaded_at = now.plus(Duration::from_secs(60));
        files[1].bucket = "attachments".into();
        files[1].object_key = format!("{account}/late.txt");
        world.directory.attachments.lock().unwrap().insert(account.clone(), files.clone());
        let keys = crate::memory::FakeLinkKeys::default();
        let key = keys.derive(1, &account.clone().into(), &export).await.unwrap();
        let maker = LinkMaker::new(
            "https://dl.invalid",
            1,
            &account.clone().into(),
            &export,
            now.plus(SIX_DAYS),
            &key,
        )
        .unwrap();
        let token = |i: usize| {
            let mut link = String::new();
            assert!(maker.link(&account, &files[i].attachment_id, files[i].uploaded_at, &mut link));
            link.rsplit('/').next().unwrap().to_owned()
        };
        Setup {
            page: files[0].attachment_id.clone(),
            page_link: token(0),
            late_link: token(1),
            world,
            account,
            export,
        }
    }

    fn link(token: &str) -> LinkRequest<'_> {
        LinkRequest { token, source_ip: "192.0.2.1" }
    }

    fn downloader(world: &World) -> Downloader<crate::memory::InMemory> {
        world.downloader(&["attachments"])
    }

    #[tokio::test]
    async fn a_link_redirects_to_a_short_download_of_its_file_named_and_never_rendered() {
        let s = setup().await;
        let url = downloader(&s.world).redirect(&link(&s.page_link)).await.unwrap();
        let expected =
            format!("https://download.invalid/attachments/{}/report.html?ttl=45&disposition=", s.account);
        assert!(url.starts_with(&expected), "{url}");
        assert!(
            url.contains("attachment%3B%20filename%3D%22report%2Ehtml%22"),
            "served as a download: {url}"
        );
        let _ = s.page;
    }

    #[tokio::test]
    async fn an_altered_a_foreign_or_a_retired_key_link_is_refused_alike() {
        let s = setup().await;
        let d = downloader(&s.world);
        let mut altered = s.page_link.clone().into_bytes();
        altered[50] = if altered[50] == b'A' { b'B' } else { b'A' };
        let another_export = {
            let keys = crate::memory::FakeLinkKeys::default();
            let key = keys.derive(1, &s.account.clone().into(), &ExportId::new()).await.unwrap();
            let claims = link_token::decode(&s.page_link).unwrap().claims().clone();
            link_token::encode(&claims, &key).unwrap()
        };
        let retired = {
            let keys = crate::memory::FakeLinkKeys { keys: 2 };
            let mut claims = link_token::decode(&s.page_link).unwrap().claims().clone();
            claims.kid = 2;
            link_token::encode(&claims, &keys.derive(2, &s.account.clone().into(), &s.export).await.unwrap())
                .unwrap()
        };
        for token in
            [String::from_utf8(altered).unwrap(), another_export, retired, "x".repeat(103), String::new()]
        {
            let err = d.redirect(&LinkRequest { token: &token, source_ip: "192.0.2.1" }).await.unwrap_err();
            assert_eq!(
                (err.code(), err.to_string().contains(NOT_OURS)),
                ("ForbiddenException", true),
                "{token}"
            );
        }
    }

    #[tokio::test]
    async fn an_expired_link_or_an_undelivered_export_is_gone() {
        let s = setup().await;
        s.world.clock.advance(SIX_DAYS);
        let err = downloader(&s.world).redirect(&link(&s.page_link)).await.unwrap_err();
        assert_eq!(err.code(), "GoneException", "{err}");

        let s = setup().await;
        let failed = crate::domain::model::FailureInfo { code: "X".into(), message: "y".into() };
        let mut record = s.world.store.record(&s.account, &s.export).unwrap();
        (record.status, record.error) = (ExportStatus::Failed, Some(failed));
        s.world.store.insert(record);
        let err = downloader(&s.world).redirect(&link(&s.page_link)).await.unwrap_err();
        assert_eq!(err.code(), "GoneException", "{err}");
    }

    #[tokio::test]
    async fn a_file_outside_the_export_or_the_accounts_objects_is_not_served() {
        let s = setup().await;
        let d = downloader(&s.world);
        // Uploaded after the export's cutoff: not the export's, even with a valid MAC.
        assert_eq!(d.redirect(&link(&s.late_link)).await.unwrap_err().code(), "NotFoundException");
        // The row now points at another account's object, or at a bucket the stack does not serve.
        for (bucket, key) in [
            ("attachments", format!("{}/x", AccountId::random())),
            ("elsewhere", format!("{}/report.html", s.account)),
        ] {
            {
                let mut files = s.world.directory.attachments.lock().unwrap();
                let row = files
                    .get_mut(&s.account)
                    .unwrap()
                    .iter_mut()
                    .find(|a| a.attachment_id == s.page)
                    .unwrap();
                (row.bucket, row.object_key) = (bucket.to_owned(), key);
            }
            assert_eq!(d.redirect(&link(&s.page_link)).await.unwrap_err().code(), "NotFoundException");
        }
        // Gone from the catalog.
        s.world.directory.attachments.lock().unwrap().clear();
        assert_eq!(d.redirect(&link(&s.page_link)).await.unwrap_err().code(), "NotFoundException");
    }
}
