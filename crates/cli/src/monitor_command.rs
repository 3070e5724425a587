//! `modeltrail monitor`: what a serving pipeline runs on each window of production data.
//! `upload` streams a CSV or Parquet file of inputs (with predictions and labels when known) to
//! the server, which evaluates it under the model version's approved monitoring plan; the
//! command prints each feature's drift test, the performance figures, the breached anomalies and
//! what a breach raised, and exits 1 on a breach so a pipeline can stop. `plan` records a
//! monitoring plan from a JSON file (a new version when it exists) or shows one: what it
//! watches, its limits, and whether QA has approved the version in force. `status` shows a
//! model version's lifecycle status and its re-validation condition.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{read_json, ApiFailure, Client, ServerArgs};
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
    /// Record a monitoring plan from a JSON file (its `data`), or a new version of it when the
    /// id exists; without FILE, show the plan. Batches are evaluated only under a version QA
    /// has approved (`modeltrail sign monitoring_plan ID VERSION --meaning approved`).
    Plan {
        /// The plan's record id.
        #[arg(long)]
        id: String,
        /// The plan as JSON (`-` for standard input); omit it to show the plan.
        file: Option<String>,
        /// Why it is recorded or changed.
        #[arg(long)]
        reason: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
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
        MonitorCommand::Plan {
            id,
            file,
            reason,
            json,
        } => plan(&client, &id, file.as_deref(), reason, json).await,
        MonitorCommand::Status {
            model_version,
            json,
        } => status(&client, &model_version, json).await,
    }
}

async fn plan(
    client: &Client,
    id: &str,
    file: Option<&str>,
    reason: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let answer = match file {
        None => client.get(&["records", PLAN, id], &[]).await?,
        Some(file) => {
            let mut body = json!({ "data": read_json(file)? });
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            match client.get(&["records", PLAN, id], &[]).await {
                Ok(current) => {
                    if body.get("reason").is_none() {
                        anyhow::bail!(
                            "monitoring plan `{id}` exists: a new version needs --reason saying why it changes"
                        );
                    }
                    body["version"] = current["latest_version"].clone();
                    client.put(&["records", PLAN, id], &body).await?
                }
                Err(e) if is_not_found(&e) => {
                    body["id"] = json!(id);
                    client.post(&["records", PLAN], Some(&body)).await?
                }
                Err(e) => return Err(e),
            }
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", plan_view(&answer));
    }
    Ok(ExitCode::SUCCESS)
}

const PLAN: &str = "monitoring_plan";

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiFailure>()
        .is_some_and(|f| f.code == "not_found")
}

/// What a plan watches and allows, and whether the version shown is approved.
fn plan_view(answer: &Value) -> String {
    let data = &answer["data"];
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "monitoring plan {} version {} (latest {})",
        text(&answer["id"]),
        answer["version"],
        answer["latest_version"]
    );
    let approval = answer["signatures"].as_array().and_then(|s| {
        s.iter()
            .find(|s| s["meaning"] == "approved" && s["applies_to_this_version"] == json!(true))
    });
    match approval {
        Some(s) => {
            let _ = writeln!(out, "approved: {}", text(&s["manifestation"]));
        }
        None => {
            let _ = writeln!(
                out,
                "approved: NO: batches are refused until QA approves this version"
            );
        }
    }
    let _ = writeln!(out, "model version:     {}", text(&data["model_version"]));
    let _ = writeln!(
        out,
        "reference dataset: {}",
        text(&data["reference_dataset"])
    );
    let drift = &data["drift"];
    let _ = writeln!(
        out,
        "drift:             test {}, threshold {}, drift share {}, breach on {}",
        drift["test"]
            .as_str()
            .unwrap_or("Evidently's default per feature"),
        match &drift["threshold"] {
            Value::Null => "the test's default".to_owned(),
            v => v.to_string(),
        },
        match &drift["drift_share"] {
            Value::Null => "0.5".to_owned(),
            v => v.to_string(),
        },
        drift["breach_on"].as_str().unwrap_or("dataset_drift"),
    );
    for feature in data["features"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  feature {:<20} {:<12} test {:<16} threshold {}",
            text(&feature["name"]),
            text(&feature["type"]),
            feature["test"].as_str().unwrap_or("(plan default)"),
            match &feature["threshold"] {
                Value::Null => "(default)".to_owned(),
                v => v.to_string(),
            }
        );
    }
    for metric in data["performance_metrics"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  metric  {} {} {}",
            text(&metric["metric"]),
            text(&metric["op"]),
            metric["threshold"]
        );
    }
    let anomalies = &data["anomalies"];
    let _ = writeln!(
        out,
        "anomalies:         missing <= {}, unseen categories <= {}, out of range <= {}, prediction errors per row <= {}",
        or_default(&anomalies["max_missing_share"], "0.1"),
        or_default(&anomalies["max_unseen_category_share"], "0.01"),
        or_default(&anomalies["max_out_of_range_share"], "0.01"),
        or_default(&anomalies["max_prediction_error_rate"], "0.01"),
    );
    if let Some(rows) = data["minimum_batch_rows"].as_u64() {
        let _ = writeln!(out, "minimum batch:     {rows} rows");
    }
    let _ = writeln!(
        out,
        "on a breach:       {} exception; {}",
        data["breach_severity"].as_str().unwrap_or("major"),
        text(&data["action_plan"])
    );
    out
}

fn or_default(value: &Value, default: &str) -> String {
    match value {
        Value::Null => default.to_owned(),
        v => v.to_string(),
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
