//! `modeltrail user ...`: account administration on a server (administrators only): create, list,
//! lock, unlock, reset a password, change a role, and the API tokens of service accounts.
//! One-time secrets (temporary passwords, API tokens) are printed once, as the server gives them.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;

use crate::client::{Client, ServerArgs};
use crate::display::{table, text, utc};

#[derive(Args)]
pub struct UserArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. A person gets a temporary password, printed once, to be changed at the
    /// first login; a service account (--service) gets API tokens instead (`user token`).
    Add {
        /// The user id: 2 to 64 of a-z, 0-9, `.`, `_`, `-`; never reused.
        id: String,
        /// The printed full name, shown with every signature.
        #[arg(long)]
        name: String,
        /// admin, qa, developer, viewer or auditor.
        #[arg(long)]
        role: String,
        /// A service account (API tokens, no password, cannot sign).
        #[arg(long)]
        service: bool,
    },
    /// List every account.
    List {
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lock an account: its sessions end and it can no longer log in.
    Lock {
        /// The user id.
        id: String,
        /// Why: kept with the change in the audit trail.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Unlock an account.
    Unlock {
        /// The user id.
        id: String,
        /// Why: kept with the change in the audit trail.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Give a person a new temporary password (printed once); their sessions end.
    ResetPassword {
        /// The user id.
        id: String,
    },
    /// Change a user's role (their sessions end).
    Role {
        /// The user id.
        id: String,
        /// admin, qa, developer, viewer or auditor.
        role: String,
        /// Why: kept with the change in the audit trail.
        #[arg(long)]
        reason: String,
    },
    /// Issue an API token to a service account; the token is printed once.
    Token {
        /// The user id.
        id: String,
        /// What the token is for.
        #[arg(long)]
        label: String,
    },
    /// List a service account's API tokens (ids and labels; never the tokens).
    Tokens {
        /// The user id.
        id: String,
    },
    /// Revoke an API token of a service account.
    RevokeToken {
        /// The user id.
        id: String,
        /// The token id (from `user tokens`).
        token_id: String,
    },
}

fn reason_body(reason: Option<String>) -> Option<Value> {
    reason.map(|r| json!({ "reason": r }))
}

fn describe(user: &Value) -> String {
    format!(
        "{} ({}), role {}, {}{}",
        text(user, "id"),
        text(user, "name"),
        text(user, "role"),
        text(user, "kind"),
        if user["locked"] == true {
            ", locked"
        } else {
            ""
        }
    )
}

pub async fn run(args: UserArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    match args.command {
        UserCommand::Add {
            id,
            name,
            role,
            service,
        } => {
            let kind = if service { "service" } else { "person" };
            let answer = client
                .post(
                    &["users"],
                    Some(&json!({"id": id, "name": name, "role": role, "kind": kind})),
                )
                .await?;
            println!("created {}", describe(&answer["user"]));
            if let Some(password) = answer["temporary_password"].as_str() {
                println!(
                    "temporary password for {id} (shown once; it must be changed at the first \
                     login):\n    {password}"
                );
            }
        }
        UserCommand::List { json } => {
            let answer = client.get(&["users"], &[]).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(ExitCode::SUCCESS);
            }
            let users = answer["users"]
                .as_array()
                .context("the server's user list has no users")?;
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    let status = if u["locked"] == true {
                        "locked"
                    } else if u["must_change_password"] == true {
                        "must change password"
                    } else {
                        "active"
                    };
                    vec![
                        text(u, "id").to_owned(),
                        text(u, "name").to_owned(),
                        text(u, "role").to_owned(),
                        text(u, "kind").to_owned(),
                        status.to_owned(),
                        utc(&u["last_login"]),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["ID", "NAME", "ROLE", "KIND", "STATUS", "LAST LOGIN"],
                    &rows
                )
            );
        }
        UserCommand::Lock { id, reason } => {
            let answer = client
                .post(&["users", &id, "lock"], reason_body(reason).as_ref())
                .await?;
            println!("locked {}", describe(&answer["user"]));
        }
        UserCommand::Unlock { id, reason } => {
            let answer = client
                .post(&["users", &id, "unlock"], reason_body(reason).as_ref())
                .await?;
            println!("unlocked {}", describe(&answer["user"]));
        }
        UserCommand::ResetPassword { id } => {
            let answer = client.post(&["users", &id, "password"], None).await?;
            let password = answer["temporary_password"]
                .as_str()
                .context("the server's answer has no temporary password")?;
            println!(
                "new temporary password for {id} (shown once; it must be changed at the next \
                 login):\n    {password}"
            );
        }
        UserCommand::Role { id, role, reason } => {
            let answer = client
                .post(
                    &["users", &id, "role"],
                    Some(&json!({"role": role, "reason": reason})),
                )
                .await?;
            println!("changed role: {}", describe(&answer["user"]));
        }
        UserCommand::Token { id, label } => {
            let answer = client
                .post(&["users", &id, "tokens"], Some(&json!({ "label": label })))
                .await?;
            let token = answer["token"]
                .as_str()
                .context("the server's answer has no token")?;
            println!(
                "API token {} for {id} ({label}); shown once, store it now:\n    {token}",
                text(&answer, "token_id")
            );
        }
        UserCommand::Tokens { id } => {
            let answer = client.get(&["users", &id, "tokens"], &[]).await?;
            let rows: Vec<Vec<String>> = answer["tokens"]
                .as_array()
                .context("the server's answer has no tokens")?
                .iter()
                .map(|t| {
                    vec![
                        text(t, "token_id").to_owned(),
                        utc(&t["issued_at"]),
                        if t["revoked"] == true {
                            "revoked"
                        } else {
                            "active"
                        }
                        .to_owned(),
                        text(t, "label").to_owned(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["TOKEN ID", "ISSUED", "STATUS", "LABEL"], &rows)
            );
        }
        UserCommand::RevokeToken { id, token_id } => {
            client
                .post(&["users", &id, "tokens", &token_id, "revoke"], None)
                .await?;
            println!("revoked API token {token_id} of {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
