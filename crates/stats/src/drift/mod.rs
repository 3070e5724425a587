//! Data drift between a reference and a current sample of one column, and over a whole table,
//! computed as scipy 1.17 and Evidently 0.7 compute it (fixtures made with the real libraries by
//! `scripts/make_drift_fixtures.py`), each result carrying what an inspector needs to reproduce
//! it: the test, its score and threshold and which way they compare, the bin rule and actual
//! edges, the zero fill, the logarithm's base, and the counts of each side.
//!
//! Modules: [`sample`] (cleaned, sorted sides; the reusable reference), [`columns`] (many
//! columns on several threads), [`ks`],
//! [`kolmogorov`] (the distributions behind KS p-values), [`wasserstein`], [`binning`],
//! [`psi`], [`jensen_shannon`], [`chi_square`], [`z_test`], [`column_test`] (the default test
//! and thresholds, a column's verdict) and [`dataset`] (the share of drifted columns).
//!
//! # Cleaning
//!
//! NaN and infinities are dropped from numerical columns and missing cells from categorical
//! ones before any test, as Evidently's `get_one_column_drift` does; here they are counted and
//! reported with the result ([`sample::Dropped`]). (Evidently's dataset-level metric drops
//! infinities only from columns that also hold a NaN; its per-column `ValueDrift` always drops
//! them, as here.)
//!
//! # Types of columns
//!
//! Numbers are f64 (an integer column is read as float, as pandas does on concatenation with
//! NaN; numpy's integer-only histogram rule, a bin width of at least 1, is not applied).
//! Categories are strings, ordered by code point where an order matters (the Z-test's coding).

pub mod binning;
pub mod chi_square;
pub mod column_test;
pub mod columns;
pub mod dataset;
pub mod jensen_shannon;
pub mod kolmogorov;
pub mod ks;
pub mod psi;
pub mod sample;
pub mod wasserstein;
pub mod z_test;

pub use binning::{BinKey, BinRule, Bins};
pub use column_test::{
    column_drift, default_test, numeric_statistics, ColumnDrift, ColumnKind, ColumnSample,
    Comparison, DriftTest, NumericStatistics, TestChoice, TestDetail, TestOverride,
};
pub use columns::{batch_statistics, numeric_samples, Threads};
pub use dataset::{dataset_drift, DatasetDrift, NamedColumnDrift, DEFAULT_DRIFT_SHARE};
pub use sample::{CategoryCounts, Dropped, NumericSample, Side};

/// What can be wrong with the columns given to the drift tests.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DriftError {
    #[error("the {side} column is empty")]
    EmptyColumn { side: Side },
    #[error("the {side} column has no finite value ({nan} NaN, {infinite} infinite)")]
    NoFiniteValues { side: Side, nan: u64, infinite: u64 },
    #[error("the {side} column has only missing cells ({missing})")]
    OnlyMissing { side: Side, missing: u64 },
    #[error("the reference column is {reference:?} but the current one is {current:?}")]
    KindsDiffer {
        reference: ColumnKind,
        current: ColumnKind,
    },
    #[error("the test {test} does not apply to a {kind:?} column")]
    TestNotForKind {
        test: &'static str,
        kind: ColumnKind,
    },
    #[error("the test {test} needs at least two distinct values over both sides")]
    SingleValue { test: &'static str },
    #[error("the test {test} needs one bin per value")]
    NeedsValueBins { test: &'static str },
    #[error("the threshold must be a finite number, not {threshold}")]
    BadThreshold { threshold: f64 },
    #[error("the drift share must be above 0 and at most 1, not {drift_share}")]
    BadDriftShare { drift_share: f64 },
    #[error("no columns to decide dataset drift on")]
    NoColumns,
    #[error("cannot make {bins} equal-width bins between {min} and {max}")]
    TooManyBins { bins: usize, min: f64, max: f64 },
    #[error("no values to bin")]
    NoBins,
    #[error("the stored summary is not valid: {0}")]
    BadSummary(String),
    #[error("column {column}: {source}")]
    Column {
        column: String,
        source: Box<DriftError>,
    },
}
