//! RFC 8785 (JCS) conformance and property tests for `modeltrail_ledger::jcs`.

use modeltrail_ledger::jcs::{canonicalize_str, to_canonical_vec, write_canonical, JcsError};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn canon(value: &Value) -> String {
    String::from_utf8(to_canonical_vec(value).unwrap()).unwrap()
}

fn canon_str(text: &str) -> String {
    String::from_utf8(canonicalize_str(text).unwrap()).unwrap()
}

fn float(bits: u64) -> Value {
    Value::Number(serde_json::Number::from_f64(f64::from_bits(bits)).unwrap())
}

// --- RFC 8785 Appendix B -----------------------------------------------------------------------

/// Table 1 of Appendix B, every finite row: IEEE-754 bits and the expected JSON text.
const APPENDIX_B: &[(u64, &str)] = &[
    (0x0000000000000000, "0"),
    (0x8000000000000000, "0"),
    (0x0000000000000001, "5e-324"),
    (0x8000000000000001, "-5e-324"),
    (0x7fefffffffffffff, "1.7976931348623157e+308"),
    (0xffefffffffffffff, "-1.7976931348623157e+308"),
    (0x4340000000000000, "9007199254740992"),
    (0xc340000000000000, "-9007199254740992"),
    (0x4430000000000000, "295147905179352830000"),
    (0x44b52d02c7e14af5, "9.999999999999997e+22"),
    (0x44b52d02c7e14af6, "1e+23"),
    (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
    (0x444b1ae4d6e2ef4e, "999999999999999700000"),
    (0x444b1ae4d6e2ef4f, "999999999999999900000"),
    (0x444b1ae4d6e2ef50, "1e+21"),
    (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
    (0x3eb0c6f7a0b5ed8d, "0.000001"),
    (0x41b3de4355555553, "333333333.3333332"),
    (0x41b3de4355555554, "333333333.33333325"),
    (0x41b3de4355555555, "333333333.3333333"),
    (0x41b3de4355555556, "333333333.3333334"),
    (0x41b3de4355555557, "333333333.33333343"),
    (0xbecbf647612f3696, "-0.0000033333333333333333"),
    (0x43143ff3c1cb0959, "1424953923781206.2"),
];

#[test]
fn appendix_b_numbers_from_doubles() {
    for &(bits, expected) in APPENDIX_B {
        assert_eq!(canon(&float(bits)), expected, "bits {bits:016x}");
        // Also as an array element and an object member (no stray separators).
        assert_eq!(
            canon(&json!({"n": [float(bits)]})),
            format!(r#"{{"n":[{expected}]}}"#)
        );
    }
}

#[test]
fn appendix_b_numbers_from_text_are_read_exactly() {
    // serde_json on its own (without `float_roundtrip`) reads some of these one unit in the last
    // place off; canonicalize_str must land on the exact double and print it back unchanged.
    for &(bits, expected) in APPENDIX_B {
        assert_eq!(canon_str(expected), expected, "bits {bits:016x}");
        let exact: f64 = expected.parse().unwrap();
        assert_eq!(
            exact.to_bits() & !(1 << 63),
            bits & !(1 << 63),
            "{expected}"
        );
    }
    // Other spellings of some of the same doubles.
    for (text, expected) in [
        ("-0", "0"),
        ("-0.0e5", "0"),
        ("4.9e-324", "5e-324"),
        ("1.7976931348623157E308", "1.7976931348623157e+308"),
        ("9007199254740992.0", "9007199254740992"),
        ("2.9514790517935283e20", "295147905179352830000"),
        ("1E21", "1e+21"),
        ("1e23", "1e+23"),
        ("0.0000010", "0.000001"),
        ("333333333.33333329", "333333333.3333333"),
        ("1424953923781206.25", "1424953923781206.2"),
        ("-3.3333333333333333e-6", "-0.0000033333333333333333"),
    ] {
        assert_eq!(canon_str(text), expected, "{text}");
    }
}

#[test]
fn appendix_b_nan_and_infinity_are_rejected() {
    // Rows 7fffffffffffffff (NaN) and 7ff0000000000000 (Infinity) have no JSON form: serde_json
    // refuses to hold them in a Value, and the text forms are not JSON.
    assert!(serde_json::Number::from_f64(f64::from_bits(0x7fffffffffffffff)).is_none());
    assert!(serde_json::Number::from_f64(f64::from_bits(0x7ff0000000000000)).is_none());
    for text in ["NaN", "Infinity", "-Infinity", "1e400", "[-1e309]"] {
        assert!(
            matches!(canonicalize_str(text), Err(JcsError::InvalidJson(_))),
            "{text}"
        );
    }
}

#[test]
fn ecmascript_number_forms() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (100.0, "100"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e-6, "0.000001"),
        (1.5e-6, "0.0000015"),
        (1e-7, "1e-7"),
        (1.25e-7, "1.25e-7"),
        (-0.0, "0"),
        (123456789012345680000.0, "123456789012345680000"),
    ];
    for &(number, expected) in cases {
        assert_eq!(canon(&json!(number)), expected, "{number:e}");
    }
}

// --- RFC 8785 sections 3.2.2 to 3.2.4 ----------------------------------------------------------

#[test]
fn rfc_sample_gives_the_exact_bytes_of_section_3_2_4() {
    let input = include_str!("data/jcs/rfc8785-sample.json");
    let expected: Vec<u8> = include_str!("data/jcs/rfc8785-sample.canonical.hex")
        .split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect();
    assert_eq!(expected.len(), 118);
    assert_eq!(
        String::from_utf8(expected.clone()).unwrap(),
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
         \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    );
    assert_eq!(canonicalize_str(input).unwrap(), expected);
    // Canonical output is a fixed point.
    assert_eq!(
        canonicalize_str(std::str::from_utf8(&expected).unwrap()).unwrap(),
        expected
    );
}

#[test]
fn rfc_sorting_example_of_section_3_2_3() {
    let output = canon_str(include_str!("data/jcs/rfc8785-sorting.json"));
    let expected = concat!(
        "{",
        r#""\r":"Carriage Return","#,
        r#""1":"One","#,
        "\"\u{80}\":\"Control\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",",
        "\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f600}\":\"Emoji: Grinning Face\",",
        "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"",
        "}"
    );
    assert_eq!(output, expected);

    // The same through write_canonical on a Value (serde_json keeps keys in UTF-8 byte order,
    // which puts U+FB33 before U+1F600; the encoder must reorder).
    let value: Value = serde_json::from_str(include_str!("data/jcs/rfc8785-sorting.json")).unwrap();
    assert_eq!(canon(&value), expected);
}

#[test]
fn keys_sort_by_utf16_code_units_not_bytes() {
    // U+E000 is EE 80 80 in UTF-8 but the single unit E000 in UTF-16; U+10000 is F0 90 80 80 in
    // UTF-8 but D800 DC00 in UTF-16. Byte order and UTF-16 order disagree.
    let value =
        json!({"\u{e000}": 1, "\u{10000}": 2, "\u{ffff}": 3, "\u{10ffff}": 4, "\u{d7ff}": 5});
    assert_eq!(
        canon(&value),
        "{\"\u{d7ff}\":5,\"\u{10000}\":2,\"\u{10ffff}\":4,\"\u{e000}\":1,\"\u{ffff}\":3}"
    );
    // Shared prefix, then the difference.
    let value = json!({"x\u{e000}": 1, "x\u{10000}": 2, "x": 3, "": 4});
    assert_eq!(
        canon(&value),
        "{\"\":4,\"x\":3,\"x\u{10000}\":2,\"x\u{e000}\":1}"
    );
    // Plain ASCII: by code unit, shorter prefix first, upper case before lower case.
    let value = json!({"ab": 1, "aa": 2, "a": 3, "": 4, "B": 5, "b": 6, "_": 7, "1": 8});
    assert_eq!(
        canon(&value),
        r#"{"":4,"1":8,"B":5,"_":7,"a":3,"aa":2,"ab":1,"b":6}"#
    );
}

// --- Strings -----------------------------------------------------------------------------------

#[test]
fn string_escapes() {
    let named = [
        (0x08, "\\b"),
        (0x09, "\\t"),
        (0x0a, "\\n"),
        (0x0c, "\\f"),
        (0x0d, "\\r"),
    ];
    for code in 0u8..0x20 {
        let expected = match named.iter().find(|(c, _)| *c == code) {
            Some((_, escape)) => escape.to_string(),
            None => format!("\\u{code:04x}"),
        };
        let text = String::from(char::from(code));
        assert_eq!(
            canon(&json!(text)),
            format!("\"{expected}\""),
            "U+{code:04X}"
        );
    }
    assert_eq!(canon(&json!("\u{1f}")), r#""\u001f""#); // lowercase hex
    assert_eq!(canon(&json!("\"")), r#""\"""#);
    assert_eq!(canon(&json!("\\")), r#""\\""#);
    assert_eq!(canon(&json!("/")), r#""/""#);
    // DEL, U+2028, U+2029, non-ASCII and astral characters are written raw.
    for raw in [
        "\u{7f}",
        "\u{2028}",
        "\u{2029}",
        "\u{e9}",
        "\u{20ac}",
        "\u{1f600}",
        "\u{feff}",
    ] {
        assert_eq!(canon(&json!(raw)), format!("\"{raw}\""));
    }
    assert_eq!(
        canon(&json!("a\"b\\c\u{0}d\u{7f}e\u{2028}\n")),
        "\"a\\\"b\\\\c\\u0000d\u{7f}e\u{2028}\\n\""
    );
    assert_eq!(canon(&json!("")), r#""""#);
    // Keys are escaped the same way.
    assert_eq!(canon(&json!({"\n\u{1}\"": 0})), r#"{"\n\u0001\"":0}"#);
    // From text: escapes are decoded, then re-encoded canonically.
    assert_eq!(
        canon_str(r#""\u0041\u00e9\/\ud83d\ude00\u2028\u007F\u001F""#),
        "\"A\u{e9}/\u{1f600}\u{2028}\u{7f}\\u001f\""
    );
}

#[test]
fn lone_surrogates_are_rejected() {
    for text in [r#""\ud800""#, r#""\udead x""#, r#"{"\ud83d": 1}"#] {
        assert!(
            matches!(canonicalize_str(text), Err(JcsError::InvalidJson(_))),
            "{text}"
        );
    }
}

// --- Structure ---------------------------------------------------------------------------------

#[test]
fn nested_and_empty_containers() {
    assert_eq!(canon(&json!({})), "{}");
    assert_eq!(canon(&json!([])), "[]");
    assert_eq!(
        canon(&json!([{}, [], [[]], {"a": {}}])),
        r#"[{},[],[[]],{"a":{}}]"#
    );
    assert_eq!(canon(&json!(null)), "null");
    assert_eq!(canon(&json!(true)), "true");
    assert_eq!(canon(&json!(false)), "false");
    assert_eq!(canon(&json!("top")), r#""top""#);
    let value = json!({
        "z": [3, 2, 1, {"b": [true, null], "a": -7}],
        "a": {"y": {"x": {"w": "deep"}}, "c": []},
        "m": 0.5,
    });
    assert_eq!(
        canon(&value),
        r#"{"a":{"c":[],"y":{"x":{"w":"deep"}}},"m":0.5,"z":[3,2,1,{"a":-7,"b":[true,null]}]}"#
    );
    // Pretty input loses every whitespace between tokens, none inside strings.
    let pretty = "\n{ \"b\" :\t[ 1 ,\r\n 2 ] ,\n  \"a\" : \" x  y \" }\n";
    assert_eq!(canon_str(pretty), r#"{"a":" x  y ","b":[1,2]}"#);
}

#[test]
fn write_canonical_appends_and_leaves_out_alone_on_error() {
    let mut out = b"head:".to_vec();
    write_canonical(&json!({"b": 1, "a": [2]}), &mut out).unwrap();
    assert_eq!(out, br#"head:{"a":[2],"b":1}"#);

    let mut out = b"head:".to_vec();
    let bad = json!({"a": [1, 2, {"b": u64::MAX}]});
    assert!(write_canonical(&bad, &mut out).is_err());
    assert_eq!(out, b"head:");
}

// --- Integers beyond 2^53 ----------------------------------------------------------------------

#[test]
fn integers_at_the_exact_limit_are_fine() {
    let limit = 1i64 << 53;
    assert_eq!(canon(&json!(limit)), "9007199254740992");
    assert_eq!(canon(&json!(-limit)), "-9007199254740992");
    assert_eq!(canon(&json!(limit as u64)), "9007199254740992");
    assert_eq!(canon(&json!(limit - 1)), "9007199254740991");
    assert_eq!(canon(&json!(0u64)), "0");
    assert_eq!(canon(&json!(-1)), "-1");
    assert_eq!(canon(&json!(1234567890)), "1234567890");
    assert_eq!(canon_str("9007199254740992"), "9007199254740992");
    assert_eq!(canon_str("-9007199254740992"), "-9007199254740992");
}

#[test]
fn integers_beyond_the_limit_are_errors_with_path() {
    let value = json!({"payload": {"items": [0, 1, 2, {"x": 9007199254740993u64}]}});
    assert_eq!(
        to_canonical_vec(&value),
        Err(JcsError::IntegerOutOfRange {
            path: "$.payload.items[3].x".into(),
            value: "9007199254740993".into(),
        })
    );
    let value = json!([-9007199254740993i64]);
    assert_eq!(
        to_canonical_vec(&value),
        Err(JcsError::IntegerOutOfRange {
            path: "$[0]".into(),
            value: "-9007199254740993".into(),
        })
    );
    assert_eq!(
        to_canonical_vec(&json!(i64::MIN)),
        Err(JcsError::IntegerOutOfRange {
            path: "$".into(),
            value: i64::MIN.to_string(),
        })
    );
    // Keys that are not identifiers are quoted in the path.
    let value = json!({"a b": {"": {"q\"": [u64::MAX]}}});
    assert_eq!(
        to_canonical_vec(&value),
        Err(JcsError::IntegerOutOfRange {
            path: r#"$["a b"][""]["q\""][0]"#.into(),
            value: u64::MAX.to_string(),
        })
    );
    // The first one in canonical order is reported.
    let value = json!({"b": u64::MAX, "a": {"c": 1u64 << 60}});
    assert_eq!(
        to_canonical_vec(&value),
        Err(JcsError::IntegerOutOfRange {
            path: "$.a.c".into(),
            value: (1u64 << 60).to_string(),
        })
    );
    let message = to_canonical_vec(&value).unwrap_err().to_string();
    assert!(
        message.contains("$.a.c") && message.contains("1152921504606846976"),
        "{message}"
    );
}

#[test]
fn integer_literals_beyond_the_limit_are_errors_in_text() {
    assert_eq!(
        canonicalize_str(r#"{"id": [1, 9007199254740993]}"#),
        Err(JcsError::IntegerOutOfRange {
            path: "$.id[1]".into(),
            value: "9007199254740993".into(),
        })
    );
    // Too long even for u64 / i64: serde_json hands these over as floats.
    assert_eq!(
        canonicalize_str(r#"{"a": {"b": 18446744073709551616}}"#),
        Err(JcsError::IntegerOutOfRange {
            path: "$.a.b".into(),
            value: "18446744073709551616".into(),
        })
    );
    assert_eq!(
        canonicalize_str("[-99999999999999999999999]"),
        Err(JcsError::IntegerOutOfRange {
            path: "$[0]".into(),
            value: "-99999999999999999999999".into(),
        })
    );
    // 2^60 is a double, but ECMAScript writes it 1152921504606847000: a different integer.
    assert_eq!(
        canonicalize_str("1152921504606846976"),
        Err(JcsError::IntegerOutOfRange {
            path: "$".into(),
            value: "1152921504606846976".into(),
        })
    );
    // Large integer literals that are a double's canonical spelling (so canonical output stays
    // a fixed point), or denote the same number as it, are accepted.
    assert_eq!(canon_str("1152921504606847000"), "1152921504606847000");
    assert_eq!(
        canon_str("[-100000000000000000000]"),
        "[-100000000000000000000]"
    );
    assert_eq!(canon_str("1000000000000000000000"), "1e+21");
    assert_eq!(canon_str("100000000000000000000000000000"), "1e+29");
    // Written with a fraction or an exponent it is a double, rounded per RFC 8785.
    assert_eq!(canon_str("9007199254740993.0"), "9007199254740992");
    assert_eq!(canon_str("1e30"), "1e+30");
}

#[test]
fn text_that_rounds_to_infinity_is_rejected() {
    // Above the largest double by more than half a unit in the last place. serde_json's own
    // (approximate) reading already overflows for these, so its message is what comes back;
    // the strict parser's NotFinite would catch any that slipped past it.
    for text in ["1.7976931348623159e308", "[-1.8e308]"] {
        assert!(
            matches!(
                canonicalize_str(text),
                Err(JcsError::InvalidJson(_) | JcsError::NotFinite { .. })
            ),
            "{text}"
        );
    }
    // serde_json's approximate reading of this one is finite (the largest double); the exact
    // reading rounds to infinity and is refused with its path. (Were serde_json's
    // `float_roundtrip` feature on, serde_json would refuse it first.)
    match canonicalize_str(r#"{"x": [1.79769313486231581e308]}"#) {
        Err(JcsError::NotFinite { path }) => assert_eq!(path, "$.x[0]"),
        Err(JcsError::InvalidJson(message)) => assert!(message.contains("out of range")),
        other => panic!("{other:?}"),
    }
    // As an integer literal: refused either by serde_json or as an integer out of range.
    let huge = format!("17976931348623159{}", "0".repeat(292));
    assert!(matches!(
        canonicalize_str(&format!(r#"{{"x": {huge}}}"#)),
        Err(JcsError::InvalidJson(_) | JcsError::IntegerOutOfRange { .. })
    ));
}

// --- The strict parser -------------------------------------------------------------------------

#[test]
fn duplicate_keys_are_rejected() {
    // serde_json alone keeps the last value.
    assert_eq!(
        serde_json::from_str::<Value>(r#"{"a":1,"a":2}"#).unwrap(),
        json!({"a": 2})
    );
    assert_eq!(
        canonicalize_str(r#"{"a":1,"a":2}"#),
        Err(JcsError::DuplicateKey {
            path: "$".into(),
            key: "a".into(),
        })
    );
    // Keys are compared after unescaping.
    assert_eq!(
        canonicalize_str("{\"\\u00e9\":1, \"\u{e9}\":2}"),
        Err(JcsError::DuplicateKey {
            path: "$".into(),
            key: "\u{e9}".into(),
        })
    );
    assert_eq!(
        canonicalize_str(r#"{"list": [{"k": 1}, {"x": 0, "k": 1, "k": 1}]}"#),
        Err(JcsError::DuplicateKey {
            path: "$.list[1]".into(),
            key: "k".into(),
        })
    );
    assert_eq!(
        canonicalize_str(r#"{"x y": {"inner": {"": 1, "": 2}}}"#),
        Err(JcsError::DuplicateKey {
            path: r#"$["x y"].inner"#.into(),
            key: "".into(),
        })
    );
    let message = canonicalize_str(r#"{"dup":1,"dup":2}"#)
        .unwrap_err()
        .to_string();
    assert!(message.contains(r#""dup""#), "{message}");
    // The same key in different objects is fine.
    assert_eq!(canon_str(r#"[{"a":1},{"a":2}]"#), r#"[{"a":1},{"a":2}]"#);
}

#[test]
fn invalid_json_carries_serde_json_message() {
    for text in [
        "",
        "{",
        "[1,]",
        r#"{"a":1,}"#,
        "{'a':1}",
        "01",
        "1.",
        ".5",
        "+1",
        "tru",
        r#""unterminated"#,
        "\"tab\tinside\"",
        "[1] [2]",
        "{} x",
        "nul",
        r#"{"a" 1}"#,
    ] {
        let expected = serde_json::from_str::<Value>(text).unwrap_err().to_string();
        assert_eq!(
            canonicalize_str(text),
            Err(JcsError::InvalidJson(expected)),
            "{text:?}"
        );
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(
        matches!(canonicalize_str(&deep), Err(JcsError::InvalidJson(m)) if m.contains("recursion"))
    );
}

#[test]
fn numbers_are_matched_to_their_text_despite_strings_with_digits() {
    // The exact re-reading of floats must not be fooled by digits, quotes and escapes in strings.
    let text = r#"{"a\"1": "2\\", "b-3": ["4e5\"", 333333333.33333329, "\\\"7", -0.1e-2, 8],
                  "9": 1.00000000000000000000001, "c": [true, false, null, 1E-7]}"#;
    assert_eq!(
        canon_str(text),
        r#"{"9":1,"a\"1":"2\\","b-3":["4e5\"",333333333.3333333,"\\\"7",-0.001,8],"c":[true,false,null,1e-7]}"#
    );
}

// --- Properties --------------------------------------------------------------------------------

/// Keys drawn to mix ASCII with the ranges where UTF-8 and UTF-16 orders disagree.
fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'd'),
            1 => prop::char::range('\u{0}', '\u{1f}'),
            1 => prop::char::range('\u{7f}', '\u{7ff}'),
            1 => prop::char::range('\u{e000}', '\u{ffff}'),
            1 => prop::char::range('\u{10000}', '\u{10ffff}'),
            1 => any::<char>(),
        ],
        0..4,
    )
    .prop_map(String::from_iter)
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |f| f.is_finite()),
        -1e6..1e6f64,
        (-1e22..1e22f64).prop_map(f64::trunc),
        Just(-0.0),
        Just(5e-324),
        Just(f64::MAX),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let limit = 1i64 << 53;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-limit..=limit).prop_map(Value::from),
        (0..=limit as u64).prop_map(Value::from),
        finite_f64().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        key().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Units in the last place between two doubles of the same sign.
fn ulps(a: f64, b: f64) -> u64 {
    if a == b {
        return 0;
    }
    if a.is_sign_negative() != b.is_sign_negative() {
        return u64::MAX;
    }
    a.to_bits().abs_diff(b.to_bits())
}

/// Equality with numbers compared as f64. serde_json without its `float_roundtrip` feature
/// (the workspace default) reads decimal text up to two units in the last place off, so reading
/// canonical output back with it allows that much; exactness of the numbers themselves is
/// checked by `numbers_print_shortest_and_read_back_exactly` and by the parser-agreement property.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => ulps(x.as_f64().unwrap(), y.as_f64().unwrap()) <= 2,
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same_value(x, y)))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_output_is_idempotent_and_reads_back(value in json_value()) {
        let canonical = to_canonical_vec(&value).unwrap();
        let text = std::str::from_utf8(&canonical).unwrap();
        // Idempotent through the strict parser.
        prop_assert_eq!(canonicalize_str(text).unwrap(), canonical.clone());
        // Valid JSON that reads back to the same value.
        let back: Value = serde_json::from_slice(&canonical).unwrap();
        prop_assert!(same_value(&back, &value), "{} vs {:?}", text, value);
        // The encoder and the strict parser agree on every double: serde_json writes floats in
        // Rust's exact shortest form, so canonicalizing its output (compact, or pretty with
        // whitespace to drop) must give the same bytes as encoding the value directly.
        let compact = serde_json::to_string(&value).unwrap();
        prop_assert_eq!(canonicalize_str(&compact).unwrap(), canonical.clone());
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        prop_assert_eq!(canonicalize_str(&pretty).unwrap(), canonical);
    }

    #[test]
    fn numbers_print_shortest_and_read_back_exactly(bits in any::<u64>()) {
        let number = f64::from_bits(bits);
        prop_assume!(number.is_finite());
        let text = canon(&Value::from(number));
        let read: f64 = text.parse().unwrap();
        prop_assert!(read == number && (read != 0.0 || text == "0"), "{} -> {}", number, text);
        prop_assert_eq!(canon_str(&text), text.clone());
        // Same spelling as ECMAScript: integers below 1e21 in plain digits, no "+" but in the
        // exponent, no trailing ".0", lowercase "e".
        prop_assert!(!text.ends_with(".0") && !text.contains('E') && !text.starts_with('+'));
        if number.fract() == 0.0 && number.abs() < 1e21 {
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'-'), "{}", text);
        }
    }

    #[test]
    fn strings_escape_exactly_like_serde_json_compact(text in any::<String>(), control in key()) {
        // serde_json's compact string escaping happens to be JCS's: \" \\ \b \t \n \f \r and
        // lowercase \u00xx for the other controls, everything else raw.
        for sample in [&text, &control] {
            let value = Value::String(sample.clone());
            prop_assert_eq!(canon(&value), serde_json::to_string(&value).unwrap());
        }
    }

    #[test]
    fn member_order_is_utf16_code_unit_order(keys in prop::collection::btree_set(key(), 0..12)) {
        let value = Value::Object(
            keys.iter().enumerate().map(|(i, k)| (k.clone(), Value::from(i))).collect(),
        );
        let mut reference: Vec<(Vec<u16>, usize)> =
            keys.iter().enumerate().map(|(i, k)| (k.encode_utf16().collect(), i)).collect();
        reference.sort();
        let members: Vec<String> = reference
            .iter()
            .map(|(units, i)| {
                let key = String::from_utf16(units).unwrap();
                format!("{}:{}", serde_json::to_string(&key).unwrap(), i)
            })
            .collect();
        prop_assert_eq!(canon(&value), format!("{{{}}}", members.join(",")));
    }
}
