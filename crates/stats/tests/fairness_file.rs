//! Fairness inputs read from CSV and Parquet files: each Fairlearn fixture under
//! `fixtures/fairness/` (written by `scripts/make_fairness_fixtures.py` with the real Fairlearn)
//! is written here as a CSV file (as pandas' `to_csv` spells it) and as a Parquet file (with the
//! `parquet` crate's writer, typed columns), and the figures read from each must equal
//! Fairlearn's and the JSON upload's. Then each bad file, refused with an error that names it.

mod common;

use common::FIXTURES;

use std::sync::Arc;

use modeltrail_stats::fairness::{
    assess, labels_from_json, Disaggregation, FairnessError, FairnessReport, Label,
};
use modeltrail_stats::fairness_file::{
    assess_file, read_fairness_inputs, FairnessColumns, FairnessFileError,
};
use modeltrail_stats::profile::{Format, ProfileError};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Deserialize;
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
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
    selection_rate: f64,
    accuracy: f64,
}

#[derive(Deserialize)]
struct ExpectedGroup {
    group: Vec<String>,
    count: u64,
    selection_rate: f64,
    true_positive_rate: f64,
    false_positive_rate: f64,
    accuracy: f64,
}

#[derive(Deserialize)]
struct ExpectedDisaggregation {
    groups: Vec<ExpectedGroup>,
    demographic_parity_difference: Option<f64>,
    demographic_parity_ratio: Option<f64>,
    equalized_odds_difference: Option<f64>,
    equalized_odds_ratio: Option<f64>,
    equal_opportunity_difference: Option<f64>,
}

fn fixture(name: &str) -> Fixture {
    let text = FIXTURES
        .iter()
        .find(|(fixture, _)| *fixture == name)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    serde_json::from_str(text).expect("fixture parses")
}

/// The column names the files use: not the JSON names, so the mapping is exercised.
fn columns(fixture: &Fixture) -> FairnessColumns {
    FairnessColumns {
        labels: "y_true".into(),
        predictions: "y_pred".into(),
        sensitive: fixture.sensitive.iter().map(|a| a.name.clone()).collect(),
    }
}

