//! Checkpoint notes, checkpoint bodies, keys, hashes and proofs from arbitrary bytes: no panic,
//! and no arbitrary text opens as a checkpoint signed by the fixed key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::verify_inclusion;
use modeltrail_ledger::{leaf_hash, Hash, Timestamp};

fuzz_target!(|data: &[u8]| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let verifier = NoteVerifier::new("fuzz.example/log", key);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(verifier) = &verifier {
            let _ = SignedCheckpoint::open(text, verifier);
        }
        let _ = Checkpoint::parse_body(text);
        let _ = NoteVerifier::from_text(text);
        let _ = Hash::from_hex(text);
        let _ = Timestamp::parse(text);
    }
    // The bytes as an inclusion proof of leaf 0 in a tree of up to 2^16 leaves.
    if data.len() >= 2 {
        let size = u64::from(u16::from_le_bytes([data[0], data[1]])).max(1);
        let proof: Vec<Hash> = data[2..]
            .chunks_exact(32)
            .map(|c| Hash(c.try_into().expect("32 bytes")))
            .collect();
        let leaf = leaf_hash(b"leaf");
        let root = leaf_hash(b"root");
        assert!(verify_inclusion(&leaf, 0, size, &proof, &root).is_err());
    }
});
