//! The record types and their JSON Schemas.
//!
//! This module owns the list of record types modeltrail knows (`model`, `dataset_version`, ...,
//! `audit_trail_review`: DESIGN.md §2), the JSON Schema (draft 2020-12) each record's payload must
//! satisfy, and the check itself. The schemas live in `crates/domain/schemas/<type>.json` and are
//! compiled into the binary, so validation needs no files at run time.
//!
//! Conventions every schema keeps:
//! - every object rejects unknown fields (`"additionalProperties": false`);
//! - text that must say something has `minLength: 1`;
//! - `required` lists what makes the record meaningful; figures the server computes later (data
//!   profiles, per-group fairness metrics, pass/fail verdicts) are optional;
//! - lifecycle and workflow status are never part of a payload: they are projections of the log;
//! - references to other records are their ids (strings); digests are lower-case hex SHA-256.
//!
//! [`RecordTypes::builtin`] compiles every schema once; [`RecordTypes::validate`] is then cheap
//! enough to run on every request. A payload that fails gets one error, chosen deterministically,
//! that names the failing field by JSON Pointer and says what is wrong in plain words.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, JsonType, ValidationError, Validator};
use serde_json::Value;

use crate::diff::push_token;

/// The embedded schemas, one per record type: `(type name, schema text)`.
const BUILTIN: [(&str, &str); 18] = [
    (
        "audit_trail_review",
        include_str!("../schemas/audit_trail_review.json"),
    ),
    ("capa", include_str!("../schemas/capa.json")),
    (
        "change_request",
        include_str!("../schemas/change_request.json"),
    ),
    ("code_version", include_str!("../schemas/code_version.json")),
    (
        "dataset_version",
        include_str!("../schemas/dataset_version.json"),
    ),
    ("deployment", include_str!("../schemas/deployment.json")),
    ("exception", include_str!("../schemas/exception.json")),
    ("explanation", include_str!("../schemas/explanation.json")),
    (
        "fairness_assessment",
        include_str!("../schemas/fairness_assessment.json"),
    ),
    ("feedback", include_str!("../schemas/feedback.json")),
    ("model", include_str!("../schemas/model.json")),
    (
        "model_version",
        include_str!("../schemas/model_version.json"),
    ),
    (
        "monitoring_batch",
        include_str!("../schemas/monitoring_batch.json"),
    ),
    (
        "monitoring_plan",
        include_str!("../schemas/monitoring_plan.json"),
    ),
    (
        "training_record",
        include_str!("../schemas/training_record.json"),
    ),
    ("training_run", include_str!("../schemas/training_run.json")),
    (
        "validation_protocol",
        include_str!("../schemas/validation_protocol.json"),
    ),
    (
        "validation_result",
        include_str!("../schemas/validation_result.json"),
    ),
];

/// Why a payload, a record type or a schema was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SchemaError {
    /// The record type is not one modeltrail knows.
    #[error("unknown record type `{kind}`; known types: {}", known.join(", "))]
    UnknownType {
        /// The type asked for.
        kind: String,
        /// Every known type, sorted.
        known: Vec<String>,
    },
    /// The payload does not satisfy its type's schema.
    #[error("invalid record{}: {message}", at_field(field))]
    Invalid {
        /// JSON Pointer (RFC 6901) to the failing field, e.g. `/risk/model_influence`; for a
        /// missing or unknown field, the pointer the field has (or would have); `""` when the
        /// payload as a whole is wrong.
        field: String,
        /// What is wrong, in plain words, e.g. "missing required field `intended_use`".
        message: String,
    },
    /// A built-in schema is not valid JSON or not a valid JSON Schema.
    #[error("the schema of record type `{kind}` does not compile: {message}")]
    Compile {
        /// The record type whose schema failed.
        kind: String,
        /// What the parser or the schema compiler reported.
        message: String,
    },
}

/// Renders the location part of [`SchemaError::Invalid`]'s message.
fn at_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(" at `{field}`")
    }
}

/// One record type: its schema as JSON and the validator compiled from it.
#[derive(Clone)]
struct RecordType {
    /// The schema as parsed from its embedded file.
    schema: Value,
    /// The schema compiled once, reused for every payload.
    validator: Validator,
}

/// The known record types, each with its compiled schema, by name.
///
/// Build it once (it compiles every schema) and share it: it is `Send + Sync` and validation takes
/// `&self`.
#[derive(Clone)]
pub struct RecordTypes {
    /// Each record type by name; the map keeps names sorted.
    types: BTreeMap<&'static str, RecordType>,
}

