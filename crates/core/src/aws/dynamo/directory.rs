//! AccountsTable: the directory (accounts, their users and rooms).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde_dynamo::from_item;

use super::from_sdk;
use crate::config::ConfigError;
use crate::domain::error::Result;
use crate::domain::ids::{AccountId, RoomId, UserId};
use crate::domain::model::{Account, Membership, Room, User};
use crate::ports::{Directory, Page};

use super::{Item, keys, s, string_attr};

/// AccountsTable: the directory.
#[derive(Debug, Clone)]
pub struct DynamoDirectory {
    pub(super) client: Client,
    accounts_table: String,
}

impl DynamoDirectory {
    /// On the table named by the configuration (`ACCOUNTS_TABLE`, required here).
    pub fn from_config(client: Client, config: &crate::Config) -> Result<Self, ConfigError> {
        Ok(Self::new(client, config.accounts_table()?))
    }

    pub fn new(client: Client, accounts_table: impl Into<String>) -> Self {
        Self { client, accounts_table: accounts_table.into() }
    }

    /// Every item of the account's partition whose sort key starts with `prefix`, all pages.
    async fn directory_entries<T: DeserializeOwned>(
        &self,
        account: &AccountId,
        prefix: &str,
    ) -> Result<Vec<(String, T)>> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.accounts_table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::account_pk(account)))
            .expression_attribute_values(":prefix", s(prefix))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| from_sdk("Query AccountsTable", e))?;
        items
            .into_iter()
            .map(|item| {
                let sk = string_attr(&item, "sk")?;
                let id = sk[prefix.len()..].to_owned();
                Ok((id, from_item(item)?))
            })
            .collect()
    }
}

impl Directory for DynamoDirectory {
    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>> {
        // The inverted index names every account partition holding `USER#{userId}` (keys only);
        // each account and the user's item in it are then read. A user is in a handful of
        // accounts at most, and this runs once a request.
        let keys_only: Vec<Item> = self
            .client
            .query()
            .table_name(&self.accounts_table)
            .index_name(keys::BY_ITEM_TYPE_INDEX)
            .key_condition_expression("sk = :sk")
            .expression_attribute_values(":sk", s(keys::user_sk(user)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| from_sdk("Query AccountsTable by-item-type", e))?;
        let mut memberships = Vec::new();
        for key in keys_only {
            let account_id = keys::account_from_pk(&string_attr(&key, "pk")?)?;
            let Some(account) = self.account(&account_id).await? else { continue };
            let item = self
                .client
                .get_item()
                .table_name(&self.accounts_table)
                .key("pk", s(keys::account_pk(&account_id)))
                .key("sk", s(keys::user_sk(user)))
                .send()
                .await
                .map_err(|e| from_sdk("GetItem AccountsTable", e))?
                .item;
            // Removed between the two reads: no longer a member.
            let Some(item) = item else { continue };
            let listed: User = from_item(item)?;
            memberships.push(Membership { account, managed: listed.managed });
        }
        Ok(memberships)
    }

    async fn rooms_created_by(&self, user: &UserId) -> Result<Vec<(AccountId, Room)>> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.accounts_table)
            .index_name(keys::BY_CREATOR_INDEX)
            .key_condition_expression("createdBy = :u AND begins_with(sk, :room)")
            .expression_attribute_values(":u", s(user.as_str()))
            .expression_attribute_values(":room", s(keys::ROOM_PREFIX))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| from_sdk("Query AccountsTable by-creator", e))?;
        items
            .into_iter()
            .map(|item| {
                let account = keys::account_from_pk(&string_attr(&item, "pk")?)?;
                let sk = string_attr(&item, "sk")?;
                let mut room: Room = from_item(item)?;
                room.room_id = Some(RoomId::parse(&sk[keys::ROOM_PREFIX.len()..])?);
                Ok((account, room))
            })
            .collect()
    }

    async fn account(&self, account: &AccountId) -> Result<Option<Account>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.accounts_table)
            .key("pk", s(keys::account_pk(account)))
            .key("sk", s(keys::ACCOUNT_SK))
            .send()
            .await
            .map_err(|e| from_sdk("GetItem AccountsTable", e))?;
        out.item
            .map(|item| {
                let mut a: Account = from_item(item)?;
                a.account_id = Some(account.clone());
                Ok(a)
            })
            .transpose()
    }

    async fn users(&self, account: &AccountId) -> Result<Vec<User>> {
        self.directory_entries::<User>(account, keys::USER_PREFIX)
            .await?
            .into_iter()
            .map(|(id, mut u)| {
                u.user_id = Some(UserId::parse(&id)?);
                Ok(u)
            })
            .collect()
    }

    async fn rooms(&self, account: &AccountId) -> Result<Vec<Room>> {
        self.directory_entries::<Room>(account, keys::ROOM_PREFIX)
            .await?
            .into_iter()
            .map(|(id, mut r)| {
                r.room_id = Some(RoomId::parse(&id)?);
                Ok(r)
            })
            .collect()
    }

    async fn accounts(&self, after: Option<&str>, limit: u32) -> Result<Page<AccountId>> {
        let out =
            self.client
                .query()
                .table_name(&self.accounts_table)
                .index_name(keys::BY_ITEM_TYPE_INDEX)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1))
                .key_condition_expression("sk = :sk")
                .expression_attribute_values(":sk", s(keys::ACCOUNT_SK))
                .set_exclusive_start_key(after.map(|pk| {
                    HashMap::from([("sk".to_owned(), s(keys::ACCOUNT_SK)), ("pk".to_owned(), s(pk))])
                }))
                .send()
                .await
                .map_err(|e| from_sdk("Query AccountsTable by-item-type", e))?;
        let next = out.last_evaluated_key.as_ref().map(|k| string_attr(k, "pk")).transpose()?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| keys::account_from_pk(&string_attr(item, "pk")?))
            .collect::<Result<_>>()?;
        Ok(Page { items, next })
    }
}
