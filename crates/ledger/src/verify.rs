//! Offline verification of a whole log: every leaf hash, every stored subtree hash, the tree at
//! every signed checkpoint, timestamp order and record version chains. It reports the first
//! divergence precisely.
//!
//! The work is split so a caller can spread it over cores: [`check_leaf`] looks at one stored
//! event alone (hashing, parsing) and runs anywhere; [`LogVerifier`] takes the checked leaves in
//! order and does what depends on order (the tree, timestamps, chains, checkpoints).

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::event::{EventHead, RecordRef};
use crate::hash::{leaf_hash, Hash, HASH_LEN};
use crate::note::NoteVerifier;
use crate::timestamp::Timestamp;
use crate::tree::{completed_count, Frontier};
use std::collections::HashMap;
use std::fmt;

/// The first thing found that is not as it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    #[error("seq {expected}: missing from the log; the next stored event is at position {found}")]
    Gap { expected: u64, found: u64 },
    #[error("seq {position}: the event stored at this position says it is seq {found}")]
    SeqMismatch { position: u64, found: u64 },
    #[error("seq {seq}: the event is not readable: {reason}")]
    Malformed { seq: u64, reason: String },
    #[error(
        "seq {seq}: the stored hash of the level-{level} subtree ending here is {found}, \
         but the events give {expected}"
    )]
    StoredHashMismatch {
        seq: u64,
        level: usize,
        expected: Hash,
        found: Hash,
    },
    #[error(
        "seq {seq}: the store holds {found} bytes of subtree hashes here, expected {expected}"
    )]
    StoredHashesLength {
        seq: u64,
        expected: usize,
        found: usize,
    },
    #[error("seq {seq}: timestamp {found} is before the previous event's {previous}")]
    TimestampDecreased {
        seq: u64,
        previous: Timestamp,
        found: Timestamp,
    },
    #[error("seq {seq}: record {record}: {problem}")]
    ChainBroken {
        seq: u64,
        record: String,
        problem: String,
    },
    #[error("checkpoint stored for size {stored_size}: {reason}")]
    BadCheckpoint { stored_size: u64, reason: String },
    #[error(
        "checkpoint at size {size}: its signed root is {expected}, but the log's first {size} \
         events give {found}"
    )]
    RootMismatch {
        size: u64,
        expected: Hash,
        found: Hash,
    },
    #[error(
        "checkpoint at size {size} is dated {checkpoint_time}, before its last event \
         (seq {seq}, {event_time})"
    )]
    CheckpointBeforeEvent {
        size: u64,
        checkpoint_time: Timestamp,
        seq: u64,
        event_time: Timestamp,
    },
    #[error("checkpoints out of time order: size {size} is dated {found}, before {previous}")]
    CheckpointTimeDecreased {
        size: u64,
        previous: Timestamp,
        found: Timestamp,
    },
    #[error("checkpoint at size {size} is beyond the end of the log, which has {log_size} events")]
    Truncated { size: u64, log_size: u64 },
    #[error(
        "seq {signed} onwards: the log has {log_size} events but no signed checkpoint covers \
         any beyond {signed}"
    )]
    Unsigned { signed: u64, log_size: u64 },
}

/// One stored event, checked on its own.
#[derive(Debug)]
pub struct CheckedLeaf {
    seq: u64,
    leaf: Hash,
    timestamp: Timestamp,
    record: Option<RecordRef>,
    prev: Option<Hash>,
    target: Option<Hash>,
    /// Stored hashes of the subtrees this leaf completes above level 0, bottom up.
    stored_above: Vec<Hash>,
}

