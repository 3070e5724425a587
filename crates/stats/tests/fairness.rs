//! Fairness figures against Fairlearn's own: every fixture under `fixtures/fairness/` was written
//! by `scripts/make_fairness_fixtures.py` with the real Fairlearn (pinned there), and every figure
//! here must equal Fairlearn's to 1e-9. Then the bad inputs, each refused with an error that names
//! it, and the lookup of named figures.

mod common;

use common::FIXTURES;

use modeltrail_stats::fairness::{
    assess, assess_binary, binarise, labels_from_json, Disaggregation, FairnessError,
    FairnessReport, FigureError, GroupMetrics, Label, AGGREGATE_FIGURES, FAIRLEARN_REFERENCE,
    GROUP_FIGURES,
};
use serde::Deserialize;
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
    fairlearn: String,
    positive_label: Value,
    labels: Vec<Value>,
    predictions: Vec<Value>,
    sensitive: Vec<Attribute>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Attribute {
    name: String,
    values: Vec<String>,
}

#[derive(Deserialize)]
struct Expected {
    overall: ExpectedOverall,
    intersection: ExpectedDisaggregation,
    by_attribute: Vec<ExpectedDisaggregation>,
}

#[derive(Deserialize)]
struct ExpectedOverall {
    count: f64,
    selection_rate: f64,
    true_positive_rate: f64,
    false_positive_rate: f64,
    accuracy: f64,
}

#[derive(Deserialize)]
struct ExpectedGroup {
    group: Vec<String>,
    count: u64,
    positives: u64,
    selection_rate: f64,
    true_positive_rate: f64,
    false_positive_rate: f64,
    accuracy: f64,
}

#[derive(Deserialize)]
struct ExpectedImpactGroup {
    group: Vec<String>,
    ratio_to_reference: Option<f64>,
    passes: Option<bool>,
}

#[derive(Deserialize)]
struct ExpectedImpact {
    reference_group: Vec<String>,
    ratio: Option<f64>,
    passes_four_fifths_rule: Option<bool>,
    groups: Vec<ExpectedImpactGroup>,
}

#[derive(Deserialize)]
struct ExpectedDisaggregation {
    attributes: Vec<String>,
    groups: Vec<ExpectedGroup>,
    empty_intersections: u64,
    demographic_parity_difference: Option<f64>,
    demographic_parity_ratio: Option<f64>,
    equalized_odds_difference: Option<f64>,
    equalized_odds_ratio: Option<f64>,
    equalized_odds_difference_mean: Option<f64>,
    equalized_odds_ratio_mean: Option<f64>,
    equal_opportunity_difference: Option<f64>,
    equal_opportunity_ratio: Option<f64>,
    true_positive_rate_difference: Option<f64>,
    true_positive_rate_ratio: Option<f64>,
    false_positive_rate_difference: Option<f64>,
    false_positive_rate_ratio: Option<f64>,
    disparate_impact: ExpectedImpact,
}

fn load(name: &str) -> (Fixture, FairnessReport) {
    let text = FIXTURES
        .iter()
        .find(|(fixture, _)| *fixture == name)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    let fixture: Fixture = serde_json::from_str(text).expect("fixture parses");
    let labels = labels_from_json(&fixture.labels, "labels").expect("labels");
    let predictions = labels_from_json(&fixture.predictions, "predictions").expect("predictions");
    let positive = Label::from_json(&fixture.positive_label, "positive label", 0).expect("label");
    let sensitive: Vec<(String, Vec<String>)> = fixture
        .sensitive
        .iter()
        .map(|attribute| (attribute.name.clone(), attribute.values.clone()))
        .collect();
    let report = assess(&labels, &predictions, &positive, &sensitive)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    (fixture, report)
}

fn assert_close(context: &str, ours: f64, fairlearn: f64) {
    assert!(
        (ours - fairlearn).abs() <= TOLERANCE,
        "{context}: ours {ours}, Fairlearn {fairlearn}"
    );
}

fn assert_close_option(context: &str, ours: Option<f64>, fairlearn: Option<f64>) {
    match (ours, fairlearn) {
        (Some(ours), Some(fairlearn)) => assert_close(context, ours, fairlearn),
        (None, None) => {}
        _ => panic!("{context}: ours {ours:?}, Fairlearn {fairlearn:?} (None is NaN)"),
    }
}

