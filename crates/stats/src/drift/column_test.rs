//! Which test a column gets and how its result is read, as Evidently 0.7's defaults decide:
//!
//! | reference rows (after cleaning) | column | distinct values (both sides) | test | drift when |
//! |---|---|---|---|---|
//! | <= 1000 | numerical | > 5 | Kolmogorov–Smirnov | p-value <= 0.05 |
//! | <= 1000 | numerical | 3..=5 | chi-square | p-value < 0.05 |
//! | <= 1000 | categorical | > 2 | chi-square | p-value < 0.05 |
//! | <= 1000 | any | <= 2 | Z-test | p-value < 0.05 |
//! | > 1000 | numerical | > 5 | Wasserstein (normed) | distance >= 0.1 |
//! | > 1000 | numerical | <= 5 | Jensen–Shannon | distance >= 0.1 |
//! | > 1000 | categorical | any | Jensen–Shannon | distance >= 0.1 |
//!
//! A monitoring plan may name another test and threshold; [`column_drift`] takes that as an
//! override. Every result carries the test, its score, threshold and comparison, the counts and
//! dropped cells of both sides, and the test's own details (bins and edges, zero fill, log base).

use serde::Serialize;

use super::binning::{
    category_bins, distinct_categories, distinct_numeric, numeric_bins, numeric_value_bins, Bins,
};
use super::chi_square::{chi_square, ChiSquareResult};
use super::jensen_shannon::{jensen_shannon, JensenShannonResult};
use super::ks::{ecdf_walk, ks_2samp, ks_from_walk, KsResult};
use super::psi::{psi, PsiResult};
use super::sample::{CategoryCounts, Dropped, NumericSample};
use super::wasserstein::{self, wasserstein, WassersteinResult};
use super::z_test::{z_test, ZTestResult};
use super::DriftError;

/// Reference rows above which Evidently switches from tests to distances.
pub const LARGE_REFERENCE_ABOVE: usize = 1000;

/// A column's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numerical,
    Categorical,
}

/// One side of a column, cleaned.
#[derive(Clone, Debug)]
pub enum ColumnSample {
    Numerical(NumericSample),
    Categorical(CategoryCounts),
}

impl ColumnSample {
    pub fn kind(&self) -> ColumnKind {
        match self {
            ColumnSample::Numerical(_) => ColumnKind::Numerical,
            ColumnSample::Categorical(_) => ColumnKind::Categorical,
        }
    }

    /// Rows the tests count (finite or present cells).
    pub fn rows(&self) -> u64 {
        match self {
            ColumnSample::Numerical(sample) => sample.len() as u64,
            ColumnSample::Categorical(counts) => counts.rows(),
        }
    }

    pub fn dropped(&self) -> Dropped {
        match self {
            ColumnSample::Numerical(sample) => sample.dropped(),
            ColumnSample::Categorical(counts) => counts.dropped(),
        }
    }
}

/// The drift tests, by Evidently's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DriftTest {
    #[serde(rename = "ks")]
    KolmogorovSmirnov,
    #[serde(rename = "wasserstein")]
    Wasserstein,
    #[serde(rename = "psi")]
    Psi,
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    #[serde(rename = "chisquare")]
    ChiSquare,
    #[serde(rename = "z")]
    Z,
}

impl DriftTest {
    /// Evidently's name of the test.
    pub fn name(self) -> &'static str {
        match self {
            DriftTest::KolmogorovSmirnov => "ks",
            DriftTest::Wasserstein => "wasserstein",
            DriftTest::Psi => "psi",
            DriftTest::JensenShannon => "jensenshannon",
            DriftTest::ChiSquare => "chisquare",
            DriftTest::Z => "z",
        }
    }

    /// Reads a test by Evidently's name.
    pub fn from_name(name: &str) -> Option<DriftTest> {
        [
            DriftTest::KolmogorovSmirnov,
            DriftTest::Wasserstein,
            DriftTest::Psi,
            DriftTest::JensenShannon,
            DriftTest::ChiSquare,
            DriftTest::Z,
        ]
        .into_iter()
        .find(|test| test.name() == name)
    }

    /// Evidently's default threshold.
    pub fn default_threshold(self) -> f64 {
        match self {
            DriftTest::KolmogorovSmirnov | DriftTest::ChiSquare | DriftTest::Z => 0.05,
            DriftTest::Wasserstein | DriftTest::Psi | DriftTest::JensenShannon => 0.1,
        }
    }

    /// How the score is compared with the threshold.
    pub fn comparison(self) -> Comparison {
        match self {
            DriftTest::KolmogorovSmirnov => Comparison::AtMost,
            DriftTest::ChiSquare | DriftTest::Z => Comparison::Below,
            DriftTest::Wasserstein | DriftTest::Psi | DriftTest::JensenShannon => {
                Comparison::AtLeast
            }
        }
    }

    /// Whether the score is a p-value (small means drift) or a distance (large means drift).
    pub fn score_is_p_value(self) -> bool {
        matches!(
            self,
            DriftTest::KolmogorovSmirnov | DriftTest::ChiSquare | DriftTest::Z
        )
    }

    /// Whether the test applies to a column of this kind (chi-square and Z take numbers too, as
    /// Evidently's defaults use them on few-valued numbers).
    pub fn applies_to(self, kind: ColumnKind) -> bool {
        match self {
            DriftTest::KolmogorovSmirnov | DriftTest::Wasserstein => kind == ColumnKind::Numerical,
            _ => true,
        }
    }
}

