//! `modeltrail selftest` against a real server on a loopback port: on a sound installation
//! every check passes and the report is recorded in the log, and the report file proves that
//! offline (event, inclusion proof, signed checkpoint); a check that fails (an administrator's
//! token given as the unprivileged probe) fails the run, and the failure is recorded too.

mod common;

use common::{modeltrail, text};
use modeltrail_ledger::checkpoint::SignedCheckpoint;
use modeltrail_ledger::event::Event;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::verify_inclusion;
use modeltrail_ledger::{leaf_hash, Hash};
use modeltrail_server::{start, ServerConfig};
use modeltrail_store::StoreConfig;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

async fn selftest(base: &str, token: &str, probe: &str, out: &Path) -> Output {
    let (base, token, probe, out) = (
        base.to_owned(),
        token.to_owned(),
        probe.to_owned(),
        out.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let config = tempfile::tempdir().unwrap();
        modeltrail()
            .args(["selftest", "--url", &base, "--out"])
            .arg(&out)
            .env("MODELTRAIL_CONFIG_DIR", config.path())
            .env("MODELTRAIL_TOKEN", &token)
            .env("MODELTRAIL_SELFTEST_PROBE_TOKEN", &probe)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Checks a report file offline with the log's key: the event holds the report, hashes to the
/// leaf, and is proved included in the signed checkpoint.
fn check_report_offline(file: &Value, key: &NoteVerifier) {
    let entry = &file["log_entry"];
    let signed = SignedCheckpoint::open(entry["checkpoint"].as_str().unwrap(), key)
        .expect("the checkpoint is signed with the log key");
    let mut event = entry["event"].clone();
    event.as_object_mut().unwrap().remove("leaf");
    let event: Event = serde_json::from_value(event).unwrap();
    assert_eq!(event.action, "system.qualification");
    assert_eq!(event.payload["report"], file["report"]);
    assert_eq!(event.payload["result"], file["result"]);
    let leaf = leaf_hash(&event.to_canonical().unwrap());
    assert_eq!(leaf.to_hex(), entry["leaf"].as_str().unwrap());
    let proof: Vec<Hash> = entry["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(
        &leaf,
        event.seq,
        signed.checkpoint().size,
        &proof,
        &signed.checkpoint().root,
    )
    .expect("the report's event is in the signed log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn selftest_qualifies_a_running_server_and_records_its_report_in_the_log() {
    let work = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(StoreConfig {
        data_dir: work.path().join("data"),
        database_url: None,
    });
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(ADMIN_PASSWORD.into());
    let running = start(config).await.unwrap();
    let base = format!("http://{}", running.addr);
    let api = |path: &str| format!("{base}/api/v1/{path}");
    let http = reqwest::Client::new();
    let admin = post(
        &http,
        api("auth/login"),
        None,
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &http,
        api("users"),
        Some(&admin),
        json!({"id": "vera", "name": "Vera Viewer", "role": "viewer", "password": "vera-first-password"}),
    )
    .await;
    let viewer = post(
        &http,
        api("auth/login"),
        None,
        json!({"username": "vera", "password": "vera-first-password"}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &http,
        api("auth/password"),
        Some(&viewer),
        json!({"current_password": "vera-first-password", "new_password": "vera-second-password"}),
    )
    .await;
    let key_text = http
        .get(api("log/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = NoteVerifier::from_text(key_text.trim()).unwrap();

    let out = work.path().join("selftest.json");
    let run = selftest(&base, &admin, &viewer, &out).await;
    assert!(run.status.success(), "selftest: {}", text(&run));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["result"], "pass", "{report}");
    let checks = report["report"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 7, "{report}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{report}");
    assert_eq!(report["report"]["operator"], "admin");
    let recomputed = checks
        .iter()
        .find(|c| c["name"] == "live log recomputes to the checkpoint")
        .unwrap();
    assert!(
        recomputed["detail"]
            .as_str()
            .unwrap()
            .contains("events re-hashed"),
        "{recomputed}"
    );
    check_report_offline(&report, &key);

    // An administrator's token as the probe: the role check fails, and so does the run; the
    // failed report is recorded as well.
    let failed_out = work.path().join("selftest-failed.json");
    let run = selftest(&base, &admin, &admin, &failed_out).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        text(&run).contains("FAIL a non-administrator"),
        "{}",
        text(&run)
    );
    let failed: Value =
        serde_json::from_str(&std::fs::read_to_string(&failed_out).unwrap()).unwrap();
    assert_eq!(failed["result"], "fail");
    check_report_offline(&failed, &key);
    let events: Value = http
        .get(api("events?action=system.qualification"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 2);

    // A viewer may not record a report (it cannot read the log), and the file is not written.
    let refused_out = work.path().join("selftest-viewer.json");
    let run = selftest(&base, &viewer, &viewer, &refused_out).await;
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(!refused_out.exists());
    running.stop().await.unwrap();
}
