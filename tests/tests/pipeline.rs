//! The export pipeline end to end on the local stack: POST an export through the local gateway,
//! let moto's state machine run enumerate-attachments and write-manifest under cargo lambda, fetch
//! the manifest through RetrieveDataExport, and download every attachment from the S3 server.

use std::collections::BTreeSet;
use std::time::Duration;

use export_core::Timestamp;
use export_core::domain::ids::{AccountId, ConversationId, UserId};
use export_core::domain::model::{AccountType, Attachment, ConversationType, ExportStatus};
use export_core::ports::ExportStore;
use integration_tests::{
    AccountEvents, SeededAccount, Stack, attachment, download_manifest, rows, seed_account, sha256_hex,
};

const WAIT: Duration = Duration::from_secs(180);

async fn request_export(stack: &Stack, account: &AccountId, body: &str) -> String {
    stack.request_export(account, body).await
}

fn in_room(a: &mut Attachment, room: &export_core::domain::ids::RoomId) {
    a.conversation_type = ConversationType::Room;
    a.conversation_id = ConversationId::parse(room.as_str()).unwrap();
}

/// Every kind of attachment the scope rule distinguishes, with hostile names and keys.
fn every_kind(seeded: &SeededAccount) -> (Vec<Attachment>, Vec<bool>) {
    let base = Timestamp::parse("2026-03-01T09:00:00Z").unwrap();
    let at = |i: u64| base.plus(Duration::from_secs(i * 3600));
    let (managed, unmanaged, guest) = (&seeded.managed_user, &seeded.unmanaged_user, &UserId::random());
    let mut cases: Vec<(Attachment, bool)> = Vec::new();
    let mut add = |mut a: Attachment, name: &str, in_scope: bool| {
        a.file_name = name.to_owned();
        a.object_key = format!("{}/{} {}", a.account_id, a.attachment_id, name.replace('\n', " "));
        cases.push((a, in_scope));
    };
    let id = &seeded.id;
    add(attachment(id, managed, ConversationType::Direct, at(0)), "=SUM(A1:A9).xlsx", true);
    add(attachment(id, managed, ConversationType::Group, at(1)), "budget, \"final\" v2.pdf", true);
    add(attachment(id, unmanaged, ConversationType::Direct, at(2)), "not mine.txt", false);
    add(attachment(id, unmanaged, ConversationType::Group, at(3)), "also not mine.txt", false);
    let mut a = attachment(id, guest, ConversationType::Room, at(4));
    in_room(&mut a, &seeded.managed_room);
    add(a, "guest in our room\nline two ü 日本.png", true);
    let mut a = attachment(id, managed, ConversationType::Room, at(5));
    in_room(&mut a, &seeded.managed_room);
    add(a, "+plus -minus @at ~tilde %25.txt", true);
    let mut a = attachment(id, managed, ConversationType::Room, at(6));
    in_room(&mut a, &seeded.unmanaged_room);
    add(a, "their room.txt", false);
    let mut a = attachment(id, managed, ConversationType::Direct, at(7));
    a.deleted = true;
    add(a, "deleted.txt", false);
    // Uploaded after the request: outside the snapshot.
    add(
        attachment(id, managed, ConversationType::Direct, Timestamp::now().plus(Duration::from_secs(86_400))),
        "later.txt",
        false,
    );
    cases.into_iter().unzip()
}

