//! AttachmentCatalog: a range of upload times, in upload order, page by page, resumable after
//! any row.

use std::time::Duration;

use crate::Timestamp;
use crate::domain::ids::{AccountId, AttachmentId, ConversationId, MessageId, UserId};
use crate::domain::model::{Attachment, CatalogRow, ConversationType};
use crate::ports::{AttachmentCatalog, CatalogSource, UploadRange};

/// `n` attachments of `account`, one minute apart from `first` (in upload order): what the caller
/// writes to the catalog before running the suite.
pub fn attachments_a_minute_apart(account: &AccountId, first: Timestamp, n: usize) -> Vec<Attachment> {
    let uploader = UserId::random();
    (0..n)
        .map(|i| Attachment {
            account_id: account.clone(),
            attachment_id: AttachmentId::random(),
            message_id: MessageId::random(),
            conversation_id: ConversationId::random(),
            conversation_type: ConversationType::Direct,
            uploader_id: uploader.clone(),
            file_name: format!("report-{i}.pdf"),
            content_type: "application/pdf".into(),
            size_bytes: 1000 + i as u64,
            sha256: "ab".repeat(32),
            bucket: "attachments".into(),
            object_key: format!("{account}/{i}"),
            uploaded_at: first.plus(Duration::from_secs(60 * i as u64)),
            deleted: false,
        })
        .collect()
}

/// Every page of a listing, from `after`, `limit` items a page.
async fn all<C: AttachmentCatalog>(
    catalog: &C,
    source: &CatalogSource,
    range: UploadRange,
    mut after: Option<String>,
    limit: Option<u32>,
) -> Vec<Attachment> {
    let mut rows = Vec::new();
    loop {
        let page = catalog.attachments(source, range, after.as_deref(), limit).await.unwrap();
        if let Some(limit) = limit {
            assert!(page.items.len() <= limit as usize);
        }
        rows.extend(page.items.into_iter().map(|row: CatalogRow| row.expect("every seeded item reads")));
        match page.next {
            Some(next) => after = Some(next),
            None => return rows,
        }
    }
}

/// The caller has written `seeded` (at least 8, one minute apart, see
/// [`attachments_a_minute_apart`]) for `account`. A range lists exactly the uploads after `since`
/// and up to and including `cutoff`, in upload order, whatever the page size; a listing resumes
/// exactly after any row's position; an account with no attachments lists none.
pub async fn a_range_lists_in_upload_order_and_resumes_after_any_row<C: AttachmentCatalog>(
    catalog: &C,
    account: &AccountId,
    seeded: &[Attachment],
) {
    assert!(seeded.len() >= 8, "the suite needs 8 attachments");
    let source = &CatalogSource::Account(account.clone());
    let last = seeded.last().unwrap().uploaded_at;
    let everything = UploadRange { since: None, cutoff: last };
    assert_eq!(all(catalog, source, everything, None, None).await, seeded);
    assert_eq!(all(catalog, source, everything, None, Some(3)).await, seeded, "pages of three");

    let to_fifth = UploadRange { since: None, cutoff: seeded[5].uploaded_at };
    assert_eq!(all(catalog, source, to_fifth, None, None).await, &seeded[..=5], "the cutoff is inclusive");
    let after_second = UploadRange { since: Some(seeded[2].uploaded_at), cutoff: last };
    assert_eq!(all(catalog, source, after_second, None, None).await, &seeded[3..], "since is exclusive");
    let between = UploadRange { since: Some(seeded[2].uploaded_at), cutoff: seeded[6].uploaded_at };
    assert_eq!(all(catalog, source, between, None, Some(2)).await, &seeded[3..=6]);
    let before_any = UploadRange {
        since: None,
        cutoff: Timestamp::from_unix_millis(seeded[0].uploaded_at.unix_millis() - 1).unwrap(),
    };
    assert!(all(catalog, source, before_any, None, None).await.is_empty());

    let position = C::position(source, &Ok(seeded[4].clone()));
    assert_eq!(
        all(catalog, source, everything, Some(position), Some(2)).await,
        &seeded[5..],
        "resumes after row 4"
    );
    assert!(
        all(catalog, &CatalogSource::Account(AccountId::random()), everything, None, None).await.is_empty()
    );

    // One attachment by its key (a download link's lookup): found by upload time and id, and
    // only in its own account, at its own time.
    let third = &seeded[3];
    assert_eq!(
        catalog.attachment(account, third.uploaded_at, &third.attachment_id).await.unwrap().as_ref(),
        Some(third)
    );
    assert_eq!(
        catalog.attachment(&AccountId::random(), third.uploaded_at, &third.attachment_id).await.unwrap(),
        None
    );
    assert_eq!(catalog.attachment(account, seeded[4].uploaded_at, &third.attachment_id).await.unwrap(), None);
}

