//! Tampering with a real SQLite data directory behind the program's back: every change is found
//! by `modeltrail verify`, which names where, and exits 1.

mod common;

use common::{lines, run, text};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// A data directory with 60 events appended in three transactions (so three checkpoints
/// besides the empty one), verified sound.
fn sound_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let out = run(
        &["init", "--data-dir", &d, "--origin", "tamper.test/log"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    for chunk in [0..20, 20..40, 40..60] {
        let out = run(&["append", "--data-dir", &d], &lines(chunk));
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = run(&["verify", &d], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("OK: tree size 60"), "{}", text(&out));
    dir
}

fn db(dir: &Path) -> PathBuf {
    dir.join("modeltrail.db")
}

/// Opens the database as an attacker with file access would, and drops the append-only
/// triggers first.
fn tamper(dir: &Path, sql: &str) {
    let conn = Connection::open(db(dir)).unwrap();
    conn.execute_batch(
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
         DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

fn verify_fails(dir: &Path, expected: &[&str]) {
    let out = run(&["verify", &dir.display().to_string()], "");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("DIVERGENCE"), "{said}");
    for part in expected {
        assert!(said.contains(part), "expected {part:?} in: {said}");
    }
}

#[test]
fn the_triggers_refuse_changes_through_sql() {
    let dir = sound_log();
    let conn = Connection::open(db(dir.path())).unwrap();
    for sql in [
        "UPDATE events SET body = body WHERE seq = 3",
        "DELETE FROM events WHERE seq = 3",
        "UPDATE checkpoints SET note = note",
        "DELETE FROM checkpoints",
    ] {
        let err = conn.execute_batch(sql).unwrap_err().to_string();
        assert!(err.contains("refused"), "{sql}: {err}");
    }
}

#[test]
fn one_changed_byte_of_a_payload_is_found() {
    let dir = sound_log();
    // "value":0.91 -> "value":0.81 in event 17: one byte.
    tamper(
        dir.path(),
        "UPDATE events SET body = CAST(replace(CAST(body AS TEXT), '0.91', '0.81') AS BLOB) WHERE seq = 17",
    );
    verify_fails(dir.path(), &["seq 17"]);
}

#[test]
fn a_deleted_row_is_found() {
    let dir = sound_log();
    tamper(dir.path(), "DELETE FROM events WHERE seq = 30");
    verify_fails(dir.path(), &["seq 30", "missing"]);
}

#[test]
fn two_swapped_rows_are_found() {
    let dir = sound_log();
    tamper(
        dir.path(),
        "UPDATE events SET seq = -1 WHERE seq = 10;
         UPDATE events SET seq = 10 WHERE seq = 11;
         UPDATE events SET seq = 11 WHERE seq = -1;",
    );
    verify_fails(dir.path(), &["seq 10"]);
}

#[test]
fn two_swapped_payloads_with_their_hashes_are_found() {
    let dir = sound_log();
    // Swap the bodies of 12 and 13 and the leaf hashes stored with them: every row is then
    // self-consistent as far as its leaf goes, but each body names the other's position.
    tamper(
        dir.path(),
        "CREATE TEMP TABLE saved AS SELECT seq, body, hashes FROM events WHERE seq IN (12, 13);
         UPDATE events SET body = (SELECT body FROM saved WHERE seq = 13) WHERE seq = 12;
         UPDATE events SET body = (SELECT body FROM saved WHERE seq = 12) WHERE seq = 13;
         UPDATE events SET hashes = (SELECT substr(hashes, 1, 32) FROM saved WHERE seq = 13) WHERE seq = 12;
         UPDATE events SET hashes = CAST((SELECT substr(hashes, 1, 32) FROM saved WHERE seq = 12) || substr(hashes, 33) AS BLOB) WHERE seq = 13;",
    );
    verify_fails(dir.path(), &["seq 12", "says it is seq 13"]);
}

#[test]
fn a_value_rewritten_with_another_column_type_is_still_judged_by_its_bytes() {
    let dir = sound_log();
    tamper(
        dir.path(),
        "UPDATE events SET body = replace(CAST(body AS TEXT), 'auc', 'AUC') WHERE seq = 5",
    );
    verify_fails(dir.path(), &["seq 5"]);
}

#[test]
fn an_event_appended_behind_the_programs_back_is_found() {
    let dir = sound_log();
    // Inserts are not refused by the triggers: a forged event with a correct leaf hash, at the
    // right position, but no signed checkpoint can cover it.
    let forged = common::event_line(999).replacen(
        '{',
        r#"{"seq":60,"timestamp":"2030-01-01T00:00:00.000000Z","#,
        1,
    );
    let leaf = modeltrail_ledger::leaf_hash(forged.as_bytes());
    let conn = Connection::open(db(dir.path())).unwrap();
    conn.execute(
        "INSERT INTO events (seq, ts, body, hashes) VALUES (60, 0, ?1, ?2)",
        rusqlite::params![forged.as_bytes(), leaf.0.as_slice()],
    )
    .unwrap();
    drop(conn);
    verify_fails(dir.path(), &["no signed checkpoint covers", "61 events"]);
}

#[test]
fn a_truncated_log_is_found() {
    let dir = sound_log();
    tamper(dir.path(), "DELETE FROM events WHERE seq >= 50");
    verify_fails(dir.path(), &["beyond the end of the log", "50 events"]);
}

#[test]
fn a_log_truncated_with_its_checkpoints_is_found_by_a_trusted_checkpoint() {
    let dir = sound_log();
    let d = dir.path().display().to_string();
    // An inspector kept the latest checkpoint earlier.
    let out = run(&["checkpoint", "--local", "--data-dir", &d], "");
    assert!(out.status.success(), "{}", text(&out));
    let kept = dir.path().join("kept.checkpoint");
    std::fs::write(&kept, &out.stdout).unwrap();
    tamper(
        dir.path(),
        "DELETE FROM events WHERE seq >= 40; DELETE FROM checkpoints WHERE size > 40;",
    );
    // Without the kept checkpoint the shorter log is self-consistent...
    let out = run(&["verify", &d], "");
    assert!(out.status.success(), "{}", text(&out));
    // ...with it, the truncation is plain.
    let out = run(
        &[
            "verify",
            &d,
            "--trusted-checkpoint",
            &kept.display().to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("size 60 is beyond the end of the log"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_replaced_checkpoint_is_found() {
    let dir = sound_log();
    // Edit the root inside the stored note: the signature no longer matches.
    let conn = Connection::open(db(dir.path())).unwrap();
    let note: String = conn
        .query_row("SELECT note FROM checkpoints WHERE size = 40", [], |r| {
            r.get(0)
        })
        .unwrap();
    drop(conn);
    let lines: Vec<&str> = note.split('\n').collect();
    let forged_root =
        if lines[2].starts_with('A') { "B" } else { "A" }.to_string() + &lines[2][1..];
    let forged = note.replacen(lines[2], &forged_root, 1);
    tamper(
        dir.path(),
        &format!("UPDATE checkpoints SET note = '{forged}' WHERE size = 40"),
    );
    verify_fails(dir.path(), &["checkpoint stored for size 40"]);
}

#[test]
fn a_checkpoint_signed_by_another_key_is_found() {
    let dir = sound_log();
    let other = sound_log();
    let conn = Connection::open(db(other.path())).unwrap();
    let foreign: String = conn
        .query_row("SELECT note FROM checkpoints WHERE size = 20", [], |r| {
            r.get(0)
        })
        .unwrap();
    drop(conn);
    tamper(
        dir.path(),
        &format!("UPDATE checkpoints SET note = '{foreign}' WHERE size = 20"),
    );
    verify_fails(
        dir.path(),
        &["checkpoint stored for size 20", "no signature by"],
    );
}

#[test]
fn a_checkpoint_moved_to_another_size_is_found() {
    let dir = sound_log();
    tamper(
        dir.path(),
        "UPDATE checkpoints SET note = (SELECT note FROM checkpoints WHERE size = 20) WHERE size = 40",
    );
    verify_fails(
        dir.path(),
        &["checkpoint stored for size 40", "signed for size 20"],
    );
}

#[test]
fn verify_without_a_key_or_database_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["verify", &dir.path().display().to_string()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("public key"), "{}", text(&out));
}

#[test]
fn append_refuses_a_bad_line_and_writes_nothing() {
    let dir = sound_log();
    let d = dir.path().display().to_string();
    let input = format!("{}\n{{\"actor\": 1}}\n", common::event_line(100));
    let out = run(&["append", "--data-dir", &d], &input);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("line 2"), "{}", text(&out));
    let out = run(&["verify", &d], "");
    assert!(text(&out).contains("OK: tree size 60"), "{}", text(&out));
}

#[test]
fn proofs_printed_by_the_cli_verify_against_the_checkpoint() {
    let dir = sound_log();
    let d = dir.path().display().to_string();
    let out = run(&["prove", "--data-dir", &d, "inclusion", "17"], "");
    assert!(out.status.success(), "{}", text(&out));
    let proof: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| modeltrail_ledger::Hash::from_hex(l).unwrap())
        .collect();
    let conn = Connection::open(db(dir.path())).unwrap();
    let body: Vec<u8> = conn
        .query_row("SELECT body FROM events WHERE seq = 17", [], |r| r.get(0))
        .unwrap();
    // An explicit --data-dir means the local store, as --local does.
    let out = run(&["checkpoint", "--data-dir", &d], "");
    let verifier = modeltrail_store::keys::load_verifier(dir.path()).unwrap();
    let cp = modeltrail_ledger::checkpoint::SignedCheckpoint::open(
        &String::from_utf8_lossy(&out.stdout),
        &verifier,
    )
    .unwrap();
    let cp = cp.checkpoint();
    modeltrail_ledger::proof::verify_inclusion(
        &modeltrail_ledger::leaf_hash(&body),
        17,
        cp.size,
        &proof,
        &cp.root,
    )
    .unwrap();
}
