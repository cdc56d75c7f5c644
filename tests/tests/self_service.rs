//! Self-service exports on the local stack (DESIGN §15): a chat user whom no account manages
//! requests their own files through the API, the state machine lists them from the catalog's
//! indexes, and the manifest's links fetch exactly their files; managed users and Team members
//! are refused with their guidance; no one reaches another user's exports, and no administrator
//! a user's.

use std::time::Duration;

use export_core::Timestamp;
use export_core::aws::dynamo;
use export_core::domain::ids::{AccountId, ConversationId, RoomId, UserId};
use export_core::domain::model::{AccountType, Attachment, ConversationType, Room, User};
use integration_tests::{Caller, Stack, attachment, batch_put, download_manifest, rows, seed_account};
use reqwest::Method;
use serde_json::json;

/// A user no account manages (a guest of `partner`), their room in `hosting`, and their files:
/// (everything written, what their export must list).
struct Around {
    user: UserId,
    hosting: AccountId,
    rows: Vec<Attachment>,
    expected: Vec<String>,
}

async fn around_a_user(stack: &Stack) -> Around {
    let hosting = seed_account(stack, AccountType::Enterprise, false).await;
    let partner = seed_account(stack, AccountType::Enterprise, false).await;
    let user = UserId::random();
    let room = RoomId::random();
    let items = vec![
        dynamo::items::user(
            &partner.id,
            &user,
            &User {
                user_id: None,
                email: "sam@people.example".into(),
                display_name: "Sam".into(),
                managed: false,
            },
        )
        .unwrap(),
        dynamo::items::room(
            &hosting.id,
            &room,
            &Room { room_id: None, name: "Sam's room".into(), created_by: user.clone() },
        )
        .unwrap(),
    ];
    batch_put(&stack.dynamodb(), stack.var("ACCOUNTS_TABLE"), items).await;
    let base = Timestamp::parse("2026-10-01T00:00:00Z").unwrap();
    let at = |i: u64| base.plus(Duration::from_secs(3600 * i));
    let in_room = |mut a: Attachment| {
        a.conversation_id = ConversationId::parse(room.as_str()).unwrap();
        a
    };
    let mut rows = vec![
        attachment(&hosting.id, &user, ConversationType::Direct, at(1)),
        attachment(&partner.id, &user, ConversationType::Group, at(2)),
        in_room(attachment(&hosting.id, &hosting.managed_user, ConversationType::Room, at(3))),
        in_room(attachment(&hosting.id, &user, ConversationType::Room, at(4))),
        // Not theirs: another's 1:1 upload, their upload to another's room, a deleted one.
        attachment(&hosting.id, &hosting.managed_user, ConversationType::Direct, at(5)),
        {
            let mut a = attachment(&hosting.id, &user, ConversationType::Room, at(6));
            a.conversation_id = ConversationId::parse(hosting.managed_room.as_str()).unwrap();
            a
        },
        {
            let mut a = attachment(&partner.id, &user, ConversationType::Group, at(7));
            a.deleted = true;
            a
        },
    ];
    stack.add_attachments(&mut rows, true).await;
    let expected = rows[..4].iter().map(|a| a.attachment_id.to_string()).collect();
    Around { user, hosting: hosting.id, rows, expected }
}

