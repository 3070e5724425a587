//! What the fairness tests share: the Fairlearn fixtures (made by
//! `scripts/make_fairness_fixtures.py` with the real Fairlearn), each by name.

/// Every fixture file, by name; `every_fixture_file_is_tested` keeps this list complete.
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "one_attribute_numbers",
        include_str!("../fixtures/fairness/one_attribute_numbers.json"),
    ),
    (
        "two_attributes_booleans",
        include_str!("../fixtures/fairness/two_attributes_booleans.json"),
    ),
    (
        "undefined_rates",
        include_str!("../fixtures/fairness/undefined_rates.json"),
    ),
    (
        "string_labels",
        include_str!("../fixtures/fairness/string_labels.json"),
    ),
    (
        "no_false_positives",
        include_str!("../fixtures/fairness/no_false_positives.json"),
    ),
    (
        "no_true_positives",
        include_str!("../fixtures/fairness/no_true_positives.json"),
    ),
    (
        "nobody_selected",
        include_str!("../fixtures/fairness/nobody_selected.json"),
    ),
    (
        "four_fifths_boundary",
        include_str!("../fixtures/fairness/four_fifths_boundary.json"),
    ),
];
