//! The acceptance-criteria language through the public API: every documented example, precedence
//! and chains, each parse error with its exact column, evaluation with the values recorded, the
//! refusals (missing metric, NaN, division by zero, overflow), serialization, and property tests
//! that the canonical text parses back to the same criterion and that no input makes the parser
//! panic.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use modeltrail_domain::criteria::{
    Arg, Criterion, EvalError, Evaluation, FactError, FactFailure, Facts, FactsFn, ParseError,
    Reference, UsedValue, MAX_NESTING,
};
use proptest::prelude::*;
use serde_json::json;

fn parse(text: &str) -> Criterion {
    match Criterion::parse(text) {
        Ok(criterion) => criterion,
        Err(error) => panic!("`{text}` should parse: {error}\n{}", error.pointer(text)),
    }
}

fn parse_error(text: &str) -> ParseError {
    match Criterion::parse(text) {
        Ok(criterion) => panic!("`{text}` should not parse, got {}", criterion.canonical()),
        Err(error) => error,
    }
}

/// Asserts that `text` fails at `column` with exactly `message`.
fn assert_error(text: &str, column: usize, message: &str) {
    let error = parse_error(text);
    assert_eq!(
        (error.column, error.message.as_str()),
        (column, message),
        "for `{text}`"
    );
    assert_eq!(error.line, 1, "for `{text}`");
    assert_eq!(error.to_string(), format!("at column {column}: {message}"));
}

fn facts(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), *value))
        .collect()
}

fn evaluate(text: &str, pairs: &[(&str, f64)]) -> Evaluation {
    match parse(text).evaluate(&facts(pairs)) {
        Ok(evaluation) => evaluation,
        Err(error) => panic!("`{text}` should evaluate: {error}"),
    }
}

fn passes(text: &str, pairs: &[(&str, f64)]) -> bool {
    evaluate(text, pairs).passed
}

fn used(pairs: &[(&str, f64)]) -> Vec<UsedValue> {
    pairs
        .iter()
        .map(|(reference, value)| UsedValue {
            reference: (*reference).to_owned(),
            value: *value,
        })
        .collect()
}

// ----------------------------------------------------------------------------------------------
// The examples
// ----------------------------------------------------------------------------------------------

#[test]
fn the_documented_examples_parse_and_evaluate() {
    assert!(passes(
        "auc >= 0.85 and sensitivity >= 0.9",
        &[("auc", 0.86), ("sensitivity", 0.9)]
    ));
    assert!(!passes(
        "auc >= 0.85 and sensitivity >= 0.9",
        &[("auc", 0.86), ("sensitivity", 0.89)]
    ));
    assert!(passes(
        "missing_rate(age) <= 0.01",
        &[("missing_rate(age)", 0.01)]
    ));
    assert!(!passes(
        "missing_rate(age) <= 0.01",
        &[("missing_rate(age)", 0.011)]
    ));
    assert!(passes("rows >= 1000", &[("rows", 1000.0)]));
    assert!(!passes("rows >= 1000", &[("rows", 999.0)]));
    assert!(passes(
        "auc[sex=female] >= 0.8",
        &[("auc[sex=female]", 0.8)]
    ));
    assert!(passes(
        "tpr[site=\"Basel 2\"] > 0.75",
        &[("tpr[site=\"Basel 2\"]", 0.76)]
    ));
    assert!(!passes(
        "tpr[site=\"Basel 2\"] > 0.75",
        &[("tpr[site=\"Basel 2\"]", 0.75)]
    ));
    assert!(passes(
        "auc[sex=female, site=\"Basel 2\"] > 0.7",
        &[("auc[sex=female, site=\"Basel 2\"]", 0.71)]
    ));
    let fairness = "demographic_parity_difference <= 0.1 or disparate_impact >= 0.8";
    assert!(passes(
        fairness,
        &[
            ("demographic_parity_difference", 0.2),
            ("disparate_impact", 0.85)
        ]
    ));
    assert!(!passes(
        fairness,
        &[
            ("demographic_parity_difference", 0.2),
            ("disparate_impact", 0.75)
        ]
    ));
    assert!(passes("not (fpr > 0.2)", &[("fpr", 0.2)]));
    assert!(!passes("not (fpr > 0.2)", &[("fpr", 0.21)]));
    assert!(passes(
        "abs(calibration_slope - 1) <= 0.1",
        &[("calibration_slope", 0.95)]
    ));
    assert!(!passes(
        "abs(calibration_slope - 1) <= 0.1",
        &[("calibration_slope", 1.15)]
    ));
    assert!(passes("fpr <= 1e-3", &[("fpr", 0.001)]));
    assert!(!passes("fpr <= 1e-3", &[("fpr", 0.0011)]));
    assert!(passes("-x > -1", &[("x", 0.5)]));
    assert!(passes(
        "(a + b) * 2 / 4 - 1 == 0",
        &[("a", 1.0), ("b", 1.0)]
    ));
    assert!(passes("min(a, b, 0.9) >= 0.8", &[("a", 0.85), ("b", 0.95)]));
    assert!(!passes(
        "min(a, b, 0.9) >= 0.8",
        &[("a", 0.75), ("b", 0.95)]
    ));
    assert!(passes("max(a, b) >= 0.9", &[("a", 0.85), ("b", 0.95)]));
    assert!(passes("a != b", &[("a", 0.85), ("b", 0.95)]));
    assert!(passes("a < b", &[("a", 0.85), ("b", 0.95)]));
}

