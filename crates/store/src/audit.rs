//! Verification of a stored log, spread over the machine's cores: one reader pulls events from
//! the store in chunks, workers check leaves on their own (hashing, parsing), and one thread
//! takes the checked leaves in order through the ledger's [`LogVerifier`].

use modeltrail_ledger::checkpoint::Checkpoint;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::verify::{
    check_leaf, open_checkpoint, CheckedLeaf, Divergence, LogVerifier, Summary,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use tokio::sync::mpsc;

use crate::log_store::{LogStore, StoredCheckpoint, StoredEntry};
use crate::StoreError;

/// How verification reads and spreads its work.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Events read from the store at a time.
    pub chunk: usize,
    /// Threads checking leaves.
    pub workers: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            chunk: 4096,
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
pub async fn verify_store<S: LogStore>(
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

    let stop = Arc::new(AtomicBool::new(false));
    let (work_tx, work_rx) = mpsc::channel::<(u64, Vec<StoredEntry>)>(workers * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = std_mpsc::sync_channel(workers * 2);
    let mut threads = Vec::new();
    for _ in 0..workers {
        let (rx, tx) = (work_rx.clone(), done_tx.clone());
        threads.push(std::thread::spawn(move || check_chunks(&rx, &tx)));
    }
    drop(done_tx);
    let ordered = {
        let stop = stop.clone();
        std::thread::spawn(move || take_in_order(log, &done_rx, &stop, &*progress))
    };

    let mut from = 0;
    let mut chunk_no = 0;
    let read = async {
        while !stop.load(Ordering::Relaxed) {
            let entries = store.entries(from, config.chunk).await?;
            let Some(last) = entries.last() else { break };
            from = last.seq + 1;
            if work_tx.send((chunk_no, entries)).await.is_err() {
                break;
            }
            chunk_no += 1;
        }
        Ok::<(), StoreError>(())
    }
    .await;
    drop(work_tx);
    for t in threads {
        t.join()
            .map_err(|_| StoreError::TaskFailed("a verification worker panicked".into()))?;
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

type CheckedChunk = (u64, Vec<Result<CheckedLeaf, Divergence>>);

fn check_chunks(
    rx: &Mutex<mpsc::Receiver<(u64, Vec<StoredEntry>)>>,
    tx: &std_mpsc::SyncSender<CheckedChunk>,
) {
    loop {
        let job = match rx.lock() {
            Ok(mut rx) => rx.blocking_recv(),
            Err(_) => None,
        };
        let Some((no, entries)) = job else { return };
        let checked = entries
            .iter()
            .map(|e| check_leaf(e.seq, &e.body, &e.hashes))
            .collect();
        if tx.send((no, checked)).is_err() {
            return;
        }
    }
}

fn take_in_order(
    mut log: LogVerifier,
    rx: &std_mpsc::Receiver<CheckedChunk>,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Verdict {
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    let mut outcome = Ok(());
    'recv: for (no, chunk) in rx.iter() {
        waiting.insert(no, chunk);
        while let Some(chunk) = waiting.remove(&next) {
            next += 1;
            for leaf in chunk {
                if let Err(d) = leaf.and_then(|leaf| log.push(leaf)) {
                    outcome = Err(d);
                    stop.store(true, Ordering::Relaxed);
                    break 'recv;
                }
            }
            progress(log.size());
        }
    }
    outcome?;
    log.finish()
}
