//! SweepLedger: one record, saved only over the version it was read at.

use std::time::Duration;

use crate::Timestamp;
use crate::ports::SweepLedger;

pub async fn the_sweep_ledger_saves_only_over_the_version_it_read<L: SweepLedger>(ledger: &L) {
    use crate::rules::sweep::{InFlight, SweepPhase, SweepRecord, SweepReport};
    let now = Timestamp::parse("2026-11-30T03:00:00Z").unwrap();
    let mut record = SweepRecord {
        started_at: now,
        rule: "arn:aws:events:us-east-1:000000000000:rule/contract".into(),
        start_exports: true,
        phase: SweepPhase::Accounts,
        cursor: Some("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f".into()),
        report: SweepReport { started: 1, skipped: 2, failed: 0, recovered: 3, paced: 4 },
        invocations: 1,
        updated_at: now,
        completed_at: None,
        lease_until: now.plus(Duration::from_secs(900)),
        version: 1,
        // The sweep's exports in flight read back, ids and all.
        in_flight: vec![InFlight {
            account_id: crate::domain::ids::AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap(),
            export_id: "01KAW6ZQ5V0000000000000000".parse().unwrap(),
        }],
    };
    assert_eq!(ledger.load().await.unwrap(), None, "a fresh ledger holds no sweep");
    assert!(ledger.save(&record, None).await.unwrap(), "the first save expects no record");
    assert!(!ledger.save(&record, None).await.unwrap(), "a second first save loses");
    assert_eq!(ledger.load().await.unwrap().as_ref(), Some(&record), "what was saved reads back");
    record.version = 2;
    record.cursor = None;
    record.phase = SweepPhase::Done;
    record.completed_at = Some(now.plus(Duration::from_secs(60)));
    assert!(!ledger.save(&record, Some(0)).await.unwrap(), "a stale version loses");
    assert!(ledger.save(&record, Some(1)).await.unwrap());
    assert_eq!(ledger.load().await.unwrap().as_ref(), Some(&record));
    assert!(!ledger.save(&record, Some(1)).await.unwrap(), "the version moved on");
}
