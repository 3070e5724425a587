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
        if values.is_empty() {
            return Err(DriftError::EmptyColumn { side });
        }
        let mut dropped = Dropped::default();
        let mut finite = Vec::with_capacity(values.len());
        for &value in values {
            if value.is_finite() {
                // -0.0 + 0.0 is 0.0: the two zeros are one value, as numpy compares them.
                finite.push(value + 0.0);
            } else if value.is_nan() {
                dropped.missing += 1;
            } else if value > 0.0 {
                dropped.positive_infinity += 1;
            } else {
                dropped.negative_infinity += 1;
            }
        }
        if finite.is_empty() {
            return Err(DriftError::NoFiniteValues {
                side,
                nan: dropped.missing,
                infinite: dropped.positive_infinity + dropped.negative_infinity,
            });
        }
        sort_finite(&mut finite);
        let distinct = 1 + finite.windows(2).filter(|pair| pair[0] != pair[1]).count();
        let std = population_std(&finite);
        Ok(NumericSample {
            side,
            sorted: finite,
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

fn population_std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mut sum = Sum::default();
    values.iter().for_each(|v| sum.add(*v));
    let mean = sum.value() / n;
    let mut squares = Sum::default();
    values
        .iter()
        .for_each(|v| squares.add((v - mean) * (v - mean)));
    (squares.value() / n).sqrt()
}

/// Sorts finite values ascending: a least-significant-digit radix sort on the order-preserving
/// integer image of each float (11-bit digits, passes whose digit never varies skipped) for
/// large samples, the standard sort for small ones.
fn sort_finite(values: &mut [f64]) {
    const SMALL: usize = 4096;
    if values.len() <= SMALL {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    const PASSES: usize = 6;
    let key = |value: f64| -> u64 {
        let bits = value.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        }
    };
    let mut keys: Vec<u64> = values.iter().map(|v| key(*v)).collect();
    let mut counts = vec![[0usize; BUCKETS]; PASSES];
    for k in &keys {
        for (pass, count) in counts.iter_mut().enumerate() {
            count[((k >> (pass as u32 * BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    let mut scratch = vec![0u64; keys.len()];
    for (pass, count) in counts.iter().enumerate() {
        if count.contains(&keys.len()) {
            continue; // every key has the same digit here
        }
        let mut offsets = [0usize; BUCKETS];
        let mut running = 0;
        for (offset, c) in offsets.iter_mut().zip(count.iter()) {
            *offset = running;
            running += c;
        }
        let shift = pass as u32 * BITS;
        for k in &keys {
            let digit = ((k >> shift) as usize) & (BUCKETS - 1);
            scratch[offsets[digit]] = *k;
            offsets[digit] += 1;
        }
        std::mem::swap(&mut keys, &mut scratch);
    }
    for (value, k) in values.iter_mut().zip(&keys) {
        let bits = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
        *value = f64::from_bits(bits);
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
        let mut expected = values.clone();
        expected.sort_unstable_by(f64::total_cmp);
        sort_finite(&mut values);
        assert_eq!(values, expected);
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
