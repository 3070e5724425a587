//! Web UI benchmark: server-side page rendering with a large log. The real `modeltrail serve`
//! runs in a child process on SQLite; a few records are made over HTTP, then the log is grown to
//! MODELTRAIL_BENCH_EVENTS events (default 1,000,000) through the store layer (the sequencer,
//! in batches: logins, failed logins and refusals, as a busy system logs them), the server is
//! started again on it, and each UI page is fetched with a session cookie over loopback:
//! median, 95th percentile and worst of MODELTRAIL_BENCH_RUNS (default 20) fetches per page.
//! The times include HTTP over loopback, so they bound the rendering time from above.
//!
//! `cargo bench -p modeltrail-cli --bench ui_pages`

use modeltrail_ledger::event::{Actor, AuthMethod, Client, EventDraft};
use modeltrail_store::keys::load_signer;
use modeltrail_store::{Sequencer, SequencerConfig, StoreConfig};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark-admin-password";
const QA_PASSWORD: &str = "quinn-benchmark-password-1";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn serve(data: &std::path::Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_modeltrail"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("MODELTRAIL_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    Server(child)
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..6000 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut request = http.request(method, url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let value: Value = response.json().await.expect("json");
    assert!(status.is_success(), "{status}: {value}");
    value
}

/// Users, a model, its version, an exception and a CAPA, through the API.
async fn seed(http: &reqwest::Client, base: &str) {
    use reqwest::Method as M;
    let login = |user: &'static str, password: &'static str| {
        call(
            http,
            M::POST,
            format!("{base}/api/v1/auth/login"),
            None,
            json!({"username": user, "password": password}),
        )
    };
    let admin = login("admin", PASSWORD).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (id, role) in [("quinn", "qa"), ("dana", "developer")] {
        call(http, M::POST, format!("{base}/api/v1/users"), Some(&admin),
             json!({"id": id, "name": format!("{id} Bench"), "role": role, "password": format!("{id}-first-password-1")})).await;
    }
    let first = call(
        http,
        M::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": "quinn", "password": "quinn-first-password-1"}),
    )
    .await;
    let t = first["token"].as_str().unwrap();
    call(
        http,
        M::POST,
        format!("{base}/api/v1/auth/password"),
        Some(t),
        json!({"current_password": "quinn-first-password-1", "new_password": QA_PASSWORD}),
    )
    .await;
    let first = call(
        http,
        M::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": "dana", "password": "dana-first-password-1"}),
    )
    .await;
    let t = first["token"].as_str().unwrap();
    call(http, M::POST, format!("{base}/api/v1/auth/password"), Some(t), json!({"current_password": "dana-first-password-1", "new_password": "dana-benchmark-password-1"})).await;
    let dev = call(
        http,
        M::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": "dana", "password": "dana-benchmark-password-1"}),
    )
    .await;
    let dev = dev["token"].as_str().unwrap().to_owned();
    let records = [
        (
            "model",
            "m-1",
            json!({"name": "tablet-coating", "owner": "dana", "intended_use": "Flags coating defects.",
            "context_of_use": "Advisory.", "gamp_category": 5, "risk": {"model_influence": "medium", "decision_consequence": "medium"}}),
        ),
        (
            "model_version",
            "mv-1",
            json!({"model": "m-1", "version": "1", "artifacts": [{"path": "model.pkl", "sha256": "a".repeat(64)}]}),
        ),
        (
            "exception",
            "ex-1",
            json!({"title": "Drift on line 3", "description": "PSI above the threshold.", "category": "drift",
            "severity": "major", "detected_by": {"kind": "person", "id": "dana"}}),
        ),
    ];
    for (kind, id, data) in records {
        let mut request = http
            .post(format!("{base}/api/v1/records/{kind}"))
            .bearer_auth(&dev)
            .json(&json!({"id": id, "data": data}));
        request = request.header("x-client-id", "bench");
        let response = request.send().await.expect("create");
        if !response.status().is_success() {
            eprintln!(
                "note: {kind} {id} not created: {}",
                response.text().await.unwrap_or_default()
            );
        }
    }
}

fn actor(id: &str, name: &str, role: &str, auth: AuthMethod) -> Actor {
    Actor {
        id: id.into(),
        name: name.into(),
        role: role.into(),
        auth,
    }
}

/// Grows the log to `target` events through the sequencer, in batches.
async fn grow(data: &std::path::Path, target: u64) -> Duration {
    let started = Instant::now();
    let config = StoreConfig {
        data_dir: data.to_owned(),
        database_url: None,
    };
    let store = Arc::new(config.open_existing().await.expect("open the store"));
    let signer = load_signer(data).expect("the signing key");
    let (sequencer, task) = Sequencer::start(store, signer, SequencerConfig::default())
        .await
        .expect("sequencer");
    let mut size = sequencer.latest_checkpoint().checkpoint().size;
    let client = Client {
        address: Some("10.0.0.7".into()),
        user_agent: Some("line-3 HMI".into()),
        client_id: None,
    };
    while size < target {
        let n = (target - size).min(5000);
        let drafts: Vec<EventDraft> = (0..n)
            .map(|i| {
                let k = size + i;
                let (actor, action, payload) = match k % 20 {
                    0 => (actor("unauthenticated", "unauthenticated client", "none", AuthMethod::Unauthenticated),
                          "auth.login_failed", json!({"username": "mallory", "failure": "unknown_user"})),
                    1 => (actor("dana", "dana Bench", "developer", AuthMethod::Session),
                          "access.denied", json!({"method": "GET", "path": "/api/v1/events", "reason": "role developer may not do this"})),
                    _ => (actor("quinn", "quinn Bench", "qa", AuthMethod::Session), "auth.login", json!({"user": "quinn"})),
                };
                EventDraft { actor, client: client.clone(), action: action.into(), record: None, prev: None, reason: None, target: None, payload }
            })
            .collect();
        sequencer.append_all(drafts).await.expect("append");
        size += n;
    }
    drop(sequencer);
    task.finished().await.expect("sequencer stopped");
    started.elapsed()
}

struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn login(base: &str) -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = http.get(format!("{base}/login")).send().await.unwrap();
        let login_cookie = form
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let text = form.text().await.unwrap();
        let at = text.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = &text[at..at + 64];
        let answer = http
            .post(format!("{base}/login"))
            .header("cookie", login_cookie)
            .form(&[
                ("csrf", csrf),
                ("username", "quinn"),
                ("password", QA_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "login");
        let cookie = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("mt_session="))
            .unwrap();
        Browser {
            http,
            base: base.to_owned(),
            cookie,
        }
    }

    async fn time(&self, path: &str) -> (Duration, usize) {
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        let elapsed = started.elapsed();
        assert!(
            status.is_success(),
            "{path}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        (elapsed, body.len())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let events: u64 = std::env::var("MODELTRAIL_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("MODELTRAIL_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let http = reqwest::Client::new();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        {
            let _server = serve(&data, port);
            wait_healthy(&http, &base).await;
            seed(&http, &base).await;
        }
        let grown = grow(&data, events).await;
        println!(
            "log grown to {events} events through the sequencer in {:.1} s",
            grown.as_secs_f64()
        );
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let _server = serve(&data, port);
        wait_healthy(&http, &base).await;
        println!(
            "server started on it (projection replayed) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let browser = Browser::login(&base).await;
        let middle = events / 2;
        // A one-minute window in the middle of the log, by the time of its middle event.
        let (_, body) = (
            0,
            call(
                &http,
                reqwest::Method::POST,
                format!("{base}/api/v1/auth/login"),
                None,
                json!({"username": "quinn", "password": QA_PASSWORD}),
            )
            .await,
        );
        let token = body["token"].as_str().unwrap().to_owned();
        let page = call_get(
            &http,
            &format!("{base}/api/v1/events?from={middle}&limit=1"),
            &token,
        )
        .await;
        let t = page["events"][0]["timestamp"].as_str().unwrap().to_owned();
        let since = &t[..16];
        let until = format!("{}:59", &t[..16]);
        let pages = vec![
            "/".to_owned(),
            "/trail".to_owned(),
            format!("/trail?before={middle}"),
            "/trail?action=access.denied".to_owned(),
            "/trail?actor=admin".to_owned(),
            format!("/trail?since={since}&until={until}"),
            format!("/trail/{middle}"),
            "/records".to_owned(),
            "/records/model".to_owned(),
            "/records/model/m-1".to_owned(),
            "/model-versions/mv-1".to_owned(),
            "/boards/exception".to_owned(),
            format!("/review?since={since}&until={until}"),
            "/review?since=2000-01-01T00:00&until=2999-01-01T00:00".to_owned(),
        ];
        println!(
            "{:<58} {:>9} {:>9} {:>9} {:>9}",
            "page", "median", "p95", "max", "bytes"
        );
        for path in &pages {
            browser.time(path).await; // warm
            let mut times = Vec::with_capacity(runs);
            let mut bytes = 0;
            for _ in 0..runs {
                let (d, b) = browser.time(path).await;
                times.push(d);
                bytes = b;
            }
            times.sort();
            let p95 = times[((runs * 95).div_ceil(100)).saturating_sub(1).min(runs - 1)];
            println!(
                "{:<58} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>9}",
                path,
                ms(times[runs / 2]),
                ms(p95),
                ms(times[runs - 1]),
                bytes
            );
        }
    });
}

async fn call_get(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}
