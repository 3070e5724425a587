//! CSV and Parquet ingestion from arbitrary bytes: format detection, profiling and row digests
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modeltrail_stats::profile::{detect_format, profile, row_digests};

fuzz_target!(|data: &[u8]| {
    let _ = detect_format(data);
    let _ = profile(data);
    let _ = row_digests(data);
});
