//! One side (reference or current) of a column as the drift tests take it: numbers cleaned as
//! Evidently cleans them (NaN and infinities dropped, and counted here so that nothing is dropped
//! silently) and sorted once, or categories counted. A [`NumericSample`] of the reference is
//! the reusable reference summary: built once, it serves every current batch.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::DriftError;
use crate::radix::{self, Digits, SortScratch};

/// Which side of the comparison a sample is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Reference,
    Current,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Reference => "reference",
            Side::Current => "current",
        })
    }
}

/// What was dropped from a side before testing (Evidently drops these too; here they are counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// NaN cells (numbers) or missing cells (categories).
    pub missing: u64,
    pub positive_infinity: u64,
    pub negative_infinity: u64,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.missing + self.positive_infinity + self.negative_infinity
    }

    fn count_non_finite(&mut self, value: f64) {
        if value.is_nan() {
            self.missing += 1;
        } else if value > 0.0 {
            self.positive_infinity += 1;
        } else {
            self.negative_infinity += 1;
        }
    }
}

/// The finite values of one numeric column side, sorted ascending (-0.0 read as 0.0), with
/// their count of distinct values, population standard deviation and what was dropped.
///
/// A reference summary is made once and stored: [`NumericSample::to_bytes`] (a compact binary
/// form) or serde, whose `sorted` field is the values as little-endian `f64` bytes (base64 text
/// in human-readable formats such as JSON). Reading one back checks the values are finite,
/// ascending, without -0.0 and of the distinct count stored, in one pass; nothing is re-sorted.
#[derive(Clone, Debug, PartialEq)]
pub struct NumericSample {
    side: Side,
    sorted: Vec<f64>,
    distinct: usize,
    std: f64,
    dropped: Dropped,
}

impl NumericSample {
    /// Cleans and sorts `values`: NaN and infinities are dropped (and counted). An empty column,
    /// or one with no finite value, is an error naming the side.
    pub fn new(side: Side, values: &[f64]) -> Result<NumericSample, DriftError> {
        NumericSample::with_scratch(side, values, &mut SortScratch::default())
    }

