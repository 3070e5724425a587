//! Global importance, the additivity check and local explanations of attribution matrices, on
//! values checked by hand, and every kind of bad matrix refused with an error that names it.

use modeltrail_stats::importance::{
    global_importance, local_explanations, AttributionMatrix, BaseValues, FeatureAttribution,
    ImportanceError, ImportanceReport,
};

fn names(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

/// Three rows, three features:
///
/// | row | base | age  | dose | weight | output |
/// |-----|------|------|------|--------|--------|
/// | 0   | 0.5  | 0.1  | -0.4 | 0.0    | 0.2    |
/// | 1   | 0.5  | -0.2 | 0.6  | 0.05   | 0.95   |
/// | 2   | 0.5  | 0.3  | -0.5 | -0.1   | 0.2    |
///
/// mean |age| = 0.6/3 = 0.2, mean |dose| = 1.5/3 = 0.5, mean |weight| = 0.15/3 = 0.05.
/// Row 2: 0.5 + 0.3 - 0.5 - 0.1 = 0.2 exactly; rows 0 and 1 likewise: no deviation but rounding.
fn example() -> AttributionMatrix {
    AttributionMatrix {
        feature_names: names(&["age", "dose", "weight"]),
        attributions: vec![
            vec![0.1, -0.4, 0.0],
            vec![-0.2, 0.6, 0.05],
            vec![0.3, -0.5, -0.1],
        ],
        base_values: BaseValues::Shared(0.5),
        outputs: Some(vec![0.2, 0.95, 0.2]),
    }
}

fn assert_near(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "{actual} is not {expected}"
    );
}

#[test]
fn global_importance_is_mean_absolute_attribution_sorted_descending() {
    let report = global_importance(&example()).expect("report");
    assert_eq!(report.rows, 3);
    assert_eq!(report.features, 3);
    let order: Vec<&str> = report
        .ranking
        .iter()
        .map(|importance| importance.feature.as_str())
        .collect();
    assert_eq!(order, ["dose", "age", "weight"]);
    assert_near(report.ranking[0].mean_abs_attribution, 0.5);
    assert_near(report.ranking[1].mean_abs_attribution, 0.2);
    assert_near(report.ranking[2].mean_abs_attribution, 0.05);
    assert_near(report.importance_of("age").expect("age"), 0.2);
    assert_eq!(report.importance_of("height"), None);
}

#[test]
fn additivity_holds_for_consistent_outputs() {
    let report = global_importance(&example()).expect("report");
    let check = report.additivity.expect("outputs were given");
    assert_eq!(check.rows_checked, 3);
    assert!(check.max_abs_deviation < 1e-12, "{check:?}");
    assert!(check.holds_within(1e-9));
}

#[test]
fn additivity_reports_the_worst_row() {
    let mut matrix = example();
    // Row 1 off by 0.25, row 2 by 0.1.
    matrix.outputs = Some(vec![0.2, 1.2, 0.1]);
    let check = global_importance(&matrix)
        .expect("report")
        .additivity
        .expect("check");
    assert_eq!(check.worst_row, 1);
    assert_near(check.max_abs_deviation, 0.25);
    assert_near(check.mean_abs_deviation, 0.35 / 3.0);
    assert!(!check.holds_within(0.2));
    assert!(check.holds_within(0.3));
}

#[test]
fn per_row_base_values_are_used_row_by_row() {
    let mut matrix = example();
    matrix.base_values = BaseValues::PerRow(vec![0.5, 0.0, 1.5]);
    matrix.outputs = Some(vec![0.2, 0.45, 1.2]);
    let check = global_importance(&matrix)
        .expect("report")
        .additivity
        .expect("check");
    assert!(check.max_abs_deviation < 1e-12, "{check:?}");
    let explanations = local_explanations(&matrix, &[2]).expect("row 2");
    assert_eq!(explanations[0].base_value, 1.5);
    assert_near(explanations[0].explained_output, 1.2);
}

