//! `modeltrail login`, `logout`, `password` and `whoami`: a session with a server, kept in the
//! configuration directory for the commands that follow.

use anyhow::bail;
use clap::Args;
use modeltrail_ledger::Timestamp;
use serde_json::json;
use std::process::ExitCode;

use crate::client::{
    ask_hidden, ask_line, read_password, stdin_line, Client, Server, ServerArgs, Session,
    PASSWORD_ENV,
};
use crate::display::text;

/// A new password for automation, used by `modeltrail password` instead of asking.
const NEW_PASSWORD_ENV: &str = "MODELTRAIL_NEW_PASSWORD";

#[derive(Args)]
pub struct LoginArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The user id; asked on the terminal when not given.
    #[arg(long, env = "MODELTRAIL_USER")]
    user: Option<String>,
    /// Read the password from the first line of standard input (else MODELTRAIL_PASSWORD, else
    /// asked on the terminal without echo).
    #[arg(long)]
    password_stdin: bool,
}

pub async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let client = Client::anonymous(&args.server)?;
    let user = match args.user {
        Some(user) => user,
        None => ask_line("user id: ")?,
    };
    let password = read_password(&format!("password for {user}: "), args.password_stdin)?;
    let answer = client
        .post(
            &["auth", "login"],
            Some(&json!({"username": user, "password": password})),
        )
        .await?;
    let Some(token) = answer["token"].as_str() else {
        bail!("the server's answer to the login has no session token");
    };
    // A session saved earlier is replaced: end it on the server rather than leave it to idle out.
    if Session::load(client.server()).ok().flatten().is_some() {
        if let Ok(previous) = Client::with_session(&args.server) {
            let _ = previous.post(&["auth", "logout"], None).await;
        }
    }
    let session = Session {
        server: client.server().url().to_owned(),
        user: text(&answer, "user").to_owned(),
        token: token.to_owned(),
        logged_in_at: Timestamp::now().to_string(),
    };
    let path = session.save(client.server())?;
    println!(
        "logged in to {} as {} ({}), role {}",
        client.server().url(),
        session.user,
        text(&answer, "name"),
        answer["role"].as_str().unwrap_or("?")
    );
    if let Some(seconds) = answer["idle_timeout_seconds"].as_u64() {
        println!(
            "the session ends after {} minutes without use; kept in {}",
            seconds / 60,
            path.display()
        );
    }
    if answer["must_change_password"] == true {
        let why = match answer["password_expired"] == true {
            true => "the password has expired",
            false => "this is a temporary password",
        };
        println!(
            "{why}: it must be changed before anything else; run `modeltrail password --server {}`",
            client.server().url()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let server = Server::parse(&args.server)?;
    match Session::load(&server) {
        Ok(Some(_)) => {}
        Ok(None) => {
            println!("not logged in to {}", server.url());
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            Session::remove(&server)?;
            println!("removed a damaged session file ({e:#})");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let client = Client::with_session(&args)?;
    // The session ends on the server first; the file goes whatever the server says (an
    // expired session is already gone there).
    let ended = client.post(&["auth", "logout"], None).await;
    Session::remove(client.server())?;
    match ended {
        Ok(_) => println!("logged out of {}", client.server().url()),
        Err(e) => println!(
            "the session file is removed; the server said: {e:#} (the session may have \
             already ended)"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct PasswordArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Read the current and the new password from the first two lines of standard input (else
    /// MODELTRAIL_PASSWORD and MODELTRAIL_NEW_PASSWORD, else asked on the terminal).
    #[arg(long)]
    stdin: bool,
}

/// Changes the logged-in user's password.
pub async fn password(args: PasswordArgs) -> anyhow::Result<ExitCode> {
    let client = Client::with_session(&args.server)?;
    let user = client.session_user().unwrap_or("you").to_owned();
    let (current, new) = if args.stdin {
        (
            stdin_line("the current password")?,
            stdin_line("the new password")?,
        )
    } else {
        let current = match std::env::var(PASSWORD_ENV) {
            Ok(p) => p,
            Err(_) => ask_hidden(&format!("current password for {user}: "))?,
        };
        let new = match std::env::var(NEW_PASSWORD_ENV) {
            Ok(p) => p,
            Err(_) => {
                let new = ask_hidden("new password: ")?;
                if ask_hidden("new password again: ")? != new {
                    bail!("the two new passwords differ; nothing was changed");
                }
                new
            }
        };
        (current, new)
    };
    client
        .post(
            &["auth", "password"],
            Some(&json!({"current_password": current, "new_password": new})),
        )
        .await?;
    println!("password changed for {user}");
    Ok(ExitCode::SUCCESS)
}

/// Shows who the saved session (or MODELTRAIL_TOKEN) is.
pub async fn whoami(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args)?;
    let me = client.get(&["auth", "me"], &[]).await?;
    let user = &me["user"];
    println!(
        "{} ({}), role {}, by {} at {}",
        text(user, "id"),
        text(user, "name"),
        text(user, "role"),
        text(&me, "auth"),
        client.server().url()
    );
    if me["must_change_password"] == true {
        println!("the password must be changed: run `modeltrail password`");
    }
    Ok(ExitCode::SUCCESS)
}