#[tokio::test]
async fn the_manifest_holds_exactly_the_in_scope_set_and_every_url_downloads_its_file() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let (mut attachments, in_scope) = every_kind(&seeded);
    stack.add_attachments(&mut attachments, true).await;

    let export_id = request_export(&stack, &seeded.id, r#"{"format":"csv"}"#).await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    assert_eq!(view["result"]["attachmentCount"], 4);
    let manifest = download_manifest(&view).await;
    assert!(manifest.starts_with(b"attachment_id,conversation_type,"));

    let expected: Vec<&Attachment> =
        attachments.iter().zip(&in_scope).filter(|(_, i)| **i).map(|(a, _)| a).collect();
    let rows = rows(&manifest);
    assert_eq!(rows.len(), expected.len(), "exactly the in-scope set");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (row, a) in rows.iter().zip(&expected) {
        assert_eq!(&row[0], a.attachment_id.as_str(), "upload order");
        assert_eq!(&row[1], a.conversation_type.as_str());
        let shown_name = if a.file_name.starts_with(['=', '+', '-', '@']) {
            format!("'{}", a.file_name)
        } else {
            a.file_name.clone()
        };
        assert_eq!(&row[8], shown_name.as_str(), "names survive quoting; formulas are defused");
        assert_eq!(&row[11], a.sha256.as_str());
        // The link: to the download function, which answers one redirect to the file, served as
        // a download whatever its type, and counts the fetch.
        assert!(row[13].starts_with(&format!("{}/f/", stack.var("DOWNLOAD_BASE_URL"))), "{}", a.file_name);
        let answer = http.get(&row[13]).send().await.unwrap();
        assert_eq!(answer.status(), 302, "{}", a.file_name);
        assert_eq!(answer.headers()["cache-control"], "no-store");
        let target = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(target.starts_with(stack.var("AWS_ENDPOINT_URL_S3")) && target.contains("X-Amz-Expires=45&"));
        let body = http.get(&target).send().await.unwrap();
        assert_eq!(body.status(), 200, "{}", a.file_name);
        let disposition = body.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.starts_with("attachment; filename="), "{disposition}");
        assert_eq!(sha256_hex(&body.bytes().await.unwrap()), a.sha256, "the link downloads the right bytes");
        assert_eq!(&row[14], view["urlsExpireAt"].as_str().unwrap());
    }
    let room_row = rows.iter().find(|r| &r[1] == "ROOM").unwrap();
    assert_eq!(&room_row[3], "Ops", "room name");
    // An altered link is refused by the download function, and counted nowhere.
    let link = &rows[0][13];
    let mut tampered = link.as_bytes().to_vec();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let refused = http.get(String::from_utf8(tampered).unwrap()).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        !refused.text().await.unwrap().contains(&link[link.len() - 20..]),
        "a refusal never echoes the token"
    );
    // Six days, from the signing time, to the second.
    let claims =
        export_core::domain::link_token::decode(link.rsplit('/').next().unwrap()).unwrap().claims().clone();
    let expires_at = export_core::Timestamp::parse(view["urlsExpireAt"].as_str().unwrap()).unwrap();
    assert_eq!(claims.expires_at, expires_at);
    // Every file was fetched once: the receipts say exactly that.
    let store = stack.export_store();
    let export = export_core::domain::ids::ExportId::parse(&export_id).unwrap();
    let summary =
        export_core::ports::ExportStore::download_summary(&store, &seeded.owner(), &export).await.unwrap();
    assert_eq!(summary.files_fetched, expected.len() as u64);
    let receipts =
        export_core::ports::ExportStore::receipts(&store, &seeded.owner(), &export, None, 100).await.unwrap();
    let fetched: Vec<&str> = receipts.items.iter().map(|r| r.attachment_id.as_str()).collect();
    assert_eq!(
        fetched,
        expected.iter().map(|a| a.attachment_id.as_str()).collect::<Vec<_>>(),
        "in upload order"
    );
    assert!(
        receipts.items.iter().all(|r| r.fetch_count == 1 && r.first_source_ip == "127.0.0.1"),
        "{receipts:?}"
    );

    // Intermediates are gone; the manifest, its reports, the signed statement and the summary remain.
    let objects = stack.export_objects();
    let prefix = format!("exports/{}/{export_id}/", seeded.id);
    let keys: BTreeSet<String> =
        export_core::ports::ObjectStore::list(&objects, &prefix).await.unwrap().into_iter().collect();
    // downloads.csv too: the GET above built it from the receipts.
    let kept = [
        "attachments.csv",
        "coverage.csv",
        "downloads.csv",
        "errors.csv",
        "statement.json",
        "statement.sig",
        "summary.json",
    ];
    assert_eq!(keys, kept.iter().map(|k| format!("{prefix}{k}")).collect::<BTreeSet<_>>());
    let summary: serde_json::Value = serde_json::from_slice(
        &export_core::ports::ObjectStore::get(&objects, &format!("{prefix}summary.json")).await.unwrap(),
    )
    .unwrap();
    assert_eq!(summary["attachmentCount"], 4);
    assert_eq!((summary["errorCount"].as_u64(), summary["objectsChecked"].as_bool()), (Some(0), Some(true)));
    assert_eq!(summary["coverage"]["users"], 1, "the one managed user");
    assert_eq!(summary["coverage"]["rooms"], 1, "the room a managed user created");
    assert_eq!(summary["manifest"]["lines"], 5);
    assert_eq!(summary["byConversationType"]["ROOM"]["count"], 2);
}

