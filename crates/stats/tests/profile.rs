//! Tests of `modeltrail_stats::profile` through its public API: the same data as CSV and as
//! Parquet give the same profile and row digests, the figures agree with pandas' own (fixtures
//! written by scripts/make_profile_fixtures.py), and each kind of bad input is refused by name.

use modeltrail_stats::profile::{
    detect_format, profile, profile_csv, profile_with_digests, row_digests, shared_rows,
    ColumnProfile, ColumnType, DataProfile, DigestSetError, FactError, Format, ProfileError,
    RowDigestSet, NA_SPELLINGS,
};
use serde_json::Value;

const CSV: &[u8] = include_bytes!("fixtures/profile_data.csv");
const PARQUET: &[u8] = include_bytes!("fixtures/profile_data.parquet");
const EXPECTED: &str = include_str!("fixtures/profile_expected.json");
const ZSTD_PARQUET: &[u8] = include_bytes!("fixtures/profile_zstd.parquet");
const NESTED_PARQUET: &[u8] = include_bytes!("fixtures/profile_nested.parquet");

fn profile_of(text: &str) -> DataProfile {
    match profile(text.as_bytes()) {
        Ok(profile) => profile,
        Err(error) => panic!("profiling {text:?} failed: {error}"),
    }
}

fn error_of(bytes: &[u8]) -> ProfileError {
    match profile(bytes) {
        Ok(profile) => panic!("expected an error, got {profile:?}"),
        Err(error) => error,
    }
}

fn column<'a>(profile: &'a DataProfile, name: &str) -> &'a ColumnProfile {
    profile
        .column(name)
        .unwrap_or_else(|| panic!("no column {name:?}"))
}

fn expected() -> Value {
    serde_json::from_str(EXPECTED).expect("profile_expected.json is JSON")
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, pandas says {expected}"
    );
}

/// Checks a profile against pandas' figures in profile_expected.json.
fn assert_matches_pandas(profile: &DataProfile) {
    let expected = expected();
    assert_eq!(Some(profile.rows), expected["rows"].as_u64(), "rows");
    assert_eq!(
        Some(profile.duplicate_rows),
        expected["duplicate_rows"].as_u64(),
        "duplicate rows"
    );
    let columns = expected["columns"].as_array().expect("columns");
    assert_eq!(profile.columns.len(), columns.len(), "column count");
    for (actual, wanted) in profile.columns.iter().zip(columns) {
        assert_column_matches(actual, wanted);
    }
}

fn assert_column_matches(actual: &ColumnProfile, wanted: &Value) {
    let name = wanted["name"].as_str().expect("name");
    assert_eq!(actual.name, name);
    assert_eq!(
        serde_json::to_value(actual.kind).expect("type serialises"),
        wanted["type"],
        "type of {name}"
    );
    assert_eq!(
        Some(actual.missing),
        wanted["missing"].as_u64(),
        "missing of {name}"
    );
    assert_close(
        actual.missing_rate,
        wanted["missing_rate"].as_f64().expect("rate"),
        &format!("missing_rate of {name}"),
    );
    assert_eq!(
        Some(actual.distinct),
        wanted["distinct"].as_u64(),
        "distinct of {name}"
    );
    if let Some(figures) = wanted.get("numeric") {
        let summary = actual
            .numeric
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no numeric summary"));
        assert_eq!(
            Some(summary.count),
            figures["count"].as_u64(),
            "count of {name}"
        );
        let std = summary.std.unwrap_or(f64::NAN);
        for (figure, value) in [
            ("min", summary.min),
            ("max", summary.max),
            ("mean", summary.mean),
            ("std", std),
            ("p5", summary.p5),
            ("p25", summary.p25),
            ("p50", summary.p50),
            ("p75", summary.p75),
            ("p95", summary.p95),
        ] {
            let wanted = figures[figure].as_f64().expect("figure");
            assert_close(value, wanted, &format!("{figure} of {name}"));
        }
    }
    if let Some(categories) = wanted.get("categories") {
        let summary = serde_json::to_value(actual.categories.as_ref().expect("categories"))
            .expect("categories serialise");
        assert_eq!(&summary, categories, "categories of {name}");
    }
}

