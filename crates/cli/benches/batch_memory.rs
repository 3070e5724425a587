//! Memory of a monitoring batch upload: the real `modeltrail serve` in a child process on
//! SQLite, an approved monitoring plan over 10 numerical features and one categorical one, and
//! a CSV batch of about 100 MB (`BATCH_BENCH_MB`) streamed to
//! `POST /api/v1/monitoring-batches/file`. The server's resident memory is sampled every 5 ms
//! from `/proc` while it receives, reads and evaluates the file; the bench prints the growth
//! over the warm server (a small batch first, so the reference summaries are cached) of the
//! whole resident set and of its anonymous part (heap; the rest is the mapped file, page cache
//! the kernel can drop).
//!
//! `cargo bench -p modeltrail-cli --bench batch_memory`

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark-admin-password";
const FEATURES: usize = 10;

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

/// (VmRSS, RssAnon) in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn call(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).expect("json")
}

/// A person with a changed password, logged in: their session token.
async fn person(http: &reqwest::Client, base: &str, admin: &str, id: &str, role: &str) -> String {
    let first = format!("{id}-first-password-1");
    call(
        http,
        format!("{base}/api/v1/users"),
        Some(admin),
        json!({"id": id, "name": format!("{id} Bench"), "role": role, "password": first}),
    )
    .await;
    let token = login(http, base, id, &first).await;
    call(
        http,
        format!("{base}/api/v1/auth/password"),
        Some(&token),
        json!({"current_password": first, "new_password": format!("{id}-second-password-2")}),
    )
    .await;
    login(http, base, id, &format!("{id}-second-password-2")).await
}

async fn login(http: &reqwest::Client, base: &str, id: &str, password: &str) -> String {
    call(
        http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": id, "password": password}),
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// One CSV row: the features, a site, a prediction and a label.
fn row(out: &mut String, i: u64, shift: f64) {
    use std::fmt::Write as _;
    let _ = write!(out, "r{i}");
    for f in 0..FEATURES as u64 {
        let x = ((i * (7 + f) + f * 13) % 1000) as f64 / 10.0 + shift;
        let _ = write!(out, ",{x:.2}");
    }
    let _ = writeln!(
        out,
        ",{},{},{}",
        ["A", "B", "C"][(i % 3) as usize],
        i % 2,
        (i / 2) % 2
    );
}

fn header() -> String {
    let mut h = String::from("request");
    for f in 0..FEATURES {
        h.push_str(&format!(",f{f}"));
    }
    h.push_str(",site,y_pred,y_true\n");
    h
}

/// Writes a CSV of about `megabytes` MB; returns its path and rows.
fn batch_file(
    dir: &std::path::Path,
    name: &str,
    megabytes: u64,
    shift: f64,
) -> (std::path::PathBuf, u64) {
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut written = 0u64;
    let mut rows = 0u64;
    let mut text = header();
    while written < megabytes * 1_000_000 {
        for _ in 0..1000 {
            row(&mut text, rows, shift);
            rows += 1;
        }
        written += text.len() as u64;
        file.write_all(text.as_bytes()).expect("write");
        text.clear();
    }
    file.flush().expect("flush");
    (path, rows)
}

async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &std::path::Path,
    id: &str,
) -> Value {
    let file = tokio::fs::File::open(path).await.expect("open");
    let size = file.metadata().await.expect("metadata").len();
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), size)
        .file_name("window.csv")
        .mime_str("text/csv")
        .expect("mime");
    let record = json!({"id": id,
        "data": {"plan": "mp1", "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z"}},
        "columns": {"predictions": "y_pred", "labels": "y_true"}});
    let form = reqwest::multipart::Form::new()
        .text("record", record.to_string())
        .part("file", part);
    let response = http
        .post(format!("{base}/api/v1/monitoring-batches/file"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).expect("json")
}

