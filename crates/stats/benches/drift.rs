//! Drift statistics: 1,000,000 reference and 1,000,000 current rows of 20 normal features (the
//! current ones shifted a little), Kolmogorov–Smirnov, Wasserstein, PSI and Jensen–Shannon for
//! every feature, on one thread and then on all cores. Reports, as the median of several runs,
//! the time to summarise the references once (clean and sort), the time per batch against those
//! summaries (clean and sort the batch, the four statistics), and both together ("from
//! scratch"): wall time and the process's CPU time (user + system, every thread), which holds
//! when other work shares the cores.
//!
//! `cargo bench -p modeltrail-stats --bench drift`; `DRIFT_BENCH_ROWS=100000` for a smaller run,
//! `DRIFT_BENCH_RUNS` (default 5) runs of each.

use std::time::Instant;

use modeltrail_stats::drift::{batch_statistics, numeric_samples, NumericSample, Side, Threads};

const FEATURES: usize = 20;

/// splitmix64 and Box–Muller: reproducible normal values (no statistical claims needed here).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// CPU seconds (user + system) of the whole process so far, from /proc/self/stat (clock ticks,
/// 100 a second on Linux).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The command name may hold spaces; the fields counted here come after its ')'.
    let Some(after) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

#[derive(Clone, Copy, Default)]
struct Figures {
    wall: f64,
    cpu: f64,
}

fn measure<R>(work: impl FnOnce() -> R) -> (R, Figures) {
    let (started, cpu) = (Instant::now(), process_cpu_seconds());
    let result = work();
    let figures = Figures {
        wall: started.elapsed().as_secs_f64(),
        cpu: process_cpu_seconds() - cpu,
    };
    (result, figures)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(what: &str, runs: &[Figures]) {
    let wall = median(runs.iter().map(|r| r.wall).collect());
    let cpu = median(runs.iter().map(|r| r.cpu).collect());
    let all: Vec<String> = runs.iter().map(|r| format!("{:.3}", r.wall)).collect();
    println!(
        "  {what:<58} wall {wall:.3} s  cpu {cpu:.3} s  (walls {})",
        all.join(" ")
    );
}

fn main() {
    let rows: usize = std::env::var("DRIFT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("DRIFT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut random = Random(20_250_101);
    let columns = |random: &mut Random, shift: f64| -> Vec<Vec<f64>> {
        (0..FEATURES)
            .map(|f| {
                (0..rows)
                    .map(|_| random.normal() + shift * (f % 4) as f64)
                    .collect()
            })
            .collect()
    };
    let reference = columns(&mut random, 0.0);
    let current = columns(&mut random, 0.01);
    let reference: Vec<&[f64]> = reference.iter().map(Vec::as_slice).collect();
    let current: Vec<&[f64]> = current.iter().map(Vec::as_slice).collect();
    println!("{rows} rows x {FEATURES} features, reference and current; median of {runs} runs");

    let mut checksums = Vec::new();
    for threads in [Threads::ONE, Threads::available()] {
        let (mut summarise, mut batch, mut total) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (summaries, s) = measure(|| {
                numeric_samples(Side::Reference, &reference, threads)
                    .into_iter()
                    .collect::<Result<Vec<NumericSample>, _>>()
                    .expect("finite")
            });
            let pairs: Vec<(&NumericSample, &[f64])> =
                summaries.iter().zip(current.iter().copied()).collect();
            let (results, b) = measure(|| batch_statistics(&pairs, threads));
            let checksum: f64 = results
                .iter()
                .map(|stats| {
                    let stats = stats.as_ref().expect("statistics");
                    stats.ks.p_value
                        + stats.wasserstein.normed
                        + stats.psi.value
                        + stats.jensen_shannon.value
                })
                .sum();
            checksums.push(checksum);
            summarise.push(s);
            batch.push(b);
            total.push(Figures {
                wall: s.wall + b.wall,
                cpu: s.cpu + b.cpu,
            });
        }
        println!("{} thread(s):", threads.get());
        report("reference summaries (clean + sort, once)", &summarise);
        report(
            "batch against them (clean + sort, KS + W + PSI + JS)",
            &batch,
        );
        report("total from scratch", &total);
    }
    let first = checksums.first().copied().unwrap_or(f64::NAN);
    assert!(
        checksums.iter().all(|c| *c == first),
        "every run and thread count gives the same figures"
    );
    println!("checksum {first:.6}");
}