#[test]
fn csv_profile_matches_pandas() {
    let profile = profile(CSV).expect("the CSV fixture profiles");
    assert_eq!(profile.format, Format::Csv);
    assert_matches_pandas(&profile);
}

#[test]
fn parquet_profile_matches_pandas() {
    let profile = profile(PARQUET).expect("the Parquet fixture profiles");
    assert_eq!(profile.format, Format::Parquet);
    assert_matches_pandas(&profile);
}

#[test]
fn csv_and_parquet_of_the_same_data_give_the_same_profile_and_digests() {
    let from_csv = profile_with_digests(CSV).expect("CSV");
    let from_parquet = profile_with_digests(PARQUET).expect("Parquet");
    let mut csv_profile = from_csv.profile.clone();
    csv_profile.format = Format::Parquet;
    assert_eq!(csv_profile, from_parquet.profile);
    assert_eq!(from_csv.digests, from_parquet.digests);
    assert_eq!(
        row_digests(CSV).expect("CSV digests"),
        row_digests(PARQUET).expect("Parquet digests")
    );
}

#[test]
fn na_spellings_are_pandas_defaults() {
    let mut ours: Vec<&str> = NA_SPELLINGS.to_vec();
    ours.sort_unstable();
    let expected = expected();
    let pandas: Vec<&str> = expected["na_spellings"]
        .as_array()
        .expect("na_spellings")
        .iter()
        .map(|spelling| spelling.as_str().expect("text"))
        .collect();
    assert_eq!(ours, pandas);
}

#[test]
fn streaming_csv_gives_the_same_profile_as_bytes() {
    let streamed = profile_csv(std::io::Cursor::new(CSV)).expect("streamed");
    assert_eq!(streamed, profile(CSV).expect("bytes"));
}

#[test]
fn profile_survives_a_json_round_trip() {
    let profile = profile(PARQUET).expect("profile");
    let json = serde_json::to_string(&profile).expect("serialise");
    let back: DataProfile = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, profile);
    let value: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["format"], "parquet");
    assert_eq!(value["columns"][0]["type"], "integer");
}

#[test]
fn quoted_fields_keep_commas_quotes_and_newlines() {
    let profile = profile_of(
        "id,arm\n1,\"drug, 10 mg\"\n2,\"say \"\"A\"\"\"\n3,\"two\nlines\"\n4,\"drug, 10 mg\"\n",
    );
    assert_eq!(profile.rows, 4);
    let top = &column(&profile, "arm")
        .categories
        .as_ref()
        .expect("categories")
        .top;
    let values: Vec<(&str, u64)> = top.iter().map(|c| (c.value.as_str(), c.count)).collect();
    assert_eq!(
        values,
        [("drug, 10 mg", 2), ("say \"A\"", 1), ("two\nlines", 1)]
    );
}

#[test]
fn every_na_spelling_is_missing_and_nothing_else() {
    let mut text = String::from("value,other\n");
    for spelling in NA_SPELLINGS {
        text.push_str(&format!("\"{spelling}\",x\n"));
    }
    text.push_str(" NA,x\nna,x\nNone ,x\n");
    let profile = profile_of(&text);
    let value = column(&profile, "value");
    assert_eq!(value.missing, NA_SPELLINGS.len() as u64);
    assert_eq!(value.kind, ColumnType::String);
    assert_eq!(value.distinct, 3, "' NA', 'na' and 'None ' are values");
    assert_close(
        value.missing_rate,
        NA_SPELLINGS.len() as f64 / (NA_SPELLINGS.len() + 3) as f64,
        "missing_rate",
    );
}

#[test]
fn missing_cells_are_counted_and_left_out_of_figures() {
    let profile = profile_of("a,b\n1,x\n,y\nNA,\n4,z\n");
    let a = column(&profile, "a");
    assert_eq!((a.kind, a.missing), (ColumnType::Integer, 2));
    let numeric = a.numeric.as_ref().expect("numeric");
    assert_eq!((numeric.count, numeric.min, numeric.max), (2, 1.0, 4.0));
    assert_close(numeric.mean, 2.5, "mean");
    assert_eq!(column(&profile, "b").missing, 1);
}

