//! Contract suites of the ports: one suite per port, run against the in-memory
//! fake in unit tests and against the real adapter on the local stack (tests/tests/*_adapters.rs),
//! so a fake that behaves differently from DynamoDB or S3 fails a test. Each function is one
//! behaviour; every store passed in must be empty for the ids the suite makes up.

mod attachments;
mod catalog;
mod clock;
mod directory;
mod ledger;
mod link_keys;
mod notifier;
mod objects;
mod statements;
mod store;
mod workflow;

pub use attachments::*;
pub use catalog::*;
pub use clock::*;
pub use directory::*;
pub use ledger::*;
pub use link_keys::*;
pub use notifier::*;
pub use objects::*;
pub use statements::*;
pub use store::*;
pub use workflow::*;

use std::time::Duration;

use crate::Timestamp;
use crate::domain::model::{ExportFormat, ExportRecord, RequestedBy, Via};
use crate::domain::owner::ExportOwner;

const WEEK: Duration = Duration::from_secs(604_800);
const MIB: usize = 1024 * 1024;

fn request(owner: &ExportOwner, at: Timestamp) -> ExportRecord {
    ExportRecord::new_request(
        owner.clone(),
        ExportFormat::Csv,
        RequestedBy {
            principal: "arn:aws:iam::000000000000:user/local-admin".into(),
            via: Via::Api,
            person: None,
        },
        Some("token-1".into()),
        at,
    )
}

#[cfg(test)]
mod against_the_fakes {
    //! The same suites against the in-memory fakes the unit tests use.
    use super::*;
    use crate::domain::ids::AccountId;
    use crate::memory::{FakeObjectStore, FakeStore, FakeSweepLedger};

    #[tokio::test]
    async fn the_fake_export_store_keeps_the_contract() {
        exactly_one_of_twenty_concurrent_requests_takes_the_window(&FakeStore::default()).await;
        the_window_reopens_after_seven_days_and_a_failure_gives_it_back(&FakeStore::default()).await;
        status_moves_forward_only_and_conditions_name_the_problem(&FakeStore::default()).await;
        exports_list_newest_first_across_pages(&FakeStore::default()).await;
        written_parts_are_counted_once_only_while_running(&FakeStore::default()).await;
        retrievals_are_counted_on_delivered_exports_only(&FakeStore::default()).await;
        the_enumeration_is_recorded_once_while_running(&FakeStore::default()).await;
        the_listing_plan_is_recorded_once_while_running(&FakeStore::default()).await;
        segment_checkpoints_move_one_part_at_a_time_each_on_its_own(&FakeStore::default()).await;
        receipts_count_every_fetch_and_each_file_once(&FakeStore::default()).await;
        a_users_exports_and_window_are_apart_from_every_accounts(&FakeStore::default()).await;
        a_confirmation_is_redeemed_once_by_its_user_before_it_expires(&FakeStore::default()).await;
    }

    /// Writes a seeded account into the fake's maps, as the chat service writes AccountsTable.
    fn seed(directory: &crate::memory::FakeDirectory, seeded: &SeededAccount) {
        directory.accounts.lock().unwrap().insert(seeded.id.to_string(), seeded.account.clone());
        directory.users.lock().unwrap().insert(seeded.id.clone(), seeded.users.clone());
        directory.rooms.lock().unwrap().insert(seeded.id.clone(), seeded.rooms.clone());
    }

    #[tokio::test]
    async fn the_fake_directory_keeps_the_contract() {
        let directory = crate::memory::FakeDirectory::default();
        let seeded: Vec<SeededAccount> = (0..3).map(|_| SeededAccount::example()).collect();
        for account in &seeded {
            seed(&directory, account);
        }
        an_account_reads_back_with_its_users_and_rooms(&directory, &seeded[0]).await;
        let ids: Vec<AccountId> = seeded.iter().map(|s| s.id.clone()).collect();
        every_account_is_listed_once_across_pages(&directory, &ids).await;

        let directory = crate::memory::FakeDirectory::default();
        let (around, user) = accounts_around_a_user();
        for account in &around {
            seed(&directory, account);
        }
        a_users_memberships_and_rooms_are_found_across_accounts(&directory, &around, &user).await;
    }