#[test]
fn all_six_comparisons_mean_what_they_say() {
    let cases = [
        ("<", [false, false, true]),
        ("<=", [false, true, true]),
        (">", [true, false, false]),
        (">=", [true, true, false]),
        ("==", [false, true, false]),
        ("!=", [true, false, true]),
    ];
    for (op, expected) in cases {
        for (x, want) in [1.0, 0.5, 0.0].into_iter().zip(expected) {
            assert_eq!(
                passes(&format!("x {op} 0.5"), &[("x", x)]),
                want,
                "{x} {op} 0.5"
            );
        }
    }
}

#[test]
fn chains_mean_each_adjacent_comparison_holds() {
    let range = "0.8 <= disparate_impact <= 1.25";
    assert!(passes(range, &[("disparate_impact", 0.8)]));
    assert!(passes(range, &[("disparate_impact", 1.25)]));
    assert!(!passes(range, &[("disparate_impact", 0.79)]));
    assert!(!passes(range, &[("disparate_impact", 1.26)]));
    assert_eq!(
        parse(range),
        parse("0.8 <= disparate_impact <= 1.25"),
        "a chain is one comparison"
    );
    assert_ne!(
        parse(range),
        parse("0.8 <= disparate_impact and disparate_impact <= 1.25"),
        "a chain keeps its own structure (its middle operand is evaluated once)"
    );
    assert!(passes("1 > x >= 0", &[("x", 0.0)]));
    assert!(!passes("1 > x >= 0", &[("x", 1.0)]));
    assert!(passes("0 < a < b < 1", &[("a", 0.2), ("b", 0.3)]));
    assert!(!passes("0 < a < b < 1", &[("a", 0.3), ("b", 0.2)]));
    // The chained value is recorded once.
    assert_eq!(
        evaluate(range, &[("disparate_impact", 1.0)]).values,
        used(&[("disparate_impact", 1.0)])
    );
}

#[test]
fn precedence_follows_the_usual_rules() {
    // `and` binds tighter than `or`.
    let text = "a > 0 or b > 0 and c > 0";
    assert_eq!(parse(text), parse("a > 0 or (b > 0 and c > 0)"));
    assert_ne!(parse(text), parse("(a > 0 or b > 0) and c > 0"));
    assert!(passes(text, &[("a", 1.0), ("b", 0.0), ("c", 0.0)]));
    assert!(!passes(
        "(a > 0 or b > 0) and c > 0",
        &[("a", 1.0), ("b", 0.0), ("c", 0.0)]
    ));
    // `not` binds tighter than `and`, looser than a comparison.
    assert_eq!(
        parse("not a > 0 and b > 0"),
        parse("(not (a > 0)) and b > 0")
    );
    // `*` and `/` bind tighter than `+` and `-`; both are left-associative.
    assert_eq!(parse("a + b * c > 0"), parse("a + (b * c) > 0"));
    assert!(passes(
        "a - b - c == -4",
        &[("a", 1.0), ("b", 2.0), ("c", 3.0)]
    ));
    assert!(passes(
        "a / b / c == 0.25",
        &[("a", 8.0), ("b", 4.0), ("c", 8.0)]
    ));
    assert!(passes(
        "a + b * c == 7",
        &[("a", 1.0), ("b", 2.0), ("c", 3.0)]
    ));
    // Unary minus binds tighter than `*`.
    assert_eq!(parse("-a * b > 0"), parse("(-a) * b > 0"));
    assert!(passes("2 * -a == -2", &[("a", 1.0)]));
    assert_eq!(
        parse("a > 0 or b > 0 and c > 0").canonical(),
        "a > 0 or b > 0 and c > 0"
    );
    assert_eq!(
        parse("(a > 0 or b > 0) and c > 0").canonical(),
        "(a > 0 or b > 0) and c > 0"
    );
}

// ----------------------------------------------------------------------------------------------
// Parse errors
// ----------------------------------------------------------------------------------------------

#[test]
fn empty_text_is_refused() {
    assert_error(
        "",
        1,
        "the criterion is empty: write a condition such as \"auc >= 0.85\"",
    );
    assert_error(
        "   ",
        4,
        "the criterion is empty: write a condition such as \"auc >= 0.85\"",
    );
}

