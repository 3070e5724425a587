//! The two-sample Kolmogorov–Smirnov test as scipy's `ks_2samp(reference, current)` computes it
//! with its defaults (two-sided, method "auto"): the statistic is the largest distance between
//! the two empirical distribution functions; the p-value is exact when neither sample exceeds
//! 10,000 values (the statistic then rounded to the lattice h / lcm(n1, n2) it lies on), and
//! otherwise from `kstwo` with n = round(n1 n2 / (n1 + n2)) (ties to even). An exact
//! computation that fails numerically falls back to the asymptotic one, as scipy's does.

use serde::Serialize;

use super::kolmogorov::{kolmogorov_sf, two_sample_equal_sf, two_sample_unequal_sf};
use super::sample::{NumericSample, Sum};

/// Largest sample size for which method "auto" computes the exact p-value.
pub const EXACT_MAX_SIZE: usize = 10_000;

/// How the p-value was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Lattice-path counting over all orderings of the two samples.
    Exact,
    /// The one-sample two-sided distribution `kstwo` at the effective size.
    Asymptotic,
}

/// The test's result with what is needed to reproduce it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KsResult {
    /// sup |F_ref - F_cur|.
    pub statistic: f64,
    pub p_value: f64,
    pub method: KsMethod,
    pub reference_size: u64,
    pub current_size: u64,
    /// round(n1 n2 / (n1 + n2)): the n of `kstwo` (asymptotic method only).
    pub effective_size: Option<u64>,
    /// The statistic's lattice numerator h (statistic = h / lcm), exact method only.
    pub lattice_numerator: Option<u64>,
}

/// `ks_2samp(reference, current)` over the finite values of both samples.
pub fn ks_2samp(reference: &NumericSample, current: &NumericSample) -> KsResult {
    ks_sorted(reference.sorted(), current.sorted())
}

/// The test over two sorted, non-empty slices of finite values.
pub(crate) fn ks_sorted(a: &[f64], b: &[f64]) -> KsResult {
    let walk = ecdf_walk(a, b, false);
    ks_from_walk(&walk, a.len(), b.len())
}

/// What one walk over the merged values yields: the extreme differences F_a - F_b (for KS)
/// and, when asked, the area between the two functions (the Wasserstein distance).
pub(crate) struct EcdfWalk {
    pub(crate) max_diff: f64,
    pub(crate) min_diff: f64,
    pub(crate) area: f64,
}

/// Walks the merged values of two sorted samples once: at each distinct value, the share of
/// each sample at or below it (as scipy's `searchsorted(..., side="right") / n`).
///
/// The walk takes one value per step (from `a` on ties), choosing by comparison rather than by
/// branch, so its cost does not hang on how the samples interleave. The difference after a step
/// is an ECDF point only when the next value differs, so the extremes take it at the next step
/// whose value is new; the area adds |difference| times the gap to the next value at every step,
/// and a step inside a run of equal values adds exactly 0 (so the sum is that over distinct
/// values, term for term).
pub(crate) fn ecdf_walk(a: &[f64], b: &[f64], area: bool) -> EcdfWalk {
    let (n1, n2) = (a.len(), b.len());
    let (f1, f2) = (n1 as f64, n2 as f64);
    let mut walk = Walk {
        i: 0,
        j: 0,
        max_diff: f64::NEG_INFINITY,
        min_diff: f64::INFINITY,
        sum: Sum::default(),
        previous: match (a.first(), b.first()) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => f64::NAN,
        },
        diff: 0.0,
    };
    while walk.i < n1 && walk.j < n2 {
        let (x, y) = (a[walk.i], b[walk.j]);
        let from_a = x <= y;
        walk.step(if from_a { x } else { y }, from_a, f1, f2, area);
    }
    while walk.i < n1 {
        walk.step(a[walk.i], true, f1, f2, area);
    }
    while walk.j < n2 {
        walk.step(b[walk.j], false, f1, f2, area);
    }
    // The last value's difference (0: both functions reach 1 there).
    walk.max_diff = walk.max_diff.max(walk.diff);
    walk.min_diff = walk.min_diff.min(walk.diff);
    EcdfWalk {
        max_diff: walk.max_diff,
        min_diff: walk.min_diff,
        area: walk.sum.value(),
    }
}

/// The state of [`ecdf_walk`]: how far it is in each sample, the extremes so far, the area's
/// sum, and the value and difference after the last step.
struct Walk {
    i: usize,
    j: usize,
    max_diff: f64,
    min_diff: f64,
    sum: Sum,
    previous: f64,
    diff: f64,
}

impl Walk {
    #[inline(always)]
    fn step(&mut self, value: f64, from_a: bool, f1: f64, f2: f64, area: bool) {
        // A new value: the difference after the previous step was an ECDF point.
        let new = value != self.previous;
        let (max, min) = (self.max_diff.max(self.diff), self.min_diff.min(self.diff));
        self.max_diff = if new { max } else { self.max_diff };
        self.min_diff = if new { min } else { self.min_diff };
        if area {
            self.sum.add(self.diff.abs() * (value - self.previous));
        }
        self.i += usize::from(from_a);
        self.j += usize::from(!from_a);
        self.diff = self.i as f64 / f1 - self.j as f64 / f2;
        self.previous = value;
    }
}

/// The test from a walk's extreme differences.
pub(crate) fn ks_from_walk(walk: &EcdfWalk, n1: usize, n2: usize) -> KsResult {
    let (max_diff, min_diff) = (walk.max_diff, walk.min_diff);
    let min_s = (-min_diff).clamp(0.0, 1.0);
    let d = if min_s > max_diff { min_s } else { max_diff };

    let g = gcd(n1 as u64, n2 as u64);
    if n1.max(n2) <= EXACT_MAX_SIZE {
        let lcm = (n1 as u64 / g) * n2 as u64;
        let h = (d * lcm as f64).round_ties_even() as u64;
        let lattice_d = h as f64 / lcm as f64;
        let exact = if h == 0 {
            Some(1.0)
        } else {
            let p = if n1 == n2 {
                two_sample_equal_sf(n1 as u64, h)
            } else {
                two_sample_unequal_sf(n1 as u64, n2 as u64, g, h)
            };
            (0.0..=1.0).contains(&p).then_some(p)
        };
        if let Some(p) = exact {
            return KsResult {
                statistic: lattice_d,
                p_value: p.clamp(0.0, 1.0),
                method: KsMethod::Exact,
                reference_size: n1 as u64,
                current_size: n2 as u64,
                effective_size: None,
                lattice_numerator: Some(h),
            };
        }
        return asymptotic(lattice_d, n1, n2);
    }
    asymptotic(d, n1, n2)
}

fn asymptotic(d: f64, n1: usize, n2: usize) -> KsResult {
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    let effective = en.round_ties_even() as u64;
    KsResult {
        statistic: d,
        p_value: kolmogorov_sf(effective, d).clamp(0.0, 1.0),
        method: KsMethod::Asymptotic,
        reference_size: n1 as u64,
        current_size: n2 as u64,
        effective_size: Some(effective),
        lattice_numerator: None,
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