#[test]
fn types_are_inferred_from_all_values() {
    let profile = profile_of(
        "int,num,flag,text,late_word,empty\n1,1.5,True,a,1,\n-2, 3 ,false,b,2,\n+3,1e2,TRUE,7,x,NA\n",
    );
    let kinds: Vec<(&str, ColumnType)> = profile
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("int", ColumnType::Integer),
            ("num", ColumnType::Number),
            ("flag", ColumnType::Boolean),
            ("text", ColumnType::String),
            ("late_word", ColumnType::String),
            ("empty", ColumnType::Number),
        ]
    );
    let flag = column(&profile, "flag").categories.as_ref().expect("flag");
    let flags: Vec<(&str, u64)> = flag
        .top
        .iter()
        .map(|c| (c.value.as_str(), c.count))
        .collect();
    assert_eq!(flags, [("true", 2), ("false", 1)]);
    let late = column(&profile, "late_word")
        .categories
        .as_ref()
        .expect("late");
    assert_eq!(late.top.len(), 3);
    assert!(column(&profile, "empty").numeric.is_none());
    assert_eq!(
        column(&profile, "num").numeric.as_ref().expect("num").max,
        100.0
    );
}

#[test]
fn quantiles_interpolate_as_numpy() {
    // numpy.percentile([10, 1, 4, 2, 3], [5, 25, 50, 75, 95]) == [1.2, 2, 3, 4, 8.8]
    let profile = profile_of("x\n10\n1\n4\n2\n3\n");
    let x = column(&profile, "x").numeric.clone().expect("numeric");
    for (value, wanted) in [
        (x.p5, 1.2),
        (x.p25, 2.0),
        (x.p50, 3.0),
        (x.p75, 4.0),
        (x.p95, 8.8),
    ] {
        assert_close(value, wanted, "quantile");
    }
    // pandas: Series([10, 1, 4, 2, 3]).std() == 3.5355339059327378
    assert_close(x.std.expect("std"), 3.5355339059327378, "std");
}

#[test]
fn top_categories_are_capped_with_ties_broken_by_value() {
    let mut text = String::from("c\n");
    for n in 0..25 {
        let repeats = if n < 3 { 5 } else { 1 };
        for _ in 0..repeats {
            text.push_str(&format!("v{n:02}\n"));
        }
    }
    let profile = profile_of(&text);
    let c = column(&profile, "c");
    let categories = c.categories.as_ref().expect("categories");
    assert_eq!(c.distinct, 25);
    assert_eq!(categories.top.len(), 20);
    assert_eq!(categories.top[0].value, "v00");
    assert_eq!(categories.top[3].value, "v03", "ties in ascending order");
    assert_eq!(categories.top[19].value, "v19");
    assert_eq!(categories.other, 5);
}

#[test]
fn duplicates_are_rows_equal_to_an_earlier_row() {
    let profile = profile_of("a,b\n1,x\n2,y\n1,x\n1.0,x\n1,\n1,NA\n");
    assert_eq!(profile.rows, 6);
    assert_eq!(
        profile.duplicate_rows, 3,
        "1,x twice more; missing equals missing"
    );
    assert_close(
        profile.fact("duplicate_rate", None).expect("rate"),
        0.5,
        "rate",
    );
}

#[test]
fn canonical_cells_make_equal_values_equal_rows() {
    let a = row_digests(b"n,s\n1,x\n1.50,\"x\"\n007,True\n").expect("a");
    let b = row_digests(b"other,names\n1.0,x\n1.5,x\n7,true\n").expect("b");
    assert_eq!(a, b);
    let c = row_digests(b"n,s\n1,y\n").expect("c");
    assert_ne!(a[0], c[0]);
}