    #[tokio::test]
    async fn the_fake_catalog_keeps_the_contract() {
        let directory = crate::memory::FakeDirectory::default();
        let account = AccountId::random();
        let first = Timestamp::parse("2026-03-01T09:00:00Z").unwrap();
        let seeded = attachments_a_minute_apart(&account, first, 10);
        directory.attachments.lock().unwrap().insert(account.clone(), seeded.clone());
        a_range_lists_in_upload_order_and_resumes_after_any_row(&directory, &account, &seeded).await;

        let directory = crate::memory::FakeDirectory::default();
        let (rows, user, room) = attachments_around_a_user(first);
        for row in &rows {
            directory
                .attachments
                .lock()
                .unwrap()
                .entry(row.account_id.clone())
                .or_default()
                .push(row.clone());
        }
        an_index_lists_a_users_uploads_and_a_rooms_files_across_accounts(&directory, &rows, &user, &room)
            .await;
    }

    /// The wall clock is not an AWS adapter: both clocks are held to the contract here.
    #[test]
    fn the_clocks_keep_the_contract() {
        a_clock_tells_stored_times_and_never_goes_back(&crate::ports::SystemClock);
        let fixed = crate::memory::FixedClock::at("2026-11-24T10:15:30.123Z");
        a_clock_tells_stored_times_and_never_goes_back(&fixed);
    }

    #[tokio::test]
    async fn the_fake_link_keys_keep_the_contract() {
        each_export_has_its_own_link_key(&crate::memory::FakeLinkKeys::default()).await;
        each_export_has_its_own_link_key(&crate::memory::FakeLinkKeys { keys: 3 }).await;
    }

    #[tokio::test]
    async fn the_fake_workflow_keeps_the_contract() {
        let record = request(&AccountId::random().into(), Timestamp::now());
        let job = crate::domain::payloads::ExportJob::from(&record);
        an_execution_is_named_by_its_export_and_starting_twice_is_harmless(
            &crate::memory::FakeWorkflow::default(),
            &job,
        )
        .await;
        use crate::ports::Workflow;
        let workflow = crate::memory::FakeWorkflow::default();
        let doomed =
            crate::domain::payloads::ExportJob::from(&request(&AccountId::random().into(), Timestamp::now()));
        only_a_failing_execution_names_a_failure(&workflow, &doomed, async || {
            assert_eq!(workflow.failure(&doomed.export_id).await.unwrap(), None, "running normally");
            workflow.end(&doomed.export_id, "FAILED");
            workflow.failure(&doomed.export_id).await.unwrap()
        })
        .await;
    }

    #[tokio::test]
    async fn the_fake_notifier_keeps_the_contract() {
        let notifier = crate::memory::FakeNotifier::default();
        let received = async || {
            let published = notifier.published.lock().unwrap().clone();
            published.iter().map(|c| serde_json::to_value(c).unwrap()).collect()
        };
        a_published_change_reaches_the_accounts_subscriber_once(&notifier, &example_change(), received).await;
        let notifier = crate::memory::FakeNotifier::default();
        let replies = async || {
            let replies = notifier.replies.lock().unwrap().clone();
            replies.iter().map(|r| ("Assistant Reply".to_owned(), serde_json::to_value(r).unwrap())).collect()
        };
        a_reply_reaches_the_users_subscriber_once_and_a_state_change_does_not(
            &notifier,
            &example_reply(),
            replies,
        )
        .await;
    }

    #[tokio::test]
    async fn the_fake_object_store_keeps_the_contract() {
        multipart_upload_assembles_copied_parts_and_a_tail_server_side(&FakeObjectStore::default(), "c/")
            .await;
        an_aborted_upload_leaves_nothing(&FakeObjectStore::default(), "c/").await;
        ranges_read_and_copy_and_small_parts_are_refused(&FakeObjectStore::default(), "c/").await;
        a_missing_object_is_absent(&FakeObjectStore::default(), "c/").await;
    }

    #[tokio::test]
    async fn the_fake_attachment_objects_keep_the_contract() {
        let objects = crate::memory::FakeAttachmentObjects::default();
        let body = b"quarterly figures";
        objects.put("attachments", "a/plain", body, false);
        objects.put("attachments", "a/checked", body, true);
        an_attachment_head_reports_size_and_stored_sha256(
            &objects,
            "attachments",
            body,
            "a/plain",
            "a/checked",
            "a/missing",
        )
        .await;
        objects.put("attachments", "a/encrypted", body, true);
        objects.refuse("attachments", "a/encrypted");
        a_refused_head_is_told_apart_from_a_missing_object(&objects, "attachments", "a/encrypted").await;
    }

    #[tokio::test]
    async fn the_fake_statement_signer_keeps_the_contract() {
        a_statement_signature_verifies_with_its_public_key(&crate::memory::FakeStatementSigner::default())
            .await;
    }

    #[tokio::test]
    async fn the_fake_sweep_ledger_keeps_the_contract() {
        the_sweep_ledger_saves_only_over_the_version_it_read(&FakeSweepLedger::default()).await;
    }
}
