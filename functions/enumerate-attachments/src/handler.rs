//! The listing's handler (Plan, a ListSegments pass, Close): parse the step input, run the step
//! within the invocation's time, return its state.

use export_core::domain::payloads::{EnumerateReply, EnumerateRequest};
use export_core::rules::pipeline::Enumerator;
use export_core::{Backend, Error};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handler<B: Backend>(
    enumerator: &Enumerator<B>,
    event: LambdaEvent<Value>,
) -> Result<EnumerateReply, Error> {
    let request: EnumerateRequest = serde_json::from_value(event.payload)
        .map_err(|e| Error::BadRequest(format!("not an Enumerate step input: {e}")))?;
    enumerator.run(request, entry::deadline::time_left(event.context.deadline)).await
}

#[cfg(test)]
mod tests {
    use export_core::domain::model::{
        AccountType, ExportFormat, ExportRecord, ExportStatus, RequestedBy, Via,
    };
    use export_core::memory::{Harness, InMemory, World};
    use lambda_runtime::Context;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    /// What each sample event under events/enumerate-attachments/ must produce, on the sample
    /// export (an empty account's, QUEUED) once the steps before it ran: for a segment or Close
    /// event, the Plan step; for Close, segment 0 too.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Expect {
        /// One segment planned; the export RUNNING.
        Planned,
        /// The empty account's only segment listed in one pass.
        SegmentListed,
        /// The enumeration recorded: no parts.
        Closed,
        FunctionError(&'static str),
    }

    const EVENTS: &[(&str, Expect)] = &[
        ("plan.json", Expect::Planned),
        ("segment.json", Expect::SegmentListed),
        ("close.json", Expect::Closed),
        // A segment the plan does not have: refused, nothing written.
        ("segment-beyond-plan.json", Expect::FunctionError("BadRequestException")),
        // An input that names where to resume (a forgery that would skip rows): refused; a pass
        // resumes from its segment's checkpoint only.
        ("forged-cursor.json", Expect::FunctionError("BadRequestException")),
        // The single-cursor loop's input (an execution started before the segmented listing):
        // refused with a clear error, which fails that export through RecordFailure.
        ("old-shape.json", Expect::FunctionError("BadRequestException")),
        ("bad-input.json", Expect::FunctionError("BadRequestException")),
    ];

    /// The steps that run before a sample event, by its mode.
    pub(super) async fn steps_before(deps: &Harness<Enumerator<InMemory>>, json: &str) {
        let input: Value = serde_json::from_str(json).unwrap();
        let mode = input["mode"].as_str().unwrap_or_default();
        if mode == "segment" || mode == "close" {
            handler(&deps.function, event(sample("plan.json"))).await.unwrap();
        }
        if mode == "close" {
            handler(&deps.function, event(sample("segment.json"))).await.unwrap();
        }
    }

    pub(super) fn events() -> Vec<(&'static str, &'static str, Expect)> {
        export_core::testing::sample_events(env!("CARGO_MANIFEST_DIR"), "enumerate-attachments", EVENTS)
    }

