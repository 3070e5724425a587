//! Drift statistics against scipy's and Evidently's own: every fixture under `fixtures/drift/`
//! was written by `scripts/make_drift_fixtures.py` with the real scipy 1.17.1 and Evidently
//! 0.7.23 (pinned there), and every figure here must equal theirs to 1e-9 relative (1e-14
//! absolute near 0): KS statistic and p-value (exact and asymptotic), Wasserstein (raw and
//! normed), the bins (rule, edges or values, shares before and after the zero fill), PSI,
//! Jensen–Shannon, chi-square, Z, the default test with its threshold and verdict, and the
//! DataDriftPreset's per-column scores and dataset verdict. Then the bad inputs, each refused
//! with an error naming it.

use modeltrail_stats::drift::ks::KsMethod;
use modeltrail_stats::drift::{
    binning, chi_square, column_drift, dataset_drift, jensen_shannon, ks, numeric_statistics, psi,
    wasserstein, z_test, BinKey, BinRule, CategoryCounts, ColumnDrift, ColumnKind, ColumnSample,
    Comparison, DriftError, DriftTest, NamedColumnDrift, NumericSample, Side, TestChoice,
    TestDetail, TestOverride, DEFAULT_DRIFT_SHARE,
};
use serde_json::Value;

const RELATIVE: f64 = 1e-9;
const ABSOLUTE: f64 = 1e-14;

const FIXTURES: &[(&str, &str)] = &[
    (
        "small_exact",
        include_str!("fixtures/drift/small_exact.json"),
    ),
    (
        "equal_sizes_ties",
        include_str!("fixtures/drift/equal_sizes_ties.json"),
    ),
    ("identical", include_str!("fixtures/drift/identical.json")),
    (
        "exact_large",
        include_str!("fixtures/drift/exact_large.json"),
    ),
    ("asymptotic", include_str!("fixtures/drift/asymptotic.json")),
    (
        "asymptotic_small_n",
        include_str!("fixtures/drift/asymptotic_small_n.json"),
    ),
    (
        "large_reference",
        include_str!("fixtures/drift/large_reference.json"),
    ),
    (
        "tiny_shares",
        include_str!("fixtures/drift/tiny_shares.json"),
    ),
    (
        "half_drifted",
        include_str!("fixtures/drift/half_drifted.json"),
    ),
];

/// A number of the fixture: JSON numbers, or "nan", "inf", "-inf".
fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().expect("a float"),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(number)
        .collect()
}

fn close(found: f64, expected: f64) -> bool {
    if found.is_nan() || expected.is_nan() {
        return found.is_nan() && expected.is_nan();
    }
    if found == expected {
        return true;
    }
    let difference = (found - expected).abs();
    difference <= ABSOLUTE || difference <= RELATIVE * found.abs().max(expected.abs())
}

#[track_caller]
fn check(what: &str, found: f64, expected: &Value) {
    let expected = number(expected);
    assert!(
        close(found, expected),
        "{what}: modeltrail {found:e}, reference {expected:e} (difference {:e})",
        (found - expected).abs()
    );
}

#[track_caller]
fn check_all(what: &str, found: &[f64], expected: &Value) {
    let expected = numbers(expected);
    assert_eq!(found.len(), expected.len(), "{what}: lengths");
    for (i, (f, e)) in found.iter().zip(&expected).enumerate() {
        assert!(
            close(*f, *e),
            "{what}[{i}]: modeltrail {f:e}, reference {e:e}"
        );
    }
}

fn samples(column: &Value) -> (ColumnSample, ColumnSample) {
    match column["kind"].as_str() {
        Some("numerical") => (
            ColumnSample::Numerical(
                NumericSample::new(Side::Reference, &numbers(&column["reference"])).expect("ref"),
            ),
            ColumnSample::Numerical(
                NumericSample::new(Side::Current, &numbers(&column["current"])).expect("cur"),
            ),
        ),
        Some("categorical") => {
            let read = |side: Side, values: &Value| {
                CategoryCounts::new(
                    side,
                    values
                        .as_array()
                        .expect("an array")
                        .iter()
                        .map(|v| v.as_str()),
                )
                .expect("categories")
            };
            (
                ColumnSample::Categorical(read(Side::Reference, &column["reference"])),
                ColumnSample::Categorical(read(Side::Current, &column["current"])),
            )
        }
        other => panic!("kind {other:?}"),
    }
}

