//! Decision-record benchmark.
//!
//! 1. Ingestion: the real `modeltrail serve` in a child process (SQLite, then PostgreSQL unless
//!    `MODELTRAIL_BENCH_PG=none`), a service account posting batches of 10,000 decision
//!    records of about 200 bytes each as JSON lines to `POST /api/v1/decisions:batch`, one
//!    batch after another: each answer means the batch is durable under a signed checkpoint.
//!    Reports records per second over `DECISION_BENCH_BATCHES` batches (default 30).
//! 2. Proof latency: a log of `DECISION_BENCH_LEAVES` decision events (default 10,000,000)
//!    built directly through the store's sequencer (SQLite; batches of 10,000), then the
//!    inclusion proof of random decisions by request id as the server serves it: the record
//!    index lookup, the event read, the proof's stored subtree hashes. Reports p50, p99 and
//!    max over `DECISION_BENCH_PROOFS` lookups (default 10,000).
//!
//! `cargo bench -p modeltrail-cli --bench decisions`; `DECISION_BENCH_SKIP` = `ingest` or
//! `proof` leaves one part out.

use modeltrail_ledger::event::{Actor, AuthMethod, EventDraft, RecordRef};
use modeltrail_store::keys::load_or_create_signer;
use modeltrail_store::proofs::inclusion_proof;
use modeltrail_store::sqlite::SqliteStore;
use modeltrail_store::{LogStore, Sequencer, SequencerConfig};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark-admin-password";
const BATCH: usize = 10_000;
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert!(status.is_success(), "{status} {body}");
    body
}

/// One decision line of about 200 bytes (the input sent as its digest).
fn line(i: u64, out: &mut Vec<u8>) {
    let confidence = ((i * 7919) % 1000) as f64 / 1000.0;
    let record = json!({
        "request_id": format!("req-{i:012}"),
        "model_version": "mv-1",
        "environment": "staging",
        "predicted_at": "2026-12-04T10:00:00Z",
        "input_digest": format!("{:064x}", i),
        "output": {"label": if confidence > 0.5 { "pass" } else { "fail" }},
        "confidence": confidence,
    });
    serde_json::to_writer(&mut *out, &record).expect("json");
    out.push(b'\n');
}

