//! Helpers shared by the binary's end-to-end tests: run `modeltrail`, make events.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub fn modeltrail() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modeltrail"))
}

pub fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = modeltrail()
        .args(args)
        .env_remove("MODELTRAIL_DATA_DIR")
        .env_remove("MODELTRAIL_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("modeltrail runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("modeltrail finishes")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One event as a JSON line, numbered so payloads differ.
pub fn event_line(i: u64) -> String {
    format!(
        r#"{{"actor":{{"id":"svc-train","name":"Training Pipeline","role":"developer","auth":"api_token"}},"client":{{"address":"127.0.0.1","client_id":"ci"}},"action":"run.metric","reason":"logged by pipeline","payload":{{"i":{i},"metric":"auc","value":0.91}}}}"#
    )
}

pub fn lines(range: std::ops::Range<u64>) -> String {
    range.map(|i| event_line(i) + "\n").collect()
}