#[tokio::test]
async fn an_empty_account_gets_a_valid_manifest_with_only_the_header() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let export_id = request_export(&stack, &seeded.id, "{}").await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    let manifest = download_manifest(&view).await;
    assert_eq!(manifest, format!("{}\r\n", export_core::domain::manifest::CSV_HEADER.join(",")).into_bytes());
    assert_eq!(view["result"]["attachmentCount"], 0);
}

#[tokio::test]
async fn a_large_account_spans_several_parts_in_order_as_jsonl() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    const N: u64 = 25_000;
    // One upload every 2,000 s from 2025-01-01 (to August 2026): most of the plan's equal slices of
    // time up to the cutoff hold some, so the segments are listed in parallel.
    let base = Timestamp::parse("2025-01-01T00:00:00Z").unwrap();
    let mut attachments: Vec<Attachment> = (0..N)
        .map(|i| {
            attachment(
                &seeded.id,
                &seeded.managed_user,
                ConversationType::Direct,
                base.plus(Duration::from_secs(i * 2_000)),
            )
        })
        .collect();
    stack.add_attachments(&mut attachments, false).await;
    // No object was uploaded: the objects are not checked (the bucket still is).
    let export_id = request_export(&stack, &seeded.id, r#"{"format":"jsonl","verifyObjects":false}"#).await;
    let view = stack.wait_for_export(&seeded.id, &export_id, Duration::from_secs(600)).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    let manifest = download_manifest(&view).await;
    let ids: Vec<String> = manifest
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<serde_json::Value>(l).unwrap()["attachment_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len() as u64, N);
    let expected: Vec<String> = attachments.iter().map(|a| a.attachment_id.to_string()).collect();
    assert!(ids == expected, "every attachment once, in upload order");
    let record =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.progress.attachments_listed, N);

    // The segments were listed, and the parts written, by the two Distributed Maps' children: the
    // export's own history holds two Map Runs and no event of any segment or part, so it does not
    // grow with the export (AWS fails an execution at 25,000 events; DESIGN §6).
    let plan = record.plan.expect("planned");
    let enumerated = record.enumerated.expect("enumerated");
    assert_eq!(plan.segments, 32, "LIST_SEGMENTS' default");
    assert_eq!(enumerated.segment_parts.len(), 32);
    // The slices after August 2026 (to the cutoff) are empty; the others each hold a part.
    let listing = enumerated.segment_parts.iter().filter(|parts| **parts >= 1).count();
    assert!(listing >= 24, "slices holding uploads: {:?}", enumerated.segment_parts);
    let segments = stack.export_store().segments(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap();
    assert_eq!(segments.iter().map(|(_, at)| at.listed).sum::<u64>(), N, "each row in one segment");
    let (types, entered) = stack.execution_history(&stack.export_execution_arn(&export_id)).await;
    assert_eq!(types.iter().filter(|t| *t == "MapRunStarted").count(), 3, "{types:?}");
    assert!(!types.iter().any(|t| t.starts_with("MapIteration")), "no inline iterations: {types:?}");
    for step in ["ListSegment", "WritePart", "AssembleGroup"] {
        assert!(!entered.iter().any(|s| s == step), "no {step} in the parent: {entered:?}");
    }
    // The parts were concatenated in groups of ASSEMBLY_GROUP_PARTS (4 locally) by the third Map's
    // children, and Finalize hashed the manifest FINALIZE_PASS_BYTES (8 MiB locally) a pass, each
    // pass resuming from its checkpoint: its passes are the only part of the history that grows,
    // by 7 events a pass, with the manifest's size (not with its rows or parts).
    assert_eq!(enumerated.group_parts, 4, "the local stack's ASSEMBLY_GROUP_PARTS");
    assert!(enumerated.groups() >= 6, "{} groups", enumerated.groups());
    let passes = entered.iter().filter(|s| *s == "Finalize").count() as u64;
    let result = record.result.expect("delivered");
    let hashed = result.manifest_bytes + result.errors.as_ref().expect("errors.csv").bytes;
    assert_eq!(passes, hashed.div_ceil(8 * 1024 * 1024), "{hashed} bytes hashed 8 MiB a pass");
    assert!(passes >= 2, "{passes} Finalize passes");
    // The scale model's count of the parent's events (DEPLOY "Cost of an export") is this history's.
    let asl: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(integration_tests::repo_root().join("infra/statemachine/export.asl.json"))
            .unwrap(),
    )
    .unwrap();
    let model = export_core::scale::Deployment::from_asl(&asl);
    assert_eq!(types.len() as u64, model.parent_events(passes), "the model's events: {types:?}");
}

