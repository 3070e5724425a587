//! Offline verification of a whole log: every leaf hash, every stored subtree hash, the tree at
//! every signed checkpoint, timestamp order and record version chains. It reports the first
//! divergence precisely.
//!
//! The work is split so a caller can spread it over cores. [`ChunkChecker`] checks a run of
//! consecutive stored events on its own and runs anywhere: every leaf hash, the parsing, the
//! timestamp order inside the run, and every stored subtree hash that lies inside the run (for a
//! run of 2^k events aligned to 2^k, all but the few above its top). [`LogVerifier`] takes the
//! checked runs in order and does what depends on what came before: it joins each run's top
//! subtrees to the tree (computing and comparing the stored hashes that reach back before the
//! run), the root at every checkpoint, timestamp order across runs and record version chains.
//! [`check_leaf`] and [`LogVerifier::push`] do the same one event at a time.

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::event::{EventHead, RecordRef};
use crate::hash::{leaf_hash, node_hash, Hash, HASH_LEN};
use crate::note::NoteVerifier;
use crate::timestamp::Timestamp;
use crate::tree::{completed_count, Frontier, NodeId};
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
    let (leaf, head) = check_alone(position, body, stored_hashes)?;
    Ok(CheckedLeaf {
        seq: position,
        leaf,
        timestamp: head.timestamp,
        record: head.record,
        prev: head.prev,
        target: head.target,
        stored_above: (1..stored_hashes.len() / HASH_LEN)
            .map(|level| stored_at(stored_hashes, level))
            .collect(),
    })
}

