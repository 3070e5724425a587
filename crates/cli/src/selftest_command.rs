//! `modeltrail selftest`: installation and operational qualification (IQ/OQ) checks of a
//! deployed server, run from outside it: it answers (health), its log key is published, its
//! signed checkpoint verifies with that key, the live log recomputes to the checkpoint's root
//! (every event re-hashed from what the events endpoint serves), its clock agrees with this
//! machine's, and access control holds (no credential gets 401, a non-administrator's token gets
//! 403 on an administrator's endpoint).
//!
//! The report is recorded in the log itself (`POST /api/v1/qualification-reports`, a
//! `system.qualification` event): timestamped by the server, attributed to whoever ran the
//! test, and covered by the signed checkpoint. The report file written holds the report, the
//! event's receipt, an inclusion proof and the signed checkpoint, so anyone with the log's
//! public key can check offline that this report is the one recorded. Exit 0 when every check
//! passed, 1 when one failed, 2 when the test could not run.

use anyhow::{bail, Context};
use clap::Args;
use modeltrail_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use modeltrail_ledger::event::Event;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::proof::verify_inclusion;
use modeltrail_ledger::tree::Frontier;
use modeltrail_ledger::{leaf_hash, Hash, Timestamp};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{write_file, Client, ServerArgs};

/// Events fetched per request while recomputing the live log.
const PAGE: u64 = 1000;

#[derive(Args)]
pub struct SelftestArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The API token (or session token) of a user who is not an administrator (a viewer's, say):
    /// the role check expects it to be refused an administrator's endpoint.
    #[arg(long, env = "MODELTRAIL_SELFTEST_PROBE_TOKEN", hide_env_values = true)]
    probe_token: String,
    /// The largest difference allowed between the server's clock and this machine's, seconds.
    #[arg(long, default_value_t = 60)]
    max_clock_skew: u64,
    /// The report file to write (JSON); it must not exist.
    #[arg(long)]
    out: PathBuf,
}

/// One check and its outcome.
#[derive(Serialize)]
struct Check {
    name: &'static str,
    passed: bool,
    detail: String,
}

fn check(name: &'static str, outcome: anyhow::Result<String>) -> Check {
    match outcome {
        Ok(detail) => Check {
            name,
            passed: true,
            detail,
        },
        Err(e) => Check {
            name,
            passed: false,
            detail: format!("{e:#}"),
        },
    }
}

