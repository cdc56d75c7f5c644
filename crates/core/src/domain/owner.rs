//! Whose export it is (DESIGN §4): an **account**'s, asked for by its IT administrators, or a chat
//! **user**'s own, asked for by a user whom no account manages ("Get my attachments", DESIGN §15).
//! The owner keys everything an export keeps: its record and throttle in ExportsTable, its files in
//! the export bucket, its statement chain. The two kinds never share a key, so no administrator's
//! route, policy or query can reach a user's export, and no user's an account's.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, UserId};

/// Stored and carried as one attribute named for its kind: `"accountId": "…"` or `"userId": "…"`
/// (flattened into the record, so an account's record reads as it always has).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ExportOwner {
    #[serde(rename = "accountId")]
    Account(AccountId),
    #[serde(rename = "userId")]
    User(UserId),
}

impl ExportOwner {
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Account(id) => Some(id),
            Self::User(_) => None,
        }
    }

    pub fn user(&self) -> Option<&UserId> {
        match self {
            Self::User(id) => Some(id),
            Self::Account(_) => None,
        }
    }

    /// The owner's folder below `exports/` in the export bucket (`{accountId}` or
    /// `users/{userId}`): a user id is a UUID like an account id, so the `users/` level keeps the
    /// two apart.
    pub fn folder(&self) -> String {
        match self {
            Self::Account(id) => id.to_string(),
            Self::User(id) => format!("users/{id}"),
        }
    }

    /// The id alone, for messages that already say which kind it is.
    pub fn id(&self) -> &str {
        match self {
            Self::Account(id) => id.as_str(),
            Self::User(id) => id.as_str(),
        }
    }
}

impl From<AccountId> for ExportOwner {
    fn from(id: AccountId) -> Self {
        Self::Account(id)
    }
}

impl From<&AccountId> for ExportOwner {
    fn from(id: &AccountId) -> Self {
        Self::Account(id.clone())
    }
}

impl From<&ExportOwner> for ExportOwner {
    fn from(owner: &ExportOwner) -> Self {
        owner.clone()
    }
}

impl From<UserId> for ExportOwner {
    fn from(id: UserId) -> Self {
        Self::User(id)
    }
}

/// `accounts/{id}` or `users/{id}`, as the API's paths name them (log fields and messages).
impl fmt::Display for ExportOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Account(id) => write!(f, "accounts/{id}"),
            Self::User(id) => write!(f, "users/{id}"),
        }
    }
}

impl fmt::Debug for ExportOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(flatten)]
        owner: ExportOwner,
        other: u32,
    }

    #[test]
    fn an_owner_is_one_attribute_named_for_its_kind() {
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let held = Holder { owner: account.clone().into(), other: 1 };
        let json = serde_json::to_value(&held).unwrap();
        assert_eq!(json, serde_json::json!({"accountId": account.as_str(), "other": 1}));
        assert_eq!(serde_json::from_value::<Holder>(json).unwrap(), held);
        let user = UserId::random();
        let json = serde_json::json!({"userId": user.as_str(), "other": 2});
        assert_eq!(serde_json::from_value::<Holder>(json).unwrap().owner, ExportOwner::User(user.clone()));
        assert!(serde_json::from_value::<Holder>(serde_json::json!({"other": 2})).is_err(), "no owner");
        let bad = serde_json::json!({"userId": "../x", "other": 2});
        assert!(serde_json::from_value::<Holder>(bad).is_err());
        assert_eq!(ExportOwner::User(user.clone()).folder(), format!("users/{user}"));
        assert_eq!(ExportOwner::Account(account.clone()).to_string(), format!("accounts/{account}"));
    }
}
