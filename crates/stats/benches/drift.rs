//! Drift statistics on one core: 1,000,000 reference and 1,000,000 current rows of 20 normal
//! features (the current ones shifted a little), Kolmogorov–Smirnov, Wasserstein, PSI and
//! Jensen–Shannon for every feature. Reports the time to summarise the references once (clean and
//! sort), then the time per batch against those summaries (clean and sort the batch, the four
//! statistics), and both together.
//!
//! `cargo bench -p modeltrail-stats --bench drift`; `DRIFT_BENCH_ROWS=100000` for a smaller run.

use std::time::Instant;

use modeltrail_stats::drift::{numeric_statistics, NumericSample, Side};

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

fn main() {
    let rows: usize = std::env::var("DRIFT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
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
    println!("{rows} rows x {FEATURES} features, reference and current");

    let start = Instant::now();
    let summaries: Vec<NumericSample> = reference
        .iter()
        .map(|column| NumericSample::new(Side::Reference, column).expect("finite"))
        .collect();
    let summarise = start.elapsed();

    let start = Instant::now();
    let mut checksum = 0.0;
    for (summary, column) in summaries.iter().zip(&current) {
        let batch = NumericSample::new(Side::Current, column).expect("finite");
        let stats = numeric_statistics(summary, &batch).expect("statistics");
        checksum += stats.ks.p_value
            + stats.wasserstein.normed
            + stats.psi.value
            + stats.jensen_shannon.value;
    }
    let batch = start.elapsed();
    println!(
        "reference summaries (clean + sort, once): {:.3} s",
        summarise.as_secs_f64()
    );
    println!(
        "batch against them (clean + sort current, KS + Wasserstein + PSI + JS): {:.3} s",
        batch.as_secs_f64()
    );
    println!(
        "total: {:.3} s (checksum {checksum:.6})",
        (summarise + batch).as_secs_f64()
    );
}
