//! The population stability index as Evidently computes it: over [`Bins`], each side's shares
//! zero-filled (see [`zero_filled`]), PSI = sum over bins of (ref - cur) * ln(ref / cur), natural
//! logarithm.

use serde::Serialize;

use super::binning::{zero_filled, Bins};
use super::sample::Sum;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PsiResult {
    pub value: f64,
    /// The share the reference's empty bins were given (None: no empty bin).
    pub reference_zero_fill: Option<f64>,
    /// The share the current side's empty bins were given (None: no empty bin).
    pub current_zero_fill: Option<f64>,
    /// The shares the sum was taken over, after the zero fill.
    pub reference_shares: Vec<f64>,
    pub current_shares: Vec<f64>,
    /// Always "e": natural logarithm.
    pub log_base: &'static str,
}

/// PSI over the bins.
pub fn psi(bins: &Bins) -> PsiResult {
    let (reference_zero_fill, reference_shares) = zero_filled(&bins.reference_shares());
    let (current_zero_fill, current_shares) = zero_filled(&bins.current_shares());
    let mut sum = Sum::default();
    for (r, c) in reference_shares.iter().zip(&current_shares) {
        sum.add((r - c) * (r / c).ln());
    }
    PsiResult {
        value: sum.value(),
        reference_zero_fill,
        current_zero_fill,
        reference_shares,
        current_shares,
        log_base: "e",
    }
}
