//! Field-level diffs, through the public API: each kind of change, pointer escaping, ordering,
//! and a property test that applying `diff(a, b)` to `a` gives `b`.

use std::cmp::Ordering;

use modeltrail_domain::diff::{diff, FieldChange};
use proptest::prelude::*;
use serde_json::{json, Value};

fn changed(field: &str, old: Value, new: Value) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        old: Some(old),
        new: Some(new),
    }
}

fn added(field: &str, new: Value) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        old: None,
        new: Some(new),
    }
}

fn removed(field: &str, old: Value) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        old: Some(old),
        new: None,
    }
}

#[test]
fn equal_values_give_no_change() {
    let value = json!({"name": "m", "risk": {"model_risk": "high"}, "tags": [1, 2, {"a": null}]});
    assert_eq!(diff(&value, &value.clone()), vec![]);
    assert_eq!(diff(&json!(null), &json!(null)), vec![]);
    assert_eq!(diff(&json!({}), &json!({})), vec![]);
    assert_eq!(diff(&json!([]), &json!([])), vec![]);
}

#[test]
fn numbers_compare_by_value() {
    assert_eq!(diff(&json!(1), &json!(1.0)), vec![]);
    assert_eq!(diff(&json!({"x": -0.0}), &json!({"x": 0})), vec![]);
    assert_eq!(
        diff(&json!(1), &json!(1.5)),
        vec![changed("", json!(1), json!(1.5))]
    );
    assert_eq!(
        diff(&json!(u64::MAX), &json!(-1)),
        vec![changed("", json!(u64::MAX), json!(-1))]
    );
}

#[test]
fn added_removed_and_changed_keys() {
    let old = json!({"a": 1, "b": "two", "c": true});
    let new = json!({"b": "three", "c": true, "d": null});
    assert_eq!(
        diff(&old, &new),
        vec![
            removed("/a", json!(1)),
            changed("/b", json!("two"), json!("three")),
            added("/d", json!(null)),
        ]
    );
}

#[test]
fn nested_objects_recurse() {
    let old = json!({"risk": {"model_influence": "low", "decision_consequence": "high"}});
    let new = json!({"risk": {"model_influence": "medium", "decision_consequence": "high", "model_risk": "high"}});
    assert_eq!(
        diff(&old, &new),
        vec![
            changed("/risk/model_influence", json!("low"), json!("medium")),
            added("/risk/model_risk", json!("high")),
        ]
    );
}

#[test]
fn arrays_recurse_by_index_with_tails_added_or_removed() {
    let old = json!({"xs": [1, {"k": "v"}, 3, 4]});
    let new = json!({"xs": [1, {"k": "w"}]});
    assert_eq!(
        diff(&old, &new),
        vec![
            changed("/xs/1/k", json!("v"), json!("w")),
            removed("/xs/2", json!(3)),
            removed("/xs/3", json!(4)),
        ]
    );
    assert_eq!(
        diff(&new, &old),
        vec![
            changed("/xs/1/k", json!("w"), json!("v")),
            added("/xs/2", json!(3)),
            added("/xs/3", json!(4)),
        ]
    );
}

#[test]
fn array_indices_are_ordered_numerically() {
    let old = json!((0..12).collect::<Vec<i32>>());
    let mut new = old.clone();
    new[10] = json!("ten");
    new[2] = json!("two");
    let fields: Vec<String> = diff(&old, &new).into_iter().map(|c| c.field).collect();
    assert_eq!(fields, ["/2", "/10"]);
}

#[test]
fn a_type_change_is_one_change_with_both_whole_values() {
    let old = json!({"splits": {"train": 1}});
    let new = json!({"splits": [{"name": "train"}]});
    assert_eq!(
        diff(&old, &new),
        vec![changed(
            "/splits",
            json!({"train": 1}),
            json!([{"name": "train"}])
        )]
    );
    assert_eq!(
        diff(&json!("1"), &json!(1)),
        vec![changed("", json!("1"), json!(1))]
    );
    assert_eq!(
        diff(&json!({"a": 1}), &json!([1])),
        vec![changed("", json!({"a": 1}), json!([1]))]
    );
}

#[test]
fn pointer_tokens_are_escaped() {
    let old = json!({"a/b": 1, "m~n": {"": 1}, "~1": 0});
    let new = json!({"a/b": 2, "m~n": {"": 2}, "~1": 0});
    let fields: Vec<String> = diff(&old, &new).into_iter().map(|c| c.field).collect();
    assert_eq!(fields, ["/a~1b", "/m~0n/"]);
    let fields: Vec<String> = diff(&json!({}), &json!({"~1": 0}))
        .into_iter()
        .map(|c| c.field)
        .collect();
    assert_eq!(fields, ["/~01"]);
}

