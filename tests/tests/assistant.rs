//! The Assistant on the local stack (DESIGN §15), with the test playing the chat service: only the
//! chat service's role may invoke it; `Get my attachments` answers with a one-time code, and only
//! that code, sent back by the same user within 10 minutes, starts the user's export, which then
//! runs through the real state machine.

use std::time::Duration;

use integration_tests::Stack;
use serde_json::json;

fn code_of(reply: &str) -> String {
    reply
        .split("Get my attachments ")
        .nth(1)
        .expect("a confirmation command")
        .split_whitespace()
        .next()
        .unwrap()
        .into()
}

async fn say(stack: &Stack, user: &str, text: &str) -> String {
    let reply = stack
        .invoke_as_chat_service("assistant", &json!({"userId": user, "text": text}))
        .await
        .unwrap_or_else(|e| panic!("the assistant answers {text:?}: {e:?}"));
    reply["reply"].as_str().expect("a reply").to_owned()
}

#[tokio::test]
async fn a_confirmed_request_starts_the_users_export_and_no_other_code_does() {
    let stack = Stack::load();
    let (me, other) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let mine = code_of(&say(&stack, &me, "Get my attachments").await);
    let theirs = code_of(&say(&stack, &other, "get my attachments").await);
    for wrong in ["zzzzzz".to_owned(), theirs.clone()] {
        let reply = say(&stack, &me, &format!("Get my attachments {wrong}")).await;
        assert!(reply.starts_with("That confirmation code does not work"), "{reply}");
    }
    let store = stack.export_store();
    let owner = export_core::domain::owner::ExportOwner::User(me.parse().unwrap());
    let listed = |store: export_core::aws::DynamoExportStore,
                  owner: export_core::domain::owner::ExportOwner| async move {
        export_core::ports::ExportStore::list(&store, &owner, 10, None).await.unwrap().items
    };
    assert!(listed(store.clone(), owner.clone()).await.is_empty(), "a wrong code started nothing");

    let accepted = say(&stack, &me, &format!("Get my attachments {mine}")).await;
    assert!(accepted.starts_with("Thank you"), "{accepted}");
    let replayed = say(&stack, &me, &format!("Get my attachments {mine}")).await;
    assert!(replayed.starts_with("That confirmation code does not work"), "{replayed}");
    let records = listed(store.clone(), owner.clone()).await;
    assert_eq!(records.len(), 1, "one export, however often the code is sent");
    assert_eq!(records[0].requested_by.principal, "chat-service:assistant");
    // It runs: a user with no files gets an empty manifest, delivered.
    let export = records[0].export_id;
    for _ in 0..120 {
        let record = export_core::ports::ExportStore::get(&store, &owner, &export).await.unwrap().unwrap();
        if record.status.is_final() {
            assert_eq!(record.status, export_core::domain::model::ExportStatus::Succeeded);
            assert_eq!(record.result.unwrap().attachment_count, 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the assistant's export did not end");
}

#[tokio::test]
async fn only_the_chat_services_role_may_invoke_the_assistant() {
    let stack = Stack::load();
    let message = json!({"userId": uuid::Uuid::new_v4().to_string(), "text": "Get my attachments"});
    // The operator, the state machine and API Gateway are refused by Lambda before the function runs.
    let operator = stack.invoke("assistant", &message).await.unwrap_err();
    assert_eq!(operator.0, "AccessDeniedException", "{operator:?}");
    let machine = stack.invoke_as_state_machine("assistant", &message).await.unwrap_err();
    assert_eq!(machine.0, "AccessDeniedException", "{machine:?}");
    let api = stack
        .invoke_as_service(
            "assistant",
            "apigateway.amazonaws.com",
            "arn:aws:execute-api:us-east-1:000000000000:local/prod/POST/users/x/data-exports",
            &message,
        )
        .await
        .unwrap_err();
    assert_eq!(api.0, "AccessDeniedException", "{api:?}");
    // And the chat service's role reaches nothing but the Assistant.
    let start = stack
        .invoke_as_chat_service("start-export", &json!({"accountId": uuid::Uuid::new_v4().to_string()}))
        .await
        .unwrap_err();
    assert_eq!(start.0, "AccessDeniedException", "{start:?}");
}