#[test]
fn trailing_garbage_is_refused() {
    assert_error(
        "auc >= 0.8 0.9",
        12,
        "expected an operator, \"and\", \"or\" or the end of the criterion, found \"0.9\"",
    );
    assert_error(
        "auc >= 0.8 AND sensitivity >= 0.9",
        12,
        "expected an operator, \"and\", \"or\" or the end of the criterion, found \"AND\" \
         (write \"and\" in lowercase)",
    );
    assert_error(
        "auc[a=b][c=d] > 1",
        9,
        "expected an operator, \"and\", \"or\" or the end of the criterion, found \"[\"",
    );
}

#[test]
fn unbalanced_parentheses_are_refused() {
    assert_error(
        "(auc >= 0.8",
        12,
        "expected \")\" to close the \"(\" at column 1, found the end of the criterion",
    );
    assert_error(
        "x > 0 and (auc >= (0.8)",
        24,
        "expected \")\" to close the \"(\" at column 11, found the end of the criterion",
    );
    assert_error(
        "auc >= 0.8)",
        11,
        "unbalanced \")\": there is no \"(\" for it to close",
    );
    assert_error(
        "()",
        2,
        "expected a number or a name after \"(\", found \")\"",
    );
}

#[test]
fn unknown_characters_are_refused_with_a_hint() {
    assert_error(
        "auc >= 0.8 & x > 1",
        12,
        "unexpected character \"&\": write \"and\"",
    );
    assert_error(
        "auc >= 0.8 || x > 1",
        12,
        "unexpected character \"|\": write \"or\"",
    );
    assert_error(
        "!(auc > 1)",
        1,
        "unexpected character \"!\": write \"not\", or \"!=\" to compare",
    );
    assert_error(
        "auc >= 85%",
        10,
        "unexpected character \"%\": there is no percent sign; write a fraction (85% is 0.85), \
         as metrics are fractions",
    );
    assert_error(
        "auc ^ 2 > 1",
        5,
        "unexpected character \"^\": there is no power operator",
    );
    assert_error("auc ≥ 0.8", 5, "unexpected character \"≥\": write \">=\"");
    assert_error(
        "auc[site='x'] > 1",
        10,
        "unexpected character \"'\": strings are written in straight double quotes (\")",
    );
    assert_error("auc # 1", 5, "unexpected character \"#\"");
    assert_error(
        "auc = 0.8",
        5,
        "expected an operator, \"and\", \"or\" or the end of the criterion, found \"=\" \
         (write \"==\" to compare)",
    );
}

#[test]
fn malformed_numbers_and_strings_are_refused() {
    assert_error(
        "auc >= .85",
        8,
        "a number must start with a digit: write \"0.85\"",
    );
    assert_error("auc >= 1.", 10, "expected a digit after the decimal point");
    assert_error(
        "auc >= 1e",
        10,
        "expected the digits of the exponent after \"e\"",
    );
    assert_error("auc >= 1e400", 8, "the number \"1e400\" is too large");
    assert_error(
        "tpr[site=\"Basel 2] > 0.75",
        10,
        "unterminated string: no closing \" for the string that starts here",
    );
    assert_error(
        "tpr[site=\"a\\nb\"] > 0.75",
        12,
        "unknown escape \"\\n\" in a string: only \\\" and \\\\ are allowed",
    );
    assert_error(
        "tpr[site=\"a\tb\"] > 0.75",
        12,
        "a string cannot hold a control character (such as a line break)",
    );
}

#[test]
fn missing_operands_are_refused() {
    assert_error(
        "auc >=",
        7,
        "expected a number or a name after \">=\", found the end of the criterion",
    );
    assert_error(
        "auc >= >= 1",
        8,
        "expected a number or a name after \">=\", found \">=\"",
    );
    assert_error(
        "and auc > 1",
        1,
        "expected a number or a name, found \"and\"",
    );
    assert_error(
        "auc > 1 and",
        12,
        "expected a number or a name after \"and\", found the end of the criterion",
    );
    assert_error(
        "auc > 1 and and b > 1",
        13,
        "expected a number or a name after \"and\", found \"and\"",
    );
    assert_error(
        "auc > 1 or",
        11,
        "expected a number or a name after \"or\", found the end of the criterion",
    );
    assert_error(
        "not",
        4,
        "expected a number or a name after \"not\", found the end of the criterion",
    );
    assert_error(
        "auc + > 1",
        7,
        "expected a number or a name after \"+\", found \">\"",
    );
}

