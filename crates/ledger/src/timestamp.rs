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
        // Fixed positions: YYYY-MM-DDTHH:MM:SS.ffffffZ. Every position holds its separator or a
        // digit; all 27 are checked without branching (side by side), then the digits are read
        // in place: many times faster than a format description, and verification reads one
        // timestamp per event.
        const SHAPE: &[u8; 27] = b"0000-00-00T00:00:00.000000Z";
        let Ok(b) = <&[u8; 27]>::try_from(text.as_bytes()) else {
            return Err(err());
        };
        let misfits = b.iter().zip(SHAPE).fold(0u8, |acc, (&c, &shape)| {
            let wrong = if shape == b'0' {
                c.wrapping_sub(b'0') > 9
            } else {
                c != shape
            };
            acc | u8::from(wrong)
        });
        if misfits != 0 {
            return Err(err());
        }
        let digit = |i: usize| u32::from(b[i].wrapping_sub(b'0'));
        let two = |i: usize| digit(i) * 10 + digit(i + 1);
        let year = i64::from(two(0) * 100 + two(2));
        let (month, day) = (two(5), two(8));
        let (hour, minute, second) = (two(11), two(14), two(17));
        let micros = two(20) * 10_000 + two(22) * 100 + two(24);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => 0,
        };
        if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
            return Err(err());
        }
        // Days since 1970-01-01 in the proleptic Gregorian calendar, counted in 400-year eras
        // of years starting in March (so a leap day ends its year). Plain integer arithmetic:
        // verification parses one timestamp per event.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let shifted_month = i64::from(if month > 2 { month - 3 } else { month + 9 });
        let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Ok(Timestamp(seconds * 1_000_000 + i64::from(micros)))
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

    /// The calendar arithmetic agrees with the `time` crate's, for valid and invalid dates.
    #[test]
    fn parses_as_the_time_crate_does() {
        let by_time = |text: &str| {
            time::PrimitiveDateTime::parse(text, FORMAT)
                .ok()
                .map(|dt| (dt.assume_utc().unix_timestamp_nanos() / 1_000) as i64)
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        for i in 0..200_000 {
            let year = if i % 3 == 0 {
                next(10_000)
            } else {
                1600 + next(900)
            };
            let text = format!(
                "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                next(14),
                next(33),
                next(26),
                next(62),
                next(62),
                next(1_000_000)
            );
            assert_eq!(
                Timestamp::parse(&text).ok().map(Timestamp::as_micros),
                by_time(&text),
                "{text}"
            );
        }
        for text in [
            "0000-01-01T00:00:00.000000Z",
            "0000-02-29T00:00:00.000000Z",
            "1900-02-29T00:00:00.000000Z",
            "2000-02-29T23:59:59.999999Z",
            "1969-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(
                Timestamp::parse(text).ok().map(Timestamp::as_micros),
                by_time(text),
                "{text}"
            );
        }
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