fn with(test: DriftTest, threshold: f64) -> Option<TestOverride> {
    Some(TestOverride {
        test,
        threshold: Some(threshold),
    })
}

fn check_bins(what: &str, bins: &modeltrail_stats::drift::Bins, expected: &Value) {
    match (&bins.rule, expected["rule"].as_str()) {
        (BinRule::Sturges { edges }, Some("sturges")) => {
            check_all(&format!("{what} edges"), edges, &expected["edges"]);
        }
        (BinRule::Values { keys }, Some("values")) => {
            let expected_keys = expected["keys"].as_array().expect("keys");
            assert_eq!(keys.len(), expected_keys.len(), "{what} keys");
            for (key, e) in keys.iter().zip(expected_keys) {
                match key {
                    BinKey::Number(n) => check(&format!("{what} key"), *n, e),
                    BinKey::Text(t) => assert_eq!(Some(t.as_str()), e.as_str(), "{what} key"),
                }
            }
        }
        (rule, expected_rule) => panic!("{what}: rule {rule:?}, reference {expected_rule:?}"),
    }
    check_all(
        &format!("{what} reference shares"),
        &bins.reference_shares(),
        &expected["reference_shares"],
    );
    check_all(
        &format!("{what} current shares"),
        &bins.current_shares(),
        &expected["current_shares"],
    );
    let (_, filled) = binning::zero_filled(&bins.reference_shares());
    check_all(
        &format!("{what} reference filled"),
        &filled,
        &expected["reference_filled"],
    );
    let (_, filled) = binning::zero_filled(&bins.current_shares());
    check_all(
        &format!("{what} current filled"),
        &filled,
        &expected["current_filled"],
    );
}

fn check_verdict(what: &str, drift: &ColumnDrift, expected: &Value) {
    check(&format!("{what} value"), drift.score, &expected["value"]);
    assert_eq!(
        drift.drifted,
        expected["drifted"].as_bool().expect("drifted"),
        "{what} drifted"
    );
}

/// Every figure of one fixture column.
fn check_column(fixture: &str, column: &Value) -> ColumnDrift {
    let name = format!("{fixture}/{}", column["name"].as_str().expect("name"));
    let expected = &column["expected"];
    let (reference, current) = samples(column);
    assert_eq!(
        reference.rows(),
        expected["reference_rows"].as_u64().expect("rows"),
        "{name} reference rows"
    );
    assert_eq!(
        current.rows(),
        expected["current_rows"].as_u64().expect("rows"),
        "{name} current rows"
    );

    if let (ColumnSample::Numerical(r), ColumnSample::Numerical(c)) = (&reference, &current) {
        let stats = numeric_statistics(r, c).expect("statistics");
        check(
            &format!("{name} ks statistic"),
            stats.ks.statistic,
            &expected["ks"]["statistic"],
        );
        check(
            &format!("{name} ks p-value"),
            stats.ks.p_value,
            &expected["ks"]["p_value"],
        );
        let method = match stats.ks.method {
            KsMethod::Exact => "exact",
            KsMethod::Asymptotic => "asymptotic",
        };
        assert_eq!(
            Some(method),
            expected["ks"]["method"].as_str(),
            "{name} ks method"
        );
        check(
            &format!("{name} wasserstein"),
            stats.wasserstein.distance,
            &expected["wasserstein"],
        );
        check(
            &format!("{name} reference std"),
            stats.wasserstein.reference_std,
            &expected["reference_std"],
        );
        check(
            &format!("{name} wasserstein normed"),
            stats.wasserstein.normed,
            &expected["wasserstein_norm"]["value"],
        );
        check_bins(&name, &stats.bins, &expected["bins"]);
        check(
            &format!("{name} psi"),
            stats.psi.value,
            &expected["psi"]["value"],
        );
        check(
            &format!("{name} js"),
            stats.jensen_shannon.value,
            &expected["jensen_shannon"]["value"],
        );
        let drift = column_drift(&reference, &current, with(DriftTest::Wasserstein, 0.1))
            .expect("wasserstein");
        check_verdict(
            &format!("{name} wasserstein"),
            &drift,
            &expected["wasserstein_norm"],
        );
    }
    let drift = column_drift(&reference, &current, with(DriftTest::Psi, 0.1)).expect("psi");
    check_verdict(&format!("{name} psi"), &drift, &expected["psi"]);
    if let TestDetail::Psi { bins, .. } = &drift.detail {
        check_bins(&format!("{name} psi"), bins, &expected["bins"]);
    }
    let drift =
        column_drift(&reference, &current, with(DriftTest::JensenShannon, 0.1)).expect("js");
    check_verdict(&format!("{name} js"), &drift, &expected["jensen_shannon"]);

    if let Some(chi) = expected.get("chi_square") {
        let result = column_drift(&reference, &current, with(DriftTest::ChiSquare, 0.05));
        match (&result, chi.get("p_value").map(number)) {
            (Ok(drift), Some(p)) if !p.is_nan() => {
                check(&format!("{name} chi-square"), drift.score, &chi["p_value"]);
                assert_eq!(
                    drift.drifted,
                    chi["drifted"].as_bool().expect("drifted"),
                    "{name} chi drifted"
                );
            }
            (Err(DriftError::SingleValue { test: "chisquare" }), Some(p)) if p.is_nan() => {}
            (found, _) => panic!("{name} chi-square: {found:?}, reference {chi}"),
        }
    }
    if let Some(z) = expected.get("z") {
        let drift = column_drift(&reference, &current, with(DriftTest::Z, 0.05)).expect("z");
        check(&format!("{name} z"), drift.score, &z["p_value"]);
        assert_eq!(
            drift.drifted,
            z["drifted"].as_bool().expect("drifted"),
            "{name} z drifted"
        );
    }

    // Evidently's default: test, threshold, score, verdict.
    let default = &expected["default"];
    let drift = column_drift(&reference, &current, None).expect("default test");
    assert_eq!(drift.choice, TestChoice::Default);
    assert_eq!(
        Some(drift.test.name()),
        default["test"].as_str(),
        "{name} default test"
    );
    check(
        &format!("{name} default threshold"),
        drift.threshold,
        &default["threshold"],
    );
    check(
        &format!("{name} default score"),
        drift.score,
        &default["score"],
    );
    assert_eq!(
        drift.drifted,
        default["drifted"].as_bool().expect("drifted"),
        "{name} default drifted"
    );
    assert_eq!(
        drift.n_unique as u64,
        expected["n_unique"].as_u64().expect("n_unique"),
        "{name} n_unique"
    );
    drift
}