#[test]
fn types_are_checked_when_parsing() {
    assert_error(
        "auc",
        1,
        "a criterion must compare: \"auc\" is a number, not a condition such as \"auc >= 0.85\"",
    );
    assert_error(
        "auc + 1",
        1,
        "a criterion must compare: \"auc + 1\" is a number, not a condition such as \
         \"auc + 1 >= 0.85\"",
    );
    assert_error(
        "auc and b > 1",
        1,
        "expected a condition on the left of \"and\", found the number \"auc\"",
    );
    assert_error(
        "b > 1 or auc",
        10,
        "expected a condition on the right of \"or\", found the number \"auc\"",
    );
    assert_error(
        "not auc",
        5,
        "expected a condition after \"not\", found the number \"auc\"",
    );
    assert_error(
        "(a > 1) + 1 > 2",
        1,
        "expected a number on the left of \"+\", found the condition \"(a > 1)\"",
    );
    assert_error(
        "1 < (a > 1)",
        5,
        "expected a number on the right of \"<\", found the condition \"(a > 1)\"",
    );
    assert_error(
        "-(a > 1) < 1",
        2,
        "expected a number after \"-\", found the condition \"(a > 1)\"",
    );
    assert_error(
        "abs(a > 1) > 0",
        5,
        "expected a number as an argument of \"abs\", found the condition \"a > 1\"",
    );
}

#[test]
fn chains_run_one_way_only() {
    assert_error(
        "a < b > c",
        7,
        "\"<\" and \">\" cannot be chained: a chain runs one way, as in \"0.8 <= x <= 1.25\"; \
         join other comparisons with \"and\"",
    );
    assert_error(
        "a == b == c",
        8,
        "\"==\" and \"==\" cannot be chained: a chain runs one way, as in \"0.8 <= x <= 1.25\"; \
         join other comparisons with \"and\"",
    );
    assert_error(
        "0 <= a != 1",
        8,
        "\"<=\" and \"!=\" cannot be chained: a chain runs one way, as in \"0.8 <= x <= 1.25\"; \
         join other comparisons with \"and\"",
    );
}

#[test]
fn every_comparison_must_refer_to_a_metric() {
    assert_error(
        "1 == 1",
        1,
        "the comparison \"1 == 1\" refers to no metric, so it cannot depend on the result",
    );
    assert_error(
        "auc > 0.8 or 2 > 1",
        14,
        "the comparison \"2 > 1\" refers to no metric, so it cannot depend on the result",
    );
}

#[test]
fn metrics_arguments_and_selectors_are_checked() {
    assert_error(
        "auc[sex=female, sex=male] > 1",
        17,
        "the selector key \"sex\" is given twice",
    );
    assert_error(
        "auc[] > 1",
        5,
        "expected a selector key (a name) in the selector of \"auc\", found \"]\"",
    );
    assert_error(
        "auc[sex] > 1",
        8,
        "expected \"=\" after the selector key \"sex\", found \"]\"",
    );
    assert_error(
        "auc[sex=] > 1",
        9,
        "expected a value (a name, a string or a number) for the selector key \"sex\", found \"]\"",
    );
    assert_error(
        "auc[sex=female > 1",
        16,
        "expected \",\" or \"]\" in the selector of \"auc\", found \">\"",
    );
    assert_error(
        "missing_rate() < 1",
        14,
        "expected an argument of \"missing_rate\" (a name, a string or a number), found \")\"",
    );
    assert_error(
        "missing_rate(age + 1) < 1",
        18,
        "expected \",\" or \")\" after an argument of \"missing_rate\" (arguments are names, \
         strings or numbers), found \"+\"",
    );
    assert_error(
        "abs > 1",
        5,
        "expected \"(\" after the built-in function \"abs\" (it cannot name a metric), found \">\"",
    );
    assert_error("abs(a, b) > 1", 1, "\"abs\" takes 1 argument, found 2");
    assert_error(
        "min(a) > 1",
        1,
        "\"min\" takes at least 2 arguments, found 1",
    );
    assert_error(
        "max(a b) > 1",
        7,
        "expected \",\" or \")\" in the arguments of \"max\", found \"b\"",
    );
}

#[test]
fn columns_count_characters_and_lines_are_reported() {
    // "Zürich Süd" holds two two-byte characters: the byte position and the column differ.
    let text = "tpr[site=\"Zürich Süd\"] > ü";
    let error = parse_error(text);
    assert_eq!((error.position, error.column), (27, 26));
    assert_eq!(error.message, "unexpected character \"ü\"");
    assert_eq!(error.pointer(text), format!("{text}\n{}^", " ".repeat(25)));

    let text = "auc >= 0.8 and\n  sensitivity >= ";
    let error = parse_error(text);
    assert_eq!((error.line, error.column, error.position), (2, 18, 32));
    assert_eq!(
        error.to_string(),
        "at line 2, column 18: expected a number or a name after \">=\", found the end of the \
         criterion"
    );
    assert_eq!(
        error.pointer(text),
        format!("  sensitivity >= \n{}^", " ".repeat(17))
    );
}

