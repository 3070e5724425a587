//! The record types' schemas, through the public API: every type compiles, a realistic payload of
//! every type passes (`tests/examples/<type>.json`, reusable by other tests), and each kind of bad
//! input fails with the exact field and a plain message.

use std::path::PathBuf;
use std::time::Instant;

use modeltrail_domain::schemas::{RecordTypes, SchemaError};
use serde_json::{json, Value};

const TYPES: [&str; 18] = [
    "audit_trail_review",
    "capa",
    "change_request",
    "code_version",
    "dataset_version",
    "deployment",
    "exception",
    "explanation",
    "fairness_assessment",
    "feedback",
    "model",
    "model_version",
    "monitoring_batch",
    "monitoring_plan",
    "training_record",
    "training_run",
    "validation_protocol",
    "validation_result",
];

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/examples")
}

/// The valid example payload of record type `kind`, from `tests/examples/<kind>.json`.
fn example(kind: &str) -> Value {
    let path = examples_dir().join(format!("{kind}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn types() -> RecordTypes {
    RecordTypes::builtin().expect("every built-in schema compiles")
}

/// Validates `payload` as `kind` and returns the (field, message) it fails with.
fn invalid(types: &RecordTypes, kind: &str, payload: &Value) -> (String, String) {
    match types.validate(kind, payload) {
        Err(SchemaError::Invalid { field, message }) => (field, message),
        other => panic!("expected {kind} payload to be invalid, got {other:?}\n{payload:#}"),
    }
}

/// Asserts the failing field, and that the message contains `words`.
fn assert_invalid(types: &RecordTypes, kind: &str, payload: &Value, field: &str, words: &str) {
    let (got_field, message) = invalid(types, kind, payload);
    assert_eq!(got_field, field, "field of `{message}`");
    assert!(
        message.contains(words),
        "message `{message}` should contain `{words}`"
    );
}

/// Every object sub-schema (anything with `properties` or `"type": "object"`), by schema path.
fn object_schemas<'a>(schema: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") || map.get("type") == Some(&json!("object")) {
                out.push((path.clone(), schema));
            }
            for (key, value) in map {
                object_schemas(value, format!("{path}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                object_schemas(item, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_type_compiles_and_names_are_sorted() {
    let types = types();
    let names: Vec<&str> = types.names().collect();
    assert_eq!(names, TYPES);
    for kind in TYPES {
        assert!(types.schema(kind).is_some(), "{kind}");
    }
    assert_eq!(types.schema("no_such_type"), None);
}

#[test]
fn every_schema_has_title_description_and_draft_2020_12() {
    let types = types();
    for kind in TYPES {
        let schema = types.schema(kind).expect("known type");
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{kind}"
        );
        for key in ["title", "description"] {
            let text = schema[key].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "{kind} has no {key}");
        }
        assert_eq!(schema["type"], "object", "{kind}");
    }
}

#[test]
fn every_object_schema_rejects_unknown_fields_and_requires_only_known_ones() {
    let types = types();
    for kind in TYPES {
        let mut objects = Vec::new();
        object_schemas(
            types.schema(kind).expect("known type"),
            String::new(),
            &mut objects,
        );
        assert!(!objects.is_empty(), "{kind}");
        for (path, object) in objects {
            assert_eq!(
                object["additionalProperties"],
                json!(false),
                "{kind}: object at `{path}` must set additionalProperties false"
            );
            let properties = object["properties"].as_object().expect("properties");
            for name in object["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("required names are strings");
                assert!(
                    properties.contains_key(name),
                    "{kind}: `{path}` requires `{name}` but does not define it"
                );
            }
        }
    }
}

#[test]
fn the_examples_directory_has_exactly_one_payload_per_type() {
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    let expected: Vec<String> = TYPES.iter().map(|t| format!("{t}.json")).collect();
    assert_eq!(found, expected);
}

#[test]
fn a_valid_payload_of_every_type_passes() {
    let types = types();
    for kind in TYPES {
        let payload = example(kind);
        assert_eq!(
            types.validate(kind, &payload),
            Ok(()),
            "{kind}: {payload:#}"
        );
    }
}

#[test]
fn minimal_payloads_with_only_required_fields_pass() {
    let types = types();
    for kind in TYPES {
        let schema = types.schema(kind).expect("known type");
        let mut payload = example(kind);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        payload
            .as_object_mut()
            .expect("object")
            .retain(|k, _| required.contains(&k.as_str()));
        assert_eq!(
            types.validate(kind, &payload),
            Ok(()),
            "{kind}: {payload:#}"
        );
    }
}

#[test]
fn removing_any_required_field_of_any_type_names_that_field() {
    let types = types();
    for kind in TYPES {
        let schema = types.schema(kind).expect("known type");
        for name in schema["required"].as_array().expect("required") {
            let name = name.as_str().expect("string");
            let mut payload = example(kind);
            payload.as_object_mut().expect("object").remove(name);
            let (field, message) = invalid(&types, kind, &payload);
            assert_eq!(field, format!("/{name}"), "{kind}");
            assert_eq!(
                message,
                format!("missing required field `{name}`"),
                "{kind}"
            );
        }
    }
}

#[test]
fn an_unknown_top_level_field_of_any_type_is_named() {
    let types = types();
    for kind in TYPES {
        let mut payload = example(kind);
        payload["colour"] = json!("blue");
        let (field, message) = invalid(&types, kind, &payload);
        assert_eq!(field, "/colour", "{kind}");
        assert_eq!(message, "unknown field `colour`", "{kind}");
    }
}

#[test]
fn emptying_any_non_empty_top_level_string_of_any_type_names_that_field() {
    let types = types();
    let mut checked = 0;
    for kind in TYPES {
        let schema = types.schema(kind).expect("known type");
        let payload = example(kind);
        for (name, property) in schema["properties"].as_object().expect("properties") {
            if property["minLength"] != json!(1) || !payload[name].is_string() {
                continue;
            }
            let mut emptied = payload.clone();
            emptied[name] = json!("");
            let (field, message) = invalid(&types, kind, &emptied);
            assert_eq!(field, format!("/{name}"), "{kind}");
            assert_eq!(message, "must not be empty", "{kind}");
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} fields checked");
}

#[test]
fn missing_required_field() {
    let types = types();
    let mut payload = example("model");
    payload
        .as_object_mut()
        .expect("object")
        .remove("intended_use");
    let (field, message) = invalid(&types, "model", &payload);
    assert_eq!(field, "/intended_use");
    assert_eq!(message, "missing required field `intended_use`");
    let error = types.validate("model", &payload).expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "invalid record at `/intended_use`: missing required field `intended_use`"
    );
}

#[test]
fn missing_nested_required_field() {
    let types = types();
    let mut payload = example("model");
    payload["risk"]
        .as_object_mut()
        .expect("object")
        .remove("model_influence");
    assert_invalid(
        &types,
        "model",
        &payload,
        "/risk/model_influence",
        "missing required field `model_influence`",
    );
}

#[test]
fn missing_required_field_inside_an_array_item() {
    let types = types();
    let mut payload = example("validation_result");
    payload["metrics"][0]
        .as_object_mut()
        .expect("object")
        .remove("value");
    assert_invalid(
        &types,
        "validation_result",
        &payload,
        "/metrics/0/value",
        "missing required field `value`",
    );
}

#[test]
fn unknown_nested_fields() {
    let types = types();
    let mut payload = example("model");
    payload["risk"]["colour"] = json!("red");
    assert_invalid(
        &types,
        "model",
        &payload,
        "/risk/colour",
        "unknown field `colour`",
    );

    let mut payload = example("dataset_version");
    payload["splits"][1]["weight"] = json!(2);
    assert_invalid(
        &types,
        "dataset_version",
        &payload,
        "/splits/1/weight",
        "unknown field `weight`",
    );
}

#[test]
fn unknown_field_names_are_escaped_as_json_pointer_tokens() {
    let types = types();
    let mut payload = example("model");
    payload["risk"]["a/b~c"] = json!(1);
    assert_invalid(
        &types,
        "model",
        &payload,
        "/risk/a~1b~0c",
        "unknown field `a/b~c`",
    );
}

#[test]
fn wrong_types() {
    let types = types();
    let mut payload = example("model");
    payload["name"] = json!(42);
    let (field, message) = invalid(&types, "model", &payload);
    assert_eq!(field, "/name");
    assert_eq!(message, "expected a string, found a number");

    let mut payload = example("model");
    payload["gamp_category"] = json!("5");
    let (field, message) = invalid(&types, "model", &payload);
    assert_eq!(field, "/gamp_category");
    assert_eq!(message, "expected an integer, found a string");

    let mut payload = example("model");
    payload["risk"] = json!(["medium", "high"]);
    assert_invalid(
        &types,
        "model",
        &payload,
        "/risk",
        "expected an object, found an array",
    );

    let mut payload = example("training_run");
    payload["metrics"][1]["value"] = json!("0.93");
    assert_invalid(
        &types,
        "training_run",
        &payload,
        "/metrics/1/value",
        "expected a number, found a string",
    );
}

#[test]
fn a_payload_that_is_not_an_object_fails_as_a_whole() {
    let types = types();
    let (field, message) = invalid(&types, "model", &json!(["not", "an", "object"]));
    assert_eq!(field, "");
    assert_eq!(message, "expected an object, found an array");
    let error = types.validate("model", &Value::Null).expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "invalid record: expected an object, found null"
    );
}