fn check_fixture(name: &str) {
    let (_, text) = FIXTURES
        .iter()
        .find(|(fixture, _)| *fixture == name)
        .expect("fixture listed");
    let document: Value = serde_json::from_str(text).expect("fixture JSON");
    let mut columns = Vec::new();
    for column in document["columns"].as_array().expect("columns") {
        let drift = check_column(name, column);
        columns.push(NamedColumnDrift {
            column: column["name"].as_str().expect("name").to_owned(),
            drift,
        });
    }
    // The DataDriftPreset: each column's ValueDrift and the DriftedColumnsCount.
    let preset = &document["preset"];
    for column in &columns {
        let expected = &preset["columns"][&column.column];
        check(
            &format!("{name}/{} preset score", column.column),
            column.drift.score,
            &expected["score"],
        );
        check(
            &format!("{name}/{} preset threshold", column.column),
            column.drift.threshold,
            &expected["threshold"],
        );
    }
    let verdict = dataset_drift(columns, DEFAULT_DRIFT_SHARE).expect("verdict");
    assert_eq!(
        verdict.drifted_columns as u64,
        preset["drifted_columns"].as_u64().expect("count"),
        "{name} drifted columns"
    );
    check(&format!("{name} share"), verdict.share, &preset["share"]);
    assert_eq!(
        verdict.dataset_drift,
        preset["dataset_drift"].as_bool().expect("verdict"),
        "{name} dataset drift"
    );
}

#[test]
fn small_exact() {
    check_fixture("small_exact");
}

#[test]
fn equal_sizes_ties() {
    check_fixture("equal_sizes_ties");
}

#[test]
fn identical() {
    check_fixture("identical");
}

#[test]
fn exact_large() {
    check_fixture("exact_large");
}

#[test]
fn asymptotic() {
    check_fixture("asymptotic");
}

#[test]
fn asymptotic_small_n() {
    check_fixture("asymptotic_small_n");
}

#[test]
fn large_reference() {
    check_fixture("large_reference");
}

#[test]
fn tiny_shares() {
    check_fixture("tiny_shares");
}

#[test]
fn half_drifted() {
    check_fixture("half_drifted");
}

