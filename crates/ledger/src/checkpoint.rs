//! C2SP tlog checkpoints (c2sp.org/tlog-checkpoint): the checkpoint text with one timestamp
//! extension line, and checkpoints signed as notes.

use crate::hash::Hash;
use crate::note::{self, NoteError, NoteSigner, NoteVerifier};
use crate::timestamp::Timestamp;

/// Prefix of the one extension line our checkpoints carry.
const TIMESTAMP_PREFIX: &str = "timestamp ";

/// A checkpoint could not be made, read or verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// A line of the checkpoint text is malformed.
    #[error("malformed checkpoint, line {line}: {problem}")]
    Malformed {
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The origin line is not the name of the key that signs or verifies the checkpoint.
    #[error("checkpoint origin {origin:?} is not the key name {key_name:?}")]
    OriginMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The key's name.
        key_name: String,
    },
    /// The signed note around the checkpoint is malformed or does not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A tree head: the log's origin, tree size, root hash and the time it was made.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    /// The log's identity; also the key name of the log's signing key.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree at `size`.
    pub root: Hash,
    /// When the checkpoint was made.
    pub timestamp: Timestamp,
}

/// Quotes a piece of input for an error message, cut to a readable length.
fn quote(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

fn malformed(line: usize, problem: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed {
        line,
        problem: problem.into(),
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("the tree size line is empty".into());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "tree size {} is not a decimal number (digits 0-9 only)",
            quote(text)
        ));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(format!("tree size {} has a leading zero", quote(text)));
    }
    text.parse::<u64>()
        .map_err(|_| format!("tree size {} does not fit in 64 bits", quote(text)))
}

fn parse_timestamp_line(line: &str) -> Result<Timestamp, String> {
    let Some(text) = line.strip_prefix(TIMESTAMP_PREFIX) else {
        return Err(format!(
            "expected the extension line `timestamp YYYY-MM-DDTHH:MM:SS.ffffffZ`, found {}",
            quote(line)
        ));
    };
    let timestamp = Timestamp::parse(text).map_err(|e| e.to_string())?;
    if timestamp.to_string() != text {
        return Err(format!(
            "timestamp {} is not in canonical form",
            quote(text)
        ));
    }
    Ok(timestamp)
}

impl Checkpoint {
    /// The checkpoint text: origin, size, base64 root and `timestamp <RFC 3339>`, one per line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{TIMESTAMP_PREFIX}{}\n",
            self.origin,
            self.size,
            self.root.to_base64(),
            self.timestamp
        )
    }

    /// Reads exactly the text [`Checkpoint::body`] writes: four lines, each ending in a newline,
    /// the fourth being the timestamp line. Anything else is an error naming the line.
    pub fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let Some(content) = body.strip_suffix('\n') else {
            return Err(malformed(
                body.split('\n').count(),
                "the checkpoint text does not end in a newline",
            ));
        };
        let lines: Vec<&str> = content.split('\n').collect();
        let line = |i: usize, what: &str| -> Result<&str, CheckpointError> {
            match lines.get(i) {
                Some(text) => Ok(text),
                None => Err(malformed(i + 1, format!("missing {what} line"))),
            }
        };

        let origin = line(0, "origin")?;
        note::validate_key_name(origin).map_err(|e| match e {
            NoteError::InvalidKeyName { problem, .. } => {
                malformed(1, format!("origin {}: {problem}", quote(origin)))
            }
            other => CheckpointError::Note(other),
        })?;
        let size = parse_size(line(1, "tree size")?).map_err(|p| malformed(2, p))?;
        let root_text = line(2, "root hash")?;
        let root = Hash::from_base64(root_text)
            .map_err(|e| malformed(3, format!("root hash {}: {e}", quote(root_text))))?;
        let timestamp = parse_timestamp_line(line(3, "timestamp")?).map_err(|p| malformed(4, p))?;
        if let Some(extra) = lines.get(4) {
            let problem = if extra.starts_with(TIMESTAMP_PREFIX) {
                "a second timestamp line".to_owned()
            } else {
                format!(
                    "unexpected line {} after the timestamp line (no other extension lines are allowed)",
                    quote(extra)
                )
            };
            return Err(malformed(5, problem));
        }

        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            timestamp,
        };
        // Every field is read strictly, so writing it back must give the same text.
        let written = checkpoint.body();
        if let Some(i) = written
            .split('\n')
            .zip(body.split('\n'))
            .position(|(a, b)| a != b)
        {
            return Err(malformed(i + 1, "the line is not in canonical form"));
        }
        Ok(checkpoint)
    }

    /// Signs the checkpoint as a note. The signer's key name must be the origin, and the
    /// checkpoint must be writable (valid origin, timestamp within years 0000 to 9999).
    pub fn sign(&self, signer: &NoteSigner) -> Result<SignedCheckpoint, CheckpointError> {
        let body = self.body();
        Checkpoint::parse_body(&body)?;
        if self.origin != signer.name() {
            return Err(CheckpointError::OriginMismatch {
                origin: self.origin.clone(),
                key_name: signer.name().to_owned(),
            });
        }
        let text = signer.sign(&body)?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            text,
        })
    }
}

/// A checkpoint together with the exact signed note it was read from or signed into.
/// It can only be made by signing or by opening (verifying) a note, so the two always agree.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    text: String,
}

impl SignedCheckpoint {
    /// Verifies a signed checkpoint note with `verifier` (signatures by other keys are
    /// ignored), reads its checkpoint text and checks that the origin is the key's name.
    pub fn open(text: &str, verifier: &NoteVerifier) -> Result<SignedCheckpoint, CheckpointError> {
        let body = note::open_note(text, verifier)?;
        let checkpoint = Checkpoint::parse_body(body)?;
        if checkpoint.origin != verifier.name() {
            return Err(CheckpointError::OriginMismatch {
                origin: checkpoint.origin,
                key_name: verifier.name().to_owned(),
            });
        }
        Ok(SignedCheckpoint {
            checkpoint,
            text: text.to_owned(),
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note, byte for byte.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The checkpoint and the signed note.
    pub fn into_parts(self) -> (Checkpoint, String) {
        (self.checkpoint, self.text)
    }
}
