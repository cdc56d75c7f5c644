//! The statement signer on KMS (DESIGN §14): the stack's asymmetric key (ECC_NIST_P256) signs a
//! statement's bytes with `ECDSA_SHA_256`, `MessageType = RAW` (KMS hashes them; a statement is far
//! below RAW's 4096-byte limit). The private key never leaves
//! KMS; only write-manifest's role may `kms:Sign` with it (its key policy).

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};

use super::from_sdk;
use crate::config::{Config, ConfigError};
use crate::domain::error::{Error, Result};
use crate::ports::{StatementSignature, StatementSigner};

#[derive(Debug, Clone)]
pub struct KmsStatementSigner {
    client: Client,
    key_id: String,
}

impl KmsStatementSigner {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }

    /// The key named by `STATEMENT_KEY_ID` (write-manifest).
    pub fn from_config(client: Client, config: &Config) -> std::result::Result<Self, ConfigError> {
        Ok(Self::new(client, config.statement_key_id()?))
    }
}

impl StatementSigner for KmsStatementSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, message: &[u8]) -> Result<StatementSignature> {
        if message.len() > crate::domain::statement::MAX_STATEMENT_BYTES {
            return Err(Error::Internal(format!(
                "the statement is {} bytes; KMS signs at most {} RAW",
                message.len(),
                crate::domain::statement::MAX_STATEMENT_BYTES
            )));
        }
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message.to_vec()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| from_sdk("KMS Sign", e))?;
        let der = out
            .signature()
            .map(|s| s.as_ref().to_vec())
            .ok_or_else(|| Error::Internal("KMS Sign returned no signature".into()))?;
        Ok(StatementSignature { der, key_id: out.key_id().unwrap_or(&self.key_id).to_owned() })
    }

    async fn public_key_der(&self) -> Result<Vec<u8>> {
        let out = self
            .client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| from_sdk("KMS GetPublicKey", e))?;
        out.public_key()
            .map(|k| k.as_ref().to_vec())
            .ok_or_else(|| Error::Internal("KMS GetPublicKey returned no key".into()))
    }
}

/// Link keys on KMS: HMAC keys (`HMAC_256`, `GENERATE_VERIFY_MAC`) whose material never leaves
/// KMS; an export's link key is `GenerateMac(HMAC_SHA_256)` over its context
/// (`ports::link_key_context`). `kid` n is the n-th key of `LINK_KEY_IDS`; the last is current, so a
/// key is replaced by appending one, and links of the older keys verify until they expire.
#[derive(Debug, Clone)]
pub struct KmsLinkKeys {
    client: Client,
    key_ids: Vec<String>,
}

impl KmsLinkKeys {
    /// `key_ids` oldest first; at least one, at most 255.
    pub fn new(client: Client, key_ids: Vec<String>) -> Self {
        assert!((1..=255).contains(&key_ids.len()), "one to 255 link keys");
        Self { client, key_ids }
    }
}

impl crate::ports::LinkKeys for KmsLinkKeys {
    fn current_kid(&self) -> u8 {
        u8::try_from(self.key_ids.len()).expect("at most 255 keys")
    }

    async fn derive(
        &self,
        kid: u8,
        owner: &crate::domain::owner::ExportOwner,
        export: &crate::domain::ids::ExportId,
    ) -> Result<[u8; 32]> {
        let key = usize::from(kid)
            .checked_sub(1)
            .and_then(|i| self.key_ids.get(i))
            .ok_or_else(|| Error::NotFound(format!("no link key {kid}")))?;
        let out = self
            .client
            .generate_mac()
            .key_id(key)
            .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(crate::ports::link_key_context(owner, export)))
            .send()
            .await
            .map_err(|e| from_sdk("KMS GenerateMac", e))?;
        out.mac()
            .and_then(|mac| <[u8; 32]>::try_from(mac.as_ref()).ok())
            .ok_or_else(|| Error::Internal("KMS GenerateMac returned no 32-byte MAC".into()))
    }
}
