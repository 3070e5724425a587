//! The sequencer: the one task that appends to the log.
//!
//! Callers send drafts; the sequencer takes every request waiting in its queue (group commit),
//! gives each event its sequence number and timestamp, checks record version chains, extends
//! the Merkle tree, signs the checkpoint of the new size and writes all of it in one durable
//! transaction. Only then does it answer. A request is all-or-nothing; a failed transaction
//! leaves the log as it was and the sequencer reloads its state from the store before going on.

use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::event::{EncodedEvent, Event, EventDraft, EventError};
use modeltrail_ledger::note::NoteSigner;
use modeltrail_ledger::tree::{range_nodes, Frontier};
use modeltrail_ledger::{Hash, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

use crate::log_store::{Batch, LogIdentity, LogStore, NewEntry, RecordHead, StoredCheckpoint};
use crate::StoreError;

/// Where the sequencer reads the time; tests step it backwards.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// An event that has just become durable, with its leaf hash.
#[derive(Clone, Debug)]
pub struct Committed {
    pub event: Event,
    pub leaf: Hash,
}

/// Told of every commit, in log order, after it is durable and before any caller is answered:
/// a projection kept this way shows each caller its own write.
pub type Observer = Arc<dyn Fn(&[Committed]) + Send + Sync>;

/// How the sequencer batches.
#[derive(Clone)]
pub struct SequencerConfig {
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// Requests that may wait in the queue before callers are made to wait to enqueue.
    pub queue: usize,
    pub clock: Clock,
    pub observer: Option<Observer>,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_batch: 8192,
            queue: 16384,
            clock: Arc::new(Timestamp::now),
            observer: None,
        }
    }
}

/// A durable append: the event's place in the log and a checkpoint that includes it.
#[derive(Clone, Debug)]
pub struct Appended {
    pub seq: u64,
    pub leaf: Hash,
    pub timestamp: Timestamp,
    pub checkpoint: Arc<SignedCheckpoint>,
}

/// Why an append was refused. Nothing of the refused request is in the log, except after
/// [`AppendError::Unavailable`], where the store's answer was lost and it may be.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("event {index} of the request is invalid: {source}")]
    Invalid {
        index: usize,
        #[source]
        source: EventError,
    },
    #[error("record {record}: {problem}")]
    Conflict { record: String, problem: String },
    #[error("the log could not be written: {0}")]
    Unavailable(String),
    #[error("the request is empty")]
    Empty,
    #[error("the sequencer has stopped")]
    Closed,
}

struct Request {
    drafts: Vec<EventDraft>,
    reply: oneshot::Sender<Result<Vec<Appended>, AppendError>>,
}

/// A handle for appending. Clone it freely; the sequencer stops, after committing everything
/// already queued, when the last handle is dropped.
#[derive(Clone)]
pub struct Sequencer {
    requests: mpsc::Sender<Request>,
    latest: watch::Receiver<Arc<SignedCheckpoint>>,
}

/// The running sequencer task.
pub struct SequencerTask(tokio::task::JoinHandle<()>);

impl SequencerTask {
    /// Waits until the sequencer has committed everything queued and stopped.
    pub async fn finished(self) -> Result<(), StoreError> {
        self.0
            .await
            .map_err(|e| StoreError::TaskFailed(e.to_string()))
    }
}

impl Sequencer {
    /// Starts the sequencer over `store`: records the log's identity on first use (and refuses a
    /// store that belongs to another log), checks that the stored tree matches the latest signed
    /// checkpoint, signs the checkpoint of the empty log if there is none, and starts the task.
    pub async fn start<S: LogStore>(
        store: Arc<S>,
        signer: NoteSigner,
        config: SequencerConfig,
    ) -> Result<(Sequencer, SequencerTask), StoreError> {
        store
            .init_identity(&LogIdentity {
                origin: signer.name().to_owned(),
                verifier_key: signer.verifier().to_text(),
            })
            .await?;
        let mut state = State::load(store.as_ref(), &signer, &config).await?;
        if state.latest.is_none() {
            state
                .commit_empty_checkpoint(store.as_ref(), &signer, &config)
                .await?;
        }
        let latest = state
            .latest
            .clone()
            .ok_or_else(|| StoreError::Corrupt("no checkpoint after start".into()))?;
        let (latest_tx, latest_rx) = watch::channel(latest);
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let worker = Worker {
            store,
            signer,
            config,
            state,
            stale: false,
            absent: Default::default(),
            latest: latest_tx,
        };
        let task = tokio::spawn(worker.run(rx));
        Ok((
            Sequencer {
                requests: tx,
                latest: latest_rx,
            },
            SequencerTask(task),
        ))
    }