/// One user's uploads and one room's files, in two accounts, interleaved in time with other
/// uploads: what the caller writes before running
/// [`an_index_lists_a_users_uploads_and_a_rooms_files_across_accounts`]. Returns every row (upload
/// order), the user and the room.
pub fn attachments_around_a_user(first: Timestamp) -> (Vec<Attachment>, UserId, ConversationId) {
    let (user, other, room) = (UserId::random(), UserId::random(), ConversationId::random());
    let accounts = [AccountId::random(), AccountId::random()];
    let rows = (0..12u64)
        .map(|i| {
            let account = accounts[(i % 2) as usize].clone();
            let (uploader, kind, conversation) = match i % 4 {
                0 => (&user, ConversationType::Direct, ConversationId::random()),
                1 => (&user, ConversationType::Group, ConversationId::random()),
                2 => (&other, ConversationType::Room, room.clone()),
                _ => (&other, ConversationType::Direct, ConversationId::random()),
            };
            Attachment {
                account_id: account.clone(),
                attachment_id: AttachmentId::random(),
                message_id: MessageId::random(),
                conversation_id: conversation,
                conversation_type: kind,
                uploader_id: uploader.clone(),
                file_name: format!("file-{i}.txt"),
                content_type: "text/plain".into(),
                size_bytes: 10 + i,
                sha256: "cd".repeat(32),
                bucket: "attachments".into(),
                object_key: format!("{account}/{i}"),
                uploaded_at: first.plus(Duration::from_secs(60 * i)),
                deleted: false,
            }
        })
        .collect();
    (rows, user, room)
}

/// The `by-uploader` and `by-conversation` sources list their rows from every account, in upload
/// order, within the range, page by page, resuming after any row; someone else's source lists none
/// of them.
pub async fn an_index_lists_a_users_uploads_and_a_rooms_files_across_accounts<C: AttachmentCatalog>(
    catalog: &C,
    seeded: &[Attachment],
    user: &UserId,
    room: &ConversationId,
) {
    let last = seeded.last().unwrap().uploaded_at;
    let everything = UploadRange { since: None, cutoff: last };
    let mine: Vec<Attachment> = seeded.iter().filter(|a| &a.uploader_id == user).cloned().collect();
    let rooms: Vec<Attachment> = seeded.iter().filter(|a| &a.conversation_id == room).cloned().collect();
    assert_eq!((mine.len(), rooms.len()), (6, 3));
    let uploads = CatalogSource::Uploader(user.clone());
    let room_files = CatalogSource::Conversation(room.clone());
    assert_eq!(all(catalog, &uploads, everything, None, None).await, mine, "both accounts, upload order");
    assert_eq!(all(catalog, &uploads, everything, None, Some(2)).await, mine, "pages of two");
    assert_eq!(all(catalog, &room_files, everything, None, Some(1)).await, rooms);
    let position = C::position(&uploads, &Ok(mine[2].clone()));
    assert_eq!(all(catalog, &uploads, everything, Some(position), Some(2)).await, &mine[3..], "resumes");
    let window = UploadRange { since: Some(mine[1].uploaded_at), cutoff: mine[4].uploaded_at };
    assert_eq!(all(catalog, &uploads, window, None, None).await, &mine[2..=4], "the range holds");
    assert!(
        all(catalog, &CatalogSource::Uploader(UserId::random()), everything, None, None).await.is_empty()
    );
    let nobody = CatalogSource::Conversation(ConversationId::random());
    assert!(all(catalog, &nobody, everything, None, None).await.is_empty());
}
