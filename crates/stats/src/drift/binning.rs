//! The bins PSI and Jensen–Shannon (and, one bin per value, chi-square and the Z-test) are
//! computed over, built as Evidently's `get_binned_data` builds them, with each side's counts:
//!
//! - a numerical column whose reference has more than 20 distinct values: equal-width bins with
//!   numpy's "sturges" rule over both sides together (`histogram_bin_edges`: count
//!   ceil(range / (range / (log2(n) + 1))), edges `i * step + min`, the last edge the maximum),
//!   each bin holding `edge[i] <= x < edge[i+1]`, the last one closed;
//! - otherwise (and always for categories): one bin per distinct value seen on either side,
//!   numbers ascending, categories in code-point order.
//!
//! Shares are counts over the side's rows. PSI's zero fill is here too: a side's empty bins get
//! 0.0001, or its smallest non-zero share divided by 10^6 when that share is at most 0.0001.

use serde::Serialize;

use super::sample::{CategoryCounts, NumericSample};
use super::DriftError;

/// More distinct reference values than this bins a numerical column by Sturges' rule.
pub const STURGES_ABOVE_DISTINCT: usize = 20;
/// The share an empty bin gets in PSI, unless the side's smallest share is at most this.
pub const ZERO_FILL: f64 = 0.0001;
/// The divisor of the smallest share when that share is at most [`ZERO_FILL`].
pub const ZERO_FILL_DIVISOR: f64 = 1_000_000.0;

/// A bin's value when bins are one per value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BinKey {
    Number(f64),
    Text(String),
}

/// How the bins were made, with the bins themselves.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum BinRule {
    /// numpy's "sturges" equal-width bins over both sides; `edges` has one more entry than there
    /// are bins.
    Sturges { edges: Vec<f64> },
    /// One bin per distinct value of either side.
    Values { keys: Vec<BinKey> },
}

/// Bins and each side's counts in them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bins {
    #[serde(flatten)]
    pub rule: BinRule,
    pub reference_counts: Vec<u64>,
    pub current_counts: Vec<u64>,
    pub reference_rows: u64,
    pub current_rows: u64,
}

impl Bins {
    /// Each bin's share of the reference rows.
    pub fn reference_shares(&self) -> Vec<f64> {
        shares(&self.reference_counts, self.reference_rows)
    }

    /// Each bin's share of the current rows.
    pub fn current_shares(&self) -> Vec<f64> {
        shares(&self.current_counts, self.current_rows)
    }

    pub fn len(&self) -> usize {
        self.reference_counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reference_counts.is_empty()
    }
}

fn shares(counts: &[u64], rows: u64) -> Vec<f64> {
    counts.iter().map(|c| *c as f64 / rows as f64).collect()
}

/// The zero fill of one side's shares: the value its empty bins get (None when none is empty)
/// and the filled shares.
pub fn zero_filled(shares: &[f64]) -> (Option<f64>, Vec<f64>) {
    if !shares.contains(&0.0) {
        return (None, shares.to_vec());
    }
    let smallest = shares
        .iter()
        .copied()
        .filter(|s| *s != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if smallest <= ZERO_FILL {
        smallest / ZERO_FILL_DIVISOR
    } else {
        ZERO_FILL
    };
    let filled = shares
        .iter()
        .map(|s| if *s == 0.0 { fill } else { *s })
        .collect();
    (Some(fill), filled)
}

/// Evidently's bins for a numerical column: Sturges when the reference has more than 20
/// distinct values, else one per value.
pub fn numeric_bins(
    reference: &NumericSample,
    current: &NumericSample,
) -> Result<Bins, DriftError> {
    if reference.distinct() > STURGES_ABOVE_DISTINCT {
        sturges_bins(reference, current)
    } else {
        Ok(numeric_value_bins(reference, current))
    }
}

/// numpy's `histogram_bin_edges(concat(reference, current), bins="sturges")` and each side's
/// `histogram` counts over those edges.
pub fn sturges_bins(
    reference: &NumericSample,
    current: &NumericSample,
) -> Result<Bins, DriftError> {
    let edges = sturges_edges(reference.sorted(), current.sorted())?;
    Ok(Bins {
        reference_counts: histogram(reference.sorted(), &edges),
        current_counts: histogram(current.sorted(), &edges),
        reference_rows: reference.len() as u64,
        current_rows: current.len() as u64,
        rule: BinRule::Sturges { edges },
    })
}

fn sturges_edges(a: &[f64], b: &[f64]) -> Result<Vec<f64>, DriftError> {
    let (Some(a_first), Some(a_last), Some(b_first), Some(b_last)) =
        (a.first(), a.last(), b.first(), b.last())
    else {
        return Err(DriftError::NoBins);
    };
    let mut first = a_first.min(*b_first);
    let mut last = a_last.max(*b_last);
    let n = (a.len() + b.len()) as f64;
    let range = last - first;
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let width = range / (n.log2() + 1.0);
    let count = if width != 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    let step = (last - first) / count as f64;
    let mut edges: Vec<f64> = (0..=count)
        .map(|i| {
            if step == 0.0 {
                i as f64 / count as f64 * (last - first) + first
            } else {
                i as f64 * step + first
            }
        })
        .collect();
    if let Some(end) = edges.last_mut() {
        *end = last;
    }
    if edges.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(DriftError::TooManyBins {
            bins: count,
            min: first,
            max: last,
        });
    }
    Ok(edges)
}

