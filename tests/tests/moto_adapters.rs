//! The adapters on the local stack's moto services, against the ports' contract suites (which the
//! in-memory fakes keep too): the statement signer on KMS (the key provisioned from the template's
//! StatementKey), the workflow on Step Functions (the template's state machine), the notifier on
//! EventBridge (observed through an SQS queue behind a rule, as an operator would subscribe).

use std::time::Duration;

use export_core::Timestamp;
use export_core::aws::{EventBridgeNotifier, KmsLinkKeys, KmsStatementSigner, StepFunctionsWorkflow};
use export_core::contracts;
use export_core::domain::model::{AccountType, ExportFormat, ExportRecord, RequestedBy, Via};
use export_core::domain::payloads::ExportJob;
use export_core::ports::{Admission, ExportStore, Workflow};
use integration_tests::{AccountEvents, Stack, seed_account};

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

/// The Workflow contract on the stack's state machine, with an export admitted the way
/// StartDataExport admits one (its execution then runs the real pipeline).
#[tokio::test]
async fn the_step_functions_workflow_keeps_the_contract() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let record = ExportRecord::new_request(
        account.into(),
        ExportFormat::Csv,
        RequestedBy {
            principal: "arn:aws:iam::000000000000:user/local-admin".into(),
            via: Via::Invoke,
            person: None,
        },
        None,
        Timestamp::now(),
    );
    let admitted = stack.export_store().admit(&record, Duration::from_secs(604_800)).await.unwrap();
    assert!(matches!(admitted, Admission::Accepted { .. }));
    let workflow = StepFunctionsWorkflow::new(stack.sfn(), stack.var("STATE_MACHINE_ARN"));
    contracts::an_execution_is_named_by_its_export_and_starting_twice_is_harmless(
        &workflow,
        &ExportJob::from(&record),
    )
    .await;
    // An export that was never admitted: Enumerate finds no record, the Catch records nothing and
    // the execution ends FAILED.
    let never_admitted = ExportRecord::new_request(
        record.owner.clone(),
        ExportFormat::Csv,
        record.requested_by.clone(),
        None,
        Timestamp::now(),
    );
    let doomed = ExportJob::from(&never_admitted);
    contracts::only_a_failing_execution_names_a_failure(&workflow, &doomed, async || {
        for _ in 0..300 {
            if let Some(failure) = workflow.failure(&doomed.export_id).await.unwrap() {
                return Some(failure);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    })
    .await;
}

/// The Notifier contract on the default bus.
#[tokio::test]
async fn the_eventbridge_notifier_keeps_the_contract() {
    let stack = Stack::load();
    let change = contracts::example_change();
    let events = AccountEvents::subscribe(&stack, change.owner.account().unwrap()).await;
    let notifier = EventBridgeNotifier::new(aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&stack.sdk_config())
            .endpoint_url(stack.var("AWS_ENDPOINT_URL_EVENTS"))
            .build(),
    ));
    let received = async || {
        let bodies = events.receive().await;
        bodies
            .iter()
            .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["detail"].clone())
            .collect()
    };
    contracts::a_published_change_reaches_the_accounts_subscriber_once(&notifier, &change, received).await;
}

/// The reply half of the Notifier contract on the Assistant's bus: a reply reaches the chat
/// service's rule there, and a state change of the same user's export does not (it goes to the
/// default bus).
#[tokio::test]
async fn the_eventbridge_notifier_keeps_the_reply_contract() {
    let stack = Stack::load();
    let reply = contracts::example_reply();
    let replies = AccountEvents::assistant_replies(&stack, reply.user_id.as_str()).await;
    let notifier = EventBridgeNotifier::new(aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&stack.sdk_config())
            .endpoint_url(stack.var("AWS_ENDPOINT_URL_EVENTS"))
            .build(),
    ))
    .with_reply_bus(stack.var("ASSISTANT_REPLY_BUS"));
    let received = async || {
        let bodies = replies.receive().await;
        bodies
            .iter()
            .map(|b| {
                let event = serde_json::from_str::<serde_json::Value>(b).unwrap();
                (event["detail-type"].as_str().unwrap().to_owned(), event["detail"].clone())
            })
            .collect()
    };
    contracts::a_reply_reaches_the_users_subscriber_once_and_a_state_change_does_not(
        &notifier, &reply, received,
    )
    .await;
}

/// The LinkKeys contract on KMS HMAC keys (moto's KMS implements HMAC_256 and GenerateMac), with
/// one key and with a replaced one (two keys, the newer current).
#[tokio::test]
async fn the_kms_link_keys_keep_the_contract() {
    let stack = Stack::load();
    let kms = stack.kms();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let made = kms
            .create_key()
            .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
            .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
            .description("attachment-export link key (moto_adapters test)")
            .send()
            .await
            .unwrap();
        keys.push(made.key_metadata().unwrap().key_id().to_owned());
    }
    contracts::each_export_has_its_own_link_key(&KmsLinkKeys::new(kms.clone(), keys[..1].to_vec())).await;
    contracts::each_export_has_its_own_link_key(&KmsLinkKeys::new(kms, keys)).await;
}