pub async fn run(args: SelftestArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists() {
        bail!(
            "{} exists; the report never overwrites a file",
            args.out.display()
        );
    }
    let client = Client::signed_in(&args.server)?;
    let started = Timestamp::now();
    let mut checks = vec![check("health", health(&client).await)];
    let key = log_key(&client).await;
    let key_text = key.as_ref().ok().map(|k| k.to_text());
    checks.push(check(
        "log key published",
        key.as_ref()
            .map(|k| k.to_text())
            .map_err(|e| anyhow::anyhow!("{e:#}")),
    ));
    let checkpoint = match &key {
        Ok(key) => checkpoint(&client, key).await,
        Err(_) => Err(anyhow::anyhow!("no log key to check the checkpoint with")),
    };
    checks.push(check(
        "checkpoint signed by the log key",
        checkpoint
            .as_ref()
            .map(|c| format!("tree size {}, root {}", c.size, c.root))
            .map_err(|e| anyhow::anyhow!("{e:#}")),
    ));
    checks.push(check(
        "live log recomputes to the checkpoint",
        match &checkpoint {
            Ok(c) => recompute(&client, c).await,
            Err(_) => Err(anyhow::anyhow!("no verified checkpoint to recompute")),
        },
    ));
    checks.push(check(
        "clock agrees",
        clock(&client, args.max_clock_skew).await,
    ));
    checks.push(check(
        "no credential is refused",
        unauthenticated_refused(&client).await,
    ));
    checks.push(check(
        "a non-administrator is refused an administrator's endpoint",
        probe_refused(&client, &args.probe_token).await,
    ));
    let passed = checks.iter().all(|c| c.passed);
    let operator = client
        .user_id()
        .await
        .unwrap_or_else(|_| "unknown".to_owned());
    let report = json!({
        "kind": "modeltrail selftest (IQ/OQ)",
        "server": client.server().url(),
        "client_version": env!("CARGO_PKG_VERSION"),
        "operator": operator,
        "started_at": started.to_string(),
        "finished_at": Timestamp::now().to_string(),
        "log_key": key_text,
        "checks": checks,
    });
    let result = match passed {
        true => "pass",
        false => "fail",
    };
    for c in &checks {
        println!(
            "{} {}: {}",
            match c.passed {
                true => "PASS",
                false => "FAIL",
            },
            c.name,
            c.detail
        );
    }
    let recorded = client
        .post(
            &["qualification-reports"],
            Some(&json!({"result": result, "report": report})),
        )
        .await
        .context("recording the report in the log")?;
    let evidence = evidence(&client, &key, &recorded, &report).await?;
    let file = json!({
        "result": result,
        "report": report,
        "log_entry": evidence,
    });
    let text = serde_json::to_string_pretty(&file)? + "\n";
    write_file(&args.out, text.as_bytes(), 0o644)?;
    println!(
        "report:  {} (recorded in the log as event {}, proved included in the signed checkpoint \
         of size {})",
        args.out.display(),
        evidence["seq"],
        evidence["tree_size"]
    );
    println!("result:  {}", result.to_uppercase());
    Ok(match passed {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

async fn health(client: &Client) -> anyhow::Result<String> {
    let (status, _, body) = client.probe("/healthz", None).await?;
    if status != StatusCode::OK {
        bail!("/healthz answered {status}: {}", body.trim());
    }
    Ok(format!("/healthz answered {status}"))
}

async fn log_key(client: &Client) -> anyhow::Result<NoteVerifier> {
    let text = client.get_text(&["log", "public-key"]).await?;
    NoteVerifier::from_text(text.trim())
        .with_context(|| format!("the published log key {:?} is malformed", text.trim()))
}

async fn checkpoint(client: &Client, key: &NoteVerifier) -> anyhow::Result<Checkpoint> {
    let note = client.get_text(&["checkpoint"]).await?;
    Ok(SignedCheckpoint::open(&note, key)
        .context("the checkpoint does not verify with the published log key")?
        .into_parts()
        .0)
}

/// Fetches every event up to the checkpoint's size, re-hashes each from its content, and
/// rebuilds the Merkle root.
async fn recompute(client: &Client, checkpoint: &Checkpoint) -> anyhow::Result<String> {
    let mut frontier = Frontier::new();
    let mut from = 0u64;
    while from < checkpoint.size {
        let page = client
            .get(
                &["events"],
                &[("from", from.to_string()), ("limit", PAGE.to_string())],
            )
            .await
            .context(
                "reading the log's events (the user running selftest must be able to read the log)",
            )?;
        let events = page["events"]
            .as_array()
            .context("the events answer has no `events`")?;
        if events.is_empty() {
            bail!(
                "the server served no events from seq {from}, below the checkpoint's size {}",
                checkpoint.size
            );
        }
        for value in events {
            if from == checkpoint.size {
                break;
            }
            let mut value = value.clone();
            let served_leaf = value
                .as_object_mut()
                .and_then(|o| o.remove("leaf"))
                .and_then(|l| l.as_str().and_then(|l| Hash::from_hex(l).ok()))
                .with_context(|| format!("event {from} is served without its leaf hash"))?;
            let event: Event = serde_json::from_value(value)
                .with_context(|| format!("event {from} is not an event"))?;
            if event.seq != from {
                bail!("the server served event {} where {from} was due", event.seq);
            }
            let leaf = leaf_hash(&event.to_canonical()?);
            if leaf != served_leaf {
                bail!("event {from} hashes to {leaf}, the server says {served_leaf}");
            }
            frontier.append(leaf);
            from += 1;
        }
    }
    let root = frontier.root();
    if root != checkpoint.root {
        bail!(
            "the {} events served hash to root {root}, the signed checkpoint says {}",
            checkpoint.size,
            checkpoint.root
        );
    }
    Ok(format!(
        "{} events re-hashed to the checkpoint's root {root}",
        checkpoint.size
    ))
}

async fn clock(client: &Client, max_skew: u64) -> anyhow::Result<String> {
    let before = time::OffsetDateTime::now_utc();
    let (_, date, _) = client.probe("/healthz", None).await?;
    let after = time::OffsetDateTime::now_utc();
    let date = date.context("the server's answer carries no Date header")?;
    let server = time::OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc2822)
        .with_context(|| format!("the server's Date header {date:?} is not an HTTP date"))?;
    let local = before + (after - before) / 2;
    let difference: time::Duration = server - local;
    // The Date header has whole seconds: allow one more.
    let skew = difference.whole_seconds().unsigned_abs();
    if skew > max_skew + 1 {
        bail!("the server's clock is {skew} s from this machine's (allowed: {max_skew} s)");
    }
    Ok(format!(
        "server {date}; {skew} s from this machine (allowed: {max_skew} s)"
    ))
}

async fn unauthenticated_refused(client: &Client) -> anyhow::Result<String> {
    let mut seen = Vec::new();
    for path in ["/api/v1/users", "/api/v1/events", "/api/v1/records/model"] {
        let (status, _, _) = client.probe(path, None).await?;
        if status != StatusCode::UNAUTHORIZED {
            bail!("{path} without a credential answered {status}, not 401");
        }
        seen.push(path);
    }
    Ok(format!("401 on {}", seen.join(", ")))
}

async fn probe_refused(client: &Client, token: &str) -> anyhow::Result<String> {
    let (status, _, body) = client.probe("/api/v1/auth/me", Some(token)).await?;
    if status != StatusCode::OK {
        bail!("the probe token is not valid ({status}); give a working non-administrator token");
    }
    let me: Value = serde_json::from_str(&body).context("/api/v1/auth/me is not JSON")?;
    let role = me["user"]["role"].as_str().unwrap_or("unknown").to_owned();
    if role == "admin" {
        bail!("the probe token is an administrator's; give a non-administrator's token");
    }
    let (status, _, _) = client.probe("/api/v1/users", Some(token)).await?;
    if status != StatusCode::FORBIDDEN {
        bail!("a {role} token on /api/v1/users answered {status}, not 403");
    }
    Ok(format!("a {role} token got 403 on /api/v1/users"))
}

/// The recorded event and its receipt, checked: the event holds the report, hashes to the
/// receipt's leaf, and its inclusion proof leads to a checkpoint signed with the log key.
async fn evidence(
    client: &Client,
    key: &anyhow::Result<NoteVerifier>,
    recorded: &Value,
    report: &Value,
) -> anyhow::Result<Value> {
    let receipt = &recorded["receipt"];
    let seq = receipt["seq"][0]
        .as_u64()
        .context("the server's receipt has no seq")?;
    let leaf = receipt["leaf"][0]
        .as_str()
        .and_then(|l| Hash::from_hex(l).ok())
        .context("the server's receipt has no leaf")?;
    let note = receipt["checkpoint"]
        .as_str()
        .context("the server's receipt has no checkpoint")?;
    let key = key
        .as_ref()
        .map_err(|e| anyhow::anyhow!("no log key to check the receipt with: {e:#}"))?;
    let signed = SignedCheckpoint::open(note, key)
        .context("the receipt's checkpoint does not verify with the log key")?;
    let size = signed.checkpoint().size;
    let answer = client
        .get(
            &["proofs", "inclusion"],
            &[("index", seq.to_string()), ("size", size.to_string())],
        )
        .await?;
    let proof: Vec<Hash> = answer["proof"]
        .as_array()
        .context("the inclusion proof has no hashes")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| Hash::from_hex(h).ok())
                .context("a malformed hash in the inclusion proof")
        })
        .collect::<anyhow::Result<_>>()?;
    verify_inclusion(&leaf, seq, size, &proof, &signed.checkpoint().root)
        .context("the report's event is not proved included in the signed checkpoint")?;
    let served = client
        .get(
            &["events"],
            &[("from", seq.to_string()), ("limit", "1".to_owned())],
        )
        .await?;
    let mut event = served["events"][0].clone();
    if let Some(fields) = event.as_object_mut() {
        fields.remove("leaf");
    }
    let parsed: Event =
        serde_json::from_value(event.clone()).context("the recorded event is not an event")?;
    if parsed.seq != seq || leaf_hash(&parsed.to_canonical()?) != leaf {
        bail!("the server served another event than the one recorded at seq {seq}");
    }
    if parsed.payload["report"] != *report {
        bail!("the event recorded at seq {seq} does not hold this report");
    }
    Ok(json!({
        "event": event,
        "seq": seq,
        "leaf": leaf.to_hex(),
        "tree_size": size,
        "inclusion_proof": proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        "checkpoint": note,
        "log_key": key.to_text(),
    }))
}