#[test]
fn every_fixture_file_is_tested() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/drift");
    let mut files: Vec<String> = std::fs::read_dir(directory)
        .expect("fixture directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json") && name != "performance.json")
        .collect();
    files.sort();
    let mut listed: Vec<String> = FIXTURES
        .iter()
        .map(|(name, _)| format!("{name}.json"))
        .collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn the_comparison_fails_when_a_figure_is_off() {
    // The tolerance is tight enough to catch a figure off in the ninth digit.
    assert!(close(0.123_456_789_0, 0.123_456_789_0 * (1.0 + 5e-10)));
    assert!(!close(0.123_456_789_0, 0.123_456_789_0 * (1.0 + 5e-9)));
    assert!(!close(1e-20, 2e-20) || ABSOLUTE >= 1e-20);
    assert!(!close(0.05, 0.0500001));
}

fn numeric(side: Side, values: &[f64]) -> NumericSample {
    NumericSample::new(side, values).expect("finite values")
}

#[test]
fn empty_and_non_finite_columns_are_refused_naming_the_side() {
    assert_eq!(
        NumericSample::new(Side::Reference, &[]).unwrap_err(),
        DriftError::EmptyColumn {
            side: Side::Reference
        }
    );
    let error =
        NumericSample::new(Side::Current, &[f64::NAN, f64::INFINITY, f64::NAN]).unwrap_err();
    assert_eq!(
        error,
        DriftError::NoFiniteValues {
            side: Side::Current,
            nan: 2,
            infinite: 1
        }
    );
    assert_eq!(
        error.to_string(),
        "the current column has no finite value (2 NaN, 1 infinite)"
    );
    let error = CategoryCounts::new(Side::Reference, [None::<&str>, None]).unwrap_err();
    assert_eq!(
        error,
        DriftError::OnlyMissing {
            side: Side::Reference,
            missing: 2
        }
    );
    let error = CategoryCounts::new(Side::Current, Vec::<Option<&str>>::new()).unwrap_err();
    assert_eq!(
        error,
        DriftError::EmptyColumn {
            side: Side::Current
        }
    );
}

#[test]
fn tests_that_do_not_fit_the_column_are_refused() {
    let reference = ColumnSample::Categorical(
        CategoryCounts::new(Side::Reference, [Some("a"), Some("b")]).expect("categories"),
    );
    let current = ColumnSample::Categorical(
        CategoryCounts::new(Side::Current, [Some("a"), Some("a")]).expect("categories"),
    );
    let error = column_drift(
        &reference,
        &current,
        with(DriftTest::KolmogorovSmirnov, 0.05),
    )
    .unwrap_err();
    assert_eq!(
        error,
        DriftError::TestNotForKind {
            test: "ks",
            kind: ColumnKind::Categorical
        }
    );
    let numbers = ColumnSample::Numerical(numeric(Side::Current, &[1.0, 2.0]));
    let error = column_drift(&reference, &numbers, None).unwrap_err();
    assert!(matches!(error, DriftError::KindsDiffer { .. }), "{error:?}");
    let error = column_drift(&reference, &current, with(DriftTest::Psi, f64::NAN)).unwrap_err();
    assert!(
        matches!(error, DriftError::BadThreshold { .. }),
        "{error:?}"
    );
    let same =
        ColumnSample::Categorical(CategoryCounts::new(Side::Current, [Some("a")]).expect("a"));
    let one =
        ColumnSample::Categorical(CategoryCounts::new(Side::Reference, [Some("a")]).expect("a"));
    let error = column_drift(&one, &same, with(DriftTest::ChiSquare, 0.05)).unwrap_err();
    assert_eq!(error, DriftError::SingleValue { test: "chisquare" });
}

#[test]
fn the_dataset_verdict_needs_columns_and_a_sensible_share() {
    assert_eq!(
        dataset_drift(Vec::new(), 0.5).unwrap_err(),
        DriftError::NoColumns
    );
    assert!(matches!(
        dataset_drift(Vec::new(), 0.0).unwrap_err(),
        DriftError::BadDriftShare { .. }
    ));
    assert!(matches!(
        dataset_drift(Vec::new(), 1.5).unwrap_err(),
        DriftError::BadDriftShare { .. }
    ));
}

