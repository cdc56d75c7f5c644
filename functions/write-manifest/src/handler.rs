//! write-manifest's handler: one of four modes per invocation (part, group, finalize, fail), each a
//! rule of `export_core::rules::pipeline`. Replies carry counts and keys only, never a URL.

use std::time::Duration;

use export_core::domain::payloads::WriteManifestRequest;
use export_core::rules::pipeline::{Enumeration, Finalized, Finisher, PartWriter};
use export_core::{Backend, Error};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// The steps' rules.
pub struct WriteManifest<B: Backend> {
    pub parts: PartWriter<B>,
    pub finisher: Finisher<B>,
    /// The attachment URLs' lifetime (an export without parts has no part to tell its expiry).
    pub url_expiry: Duration,
}

pub async fn handler<B: Backend>(
    function: &WriteManifest<B>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let deadline_ms = event.context.deadline;
    let request: WriteManifestRequest = serde_json::from_value(event.payload)
        .map_err(|e| Error::BadRequest(format!("not a write-manifest step input: {e}")))?;
    match request {
        WriteManifestRequest::Part { job, part, signed_at } => {
            let rows = function.parts.run(&job, part, signed_at).await?;
            Ok(json!({"part": part, "rows": rows}))
        }
        WriteManifestRequest::Group { job, group } => {
            let rows = function.finisher.assemble_group(&job, group).await?;
            Ok(json!({"group": group, "rows": rows}))
        }
        WriteManifestRequest::Finalize { job, part_count, listed, signed_at } => {
            let enumeration = Enumeration { part_count, listed, signed_at, url_expiry: function.url_expiry };
            let remaining = entry::deadline::time_left(deadline_ms);
            match function.finisher.finalize(&job, &enumeration, remaining).await? {
                // The state machine's FinalizeDone Choice runs Finalize again until `finished`.
                Finalized::Hashing { hashed, bytes } => {
                    Ok(json!({"finished": false, "hashedBytes": hashed, "bytes": bytes}))
                }
                Finalized::Done(result) => Ok(json!({
                    "finished": true,
                    "status": result.status(),
                    "attachmentCount": result.attachment_count,
                    "errorCount": result.error_count,
                    "manifestKey": result.manifest_key,
                    "manifestBytes": result.manifest_bytes,
                })),
            }
        }
        WriteManifestRequest::Fail { job } => {
            function.finisher.record_failure(&job).await?;
            Ok(json!({"recorded": "FAILED"}))
        }
    }
}

#[cfg(test)]
mod tests {
    use export_core::Timestamp;
    use export_core::domain::ids::AccountId;
    use export_core::domain::manifest::InventoryLine;
    use export_core::domain::model::{
        Attachment, ConversationType, Enumerated, ExportFormat, ExportRecord, ExportStatus, RequestedBy, Via,
    };
    use export_core::domain::payloads::StepError;
    use export_core::memory::{Harness, InMemory, World};
    use export_core::ports::{ExportStore, ObjectStore, StatusChange};
    use lambda_runtime::Context;

    use super::*;

    /// The sample events under events/write-manifest/; `the_sample_events_run_a_whole_export_in_order`
    /// says what each must produce.
    const EVENTS: &[(&str, ())] = &[
        ("part.json", ()),
        ("group.json", ()),
        ("finalize.json", ()),
        ("fail.json", ()),
        ("unknown-mode.json", ()),
        // A Finalize whose input claims fewer parts than the enumeration recorded (anyone who may
        // invoke the function could send it): refused, see the test of that name.
        ("finalize-forged-part-count.json", ()),
        // Group 2 of an export of one group, and a group before its parts are written: refused,
        // writing nothing (`a_group_out_of_place_is_refused`).
        ("group-beyond-plan.json", ()),
    ];

    pub(super) fn events() -> Vec<(&'static str, &'static str)> {
        let all = export_core::testing::sample_events(env!("CARGO_MANIFEST_DIR"), "write-manifest", EVENTS);
        all.into_iter().map(|(name, json, ())| (name, json)).collect()
    }

