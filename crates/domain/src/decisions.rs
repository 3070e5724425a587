//! Decision records: one per prediction of a deployed model (draft EU GMP Annex 22): what the
//! model was given (the SHA-256 of the input's RFC 8785 form), what it answered, how confident
//! it was, the top attributions, and a person's review of each low-confidence output.
//!
//! This module owns the record's contract (a submitted line read and checked field by field,
//! the `decision.record` and `decision.review` payloads), the thresholds (from the monitoring
//! plan, else the deployment, else [`DEFAULT_CONFIDENCE_THRESHOLD`]), the override-rate breach
//! and the exception it raises, and the compact fold of every decision the queries, the review
//! queue and the statistics read. Content lives in the log; the fold keeps 32 bytes a decision.

use modeltrail_ledger::event::Event;
use modeltrail_ledger::jcs::{to_canonical_vec, JcsError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::actions;
use crate::signature::Meaning;

/// The record type of a decision; its id is the request id.
pub const KIND: &str = "decision";
/// Most records in one batch.
pub const MAX_BATCH: usize = 10_000;
/// The confidence below which an output waits for a person when neither the monitoring plan
/// nor the deployment sets one.
pub const DEFAULT_CONFIDENCE_THRESHOLD: f64 = 0.5;
/// Reviews a model version needs before its override rate is judged, unless set.
pub const DEFAULT_MIN_REVIEWS: u64 = 20;
/// Longest request id.
pub const MAX_REQUEST_ID: usize = 200;
/// Most attributions a decision carries.
pub const MAX_ATTRIBUTIONS: usize = 100;
/// Environments a model version is deployed to (the deployment record's).
pub const ENVIRONMENTS: [&str; 4] = ["development", "test", "staging", "production"];
/// Bins of the confidence histogram, over [0, 1].
pub const HISTOGRAM_BINS: usize = 10;

/// One feature's contribution to an output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribution {
    pub feature: String,
    pub value: f64,
}

/// A decision as a serving system submits it (one JSON line of a batch).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submitted {
    pub request_id: String,
    pub model_version: String,
    pub environment: String,
    /// When the prediction was made, RFC 3339.
    pub predicted_at: String,
    /// The model's input; its digest is computed from its canonical form.
    #[serde(default)]
    pub input: Option<Value>,
    /// The SHA-256 (hex) of the input's canonical form, when the input itself is not sent (or
    /// to be checked against it).
    #[serde(default)]
    pub input_digest: Option<String>,
    /// Keep the input's canonical bytes as a blob (addressed by the digest).
    #[serde(default)]
    pub keep_input: bool,
    pub output: Value,
    pub confidence: f64,
    #[serde(default)]
    pub attributions: Option<Vec<Attribution>>,
}

/// A submitted line that is wrong: the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DecisionError {
    pub field: String,
    pub message: String,
}

fn wrong(field: &str, message: impl Into<String>) -> DecisionError {
    DecisionError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A submitted decision read and checked: the digest computed, the canonical input kept when
/// asked for.
#[derive(Clone, Debug)]
pub struct Checked {
    pub submitted: Submitted,
    pub input_digest: String,
    /// The input's canonical bytes, when `keep_input`.
    pub input_bytes: Option<Vec<u8>>,
    pub predicted_micros: i64,
}

/// The SHA-256 (hex) of a value's RFC 8785 form, and that form.
pub fn input_digest(input: &Value) -> Result<(String, Vec<u8>), JcsError> {
    let bytes = to_canonical_vec(input)?;
    Ok((hex::encode(Sha256::digest(&bytes)), bytes))
}

/// An RFC 3339 time as microseconds since the epoch.
pub fn rfc3339_micros(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000).ok()
}

/// Reads one line of a batch (or a single decision's body) and checks every field.
pub fn read(line: &[u8]) -> Result<Checked, DecisionError> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let submitted: Submitted = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // A missing or unknown field is reported at the object: name it from the message.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), named) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => String::new(),
            _ => path,
        };
        wrong(&field, message)
    })?;
    de.end().map_err(|e| wrong("", e.to_string()))?;
    check(submitted)
}

