//! Tests of profiles of tables stored as several files (`TableProfiler`, `profile_parts`)
//! through the public API: parts give the profile of their concatenation, CSV and Parquet parts
//! mix when their columns agree, and parts whose columns differ are refused by name.

use modeltrail_stats::profile::{
    profile_parts, profile_with_digests, ColumnType, Format, ProfileError, Profiled, TableProfiler,
};

const CSV: &[u8] = include_bytes!("fixtures/profile_data.csv");
const PARQUET: &[u8] = include_bytes!("fixtures/profile_data.parquet");

/// The header line and each record of a CSV text (records may span lines inside quotes).
fn header_and_records(text: &str) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for character in text.chars() {
        current.push(character);
        match character {
            '"' => quoted = !quoted,
            '\n' if !quoted => lines.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    let header = lines.remove(0);
    (header, lines)
}

fn fixture_text() -> &'static str {
    std::str::from_utf8(CSV).expect("the CSV fixture is UTF-8")
}

/// The fixture cut into parts of the given record counts, each with the header.
fn fixture_parts(sizes: &[usize]) -> Vec<String> {
    let (header, records) = header_and_records(fixture_text());
    let mut parts = Vec::new();
    let mut at = 0;
    for &size in sizes {
        let end = (at + size).min(records.len());
        parts.push(format!("{header}{}", records[at..end].concat()));
        at = end;
    }
    parts.push(format!("{header}{}", records[at..].concat()));
    parts
}

fn profiled_parts(parts: &[(&str, &[u8])]) -> Profiled {
    match profile_parts(parts.iter().copied()) {
        Ok(profiled) => profiled,
        Err(error) => panic!("profiling the parts failed: {error}"),
    }
}

fn columns_error(parts: &[(&str, &[u8])]) -> (String, String, Vec<String>, String) {
    match profile_parts(parts.iter().copied()) {
        Ok(profiled) => panic!("expected differing columns, got {:?}", profiled.profile),
        Err(error @ ProfileError::ColumnsDiffer { .. }) => {
            let message = error.to_string();
            let ProfileError::ColumnsDiffer {
                part,
                first,
                differing,
                ..
            } = error
            else {
                unreachable!("matched above")
            };
            (part, first, differing, message)
        }
        Err(other) => panic!("expected differing columns, got {other}"),
    }
}

#[test]
fn csv_parts_give_the_profile_of_the_concatenated_file() {
    let whole = profile_with_digests(CSV).expect("the whole fixture");
    for sizes in [vec![120], vec![1, 100, 17], vec![0, 239]] {
        let parts = fixture_parts(&sizes);
        let named: Vec<(String, &[u8])> = parts
            .iter()
            .enumerate()
            .map(|(index, part)| (format!("part-{index:03}.csv"), part.as_bytes()))
            .collect();
        let borrowed: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        let combined = profiled_parts(&borrowed);
        assert_eq!(combined.profile, whole.profile, "parts of sizes {sizes:?}");
        assert_eq!(combined.digests, whole.digests, "parts of sizes {sizes:?}");
    }
}

#[test]
fn duplicate_rows_are_counted_across_parts() {
    let combined = profiled_parts(&[
        ("a.csv", b"id,arm\n1,placebo\n2,drug\n"),
        ("b.csv", b"id,arm\n2,drug\n3,drug\n1.0,placebo\n"),
    ]);
    assert_eq!(combined.profile.rows, 5);
    assert_eq!(combined.profile.duplicate_rows, 2);
    assert_eq!(combined.digests.len(), 3);
    let arm = combined.profile.column("arm").expect("arm");
    let top = &arm.categories.as_ref().expect("categories").top;
    assert_eq!((top[0].value.as_str(), top[0].count), ("drug", 3));
    assert_eq!((top[1].value.as_str(), top[1].count), ("placebo", 2));
}

#[test]
fn a_column_widens_over_parts_as_over_one_file() {
    let parts = [
        ("a.csv", b"x,y\n1,7\n2,8\n".as_slice()),
        ("b.csv", b"x,y\n2.5,NA\n3,word\n".as_slice()),
    ];
    let combined = profiled_parts(&parts);
    let whole = profile_with_digests(b"x,y\n1,7\n2,8\n2.5,NA\n3,word\n").expect("whole");
    assert_eq!(combined.profile, whole.profile);
    let x = combined.profile.column("x").expect("x");
    assert_eq!(x.kind, ColumnType::Number);
    let numeric = x.numeric.as_ref().expect("numeric");
    assert_eq!((numeric.count, numeric.min, numeric.max), (4, 1.0, 3.0));
    assert_eq!(numeric.p50, 2.25, "the median of all four values");
    let y = combined.profile.column("y").expect("y");
    assert_eq!(y.kind, ColumnType::String);
    assert_eq!(y.missing, 1);
    assert_eq!(y.missing_rate, 0.25);
}

