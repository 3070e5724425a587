//! The `modeltrail` command: argument parsing and dispatch. Each command lives in its own module;
//! errors become messages and exit codes here, at the edge.

mod backup_command;
mod checkpoint_command;
mod client;
mod code_command;
mod dataset_command;
mod decision_commands;
mod display;
mod fairness_command;
mod log_commands;
mod monitor_command;
mod record_commands;
mod report_command;
mod selftest_command;
mod serve_command;
mod session_commands;
mod user_commands;
mod verify_command;
mod workflow_commands;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "modeltrail",
    version,
    about = "Tamper-evident audit trail for GxP machine-learning models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the log lives; shared by every command.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data directory: signing key, and the SQLite database unless --database is given.
    #[arg(long, env = "MODELTRAIL_DATA_DIR", default_value = "./modeltrail-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user@host:port/db); without it, SQLite in the data directory.
    #[arg(
        long = "database",
        env = "MODELTRAIL_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn config(&self) -> modeltrail_store::StoreConfig {
        modeltrail_store::StoreConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create the data directory, the log's signing key and database, and sign the first checkpoint.
    Init {
        #[command(flatten)]
        store: StoreArgs,
        /// The log's origin (checkpoint name) for a new key; default: a random one.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Append events given as JSON lines on standard input: all in one transaction or none; or,
    /// with --stream, each line on its own as it arrives. Prints `SEQ LEAF-HASH` once durable.
    Append {
        #[command(flatten)]
        store: StoreArgs,
        /// Append each line as its own event as soon as it is read, many in flight at once.
        #[arg(long)]
        stream: bool,
    },
    /// Fetch the server's signed checkpoint, prove it consistent with the one pinned for that
    /// server, and pin it (the first time: trust on first use). Exit 1 when it does not verify.
    /// With --local: print the latest checkpoint of a local store.
    Checkpoint(checkpoint_command::CheckpointArgs),
    /// Print an inclusion or consistency proof from the stored log (hex, one hash a line).
    Prove {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        proof: log_commands::ProofKind,
    },
    /// Recompute and check the whole log offline (a data directory, a database or an export
    /// bundle); exit 1 at the first divergence.
    Verify(verify_command::VerifyArgs),
    /// Write the log up to its latest signed checkpoint to a new bundle directory (events,
    /// checkpoints, public key, manifest) that `modeltrail verify BUNDLE` checks offline.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// The bundle directory to create; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Back up a data directory (and its PostgreSQL database) to one file while the server
    /// runs: an online snapshot of the log, the blobs and the public key.
    Backup(backup_command::BackupArgs),
    /// Restore a backup file into a new data directory (and an empty PostgreSQL database), or
    /// with --check only check the file's integrity.
    Restore(backup_command::RestoreArgs),
    /// Installation/operational qualification of a running server: health, log key, signed
    /// checkpoint, the live log recomputed, clock, access control. The report is recorded in
    /// the log and written with its inclusion proof. Exit 1 when a check fails.
    Selftest(selftest_command::SelftestArgs),
    /// Run the HTTP server (REST API under /api/v1) until SIGINT or SIGTERM.
    Serve(serve_command::ServeArgs),
    /// Log in to a server; the session is kept for the commands that follow.
    Login(session_commands::LoginArgs),
    /// End the session with a server.
    Logout(client::ServerArgs),
    /// Change your password (required after a temporary one).
    Password(session_commands::PasswordArgs),
    /// Show who you are logged in as.
    Whoami(client::ServerArgs),
    /// Manage users on a server (administrators).
    User(user_commands::UserArgs),
    /// Read, create and change versioned records on a server.
    Record(record_commands::RecordArgs),
    /// Sign a version of a record electronically (asks for your password again).
    Sign(record_commands::SignArgs),
    /// Record the code version a pipeline runs, from its git checkout.
    Code(code_command::CodeArgs),
    /// Register a dataset version: its files hashed into a manifest and content digest.
    Dataset(dataset_command::DatasetArgs),
    /// Fairness assessments the server computes from a data file.
    Fairness(fairness_command::FairnessArgs),
    /// Drift monitoring: record or show a monitoring plan, send production data to be
    /// evaluated, show a model version's status.
    Monitor(monitor_command::MonitorArgs),
    /// Exceptions and deviations: list, show where one stands, take a workflow step.
    Exception(workflow_commands::WorkflowArgs),
    /// Corrective and preventive actions: list, show, take a workflow step.
    Capa(workflow_commands::WorkflowArgs),
    /// Change requests: list, show, take a workflow step.
    Change(workflow_commands::WorkflowArgs),
    /// Reports for people: a model version's validation dossier as PDF or HTML.
    Report(report_command::ReportArgs),
    /// Decision records: the review queue, one decision, a signed review, statistics.
    Decision(decision_commands::DecisionArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init { store, origin } => log_commands::init(&store, origin).await,
            Command::Append { store, stream } => match stream {
                true => log_commands::append_stream(&store).await,
                false => log_commands::append(&store).await,
            },
            Command::Checkpoint(args) => checkpoint_command::run(args).await,
            Command::Prove { store, proof } => log_commands::prove(&store, proof).await,
            Command::Verify(args) => verify_command::run(args).await,
            Command::Export { store, out } => log_commands::export(&store, &out).await,
            Command::Backup(args) => backup_command::backup(args).await,
            Command::Restore(args) => backup_command::restore(args).await,
            Command::Selftest(args) => selftest_command::run(args).await,
            Command::Serve(args) => serve_command::run(args).await,
            Command::Login(args) => session_commands::login(args).await,
            Command::Logout(args) => session_commands::logout(args).await,
            Command::Password(args) => session_commands::password(args).await,
            Command::Whoami(args) => session_commands::whoami(args).await,
            Command::User(args) => user_commands::run(args).await,
            Command::Record(args) => record_commands::run(args).await,
            Command::Sign(args) => record_commands::sign(args).await,
            Command::Code(args) => code_command::run(args).await,
            Command::Dataset(args) => dataset_command::run(args).await,
            Command::Fairness(args) => fairness_command::run(args).await,
            Command::Monitor(args) => monitor_command::run(args).await,
            Command::Exception(args) => workflow_commands::run("exception", args).await,
            Command::Capa(args) => workflow_commands::run("capa", args).await,
            Command::Change(args) => workflow_commands::run("change_request", args).await,
            Command::Report(args) => report_command::run(args).await,
            Command::Decision(args) => decision_commands::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