/// A rate Fairlearn reports as 0.0 where it is undefined: ours must be `None` exactly there.
fn assert_rate(context: &str, ours: Option<f64>, fairlearn: f64, defined: bool) {
    if defined {
        assert_close(context, ours.expect(context), fairlearn);
    } else {
        assert_eq!(ours, None, "{context}: undefined, so None");
        assert_eq!(
            fairlearn, 0.0,
            "{context}: Fairlearn gives 0.0 where undefined"
        );
    }
}

fn check_group(context: &str, ours: &GroupMetrics, expected: &ExpectedGroup) {
    let context = format!("{context} group {:?}", expected.group);
    assert_eq!(ours.group, expected.group, "{context}: group order");
    assert_eq!(ours.count, expected.count, "{context}: count");
    assert_eq!(ours.positives, expected.positives, "{context}: positives");
    assert_eq!(ours.positives + ours.negatives, ours.count, "{context}");
    assert_eq!(
        ours.true_positives + ours.false_positives + ours.true_negatives + ours.false_negatives,
        ours.count,
        "{context}"
    );
    assert_close(
        &format!("{context} selection_rate"),
        ours.selection_rate,
        expected.selection_rate,
    );
    assert_close(
        &format!("{context} accuracy"),
        ours.accuracy,
        expected.accuracy,
    );
    assert_rate(
        &format!("{context} true_positive_rate"),
        ours.true_positive_rate,
        expected.true_positive_rate,
        ours.positives > 0,
    );
    assert_rate(
        &format!("{context} false_positive_rate"),
        ours.false_positive_rate,
        expected.false_positive_rate,
        ours.negatives > 0,
    );
}

fn check_disaggregation(context: &str, ours: &Disaggregation, expected: &ExpectedDisaggregation) {
    let context = format!("{context} {:?}", expected.attributes);
    assert_eq!(ours.attributes, expected.attributes, "{context}");
    assert_eq!(
        ours.groups.len(),
        expected.groups.len(),
        "{context}: number of groups"
    );
    for (group, expected_group) in ours.groups.iter().zip(&expected.groups) {
        check_group(&context, group, expected_group);
    }
    assert_eq!(
        ours.empty_intersections, expected.empty_intersections,
        "{context}: empty intersections"
    );
    // Differences are never NaN in Fairlearn (undefined rates are 0.0 there).
    let difference = |name: &str, ours: f64, fairlearn: Option<f64>| {
        assert_close(
            &format!("{context} {name}"),
            ours,
            fairlearn.unwrap_or_else(|| panic!("{context} {name}: Fairlearn gave NaN")),
        )
    };
    let ratio = |name: &str, ours: Option<f64>, fairlearn: Option<f64>| {
        assert_close_option(&format!("{context} {name}"), ours, fairlearn)
    };
    difference(
        "demographic_parity_difference",
        ours.demographic_parity_difference,
        expected.demographic_parity_difference,
    );
    ratio(
        "demographic_parity_ratio",
        ours.demographic_parity_ratio,
        expected.demographic_parity_ratio,
    );
    difference(
        "equalized_odds_difference",
        ours.equalized_odds_difference,
        expected.equalized_odds_difference,
    );
    ratio(
        "equalized_odds_ratio",
        ours.equalized_odds_ratio,
        expected.equalized_odds_ratio,
    );
    difference(
        "equalized_odds_difference_mean",
        ours.equalized_odds_difference_mean,
        expected.equalized_odds_difference_mean,
    );
    ratio(
        "equalized_odds_ratio_mean",
        ours.equalized_odds_ratio_mean,
        expected.equalized_odds_ratio_mean,
    );
    difference(
        "equal_opportunity_difference",
        ours.true_positive_rate_difference,
        expected.equal_opportunity_difference,
    );
    ratio(
        "equal_opportunity_ratio",
        ours.true_positive_rate_ratio,
        expected.equal_opportunity_ratio,
    );
    difference(
        "true_positive_rate_difference",
        ours.true_positive_rate_difference,
        expected.true_positive_rate_difference,
    );
    ratio(
        "true_positive_rate_ratio",
        ours.true_positive_rate_ratio,
        expected.true_positive_rate_ratio,
    );
    difference(
        "false_positive_rate_difference",
        ours.false_positive_rate_difference,
        expected.false_positive_rate_difference,
    );
    ratio(
        "false_positive_rate_ratio",
        ours.false_positive_rate_ratio,
        expected.false_positive_rate_ratio,
    );

    let impact = &ours.disparate_impact;
    let expected_impact = &expected.disparate_impact;
    assert_eq!(
        impact.reference_group, expected_impact.reference_group,
        "{context}: reference group"
    );
    ratio(
        "disparate impact ratio",
        impact.ratio,
        expected_impact.ratio,
    );
    assert_eq!(
        impact.passes_four_fifths_rule, expected_impact.passes_four_fifths_rule,
        "{context}: four-fifths rule"
    );
    assert_eq!(
        impact.groups.len(),
        expected_impact.groups.len(),
        "{context}"
    );
    for (group, expected_group) in impact.groups.iter().zip(&expected_impact.groups) {
        assert_eq!(group.group, expected_group.group, "{context}");
        ratio(
            &format!("ratio_to_reference {:?}", group.group),
            group.ratio_to_reference,
            expected_group.ratio_to_reference,
        );
        assert_eq!(
            group.passes, expected_group.passes,
            "{context}: passes {:?}",
            group.group
        );
    }
}