#[test]
fn serialises_without_absent_sides() {
    let changes = diff(&json!({"a": 1, "b": 2}), &json!({"b": 3, "c": 4}));
    assert_eq!(
        serde_json::to_value(&changes).expect("serialise"),
        json!([
            {"field": "/a", "old": 1},
            {"field": "/b", "old": 2, "new": 3},
            {"field": "/c", "new": 4},
        ])
    );
    // A value that is JSON null on one side is still written.
    assert_eq!(
        serde_json::to_value(diff(&json!({"a": null}), &json!({"a": 1}))).expect("serialise"),
        json!([{"field": "/a", "old": null, "new": 1}])
    );
}

// ---- the property test ----

/// RFC 6901 reference tokens of a pointer, unescaped.
fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Applies one change to `target` (test-only, trusts the change to come from `diff`).
fn apply_one(target: &mut Value, change: &FieldChange) {
    let path = tokens(&change.field);
    let Some((last, parents)) = path.split_last() else {
        *target = change.new.clone().expect("the root is never removed");
        return;
    };
    let mut node = target;
    for token in parents {
        node = match node {
            Value::Object(map) => map.get_mut(token).expect("parent key exists"),
            Value::Array(items) => {
                let index: usize = token.parse().expect("array index");
                items.get_mut(index).expect("parent index exists")
            }
            _ => panic!("pointer {} goes through a scalar", change.field),
        };
    }
    match node {
        Value::Object(map) => match &change.new {
            Some(value) => {
                map.insert(last.clone(), value.clone());
            }
            None => {
                map.remove(last);
            }
        },
        Value::Array(items) => {
            let index: usize = last.parse().expect("array index");
            match &change.new {
                Some(value) if index < items.len() => items[index] = value.clone(),
                Some(value) => {
                    assert_eq!(index, items.len(), "additions extend the array in order");
                    items.push(value.clone());
                }
                // Removals are always of the tail.
                None => items.truncate(index),
            }
        }
        _ => panic!("pointer {} ends inside a scalar", change.field),
    }
}

fn apply(base: &Value, changes: &[FieldChange]) -> Value {
    let mut value = base.clone();
    for change in changes {
        apply_one(&mut value, change);
    }
    value
}

/// JSON equality with numbers compared by value (as `diff` does): 1 == 1.0.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.as_f64() == y.as_f64()
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Document order of pointers: token by token, indices numerically.
fn pointer_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (tokens(a), tokens(b));
    for (x, y) in a.iter().zip(&b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            _ => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// Small keys from a small alphabet (with `~` and `/`) so that objects share keys often.
fn key() -> impl Strategy<Value = String> {
    "[ab~/]{0,2}"
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-2.0f64..2.0).prop_map(Value::from),
        Just(json!(1.0)),
        "[xy~/]{0,3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn applying_the_diff_of_a_and_b_to_a_gives_b(a in json_value(), b in json_value()) {
        let changes = diff(&a, &b);
        let patched = apply(&a, &changes);
        prop_assert!(same(&patched, &b), "a = {a}\nb = {b}\nchanges = {changes:?}\npatched = {patched}");
        prop_assert!(diff(&patched, &b).is_empty());
    }

    #[test]
    fn the_diff_is_sorted_and_no_change_contains_another(a in json_value(), b in json_value()) {
        let changes = diff(&a, &b);
        for pair in changes.windows(2) {
            prop_assert_eq!(pointer_order(&pair[0].field, &pair[1].field), Ordering::Less);
            let (p, q) = (tokens(&pair[0].field), tokens(&pair[1].field));
            prop_assert!(!q.starts_with(&p), "{} contains {}", pair[0].field, pair[1].field);
        }
        for change in &changes {
            prop_assert!(change.old.is_some() || change.new.is_some());
        }
        prop_assert_eq!(changes.is_empty(), same(&a, &b));
    }

    #[test]
    fn a_value_has_no_diff_with_itself(a in json_value()) {
        prop_assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn the_reverse_diff_swaps_old_and_new(a in json_value(), b in json_value()) {
        let forward = diff(&a, &b);
        let backward = diff(&b, &a);
        let swapped: Vec<FieldChange> = forward
            .into_iter()
            .map(|c| FieldChange { field: c.field, old: c.new, new: c.old })
            .collect();
        prop_assert_eq!(backward, swapped);
    }
}