#[test]
fn bad_enum_values() {
    let types = types();
    let mut payload = example("model");
    payload["risk"]["model_influence"] = json!("extreme");
    let (field, message) = invalid(&types, "model", &payload);
    assert_eq!(field, "/risk/model_influence");
    assert_eq!(
        message,
        r#"expected one of "low", "medium", "high"; found "extreme""#
    );

    let mut payload = example("model");
    payload["gamp_category"] = json!(2);
    assert_invalid(
        &types,
        "model",
        &payload,
        "/gamp_category",
        "expected one of 1, 3, 4, 5",
    );

    let mut payload = example("validation_protocol");
    payload["acceptance_criteria"][0]["op"] = json!("=>");
    assert_invalid(
        &types,
        "validation_protocol",
        &payload,
        "/acceptance_criteria/0/op",
        r#"expected one of ">=", ">", "<=", "<", "==""#,
    );
}

#[test]
fn empty_strings() {
    let types = types();
    let mut payload = example("model");
    payload["owner"] = json!("");
    assert_invalid(&types, "model", &payload, "/owner", "must not be empty");

    let mut payload = example("capa");
    payload["actions"][0]["owner"] = json!("");
    assert_invalid(
        &types,
        "capa",
        &payload,
        "/actions/0/owner",
        "must not be empty",
    );
}