/// numpy's histogram over explicit edges of sorted values: [e_i, e_i+1), the last bin closed.
fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let Some((last, inner)) = edges.split_last() else {
        return Vec::new();
    };
    let mut cumulative: Vec<usize> = inner
        .iter()
        .map(|edge| sorted.partition_point(|v| v < edge))
        .collect();
    cumulative.push(sorted.partition_point(|v| v <= last));
    cumulative
        .windows(2)
        .map(|pair| (pair[1] - pair[0]) as u64)
        .collect()
}

/// One bin per distinct finite value of either side, ascending.
pub fn numeric_value_bins(reference: &NumericSample, current: &NumericSample) -> Bins {
    let (a, b) = (reference.sorted(), current.sorted());
    let mut keys = Vec::new();
    let mut reference_counts = Vec::new();
    let mut current_counts = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let value = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        let start = (i, j);
        while i < a.len() && a[i] == value {
            i += 1;
        }
        while j < b.len() && b[j] == value {
            j += 1;
        }
        keys.push(BinKey::Number(value));
        reference_counts.push((i - start.0) as u64);
        current_counts.push((j - start.1) as u64);
    }
    Bins {
        rule: BinRule::Values { keys },
        reference_counts,
        current_counts,
        reference_rows: a.len() as u64,
        current_rows: b.len() as u64,
    }
}

/// One bin per category seen on either side, in code-point order.
pub fn category_bins(reference: &CategoryCounts, current: &CategoryCounts) -> Bins {
    let mut keys: Vec<&String> = reference
        .counts()
        .keys()
        .chain(current.counts().keys())
        .collect();
    keys.sort();
    keys.dedup();
    let count = |side: &CategoryCounts, key: &String| side.counts().get(key).copied().unwrap_or(0);
    Bins {
        reference_counts: keys.iter().map(|k| count(reference, k)).collect(),
        current_counts: keys.iter().map(|k| count(current, k)).collect(),
        reference_rows: reference.rows(),
        current_rows: current.rows(),
        rule: BinRule::Values {
            keys: keys.into_iter().map(|k| BinKey::Text(k.clone())).collect(),
        },
    }
}

/// Distinct values over both sides together (Evidently's `n_unique`, which picks the test).
pub(crate) fn distinct_numeric(reference: &NumericSample, current: &NumericSample) -> usize {
    let (a, b) = (reference.sorted(), current.sorted());
    let (mut i, mut j, mut distinct) = (0, 0, 0);
    while i < a.len() || j < b.len() {
        let value = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while i < a.len() && a[i] == value {
            i += 1;
        }
        while j < b.len() && b[j] == value {
            j += 1;
        }
        distinct += 1;
    }
    distinct
}

/// Distinct categories over both sides together.
pub(crate) fn distinct_categories(reference: &CategoryCounts, current: &CategoryCounts) -> usize {
    reference.distinct()
        + current
            .counts()
            .keys()
            .filter(|k| !reference.counts().contains_key(*k))
            .count()
}
