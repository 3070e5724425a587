//! Acceptance-criteria expressions from arbitrary text: no panic in parsing, error pointers or
//! evaluation; an accepted criterion's canonical text parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modeltrail_domain::criteria::{Criterion, FactError, FactsFn, Reference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Criterion::parse(text) {
        Ok(criterion) => {
            let facts = FactsFn(|_: &Reference| -> Result<f64, FactError> { Ok(0.5) });
            let _ = criterion.evaluate(&facts);
            assert_eq!(
                Criterion::parse(&criterion.canonical()).ok(),
                Some(criterion)
            );
        }
        Err(error) => {
            let _ = error.pointer(text);
        }
    }
});
