//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys: key names and key IDs, the text
//! forms of signer and verifier keys, signing a note text and opening (parsing and verifying) a
//! signed note.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Signature type byte for Ed25519 in the key ID and in key texts.
const ED25519_TYPE: u8 = 0x01;

/// The largest signed note [`open_note`] reads and [`NoteSigner::sign`] writes: 1 MiB.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The most signature lines [`open_note`] reads (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Prefix of every signature line: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Prefix of the text form of a signer key.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// A signed note or a key could not be made, read or verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// A key name breaks the spec's rules.
    #[error("invalid key name {name:?}: {problem}")]
    InvalidKeyName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        problem: &'static str,
    },
    /// The text form of a signer key is malformed (the message never holds key material).
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(String),
    /// The text form of a verifier key is malformed.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(String),
    /// A key text names a key ID that is not the ID of the key it carries.
    #[error("key id {found:08x} in the key text is not the id of its key, {expected:08x}")]
    KeyIdMismatch {
        /// The key ID written in the text.
        found: u32,
        /// The key ID computed from the name and key.
        expected: u32,
    },
    /// The text given to [`NoteSigner::sign`] cannot be the text of a note.
    #[error("invalid note text to sign: {0}")]
    InvalidText(String),
    /// The note is longer than [`MAX_NOTE_LEN`].
    #[error("note is {0} bytes, more than the limit of {MAX_NOTE_LEN}")]
    TooLarge(usize),
    /// The note has no blank line followed by signature lines.
    #[error("malformed note: no blank line followed by signature lines")]
    NoSignatureBlock,
    /// A line of the note is malformed.
    #[error("malformed note, line {line}: {problem}")]
    Malformed {
        /// Line number, from 1, over the whole note.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A signature line names the expected key but its signature does not verify.
    #[error("signature by {name}+{key_id:08x} on line {line} does not verify")]
    BadSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
        /// Line number of the signature line, from 1, over the whole note.
        line: usize,
    },
    /// The note is well-formed but no signature line names the expected key.
    #[error("no signature by {name}+{key_id:08x}")]
    NoSignatureBy {
        /// The expected key name.
        name: String,
        /// The expected key ID.
        key_id: u32,
    },
}

