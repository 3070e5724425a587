//! Graceful shutdown of the real `modeltrail serve`: SIGTERM under a load of writes; the server
//! exits 0, and after a restart every create it acknowledged is there and the log verifies.

mod common;

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORD: &str = "shutdown-test-admin-password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(data: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_modeltrail"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("MODELTRAIL_DATA_DIR", data)
        .env("MODELTRAIL_ADMIN_PASSWORD", PASSWORD)
        .env_remove("MODELTRAIL_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not come up");
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

fn model(i: usize) -> Value {
    json!({
        "name": format!("m{i}"), "owner": "pipeline", "intended_use": "Flags batches.",
        "context_of_use": "Advisory.", "gamp_category": 5,
        "risk": {"model_influence": "low", "decision_consequence": "low", "model_risk": "low"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut child = serve(&data, port);
    healthy(&http, &base).await;
    let login = json!({"username": "admin", "password": PASSWORD});
    let admin = post(
        &http,
        format!("{base}/api/v1/auth/login"),
        None,
        login.clone(),
    )
    .await;
    let admin = admin["token"].as_str().unwrap().to_owned();
    post(
        &http,
        format!("{base}/api/v1/users"),
        Some(&admin),
        json!({"id": "pipeline", "name": "Pipeline", "role": "developer", "kind": "service"}),
    )
    .await;
    let issued = post(
        &http,
        format!("{base}/api/v1/users/pipeline/tokens"),
        Some(&admin),
        json!({"label": "test"}),
    )
    .await;
    let token = issued["token"].as_str().unwrap().to_owned();

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (http, base, token, acknowledged) = (
            http.clone(),
            base.clone(),
            token.clone(),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("w{w}-{i}");
                let sent = http
                    .post(format!("{base}/api/v1/records/model"))
                    .bearer_auth(&token)
                    .json(&json!({"id": id, "data": model(i)}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().as_u16() == 201 => acknowledged.lock().unwrap().push(id),
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the server exits 0 on SIGTERM: {status}");
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "the load ran: {}",
        acknowledged.len()
    );

    let mut child = serve(&data, port);
    healthy(&http, &base).await;
    let admin = post(&http, format!("{base}/api/v1/auth/login"), None, login).await;
    let admin = admin["token"].as_str().unwrap().to_owned();
    for id in &acknowledged {
        let r = http
            .get(format!("{base}/api/v1/records/model/{id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "acknowledged {id} is missing");
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = common::run(&["verify", &data.display().to_string()], "");
    assert!(out.status.success(), "{}", common::text(&out));
}
