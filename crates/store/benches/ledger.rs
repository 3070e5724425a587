//! Storage benchmarks, printed as a table (run: `cargo bench -p modeltrail-store --bench ledger`):
//! durable appends per second through the sequencer with 1, 8 and 64 writers on SQLite and
//! PostgreSQL; inclusion and consistency proofs from a store of 1M leaves; verification speed
//! against raw single-core SHA-256 over the same bytes.
//!
//! Environment: MODELTRAIL_BENCH_SECONDS (per append run, default 5), MODELTRAIL_BENCH_LEAVES
//! (default 1000000), MODELTRAIL_BENCH_PG (PostgreSQL URL, default the local `test` database;
//! `none` skips PostgreSQL).

use ed25519_dalek::SigningKey;
use modeltrail_ledger::checkpoint::Checkpoint;
use modeltrail_ledger::event::{Actor, AuthMethod, EncodedEvent, EventDraft};
use modeltrail_ledger::note::NoteSigner;
use modeltrail_ledger::proof::{consistency_plan, inclusion_plan};
use modeltrail_ledger::tree::Frontier;
use modeltrail_ledger::verify::{ChunkChecker, LogVerifier};
use modeltrail_ledger::Timestamp;
use modeltrail_store::audit::{verify_store, AuditConfig};
use modeltrail_store::postgres::{drop_schema, PgStore};
use modeltrail_store::proofs::{consistency_proof, inclusion_proof};
use modeltrail_store::sqlite::SqliteStore;
use modeltrail_store::{
    AnyStore, Batch, LogIdentity, LogStore, NewEntry, Sequencer, SequencerConfig, StoredCheckpoint,
};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENT_BYTES: usize = 300;
const VERIFY_RUNS: usize = 7;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn signer() -> NoteSigner {
    NoteSigner::new("bench.example/log", SigningKey::from_bytes(&[3; 32])).expect("signer")
}

/// A draft whose canonical encoding, sealed, is EVENT_BYTES long.
fn draft_of_size() -> EventDraft {
    let mut draft = EventDraft {
        actor: Actor {
            id: "svc-serving".into(),
            name: "Serving Pipeline".into(),
            role: "developer".into(),
            auth: AuthMethod::ApiToken,
        },
        client: Default::default(),
        action: "bench.event".into(),
        record: None,
        prev: None,
        reason: Some("benchmark".into()),
        target: None,
        payload: serde_json::json!({"pad": ""}),
    };
    let len = |d: &EventDraft| {
        EncodedEvent::encode(&d.clone().seal(1_000_000, Timestamp::now()))
            .expect("encodes")
            .bytes
            .len()
    };
    let pad = EVENT_BYTES.saturating_sub(len(&draft));
    draft.payload = serde_json::json!({ "pad": "x".repeat(pad) });
    draft
}

async fn appends_per_second(store: AnyStore, writers: usize, seconds: f64) -> (f64, usize) {
    let (sequencer, task) = Sequencer::start(
        Arc::new(store.clone()),
        signer(),
        SequencerConfig::default(),
    )
    .await
    .expect("sequencer starts");
    let draft = draft_of_size();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (sequencer, draft, stop, done) =
            (sequencer.clone(), draft.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sequencer.append(draft.clone()).await.expect("append");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("writer");
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    drop(sequencer);
    task.finished().await.expect("sequencer stops");
    let transactions = store.checkpoints().await.expect("checkpoints").len();
    (rate, transactions)
}

/// Fills a store with `leaves` events quickly (direct batches, one signed checkpoint each).
async fn fill(store: &AnyStore, leaves: u64) {
    let signer = signer();
    store
        .init_identity(&LogIdentity {
            origin: signer.name().into(),
            verifier_key: signer.verifier().to_text(),
        })
        .await
        .expect("identity");
    let draft = draft_of_size();
    let mut frontier = Frontier::new();
    let time = Timestamp::now();
    while frontier.size() < leaves {
        let n = (leaves - frontier.size()).min(16_384);
        let mut entries = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let e =
                EncodedEvent::encode(&draft.clone().seal(frontier.size(), time)).expect("encodes");
            let hashes = frontier.append(e.leaf);
            entries.push(NewEntry {
                seq: e.seq,
                timestamp: time,
                body: e.bytes,
                hashes,
                record: None,
            });
        }
        let cp = Checkpoint {
            origin: signer.name().into(),
            size: frontier.size(),
            root: frontier.root(),
            timestamp: time,
        }
        .sign(&signer)
        .expect("signs");
        store
            .append(&Batch {
                entries,
                checkpoint: StoredCheckpoint {
                    size: frontier.size(),
                    text: cp.text().into(),
                },
                checkpoint_time: time,
            })
            .await
            .expect("append");
    }
}

