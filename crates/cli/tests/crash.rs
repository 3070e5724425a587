//! Crash safety: `modeltrail append --stream` is killed with SIGKILL at random moments while
//! appending with many events in flight. After every kill, each event the program had reported
//! durable is in the log with the same leaf hash, and the whole log verifies.

mod common;

use common::{event_line, modeltrail, run, text};
use rand::Rng;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

const KILLS: usize = 25;
/// Events offered every 5 ms: at most about 10,000 a second, so each round stays small.
const BURST: u64 = 50;

#[test]
fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let out = run(&["init", "--data-dir", &d], "");
    assert!(out.status.success(), "{}", text(&out));
    let mut rng = rand::thread_rng();
    let mut acknowledged: Vec<(u64, String)> = Vec::new();
    let mut next_event = 0u64;
    let mut killed_running = 0;
    for round in 0..KILLS {
        let mut child = modeltrail()
            .args(["append", "--stream", "--data-dir", &d])
            .env_remove("MODELTRAIL_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let first = next_event;
        // Feeds events at a steady pace until the pipe breaks when the child dies, so the child
        // is always busy when it is killed and each round adds a bounded number of events.
        let writer = std::thread::spawn(move || {
            for burst in 0.. {
                for i in 0..BURST {
                    if writeln!(stdin, "{}", event_line(first + burst * BURST + i)).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..300)));
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        writer.join().unwrap();
        let said = reader.join().unwrap();
        next_event += 1_000_000;
        let before = acknowledged.len();
        for line in said {
            // A line cut off by the kill is not an acknowledgement.
            let mut parts = line.split(' ');
            let (Some(seq), Some(leaf), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if let (Ok(seq), true) = (seq.parse::<u64>(), leaf.len() == 64) {
                acknowledged.push((seq, leaf.to_owned()));
            }
        }
        assert!(
            acknowledged.len() > before || round > 0,
            "the first round acknowledged nothing; the test would prove nothing"
        );
        check_present(dir.path(), &acknowledged);
        let out = run(&["verify", &d], "");
        assert!(
            out.status.success(),
            "round {round}: verify failed after SIGKILL: {}",
            text(&out)
        );
    }
    eprintln!(
        "{KILLS} kills, {killed_running} mid-append, {} acknowledgements checked",
        acknowledged.len()
    );
    assert!(
        killed_running >= 20,
        "only {killed_running} of {KILLS} kills hit a running append"
    );
    assert!(
        acknowledged.len() > 100,
        "only {} acknowledgements over {KILLS} kills",
        acknowledged.len()
    );
}

fn check_present(dir: &std::path::Path, acknowledged: &[(u64, String)]) {
    let conn = rusqlite::Connection::open(dir.join("modeltrail.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT body FROM events WHERE seq = ?1")
        .unwrap();
    for (seq, leaf) in acknowledged {
        let body: Vec<u8> = stmt
            .query_row([*seq as i64], |r| r.get(0))
            .unwrap_or_else(|e| panic!("acknowledged seq {seq} is missing: {e}"));
        assert_eq!(
            &modeltrail_ledger::leaf_hash(&body).to_hex(),
            leaf,
            "seq {seq} differs from what was acknowledged"
        );
    }
}
