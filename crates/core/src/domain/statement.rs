//! The signed, chained statement of a delivered export (DESIGN §14): what the export holds — the
//! manifest's, errors report's and coverage report's keys, sizes, line counts and SHA-256 — and the
//! digest of the account's previous statement, signed with the stack's asymmetric KMS key
//! (ECC_NIST_P256, ECDSA_SHA_256). Anyone with the public key can check it offline.
//!
//! What is signed: the exact bytes of `statement.json`, sent to KMS with `MessageType = RAW` and
//! `ECDSA_SHA_256` (KMS hashes them with SHA-256; a statement is about 1.5 KB, under RAW's 4096-byte
//! limit, which [`MAX_STATEMENT_BYTES`] enforces). RAW rather than DIGEST because it is the same
//! signature and moto's KMS, the local stack's, signs RAW messages only. Any ECDSA P-256 / SHA-256
//! verifier (OpenSSL: `openssl dgst -sha256 -verify key.pem -signature statement.der
//! statement.json`) checks it. `statement.sig` holds the DER signature in base64 (standard
//! alphabet, padded) on one line, ending with a newline.

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::error::{Error, Result};
use crate::domain::hex;
use crate::domain::ids::ExportId;
use crate::domain::model::ExportFormat;
use crate::domain::time::Timestamp;

/// The statement format's version; a verifier refuses another.
pub const STATEMENT_VERSION: u32 = 1;

/// KMS signs a RAW message of at most this many bytes.
pub const MAX_STATEMENT_BYTES: usize = 4096;

/// The signing algorithm, as KMS names it.
pub const SIGNING_ALGORITHM: &str = "ECDSA_SHA_256";

/// `statement.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub version: u32,
    /// `accountId`, or `userId` for a self-service user's export.
    #[serde(flatten)]
    pub owner: crate::domain::owner::ExportOwner,
    pub export_id: ExportId,
    /// Files uploaded at or before this time are covered.
    pub cutoff: Timestamp,
    /// An incremental export covers files uploaded after this time only; absent: from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// When the manifest's URLs were signed (Enumerate's `signedAt`): a statement holds no clock
    /// reading of its own, so a repeated Finalize writes the very same bytes.
    pub urls_signed_at: Timestamp,
    pub format: ExportFormat,
    pub attachment_count: u64,
    pub total_bytes: u64,
    pub error_count: u64,
    pub objects_checked: bool,
    pub urls_expire_at: Timestamp,
    pub manifest: FileDigest,
    pub errors: FileDigest,
    pub coverage: FileDigest,
    /// The account's previous delivered export with a statement, and the SHA-256 of that
    /// statement's exact bytes; `null` for the account's first.
    pub previous: Option<ChainLink>,
    pub signature: SignatureInfo,
}

/// One file the statement binds: its key in the export bucket, size, lines and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDigest {
    pub key: String,
    pub bytes: u64,
    /// Line feeds (LF bytes) in the file: for a CSV, its records plus the header unless a cell
    /// holds a line break; for JSON Lines, its rows.
    pub lines: u64,
    pub sha256: String,
}

impl FileDigest {
    /// The digest of a file held in memory.
    pub fn of(key: String, body: &[u8]) -> Self {
        Self {
            key,
            bytes: body.len() as u64,
            lines: count_lines(body),
            sha256: hex::encode(&Sha256::digest(body)),
        }
    }
}

/// A link of the chain: the previous statement of the same account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainLink {
    pub export_id: ExportId,
    pub cutoff: Timestamp,
    /// SHA-256 of the previous `statement.json`, exactly as stored.
    pub statement_sha256: String,
}

/// How the statement is signed (informative: a verifier uses the public key it trusts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureInfo {
    /// The KMS key that signs (as configured: a key ARN on AWS, an alias locally).
    pub key_id: String,
    /// `ECDSA_SHA_256`.
    pub algorithm: String,
    /// `RAW`: KMS signed this file's bytes (ECDSA over their SHA-256).
    pub message_type: String,
    /// The signature file's key: base64 of the DER signature.
    pub signature_key: String,
}

/// Counts LF bytes.
pub fn count_lines(body: &[u8]) -> u64 {
    body.iter().filter(|b| **b == b'\n').count() as u64
}

