//! The pooled two-proportion Z-test Evidently uses for columns with at most two values: the
//! first value in sorted order is coded 0, every other value 1; p1 and p2 the shares coded 1,
//! P the pooled share, z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2)), two-sided p-value
//! 2 (1 - Phi(|z|)) evaluated as scipy evaluates it. Both sides holding one and the same value
//! gives p = 1 (and no z).

use serde::Serialize;

use super::binning::{BinKey, BinRule, Bins};
use super::DriftError;
use crate::special::normal_cdf;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZTestResult {
    /// None when both sides hold the same single value.
    pub statistic: Option<f64>,
    pub p_value: f64,
    /// The value coded 0 (the first in sorted order).
    pub coded_zero: Option<BinKey>,
    /// Rows coded 1 on each side.
    pub reference_ones: u64,
    pub current_ones: u64,
    pub reference_rows: u64,
    pub current_rows: u64,
}

/// The test over one-bin-per-value bins.
pub fn z_test(bins: &Bins) -> Result<ZTestResult, DriftError> {
    let BinRule::Values { keys } = &bins.rule else {
        return Err(DriftError::NeedsValueBins { test: "z" });
    };
    let coded_zero = keys.first().cloned();
    let first_reference = bins.reference_counts.first().copied().unwrap_or(0);
    let first_current = bins.current_counts.first().copied().unwrap_or(0);
    let reference_ones = bins.reference_rows - first_reference;
    let current_ones = bins.current_rows - first_current;
    let mut result = ZTestResult {
        statistic: None,
        p_value: 1.0,
        coded_zero,
        reference_ones,
        current_ones,
        reference_rows: bins.reference_rows,
        current_rows: bins.current_rows,
    };
    let present = |counts: &[u64]| counts.iter().filter(|c| **c > 0).count();
    let single_same = present(&bins.reference_counts) == 1
        && present(&bins.current_counts) == 1
        && bins
            .reference_counts
            .iter()
            .zip(&bins.current_counts)
            .any(|(r, c)| *r > 0 && *c > 0);
    if single_same {
        return Ok(result);
    }
    let (n1, n2) = (bins.reference_rows as f64, bins.current_rows as f64);
    let p1 = reference_ones as f64 / n1;
    let p2 = current_ones as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    result.statistic = Some(z);
    result.p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    Ok(result)
}