/// What [`check_leaf`] checks: the number of stored hashes, the leaf hash, the head and its seq.
fn check_alone(
    position: u64,
    body: &[u8],
    stored_hashes: &[u8],
) -> Result<(Hash, EventHead), Divergence> {
    let expected_len = completed_count(position) * HASH_LEN;
    if stored_hashes.len() != expected_len {
        return Err(Divergence::StoredHashesLength {
            seq: position,
            expected: expected_len,
            found: stored_hashes.len(),
        });
    }
    let leaf = leaf_hash(body);
    if stored_hashes[..HASH_LEN] != leaf.0 {
        return Err(Divergence::StoredHashMismatch {
            seq: position,
            level: 0,
            expected: leaf,
            found: stored_at(stored_hashes, 0),
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
    Ok((leaf, head))
}

/// The stored hash at `level` among a leaf's concatenated subtree hashes (all zeros past the end,
/// which callers rule out by checking the length first).
fn stored_at(stored_hashes: &[u8], level: usize) -> Hash {
    stored_hashes
        .get(level * HASH_LEN..(level + 1) * HASH_LEN)
        .and_then(|bytes| Hash::from_slice(bytes).ok())
        .unwrap_or(Hash([0; HASH_LEN]))
}

/// A leaf of a chunk that touches a record: what the version chain needs of it.
#[derive(Debug)]
struct RecordLeaf {
    seq: u64,
    record: RecordRef,
    prev: Option<Hash>,
    target: Option<Hash>,
}

/// Stored hashes of subtrees that reach back before a chunk's first event: only the ordered
/// half, which holds the tree before the chunk, can compute them.
#[derive(Debug)]
struct Pending {
    seq: u64,
    first_level: usize,
    stored: Vec<Hash>,
}

/// Where a chunk's checking stopped, and why.
#[derive(Debug)]
struct Stop {
    divergence: Divergence,
    /// For a divergence that comes after the event's record chain would be checked (a stored
    /// subtree hash above the leaf), the event's leaf hash and record, if it has one, so that
    /// the chain is still checked first.
    after_order: Option<(Hash, RecordLeaf)>,
}

/// A run of consecutive stored events checked on its own by a [`ChunkChecker`], for
/// [`LogVerifier::push_chunk`].
#[derive(Debug)]
pub struct CheckedChunk {
    begin: u64,
    /// The seq of the first row the store returned, if any.
    first_row: Option<u64>,
    /// One per event checked, in order from `begin`.
    timestamps: Vec<Timestamp>,
    /// `levels[l]`: the hashes, in order, of the level-`l` perfect subtrees wholly inside the
    /// events checked (those starting at or after `begin`); `levels[0]` are the leaf hashes.
    levels: Vec<Vec<Hash>>,
    records: Vec<RecordLeaf>,
    pending: Vec<Pending>,
    stop: Option<Stop>,
}

impl CheckedChunk {
    /// The seq the chunk starts at.
    pub fn begin(&self) -> u64 {
        self.begin
    }

    /// How many events, from `begin` on, were checked whole.
    pub fn checked(&self) -> u64 {
        self.timestamps.len() as u64
    }

    /// The hash of a perfect subtree wholly inside the events checked.
    fn node(&self, id: NodeId) -> Option<Hash> {
        let level = usize::from(id.level);
        let first = self.begin.checked_shr(level as u32)?
            + u64::from(self.begin & ((1u64 << level.min(63)) - 1) != 0);
        let at = usize::try_from(id.index.checked_sub(first)?).ok()?;
        self.levels.get(level)?.get(at).copied()
    }
}

/// Checks a run of stored events, `[begin, end)`, on its own: see [`CheckedChunk`]. Feed it the
/// rows the store holds in that range, in order. Runs of 2^k events starting at a multiple of
/// 2^k leave the least to the ordered half; any run is correct.
pub struct ChunkChecker {
    chunk: CheckedChunk,
}

impl ChunkChecker {
    /// A checker for the events from `begin` up to (not including) `end`; `end` only sizes the
    /// buffers.
    pub fn new(begin: u64, end: u64) -> ChunkChecker {
        let expected = end.saturating_sub(begin).min(1 << 16) as usize;
        let mut levels = Vec::new();
        let mut width = expected;
        while width > 0 {
            levels.push(Vec::with_capacity(width + 1));
            width /= 2;
        }
        ChunkChecker {
            chunk: CheckedChunk {
                begin,
                first_row: None,
                timestamps: Vec::with_capacity(expected),
                levels,
                records: Vec::new(),
                pending: Vec::new(),
                stop: None,
            },
        }
    }

    /// Whether checking has stopped at a divergence: later rows are not looked at, and the
    /// caller may stop reading.
    pub fn stopped(&self) -> bool {
        self.chunk.stop.is_some()
    }

    /// Checks the next stored row: its seq, the event's bytes and the subtree hashes stored with
    /// it. Returns false once checking has stopped (see [`ChunkChecker::stopped`]).
    pub fn push(&mut self, seq: u64, body: &[u8], stored_hashes: &[u8]) -> bool {
        if let Some(position) = self.next(seq) {
            if let Err(stop) = self.check(position, body, stored_hashes) {
                self.chunk.stop = Some(*stop);
            }
        }
        !self.stopped()
    }

    /// Takes a row whose bytes cannot be read as bytes at all; `reason` says why.
    pub fn push_unreadable(&mut self, seq: u64, reason: &str) -> bool {
        if self.next(seq).is_some() {
            self.chunk.stop = Some(Stop {
                divergence: Divergence::Malformed {
                    seq,
                    reason: reason.to_owned(),
                },
                after_order: None,
            });
        }
        !self.stopped()
    }

    /// The chunk as checked.
    pub fn finish(self) -> CheckedChunk {
        self.chunk
    }

    /// The position the next row must have; records a gap (and answers `None`) if it has another,
    /// and answers `None` once stopped.
    fn next(&mut self, seq: u64) -> Option<u64> {
        if self.stopped() {
            return None;
        }
        let chunk = &mut self.chunk;
        chunk.first_row.get_or_insert(seq);
        let position = chunk.begin + chunk.timestamps.len() as u64;
        if seq != position {
            chunk.stop = Some(Stop {
                divergence: Divergence::Gap {
                    expected: position,
                    found: seq,
                },
                after_order: None,
            });
            return None;
        }
        Some(position)
    }

    /// Checks the event at `position` and keeps what the ordered half needs of it; the error is
    /// boxed, being rare and large.
    fn check(&mut self, position: u64, body: &[u8], stored_hashes: &[u8]) -> Result<(), Box<Stop>> {
        let stop = |divergence| {
            Box::new(Stop {
                divergence,
                after_order: None,
            })
        };
        let (leaf, head) = check_alone(position, body, stored_hashes).map_err(stop)?;
        let chunk = &mut self.chunk;
        if let Some(&previous) = chunk.timestamps.last() {
            if head.timestamp < previous {
                return Err(stop(Divergence::TimestampDecreased {
                    seq: position,
                    previous,
                    found: head.timestamp,
                }));
            }
        }
        // The subtrees this leaf completes that lie inside the chunk, bottom up: each is the
        // hash of the last two completed a level below. They are kept as they are built, and
        // taken back if a stored one differs.
        let count = stored_hashes.len() / HASH_LEN;
        let inside = position - chunk.begin + 1;
        if chunk.levels.is_empty() {
            chunk.levels.push(Vec::new());
        }
        chunk.levels[0].push(leaf);
        let mut levels = 1;
        while levels < count && levels < 64 && (1u64 << levels) <= inside {
            let below = &chunk.levels[levels - 1];
            let (Some(left), Some(right)) = (
                below.len().checked_sub(2).and_then(|i| below.get(i)),
                below.last(),
            ) else {
                break;
            };
            let hash = node_hash(left, right);
            let stored = &stored_hashes[levels * HASH_LEN..(levels + 1) * HASH_LEN];
            if stored != hash.0 {
                for level in &mut chunk.levels[..levels] {
                    level.pop();
                }
                return Err(Box::new(Stop {
                    divergence: Divergence::StoredHashMismatch {
                        seq: position,
                        level: levels,
                        expected: hash,
                        found: stored_at(stored_hashes, levels),
                    },
                    after_order: head.record.map(|record| {
                        (
                            leaf,
                            RecordLeaf {
                                seq: position,
                                record,
                                prev: head.prev,
                                target: head.target,
                            },
                        )
                    }),
                }));
            }
            if chunk.levels.len() == levels {
                chunk.levels.push(Vec::new());
            }
            chunk.levels[levels].push(hash);
            levels += 1;
        }
        if levels < count {
            chunk.pending.push(Pending {
                seq: position,
                first_level: levels,
                stored: (levels..count)
                    .map(|level| stored_at(stored_hashes, level))
                    .collect(),
            });
        }
        chunk.timestamps.push(head.timestamp);
        if let Some(record) = head.record {
            chunk.records.push(RecordLeaf {
                seq: position,
                record,
                prev: head.prev,
                target: head.target,
            });
        }
        Ok(())
    }
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
        if let Some(record) = &leaf.record {
            self.check_chain(leaf.seq, leaf.leaf, record, leaf.prev, leaf.target)?;
        }
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

    /// Takes the next run of events in order, as a [`ChunkChecker`] checked it: the same checks
    /// as pushing its events one by one, with the same first divergence. A chunk must start
    /// where the events taken so far end; one whose first stored event is elsewhere is a gap,
    /// and one without events changes nothing.
    pub fn push_chunk(&mut self, chunk: CheckedChunk) -> Result<(), Divergence> {
        let Some(first_row) = chunk.first_row else {
            return Ok(());
        };
        let expected = self.frontier.size();
        if chunk.begin != expected {
            return Err(Divergence::Gap {
                expected,
                found: first_row,
            });
        }
        let begin = chunk.begin;
        let end = begin + chunk.checked();
        // The chunk checked the order of its own timestamps; the first against the one before.
        if let (Some((_, previous)), Some(&first)) = (self.last, chunk.timestamps.first()) {
            if first < previous {
                return Err(Divergence::TimestampDecreased {
                    seq: begin,
                    previous,
                    found: first,
                });
            }
        }
        // What depends on the events before the chunk, event by event in order: record chains,
        // stored hashes of subtrees reaching back before the chunk, and checkpoints (each after
        // the event that completes its size).
        let (mut records, mut pending) = (chunk.records.iter().peekable(), 0);
        loop {
            let record = records.peek().map(|r| r.seq);
            let reaching_back = chunk.pending.get(pending).map(|p| p.seq);
            let checkpoint = self
                .checkpoints
                .get(self.next_checkpoint)
                .and_then(|c| c.size.checked_sub(1))
                .filter(|&last| last < end);
            let Some(seq) = [record, reaching_back, checkpoint]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            let at = seq.saturating_sub(begin) as usize;
            if let Some(r) = records.next_if(|r| r.seq == seq) {
                let leaf = chunk.levels.first().and_then(|l| l.get(at)).copied();
                let leaf = leaf.unwrap_or(Hash([0; HASH_LEN]));
                self.check_chain(seq, leaf, &r.record, r.prev, r.target)?;
            }
            if reaching_back == Some(seq) || checkpoint == Some(seq) {
                self.extend_by(&chunk, seq + 1)?;
            }
            if reaching_back == Some(seq) {
                pending += 1;
            }
            if checkpoint == Some(seq) {
                if let Some(&time) = chunk.timestamps.get(at) {
                    self.last = Some((seq, time));
                }
                self.reach_checkpoints()?;
            }
        }
        self.extend_by(&chunk, end)?;
        if let Some(&time) = chunk.timestamps.last() {
            self.last = Some((end - 1, time));
        }
        let Some(stop) = chunk.stop else {
            return Ok(());
        };
        // A stored subtree hash inside the chunk is wrong: its event's chain comes first. (Its
        // timestamp was checked in the chunk: such a subtree covers an event before it there.)
        if let Some((leaf, r)) = stop.after_order {
            self.check_chain(r.seq, leaf, &r.record, r.prev, r.target)?;
        }
        Err(stop.divergence)
    }

    /// Grows the tree to `size` with a chunk's subtrees, comparing the stored hashes of those
    /// that reach back before the chunk, which are computed here.
    fn extend_by(&mut self, chunk: &CheckedChunk, size: u64) -> Result<(), Divergence> {
        let mut mismatch = None;
        self.frontier
            .extend_to(
                size,
                |id| chunk.node(id),
                |id, hash, computed| {
                    if !computed || mismatch.is_some() {
                        return;
                    }
                    let (seq, level) = (id.completed_by(), usize::from(id.level));
                    let stored = chunk
                        .pending
                        .binary_search_by_key(&seq, |p| p.seq)
                        .ok()
                        .and_then(|i| {
                            let p = &chunk.pending[i];
                            p.stored.get(level.checked_sub(p.first_level)?)
                        });
                    if stored != Some(hash) {
                        mismatch = Some(Divergence::StoredHashMismatch {
                            seq,
                            level,
                            expected: *hash,
                            found: stored.copied().unwrap_or(Hash([0; HASH_LEN])),
                        });
                    }
                },
            )
            // The chunk holds every subtree of the events it checked: not reached.
            .map_err(|id| Divergence::Malformed {
                seq: id.begin(),
                reason: format!("no hash for the level-{} subtree from here", id.level),
            })?;
        mismatch.map_or(Ok(()), Err)
    }

    fn check_chain(
        &mut self,
        seq: u64,
        leaf: Hash,
        record: &RecordRef,
        prev: Option<Hash>,
        target: Option<Hash>,
    ) -> Result<(), Divergence> {
        let broken = |problem: String| Divergence::ChainBroken {
            seq,
            record: format!("{}/{} version {}", record.kind, record.id, record.version),
            problem,
        };
        let key = (record.kind.clone(), record.id.clone());
        if let Some(target) = target {
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
                if prev.is_some() {
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
                if prev != Some(*hash) {
                    return Err(broken(format!(
                        "`prev` is {}, but version {head} has leaf hash {hash}",
                        prev.map_or("missing".to_string(), |p| p.to_hex())
                    )));
                }
            }
        }
        self.heads.insert(key, (record.version, leaf));
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
