//! `modeltrail checkpoint`: fetch a server's signed checkpoint, verify its signature with the
//! log's key and, against the checkpoint pinned earlier for that server, that the log only grew
//! (an RFC 6962 consistency proof); then pin the new one. The first time, the key and the
//! checkpoint are pinned as they are (trust on first use); `--reset-pin` does that again on
//! purpose. The pin is `checkpoint.pin` in the server's configuration directory.
//!
//! Exit 0 when verified, 1 when something does not verify (the pin is then left as it was),
//! 2 on other errors. `--local` (or `--data-dir`/`--database`) prints the latest checkpoint of a
//! local store instead, as before the server existed.

use anyhow::{bail, Context};
use clap::Args;
use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::verify_consistency;
use modeltrail_ledger::{Hash, Timestamp};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::client::{write_file, Client, ServerArgs, Session, TOKEN_ENV};
use crate::display::utc;
use crate::StoreArgs;

/// The pin file in a server's configuration directory.
pub const PIN_FILE: &str = "checkpoint.pin";

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Pin the server's current key and checkpoint afresh without checking them against the
    /// pin (trust on first use again), e.g. after a deliberate key rotation.
    #[arg(long, conflicts_with_all = ["local", "data_dir", "database_url"])]
    reset_pin: bool,
    /// Print the latest checkpoint of a local store (no server): the data directory from
    /// --data-dir or MODELTRAIL_DATA_DIR (default ./modeltrail-data), the database from
    /// --database or MODELTRAIL_DATABASE_URL.
    #[arg(long, help_heading = "Local store")]
    local: bool,
    /// The local data directory (implies --local).
    #[arg(long, help_heading = "Local store")]
    data_dir: Option<PathBuf>,
    /// A local PostgreSQL URL (implies --local).
    #[arg(long = "database", help_heading = "Local store")]
    database_url: Option<String>,
}

/// What is pinned for a server: its log key and the last checkpoint verified.
#[derive(Serialize, Deserialize)]
struct Pin {
    server: String,
    public_key: String,
    checkpoint: String,
    pinned_at: String,
}

