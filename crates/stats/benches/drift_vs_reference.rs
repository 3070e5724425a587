//! modeltrail's drift statistics side by side with Evidently's data drift report, on the same
//! data: `scripts/bench_drift_report` draws the columns with numpy, writes them as raw
//! little-endian f64 with `reference.json` (Evidently's report per method and scipy timed, and
//! every value they gave) in one directory, and then runs this bench with `DRIFT_REPORT_DIR`
//! set to it.
//!
//! Here the same columns are read, and KS (statistic and p-value, as `ks_2samp`), the normed
//! Wasserstein distance, PSI and Jensen–Shannon are computed for every feature with the crate's
//! public API as the server uses it: the reference summaries (clean + sort), then the batch
//! against them; on one thread and on all cores; the median of `DRIFT_BENCH_RUNS` (default 5)
//! runs, wall time and the process's CPU time. Every value is compared with what Evidently's
//! report (and scipy, for the KS statistic and the raw distance, which the report does not give)
//! returned: the largest relative difference per statistic. One table; the exit status is 1 when
//! a value differs by more than 1e-9 relative.
//!
//! Without `DRIFT_REPORT_DIR` the bench says so and does nothing (so `cargo bench -p
//! modeltrail-stats` still runs the others).

use std::path::{Path, PathBuf};
use std::time::Instant;

use modeltrail_stats::drift::{
    batch_statistics, numeric_samples, NumericSample, NumericStatistics, Side, Threads,
};
use serde_json::Value;

/// Largest relative difference accepted: |a - b| / max(|a|, |b|).
const TOLERANCE: f64 = 1e-9;

/// CPU seconds (user + system) of the whole process so far, from /proc/self/stat (clock ticks,
/// 100 a second on Linux), as in benches/drift.rs.
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
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

/// The machine's 1-minute load average (/proc/loadavg), NaN when unknown.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn medians(runs: &[Figures]) -> Figures {
    Figures {
        wall: median(runs.iter().map(|r| r.wall).collect()),
        cpu: median(runs.iter().map(|r| r.cpu).collect()),
    }
}

fn fail(message: String) -> ! {
    eprintln!("drift_vs_reference: {message}");
    std::process::exit(2)
}

/// The columns of one binary file: `features` columns of `rows` little-endian f64, one after
/// the other.
fn read_columns(path: &Path, rows: usize, features: usize) -> Vec<Vec<f64>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    if bytes.len() != rows * features * 8 {
        fail(format!(
            "{} holds {} bytes, not {rows} x {features} f64",
            path.display(),
            bytes.len()
        ));
    }
    bytes
        .chunks_exact(rows * 8)
        .map(|column| {
            column
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect()
        })
        .collect()
}

fn number(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| fail(format!("{what} is not a number: {value}")))
}

/// `document[a][b]...` or a failure naming the path.
fn at<'a>(document: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(document, |value, key| {
        value
            .get(key)
            .unwrap_or_else(|| fail(format!("reference.json has no {}", path.join("."))))
    })
}