/// A JSON label as pandas' `to_csv` writes it (`True`, `1`, `approved`).
fn csv_spelling(value: &Value) -> String {
    match value {
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn write_csv(fixture: &Fixture) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row_id".to_owned(), "y_true".into(), "y_pred".into()];
    header.extend(fixture.sensitive.iter().map(|a| a.name.clone()));
    writer.write_record(&header).expect("header");
    for row in 0..fixture.labels.len() {
        let mut record = vec![
            row.to_string(),
            csv_spelling(&fixture.labels[row]),
            csv_spelling(&fixture.predictions[row]),
        ];
        record.extend(fixture.sensitive.iter().map(|a| a.values[row].clone()));
        writer.write_record(&record).expect("row");
    }
    writer.into_inner().expect("csv bytes")
}

/// One Parquet column to write: its schema line and values.
enum Column {
    Int64(Vec<i64>),
    Double(Vec<f64>),
    Boolean(Vec<bool>),
    Text(Vec<Option<String>>),
}

fn parquet_column(values: &[Value]) -> Column {
    match values.first() {
        Some(Value::Bool(_)) => {
            Column::Boolean(values.iter().map(|v| v.as_bool() == Some(true)).collect())
        }
        Some(Value::String(_)) => Column::Text(
            values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => Column::Int64(values.iter().map(|v| v.as_i64().expect("int")).collect()),
    }
}

fn write_parquet(columns: &[(&str, Column)]) -> Vec<u8> {
    let fields: Vec<String> = columns
        .iter()
        .map(|(name, column)| match column {
            Column::Int64(_) => format!("required int64 {name};"),
            Column::Double(_) => format!("required double {name};"),
            Column::Boolean(_) => format!("required boolean {name};"),
            Column::Text(_) => format!("optional binary {name} (STRING);"),
        })
        .collect();
    let schema = parse_message_type(&format!("message data {{ {} }}", fields.join(" ")))
        .expect("schema parses");
    let mut bytes = Vec::new();
    let properties = Arc::new(WriterProperties::builder().build());
    let mut writer =
        SerializedFileWriter::new(&mut bytes, Arc::new(schema), properties).expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    for (_, column) in columns {
        let mut out = group.next_column().expect("column").expect("a column");
        match column {
            Column::Int64(values) => out.typed::<Int64Type>().write_batch(values, None, None),
            Column::Double(values) => out.typed::<DoubleType>().write_batch(values, None, None),
            Column::Boolean(values) => out.typed::<BoolType>().write_batch(values, None, None),
            Column::Text(values) => {
                let present: Vec<ByteArray> = values
                    .iter()
                    .flatten()
                    .map(|text| ByteArray::from(text.as_str()))
                    .collect();
                let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
                out.typed::<ByteArrayType>()
                    .write_batch(&present, Some(&levels), None)
            }
        }
        .expect("values written");
        out.close().expect("column closed");
    }
    group.close().expect("row group closed");
    writer.close().expect("file closed");
    bytes
}

fn fixture_parquet(fixture: &Fixture) -> Vec<u8> {
    let mut columns = vec![
        ("y_true", parquet_column(&fixture.labels)),
        ("y_pred", parquet_column(&fixture.predictions)),
    ];
    for attribute in &fixture.sensitive {
        let values = attribute.values.iter().cloned().map(Some).collect();
        columns.push((attribute.name.as_str(), Column::Text(values)));
    }
    write_parquet(&columns)
}

fn json_report(fixture: &Fixture) -> FairnessReport {
    let labels = labels_from_json(&fixture.labels, "labels").expect("labels");
    let predictions = labels_from_json(&fixture.predictions, "predictions").expect("predictions");
    let sensitive: Vec<(String, Vec<String>)> = fixture
        .sensitive
        .iter()
        .map(|a| (a.name.clone(), a.values.clone()))
        .collect();
    assess(&labels, &predictions, &positive(fixture), &sensitive).expect("JSON assessment")
}

fn positive(fixture: &Fixture) -> Label {
    Label::from_json(&fixture.positive_label, "positive_label", 0).expect("positive label")
}

fn close(context: &str, ours: f64, fairlearn: f64) {
    assert!(
        (ours - fairlearn).abs() <= TOLERANCE,
        "{context}: ours {ours}, Fairlearn {fairlearn}"
    );
}

fn close_option(context: &str, ours: Option<f64>, fairlearn: Option<f64>) {
    match (ours, fairlearn) {
        (Some(ours), Some(fairlearn)) => close(context, ours, fairlearn),
        (None, None) => {}
        _ => panic!("{context}: ours {ours:?}, Fairlearn {fairlearn:?}"),
    }
}

/// The figures of one grouping against Fairlearn's (an undefined rate is Fairlearn's 0.0).
fn check_disaggregation(context: &str, ours: &Disaggregation, expected: &ExpectedDisaggregation) {
    assert_eq!(
        ours.groups.len(),
        expected.groups.len(),
        "{context}: groups"
    );
    for (group, fairlearn) in ours.groups.iter().zip(&expected.groups) {
        let context = format!("{context} {:?}", fairlearn.group);
        assert_eq!(group.group, fairlearn.group, "{context}");
        assert_eq!(group.count, fairlearn.count, "{context} count");
        close(
            &format!("{context} selection_rate"),
            group.selection_rate,
            fairlearn.selection_rate,
        );
        close(
            &format!("{context} tpr"),
            group.true_positive_rate.unwrap_or(0.0),
            fairlearn.true_positive_rate,
        );
        close(
            &format!("{context} fpr"),
            group.false_positive_rate.unwrap_or(0.0),
            fairlearn.false_positive_rate,
        );
        close(
            &format!("{context} accuracy"),
            group.accuracy,
            fairlearn.accuracy,
        );
    }
    for (name, ours, fairlearn) in [
        (
            "demographic_parity_difference",
            Some(ours.demographic_parity_difference),
            expected.demographic_parity_difference,
        ),
        (
            "demographic_parity_ratio",
            ours.demographic_parity_ratio,
            expected.demographic_parity_ratio,
        ),
        (
            "equalized_odds_difference",
            Some(ours.equalized_odds_difference),
            expected.equalized_odds_difference,
        ),
        (
            "equalized_odds_ratio",
            ours.equalized_odds_ratio,
            expected.equalized_odds_ratio,
        ),
        (
            "equal_opportunity_difference",
            Some(ours.true_positive_rate_difference),
            expected.equal_opportunity_difference,
        ),
    ] {
        close_option(&format!("{context} {name}"), ours, fairlearn);
    }
}

fn check_against_fairlearn(context: &str, report: &FairnessReport, fixture: &Fixture) {
    let expected = &fixture.expected;
    assert_eq!(
        report.rows as usize,
        fixture.labels.len(),
        "{context}: rows"
    );
    close(
        &format!("{context} overall selection_rate"),
        report.overall.selection_rate,
        expected.overall.selection_rate,
    );
    close(
        &format!("{context} overall accuracy"),
        report.overall.accuracy,
        expected.overall.accuracy,
    );
    check_disaggregation(
        &format!("{context} intersection"),
        &report.intersection,
        &expected.intersection,
    );
    assert_eq!(report.by_attribute.len(), expected.by_attribute.len());
    for (ours, fairlearn) in report.by_attribute.iter().zip(&expected.by_attribute) {
        check_disaggregation(&format!("{context} {:?}", ours.attributes), ours, fairlearn);
    }
}

#[test]
fn every_fixture_read_from_csv_and_parquet_matches_fairlearn_and_the_json_upload() {
    for (name, _) in FIXTURES {
        let fixture = fixture(name);
        let from_json = json_report(&fixture);
        for (format, bytes) in [
            (Format::Csv, write_csv(&fixture)),
            (Format::Parquet, fixture_parquet(&fixture)),
        ] {
            let context = format!("{name} as {format:?}");
            let (report, inputs) = assess_file(&bytes, &columns(&fixture), &positive(&fixture))
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(inputs.format, format, "{context}");
            assert_eq!(inputs.rows, fixture.labels.len(), "{context}");
            check_against_fairlearn(&context, &report, &fixture);
            assert_eq!(
                report, from_json,
                "{context}: the same report as the JSON upload"
            );
        }
    }
}

#[test]
fn every_fixture_file_is_read() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fairness");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

fn pick(labels: &str, predictions: &str, sensitive: &[&str]) -> FairnessColumns {
    FairnessColumns {
        labels: labels.into(),
        predictions: predictions.into(),
        sensitive: sensitive.iter().map(|s| (*s).to_owned()).collect(),
    }
}

const SMALL_CSV: &str = "y,p,sex,site\n1,1,F,A\n0,1,M,A\n1,0,F,B\n0,0,M,B\n";

#[test]
fn a_column_not_in_the_file_is_named_with_the_columns_there_are() {
    let error = read_fairness_inputs(SMALL_CSV.as_bytes(), &pick("y", "p", &["sex", "age"]))
        .expect_err("no column age");
    match &error {
        FairnessFileError::ColumnNotFound {
            column, available, ..
        } => {
            assert_eq!(column, "age");
            assert_eq!(available, &["y", "p", "sex", "site"]);
        }
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("\"age\"") && message.contains("\"site\""),
        "{message}"
    );
    let error = read_fairness_inputs(SMALL_CSV.as_bytes(), &pick("label", "p", &["sex"]))
        .expect_err("no column label");
    assert!(error.to_string().contains("labels column"), "{error}");
}

#[test]
fn a_missing_cell_is_refused_with_its_column_and_row() {
    for (csv, column, row) in [
        ("y,p,sex\n1,1,F\n0,NA,M\n", "p", 2),
        ("y,p,sex\n1,1,F\n0,1,M\n,0,F\n", "y", 3),
        ("y,p,sex\n1,1,F\n0,1,\n", "sex", 2),
        ("y,p,sex\n1,1,F\n0,1,n/a\n", "sex", 2),
    ] {
        let error = read_fairness_inputs(csv.as_bytes(), &pick("y", "p", &["sex"]))
            .expect_err("a missing cell");
        match &error {
            FairnessFileError::MissingValue {
                column: c, row: r, ..
            } => assert_eq!((c.as_str(), *r), (column, row), "{csv:?}"),
            other => panic!("{csv:?}: {other:?}"),
        }
        assert!(error.to_string().contains(&format!("row {row}")), "{error}");
    }
    // A Parquet null.
    let bytes = write_parquet(&[
        ("y", Column::Int64(vec![1, 0, 1])),
        ("p", Column::Int64(vec![1, 1, 0])),
        (
            "sex",
            Column::Text(vec![Some("F".into()), None, Some("M".into())]),
        ),
    ]);
    let error = read_fairness_inputs(&bytes, &pick("y", "p", &["sex"])).expect_err("a null");
    assert!(
        matches!(&error, FairnessFileError::MissingValue { column, row: 2, .. } if column == "sex"),
        "{error:?}"
    );
    // A Parquet NaN label.
    let bytes = write_parquet(&[
        ("y", Column::Double(vec![1.0, f64::NAN])),
        ("p", Column::Double(vec![1.0, 0.0])),
        (
            "sex",
            Column::Text(vec![Some("F".into()), Some("M".into())]),
        ),
    ]);
    let error = read_fairness_inputs(&bytes, &pick("y", "p", &["sex"])).expect_err("a NaN");
    assert!(
        matches!(&error, FairnessFileError::MissingValue { column, row: 2, .. } if column == "y"),
        "{error:?}"
    );
}

#[test]
fn a_label_that_is_not_binary_is_refused_as_the_json_upload_refuses_it() {
    let csv = "y,p,sex\n1,1,F\n0,2,M\n";
    let error = assess_file(
        csv.as_bytes(),
        &pick("y", "p", &["sex"]),
        &Label::Number(1.0),
    )
    .expect_err("three values");
    assert!(
        matches!(
            &error,
            FairnessFileError::Assessment { source, .. }
                if matches!(**source, FairnessError::NotBinary { .. })
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("more than two distinct values") && message.contains("\"p\""),
        "{message}"
    );
}

#[test]
fn a_csv_column_of_numbers_and_words_is_text_and_refused_against_a_number() {
    let csv = "y,p,sex\n1,1,F\nyes,0,M\n";
    let error = assess_file(
        csv.as_bytes(),
        &pick("y", "p", &["sex"]),
        &Label::Number(1.0),
    )
    .expect_err("y is text");
    match &error {
        FairnessFileError::LabelKind { column, found, .. } => {
            assert_eq!((column.as_str(), *found), ("y", "a string"));
        }
        other => panic!("{other:?}"),
    }
    let inputs = read_fairness_inputs(csv.as_bytes(), &pick("y", "p", &["sex"])).expect("reads");
    assert_eq!(
        inputs.labels,
        vec![Label::Text("1".into()), Label::Text("yes".into())]
    );
    assert_eq!(
        inputs.predictions,
        vec![Label::Number(1.0), Label::Number(0.0)]
    );
}

#[test]
fn not_csv_or_parquet_and_empty_files_are_refused() {
    let columns = pick("y", "p", &["sex"]);
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    let error = read_fairness_inputs(png, &columns).expect_err("a PNG");
    assert!(
        matches!(
            error,
            FairnessFileError::File(ProfileError::NotCsvOrParquet(_))
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("not CSV or Parquet"), "{error}");

    let error = read_fairness_inputs(b"", &columns).expect_err("nothing");
    assert!(matches!(error, FairnessFileError::EmptyFile), "{error:?}");
    assert!(error.to_string().contains("empty"), "{error}");

    let error = read_fairness_inputs(b"y,p,sex\n", &columns).expect_err("a header only");
    assert!(
        matches!(error, FairnessFileError::NoRows { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no rows"), "{error}");

    let error = read_fairness_inputs(b"PAR1 truncated", &columns).expect_err("truncated");
    assert!(error.to_string().contains("not CSV or Parquet"), "{error}");
}

#[test]
fn sensitive_columns_must_be_named_once_each() {
    let error =
        read_fairness_inputs(SMALL_CSV.as_bytes(), &pick("y", "p", &[])).expect_err("no attribute");
    assert!(matches!(error, FairnessFileError::NoSensitiveColumns));
    let error = read_fairness_inputs(SMALL_CSV.as_bytes(), &pick("y", "p", &["sex", "sex"]))
        .expect_err("twice");
    assert!(error.to_string().contains("more than once"), "{error}");
}

#[test]
fn parquet_numbers_and_booleans_become_group_names_and_labels_keep_their_type() {
    let bytes = write_parquet(&[
        ("y", Column::Boolean(vec![true, false, true, false])),
        ("p", Column::Boolean(vec![true, true, false, false])),
        ("site", Column::Int64(vec![3, 3, 12, 12])),
        ("score", Column::Double(vec![0.5, 0.5, 2.0, 2.0])),
        (
            "arm",
            Column::Text(vec![
                Some("1".into()),
                Some("1".into()),
                Some("2".into()),
                Some("2".into()),
            ]),
        ),
    ]);
    let inputs =
        read_fairness_inputs(&bytes, &pick("y", "p", &["site", "score", "arm"])).expect("reads");
    assert_eq!(inputs.format, Format::Parquet);
    assert_eq!(inputs.labels[0], Label::Bool(true));
    assert_eq!(
        inputs.sensitive,
        vec![
            (
                "site".to_owned(),
                vec!["3", "3", "12", "12"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            ),
            (
                "score".to_owned(),
                vec!["0.5", "0.5", "2", "2"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            ),
            (
                "arm".to_owned(),
                vec!["1", "1", "2", "2"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            ),
        ]
    );
    // A Parquet string is text: against the number 1 it is the wrong kind.
    let bytes = write_parquet(&[
        ("y", Column::Text(vec![Some("1".into()), Some("0".into())])),
        ("p", Column::Int64(vec![1, 0])),
        (
            "sex",
            Column::Text(vec![Some("F".into()), Some("M".into())]),
        ),
    ]);
    let error = assess_file(&bytes, &pick("y", "p", &["sex"]), &Label::Number(1.0))
        .expect_err("a string column");
    assert!(
        matches!(&error, FairnessFileError::LabelKind { column, .. } if column == "y"),
        "{error:?}"
    );
}
