//! sweep-exports on the local stack, invoked as EventBridge invokes it (the daily rule, then the
//! resume rule): it starts opted-in Enterprise accounts once, and a sweep larger than one
//! invocation's budget (SWEEP_MAX_ITEMS_PER_INVOCATION on the local stack) resumes where it stopped
//! until every account is covered. Runs alone: there is one sweep per deployment.

use export_core::aws::dynamo;
use export_core::domain::ids::AccountId;
use export_core::domain::model::{Account, AccountType, Via};
use export_core::ports::ExportStore;
use integration_tests::{SWEEP_RULE_ARN, Stack, batch_put, scheduled_event, seed_account};
use serde_json::json;

async fn exports(stack: &Stack, account: &AccountId) -> Vec<export_core::domain::model::ExportRecord> {
    stack.export_store().list(&account.into(), 10, None).await.unwrap().items
}

#[tokio::test]
async fn the_sweep_starts_opted_in_enterprise_accounts_once() {
    let stack = Stack::load();
    let opted_in = seed_account(&stack, AccountType::Enterprise, true).await.id;
    let opted_out = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let team = seed_account(&stack, AccountType::Team, true).await.id;
    let throttled = seed_account(&stack, AccountType::Enterprise, true).await.id;
    let earlier = stack.invoke("start-export", &json!({"accountId": throttled})).await.unwrap();

    let (reply, _) = stack.sweep().await;
    assert_eq!(reply["outcome"], "done", "{reply}");
    assert!(reply["sweep"]["report"]["started"].as_u64().unwrap() >= 1, "{reply}");
    let started = exports(&stack, &opted_in).await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].requested_by.via, Via::Schedule);
    assert_eq!(started[0].requested_by.principal, SWEEP_RULE_ARN);
    assert!(exports(&stack, &opted_out).await.is_empty());
    assert!(exports(&stack, &team).await.is_empty());
    let kept = exports(&stack, &throttled).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].export_id.to_string(), earlier["exportId"].as_str().unwrap());

    // A second sweep the same day starts nothing for these accounts.
    stack.sweep().await;
    assert_eq!(exports(&stack, &opted_in).await.len(), 1);
}

#[tokio::test]
async fn a_sweep_of_thousands_of_accounts_spans_invocations_and_covers_every_account() {
    let stack = Stack::load();
    let budget: u64 = stack.config().sweep_max_items.map_or(1000, u64::from);
    // More accounts than three invocations may read; a few of them opted in, anywhere in the order.
    let total = 3 * budget as usize + 200;
    let account = |scheduled| Account {
        account_id: None,
        account_type: AccountType::Enterprise,
        name: "Sweep Corp".into(),
        domains: vec!["sweep.example".into()],
        scheduled_exports: scheduled,
        scheduled_exports_incremental: false,
    };
    let ids: Vec<AccountId> = (0..total).map(|_| AccountId::random()).collect();
    let opted_in: Vec<AccountId> = ids.iter().step_by(total / 5).cloned().collect();
    let items =
        ids.iter().map(|id| dynamo::items::account(id, &account(opted_in.contains(id))).unwrap()).collect();
    batch_put(&stack.dynamodb(), stack.var("ACCOUNTS_TABLE"), items).await;

    let (reply, invocations) = stack.sweep().await;
    assert_eq!(reply["outcome"], "done", "{reply}");
    let sweep = &reply["sweep"];
    assert!(invocations >= 4, "{total} accounts at {budget} a time took {invocations} invocations: {reply}");
    assert_eq!(sweep["invocations"].as_u64().unwrap(), u64::from(invocations), "{reply}");
    let report = &sweep["report"];
    let examined: u64 = ["started", "skipped", "failed"].iter().map(|k| report[k].as_u64().unwrap()).sum();
    assert!(examined >= total as u64, "every account examined once: {report}");
    for id in &opted_in {
        let started = exports(&stack, id).await;
        assert_eq!(started.len(), 1, "opted-in account {id} started exactly once");
        assert_eq!(started[0].requested_by.via, Via::Schedule);
    }
    // The resume rule then has nothing to do.
    let idle = stack
        .invoke_as_service(
            "sweep-exports",
            "events.amazonaws.com",
            integration_tests::SWEEP_RESUME_RULE_ARN,
            &scheduled_event(integration_tests::SWEEP_RESUME_RULE_ARN),
        )
        .await
        .unwrap();
    assert_eq!(idle["outcome"], "idle", "{idle}");
}

#[tokio::test]
async fn only_the_sweeps_own_rules_reach_it() {
    let stack = Stack::load();
    let rule = SWEEP_RULE_ARN;
    // The operator may not invoke it; a rule it does not know is refused by the function itself
    // (Lambda's permission names the two rules; this is the second line of defence).
    let (error_type, _) = stack.invoke("sweep-exports", &scheduled_event(rule)).await.unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    let other = "arn:aws:events:us-east-1:000000000000:rule/someone-elses-rule";
    let (error_type, _) = stack
        .invoke_as_service("sweep-exports", "events.amazonaws.com", other, &scheduled_event(other))
        .await
        .unwrap_err();
    assert_eq!(error_type, "AccessDeniedException");
    let (error_type, message) = stack
        .invoke_as_service(
            "sweep-exports",
            "events.amazonaws.com",
            rule,
            &json!({"accountId": AccountId::random()}),
        )
        .await
        .unwrap_err();
    assert_eq!(error_type, "WrongEntryPointException", "{message}");
}
