//! `modeltrail report dossier` against a real server, run as the real binary: the PDF and the
//! HTML written where asked, their digests the ones the log recorded; and the report's own
//! verification instructions followed to the letter: an export bundle of the log verified
//! against the signed checkpoint printed in the report, and the report found in it by its id
//! with its SHA-256.

use modeltrail_server::{start, ServerConfig};
use modeltrail_store::StoreConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// A person with a role, logged in with their password changed; their token.
    async fn person(&self, admin: &str, id: &str, role: &str) -> String {
        let first = format!("{id}-first-password");
        self.post(
            "/api/v1/users",
            Some(admin),
            json!({"id": id, "name": format!("{id} Example"), "role": role, "password": first}),
        )
        .await;
        let token = self.login(id, &first).await;
        self.post(
            "/api/v1/auth/password",
            Some(&token),
            json!({"current_password": first, "new_password": format!("{id}-signing-password")}),
        )
        .await;
        token
    }

    async fn login(&self, id: &str, password: &str) -> String {
        let answer = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": id, "password": password}),
            )
            .await;
        answer["token"].as_str().unwrap().to_owned()
    }
}

/// Runs the binary with `token` as MODELTRAIL_TOKEN (if any) on a blocking thread.
async fn modeltrail(args: &[&str], server: &str, token: Option<&str>, config: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modeltrail"));
    command
        .args(args)
        .env_remove("MODELTRAIL_TOKEN")
        .env_remove("MODELTRAIL_DATA_DIR")
        .env_remove("MODELTRAIL_DATABASE_URL")
        .env("MODELTRAIL_CONFIG_DIR", config)
        .env("MODELTRAIL_SERVER", server);
    if let Some(token) = token {
        command.env("MODELTRAIL_TOKEN", token);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn all(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `<pre>` block of an HTML report that holds the signed checkpoint, unescaped.
fn signed_checkpoint(html: &str) -> String {
    html.split("<pre>")
        .skip(1)
        .filter_map(|rest| rest.split("</pre>").next())
        .find(|block| block.contains("\n\n\u{2014} "))
        .expect("the signed checkpoint in the report")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_is_written_and_verifies_against_an_export_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut config = ServerConfig::new(StoreConfig {
        data_dir: data_dir.clone(),
        database_url: None,
    });
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(ADMIN_PASSWORD.into());
    let running = start(config).await.unwrap();
    let base = format!("http://{}", running.addr);
    let http = Http {
        base: base.clone(),
        client: reqwest::Client::new(),
    };
    let admin = http.login("admin", ADMIN_PASSWORD).await;
    let dev = http.person(&admin, "dev", "developer").await;
    let qa = http.person(&admin, "qa", "qa").await;
    http.post(
        "/api/v1/records/model",
        Some(&dev),
        json!({"id": "m1", "data": {"name": "tablet-anomaly", "owner": "dev",
               "intended_use": "Flags anomalous tablet batches for QA review.",
               "context_of_use": "Advisory.", "gamp_category": 5,
               "risk": {"model_influence": "low", "decision_consequence": "low"}}}),
    )
    .await;
    http.post(
        "/api/v1/records/model/m1/versions/1/signatures",
        Some(&qa),
        json!({"meaning": "approved", "username": "qa", "password": "qa-signing-password"}),
    )
    .await;
    http.post(
        "/api/v1/records/model_version",
        Some(&dev),
        json!({"id": "mv1", "data": {"model": "m1", "version": "1",
               "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}]}}),
    )
    .await;
    let config_dir = dir.path().join("config");

    // PDF and HTML, each written where asked with the digest the log recorded.
    let pdf_path = dir.path().join("dossier.pdf");
    let out = modeltrail(
        &[
            "report",
            "dossier",
            "--model-version",
            "mv1",
            "--format",
            "pdf",
            "--out",
        ],
        &base,
        Some(&qa),
        &config_dir,
    )
    .await;
    assert_ne!(
        out.status.code(),
        Some(0),
        "--out needs a value: {}",
        all(&out)
    );
    let out = modeltrail(
        &[
            "report",
            "dossier",
            "--model-version",
            "mv1",
            "--format",
            "pdf",
            "--out",
            pdf_path.to_str().unwrap(),
        ],
        &base,
        Some(&qa),
        &config_dir,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let pdf = std::fs::read(&pdf_path).unwrap();
    let pdf_digest = hex::encode(Sha256::digest(&pdf));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains(&pdf_digest), "{stdout}");
    let document = lopdf::Document::load_mem(&pdf).unwrap();
    let pages = document.get_pages().len();
    let first = document.extract_text(&[1]).unwrap().replace('\n', " ");
    assert!(first.contains(&format!("Page 1 of {pages}")), "{first}");
    assert!(first.contains("mv1 (version 1)"), "{first}");

    let html_path = dir.path().join("dossier.html");
    let out = modeltrail(
        &[
            "report",
            "dossier",
            "--model-version",
            "mv1",
            "--format",
            "html",
            "--out",
            html_path.to_str().unwrap(),
        ],
        &base,
        Some(&qa),
        &config_dir,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Flags anomalous tablet batches for QA review."));
    let html_id = html
        .split("<dd id=\"report-id\">")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .expect("the report id")
        .to_owned();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&html_id));

    // Refusals: an unknown version (nothing written), no credentials, a format not offered.
    let missing = dir.path().join("missing.pdf");
    let args = [
        "report",
        "dossier",
        "--model-version",
        "nope",
        "--out",
        missing.to_str().unwrap(),
    ];
    let out = modeltrail(&args, &base, Some(&qa), &config_dir).await;
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(
        all(&out).contains("model_version `nope` does not exist"),
        "{}",
        all(&out)
    );
    assert!(!missing.exists());
    let out = modeltrail(&args, &base, None, &config_dir).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(all(&out).contains("not logged in"), "{}", all(&out));
    let out = modeltrail(
        &[
            "report",
            "dossier",
            "--model-version",
            "mv1",
            "--format",
            "docx",
            "--out",
            "x",
        ],
        &base,
        Some(&qa),
        &config_dir,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(all(&out).contains("docx"), "{}", all(&out));

    // The report's instructions: export the log, verify it against the checkpoint printed in
    // the report, and find the report in it by its id, with this file's SHA-256.
    running.stop().await.unwrap();
    let bundle = dir.path().join("bundle");
    let out = modeltrail(
        &[
            "export",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--out",
            bundle.to_str().unwrap(),
        ],
        &base,
        None,
        &config_dir,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let checkpoint = dir.path().join("checkpoint.txt");
    std::fs::write(&checkpoint, signed_checkpoint(&html)).unwrap();
    let key = data_dir.join("verifier.key");
    let verify = [
        "verify",
        bundle.to_str().unwrap(),
        "--public-key",
        key.to_str().unwrap(),
        "--trusted-checkpoint",
        checkpoint.to_str().unwrap(),
    ];
    let out = modeltrail(&verify, &base, None, &config_dir).await;
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let events = std::fs::read_to_string(bundle.join("events.jsonl")).unwrap();
    let recorded: Vec<Value> = events
        .lines()
        .filter(|line| line.contains(&html_id))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(recorded.len(), 1, "the report's event, found by its id");
    let html_digest = hex::encode(Sha256::digest(html.as_bytes()));
    assert_eq!(recorded[0]["payload"]["sha256"], html_digest.as_str());
    assert!(events.contains(&pdf_digest), "the PDF's event too");

    // A checkpoint the log does not contain is refused.
    let forged = signed_checkpoint(&html).replacen('\n', "\n1", 1);
    std::fs::write(&checkpoint, forged).unwrap();
    let out = modeltrail(&verify, &base, None, &config_dir).await;
    assert_ne!(out.status.code(), Some(0), "{}", all(&out));
}
