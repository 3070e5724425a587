//! The offline verifier over a log built in memory: a sound log passes, and each kind of damage
//! is reported as the first divergence, naming where it is.

use ed25519_dalek::SigningKey;
use modeltrail_ledger::checkpoint::Checkpoint;
use modeltrail_ledger::event::{Actor, AuthMethod, EncodedEvent, EventDraft, RecordRef};
use modeltrail_ledger::note::NoteSigner;
use modeltrail_ledger::tree::Frontier;
use modeltrail_ledger::verify::{
    check_leaf, open_checkpoint, ChunkChecker, Divergence, LogVerifier, Summary,
};
use modeltrail_ledger::{Hash, Timestamp};

struct Row {
    seq: u64,
    body: Vec<u8>,
    hashes: Vec<u8>,
}

struct Log {
    rows: Vec<Row>,
    checkpoints: Vec<(u64, String)>,
    signer: NoteSigner,
}

fn draft(i: u64, record: Option<(u64, Option<Hash>)>) -> EventDraft {
    EventDraft {
        actor: Actor {
            id: "alice".into(),
            name: "Alice Example".into(),
            role: "developer".into(),
            auth: AuthMethod::Session,
        },
        client: Default::default(),
        action: "record.update".into(),
        record: record.map(|(version, _)| RecordRef {
            kind: "model".into(),
            id: "m-1".into(),
            version,
        }),
        prev: record.and_then(|(_, prev)| prev),
        reason: Some(format!("change {i}")),
        target: None,
        payload: serde_json::json!({"i": i, "note": "ünïcode ✓"}),
    }
}

/// Builds a log of `n` events; every third event is the next version of one record. A
/// checkpoint is signed every 7 events and at the end.
fn build(n: u64, times: impl Fn(u64) -> i64) -> Log {
    let signer = NoteSigner::new("example.org/log", SigningKey::from_bytes(&[7; 32])).unwrap();
    let mut frontier = Frontier::new();
    let mut rows = Vec::new();
    let mut checkpoints = Vec::new();
    let mut version = 0;
    let mut prev: Option<Hash> = None;
    for seq in 0..n {
        let record = (seq % 3 == 0).then(|| {
            version += 1;
            (version, prev)
        });
        let ts = Timestamp::from_micros(times(seq));
        let event = draft(seq, record).seal(seq, ts);
        let encoded = EncodedEvent::encode(&event).unwrap();
        if record.is_some() {
            prev = Some(encoded.leaf);
        }
        let completed = frontier.append(encoded.leaf);
        rows.push(Row {
            seq,
            body: encoded.bytes,
            hashes: completed.iter().flat_map(|h| h.0).collect(),
        });
        if frontier.size() % 7 == 0 || seq == n - 1 {
            let cp = Checkpoint {
                origin: "example.org/log".into(),
                size: frontier.size(),
                root: frontier.root(),
                timestamp: ts,
            };
            checkpoints.push((cp.size, cp.sign(&signer).unwrap().text().to_owned()));
        }
    }
    Log {
        rows,
        checkpoints,
        signer,
    }
}

/// Verifies a log event by event, and checks that verifying it in chunks of many sizes and
/// alignments gives exactly the same outcome.
fn verify(log: &Log) -> Result<Summary, Divergence> {
    let one_by_one = verify_with(log, None);
    let end = log.rows.iter().map(|r| r.seq + 1).max().unwrap_or(0) + 3;
    let mut splits: Vec<Vec<u64>> = (1..=17)
        .chain([32, 64, 1000])
        .map(|k| (0..=end.div_ceil(k)).map(|i| i * k).collect())
        .collect();
    // Unaligned chunks too: the ordered half then computes more of the tree.
    splits.push(vec![0, 3, 10, 11, 29, 30, 31, 45, 1000]);
    splits.push(vec![0, 1, 2, 5, 9, 22, 23, 24, 25, 48, 49, 50, 51, 1000]);
    for bounds in splits {
        assert_eq!(
            verify_with(log, Some(&bounds)),
            one_by_one,
            "chunks {bounds:?}"
        );
    }
    one_by_one
}

