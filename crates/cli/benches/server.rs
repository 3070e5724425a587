//! Server benchmark: the real `modeltrail serve` in a child process on SQLite, measured from
//! this process over loopback. Reports the idle resident memory of the fresh server, then record
//! creates over HTTP (authenticated, schema-validated, durable, signed checkpoint) with many
//! concurrent clients: requests per second and latency percentiles.
//!
//! `cargo bench -p modeltrail-cli --bench server`; MODELTRAIL_BENCH_SECONDS (default 10) and
//! MODELTRAIL_BENCH_CLIENTS (default 64) change the run.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark-admin-password";

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

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

fn model(i: u64) -> Value {
    json!({
        "name": format!("model-{i}"),
        "owner": "bench",
        "intended_use": "Flags anomalous tablet batches for QA review before release.",
        "context_of_use": "Advisory; a QA reviewer examines every flagged batch.",
        "gamp_category": 5,
        "risk": {"model_influence": "medium", "decision_consequence": "high", "model_risk": "high"}
    })
}

fn main() {
    let seconds: u64 = std::env::var("MODELTRAIL_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let clients: usize = std::env::var("MODELTRAIL_BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_modeltrail"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("MODELTRAIL_DATA_DIR", dir.path().join("data"))
        .env("MODELTRAIL_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start modeltrail serve");
    let server = Server(child);
    let pid = server.0.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .expect("client");
        wait_healthy(&http, &base).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("idle server RSS: {:.1} MiB", rss_kib(pid) as f64 / 1024.0);

        let login = |user: &'static str, password: &'static str| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                post(
                    &http,
                    format!("{base}/api/v1/auth/login"),
                    None,
                    json!({"username": user, "password": password}),
                )
                .await["token"]
                    .as_str()
                    .expect("token")
                    .to_owned()
            }
        };
        let admin = login("admin", PASSWORD).await;
        post(
            &http,
            format!("{base}/api/v1/users"),
            Some(&admin),
            json!({"id": "bench", "name": "Bench Developer", "role": "developer",
                    "kind": "service"}),
        )
        .await;
        let issued = post(
            &http,
            format!("{base}/api/v1/users/bench/tokens"),
            Some(&admin),
            json!({"label": "benchmark"}),
        )
        .await;
        let token: Arc<str> = issued["token"].as_str().expect("token").into();

        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        let started = Instant::now();
        for _ in 0..clients {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            let (stop, next, errors) = (stop.clone(), next.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let result = http
                        .post(format!("{base}/api/v1/records/model"))
                        .bearer_auth(&*token)
                        .json(&json!({"id": format!("m-{i}"), "data": model(i)}))
                        .send()
                        .await;
                    match result {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client task"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "record create over HTTP, {clients} clients, {seconds} s: {} created, {:.0} req/s, \
             p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, {} errors",
            all.len(),
            all.len() as f64 / elapsed,
            pct(0.50),
            pct(0.99),
            pct(0.999),
            all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            errors.load(Ordering::Relaxed)
        );
        println!(
            "server RSS after the run: {:.1} MiB",
            rss_kib(pid) as f64 / 1024.0
        );
    });
}