#[test]
fn no_outputs_no_additivity_check() {
    let mut matrix = example();
    matrix.outputs = None;
    assert_eq!(global_importance(&matrix).expect("report").additivity, None);
}

#[test]
fn ties_keep_the_uploaded_feature_order() {
    let matrix = AttributionMatrix {
        feature_names: names(&["b", "a", "c"]),
        attributions: vec![vec![1.0, -1.0, 2.0], vec![-1.0, 1.0, 0.0]],
        base_values: BaseValues::Shared(0.0),
        outputs: None,
    };
    let report = global_importance(&matrix).expect("report");
    let order: Vec<&str> = report
        .ranking
        .iter()
        .map(|importance| importance.feature.as_str())
        .collect();
    assert_eq!(order, ["b", "a", "c"]);
    assert!(report
        .ranking
        .iter()
        .all(|importance| importance.mean_abs_attribution == 1.0));
}

#[test]
fn importance_of_a_larger_matrix_matches_a_direct_computation() {
    // A deterministic pseudo-random matrix (linear congruential), 500 rows x 7 features.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 / (1_u64 << 53) as f64) * 2.0 - 1.0
    };
    let features = 7;
    let attributions: Vec<Vec<f64>> = (0..500)
        .map(|_| {
            (0..features)
                .map(|column| next() * (column + 1) as f64)
                .collect()
        })
        .collect();
    let matrix = AttributionMatrix {
        feature_names: (0..features).map(|column| format!("f{column}")).collect(),
        attributions: attributions.clone(),
        base_values: BaseValues::Shared(0.0),
        outputs: None,
    };
    let report = global_importance(&matrix).expect("report");
    for column in 0..features {
        let expected = attributions
            .iter()
            .map(|row| row[column].abs())
            .sum::<f64>()
            / attributions.len() as f64;
        assert_near(
            report
                .importance_of(&format!("f{column}"))
                .expect("feature"),
            expected,
        );
    }
    // Feature scale grows with the column, so the ranking is f6 .. f0.
    let order: Vec<&str> = report
        .ranking
        .iter()
        .map(|importance| importance.feature.as_str())
        .collect();
    assert_eq!(order, ["f6", "f5", "f4", "f3", "f2", "f1", "f0"]);
    assert!(report
        .ranking
        .windows(2)
        .all(|pair| pair[0].mean_abs_attribution >= pair[1].mean_abs_attribution));
}

#[test]
fn local_explanations_return_the_chosen_rows_in_the_order_asked() {
    let explanations = local_explanations(&example(), &[2, 0, 2]).expect("rows");
    assert_eq!(
        explanations
            .iter()
            .map(|explanation| explanation.row)
            .collect::<Vec<_>>(),
        [2, 0, 2]
    );
    let first = &explanations[0];
    assert_eq!(first.base_value, 0.5);
    assert_eq!(first.output, Some(0.2));
    assert_near(first.explained_output, 0.2);
    assert_eq!(
        first.attributions,
        [
            FeatureAttribution {
                feature: "age".to_owned(),
                attribution: 0.3
            },
            FeatureAttribution {
                feature: "dose".to_owned(),
                attribution: -0.5
            },
            FeatureAttribution {
                feature: "weight".to_owned(),
                attribution: -0.1
            },
        ]
    );
    assert_eq!(local_explanations(&example(), &[]).expect("none"), []);
}

#[test]
fn a_row_past_the_end_is_refused() {
    let error = local_explanations(&example(), &[1, 3]).expect_err("refused");
    assert_eq!(error, ImportanceError::RowOutOfRange { index: 3, rows: 3 });
    assert_eq!(
        error.to_string(),
        "row 3 was asked for, but the matrix has 3 rows (0 to 2)"
    );
}