impl fmt::Debug for RecordTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordTypes")
            .field("names", &self.types.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RecordTypes {
    /// Compiles every built-in schema (JSON Schema draft 2020-12, `format` asserted, so dates and
    /// date-times must be RFC 3339).
    ///
    /// # Errors
    ///
    /// [`SchemaError::Compile`], naming the record type, if a schema is not valid JSON or not a
    /// valid schema.
    pub fn builtin() -> Result<RecordTypes, SchemaError> {
        let mut types = BTreeMap::new();
        for (kind, text) in BUILTIN {
            types.insert(kind, compile(kind, text)?);
        }
        Ok(RecordTypes { types })
    }

    /// The names of the known record types, in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().copied()
    }

    /// The JSON Schema of record type `kind`, or `None` if the type is unknown.
    pub fn schema(&self, kind: &str) -> Option<&Value> {
        self.types.get(kind).map(|t| &t.schema)
    }

    /// Checks `payload` against the schema of record type `kind`.
    ///
    /// # Errors
    ///
    /// - [`SchemaError::UnknownType`] if `kind` is not a known type; it lists the known ones.
    /// - [`SchemaError::Invalid`] if the payload breaks the schema. When it breaks it in several
    ///   places, the error reported is the first in document order of the failing fields (object
    ///   keys in byte order, array elements by index), so the same payload always gets the same
    ///   error.
    pub fn validate(&self, kind: &str, payload: &Value) -> Result<(), SchemaError> {
        let Some(record_type) = self.types.get(kind) else {
            return Err(SchemaError::UnknownType {
                kind: kind.to_owned(),
                known: self.names().map(str::to_owned).collect(),
            });
        };
        if record_type.validator.is_valid(payload) {
            return Ok(());
        }
        Err(first_error(&record_type.validator, payload))
    }
}

/// Parses and compiles one schema.
fn compile(kind: &str, text: &str) -> Result<RecordType, SchemaError> {
    let compile_error = |message: String| SchemaError::Compile {
        kind: kind.to_owned(),
        message,
    };
    let schema: Value =
        serde_json::from_str(text).map_err(|e| compile_error(format!("not valid JSON: {e}")))?;
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| compile_error(e.to_string()))?;
    Ok(RecordType { schema, validator })
}

/// One way the payload fails: where, how basic the failure is, and what to say.
struct Failure {
    /// JSON Pointer to the failing field.
    field: String,
    /// Tie-break between failures of one field: missing/unknown fields, then wrong types, then
    /// wrong values, then anything else.
    rank: u8,
    /// The plain-words message.
    message: String,
}

/// Collects every failure and returns the first by (field in document order, rank, message).
fn first_error(validator: &Validator, payload: &Value) -> SchemaError {
    let mut best: Option<Failure> = None;
    for error in validator.iter_errors(payload) {
        for failure in failures(&error) {
            let better = match &best {
                None => true,
                Some(current) => compare(&failure, current) == Ordering::Less,
            };
            if better {
                best = Some(failure);
            }
        }
    }
    match best {
        Some(Failure { field, message, .. }) => SchemaError::Invalid { field, message },
        // `is_valid` said no, so the iterator yields at least one error; stay total regardless.
        None => SchemaError::Invalid {
            field: String::new(),
            message: "the payload does not match the schema".to_owned(),
        },
    }
}

/// Orders failures: by field pointer, segment by segment (indices numerically), then by rank, then
/// by message.
fn compare(a: &Failure, b: &Failure) -> Ordering {
    compare_pointers(&a.field, &b.field)
        .then(a.rank.cmp(&b.rank))
        .then_with(|| a.message.cmp(&b.message))
}

