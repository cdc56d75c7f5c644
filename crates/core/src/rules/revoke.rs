//! RevokeDataExport (DESIGN §8): a delivered export's links stop working, for good. The record
//! moves to REVOKED (one conditional write, who and when kept), which the download function sees
//! within its record cache; every file of the export (manifest, reports, statement) is deleted, so
//! hand-out links already given out fail at once; a "Data Export State Change" event says so.
//! Revoking again is harmless (nothing more happens but the files' deletion, in case it was cut
//! short); an export that delivered nothing has no links to revoke. An account's export and a chat
//! user's own (DESIGN §15) are revoked alike: the owner keys the record and the folder.

use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::domain::model::{ExportRecord, ExportStatus, RequestedBy};
use crate::domain::owner::ExportOwner;
use crate::domain::payloads::ExportJob;
use crate::ports::{Clock, ExportStore, Notifier, ObjectStore, StateChange, StatusChange};

pub struct Revoker<B: Backend> {
    pub store: B::Store,
    pub objects: B::Objects,
    pub notifier: B::Notifier,
    pub clock: B::Clock,
}

impl<B: Backend> Revoker<B> {
    /// Revokes `owner`'s `export`'s links on behalf of `by`; the record as it stands afterwards.
    /// Another owner's export of the same id is not found: the owner is the record's key.
    pub async fn revoke(
        &self,
        owner: &ExportOwner,
        export: &ExportId,
        by: RequestedBy,
    ) -> Result<ExportRecord> {
        let not_found = || {
            Error::NotFound(match owner {
                ExportOwner::Account(account) => format!("No export {export} exists for account {account}."),
                ExportOwner::User(_) => format!("You have no export {export}."),
            })
        };
        let record = self.store.get(owner, export).await?.ok_or_else(not_found)?;
        let prefix = ExportJob::from(&record).prefix();
        // A revocation cut short (after its write, before its files were gone) may not have told
        // anyone: its repeat publishes the event again. Events are at least once. The manifest
        // says so, not any file under the prefix: a revoked export's GET writes downloads.csv there.
        let manifest = record.result.as_ref().map(|r| r.manifest_key.as_str());
        let mut publish = record.status == ExportStatus::Revoked
            && match manifest {
                Some(key) => self.objects.head(key).await?.is_some(),
                None => false,
            };
        if record.status != ExportStatus::Revoked {
            if !ExportStatus::Revoked.allowed_from().contains(&record.status) {
                return Err(Error::Unprocessable(format!(
                    "Export {export} is {}: only a delivered export has links to revoke.",
                    record.status
                )));
            }
            let at = self.clock.now();
            let change = StatusChange::Revoked { at, by: by.clone() };
            match self.store.change_status(owner, export, change).await {
                Ok(()) => {
                    tracing::info!(%owner, %export, principal = %by.principal, "export links revoked");
                    publish = true;
                }
                // Another revocation got there first: the same outcome, its event its own.
                Err(Error::StatusConflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let revoked = self.store.get(owner, export).await?.ok_or_else(not_found)?;
        if revoked.status != ExportStatus::Revoked {
            return Err(Error::Internal(format!("export {export} did not stay REVOKED")));
        }
        if publish {
            self.notifier
                .publish(&StateChange {
                    owner: owner.clone(),
                    export_id: *export,
                    status: ExportStatus::Revoked,
                    requested_at: revoked.requested_at,
                    completed_at: revoked.completed_at.unwrap_or_else(|| self.clock.now()),
                    attachment_count: revoked.result.as_ref().map(|r| r.attachment_count),
                    total_bytes: None,
                    error_count: None,
                    error_code: None,
                    revoked_at: revoked.revoked_at,
                })
                .await?;
        }
        // The export's files: the hand-out links already given out stop at once (S3 is strongly
        // consistent), and nothing is left to hand out.
        let keys = self.objects.list(&prefix).await?;
        if !keys.is_empty() {
            self.objects.delete(&keys).await?;
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::ids::{AccountId, UserId};
    use crate::domain::model::{AccountType, ExportFormat, Via};
    use crate::memory::World;

    async fn delivered(world: &World) -> (AccountId, ExportId) {
        let account = world.directory.add_account(AccountType::Enterprise, false);
        let record = world.deliver(&account.clone().into(), 3).await;
        let prefix = ExportJob::from(&record).prefix();
        for name in ["attachments.csv", "summary.json", "statement.json"] {
            world.objects.put(&format!("{prefix}{name}"), b"x".to_vec(), "text/plain", &[]).await.unwrap();
        }
        let export = record.export_id;
        (account, export)
    }

    fn revoker(world: &World) -> Revoker<crate::memory::InMemory> {
        world.revoker()
    }

    #[tokio::test]
    async fn a_delivered_export_is_revoked_once_its_files_deleted_and_an_event_says_so() {
        let world = World::at("2026-11-24T10:00:00Z");
        let (account, export) = delivered(&world).await;
        // Another export of the same account is left alone.
        world.clock.advance(Duration::from_secs(604_800));
        let (other_account, other) = delivered(&world).await;
        let by = RequestedBy::new("arn:aws:iam::1:user/security", Via::Api);
        let revoked = revoker(&world).revoke(&account.clone().into(), &export, by.clone()).await.unwrap();
        assert_eq!((revoked.status, revoked.revoked_by.as_ref()), (ExportStatus::Revoked, Some(&by)));
        assert_eq!(revoked.revoked_at, Some(world.clock.now()));
        let prefix = format!("exports/{account}/{export}/");
        assert!(world.objects.list(&prefix).await.unwrap().is_empty(), "every file of the export is gone");
        let other_prefix = format!("exports/{other_account}/{other}/");
        assert_eq!(world.objects.list(&other_prefix).await.unwrap().len(), 3, "another export's stay");
        let events = world.notifier.published.lock().unwrap().clone();
        assert_eq!(events.iter().filter(|e| e.status == ExportStatus::Revoked).count(), 1);
        // Again: the same record, no second event; it cannot be undone.
        let again = revoker(&world).revoke(&account.clone().into(), &export, by).await.unwrap();
        assert_eq!(again.revoked_at, revoked.revoked_at);
        assert_eq!(
            world
                .notifier
                .published
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.status == ExportStatus::Revoked)
                .count(),
            1
        );
        for status in ExportStatus::ALL {
            assert!(!ExportStatus::Revoked.can_move_to(status), "REVOKED -> {status}");
        }
    }

    #[tokio::test]
    async fn a_revocation_cut_short_before_its_event_tells_it_when_repeated() {
        let world = World::at("2026-11-24T10:00:00Z");
        let (account, export) = delivered(&world).await;
        let by = RequestedBy::new("arn:aws:iam::1:user/security", Via::Api);
        // The write happened, the event and the deletion did not (the function died between).
        let change = StatusChange::Revoked { at: world.clock.now(), by: by.clone() };
        world.store.change_status(&account.clone().into(), &export, change).await.unwrap();
        revoker(&world).revoke(&account.clone().into(), &export, by.clone()).await.unwrap();
        let events = world.notifier.published.lock().unwrap().clone();
        assert_eq!(events.iter().filter(|e| e.status == ExportStatus::Revoked).count(), 1, "{events:?}");
        let prefix = format!("exports/{account}/{export}/");
        assert!(world.objects.list(&prefix).await.unwrap().is_empty());
        // The revoked export's downloads.csv (written by a GET since) is no sign of a cut-short
        // revocation: a repeat publishes nothing more.
        world.objects.put(&format!("{prefix}downloads.csv"), b"x".to_vec(), "text/csv", &[]).await.unwrap();
        revoker(&world).revoke(&account.clone().into(), &export, by).await.unwrap();
        let events = world.notifier.published.lock().unwrap().clone();
        assert_eq!(events.iter().filter(|e| e.status == ExportStatus::Revoked).count(), 1, "{events:?}");
    }

    /// A chat user's own export (DESIGN §15) is revoked under its owner: its folder emptied, and
    /// neither an account whose id is the user's nor another user finds it.
    #[tokio::test]
    async fn a_users_export_is_revoked_under_its_owner_only() {
        let world = World::at("2026-11-24T10:00:00Z");
        let user = UserId::random();
        let owner = ExportOwner::User(user.clone());
        let record = world.deliver(&owner, 2).await;
        let prefix = ExportJob::from(&record).prefix();
        assert_eq!(prefix, format!("exports/users/{user}/{}/", record.export_id));
        world.objects.put(&format!("{prefix}attachments.csv"), b"x".to_vec(), "text/csv", &[]).await.unwrap();
        let by = RequestedBy::new("arn:aws:sts::1:assumed-role/ChatUserConsoleRole/x", Via::Api);
        let twin = ExportOwner::Account(AccountId::parse(user.as_str()).unwrap());
        for stranger in [twin, ExportOwner::User(UserId::random())] {
            let refused = revoker(&world).revoke(&stranger, &record.export_id, by.clone()).await.unwrap_err();
            assert_eq!(refused.code(), "NotFoundException", "{stranger}");
        }
        assert_eq!(world.objects.list(&prefix).await.unwrap().len(), 1, "nothing deleted by a stranger");
        let revoked = revoker(&world).revoke(&owner, &record.export_id, by).await.unwrap();
        assert_eq!((revoked.status, &revoked.owner), (ExportStatus::Revoked, &owner));
        assert!(world.objects.list(&prefix).await.unwrap().is_empty());
        let events = world.notifier.published.lock().unwrap().clone();
        assert_eq!(
            events.iter().filter(|e| e.status == ExportStatus::Revoked && e.owner == owner).count(),
            1
        );
    }

    #[tokio::test]
    async fn nothing_undelivered_or_unknown_is_revoked() {
        let world = World::at("2026-11-24T10:00:00Z");
        let account = world.directory.add_account(AccountType::Enterprise, false);
        let record = ExportRecord::new_request(
            account.clone().into(),
            ExportFormat::Csv,
            RequestedBy::new("arn:aws:iam::1:user/it", Via::Api),
            None,
            world.clock.now(),
        );
        world.store.admit(&record, Duration::from_secs(604_800)).await.unwrap();
        let by = RequestedBy::new("arn:aws:iam::1:user/security", Via::Api);
        let queued =
            revoker(&world).revoke(&account.clone().into(), &record.export_id, by.clone()).await.unwrap_err();
        assert_eq!(queued.code(), "UnprocessableEntityException", "{queued}");
        assert_eq!(world.store.record(&account, &record.export_id).unwrap().status, ExportStatus::Queued);
        let unknown =
            revoker(&world).revoke(&account.clone().into(), &ExportId::new(), by.clone()).await.unwrap_err();
        assert_eq!(unknown.code(), "NotFoundException");
        // Another account's export is unknown here.
        let (_, theirs) = delivered(&world).await;
        let foreign = revoker(&world).revoke(&account.clone().into(), &theirs, by).await.unwrap_err();
        assert_eq!(foreign.code(), "NotFoundException");
        assert!(world.notifier.published.lock().unwrap().iter().all(|e| e.status != ExportStatus::Revoked));
    }
}