/// Every figure of the named fixture against Fairlearn's, and the figure lookup agreeing with
/// the report's fields.
fn check_fixture(name: &str) -> FairnessReport {
    let (fixture, report) = load(name);
    assert!(
        FAIRLEARN_REFERENCE.ends_with(&fixture.fairlearn),
        "{name}: fixture made with Fairlearn {}, module follows {FAIRLEARN_REFERENCE}",
        fixture.fairlearn
    );
    let expected = &fixture.expected;
    let overall = &report.overall;
    assert_eq!(overall.count as f64, expected.overall.count, "{name}");
    assert_eq!(report.rows as usize, fixture.labels.len(), "{name}");
    assert_close(
        &format!("{name} overall selection_rate"),
        overall.selection_rate,
        expected.overall.selection_rate,
    );
    assert_close(
        &format!("{name} overall accuracy"),
        overall.accuracy,
        expected.overall.accuracy,
    );
    assert_rate(
        &format!("{name} overall true_positive_rate"),
        overall.true_positive_rate,
        expected.overall.true_positive_rate,
        overall.positives > 0,
    );
    assert_rate(
        &format!("{name} overall false_positive_rate"),
        overall.false_positive_rate,
        expected.overall.false_positive_rate,
        overall.negatives > 0,
    );
    check_disaggregation(name, &report.intersection, &expected.intersection);
    assert_eq!(
        report.by_attribute.len(),
        expected.by_attribute.len(),
        "{name}"
    );
    for (ours, theirs) in report.by_attribute.iter().zip(&expected.by_attribute) {
        check_disaggregation(name, ours, theirs);
    }
    check_lookup_agrees_with_fields(name, &report);
    report
}

