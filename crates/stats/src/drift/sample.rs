//! One side (reference or current) of a column as the drift tests take it: numbers cleaned as
//! Evidently cleans them (NaN and infinities dropped, and counted here so that nothing is dropped
//! silently) and sorted once, or categories counted. A [`NumericSample`] of the reference is
//! the reusable reference summary: built once, it serves every current batch.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::DriftError;

/// Which side of the comparison a sample is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug)]
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
        let (sorted, dropped) = scratch.clean_and_sort(values);
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
#[derive(Clone, Debug)]
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

/// Radix digits: 11 bits, six passes cover the 64-bit key.
const DIGIT_BITS: u32 = 11;
const BUCKETS: usize = 1 << DIGIT_BITS;
const PASSES: usize = 6;
/// Up to this many values the standard sort is faster than six radix passes.
const SMALL: usize = 4096;

/// The order-preserving integer image of a float: flip every bit of a negative one, only the
/// sign bit of a positive one (so unsigned order is numeric order; -0.0 never occurs here).
fn key(value: f64) -> u64 {
    let bits = value.to_bits();
    bits ^ (((bits as i64 >> 63) as u64) | (1 << 63))
}

fn value_of(key: u64) -> f64 {
    let mask = ((!key as i64 >> 63) as u64) | (1 << 63);
    f64::from_bits(key ^ mask)
}

/// The buffers of the radix sort, kept between columns by a caller that sorts many.
#[derive(Default)]
pub(crate) struct SortScratch {
    keys: Vec<u64>,
    spare: Vec<u64>,
}

impl SortScratch {
    /// The finite values of `values` (-0.0 as 0.0) ascending, and what was dropped: a
    /// least-significant-digit radix sort on the keys (passes whose digit never varies skipped)
    /// for large samples, the standard sort for small ones. The first pass cleans, makes the
    /// keys and counts every pass's digits at once; the last turns keys back into values.
    fn clean_and_sort(&mut self, values: &[f64]) -> (Vec<f64>, Dropped) {
        let mut dropped = Dropped::default();
        if values.len() <= SMALL {
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
        let keys = &mut self.keys;
        keys.clear();
        keys.reserve(values.len());
        let mut counts = vec![[0usize; BUCKETS]; PASSES];
        for &value in values {
            if value.is_finite() {
                let k = key(value + 0.0);
                for (pass, count) in counts.iter_mut().enumerate() {
                    count[((k >> (pass as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)] += 1;
                }
                keys.push(k);
            } else {
                dropped.count_non_finite(value);
            }
        }
        let n = keys.len();
        let spare = &mut self.spare;
        spare.clear();
        spare.resize(n, 0);
        let (mut from, mut to) = (keys, spare);
        for (pass, count) in counts.iter().enumerate() {
            if count.contains(&n) {
                continue; // every key has the same digit here
            }
            let mut offsets = [0usize; BUCKETS];
            let mut running = 0;
            for (offset, c) in offsets.iter_mut().zip(count.iter()) {
                *offset = running;
                running += c;
            }
            let shift = pass as u32 * DIGIT_BITS;
            for &k in from.iter() {
                let digit = ((k >> shift) as usize) & (BUCKETS - 1);
                to[offsets[digit]] = k;
                offsets[digit] += 1;
            }
            std::mem::swap(&mut from, &mut to);
        }
        (from.iter().map(|k| value_of(*k)).collect(), dropped)
    }
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
        let (sorted, dropped) = SortScratch::default().clean_and_sort(&values);
        assert_eq!(sorted, expected);
        assert_eq!(dropped.total(), 2);
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
