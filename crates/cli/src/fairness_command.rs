//! `modeltrail fairness assess`: a fairness assessment the server computes from the columns of a
//! CSV or Parquet file of labels, predictions and sensitive attributes. Owns the command's
//! arguments, the `multipart/form-data` form (a `record` part, the file streamed as the `file`
//! part) and the summary of the figures and verdicts the server answers with.

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{read_json, Client, ServerArgs};
use crate::record_commands::record_view;

#[derive(Args)]
pub struct FairnessArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: FairnessCommand,
}

#[derive(Subcommand)]
enum FairnessCommand {
    /// Record a fairness assessment computed by the server from a CSV or Parquet file.
    ///
    /// The server reads the labels, predictions and sensitive-attribute columns of FILE,
    /// computes the per-group figures and disparities as Fairlearn defines them, evaluates the
    /// assessment's criteria and records the assessment with the file's name, SHA-256 and the
    /// column mapping (POST /api/v1/fairness-assessments/file). Exit 0 when every criterion
    /// passes, 1 when one fails, 2 when the server refuses the input.
    Assess(AssessArgs),
}

#[derive(Args)]
struct AssessArgs {
    /// The data file: CSV with a header row, or Parquet.
    file: PathBuf,
    /// The assessment as JSON (model_version, sensitive_attributes, positive_label, criteria):
    /// a file, or - for standard input.
    #[arg(long)]
    data: String,
    /// The column of true labels.
    #[arg(long)]
    labels: String,
    /// The column of the model's predictions.
    #[arg(long)]
    predictions: String,
    /// A sensitive-attribute column, named as its attribute (repeat for each); default: the
    /// assessment's sensitive_attributes.
    #[arg(long = "sensitive")]
    sensitive: Vec<String>,
    /// The record id; without it the server makes one.
    #[arg(long)]
    id: Option<String>,
    /// Why the assessment is recorded.
    #[arg(long)]
    reason: Option<String>,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: FairnessArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        FairnessCommand::Assess(assess) => assess_file(&args.server, assess).await,
    }
}

async fn assess_file(server: &ServerArgs, args: AssessArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(server)?;
    let data = read_json(&args.data)?;
    if !data.is_object() {
        bail!("--data {}: the assessment must be a JSON object", args.data);
    }
    let mut columns = json!({"labels": args.labels, "predictions": args.predictions});
    if !args.sensitive.is_empty() {
        columns["sensitive"] = json!(args.sensitive);
    }
    let record = json!({"id": args.id, "data": data, "columns": columns, "reason": args.reason});
    let answer = client
        .post_record_and_file(&["fairness-assessments", "file"], &record, &args.file)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", record_view(&answer));
        print!("{}", verdict_view(&answer["data"]));
    }
    Ok(match answer["data"]["passed"].as_bool() {
        Some(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// Rows, each criterion's verdict, and the overall verdict.
fn verdict_view(data: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "rows:     {}", data["rows"]);
    if let Some(source) = data["data"]["source"].as_object() {
        let _ = writeln!(
            out,
            "file:     {} (sha256 {})",
            source.get("name").and_then(Value::as_str).unwrap_or("?"),
            source.get("sha256").and_then(Value::as_str).unwrap_or("?")
        );
    }
    for result in data["criteria_results"].as_array().into_iter().flatten() {
        let verdict = match result["passed"].as_bool() {
            Some(true) => "pass",
            _ => "FAIL",
        };
        let _ = writeln!(
            out,
            "{verdict}:     {}",
            result["criterion"].as_str().unwrap_or("?")
        );
    }
    let overall = match data["passed"].as_bool() {
        Some(true) => "passed",
        _ => "FAILED",
    };
    let _ = writeln!(out, "verdict:  {overall}");
    out
}
