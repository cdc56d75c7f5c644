//! Directory: an account, its users and rooms read back as the chat service wrote them; every
//! account listed, page by page.

use std::collections::BTreeSet;

use crate::domain::ids::{AccountId, RoomId, UserId};
use crate::domain::model::{Account, AccountType, Room, User};
use crate::ports::Directory;

/// What a directory suite reads back: one account with users and rooms, which the caller writes
/// through its own writer (the fake's maps, or AccountsTable items) before running the suite.
#[derive(Debug, Clone)]
pub struct SeededAccount {
    pub id: AccountId,
    pub account: Account,
    pub users: Vec<User>,
    pub rooms: Vec<Room>,
}

impl SeededAccount {
    /// An Enterprise account with a managed and an unmanaged user, and a room the first created.
    pub fn example() -> Self {
        let id = AccountId::random();
        let account = Account {
            account_id: Some(id.clone()),
            account_type: AccountType::Enterprise,
            name: "Contract Ltd".into(),
            domains: vec!["contract.example".into()],
            scheduled_exports: true,
            scheduled_exports_incremental: false,
        };
        let user = |managed: bool| {
            let user_id = UserId::random();
            User {
                email: format!("{user_id}@contract.example"),
                user_id: Some(user_id),
                display_name: if managed { "Managed" } else { "Guest" }.into(),
                managed,
            }
        };
        let users = vec![user(true), user(false)];
        let creator = users[0].user_id.clone().unwrap();
        let rooms =
            vec![Room { room_id: Some(RoomId::random()), name: "Quarterly".into(), created_by: creator }];
        Self { id, account, users, rooms }
    }
}

fn sorted<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort_by_key(key);
    items
}

/// The seeded account reads back whole, its users and rooms with their ids; an unknown account is
/// absent and has neither users nor rooms.
pub async fn an_account_reads_back_with_its_users_and_rooms<D: Directory>(
    directory: &D,
    seeded: &SeededAccount,
) {
    let account = directory.account(&seeded.id).await.unwrap().expect("the seeded account");
    assert_eq!(account, seeded.account);
    let by_user = |u: &User| u.user_id.clone();
    let users = directory.users(&seeded.id).await.unwrap();
    assert_eq!(sorted(&users, by_user), sorted(&seeded.users, by_user));
    let by_room = |r: &Room| r.room_id.clone();
    let rooms = directory.rooms(&seeded.id).await.unwrap();
    assert_eq!(sorted(&rooms, by_room), sorted(&seeded.rooms, by_room));

    let unknown = AccountId::random();
    assert_eq!(directory.account(&unknown).await.unwrap(), None);
    assert!(directory.users(&unknown).await.unwrap().is_empty());
    assert!(directory.rooms(&unknown).await.unwrap().is_empty());
}

/// Paging through every account lists each of `seeded` exactly once, no page longer than asked.
pub async fn every_account_is_listed_once_across_pages<D: Directory>(directory: &D, seeded: &[AccountId]) {
    const LIMIT: u32 = 25;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = directory.accounts(after.as_deref(), LIMIT).await.unwrap();
        assert!(page.items.len() <= LIMIT as usize, "a page of {} for a limit of {LIMIT}", page.items.len());
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let distinct: BTreeSet<&AccountId> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "an account listed twice");
    for id in seeded {
        assert!(distinct.contains(id), "account {id} was never listed");
    }
}

/// Three accounts around one chat user: an Enterprise account that lists them as a guest (not
/// managed) and where they created a room, a Team account they are a member of, and an Enterprise
/// account that does not list them but holds a room they created (a guest's room). The suite
/// [`a_users_memberships_and_rooms_are_found_across_accounts`] reads them back.
pub fn accounts_around_a_user() -> (Vec<SeededAccount>, UserId) {
    let user_id = UserId::random();
    let listed = |managed: bool| User {
        user_id: Some(user_id.clone()),
        email: format!("{user_id}@people.example"),
        display_name: "Sam".into(),
        managed,
    };
    let room =
        |name: &str| Room { room_id: Some(RoomId::random()), name: name.into(), created_by: user_id.clone() };
    let mut hosting = SeededAccount::example();
    hosting.users.push(listed(false));
    hosting.rooms.push(room("Sam's room"));
    let mut team = SeededAccount::example();
    team.account.account_type = AccountType::Team;
    team.account.name = "Book Club".into();
    team.users.push(listed(false));
    let mut elsewhere = SeededAccount::example();
    elsewhere.rooms.push(room("Sam's other room"));
    (vec![hosting, team, elsewhere], user_id)
}

/// Every account that lists the user is found, with how it lists them; every room they created,
/// in any account, with that account, and none of anyone else's; a user outside every account has
/// neither.
pub async fn a_users_memberships_and_rooms_are_found_across_accounts<D: Directory>(
    directory: &D,
    seeded: &[SeededAccount],
    user: &UserId,
) {
    let mut found: Vec<(AccountType, String, bool)> = directory
        .memberships(user)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.account.account_type, m.account.name, m.managed))
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        found,
        vec![
            (AccountType::Team, "Book Club".into(), false),
            (AccountType::Enterprise, "Contract Ltd".into(), false)
        ]
    );
    let mut rooms: Vec<(AccountId, String)> =
        directory.rooms_created_by(user).await.unwrap().into_iter().map(|(a, r)| (a, r.name)).collect();
    rooms.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        rooms,
        vec![(seeded[2].id.clone(), "Sam's other room".into()), (seeded[0].id.clone(), "Sam's room".into())]
    );
    for (_, room) in directory.rooms_created_by(user).await.unwrap() {
        assert!(room.room_id.is_some() && &room.created_by == user);
    }
    let outsider = UserId::random();
    assert!(directory.memberships(&outsider).await.unwrap().is_empty());
    assert!(directory.rooms_created_by(&outsider).await.unwrap().is_empty());
    // The managed user of the first account is found as managed there, and only there.
    let managed = seeded[0].users[0].user_id.clone().unwrap();
    let theirs = directory.memberships(&managed).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert!(theirs[0].managed && theirs[0].account.account_id.as_ref() == Some(&seeded[0].id));
}