#[test]
fn matrices_round_trip_through_json() {
    let text = r#"{
        "feature_names": ["age", "dose"],
        "attributions": [[0.1, -0.2], [0.3, 0.4]],
        "base_values": [0.5, 0.6]
    }"#;
    let matrix: AttributionMatrix = serde_json::from_str(text).expect("matrix");
    assert_eq!(matrix.base_values, BaseValues::PerRow(vec![0.5, 0.6]));
    assert_eq!(matrix.outputs, None);
    let shared: AttributionMatrix = serde_json::from_str(
        r#"{"feature_names": ["a"], "attributions": [[1]], "base_values": 0.5, "outputs": [1.5]}"#,
    )
    .expect("matrix");
    assert_eq!(shared.base_values, BaseValues::Shared(0.5));
    let report = global_importance(&example()).expect("report");
    let back: ImportanceReport =
        serde_json::from_str(&serde_json::to_string(&report).expect("json")).expect("parse");
    assert_eq!(back, report);
}

// ---- bad matrices ----

#[test]
fn an_empty_matrix_is_refused() {
    let mut matrix = example();
    matrix.attributions.clear();
    matrix.outputs = None;
    assert_eq!(
        global_importance(&matrix),
        Err(ImportanceError::EmptyMatrix)
    );
    let no_features = AttributionMatrix {
        feature_names: Vec::new(),
        attributions: vec![Vec::new(), Vec::new()],
        base_values: BaseValues::Shared(0.0),
        outputs: None,
    };
    assert_eq!(
        global_importance(&no_features),
        Err(ImportanceError::NoFeatures)
    );
}

#[test]
fn a_ragged_row_is_refused() {
    let mut matrix = example();
    matrix.attributions[2].push(0.7);
    let error = global_importance(&matrix).expect_err("refused");
    assert_eq!(
        error,
        ImportanceError::RaggedRow {
            row: 2,
            found: 4,
            expected: 3
        }
    );
    assert_eq!(
        error.to_string(),
        "attribution row 2 has 4 values but the matrix has 3 features"
    );
}

#[test]
fn feature_names_must_match_the_columns_and_be_unique() {
    let mut matrix = example();
    matrix.feature_names.pop();
    let error = global_importance(&matrix).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "2 feature names for 3 attribution columns: give one name per column"
    );
    let mut matrix = example();
    matrix.feature_names[2] = "age".to_owned();
    assert_eq!(
        global_importance(&matrix),
        Err(ImportanceError::DuplicateFeatureName {
            name: "age".to_owned()
        })
    );
}

#[test]
fn non_finite_numbers_are_refused() {
    let mut matrix = example();
    matrix.attributions[1][1] = f64::NAN;
    let error = global_importance(&matrix).expect_err("refused");
    assert!(matches!(
        &error,
        ImportanceError::NonFiniteAttribution { row: 1, feature, .. } if feature == "dose"
    ));
    assert!(
        error.to_string().contains("feature \"dose\" in row 1"),
        "{error}"
    );

    let mut matrix = example();
    matrix.outputs = Some(vec![0.2, f64::INFINITY, 0.2]);
    assert_eq!(
        global_importance(&matrix).expect_err("refused").to_string(),
        "output in row 1 is not a finite number (inf)"
    );

    let mut matrix = example();
    matrix.base_values = BaseValues::Shared(f64::NEG_INFINITY);
    assert!(matches!(
        local_explanations(&matrix, &[0]),
        Err(ImportanceError::NonFiniteValue {
            what: "the base value",
            ..
        })
    ));
}

#[test]
fn base_values_and_outputs_need_one_per_row() {
    let mut matrix = example();
    matrix.base_values = BaseValues::PerRow(vec![0.5, 0.5]);
    assert_eq!(
        global_importance(&matrix).expect_err("refused").to_string(),
        "2 base values for 3 rows: give one per row"
    );
    let mut matrix = example();
    matrix.outputs = Some(vec![0.2]);
    assert_eq!(
        global_importance(&matrix),
        Err(ImportanceError::CountMismatch {
            what: "outputs",
            found: 1,
            rows: 3
        })
    );
}
