//! The Enumerate step's handler: parse the step input, run the enumeration within the invocation's
//! time, return the loop state.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use export_core::Error;
use export_core::payloads::{EnumerateRequest, EnumerateResponse};
use export_core::pipeline::Enumerator;
use export_core::ports::{AttachmentCatalog, Clock, ExportStore, ObjectStore};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub struct Deps<C, S, O, K> {
    pub catalog: C,
    pub store: S,
    pub objects: O,
    pub clock: K,
    pub part_items: usize,
}

pub async fn handler<C, S, O, K>(
    deps: &Deps<C, S, O, K>,
    event: LambdaEvent<Value>,
) -> Result<EnumerateResponse, Error>
where
    C: AttachmentCatalog,
    S: ExportStore,
    O: ObjectStore,
    K: Clock,
{
    let request: EnumerateRequest = serde_json::from_value(event.payload)
        .map_err(|e| Error::BadRequest(format!("not an Enumerate step input: {e}")))?;
    let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
    let remaining = move || deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
    let enumerator = Enumerator {
        catalog: &deps.catalog,
        store: &deps.store,
        objects: &deps.objects,
        clock: &deps.clock,
        part_items: deps.part_items,
    };
    enumerator.run(request, remaining).await
}

#[cfg(test)]
mod tests {
    use export_core::model::{AccountType, ExportFormat, ExportRecord, ExportStatus, RequestedBy, Via};
    use export_core::testing::{FakeCatalog, FakeObjectStore, FakeStore, FixedClock};
    use lambda_runtime::Context;

    use super::*;

    const EVENTS: &[(&str, &str)] = &[
        ("first-pass.json", include_str!("../../../events/enumerate-attachments/first-pass.json")),
        ("next-pass.json", include_str!("../../../events/enumerate-attachments/next-pass.json")),
        ("bad-input.json", include_str!("../../../events/enumerate-attachments/bad-input.json")),
    ];

    fn deps() -> Deps<FakeCatalog, FakeStore, FakeObjectStore, FixedClock> {
        let catalog = FakeCatalog::default();
        let account = export_core::ids::AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        catalog.insert_account(account.clone(), AccountType::Enterprise, false);
        let store = FakeStore::default();
        let mut record = ExportRecord::new_request(
            account,
            ExportFormat::Csv,
            RequestedBy { principal: "p".into(), via: Via::Api },
            None,
            export_core::Timestamp::parse("2026-11-24T10:00:00Z").unwrap(),
        );
        record.export_id = "01KAW6ZQ5V0000000000000000".parse().unwrap();
        store.insert(record);
        Deps {
            catalog,
            store,
            objects: FakeObjectStore::default(),
            clock: FixedClock::at("2026-11-24T10:01:00Z"),
            part_items: 100,
        }
    }

    fn event(json: &str) -> LambdaEvent<Value> {
        let mut context = Context::default();
        context.deadline =
            (SystemTime::now() + Duration::from_secs(60)).duration_since(UNIX_EPOCH).unwrap().as_millis()
                as u64;
        LambdaEvent::new(serde_json::from_str(json).unwrap(), context)
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        for (name, json) in EVENTS {
            let deps = deps();
            let outcome = handler(&deps, event(json)).await;
            match *name {
                "bad-input.json" => assert_eq!(outcome.unwrap_err().code(), "BadRequestException", "{name}"),
                _ => {
                    let reply = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(reply.done, "{name}: an empty account is listed in one pass");
                    let record = deps.store.records(&"6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f".parse().unwrap())
                        [0]
                    .clone();
                    assert_eq!(record.status, ExportStatus::Running, "{name}");
                }
            }
        }
    }

    #[test]
    fn every_file_under_events_is_covered() {
        let covered: Vec<&str> = EVENTS.iter().map(|(n, _)| *n).collect();
        export_core::testing::assert_every_sample_event_is_covered(
            env!("CARGO_MANIFEST_DIR"),
            "enumerate-attachments",
            &covered,
        );
    }
}