/// |a - b| / max(|a|, |b|); 0 when both are 0 (or equal).
fn relative(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// One statistic compared over every feature.
struct Comparison {
    what: &'static str,
    against: &'static str,
    max: f64,
    worst: String,
    outside: usize,
    count: usize,
}

fn compare(
    what: &'static str,
    against: &'static str,
    reference_values: &Value,
    columns: &[String],
    ours: impl Fn(usize) -> f64,
) -> Comparison {
    let mut comparison = Comparison {
        what,
        against,
        max: 0.0,
        worst: String::from("-"),
        outside: 0,
        count: columns.len(),
    };
    for (index, name) in columns.iter().enumerate() {
        let theirs = number(
            reference_values
                .get(name)
                .unwrap_or_else(|| fail(format!("{against}: no value for {name}"))),
            name,
        );
        let difference = relative(ours(index), theirs);
        // NaN (one side undefined) counts as outside.
        if difference.is_nan() || difference > TOLERANCE {
            comparison.outside += 1;
        }
        if difference.is_nan() || difference > comparison.max {
            comparison.max = difference;
            comparison.worst = name.clone();
        }
    }
    comparison
}

fn main() {
    let Some(dir) = std::env::var_os("DRIFT_REPORT_DIR").map(PathBuf::from) else {
        println!(
            "drift_vs_reference: DRIFT_REPORT_DIR is not set; scripts/bench_drift_report makes \
             the data and runs this bench"
        );
        return;
    };
    let runs: usize = std::env::var("DRIFT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let path = dir.join("reference.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    let document: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    let rows = number(at(&document, &["rows"]), "rows") as usize;
    let features = number(at(&document, &["features"]), "features") as usize;
    let columns: Vec<String> = at(&document, &["columns"])
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if columns.len() != features {
        fail(format!(
            "{} column names for {features} features",
            columns.len()
        ));
    }
    let file = |side: &str| {
        let name = at(&document, &["files", side])
            .as_str()
            .unwrap_or_else(|| fail(format!("files.{side} is not a name")));
        read_columns(&dir.join(name), rows, features)
    };
    let (reference, current) = (file("reference"), file("current"));
    let reference: Vec<&[f64]> = reference.iter().map(Vec::as_slice).collect();
    let current: Vec<&[f64]> = current.iter().map(Vec::as_slice).collect();

    // One thread, then all cores; each run from scratch (summaries, then the batch).
    let load_before = load_average();
    let mut timings: Vec<(usize, Figures, Figures, Figures)> = Vec::new();
    let mut results: Option<Vec<NumericStatistics>> = None;
    let mut thread_counts = vec![Threads::ONE];
    if Threads::available().get() > 1 {
        thread_counts.push(Threads::available());
    }
    for threads in thread_counts {
        let (mut summarise, mut batch, mut total) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (summaries, s) = measure(|| {
                numeric_samples(Side::Reference, &reference, threads)
                    .into_iter()
                    .collect::<Result<Vec<NumericSample>, _>>()
                    .unwrap_or_else(|e| fail(format!("reference summaries: {e}")))
            });
            let pairs: Vec<(&NumericSample, &[f64])> =
                summaries.iter().zip(current.iter().copied()).collect();
            let (statistics, b) = measure(|| {
                batch_statistics(&pairs, threads)
                    .into_iter()
                    .collect::<Result<Vec<NumericStatistics>, _>>()
                    .unwrap_or_else(|e| fail(format!("batch statistics: {e}")))
            });
            match &results {
                None => results = Some(statistics),
                Some(first) => assert!(
                    *first == statistics,
                    "every run and thread count gives the same figures"
                ),
            }
            summarise.push(s);
            batch.push(b);
            total.push(Figures {
                wall: s.wall + b.wall,
                cpu: s.cpu + b.cpu,
            });
        }
        timings.push((
            threads.get(),
            medians(&summarise),
            medians(&batch),
            medians(&total),
        ));
    }
    let load_after = load_average();
    let ours = results.unwrap_or_else(|| fail("no run".into()));

    let evidently = |method: &str| at(&document, &["evidently", "values", method]);
    let scipy = |what: &str| at(&document, &["scipy", "values", what]);
    let comparisons = [
        compare(
            "KS p-value",
            "Evidently report, ks",
            evidently("ks"),
            &columns,
            |i| ours[i].ks.p_value,
        ),
        compare(
            "KS p-value",
            "scipy ks_2samp",
            scipy("ks_p_value"),
            &columns,
            |i| ours[i].ks.p_value,
        ),
        compare(
            "KS statistic",
            "scipy ks_2samp",
            scipy("ks_statistic"),
            &columns,
            |i| ours[i].ks.statistic,
        ),
        compare(
            "Wasserstein (normed)",
            "Evidently report, wasserstein",
            evidently("wasserstein"),
            &columns,
            |i| ours[i].wasserstein.normed,
        ),
        compare(
            "Wasserstein distance",
            "scipy wasserstein_distance",
            scipy("wasserstein_distance"),
            &columns,
            |i| ours[i].wasserstein.distance,
        ),
        compare(
            "reference std (ddof 0)",
            "numpy std",
            scipy("reference_std"),
            &columns,
            |i| ours[i].wasserstein.reference_std,
        ),
        compare(
            "PSI",
            "Evidently report, psi",
            evidently("psi"),
            &columns,
            |i| ours[i].psi.value,
        ),
        compare(
            "Jensen-Shannon",
            "Evidently report, jensenshannon",
            evidently("jensenshannon"),
            &columns,
            |i| ours[i].jensen_shannon.value,
        ),
    ];

    // The table.
    let time = |path: &[&str]| -> Figures {
        Figures {
            wall: number(at(&document, &[path, &["wall"]].concat()), "wall"),
            cpu: number(at(&document, &[path, &["cpu"]].concat()), "cpu"),
        }
    };
    let libraries = at(&document, &["libraries"]);
    let version = |name: &str| libraries.get(name).and_then(Value::as_str).unwrap_or("?");
    println!();
    println!(
        "Drift of {rows} rows x {features} numerical features, reference vs current, the same \
         data on both sides: KS (statistic, p-value), Wasserstein (normed), PSI, Jensen-Shannon \
         for every feature"
    );
    println!(
        "(Evidently {}, scipy {}, pandas {}, numpy {}: each timed once in this run; modeltrail: \
         the median of {runs} runs)",
        version("evidently"),
        version("scipy"),
        version("pandas"),
        version("numpy")
    );
    let python_load = |when: &str| {
        document
            .get("load_average_1min")
            .and_then(|l| l.get(when))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    println!(
        "(1-minute load average on {} cores: {:.1} -> {:.1} while Python ran, {load_before:.1} \
         -> {load_after:.1} while modeltrail ran; wall time follows the load, CPU time much less)",
        Threads::available().get(),
        python_load("before"),
        python_load("after"),
    );
    println!();
    let line = |what: &str, f: Figures| {
        println!("  {what:<62} {:>9.3} {:>9.3}", f.wall, f.cpu);
    };
    println!("  {:<62} {:>9} {:>9}", "", "wall s", "CPU s");
    let mut evidently_total = Figures::default();
    let mut evidently_fastest = Figures {
        wall: f64::INFINITY,
        cpu: f64::INFINITY,
    };
    for method in ["ks", "wasserstein", "psi", "jensenshannon"] {
        let f = time(&["evidently", "times", method]);
        line(&format!("Evidently report, ValueDrift method={method}"), f);
        evidently_total.wall += f.wall;
        evidently_total.cpu += f.cpu;
        if f.wall < evidently_fastest.wall {
            evidently_fastest = f;
        }
    }
    line("Evidently reports, all four methods", evidently_total);
    let ks = time(&["scipy", "times", "ks_2samp"]);
    let w = time(&["scipy", "times", "wasserstein_distance"]);
    line(
        "scipy ks_2samp + wasserstein_distance called directly",
        Figures {
            wall: ks.wall + w.wall,
            cpu: ks.cpu + w.cpu,
        },
    );
    for (threads, summarise, batch, total) in &timings {
        let label = if *threads == 1 {
            "1 thread".to_owned()
        } else {
            format!("{threads} threads")
        };
        line(
            &format!("modeltrail, {label}: all four, from scratch"),
            *total,
        );
        line(
            "  of which reference summaries (clean + sort, once)",
            *summarise,
        );
        line(
            "  of which the batch against them (clean + sort, 4 stats)",
            *batch,
        );
    }
    println!();
    for (threads, _, _, total) in &timings {
        println!(
            "  speed-up, {threads} thread(s), from scratch: {:.0}x wall and {:.0}x CPU over \
             Evidently's four reports; {:.0}x wall over its fastest single report",
            evidently_total.wall / total.wall,
            evidently_total.cpu / total.cpu,
            evidently_fastest.wall / total.wall
        );
    }
    println!();
    println!(
        "  {:<24} {:<32} {:>12} {:>8} {:>14}",
        "value", "compared with", "max rel diff", "feature", "within 1e-9"
    );
    let mut all_within = true;
    for c in &comparisons {
        println!(
            "  {:<24} {:<32} {:>12.1e} {:>8} {:>14}",
            c.what,
            c.against,
            c.max,
            c.worst,
            format!("{}/{}", c.count - c.outside, c.count)
        );
        all_within &= c.outside == 0;
    }
    let ks_methods: Vec<String> = ours
        .iter()
        .map(|s| format!("{:?}", s.ks.method).to_lowercase())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!(
        "  (KS p-values by the {} method here, as scipy's method \"auto\" chooses at this size; \
         the report keeps only the p-value)",
        ks_methods.join("/")
    );
    let fastest = timings
        .iter()
        .map(|t| t.3)
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .unwrap_or_default();
    println!();
    println!(
        "  target (issue 5): under 2 s wall: {} ({:.3} s wall, {:.3} s CPU); at least 20x \
         Evidently's report: {} ({:.0}x wall); equal values to 1e-9: {}",
        if fastest.wall < 2.0 { "met" } else { "NOT met" },
        fastest.wall,
        fastest.cpu,
        if evidently_total.wall / fastest.wall >= 20.0 {
            "met"
        } else {
            "NOT met"
        },
        evidently_total.wall / fastest.wall,
        if all_within { "met" } else { "NOT met" }
    );
    if !all_within {
        std::process::exit(1);
    }
}