fn check_lookup_agrees_with_fields(name: &str, report: &FairnessReport) {
    let mut scopes: Vec<Option<&str>> = vec![None];
    scopes.extend(
        report
            .attributes
            .iter()
            .map(|attribute| Some(attribute.as_str())),
    );
    for scope in scopes {
        let disaggregation = report.disaggregation(scope).expect("scope");
        let by_name = |figure: &str| report.figure(figure, scope).ok();
        assert_eq!(
            by_name("demographic_parity_difference"),
            Some(disaggregation.demographic_parity_difference),
            "{name}"
        );
        assert_eq!(
            by_name("demographic_parity_ratio"),
            disaggregation.demographic_parity_ratio,
            "{name}"
        );
        assert_eq!(
            by_name("disparate_impact"),
            disaggregation.disparate_impact.ratio,
            "{name}"
        );
        assert_eq!(
            by_name("equalized_odds_difference"),
            Some(disaggregation.equalized_odds_difference),
            "{name}"
        );
        assert_eq!(
            by_name("equalized_odds_ratio"),
            disaggregation.equalized_odds_ratio,
            "{name}"
        );
        assert_eq!(
            by_name("equal_opportunity_ratio"),
            disaggregation.true_positive_rate_ratio,
            "{name}"
        );
        assert_eq!(
            by_name("false_positive_rate_difference"),
            Some(disaggregation.false_positive_rate_difference),
            "{name}"
        );
        assert_eq!(
            by_name("group_count"),
            Some(disaggregation.groups.len() as f64),
            "{name}"
        );
        for group in &disaggregation.groups {
            let bracketed: String = group.group.iter().map(|v| format!("[{v}]")).collect();
            let values: Vec<&str> = group.group.iter().map(String::as_str).collect();
            assert_eq!(
                by_name(&format!("selection_rate{bracketed}")),
                Some(group.selection_rate),
                "{name} {bracketed}"
            );
            assert_eq!(
                report
                    .group_figure("true_positive_rate", scope, &values)
                    .ok(),
                group.true_positive_rate,
                "{name} {bracketed}"
            );
            assert_eq!(
                by_name(&format!("count{bracketed}")),
                Some(group.count as f64),
                "{name} {bracketed}"
            );
        }
        // Without a group: the overall figure, whatever the scope.
        assert_eq!(
            by_name("selection_rate"),
            Some(report.overall.selection_rate),
            "{name}"
        );
    }
}