/// Checks one stored event alone: its leaf hash against the stored one, that it names its own
/// position, and that it is readable. `stored_hashes` are the subtree hashes stored with it.
pub fn check_leaf(
    position: u64,
    body: &[u8],
    stored_hashes: &[u8],
) -> Result<CheckedLeaf, Divergence> {
    let expected_len = completed_count(position) * HASH_LEN;
    if stored_hashes.len() != expected_len {
        return Err(Divergence::StoredHashesLength {
            seq: position,
            expected: expected_len,
            found: stored_hashes.len(),
        });
    }
    let leaf = leaf_hash(body);
    let mut stored = stored_hashes
        .chunks_exact(HASH_LEN)
        .filter_map(|c| Hash::from_slice(c).ok());
    let stored_leaf = stored.next().unwrap_or(Hash([0; HASH_LEN]));
    if stored_leaf != leaf {
        return Err(Divergence::StoredHashMismatch {
            seq: position,
            level: 0,
            expected: leaf,
            found: stored_leaf,
        });
    }
    let head = EventHead::from_canonical(body).map_err(|e| Divergence::Malformed {
        seq: position,
        reason: e.to_string(),
    })?;
    if head.seq != position {
        return Err(Divergence::SeqMismatch {
            position,
            found: head.seq,
        });
    }
    Ok(CheckedLeaf {
        seq: position,
        leaf,
        timestamp: head.timestamp,
        record: head.record,
        prev: head.prev,
        target: head.target,
        stored_above: stored.collect(),
    })
}

/// Opens a stored checkpoint: its signature by the log's key, and that it is the checkpoint of
/// the size it is stored under.
pub fn open_checkpoint(
    stored_size: u64,
    text: &str,
    verifier: &NoteVerifier,
) -> Result<Checkpoint, Divergence> {
    let signed = SignedCheckpoint::open(text, verifier).map_err(|e| Divergence::BadCheckpoint {
        stored_size,
        reason: e.to_string(),
    })?;
    let (checkpoint, _) = signed.into_parts();
    if checkpoint.size != stored_size {
        return Err(Divergence::BadCheckpoint {
            stored_size,
            reason: format!("it is signed for size {}", checkpoint.size),
        });
    }
    Ok(checkpoint)
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub size: u64,
    pub root: Hash,
    pub checkpoints: usize,
    pub records: usize,
    pub last_timestamp: Option<Timestamp>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tree size {}, root {}, {} checkpoints verified, {} records",
            self.size, self.root, self.checkpoints, self.records
        )
    }
}

/// The order-dependent half of verification. Feed it every leaf in order, then `finish`.
pub struct LogVerifier {
    frontier: Frontier,
    last: Option<(u64, Timestamp)>,
    heads: HashMap<(String, String), (u64, Hash)>,
    /// Checkpoints sorted by size, and the next one to reach.
    checkpoints: Vec<Checkpoint>,
    next_checkpoint: usize,
}

impl LogVerifier {
    /// Starts a verification against opened checkpoints (stored ones and any the caller pins).
    pub fn new(mut checkpoints: Vec<Checkpoint>) -> Result<LogVerifier, Divergence> {
        checkpoints.sort_by_key(|c| c.size);
        for pair in checkpoints.windows(2) {
            if pair[1].timestamp < pair[0].timestamp {
                return Err(Divergence::CheckpointTimeDecreased {
                    size: pair[1].size,
                    previous: pair[0].timestamp,
                    found: pair[1].timestamp,
                });
            }
        }
        let mut verifier = LogVerifier {
            frontier: Frontier::new(),
            last: None,
            heads: HashMap::new(),
            checkpoints,
            next_checkpoint: 0,
        };
        verifier.reach_checkpoints()?;
        Ok(verifier)
    }

