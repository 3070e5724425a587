//! Canonical JSON (RFC 8785) and stored events from arbitrary bytes: no panic; whatever is
//! accepted canonicalizes to a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modeltrail_ledger::event::{Event, EventHead};
use modeltrail_ledger::jcs::canonicalize_str;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(canonical) = canonicalize_str(text) {
            let again = canonicalize_str(std::str::from_utf8(&canonical).expect("UTF-8"))
                .expect("canonical JSON parses");
            assert_eq!(again, canonical);
        }
    }
    let _ = EventHead::from_bytes(data);
    if let Ok(event) = Event::from_bytes(data) {
        let _ = event.to_canonical();
    }
});
