//! The validation package's traceability matrix (docs/compliance/traceability.md) against the
//! repository: every requirement id of docs/compliance/requirements.md has a row, every row
//! marked Addressed or Procedural names at least one test, and every test named
//! (`file::function`) exists in that file as a test function: under `#[test]` or
//! `#[tokio::test]`, or listed in an `on_both_backends!` invocation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative))
        .unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

/// Requirement ids at the start of list items: `- P11-01 ...`.
fn requirement_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("- "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|id| {
            id.split_once('-').is_some_and(|(family, number)| {
                !family.is_empty()
                    && family.chars().all(|c| c.is_ascii_alphanumeric())
                    && number.len() == 2
                    && number.chars().all(|c| c.is_ascii_digit())
            })
        })
        .map(str::to_owned)
        .collect()
}

struct Row {
    id: String,
    status: String,
    tests: Vec<(String, String)>,
}

fn rows(matrix: &str) -> Vec<Row> {
    matrix
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Id ") && !l.starts_with("|---"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 5, "a matrix row has 5 cells: {line}");
            let tests = cells[4]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|named| {
                    let (file, function) = named
                        .split_once("::")
                        .unwrap_or_else(|| panic!("`{named}` is not file::function"));
                    (file.to_owned(), function.to_owned())
                })
                .collect();
            Row {
                id: cells[0].to_owned(),
                status: cells[2].to_owned(),
                tests,
            }
        })
        .collect()
}

/// Whether `source` defines `function` as a test.
fn is_test(source: &str, function: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    let defines = |line: &str| {
        let line = line.trim_start();
        [format!("fn {function}("), format!("async fn {function}(")]
            .iter()
            .any(|d| line.starts_with(d.as_str()))
    };
    // The attributes and doc comments directly above the definition.
    let attributed = lines.iter().enumerate().any(|(i, line)| {
        defines(line)
            && lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
                .any(|l| l.starts_with("#[test]") || l.starts_with("#[tokio::test"))
    });
    let by_macro = source.split("on_both_backends!(").skip(1).any(|rest| {
        rest.split(')')
            .next()
            .unwrap_or("")
            .split(',')
            .any(|name| name.trim() == function)
    }) && lines.iter().any(|l| defines(l));
    attributed || by_macro
}

#[test]
fn every_test_the_matrix_names_exists_and_every_requirement_has_a_row() {
    let required = requirement_ids(&read("docs/compliance/requirements.md"));
    assert!(
        required.len() >= 40,
        "only {} requirement ids",
        required.len()
    );
    let rows = rows(&read("docs/compliance/traceability.md"));
    let covered: BTreeSet<String> = rows.iter().map(|r| r.id.clone()).collect();
    let missing: Vec<_> = required.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "requirements without a row: {missing:?}"
    );
    let unknown: Vec<_> = covered.difference(&required).collect();
    assert!(unknown.is_empty(), "rows for unknown ids: {unknown:?}");
    let mut problems = Vec::new();
    let mut named = 0;
    for row in &rows {
        match row.status.as_str() {
            "Addressed" | "Procedural" if row.tests.is_empty() => {
                problems.push(format!("{}: {} but names no test", row.id, row.status))
            }
            "Addressed" | "Procedural" | "Not addressed" => {}
            other => problems.push(format!("{}: unknown status {other:?}", row.id)),
        }
        for (file, function) in &row.tests {
            named += 1;
            match std::fs::read_to_string(repo().join(file)) {
                Ok(source) if is_test(&source, function) => {}
                Ok(_) => problems.push(format!("{}: no test {function} in {file}", row.id)),
                Err(e) => problems.push(format!("{}: {file}: {e}", row.id)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(named >= 50, "only {named} tests named");
}

#[test]
fn the_checker_tells_tests_from_other_functions() {
    let source = "#[test]\nfn a_test() {}\nfn helper() {}\non_both_backends!(story_one, story_two);\nasync fn story_one(b: Backend) {}\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn an_async_test() {}\n";
    assert!(is_test(source, "a_test"));
    assert!(is_test(source, "an_async_test"));
    assert!(is_test(source, "story_one"));
    assert!(!is_test(source, "story_two"), "listed but not defined");
    assert!(!is_test(source, "helper"));
    assert!(!is_test(source, "missing"));
    let ids = requirement_ids("- P11-01 x\n- GAMP-01 y\n- not an id\n- A11-1 short\n");
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["GAMP-01", "P11-01"]);
}
