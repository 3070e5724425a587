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

/// The random tamper suite: `TAMPER_MUTATIONS` (default 100) seeded random mutations per backend
/// (`TAMPER_SEED`, default 8, makes a run reproducible) of a sound log, in ten classes; each must
/// be caught by `modeltrail verify`, or else by verify with the checkpoint a client pinned before
/// the tampering. Prints the detection rate and the first divergence reported per class.
mod random {
    use super::common::{lines, run, text};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rusqlite::{params, Connection};
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
    /// The base log: five appends of 20 events, so five signed checkpoints besides the empty one.
    const CHUNKS: u64 = 5;
    const CHUNK: u64 = 20;

    #[derive(Clone, Debug, PartialEq)]
    struct Event {
        seq: i64,
        ts: i64,
        body: Vec<u8>,
        hashes: Vec<u8>,
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Checkpoint {
        size: i64,
        ts: i64,
        note: String,
    }

    /// The two tables that hold a log.
    #[derive(Clone, Debug, PartialEq)]
    struct Tables {
        events: Vec<Event>,
        checkpoints: Vec<Checkpoint>,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Class {
        PayloadByteFlip,
        HashByteFlip,
        RowDeletion,
        RowInsertion,
        Reorder,
        Truncation,
        TruncationWithCheckpoints,
        CheckpointReplacement,
        RolledBackCopy,
        ForkSignedWithTheRightKey,
    }

    const CLASSES: [Class; 10] = [
        Class::PayloadByteFlip,
        Class::HashByteFlip,
        Class::RowDeletion,
        Class::RowInsertion,
        Class::Reorder,
        Class::Truncation,
        Class::TruncationWithCheckpoints,
        Class::CheckpointReplacement,
        Class::RolledBackCopy,
        Class::ForkSignedWithTheRightKey,
    ];