    /// [`NumericSample::new`] sorting in `scratch`'s buffers, which a caller summarising many
    /// columns reuses from one to the next.
    pub(crate) fn with_scratch(
        side: Side,
        values: &[f64],
        scratch: &mut SortScratch,
    ) -> Result<NumericSample, DriftError> {
        if values.is_empty() {
            return Err(DriftError::EmptyColumn { side });
        }
        let (sorted, dropped) = clean_and_sort(values, scratch);
        if sorted.is_empty() {
            return Err(DriftError::NoFiniteValues {
                side,
                nan: dropped.missing,
                infinite: dropped.positive_infinity + dropped.negative_infinity,
            });
        }
        // One pass over the sorted values counts the distinct ones and sums them (in ascending
        // order, so the same values give the same figures whatever order they came in).
        let mut distinct = 1;
        let mut sum = Sum::default();
        let mut previous = sorted[0];
        for &value in &sorted {
            distinct += usize::from(value != previous);
            previous = value;
            sum.add(value);
        }
        let std = population_std(&sorted, sum.value());
        Ok(NumericSample {
            side,
            sorted,
            distinct,
            std,
            dropped,
        })
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// The finite values, ascending.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// The number of finite values (the rows the tests count).
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Never true: a sample holds at least one finite value.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Distinct finite values on this side.
    pub fn distinct(&self) -> usize {
        self.distinct
    }

    /// The population standard deviation (ddof 0) of the finite values, as `numpy.std`.
    pub fn std(&self) -> f64 {
        self.std
    }

    pub fn dropped(&self) -> Dropped {
        self.dropped
    }
}

/// The categories of one column side and how often each occurs; missing cells dropped (counted).
/// Serialisable, to be stored beside the numeric summaries; reading one back checks that the
/// rows are the sum of the counts and that there is at least one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredCategories")]
pub struct CategoryCounts {
    side: Side,
    counts: BTreeMap<String, u64>,
    rows: u64,
    dropped: Dropped,
}

impl CategoryCounts {
    /// Counts the categories; `None` is a missing cell. An empty column, or one with only
    /// missing cells, is an error naming the side.
    pub fn new<I, S>(side: Side, values: I) -> Result<CategoryCounts, DriftError>
    where
        I: IntoIterator<Item = Option<S>>,
        S: AsRef<str>,
    {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut rows = 0;
        let mut dropped = Dropped::default();
        for value in values {
            match value {
                Some(value) => {
                    rows += 1;
                    let value = value.as_ref();
                    match counts.get_mut(value) {
                        Some(count) => *count += 1,
                        None => {
                            counts.insert(value.to_owned(), 1);
                        }
                    }
                }
                None => dropped.missing += 1,
            }
        }
        if rows == 0 {
            return Err(if dropped.missing == 0 {
                DriftError::EmptyColumn { side }
            } else {
                DriftError::OnlyMissing {
                    side,
                    missing: dropped.missing,
                }
            });
        }
        Ok(CategoryCounts {
            side,
            counts,
            rows,
            dropped,
        })
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// Each category (code-point order) and its count.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// Rows with a category (missing cells not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    pub fn dropped(&self) -> Dropped {
        self.dropped
    }
}

// ---------------------------------------------------------------------------------------------
// Stored summaries

/// The first bytes of [`NumericSample::to_bytes`].
const SAMPLE_MAGIC: &[u8; 8] = b"MTNUMS1\n";
/// Magic, side, the three dropped counts, distinct, std, count: the bytes before the values.
const SAMPLE_HEADER: usize = 8 + 1 + 8 * 6;

fn side_byte(side: Side) -> u8 {
    match side {
        Side::Reference => 0,
        Side::Current => 1,
    }
}

fn bad_summary(why: impl Into<String>) -> DriftError {
    DriftError::BadSummary(why.into())
}

/// The values as little-endian `f64` bytes, one after the other.
fn values_to_le_bytes(values: &[f64], out: &mut Vec<u8>) {
    out.reserve(values.len() * 8);
    for value in values {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

impl NumericSample {
    /// The compact stored form, all integers and floats little-endian: `MTNUMS1\n`, the side
    /// (0 reference, 1 current), the dropped NaN, +inf and -inf counts (`u64`), the distinct
    /// count (`u64`), the standard deviation (`f64`), the number of values (`u64`), then the
    /// sorted values (`f64`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SAMPLE_HEADER + 8 * self.sorted.len());
        out.extend_from_slice(SAMPLE_MAGIC);
        out.push(side_byte(self.side));
        for count in [
            self.dropped.missing,
            self.dropped.positive_infinity,
            self.dropped.negative_infinity,
            self.distinct as u64,
        ] {
            out.extend_from_slice(&count.to_le_bytes());
        }
        out.extend_from_slice(&self.std.to_le_bytes());
        out.extend_from_slice(&(self.sorted.len() as u64).to_le_bytes());
        values_to_le_bytes(&self.sorted, &mut out);
        out
    }

    /// Reads [`NumericSample::to_bytes`] back, checking it as serde's reading does.
    pub fn from_bytes(bytes: &[u8]) -> Result<NumericSample, DriftError> {
        let header = bytes
            .get(..SAMPLE_HEADER)
            .ok_or_else(|| bad_summary("shorter than its header"))?;
        if &header[..8] != SAMPLE_MAGIC {
            return Err(bad_summary("it does not start with MTNUMS1"));
        }
        let side = match header[8] {
            0 => Side::Reference,
            1 => Side::Current,
            other => return Err(bad_summary(format!("side byte {other}"))),
        };
        let word = |index: usize| {
            let at = 9 + 8 * index;
            let mut word = [0u8; 8];
            word.copy_from_slice(&header[at..at + 8]);
            word
        };
        let count = |index: usize| u64::from_le_bytes(word(index));
        let dropped = Dropped {
            missing: count(0),
            positive_infinity: count(1),
            negative_infinity: count(2),
        };
        let values = &bytes[SAMPLE_HEADER..];
        if values.len() as u64 != count(5).saturating_mul(8) {
            return Err(bad_summary(format!(
                "it says {} values but holds {} bytes of them",
                count(5),
                values.len()
            )));
        }
        StoredSample {
            side,
            distinct: count(3),
            std: f64::from_le_bytes(word(4)),
            dropped,
            sorted: LeValues(values_from_le_bytes(values)?),
        }
        .check()
    }
}

/// The values of little-endian `f64` bytes (a whole number of them).
fn values_from_le_bytes(bytes: &[u8]) -> Result<Vec<f64>, DriftError> {
    if bytes.len() % 8 != 0 {
        return Err(bad_summary(format!(
            "{} bytes of values is not a whole number of f64",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            f64::from_le_bytes(word)
        })
        .collect())
}

impl Serialize for NumericSample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("NumericSample", 5)?;
        state.serialize_field("side", &self.side)?;
        state.serialize_field("distinct", &(self.distinct as u64))?;
        state.serialize_field("std", &self.std)?;
        state.serialize_field("dropped", &self.dropped)?;
        state.serialize_field("sorted", &LeValuesRef(&self.sorted))?;
        state.end()
    }
}

impl<'de> Deserialize<'de> for NumericSample {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StoredSample::deserialize(deserializer)?
            .check()
            .map_err(de::Error::custom)
    }
}