#[tokio::test]
async fn a_step_that_fails_transiently_once_is_retried_and_the_export_succeeds() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let (mut attachments, _) = every_kind(&seeded);
    stack.add_attachments(&mut attachments, true).await;
    stack.inject_fault("enumerate-attachments", &seeded.id, None, "TransientError", 1).await;
    stack
        .inject_fault("write-manifest", &seeded.id, Some("part"), "Lambda.TooManyRequestsException", 1)
        .await;
    let export_id = request_export(&stack, &seeded.id, "{}").await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    assert_eq!(view["result"]["attachmentCount"], 4);
}

#[tokio::test]
async fn a_step_that_keeps_failing_ends_failed_and_gives_the_window_back() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    stack.inject_fault("write-manifest", &seeded.id, Some("finalize"), "ServiceFailureException", 100).await;
    let export_id = request_export(&stack, &seeded.id, "{}").await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "FAILED", "{view}");
    assert_eq!(view["error"]["code"], "ServiceFailureException");
    assert!(view["error"]["message"].as_str().unwrap().len() > 10);
    assert!(stack.export_store().throttle(&seeded.owner()).await.unwrap().is_none(), "window given back");
    let record =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    // No manifest was left behind, and the administrator can ask again at once.
    let objects = stack.export_objects();
    let left =
        export_core::ports::ObjectStore::list(&objects, &format!("exports/{}/{export_id}/", seeded.id))
            .await
            .unwrap();
    assert!(left.is_empty(), "{left:?}");
    request_export(&stack, &seeded.id, "{}").await;
}

/// The stack's operator may not invoke write-manifest at all; a principal that may (here signed as
/// the state machine's role, the one the template allows) can send the failure step's input
/// naming any tenant's running export. Step Functions does not show that export's execution in
/// its failure step, so the input is refused, nothing is recorded, and the export runs on.
#[tokio::test]
async fn a_forged_failure_step_cannot_end_a_running_export() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    let (mut attachments, _) = every_kind(&seeded);
    stack.add_attachments(&mut attachments, true).await;
    let held = stack.hold("write-manifest", &seeded.id, Some("finalize")).await;
    let export_id = request_export(&stack, &seeded.id, "{}").await;
    held.arrived(WAIT).await;
    let record =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    let job = export_core::domain::payloads::ExportJob::from(&record);
    let forged = serde_json::json!({"mode": "fail", "job": job});
    let (code, _) = stack.invoke("write-manifest", &forged).await.unwrap_err();
    assert_eq!(code, "AccessDeniedException", "the operator's key may not invoke a step");
    let (code, message) = stack.invoke_as_state_machine("write-manifest", &forged).await.unwrap_err();
    assert_eq!(code, "BadRequestException", "{message}");
    let after =
        stack.export_store().get(&seeded.owner(), &export_id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((after.status, after.error), (ExportStatus::Running, None));
    held.release().await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    assert_eq!(view["result"]["attachmentCount"], 4);
}

#[tokio::test]
async fn completion_is_announced_on_eventbridge_without_urls() {
    let stack = Stack::load();
    let seeded = seed_account(&stack, AccountType::Enterprise, false).await;
    // A queue that receives this account's export events only.
    let events = AccountEvents::subscribe(&stack, &seeded.id).await;

    let export_id = request_export(&stack, &seeded.id, "{}").await;
    let view = stack.wait_for_export(&seeded.id, &export_id, WAIT).await;
    assert_eq!(view["status"], "SUCCEEDED");
    let mut bodies = Vec::new();
    for _ in 0..20 {
        bodies.extend(events.receive().await);
        if !bodies.is_empty() {
            break;
        }
    }
    assert_eq!(bodies.len(), 1, "one event for one export");
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(event["source"], "attachment-export");
    assert_eq!(event["detail-type"], "Data Export State Change");
    assert_eq!(event["detail"]["exportId"], export_id.as_str());
    assert_eq!(event["detail"]["status"], "SUCCEEDED");
    assert_eq!(event["detail"]["attachmentCount"], 0);
    assert_eq!(event["detail"]["errorCount"], 0);
    assert!(!bodies[0].contains("X-Amz-Signature") && !bodies[0].contains("http"), "no URL in the event");
}