async fn ingest(backend: &str, database: Option<String>, batches: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_modeltrail"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("MODELTRAIL_DATA_DIR", dir.path().join("data"))
        .env("MODELTRAIL_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &database {
        command.env("MODELTRAIL_DATABASE_URL", url);
    }
    let _server = Server(command.spawn().expect("start modeltrail serve"));
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = post(
        &http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": PASSWORD}),
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    post(
        &http,
        format!("{base}/api/v1/users"),
        Some(&admin),
        json!({"id": "svc", "name": "Serving", "role": "developer", "kind": "service"}),
    )
    .await;
    let token = post(
        &http,
        format!("{base}/api/v1/users/svc/tokens"),
        Some(&admin),
        json!({"label": "bench"}),
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    post(
        &http,
        format!("{base}/api/v1/records/model"),
        Some(&token),
        json!({"id": "m-1", "data": {"name": "m", "owner": "bench",
               "intended_use": "Flags anomalous tablet batches.", "context_of_use": "Advisory.",
               "gamp_category": 5,
               "risk": {"model_influence": "low", "decision_consequence": "low"}}}),
    )
    .await;
    post(
        &http,
        format!("{base}/api/v1/records/model_version"),
        Some(&token),
        json!({"id": "mv-1", "data": {"model": "m-1", "version": "1",
               "artifacts": [{"path": "model.pkl", "sha256": "a".repeat(64)}]}}),
    )
    .await;
    post(
        &http,
        format!("{base}/api/v1/model-versions/mv-1/deployments"),
        Some(&token),
        json!({"environment": "staging", "target": "bench"}),
    )
    .await;

    let bodies: Vec<Vec<u8>> = (0..batches)
        .map(|b| {
            let mut body = Vec::with_capacity(BATCH * 240);
            for i in 0..BATCH {
                line((b * BATCH + i) as u64, &mut body);
            }
            body
        })
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let mut times = Vec::new();
    let started = Instant::now();
    for body in bodies {
        let t = Instant::now();
        let response = http
            .post(format!("{base}/api/v1/decisions:batch"))
            .bearer_auth(&token)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .expect("batch");
        let status = response.status();
        let answer: Value = response.json().await.expect("json");
        assert_eq!(status.as_u16(), 201, "{answer}");
        times.push(t.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort();
    let records = batches * BATCH;
    println!(
        "{backend}: {records} decisions ({:.0} bytes each) in {batches} batches of {BATCH}: \
         {:.0} records/s; per batch p50 {:.0} ms, max {:.0} ms",
        bytes as f64 / records as f64,
        records as f64 / elapsed,
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
}

fn decision_draft(i: u64) -> EventDraft {
    let confidence = ((i * 7919) % 1000) as f64 / 1000.0;
    EventDraft {
        actor: Actor {
            id: "svc".into(),
            name: "Serving".into(),
            role: "developer".into(),
            auth: AuthMethod::ApiToken,
        },
        client: Default::default(),
        action: "decision.record".into(),
        record: Some(RecordRef {
            kind: "decision".into(),
            id: format!("req-{i:012}"),
            version: 1,
        }),
        prev: None,
        reason: None,
        target: None,
        payload: json!({
            "model_version": "mv-1", "environment": "staging",
            "predicted_at": "2026-12-04T10:00:00Z", "input_digest": format!("{i:064x}"),
            "output": {"label": "pass"}, "confidence": confidence, "threshold": 0.5,
            "threshold_source": {"kind": "default"},
            "state": if confidence < 0.5 { "undecided" } else { "decided" },
        }),
    }
}

async fn proofs(leaves: u64, lookups: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("log.db")).expect("store"));
    let signer = load_or_create_signer(dir.path(), "bench.modeltrail/decisions").expect("key");
    let (sequencer, task) = Sequencer::start(store.clone(), signer, SequencerConfig::default())
        .await
        .expect("sequencer");
    let started = Instant::now();
    let mut next = 0u64;
    while next < leaves {
        let n = (leaves - next).min(BATCH as u64);
        let drafts = (next..next + n).map(decision_draft).collect();
        sequencer.append_all(drafts).await.expect("append");
        next += n;
        if next % 1_000_000 == 0 {
            eprintln!(
                "  built {next} decisions in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "built a log of {leaves} decisions through the sequencer in {:.0} s ({:.0} records/s)",
        started.elapsed().as_secs_f64(),
        leaves as f64 / started.elapsed().as_secs_f64()
    );
    let size = sequencer.latest_checkpoint().checkpoint().size;
    let mut times = Vec::with_capacity(lookups);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..lookups {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = state % leaves;
        let id = format!("req-{i:012}");
        let t = Instant::now();
        let head = store
            .record_head("decision", &id)
            .await
            .expect("lookup")
            .expect("indexed");
        let entry = store.entries(head.seq, 1).await.expect("event");
        let proof = inclusion_proof(store.as_ref(), head.seq, size)
            .await
            .expect("proof");
        times.push(t.elapsed());
        assert_eq!(entry[0].seq, i);
        assert!(!proof.is_empty());
    }
    times.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "proof by request id among {leaves} decisions ({lookups} random lookups: index, event, \
         proof): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(&times[times.len() / 2]),
        ms(&times[times.len() * 99 / 100]),
        ms(times.last().expect("a lookup"))
    );
    drop(sequencer);
    task.finished().await.expect("sequencer stops");
}

fn main() {
    let skip = std::env::var("DECISION_BENCH_SKIP").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if skip != "ingest" {
            let batches = env_or("DECISION_BENCH_BATCHES", 30usize);
            ingest("SQLite", None, batches).await;
            let pg = std::env::var("MODELTRAIL_BENCH_PG").unwrap_or_else(|_| PG_URL.into());
            if pg != "none" {
                let schema = format!("bench_decisions_{}", std::process::id());
                modeltrail_store::postgres::drop_schema(&pg, &schema)
                    .await
                    .expect("drop schema");
                let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
                    .await
                    .expect("PostgreSQL");
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("schema");
                let url = format!("{pg}?options=-c%20search_path%3D{schema}");
                ingest("PostgreSQL", Some(url), batches).await;
                modeltrail_store::postgres::drop_schema(&pg, &schema)
                    .await
                    .expect("drop schema");
            }
        }
        if skip != "proof" {
            proofs(
                env_or("DECISION_BENCH_LEAVES", 10_000_000u64),
                env_or("DECISION_BENCH_PROOFS", 10_000usize),
            )
            .await;
        }
    });
}