/// Compares two JSON Pointers segment by segment; segments that are both decimal numbers compare
/// as numbers, so `/items/2` comes before `/items/10`. A pointer comes before its extensions.
fn compare_pointers(a: &str, b: &str) -> Ordering {
    let mut left = a.split('/').skip(1);
    let mut right = b.split('/').skip(1);
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j).then_with(|| x.cmp(y)),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Translates one jsonschema error into the failures it stands for (one per unknown field when
/// several are reported together).
fn failures(error: &ValidationError<'_>) -> Vec<Failure> {
    let path = error.instance_path().as_str();
    let instance: &Value = error.instance();
    let at = |rank: u8, message: String| Failure {
        field: path.to_owned(),
        rank,
        message,
    };
    let failure = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            let mut field = path.to_owned();
            push_token(&mut field, &name);
            Failure {
                field,
                rank: 0,
                message: format!("missing required field `{name}`"),
            }
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            return unexpected
                .iter()
                .map(|name| {
                    let mut field = path.to_owned();
                    push_token(&mut field, name);
                    Failure {
                        field,
                        rank: 0,
                        message: format!("unknown field `{name}`"),
                    }
                })
                .collect();
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => type_phrase(*t).to_owned(),
                TypeKind::Multiple(set) => {
                    set.iter().map(type_phrase).collect::<Vec<_>>().join(" or ")
                }
            };
            at(
                1,
                format!("expected {expected}, found {}", value_phrase(instance)),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let allowed = match options.as_array() {
                Some(items) => items
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => options.to_string(),
            };
            at(
                2,
                format!("expected one of {allowed}; found {}", excerpt(instance)),
            )
        }
        ValidationErrorKind::Constant { expected_value } => at(
            2,
            format!("expected {expected_value}; found {}", excerpt(instance)),
        ),
        ValidationErrorKind::MinLength { limit } if *limit == 1 => {
            at(3, "must not be empty".to_owned())
        }
        ValidationErrorKind::MinLength { limit } => at(
            3,
            format!(
                "must be at least {limit} characters long, found {}",
                char_count(instance)
            ),
        ),
        ValidationErrorKind::MaxLength { limit } => at(
            3,
            format!(
                "must be at most {limit} characters long, found {}",
                char_count(instance)
            ),
        ),
        ValidationErrorKind::Pattern { pattern } => at(
            3,
            format!(
                "expected {}; found {}",
                pattern_phrase(pattern),
                excerpt(instance)
            ),
        ),
        ValidationErrorKind::Format { format } => at(
            3,
            format!(
                "expected {}; found {}",
                format_phrase(format),
                excerpt(instance)
            ),
        ),
        ValidationErrorKind::Minimum { limit } => at(
            3,
            format!("must be at least {limit}, found {}", excerpt(instance)),
        ),
        ValidationErrorKind::ExclusiveMinimum { limit } => at(
            3,
            format!("must be greater than {limit}, found {}", excerpt(instance)),
        ),
        ValidationErrorKind::Maximum { limit } => at(
            3,
            format!("must be at most {limit}, found {}", excerpt(instance)),
        ),
        ValidationErrorKind::ExclusiveMaximum { limit } => at(
            3,
            format!("must be less than {limit}, found {}", excerpt(instance)),
        ),
        ValidationErrorKind::MinItems { limit } => at(
            3,
            format!(
                "must have at least {limit} item{}, found {}",
                plural(*limit),
                item_count(instance)
            ),
        ),
        ValidationErrorKind::MaxItems { limit } => at(
            3,
            format!(
                "must have at most {limit} item{}, found {}",
                plural(*limit),
                item_count(instance)
            ),
        ),
        ValidationErrorKind::UniqueItems => at(3, "must not contain duplicate items".to_owned()),
        _ => at(4, format!("{} ({})", error, error.kind().keyword())),
    };
    vec![failure]
}

/// "a string", "an integer", ... for a schema type.
fn type_phrase(t: JsonType) -> &'static str {
    match t {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

/// "a string", "a number", ... for a value found in the payload.
fn value_phrase(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a pattern used by the built-in schemas asks for, in words; other patterns verbatim.
fn pattern_phrase(pattern: &str) -> String {
    match pattern {
        "^[0-9a-f]{64}$" => "a SHA-256 digest: 64 lower-case hex digits".to_owned(),
        "^([0-9a-f]{40}|[0-9a-f]{64})$" => {
            "a full commit id: 40 or 64 lower-case hex digits".to_owned()
        }
        "^sha256:[0-9a-f]{64}$" => {
            "an image digest: sha256: and 64 lower-case hex digits".to_owned()
        }
        other => format!("a value matching the pattern `{other}`"),
    }
}

/// What a `format` asks for, in words.
fn format_phrase(format: &str) -> String {
    match format {
        "date-time" => "an RFC 3339 date-time such as 2024-05-01T12:00:00Z".to_owned(),
        "date" => "an RFC 3339 date such as 2024-05-01".to_owned(),
        "time" => "an RFC 3339 time such as 12:00:00Z".to_owned(),
        other => format!("a valid {other}"),
    }
}

/// The value as JSON text, shortened to at most 60 characters.
fn excerpt(value: &Value) -> String {
    const LIMIT: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= LIMIT {
        text
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

/// The length of a string value in characters (0 for anything else).
fn char_count(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

/// The length of an array value (0 for anything else).
fn item_count(value: &Value) -> usize {
    value.as_array().map_or(0, Vec::len)
}

/// "" for one, "s" for any other count.
fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_that_is_not_json_names_its_type() {
        let Err(SchemaError::Compile { kind, message }) = compile("broken", "{") else {
            panic!("expected a compile error");
        };
        assert_eq!(kind, "broken");
        assert!(message.starts_with("not valid JSON"), "{message}");
    }

    #[test]
    fn a_schema_that_breaks_the_meta_schema_names_its_type() {
        let Err(SchemaError::Compile { kind, message }) =
            compile("odd", r#"{"type": "object", "minProperties": -1}"#)
        else {
            panic!("expected a compile error");
        };
        assert_eq!(kind, "odd");
        assert!(!message.is_empty());
        let error = SchemaError::Compile { kind, message };
        assert!(error.to_string().contains("`odd`"), "{error}");
    }

    #[test]
    fn pointers_compare_segment_by_segment() {
        assert_eq!(compare_pointers("/a/2", "/a/10"), Ordering::Less);
        assert_eq!(compare_pointers("/a", "/a/b"), Ordering::Less);
        assert_eq!(compare_pointers("/a/x", "/a-b"), Ordering::Less);
        assert_eq!(compare_pointers("", "/a"), Ordering::Less);
        assert_eq!(compare_pointers("/b", "/a/z"), Ordering::Greater);
        assert_eq!(compare_pointers("/a~1b", "/a~1b"), Ordering::Equal);
    }
}