/// Checks a key name: non-empty, no Unicode white space, no '+', no control characters below
/// U+0020 (which a note may not contain anyway).
pub fn validate_key_name(name: &str) -> Result<(), NoteError> {
    let problem = if name.is_empty() {
        Some("a key name must not be empty")
    } else if name.chars().any(char::is_whitespace) {
        Some("a key name must not contain white space")
    } else if name.contains('+') {
        Some("a key name must not contain '+'")
    } else if name.chars().any(|c| c < ' ') {
        Some("a key name must not contain control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

/// The key ID of an Ed25519 key: the first 4 bytes, big-endian, of
/// SHA-256(name || 0x0A || 0x01 || public key).
pub fn ed25519_key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_TYPE]);
    h.update(key.as_bytes());
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Reads exactly 8 lowercase hex digits.
fn parse_key_id(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Splits `<name>+<key id>+<base64 key>` and checks name, key ID syntax and the type byte.
/// Returns the name, the key ID and the 32 key bytes; `malformed` builds the error. Messages
/// are fixed texts, so that signer key material never reaches them.
fn split_key_text(
    text: &str,
    malformed: fn(String) -> NoteError,
) -> Result<(&str, u32, [u8; 32]), NoteError> {
    let (name, rest) = text
        .split_once('+')
        .ok_or_else(|| malformed("expected <name>+<key id>+<key>".into()))?;
    validate_key_name(name)?;
    let (id_text, key_text) = rest
        .split_once('+')
        .ok_or_else(|| malformed("expected <name>+<key id>+<key>".into()))?;
    let key_id = parse_key_id(id_text)
        .ok_or_else(|| malformed("the key id must be 8 lowercase hex digits".into()))?;
    let bytes = BASE64
        .decode(key_text)
        .map_err(|_| malformed("the key is not valid base64".into()))?;
    let (&kind, key) = bytes
        .split_first()
        .ok_or_else(|| malformed("the key is empty".into()))?;
    if kind != ED25519_TYPE {
        return Err(malformed(format!(
            "unsupported signature type 0x{kind:02x} (only 0x01, Ed25519)"
        )));
    }
    let key = <[u8; 32]>::try_from(key).map_err(|_| {
        malformed(format!(
            "an Ed25519 key is 32 bytes after the type byte, found {}",
            key.len()
        ))
    })?;
    Ok((name, key_id, key))
}

fn check_key_id(found: u32, expected: u32) -> Result<(), NoteError> {
    if found == expected {
        Ok(())
    } else {
        Err(NoteError::KeyIdMismatch { found, expected })
    }
}

/// A public key that verifies notes: key name, key ID and Ed25519 public key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`; rejects invalid names and weak (small-order) keys.
    pub fn new(name: &str, key: VerifyingKey) -> Result<NoteVerifier, NoteError> {
        validate_key_name(name)?;
        if key.is_weak() {
            return Err(NoteError::MalformedVerifierKey(
                "the public key is a weak (small-order) point".into(),
            ));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &key),
            key,
        })
    }

    /// Reads `<name>+<8 hex key id>+<base64(0x01 || public key)>`, checking the key ID.
    pub fn from_text(text: &str) -> Result<NoteVerifier, NoteError> {
        let (name, key_id, bytes) = split_key_text(text, NoteError::MalformedVerifierKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| {
            NoteError::MalformedVerifierKey("the key is not a valid Ed25519 public key".into())
        })?;
        let verifier = NoteVerifier::new(name, key)?;
        check_key_id(key_id, verifier.key_id)?;
        Ok(verifier)
    }

    /// Writes `<name>+<8 hex key id>+<base64(0x01 || public key)>`.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ED25519_TYPE);
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// A private key that signs notes: key name, key ID and Ed25519 signing key.
/// Its `Debug` output shows the name and key ID only.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `key` under `name`; rejects invalid names.
    pub fn new(name: &str, key: SigningKey) -> Result<NoteSigner, NoteError> {
        validate_key_name(name)?;
        Ok(NoteSigner {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &key.verifying_key()),
            key,
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>`, checking the key
    /// ID against the public key derived from the seed. Errors never contain key material.
    pub fn from_text(text: &str) -> Result<NoteSigner, NoteError> {
        let rest = text.strip_prefix(PRIVATE_PREFIX).ok_or_else(|| {
            NoteError::MalformedSignerKey("a signer key starts with PRIVATE+KEY+".into())
        })?;
        // A malformed text may put part of the seed where the name goes: don't echo the name.
        let (name, key_id, seed) =
            split_key_text(rest, NoteError::MalformedSignerKey).map_err(|e| match e {
                NoteError::InvalidKeyName { problem, .. } => {
                    NoteError::MalformedSignerKey(problem.into())
                }
                other => other,
            })?;
        let signer = NoteSigner::new(name, SigningKey::from_bytes(&seed))?;
        check_key_id(key_id, signer.key_id)?;
        Ok(signer)
    }

    /// Writes `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>`. This text is secret.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ED25519_TYPE);
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(bytes)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The verifier for this signer's public key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` and returns the signed note: `text`, a blank line and one signature line.
    /// `text` must be non-empty, end in a newline, have no empty lines and no control
    /// characters other than newline.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text_to_sign(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(4 + 64);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&signature.to_bytes());
        let note = format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw));
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge(note.len()));
        }
        Ok(note)
    }
}

