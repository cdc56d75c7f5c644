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