#[test]
fn shared_rows_counts_rows_of_one_set_found_in_another() {
    let full = profile_with_digests(PARQUET).expect("full").digests;
    let text = std::str::from_utf8(CSV).expect("utf-8");
    // The fixture's first six records (some span two lines) plus one row of our own.
    let mut records = csv_records(text, 7);
    let width = text.lines().next().expect("header").split(',').count();
    records.push_str(&format!("999{}\n", ",".repeat(width - 1)));
    let part = profile_with_digests(records.as_bytes())
        .expect("part")
        .digests;
    assert_eq!(part.len(), 7);
    assert_eq!(part.shared_with(&full), 6);
    assert_eq!(shared_rows(full.as_slice(), part.as_slice()), 6);
    assert_eq!(shared_rows(part.as_slice(), &[]), 0);
}

/// The header and the first `count - 1` records of CSV text, counting quoted newlines right.
fn csv_records(text: &str, count: usize) -> String {
    let mut out = String::new();
    let (mut records, mut quoted) = (0, false);
    for character in text.chars() {
        out.push(character);
        match character {
            '"' => quoted = !quoted,
            '\n' if !quoted => {
                records += 1;
                if records == count {
                    break;
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn digest_sets_round_trip_through_bytes() {
    let set = profile_with_digests(CSV).expect("profile").digests;
    assert_eq!(set.len(), 240);
    let bytes = set.to_bytes();
    assert_eq!(bytes.len(), 16 + 16 * 240);
    assert_eq!(RowDigestSet::from_bytes(&bytes), Ok(set.clone()));
    assert!(set.as_slice().windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn digest_set_bytes_are_checked() {
    let set = RowDigestSet::from_digests(vec![[3; 16], [1; 16], [2; 16], [1; 16]]);
    assert_eq!(set.as_slice(), [[1; 16], [2; 16], [3; 16]]);
    let bytes = set.to_bytes();
    assert_eq!(
        RowDigestSet::from_bytes(b"not a digest set"),
        Err(DigestSetError::BadMagic)
    );
    assert_eq!(
        RowDigestSet::from_bytes(&bytes[..bytes.len() - 1]),
        Err(DigestSetError::BadLength {
            declared: 3,
            actual: 47
        })
    );
    let mut unsorted = bytes.clone();
    unsorted[16..32].copy_from_slice(&[9; 16]);
    assert_eq!(
        RowDigestSet::from_bytes(&unsorted),
        Err(DigestSetError::NotSorted(1))
    );
}

#[test]
fn a_ragged_row_is_named() {
    let error = error_of(b"a,b\n1,2\n3,4,5\n");
    assert!(matches!(error, ProfileError::RaggedRow { row: 2, .. }));
    assert_eq!(
        error.to_string(),
        "row 2 (line 3) has 3 fields, the header has 2"
    );
}

#[test]
fn binary_input_is_neither_csv_nor_parquet() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let error = error_of(&noise);
    assert!(
        error.to_string().starts_with("not CSV or Parquet: byte "),
        "{error}"
    );
    let zeros = error_of(&[0u8; 64]);
    assert!(zeros.to_string().contains("NUL"), "{zeros}");
    let streamed = profile_csv(&b"a,b\n1,\xff\n"[..]).expect_err("not UTF-8");
    assert_eq!(
        streamed.to_string(),
        "not CSV or Parquet: row 1, column \"b\" is not UTF-8 text"
    );
}

#[test]
fn empty_input_and_header_only_are_refused() {
    let empty = error_of(b"");
    assert_eq!(empty.to_string(), "not CSV or Parquet: the input is empty");
    let streamed = profile_csv(&b""[..]).expect_err("no header");
    assert!(matches!(streamed, ProfileError::NoHeader));
    let header_only = error_of(b"a,b,c\n");
    assert_eq!(
        header_only.to_string(),
        "empty data: no rows (the header names 3 columns)"
    );
    assert!(row_digests(b"a,b,c\n").is_err());
}

#[test]
fn a_repeated_column_name_is_refused() {
    let error = error_of(b"a,b,a\n1,2,3\n");
    assert_eq!(
        error.to_string(),
        "the header names column \"a\" more than once"
    );
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_name() {
    let profile = profile_of("\u{feff}id,x\n1,2\n");
    assert_eq!(profile.columns[0].name, "id");
}

#[test]
fn formats_are_detected_by_content() {
    assert_eq!(detect_format(PARQUET).expect("parquet"), Format::Parquet);
    assert_eq!(detect_format(CSV).expect("csv"), Format::Csv);
    let truncated = &PARQUET[..PARQUET.len() - 10];
    let error = detect_format(truncated).expect_err("truncated");
    assert!(
        error.to_string().contains("does not end with it"),
        "{error}"
    );
    let corrupt = [b"PAR1".as_slice(), &[7u8; 64], b"PAR1"].concat();
    assert!(matches!(error_of(&corrupt), ProfileError::Parquet(_)));
}

#[test]
fn parquet_outside_what_is_read_is_refused_by_name() {
    let zstd = error_of(ZSTD_PARQUET);
    assert_eq!(
        zstd.to_string(),
        "Parquet column \"x\" is compressed with Zstandard; only uncompressed and Snappy \
         (the pandas and pyarrow default) Parquet can be read"
    );
    let nested = error_of(NESTED_PARQUET);
    assert!(matches!(nested, ProfileError::NestedColumn(ref name) if name.starts_with("doses")));
}

#[test]
fn facts_are_read_by_name() {
    let profile = profile(CSV).expect("profile");
    let wanted = expected();
    assert_eq!(profile.fact("rows", None), Ok(245.0));
    let columns = wanted["columns"].as_array().expect("columns").len() as f64;
    assert_eq!(profile.fact("columns", None), Ok(columns));
    assert_eq!(profile.fact("duplicate_rows", None), Ok(5.0));
    let age = &wanted["columns"][1];
    assert_eq!(profile.fact("missing", Some("age")), Ok(20.0));
    assert_close(
        profile.fact("missing_rate", Some("age")).expect("rate"),
        age["missing_rate"].as_f64().expect("rate"),
        "missing_rate(age)",
    );
    for (fact, figure) in [
        ("min", "min"),
        ("max", "max"),
        ("mean", "mean"),
        ("std", "std"),
        ("p5", "p5"),
        ("p25", "p25"),
        ("median", "p50"),
        ("p50", "p50"),
        ("p75", "p75"),
        ("p95", "p95"),
    ] {
        let value = profile.fact(fact, Some("age")).expect(fact);
        assert_close(
            value,
            age["numeric"][figure].as_f64().expect("figure"),
            fact,
        );
    }
    let site_distinct = wanted["columns"][5]["distinct"].as_f64().expect("distinct");
    assert_eq!(profile.fact("distinct", Some("site")), Ok(site_distinct));
    assert!(
        site_distinct > 20.0,
        "the fixture has more sites than the top 20"
    );
}

#[test]
fn bad_fact_requests_name_what_is_wrong() {
    let profile = profile(CSV).expect("profile");
    let unknown = profile.fact("nonsense", None).expect_err("unknown");
    assert!(matches!(unknown, FactError::UnknownFact { ref name, .. } if name == "nonsense"));
    assert!(unknown.to_string().contains("missing_rate"), "{unknown}");
    assert_eq!(
        profile.fact("mean", None),
        Err(FactError::NeedsColumn("mean".into()))
    );
    assert_eq!(
        profile.fact("rows", Some("age")),
        Err(FactError::TakesNoColumn {
            fact: "rows".into(),
            column: "age".into()
        })
    );
    assert_eq!(
        profile.fact("mean", Some("height")),
        Err(FactError::UnknownColumn("height".into()))
    );
    let not_numeric = profile.fact("mean", Some("site")).expect_err("string");
    assert_eq!(
        not_numeric.to_string(),
        "fact \"mean\" needs a numeric column; \"site\" is string"
    );
    let single = profile_of("x,y\n1,\n");
    assert!(matches!(
        single.fact("std", Some("x")),
        Err(FactError::NoValue { .. })
    ));
    assert!(matches!(
        single.fact("min", Some("y")),
        Err(FactError::NoValue { .. })
    ));
}

#[test]
fn crlf_line_endings_read_like_lf() {
    let crlf = profile(b"a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n").expect("crlf");
    let lf = profile(b"a,b\n1,\"x\r\ny\"\n2,z\n").expect("lf");
    assert_eq!(crlf, lf);
    assert_eq!(crlf.rows, 2);
}
