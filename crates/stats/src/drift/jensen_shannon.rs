//! The Jensen–Shannon distance as Evidently computes it: scipy's
//! `distance.jensenshannon(ref_shares, cur_shares)` over [`Bins`] without any zero fill, natural
//! logarithm (base None): each side normalised to sum 1, m their mean, the distance
//! sqrt((KL(p || m) + KL(q || m)) / 2) with 0 ln 0 = 0.

use serde::Serialize;

use super::binning::Bins;
use super::sample::Sum;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JensenShannonResult {
    pub value: f64,
    /// Always "e": natural logarithm (NannyML's figure of the same name uses base 2).
    pub log_base: &'static str,
}

/// The distance over the bins' shares.
pub fn jensen_shannon(bins: &Bins) -> JensenShannonResult {
    let p = normalised(&bins.reference_shares());
    let q = normalised(&bins.current_shares());
    let mut left = Sum::default();
    let mut right = Sum::default();
    for (a, b) in p.iter().zip(&q) {
        let m = (a + b) / 2.0;
        left.add(relative_entropy(*a, m));
        right.add(relative_entropy(*b, m));
    }
    let divergence = left.value() + right.value();
    JensenShannonResult {
        value: (divergence / 2.0).sqrt(),
        log_base: "e",
    }
}

fn normalised(shares: &[f64]) -> Vec<f64> {
    let mut total = Sum::default();
    shares.iter().for_each(|s| total.add(*s));
    let total = total.value();
    shares.iter().map(|s| s / total).collect()
}

/// scipy's `rel_entr`: x ln(x / y), 0 when x is 0.
fn relative_entropy(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}
