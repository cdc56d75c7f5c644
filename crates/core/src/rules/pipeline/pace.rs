//! Rate caps an export shares among its workers: the catalog reads of its listing segments
//! (`MAX_READ_RATE`) and the HEADs of its object checks (`MAX_CHECK_RATE`). Each worker keeps to
//! `rate / workers` a second on its own, so the export's workers together keep to `rate` without
//! talking to each other.

use std::time::{Duration, Instant};

/// One worker's share of an export's rate, counted from when it began.
pub(super) struct ReadPace {
    per_second: f64,
    started: Instant,
    read: u64,
}

impl ReadPace {
    /// `rate` a second (0: no cap) shared by `workers`.
    pub(super) fn new(rate: u32, workers: u32) -> Self {
        Self { per_second: share(rate, workers), started: Instant::now(), read: 0 }
    }

    /// Counts `rows` more; the wait before the next.
    pub(super) fn read(&mut self, rows: usize) -> Duration {
        self.read += rows as u64;
        pace_wait(self.read, self.per_second, self.started.elapsed())
    }
}

/// A worker's share of `rate` a second among `workers` (0: no cap).
pub(super) fn share(rate: u32, workers: u32) -> f64 {
    f64::from(rate) / f64::from(workers.max(1))
}

/// When the `n`th request (from 0) of a worker kept to `per_second` may start, from its start
/// (at once without a cap).
pub(super) fn due(n: u64, per_second: f64) -> Duration {
    if per_second <= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(n as f64 / per_second) }
}

/// How long a reader that has read `read` rows in `elapsed` waits to be within `per_second`
/// (0: no cap).
fn pace_wait(read: u64, per_second: f64, elapsed: Duration) -> Duration {
    due(read, per_second).saturating_sub(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_waits_until_its_rows_fit_its_rate() {
        // 1,000 rows at 500 a second take two seconds: after half a second, wait one and a half.
        assert_eq!(pace_wait(1_000, 500.0, Duration::from_millis(500)), Duration::from_millis(1_500));
        assert_eq!(pace_wait(1_000, 500.0, Duration::from_secs(3)), Duration::ZERO, "already slower");
        assert_eq!(pace_wait(1_000_000, 0.0, Duration::ZERO), Duration::ZERO, "no cap");
        // The export's rate is shared by its workers.
        let pace = ReadPace::new(8_000, 8);
        assert_eq!(pace.per_second, 1_000.0);
        assert_eq!(share(20_000, 8), 2_500.0);
        assert_eq!(due(2_500, 2_500.0), Duration::from_secs(1));
        assert_eq!(due(u64::MAX, 0.0), Duration::ZERO);
    }
}