/// Drift is declared when `score <comparison> threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// score <= threshold (Kolmogorov–Smirnov p-value).
    AtMost,
    /// score < threshold (chi-square and Z p-values).
    Below,
    /// score >= threshold (distances and PSI).
    AtLeast,
}

impl Comparison {
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Comparison::AtMost => score <= threshold,
            Comparison::Below => score < threshold,
            Comparison::AtLeast => score >= threshold,
        }
    }

    /// The operator as written in a report.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtMost => "<=",
            Comparison::Below => "<",
            Comparison::AtLeast => ">=",
        }
    }
}

/// Evidently's default test for a column of `kind` with `reference_rows` cleaned reference rows
/// and `n_unique` distinct values over both sides.
pub fn default_test(kind: ColumnKind, reference_rows: u64, n_unique: usize) -> DriftTest {
    let small = reference_rows <= LARGE_REFERENCE_ABOVE as u64;
    match (kind, small) {
        (ColumnKind::Numerical, true) if n_unique > 5 => DriftTest::KolmogorovSmirnov,
        (_, true) if n_unique > 2 => DriftTest::ChiSquare,
        (_, true) => DriftTest::Z,
        (ColumnKind::Numerical, false) if n_unique > 5 => DriftTest::Wasserstein,
        (_, false) => DriftTest::JensenShannon,
    }
}

/// A test and threshold chosen instead of the defaults (a monitoring plan's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TestOverride {
    pub test: DriftTest,
    /// None: the test's default threshold.
    pub threshold: Option<f64>,
}

/// Why this test ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestChoice {
    /// Evidently's default for the kind, reference rows and distinct values.
    Default,
    /// Named by the caller (a monitoring plan).
    Override,
}

/// The details of the test that ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "test", rename_all = "snake_case")]
pub enum TestDetail {
    #[serde(rename = "ks")]
    KolmogorovSmirnov(KsResult),
    Wasserstein(WassersteinResult),
    Psi {
        bins: Bins,
        result: PsiResult,
    },
    #[serde(rename = "jensenshannon")]
    JensenShannon {
        bins: Bins,
        result: JensenShannonResult,
    },
    #[serde(rename = "chisquare")]
    ChiSquare {
        bins: Bins,
        result: ChiSquareResult,
    },
    Z {
        bins: Bins,
        result: ZTestResult,
    },
}

/// Row counts of one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SideCounts {
    /// Rows tested (after dropping).
    pub rows: u64,
    pub dropped: Dropped,
}

/// One column's drift verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDrift {
    pub kind: ColumnKind,
    pub test: DriftTest,
    pub choice: TestChoice,
    /// The p-value (KS, chi-square, Z) or distance (Wasserstein normed, PSI, Jensen–Shannon).
    pub score: f64,
    pub score_is_p_value: bool,
    pub threshold: f64,
    pub comparison: Comparison,
    pub drifted: bool,
    /// Distinct values over both sides (what the default choice reads).
    pub n_unique: usize,
    pub reference: SideCounts,
    pub current: SideCounts,
    pub detail: TestDetail,
}