/// Checks a submitted decision field by field.
pub fn check(submitted: Submitted) -> Result<Checked, DecisionError> {
    let id = &submitted.request_id;
    if id.trim().is_empty() {
        return Err(wrong("request_id", "must not be empty"));
    }
    if id.len() > MAX_REQUEST_ID {
        return Err(wrong(
            "request_id",
            format!("is {} bytes long; at most {MAX_REQUEST_ID}", id.len()),
        ));
    }
    if id.chars().any(|c| c.is_control() || c == '/') {
        return Err(wrong(
            "request_id",
            "must not hold control characters or `/`",
        ));
    }
    if submitted.model_version.trim().is_empty() {
        return Err(wrong("model_version", "must not be empty"));
    }
    if !ENVIRONMENTS.contains(&submitted.environment.as_str()) {
        return Err(wrong(
            "environment",
            format!(
                "`{}` is not one of {}",
                submitted.environment,
                ENVIRONMENTS.join(", ")
            ),
        ));
    }
    let predicted_micros = rfc3339_micros(&submitted.predicted_at).ok_or_else(|| {
        wrong(
            "predicted_at",
            format!("`{}` is not an RFC 3339 date-time", submitted.predicted_at),
        )
    })?;
    let c = submitted.confidence;
    if !(0.0..=1.0).contains(&c) {
        return Err(wrong("confidence", format!("{c} is outside [0, 1]")));
    }
    if submitted.output.is_null() {
        return Err(wrong("output", "must be given (not null)"));
    }
    if let Some(given) = &submitted.input_digest {
        if given.len() != 64
            || !given
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(wrong(
                "input_digest",
                "must be 64 lowercase hex digits (SHA-256)",
            ));
        }
    }
    let (input_digest, input_bytes) = match (&submitted.input, &submitted.input_digest) {
        (None, None) => return Err(wrong("input", "give the input or its input_digest")),
        (None, Some(_)) if submitted.keep_input => {
            return Err(wrong(
                "keep_input",
                "the input itself must be given to keep it",
            ))
        }
        (None, Some(given)) => (given.clone(), None),
        (Some(input), given) => {
            let (digest, bytes) = input_digest(input).map_err(|e| wrong("input", e.to_string()))?;
            if let Some(given) = given {
                if *given != digest {
                    return Err(wrong(
                        "input_digest",
                        format!(
                            "{given} is not the SHA-256 of the input's canonical form ({digest})"
                        ),
                    ));
                }
            }
            (digest, submitted.keep_input.then_some(bytes))
        }
    };
    if let Some(attributions) = &submitted.attributions {
        if attributions.len() > MAX_ATTRIBUTIONS {
            return Err(wrong(
                "attributions",
                format!("{} given; at most {MAX_ATTRIBUTIONS}", attributions.len()),
            ));
        }
        for (i, a) in attributions.iter().enumerate() {
            if a.feature.trim().is_empty() {
                return Err(wrong(
                    &format!("attributions[{i}].feature"),
                    "must not be empty",
                ));
            }
        }
    }
    Ok(Checked {
        submitted,
        input_digest,
        input_bytes,
        predicted_micros,
    })
}

/// Where a threshold came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum ThresholdSource {
    MonitoringPlan(String),
    Deployment(String),
    Default,
}

/// A decision's state: confident outputs are `decided`; the others are `undecided` until a
/// person accepts or overrides them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionState {
    Decided,
    Undecided,
    Accepted,
    Overridden,
}

impl DecisionState {
    pub const ALL: [DecisionState; 4] = [
        DecisionState::Decided,
        DecisionState::Undecided,
        DecisionState::Accepted,
        DecisionState::Overridden,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionState::Decided => "decided",
            DecisionState::Undecided => "undecided",
            DecisionState::Accepted => "accepted",
            DecisionState::Overridden => "overridden",
        }
    }

    pub fn parse(text: &str) -> Option<DecisionState> {
        DecisionState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// `decision.record`: the payload of a decision (record `decision`/request id, version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub model_version: String,
    pub environment: String,
    pub predicted_at: String,
    pub input_digest: String,
    /// The input's canonical bytes are kept as a blob under `input_digest`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input_kept: bool,
    pub output: Value,
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributions: Option<Vec<Attribution>>,
    /// The confidence threshold in force, and where it came from.
    pub threshold: f64,
    pub threshold_source: ThresholdSource,
    /// `decided` or `undecided` (below the threshold: queued for review).
    pub state: DecisionState,
}

