//! Throughput of `profile_csv` on one core: generates about 1 GB of clinical-trial-like CSV in
//! memory (integers, decimals, booleans, dates, categories, a few quoted fields, some missing
//! cells), profiles it, and prints MB/s and the peak resident memory.
//!
//! Before profiling, the same bytes are parsed by the `csv` crate alone (every record as a
//! `ByteRecord`, nothing done with it): the floor any CSV profile here stands on.
//!
//! `cargo bench -p modeltrail-stats --bench profile`; `PROFILE_BENCH_MB=256` for a smaller run.

use std::io::Write;
use std::time::Instant;

use modeltrail_stats::profile::profile_csv_with_digests;

const DEFAULT_MEGABYTES: usize = 1024;
const SITES: usize = 40;
const ARMS: [&str; 3] = ["placebo", "drug 10 mg", "drug 20 mg"];
const EVENTS: [&str; 6] = [
    "none",
    "none",
    "none",
    "headache",
    "\"nausea, mild\"",
    "\"rash \"\"grade 1\"\"\"",
];

/// splitmix64: a small, fast, reproducible generator (no statistical claims needed here).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }
}

fn write_row(out: &mut Vec<u8>, id: u64, random: &mut Random) -> std::io::Result<()> {
    let site = 1 + random.below(SITES as u64);
    let arm = ARMS[random.below(ARMS.len() as u64) as usize];
    let sex = if random.chance(0.5) { "F" } else { "M" };
    write!(out, "{id},site-{site:02},{arm},{sex},")?;
    if !random.chance(0.02) {
        write!(out, "{}", 18 + random.below(73))?;
    }
    out.push(b',');
    if !random.chance(0.03) {
        write!(out, "{:.1}", 45.0 + 70.0 * random.unit())?;
    }
    write!(out, ",{},", 95 + random.below(80))?;
    if !random.chance(0.05) {
        write!(out, "{}", (random.unit() * 4.0).exp() / 10.0)?;
    } else {
        out.extend_from_slice(b"NA");
    }
    out.push(b',');
    if !random.chance(0.01) {
        out.extend_from_slice(if random.chance(0.3) {
            b"True"
        } else {
            b"False"
        });
    }
    let day = random.below(365);
    writeln!(
        out,
        ",2023-{:02}-{:02},{}",
        1 + day / 31 % 12,
        1 + day % 28,
        EVENTS[random.below(EVENTS.len() as u64) as usize]
    )
}

fn generate(megabytes: usize) -> std::io::Result<(Vec<u8>, u64)> {
    let target = megabytes * 1_000_000;
    let mut out = Vec::with_capacity(target + 4096);
    out.extend_from_slice(
        b"subject_id,site,arm,sex,age,weight_kg,systolic_bp,lab_value,smoker,visit_date,adverse_event\n",
    );
    let mut random = Random(20240131);
    let mut rows = 0;
    while out.len() < target {
        rows += 1;
        write_row(&mut out, rows, &mut random)?;
    }
    Ok((out, rows))
}

/// Nanoseconds this thread has run on a CPU (/proc/thread-self/schedstat), so the figure holds
/// when other work shares the cores.
fn cpu_nanoseconds() -> Option<u64> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    schedstat.split_whitespace().next()?.parse().ok()
}

fn cpu_seconds_since(before: Option<u64>) -> f64 {
    match (before, cpu_nanoseconds()) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64 / 1e9,
        _ => f64::NAN,
    }
}

/// Every record of the CSV read as a `ByteRecord` with the profiler's reader settings; the
/// number of fields.
fn parse_only(data: &[u8]) -> Result<u64, csv::Error> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(data);
    let mut record = csv::ByteRecord::new();
    let mut fields = 0;
    while csv.read_byte_record(&mut record)? {
        fields += record.len() as u64;
    }
    Ok(fields)
}

/// A line of /proc/self/status, in kB.
fn status_kilobytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn megabytes_from_env() -> usize {
    std::env::var("PROFILE_BENCH_MB")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_MEGABYTES)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|argument| argument == "--list") {
        return Ok(());
    }
    let megabytes = megabytes_from_env();
    let started = Instant::now();
    let (data, rows) = generate(megabytes)?;
    println!(
        "generated {:.1} MB of CSV, {rows} rows, in {:.1} s",
        data.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let cpu_before = cpu_nanoseconds();
    let parsed = parse_only(&data)?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds_since(cpu_before);
    println!(
        "csv crate alone (ByteRecord, {parsed} fields): {:.0} MB/s, {:.0} MB per CPU-second",
        data.len() as f64 / 1e6 / seconds,
        data.len() as f64 / 1e6 / cpu_seconds
    );

    let resident_before = status_kilobytes("VmRSS:").unwrap_or(0);
    // Writing 5 to clear_refs resets the peak (VmHWM), so the peak below is the profiling's.
    let peak_was_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    let started = Instant::now();
    let cpu_before = cpu_nanoseconds();
    let profiled = profile_csv_with_digests(data.as_slice())?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds_since(cpu_before);

    assert_eq!(profiled.profile.rows, rows, "every generated row was read");
    let peak = status_kilobytes("VmHWM:").unwrap_or(0);
    println!(
        "profile_csv: {:.1} MB in {seconds:.2} s on one core = {:.0} MB/s ({:.2} M rows/s)",
        data.len() as f64 / 1e6,
        data.len() as f64 / 1e6 / seconds,
        rows as f64 / 1e6 / seconds
    );
    println!(
        "on-CPU time {cpu_seconds:.2} s = {:.0} MB per CPU-second",
        data.len() as f64 / 1e6 / cpu_seconds
    );
    println!(
        "resident before profiling {} MB (the CSV itself), peak {} MB{} -> profiling added {} MB",
        resident_before / 1024,
        peak / 1024,
        if peak_was_reset {
            ""
        } else {
            " (peak since start: could not reset)"
        },
        peak.saturating_sub(resident_before) / 1024
    );
    println!(
        "duplicate rows {}, distinct row digests {}",
        profiled.profile.duplicate_rows,
        profiled.digests.len()
    );
    Ok(())
}