fn check_text_to_sign(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::InvalidText("the text is empty".into()));
    }
    if !text.ends_with('\n') {
        return Err(NoteError::InvalidText(
            "the text does not end in a newline".into(),
        ));
    }
    for (i, line) in text[..text.len() - 1].split('\n').enumerate() {
        if line.is_empty() {
            return Err(NoteError::InvalidText(format!("line {} is empty", i + 1)));
        }
        if let Some(c) = line.chars().find(|&c| c < ' ') {
            return Err(NoteError::InvalidText(format!(
                "line {} contains the control character U+{:04X}",
                i + 1,
                u32::from(c)
            )));
        }
    }
    Ok(())
}

/// One parsed signature line.
struct SignatureLine<'a> {
    line: usize,
    name: &'a str,
    key_id: u32,
    signature: Vec<u8>,
}

/// Parses one signature line (without its newline): `— <name> <base64(key id || signature)>`.
fn parse_signature_line(line_no: usize, line: &str) -> Result<SignatureLine<'_>, NoteError> {
    let malformed = |problem: String| NoteError::Malformed {
        line: line_no,
        problem,
    };
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
        malformed("a signature line must start with an em dash (U+2014) and a space".into())
    })?;
    let (name, b64) = rest.split_once(' ').ok_or_else(|| {
        malformed("a signature line must have a space between key name and signature".into())
    })?;
    validate_key_name(name).map_err(|e| malformed(e.to_string()))?;
    let raw = BASE64
        .decode(b64)
        .map_err(|e| malformed(format!("the signature is not valid base64: {e}")))?;
    if raw.len() < 5 {
        return Err(malformed(format!(
            "the signature is {} bytes, shorter than a 4-byte key id and a signature",
            raw.len()
        )));
    }
    let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    Ok(SignatureLine {
        line: line_no,
        name,
        key_id,
        signature: raw[4..].to_vec(),
    })
}

/// Parses a signed note and verifies it with `verifier`; returns the note text (up to and
/// including its final newline, without the blank line).
///
/// The note must be at most [`MAX_NOTE_LEN`] bytes with at most [`MAX_SIGNATURES`] signature
/// lines, contain no control characters other than newline, and every signature line must be
/// well-formed. The text ends at the last blank line. Signatures by other keys are ignored;
/// every signature naming the verifier's key name and ID must verify, and there must be one.
pub fn open_note<'a>(note: &'a str, verifier: &NoteVerifier) -> Result<&'a str, NoteError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(NoteError::TooLarge(note.len()));
    }
    for (i, line) in note.split('\n').enumerate() {
        if let Some(c) = line.chars().find(|&c| c < ' ') {
            return Err(NoteError::Malformed {
                line: i + 1,
                problem: format!("control character U+{:04X}", u32::from(c)),
            });
        }
    }
    let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
    let (text, block) = (&note[..split + 1], &note[split + 2..]);
    // The first signature line follows the text's lines and the blank line.
    let first_line = text.matches('\n').count() + 2;
    if block.is_empty() {
        return Err(NoteError::NoSignatureBlock);
    }
    let Some(block) = block.strip_suffix('\n') else {
        return Err(NoteError::Malformed {
            line: first_line + block.matches('\n').count(),
            problem: "the last signature line does not end in a newline".into(),
        });
    };
    let mut lines = Vec::new();
    for (i, line) in block.split('\n').enumerate() {
        if i == MAX_SIGNATURES {
            return Err(NoteError::Malformed {
                line: first_line + i,
                problem: format!("more than {MAX_SIGNATURES} signature lines"),
            });
        }
        lines.push(parse_signature_line(first_line + i, line)?);
    }
    let mut verified = false;
    for sig in lines {
        if sig.name != verifier.name || sig.key_id != verifier.key_id {
            continue;
        }
        let bad = || NoteError::BadSignature {
            name: sig.name.to_owned(),
            key_id: sig.key_id,
            line: sig.line,
        };
        let signature = Signature::from_slice(&sig.signature).map_err(|_| bad())?;
        verifier
            .key
            .verify_strict(text.as_bytes(), &signature)
            .map_err(|_| bad())?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::NoSignatureBy {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        })
    }
}
