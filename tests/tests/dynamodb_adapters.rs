//! The DynamoDB adapters against DynamoDB Local: the ports' contract suites (conditional writes,
//! the 7-day throttle transaction under concurrency, Query pagination, the sweep ledger), which the
//! in-memory fakes keep too, and the catalog's reads.

use std::collections::HashSet;
use std::time::Duration;

use export_core::Timestamp;
use export_core::aws::dynamo;
use export_core::contracts;
use export_core::domain::model::{AccountType, ConversationType};
use export_core::ports::{AttachmentCatalog, CatalogSource, Directory, UploadRange};
use integration_tests::{Stack, attachment, batch_put, seed_account};

/// The ExportStore contract (export_core::contracts), which the in-memory fake keeps too.
#[tokio::test]
async fn the_export_store_keeps_the_contract() {
    let store = Stack::load().export_store();
    contracts::exactly_one_of_twenty_concurrent_requests_takes_the_window(&store).await;
    contracts::the_window_reopens_after_seven_days_and_a_failure_gives_it_back(&store).await;
    contracts::status_moves_forward_only_and_conditions_name_the_problem(&store).await;
    contracts::exports_list_newest_first_across_pages(&store).await;
    contracts::written_parts_are_counted_once_only_while_running(&store).await;
    contracts::retrievals_are_counted_on_delivered_exports_only(&store).await;
    contracts::the_enumeration_is_recorded_once_while_running(&store).await;
    contracts::the_listing_plan_is_recorded_once_while_running(&store).await;
    contracts::segment_checkpoints_move_one_part_at_a_time_each_on_its_own(&store).await;
    contracts::receipts_count_every_fetch_and_each_file_once(&store).await;
    contracts::a_users_exports_and_window_are_apart_from_every_accounts(&store).await;
    contracts::a_confirmation_is_redeemed_once_by_its_user_before_it_expires(&store).await;
}

/// The Directory contract on AccountsTable, the accounts written as the chat service writes them.
#[tokio::test]
async fn the_directory_keeps_the_contract() {
    let stack = Stack::load();
    let seeded: Vec<contracts::SeededAccount> = (0..3).map(|_| contracts::SeededAccount::example()).collect();
    let (around, user) = contracts::accounts_around_a_user();
    let mut items = Vec::new();
    for s in seeded.iter().chain(&around) {
        items.push(dynamo::items::account(&s.id, &s.account).unwrap());
        for user in &s.users {
            items.push(dynamo::items::user(&s.id, user.user_id.as_ref().unwrap(), user).unwrap());
        }
        for room in &s.rooms {
            items.push(dynamo::items::room(&s.id, room.room_id.as_ref().unwrap(), room).unwrap());
        }
    }
    batch_put(&stack.dynamodb(), stack.var("ACCOUNTS_TABLE"), items).await;
    let directory = stack.directory();
    contracts::an_account_reads_back_with_its_users_and_rooms(&directory, &seeded[0]).await;
    let ids: Vec<_> = seeded.iter().map(|s| s.id.clone()).collect();
    contracts::every_account_is_listed_once_across_pages(&directory, &ids).await;
    contracts::a_users_memberships_and_rooms_are_found_across_accounts(&directory, &around, &user).await;
}

/// The AttachmentCatalog contract on AttachmentsTable.
#[tokio::test]
async fn the_catalog_keeps_the_contract() {
    let stack = Stack::load();
    let account = export_core::domain::ids::AccountId::random();
    let first = Timestamp::parse("2026-03-01T09:00:00Z").unwrap();
    let seeded = contracts::attachments_a_minute_apart(&account, first, 10);
    let items = seeded.iter().map(|a| dynamo::items::attachment(a).unwrap()).collect();
    batch_put(&stack.dynamodb(), stack.var("ATTACHMENTS_TABLE"), items).await;
    contracts::a_range_lists_in_upload_order_and_resumes_after_any_row(&stack.catalog(), &account, &seeded)
        .await;

    // The by-uploader and by-conversation indexes (DESIGN §15), on rows of two accounts.
    let (rows, user, room) = contracts::attachments_around_a_user(first);
    let items = rows.iter().map(|a| dynamo::items::attachment(a).unwrap()).collect();
    batch_put(&stack.dynamodb(), stack.var("ATTACHMENTS_TABLE"), items).await;
    contracts::an_index_lists_a_users_uploads_and_a_rooms_files_across_accounts(
        &stack.catalog(),
        &rows,
        &user,
        &room,
    )
    .await;
}

