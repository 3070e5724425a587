//! Verification of a stored log, spread over the machine's cores: chunks of events are read and
//! checked concurrently by the store, where they are read (leaf hashes, parsing, the subtree
//! hashes inside each chunk; no copies), and one thread takes the checked chunks in order
//! through the ledger's [`LogVerifier`], which has little left to do per chunk.

use modeltrail_ledger::checkpoint::Checkpoint;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::verify::{open_checkpoint, CheckedChunk, Divergence, LogVerifier, Summary};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};

use crate::log_store::{LogStore, StoredCheckpoint};
use crate::StoreError;

/// How verification reads and spreads its work.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Events read from the store at a time, rounded up to a power of two: chunks then start at
    /// multiples of their size, so each is a perfect subtree checked whole where it is read.
    /// Twice `workers` chunks are kept in flight, which measured best on two cores (see the
    /// storage benchmark).
    pub chunk: usize,
    /// Threads checking leaves.
    pub workers: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            chunk: 16384,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Called with the number of events verified so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// The outcome of verifying a store: a summary, or the first divergence found.
pub type Verdict = Result<Summary, Divergence>;

/// Verifies everything in `store` against the log's public key `verifier` and any checkpoints
/// the caller already trusts (`pinned`: the log must contain them). A `StoreError` means the
/// store could not be read; a divergence means the log is not what its checkpoints say.
pub async fn verify_store<S: LogStore + Clone>(
    store: &S,
    verifier: &NoteVerifier,
    pinned: Vec<Checkpoint>,
    config: &AuditConfig,
    progress: Progress,
) -> Result<Verdict, StoreError> {
    if let Some(identity) = store.identity().await? {
        if identity.verifier_key != verifier.to_text() {
            return Err(StoreError::WrongLog {
                stored: format!("{} (key {})", identity.origin, identity.verifier_key),
                given: format!("{} (key {})", verifier.name(), verifier.to_text()),
            });
        }
    }
    let stored = store.checkpoints().await?;
    // Verify up to the latest signed checkpoint. Events past it are unsigned unless a commit
    // made since the checkpoints were read covers them (each commit writes its checkpoint in the
    // same transaction as its events).
    let signed = stored.last().map_or(0, |c| c.size);
    let log_size = store.size().await?;
    if log_size > signed {
        let newest = store.latest_checkpoint().await?.map_or(0, |c| c.size);
        if newest < log_size {
            return Ok(Err(Divergence::Unsigned {
                signed: newest,
                log_size,
            }));
        }
    }
    let workers = config.workers.max(1);
    let key = verifier.clone();
    let opened = tokio::task::spawn_blocking(move || open_all(&stored, &key, workers))
        .await
        .map_err(|e| StoreError::TaskFailed(e.to_string()))?;
    let mut checkpoints = match opened {
        Ok(c) => c,
        Err(divergence) => return Ok(Err(divergence)),
    };
    checkpoints.extend(pinned);
    let log = match LogVerifier::new(checkpoints) {
        Ok(log) => log,
        Err(divergence) => return Ok(Err(divergence)),
    };

    // Chunks are read and checked concurrently (each where it is read, by the store), and
    // taken in order by one thread that owns the tree.
    let size = signed;
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = std_mpsc::sync_channel::<CheckedChunk>(workers * 2);
    let ordered = {
        let stop = stop.clone();
        std::thread::spawn(move || take_in_order(log, &done_rx, &stop, &*progress))
    };
    let chunk = (config.chunk.clamp(1, 1 << 30) as u64).next_power_of_two();
    let mut in_flight = VecDeque::new();
    let mut begin = 0;
    let read = async {
        loop {
            while in_flight.len() < 2 * workers && begin < size {
                let end = (begin + chunk).min(size);
                let store = store.clone();
                in_flight.push_back(tokio::spawn(async move {
                    store.checked_entries(begin, end).await
                }));
                begin = end;
            }
            let Some(next) = in_flight.pop_front() else {
                break;
            };
            let checked = next
                .await
                .map_err(|e| StoreError::TaskFailed(e.to_string()))??;
            if stop.load(Ordering::Relaxed) || done_tx.send(checked).is_err() {
                break;
            }
        }
        Ok::<(), StoreError>(())
    }
    .await;
    drop(done_tx);
    for task in in_flight {
        task.abort();
    }
    let verdict = ordered
        .join()
        .map_err(|_| StoreError::TaskFailed("the verification thread panicked".into()))?;
    read?;
    Ok(verdict)
}

/// Opens every stored checkpoint (signature checks are independent), reporting the first bad
/// one by size.
fn open_all(
    stored: &[StoredCheckpoint],
    verifier: &NoteVerifier,
    workers: usize,
) -> Result<Vec<Checkpoint>, Divergence> {
    let per = stored.len().div_ceil(workers).max(1);
    let parts: Vec<Vec<Result<Checkpoint, Divergence>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = stored
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|c| open_checkpoint(c.size, &c.text, verifier))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(Divergence::BadCheckpoint {
                        stored_size: 0,
                        reason: "checking failed unexpectedly".into(),
                    })]
                })
            })
            .collect()
    });
    parts.into_iter().flatten().collect()
}

fn take_in_order(
    mut log: LogVerifier,
    rx: &std_mpsc::Receiver<CheckedChunk>,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Verdict {
    for chunk in rx.iter() {
        if let Err(d) = log.push_chunk(chunk) {
            stop.store(true, Ordering::Relaxed);
            return Err(d);
        }
        progress(log.size());
    }
    log.finish()
}