#[test]
fn csv_and_parquet_parts_mix_when_their_columns_agree() {
    let mixed = profiled_parts(&[("part-000.csv", CSV), ("part-001.parquet", PARQUET)]);
    let (header, records) = header_and_records(fixture_text());
    let twice = format!("{header}{}{}", records.concat(), records.concat());
    let doubled = profile_with_digests(twice.as_bytes()).expect("the doubled CSV");
    assert_eq!(mixed.profile.format, Format::Mixed);
    let mut expected = doubled.profile.clone();
    expected.format = Format::Mixed;
    assert_eq!(mixed.profile, expected);
    assert_eq!(mixed.digests, doubled.digests);
    let single = profile_with_digests(CSV).expect("one copy");
    assert_eq!(mixed.profile.rows, 2 * single.profile.rows);
    assert_eq!(
        mixed.profile.duplicate_rows,
        single.profile.rows + single.profile.duplicate_rows,
        "every row of the second copy repeats one of the first"
    );
    assert_eq!(mixed.digests, single.digests);

    let parquet_first = profiled_parts(&[("a.parquet", PARQUET), ("b.csv", CSV)]);
    assert_eq!(parquet_first.profile, mixed.profile);
    let parquet_twice = profiled_parts(&[("a.parquet", PARQUET), ("b.parquet", PARQUET)]);
    assert_eq!(parquet_twice.profile.format, Format::Parquet);
}

#[test]
fn parts_with_other_columns_are_refused_naming_them() {
    let (part, first, differing, message) = columns_error(&[
        ("part-000.csv", b"id,age,arm\n1,40,a\n"),
        ("part-001.csv", b"id,age,arm\n2,41,b\n"),
        ("part-002.csv", b"id,weight,arm\n3,70,a\n"),
    ]);
    assert_eq!(part, "part-002.csv");
    assert_eq!(first, "part-000.csv");
    assert_eq!(differing, ["age", "weight"]);
    assert!(message.contains("part-002.csv"), "{message}");
    assert!(message.contains("age, weight"), "{message}");

    let (_, _, differing, _) =
        columns_error(&[("a.csv", b"id,age\n1,40\n"), ("b.csv", b"age,id\n41,2\n")]);
    assert_eq!(
        differing,
        ["id", "age"],
        "the same columns in another order"
    );

    let (part, _, differing, _) =
        columns_error(&[("data.parquet", PARQUET), ("extra.csv", b"subject_id\n1\n")]);
    assert_eq!(part, "extra.csv");
    assert!(differing.contains(&"age".to_owned()), "{differing:?}");
    assert!(
        !differing.contains(&"subject_id".to_owned()),
        "{differing:?}"
    );
}

#[test]
fn a_table_needs_a_part_with_rows() {
    assert!(matches!(
        TableProfiler::new().finish(),
        Err(ProfileError::NoColumns)
    ));
    let headers_only = TableProfiler::new()
        .add("a.csv", b"x,y\n")
        .and_then(|table| table.add("b.csv", b"x,y\n"))
        .expect("header-only parts are read");
    assert_eq!(headers_only.parts(), 2);
    assert!(matches!(
        headers_only.finish(),
        Err(ProfileError::NoRows { columns: 2, .. })
    ));
    let streamed = TableProfiler::new()
        .add("a.csv", b"x,y\n")
        .and_then(|table| table.add_csv("b.csv", std::io::Cursor::new(b"x,y\n1,2\n")))
        .and_then(TableProfiler::finish)
        .expect("one part has a row");
    assert_eq!(streamed.profile.rows, 1);
}

#[test]
fn a_malformed_part_fails_the_table() {
    let error = TableProfiler::new()
        .add("a.csv", b"x,y\n1,2\n")
        .and_then(|table| table.add("b.csv", b"x,y\n1,2,3\n"))
        .err()
        .expect("a ragged part is refused");
    assert!(matches!(error, ProfileError::RaggedRow { .. }), "{error}");
}