#[test]
fn digests_commits_and_dates_are_checked() {
    let types = types();
    let mut payload = example("code_version");
    payload["commit"] = json!("9fceb02");
    assert_invalid(
        &types,
        "code_version",
        &payload,
        "/commit",
        r#"expected a full commit id: 40 or 64 lower-case hex digits; found "9fceb02""#,
    );
    payload["commit"] = json!("b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c");
    assert_eq!(types.validate("code_version", &payload), Ok(()));

    let mut payload = example("dataset_version");
    payload["content_digest"] =
        json!("B5BB9D8014A0F9B1D61E21E796D78DCCDF1352F23CD32812F4850B878AE4944C");
    assert_invalid(
        &types,
        "dataset_version",
        &payload,
        "/content_digest",
        "expected a SHA-256 digest: 64 lower-case hex digits",
    );

    let mut payload = example("monitoring_batch");
    payload["window"]["start"] = json!("1 July 2024");
    assert_invalid(
        &types,
        "monitoring_batch",
        &payload,
        "/window/start",
        "expected an RFC 3339 date-time",
    );

    let mut payload = example("capa");
    payload["actions"][1]["due_date"] = json!("2024-02-30");
    assert_invalid(
        &types,
        "capa",
        &payload,
        "/actions/1/due_date",
        "expected an RFC 3339 date",
    );
}

