//! StatementSigner: what it signs verifies with its public key, and nothing else does.

use crate::Timestamp;
use crate::domain::ids::ExportId;

/// A signature verifies (P-256, DER SubjectPublicKeyInfo from the signer) over exactly the
/// statement's bytes; another statement does not; a message over KMS's RAW limit is refused. The
/// signer names its key.
pub async fn a_statement_signature_verifies_with_its_public_key<G: crate::ports::StatementSigner>(
    signer: &G,
) {
    use crate::domain::statement;
    let bytes = format!("{{\"exportId\": \"{}\"}}\n", ExportId::at(Timestamp::now())).into_bytes();
    let signed = signer.sign(&bytes).await.unwrap();
    assert!(!signed.key_id.is_empty(), "the signer names the key that signed");
    let key = statement::public_key(&signer.public_key_der().await.unwrap()).unwrap();
    let file = statement::encode_signature(&signed.der);
    assert_eq!(statement::verify_signature(&key, &bytes, &file), Ok(()));
    let mut other = bytes.clone();
    other[0] = b' ';
    assert_eq!(statement::verify_signature(&key, &other, &file), Err(statement::SignatureProblem::Mismatch));
    // ECDSA signatures differ from one signing to the next (KMS) or not (RFC 6979); both verify.
    let again = signer.sign(&bytes).await.unwrap();
    assert_eq!(statement::verify_signature(&key, &bytes, &statement::encode_signature(&again.der)), Ok(()));
    assert!(signer.sign(&vec![b' '; statement::MAX_STATEMENT_BYTES + 1]).await.is_err());
}
