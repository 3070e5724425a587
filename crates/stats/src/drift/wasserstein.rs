//! The first Wasserstein distance between two samples as `scipy.stats.wasserstein_distance`
//! computes it (the area between the two empirical distribution functions), and Evidently's
//! normed form: the distance divided by the reference's population standard deviation, that
//! divisor floored at 0.001 (so a constant reference does not divide by zero).

use serde::Serialize;

use super::ks::ecdf_walk;
use super::sample::NumericSample;

/// Evidently's floor under the reference standard deviation.
pub const STD_FLOOR: f64 = 0.001;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WassersteinResult {
    /// The distance in the column's own units.
    pub distance: f64,
    /// Population standard deviation (ddof 0) of the reference.
    pub reference_std: f64,
    /// max(reference_std, 0.001): the divisor.
    pub divisor: f64,
    /// distance / divisor: Evidently's "Wasserstein distance (normed)".
    pub normed: f64,
}

/// The distance and its normed form.
pub fn wasserstein(reference: &NumericSample, current: &NumericSample) -> WassersteinResult {
    from_distance(
        reference,
        wasserstein_sorted(reference.sorted(), current.sorted()),
    )
}

/// Sum over consecutive distinct merged values of |F_a - F_b| times the gap.
pub(crate) fn wasserstein_sorted(a: &[f64], b: &[f64]) -> f64 {
    ecdf_walk(a, b, true).area
}

/// The result from a distance already computed (by a walk shared with KS).
pub(crate) fn from_distance(reference: &NumericSample, distance: f64) -> WassersteinResult {
    let reference_std = reference.std();
    let divisor = reference_std.max(STD_FLOOR);
    WassersteinResult {
        distance,
        reference_std,
        divisor,
        normed: distance / divisor,
    }
}