/// Runs the column's test: the override's if given, else Evidently's default.
pub fn column_drift(
    reference: &ColumnSample,
    current: &ColumnSample,
    test: Option<TestOverride>,
) -> Result<ColumnDrift, DriftError> {
    let kind = reference.kind();
    if current.kind() != kind {
        return Err(DriftError::KindsDiffer {
            reference: kind,
            current: current.kind(),
        });
    }
    let n_unique = match (reference, current) {
        (ColumnSample::Numerical(r), ColumnSample::Numerical(c)) => distinct_numeric(r, c),
        (ColumnSample::Categorical(r), ColumnSample::Categorical(c)) => distinct_categories(r, c),
        _ => 0,
    };
    let (chosen, threshold, choice) = match test {
        Some(TestOverride { test, threshold }) => (
            test,
            threshold.unwrap_or(test.default_threshold()),
            TestChoice::Override,
        ),
        None => {
            let test = default_test(kind, reference.rows(), n_unique);
            (test, test.default_threshold(), TestChoice::Default)
        }
    };
    if !threshold.is_finite() {
        return Err(DriftError::BadThreshold { threshold });
    }
    if !chosen.applies_to(kind) {
        return Err(DriftError::TestNotForKind {
            test: chosen.name(),
            kind,
        });
    }
    let bins = |value_bins: bool| -> Result<Bins, DriftError> {
        match (reference, current) {
            (ColumnSample::Numerical(r), ColumnSample::Numerical(c)) => {
                if value_bins {
                    Ok(numeric_value_bins(r, c))
                } else {
                    numeric_bins(r, c)
                }
            }
            (ColumnSample::Categorical(r), ColumnSample::Categorical(c)) => Ok(category_bins(r, c)),
            _ => Err(DriftError::KindsDiffer {
                reference: kind,
                current: current.kind(),
            }),
        }
    };
    let (score, detail) = match (chosen, reference, current) {
        (DriftTest::KolmogorovSmirnov, ColumnSample::Numerical(r), ColumnSample::Numerical(c)) => {
            let result = ks_2samp(r, c);
            (result.p_value, TestDetail::KolmogorovSmirnov(result))
        }
        (DriftTest::Wasserstein, ColumnSample::Numerical(r), ColumnSample::Numerical(c)) => {
            let result = wasserstein(r, c);
            (result.normed, TestDetail::Wasserstein(result))
        }
        (DriftTest::Psi, _, _) => {
            let bins = bins(false)?;
            let result = psi(&bins);
            (result.value, TestDetail::Psi { bins, result })
        }
        (DriftTest::JensenShannon, _, _) => {
            let bins = bins(false)?;
            let result = jensen_shannon(&bins);
            (result.value, TestDetail::JensenShannon { bins, result })
        }
        (DriftTest::ChiSquare, _, _) => {
            let bins = bins(true)?;
            let result = chi_square(&bins)?;
            (result.p_value, TestDetail::ChiSquare { bins, result })
        }
        (DriftTest::Z, _, _) => {
            let bins = bins(true)?;
            let result = z_test(&bins)?;
            (result.p_value, TestDetail::Z { bins, result })
        }
        _ => {
            return Err(DriftError::TestNotForKind {
                test: chosen.name(),
                kind,
            })
        }
    };
    let comparison = chosen.comparison();
    Ok(ColumnDrift {
        kind,
        test: chosen,
        choice,
        score,
        score_is_p_value: chosen.score_is_p_value(),
        threshold,
        comparison,
        drifted: comparison.drifted(score, threshold),
        n_unique,
        reference: SideCounts {
            rows: reference.rows(),
            dropped: reference.dropped(),
        },
        current: SideCounts {
            rows: current.rows(),
            dropped: current.dropped(),
        },
        detail,
    })
}

/// All four numerical statistics for one column (what a monitoring batch reports beside the
/// verdict): Kolmogorov–Smirnov, Wasserstein (raw and normed), and PSI and Jensen–Shannon over
/// Evidently's bins.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NumericStatistics {
    pub ks: KsResult,
    pub wasserstein: WassersteinResult,
    pub bins: Bins,
    pub psi: PsiResult,
    pub jensen_shannon: JensenShannonResult,
}

/// Computes [`NumericStatistics`].
pub fn numeric_statistics(
    reference: &NumericSample,
    current: &NumericSample,
) -> Result<NumericStatistics, DriftError> {
    let bins = numeric_bins(reference, current)?;
    // One walk over the merged values gives both KS and Wasserstein.
    let walk = ecdf_walk(reference.sorted(), current.sorted(), true);
    Ok(NumericStatistics {
        ks: ks_from_walk(&walk, reference.len(), current.len()),
        wasserstein: wasserstein::from_distance(reference, walk.area),
        psi: psi(&bins),
        jensen_shannon: jensen_shannon(&bins),
        bins,
    })
}