#[test]
fn the_pointer_marks_the_column() {
    let text = "auc >= >= 1";
    let error = parse_error(text);
    assert_eq!(error.pointer(text), "auc >= >= 1\n       ^");
    let text = "auc >=";
    assert_eq!(parse_error(text).pointer(text), "auc >=\n      ^");
    // A pointer for another text does not panic.
    assert_eq!(parse_error(text).pointer("ü"), "ü\n ^");
}

#[test]
fn nesting_is_limited() {
    let deep = format!("{}a > 1{}", "(".repeat(1000), ")".repeat(1000));
    let error = parse_error(&deep);
    assert_eq!(
        error.message,
        format!("the criterion is nested too deeply (more than {MAX_NESTING} levels)")
    );
    assert_eq!(
        parse_error(&format!("{}a > 1", "not ".repeat(1000))).message,
        error.message
    );
    assert_eq!(
        parse_error(&format!("{}a > 1", "-".repeat(100_000))).message,
        error.message
    );
    assert_eq!(
        parse_error(&format!("{}a{} > 1", "abs(".repeat(1000), ")".repeat(1000))).message,
        error.message
    );
    let shallow = format!("{}a > 1{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(parse(&shallow), parse("a > 1"));
}

// ----------------------------------------------------------------------------------------------
// References
// ----------------------------------------------------------------------------------------------

#[test]
fn references_list_each_metric_once_in_order() {
    let criterion = parse(
        "auc[site=\"Basel 2\", sex=female] >= 0.8 and missing_rate(\"age\") <= 0.01 \
         and auc[sex = female, site = \"Basel 2\"] <= 1 and quantile(age, 0.50) > rows",
    );
    let texts: Vec<String> = criterion
        .references()
        .iter()
        .map(Reference::to_string)
        .collect();
    assert_eq!(
        texts,
        [
            "auc[sex=female, site=\"Basel 2\"]",
            "missing_rate(age)",
            "quantile(age, 0.5)",
            "rows"
        ]
    );
    let auc = &criterion.references()[0];
    assert_eq!(auc.name(), "auc");
    assert!(auc.args().is_empty());
    assert_eq!(
        auc.selector(),
        [
            ("sex".to_owned(), "female".to_owned()),
            ("site".to_owned(), "Basel 2".to_owned())
        ]
    );
    assert_eq!(auc.selector_value("site"), Some("Basel 2"));
    assert_eq!(auc.selector_value("age"), None);
    let quantile = &criterion.references()[2];
    assert_eq!(
        quantile.args(),
        [Arg::Name("age".to_owned()), Arg::Number(0.5)]
    );
    assert_eq!(
        serde_json::to_value(criterion.references()).ok(),
        Some(json!([
            "auc[sex=female, site=\"Basel 2\"]",
            "missing_rate(age)",
            "quantile(age, 0.5)",
            "rows"
        ]))
    );
}

#[test]
fn canonical_text_quotes_only_what_needs_quotes() {
    let criterion = parse(
        "f(\"and\", \"a b\", \"q\\\"uote\", \"back\\\\slash\", \"x1\")[k=\"not\", n=65, m=\"6.5.1\"] > 0",
    );
    assert_eq!(
        criterion.references()[0].to_string(),
        "f(\"and\", \"a b\", \"q\\\"uote\", \"back\\\\slash\", x1)[k=\"not\", m=\"6.5.1\", n=65]"
    );
    assert_eq!(parse(&criterion.canonical()), criterion);
}

// ----------------------------------------------------------------------------------------------
// Evaluation
// ----------------------------------------------------------------------------------------------

#[test]
fn evaluation_records_every_value_used() {
    let text = "auc >= 0.85 and (sensitivity >= 0.9 or auc[sex=female] >= 0.8) and auc < 1";
    let evaluation = evaluate(
        text,
        &[
            ("auc", 0.9),
            ("sensitivity", 0.95),
            ("auc[sex=female]", 0.7),
            ("unused", 1.0),
        ],
    );
    assert_eq!(
        evaluation,
        Evaluation {
            passed: true,
            values: used(&[
                ("auc", 0.9),
                ("sensitivity", 0.95),
                ("auc[sex=female]", 0.7)
            ]),
            text: text.to_owned(),
        }
    );
    assert_eq!(
        serde_json::to_value(&evaluation).ok(),
        Some(json!({
            "passed": true,
            "values": [
                {"reference": "auc", "value": 0.9},
                {"reference": "sensitivity", "value": 0.95},
                {"reference": "auc[sex=female]", "value": 0.7}
            ],
            "text": text
        }))
    );
}

#[test]
fn every_metric_is_fetched_once_even_where_the_verdict_is_already_decided() {
    let asked = RefCell::new(Vec::new());
    let facts = FactsFn(|reference: &Reference| -> Result<f64, FactError> {
        asked.borrow_mut().push(reference.to_string());
        Ok(match reference.name() {
            "a" => 1.0,
            _ => 0.0,
        })
    });
    let evaluation = parse("a > 0 or b > 0 or (c > 0 and a > 0) or a < 0")
        .evaluate(&facts)
        .ok();
    assert_eq!(asked.into_inner(), ["a", "b", "c"]);
    assert_eq!(
        evaluation.map(|e| (e.passed, e.values)),
        Some((true, used(&[("a", 1.0), ("b", 0.0), ("c", 0.0)])))
    );
}

#[test]
fn missing_metrics_are_errors_naming_all_of_them() {
    let criterion = parse("auc >= 0.85 and sensitivity >= 0.9 or auc[sex=female] > 0.8");
    let result = criterion.evaluate(&facts(&[("auc", 0.99)]));
    let expected = EvalError::Facts(vec![
        FactFailure {
            reference: "sensitivity".to_owned(),
            problem: FactError::Missing,
        },
        FactFailure {
            reference: "auc[sex=female]".to_owned(),
            problem: FactError::Missing,
        },
    ]);
    assert_eq!(result, Err(expected.clone()));
    assert_eq!(
        expected.to_string(),
        "metric \"sensitivity\" is not in the result; metric \"auc[sex=female]\" is not in the \
         result"
    );
    // A short-circuit would have passed here without sensitivity: the verdict must not.
    let unavailable = FactsFn(|reference: &Reference| -> Result<f64, FactError> {
        match reference.name() {
            "auc" => Ok(0.99),
            _ => Err(FactError::Unavailable(
                "column \"age\" is not in the data set".to_owned(),
            )),
        }
    });
    let result = parse("auc > 0.5 or missing_rate(age) < 0.1").evaluate(&unavailable);
    assert_eq!(
        result.map_err(|e| e.to_string()),
        Err(
            "metric \"missing_rate(age)\" cannot be computed: column \"age\" is not in the data \
             set"
            .to_owned()
        )
    );
}

#[test]
fn a_metric_that_is_not_a_number_never_passes() {
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for text in [
            "auc >= 0.85",
            "auc != 0.5",
            "not (auc < 0.85)",
            "auc > 0 or x > 0",
        ] {
            let result = parse(text).evaluate(&facts(&[("auc", value), ("x", 1.0)]));
            match result {
                Err(EvalError::Facts(failures)) => {
                    assert_eq!(failures.len(), 1, "{text}");
                    assert_eq!(failures[0].reference, "auc");
                    assert!(
                        matches!(failures[0].problem, FactError::NotFinite(v) if v.is_nan() == value.is_nan()),
                        "{text}"
                    );
                }
                other => panic!("`{text}` with auc = {value}: {other:?}"),
            }
        }
    }
    let error = parse("auc >= 0.85")
        .evaluate(&facts(&[("auc", f64::NAN)]))
        .map_err(|e| e.to_string());
    assert_eq!(
        error,
        Err("metric \"auc\" is not a finite number (NaN)".to_owned())
    );
}

