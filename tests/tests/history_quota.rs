//! AWS's 25,000-event history quota, which the local Step Functions enforces as AWS does (DESIGN
//! §6, §11). The state machine's own shape, with each step a Pass state (so the shape is all that
//! is measured, quickly), run over thousands of parts: the WriteParts Distributed Map keeps the
//! export's history a few dozen events long, where the INLINE Map it replaced fails the execution
//! at its 25,000th event — uncaught, so it never reaches RecordFailure.

use serde_json::{Value, json};

use integration_tests::Stack;

/// Parts enough for the INLINE shape to cross the quota: with Pass steps an inline iteration
/// records 4 events (7 with the real Task), so 6,500 parts is 26,000 events and more.
const PARTS: u32 = 6_500;

/// Listing segments in the shape's ListSegments Map (each a child execution).
const SEGMENTS: u32 = 32;

/// The state machine definition with every Task a Pass state that answers as the step would (the
/// plan naming `segments_key`, each segment done in one pass), and WriteParts as given by
/// `inline`: the INLINE Map over a payload list (the former shape), or the Distributed Map over
/// `parts_key` (the shape as built).
fn shape(inline: bool, bucket: &str, segments_key: &str, parts_key: &str, groups_key: &str) -> Value {
    let mut asl: Value = serde_json::from_str(
        &std::fs::read_to_string(integration_tests::repo_root().join("infra/statemachine/export.asl.json"))
            .unwrap(),
    )
    .unwrap();
    let states = asl["States"].as_object_mut().unwrap();
    let mut enumeration = json!({
        "done": true, "partCount": PARTS, "listed": PARTS, "signedAt": "2026-01-01T00:00:00.000Z",
        "partsBucket": bucket, "partsKey": parts_key, "groupsKey": groups_key,
    });
    if inline {
        enumeration["parts"] = json!((1..=PARTS).collect::<Vec<_>>());
    }
    let pass = |state: &Value, result: Value| {
        let mut pass = json!({"Type": "Pass", "Result": result});
        for field in ["ResultPath", "Next", "End"] {
            if let Some(value) = state.get(field) {
                pass[field] = value.clone();
            }
        }
        pass
    };
    let plan = json!({"segments": SEGMENTS, "segmentsBucket": bucket, "segmentsKey": segments_key});
    for name in ["Plan", "Close", "Finalize", "RecordFailure"] {
        assert_eq!(states[name]["Type"], "Task", "{name} is a step of the state machine");
        let result = match name {
            "Plan" => plan.clone(),
            "Close" => enumeration.clone(),
            "Finalize" => json!({"finished": true}),
            _ => json!({}),
        };
        states[name] = pass(&states[name], result);
    }
    let list = &mut states["ListSegments"]["ItemProcessor"]["States"]["ListSegment"];
    assert_eq!(list["Type"], "Task", "ListSegment is a step of the state machine");
    *list = pass(list, json!({"done": true, "partCount": 1, "listed": 1}));
    let assemble = &mut states["AssembleGroups"]["ItemProcessor"]["States"]["AssembleGroup"];
    assert_eq!(assemble["Type"], "Task", "AssembleGroup is a step of the state machine");
    *assemble = pass(assemble, json!({}));
    let write_parts = &mut states["WriteParts"];
    assert_eq!(write_parts["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED", "as built");
    let part = write_parts["ItemProcessor"]["States"]["WritePart"].clone();
    write_parts["ItemProcessor"]["States"]["WritePart"] = pass(&part, json!({}));
    if inline {
        let map = write_parts.as_object_mut().unwrap();
        map.remove("ItemReader");
        map.remove("Label");
        map.insert("ItemsPath".into(), json!("$.enumeration.parts"));
        write_parts["ItemProcessor"]["ProcessorConfig"] = json!({"Mode": "INLINE"});
    }
    asl
}

/// Runs `definition` once: (status, error, event types, states entered).
async fn run(
    stack: &Stack,
    name: &str,
    definition: &Value,
) -> (String, Option<String>, Vec<String>, Vec<String>) {
    let sfn = stack.sfn();
    let machine = sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::000000000000:role/ExportStateMachineRole")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let execution = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"job": {}}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let described = loop {
        let described = sfn.describe_execution().execution_arn(&execution).send().await.unwrap();
        if described.status().as_str() != "RUNNING" {
            break described;
        }
        assert!(std::time::Instant::now() < deadline, "{name} still running");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (types, entered) = stack.execution_history(&execution).await;
    sfn.delete_state_machine().state_machine_arn(&machine).send().await.unwrap();
    (described.status().as_str().to_owned(), described.error().map(str::to_owned), types, entered)
}

#[tokio::test]
async fn thousands_of_parts_keep_the_exports_history_short_where_the_inline_map_hit_the_quota() {
    let stack = Stack::load();
    let bucket = stack.var("EXPORT_BUCKET").to_owned();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let segments_key = format!("tests/history-quota/{suffix}/segments.json");
    let parts_key = format!("tests/history-quota/{suffix}/parts.json");
    let groups_key = format!("tests/history-quota/{suffix}/groups.json");
    let segments: Vec<u32> = (0..SEGMENTS).collect();
    let parts: Vec<u32> = (1..=PARTS).collect();
    let groups: Vec<u32> = (1..=PARTS.div_ceil(export_core::rules::pipeline::DEFAULT_GROUP_PARTS)).collect();
    for (key, items) in [(&segments_key, segments), (&parts_key, parts), (&groups_key, groups)] {
        stack
            .s3()
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(serde_json::to_vec(&items).unwrap().into())
            .send()
            .await
            .unwrap();
    }

    let (status, error, types, entered) = run(
        &stack,
        &format!("quota-distributed-{suffix}"),
        &shape(false, &bucket, &segments_key, &parts_key, &groups_key),
    )
    .await;
    assert_eq!((status.as_str(), error), ("SUCCEEDED", None), "{types:?}");
    assert!(types.len() < 50, "{} parts, {} events in the export's own history", PARTS, types.len());
    let maps = types.iter().filter(|t| *t == "MapRunStarted").count();
    assert_eq!(maps, 3, "segments, parts, then groups");
    assert!(entered.contains(&"Finalize".to_owned()));

    let (status, error, types, entered) = run(
        &stack,
        &format!("quota-inline-{suffix}"),
        &shape(true, &bucket, &segments_key, &parts_key, &groups_key),
    )
    .await;
    assert_eq!((status.as_str(), error.as_deref()), ("FAILED", Some("States.Runtime")));
    assert_eq!(types.len(), 25_000, "AWS's quota, to the event");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionFailed"));
    assert!(!entered.contains(&"RecordFailure".to_owned()), "the quota is not caught: no RecordFailure");
    assert!(!entered.contains(&"Finalize".to_owned()));
}
