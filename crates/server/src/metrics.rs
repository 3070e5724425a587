//! Prometheus metrics: requests by route and status, request latency, appended events and
//! commit batch sizes, and the log's size. Routes are counted by their template, never by the
//! concrete path, so ids do not become label values.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BOUNDS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];
/// Upper bounds of the batch-size buckets, in events.
const BATCH_BOUNDS: [f64; 8] = [1.0, 2.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 8192.0];

/// A cumulative histogram with fixed buckets.
#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, bound) in bounds.iter().enumerate() {
            if value <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in bounds.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    batches: Mutex<Histogram>,
    appended: AtomicU64,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status))
                .or_insert(0) += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            l.entry(route.to_owned())
                .or_default()
                .observe(&LATENCY_BOUNDS, elapsed.as_secs_f64());
        }
    }

    pub fn batch(&self, events: usize) {
        self.appended.fetch_add(events as u64, Ordering::Relaxed);
        if let Ok(mut b) = self.batches.lock() {
            b.observe(&BATCH_BOUNDS, events as f64);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, log_size: u64, sessions: usize) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP modeltrail_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE modeltrail_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "modeltrail_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP modeltrail_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE modeltrail_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                h.render(
                    &mut out,
                    "modeltrail_http_request_duration_seconds",
                    &format!("route=\"{}\"", escape(route)),
                    &LATENCY_BOUNDS,
                );
            }
        }
        out.push_str(
            "# HELP modeltrail_appended_events_total Events appended to the log by this process.\n",
        );
        out.push_str("# TYPE modeltrail_appended_events_total counter\n");
        let _ = writeln!(
            out,
            "modeltrail_appended_events_total {}",
            self.appended.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP modeltrail_commit_batch_events Events per durable commit (group commit).\n",
        );
        out.push_str("# TYPE modeltrail_commit_batch_events histogram\n");
        if let Ok(b) = self.batches.lock() {
            b.render(
                &mut out,
                "modeltrail_commit_batch_events",
                "",
                &BATCH_BOUNDS,
            );
        }
        out.push_str("# HELP modeltrail_log_size Events in the log (latest signed checkpoint).\n");
        out.push_str("# TYPE modeltrail_log_size gauge\n");
        let _ = writeln!(out, "modeltrail_log_size {log_size}");
        out.push_str("# HELP modeltrail_sessions Live interactive sessions.\n");
        out.push_str("# TYPE modeltrail_sessions gauge\n");
        let _ = writeln!(out, "modeltrail_sessions {sessions}");
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}
