//! The dataset verdict as Evidently's `DriftedColumnsCount` / `get_dataset_drift` reach it: the
//! share of drifted columns (drifted / columns), dataset drift when that share is at least the
//! drift share (default 0.5).

use serde::Serialize;

use super::column_test::ColumnDrift;
use super::DriftError;

/// Evidently's default drift share.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// One column's result under its name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedColumnDrift {
    pub column: String,
    #[serde(flatten)]
    pub drift: ColumnDrift,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetDrift {
    pub columns: Vec<NamedColumnDrift>,
    pub drifted_columns: usize,
    /// drifted_columns / columns.
    pub share: f64,
    pub drift_share: f64,
    /// "share >= drift_share".
    pub comparison: &'static str,
    pub dataset_drift: bool,
}

/// The verdict over the columns' results. No columns, or a drift share outside (0, 1], is an
/// error.
pub fn dataset_drift(
    columns: Vec<NamedColumnDrift>,
    drift_share: f64,
) -> Result<DatasetDrift, DriftError> {
    if !(drift_share > 0.0 && drift_share <= 1.0) {
        return Err(DriftError::BadDriftShare { drift_share });
    }
    if columns.is_empty() {
        return Err(DriftError::NoColumns);
    }
    let drifted_columns = columns.iter().filter(|c| c.drift.drifted).count();
    let share = drifted_columns as f64 / columns.len() as f64;
    Ok(DatasetDrift {
        drifted_columns,
        share,
        drift_share,
        comparison: ">=",
        dataset_drift: share >= drift_share,
        columns,
    })
}
