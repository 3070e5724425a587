//! Server timestamps: UTC with microsecond precision, written as fixed-width RFC 3339 text.

use std::fmt;
use time::{format_description::FormatItem, macros::format_description, OffsetDateTime};

/// Fixed width: 27 characters, so text order equals time order for years 0000 to 9999.
const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A point in time in microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(i64);

/// A timestamp given as text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "timestamp {text:?} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC, 6 fractional digits)"
)]
pub struct TimestampParseError {
    pub text: String,
}

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let now = OffsetDateTime::now_utc();
        Timestamp((now.unix_timestamp_nanos() / 1_000) as i64)
    }

    /// Reads the fixed-width RFC 3339 form this type writes.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampParseError> {
        let err = || TimestampParseError {
            text: text.to_owned(),
        };
        // Fixed positions: YYYY-MM-DDTHH:MM:SS.ffffffZ. Reading digits in place is many times
        // faster than a format description, and verification reads one per event.
        let b = text.as_bytes();
        if b.len() != 27
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[26] != b'Z'
        {
            return Err(err());
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, TimestampParseError> {
            b[range].iter().try_fold(0u32, |acc, &c| match c {
                b'0'..=b'9' => Ok(acc * 10 + u32::from(c - b'0')),
                _ => Err(err()),
            })
        };
        let year = num(0..4)? as i32;
        let month = time::Month::try_from(num(5..7)? as u8).map_err(|_| err())?;
        let date =
            time::Date::from_calendar_date(year, month, num(8..10)? as u8).map_err(|_| err())?;
        let clock = time::Time::from_hms_micro(
            num(11..13)? as u8,
            num(14..16)? as u8,
            num(17..19)? as u8,
            num(20..26)?,
        )
        .map_err(|_| err())?;
        let nanos = date.with_time(clock).assume_utc().unix_timestamp_nanos();
        Ok(Timestamp((nanos / 1_000) as i64))
    }

    fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000).ok()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime().and_then(|dt| dt.format(FORMAT).ok()) {
            Some(text) => f.write_str(&text),
            None => write!(f, "<out-of-range timestamp {} us>", self.0),
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders_as_text() {
        let a = Timestamp::from_micros(1_764_016_514_123_456);
        let text = a.to_string();
        assert_eq!(text, "2025-11-24T20:35:14.123456Z");
        assert_eq!(Timestamp::parse(&text), Ok(a));
        let b = Timestamp::from_micros(a.as_micros() + 1);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "2025-11-24T20:35:14Z",
            "2025-11-24T20:35:14.123456+00:00",
            "2025-11-24 20:35:14.123456Z",
            "2025-13-24T20:35:14.123456Z",
            "2025-02-30T20:35:14.123456Z",
            "2025-11-24T24:35:14.123456Z",
            "2025-11-24T20:35:14.12345xZ",
            "+025-11-24T20:35:14.123456Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