/// A [`NumericSample`] as stored, before its checks.
#[derive(Deserialize)]
#[serde(rename = "NumericSample", deny_unknown_fields)]
struct StoredSample {
    side: Side,
    distinct: u64,
    std: f64,
    dropped: Dropped,
    sorted: LeValues,
}

impl StoredSample {
    /// The sample, if its values are non-empty, finite, ascending, free of -0.0 and have the
    /// distinct count and a standard deviation that can be theirs.
    fn check(self) -> Result<NumericSample, DriftError> {
        let sorted = self.sorted.0;
        let Some(&first) = sorted.first() else {
            return Err(bad_summary("it holds no values"));
        };
        let mut distinct = 1u64;
        let mut previous = first;
        for (index, &value) in sorted.iter().enumerate() {
            if !value.is_finite() || value.to_bits() == (-0.0f64).to_bits() || value < previous {
                return Err(bad_summary(format!(
                    "value {index} ({value}) is not finite, is -0.0 or is out of order"
                )));
            }
            distinct += u64::from(value != previous);
            previous = value;
        }
        if distinct != self.distinct {
            return Err(bad_summary(format!(
                "it says {} distinct values but holds {distinct}",
                self.distinct
            )));
        }
        if !(self.std.is_finite() && self.std >= 0.0) {
            return Err(bad_summary(format!(
                "the standard deviation {} is not a finite non-negative number",
                self.std
            )));
        }
        Ok(NumericSample {
            side: self.side,
            sorted,
            distinct: distinct as usize,
            std: self.std,
            dropped: self.dropped,
        })
    }
}

/// Values to store: little-endian `f64` bytes, base64 text for human-readable formats.
struct LeValuesRef<'a>(&'a [f64]);

impl Serialize for LeValuesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        values_to_le_bytes(self.0, &mut bytes);
        if serializer.is_human_readable() {
            serializer.serialize_str(&BASE64.encode(&bytes))
        } else {
            serializer.serialize_bytes(&bytes)
        }
    }
}

/// Values read back from [`LeValuesRef`]'s form.
struct LeValues(Vec<f64>);