#[test]
fn every_fixture_file_is_tested() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fairness");
    let mut on_disk: Vec<String> = std::fs::read_dir(directory)
        .expect("fixture directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES
        .iter()
        .map(|(name, _)| format!("{name}.json"))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn one_attribute_numbers_match_fairlearn() {
    let report = check_fixture("one_attribute_numbers");
    assert_eq!(report.attributes, ["sex"]);
    assert_eq!(report.intersection.groups.len(), 2);
    assert_eq!(report.intersection, report.by_attribute[0]);
    assert!(report.intersection.notes.is_empty());
}

#[test]
fn two_attributes_booleans_match_fairlearn() {
    let report = check_fixture("two_attributes_booleans");
    // 3 x 4 combinations, one never occurs.
    assert_eq!(report.intersection.groups.len(), 11);
    assert_eq!(report.intersection.empty_intersections, 1);
    assert_eq!(report.by_attribute[0].groups.len(), 3);
    assert_eq!(report.by_attribute[1].groups.len(), 4);
    assert_eq!(report.positive_label, Label::Bool(true));
}

#[test]
fn undefined_rates_match_fairlearn_and_are_none() {
    let report = check_fixture("undefined_rates");
    let ethnicity = report.disaggregation(Some("ethnicity")).expect("attribute");
    let group_c = &ethnicity.groups[2];
    assert_eq!(group_c.group, ["group_c"]);
    assert_eq!(group_c.positives, 0);
    assert_eq!(group_c.true_positive_rate, None);
    assert!(group_c.false_positive_rate.is_some());
    // Fairlearn counts the undefined rate as 0: the TPR ratio, hence equalized odds, is 0.
    assert_eq!(ethnicity.true_positive_rate_ratio, Some(0.0));
    assert_eq!(ethnicity.equalized_odds_ratio, Some(0.0));
    assert!(
        ethnicity
            .notes
            .iter()
            .any(|note| note.contains("ethnicity=group_c") && note.contains("no actual positives")),
        "{:?}",
        ethnicity.notes
    );
    let region = report.disaggregation(Some("region")).expect("attribute");
    assert_eq!(region.groups[0].group, ["north"]);
    assert_eq!(region.groups[0].negatives, 0);
    assert_eq!(region.groups[0].false_positive_rate, None);
    assert!(region
        .notes
        .iter()
        .any(|note| note.contains("no actual negatives")));

    match report.figure("true_positive_rate[group_c]", Some("ethnicity")) {
        Err(FigureError::Undefined { name, reason }) => {
            assert_eq!(name, "true_positive_rate");
            assert!(reason.contains("no actual positives"), "{reason}");
        }
        other => panic!("expected undefined, got {other:?}"),
    }
    assert_eq!(
        report.figure("positives[group_c]", Some("ethnicity")),
        Ok(0.0)
    );
    assert!(report
        .figure("true_positive_rate[group_c][south]", None)
        .is_err());
}

#[test]
fn string_labels_match_fairlearn() {
    let report = check_fixture("string_labels");
    assert_eq!(report.positive_label, Label::Text("approved".to_owned()));
    assert_eq!(report.intersection.groups.len(), 8);
}

#[test]
fn no_false_positives_match_fairlearn() {
    let report = check_fixture("no_false_positives");
    let figures = &report.intersection;
    assert_eq!(figures.false_positive_rate_ratio, None);
    // Fairlearn's min([tpr_ratio, NaN]) is the TPR ratio.
    assert_eq!(
        figures.equalized_odds_ratio,
        figures.true_positive_rate_ratio
    );
    assert!(figures.equalized_odds_ratio.is_some());
}

#[test]
fn no_true_positives_match_fairlearn() {
    let report = check_fixture("no_true_positives");
    let figures = &report.intersection;
    assert_eq!(figures.true_positive_rate_ratio, None);
    assert_eq!(figures.equalized_odds_ratio, None);
    assert_eq!(
        figures.equalized_odds_ratio_mean,
        figures.false_positive_rate_ratio
    );
    assert!(matches!(
        report.figure("equalized_odds_ratio", None),
        Err(FigureError::Undefined { .. })
    ));
}

#[test]
fn nobody_selected_matches_fairlearn() {
    let report = check_fixture("nobody_selected");
    let figures = &report.intersection;
    assert_eq!(figures.demographic_parity_difference, 0.0);
    assert_eq!(figures.demographic_parity_ratio, None);
    assert_eq!(figures.disparate_impact.passes_four_fifths_rule, None);
    assert!(matches!(
        report.figure("four_fifths_rule_passed", None),
        Err(FigureError::Undefined { .. })
    ));
    assert!(matches!(
        report.figure("disparate_impact_ratio[A]", None),
        Err(FigureError::Undefined { .. })
    ));
}

#[test]
fn four_fifths_boundary_passes_on_exact_counts() {
    let report = check_fixture("four_fifths_boundary");
    let impact = &report.intersection.disparate_impact;
    let ratio = impact.ratio.expect("defined");
    assert!(ratio < 0.8, "the fixture's float ratio is just below 0.8");
    assert_eq!(impact.passes_four_fifths_rule, Some(true));
    assert_eq!(report.figure("four_fifths_rule_passed", None), Ok(1.0));
    assert_eq!(impact.reference_group, ["high"]);
}

/// A case small enough to do by hand (no Fairlearn in the loop).
#[test]
fn hand_computed_example() {
    //          A A A A B B B B B
    let labels = [true, true, false, false, true, false, false, false, false];
    let predictions = [true, false, true, false, true, true, false, false, false];
    let group = ["A", "A", "A", "A", "B", "B", "B", "B", "B"];
    let sensitive = vec![(
        "site".to_owned(),
        group.iter().map(|value| (*value).to_owned()).collect(),
    )];
    let report = assess_binary(&labels, &predictions, &sensitive).expect("report");
    let [a, b] = &report.intersection.groups[..] else {
        panic!("two groups")
    };
    // A: TP 1, FN 1, FP 1, TN 1.  B: TP 1, FP 1, TN 3.
    assert_eq!((a.count, a.positives, a.predicted_positives), (4, 2, 2));
    assert_eq!(a.selection_rate, 0.5);
    assert_eq!(a.true_positive_rate, Some(0.5));
    assert_eq!(a.false_positive_rate, Some(0.5));
    assert_eq!(a.accuracy, 0.5);
    assert_eq!(b.selection_rate, 0.4);
    assert_eq!(b.true_positive_rate, Some(1.0));
    assert_eq!(b.false_positive_rate, Some(0.25));
    assert_eq!(b.accuracy, 0.8);
    let figures = &report.intersection;
    assert!((figures.demographic_parity_difference - 0.1).abs() < 1e-15);
    assert!((figures.demographic_parity_ratio.expect("ratio") - 0.8).abs() < 1e-15);
    // TPR: 0.5 vs 1.0 (difference 0.5, ratio 0.5); FPR: 0.5 vs 0.25 (difference 0.25, ratio 0.5).
    assert_eq!(figures.equalized_odds_difference, 0.5);
    assert_eq!(figures.equalized_odds_ratio, Some(0.5));
    assert_eq!(figures.equalized_odds_difference_mean, 0.375);
    assert_eq!(figures.disparate_impact.reference_group, ["A"]);
    // 0.4 / 0.5 is exactly 4/5: passes.
    assert_eq!(figures.disparate_impact.passes_four_fifths_rule, Some(true));
    assert_eq!(report.figure("count[B]", Some("site")), Ok(5.0));
    assert_eq!(report.figure("accuracy", None), Ok(6.0 / 9.0));
}

#[test]
fn labels_and_booleans_give_the_same_report_but_for_the_positive_label() {
    let (fixture, from_labels) = load("one_attribute_numbers");
    let as_bool = |values: &[Value]| -> Vec<bool> {
        values
            .iter()
            .map(|value| value.as_f64() == Some(1.0))
            .collect()
    };
    let sensitive: Vec<(String, Vec<String>)> = fixture
        .sensitive
        .iter()
        .map(|attribute| (attribute.name.clone(), attribute.values.clone()))
        .collect();
    let mut from_bools = assess_binary(
        &as_bool(&fixture.labels),
        &as_bool(&fixture.predictions),
        &sensitive,
    )
    .expect("report");
    assert_eq!(from_bools.positive_label, Label::Bool(true));
    from_bools.positive_label = from_labels.positive_label.clone();
    assert_eq!(from_bools, from_labels);
}

#[test]
fn report_round_trips_through_json() {
    for (name, _) in FIXTURES {
        let (_, report) = load(name);
        let text = serde_json::to_string(&report).expect("serialise");
        let back: FairnessReport = serde_json::from_str(&text).expect("deserialise");
        assert_eq!(back, report, "{name}");
    }
    // Undefined figures are JSON null, never a number.
    let (_, report) = load("nobody_selected");
    let value = serde_json::to_value(&report).expect("value");
    assert_eq!(
        value["intersection"]["demographic_parity_ratio"],
        Value::Null
    );
}

#[test]
fn labels_deserialise_from_their_json_kinds() {
    let labels: Vec<Label> = serde_json::from_str(r#"[true, 1, 0.5, "yes"]"#).expect("labels");
    assert_eq!(
        labels,
        [
            Label::Bool(true),
            Label::Number(1.0),
            Label::Number(0.5),
            Label::Text("yes".to_owned())
        ]
    );
}

// ---- bad input ----

fn text(values: &[&str]) -> Vec<Label> {
    values
        .iter()
        .map(|value| Label::Text((*value).to_owned()))
        .collect()
}

fn numbers(values: &[f64]) -> Vec<Label> {
    values.iter().map(|value| Label::Number(*value)).collect()
}

fn attribute(name: &str, values: &[&str]) -> (String, Vec<String>) {
    (
        name.to_owned(),
        values.iter().map(|value| (*value).to_owned()).collect(),
    )
}

fn yes() -> Label {
    Label::Text("yes".to_owned())
}

#[test]
fn predictions_of_another_length_are_refused() {
    let error = assess(
        &text(&["yes", "no", "no"]),
        &text(&["yes", "no"]),
        &yes(),
        &[attribute("sex", &["F", "M", "F"])],
    )
    .expect_err("refused");
    assert_eq!(
        error,
        FairnessError::LengthMismatch {
            what: "predictions".to_owned(),
            found: 2,
            expected: 3
        }
    );
    assert_eq!(
        error.to_string(),
        "predictions has 2 values but labels has 3: every column needs one value per row"
    );
}

#[test]
fn an_attribute_of_another_length_is_refused() {
    let error = assess(
        &text(&["yes", "no", "no"]),
        &text(&["yes", "no", "yes"]),
        &yes(),
        &[
            attribute("sex", &["F", "M", "F"]),
            attribute("site", &["A", "B"]),
        ],
    )
    .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "sensitive attribute \"site\" has 2 values but labels has 3: every column needs one value per row"
    );
}

#[test]
fn empty_data_is_refused() {
    assert_eq!(
        assess(&[], &[], &yes(), &[attribute("sex", &[])]),
        Err(FairnessError::Empty)
    );
    assert_eq!(
        assess_binary(&[], &[], &[attribute("sex", &[])]),
        Err(FairnessError::Empty)
    );
}

#[test]
fn attributes_must_be_present_named_unique_and_filled() {
    let labels = [true, false];
    let predictions = [true, true];
    assert_eq!(
        assess_binary(&labels, &predictions, &[]),
        Err(FairnessError::NoSensitiveAttributes)
    );
    assert_eq!(
        assess_binary(&labels, &predictions, &[attribute("sex", &[])]),
        Err(FairnessError::AttributeWithoutValues {
            attribute: "sex".to_owned()
        })
    );
    assert_eq!(
        assess_binary(&labels, &predictions, &[attribute(" ", &["F", "M"])]),
        Err(FairnessError::UnnamedAttribute { index: 0 })
    );
    assert_eq!(
        assess_binary(
            &labels,
            &predictions,
            &[attribute("sex", &["F", "M"]), attribute("sex", &["F", "M"])]
        ),
        Err(FairnessError::DuplicateAttribute {
            attribute: "sex".to_owned()
        })
    );
    let error =
        assess_binary(&labels, &predictions, &[attribute("sex", &["F", ""])]).expect_err("refused");
    assert_eq!(
        error,
        FairnessError::MissingSensitiveValue {
            attribute: "sex".to_owned(),
            row: 1
        }
    );
    assert!(error.to_string().contains("row 1"), "{error}");
}

#[test]
fn three_label_values_are_not_binary() {
    let error = assess(
        &numbers(&[0.0, 1.0, 2.0]),
        &numbers(&[0.0, 1.0, 1.0]),
        &Label::Number(1.0),
        &[attribute("sex", &["F", "M", "F"])],
    )
    .expect_err("refused");
    assert_eq!(
        error,
        FairnessError::NotBinary {
            values: vec!["0".to_owned(), "1".to_owned(), "2".to_owned()]
        }
    );
    assert!(error
        .to_string()
        .contains("more than two distinct values (0, 1, 2"));
    // A third value in the predictions only counts too.
    assert!(matches!(
        binarise(&text(&["yes", "no"]), &text(&["yes", "maybe"]), &yes()),
        Err(FairnessError::NotBinary { .. })
    ));
}

#[test]
fn the_positive_label_must_be_one_of_two_values() {
    let error = binarise(
        &text(&["approved", "rejected"]),
        &text(&["approved", "approved"]),
        &yes(),
    )
    .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "the positive label \"yes\" is not one of the two values of labels and predictions (\"approved\", \"rejected\")"
    );
    // One value only: every row is negative (Fairlearn accepts that too).
    assert_eq!(
        binarise(&text(&["no", "no"]), &text(&["no", "no"]), &yes()),
        Ok((vec![false, false], vec![false, false]))
    );
}

