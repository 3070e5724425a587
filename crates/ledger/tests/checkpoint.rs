//! Signed notes and checkpoints: round trips, published interop vectors (golang.org/x/mod/sumdb/note
//! and c2sp.org/signed-note), key texts, rejection of malformed or edited notes and checkpoint
//! texts, and a property test over random checkpoints.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use modeltrail_ledger::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use modeltrail_ledger::note::{open_note, NoteError, NoteSigner, NoteVerifier, MAX_NOTE_LEN};
use modeltrail_ledger::{leaf_hash, Hash, Timestamp};
use proptest::prelude::*;

const ORIGIN: &str = "log.example/modeltrail";

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn checkpoint(size: u64, root: Hash) -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.to_owned(),
        size,
        root,
        timestamp: Timestamp::from_micros(1_795_552_514_123_456),
    }
}

/// Builds a signed note by hand, independently of `NoteSigner::sign`, for any text (even texts
/// `sign` refuses), with any name and key ID.
fn hand_signed(key: &SigningKey, name: &str, key_id: u32, text: &str) -> String {
    let mut raw = key_id.to_be_bytes().to_vec();
    raw.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
    format!("{text}\n\u{2014} {name} {}\n", BASE64.encode(raw))
}

/// Signs a checkpoint text as is (valid note, possibly invalid checkpoint) with the log key.
fn sign_text(text: &str) -> String {
    let s = signer(ORIGIN, 7);
    hand_signed(&SigningKey::from_bytes(&[7; 32]), ORIGIN, s.key_id(), text)
}

