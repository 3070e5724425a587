//! Field-level differences between two versions of a record.
//!
//! This module owns the audit trail's "old value, new value" (ALCOA+, 21 CFR 11.10(e): changes
//! never obscure earlier values): [`diff`] lists, field by field, what an update changed, so a
//! reviewer sees exactly which fields moved from what to what.
//!
//! Fields are named by JSON Pointer (RFC 6901). Objects are compared key by key and arrays
//! element by element; anything else (a scalar, or a value whose JSON type changed) is one change
//! holding both whole values. Numbers are compared by value, as canonical JSON (RFC 8785) writes
//! them: `1` and `1.0` are the same number and give no change.

use std::fmt::Write;

use serde_json::{Map, Number, Value};

/// One changed field: where, and its value before and after.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FieldChange {
    /// JSON Pointer (RFC 6901) to the field: `""` for the whole value, `/risk/model_risk`, `/splits/0`;
    /// `~` is written `~0` and `/` is written `~1` inside a key.
    pub field: String,
    /// The value before; `None` when the field was added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after; `None` when the field was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// Lists the fields that differ between `old` and `new`.
///
/// - Objects recurse key by key: a key only in `new` is added (`old: None`), a key only in `old`
///   is removed (`new: None`).
/// - Arrays recurse index by index; elements past the shorter array's end are added or removed.
/// - Scalars that differ, and values whose JSON type differs, give one change at their pointer.
/// - Equal values give no change, so `diff(v, v)` is empty.
///
/// The result is in document order of the pointers: object keys in sorted (byte) order, array
/// elements by index, so the same inputs always give the same list. No pointer in it is a prefix
/// of another.
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut pointer = String::new();
    walk(old, new, &mut pointer, &mut changes);
    changes
}

/// Compares `old` and `new`, found at `pointer`, appending their differences to `out`.
fn walk(old: &Value, new: &Value, pointer: &mut String, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Value::Object(before), Value::Object(after)) => walk_objects(before, after, pointer, out),
        (Value::Array(before), Value::Array(after)) => walk_arrays(before, after, pointer, out),
        _ => {
            if !same_scalar(old, new) {
                out.push(FieldChange {
                    field: pointer.clone(),
                    old: Some(old.clone()),
                    new: Some(new.clone()),
                });
            }
        }
    }
}

/// Compares two objects key by key, in sorted key order.
fn walk_objects(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    pointer: &mut String,
    out: &mut Vec<FieldChange>,
) {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let parent_len = pointer.len();
        push_token(pointer, key);
        compare_at(before.get(key), after.get(key), pointer, out);
        pointer.truncate(parent_len);
    }
}

/// Compares what stands at `pointer` on each side: both present recurse; one side only is an
/// added or removed field.
fn compare_at(
    old: Option<&Value>,
    new: Option<&Value>,
    pointer: &mut String,
    out: &mut Vec<FieldChange>,
) {
    match (old, new) {
        (Some(old), Some(new)) => walk(old, new, pointer, out),
        (None, None) => {}
        (old, new) => out.push(FieldChange {
            field: pointer.clone(),
            old: old.cloned(),
            new: new.cloned(),
        }),
    }
}

/// Compares two arrays index by index; the longer one's tail is added or removed.
fn walk_arrays(
    before: &[Value],
    after: &[Value],
    pointer: &mut String,
    out: &mut Vec<FieldChange>,
) {
    for index in 0..before.len().max(after.len()) {
        let parent_len = pointer.len();
        // Writing to a String cannot fail.
        let _ = write!(pointer, "/{index}");
        compare_at(before.get(index), after.get(index), pointer, out);
        pointer.truncate(parent_len);
    }
}

/// Whether two values that are not both objects nor both arrays are the same.
fn same_scalar(old: &Value, new: &Value) -> bool {
    match (old, new) {
        (Value::Number(a), Value::Number(b)) => same_number(a, b),
        _ => old == new,
    }
}

/// Whether two numbers have the same value: integers exactly, anything involving a float as
/// IEEE-754 doubles (which is what canonical JSON writes).
fn same_number(a: &Number, b: &Number) -> bool {
    if a.is_f64() || b.is_f64() {
        a.as_f64() == b.as_f64()
    } else {
        a.as_i64() == b.as_i64() && a.as_u64() == b.as_u64()
    }
}

/// Appends one RFC 6901 reference token (`~` as `~0`, `/` as `~1`) to `pointer`.
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}