#[test]
fn division_by_zero_is_an_error_naming_it() {
    let result = parse("positives / (rows - rows) >= 0.1 or rows > 0")
        .evaluate(&facts(&[("positives", 1.0), ("rows", 10.0)]));
    let expected = EvalError::DivisionByZero {
        expression: "positives / (rows - rows)".to_owned(),
        divisor: "rows - rows".to_owned(),
    };
    assert_eq!(result, Err(expected.clone()));
    assert_eq!(
        expected.to_string(),
        "division by zero: \"rows - rows\" is 0 in \"positives / (rows - rows)\""
    );
    // Every part is evaluated: a decided `or` or `and` does not hide an undefined other side,
    // so the verdict never depends on the order the conditions are written in.
    for text in [
        "rows > 0 or positives / (rows - rows) >= 0.1",
        "rows < 0 and positives / (rows - rows) >= 0.1",
        "rows > 0 or (rows < 0 and positives / (rows - rows) >= 0.1)",
    ] {
        let result = parse(text).evaluate(&facts(&[("positives", 1.0), ("rows", 10.0)]));
        assert_eq!(result, Err(expected.clone()), "{text}");
    }
    assert!(passes(
        "positives / rows >= 0.1",
        &[("positives", 1.0), ("rows", 10.0)]
    ));
}

#[test]
fn arithmetic_overflow_is_an_error_naming_it() {
    let result = parse("big * big > 1").evaluate(&facts(&[("big", 1e300)]));
    assert_eq!(
        result,
        Err(EvalError::NotFinite {
            expression: "big * big".to_owned(),
            value: f64::INFINITY,
        })
    );
}

#[test]
fn equality_is_exact() {
    assert!(!passes("a + b == 0.3", &[("a", 0.1), ("b", 0.2)]));
    assert!(passes(
        "abs(a + b - 0.3) <= 1e-9",
        &[("a", 0.1), ("b", 0.2)]
    ));
}

