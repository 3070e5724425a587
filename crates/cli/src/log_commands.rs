//! Commands that create, append to and read the log: init, append, checkpoint, prove.

use anyhow::{bail, Context};
use clap::Subcommand;
use modeltrail_ledger::event::EventDraft;
use modeltrail_store::keys::{load_or_create_signer, load_signer, new_origin};
use modeltrail_store::proofs::{consistency_proof, inclusion_proof};
use modeltrail_store::{LogStore, Sequencer, SequencerConfig};
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use crate::StoreArgs;

#[derive(Subcommand)]
pub enum ProofKind {
    /// Inclusion of event SEQ in the log at SIZE (default: the latest checkpoint's size).
    Inclusion {
        seq: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Consistency of the log at FROM with the log at TO (default: the latest checkpoint's size).
    Consistency {
        from: u64,
        #[arg(long)]
        to: Option<u64>,
    },
}

async fn start_sequencer(store: &StoreArgs, origin: Option<String>) -> anyhow::Result<Sequencer> {
    let origin = match origin {
        Some(o) => o,
        None => new_origin()?,
    };
    let signer = load_or_create_signer(&store.data_dir, &origin)?;
    let opened = store.config().open().await?;
    let (sequencer, _task) = Sequencer::start(Arc::new(opened), signer, SequencerConfig::default())
        .await
        .context("starting the sequencer")?;
    Ok(sequencer)
}

pub async fn init(store: &StoreArgs, origin: Option<String>) -> anyhow::Result<ExitCode> {
    let sequencer = start_sequencer(store, origin).await?;
    let latest = sequencer.latest_checkpoint();
    let verifier = load_signer(&store.data_dir)?.verifier();
    println!("data directory: {}", store.data_dir.display());
    println!("log origin:     {}", verifier.name());
    println!("verifier key:   {}", verifier.to_text());
    println!("tree size:      {}", latest.checkpoint().size);
    Ok(ExitCode::SUCCESS)
}

pub async fn append(store: &StoreArgs) -> anyhow::Result<ExitCode> {
    let mut drafts = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let draft: EventDraft =
            serde_json::from_str(&line).with_context(|| format!("line {}: not an event", n + 1))?;
        draft
            .validate()
            .with_context(|| format!("line {}: invalid event", n + 1))?;
        drafts.push(draft);
    }
    if drafts.is_empty() {
        bail!("no events on standard input (one JSON event a line)");
    }
    let sequencer = start_sequencer(store, None).await?;
    let appended = sequencer.append_all(drafts).await?;
    for a in &appended {
        println!("{} {}", a.seq, a.leaf);
    }
    if let Some(last) = appended.last() {
        print!("{}", last.checkpoint.text());
    }
    Ok(ExitCode::SUCCESS)
}

/// Events in flight at once in stream mode.
const STREAM_IN_FLIGHT: usize = 64;

pub async fn append_stream(store: &StoreArgs) -> anyhow::Result<ExitCode> {
    let sequencer = start_sequencer(store, None).await?;
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::channel::<(usize, String)>(STREAM_IN_FLIGHT);
    // Standard input is read on its own thread so a slow writer never stalls the appends.
    std::thread::spawn(move || {
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let Ok(line) = line else { break };
            if lines_tx.blocking_send((n + 1, line)).is_err() {
                break;
            }
        }
    });
    let limit = Arc::new(tokio::sync::Semaphore::new(STREAM_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    while let Some((n, line)) = lines_rx.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let permit = limit.clone().acquire_owned().await?;
        let sequencer = sequencer.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let draft: EventDraft =
                serde_json::from_str(&line).with_context(|| format!("line {n}: not an event"))?;
            let a = sequencer
                .append(draft)
                .await
                .with_context(|| format!("line {n}"))?;
            println!("{} {}", a.seq, a.leaf);
            anyhow::Ok(())
        });
    }
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done.map_err(anyhow::Error::from).and_then(|r| r) {
            eprintln!("error: {e:#}");
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn checkpoint(store: &StoreArgs) -> anyhow::Result<ExitCode> {
    let opened = store.config().open_existing().await?;
    match opened.latest_checkpoint().await? {
        Some(c) => print!("{}", c.text),
        None => bail!("the log has no checkpoint yet: run `modeltrail init`"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn prove(store: &StoreArgs, kind: ProofKind) -> anyhow::Result<ExitCode> {
    let opened = store.config().open_existing().await?;
    let latest = match opened.latest_checkpoint().await? {
        Some(c) => c.size,
        None => bail!("the log has no checkpoint yet"),
    };
    let proof = match kind {
        ProofKind::Inclusion { seq, size } => {
            inclusion_proof(&opened, seq, size.unwrap_or(latest)).await?
        }
        ProofKind::Consistency { from, to } => {
            consistency_proof(&opened, from, to.unwrap_or(latest)).await?
        }
    };
    for hash in proof {
        println!("{hash}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn export(store: &StoreArgs, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let verifier = modeltrail_store::keys::load_verifier(&store.data_dir)?;
    let opened = store.config().open_existing().await?;
    let manifest = modeltrail_store::bundle::export(&opened, &verifier, out)
        .await
        .with_context(|| format!("exporting to {}", out.display()))?;
    println!("bundle:     {}", out.display());
    println!("log origin: {}", manifest.origin);
    println!("tree size:  {}", manifest.tree_size);
    println!("root:       {}", manifest.root);
    println!("checkpoints: {}", manifest.checkpoints);
    println!("verify it with: modeltrail verify {}", out.display());
    Ok(ExitCode::SUCCESS)
}
