//! `modeltrail decision ...`: the review queue of low-confidence decisions, one decision with
//! its review, a signed review (accept or override, with a reason; the password asked again as
//! 21 CFR 11.200 requires), and a model version's decision statistics.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::process::ExitCode;

use crate::client::{read_json, read_password, Client, ServerArgs};
use crate::display::{table, text, utc};

#[derive(Args)]
pub struct DecisionArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: DecisionCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum Verdict {
    /// The model's output stands.
    Accept,
    /// The reviewer's output replaces the model's.
    Override,
}

#[derive(Subcommand)]
enum DecisionCommand {
    /// Decisions waiting for review (or in another state), oldest first.
    Queue {
        /// Only this model version's.
        #[arg(long)]
        model_version: Option<String>,
        /// The review state: undecided (the queue), decided, accepted, overridden.
        #[arg(long, default_value = "undecided")]
        state: String,
        /// Start after this sequence number (the `next` of the previous page).
        #[arg(long)]
        after: Option<u64>,
        /// At most this many (up to 500).
        #[arg(long)]
        limit: Option<usize>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// One decision: what the model was given (digest) and answered, how confident, and its
    /// review's manifestation.
    Show {
        request_id: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept or override an undecided decision: an electronic signature.
    Review {
        request_id: String,
        #[arg(long, value_enum)]
        verdict: Verdict,
        /// Why: kept with the review in the audit trail.
        #[arg(long)]
        reason: String,
        /// The output that replaces the model's (override): a JSON file, or `-`.
        #[arg(long)]
        output: Option<String>,
        /// The signature's meaning (default reviewed).
        #[arg(long, default_value = "reviewed")]
        meaning: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// A model version's decisions: daily counts, the confidence histogram, the override rate.
    Stats {
        model_version: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: DecisionArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(&args.server)?;
    match args.command {
        DecisionCommand::Queue {
            model_version,
            state,
            after,
            limit,
            json,
        } => {
            let mut query = vec![("review", state)];
            if let Some(mv) = model_version {
                query.push(("model_version", mv));
            }
            if let Some(a) = after {
                query.push(("after", a.to_string()));
            }
            if let Some(l) = limit {
                query.push(("limit", l.to_string()));
            }
            let answer = client.get(&["decisions"], &query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = answer["decisions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    vec![
                        text(d, "request_id").to_owned(),
                        text(&d["data"], "model_version").to_owned(),
                        d["data"]["confidence"].to_string(),
                        d["data"]["threshold"].to_string(),
                        text(&d["data"], "predicted_at").to_owned(),
                        text(d, "state").to_owned(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "REQUEST",
                        "MODEL VERSION",
                        "CONFIDENCE",
                        "THRESHOLD",
                        "PREDICTED",
                        "STATE"
                    ],
                    &rows
                )
            );
            if let Some(next) = answer["next"].as_u64() {
                println!("more: --after {next}");
            }
        }
        DecisionCommand::Show { request_id, json } => {
            let answer = client.get(&["decisions", &request_id], &[]).await?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&answer)?),
                false => print!("{}", view(&answer)),
            }
        }
        DecisionCommand::Review {
            request_id,
            verdict,
            reason,
            output,
            meaning,
            password_stdin,
        } => {
            let user = client.user_id().await?;
            let word = match verdict {
                Verdict::Accept => "accept",
                Verdict::Override => "override",
            };
            eprintln!("reviewing decision {request_id} ({word}) as {meaning}, by {user}");
            let password = read_password(&format!("password for {user}: "), password_stdin)?;
            let mut body = json!({
                "verdict": word, "reason": reason, "meaning": meaning,
                "username": user, "password": password,
            });
            if let Some(source) = output {
                body["output"] = read_json(&source)?;
            }
            let answer = client
                .post(&["decisions", &request_id, "review"], Some(&body))
                .await?;
            print!("{}", view(&answer));
            if let Some(exception) = answer["raised"]["exception"].as_str() {
                println!(
                    "the override rate of {} is above its limit: exception {exception} raised",
                    text(&answer["data"], "model_version")
                );
            }
        }
        DecisionCommand::Stats {
            model_version,
            json,
        } => {
            let answer = client
                .get(&["model-versions", &model_version, "decision-stats"], &[])
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("{model_version}: {} decisions", answer["total"]);
            let rows: Vec<Vec<String>> = answer["daily"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    [
                        "day",
                        "total",
                        "decided",
                        "undecided",
                        "accepted",
                        "overridden",
                    ]
                    .iter()
                    .map(|k| match &d[*k] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "DAY",
                        "TOTAL",
                        "DECIDED",
                        "UNDECIDED",
                        "ACCEPTED",
                        "OVERRIDDEN"
                    ],
                    &rows
                )
            );
            let bins: Vec<String> = answer["histogram"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, n)| {
                    format!(
                        "[{:.1},{:.1}{}: {n}",
                        i as f64 / 10.0,
                        (i + 1) as f64 / 10.0,
                        if i == 9 { "]" } else { ")" }
                    )
                })
                .collect();
            println!("confidence: {}", bins.join("  "));
            println!(
                "reviews: {}, overrides: {}, override rate: {}",
                answer["reviews"],
                answer["overrides"],
                answer
                    .get("override_rate")
                    .map_or("-".into(), Value::to_string)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A decision as a person reads it, with its review's manifestation (§11.50).
fn view(d: &Value) -> String {
    let data = &d["data"];
    let mut out = format!(
        "decision {} (seq {}): {}\n  model version {} in {}, predicted {}\n  output {} \
         confidence {} (threshold {})\n  input sha256 {}\n  served by {} ({})\n",
        text(d, "request_id"),
        d["seq"],
        text(d, "state"),
        text(data, "model_version"),
        text(data, "environment"),
        text(data, "predicted_at"),
        data["output"],
        data["confidence"],
        data["threshold"],
        text(data, "input_digest"),
        text(&d["served_by"], "name"),
        text(&d["served_by"], "id"),
    );
    let review = &d["review"];
    if review.is_object() {
        out.push_str(&format!(
            "  {} by {} ({}) on {}, meaning {}: {}\n",
            text(review, "verdict"),
            text(review, "name"),
            text(review, "signer"),
            utc(&review["signed_at"]),
            text(review, "meaning"),
            text(review, "reason"),
        ));
        if !review["output"].is_null() {
            out.push_str(&format!("  reviewer's output {}\n", review["output"]));
        }
    }
    out
}
