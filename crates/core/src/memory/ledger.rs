//! The sweep's record in memory (the `SweepLedger` port).

use std::sync::{Arc, Mutex};

use crate::domain::error::Result;

/// The sweep's record in memory, with the ledger's version check.
#[derive(Clone, Default)]
pub struct FakeSweepLedger {
    record: Arc<Mutex<Option<crate::rules::sweep::SweepRecord>>>,
}

impl crate::ports::SweepLedger for FakeSweepLedger {
    async fn load(&self) -> Result<Option<crate::rules::sweep::SweepRecord>> {
        Ok(self.record.lock().unwrap().clone())
    }

    async fn save(
        &self,
        record: &crate::rules::sweep::SweepRecord,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        let mut stored = self.record.lock().unwrap();
        if stored.as_ref().map(|r| r.version) != expected_version {
            return Ok(false);
        }
        *stored = Some(record.clone());
        Ok(true)
    }
}