#[test]
fn numbers_and_arrays_limits_are_checked() {
    let types = types();
    let mut payload = example("validation_result");
    payload["metrics"] = json!([]);
    assert_invalid(
        &types,
        "validation_result",
        &payload,
        "/metrics",
        "must have at least 1 item, found 0",
    );

    let mut payload = example("dataset_version");
    payload["splits"][0]["rows"] = json!(-1);
    assert_invalid(
        &types,
        "dataset_version",
        &payload,
        "/splits/0/rows",
        "must be at least 0, found -1",
    );

    let mut payload = example("fairness_assessment");
    payload["sensitive_attributes"] = json!(["site", "site"]);
    assert_invalid(
        &types,
        "fairness_assessment",
        &payload,
        "/sensitive_attributes",
        "must not contain duplicate items",
    );
}

#[test]
fn several_errors_report_the_first_field_in_document_order_every_time() {
    let types = types();
    let mut payload = example("model");
    let object = payload.as_object_mut().expect("object");
    object.remove("name");
    object.remove("owner");
    object.insert("zeta".to_owned(), json!(1));
    object.insert("colour".to_owned(), json!(1));
    payload["risk"]["model_risk"] = json!("huge");
    for _ in 0..20 {
        assert_eq!(
            invalid(&types, "model", &payload),
            ("/colour".to_owned(), "unknown field `colour`".to_owned())
        );
    }
    payload.as_object_mut().expect("object").remove("colour");
    assert_eq!(invalid(&types, "model", &payload).0, "/name");

    // Array elements are ordered by index, not as text: 2 before 10.
    let mut payload = example("training_run");
    let metrics: Vec<Value> = (0..12)
        .map(|step| json!({ "key": "loss", "value": 0.1, "step": step }))
        .collect();
    payload["metrics"] = Value::Array(metrics);
    payload["metrics"][10]["value"] = json!("x");
    payload["metrics"][2]["value"] = json!("y");
    assert_eq!(
        invalid(&types, "training_run", &payload).0,
        "/metrics/2/value"
    );
}

#[test]
fn unknown_type_lists_the_known_ones() {
    let types = types();
    let error = types
        .validate("modle", &example("model"))
        .expect_err("unknown type");
    assert_eq!(
        error,
        SchemaError::UnknownType {
            kind: "modle".to_owned(),
            known: TYPES.iter().map(|t| (*t).to_owned()).collect(),
        }
    );
    let text = error.to_string();
    assert!(text.starts_with("unknown record type `modle`; known types: audit_trail_review, capa,"));
    assert!(
        text.ends_with("validation_protocol, validation_result"),
        "{text}"
    );
}

#[test]
fn the_audit_trail_review_scope_lists_every_record_type() {
    let types = types();
    let schema = types.schema("audit_trail_review").expect("known type");
    let listed: Vec<&str> = schema["properties"]["scope"]["properties"]["record_types"]["items"]
        ["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(listed, types.names().collect::<Vec<_>>());
}

#[test]
fn record_types_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RecordTypes>();
}

/// Prints how long validating the example model payload takes; never asserts on time.
/// `cargo test --release -p modeltrail-domain --test schemas -- --nocapture validate_timing`
#[test]
fn validate_timing() {
    let types = types();
    let payload = example("model");
    let bytes = serde_json::to_vec(&payload).expect("serialise").len();
    let rounds = 20_000;
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(types
            .validate("model", std::hint::black_box(&payload))
            .is_ok());
    }
    let valid = start.elapsed() / rounds;
    let mut bad = payload.clone();
    bad["risk"]["model_influence"] = json!("extreme");
    let start = Instant::now();
    for _ in 0..rounds / 10 {
        assert!(types.validate("model", std::hint::black_box(&bad)).is_err());
    }
    let invalid = start.elapsed() / (rounds / 10);
    println!("validate(model, {bytes} bytes): valid {valid:?}, invalid {invalid:?} per call");
}