fn malformed_line(result: Result<SignedCheckpoint, CheckpointError>) -> (usize, String) {
    match result {
        Err(CheckpointError::Malformed { line, problem }) => (line, problem),
        other => panic!("expected a malformed checkpoint, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn checkpoints_round_trip_through_sign_and_open() {
    let s = signer(ORIGIN, 7);
    let v = s.verifier();
    for (size, root) in [
        (0, Hash::empty_tree()),
        (1, leaf_hash(b"first event")),
        (u64::MAX, Hash([0xab; 32])),
    ] {
        let cp = checkpoint(size, root);
        let signed = cp.sign(&s).unwrap();
        assert_eq!(signed.checkpoint(), &cp);
        assert!(signed.text().starts_with(&cp.body()));
        let opened = SignedCheckpoint::open(signed.text(), &v).unwrap();
        assert_eq!(opened, signed);
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
    }
}

#[test]
fn checkpoint_text_is_exactly_as_specified() {
    let cp = checkpoint(0, Hash::empty_tree());
    assert_eq!(
        cp.body(),
        "log.example/modeltrail\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\
         timestamp 2026-11-24T20:35:14.123456Z\n"
    );
    let s = signer(ORIGIN, 7);
    let signed = cp.sign(&s).unwrap();
    // The note is the text, a blank line and one signature line, built independently here.
    let expected = hand_signed(
        &SigningKey::from_bytes(&[7; 32]),
        ORIGIN,
        s.key_id(),
        &cp.body(),
    );
    assert_eq!(signed.text(), expected);
    let sig_line = signed.text().strip_prefix(&(cp.body() + "\n")).unwrap();
    assert!(sig_line.starts_with("\u{2014} log.example/modeltrail "));
    assert_eq!(sig_line.len(), "— ".len() + ORIGIN.len() + 1 + 92 + 1);
}

#[test]
fn unknown_signatures_are_ignored_but_ours_must_be_there_and_valid() {
    let log = signer(ORIGIN, 7);
    let witness = signer("witness.example/w1", 9);
    let signed = checkpoint(5, Hash([1; 32])).sign(&log).unwrap();
    // A cosignature by another key, appended after ours and before ours.
    let cosig = witness.sign(&checkpoint(5, Hash([1; 32])).body()).unwrap();
    let cosig_line = cosig.rsplit_once("\n\n").unwrap().1;
    let after = format!("{}{cosig_line}", signed.text());
    let (body, ours) = signed.text().rsplit_once("\n\n").unwrap();
    let before = format!("{body}\n\n{cosig_line}{ours}");
    for text in [&after, &before] {
        let opened = SignedCheckpoint::open(text, &log.verifier()).unwrap();
        assert_eq!(opened.checkpoint(), signed.checkpoint());
        assert_eq!(opened.text(), text.as_str());
        assert_eq!(
            open_note(text, &witness.verifier()).unwrap(),
            body.to_owned() + "\n"
        );
    }
    // Only the witness signature: no signature by the log.
    assert!(matches!(
        SignedCheckpoint::open(&cosig, &log.verifier()),
        Err(CheckpointError::Note(NoteError::NoSignatureBy { .. }))
    ));
    // A second signature line by our key that does not verify rejects the note.
    let broken = format!("{}\u{2014} {ORIGIN} {}\n", signed.text(), {
        let mut raw = log.key_id().to_be_bytes().to_vec();
        raw.extend_from_slice(&[0u8; 64]);
        BASE64.encode(raw)
    });
    assert!(matches!(
        SignedCheckpoint::open(&broken, &log.verifier()),
        Err(CheckpointError::Note(NoteError::BadSignature {
            line: 7,
            ..
        }))
    ));
}

// ---------------------------------------------------------------------------------------------
// Wrong keys

#[test]
fn rejects_other_keys() {
    let signed = checkpoint(3, Hash([3; 32]))
        .sign(&signer(ORIGIN, 7))
        .unwrap();
    // Same name, different key: a different key ID, so no signature by it.
    let same_name = signer(ORIGIN, 8).verifier();
    let err = SignedCheckpoint::open(signed.text(), &same_name).unwrap_err();
    assert_eq!(
        err,
        CheckpointError::Note(NoteError::NoSignatureBy {
            name: ORIGIN.to_owned(),
            key_id: same_name.key_id()
        })
    );
    assert!(err
        .to_string()
        .starts_with("no signature by log.example/modeltrail+"));
    // Different name, same key.
    let other_name = signer("other.example/log", 7).verifier();
    assert!(matches!(
        SignedCheckpoint::open(signed.text(), &other_name),
        Err(CheckpointError::Note(NoteError::NoSignatureBy { .. }))
    ));
}

#[test]
fn origin_must_be_the_key_name() {
    let other = signer("other.example/log", 7);
    assert_eq!(
        checkpoint(1, Hash([1; 32])).sign(&other),
        Err(CheckpointError::OriginMismatch {
            origin: ORIGIN.to_owned(),
            key_name: "other.example/log".to_owned()
        })
    );
    // A valid note by `other` whose checkpoint names a different origin.
    let text = other.sign(&checkpoint(1, Hash([1; 32])).body()).unwrap();
    assert!(matches!(
        SignedCheckpoint::open(&text, &other.verifier()),
        Err(CheckpointError::OriginMismatch { .. })
    ));
}

#[test]
fn signature_with_wrong_key_id_is_not_ours() {
    let s = signer(ORIGIN, 7);
    let body = checkpoint(2, Hash([2; 32])).body();
    let text = hand_signed(
        &SigningKey::from_bytes(&[7; 32]),
        ORIGIN,
        s.key_id() ^ 1,
        &body,
    );
    assert!(matches!(
        SignedCheckpoint::open(&text, &s.verifier()),
        Err(CheckpointError::Note(NoteError::NoSignatureBy { .. }))
    ));
}

// ---------------------------------------------------------------------------------------------
// Edits of the signed text

#[test]
fn every_bit_flip_and_every_byte_deletion_fails_to_open() {
    let s = signer(ORIGIN, 7);
    let v = s.verifier();
    let signed = checkpoint(1234, leaf_hash(b"x")).sign(&s).unwrap();
    let bytes = signed.text().as_bytes();
    let mut tried = 0;
    let mut rejected_as_utf8 = 0;
    let mut edits = Vec::new();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut edited = bytes.to_vec();
            edited[i] ^= 1 << bit;
            edits.push((format!("flip bit {bit} of byte {i}"), edited));
        }
        let mut deleted = bytes.to_vec();
        deleted.remove(i);
        edits.push((format!("delete byte {i}"), deleted));
    }
    for (what, edited) in edits {
        tried += 1;
        // Not UTF-8: no &str can hold it, so no caller can pass it to open.
        let Ok(text) = String::from_utf8(edited) else {
            rejected_as_utf8 += 1;
            continue;
        };
        let result = SignedCheckpoint::open(&text, &v);
        assert!(result.is_err(), "{what} still opens:\n{text}");
    }
    assert_eq!(tried, bytes.len() * 9);
    // Most edits must have reached the parser and verifier, not just the UTF-8 check.
    assert!(
        rejected_as_utf8 * 4 < tried,
        "{rejected_as_utf8} of {tried}"
    );
}