/// Verifies a log one event at a time, or in chunks between the given bounds.
fn verify_with(log: &Log, bounds: Option<&[u64]>) -> Result<Summary, Divergence> {
    let verifier = log.signer.verifier();
    let checkpoints = log
        .checkpoints
        .iter()
        .map(|(size, text)| open_checkpoint(*size, text, &verifier))
        .collect::<Result<Vec<_>, _>>()?;
    let mut v = LogVerifier::new(checkpoints)?;
    match bounds {
        None => {
            for row in &log.rows {
                v.push(check_leaf(row.seq, &row.body, &row.hashes)?)?;
            }
        }
        Some(bounds) => {
            for pair in bounds.windows(2) {
                let mut chunk = ChunkChecker::new(pair[0], pair[1]);
                for row in log
                    .rows
                    .iter()
                    .filter(|r| (pair[0]..pair[1]).contains(&r.seq))
                {
                    if !chunk.push(row.seq, &row.body, &row.hashes) {
                        break;
                    }
                }
                v.push_chunk(chunk.finish())?;
            }
        }
    }
    v.finish()
}

fn steady(seq: u64) -> i64 {
    1_700_000_000_000_000 + seq as i64 * 10
}

#[test]
fn a_sound_log_verifies() {
    let log = build(50, steady);
    let summary = verify(&log).unwrap();
    assert_eq!(summary.size, 50);
    assert_eq!(summary.records, 1);
    assert_eq!(summary.checkpoints, 8);
}