impl<'de> Deserialize<'de> for LeValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesOrText;
        impl<'de> Visitor<'de> for BytesOrText {
            type Value = LeValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("little-endian f64 bytes, or their base64 text")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<LeValues, E> {
                values_from_le_bytes(bytes).map(LeValues).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<LeValues, E> {
                let bytes = BASE64.decode(text).map_err(E::custom)?;
                self.visit_bytes(&bytes)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<LeValues, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(byte) = seq.next_element::<u8>()? {
                    bytes.push(byte);
                }
                self.visit_bytes(&bytes)
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(BytesOrText)
        } else {
            deserializer.deserialize_bytes(BytesOrText)
        }
    }
}

/// [`CategoryCounts`] as stored, before its checks.
#[derive(Deserialize)]
#[serde(rename = "CategoryCounts", deny_unknown_fields)]
struct StoredCategories {
    side: Side,
    counts: BTreeMap<String, u64>,
    rows: u64,
    dropped: Dropped,
}

impl TryFrom<StoredCategories> for CategoryCounts {
    type Error = DriftError;

    fn try_from(stored: StoredCategories) -> Result<Self, DriftError> {
        let total = stored
            .counts
            .values()
            .try_fold(0u64, |total, count| total.checked_add(*count));
        if total != Some(stored.rows) || stored.rows == 0 || stored.counts.values().any(|c| *c == 0)
        {
            return Err(bad_summary(
                "the rows are not the (positive) sum of the categories' counts",
            ));
        }
        Ok(CategoryCounts {
            side: stored.side,
            counts: stored.counts,
            rows: stored.rows,
            dropped: stored.dropped,
        })
    }
}

/// A sum with Neumaier's compensation: the figures must agree with numpy's (pairwise) sums to
/// far better than 1e-9 over millions of terms.
#[derive(Clone, Copy, Default)]
pub(crate) struct Sum {
    total: f64,
    error: f64,
}

impl Sum {
    pub(crate) fn add(&mut self, value: f64) {
        let total = self.total + value;
        self.error += if self.total.abs() >= value.abs() {
            (self.total - total) + value
        } else {
            (value - total) + self.total
        };
        self.total = total;
    }

    /// The compensated total; an infinite or NaN total as it stands (its error term is NaN).
    pub(crate) fn value(&self) -> f64 {
        if self.total.is_finite() {
            self.total + self.error
        } else {
            self.total
        }
    }
}

/// numpy's `std` (ddof 0) from the values and their sum: the mean, then the squared deviations.
fn population_std(values: &[f64], sum: f64) -> f64 {
    let n = values.len() as f64;
    let mean = sum / n;
    let mut squares = Sum::default();
    values
        .iter()
        .for_each(|v| squares.add((v - mean) * (v - mean)));
    (squares.value() / n).sqrt()
}