#[test]
fn hash_maps_and_functions_supply_facts() {
    let criterion = parse("auc[sex=female] > 0.5");
    let mut map: HashMap<String, f64> = HashMap::new();
    map.insert("auc[sex=female]".to_owned(), 0.6);
    assert_eq!(criterion.evaluate(&map).map(|e| e.passed), Ok(true));
    let by_parts = FactsFn(|reference: &Reference| -> Result<f64, FactError> {
        if reference.name() == "auc" && reference.selector_value("sex") == Some("female") {
            Ok(0.4)
        } else {
            Err(FactError::Missing)
        }
    });
    assert_eq!(criterion.evaluate(&by_parts).map(|e| e.passed), Ok(false));
    let as_dyn: &dyn Facts = &map;
    assert_eq!(criterion.evaluate(as_dyn).map(|e| e.passed), Ok(true));
}

// ----------------------------------------------------------------------------------------------
// Text, equality, serialization
// ----------------------------------------------------------------------------------------------

#[test]
fn criteria_keep_their_text_and_compare_by_structure() {
    let text = "  auc>=0.850>   AND_not_a_keyword  >  1e0 ";
    let criterion = parse(text);
    assert_eq!(criterion.source(), text);
    assert_eq!(criterion.to_string(), text);
    assert_eq!(criterion.canonical(), "auc >= 0.85 > AND_not_a_keyword > 1");
    assert_eq!(criterion, parse("auc >= 0.85 > AND_not_a_keyword > 1"));
    assert_ne!(parse("auc >= 0.85"), parse("auc > 0.85"));
    assert_ne!(parse("auc[sex=f] > 1"), parse("auc[sex=m] > 1"));
    assert_eq!(parse("a[x=1,y=2] > 1"), parse("a[y=2, x=\"1\"] > 1"));
    assert_eq!("auc > 1".parse::<Criterion>(), Ok(parse("auc > 1")));
}

#[test]
fn criteria_serialize_as_their_text_and_deserialize_by_parsing() {
    let text = "auc[sex=female] >= 0.8  and not (fpr > 0.2)";
    let criterion = parse(text);
    assert_eq!(serde_json::to_value(&criterion).ok(), Some(json!(text)));
    let back: Result<Criterion, _> = serde_json::from_value(json!(text));
    assert_eq!(
        back.ok().map(|c| c.source().to_owned()),
        Some(text.to_owned())
    );
    let bad: Result<Criterion, _> = serde_json::from_value(json!("auc >="));
    assert_eq!(
        bad.map_err(|e| e.to_string()).err(),
        Some(
            "at column 7: expected a number or a name after \">=\", found the end of the \
             criterion"
                .to_owned()
        )
    );
}

// ----------------------------------------------------------------------------------------------
// Properties
// ----------------------------------------------------------------------------------------------

fn spacing() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("  "), Just("\t")]
}

fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..2000).prop_map(|n| n.to_string()),
        (0.0f64..1.0).prop_map(|f| format!("{f}")),
        (0.0f64..1e6).prop_map(|f| format!("{f:e}")),
        (1u32..10, 1u32..20).prop_map(|(m, e)| format!("{m}e-{e}")),
        (1u32..10, 1u32..20).prop_map(|(m, e)| format!("{m}.5E+{e}")),
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("auc".to_owned()),
        Just("tpr".to_owned()),
        Just("rows".to_owned()),
        Just("_x1".to_owned()),
        Just("missing_rate".to_owned()),
        Just("Andy".to_owned()),
    ]
}

fn quoted() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"Basel 2\"".to_owned()),
        Just("\"and\"".to_owned()),
        Just("\"q\\\"x\"".to_owned()),
        Just("\"b\\\\s\"".to_owned()),
        Just("\"auc\"".to_owned()),
        Just("\"Zürich\"".to_owned()),
        Just("\"\"".to_owned()),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![word(), quoted(), number_literal()]
}

fn metric() -> impl Strategy<Value = String> {
    let keys = prop::sample::subsequence(vec!["sex", "site", "age_band", "fold"], 0..=3);
    (
        word(),
        prop::option::of(prop::collection::vec(atom(), 1..3)),
        keys,
        prop::collection::vec(atom(), 3),
        any::<bool>(),
    )
        .prop_map(|(name, args, keys, values, reverse)| {
            let mut text = name;
            if let Some(args) = args {
                text.push('(');
                text.push_str(&args.join(", "));
                text.push(')');
            }
            if !keys.is_empty() {
                let mut pairs: Vec<String> = keys
                    .iter()
                    .zip(&values)
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                if reverse {
                    pairs.reverse();
                }
                text.push('[');
                text.push_str(&pairs.join(","));
                text.push(']');
            }
            text
        })
}