impl Recorded {
    /// The payload of a checked decision under `threshold`.
    pub fn new(checked: Checked, threshold: f64, source: ThresholdSource) -> Recorded {
        let s = checked.submitted;
        let state = match s.confidence < threshold {
            true => DecisionState::Undecided,
            false => DecisionState::Decided,
        };
        Recorded {
            model_version: s.model_version,
            environment: s.environment,
            predicted_at: s.predicted_at,
            input_digest: checked.input_digest,
            input_kept: checked.input_bytes.is_some(),
            output: s.output,
            confidence: s.confidence,
            attributions: s.attributions,
            threshold,
            threshold_source: source,
            state,
        }
    }
}

/// What a reviewer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The model's output stands.
    Accepted,
    /// The reviewer's output replaces the model's.
    Overridden,
}

/// `decision.review`: an electronic signature on the decision (the event's `target` is the
/// decision's leaf hash; its actor the re-authenticated reviewer; its `reason` why).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reviewed {
    /// The decision's sequence number.
    pub decision_seq: u64,
    pub verdict: Verdict,
    pub meaning: Meaning,
    /// The output that replaces the model's, for an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The exception this review's override rate raised, appended with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_exception: Option<String>,
}

/// A record's `decisions` settings (a monitoring plan's or a deployment's).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Settings {
    pub confidence_threshold: Option<f64>,
    pub max_override_rate: Option<f64>,
    pub min_reviews: Option<u64>,
}

impl Settings {
    /// The `decisions` object of a record's content, if any.
    pub fn from_content(content: &Value) -> Settings {
        let d = &content["decisions"];
        Settings {
            confidence_threshold: d["confidence_threshold"].as_f64(),
            max_override_rate: d["max_override_rate"].as_f64(),
            min_reviews: d["min_reviews"].as_u64(),
        }
    }
}

/// The limit on a model version's override rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OverrideLimit {
    pub max_rate: f64,
    pub min_reviews: u64,
}

/// Reviews and overrides of one model version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct OverrideCount {
    pub reviews: u64,
    pub overrides: u64,
}

impl OverrideCount {
    pub fn rate(&self) -> Option<f64> {
        (self.reviews > 0).then(|| self.overrides as f64 / self.reviews as f64)
    }

    /// Whether the count breaches the limit: enough reviews, and a rate above the maximum.
    pub fn breaches(&self, limit: &OverrideLimit) -> bool {
        self.reviews >= limit.min_reviews.max(1)
            && self.rate().is_some_and(|rate| rate > limit.max_rate)
    }
}

/// The exception an override-rate breach raises: detected by the system, against the model
/// version, sourced to the decision whose review tipped it.
pub fn override_exception(
    model_version: &str,
    count: &OverrideCount,
    limit: &OverrideLimit,
    request_id: &str,
    detected_at: &str,
) -> Value {
    json!({
        "title": format!("Reviewers override {model_version} too often"),
        "description": format!(
            "Reviewers overrode {} of {} reviewed low-confidence decisions of {model_version} \
             (rate {:.3}), above the limit {} (judged from {} reviews). The review of decision \
             {request_id} reached it.",
            count.overrides,
            count.reviews,
            count.rate().unwrap_or(0.0),
            limit.max_rate,
            limit.min_reviews
        ),
        "category": "performance",
        "severity": "major",
        "detected_by": {"kind": "system", "id": "decision-review"},
        "detected_at": detected_at,
        "source": request_id,
        "affected_model_versions": [model_version],
    })
}

/// One decision as the fold keeps it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub seq: u64,
    /// Time of prediction, microseconds since the epoch.
    pub predicted: i64,
    pub confidence: f64,
    model: u32,
    pub state: DecisionState,
}

/// What a query asks for; every part optional.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub model_version: Option<String>,
    /// Predicted at or after, microseconds.
    pub from: Option<i64>,
    /// Predicted before, microseconds.
    pub to: Option<i64>,
    pub min_confidence: Option<f64>,
    pub max_confidence: Option<f64>,
    pub state: Option<DecisionState>,
}

/// Per model version: its decisions' rows and its review counts.
#[derive(Clone, Debug, Default)]
struct PerModel {
    rows: Vec<u32>,
    count: OverrideCount,
    exception: Option<String>,
}