fn main() {
    let megabytes: u64 = std::env::var("BATCH_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
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
            .timeout(Duration::from_secs(600))
            .build()
            .expect("client");
        for _ in 0..300 {
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let admin = login(&http, &base, "admin", PASSWORD).await;
        let dev = person(&http, &base, &admin, "dev", "developer").await;
        let qa = person(&http, &base, &admin, "qa", "qa").await;

        // The reference: 20,000 rows of the same shape, uploaded as the dataset's data.
        let mut reference = header();
        for i in 0..20_000 {
            row(&mut reference, i, 0.0);
        }
        let csv = reference.into_bytes();
        let canonical = format!("{}  reference.csv\n", sha256_hex(&csv));
        let features: Vec<Value> = (0..FEATURES)
            .map(|f| json!({"name": format!("f{f}"), "type": "numerical"}))
            .chain([json!({"name": "site", "type": "categorical"})])
            .collect();
        for (kind, id, data) in [
            ("model", "m1", json!({"name": "m", "owner": "dev", "intended_use": "Flags batches.",
                "context_of_use": "Advisory.", "gamp_category": 5,
                "risk": {"model_influence": "low", "decision_consequence": "low"}})),
            ("model_version", "mv1", json!({"model": "m1", "version": "1",
                "artifacts": [{"path": "model.pkl", "sha256": "c".repeat(64)}]})),
            ("dataset_version", "ref", json!({"name": "reference", "version": "1", "source": "MES",
                "content_digest": sha256_hex(canonical.as_bytes()),
                "manifest": [{"path": "reference.csv", "sha256": sha256_hex(&csv), "size_bytes": csv.len()}]})),
            ("monitoring_plan", "mp1", json!({"model_version": "mv1", "reference_dataset": "ref",
                "features": features,
                "performance_metrics": [{"metric": "accuracy", "op": ">=", "threshold": 0.4}],
                "action_plan": "QA investigates."})),
        ] {
            call(&http, format!("{base}/api/v1/records/{kind}"), Some(&dev),
                 json!({"id": id, "data": data})).await;
        }
        let response = http
            .post(format!("{base}/api/v1/dataset-versions/ref/data?path=reference.csv"))
            .bearer_auth(&dev)
            .body(csv)
            .send()
            .await
            .expect("reference upload");
        assert!(response.status().is_success(), "{}", response.text().await.unwrap_or_default());
        call(
            &http,
            format!("{base}/api/v1/records/monitoring_plan/mp1/versions/1/signatures"),
            Some(&qa),
            json!({"meaning": "approved", "username": "qa", "password": "qa-second-password-2"}),
        )
        .await;

        // Warm: a small batch reads and caches the reference summaries.
        let (small, _) = batch_file(dir.path(), "small.csv", 1, 0.0);
        upload(&http, &base, &dev, &small, "warm").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (path, rows) = batch_file(dir.path(), "window.csv", megabytes, 3.0);
        let size = std::fs::metadata(&path).expect("size").len();
        let (base_rss, base_anon) = memory_kib(pid);

        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut rss, mut anon) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let (r, a) = memory_kib(pid);
                    rss = rss.max(r);
                    anon = anon.max(a);
                    std::thread::sleep(Duration::from_millis(5));
                }
                (rss, anon)
            })
        };
        let started = Instant::now();
        let answer = upload(&http, &base, &dev, &path, "big").await;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (peak_rss, peak_anon) = sampler.join().expect("sampler");
        assert_eq!(answer["data"]["rows"], json!(rows), "{answer}");
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "monitoring batch of {:.1} MB CSV ({rows} rows, {} features + predictions and labels): \
             {:.2} s",
            size as f64 / 1e6,
            FEATURES + 1,
            elapsed.as_secs_f64()
        );
        println!(
            "server memory before: RSS {:.1} MiB (anonymous {:.1} MiB); peak growth: RSS {:.1} MiB, \
             anonymous {:.1} MiB",
            mib(base_rss),
            mib(base_anon),
            mib(peak_rss.saturating_sub(base_rss)),
            mib(peak_anon.saturating_sub(base_anon))
        );
    });
    drop(server);
}
