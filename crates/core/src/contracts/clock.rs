//! Clock: the time, at the precision records store.

use crate::Timestamp;
use crate::ports::Clock;

/// A time the clock tells survives a record's round trip (whole milliseconds), and a later reading
/// is never earlier.
pub fn a_clock_tells_stored_times_and_never_goes_back<K: Clock>(clock: &K) {
    let first = clock.now();
    assert_eq!(Timestamp::parse(&first.to_string()).unwrap(), first);
    let second = clock.now();
    assert!(second >= first, "{second} is before {first}");
}
