//! Link keys in memory (the `LinkKeys` port): HMAC-SHA256 under one fixed secret per kid, over
//! the same context KMS is given, so links made with the fake verify with the fake only.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::error::{Error, Result};
use crate::domain::ids::ExportId;
use crate::ports::{LinkKeys, link_key_context};

/// `keys` long-term keys (kid 1..=keys), the last current.
#[derive(Clone)]
pub struct FakeLinkKeys {
    pub keys: u8,
}

impl Default for FakeLinkKeys {
    fn default() -> Self {
        Self { keys: 1 }
    }
}

impl LinkKeys for FakeLinkKeys {
    fn current_kid(&self) -> u8 {
        self.keys
    }

    async fn derive(
        &self,
        kid: u8,
        owner: &crate::domain::owner::ExportOwner,
        export: &ExportId,
    ) -> Result<[u8; 32]> {
        if kid == 0 || kid > self.keys {
            return Err(Error::NotFound(format!("no link key {kid}")));
        }
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[kid; 32]).expect("any key length");
        mac.update(&link_key_context(owner, export));
        Ok(mac.finalize().into_bytes().into())
    }
}