fn quantiles(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let mean = d.iter().sum::<Duration>() / d.len() as u32;
    (mean, d[d.len() / 2], d[d.len() * 99 / 100])
}

async fn proof_times(store: &AnyStore, leaves: u64, label: &str) {
    let mut inc = Vec::new();
    let mut con = Vec::new();
    let mut x = 12345u64;
    for _ in 0..2000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let index = (x >> 11) % leaves;
        let t = Instant::now();
        inclusion_proof(store, index, leaves).await.expect("proof");
        inc.push(t.elapsed());
        let first = 1 + (x >> 11) % (leaves - 1);
        let t = Instant::now();
        consistency_proof(store, first, leaves)
            .await
            .expect("proof");
        con.push(t.elapsed());
    }
    let nodes = inclusion_plan(leaves / 3, leaves).map_or(0, |p| p.nodes().len());
    let cnodes = consistency_plan(leaves / 3, leaves).map_or(0, |p| p.nodes().len());
    for (what, d, n) in [("inclusion", inc, nodes), ("consistency", con, cnodes)] {
        let (mean, p50, p99) = quantiles(d);
        println!(
            "{label:<10} {what:<12} proof at {leaves} leaves (~{n} stored hashes): \
             mean {mean:?}, p50 {p50:?}, p99 {p99:?}"
        );
    }
}

