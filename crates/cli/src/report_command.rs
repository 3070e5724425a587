//! `modeltrail report dossier`: a model version's validation dossier fetched from the server as
//! PDF or HTML and written to a file. The server records each report in the log
//! (`report.generated`); the command checks the file's SHA-256 against the one the server
//! recorded and prints the report id, so the file can be tied back to the log.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{Client, ServerArgs};

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A model version's validation dossier: intended use, risk, the release checklist,
    /// validation, fairness, explanation, monitoring, exceptions and CAPA, lineage, the
    /// signature manifestations and how to verify it against an export bundle.
    Dossier {
        /// The model version's record id.
        #[arg(long)]
        model_version: String,
        #[arg(long, value_enum, default_value = "pdf")]
        format: ReportFormat,
        /// Where to write the report (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Pdf,
    Html,
}

impl ReportFormat {
    fn extension(self) -> &'static str {
        match self {
            ReportFormat::Pdf => "pdf",
            ReportFormat::Html => "html",
        }
    }
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> anyhow::Result<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .with_context(|| format!("the server's answer has no {name} header"))
}

pub async fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    match args.command {
        ReportCommand::Dossier {
            model_version,
            format,
            out,
        } => {
            let document = format!("dossier.{}", format.extension());
            let (bytes, headers) = client
                .get_bytes(&["model-versions", &model_version, &document])
                .await?;
            let report_id = header(&headers, "x-modeltrail-report-id")?.to_owned();
            let recorded = header(&headers, "x-modeltrail-report-sha256")?.to_owned();
            let seq = header(&headers, "x-modeltrail-report-seq")?.to_owned();
            let digest = hex::encode(Sha256::digest(&bytes));
            if digest != recorded {
                bail!(
                    "the report received (SHA-256 {digest}) is not the one the server recorded \
                     ({recorded}); nothing written"
                );
            }
            let temporary = out.with_extension(format!("{}.part", std::process::id()));
            std::fs::write(&temporary, &bytes)
                .and_then(|()| std::fs::rename(&temporary, &out))
                .inspect_err(|_| {
                    let _ = std::fs::remove_file(&temporary);
                })
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: validation dossier of {model_version}, report {report_id}, {} bytes, \
                 SHA-256 {digest}; recorded in the log as event {seq} (report.generated)",
                out.display(),
                bytes.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