/// The finite values of `values` (-0.0 as 0.0) ascending, and what was dropped: the cleaning
/// pass makes the radix keys and counts their digits at once.
fn clean_and_sort(values: &[f64], scratch: &mut SortScratch) -> (Vec<f64>, Dropped) {
    let mut dropped = Dropped::default();
    if values.len() <= radix::SMALL {
        let mut finite = Vec::with_capacity(values.len());
        for &value in values {
            if value.is_finite() {
                // -0.0 + 0.0 is 0.0: the two zeros are one value, as numpy compares them.
                finite.push(value + 0.0);
            } else {
                dropped.count_non_finite(value);
            }
        }
        finite.sort_unstable_by(f64::total_cmp);
        return (finite, dropped);
    }
    let mut digits = Digits::new();
    let keys = scratch.keys(values.len());
    for &value in values {
        if value.is_finite() {
            let k = radix::key(value + 0.0);
            digits.add(k);
            keys.push(k);
        } else {
            dropped.count_non_finite(value);
        }
    }
    let sorted = scratch.sort(&digits);
    (
        sorted.iter().map(|k| radix::value_of(*k)).collect(),
        dropped,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_agrees_with_the_standard_sort() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut values: Vec<f64> = (0..20_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                if i % 7 == 0 {
                    -unit * 1e6
                } else if i % 11 == 0 {
                    0.0
                } else {
                    unit
                }
            })
            .collect();
        values.extend([
            f64::NAN,
            -0.0,
            f64::INFINITY,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
        ]);
        let mut expected: Vec<f64> = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| v + 0.0)
            .collect();
        expected.sort_unstable_by(f64::total_cmp);
        let (sorted, dropped) = clean_and_sort(&values, &mut SortScratch::default());
        assert_eq!(sorted, expected);
        assert_eq!(dropped.total(), 2);
    }

    fn stored_example() -> NumericSample {
        let values: Vec<f64> = (0..5000)
            .map(|i| ((i * 7919) % 613) as f64 * 0.25 - 40.0)
            .chain([f64::NAN, -0.0, f64::INFINITY])
            .collect();
        NumericSample::new(Side::Reference, &values).expect("finite values")
    }

    #[test]
    fn a_summary_survives_its_stored_forms() {
        let sample = stored_example();
        let bytes = sample.to_bytes();
        assert_eq!(bytes.len(), SAMPLE_HEADER + 8 * sample.len());
        assert_eq!(NumericSample::from_bytes(&bytes), Ok(sample.clone()));

        let json = serde_json::to_string(&sample).expect("json");
        assert!(
            json.contains("\"sorted\":\""),
            "base64 text, not numbers: {json:.80}"
        );
        let back: NumericSample = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, sample);

        // A binary format hands the values over as bytes.
        let mut raw = Vec::new();
        values_to_le_bytes(sample.sorted(), &mut raw);
        let deserializer = serde::de::value::BytesDeserializer::<serde_json::Error>::new(&raw);
        let values = LeValues::deserialize(deserializer).expect("bytes");
        assert_eq!(values.0, sample.sorted());

        let counts = CategoryCounts::new(Side::Current, [Some("a"), None, Some("b"), Some("a")])
            .expect("categories");
        let json = serde_json::to_string(&counts).expect("json");
        assert_eq!(
            serde_json::from_str::<CategoryCounts>(&json).expect("back"),
            counts
        );
    }

    #[test]
    fn a_damaged_summary_is_refused() {
        let sample = stored_example();
        let bytes = sample.to_bytes();
        let refused = |bytes: &[u8]| {
            matches!(
                NumericSample::from_bytes(bytes),
                Err(DriftError::BadSummary(_))
            )
        };
        assert!(refused(&bytes[..bytes.len() - 1]));
        assert!(refused(&bytes[..10]));
        let mut swapped = bytes.clone();
        let (first, last) = (SAMPLE_HEADER, swapped.len() - 8);
        for k in 0..8 {
            swapped.swap(first + k, last + k); // the smallest value last
        }
        assert!(refused(&swapped));
        let mut distinct = bytes.clone();
        distinct[9 + 24] ^= 1;
        assert!(refused(&distinct));
        let mut magic = bytes;
        magic[0] = b'X';
        assert!(refused(&magic));

        let json = r#"{"side":"current","counts":{"a":2},"rows":3,"dropped":{"missing":0,"positive_infinity":0,"negative_infinity":0}}"#;
        assert!(serde_json::from_str::<CategoryCounts>(json).is_err());
    }

    #[test]
    fn cleaning_counts_what_it_drops() {
        let sample = NumericSample::new(
            Side::Current,
            &[
                1.0,
                f64::NAN,
                f64::INFINITY,
                -0.0,
                0.0,
                f64::NEG_INFINITY,
                f64::NAN,
            ],
        )
        .expect("finite values");
        assert_eq!(sample.sorted(), &[0.0, 0.0, 1.0]);
        assert_eq!(sample.distinct(), 2);
        assert_eq!(
            sample.dropped(),
            Dropped {
                missing: 2,
                positive_infinity: 1,
                negative_infinity: 1
            }
        );
    }
}
