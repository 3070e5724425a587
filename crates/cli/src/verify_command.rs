//! `modeltrail verify`: offline verification of a data directory, a database or an export
//! bundle, with a progress bar on a terminal. Exit 0 when sound, 1 at the first divergence, 2
//! when it cannot be read.

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use modeltrail_ledger::checkpoint::SignedCheckpoint;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_store::audit::{verify_store, AuditConfig};
use modeltrail_store::bundle::{self, BundleVerdict};
use modeltrail_store::keys::{load_verifier, read_verifier_file};
use modeltrail_store::{LogStore, StoreConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct VerifyArgs {
    /// Data directory (its database and its verifier key) or export bundle to verify.
    #[arg(env = "MODELTRAIL_DATA_DIR", default_value = "./modeltrail-data")]
    dir: PathBuf,
    /// Verify this PostgreSQL database instead of the directory's SQLite file.
    #[arg(
        long = "database",
        env = "MODELTRAIL_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// The log's public key file (`<origin>+<key id>+<key>`); default: DIR/verifier.key. For a
    /// bundle, give the key you obtained apart from it: the bundle's own key proves nothing.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// A checkpoint you already trust (a file with the signed note); the log must contain it.
    /// May be given several times.
    #[arg(long = "trusted-checkpoint")]
    trusted: Vec<PathBuf>,
}

fn verifier(args: &VerifyArgs) -> anyhow::Result<NoteVerifier> {
    Ok(match &args.public_key {
        Some(path) => read_verifier_file(path)?,
        None => load_verifier(&args.dir).with_context(|| {
            format!(
                "no public key: give --public-key, or a data directory with {}",
                modeltrail_store::keys::VERIFIER_KEY_FILE
            )
        })?,
    })
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let verifier = verifier(&args)?;
    let pinned = trusted_checkpoints(&args, &verifier)?;
    if args.database_url.is_none() && bundle::is_bundle(&args.dir) {
        return verify_bundle(args.dir, verifier, pinned, args.public_key.is_none()).await;
    }
    verify_database(args, verifier, pinned).await
}

fn trusted_checkpoints(
    args: &VerifyArgs,
    verifier: &NoteVerifier,
) -> anyhow::Result<Vec<modeltrail_ledger::checkpoint::Checkpoint>> {
    let mut pinned = Vec::new();
    for path in &args.trusted {
        let mut text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        // A checkpoint copied out of a report or a page usually loses the newline that ends its
        // last signature line; that newline frames the note and is not signed.
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let signed = SignedCheckpoint::open(&text, verifier)
            .with_context(|| format!("{} is not a checkpoint of this log", path.display()))?;
        pinned.push(signed.into_parts().0);
    }
    Ok(pinned)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

async fn verify_bundle(
    dir: PathBuf,
    verifier: NoteVerifier,
    pinned: Vec<modeltrail_ledger::checkpoint::Checkpoint>,
    own_key: bool,
) -> anyhow::Result<ExitCode> {
    let manifest = bundle::read_manifest(&dir)?;
    println!("bundle:  {} ({} events)", dir.display(), manifest.tree_size);
    println!("key:     {}", verifier.to_text());
    if own_key {
        println!(
            "note:    the bundle was checked with its own key; compare the key above with the \
             one the log's owner published, or give --public-key"
        );
    }
    let bar = progress_bar(manifest.tree_size);
    let progress = bar.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        bundle::verify_bundle(&dir, &verifier, pinned, &|done| progress.set_position(done))
    })
    .await??;
    bar.finish_and_clear();
    match verdict {
        BundleVerdict::Sound(summary) => {
            println!(
                "OK: tree size {}, root {}, {} checkpoints verified, {} records",
                summary.size, summary.root, summary.checkpoints, summary.records
            );
            Ok(ExitCode::SUCCESS)
        }
        BundleVerdict::Divergent(divergence) => {
            println!("DIVERGENCE: {divergence}");
            Ok(ExitCode::from(1))
        }
        BundleVerdict::Damaged(problem) => {
            println!("DAMAGED BUNDLE: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn verify_database(
    args: VerifyArgs,
    verifier: NoteVerifier,
    pinned: Vec<modeltrail_ledger::checkpoint::Checkpoint>,
) -> anyhow::Result<ExitCode> {
    let store = StoreConfig {
        data_dir: args.dir.clone(),
        database_url: args.database_url.clone(),
    }
    .open_existing()
    .await?;
    let total = store.size().await?;
    let bar = progress_bar(total);
    let progress_bar = bar.clone();
    let verdict = verify_store(
        &store,
        &verifier,
        pinned,
        &AuditConfig::default(),
        Arc::new(move |done| progress_bar.set_position(done)),
    )
    .await?;
    bar.finish_and_clear();
    match verdict {
        Ok(summary) => {
            println!(
                "OK: tree size {}, root {}, {} checkpoints verified, {} records",
                summary.size, summary.root, summary.checkpoints, summary.records
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(divergence) => {
            println!("DIVERGENCE: {divergence}");
            Ok(ExitCode::from(1))
        }
    }
}
