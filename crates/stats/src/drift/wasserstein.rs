//! The first Wasserstein distance between two samples as `scipy.stats.wasserstein_distance`
//! computes it (the area between the two empirical distribution functions), and Evidently's
//! normed form: the distance divided by the reference's population standard deviation, that
//! divisor floored at 0.001 (so a constant reference does not divide by zero).

use serde::Serialize;

use super::sample::{NumericSample, Sum};

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
    let distance = wasserstein_sorted(reference.sorted(), current.sorted());
    let reference_std = reference.std();
    let divisor = reference_std.max(STD_FLOOR);
    WassersteinResult {
        distance,
        reference_std,
        divisor,
        normed: distance / divisor,
    }
}

/// Sum over consecutive distinct merged values of |F_a - F_b| times the gap.
pub(crate) fn wasserstein_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut sum = Sum::default();
    let mut previous: Option<f64> = None;
    let mut previous_gap = 0.0;
    loop {
        let value = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        if let Some(last) = previous {
            sum.add(previous_gap * (value - last));
        }
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        previous_gap = (i as f64 / n1 - j as f64 / n2).abs();
        previous = Some(value);
    }
    sum.value()
}
