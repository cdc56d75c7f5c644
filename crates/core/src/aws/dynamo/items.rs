//! Items as the chat service stores them, for seeding (tests, the CLI) through any writer.

use serde::Serialize;
use serde_dynamo::to_item;

use crate::domain::error::Result;
use crate::domain::ids::{AccountId, RoomId, UserId};
use crate::domain::model::{Account, Attachment, ExportRecord, Room, Throttle, User};
use crate::domain::owner::ExportOwner;

use super::{Item, keys};

#[derive(Serialize)]
struct Keyed<'a, T: Serialize> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    value: &'a T,
}

fn keyed<T: Serialize>(pk: String, sk: String, value: &T) -> Result<Item> {
    Ok(to_item(Keyed { pk, sk, value })?)
}

pub fn account(id: &AccountId, account: &Account) -> Result<Item> {
    keyed(keys::account_pk(id), keys::ACCOUNT_SK.into(), account)
}

pub fn user(account: &AccountId, id: &UserId, user: &User) -> Result<Item> {
    keyed(keys::account_pk(account), keys::user_sk(id), user)
}

pub fn room(account: &AccountId, id: &RoomId, room: &Room) -> Result<Item> {
    keyed(keys::account_pk(account), keys::room_sk(id), room)
}

/// An item of a table whose partition key is an attribute of the value (`accountId`).
#[derive(Serialize)]
struct SortKeyed<'a, T: Serialize> {
    sk: String,
    #[serde(flatten)]
    value: &'a T,
}

pub fn attachment(a: &Attachment) -> Result<Item> {
    Ok(to_item(SortKeyed { sk: keys::attachment_sk(&a.uploaded_at, &a.attachment_id), value: a })?)
}

/// An export record: an account's carries its partition key as its own `accountId`; a user's
/// (`userId`) gets `accountId = USER#{userId}` beside it.
pub fn export(record: &ExportRecord) -> Result<Item> {
    let mut item: Item = to_item(SortKeyed { sk: keys::export_sk(&record.export_id), value: record })?;
    if record.owner.user().is_some() {
        item.insert("accountId".into(), super::s(keys::exports_pk(&record.owner)));
    }
    Ok(item)
}

pub fn throttle(owner: &ExportOwner, throttle: &Throttle) -> Result<Item> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ThrottleItem<'a> {
        account_id: String,
        sk: &'static str,
        #[serde(flatten)]
        throttle: &'a Throttle,
    }
    Ok(to_item(ThrottleItem { account_id: keys::exports_pk(owner), sk: keys::THROTTLE_SK, throttle })?)
}
