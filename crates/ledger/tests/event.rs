//! Events: validation of drafts, canonical encoding, and the fast head reader agreeing with the
//! full parser on every event, including payloads made to confuse a scanner.

use modeltrail_ledger::event::{
    Actor, AuthMethod, EncodedEvent, Event, EventDraft, EventError, EventHead, RecordRef,
};
use modeltrail_ledger::{Hash, Timestamp};
use proptest::prelude::*;

fn draft(payload: serde_json::Value) -> EventDraft {
    EventDraft {
        actor: Actor {
            id: "qa-1".into(),
            name: "Quinn Assurance".into(),
            role: "qa".into(),
            auth: AuthMethod::Session,
        },
        client: Default::default(),
        action: "record.approve".into(),
        record: None,
        prev: None,
        reason: None,
        target: None,
        payload,
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-1_000_000i64..1_000_000).prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        "[\"\\\\{}\\[\\],:a-zé\\u{0}-\\u{1f}]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[\"\\\\{}a-z]{0,6}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn the_head_reader_agrees_with_the_full_parser(
        payload in json_value(),
        reason in proptest::option::of("[\"\\\\}a-z ]{0,10}"),
        seq in 0u64..(1 << 53),
        micros in 0i64..253_402_300_799_999_999,
        version in proptest::option::of(1u64..1000),
        prev_byte in any::<u8>(),
        record_id in prop_oneof!["[a-z0-9-]{1,12}", "[a-z\"\\\\{}]{1,6}"],
        attests in any::<bool>(),
    ) {
        let mut d = draft(payload);
        d.reason = reason;
        if let Some(version) = version {
            d.record = Some(RecordRef { kind: "model".into(), id: record_id, version });
            match attests {
                true => d.target = Some(Hash([prev_byte; 32])),
                false => d.prev = (version > 1).then_some(Hash([prev_byte; 32])),
            }
        }
        prop_assert_eq!(d.validate(), Ok(()));
        let event = d.seal(seq, Timestamp::from_micros(micros));
        let bytes = EncodedEvent::encode(&event).unwrap().bytes;
        let full = Event::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&full, &event);
        for head in [EventHead::from_bytes(&bytes).unwrap(), EventHead::from_canonical(&bytes).unwrap()] {
            prop_assert_eq!(head.seq, full.seq);
            prop_assert_eq!(head.timestamp, full.timestamp);
            prop_assert_eq!(&head.record, &full.record);
            prop_assert_eq!(head.prev, full.prev);
            prop_assert_eq!(head.target, full.target);
        }
    }
}

/// Payloads that end the way the head's fields do must not be mistaken for them.
#[test]
fn payloads_shaped_like_head_fields_are_payloads() {
    let lookalikes = [
        serde_json::json!({"id": "x", "type": "model", "version": 3}),
        serde_json::json!({"record": {"id": "x", "type": "model", "version": 3}}),
        serde_json::json!("\",\"prev\":\"00\""),
        serde_json::json!(format!("{}", "0".repeat(64))),
        serde_json::json!(["\\", "\"", "}"]),
        serde_json::json!("ends with a backslash \\"),
    ];
    for payload in lookalikes {
        for reason in [None, Some("why \"quoted\" \\".to_string())] {
            for (record, attests) in [(None, false), (Some(2u64), false), (Some(2u64), true)] {
                let mut d = draft(payload.clone());
                d.reason = reason.clone();
                if let Some(version) = record {
                    d.record = Some(RecordRef {
                        kind: "model".into(),
                        id: "m-1".into(),
                        version,
                    });
                    match attests {
                        true => d.target = Some(Hash([0xcd; 32])),
                        false => d.prev = Some(Hash([0xab; 32])),
                    }
                }
                let event = d.seal(99, Timestamp::from_micros(1_000_000));
                let bytes = EncodedEvent::encode(&event).unwrap().bytes;
                let head = EventHead::from_canonical(&bytes).unwrap();
                assert_eq!(head.seq, 99);
                assert_eq!(head.record, event.record, "{payload} {reason:?}");
                assert_eq!(head.prev, event.prev, "{payload} {reason:?}");
                assert_eq!(head.target, event.target, "{payload} {reason:?}");
            }
        }
    }
}

#[test]
fn non_canonical_text_is_still_read_and_bad_text_is_refused() {
    let event = draft(serde_json::json!({"a": [1, {"b": "}"}]})).seal(7, Timestamp::from_micros(5));
    let pretty = serde_json::to_vec_pretty(&event).unwrap();
    assert_eq!(EventHead::from_bytes(&pretty).unwrap().seq, 7);
    let canonical = EncodedEvent::encode(&event).unwrap().bytes;
    let text = String::from_utf8(canonical).unwrap();
    for bad in [
        text.replacen("\"seq\":7", "\"seq\":7,\"seq\":8", 1),
        text.replacen("\"seq\":7", "\"seq\":-7", 1),
        text.replacen("\"seq\":7", "\"seq\":07", 1),
        text.replacen("\"seq\":7", "\"seq\":\"7\"", 1),
        text.replacen("Z\"", "+00:00\"", 1),
        text[..text.len() - 1].to_string(),
        format!("{text}x"),
        text.replacen("\"seq\":7,", "", 1),
    ] {
        match EventHead::from_bytes(bad.as_bytes()) {
            Err(EventError::Malformed(_)) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn drafts_are_validated() {
    let mut d = draft(serde_json::json!({}));
    d.action = " ".into();
    assert_eq!(
        d.validate(),
        Err(EventError::EmptyField { field: "action" })
    );
    let mut d = draft(serde_json::json!({}));
    d.record = Some(RecordRef {
        kind: "model".into(),
        id: "m".into(),
        version: 2,
    });
    assert!(matches!(
        d.validate(),
        Err(EventError::MissingPrev { version: 2, .. })
    ));
    d.prev = Some(Hash([1; 32]));
    assert_eq!(d.validate(), Ok(()));
    d.record = None;
    assert_eq!(d.validate(), Err(EventError::PrevWithoutRecord));
    let mut d = draft(serde_json::json!({}));
    d.record = Some(RecordRef {
        kind: "model".into(),
        id: "m".into(),
        version: 0,
    });
    assert!(matches!(d.validate(), Err(EventError::VersionZero { .. })));
}

#[test]
fn the_canonical_form_is_sorted_and_compact() {
    let event = draft(serde_json::json!({"z": 1, "a": 0.5})).seal(3, Timestamp::from_micros(1));
    let bytes = EncodedEvent::encode(&event).unwrap().bytes;
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r#"{"action":"record.approve","actor":{"auth":"session","id":"qa-1","name":"Quinn Assurance","role":"qa"},"client":{},"payload":{"a":0.5,"z":1},"seq":3,"timestamp":"1970-01-01T00:00:00.000001Z"}"#
    );
}

#[test]
fn an_attestation_names_a_record_and_does_not_also_create_a_version() {
    let record = RecordRef {
        kind: "model".into(),
        id: "m-1".into(),
        version: 3,
    };
    let mut d = draft(serde_json::json!({"meaning": "approved"}));
    d.target = Some(Hash([1; 32]));
    assert_eq!(d.validate(), Err(EventError::TargetWithoutRecord));
    d.record = Some(record.clone());
    assert_eq!(d.validate(), Ok(()));
    d.prev = Some(Hash([2; 32]));
    assert!(matches!(
        d.validate(),
        Err(EventError::TargetWithPrev { .. })
    ));
    d.prev = None;
    d.record = Some(RecordRef {
        version: 0,
        ..record
    });
    assert!(matches!(d.validate(), Err(EventError::VersionZero { .. })));
}