#[test]
fn label_kinds_must_not_mix() {
    let error = binarise(
        &numbers(&[1.0, 0.0]),
        &[Label::Bool(true), Label::Bool(false)],
        &Label::Number(1.0),
    )
    .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "predictions row 0 is a boolean but the positive label 1 is a number: labels, predictions and the positive label must all be booleans, all numbers or all strings"
    );
    // "1" is not 1.
    assert!(matches!(
        binarise(&text(&["1", "0"]), &text(&["1", "1"]), &Label::Number(1.0)),
        Err(FairnessError::MixedLabelKinds { row: 0, .. })
    ));
}

#[test]
fn non_finite_and_non_scalar_labels_are_refused() {
    assert_eq!(
        binarise(
            &numbers(&[1.0, f64::NAN]),
            &numbers(&[1.0, 0.0]),
            &Label::Number(1.0)
        ),
        Err(FairnessError::NonFiniteLabel {
            column: "labels".to_owned(),
            row: 1
        })
    );
    assert_eq!(
        binarise(
            &numbers(&[1.0, 0.0]),
            &numbers(&[1.0, 0.0]),
            &Label::Number(f64::INFINITY)
        ),
        Err(FairnessError::NonFinitePositiveLabel)
    );
    let values: Vec<Value> = serde_json::from_str(r#"[1, 0, null]"#).expect("json");
    let error = labels_from_json(&values, "predictions").expect_err("refused");
    assert_eq!(
        error.to_string(),
        "predictions row 2 is null, which cannot be a label (a boolean, number or string)"
    );
    let values: Vec<Value> = serde_json::from_str(r#"[[1]]"#).expect("json");
    assert!(matches!(
        labels_from_json(&values, "labels"),
        Err(FairnessError::UnsupportedLabelValue {
            found: "an array",
            ..
        })
    ));
}

// ---- figure lookup ----

fn small_report() -> FairnessReport {
    let labels = [true, false, true, false, true, false, true, false];
    let predictions = [true, false, false, false, true, true, true, true];
    assess_binary(
        &labels,
        &predictions,
        &[
            attribute("sex", &["F", "F", "F", "F", "M", "M", "M", "M"]),
            attribute(
                "age",
                &[
                    "old", "young", "old", "young", "old", "old", "young", "young",
                ],
            ),
        ],
    )
    .expect("report")
}

#[test]
fn every_documented_figure_name_resolves() {
    let report = small_report();
    for name in AGGREGATE_FIGURES {
        for scope in [None, Some("sex"), Some("age")] {
            report
                .figure(name, scope)
                .unwrap_or_else(|error| panic!("{name} {scope:?}: {error}"));
        }
    }
    for name in GROUP_FIGURES {
        report
            .figure(&format!("{name}[F]"), Some("sex"))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        report
            .figure(&format!("{name}[M][old]"), None)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[test]
fn figures_read_the_right_scope() {
    let report = small_report();
    // Predictions 1,0,0,0,1,1,1,1.  sex: F (rows 0-3) selects 1/4, M (rows 4-7) 4/4.
    // age: old (rows 0,2,4,5) selects 3/4, young (rows 1,3,6,7) 2/4.
    assert_eq!(report.figure("selection_rate[F]", Some("sex")), Ok(0.25));
    assert_eq!(report.figure("selection_rate[young]", Some("age")), Ok(0.5));
    assert_eq!(
        report.figure("demographic_parity_difference", Some("sex")),
        Ok(0.75)
    );
    assert_eq!(
        report.figure("demographic_parity_difference", Some("age")),
        Ok(0.25)
    );
    // Intersection: F/old 1/2, F/young 0/2, M/old 2/2, M/young 2/2.
    assert_eq!(
        report.figure("demographic_parity_difference", None),
        Ok(1.0)
    );
    assert_eq!(report.figure("selection_rate[F][young]", None), Ok(0.0));
    assert_eq!(
        report.figure("disparate_impact_ratio[F][old]", None),
        Ok(0.5)
    );
    assert_eq!(report.figure("smallest_group_count", None), Ok(2.0));
    assert_eq!(
        report.figure("four_fifths_rule_passed", Some("sex")),
        Ok(0.0)
    );
    assert_eq!(report.figure("selection_rate", Some("age")), Ok(0.625));
}

#[test]
fn figure_lookup_errors_name_the_problem() {
    let report = small_report();
    let error = report
        .figure("demographic_parity", None)
        .expect_err("unknown");
    assert!(matches!(error, FigureError::UnknownFigure { .. }));
    assert!(
        error.to_string().contains("demographic_parity_difference"),
        "{error}"
    );
    assert_eq!(
        report.figure("demographic_parity_difference", Some("race")),
        Err(FigureError::UnknownAttribute {
            attribute: "race".to_owned(),
            known: vec!["sex".to_owned(), "age".to_owned()]
        })
    );
    let error = report
        .figure("selection_rate[X]", Some("sex"))
        .expect_err("no group X");
    assert_eq!(error.to_string(), "no group [X] among [\"sex\"]");
    assert!(matches!(
        report.figure("selection_rate[F]", None),
        Err(FigureError::UnknownGroup { .. })
    ));
    assert!(matches!(
        report.figure("demographic_parity_difference[F]", Some("sex")),
        Err(FigureError::GroupNotAllowed { .. })
    ));
    assert!(matches!(
        report.figure("disparate_impact_ratio", Some("sex")),
        Err(FigureError::GroupRequired { .. })
    ));
    for malformed in [
        "selection_rate[F",
        "selection_rate]F[",
        "[F]",
        "selection_rate[F]x",
        "selection_rate[[F]]",
    ] {
        assert!(
            matches!(
                report.figure(malformed, Some("sex")),
                Err(FigureError::MalformedName { .. })
            ),
            "{malformed}"
        );
    }
}
