//! `modeltrail record ...` and `modeltrail sign`: versioned records on a server. Reads show the
//! version, its status, who changed it when and why, and every electronic signature's
//! manifestation (printed name, UTC date and time, meaning); the history shows each field's old
//! and new value. A signature asks for the signer's password again, as 21 CFR 11.200 requires.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fmt::Write;
use std::process::ExitCode;

use crate::client::{read_json, read_password, Client, ServerArgs};
use crate::display::{inline, table, text, utc};

#[derive(Args)]
pub struct RecordArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: RecordCommand,
}

#[derive(Subcommand)]
enum RecordCommand {
    /// Show a record: its latest version, or the one given with --version.
    Get {
        /// The record type (e.g. model).
        kind: String,
        /// The record id.
        id: String,
        /// Show this version instead of the latest.
        #[arg(long)]
        version: Option<u64>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every version of a record: who, when, why, and each field's old and new value.
    History {
        /// The record type (e.g. model).
        kind: String,
        /// The record id.
        id: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the records of a type, by id.
    List {
        /// The record type (e.g. model).
        kind: String,
        /// Start after this id (the last one of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// At most this many (the server allows up to 1000).
        #[arg(long)]
        limit: Option<usize>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a record from JSON data (a file, or `-` for standard input).
    Create {
        /// The record type (e.g. model).
        kind: String,
        /// The record id; without it the server makes one.
        #[arg(long)]
        id: Option<String>,
        /// The record's data: a JSON file, or `-` for standard input.
        #[arg(long)]
        data: String,
        /// Why: kept with the change in the audit trail.
        #[arg(long)]
        reason: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a record: new data for the version you read, with a reason.
    Update {
        /// The record type (e.g. model).
        kind: String,
        /// The record id.
        id: String,
        /// The version the change is made from (the latest); a stale one is refused.
        #[arg(long)]
        version: u64,
        /// Why: kept with the change in the audit trail.
        #[arg(long)]
        reason: String,
        /// The new data: a JSON file, or `-` for standard input.
        #[arg(long)]
        data: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Void a record with a reason: a last version, marked void; nothing is deleted.
    Void {
        /// The record type (e.g. model).
        kind: String,
        /// The record id.
        id: String,
        /// The latest version (a stale one is refused).
        #[arg(long)]
        version: u64,
        /// Why: kept with the change in the audit trail.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    match args.command {
        RecordCommand::Get {
            kind,
            id,
            version,
            json,
        } => {
            let answer = match version {
                Some(v) => {
                    let v = v.to_string();
                    client
                        .get(&["records", &kind, &id, "versions", &v], &[])
                        .await?
                }
                None => client.get(&["records", &kind, &id], &[]).await?,
            };
            match json {
                true => println!("{}", serde_json::to_string_pretty(&answer)?),
                false => print!("{}", record_view(&answer)),
            }
        }
        RecordCommand::History { kind, id, json } => {
            let answer = client
                .get(&["records", &kind, &id, "versions"], &[])
                .await?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&answer)?),
                false => print!("{}", history_view(&answer)),
            }
        }
        RecordCommand::List {
            kind,
            after,
            limit,
            json,
        } => {
            let mut query = Vec::new();
            if let Some(after) = after {
                query.push(("after", after));
            }
            if let Some(limit) = limit {
                query.push(("limit", limit.to_string()));
            }
            let answer = client.get(&["records", &kind], &query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = answer["records"]
                .as_array()
                .context("the server's answer has no records")?
                .iter()
                .map(|r| {
                    vec![
                        text(r, "id").to_owned(),
                        r["version"].to_string(),
                        text(r, "status").to_owned(),
                        utc(&r["changed_at"]),
                        text(r, "changed_by").to_owned(),
                        r["signatures"].to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["ID", "VERSION", "STATUS", "CHANGED", "BY", "SIGNATURES"],
                    &rows
                )
            );
        }
        RecordCommand::Create {
            kind,
            id,
            data,
            reason,
            json,
        } => {
            let data = read_json(&data)?;
            let mut body = json!({ "data": data });
            if let Some(id) = id {
                body["id"] = json!(id);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            let answer = client.post(&["records", &kind], Some(&body)).await?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&answer)?),
                false => println!(
                    "created {kind} {} version {} (log seq {})",
                    text(&answer, "id"),
                    answer["version"],
                    answer["seq"]
                ),
            }
        }
        RecordCommand::Update {
            kind,
            id,
            version,
            reason,
            data,
            json,
        } => {
            let data = read_json(&data)?;
            let answer = client
                .put(
                    &["records", &kind, &id],
                    &json!({"version": version, "reason": reason, "data": data}),
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "updated {kind} {id} to version {} (log seq {})",
                answer["version"], answer["seq"]
            );
            let mut out = String::new();
            write_changes(&mut out, &answer["changes"]);
            print!("{out}");
        }
        RecordCommand::Void {
            kind,
            id,
            version,
            reason,
        } => {
            let answer = client
                .post(
                    &["records", &kind, &id, "void"],
                    Some(&json!({"version": version, "reason": reason})),
                )
                .await?;
            println!(
                "voided {kind} {id}: version {} is marked void (log seq {})",
                answer["version"], answer["seq"]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A signature's manifestation on one line: printed name (user id), UTC date and time, meaning,
/// the comment, and the version it applies to when that is not `shown`.
fn manifestation(s: &Value, shown: Option<u64>) -> String {
    let mut line = format!(
        "{} ({}), {}, {}",
        text(s, "name"),
        text(s, "signer"),
        utc(&s["signed_at"]),
        text(s, "meaning")
    );
    if let Some(comment) = s["comment"].as_str() {
        let _ = write!(line, ", \"{comment}\"");
    }
    if s["version"].as_u64() != shown {
        let _ = write!(line, " (applies to version {})", s["version"]);
    }
    line
}

fn actor(by: &Value, name: &Value) -> String {
    match name.as_str() {
        Some(name) => format!("{} ({name})", by.as_str().unwrap_or("?")),
        None => by.as_str().unwrap_or("?").to_owned(),
    }
}

/// The human view of one version of a record.
pub fn record_view(r: &Value) -> String {
    let mut out = String::new();
    let version = r["version"].as_u64();
    let latest = r["latest_version"].as_u64();
    let _ = writeln!(
        out,
        "{} {}: version {} of {} ({}{})",
        text(r, "type"),
        text(r, "id"),
        r["version"],
        r["latest_version"],
        text(r, "status"),
        if version != latest {
            ", not the latest"
        } else {
            ""
        }
    );
    let created = &r["created"];
    let _ = writeln!(
        out,
        "created:  {} by {}",
        utc(&created["at"]),
        actor(&created["by"], &created["name"])
    );
    let changed = &r["changed"];
    let _ = writeln!(
        out,
        "changed:  {} by {}, {}",
        utc(&changed["at"]),
        actor(&changed["by"], &changed["name"]),
        text(changed, "action")
    );
    if let Some(reason) = changed["reason"].as_str() {
        let _ = writeln!(out, "reason:   {reason}");
    }
    let _ = writeln!(out, "log:      seq {}, leaf {}", r["seq"], text(r, "leaf"));
    let signatures = r["signatures"].as_array().map_or(&[][..], Vec::as_slice);
    match signatures.len() {
        0 => out.push_str("signatures: none\n"),
        n => {
            let _ = writeln!(out, "signatures ({n}):");
            for s in signatures {
                let _ = writeln!(out, "  {}", manifestation(s, version));
            }
        }
    }
    out.push_str("data:\n");
    let data = serde_json::to_string_pretty(&r["data"]).unwrap_or_default();
    for line in data.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

fn write_changes(out: &mut String, changes: &Value) {
    for c in changes.as_array().map_or(&[][..], Vec::as_slice) {
        let field = match text(c, "field") {
            "" => "(the whole record)",
            f => f,
        };
        let new = match c.get("new") {
            Some(v) => v.to_string(),
            None => "(removed)".to_owned(),
        };
        let _ = writeln!(out, "  {field}: {} → {new}", inline(c.get("old")));
    }
}

/// The human view of a record's history.
pub fn history_view(h: &Value) -> String {
    let mut out = String::new();
    let versions = h["versions"].as_array().map_or(&[][..], Vec::as_slice);
    let _ = writeln!(
        out,
        "{} {} ({}): {} version{}",
        text(h, "type"),
        text(h, "id"),
        text(h, "status"),
        versions.len(),
        if versions.len() == 1 { "" } else { "s" }
    );
    for v in versions {
        let _ = writeln!(
            out,
            "\nversion {}: {} by {}, {} (log seq {})",
            v["version"],
            utc(&v["at"]),
            actor(&v["by"], &v["name"]),
            text(v, "action"),
            v["seq"]
        );
        let _ = writeln!(out, "  reason: {}", v["reason"].as_str().unwrap_or("-"));
        write_changes(&mut out, &v["changes"]);
        for s in v["signatures"].as_array().map_or(&[][..], Vec::as_slice) {
            let _ = writeln!(out, "  signed: {}", manifestation(s, v["version"].as_u64()));
        }
    }
    out
}

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The record type (e.g. model).
    kind: String,
    /// The record id.
    id: String,
    /// The version signed: the latest (a signature binds to that version's content).
    #[arg(long)]
    version: u64,
    /// What the signature means: authored, reviewed, approved, verified or responsible.
    #[arg(long)]
    meaning: String,
    /// A comment shown with the signature.
    #[arg(long)]
    comment: Option<String>,
    /// Read the password from the first line of standard input (else MODELTRAIL_PASSWORD, else
    /// asked on the terminal without echo).
    #[arg(long)]
    password_stdin: bool,
}

/// Signs a version of a record with the logged-in user's password.
pub async fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    let user = client.user_id().await?;
    eprintln!(
        "signing {} {} version {} as {}, by {user}",
        args.kind, args.id, args.version, args.meaning
    );
    let password = read_password(&format!("password for {user}: "), args.password_stdin)?;
    let mut body = json!({
        "meaning": args.meaning,
        "username": user,
        "password": password,
    });
    if let Some(comment) = &args.comment {
        body["comment"] = json!(comment);
    }
    let version = args.version.to_string();
    let answer = client
        .post(
            &[
                "records",
                &args.kind,
                &args.id,
                "versions",
                &version,
                "signatures",
            ],
            Some(&body),
        )
        .await?;
    let seq = answer["receipt"]["seq"][0].as_u64();
    let signed = answer["signatures"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["seq"].as_u64() == seq));
    println!("signed {} {} version {}", args.kind, args.id, args.version);
    if let Some(s) = signed {
        println!("  {}", manifestation(s, Some(args.version)));
    }
    println!(
        "  log seq {}, tree size {}",
        answer["receipt"]["seq"][0], answer["receipt"]["tree_size"]
    );
    Ok(ExitCode::SUCCESS)
}