    fn read_tables(db: &Path) -> Tables {
        let conn = Connection::open(db).unwrap();
        let mut stmt = conn
            .prepare("SELECT seq, ts, body, hashes FROM events ORDER BY seq")
            .unwrap();
        let events = stmt
            .query_map([], |r| {
                Ok(Event {
                    seq: r.get(0)?,
                    ts: r.get(1)?,
                    body: r.get(2)?,
                    hashes: r.get(3)?,
                })
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut stmt = conn
            .prepare("SELECT size, ts, note FROM checkpoints ORDER BY size")
            .unwrap();
        let checkpoints = stmt
            .query_map([], |r| {
                Ok(Checkpoint {
                    size: r.get(0)?,
                    ts: r.get(1)?,
                    note: r.get(2)?,
                })
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        Tables {
            events,
            checkpoints,
        }
    }

    fn append(dir: &Path, range: std::ops::Range<u64>) {
        let out = run(
            &["append", "--data-dir", &dir.display().to_string()],
            &lines(range),
        );
        assert!(out.status.success(), "{}", text(&out));
    }

    fn init(dir: &Path) {
        let out = run(
            &[
                "init",
                "--data-dir",
                &dir.display().to_string(),
                "--origin",
                "tamper.test/log",
            ],
            "",
        );
        assert!(out.status.success(), "{}", text(&out));
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }

    /// What the mutations are made from, built with the real program: the sound log, its state
    /// after each append, forks of it (the log's own key, a different history from an earlier
    /// point on, longer than the original), and the checkpoints of a log with another key.
    struct Material {
        _dir: tempfile::TempDir,
        base_dir: PathBuf,
        sound: Tables,
        snapshots: Vec<Tables>,
        forks: Vec<Tables>,
        foreign: Vec<Checkpoint>,
        pinned: PathBuf,
    }

    fn material() -> Material {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        init(&base);
        let mut snapshots = Vec::new();
        let mut fork_points = Vec::new();
        for c in 0..CHUNKS {
            append(&base, c * CHUNK..(c + 1) * CHUNK);
            snapshots.push(read_tables(&base.join("modeltrail.db")));
            if c + 1 < CHUNKS {
                let fork = dir.path().join(format!("fork{c}"));
                copy_dir(&base, &fork);
                fork_points.push((fork, c));
            }
        }
        let sound = snapshots.pop().unwrap();
        let forks = fork_points
            .into_iter()
            .map(|(fork, c)| {
                // Different events from the fork point on, more of them than the original has.
                append(&fork, 500_000..500_000 + (CHUNKS - c) * CHUNK + 5);
                read_tables(&fork.join("modeltrail.db"))
            })
            .collect();
        let other = dir.path().join("other");
        init(&other);
        for c in 0..CHUNKS {
            append(&other, c * CHUNK..(c + 1) * CHUNK);
        }
        let foreign = read_tables(&other.join("modeltrail.db")).checkpoints;
        let pinned = dir.path().join("pinned.checkpoint");
        std::fs::write(&pinned, &sound.checkpoints.last().unwrap().note).unwrap();
        Material {
            base_dir: base,
            _dir: dir,
            sound,
            snapshots,
            forks,
            foreign,
            pinned,
        }
    }

    /// One random mutation of class `class` of the sound log.
    fn mutate(m: &Material, class: Class, rng: &mut StdRng) -> Tables {
        let mut t = m.sound.clone();
        let n = t.events.len();
        match class {
            Class::PayloadByteFlip => {
                let e = &mut t.events[rng.gen_range(0..n)];
                let at = rng.gen_range(0..e.body.len());
                e.body[at] ^= 1 << rng.gen_range(0..8);
            }
            Class::HashByteFlip => {
                let e = &mut t.events[rng.gen_range(0..n)];
                let at = rng.gen_range(0..e.hashes.len());
                e.hashes[at] ^= 1 << rng.gen_range(0..8);
            }
            Class::RowDeletion => {
                t.events.remove(rng.gen_range(0..n));
            }
            Class::RowInsertion => {
                let at = rng.gen_range(0..=n);
                let copied = t.events[rng.gen_range(0..n)].clone();
                for e in &mut t.events[at..] {
                    e.seq += 1;
                }
                t.events.insert(
                    at,
                    Event {
                        seq: at as i64,
                        ..copied
                    },
                );
            }
            Class::Reorder => {
                let i = rng.gen_range(0..n);
                let j = (i + rng.gen_range(1..n)) % n;
                if rng.gen_bool(0.5) {
                    // Whole rows change places.
                    let (si, sj) = (t.events[i].seq, t.events[j].seq);
                    t.events[i].seq = sj;
                    t.events[j].seq = si;
                } else {
                    // The payloads change places, each row keeping its hashes.
                    let body = t.events[i].body.clone();
                    t.events[i].body = std::mem::replace(&mut t.events[j].body, body);
                }
            }
            Class::Truncation => {
                t.events.truncate(rng.gen_range(1..n));
            }
            Class::TruncationWithCheckpoints => {
                let keep = rng.gen_range(1..n);
                t.events.truncate(keep);
                t.checkpoints.retain(|c| c.size as usize <= keep);
            }
            Class::CheckpointReplacement => {
                let at = rng.gen_range(1..t.checkpoints.len());
                let size = t.checkpoints[at].size;
                let note = match rng.gen_range(0..3) {
                    0 => {
                        let other =
                            (at + rng.gen_range(1..t.checkpoints.len())) % t.checkpoints.len();
                        t.checkpoints[other].note.clone()
                    }
                    1 => m
                        .foreign
                        .iter()
                        .find(|c| c.size == size)
                        .unwrap()
                        .note
                        .clone(),
                    _ => {
                        let mut bytes = t.checkpoints[at].note.clone().into_bytes();
                        let i = rng.gen_range(0..bytes.len());
                        // A printable ASCII byte for another: the note stays text.
                        let mut b = rng.gen_range(0x21u8..0x7f);
                        if b == bytes[i] {
                            b = if b == b'A' { b'B' } else { b'A' };
                        }
                        bytes[i] = b;
                        String::from_utf8(bytes).unwrap()
                    }
                };
                t.checkpoints[at].note = note;
            }
            Class::RolledBackCopy => {
                t = m.snapshots[rng.gen_range(0..m.snapshots.len())].clone();
            }
            Class::ForkSignedWithTheRightKey => {
                t = m.forks[rng.gen_range(0..m.forks.len())].clone();
            }
        }
        t
    }

    /// Where a mutated log is written for verify to read.
    trait Target {
        fn write(&mut self, tables: &Tables);
        fn verify_args(&self) -> Vec<String>;
    }

    /// A copy of the base data directory (its key and database), triggers dropped.
    struct SqliteTarget {
        dir: PathBuf,
        conn: Connection,
    }

    impl SqliteTarget {
        fn new(m: &Material, dir: PathBuf) -> SqliteTarget {
            copy_dir(&m.base_dir, &dir);
            let conn = Connection::open(dir.join("modeltrail.db")).unwrap();
            conn.execute_batch(
                "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
                 DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
            )
            .unwrap();
            SqliteTarget { dir, conn }
        }
    }

    impl Target for SqliteTarget {
        fn write(&mut self, t: &Tables) {
            let tx = self.conn.transaction().unwrap();
            tx.execute_batch("DELETE FROM events; DELETE FROM checkpoints;")
                .unwrap();
            for e in &t.events {
                tx.execute(
                    "INSERT INTO events (seq, ts, body, hashes) VALUES (?1, ?2, ?3, ?4)",
                    params![e.seq, e.ts, e.body, e.hashes],
                )
                .unwrap();
            }
            for c in &t.checkpoints {
                tx.execute(
                    "INSERT INTO checkpoints (size, ts, note) VALUES (?1, ?2, ?3)",
                    params![c.size, c.ts, c.note],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }

        fn verify_args(&self) -> Vec<String> {
            vec!["verify".into(), self.dir.display().to_string()]
        }
    }

    /// The log in tables of a PostgreSQL schema of its own (made by `modeltrail init`, then
    /// given the base log's identity), the triggers disabled; dropped at the end.
    struct PostgresTarget {
        key_dir: PathBuf,
        url: String,
        schema: String,
        client: postgres_sync::Client,
    }

    impl Drop for PostgresTarget {
        fn drop(&mut self) {
            let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
            self.client.execute_quietly(&sql);
        }
    }

    impl PostgresTarget {
        fn new(m: &Material, scratch: &Path) -> PostgresTarget {
            let schema = format!("tamper_{:016x}", rand::random::<u64>());
            let client = postgres_sync::Client::connect(POSTGRES);
            client.execute(&format!("CREATE SCHEMA {schema}"));
            let url = format!("{POSTGRES}?options=-csearch_path%3D{schema}");
            let out = run(
                &[
                    "init",
                    "--data-dir",
                    &scratch.display().to_string(),
                    "--database",
                    &url,
                ],
                "",
            );
            assert!(out.status.success(), "{}", text(&out));
            let identity = Connection::open(m.base_dir.join("modeltrail.db"))
                .unwrap()
                .prepare("SELECT key, value FROM log_identity")
                .unwrap()
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>();
            let mut sql = format!(
                "SET search_path TO {schema};
                 ALTER TABLE events DISABLE TRIGGER USER;
                 ALTER TABLE checkpoints DISABLE TRIGGER USER;
                 ALTER TABLE log_identity DISABLE TRIGGER USER;
                 DELETE FROM log_identity;"
            );
            for (k, v) in identity {
                sql += &format!("INSERT INTO log_identity VALUES ('{k}', '{v}');");
            }
            client.execute(&sql);
            PostgresTarget {
                key_dir: m.base_dir.clone(),
                url,
                schema,
                client,
            }
        }
    }

    impl Target for PostgresTarget {
        fn write(&mut self, t: &Tables) {
            self.client.replace(&self.schema, t);
        }

        fn verify_args(&self) -> Vec<String> {
            vec![
                "verify".into(),
                self.key_dir.display().to_string(),
                "--database".into(),
                self.url.clone(),
            ]
        }
    }

    /// A small blocking wrapper over tokio-postgres for the synchronous suite.
    mod postgres_sync {
        use super::Tables;

        pub struct Client {
            runtime: tokio::runtime::Runtime,
            client: tokio_postgres::Client,
        }

        impl Client {
            pub fn connect(url: &str) -> Client {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let client = runtime.block_on(async {
                    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                        .await
                        .expect("the local PostgreSQL answers");
                    tokio::spawn(conn);
                    client
                });
                Client { runtime, client }
            }

            pub fn execute(&self, sql: &str) {
                self.runtime
                    .block_on(self.client.batch_execute(sql))
                    .unwrap();
            }

            /// For Drop: errors are ignored.
            pub fn execute_quietly(&self, sql: &str) {
                let _ = self.runtime.block_on(self.client.batch_execute(sql));
            }

            pub fn replace(&mut self, schema: &str, t: &Tables) {
                self.runtime.block_on(async {
                    let tx = self.client.transaction().await.unwrap();
                    tx.batch_execute(&format!(
                        "SET LOCAL search_path TO {schema};
                         DELETE FROM events; DELETE FROM checkpoints;"
                    ))
                    .await
                    .unwrap();
                    for e in &t.events {
                        tx.execute(
                            "INSERT INTO events (seq, ts, body, hashes) VALUES ($1, $2, $3, $4)",
                            &[&e.seq, &e.ts, &e.body, &e.hashes],
                        )
                        .await
                        .unwrap();
                    }
                    for c in &t.checkpoints {
                        tx.execute(
                            "INSERT INTO checkpoints (size, ts, note) VALUES ($1, $2, $3)",
                            &[&c.size, &c.ts, &c.note],
                        )
                        .await
                        .unwrap();
                    }
                    tx.commit().await.unwrap();
                });
            }
        }
    }

    #[derive(Default)]
    struct ClassReport {
        mutations: u64,
        by_verify: u64,
        by_pinned: u64,
        missed: Vec<String>,
        first_divergence: Option<String>,
    }

    fn said(out: &std::process::Output) -> String {
        let all = text(out);
        all.lines()
            .find(|l| l.contains("DIVERGENCE") || l.to_lowercase().contains("error"))
            .unwrap_or(all.trim())
            .to_owned()
    }

    /// Runs the suite on `target`; returns the report per class.
    fn suite(m: &Material, target: &mut dyn Target, backend: &str) {
        let mutations: u64 = std::env::var("TAMPER_MUTATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        let seed: u64 = std::env::var("TAMPER_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        let mut rng = StdRng::seed_from_u64(seed);
        // The sound log itself verifies on this target: the suite can tell tampering apart.
        target.write(&m.sound);
        let out = run(&as_str(&target.verify_args()), "");
        assert!(
            out.status.success(),
            "{backend}: the sound log: {}",
            text(&out)
        );
        let pinned = m.pinned.display().to_string();
        let mut reports: BTreeMap<Class, ClassReport> = BTreeMap::new();
        for i in 0..mutations {
            let class = CLASSES[(i as usize) % CLASSES.len()];
            let tables = mutate(m, class, &mut rng);
            assert_ne!(tables, m.sound, "{class:?} made no change");
            target.write(&tables);
            let report = reports.entry(class).or_default();
            report.mutations += 1;
            let args = target.verify_args();
            let out = run(&as_str(&args), "");
            let found = match out.status.code() {
                Some(0) => {
                    let mut args = args.clone();
                    args.extend(["--trusted-checkpoint".to_owned(), pinned.clone()]);
                    let out = run(&as_str(&args), "");
                    match out.status.code() {
                        Some(0) => {
                            report
                                .missed
                                .push(format!("mutation {i} (TAMPER_SEED={seed})"));
                            None
                        }
                        _ => {
                            report.by_pinned += 1;
                            Some(format!("with the pinned checkpoint: {}", said(&out)))
                        }
                    }
                }
                _ => {
                    report.by_verify += 1;
                    Some(said(&out))
                }
            };
            if report.first_divergence.is_none() {
                report.first_divergence = found;
            }
        }
        let total: u64 = reports.values().map(|r| r.mutations).sum();
        let caught: u64 = reports.values().map(|r| r.by_verify + r.by_pinned).sum();
        eprintln!(
            "\n{backend}: {caught} of {total} mutations caught ({:.1}%), TAMPER_SEED={seed}",
            100.0 * caught as f64 / total.max(1) as f64
        );
        eprintln!(
            "| class | mutations | by verify | by pinned checkpoint | rate | first divergence |"
        );
        eprintln!("|---|---|---|---|---|---|");
        for (class, r) in &reports {
            eprintln!(
                "| {class:?} | {} | {} | {} | {:.0}% | {} |",
                r.mutations,
                r.by_verify,
                r.by_pinned,
                100.0 * (r.by_verify + r.by_pinned) as f64 / r.mutations as f64,
                r.first_divergence.as_deref().unwrap_or("-")
            );
        }
        let missed: Vec<_> = reports
            .iter()
            .flat_map(|(c, r)| r.missed.iter().map(move |m| format!("{c:?} {m}")))
            .collect();
        assert!(missed.is_empty(), "{backend}: not caught: {missed:?}");
        assert!(total >= CLASSES.len() as u64, "every class is tried");
    }

    fn as_str(args: &[String]) -> Vec<&str> {
        args.iter().map(String::as_str).collect()
    }

    #[test]
    fn random_mutations_of_a_sqlite_log_are_all_caught() {
        let m = material();
        let dir = tempfile::tempdir().unwrap();
        let mut target = SqliteTarget::new(&m, dir.path().join("work"));
        suite(&m, &mut target, "SQLite");
    }

    #[test]
    fn random_mutations_of_a_postgres_log_are_all_caught() {
        let m = material();
        let scratch = tempfile::tempdir().unwrap();
        let mut target = PostgresTarget::new(&m, scratch.path());
        suite(&m, &mut target, "PostgreSQL");
    }
}