async fn wait_for_users_export(stack: &Stack, user: &UserId, export_id: &str) -> serde_json::Value {
    let caller = Caller::chat_user(user);
    let path = format!("/users/{user}/data-exports/{export_id}");
    for _ in 0..240 {
        let reply = stack.api_as(&caller, Method::GET, &path, None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let status = reply.body["status"].as_str().unwrap_or_default();
        if matches!(status, "SUCCEEDED" | "SUCCEEDED_WITH_ERRORS" | "FAILED") {
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("export {export_id} did not end");
}

#[tokio::test]
async fn a_user_no_account_manages_gets_exactly_their_files_across_accounts() {
    let stack = Stack::load();
    let around = around_a_user(&stack).await;
    let caller = Caller::chat_user(&around.user);
    let path = format!("/users/{}/data-exports", around.user);
    let listed = stack.api_as(&caller, Method::GET, &path, None).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["request"]["allowed"], true);
    assert!(listed.body.get("account").is_none(), "no account is named: {:?}", listed.body);

    let started = stack.api_as(&caller, Method::POST, &path, Some("{}".into())).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let export_id = started.body["exportId"].as_str().unwrap().to_owned();
    let view = wait_for_users_export(&stack, &around.user, &export_id).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    assert_eq!(view["userId"], around.user.as_str());
    assert!(view.get("accountId").is_none());
    assert_eq!(view["result"]["attachmentCount"], 4);

    let manifest = download_manifest(&view).await;
    let records = rows(&manifest);
    let ids: Vec<String> = records.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(ids, around.expected, "their uploads, then their room's files, in upload order");
    let reasons: Vec<&str> = records.iter().map(|r| r.get(15).unwrap()).collect();
    assert_eq!(reasons, ["own-upload", "own-upload", "created-room", "created-room"]);
    // Every link fetches its own file, from whichever account's catalog holds it.
    let http = reqwest::Client::new();
    for (record, a) in records.iter().zip(&around.rows) {
        let body = http.get(&record[13]).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(integration_tests::sha256_hex(&body), a.sha256, "{}", a.attachment_id);
    }

    // One accepted request per user per 7 days, apart from every account's.
    let again = stack.api_as(&caller, Method::POST, &path, Some("{}".into())).await;
    assert_eq!(again.status, 429, "{:?}", again.body);
    assert!(again.body["message"].as_str().unwrap().starts_with("You accepted"), "{:?}", again.body);
    stack.request_export(&around.hosting, "{}").await;
}

#[tokio::test]
async fn managed_users_and_team_members_are_refused_with_their_guidance_and_nothing_else() {
    let stack = Stack::load();
    let enterprise = seed_account(&stack, AccountType::Enterprise, false).await;
    let team = seed_account(&stack, AccountType::Team, false).await;
    for (user, says_all) in [
        (&enterprise.managed_user, ["Example Corp", "IT administrator"]),
        (&team.unmanaged_user, ["Example Corp", "remove you from the Team"]),
    ] {
        let caller = Caller::chat_user(user);
        let path = format!("/users/{user}/data-exports");
        let refused = stack.api_as(&caller, Method::POST, &path, Some("{}".into())).await;
        assert_eq!(refused.status, 422, "{:?}", refused.body);
        assert_eq!(refused.body["code"], "UnprocessableEntityException");
        let message = refused.body["message"].as_str().unwrap();
        for says in says_all {
            assert!(message.contains(says), "{message}");
        }
        assert!(!message.contains("example.com"), "a domain of the account: {message}");
        let listed = stack.api_as(&caller, Method::GET, &path, None).await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.body["request"]["allowed"], false);
        assert_eq!(listed.body["request"]["message"].as_str(), Some(message));
        assert!(listed.body["exports"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn no_one_reaches_another_users_exports_and_no_administrator_a_users() {
    let stack = Stack::load();
    let around = around_a_user(&stack).await;
    let path = format!("/users/{}/data-exports", around.user);
    let started =
        stack.api_as(&Caller::chat_user(&around.user), Method::POST, &path, Some("{}".into())).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let export_id = started.body["exportId"].as_str().unwrap().to_owned();
    let one = format!("{path}/{export_id}");
    let someone_else = Caller::chat_user(&UserId::random());
    let operator = Caller::operator();
    let admin = Caller::tenant(&around.hosting, &["DataExportFullAccess"]);
    for caller in [&someone_else, &operator, &admin, &Caller::unsigned()] {
        let revoke = format!("{one}/revoke");
        for (method, route, body) in [
            (Method::POST, &path, Some("{}".to_owned())),
            (Method::GET, &path, None),
            (Method::GET, &one, None),
            (Method::POST, &revoke, Some("{}".to_owned())),
        ] {
            let reply = stack.api_as(caller, method.clone(), route, body).await;
            assert_eq!(reply.status, 403, "{:?} {method} {route}: {:?}", caller.principal, reply.body);
            // IAM's refusal names the caller's own request, and nothing of the export.
            for field in ["status", "exportId", "exports", "manifest", "userId"] {
                assert!(reply.body.get(field).is_none(), "{field} in {:?}", reply.body);
            }
        }
    }
    // Through their own routes, another user does not find this export under their own id.
    let theirs = stack
        .api_as(
            &someone_else,
            Method::GET,
            &format!("/users/{}/data-exports/{export_id}", someone_else_id(&someone_else)),
            None,
        )
        .await;
    assert_eq!(theirs.status, 404, "{:?}", theirs.body);
    // Nor does the account's own view list it.
    let accounts = stack
        .api_as(&operator, Method::GET, &format!("/accounts/{}/data-exports", around.hosting), None)
        .await;
    assert!(!accounts.body.to_string().contains(&export_id));
    wait_for_users_export(&stack, &around.user, &export_id).await;
}

fn someone_else_id(caller: &Caller) -> String {
    caller.tags.iter().find(|(k, _)| k == "chatUserId").map(|(_, v)| v.clone()).unwrap()
}

/// A user revokes their own delivered export (DESIGN §15, §8): it is REVOKED with who and when, its
/// links stop at once, and the chat service's copy of the Assistant's reply link with them; the
/// operator revokes a user's export directly ({"userId", "exportId"}); the chat service, which may
/// invoke the Assistant, may not invoke revoke-export.
#[tokio::test]
async fn a_user_revokes_their_own_export_and_every_link_stops() {
    let stack = Stack::load();
    let around = around_a_user(&stack).await;
    let caller = Caller::chat_user(&around.user);
    let path = format!("/users/{}/data-exports", around.user);
    let started = stack.api_as(&caller, Method::POST, &path, Some("{}".into())).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let export_id = started.body["exportId"].as_str().unwrap().to_owned();
    let view = wait_for_users_export(&stack, &around.user, &export_id).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    let manifest = download_manifest(&view).await;
    let link = rows(&manifest)[0][13].to_owned();
    let http = reqwest::Client::new();
    assert_eq!(http.get(&link).send().await.unwrap().status(), 200);

    let revoke = format!("{path}/{export_id}/revoke");
    let revoked = stack.api_as(&caller, Method::POST, &revoke, Some("{}".into())).await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(revoked.body["status"], "REVOKED");
    assert_eq!(revoked.body["userId"], around.user.as_str());
    assert!(revoked.body.get("accountId").is_none(), "{:?}", revoked.body);
    assert_eq!(revoked.body["revokedBy"]["via"], "api");
    let refused = http.get(&link).send().await.unwrap().status().as_u16();
    assert!(matches!(refused, 403 | 404 | 410), "a revoked export's link answers {refused}");
    let again = stack.api_as(&caller, Method::GET, &format!("{path}/{export_id}"), None).await;
    assert_eq!((again.status, again.body["status"].as_str()), (200, Some("REVOKED")), "{:?}", again.body);
    assert!(again.body.get("manifest").is_none(), "no link of a revoked export: {:?}", again.body);

    // The operator's direct revocation names the owner; again harmless.
    let direct = json!({"userId": around.user.as_str(), "exportId": export_id});
    let reply = stack.invoke("revoke-export", &direct).await.expect("the operator revokes");
    assert_eq!(
        (reply["status"].as_str(), reply["userId"].as_str()),
        (Some("REVOKED"), Some(around.user.as_str()))
    );
    // Both owners, or none: refused, with the shape in the message.
    let both =
        json!({"userId": around.user.as_str(), "accountId": around.hosting.as_str(), "exportId": export_id});
    let (error, _) = stack.invoke("revoke-export", &both).await.unwrap_err();
    assert_eq!(error, "BadRequestException");
    // The chat service's role may invoke the Assistant only.
    let (error, _) = stack.invoke_as_chat_service("revoke-export", &direct).await.unwrap_err();
    assert_eq!(error, "AccessDeniedException");
}
