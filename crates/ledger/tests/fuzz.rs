//! Fuzzing on stable Rust: random and mutated inputs to every parser of untrusted text in the
//! ledger (canonical JSON, events, checkpoint notes and bodies, hashes, proofs). None may panic;
//! anything accepted must round-trip, and an edited checkpoint or proof must never verify.
//!
//! Bounded by case count: `PROPTEST_CASES` (default 256 per property here; the full run in
//! README uses far more, in release mode).

use ed25519_dalek::SigningKey;
use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::event::Event;
use modeltrail_ledger::jcs::canonicalize_str;
use modeltrail_ledger::note::{NoteSigner, NoteVerifier};
use modeltrail_ledger::proof::{verify_consistency, verify_inclusion};
use modeltrail_ledger::tree::MemoryTree;
use modeltrail_ledger::{leaf_hash, Hash, Timestamp};
use proptest::prelude::*;

const ORIGIN: &str = "fuzz.example/log";

fn config() -> ProptestConfig {
    // proptest reads PROPTEST_CASES itself; 256 is its default too.
    ProptestConfig::default()
}

fn signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[9; 32])).unwrap()
}

fn verifier() -> NoteVerifier {
    NoteVerifier::new(ORIGIN, SigningKey::from_bytes(&[9; 32]).verifying_key()).unwrap()
}

fn signed_checkpoint(size: u64) -> String {
    Checkpoint {
        origin: ORIGIN.to_owned(),
        size,
        root: leaf_hash(&size.to_be_bytes()),
        timestamp: Timestamp::from_micros(1_795_552_514_123_456),
    }
    .sign(&signer())
    .unwrap()
    .text()
    .to_owned()
}

/// A sound event as the log stores it.
const EVENT: &str = r#"{"action":"record.create","actor":{"auth":"api_token","id":"svc","name":"Svc","role":"developer"},"client":{"address":"127.0.0.1"},"payload":{"auc":0.91,"name":"m"},"record":{"id":"m","type":"model","version":1},"seq":3,"timestamp":"2026-01-01T00:00:00.000000Z"}"#;

/// Applies byte edits (position, new byte) to `text`.
fn edit(text: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = text.to_vec();
    for (at, b) in edits {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = *b;
        }
    }
    bytes
}

/// JSON-ish text: mostly the characters that make JSON, so the parser gets deep.
fn jsonish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("\"a\"".to_owned()),
            Just("\"\\u00e9\\ud83d\\ude00\"".to_owned()),
            Just("\"\\ud800\"".to_owned()),
            Just("1e308".to_owned()),
            Just("-0.0".to_owned()),
            Just("123456789012345678901234567890".to_owned()),
            Just("5e-324".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just(" ".to_owned()),
            any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn canonical_json_never_panics_and_is_idempotent(text in prop_oneof![jsonish(), any::<String>()]) {
        if let Ok(canonical) = canonicalize_str(&text) {
            let again = canonicalize_str(std::str::from_utf8(&canonical).unwrap()).unwrap();
            prop_assert_eq!(again, canonical);
        }
    }

    #[test]
    fn deeply_nested_json_is_refused_or_handled_without_overflow(depth in 0usize..5000, array in any::<bool>()) {
        let (open, close) = if array { ("[", "]") } else { ("{\"a\":", "}") };
        let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let _ = canonicalize_str(&text);
    }

    #[test]
    fn events_from_edited_bytes_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
        let bytes = edit(EVENT.as_bytes(), &edits);
        if let Ok(event) = Event::from_bytes(&bytes) {
            // Whatever is accepted is an event whose canonical form reads back the same.
            let again = Event::from_bytes(&event.to_canonical().unwrap()).unwrap();
            let _ = modeltrail_ledger::event::EventHead::from_bytes(&bytes);
            prop_assert_eq!(again.to_canonical().unwrap(), event.to_canonical().unwrap());
        }
    }

    #[test]
    fn events_from_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Event::from_bytes(&bytes);
        let _ = modeltrail_ledger::event::EventHead::from_bytes(&bytes);
    }

    #[test]
    fn an_edited_checkpoint_never_opens(size in 0u64..1_000_000, edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let sound = signed_checkpoint(size);
        let edited = edit(sound.as_bytes(), &edits);
        let Ok(text) = String::from_utf8(edited) else { return Ok(()); };
        match SignedCheckpoint::open(&text, &verifier()) {
            Ok(opened) => {
                // Only an edit that changed nothing the signature covers may pass: the same
                // checkpoint.
                let original = SignedCheckpoint::open(&sound, &verifier()).unwrap();
                prop_assert_eq!(opened.checkpoint(), original.checkpoint());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn checkpoint_texts_never_panic(text in prop_oneof![any::<String>(), "[a-z./+]{1,20}\n[0-9]{1,25}\n[A-Za-z0-9+/=]{0,50}\n(— [a-z.+/]{1,20} [A-Za-z0-9+/=]{0,100}\n)?"]) {
        let _ = SignedCheckpoint::open(&text, &verifier());
        let _ = Checkpoint::parse_body(&text);
        let _ = NoteVerifier::from_text(&text);
        let _ = Hash::from_hex(&text);
        let _ = Timestamp::parse(&text);
    }

    #[test]
    fn random_proofs_never_verify_and_never_panic(
        size in 1u64..300,
        index in any::<u64>(),
        first in any::<u64>(),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
    ) {
        let mut tree = MemoryTree::new();
        for i in 0..size {
            tree.append(leaf_hash(&i.to_be_bytes()));
        }
        let root = tree.root(size).unwrap();
        let proof: Vec<Hash> = proof.into_iter().map(Hash).collect();
        let leaf = leaf_hash(&(index % size).to_be_bytes());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_err());
        let first_root = tree.root(first % (size + 1)).unwrap_or(root);
        // A random proof only verifies where no proof is needed (first = 0 or first = size
        // with matching roots and an empty proof).
        if verify_consistency(first, size, &proof, &first_root, &root).is_ok() {
            prop_assert!(proof.is_empty() && (first == 0 || first == size));
        }
    }

    #[test]
    fn an_edited_inclusion_proof_never_verifies(
        size in 2u64..300,
        index in any::<u64>(),
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        let mut tree = MemoryTree::new();
        for i in 0..size {
            tree.append(leaf_hash(&i.to_be_bytes()));
        }
        let index = index % size;
        let root = tree.root(size).unwrap();
        let leaf = leaf_hash(&index.to_be_bytes());
        let mut proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
        let i = at % proof.len();
        proof[i].0[at % 32] ^= 1 << bit;
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_err());
    }
}
