//! The statement signer in memory (the `StatementSigner` port).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::error::{Error, Result};

/// Signs statements with a P-256 key derived from a seed (RFC 6979 deterministic signatures), as
/// KMS does with its key: same contract (`crate::contracts::a_statement_signature_verifies_with_its_public_key`).
#[derive(Clone)]
pub struct FakeStatementSigner {
    key: p256::ecdsa::SigningKey,
    key_id: String,
    /// When set, signing fails as KMS would when unreachable.
    pub unavailable: Arc<AtomicBool>,
}

impl FakeStatementSigner {
    pub fn with_seed(seed: u8) -> Self {
        let mut secret = [0x5au8; 32];
        secret[31] = seed.max(1);
        let key = p256::ecdsa::SigningKey::from_slice(&secret).expect("a valid P-256 scalar");
        Self {
            key,
            key_id: format!("fake-statement-key-{seed}"),
            unavailable: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Default for FakeStatementSigner {
    fn default() -> Self {
        Self::with_seed(1)
    }
}

impl crate::ports::StatementSigner for FakeStatementSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, message: &[u8]) -> Result<crate::ports::StatementSignature> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::Transient("statement signer unavailable".into()));
        }
        if message.len() > crate::domain::statement::MAX_STATEMENT_BYTES {
            return Err(Error::Internal("a RAW message to sign is at most 4096 bytes".into()));
        }
        let signature: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&self.key, message);
        Ok(crate::ports::StatementSignature {
            der: signature.to_der().as_bytes().to_vec(),
            key_id: self.key_id.clone(),
        })
    }

    async fn public_key_der(&self) -> Result<Vec<u8>> {
        let der = p256::pkcs8::EncodePublicKey::to_public_key_der(self.key.verifying_key())
            .map_err(|e| Error::Internal(format!("fake signer: {e}")))?;
        Ok(der.as_bytes().to_vec())
    }
}