async fn verify_rate(store: &AnyStore, label: &str) {
    let entries = store.entries(0, usize::MAX >> 1).await.expect("entries");
    let bytes: usize = entries.iter().map(|e| e.body.len()).sum();
    let mut raws: Vec<Duration> = (0..VERIFY_RUNS)
        .map(|_| {
            let t = Instant::now();
            let mut sink = 0u8;
            for e in &entries {
                sink ^= Sha256::digest(&e.body)[0];
            }
            std::hint::black_box(sink);
            t.elapsed()
        })
        .collect();
    raws.sort();
    let raw = raws[raws.len() / 2];
    // Where verification's time goes, each stage alone on one core.
    let chunk = AuditConfig::default().chunk as u64;
    let t = Instant::now();
    let checked: Vec<_> = entries
        .chunks(chunk as usize)
        .map(|part| {
            let begin = part.first().map_or(0, |e| e.seq);
            let mut checker = ChunkChecker::new(begin, begin + chunk);
            for e in part {
                checker.push(e.seq, &e.body, &e.hashes);
            }
            checker.finish()
        })
        .collect();
    let check = t.elapsed();
    let t = Instant::now();
    let mut log = LogVerifier::new(Vec::new()).expect("verifier");
    for part in checked {
        log.push_chunk(part).expect("push");
    }
    let fold = t.elapsed();
    let t = Instant::now();
    let mut from = 0;
    loop {
        let chunk = store.entries(from, 4096).await.expect("entries");
        let Some(last) = chunk.last() else { break };
        from = last.seq + 1;
    }
    let read = t.elapsed();
    let t = Instant::now();
    let size = store.size().await.expect("size");
    for begin in (0..size).step_by(chunk as usize) {
        let checked = store
            .checked_entries(begin, begin + chunk)
            .await
            .expect("read");
        std::hint::black_box(checked);
    }
    let read_check = t.elapsed();
    println!(
        "{label:<10} verify stages, one core each: read with copies {read:.2?}, check chunks \
         {check:.2?}, read and check in place {read_check:.2?}, tree and order {fold:.2?}"
    );
    // Verification proper, several times: the median is the figure, the spread shows the noise.
    let mut runs = Vec::new();
    let mut size = 0;
    for _ in 0..VERIFY_RUNS {
        let t = Instant::now();
        let verdict = verify_store(
            store,
            &signer().verifier(),
            Vec::new(),
            &AuditConfig::default(),
            Arc::new(|_| {}),
        )
        .await
        .expect("reads")
        .expect("verifies");
        runs.push(t.elapsed());
        size = verdict.size;
    }
    runs.sort();
    let took = runs[runs.len() / 2];
    let raw_mbs = bytes as f64 / raw.as_secs_f64() / 1e6;
    let ver_mbs = bytes as f64 / took.as_secs_f64() / 1e6;
    println!(
        "{label:<10} verify {size} events ({:.0} MB of event bytes), median of {VERIFY_RUNS} in \
         {took:.2?} (fastest {:.2?}, slowest {:.2?}): {:.0} events/s, {ver_mbs:.0} MB/s; raw \
         single-core SHA-256 over the same bytes in memory: {raw_mbs:.0} MB/s; ratio {:.0}%",
        bytes as f64 / 1e6,
        runs[0],
        runs[runs.len() - 1],
        size as f64 / took.as_secs_f64(),
        100.0 * ver_mbs / raw_mbs
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: f64 = env_or("MODELTRAIL_BENCH_SECONDS", 5.0);
    let leaves: u64 = env_or("MODELTRAIL_BENCH_LEAVES", 1_000_000);
    let pg: String = env_or(
        "MODELTRAIL_BENCH_PG",
        "postgres://postgres@127.0.0.1:5432/test".to_string(),
    );
    let pg = (pg != "none").then_some(pg);
    println!("event size {EVENT_BYTES} bytes; {seconds} s per append run");

    for writers in [1, 8, 64] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            AnyStore::Sqlite(SqliteStore::open(&dir.path().join("bench.db")).expect("sqlite"));
        let (rate, tx) = appends_per_second(store, writers, seconds).await;
        println!(
            "sqlite     {writers:>2} writers: {rate:>9.0} durable appends/s ({tx} transactions)"
        );
    }
    if let Some(url) = &pg {
        for writers in [1, 8, 64] {
            let schema = format!("bench_{:016x}", rand::random::<u64>());
            let store = AnyStore::Postgres(PgStore::connect(url, Some(&schema)).await.expect("pg"));
            let (rate, tx) = appends_per_second(store, writers, seconds).await;
            println!(
                "postgres   {writers:>2} writers: {rate:>9.0} durable appends/s ({tx} transactions)"
            );
            drop_schema(url, &schema).await.expect("drop");
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let store = AnyStore::Sqlite(SqliteStore::open(&dir.path().join("big.db")).expect("sqlite"));
    let t = Instant::now();
    fill(&store, leaves).await;
    println!("sqlite     filled {leaves} leaves in {:.1?}", t.elapsed());
    proof_times(&store, leaves, "sqlite").await;
    verify_rate(&store, "sqlite").await;

    if let Some(url) = &pg {
        let schema = format!("bench_{:016x}", rand::random::<u64>());
        let store = AnyStore::Postgres(PgStore::connect(url, Some(&schema)).await.expect("pg"));
        let t = Instant::now();
        fill(&store, leaves).await;
        println!("postgres   filled {leaves} leaves in {:.1?}", t.elapsed());
        proof_times(&store, leaves, "postgres").await;
        verify_rate(&store, "postgres").await;
        drop_schema(url, &schema).await.expect("drop");
    }
}
