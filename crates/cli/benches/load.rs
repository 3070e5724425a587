//! Load suite: the real `modeltrail serve` in a child process, driven over loopback by a mixed
//! workload for a bounded time: record creates, electronic signatures, MLflow runs and
//! parameters, record reads and inclusion proofs. Reports throughput, p50/p99 latency and errors
//! per kind of request, then checks that every acknowledged write is in the log as acknowledged
//! and that `modeltrail verify` passes.
//!
//! `cargo bench -p modeltrail-cli --bench load`; `LOAD_SECONDS` (default 300), `LOAD_BACKEND`
//! (`sqlite`, the default, or `postgres`) and `LOAD_WRITERS` (record writers, default 16; MLflow
//! writers, signers and readers scale with it) change the run.

#[path = "../tests/live/mod.rs"]
mod live;

use std::time::{Duration, Instant};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = env_number("LOAD_SECONDS", 300);
    let writers = env_number("LOAD_WRITERS", 16) as usize;
    let postgres = std::env::var("LOAD_BACKEND").is_ok_and(|b| b == "postgres");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let backend = if postgres {
            live::Backend::postgres("load").await
        } else {
            live::Backend::Sqlite
        };
        let name = backend.name();
        let mut server = live::Live::new(backend);
        server.start().await;
        let token = server.setup_users().await;
        let workload = live::Workload {
            tag: "load".into(),
            record_writers: writers,
            mlflow_writers: (writers / 2).max(1),
            signers: (writers / 8).max(1),
            readers: (writers / 2).max(1),
        };
        println!(
            "load on {name}, {seconds} s: {} record writers, {} MLflow writers, {} signers, \
             {} readers (reads and proofs)",
            workload.record_writers, workload.mlflow_writers, workload.signers, workload.readers
        );
        let started = Instant::now();
        let running = live::start_workload(&server, &token, &workload);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (acks, tally) = running.stop().await;
        let elapsed = started.elapsed().as_secs_f64();
        println!("| request | ok | per second | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|---|");
        let mut ops: Vec<_> = tally.ok.into_iter().collect();
        ops.sort_by_key(|(op, _)| format!("{op:?}"));
        let mut total = 0;
        for (op, mut latencies) in ops {
            latencies.sort();
            let ms = |p: f64| {
                let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
                latencies[i].as_secs_f64() * 1000.0
            };
            total += latencies.len();
            println!(
                "| {op:?} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
                latencies.len(),
                latencies.len() as f64 / elapsed,
                ms(0.50),
                ms(0.99),
                ms(1.0)
            );
        }
        let server_errors: u64 = tally.server_errors.values().sum();
        println!(
            "total: {total} requests answered as expected, {:.0} per second; errors: {} 5xx \
             {:?}, {} 4xx, {} unanswered",
            total as f64 / elapsed,
            server_errors,
            tally.server_errors,
            tally.client_errors.len(),
            tally.no_answer
        );
        for e in tally.client_errors.iter().take(5) {
            println!("  4xx: {e}");
        }
        for e in tally.server_error_bodies.iter().take(5) {
            println!("  5xx: {e}");
        }
        let checking = Instant::now();
        server.check_acknowledged(&acks).await;
        println!(
            "nothing lost: {} acknowledged writes found as acknowledged ({:.1} s)",
            acks.writes(),
            checking.elapsed().as_secs_f64()
        );
        server.kill();
        let out = server.verify();
        print!("verify: {}", live::text(&out));
        assert!(out.status.success(), "verify failed after the load");
    });
}
