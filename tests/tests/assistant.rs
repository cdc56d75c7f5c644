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

    // The chat service's rule on the Assistant's bus, before the export can end.
    let replies = integration_tests::AccountEvents::assistant_replies(&stack, &me).await;
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
            let result = record.result.unwrap();
            assert_eq!(result.attachment_count, 0);
            the_reply_links_the_manifest_as_a_counted_hand_out(&stack, &replies, &me, &export, &result).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the assistant's export did not end");
}

/// The export's end, as the chat service receives it: one "Assistant Reply" on the Assistant's
/// bus for the user, whose link (on the download function, under /m/) fetches exactly the
/// manifest, counted as a hand-out; an altered link or the token as a file link is refused; no
/// log of any server holds the link's token.
async fn the_reply_links_the_manifest_as_a_counted_hand_out(
    stack: &Stack,
    replies: &integration_tests::AccountEvents,
    user: &str,
    export: &export_core::domain::ids::ExportId,
    result: &export_core::domain::model::ExportResult,
) {
    let mut events = Vec::new();
    for _ in 0..20 {
        events.extend(replies.receive().await);
        if !events.is_empty() {
            break;
        }
    }
    assert_eq!(events.len(), 1, "one reply for one export: {events:?}");
    let event: serde_json::Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(event["detail-type"], "Assistant Reply");
    let detail = &event["detail"];
    assert_eq!(
        (detail["userId"].as_str(), detail["exportId"].as_str()),
        (Some(user), Some(export.to_string().as_str()))
    );
    assert_eq!((detail["status"].as_str(), detail["attachmentCount"].as_u64()), (Some("SUCCEEDED"), Some(0)));
    assert_eq!(detail["linkExpiresAt"], result.urls_expire_at.to_string());
    let link = detail["link"].as_str().expect("the manifest link");
    let prefix = format!("{}/m/", stack.var("DOWNLOAD_BASE_URL"));
    let token = link.strip_prefix(&prefix).unwrap_or_else(|| panic!("{link} is under {prefix}"));
    assert!(detail["reply"].as_str().unwrap().contains(link), "the reply carries the link: {detail}");

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let first = http.get(link).send().await.unwrap();
    assert_eq!(first.status(), 302);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains(&result.manifest_key), "to the user's own manifest: {location}");
    let manifest = reqwest::get(&location).await.unwrap().bytes().await.unwrap();
    assert_eq!(integration_tests::sha256_hex(&manifest), result.manifest_sha256, "exactly the manifest");
    let store = stack.export_store();
    let owner = export_core::domain::owner::ExportOwner::User(user.parse().unwrap());
    let record = export_core::ports::ExportStore::get(&store, &owner, export).await.unwrap().unwrap();
    assert_eq!((record.retrievals, record.last_retrieved_by.as_deref()), (1, Some("assistant-reply-link")));

    // One character of the MAC changed (the last ones carry padding bits).
    let mut altered = token.to_owned();
    let at = altered.len() - 3;
    let other = if &altered[at..at + 1] == "A" { "B" } else { "A" };
    altered.replace_range(at..at + 1, other);
    for refused in [format!("{prefix}{altered}"), format!("{}/f/{token}", stack.var("DOWNLOAD_BASE_URL"))] {
        let reply = http.get(&refused).send().await.unwrap();
        assert_eq!(reply.status(), 403, "refused");
        assert!(!reply.text().await.unwrap().contains(token), "a refusal never echoes the token");
    }
    let record = export_core::ports::ExportStore::get(&store, &owner, export).await.unwrap().unwrap();
    assert_eq!(record.retrievals, 1, "a refused link hands nothing out");
    let logs = std::fs::read_dir(integration_tests::repo_root().join(".local/logs")).unwrap();
    for log in logs {
        let path = log.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains(token), "{} holds a manifest link's token", path.display());
    }
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
