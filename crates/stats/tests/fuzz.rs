//! Fuzzing the data ingestion on stable Rust: CSV and Parquet bytes, random and edited from the
//! sound fixtures, through format detection, profiling and row digests. Nothing may panic, and
//! every refusal names its problem. `PROPTEST_CASES` (default 64 per property here) bounds a run.

use modeltrail_stats::profile::{detect_format, profile, row_digests};
use proptest::prelude::*;

const CSV: &[u8] = include_bytes!("fixtures/profile_data.csv");
const PARQUET: &[u8] = include_bytes!("fixtures/profile_data.parquet");
const ZSTD_PARQUET: &[u8] = include_bytes!("fixtures/profile_zstd.parquet");
const NESTED_PARQUET: &[u8] = include_bytes!("fixtures/profile_nested.parquet");

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A sound file with a few bytes replaced, some bytes cut out, or cut short.
fn edited(sound: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        proptest::option::of((any::<usize>(), 1usize..64)),
        proptest::option::of(any::<usize>()),
    )
        .prop_map(move |(edits, cut, truncate)| {
            let mut bytes = sound.to_vec();
            for (at, b) in edits {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            if let Some((at, len)) = cut {
                let i = at % bytes.len();
                let end = (i + len).min(bytes.len());
                bytes.drain(i..end);
            }
            if let Some(at) = truncate {
                bytes.truncate(at % (bytes.len() + 1));
            }
            bytes
        })
}

fn ingest(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = detect_format(bytes);
    if let Err(e) = profile(bytes) {
        prop_assert!(!e.to_string().is_empty());
    }
    if let Err(e) = row_digests(bytes) {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn edited_csv_never_panics(bytes in edited(CSV)) {
        ingest(&bytes)?;
    }

    #[test]
    fn edited_parquet_never_panics(
        bytes in prop_oneof![edited(PARQUET), edited(ZSTD_PARQUET), edited(NESTED_PARQUET)],
    ) {
        ingest(&bytes)?;
    }

    #[test]
    fn csv_made_of_csv_characters_never_panics(
        text in proptest::collection::vec(
            prop::sample::select(vec![
                ",", "\n", "\r\n", "\"", "\"\"", "a", "1", "-2.5e3", "NA", "", " ", "True",
                "2023-07-14", "2023-05-28 00:44:08", "14:31:57.5", "é", "\u{feff}", "nan", "inf",
            ]),
            0..200,
        ),
    ) {
        ingest(text.concat().as_bytes())?;
    }

    #[test]
    fn random_bytes_never_panic(
        prefix in prop_oneof![Just(&b""[..]), Just(&b"PAR1"[..])],
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        suffix in prop_oneof![Just(&b""[..]), Just(&b"PAR1"[..])],
    ) {
        let mut all = prefix.to_vec();
        all.extend(bytes);
        all.extend_from_slice(suffix);
        ingest(&all)?;
    }
}