#[test]
fn bit_flips_fail_for_the_right_reason() {
    let s = signer(ORIGIN, 7);
    let v = s.verifier();
    let signed = checkpoint(9, Hash([9; 32])).sign(&s).unwrap();
    let text = signed.text();
    let body_len = signed.checkpoint().body().len();
    let flip = |i: usize| {
        let mut b = text.as_bytes().to_vec();
        b[i] ^= 0x01;
        String::from_utf8(b).unwrap()
    };
    // A body byte ('l' -> 'm'): the signature no longer verifies.
    assert!(matches!(
        open_note(&flip(0), &v),
        Err(NoteError::BadSignature { line: 6, .. })
    ));
    // The blank line ('\n' -> '\x0b'): a control character.
    assert!(matches!(
        open_note(&flip(body_len), &v),
        Err(NoteError::Malformed { line: 5, .. })
    ));
    // The key name in the signature line: not our key.
    let name_at = body_len + 1 + "— ".len();
    assert!(matches!(
        open_note(&flip(name_at), &v),
        Err(NoteError::NoSignatureBy { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Malformed checkpoint texts (validly signed, so only the checkpoint parser can reject them)

#[test]
fn rejects_missing_duplicate_and_extra_lines() {
    let v = signer(ORIGIN, 7).verifier();
    let root = Hash([5; 32]).to_base64();
    let ts = "timestamp 2026-11-24T20:35:14.123456Z";
    let cases = [
        (
            format!("{ORIGIN}\n5\n{root}\n"),
            4,
            "missing timestamp line",
        ),
        (format!("{ORIGIN}\n5\n"), 3, "missing root hash line"),
        (format!("{ORIGIN}\n"), 2, "missing tree size line"),
        (
            format!("{ORIGIN}\n5\n{root}\n{ts}\n{ts}\n"),
            5,
            "a second timestamp line",
        ),
        (
            format!("{ORIGIN}\n5\n{root}\n{ts}\nextra\n"),
            5,
            "unexpected line",
        ),
        (
            format!("{ORIGIN}\n5\n{root}\nextra\n{ts}\n"),
            4,
            "expected the extension line",
        ),
        (
            format!("{ORIGIN}\n5\n{root}\n{ts} \n"),
            4,
            "is not of the form",
        ),
        (
            format!("{ORIGIN}\n5\n{root}\ntimestamp 2026-11-24T20:35:14Z\n"),
            4,
            "is not of the form",
        ),
        (
            format!("{ORIGIN}\n5\n{root}\nTimestamp 2026-11-24T20:35:14.123456Z\n"),
            4,
            "expected the extension line",
        ),
        (
            format!("{ORIGIN}\n5\n{root}\n\n{ts}\n"),
            4,
            "expected the extension line",
        ),
    ];
    for (body, line, problem) in cases {
        let (got_line, got_problem) = malformed_line(SignedCheckpoint::open(&sign_text(&body), &v));
        assert_eq!(got_line, line, "{body:?}: {got_problem}");
        assert!(got_problem.contains(problem), "{body:?}: {got_problem}");
    }
}

#[test]
fn rejects_bad_sizes() {
    let v = signer(ORIGIN, 7).verifier();
    let root = Hash([5; 32]).to_base64();
    for (size, problem) in [
        ("01", "leading zero"),
        ("00", "leading zero"),
        ("+1", "not a decimal number"),
        ("-1", "not a decimal number"),
        ("1a", "not a decimal number"),
        (" 1", "not a decimal number"),
        ("1.0", "not a decimal number"),
        ("\u{0661}", "not a decimal number"),
        ("", "empty"),
        ("18446744073709551616", "does not fit"),
        ("99999999999999999999999", "does not fit"),
    ] {
        let body = format!("{ORIGIN}\n{size}\n{root}\ntimestamp 2026-11-24T20:35:14.123456Z\n");
        let (line, got) = malformed_line(SignedCheckpoint::open(&sign_text(&body), &v));
        assert_eq!(line, 2, "{size:?}: {got}");
        assert!(got.contains(problem), "{size:?}: {got}");
    }
    // The largest size is accepted.
    let body =
        format!("{ORIGIN}\n18446744073709551615\n{root}\ntimestamp 2026-11-24T20:35:14.123456Z\n");
    let opened = SignedCheckpoint::open(&sign_text(&body), &v).unwrap();
    assert_eq!(opened.checkpoint().size, u64::MAX);
}

#[test]
fn rejects_bad_roots() {
    let v = signer(ORIGIN, 7).verifier();
    let short = BASE64.encode([5u8; 31]);
    let long = BASE64.encode([5u8; 33]);
    let good = Hash([5; 32]).to_base64();
    let unpadded = good.trim_end_matches('=').to_owned();
    let urlsafe = Hash([0xfb; 32])
        .to_base64()
        .replace('+', "-")
        .replace('/', "_");
    let noncanonical = {
        // The last base64 digit before '=' carries 2 unused bits; set one.
        let mut t = good.clone().into_bytes();
        let i = t.len() - 2;
        t[i] = if t[i] == b'U' { b'V' } else { t[i] + 1 };
        String::from_utf8(t).unwrap()
    };
    for root in [
        short,
        long,
        unpadded,
        urlsafe,
        noncanonical,
        "!!!!".into(),
        "".into(),
    ] {
        let body = format!("{ORIGIN}\n5\n{root}\ntimestamp 2026-11-24T20:35:14.123456Z\n");
        let (line, got) = malformed_line(SignedCheckpoint::open(&sign_text(&body), &v));
        assert_eq!(line, 3, "{root:?}: {got}");
        assert!(got.contains("root hash"), "{root:?}: {got}");
    }
}

#[test]
fn rejects_bad_origins() {
    let root = Hash([5; 32]).to_base64();
    for origin in ["", "log example", "log+example", "log\u{a0}example"] {
        let body = format!("{origin}\n5\n{root}\ntimestamp 2026-11-24T20:35:14.123456Z\n");
        let err = Checkpoint::parse_body(&body).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Malformed { line: 1, .. }),
            "{origin:?}: {err}"
        );
        let cp = Checkpoint {
            origin: origin.to_owned(),
            ..checkpoint(5, Hash([5; 32]))
        };
        assert!(matches!(
            cp.sign(&signer(ORIGIN, 7)),
            Err(CheckpointError::Malformed { line: 1, .. })
        ));
    }
    // An empty origin in a validly signed note (the spec allows empty lines in a note text).
    let key = SigningKey::from_bytes(&[7; 32]);
    let s = signer(ORIGIN, 7);
    let body = format!("\n5\n{root}\ntimestamp 2026-11-24T20:35:14.123456Z\n");
    let text = hand_signed(&key, ORIGIN, s.key_id(), &body);
    let (line, problem) = malformed_line(SignedCheckpoint::open(&text, &s.verifier()));
    assert_eq!(line, 1);
    assert!(problem.contains("empty"), "{problem}");
}

#[test]
fn rejects_text_without_final_newline_and_unwritable_timestamps() {
    let body = checkpoint(5, Hash([5; 32])).body();
    let err = Checkpoint::parse_body(body.trim_end_matches('\n')).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Malformed { line: 4, .. }),
        "{err}"
    );
    let far = Checkpoint {
        timestamp: Timestamp::from_micros(i64::MAX),
        ..checkpoint(5, Hash([5; 32]))
    };
    assert!(matches!(
        far.sign(&signer(ORIGIN, 7)),
        Err(CheckpointError::Malformed { line: 4, .. })
    ));
    let early = Checkpoint {
        timestamp: Timestamp::from_micros(-1),
        ..checkpoint(5, Hash([5; 32]))
    };
    let signed = early.sign(&signer(ORIGIN, 7)).unwrap();
    assert!(signed
        .text()
        .contains("timestamp 1969-12-31T23:59:59.999999Z\n"));
}

// ---------------------------------------------------------------------------------------------
// Malformed notes

#[test]
fn rejects_malformed_notes() {
    let s = signer(ORIGIN, 7);
    let v = s.verifier();
    let signed = checkpoint(5, Hash([5; 32])).sign(&s).unwrap();
    let text = signed.text();
    let (body, sig_line) = text.rsplit_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let sig_b64 = sig_line.rsplit_once(' ').unwrap().1.trim_end();

    // No signature block at all.
    for bad in [
        body.clone(),
        format!("{body}\n"),
        String::new(),
        "\n\n".into(),
    ] {
        assert_eq!(
            open_note(&bad, &v),
            Err(NoteError::NoSignatureBlock),
            "{bad:?}"
        );
        assert!(SignedCheckpoint::open(&bad, &v).is_err());
    }
    let cases = [
        // Signature line without an em dash.
        (format!("{body}\n- {ORIGIN} {sig_b64}\n"), 6, "em dash"),
        (format!("{body}\n-- {ORIGIN} {sig_b64}\n"), 6, "em dash"),
        (
            format!("{body}\n\u{2013} {ORIGIN} {sig_b64}\n"),
            6,
            "em dash",
        ),
        (
            format!("{body}\n\u{2014}{ORIGIN} {sig_b64}\n"),
            6,
            "em dash",
        ),
        // Truncated or damaged base64.
        (
            format!(
                "{body}\n\u{2014} {ORIGIN} {}\n",
                &sig_b64[..sig_b64.len() - 1]
            ),
            6,
            "base64",
        ),
        (
            format!("{body}\n\u{2014} {ORIGIN} {}\n", &sig_b64[..10]),
            6,
            "base64",
        ),
        (
            format!("{body}\n\u{2014} {ORIGIN} {sig_b64} \n"),
            6,
            "base64",
        ),
        (
            format!("{body}\n\u{2014} {ORIGIN}  {sig_b64}\n"),
            6,
            "base64",
        ),
        (
            format!("{body}\n\u{2014} {ORIGIN} AAAA\n"),
            6,
            "shorter than",
        ),
        // Missing parts.
        (format!("{body}\n\u{2014} {ORIGIN}\n"), 6, "space between"),
        (format!("{body}\n\u{2014}  {sig_b64}\n"), 6, "empty"),
        // No final newline.
        (format!("{body}\n\u{2014} {ORIGIN} {sig_b64}"), 6, "newline"),
        (format!("{text}{}", sig_line.trim_end()), 7, "newline"),
        // Text after the signatures, control characters, carriage returns.
        (format!("{text}Unexpected line.\n"), 7, "em dash"),
        (text.replace('\n', "\r\n"), 1, "U+000D"),
        (format!("\u{1}{text}"), 1, "U+0001"),
        (text.replacen("\n\u{2014}", "\n\t\u{2014}", 1), 6, "U+0009"),
    ];
    for (bad, line, problem) in cases {
        match open_note(&bad, &v) {
            Err(NoteError::Malformed {
                line: l,
                problem: p,
            }) => {
                assert_eq!(l, line, "{bad:?}: {p}");
                assert!(p.contains(problem), "{bad:?}: {p}");
            }
            other => panic!("{bad:?}: expected malformed, got {other:?}"),
        }
        assert!(SignedCheckpoint::open(&bad, &v).is_err());
    }
    // Truncated by a whole base64 group: well-formed, names our key, does not verify.
    let short = format!(
        "{body}\n\u{2014} {ORIGIN} {}\n",
        &sig_b64[..sig_b64.len() - 4]
    );
    assert!(matches!(
        open_note(&short, &v),
        Err(NoteError::BadSignature { line: 6, .. })
    ));
    // Too large.
    let huge = format!("{}\n{text}", "x".repeat(MAX_NOTE_LEN));
    assert_eq!(open_note(&huge, &v), Err(NoteError::TooLarge(huge.len())));
    // Too many signature lines (101), even if all are valid.
    let many = format!("{body}\n{}", sig_line.repeat(101));
    assert!(matches!(
        open_note(&many, &v),
        Err(NoteError::Malformed { line: 106, .. })
    ));
    let enough = format!("{body}\n{}", sig_line.repeat(100));
    assert_eq!(open_note(&enough, &v), Ok(body.as_str()));
}

#[test]
fn sign_rejects_texts_that_are_not_note_texts() {
    let s = signer(ORIGIN, 7);
    for (text, problem) in [
        ("", "empty"),
        ("no newline", "newline"),
        ("\n", "line 1 is empty"),
        ("a\n\nb\n", "line 2 is empty"),
        ("a\n\n", "line 2 is empty"),
        ("a\r\n", "U+000D"),
        ("a\tb\n", "U+0009"),
    ] {
        match s.sign(text) {
            Err(NoteError::InvalidText(p)) => assert!(p.contains(problem), "{text:?}: {p}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let big = "x".repeat(MAX_NOTE_LEN) + "\n";
    assert!(matches!(s.sign(&big), Err(NoteError::TooLarge(_))));
}

// ---------------------------------------------------------------------------------------------
// Interop: published vectors

/// From golang.org/x/mod/sumdb/note (package doc, ExampleSign, TestSign, TestOpen).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                          then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn golang_note_example_is_reproduced_byte_for_byte() {
    let signer = NoteSigner::from_text(PETER_SKEY).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.to_text(), PETER_SKEY);
    assert_eq!(signer.verifier().to_text(), PETER_VKEY);
    let note = signer.sign(PETER_TEXT).unwrap();
    assert_eq!(note, format!("{PETER_TEXT}\n{PETER_SIG}"));

    let verifier = NoteVerifier::from_text(PETER_VKEY).unwrap();
    assert_eq!(verifier, signer.verifier());
    assert_eq!(verifier.to_text(), PETER_VKEY);
    assert_eq!(open_note(&note, &verifier), Ok(PETER_TEXT));
}

#[test]
fn golang_doubly_signed_note_opens_with_either_key() {
    let peter = NoteVerifier::from_text(PETER_VKEY).unwrap();
    let enoch = NoteVerifier::from_text(ENOCH_VKEY).unwrap();
    let note = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(open_note(&note, &peter), Ok(PETER_TEXT));
    assert_eq!(open_note(&note, &enoch), Ok(PETER_TEXT));
    let only_enoch = format!("{PETER_TEXT}\n{ENOCH_SIG}");
    assert!(matches!(
        open_note(&only_enoch, &peter),
        Err(NoteError::NoSignatureBy { .. })
    ));
    // Go's "invalid signature" case: 4 base64 digits inserted into Peter's signature.
    let inserted = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let note = format!("{PETER_TEXT}\n{inserted}");
    assert!(matches!(
        open_note(&note, &peter),
        Err(NoteError::BadSignature { line: 4, .. })
    ));
    // Go's malformed-message cases.
    for bad in [
        PETER_TEXT.to_owned(),
        format!("{PETER_TEXT}\n"),
        format!("{PETER_TEXT}\n{}", PETER_SIG.trim_end()),
        format!("\u{1}{PETER_TEXT}\n{PETER_SIG}"),
        format!(
            "{PETER_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{PETER_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ] {
        let err = open_note(&bad, &peter).unwrap_err();
        assert!(
            matches!(err, NoteError::Malformed { .. } | NoteError::NoSignatureBlock),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn c2sp_signed_note_example_verifies() {
    // From c2sp.org/signed-note, "Verifier keys / Example".
    let verifier = NoteVerifier::from_text(
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    )
    .unwrap();
    let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    assert_eq!(
        open_note(note, &verifier),
        Ok("This is an example message.\n")
    );
    let edited = note.replace("example message", "example massage");
    assert!(matches!(
        open_note(&edited, &verifier),
        Err(NoteError::BadSignature { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Key texts

#[test]
fn key_texts_round_trip() {
    for (name, seed) in [(ORIGIN, 1u8), ("a", 2), ("\u{00e9}t\u{00e9}/\u{4e2d}", 3)] {
        let s = signer(name, seed);
        let skey = s.to_text();
        assert!(skey.starts_with(&format!("PRIVATE+KEY+{name}+{:08x}+", s.key_id())));
        let back = NoteSigner::from_text(&skey).unwrap();
        assert_eq!(back.to_text(), skey);
        assert_eq!(back.verifier(), s.verifier());
        let vkey = s.verifier().to_text();
        let public = [&[1u8][..], s.verifier().verifying_key().as_bytes()].concat();
        assert_eq!(
            vkey,
            format!("{name}+{:08x}+{}", s.key_id(), BASE64.encode(public))
        );
        assert_eq!(NoteVerifier::from_text(&vkey).unwrap(), s.verifier());
    }
}

#[test]
fn signer_debug_hides_the_key() {
    let s = NoteSigner::from_text(PETER_SKEY).unwrap();
    let debug = format!("{s:?}");
    assert!(
        debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
        "{debug}"
    );
    let seed = BASE64.decode(&PETER_SKEY[PETER_SKEY.len() - 44..]).unwrap();
    for secret in [
        PETER_SKEY[PETER_SKEY.len() - 44..].to_owned(),
        BASE64.encode(&seed[1..]),
        format!("{:?}", &seed[1..]),
        hex::encode(&seed[1..]),
        format!("{}", seed[1]),
    ] {
        assert!(!debug.contains(&secret), "{debug} contains {secret}");
    }
}

#[test]
fn rejects_key_texts_with_a_key_id_that_does_not_match() {
    let wrong_v = PETER_VKEY.replace("c74f20a3", "c74f20a4");
    assert_eq!(
        NoteVerifier::from_text(&wrong_v),
        Err(NoteError::KeyIdMismatch {
            found: 0xc74f20a4,
            expected: 0xc74f20a3
        })
    );
    let wrong_s = PETER_SKEY.replace("c74f20a3", "00000000");
    assert!(matches!(
        NoteSigner::from_text(&wrong_s),
        Err(NoteError::KeyIdMismatch { .. })
    ));
    // Same key and ID under another name.
    let renamed = PETER_VKEY.replace("PeterNeumann", "PeterNeuman");
    assert!(matches!(
        NoteVerifier::from_text(&renamed),
        Err(NoteError::KeyIdMismatch { .. })
    ));
}

#[test]
fn rejects_mangled_key_texts() {
    // Every proper substring and every single-byte change of the published keys.
    for key in [PETER_VKEY, PETER_SKEY] {
        let parse = |t: &str| {
            if key == PETER_VKEY {
                NoteVerifier::from_text(t).map(|_| ())
            } else {
                NoteSigner::from_text(t).map(|_| ())
            }
        };
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    assert!(parse(&key[i..j]).is_err(), "{}", &key[i..j]);
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(t) = String::from_utf8(m) {
                assert!(parse(&t).is_err(), "{t}");
            }
        }
    }
    for bad in [
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ] {
        assert!(NoteVerifier::from_text(bad).is_err(), "{bad}");
    }
    // A signer key is not a verifier key and vice versa; errors never echo the secret.
    let err = NoteVerifier::from_text(PETER_SKEY).unwrap_err();
    assert!(!err.to_string().contains("AYEKFALV"), "{err}");
    assert!(NoteSigner::from_text(PETER_VKEY).is_err());
    let err = NoteSigner::from_text(&format!("PRIVATE+KEY+ {}", &PETER_SKEY[12..])).unwrap_err();
    assert!(!err.to_string().contains("AYEKFALV"), "{err}");
    // Invalid names are refused when building keys.
    for name in ["", "a b", "a+b", "a\u{2003}b", "a\u{1}b"] {
        assert!(matches!(
            NoteSigner::new(name, SigningKey::from_bytes(&[1; 32])),
            Err(NoteError::InvalidKeyName { .. })
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Property test

fn key_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._/:-]{1,40}",
        "[a-z\u{e9}\u{4e2d}\u{1f600}\u{2014}/=]{1,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_checkpoints_round_trip(
        origin in key_name(),
        seed in any::<[u8; 32]>(),
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        // Years 0000 to 9999.
        micros in -62_167_219_200_000_000i64..=253_402_300_799_999_999i64,
    ) {
        let signer = NoteSigner::new(&origin, SigningKey::from_bytes(&seed)).unwrap();
        let cp = Checkpoint { origin, size, root: Hash(root), timestamp: Timestamp::from_micros(micros) };
        let signed = cp.sign(&signer).unwrap();
        let opened = SignedCheckpoint::open(signed.text(), &signer.verifier()).unwrap();
        prop_assert_eq!(opened.checkpoint(), &cp);
        prop_assert_eq!(opened.text(), signed.text());
        let vkey = NoteVerifier::from_text(&signer.verifier().to_text()).unwrap();
        prop_assert_eq!(SignedCheckpoint::open(signed.text(), &vkey).unwrap(), signed);
    }
}
