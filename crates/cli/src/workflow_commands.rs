//! `modeltrail exception|capa|change ...`: the boards of workflow records from the command
//! line. `list` shows each record's state, `show` where one stands (the steps taken, and what
//! each next step still needs), `transition` takes a step with a reason. One set of commands
//! serves the three kinds; the server decides what each step needs.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;

use crate::client::{Client, ServerArgs};

#[derive(Args)]
pub struct WorkflowArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: WorkflowCommand,
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Every record of the kind with its workflow state (up to 1000).
    List {
        /// Only records in this state.
        #[arg(long)]
        state: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a record stands: its state, the steps taken, and what each next step needs.
    Show {
        id: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a record to its next state, with a reason; the server refuses an illegal step or
    /// one whose needs are unmet, naming them.
    Transition {
        id: String,
        /// The state to move to.
        #[arg(long)]
        to: String,
        /// The record's latest version (a stale one is refused).
        #[arg(long)]
        version: u64,
        /// Why the step is taken.
        #[arg(long)]
        reason: String,
    },
}

/// Runs a workflow command on records of `kind` (`exception`, `capa`, `change_request`).
pub async fn run(kind: &str, args: WorkflowArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    match args.command {
        WorkflowCommand::List { state, json } => {
            let answer = client
                .get(&["records", kind], &[("limit", "1000".to_owned())])
                .await?;
            let records: Vec<&Value> = answer["records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| {
                    state
                        .as_ref()
                        .is_none_or(|s| r["workflow_state"] == json!(s))
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                for record in records {
                    println!(
                        "{:<34} {:<20} v{} changed by {}",
                        record["id"].as_str().unwrap_or("?"),
                        record["workflow_state"].as_str().unwrap_or("?"),
                        record["version"],
                        record["changed_by"].as_str().unwrap_or("?")
                    );
                }
            }
        }
        WorkflowCommand::Show { id, json } => {
            let view = client.get(&["records", kind, &id, "workflow"], &[]).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print!("{}", workflow_view(kind, &id, &view));
            }
        }
        WorkflowCommand::Transition {
            id,
            to,
            version,
            reason,
        } => {
            let answer = client
                .post(
                    &["records", kind, &id, "transitions"],
                    Some(&json!({"to": to, "version": version, "reason": reason})),
                )
                .await?;
            println!(
                "{kind} {id} is now {} (seq {})",
                answer["workflow_state"].as_str().unwrap_or(&to),
                answer["receipt"]["seq"][0]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The state, the steps taken, and each next step with what it still needs.
fn workflow_view(kind: &str, id: &str, view: &Value) -> String {
    let mut out = format!("{kind} {id}: {}\n", view["state"].as_str().unwrap_or("?"));
    for step in view["transitions"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} -> {} by {} at {}: {}\n",
            step["from"].as_str().unwrap_or("?"),
            step["to"].as_str().unwrap_or("?"),
            step["actor"]["id"].as_str().unwrap_or("?"),
            step["timestamp"].as_str().unwrap_or("?"),
            step["reason"].as_str().unwrap_or("")
        ));
    }
    for next in view["steps"].as_array().into_iter().flatten() {
        let ready = match next["ready"].as_bool() {
            Some(true) => "ready",
            _ => "not ready",
        };
        out.push_str(&format!(
            "next: {} ({ready})\n",
            next["to"].as_str().unwrap_or("?")
        ));
        for condition in next["conditions"].as_array().into_iter().flatten() {
            for missing in condition["missing"].as_array().into_iter().flatten() {
                out.push_str(&format!("  missing: {}\n", missing.as_str().unwrap_or("?")));
            }
        }
    }
    out
}