pub async fn run(args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    if args.local || args.data_dir.is_some() || args.database_url.is_some() {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let store = StoreArgs {
            data_dir: args
                .data_dir
                .or_else(|| var("MODELTRAIL_DATA_DIR").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("./modeltrail-data")),
            database_url: args.database_url.or_else(|| var("MODELTRAIL_DATABASE_URL")),
        };
        return crate::log_commands::checkpoint(&store).await;
    }
    let mut client = Client::anonymous(&args.server)?;
    let pin_path = client.server().dir()?.join(PIN_FILE);
    let pinned = match args.reset_pin {
        true => None,
        false => read_pin(&pin_path)?,
    };
    let key_text = client.get_text(&["log", "public-key"]).await?;
    let key_text = key_text.trim().to_owned();
    let server_key = NoteVerifier::from_text(&key_text)
        .with_context(|| format!("the server's log key {key_text:?} is malformed"))?;
    let note = client.get_text(&["checkpoint"]).await?;
    let url = client.server().url().to_owned();

    let Some(pin) = pinned else {
        let latest = match SignedCheckpoint::open(&note, &server_key) {
            Ok(c) => c,
            Err(e) => {
                return Ok(refuse(
                    &[format!(
                        "the server's checkpoint does not verify with the server's own log key \
                         {key_text}: {e}"
                    )],
                    &pin_path,
                ))
            }
        };
        save_pin(&pin_path, &url, &key_text, latest.text())?;
        let c = latest.checkpoint();
        print_checkpoint(&url, c);
        match args.reset_pin {
            true => println!("pin reset (--reset-pin): pinned this checkpoint and the log key"),
            false => println!(
                "trust on first use: no checkpoint was pinned for this server; pinned this one \
                 and the log key"
            ),
        }
        println!("log key:    {key_text}");
        println!(
            "compare the key with one you got another way (the server's verifier.key); later \
             runs prove that the log only grew since: {}",
            pin_path.display()
        );
        return Ok(ExitCode::SUCCESS);
    };

    // The pin itself must still be what was pinned: signed by the key pinned with it.
    let pinned_key = match NoteVerifier::from_text(pin.public_key.trim()) {
        Ok(k) => k,
        Err(e) => {
            return Ok(refuse(
                &[
                    format!("the pinned log key is damaged: {e}"),
                    altered(&pin_path),
                ],
                &pin_path,
            ))
        }
    };
    let old = match SignedCheckpoint::open(&pin.checkpoint, &pinned_key) {
        Ok(c) => c.checkpoint().clone(),
        Err(e) => {
            return Ok(refuse(
                &[
                    format!("the pinned checkpoint does not verify with the pinned log key: {e}"),
                    altered(&pin_path),
                ],
                &pin_path,
            ))
        }
    };
    if key_text != pin.public_key.trim() {
        return Ok(refuse(
            &[
                "the server's log key is not the pinned one".to_owned(),
                format!("  pinned: {}", pin.public_key.trim()),
                format!("  server: {key_text}"),
                "a log's key does not change: this is another log, or someone else's. If the \
                 change is known to be legitimate, pin the new key with `modeltrail checkpoint \
                 --reset-pin`"
                    .to_owned(),
            ],
            &pin_path,
        ));
    }
    let new = match SignedCheckpoint::open(&note, &pinned_key) {
        Ok(c) => c.checkpoint().clone(),
        Err(e) => {
            return Ok(refuse(
                &[format!(
                    "the server's checkpoint does not verify with the pinned log key: {e}"
                )],
                &pin_path,
            ))
        }
    };
    let described = |c: &Checkpoint| format!("size {}, root {}", c.size, c.root);
    if new.size < old.size {
        return Ok(refuse(
            &[
                "the log is shorter than the pinned checkpoint: events were removed".to_owned(),
                format!("  pinned: {}", described(&old)),
                format!("  server: {}", described(&new)),
            ],
            &pin_path,
        ));
    }
    let mut proof_len = 0;
    if new.size == old.size {
        if new.root != old.root {
            return Ok(refuse(
                &[
                    format!(
                        "two checkpoints of the same size {} with different roots: the log was \
                         rewritten",
                        new.size
                    ),
                    format!("  pinned root: {}", old.root),
                    format!("  server root: {}", new.root),
                ],
                &pin_path,
            ));
        }
    } else if old.size > 0 {
        // Proofs are for those who may read the log: a login (or token), if there is one.
        if std::env::var_os(TOKEN_ENV).is_some() || Session::load(client.server())?.is_some() {
            client = Client::signed_in(&args.server)?;
        }
        let proof = fetch_consistency(&client, old.size, new.size).await?;
        proof_len = proof.len();
        if let Err(e) = verify_consistency(old.size, new.size, &proof, &old.root, &new.root) {
            return Ok(refuse(
                &[
                    format!(
                        "the server's log is not consistent with the pinned checkpoint: the log \
                         at size {} is not a continuation of the pinned log at size {}",
                        new.size, old.size
                    ),
                    format!("  pinned: {}", described(&old)),
                    format!("  server: {}", described(&new)),
                    format!("  consistency proof ({} hashes): {e}", proof.len()),
                ],
                &pin_path,
            ));
        }
    }
    save_pin(&pin_path, &url, &key_text, &note)?;
    print_checkpoint(&url, &new);
    match new.size == old.size {
        true => println!(
            "the same as the pinned checkpoint (size {}): the log has not grown",
            old.size
        ),
        false => println!(
            "consistent with the pinned checkpoint of size {} (+{} events, proof of {} hashes); \
             pin moved to size {}",
            old.size,
            new.size - old.size,
            proof_len,
            new.size
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn altered(pin_path: &Path) -> String {
    format!(
        "the pin file {} was altered after it was pinned; find out how, then `modeltrail \
         checkpoint --reset-pin` to pin the server's current checkpoint afresh",
        pin_path.display()
    )
}

/// Prints why the checkpoint is refused; exit 1, the pin untouched.
fn refuse(lines: &[String], pin_path: &Path) -> ExitCode {
    eprintln!("checkpoint NOT verified: {}", lines.join("\n"));
    match pin_path.exists() {
        true => eprintln!("the pin is unchanged: {}", pin_path.display()),
        false => eprintln!("nothing was pinned"),
    }
    ExitCode::from(1)
}

fn print_checkpoint(url: &str, c: &Checkpoint) {
    println!("server:     {url}");
    println!("origin:     {}", c.origin);
    println!("tree size:  {}", c.size);
    println!("root:       {}", c.root);
    println!(
        "signed at:  {}",
        utc(&serde_json::json!(c.timestamp.to_string()))
    );
}

fn read_pin(path: &Path) -> anyhow::Result<Option<Pin>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    serde_json::from_str(&text).map(Some).with_context(|| {
        format!(
            "the pin file {} is not readable; `modeltrail checkpoint --reset-pin` pins afresh",
            path.display()
        )
    })
}

fn save_pin(path: &Path, server: &str, key: &str, checkpoint: &str) -> anyhow::Result<()> {
    let pin = Pin {
        server: server.to_owned(),
        public_key: key.to_owned(),
        checkpoint: checkpoint.to_owned(),
        pinned_at: Timestamp::now().to_string(),
    };
    let text = serde_json::to_string_pretty(&pin)? + "\n";
    write_file(path, text.as_bytes(), 0o644)
}

/// The server's consistency proof from `from` to `to`, as hashes.
async fn fetch_consistency(client: &Client, from: u64, to: u64) -> anyhow::Result<Vec<Hash>> {
    let answer = client
        .get(
            &["proofs", "consistency"],
            &[("from", from.to_string()), ("to", to.to_string())],
        )
        .await
        .with_context(|| {
            format!(
                "fetching the consistency proof from size {from} to {to} (it needs a login{})",
                match client.has_credential() {
                    true => "",
                    false => "; not logged in",
                }
            )
        })?;
    if answer["from"].as_u64() != Some(from) || answer["to"].as_u64() != Some(to) {
        bail!("the server answered a consistency proof for other sizes than {from} and {to}");
    }
    answer["proof"]
        .as_array()
        .context("the server's consistency proof has no hashes")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| Hash::from_hex(h).ok())
                .context("the server's consistency proof has a malformed hash")
        })
        .collect()
}
