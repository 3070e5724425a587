//! `modeltrail backup` and `modeltrail restore`: one backup file per run (see
//! `modeltrail_store::backup` for its format). SQLite is snapshotted online with SQLite's backup
//! API while the server runs; PostgreSQL is dumped with `pg_dump --format=custom` (a consistent
//! snapshot of its own) and restored with `pg_restore` in one transaction, both run from PATH.
//! The secret keys stay out of the backup unless asked for: they are kept and restored apart.

use anyhow::{bail, Context};
use clap::Args;
use modeltrail_store::backup::{
    open_backup, restore_backup, write_backup, Backend, BackupPlan, DatabaseSource, KeySource,
    Manifest, RestorePlan,
};
use modeltrail_store::open::redact_url;
use modeltrail_store::{LogStore, StoreConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::StoreArgs;

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The backup file to create; it must not exist.
    #[arg(long)]
    out: PathBuf,
    /// Also put signing.key and webhook.key in the backup; the file is then as secret as the
    /// log's signing key. Without it they are backed up apart, once (they never change).
    #[arg(long)]
    include_secret_keys: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long)]
    from: PathBuf,
    /// The data directory to create (it must not exist or be empty) and, with --database, the
    /// empty PostgreSQL database to restore into.
    #[command(flatten)]
    store: StoreArgs,
    /// The directory holding the log's signing.key and webhook.key, when the backup does not.
    #[arg(long, conflicts_with = "without_keys")]
    keys_from: Option<PathBuf>,
    /// Restore without the secret keys: the copy can be verified and read, not served.
    #[arg(long)]
    without_keys: bool,
    /// Only check the backup file (every entry against its manifest digest); restore nothing.
    #[arg(long, conflicts_with_all = ["keys_from", "without_keys"])]
    check: bool,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.store.data_dir.clone();
    let scratch;
    let database = match &args.store.database_url {
        None => DatabaseSource::Sqlite,
        Some(url) => {
            let store = args.store.config().open_existing().await?;
            let checkpoint = store.latest_checkpoint().await?;
            scratch = tempfile::tempdir().context("creating a scratch directory")?;
            let dump = scratch.path().join("postgres.dump");
            pg_dump(url, &dump)?;
            DatabaseSource::PostgresDump { dump, checkpoint }
        }
    };
    let plan = BackupPlan {
        data_dir,
        database,
        include_secret_keys: args.include_secret_keys,
        out: args.out.clone(),
    };
    let manifest = tokio::task::spawn_blocking(move || write_backup(&plan)).await??;
    let bytes: u64 = manifest.entries.iter().map(|e| e.size).sum();
    println!(
        "backup:     {} ({} files, {bytes} bytes, {})",
        args.out.display(),
        manifest.entries.len(),
        match manifest.backend {
            Backend::Sqlite => "SQLite online snapshot",
            Backend::Postgres => "pg_dump custom-format archive",
        }
    );
    print_log_state(&manifest);
    match manifest.includes_secret_keys {
        true => println!(
            "keys:       signing.key and webhook.key are IN this file: keep it as secret as the \
             signing key"
        ),
        false => println!(
            "keys:       signing.key and webhook.key are not in this file; keep their own copy \
             apart (restore --keys-from DIR)"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if args.check {
        let from = args.from.clone();
        let manifest = tokio::task::spawn_blocking(move || {
            let backup = open_backup(&from)?;
            backup.check()?;
            Ok::<_, modeltrail_store::StoreError>(backup.manifest)
        })
        .await??;
        println!(
            "OK: {} entries of {} match their SHA-256 in the manifest (made {})",
            manifest.entries.len(),
            args.from.display(),
            manifest.created_at
        );
        print_log_state(&manifest);
        return Ok(ExitCode::SUCCESS);
    }
    let keys = match (&args.keys_from, args.without_keys) {
        (Some(dir), _) => KeySource::Directory(dir.clone()),
        (None, true) => KeySource::Without,
        (None, false) => KeySource::Backup,
    };
    if let Some(url) = &args.store.database_url {
        refuse_nonempty_database(&args.store.config(), url).await?;
    }
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let dump = scratch.path().join("postgres.dump");
    let plan = RestorePlan {
        backup: args.from.clone(),
        data_dir: args.store.data_dir.clone(),
        keys,
        postgres_dump_to: args.store.database_url.as_ref().map(|_| dump.clone()),
    };
    let manifest = tokio::task::spawn_blocking(move || restore_backup(&plan)).await??;
    if let Some(url) = &args.store.database_url {
        if let Err(e) = pg_restore(url, &dump) {
            // The data directory was new: take it away again so nothing half-restored remains.
            let _ = std::fs::remove_dir_all(&args.store.data_dir);
            return Err(e);
        }
    }
    println!(
        "restored:   {} into {}{}",
        args.from.display(),
        args.store.data_dir.display(),
        match &args.store.database_url {
            Some(url) => format!(" and {}", redact_url(url)),
            None => String::new(),
        }
    );
    print_log_state(&manifest);
    println!(
        "next:       `modeltrail verify {}` (with --trusted-checkpoint for a checkpoint pinned \
         before the backup)",
        args.store.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn print_log_state(manifest: &Manifest) {
    let root = manifest
        .checkpoint
        .as_deref()
        .and_then(|note| note.lines().nth(2))
        .unwrap_or("-");
    println!(
        "log:        tree size {}, root {root} (made {})",
        manifest.tree_size, manifest.created_at
    );
}

/// Refuses a database that already holds a modeltrail log: a restore never mixes two logs.
async fn refuse_nonempty_database(config: &StoreConfig, url: &str) -> anyhow::Result<()> {
    if config.open_existing().await.is_ok() {
        bail!(
            "{} already holds modeltrail tables; restore only into a new, empty database",
            redact_url(url)
        );
    }
    Ok(())
}

/// A libpq URL without its password, and the password (percent-decoded) for PGPASSWORD, so it
/// never appears in a process listing.
fn split_password(url: &str) -> (String, Option<String>) {
    let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_owned(), None);
    };
    if at < scheme {
        return (url.to_owned(), None);
    }
    let creds = &url[scheme + 3..at];
    match creds.split_once(':') {
        Some((user, password)) => (
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..]),
            Some(percent_decode(password)),
        ),
        None => (url.to_owned(), None),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pg_command(program: &str, url: &str) -> Command {
    let (url, password) = split_password(url);
    let mut command = Command::new(program);
    command.arg(format!("--dbname={url}"));
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
}

fn run_tool(mut command: Command, what: &str, url: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {what} (PostgreSQL's client tools must be on PATH)"))?;
    if !output.status.success() {
        bail!(
            "{what} failed for {}: {}",
            redact_url(url),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `pg_dump --format=custom`: one consistent snapshot of the database (its own transaction).
fn pg_dump(url: &str, to: &Path) -> anyhow::Result<()> {
    let mut command = pg_command("pg_dump", url);
    command
        .arg("--format=custom")
        .arg(format!("--file={}", to.display()));
    run_tool(command, "pg_dump", url)
}

/// `pg_restore` in one transaction, stopping at the first error: all of the dump or none.
fn pg_restore(url: &str, from: &Path) -> anyhow::Result<()> {
    let mut command = pg_command("pg_restore", url);
    command
        .arg("--single-transaction")
        .arg("--exit-on-error")
        .arg("--no-owner")
        .arg(from);
    run_tool(command, "pg_restore", url)
}

#[cfg(test)]
mod tests {
    use super::split_password;

    #[test]
    fn passwords_leave_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://alice:s%40cret@db:5432/x"),
            (
                "postgres://alice@db:5432/x".to_owned(),
                Some("s@cret".to_owned())
            )
        );
        assert_eq!(
            split_password("postgres://postgres@127.0.0.1/test"),
            ("postgres://postgres@127.0.0.1/test".to_owned(), None)
        );
    }
}
