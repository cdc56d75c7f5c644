//! Where each account's attachments live in the attachment buckets (DESIGN §7). The signing
//! identity can read the whole bucket, so the bucket alone does not bind a catalog row to its
//! tenant: the operator declares the chat service's key layout as a prefix pattern with
//! `{accountId}` (`ATTACHMENT_KEY_LAYOUT`, e.g. `{accountId}/` or `tenants/{accountId}/files/`), and
//! a row whose object key is outside its own account's prefix is never signed (`foreign-key`).

use std::fmt;

use crate::domain::ids::AccountId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    before: String,
    after: String,
}

impl KeyLayout {
    pub const PLACEHOLDER: &'static str = "{accountId}";

    /// A pattern holds `{accountId}` once and ends with `/` after it, so an account's prefix is a
    /// folder of its own.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let Some((before, after)) = pattern.split_once(Self::PLACEHOLDER) else {
            return Err(format!(
                "must hold {} (e.g. \"{{accountId}}/\"), not {pattern:?}",
                Self::PLACEHOLDER
            ));
        };
        if after.contains(Self::PLACEHOLDER) {
            return Err(format!("must hold {} once, not {pattern:?}", Self::PLACEHOLDER));
        }
        if !after.ends_with('/') {
            return Err(format!(
                "must end with / after {} (a folder per account), not {pattern:?}",
                Self::PLACEHOLDER
            ));
        }
        if pattern.split('/').any(|segment| segment == "." || segment == "..") {
            return Err(format!("must not hold . or .. segments, not {pattern:?}"));
        }
        Ok(Self { before: before.to_owned(), after: after.to_owned() })
    }

    /// The account's folder: every one of its objects is below it.
    pub fn prefix(&self, account: &AccountId) -> String {
        format!("{}{account}{}", self.before, self.after)
    }

    /// Whether `key` names an object of `account`: below its folder, and without `.` or `..`
    /// segments (which a client could resolve to another folder before it asks).
    pub fn holds(&self, account: &AccountId, key: &str) -> bool {
        let prefix = self.prefix(account);
        key.len() > prefix.len()
            && key.starts_with(&prefix)
            && !key.split('/').any(|segment| segment == "." || segment == "..")
    }
}

impl fmt::Display for KeyLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.before, Self::PLACEHOLDER, self.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_the_accounts_only_below_its_own_folder() {
        let layout = KeyLayout::parse("tenants/{accountId}/files/").unwrap();
        let a = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let b = AccountId::random();
        assert_eq!(layout.to_string(), "tenants/{accountId}/files/");
        assert!(layout.holds(&a, &format!("tenants/{a}/files/c/1.pdf")));
        assert!(!layout.holds(&a, &format!("tenants/{b}/files/c/1.pdf")), "another tenant's object");
        assert!(!layout.holds(&a, &format!("tenants/{a}/files/")), "the folder itself");
        assert!(!layout.holds(&a, &format!("tenants/{a}/other/1.pdf")));
        assert!(!layout.holds(&a, &format!("tenants/{a}/files/../../{b}/files/1.pdf")), "a way out");
        assert!(!layout.holds(&a, &format!("tenants/{a}/files/./1.pdf")));
        assert!(!layout.holds(&a, &format!("x/tenants/{a}/files/1.pdf")));
    }

    #[test]
    fn a_layout_names_the_account_once_as_a_folder() {
        assert!(KeyLayout::parse("{accountId}/").is_ok());
        for bad in [
            "",
            "attachments/",
            "{accountId}",
            "{accountId}-x",
            "{accountId}/{accountId}/",
            "../{accountId}/",
        ] {
            assert!(KeyLayout::parse(bad).is_err(), "{bad:?}");
        }
    }
}