    pub(super) fn sample(name: &str) -> &'static str {
        events().into_iter().find(|(n, _)| *n == name).expect("a sample event").1
    }

    type TestDeps = Harness<WriteManifest<InMemory>>;

    /// The sample export, RUNNING, with one inventory part of one attachment.
    pub(super) async fn deps() -> TestDeps {
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let mut record = ExportRecord::new_request(
            account.clone().into(),
            ExportFormat::Csv,
            RequestedBy { principal: "p".into(), via: Via::Api, person: None },
            None,
            Timestamp::parse("2026-11-24T10:00:00Z").unwrap(),
        );
        record.export_id = "01KAW6ZQ5V0000000000000000".parse().unwrap();
        // As the enumeration recorded it: one part, signed when the sample events say.
        record.enumerated = Some(Enumerated {
            part_count: 1,
            listed: 1,
            signed_at: Timestamp::parse("2026-11-24T10:05:00Z").unwrap(),
            segment_parts: vec![1],
            group_parts: 100,
        });
        let job = export_core::domain::payloads::ExportJob::from(&record);
        let world = World::at("2026-11-24T10:06:00Z");
        let (store, objects, attachments) = (&world.store, &world.objects, &world.attachments);
        store.insert(record.clone());
        store
            .change_status(
                &record.owner,
                &record.export_id,
                StatusChange::Running { started_at: record.requested_at },
            )
            .await
            .unwrap();
        let attachment = Attachment {
            account_id: account.clone(),
            attachment_id: export_core::domain::ids::AttachmentId::random(),
            message_id: export_core::domain::ids::MessageId::random(),
            conversation_id: export_core::domain::ids::ConversationId::random(),
            conversation_type: ConversationType::Direct,
            uploader_id: export_core::domain::ids::UserId::random(),
            file_name: "q3.xlsx".into(),
            content_type: "application/vnd.ms-excel".into(),
            size_bytes: 2048,
            sha256: "ab".repeat(32),
            bucket: "attachments-prod".into(),
            object_key: format!("{account}/q3.xlsx"),
            uploaded_at: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
            deleted: false,
        };
        let mut line =
            serde_json::to_vec(&InventoryLine::new(attachment, String::new(), "a@example.com".into(), true))
                .unwrap();
        line.push(b'\n');
        objects.put(&job.inventory_part_key(0, 1), line, "application/x-ndjson", &[]).await.unwrap();
        attachments.put_head("attachments-prod", &format!("{account}/q3.xlsx"), 2048, Some(&"ab".repeat(32)));
        let function = WriteManifest {
            parts: world.part_writer(&["attachments-prod"]),
            finisher: world.finisher(),
            url_expiry: Duration::from_secs(518_400),
        };
        Harness { world, function }
    }

    async fn invoke(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        handler(&deps.function, LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default()))
            .await
    }

    /// A Finalize sent by hand that claims no parts would deliver an empty manifest and a signed
    /// statement saying so: it is refused, and the export stays RUNNING without a statement.
    #[tokio::test]
    async fn a_finalize_claiming_fewer_parts_than_enumerated_is_refused() {
        let deps = deps().await;
        invoke(&deps, sample("part.json")).await.unwrap();
        invoke(&deps, sample("group.json")).await.unwrap();
        let err = invoke(&deps, sample("finalize-forged-part-count.json")).await.unwrap_err();
        assert_eq!(err.code(), "BadRequestException", "{err}");
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let record = deps.store.records(&account)[0].clone();
        assert_eq!(record.status, ExportStatus::Running);
        assert!(record.result.is_none());
        let finalize = invoke(&deps, sample("finalize.json")).await.unwrap();
        assert_eq!(finalize["attachmentCount"], 1, "the true input still finalizes");
    }

    #[tokio::test]
    async fn the_sample_events_run_a_whole_export_in_order() {
        let deps = deps().await;
        let part = invoke(&deps, sample("part.json")).await.unwrap();
        assert_eq!(part, json!({"part": 1, "rows": 1}));
        let group = invoke(&deps, sample("group.json")).await.unwrap();
        assert_eq!(group, json!({"group": 1, "rows": 1}));
        let finalize = invoke(&deps, sample("finalize.json")).await.unwrap();
        assert_eq!(
            (finalize["finished"].clone(), finalize["attachmentCount"].clone()),
            (json!(true), json!(1))
        );
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let record = deps.store.records(&account)[0].clone();
        assert_eq!(record.status, ExportStatus::Succeeded);
        let result = record.result.unwrap();
        assert_eq!(result.urls_expire_at, Timestamp::parse("2026-11-30T10:05:00Z").unwrap());
        let manifest = deps.objects.get(&result.manifest_key).await.unwrap();
        let text = String::from_utf8(manifest).unwrap();
        assert!(text.contains("https://dl.invalid/f/"), "every row links to the download function: {text}");
        assert!(!finalize.to_string().contains("dl.invalid"), "replies carry no link");
        let statement = deps.objects.get(&result.statement.unwrap().key).await.unwrap();
        assert!(String::from_utf8(statement).unwrap().contains(&result.manifest_sha256));
        // A failure step for a SUCCEEDED export (its execution not failing) is refused; it stays SUCCEEDED.
        let refused = invoke(&deps, sample("fail.json")).await.unwrap_err();
        assert_eq!(refused.code(), "BadRequestException", "{refused}");
        assert_eq!(deps.store.records(&account)[0].status, ExportStatus::Succeeded);
        let err = invoke(&deps, sample("unknown-mode.json")).await.unwrap_err();
        assert_eq!(err.code(), "BadRequestException");
        assert!(err.to_string().contains("unknown variant `compress`"), "{err}");
    }

    #[tokio::test]
    async fn the_fail_event_records_the_failure_its_execution_caught() {
        let deps = deps().await;
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let export = deps.store.records(&account)[0].export_id;
        let cause =
            r#"{"errorType":"TransientError","errorMessage":"The service is busy or briefly unavailable."}"#;
        deps.workflow
            .enter_failure(&export, StepError { error: "TransientError".into(), cause: Some(cause.into()) });
        invoke(&deps, sample("fail.json")).await.unwrap();
        let record = deps.store.records(&account)[0].clone();
        assert_eq!(record.status, ExportStatus::Failed);
        let error = record.error.unwrap();
        assert_eq!(error.code, "TransientError");
        assert!(error.message.contains("busy"), "{error:?}");
        assert_eq!(deps.notifier.published.lock().unwrap()[0].status, ExportStatus::Failed);
    }

    /// Anyone who may invoke the function could send the failure step's input for a running
    /// export: with its execution running normally, it is refused and the export runs on.
    #[tokio::test]
    async fn a_fail_input_for_an_export_whose_execution_runs_normally_is_refused() {
        let deps = deps().await;
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let err = invoke(&deps, sample("fail.json")).await.unwrap_err();
        assert_eq!(err.code(), "BadRequestException", "{err}");
        let record = deps.store.records(&account)[0].clone();
        assert_eq!((record.status, record.error), (ExportStatus::Running, None));
        assert!(deps.notifier.published.lock().unwrap().is_empty());
        invoke(&deps, sample("part.json")).await.unwrap();
        invoke(&deps, sample("group.json")).await.unwrap();
        let finalize = invoke(&deps, sample("finalize.json")).await.unwrap();
        assert_eq!(finalize["status"], "SUCCEEDED", "the export runs on: {finalize}");
    }

    /// A group the enumeration did not make, or one whose parts are not written yet, is refused
    /// and writes nothing; so is a Finalize before its groups are assembled.
    #[tokio::test]
    async fn a_group_out_of_place_is_refused() {
        let deps = deps().await;
        let early = invoke(&deps, sample("group.json")).await.unwrap_err();
        assert_eq!(early.code(), "BadRequestException", "{early}");
        assert!(early.to_string().contains("not written yet"), "{early}");
        invoke(&deps, sample("part.json")).await.unwrap();
        let beyond = invoke(&deps, sample("group-beyond-plan.json")).await.unwrap_err();
        assert_eq!(beyond.code(), "BadRequestException", "{beyond}");
        let unassembled = invoke(&deps, sample("finalize.json")).await.unwrap_err();
        assert!(unassembled.to_string().contains("not assembled yet"), "{unassembled}");
        let job = export_core::domain::payloads::ExportJob::from(&deps.store.records(deps_account())[0]);
        for group in [1, 2] {
            assert!(
                deps.objects.head(&job.group_report_key(group)).await.unwrap().is_none(),
                "nothing written"
            );
        }
    }

    fn deps_account() -> AccountId {
        AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap()
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile step inputs: arbitrary JSON and mutated sample events never panic; an input that is
    //! not a write-manifest step input is a `BadRequestException`; every error has a documented
    //! errorType, and a service failure only where a well-formed Finalize names parts that were
    //! never written.
    use export_core::domain::payloads::WriteManifestRequest;
    use fuzzing::*;
    use lambda_runtime::Context;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;

    fn run(input: &Value, part_written: bool) -> Result<(), TestCaseError> {
        let request = serde_json::from_value::<WriteManifestRequest>(input.clone()).ok();
        let outcome = runtime().block_on(async {
            let deps = super::tests::deps().await;
            if part_written {
                for step in ["part.json", "group.json"] {
                    let step = serde_json::from_str(super::tests::sample(step)).unwrap();
                    handler(&deps.function, LambdaEvent::new(step, Context::default())).await.unwrap();
                }
            }
            handler(&deps.function, LambdaEvent::new(input.clone(), Context::default())).await
        });
        match outcome {
            Ok(reply) => prop_assert!(request.is_some() && reply.is_object(), "reply {}", reply),
            Err(e) => {
                let code = check_function_error(e)?;
                match &request {
                    None => prop_assert_eq!(code, "BadRequestException", "input {}", input),
                    Some(WriteManifestRequest::Finalize { .. }) => {}
                    Some(_) => prop_assert_ne!(code, "ServiceFailureException", "input {}", input),
                }
                prop_assert!(
                    !matches!(code, "TransientError" | "ConfigurationError"),
                    "{} for {}",
                    code,
                    input
                );
            }
        }
        Ok(())
    }

    proptest! {
        // A failing case is kept as a regular #[test], not in a proptest-regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn arbitrary_json_is_refused_cleanly(input in json_value(), part_written in any::<bool>()) {
            run(&input, part_written)?;
        }

        #[test]
        fn mutated_sample_events_are_refused_cleanly(
            (_name, input) in mutated(super::tests::events()),
            part_written in any::<bool>(),
        ) {
            run(&input, part_written)?;
        }
    }

    /// Found by `mutated_sample_events_are_refused_cleanly`: Finalize with `listed` at u64::MAX
    /// overflowed the CSV line count (a panic in debug builds, a wrong count in release); byte
    /// totals whose sum passes u64::MAX did the same.
    #[test]
    fn regression_finalize_counts_at_u64_max_do_not_overflow() {
        let mut listed: Value = serde_json::from_str(super::tests::sample("finalize.json")).unwrap();
        listed["listed"] = json!(u64::MAX);
        let mut bytes: Value = serde_json::from_str(super::tests::sample("finalize.json")).unwrap();
        bytes["totals"] =
            json!({"DIRECT": {"count": 1, "bytes": u64::MAX}, "ROOM": {"count": 1, "bytes": 1}});
        for input in [listed, bytes] {
            run(&input, true).unwrap();
        }
    }

    /// Found by `mutated_sample_events_are_refused_cleanly`: a finalize payload claiming u32::MAX
    /// parts made Finalize reserve room for every part key up front (about 100 GB) and abort the
    /// process; now the first missing part refuses it.
    #[test]
    fn regression_a_huge_part_count_is_refused_not_an_abort() {
        let mut input: Value = serde_json::from_str(super::tests::sample("finalize.json")).unwrap();
        input["partCount"] = json!(u32::MAX);
        run(&input, true).unwrap();
    }
}