/// Every decision of the log, folded from `decision.record` and `decision.review`.
#[derive(Debug, Default)]
pub struct Decisions {
    rows: Vec<Row>,
    models: Vec<String>,
    model_ids: HashMap<String, u32>,
    per_model: Vec<PerModel>,
    /// Sequence numbers of undecided decisions not yet reviewed.
    pending: BTreeSet<u64>,
    /// Decision seq -> the seq of its review.
    reviews: HashMap<u64, u64>,
}

/// Daily counts of one model version's decisions by state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DayCount {
    pub day: String,
    pub total: u64,
    pub decided: u64,
    pub undecided: u64,
    pub accepted: u64,
    pub overridden: u64,
}

/// One model version's decision statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub model_version: String,
    pub total: u64,
    pub daily: Vec<DayCount>,
    /// Counts per confidence bin `[i/10, (i+1)/10)` (the last bin holds 1.0).
    pub histogram: Vec<u64>,
    pub pending_review: u64,
    pub reviews: u64,
    pub overrides: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_rate: Option<f64>,
}

const DAY_MICROS: i64 = 86_400_000_000;

fn day_of(micros: i64) -> String {
    let days = micros.div_euclid(DAY_MICROS);
    match OffsetDateTime::from_unix_timestamp(days * 86_400) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => days.to_string(),
    }
}