/// The SweepLedger contract, on a key of its own beside the stack's sweep record.
#[tokio::test]
async fn the_sweep_ledger_keeps_the_contract() {
    let stack = Stack::load();
    let key = format!("#contract-{}", ulid::Ulid::new());
    let ledger = dynamo::DynamoSweepLedger::at_key(stack.dynamodb(), stack.var("EXPORTS_TABLE"), key);
    contracts::the_sweep_ledger_saves_only_over_the_version_it_read(&ledger).await;
}

#[tokio::test]
async fn catalog_reads_the_directory_and_lists_accounts_by_index() {
    let stack = Stack::load();
    let catalog = stack.catalog();
    let seeded = seed_account(&stack, AccountType::Team, true).await;
    let account = catalog.account(&seeded.id).await.unwrap().expect("account found");
    assert_eq!(account.account_type, AccountType::Team);
    assert!(account.scheduled_exports);
    assert_eq!(account.domains, vec!["example.com".to_string()]);

    let users = catalog.users(&seeded.id).await.unwrap();
    let managed: HashSet<_> = users.iter().filter(|u| u.managed).filter_map(|u| u.user_id.clone()).collect();
    assert_eq!(managed, HashSet::from([seeded.managed_user.clone()]));
    assert_eq!(users.len(), 2);
    let rooms = catalog.rooms(&seeded.id).await.unwrap();
    assert_eq!(rooms.len(), 2);
    assert!(
        rooms
            .iter()
            .any(|r| r.room_id.as_ref() == Some(&seeded.managed_room) && r.created_by == seeded.managed_user)
    );
    assert!(catalog.account(&export_core::domain::ids::AccountId::random()).await.unwrap().is_none());

    // The inverted index lists every account; walk it to the end and find ours.
    let mut found = false;
    let mut cursor: Option<String> = None;
    loop {
        let page = catalog.accounts(cursor.as_deref(), 500).await.unwrap();
        found |= page.items.contains(&seeded.id);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert!(found);
}

#[tokio::test]
async fn attachment_query_pages_past_one_megabyte_in_upload_order_up_to_the_cutoff() {
    let stack = Stack::load();
    let catalog = stack.catalog();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let base = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    // 700 items of ~2 KB each: about 1.4 MB, more than one Query response can carry.
    let mut all: Vec<_> = (0..700u64)
        .map(|i| {
            let mut a = attachment(
                &seeded.id,
                &seeded.managed_user,
                ConversationType::Direct,
                base.plus(Duration::from_secs(i)),
            );
            a.file_name = format!("{i:04}-{}", "x".repeat(2000));
            a
        })
        .collect();
    let items = all.iter().map(|a| dynamo::items::attachment(a).unwrap()).collect();
    batch_put(&stack.dynamodb(), stack.var("ATTACHMENTS_TABLE"), items).await;

    // Cutoff at item 599's upload time: 600 items are in the snapshot.
    let cutoff = base.plus(Duration::from_secs(599));
    let mut listed = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = catalog
            .attachments(
                &CatalogSource::Account(seeded.id.clone()),
                UploadRange { since: None, cutoff },
                cursor.as_deref(),
                None,
            )
            .await
            .unwrap();
        pages += 1;
        listed.extend(page.items.into_iter().map(|row| row.expect("every item reads")));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert!(pages >= 2, "1.2 MB should take more than one 1 MB page, took {pages}");
    all.truncate(600);
    assert_eq!(listed.len(), 600);
    assert_eq!(listed, all, "every attachment, once, in upload order, none after the cutoff");

    // An explicit limit pages too, and the cursor resumes exactly after the last item.
    let first = catalog
        .attachments(
            &CatalogSource::Account(seeded.id.clone()),
            UploadRange { since: None, cutoff },
            None,
            Some(7),
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 7);
    let second = catalog
        .attachments(
            &CatalogSource::Account(seeded.id.clone()),
            UploadRange { since: None, cutoff },
            first.next.as_deref(),
            Some(7),
        )
        .await
        .unwrap();
    assert_eq!(second.items[0], Ok(all[7].clone()));
}
