//! Times are RFC 3339 UTC with milliseconds (`2026-11-24T10:15:30.123Z`), DESIGN §4. The fixed width
//! makes string order equal time order, which the throttle's DynamoDB condition relies on.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::error::Error;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Truncates to whole milliseconds, the stored precision, so a value survives a round trip.
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        let ms = t.timestamp_millis();
        Self(DateTime::from_timestamp_millis(ms).expect("milliseconds of a valid time are valid"))
    }

    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(ms).map(Self)
    }

    pub fn parse(value: &str) -> Result<Self, Error> {
        DateTime::parse_from_rfc3339(value).map(|t| Self::from_datetime(t.with_timezone(&Utc))).map_err(
            |_| {
                Error::BadRequest(format!(
                    "expected an RFC 3339 time such as 2026-11-24T10:15:30.123Z; got {}",
                    crate::domain::ids::quote_for_message(value)
                ))
            },
        )
    }

    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn plus(&self, d: Duration) -> Self {
        Self(self.0 + chrono::Duration::from_std(d).expect("durations in this system are small"))
    }

    /// Whole seconds from `self` until `later`, rounded up (a `Retry-After` must not be early); 0 if
    /// `later` is not after `self`.
    pub fn seconds_until(&self, later: &Timestamp) -> u64 {
        let ms = later.unix_millis() - self.unix_millis();
        if ms <= 0 { 0 } else { (ms as u64).div_ceil(1000) }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds_and_round_trips() {
        let t = Timestamp::parse("2026-11-24T11:15:30.123456+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T10:15:30.123Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        let whole = Timestamp::parse("2026-11-24T10:15:30Z").unwrap();
        assert_eq!(whole.to_string(), "2026-11-24T10:15:30.000Z");
    }

    #[test]
    fn string_order_is_time_order() {
        let a = Timestamp::parse("2026-11-24T10:15:30.999Z").unwrap();
        let b = a.plus(Duration::from_millis(1));
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn seconds_until_rounds_up_and_never_goes_negative() {
        let a = Timestamp::parse("2026-11-24T10:00:00.000Z").unwrap();
        assert_eq!(a.seconds_until(&a.plus(Duration::from_millis(1))), 1);
        assert_eq!(a.seconds_until(&a.plus(Duration::from_secs(604_800))), 604_800);
        assert_eq!(a.plus(Duration::from_secs(5)).seconds_until(&a), 0);
    }

    #[test]
    fn rejects_non_rfc3339() {
        assert!(Timestamp::parse("24/11/2026").is_err());
        assert!(Timestamp::parse("2026-11-24 10:00:00").is_err());
    }
}
