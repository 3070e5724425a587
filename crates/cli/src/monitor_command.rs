//! `modeltrail monitor`: what a serving pipeline runs on each window of production data.
//! `upload` streams a CSV or Parquet file of inputs (with predictions and labels when known) to
//! the server, which evaluates it under the model version's approved monitoring plan; the
//! command prints each feature's drift test, the performance figures, the breached anomalies and
//! what a breach raised, and exits 1 on a breach so a pipeline can stop. `status` shows a model
//! version's lifecycle status and its re-validation condition.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{Client, ServerArgs};
use crate::record_commands::record_view;

#[derive(Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: MonitorCommand,
}

#[derive(Subcommand)]
enum MonitorCommand {
    /// Send a window of production data (CSV or Parquet) to be evaluated under a monitoring
    /// plan (POST /api/v1/monitoring-batches/file). The plan's features are read from the
    /// columns of their names. Exit 0 without a breach, 1 on a breach, 2 when refused.
    Upload(Box<UploadArgs>),
    /// Show a model version's lifecycle status and whether it is under re-validation.
    Status {
        /// The model version's record id.
        model_version: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct UploadArgs {
    /// The data file: CSV with a header row, or Parquet.
    file: PathBuf,
    /// The monitoring plan's record id.
    #[arg(long)]
    plan: String,
    /// Start of the window the data was collected in (RFC 3339).
    #[arg(long)]
    start: String,
    /// End of the window (RFC 3339).
    #[arg(long)]
    end: String,
    /// The column of the model's predictions.
    #[arg(long)]
    predictions: Option<String>,
    /// The column of the classifier's scores (for roc_auc).
    #[arg(long)]
    scores: Option<String>,
    /// The column of the true labels.
    #[arg(long)]
    labels: Option<String>,
    /// Prediction errors the serving system reported in the window.
    #[arg(long)]
    prediction_errors: Option<u64>,
    /// The record id; without it the server makes one.
    #[arg(long)]
    id: Option<String>,
    /// Why the batch is recorded.
    #[arg(long)]
    reason: Option<String>,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: MonitorArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    match args.command {
        MonitorCommand::Upload(upload) => upload_batch(&client, *upload).await,
        MonitorCommand::Status {
            model_version,
            json,
        } => status(&client, &model_version, json).await,
    }
}

async fn upload_batch(client: &Client, args: UploadArgs) -> anyhow::Result<ExitCode> {
    let mut data = json!({"plan": args.plan, "window": {"start": args.start, "end": args.end}});
    if let Some(count) = args.prediction_errors {
        data["prediction_errors"] = json!({ "count": count });
    }
    let mut columns = json!({});
    for (key, column) in [
        ("predictions", &args.predictions),
        ("scores", &args.scores),
        ("labels", &args.labels),
    ] {
        if let Some(column) = column {
            columns[key] = json!(column);
        }
    }
    let record = json!({"id": args.id, "data": data, "columns": columns, "reason": args.reason});
    let answer = client
        .post_record_and_file(&["monitoring-batches", "file"], &record, &args.file)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", record_view(&answer));
        print!("{}", batch_view(&answer));
    }
    Ok(match answer["data"]["breach"].as_bool() {
        Some(false) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// Each feature's test and verdict, performance, breached anomalies, breaches and what they
/// raised.
fn batch_view(answer: &Value) -> String {
    let data = &answer["data"];
    let mut out = String::new();
    let _ = writeln!(out, "rows:     {}", data["rows"]);
    if data["tested"] == json!(false) {
        let _ = writeln!(
            out,
            "not tested: fewer rows than the plan's minimum_batch_rows"
        );
    }
    for feature in data["drift"]["features"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "drift:    {:<16} {:<15} score {} {} {}: {}",
            feature["feature"].as_str().unwrap_or("?"),
            feature["test"].as_str().unwrap_or("?"),
            feature["score"],
            feature["comparison"].as_str().unwrap_or("?"),
            feature["threshold"],
            match feature["drifted"].as_bool() {
                Some(true) => "DRIFTED",
                _ => "no drift",
            }
        );
    }
    for metric in data["performance"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "metric:   {} = {} (must be {} {}): {}",
            metric["metric"].as_str().unwrap_or("?"),
            metric["value"],
            metric["op"].as_str().unwrap_or("?"),
            metric["threshold"],
            match metric["passed"].as_bool() {
                Some(true) => "pass",
                _ => "FAIL",
            }
        );
    }
    for breach in data["breaches"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "BREACH:   {}", breach.as_str().unwrap_or("?"));
    }
    if let Some(exception) = answer["raised"]["exception"].as_str() {
        let _ = writeln!(
            out,
            "raised:   exception {exception}, change_request {}",
            answer["raised"]["change_request"].as_str().unwrap_or("?")
        );
    }
    let _ = writeln!(
        out,
        "verdict:  {}",
        match data["breach"].as_bool() {
            Some(false) => "no breach",
            _ => "BREACH",
        }
    );
    out
}

async fn status(client: &Client, model_version: &str, json: bool) -> anyhow::Result<ExitCode> {
    let ready = client
        .get(&["model-versions", model_version, "release-readiness"], &[])
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&ready)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "model_version {model_version}: {}",
        ready["status"].as_str().unwrap_or("?")
    );
    let revalidated = ready["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["code"] == "revalidated");
    if let Some(condition) = revalidated {
        println!(
            "re-validation: {}",
            condition["detail"].as_str().unwrap_or("?")
        );
        for missing in condition["missing"].as_array().into_iter().flatten() {
            println!("  missing: {}", missing.as_str().unwrap_or("?"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