/// The statement's bytes as stored: pretty JSON and a final newline.
pub fn encode(statement: &Statement) -> Result<Vec<u8>> {
    let mut bytes =
        serde_json::to_vec_pretty(statement).map_err(|e| Error::Internal(format!("statement.json: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// SHA-256 of the statement's exact bytes: what the next statement's chain link holds.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `statement.sig`'s content for a DER signature.
pub fn encode_signature(der: &[u8]) -> Vec<u8> {
    let mut text = base64::engine::general_purpose::STANDARD.encode(der).into_bytes();
    text.push(b'\n');
    text
}

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the public key is not a P-256 public key (SubjectPublicKeyInfo, PEM or DER): {0}")]
    BadKey(String),
    #[error("the signature file is not base64 of a DER ECDSA signature")]
    BadSignature,
    #[error("the signature does not match the statement and this public key")]
    Mismatch,
}

/// A P-256 public key from PEM (`-----BEGIN PUBLIC KEY-----`) or DER SubjectPublicKeyInfo (what
/// KMS GetPublicKey returns).
pub fn public_key(bytes: &[u8]) -> std::result::Result<VerifyingKey, SignatureProblem> {
    let pem = std::str::from_utf8(bytes).ok().filter(|t| t.contains("-----BEGIN PUBLIC KEY-----"));
    match pem {
        Some(text) => VerifyingKey::from_public_key_pem(text.trim()),
        None => VerifyingKey::from_public_key_der(bytes),
    }
    .map_err(|e| SignatureProblem::BadKey(e.to_string()))
}

/// Checks `statement.sig` (base64 of DER; surrounding whitespace ignored) over the statement's
/// exact bytes.
pub fn verify_signature(
    key: &VerifyingKey,
    statement: &[u8],
    signature_file: &[u8],
) -> std::result::Result<(), SignatureProblem> {
    let text = std::str::from_utf8(signature_file).map_err(|_| SignatureProblem::BadSignature)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| SignatureProblem::BadSignature)?;
    let signature = Signature::from_der(&der).map_err(|_| SignatureProblem::BadSignature)?;
    key.verify(statement, &signature).map_err(|_| SignatureProblem::Mismatch)
}

/// Reads a statement, refusing another version.
pub fn parse(bytes: &[u8]) -> std::result::Result<Statement, String> {
    let statement: Statement =
        serde_json::from_slice(bytes).map_err(|e| format!("not a statement.json: {e}"))?;
    if statement.version != STATEMENT_VERSION {
        return Err(format!(
            "statement version {} is not supported (this build reads version {STATEMENT_VERSION})",
            statement.version
        ));
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::FakeStatementSigner;
    use crate::ports::StatementSigner;

    fn statement() -> Statement {
        let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        Statement {
            version: STATEMENT_VERSION,
            owner: crate::domain::ids::AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
                .unwrap()
                .into(),
            export_id: ExportId::at(at),
            cutoff: at,
            since: None,
            urls_signed_at: at,
            format: ExportFormat::Csv,
            attachment_count: 1,
            total_bytes: 2,
            error_count: 0,
            objects_checked: true,
            urls_expire_at: at,
            manifest: FileDigest::of("m".into(), b"header\r\nrow\r\n"),
            errors: FileDigest::of("e".into(), b"h\r\n"),
            coverage: FileDigest::of("c".into(), b""),
            previous: None,
            signature: SignatureInfo {
                key_id: "alias/k".into(),
                algorithm: SIGNING_ALGORITHM.into(),
                message_type: "RAW".into(),
                signature_key: "s".into(),
            },
        }
    }

    #[test]
    fn a_file_digest_counts_bytes_line_feeds_and_sha256() {
        let d = FileDigest::of("k".into(), b"a,b\r\n1,2\r\n");
        assert_eq!((d.bytes, d.lines), (10, 2));
        assert_eq!(d.sha256, hex::encode(&Sha256::digest(b"a,b\r\n1,2\r\n")));
        assert_eq!(FileDigest::of("k".into(), b"").lines, 0);
    }

    #[test]
    fn the_first_statement_says_it_has_no_previous_and_reads_back_exactly() {
        let bytes = encode(&statement()).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"previous\": null"), "{text}");
        assert!(!text.contains("since"), "a full export has no since: {text}");
        assert!(text.ends_with("}\n"));
        assert_eq!(encode(&parse(&bytes).unwrap()).unwrap(), bytes, "reads back to the same bytes");
        let mut other = statement();
        other.version = 2;
        assert!(parse(&encode(&other).unwrap()).unwrap_err().contains("version 2"));
        assert!(parse(b"{}").unwrap_err().starts_with("not a statement.json"));
    }

    #[tokio::test]
    async fn a_signature_verifies_over_the_exact_bytes_only() {
        let signer = FakeStatementSigner::default();
        let bytes = encode(&statement()).unwrap();
        let signed = signer.sign(&bytes).await.unwrap();
        let sig = encode_signature(&signed.der);
        let key = public_key(&signer.public_key_der().await.unwrap()).unwrap();
        assert_eq!(verify_signature(&key, &bytes, &sig), Ok(()));
        // One changed byte of the statement, of the signature, or another key: refused.
        let mut changed = bytes.clone();
        changed[10] ^= 1;
        assert_eq!(verify_signature(&key, &changed, &sig), Err(SignatureProblem::Mismatch));
        let mut der = signed.der.clone();
        let last = der.len() - 1;
        der[last] ^= 1;
        assert!(verify_signature(&key, &bytes, &encode_signature(&der)).is_err());
        assert_eq!(verify_signature(&key, &bytes, b"not base64!"), Err(SignatureProblem::BadSignature));
        let other = FakeStatementSigner::with_seed(7);
        let other_key = public_key(&other.public_key_der().await.unwrap()).unwrap();
        assert_eq!(verify_signature(&other_key, &bytes, &sig), Err(SignatureProblem::Mismatch));
        // The same key as PEM.
        let pem = p256::pkcs8::EncodePublicKey::to_public_key_pem(&key, p256::pkcs8::LineEnding::LF).unwrap();
        assert_eq!(verify_signature(&public_key(pem.as_bytes()).unwrap(), &bytes, &sig), Ok(()));
        assert!(matches!(
            public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(SignatureProblem::BadKey(_))
        ));
    }
}