    /// How many leaves have been taken.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Takes the next leaf in order.
    pub fn push(&mut self, leaf: CheckedLeaf) -> Result<(), Divergence> {
        let expected = self.frontier.size();
        if leaf.seq != expected {
            return Err(Divergence::Gap {
                expected,
                found: leaf.seq,
            });
        }
        if let Some((_, previous)) = self.last {
            if leaf.timestamp < previous {
                return Err(Divergence::TimestampDecreased {
                    seq: leaf.seq,
                    previous,
                    found: leaf.timestamp,
                });
            }
        }
        self.check_chain(&leaf)?;
        let completed = self.frontier.append(leaf.leaf);
        // check_leaf made sure the store holds exactly as many hashes as this leaf completes.
        for (i, stored) in leaf.stored_above.iter().enumerate() {
            let level = i + 1;
            if completed.get(level) != Some(stored) {
                return Err(Divergence::StoredHashMismatch {
                    seq: leaf.seq,
                    level,
                    expected: completed.get(level).copied().unwrap_or(Hash([0; HASH_LEN])),
                    found: *stored,
                });
            }
        }
        self.last = Some((leaf.seq, leaf.timestamp));
        self.reach_checkpoints()
    }

    fn check_chain(&mut self, leaf: &CheckedLeaf) -> Result<(), Divergence> {
        let Some(record) = &leaf.record else {
            return Ok(());
        };
        let broken = |problem: String| Divergence::ChainBroken {
            seq: leaf.seq,
            record: format!("{}/{} version {}", record.kind, record.id, record.version),
            problem,
        };
        let key = (record.kind.clone(), record.id.clone());
        if let Some(target) = leaf.target {
            // An attestation: it names the record's latest version and that version's leaf.
            return match self.heads.get(&key) {
                Some((head, hash)) if *head == record.version && *hash == target => Ok(()),
                Some((head, hash)) => Err(broken(format!(
                    "it attests to leaf {target}, but the latest version before it is {head} \
                     with leaf hash {hash}"
                ))),
                None => Err(broken(
                    "it attests to a record not in the log before it".into(),
                )),
            };
        }
        match (self.heads.get(&key), record.version) {
            (None, 1) => {
                if leaf.prev.is_some() {
                    return Err(broken("a first version carries `prev`".into()));
                }
            }
            (None, v) => {
                return Err(broken(format!(
                    "no version {} precedes it in the log",
                    v.saturating_sub(1)
                )))
            }
            (Some((head, hash)), v) => {
                if v != head + 1 {
                    return Err(broken(format!(
                        "the latest version before it is {head}, so this must be version {}",
                        head + 1
                    )));
                }
                if leaf.prev != Some(*hash) {
                    return Err(broken(format!(
                        "`prev` is {}, but version {head} has leaf hash {hash}",
                        leaf.prev.map_or("missing".to_string(), |p| p.to_hex())
                    )));
                }
            }
        }
        self.heads.insert(key, (record.version, leaf.leaf));
        Ok(())
    }

    /// Compares the root with every checkpoint at the current size.
    fn reach_checkpoints(&mut self) -> Result<(), Divergence> {
        let size = self.frontier.size();
        while let Some(checkpoint) = self.checkpoints.get(self.next_checkpoint) {
            if checkpoint.size != size {
                break;
            }
            let root = self.frontier.root();
            if checkpoint.root != root {
                return Err(Divergence::RootMismatch {
                    size,
                    expected: checkpoint.root,
                    found: root,
                });
            }
            if let Some((seq, event_time)) = self.last {
                if checkpoint.timestamp < event_time {
                    return Err(Divergence::CheckpointBeforeEvent {
                        size,
                        checkpoint_time: checkpoint.timestamp,
                        seq,
                        event_time,
                    });
                }
            }
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    /// Ends the verification: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Summary, Divergence> {
        let log_size = self.frontier.size();
        if let Some(beyond) = self.checkpoints.get(self.next_checkpoint) {
            return Err(Divergence::Truncated {
                size: beyond.size,
                log_size,
            });
        }
        // Every commit stores its checkpoint with its events: events past the last checkpoint
        // were put there some other way.
        let signed = self.checkpoints.last().map_or(0, |c| c.size);
        if log_size > signed {
            return Err(Divergence::Unsigned { signed, log_size });
        }
        Ok(Summary {
            size: log_size,
            root: self.frontier.root(),
            checkpoints: self.checkpoints.len(),
            records: self.heads.len(),
            last_timestamp: self.last.map(|(_, t)| t),
        })
    }
}
