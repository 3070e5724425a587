//! Performance metrics against scikit-learn's own: `fixtures/drift/performance.json` was written
//! by `scripts/make_drift_fixtures.py` with the real scikit-learn 1.9.1; every figure must equal
//! scikit-learn's to 1e-9 relative, undefined figures (NaN there with `zero_division=np.nan` /
//! `force_finite=False`) being `None` here. Then the bad inputs.

use modeltrail_stats::performance::{classification, regression, PerformanceError};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/drift/performance.json");

fn close(found: f64, expected: f64) -> bool {
    found == expected || (found - expected).abs() <= 1e-9 * found.abs().max(expected.abs())
}

/// None where scikit-learn's figure is NaN or infinite (undefined), else the number.
#[track_caller]
fn check(what: &str, found: Option<f64>, expected: &Value) {
    let expected = match expected {
        Value::Null => None,
        Value::String(s) if s == "nan" || s == "inf" || s == "-inf" => None,
        Value::Number(n) => n.as_f64(),
        other => panic!("{what}: {other}"),
    };
    match (found, expected) {
        (Some(f), Some(e)) => assert!(close(f, e), "{what}: modeltrail {f}, scikit-learn {e}"),
        (None, None) => {}
        (f, e) => panic!("{what}: modeltrail {f:?}, scikit-learn {e:?}"),
    }
}

fn bools(value: &Value) -> Vec<bool> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_bool().expect("bool"))
        .collect()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

#[test]
fn classification_matches_scikit_learn() {
    let document: Value = serde_json::from_str(FIXTURE).expect("fixture");
    let cases = document["classification"].as_array().expect("cases");
    assert!(cases.len() >= 7);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let scores = floats(&case["scores"]);
        let metrics = classification(
            &bools(&case["labels"]),
            &bools(&case["predictions"]),
            Some(&scores),
        )
        .expect("metrics");
        check(
            &format!("{name} accuracy"),
            Some(metrics.accuracy),
            &case["accuracy"],
        );
        check(
            &format!("{name} precision"),
            metrics.precision,
            &case["precision"],
        );
        check(&format!("{name} recall"), metrics.recall, &case["recall"]);
        check(&format!("{name} f1"), metrics.f1, &case["f1"]);
        check(
            &format!("{name} roc_auc"),
            metrics.roc_auc,
            &case["roc_auc"],
        );
        // scikit-learn's defaults put 0.0 where the figure is undefined.
        check(
            &format!("{name} precision default"),
            Some(metrics.precision.unwrap_or(0.0)),
            &case["precision_default"],
        );
        check(
            &format!("{name} f1 default"),
            Some(metrics.f1.unwrap_or(0.0)),
            &case["f1_default"],
        );
    }
}

#[test]
fn regression_matches_scikit_learn() {
    let document: Value = serde_json::from_str(FIXTURE).expect("fixture");
    let cases = document["regression"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let metrics =
            regression(&floats(&case["labels"]), &floats(&case["predictions"])).expect("metrics");
        check(&format!("{name} mae"), Some(metrics.mae), &case["mae"]);
        check(&format!("{name} rmse"), Some(metrics.rmse), &case["rmse"]);
        check(&format!("{name} r2"), metrics.r2, &case["r2"]);
    }
}

#[test]
fn bad_inputs_are_refused_naming_them() {
    assert_eq!(
        classification(&[], &[], None).unwrap_err(),
        PerformanceError::Empty
    );
    assert_eq!(
        classification(&[true, false], &[true], None).unwrap_err(),
        PerformanceError::LengthsDiffer {
            column: "predictions",
            labels: 2,
            found: 1
        }
    );
    assert_eq!(
        classification(&[true, false], &[true, true], Some(&[0.5])).unwrap_err(),
        PerformanceError::LengthsDiffer {
            column: "scores",
            labels: 2,
            found: 1
        }
    );
    let error = classification(&[true, false], &[true, true], Some(&[0.5, f64::NAN])).unwrap_err();
    assert!(matches!(
        error,
        PerformanceError::NonFinite {
            column: "scores",
            row: 1,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "scores row 1 is not a finite number (NaN)"
    );
    assert_eq!(regression(&[], &[]).unwrap_err(), PerformanceError::Empty);
    let error = regression(&[1.0, 2.0], &[1.0, f64::INFINITY]).unwrap_err();
    assert!(matches!(
        error,
        PerformanceError::NonFinite {
            column: "predictions",
            row: 1,
            ..
        }
    ));
    assert!(matches!(
        regression(&[1.0], &[1.0, 2.0]).unwrap_err(),
        PerformanceError::LengthsDiffer { .. }
    ));
}

#[test]
fn without_scores_there_is_no_auc() {
    let metrics =
        classification(&[true, false, true], &[true, false, false], None).expect("metrics");
    assert_eq!(metrics.roc_auc, None);
    assert_eq!((metrics.true_positives, metrics.false_negatives), (1, 1));
}
