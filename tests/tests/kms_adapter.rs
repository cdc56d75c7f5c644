//! The statement signer on the local stack's KMS (moto, the key provisioned from the template's
//! StatementKey): the StatementSigner contract, which the in-memory fake keeps too.

use export_core::aws::KmsStatementSigner;
use export_core::contracts;
use integration_tests::Stack;

#[tokio::test]
async fn the_kms_statement_signer_keeps_the_contract() {
    let stack = Stack::load();
    let signer = KmsStatementSigner::from_config(stack.kms(), &stack.config()).unwrap();
    contracts::a_statement_signature_verifies_with_its_public_key(&signer).await;
}

/// The local key has the template's KeySpec and KeyUsage.
#[tokio::test]
async fn the_local_statement_key_is_the_templates() {
    let stack = Stack::load();
    let key = stack.kms().describe_key().key_id(stack.var("STATEMENT_KEY_ID")).send().await.unwrap();
    let metadata = key.key_metadata.unwrap();
    let template = integration_tests::template();
    let props = &template["Resources"]["StatementKey"]["Properties"];
    assert_eq!(metadata.key_spec.unwrap().as_str(), props["KeySpec"].as_str().unwrap());
    assert_eq!(metadata.key_usage.unwrap().as_str(), props["KeyUsage"].as_str().unwrap());
}
