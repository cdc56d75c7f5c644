//! The chat service's tables in memory: accounts, users, rooms and attachments (the `Directory`
//! and `AttachmentCatalog` ports).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::aws::dynamo::keys;
use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, RoomId, UserId};
use crate::domain::model::CatalogRow;
use crate::domain::model::{Account, AccountType, Attachment, Room, User};
use crate::ports::{AttachmentCatalog, CatalogSource, Directory, Page, UploadRange};

#[derive(Clone, Default)]
pub struct FakeDirectory {
    pub accounts: Arc<Mutex<BTreeMap<String, Account>>>,
    pub users: Arc<Mutex<HashMap<AccountId, Vec<User>>>>,
    pub rooms: Arc<Mutex<HashMap<AccountId, Vec<Room>>>>,
    pub attachments: Arc<Mutex<HashMap<AccountId, Vec<Attachment>>>>,
    /// Items that cannot be read as attachments, served among the others in sort-key order.
    pub unreadable: Arc<Mutex<HashMap<AccountId, Vec<crate::domain::model::UnreadableAttachment>>>>,
    /// Accounts whose look-up fails (a broken account for the sweep).
    pub broken: Arc<Mutex<Vec<AccountId>>>,
}

impl FakeDirectory {
    pub fn add_account(&self, account_type: AccountType, scheduled_exports: bool) -> AccountId {
        self.insert_account(AccountId::random(), account_type, scheduled_exports)
    }

    /// An account with a given id (the one in a sample event).
    pub fn insert_account(
        &self,
        id: AccountId,
        account_type: AccountType,
        scheduled_exports: bool,
    ) -> AccountId {
        let account = Account {
            account_id: Some(id.clone()),
            account_type,
            name: "Example".into(),
            domains: vec!["example.com".into()],
            scheduled_exports,
            scheduled_exports_incremental: false,
        };
        self.accounts.lock().unwrap().insert(id.to_string(), account);
        id
    }

    pub fn add_user(&self, account: &AccountId, managed: bool) -> UserId {
        let id = UserId::random();
        let user = User {
            user_id: Some(id.clone()),
            email: format!("{id}@example.com"),
            display_name: "U".into(),
            managed,
        };
        self.users.lock().unwrap().entry(account.clone()).or_default().push(user);
        id
    }

    pub fn add_room(&self, account: &AccountId, created_by: &UserId) -> RoomId {
        let id = RoomId::random();
        let room = Room { room_id: Some(id.clone()), name: "R".into(), created_by: created_by.clone() };
        self.rooms.lock().unwrap().entry(account.clone()).or_default().push(room);
        id
    }
}

impl Directory for FakeDirectory {
    async fn memberships(&self, user: &UserId) -> Result<Vec<crate::domain::model::Membership>> {
        let users = self.users.lock().unwrap().clone();
        let accounts = self.accounts.lock().unwrap().clone();
        Ok(users
            .iter()
            .filter_map(|(account, users)| {
                let listed = users.iter().find(|u| u.user_id.as_ref() == Some(user))?;
                let account = accounts.get(account.as_str())?.clone();
                Some(crate::domain::model::Membership { account, managed: listed.managed })
            })
            .collect())
    }

    async fn rooms_created_by(&self, user: &UserId) -> Result<Vec<(AccountId, Room)>> {
        let rooms = self.rooms.lock().unwrap();
        Ok(rooms
            .iter()
            .flat_map(|(account, rooms)| {
                rooms.iter().filter(|r| &r.created_by == user).map(|r| (account.clone(), r.clone()))
            })
            .collect())
    }

    async fn account(&self, account: &AccountId) -> Result<Option<Account>> {
        if self.broken.lock().unwrap().contains(account) {
            return Err(Error::Internal(format!("account {account} is broken")));
        }
        Ok(self.accounts.lock().unwrap().get(account.as_str()).cloned())
    }

    async fn users(&self, account: &AccountId) -> Result<Vec<User>> {
        Ok(self.users.lock().unwrap().get(account).cloned().unwrap_or_default())
    }

    async fn rooms(&self, account: &AccountId) -> Result<Vec<Room>> {
        Ok(self.rooms.lock().unwrap().get(account).cloned().unwrap_or_default())
    }

    async fn accounts(&self, after: Option<&str>, limit: u32) -> Result<Page<AccountId>> {
        // At most two accounts a page, so the sweep's paging is exercised.
        let take = limit.min(2) as usize;
        let accounts = self.accounts.lock().unwrap();
        let items: Vec<AccountId> = accounts
            .keys()
            .filter(|k| after.is_none_or(|a| k.as_str() > a))
            .take(take)
            .map(|k| AccountId::parse(k).unwrap())
            .collect();
        let next = (items.len() == take).then(|| items[take - 1].to_string());
        Ok(Page { items, next })
    }
}

impl AttachmentCatalog for FakeDirectory {
    async fn attachment(
        &self,
        account: &AccountId,
        uploaded_at: crate::domain::time::Timestamp,
        id: &crate::domain::ids::AttachmentId,
    ) -> Result<Option<Attachment>> {
        let attachments = self.attachments.lock().unwrap();
        let found = attachments.get(account).into_iter().flatten();
        Ok(found.into_iter().find(|a| a.attachment_id == *id && a.uploaded_at == uploaded_at).cloned())
    }

    async fn attachments(
        &self,
        source: &CatalogSource,
        range: UploadRange,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<CatalogRow>> {
        // The source's rows, as the table (an account) or an index (every account) holds them.
        let readable = self.attachments.lock().unwrap().clone();
        let unreadable = self.unreadable.lock().unwrap().clone();
        let holds = |account: &AccountId, uploader: &str, conversation: &str| match source {
            CatalogSource::Account(a) => a == account,
            CatalogSource::Uploader(u) => u.as_str() == uploader,
            CatalogSource::Conversation(c) => c.as_str() == conversation,
        };
        let mut all: Vec<CatalogRow> = readable
            .into_values()
            .flatten()
            .filter(|a| holds(&a.account_id, a.uploader_id.as_str(), a.conversation_id.as_str()))
            .map(Ok)
            .collect();
        all.extend(
            unreadable
                .into_iter()
                .flat_map(|(account, rows)| {
                    rows.into_iter().map(move |mut u| {
                        u.account_id = account.to_string();
                        u
                    })
                })
                .filter(|u| {
                    AccountId::parse(&u.account_id)
                        .is_ok_and(|a| holds(&a, &u.uploader_id, &u.conversation_id))
                })
                .map(|u| Err(Box::new(u))),
        );
        // Rows in the sort key's order (an index's ties cannot happen: the key ends with the
        // attachment id), with the range bounds, so unreadable items (which carry their stored
        // sort key) fall among the others as they do in the table.
        let sort_key = keys::catalog_sort_key;
        all.sort_by_key(sort_key);
        let lower = range.since.as_ref().map(keys::after_uploads_at);
        let upper = keys::after_uploads_at(&range.cutoff);
        let resume = after.map(|after| after.rsplit_once('|').map_or(after, |(_, sk)| sk).to_owned());
        let items: Vec<CatalogRow> = all
            .into_iter()
            .filter(|r| sort_key(r) <= upper && lower.as_ref().is_none_or(|l| sort_key(r) > *l))
            .filter(|r| resume.as_ref().is_none_or(|after| sort_key(r) > *after))
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        let next = match limit {
            Some(l) if items.len() == l as usize => items.last().map(|r| Self::position(source, r)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    fn position(source: &CatalogSource, row: &CatalogRow) -> String {
        keys::catalog_position(source, row)
    }
}
