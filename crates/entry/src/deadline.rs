//! How long an invocation has left, from the runtime's `Lambda-Runtime-Deadline-Ms`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Epoch milliseconds of 2001-09-09: any real deadline is later.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The time left until `deadline_ms`, as a clock the caller polls. Lambda sends the deadline as
/// epoch milliseconds; `cargo lambda watch` (the local stack's runtime) sends the function's
/// timeout instead (600000), which as an epoch time lies in 1970 and would leave no time at all:
/// Enumerate then wrote one part per pass, and the local history grew 7 events a part where
/// AWS's grows 5 a pass. A deadline that small is taken as that many milliseconds from now.
pub fn time_left(deadline_ms: u64) -> impl Fn() -> Duration + Send + Sync + 'static {
    enum Deadline {
        At(SystemTime),
        After(Instant),
    }
    let deadline = if deadline_ms >= EPOCH_MS_FLOOR {
        Deadline::At(UNIX_EPOCH + Duration::from_millis(deadline_ms))
    } else {
        Deadline::After(Instant::now() + Duration::from_millis(deadline_ms))
    };
    move || match deadline {
        Deadline::At(at) => at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO),
        Deadline::After(at) => at.saturating_duration_since(Instant::now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_deadline_counts_down_to_it_and_a_past_one_leaves_nothing() {
        let in_a_minute = (SystemTime::now() + Duration::from_secs(60)).duration_since(UNIX_EPOCH).unwrap();
        let left = time_left(in_a_minute.as_millis() as u64)();
        assert!(left > Duration::from_secs(58) && left <= Duration::from_secs(60), "{left:?}");
        let an_hour_ago = (SystemTime::now() - Duration::from_secs(3600)).duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(time_left(an_hour_ago.as_millis() as u64)(), Duration::ZERO);
    }

    #[test]
    fn the_local_runtimes_timeout_is_taken_as_time_from_now() {
        let left = time_left(600_000)();
        assert!(left > Duration::from_secs(599) && left <= Duration::from_secs(600), "{left:?}");
        assert_eq!(time_left(0)(), Duration::ZERO);
    }
}