fn number_expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![metric(), number_literal()];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"]),
                inner.clone(),
                spacing()
            )
                .prop_map(|(a, op, b, sp)| format!("{a}{sp}{op}{sp}{b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("abs({a})")),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|args| format!("min({})", args.join(", "))),
            prop::collection::vec(inner, 2..4).prop_map(|args| format!("max({})", args.join(","))),
        ]
    })
}

/// A number expression that refers to at least one metric.
fn measured_expression() -> impl Strategy<Value = String> {
    (metric(), number_expression(), 0..4u8).prop_map(|(metric, other, shape)| match shape {
        0 => metric,
        1 => format!("{other} - {metric}"),
        2 => format!("max({metric}, {other})"),
        _ => format!("({other}) * {metric}"),
    })
}

fn comparison() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]);
    (
        measured_expression(),
        op,
        number_expression(),
        prop::option::of((number_expression(), any::<bool>())),
        spacing(),
    )
        .prop_map(|(left, op, right, chain, sp)| match chain {
            Some((third, ascending)) => {
                let (first, second) = if ascending { ("<", "<=") } else { (">=", ">") };
                format!("{right}{sp}{first}{sp}{left}{sp}{second}{sp}{third}")
            }
            None => format!("{left}{sp}{op}{sp}{right}"),
        })
}

fn criterion_text() -> impl Strategy<Value = String> {
    let parenthesized = |text: String, wrap: bool| {
        if wrap {
            format!("({text})")
        } else {
            text
        }
    };
    comparison().prop_recursive(4, 16, 3, move |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["and", "or"]),
                inner.clone(),
                any::<(bool, bool)>()
            )
                .prop_map(move |(a, word, b, (wrap_a, wrap_b))| {
                    format!(
                        "{} {word} {}",
                        parenthesized(a, wrap_a),
                        parenthesized(b, wrap_b)
                    )
                }),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("not {a}")),
        ]
    })
}

/// 512 cases per property unless `PROPTEST_CASES` asks for more (the fuzz run in README).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn edited_criteria_never_panic_when_parsed_or_evaluated(
        text in criterion_text(),
        edits in prop::collection::vec((any::<usize>(), any::<char>()), 1..4),
        value in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(0.0), -1e300f64..1e300],
    ) {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, c) in edits {
            let i = at % (chars.len() + 1);
            if i == chars.len() || at % 3 == 0 {
                chars.insert(i, c);
            } else {
                chars[i] = c;
            }
        }
        let edited: String = chars.into_iter().collect();
        match Criterion::parse(&edited) {
            Ok(criterion) => {
                let facts = FactsFn(|_: &Reference| -> Result<f64, FactError> { Ok(value) });
                let _ = criterion.evaluate(&facts);
                prop_assert_eq!(Criterion::parse(&criterion.canonical()).ok(), Some(criterion));
            }
            Err(error) => {
                prop_assert!(error.position <= edited.len());
                let _ = error.pointer(&edited);
            }
        }
    }

    #[test]
    fn canonical_text_parses_back_to_the_same_criterion(text in criterion_text()) {
        let criterion = Criterion::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", e.pointer(&text))))?;
        let canonical = criterion.canonical();
        let again = Criterion::parse(&canonical)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", e.pointer(&canonical))))?;
        prop_assert_eq!(&again, &criterion, "canonical: {}", canonical);
        prop_assert_eq!(again.canonical(), canonical);
        prop_assert_eq!(again.references(), criterion.references());
    }

    #[test]
    fn evaluation_agrees_with_the_canonical_text(
        text in criterion_text(),
        value in 0.0f64..2.0,
    ) {
        let criterion = Criterion::parse(&text)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let facts = FactsFn(|_: &Reference| -> Result<f64, FactError> { Ok(value) });
        let canonical = Criterion::parse(&criterion.canonical())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(criterion.evaluate(&facts).map(|e| (e.passed, e.values)),
                        canonical.evaluate(&facts).map(|e| (e.passed, e.values)));
    }

    #[test]
    fn no_input_makes_the_parser_panic(text in "\\PC{0,40}") {
        let _ = Criterion::parse(&text);
    }

    #[test]
    fn no_token_soup_makes_the_parser_panic(
        tokens in prop::collection::vec(prop::sample::select(vec![
            "auc", "(", ")", "[", "]", ",", "=", "==", "<", "<=", ">", ">=", "!=", "+", "-", "*",
            "/", "and", "or", "not", "abs", "min", "1", "0.5", "1e-3", "\"s\"", "\"", "x",
        ]), 0..30),
    ) {
        let text = tokens.join(" ");
        match Criterion::parse(&text) {
            Ok(criterion) => {
                let canonical = criterion.canonical();
                prop_assert_eq!(Criterion::parse(&canonical).ok(), Some(criterion));
            }
            Err(error) => {
                prop_assert!(error.position <= text.len());
                prop_assert!(error.column >= 1);
                let _ = error.pointer(&text);
            }
        }
    }
}