    pub(super) fn sample(name: &str) -> &'static str {
        events().into_iter().find(|(n, _, _)| *n == name).expect("a sample event").1
    }

    pub(super) fn deps() -> Harness<Enumerator<InMemory>> {
        let world = World::at("2026-11-24T10:01:00Z");
        let account =
            export_core::domain::ids::AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        world.directory.insert_account(account.clone(), AccountType::Enterprise, false);
        let mut record = ExportRecord::new_request(
            account.into(),
            ExportFormat::Csv,
            RequestedBy { principal: "p".into(), via: Via::Api, person: None },
            None,
            export_core::Timestamp::parse("2026-11-24T10:00:00Z").unwrap(),
        );
        record.export_id = "01KAW6ZQ5V0000000000000000".parse().unwrap();
        world.store.insert(record);
        let function = world.enumerator(100);
        Harness { world, function }
    }

    fn sample_owner() -> export_core::domain::owner::ExportOwner {
        export_core::domain::ids::AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap().into()
    }

    pub(super) fn event(json: &str) -> LambdaEvent<Value> {
        let mut context = Context::default();
        context.deadline =
            (SystemTime::now() + Duration::from_secs(60)).duration_since(UNIX_EPOCH).unwrap().as_millis()
                as u64;
        LambdaEvent::new(serde_json::from_str(json).unwrap(), context)
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        for (name, json, expect) in events() {
            let deps = deps();
            steps_before(&deps, json).await;
            let outcome = handler(&deps.function, event(json)).await;
            let record = || deps.store.records(sample_owner())[0].clone();
            match (expect, outcome) {
                (Expect::FunctionError(code), outcome) => {
                    assert_eq!(outcome.unwrap_err().code(), code, "{name}");
                    assert!(record().enumerated.is_none(), "{name}: nothing recorded");
                }
                (Expect::Planned, Ok(EnumerateReply::Plan(plan))) => {
                    assert_eq!(plan.segments, 1, "{name}: an empty account is one segment");
                    assert_eq!(record().status, ExportStatus::Running, "{name}");
                }
                (Expect::SegmentListed, Ok(EnumerateReply::Segment(segment))) => {
                    assert!(segment.done && segment.part_count == 0, "{name}: {segment:?}");
                }
                (Expect::Closed, Ok(EnumerateReply::Close(closed))) => {
                    assert!(closed.done && closed.part_count == 0, "{name}: {closed:?}");
                    assert_eq!(record().enumerated.map(|e| e.part_count), Some(0), "{name}");
                }
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile step inputs: arbitrary JSON and mutated sample events never panic; an input that is
    //! not an Enumerate step input is a `BadRequestException`; every error has a documented
    //! errorType and, the fakes being healthy, is never a service failure.
    use export_core::domain::ids::AccountId;

    use export_core::domain::payloads::EnumerateRequest;
    use export_core::memory::{Harness, InMemory};
    use fuzzing::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use serde_json::json;

    use super::*;

    /// The sample export, with two in-scope attachments after the sample cursor.
    fn deps() -> Harness<Enumerator<InMemory>> {
        let deps = super::tests::deps();
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        let uploader = deps.directory.add_user(&account, true);
        // Uploaded by a managed user (in scope), after the sample cursor.
        let first = export_core::Timestamp::parse("2026-07-01T00:00:00Z").unwrap();
        let mut attachments = export_core::contracts::attachments_a_minute_apart(&account, first, 2);
        for a in &mut attachments {
            a.uploader_id = uploader.clone();
        }
        deps.directory.attachments.lock().unwrap().insert(account, attachments);
        deps
    }

    fn run(input: &Value) -> Result<(), TestCaseError> {
        let deps = deps();
        let mut event = super::tests::event("null");
        event.payload = input.clone();
        let request = serde_json::from_value::<EnumerateRequest>(input.clone()).ok();
        // A mutated segment or Close input meets the sample export planned (and listed, for Close).
        if request.is_some() {
            runtime().block_on(super::tests::steps_before(&deps, &input.to_string()));
        }
        match runtime().block_on(handler(&deps.function, event)) {
            Ok(reply) => {
                prop_assert!(request.is_some(), "only a step input runs");
                if let EnumerateReply::Close(reply) = reply {
                    let key = reply.parts_key.as_deref().unwrap_or_default();
                    let listed: Vec<u32> =
                        serde_json::from_slice(&deps.objects.objects.lock().unwrap()[key]).unwrap();
                    prop_assert_eq!(listed, (1..=reply.part_count).collect::<Vec<_>>());
                }
            }
            Err(e) => {
                let code = check_healthy_error(e, input)?;
                if request.is_none() {
                    prop_assert_eq!(code, "BadRequestException", "input {}", input);
                }
            }
        }
        Ok(())
    }

    proptest! {
        // A failing case is kept as a regular #[test], not in a proptest-regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn arbitrary_json_is_refused_cleanly(input in json_value()) {
            run(&input)?;
        }

        #[test]
        fn mutated_sample_events_are_refused_cleanly((_name, input) in mutated(super::tests::events().into_iter().map(|(n, j, _)| (n, j)).collect())) {
            run(&input)?;
        }
    }

    /// Once found by `mutated_sample_events_are_refused_cleanly`: a hostile `listed` at u64::MAX
    /// or `partCount` near u32::MAX in the input overflowed the counts. The input no longer names
    /// counts: such an input is refused, and the pass counts from the store.
    #[test]
    fn regression_hostile_counts_in_the_input_are_refused() {
        for (field, value) in [("listed", json!(u64::MAX)), ("partCount", json!(u32::MAX))] {
            let mut input: Value = serde_json::from_str(super::tests::sample("segment.json")).unwrap();
            input[field] = value;
            for deps in [super::tests::deps(), deps()] {
                let mut event = super::tests::event("null");
                event.payload = input.clone();
                let err = runtime().block_on(handler(&deps.function, event)).unwrap_err();
                assert_eq!(err.code(), "BadRequestException", "{field}: {err}");
            }
        }
    }
}