impl Decisions {
    /// Folds one `decision.*` event in.
    pub fn apply(&mut self, event: &Event) -> Result<(), String> {
        match event.action.as_str() {
            actions::DECISION_RECORD => {
                let p: Recorded =
                    Recorded::deserialize(&event.payload).map_err(|e| format!("payload: {e}"))?;
                let predicted = rfc3339_micros(&p.predicted_at)
                    .ok_or_else(|| format!("predicted_at `{}` is not RFC 3339", p.predicted_at))?;
                let model = match self.model_ids.get(&p.model_version) {
                    Some(&m) => m,
                    None => {
                        let m = u32::try_from(self.models.len())
                            .map_err(|_| "too many model versions".to_owned())?;
                        self.models.push(p.model_version.clone());
                        self.model_ids.insert(p.model_version, m);
                        self.per_model.push(PerModel::default());
                        m
                    }
                };
                let index = u32::try_from(self.rows.len())
                    .map_err(|_| "too many decisions for the fold".to_owned())?;
                self.rows.push(Row {
                    seq: event.seq,
                    predicted,
                    confidence: p.confidence,
                    model,
                    state: p.state,
                });
                self.per_model[model as usize].rows.push(index);
                if p.state == DecisionState::Undecided {
                    self.pending.insert(event.seq);
                }
            }
            actions::DECISION_REVIEW => {
                let p: Reviewed =
                    Reviewed::deserialize(&event.payload).map_err(|e| format!("payload: {e}"))?;
                let index = self
                    .index_of(p.decision_seq)
                    .ok_or_else(|| format!("no decision at seq {}", p.decision_seq))?;
                let row = &mut self.rows[index];
                if !self.pending.remove(&row.seq) {
                    return Err(format!(
                        "decision at seq {} is {}, not waiting for review",
                        row.seq,
                        row.state.as_str()
                    ));
                }
                row.state = match p.verdict {
                    Verdict::Accepted => DecisionState::Accepted,
                    Verdict::Overridden => DecisionState::Overridden,
                };
                self.reviews.insert(row.seq, event.seq);
                let per = &mut self.per_model[row.model as usize];
                per.count.reviews += 1;
                if p.verdict == Verdict::Overridden {
                    per.count.overrides += 1;
                }
                if let Some(exception) = p.raised_exception {
                    per.exception = Some(exception);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn index_of(&self, seq: u64) -> Option<usize> {
        self.rows.binary_search_by_key(&seq, |r| r.seq).ok()
    }

    /// The decision at `seq`.
    pub fn row(&self, seq: u64) -> Option<&Row> {
        self.index_of(seq).map(|i| &self.rows[i])
    }

    /// The seq of the review of the decision at `seq`, once reviewed.
    pub fn review_of(&self, seq: u64) -> Option<u64> {
        self.reviews.get(&seq).copied()
    }

    /// The model version of a row.
    pub fn model_of(&self, row: &Row) -> &str {
        &self.models[row.model as usize]
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Reviews and overrides of a model version.
    pub fn override_count(&self, model_version: &str) -> OverrideCount {
        self.model_ids
            .get(model_version)
            .map(|&m| self.per_model[m as usize].count)
            .unwrap_or_default()
    }

    /// The last exception an override-rate breach of the model version raised.
    pub fn override_exception(&self, model_version: &str) -> Option<&str> {
        self.model_ids
            .get(model_version)
            .and_then(|&m| self.per_model[m as usize].exception.as_deref())
    }

    /// Whether a decision passes a filter (its model version aside).
    pub fn matches(&self, row: &Row, filter: &Filter) -> bool {
        filter.from.is_none_or(|from| row.predicted >= from)
            && filter.to.is_none_or(|to| row.predicted < to)
            && filter.min_confidence.is_none_or(|c| row.confidence >= c)
            && filter.max_confidence.is_none_or(|c| row.confidence <= c)
            && filter.state.is_none_or(|s| row.state == s)
    }

    /// Up to `limit` decisions matching `filter` with seq above `after`, in log order.
    pub fn query(&self, filter: &Filter, after: Option<u64>, limit: usize) -> Vec<Row> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        if filter.state == Some(DecisionState::Undecided) && filter.model_version.is_none() {
            return self
                .pending
                .range(start..)
                .filter_map(|&seq| self.row(seq))
                .filter(|r| self.matches(r, filter))
                .take(limit)
                .copied()
                .collect();
        }
        match &filter.model_version {
            Some(mv) => {
                let Some(&m) = self.model_ids.get(mv) else {
                    return Vec::new();
                };
                let rows = &self.per_model[m as usize].rows;
                let from = rows.partition_point(|&i| self.rows[i as usize].seq < start);
                rows[from..]
                    .iter()
                    .map(|&i| &self.rows[i as usize])
                    .filter(|r| self.matches(r, filter))
                    .take(limit)
                    .copied()
                    .collect()
            }
            None => {
                let from = self.rows.partition_point(|r| r.seq < start);
                self.rows[from..]
                    .iter()
                    .filter(|r| self.matches(r, filter))
                    .take(limit)
                    .copied()
                    .collect()
            }
        }
    }

    /// Daily counts, the confidence histogram and the override rate of a model version's
    /// decisions predicted in `[from, to)`.
    pub fn stats(&self, model_version: &str, from: Option<i64>, to: Option<i64>) -> Stats {
        let mut daily: BTreeMap<i64, DayCount> = BTreeMap::new();
        let mut histogram = vec![0u64; HISTOGRAM_BINS];
        let mut total = 0;
        let mut pending = 0;
        let per = self
            .model_ids
            .get(model_version)
            .map(|&m| &self.per_model[m as usize]);
        let filter = Filter {
            from,
            to,
            ..Filter::default()
        };
        for &i in per.map_or(&[][..], |p| p.rows.as_slice()) {
            let row = &self.rows[i as usize];
            if !self.matches(row, &filter) {
                continue;
            }
            total += 1;
            let bin = ((row.confidence * HISTOGRAM_BINS as f64) as usize).min(HISTOGRAM_BINS - 1);
            histogram[bin] += 1;
            let day = daily
                .entry(row.predicted.div_euclid(DAY_MICROS))
                .or_default();
            day.total += 1;
            match row.state {
                DecisionState::Decided => day.decided += 1,
                DecisionState::Undecided => {
                    day.undecided += 1;
                    pending += 1;
                }
                DecisionState::Accepted => day.accepted += 1,
                DecisionState::Overridden => day.overridden += 1,
            }
        }
        let count = per.map(|p| p.count).unwrap_or_default();
        Stats {
            model_version: model_version.to_owned(),
            total,
            daily: daily
                .into_iter()
                .map(|(d, mut c)| {
                    c.day = day_of(d * DAY_MICROS);
                    c
                })
                .collect(),
            histogram,
            pending_review: pending,
            reviews: count.reviews,
            overrides: count.overrides,
            override_rate: count.rate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn good() -> Value {
        json!({"request_id": "r-1", "model_version": "mv1", "environment": "production",
               "predicted_at": "2026-12-04T10:00:00Z", "input": {"b": 1, "a": [1.0, "x"]},
               "output": {"label": "reject"}, "confidence": 0.93})
    }

    #[test]
    fn the_digest_is_of_the_canonical_input() {
        let checked = read(&line(good())).unwrap();
        let expected = hex::encode(Sha256::digest(br#"{"a":[1,"x"],"b":1}"#));
        assert_eq!(checked.input_digest, expected);
        assert!(checked.input_bytes.is_none());
        let mut v = good();
        v["input_digest"] = json!(expected);
        v["keep_input"] = json!(true);
        let kept = read(&line(v)).unwrap();
        assert_eq!(
            kept.input_bytes.as_deref(),
            Some(&br#"{"a":[1,"x"],"b":1}"#[..])
        );
    }

    #[test]
    fn each_wrong_field_is_named() {
        let cases = [
            ("confidence", json!(1.5), "confidence"),
            ("confidence", json!("high"), "confidence"),
            ("environment", json!("moon"), "environment"),
            ("predicted_at", json!("yesterday"), "predicted_at"),
            ("request_id", json!(""), "request_id"),
            ("input_digest", json!("abc"), "input_digest"),
            ("output", Value::Null, "output"),
            ("surprise", json!(1), "surprise"),
        ];
        for (field, value, named) in cases {
            let mut v = good();
            v[field] = value;
            let e = read(&line(v)).unwrap_err();
            assert_eq!(e.field, named, "{field}: {e}");
        }
        let mut v = good();
        v["input_digest"] = json!("0".repeat(64));
        assert_eq!(read(&line(v)).unwrap_err().field, "input_digest");
        let mut v = good();
        v.as_object_mut().unwrap().remove("input");
        assert_eq!(read(&line(v)).unwrap_err().field, "input");
        assert!(read(b"{\"request_id\": ").is_err());
    }

    fn event(seq: u64, action: &str, payload: Value) -> Event {
        use modeltrail_ledger::event::{Actor, AuthMethod};
        Event {
            seq,
            timestamp: modeltrail_ledger::Timestamp::from_micros(0),
            actor: Actor {
                id: "svc".into(),
                name: "Serving".into(),
                role: "developer".into(),
                auth: AuthMethod::ApiToken,
            },
            client: Default::default(),
            action: action.into(),
            record: None,
            prev: None,
            reason: None,
            target: None,
            payload,
        }
    }

    #[test]
    fn the_fold_queues_low_confidence_and_counts_reviews() {
        let mut d = Decisions::default();
        for (seq, confidence) in [(0u64, 0.9), (1, 0.2), (2, 0.3)] {
            let mut v = good();
            v["confidence"] = json!(confidence);
            let checked = read(&line(v)).unwrap();
            let p = Recorded::new(checked, 0.5, ThresholdSource::Default);
            d.apply(&event(seq, actions::DECISION_RECORD, json!(p)))
                .unwrap();
        }
        let undecided = Filter {
            state: Some(DecisionState::Undecided),
            ..Filter::default()
        };
        let queue: Vec<u64> = d
            .query(&undecided, None, 10)
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(queue, [1, 2]);
        let review = Reviewed {
            decision_seq: 1,
            verdict: Verdict::Overridden,
            meaning: Meaning::Reviewed,
            output: Some(json!({"label": "accept"})),
            raised_exception: None,
        };
        d.apply(&event(3, actions::DECISION_REVIEW, json!(review)))
            .unwrap();
        assert!(d
            .apply(&event(4, actions::DECISION_REVIEW, json!(review)))
            .is_err());
        assert_eq!(d.query(&undecided, None, 10).len(), 1);
        let count = d.override_count("mv1");
        assert_eq!((count.reviews, count.overrides), (1, 1));
        let limit = OverrideLimit {
            max_rate: 0.5,
            min_reviews: 1,
        };
        assert!(count.breaches(&limit));
        let stats = d.stats("mv1", None, None);
        assert_eq!(stats.total, 3);
        assert_eq!(stats.histogram[9], 1);
        assert_eq!(stats.histogram[2], 1);
        assert_eq!(stats.daily[0].day, "2026-12-04");
        assert_eq!(stats.daily[0].overridden, 1);
        assert_eq!(stats.pending_review, 1);
    }
}