#[test]
fn a_constant_reference_is_normed_by_the_floor() {
    let reference = numeric(Side::Reference, &[3.0; 50]);
    let current = numeric(Side::Current, &[3.0, 3.5, 4.0]);
    let result = wasserstein::wasserstein(&reference, &current);
    assert_eq!(result.reference_std, 0.0);
    assert_eq!(result.divisor, wasserstein::STD_FLOOR);
    assert!(close(result.distance, 0.5));
    assert!(close(result.normed, 500.0));
}

#[test]
fn results_say_how_to_reproduce_them() {
    let reference = ColumnSample::Numerical(numeric(
        Side::Reference,
        &(0..200)
            .map(|i| f64::from(i) * 0.37 % 11.0)
            .collect::<Vec<_>>(),
    ));
    let current = ColumnSample::Numerical(numeric(
        Side::Current,
        &(0..150)
            .map(|i| f64::from(i) * 0.41 % 12.0)
            .chain([f64::NAN])
            .collect::<Vec<_>>(),
    ));
    let drift = column_drift(&reference, &current, with(DriftTest::Psi, 0.2)).expect("psi");
    assert_eq!(drift.choice, TestChoice::Override);
    assert_eq!(drift.comparison, Comparison::AtLeast);
    assert_eq!(drift.current.dropped.missing, 1);
    let json = serde_json::to_value(&drift).expect("serialisable");
    assert_eq!(json["test"], "psi");
    assert_eq!(json["threshold"], 0.2);
    assert_eq!(json["comparison"], "at_least");
    assert_eq!(json["detail"]["test"], "psi");
    assert_eq!(json["detail"]["bins"]["rule"], "sturges");
    assert!(
        json["detail"]["bins"]["edges"]
            .as_array()
            .expect("edges")
            .len()
            > 2
    );
    assert_eq!(json["detail"]["result"]["log_base"], "e");
    assert_eq!(json["current"]["dropped"]["missing"], 1);
    let ks = column_drift(&reference, &current, None).expect("default");
    assert_eq!(ks.test, DriftTest::KolmogorovSmirnov);
    assert_eq!(ks.comparison.symbol(), "<=");
    let json = serde_json::to_value(&ks).expect("serialisable");
    assert_eq!(json["detail"]["method"], "exact");
}

#[test]
fn the_default_choice_follows_evidently() {
    use modeltrail_stats::drift::default_test;
    use ColumnKind::{Categorical, Numerical};
    assert_eq!(
        default_test(Numerical, 1000, 6),
        DriftTest::KolmogorovSmirnov
    );
    assert_eq!(default_test(Numerical, 1000, 5), DriftTest::ChiSquare);
    assert_eq!(default_test(Numerical, 1000, 3), DriftTest::ChiSquare);
    assert_eq!(default_test(Numerical, 1000, 2), DriftTest::Z);
    assert_eq!(default_test(Categorical, 10, 3), DriftTest::ChiSquare);
    assert_eq!(default_test(Categorical, 10, 2), DriftTest::Z);
    assert_eq!(default_test(Numerical, 1001, 6), DriftTest::Wasserstein);
    assert_eq!(default_test(Numerical, 1001, 5), DriftTest::JensenShannon);
    assert_eq!(default_test(Categorical, 1001, 2), DriftTest::JensenShannon);
    assert_eq!(
        DriftTest::from_name("jensenshannon"),
        Some(DriftTest::JensenShannon)
    );
    assert_eq!(DriftTest::from_name("kl_div"), None);
}

#[test]
fn the_building_blocks_are_usable_alone() {
    let reference = numeric(Side::Reference, &[1.0, 2.0, 3.0, 4.0]);
    let current = numeric(Side::Current, &[3.0, 4.0, 5.0, 6.0]);
    let result = ks::ks_2samp(&reference, &current);
    assert!(close(result.statistic, 0.5));
    let bins = binning::numeric_bins(&reference, &current).expect("bins");
    assert!(matches!(bins.rule, BinRule::Values { .. }));
    assert_eq!(bins.len(), 6);
    let p = psi::psi(&bins);
    assert_eq!(p.reference_zero_fill, Some(binning::ZERO_FILL));
    assert!(jensen_shannon::jensen_shannon(&bins).value > 0.0);
    assert!(chi_square::chi_square(&bins).expect("chi").p_value < 1.0);
    let z = z_test::z_test(&bins).expect("z");
    assert_eq!(z.coded_zero, Some(BinKey::Number(1.0)));
}