    /// Appends one event; returns once it is durable.
    pub async fn append(&self, draft: EventDraft) -> Result<Appended, AppendError> {
        let mut appended = self.append_all(vec![draft]).await?;
        appended.pop().ok_or(AppendError::Empty)
    }

    /// Appends several events as one unit: all of them, consecutively, in one transaction, or
    /// none. Returns once they are durable.
    pub async fn append_all(&self, drafts: Vec<EventDraft>) -> Result<Vec<Appended>, AppendError> {
        if drafts.is_empty() {
            return Err(AppendError::Empty);
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { drafts, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// The latest checkpoint the sequencer signed and stored.
    pub fn latest_checkpoint(&self) -> Arc<SignedCheckpoint> {
        self.latest.borrow().clone()
    }
}

/// What the sequencer knows of the log between transactions.
struct State {
    frontier: Frontier,
    last_time: Timestamp,
    latest: Option<Arc<SignedCheckpoint>>,
    heads: HashMap<(String, String), RecordHead>,
}

/// Record heads kept in memory before the cache is dropped and refilled from the store.
const HEAD_CACHE_LIMIT: usize = 100_000;

impl State {
    /// Reads the tree's right edge and the latest checkpoint from the store, and refuses to go
    /// on if they disagree: signing on top of a damaged log would sign an inconsistent tree.
    async fn load<S: LogStore>(
        store: &S,
        signer: &NoteSigner,
        config: &SequencerConfig,
    ) -> Result<State, StoreError> {
        let size = store.size().await?;
        let ids: Vec<_> = range_nodes(0, size).collect();
        let frontier = Frontier::from_nodes(size, store.nodes(&ids).await?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let latest = match store.latest_checkpoint().await? {
            None if size == 0 => None,
            None => {
                return Err(StoreError::Corrupt(format!(
                    "the log has {size} events but no checkpoint"
                )))
            }
            Some(stored) => {
                let signed =
                    SignedCheckpoint::open(&stored.text, &signer.verifier()).map_err(|e| {
                        StoreError::Corrupt(format!(
                            "latest checkpoint (size {}): {e}",
                            stored.size
                        ))
                    })?;
                let cp = signed.checkpoint();
                if cp.size != size || cp.root != frontier.root() {
                    return Err(StoreError::Corrupt(format!(
                        "the latest checkpoint is for size {} root {}, but the stored tree has \
                         size {size} root {}; run `modeltrail verify`",
                        cp.size,
                        cp.root,
                        frontier.root()
                    )));
                }
                Some(Arc::new(signed))
            }
        };
        let last_time = latest
            .as_ref()
            .map_or_else(|| (config.clock)(), |c| c.checkpoint().timestamp);
        Ok(State {
            frontier,
            last_time,
            latest,
            heads: HashMap::new(),
        })
    }

    fn next_time(&self, config: &SequencerConfig) -> Timestamp {
        (config.clock)().max(self.last_time)
    }

    async fn commit_empty_checkpoint<S: LogStore>(
        &mut self,
        store: &S,
        signer: &NoteSigner,
        config: &SequencerConfig,
    ) -> Result<(), StoreError> {
        let time = self.next_time(config);
        let signed = sign(signer, &self.frontier, time)?;
        store
            .append(&Batch {
                entries: Vec::new(),
                checkpoint: StoredCheckpoint {
                    size: self.frontier.size(),
                    text: signed.text().to_owned(),
                },
                checkpoint_time: time,
            })
            .await?;
        self.last_time = time;
        self.latest = Some(Arc::new(signed));
        Ok(())
    }
}

fn sign(
    signer: &NoteSigner,
    frontier: &Frontier,
    time: Timestamp,
) -> Result<SignedCheckpoint, StoreError> {
    Checkpoint {
        origin: signer.name().to_owned(),
        size: frontier.size(),
        root: frontier.root(),
        timestamp: time,
    }
    .sign(signer)
    .map_err(|e| StoreError::Corrupt(format!("signing the checkpoint: {e}")))
}

struct Worker<S> {
    store: Arc<S>,
    signer: NoteSigner,
    config: SequencerConfig,
    state: State,
    /// The last transaction failed: reload before the next one.
    stale: bool,
    /// Records the batch being built touches that the store says do not exist.
    absent: std::collections::HashSet<(String, String)>,
    latest: watch::Sender<Arc<SignedCheckpoint>>,
}

/// A request accepted into the batch being built.
struct Accepted {
    reply: oneshot::Sender<Result<Vec<Appended>, AppendError>>,
    first: u64,
    leaves: Vec<Hash>,
}

impl<S: LogStore> Worker<S> {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        while let Some(first) = rx.recv().await {
            let mut count = first.drafts.len();
            let mut requests = vec![first];
            while count < self.config.max_batch {
                match rx.try_recv() {
                    Ok(request) => {
                        count += request.drafts.len();
                        requests.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit(requests).await;
        }
    }

    async fn commit(&mut self, requests: Vec<Request>) {
        if self.stale {
            match State::load(self.store.as_ref(), &self.signer, &self.config).await {
                Ok(state) => {
                    self.state = state;
                    self.stale = false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the sequencer cannot reload the log's state");
                    let message = format!("the log's state cannot be read: {e}");
                    for r in requests {
                        let _ = r.reply.send(Err(AppendError::Unavailable(message.clone())));
                    }
                    return;
                }
            }
        }
        if let Err(e) = self.prefetch_heads(&requests).await {
            tracing::error!(error = %e, "the sequencer cannot read record heads");
            let message = format!("record versions cannot be read: {e}");
            for r in requests {
                let _ = r.reply.send(Err(AppendError::Unavailable(message.clone())));
            }
            return;
        }
        let time = self.state.next_time(&self.config);
        let mut frontier = self.state.frontier.clone();
        let mut pending: HashMap<(String, String), RecordHead> = HashMap::new();
        let mut entries = Vec::new();
        let mut committed = Vec::new();
        let mut accepted = Vec::new();
        for request in requests {
            match self
                .prepare(&request.drafts, frontier.size(), time, &pending)
                .await
            {
                Ok(prepared) => {
                    let first = frontier.size();
                    let mut leaves = Vec::with_capacity(prepared.len());
                    for (event, encoded, head) in prepared {
                        leaves.push(encoded.leaf);
                        if self.config.observer.is_some() {
                            committed.push(Committed {
                                event,
                                leaf: encoded.leaf,
                            });
                        }
                        let hashes = frontier.append(encoded.leaf);
                        if let Some(head) = &head {
                            pending.insert((head.kind.clone(), head.id.clone()), head.clone());
                        }
                        entries.push(NewEntry {
                            seq: encoded.seq,
                            timestamp: encoded.timestamp,
                            body: encoded.bytes,
                            hashes,
                            record: head,
                        });
                    }
                    accepted.push(Accepted {
                        reply: request.reply,
                        first,
                        leaves,
                    });
                }
                Err(e) => {
                    let _ = request.reply.send(Err(e));
                }
            }
        }
        if entries.is_empty() {
            return;
        }
        let signed = match sign(&self.signer, &frontier, time) {
            Ok(signed) => signed,
            Err(e) => return self.fail(accepted, &e),
        };
        let batch = Batch {
            entries,
            checkpoint: StoredCheckpoint {
                size: frontier.size(),
                text: signed.text().to_owned(),
            },
            checkpoint_time: time,
        };
        if let Err(e) = self.store.append(&batch).await {
            return self.fail(accepted, &e);
        }
        let signed = Arc::new(signed);
        self.state.frontier = frontier;
        self.state.last_time = time;
        self.state.latest = Some(signed.clone());
        if self.state.heads.len() + pending.len() > HEAD_CACHE_LIMIT {
            self.state.heads.clear();
        }
        self.state.heads.extend(pending);
        if let Some(observer) = &self.config.observer {
            observer(&committed);
        }
        let _ = self.latest.send(signed.clone());
        for a in accepted {
            let appended = a
                .leaves
                .into_iter()
                .enumerate()
                .map(|(i, leaf)| Appended {
                    seq: a.first + i as u64,
                    leaf,
                    timestamp: time,
                    checkpoint: signed.clone(),
                })
                .collect();
            let _ = a.reply.send(Ok(appended));
        }
    }

    fn fail(&mut self, accepted: Vec<Accepted>, error: &StoreError) {
        tracing::error!(error = %error, "append transaction failed");
        self.stale = true;
        for a in accepted {
            let _ = a
                .reply
                .send(Err(AppendError::Unavailable(error.to_string())));
        }
    }

    /// Checks, seals and encodes one request's drafts, or refuses the whole request.
    async fn prepare(
        &mut self,
        drafts: &[EventDraft],
        first_seq: u64,
        time: Timestamp,
        pending: &HashMap<(String, String), RecordHead>,
    ) -> Result<Vec<(Event, EncodedEvent, Option<RecordHead>)>, AppendError> {
        let mut own: HashMap<(String, String), RecordHead> = HashMap::new();
        let mut out = Vec::with_capacity(drafts.len());
        for (index, draft) in drafts.iter().enumerate() {
            draft
                .validate()
                .map_err(|source| AppendError::Invalid { index, source })?;
            let seq = first_seq + index as u64;
            let head = match &draft.record {
                None => None,
                Some(record) => {
                    let key = (record.kind.clone(), record.id.clone());
                    let current = match own.get(&key).or_else(|| pending.get(&key)) {
                        Some(head) => Some(head.clone()),
                        None => self.stored_head(&key).await?,
                    };
                    check_chain(draft, current.as_ref())?;
                    // An attestation leaves the record's latest version as it is.
                    draft.target.is_none().then_some(key)
                }
            };
            let event = draft.clone().seal(seq, time);
            let encoded = EncodedEvent::encode(&event)
                .map_err(|source| AppendError::Invalid { index, source })?;
            let head = head.map(|(kind, id)| RecordHead {
                version: draft.record.as_ref().map_or(1, |r| r.version),
                kind,
                id,
                leaf: encoded.leaf,
                seq,
            });
            if let Some(h) = &head {
                own.insert((h.kind.clone(), h.id.clone()), h.clone());
            }
            out.push((event, encoded, head));
        }
        Ok(out)
    }

    /// Reads, in one query, the heads of every record the batch touches that are not cached;
    /// remembers which do not exist, so that checking the batch reads nothing more.
    async fn prefetch_heads(&mut self, requests: &[Request]) -> Result<(), StoreError> {
        self.absent.clear();
        let mut missing: Vec<(String, String)> = requests
            .iter()
            .flat_map(|r| r.drafts.iter())
            .filter_map(|d| d.record.as_ref())
            .map(|r| (r.kind.clone(), r.id.clone()))
            .filter(|key| !self.state.heads.contains_key(key))
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        if self.state.heads.len() + missing.len() > HEAD_CACHE_LIMIT {
            self.state.heads.clear();
        }
        for head in self.store.record_heads(&missing).await? {
            self.state
                .heads
                .insert((head.kind.clone(), head.id.clone()), head);
        }
        self.absent = missing
            .into_iter()
            .filter(|key| !self.state.heads.contains_key(key))
            .collect();
        Ok(())
    }

    async fn stored_head(
        &mut self,
        key: &(String, String),
    ) -> Result<Option<RecordHead>, AppendError> {
        if let Some(head) = self.state.heads.get(key) {
            return Ok(Some(head.clone()));
        }
        if self.absent.contains(key) {
            return Ok(None);
        }
        let head = self
            .store
            .record_head(&key.0, &key.1)
            .await
            .map_err(|e| AppendError::Unavailable(e.to_string()))?;
        if let Some(h) = &head {
            self.state.heads.insert(key.clone(), h.clone());
        }
        Ok(head)
    }
}

/// A new version must follow the record's latest version and name its leaf hash.
fn check_chain(draft: &EventDraft, current: Option<&RecordHead>) -> Result<(), AppendError> {
    let Some(record) = &draft.record else {
        return Ok(());
    };
    let conflict = |problem: String| AppendError::Conflict {
        record: format!("{}/{}", record.kind, record.id),
        problem,
    };
    if let Some(target) = draft.target {
        return match current {
            Some(head) if head.version == record.version && head.leaf == target => Ok(()),
            Some(head) => Err(conflict(format!(
                "is at version {} with leaf hash {}; the event attests to version {} with leaf \
                 hash {target}",
                head.version, head.leaf, record.version
            ))),
            None => Err(conflict("does not exist".into())),
        };
    }
    match current {
        None if record.version == 1 => Ok(()),
        None => Err(conflict(format!(
            "does not exist, so its first version must be 1, not {}",
            record.version
        ))),
        Some(head) if record.version != head.version + 1 => Err(conflict(format!(
            "is at version {}; the next version is {}, not {}",
            head.version,
            head.version + 1,
            record.version
        ))),
        Some(head) if draft.prev != Some(head.leaf) => Err(conflict(format!(
            "version {} has leaf hash {}; the change names {} as its previous version",
            head.version,
            head.leaf,
            draft
                .prev
                .map_or_else(|| "nothing".to_string(), |p| p.to_hex())
        ))),
        Some(_) => Ok(()),
    }
}
