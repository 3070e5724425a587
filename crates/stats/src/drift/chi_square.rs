//! Pearson's chi-square test as Evidently runs it: over one bin per value of either side, the
//! observed counts are the current side's, the expected the reference's scaled by current rows
//! / reference rows; statistic sum (obs - exp)^2 / exp, p-value the chi-square survival
//! function with (bins - 1) degrees of freedom (scipy's `chisquare(observed, expected)`). A value
//! the reference never had expects 0 and makes the statistic infinite and the p-value 0, as in
//! scipy.

use serde::Serialize;

use super::binning::Bins;
use super::sample::Sum;
use super::DriftError;
use crate::special::chi_square_sf;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChiSquareResult {
    pub statistic: f64,
    pub degrees_of_freedom: u64,
    pub p_value: f64,
    /// Current counts per bin.
    pub observed: Vec<u64>,
    /// Reference counts per bin times current rows / reference rows.
    pub expected: Vec<f64>,
}

/// The test over the bins. One bin leaves no degree of freedom: an error (scipy returns NaN).
pub fn chi_square(bins: &Bins) -> Result<ChiSquareResult, DriftError> {
    if bins.len() < 2 {
        return Err(DriftError::SingleValue { test: "chisquare" });
    }
    let scale = bins.current_rows as f64 / bins.reference_rows as f64;
    let expected: Vec<f64> = bins
        .reference_counts
        .iter()
        .map(|c| *c as f64 * scale)
        .collect();
    let mut statistic = Sum::default();
    for (observed, expected) in bins.current_counts.iter().zip(&expected) {
        let difference = *observed as f64 - expected;
        statistic.add(difference * difference / expected);
    }
    let statistic = statistic.value();
    let degrees_of_freedom = bins.len() as u64 - 1;
    let p_value = if statistic.is_infinite() {
        0.0
    } else {
        chi_square_sf(statistic, degrees_of_freedom as f64)
    };
    Ok(ChiSquareResult {
        statistic,
        degrees_of_freedom,
        p_value,
        observed: bins.current_counts.clone(),
        expected,
    })
}