#[test]
fn a_changed_byte_is_found_at_its_seq() {
    let mut log = build(50, steady);
    let body = &mut log.rows[20].body;
    let at = body.len() - 5;
    body[at] ^= 1;
    match verify(&log) {
        Err(Divergence::StoredHashMismatch {
            seq: 20, level: 0, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_changed_byte_with_its_stored_hash_rewritten_breaks_the_subtree_above() {
    let mut log = build(50, steady);
    let body = &mut log.rows[22].body;
    let at = body.len() - 5;
    body[at] ^= 1;
    let leaf = modeltrail_ledger::leaf_hash(&log.rows[22].body);
    log.rows[22].hashes[..32].copy_from_slice(&leaf.0);
    // Seq 22 completes level 0 only; seq 23 completes the level-1 node over 22 and 23.
    match verify(&log) {
        Err(Divergence::StoredHashMismatch {
            seq: 23, level: 1, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_event_is_a_gap() {
    let mut log = build(50, steady);
    log.rows.remove(30);
    match verify(&log) {
        Err(Divergence::Gap {
            expected: 30,
            found: 31,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn swapped_events_name_the_position() {
    let mut log = build(50, steady);
    let a = std::mem::take(&mut log.rows[10].body);
    log.rows[10].body = std::mem::replace(&mut log.rows[11].body, a);
    let (h10, h11) = (log.rows[10].hashes.clone(), log.rows[11].hashes.clone());
    log.rows[10].hashes[..32].copy_from_slice(&h11[..32]);
    log.rows[11].hashes[..32].copy_from_slice(&h10[..32]);
    match verify(&log) {
        Err(Divergence::SeqMismatch {
            position: 10,
            found: 11,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_truncated_log_is_found_by_its_checkpoints() {
    let mut log = build(50, steady);
    log.rows.truncate(45);
    match verify(&log) {
        Err(Divergence::Truncated {
            size: 49,
            log_size: 45,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_past_the_last_checkpoint_are_unsigned() {
    let mut log = build(50, steady);
    log.checkpoints.pop();
    match verify(&log) {
        Err(Divergence::Unsigned {
            signed: 49,
            log_size: 50,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn time_going_backwards_is_found() {
    let log = build(30, |seq| if seq == 12 { steady(5) } else { steady(seq) });
    match verify(&log) {
        Err(Divergence::TimestampDecreased { seq: 12, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_checkpoint_for_another_tree_is_a_root_mismatch() {
    let mut log = build(30, steady);
    let other = build(30, |seq| steady(seq) + 1);
    log.checkpoints[1] = other.checkpoints[1].clone();
    match verify(&log) {
        Err(Divergence::RootMismatch { size: 14, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_edited_checkpoint_does_not_open() {
    let mut log = build(30, steady);
    log.checkpoints[0].1 = log.checkpoints[0].1.replacen("\n7\n", "\n8\n", 1);
    match verify(&log) {
        Err(Divergence::BadCheckpoint { stored_size: 7, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_broken_version_chain_is_found() {
    let signer = NoteSigner::new("example.org/log", SigningKey::from_bytes(&[7; 32])).unwrap();
    let mut frontier = Frontier::new();
    let mut v = LogVerifier::new(Vec::new()).unwrap();
    let first = EncodedEvent::encode(&draft(0, Some((1, None))).seal(0, Timestamp::from_micros(1)))
        .unwrap();
    let wrong_prev = Hash([9; 32]);
    let second = EncodedEvent::encode(
        &draft(1, Some((2, Some(wrong_prev)))).seal(1, Timestamp::from_micros(2)),
    )
    .unwrap();
    for e in [&first, &second] {
        let hashes: Vec<u8> = frontier.append(e.leaf).iter().flat_map(|h| h.0).collect();
        match check_leaf(e.seq, &e.bytes, &hashes).and_then(|leaf| v.push(leaf)) {
            Ok(()) => assert_eq!(e.seq, 0),
            Err(Divergence::ChainBroken { seq, record, .. }) => {
                assert_eq!(seq, 1);
                assert_eq!(record, "model/m-1 version 2");
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    let _ = signer;
}

/// Pushes events through check_leaf and the verifier, and in chunks of one to four events;
/// returns the first divergence, the same either way.
fn push_all(events: &[EncodedEvent]) -> Result<(), Divergence> {
    let mut frontier = Frontier::new();
    let rows: Vec<(u64, &[u8], Vec<u8>)> = events
        .iter()
        .map(|e| {
            let hashes = frontier.append(e.leaf).iter().flat_map(|h| h.0).collect();
            (e.seq, e.bytes.as_slice(), hashes)
        })
        .collect();
    let one_by_one = (|| {
        let mut v = LogVerifier::new(Vec::new())?;
        for (seq, body, hashes) in &rows {
            v.push(check_leaf(*seq, body, hashes)?)?;
        }
        Ok(())
    })();
    for k in 1..=4u64 {
        let chunked = (|| {
            let mut v = LogVerifier::new(Vec::new())?;
            for begin in (0..rows.len() as u64).step_by(k as usize) {
                let mut chunk = ChunkChecker::new(begin, begin + k);
                for (seq, body, hashes) in rows.iter().filter(|r| (begin..begin + k).contains(&r.0))
                {
                    chunk.push(*seq, body, hashes);
                }
                v.push_chunk(chunk.finish())?;
            }
            Ok(())
        })();
        assert_eq!(chunked, one_by_one, "chunks of {k}");
    }
    one_by_one
}

fn attestation(seq: u64, version: u64, target: Hash) -> EncodedEvent {
    let mut d = draft(seq, Some((version, None)));
    d.action = "record.sign".into();
    d.target = Some(target);
    EncodedEvent::encode(&d.seal(seq, Timestamp::from_micros(seq as i64 + 1))).unwrap()
}

#[test]
fn an_attestation_must_name_the_latest_version_and_its_leaf() {
    let v1 = EncodedEvent::encode(&draft(0, Some((1, None))).seal(0, Timestamp::from_micros(1)))
        .unwrap();
    let v2 = EncodedEvent::encode(
        &draft(1, Some((2, Some(v1.leaf)))).seal(1, Timestamp::from_micros(2)),
    )
    .unwrap();
    // Signing version 2 by its leaf hash: sound, and the record stays at version 2.
    let good = attestation(2, 2, v2.leaf);
    push_all(&[v1.clone(), v2.clone(), good.clone()]).unwrap();
    let v3 = EncodedEvent::encode(
        &draft(3, Some((3, Some(v2.leaf)))).seal(3, Timestamp::from_micros(4)),
    )
    .unwrap();
    push_all(&[v1.clone(), v2.clone(), good, v3]).unwrap();
    for (bad, what) in [
        (attestation(2, 2, v1.leaf), "another version's leaf"),
        (attestation(2, 1, v1.leaf), "a version no longer the latest"),
        (attestation(2, 3, v2.leaf), "a version not yet written"),
    ] {
        match push_all(&[v1.clone(), v2.clone(), bad]) {
            Err(Divergence::ChainBroken { seq: 2, .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    match push_all(&[attestation(0, 1, v1.leaf)]) {
        Err(Divergence::ChainBroken { seq: 0, .. }) => {}
        other => panic!("attesting to nothing: {other:?}"),
    }
}

/// Every kind of damage at every position: verifying in chunks (any size, aligned or not) finds
/// the same first divergence as verifying event by event (`verify` compares them).
#[test]
fn chunks_find_the_same_first_divergence_as_single_events() {
    let n = 40;
    let sound = build(n, steady);
    assert!(verify(&sound).is_ok());
    for i in 0..n as usize {
        let levels = sound.rows[i].hashes.len() / 32;
        let mut damaged = Vec::new();
        let mut log = build(n, steady);
        log.rows[i].body[5] ^= 1;
        damaged.push(log);
        for level in 0..levels {
            let mut log = build(n, steady);
            log.rows[i].hashes[level * 32 + 7] ^= 1;
            damaged.push(log);
        }
        let mut log = build(n, steady);
        log.rows[i].hashes.truncate(32 * levels - 1);
        damaged.push(log);
        let mut log = build(n, steady);
        log.rows.remove(i);
        damaged.push(log);
        let mut log = build(n, steady);
        log.rows.truncate(i);
        damaged.push(log);
        // An unreadable event stored with its own leaf hash: found where it is.
        let mut log = build(n, steady);
        log.rows[i].body = b"{not json".to_vec();
        let leaf = modeltrail_ledger::leaf_hash(&log.rows[i].body);
        log.rows[i].hashes[..32].copy_from_slice(&leaf.0);
        damaged.push(log);
        // Time going back at i, and a checkpoint dated before its events.
        damaged.push(build(n, |seq| {
            if seq == i as u64 {
                steady(0) - 1
            } else {
                steady(seq)
            }
        }));
        damaged.push(build(n, |seq| {
            if seq >= i as u64 {
                steady(seq) + 100
            } else {
                steady(seq)
            }
        }));
        // Time going back at an event whose stored level-1 hash is wrong too: time first.
        if levels > 1 {
            let mut log = build(n, |seq| {
                if seq == i as u64 {
                    steady(0) - 1
                } else {
                    steady(seq)
                }
            });
            log.rows[i].hashes[32 + 7] ^= 1;
            damaged.push(log);
        }
        for log in &damaged {
            let _ = verify(log);
        }
    }
    // A record's chain broken at the same event whose stored level-1 hash is wrong: the chain,
    // checked first event by event, is what is reported.
    let mut log = build(n, steady);
    let v2 = log.rows.iter().position(|r| r.seq == 3).unwrap();
    let event = draft(3, Some((2, Some(Hash([1; 32]))))).seal(3, Timestamp::from_micros(steady(3)));
    log.rows[v2].body = EncodedEvent::encode(&event).unwrap().bytes;
    let leaf = modeltrail_ledger::leaf_hash(&log.rows[v2].body);
    log.rows[v2].hashes[..32].copy_from_slice(&leaf.0);
    match verify(&log) {
        Err(Divergence::ChainBroken { seq: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
}
