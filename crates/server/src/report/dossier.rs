//! The validation dossier of one model version as a [`Document`]: the model and its intended
//! use, the risk, the release-readiness checklist (each condition met or not, with the record
//! versions that satisfy it or what is missing), validation results against their criteria,
//! fairness tables, global explanation, monitoring and drift, exceptions and CAPA, change
//! control, lineage, and at the end every signature manifestation (§11.50) and how to verify
//! the report against an export bundle. Pure: everything comes from the caller.

use modeltrail_domain::dossier::{Doc, Dossier};
use modeltrail_domain::gate::Checklist;
use modeltrail_domain::lifecycle::Status;
use serde_json::Value;
use std::collections::BTreeSet;

use super::document::{Cell, Document, Header, Table};
use super::{report_id_input, DrawnAt, Format};

/// The report's name in ids and events.
pub const REPORT: &str = "dossier";

/// Everything the dossier report is drawn from.
pub struct DossierReport<'a> {
    pub dossier: &'a Dossier,
    pub checklist: &'a Checklist,
    pub status: Status,
    /// CAPA records the dossier's exceptions name.
    pub capas: &'a [Doc],
    pub drawn: &'a DrawnAt,
    pub report_id: &'a str,
    pub format: Format,
}

/// A JSON value as a reader sees it: strings as they are, numbers to at most six decimals,
/// arrays joined by commas, objects as `key: value` pairs; missing or null as empty.
fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => number(f),
            _ => n.to_string(),
        },
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| show(Some(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", show(Some(v))))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// A figure to six decimals at most, without trailing zeros.
fn number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let text = format!("{f:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_owned(),
        t => t.to_owned(),
    }
}

fn at(doc: &Doc, pointer: &str) -> String {
    show(doc.data.pointer(pointer))
}

fn field(value: &Value, key: &str) -> String {
    show(value.get(key))
}

fn items<'v>(value: &'v Value, pointer: &str) -> &'v [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `kind id, version N` with the signatures on the current version, for a record's title.
fn record_line(doc: &Doc) -> String {
    let mut line = format!("{} {}, version {}", doc.kind, doc.id, doc.version);
    if doc.voided {
        line.push_str(" (voided)");
    }
    if let Some(state) = &doc.state {
        line.push_str(&format!(", state {state}"));
    }
    line
}

fn verdict(value: Option<&Value>) -> Cell {
    match value.and_then(Value::as_bool) {
        Some(ok) => Cell::verdict(ok, "passed", "failed"),
        None => Cell::plain("not evaluated"),
    }
}

/// The values a criterion was evaluated on: `name = value` each.
fn values_used(result: &Value) -> String {
    items(result, "/values")
        .iter()
        .map(|v| {
            let name = [v.get("reference"), v.get("metric"), v.get("name")]
                .into_iter()
                .flatten()
                .find_map(Value::as_str)
                .unwrap_or("value");
            format!("{name} = {}", show(v.get("value")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn criteria_results_table(doc: &Doc) -> Option<Table> {
    let results = items(&doc.data, "/criteria_results");
    if results.is_empty() {
        return None;
    }
    let mut table = Table::new(&[
        ("Id", 0.6),
        ("Criterion", 2.4),
        ("Values used", 2.0),
        ("Verdict", 0.8),
    ]);
    for r in results {
        table.row(vec![
            field(r, "id").into(),
            field(r, "criterion").into(),
            values_used(r).into(),
            verdict(r.get("passed")),
        ]);
    }
    Some(table)
}

/// Builds the dossier document; `shown` collects every record it presents, for the signature
/// section.
struct Builder<'a> {
    input: &'a DossierReport<'a>,
    document: Document,
    shown: Vec<&'a Doc>,
    section: usize,
}

impl<'a> Builder<'a> {
    fn heading(&mut self, title: &str) {
        self.section += 1;
        self.document.heading(format!("{}. {title}", self.section));
    }

    fn show_doc(&mut self, doc: &'a Doc) {
        if !self
            .shown
            .iter()
            .any(|d| d.kind == doc.kind && d.id == doc.id)
        {
            self.shown.push(doc);
        }
    }

    fn for_version(&self, kind: &'a str, pointer: &'a str) -> Vec<&'a Doc> {
        self.input.dossier.for_version(kind, pointer).collect()
    }

    fn summary(&mut self) {
        let d = self.input.dossier;
        let checklist = self.input.checklist;
        let unmet = checklist.unmet().count();
        self.heading("Summary");
        let readiness = match checklist.ready {
            true => Cell::verdict(true, "ready for production: every condition is met", ""),
            false => Cell::verdict(
                false,
                "",
                &format!(
                    "not ready: {unmet} of {} conditions unmet",
                    checklist.conditions.len()
                ),
            ),
        };
        let model = d
            .model
            .as_ref()
            .map(|m| format!("{} ({})", m.text("name").unwrap_or(&m.id), record_line(m)))
            .unwrap_or_else(|| {
                format!(
                    "{} (not recorded)",
                    d.model_version.text("model").unwrap_or("none named")
                )
            });
        self.document.fields(vec![
            ("Model", model.into()),
            ("Model version", record_line(&d.model_version).into()),
            (
                "Version label",
                d.model_version.text("version").unwrap_or("").into(),
            ),
            ("Lifecycle status", self.input.status.as_str().into()),
            ("Release readiness", readiness),
            (
                "Model risk",
                checklist
                    .model_risk
                    .map_or("not assessed (treated as high)", |r| r.as_str())
                    .into(),
            ),
            (
                "Drawn at",
                format!(
                    "checkpoint of tree size {}, root {}; generated {} UTC",
                    self.input.drawn.checkpoint_size,
                    self.input.drawn.checkpoint_root.to_hex(),
                    self.input.drawn.generated_at
                )
                .into(),
            ),
        ]);
        self.document.paragraph(
            "Every record below is shown at its latest version as of the checkpoint above; \
             signatures are listed in the section \"Signature manifestations\". All figures \
             marked passed or failed were computed by the server, never stated by a client.",
        );
    }

    fn model(&mut self) {
        let d = self.input.dossier;
        self.heading("Model and intended use");
        match &d.model {
            Some(model) => {
                self.show_doc(model);
                self.document.subheading(record_line(model));
                self.document.fields(vec![
                    ("Name", at(model, "/name").into()),
                    ("Description", at(model, "/description").into()),
                    ("Owner", at(model, "/owner").into()),
                    ("Intended use", at(model, "/intended_use").into()),
                    (
                        "Question of interest",
                        at(model, "/question_of_interest").into(),
                    ),
                    ("Context of use", at(model, "/context_of_use").into()),
                    ("GAMP 5 category", at(model, "/gamp_category").into()),
                    ("GxP impact", at(model, "/gxp_impact").into()),
                    ("Limitations", at(model, "/limitations").into()),
                    (
                        "Subject-matter experts",
                        at(model, "/subject_matter_experts").into(),
                    ),
                ]);
            }
            None => self
                .document
                .paragraph("The model record this version names is not recorded."),
        }
        let mv = &d.model_version;
        self.show_doc(mv);
        self.document.subheading(record_line(mv));
        self.document.fields(vec![
            ("Version", at(mv, "/version").into()),
            ("Description", at(mv, "/description").into()),
            ("Framework", at(mv, "/framework").into()),
            ("Input features", at(mv, "/input_features").into()),
            ("Output", at(mv, "/output").into()),
            ("Limitations", at(mv, "/limitations").into()),
            ("Registered as", at(mv, "/registered_model_name").into()),
        ]);
        let artifacts = items(&mv.data, "/artifacts");
        if !artifacts.is_empty() {
            let mut table = Table::new(&[("Artifact", 1.6), ("SHA-256", 3.0), ("Bytes", 0.7)]);
            for a in artifacts {
                table.row(vec![
                    field(a, "path").into(),
                    field(a, "sha256").into(),
                    field(a, "size_bytes").into(),
                ]);
            }
            self.document.table(table);
        }
    }

    fn risk(&mut self) {
        let d = self.input.dossier;
        self.heading("Risk assessment");
        let Some(model) = &d.model else {
            self.document
                .paragraph("No model record: the risk is unknown and treated as high.");
            return;
        };
        let risk = model.data.get("risk").cloned().unwrap_or(Value::Null);
        let demands = self.input.checklist.demands;
        self.document.fields(vec![
            ("Model influence", field(&risk, "model_influence").into()),
            (
                "Decision consequence",
                field(&risk, "decision_consequence").into(),
            ),
            ("Model risk", field(&risk, "model_risk").into()),
            ("Rationale", field(&risk, "rationale").into()),
            (
                "Fairness evidence demanded",
                demands
                    .map_or("yes (risk not assessed)", |d| match d.fairness {
                        true => "yes",
                        false => "no",
                    })
                    .into(),
            ),
            (
                "Explanation demanded",
                demands
                    .map_or("yes (risk not assessed)", |d| match d.explanation {
                        true => "yes",
                        false => "no",
                    })
                    .into(),
            ),
        ]);
    }

    fn checklist(&mut self) {
        let checklist = self.input.checklist;
        self.heading("Release-readiness checklist");
        self.document.paragraph(format!(
            "The release gate's conditions for deploying {} to production (21 CFR 11.10(f)), \
             evaluated from the log when this report was drawn.",
            checklist.model_version
        ));
        let mut table = Table::new(&[
            ("Condition", 2.4),
            ("Verdict", 0.7),
            ("Satisfied by / missing", 2.6),
        ]);
        for c in &checklist.conditions {
            let evidence = match c.met {
                true => c
                    .satisfied_by
                    .iter()
                    .map(|e| {
                        let mut line = format!("{} {} version {}", e.kind, e.id, e.version);
                        if let Some(doc) = self.find(&e.kind, &e.id) {
                            let signed: Vec<String> = doc
                                .signatures
                                .iter()
                                .filter(|s| s.version == doc.version)
                                .map(|s| format!("{} by {}", s.meaning.as_str(), s.name))
                                .collect();
                            if !signed.is_empty() {
                                line.push_str(&format!(" ({})", signed.join(", ")));
                            }
                        }
                        line
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                false => c.missing.join("\n"),
            };
            table.row(vec![
                format!("{}\n{}", c.code, c.detail).into(),
                Cell::verdict(c.met, "met", "unmet"),
                evidence.into(),
            ]);
        }
        self.document.table(table);
    }

    fn find(&self, kind: &str, id: &str) -> Option<&'a Doc> {
        let d = self.input.dossier;
        if d.model_version.kind == kind && d.model_version.id == id {
            return Some(&d.model_version);
        }
        if let Some(m) = d.model.as_ref().filter(|m| m.kind == kind && m.id == id) {
            return Some(m);
        }
        d.find(kind, id).or_else(|| {
            self.input
                .capas
                .iter()
                .find(|c| c.kind == kind && c.id == id)
        })
    }

    fn validation(&mut self) {
        self.heading("Validation results against acceptance criteria");
        let results = self.for_version("validation_result", "/model_version");
        let mut protocols: Vec<&'a Doc> = self.for_version("validation_protocol", "/model_version");
        for r in &results {
            if let Some(p) = r
                .text("protocol")
                .and_then(|id| self.input.dossier.find("validation_protocol", id))
            {
                if !protocols.iter().any(|q| q.id == p.id) {
                    protocols.push(p);
                }
            }
        }
        if protocols.is_empty() && results.is_empty() {
            self.document
                .paragraph("No validation protocol or result is recorded for this version.");
            return;
        }
        for protocol in protocols {
            self.show_doc(protocol);
            self.document
                .subheading(format!("Protocol: {}", record_line(protocol)));
            self.document.fields(vec![
                ("Title", at(protocol, "/title").into()),
                ("Objective", at(protocol, "/objective").into()),
                ("Test datasets", at(protocol, "/test_datasets").into()),
                (
                    "First approved at",
                    protocol
                        .first_approval_seq()
                        .map_or_else(|| "not approved".to_owned(), |s| format!("event {s}"))
                        .into(),
                ),
            ]);
            let criteria = items(&protocol.data, "/acceptance_criteria");
            if !criteria.is_empty() {
                let mut table = Table::new(&[("Id", 0.6), ("Acceptance criterion", 4.0)]);
                for c in criteria {
                    table.row(vec![field(c, "id").into(), field(c, "criterion").into()]);
                }
                self.document.table(table);
            }
            for result in results
                .iter()
                .copied()
                .filter(|r| r.text("protocol") == Some(protocol.id.as_str()))
            {
                self.result(result);
            }
        }
        let dossier = self.input.dossier;
        let orphans: Vec<&'a Doc> = results
            .iter()
            .copied()
            .filter(|r| {
                r.text("protocol")
                    .and_then(|id| dossier.find("validation_protocol", id))
                    .is_none()
            })
            .collect();
        for result in orphans {
            self.result(result);
        }
    }

    fn result(&mut self, result: &'a Doc) {
        self.show_doc(result);
        self.document
            .subheading(format!("Result: {}", record_line(result)));
        self.document.fields(vec![
            ("Overall", verdict(result.data.get("passed"))),
            ("Executed at", at(result, "/executed_at").into()),
            ("Executed by", at(result, "/executed_by").into()),
            ("Test datasets", at(result, "/test_datasets").into()),
            ("Conclusion", at(result, "/conclusion").into()),
            ("Deviations", at(result, "/deviations").into()),
        ]);
        let metrics = items(&result.data, "/metrics");
        if !metrics.is_empty() {
            let mut table = Table::new(&[
                ("Metric", 1.2),
                ("Subgroup", 1.6),
                ("Value", 0.8),
                ("Confidence interval", 1.2),
                ("Dataset", 1.0),
            ]);
            for m in metrics {
                let subgroup = items(m, "/subgroup")
                    .iter()
                    .map(|g| format!("{}={}", field(g, "attribute"), field(g, "value")))
                    .collect::<Vec<_>>()
                    .join(", ");
                let ci = match (m.get("ci_lower"), m.get("ci_upper")) {
                    (Some(lo), Some(hi)) => format!(
                        "[{}, {}]{}",
                        show(Some(lo)),
                        show(Some(hi)),
                        m.get("ci_level")
                            .map(|l| format!(" at {}", show(Some(l))))
                            .unwrap_or_default()
                    ),
                    _ => String::new(),
                };
                table.row(vec![
                    field(m, "metric").into(),
                    subgroup.into(),
                    field(m, "value").into(),
                    ci.into(),
                    field(m, "dataset").into(),
                ]);
            }
            self.document.table(table);
        }
        if let Some(table) = criteria_results_table(result) {
            self.document.table(table);
        }
        if let Some(independence) = result.data.get("independence") {
            let independent = independence.get("independent").and_then(Value::as_bool);
            self.document.fields(vec![
                (
                    "Test data independent",
                    match independent {
                        Some(ok) => Cell::verdict(ok, "yes", "no"),
                        None => Cell::plain(""),
                    },
                ),
                (
                    "Training datasets",
                    field(independence, "training_datasets").into(),
                ),
                ("Shared files", field(independence, "shared_files").into()),
                ("Shared rows", field(independence, "shared_rows").into()),
                ("Method", field(independence, "method").into()),
            ]);
        }
    }

    fn fairness(&mut self) {
        self.heading("Fairness");
        let assessments = self.for_version("fairness_assessment", "/model_version");
        if assessments.is_empty() {
            self.document
                .paragraph("No fairness assessment is recorded for this version.");
            return;
        }
        for a in assessments {
            self.show_doc(a);
            self.document
                .subheading(format!("Assessment: {}", record_line(a)));
            self.document.fields(vec![
                ("Overall", verdict(a.data.get("passed"))),
                (
                    "Sensitive attributes",
                    at(a, "/sensitive_attributes").into(),
                ),
                ("Rows", at(a, "/rows").into()),
                ("Positive label", at(a, "/positive_label").into()),
                ("Dataset version", at(a, "/dataset_version").into()),
                ("Data file", at(a, "/data/source/name").into()),
                ("Data file SHA-256", at(a, "/data/source/sha256").into()),
                ("Deviation", at(a, "/deviation").into()),
                ("Methodology", at(a, "/methodology").into()),
            ]);
            let groups = items(&a.data, "/groups");
            if !groups.is_empty() {
                let mut table = Table::new(&[
                    ("Attribute", 1.0),
                    ("Group", 1.2),
                    ("Count", 0.6),
                    ("Selection rate", 0.9),
                    ("TPR", 0.8),
                    ("FPR", 0.8),
                    ("Accuracy", 0.8),
                ]);
                for g in groups {
                    table.row(vec![
                        field(g, "attribute").into(),
                        field(g, "group").into(),
                        field(g, "count").into(),
                        field(g, "selection_rate").into(),
                        field(g, "tpr").into(),
                        field(g, "fpr").into(),
                        field(g, "accuracy").into(),
                    ]);
                }
                self.document.table(table);
            }
            let disparities = items(&a.data, "/disparities");
            if !disparities.is_empty() {
                let mut table = Table::new(&[
                    ("Attribute", 1.0),
                    ("Demographic parity difference", 1.1),
                    ("Demographic parity ratio", 1.0),
                    ("Equalized odds difference", 1.0),
                    ("Disparate impact", 0.9),
                    ("Four-fifths rule", 0.8),
                ]);
                for d in disparities {
                    let four_fifths =
                        match d.get("four_fifths_rule_passed").and_then(Value::as_bool) {
                            Some(ok) => Cell::verdict(ok, "passed", "failed"),
                            None => Cell::plain(""),
                        };
                    table.row(vec![
                        field(d, "attribute").into(),
                        field(d, "demographic_parity_difference").into(),
                        field(d, "demographic_parity_ratio").into(),
                        field(d, "equalized_odds_difference").into(),
                        field(d, "disparate_impact").into(),
                        four_fifths,
                    ]);
                }
                self.document.table(table);
            }
            if let Some(table) = criteria_results_table(a) {
                self.document.table(table);
            }
        }
    }

    fn explanation(&mut self) {
        self.heading("Explanation (global importance)");
        let explanations = self.for_version("explanation", "/model_version");
        if explanations.is_empty() {
            self.document
                .paragraph("No explanation is recorded for this version.");
            return;
        }
        for e in explanations {
            self.show_doc(e);
            self.document
                .subheading(format!("Explanation: {}", record_line(e)));
            let additivity = e.data.get("additivity").map(|a| {
                format!(
                    "{} rows checked; largest deviation {} (row {}), mean {}",
                    field(a, "rows_checked"),
                    field(a, "max_abs_deviation"),
                    field(a, "worst_row"),
                    field(a, "mean_abs_deviation")
                )
            });
            self.document.fields(vec![
                ("Method", at(e, "/method").into()),
                ("Explainer", at(e, "/explainer").into()),
                ("Output space", at(e, "/output_space").into()),
                ("Dataset version", at(e, "/dataset_version").into()),
                (
                    "Attributions",
                    e.data
                        .get("attributions")
                        .map(|a| {
                            format!(
                                "{} rows x {} features, SHA-256 {}",
                                field(a, "rows"),
                                field(a, "features"),
                                field(a, "sha256")
                            )
                        })
                        .unwrap_or_default()
                        .into(),
                ),
                ("Additivity", additivity.unwrap_or_default().into()),
                ("Methodology", at(e, "/methodology").into()),
                ("Limitations", at(e, "/limitations").into()),
            ]);
            let importance = items(&e.data, "/global_importance");
            if !importance.is_empty() {
                let largest = importance
                    .iter()
                    .filter_map(|i| i.get("importance").and_then(Value::as_f64))
                    .fold(0.0_f64, |m, v| m.max(v.abs()));
                let mut table = Table::new(&[
                    ("Rank", 0.4),
                    ("Feature", 1.4),
                    ("Mean |attribution|", 0.9),
                    ("Relative", 2.2),
                ]);
                for (rank, i) in importance.iter().enumerate() {
                    let value = i.get("importance").and_then(Value::as_f64).unwrap_or(0.0);
                    let share = if largest > 0.0 {
                        value.abs() / largest
                    } else {
                        0.0
                    };
                    let bar = "█".repeat((share * 30.0).round() as usize);
                    table.row(vec![
                        (rank + 1).to_string().into(),
                        field(i, "feature").into(),
                        number(value).into(),
                        bar.into(),
                    ]);
                }
                self.document.table(table);
            }
        }
    }

    fn monitoring(&mut self) {
        self.heading("Monitoring and drift");
        let plans = self.for_version("monitoring_plan", "/model_version");
        let mut batches = self.for_version("monitoring_batch", "/model_version");
        if plans.is_empty() && batches.is_empty() {
            self.document
                .paragraph("No monitoring plan or batch is recorded for this version.");
            return;
        }
        for plan in plans {
            self.show_doc(plan);
            self.document
                .subheading(format!("Monitoring plan: {}", record_line(plan)));
            let features = items(&plan.data, "/features")
                .iter()
                .map(|f| {
                    let mut text = format!("{} ({})", field(f, "name"), field(f, "type"));
                    if let Some(test) = f.get("test") {
                        text.push_str(&format!(", {}", show(Some(test))));
                    }
                    if let Some(threshold) = f.get("threshold") {
                        text.push_str(&format!(" threshold {}", show(Some(threshold))));
                    }
                    text
                })
                .collect::<Vec<_>>()
                .join("\n");
            self.document.fields(vec![
                (
                    "QA approval in force",
                    Cell::verdict(plan.approval().is_some(), "yes", "no"),
                ),
                ("Reference dataset", at(plan, "/reference_dataset").into()),
                ("Features", features.into()),
                ("Drift", at(plan, "/drift").into()),
                ("Performance", at(plan, "/performance").into()),
                ("Action plan", at(plan, "/action_plan").into()),
                ("Notify", at(plan, "/notify").into()),
            ]);
        }
        if batches.is_empty() {
            self.document
                .paragraph("No monitoring batch is recorded yet.");
            return;
        }
        batches.sort_by_key(|a| at(a, "/window/start"));
        self.document
            .subheading("Monitoring batches, in window order");
        let mut table = Table::new(&[
            ("Batch", 1.0),
            ("Window (UTC)", 1.7),
            ("Rows", 0.5),
            ("Drifted share", 0.7),
            ("Drifted features", 1.3),
            ("Performance", 1.3),
            ("Breach", 0.6),
        ]);
        for b in &batches {
            let drifted: Vec<String> = items(&b.data, "/drift/features")
                .iter()
                .filter(|f| f.get("drifted").and_then(Value::as_bool) == Some(true))
                .map(|f| {
                    format!(
                        "{} ({} {})",
                        field(f, "feature"),
                        field(f, "test"),
                        field(f, "score")
                    )
                })
                .collect();
            let performance: Vec<String> = items(&b.data, "/performance")
                .iter()
                .map(|p| {
                    format!(
                        "{} {} ({} {}){}",
                        field(p, "metric"),
                        field(p, "value"),
                        field(p, "op"),
                        field(p, "threshold"),
                        match p.get("passed").and_then(Value::as_bool) {
                            Some(false) => " breached",
                            _ => "",
                        }
                    )
                })
                .collect();
            let tested = b.data.get("tested").and_then(Value::as_bool) != Some(false);
            table.row(vec![
                format!("{} v{}", b.id, b.version).into(),
                format!("{}\n{}", at(b, "/window/start"), at(b, "/window/end")).into(),
                at(b, "/rows").into(),
                match tested {
                    true => at(b, "/drift/drifted_share").into(),
                    false => "not tested".into(),
                },
                drifted.join("\n").into(),
                performance.join("\n").into(),
                Cell::verdict(
                    b.data.get("breach").and_then(Value::as_bool) != Some(true),
                    "no",
                    "yes",
                ),
            ]);
        }
        self.document.table(table);
        for b in batches {
            self.show_doc(b);
        }
    }

    fn exceptions(&mut self) {
        self.heading("Exceptions, deviations and CAPA");
        let exceptions = self.for_version("exception", "/affected_model_versions");
        let mut deviations: Vec<&'a Doc> = self
            .input
            .dossier
            .of_kind("exception")
            .filter(|e| {
                !exceptions.iter().any(|x| x.id == e.id)
                    && e.text("source")
                        .is_some_and(|s| self.shown.iter().any(|d| d.id == s))
            })
            .collect();
        let mut all = exceptions;
        all.append(&mut deviations);
        if all.is_empty() {
            self.document
                .paragraph("No exception or deviation concerns this version.");
        } else {
            let mut table = Table::new(&[
                ("Exception", 1.2),
                ("Title", 1.8),
                ("Category", 0.8),
                ("Severity", 0.7),
                ("State", 0.9),
                ("Detected by", 1.0),
            ]);
            for e in &all {
                let state = e.state.clone().unwrap_or_else(|| "open".to_owned());
                table.row(vec![
                    format!("{} v{}", e.id, e.version).into(),
                    at(e, "/title").into(),
                    at(e, "/category").into(),
                    at(e, "/severity").into(),
                    Cell::verdict(
                        matches!(state.as_str(), "closed" | "cancelled"),
                        &state,
                        &state,
                    ),
                    format!(
                        "{} {}",
                        at(e, "/detected_by/kind"),
                        at(e, "/detected_by/id")
                    )
                    .into(),
                ]);
            }
            self.document.table(table);
            for e in all {
                self.show_doc(e);
                self.document
                    .subheading(format!("Exception: {}", record_line(e)));
                self.document.fields(vec![
                    ("Description", at(e, "/description").into()),
                    ("Detected at", at(e, "/detected_at").into()),
                    ("Source", at(e, "/source").into()),
                    ("Impact assessment", at(e, "/impact_assessment").into()),
                    ("Investigation", at(e, "/investigation").into()),
                    ("Root cause", at(e, "/root_cause").into()),
                    ("CAPA", at(e, "/capa").into()),
                    ("Notified", at(e, "/notified_stakeholders").into()),
                ]);
            }
        }
        let capas = self.input.capas;
        for capa in capas {
            self.show_doc(capa);
            self.document
                .subheading(format!("CAPA: {}", record_line(capa)));
            self.document.fields(vec![
                ("Title", at(capa, "/title").into()),
                ("Exceptions", at(capa, "/exceptions").into()),
                ("Root cause", at(capa, "/root_cause").into()),
                (
                    "Effectiveness criteria",
                    at(capa, "/effectiveness_criteria").into(),
                ),
                (
                    "Effectiveness check",
                    capa.data
                        .get("effectiveness_check")
                        .map(|c| {
                            format!(
                                "{} on {} by {}: {}",
                                match c.get("effective").and_then(Value::as_bool) {
                                    Some(true) => "effective",
                                    Some(false) => "not effective",
                                    None => "checked",
                                },
                                field(c, "performed_on"),
                                field(c, "performed_by"),
                                field(c, "summary")
                            )
                        })
                        .unwrap_or_default()
                        .into(),
                ),
            ]);
            let actions = items(&capa.data, "/actions");
            if !actions.is_empty() {
                let mut table = Table::new(&[
                    ("Type", 0.8),
                    ("Action", 2.4),
                    ("Owner", 0.8),
                    ("Due", 0.8),
                    ("Completed", 0.8),
                ]);
                for a in actions {
                    table.row(vec![
                        field(a, "type").into(),
                        field(a, "description").into(),
                        field(a, "owner").into(),
                        field(a, "due_date").into(),
                        field(a, "completed_on").into(),
                    ]);
                }
                self.document.table(table);
            }
        }
    }

    fn change_control(&mut self) {
        let d = self.input.dossier;
        let mut requests: Vec<&'a Doc> = d
            .of_kind("change_request")
            .filter(|r| {
                r.names("/proposed_model_version", &d.model_version.id)
                    || r.names("/affected_model_versions", &d.model_version.id)
            })
            .collect();
        requests.dedup_by(|a, b| a.id == b.id);
        self.heading("Change control");
        if requests.is_empty() {
            self.document
                .paragraph("No change request names this version.");
            return;
        }
        let mut table = Table::new(&[
            ("Change request", 1.2),
            ("State", 0.9),
            ("Description", 2.6),
            ("Proposed version", 1.0),
        ]);
        for r in requests {
            self.show_doc(r);
            table.row(vec![
                format!("{} v{}", r.id, r.version).into(),
                r.state.clone().unwrap_or_else(|| "draft".into()).into(),
                format!("{}\n{}", at(r, "/title"), at(r, "/description"))
                    .trim()
                    .to_owned()
                    .into(),
                at(r, "/proposed_model_version").into(),
            ]);
        }
        self.document.table(table);
    }

    fn lineage(&mut self) {
        let d = self.input.dossier;
        let mv = &d.model_version;
        self.heading("Lineage");
        self.document.fields(vec![
            ("Training run", at(mv, "/lineage/training_run").into()),
            (
                "Dataset versions",
                at(mv, "/lineage/dataset_versions").into(),
            ),
            ("Code version", at(mv, "/lineage/code_version").into()),
            ("Parent version", at(mv, "/lineage/parent_version").into()),
        ]);
        if let Some(run) = mv
            .data
            .pointer("/lineage/training_run")
            .and_then(Value::as_str)
            .and_then(|id| d.find("training_run", id))
        {
            self.show_doc(run);
            self.document
                .subheading(format!("Training run: {}", record_line(run)));
            let metrics = items(&run.data, "/metrics")
                .iter()
                .map(|m| {
                    let name = ["key", "name", "metric"]
                        .into_iter()
                        .map(|k| field(m, k))
                        .find(|n| !n.is_empty())
                        .unwrap_or_default();
                    let step = m
                        .get("step")
                        .map(|s| format!(" (step {})", show(Some(s))))
                        .unwrap_or_default();
                    format!("{name} = {}{step}", field(m, "value"))
                })
                .collect::<Vec<_>>()
                .join("\n");
            let parameters = items(&run.data, "/parameters")
                .iter()
                .map(|p| format!("{} = {}", field(p, "key"), field(p, "value")))
                .collect::<Vec<_>>()
                .join("\n");
            self.document.fields(vec![
                ("Parameters", parameters.into()),
                ("Metrics", metrics.into()),
                ("Input datasets", at(run, "/input_datasets").into()),
                ("Code version", at(run, "/code_version").into()),
                ("Environment", at(run, "/environment").into()),
            ]);
        }
        let mut dataset_ids: Vec<String> = d.training_dataset_ids();
        for r in d.for_version("validation_result", "/model_version") {
            for id in r.texts("/test_datasets") {
                if !dataset_ids.iter().any(|k| k == id) {
                    dataset_ids.push(id.to_owned());
                }
            }
        }
        let datasets: Vec<&'a Doc> = dataset_ids
            .iter()
            .filter_map(|id| d.find("dataset_version", id))
            .collect();
        if !datasets.is_empty() {
            let mut table = Table::new(&[
                ("Dataset version", 1.1),
                ("Name / version", 1.1),
                ("Content digest", 2.2),
                ("Rows", 0.5),
                ("Readiness approved", 0.8),
            ]);
            for ds in datasets {
                self.show_doc(ds);
                table.row(vec![
                    format!("{} v{}", ds.id, ds.version).into(),
                    format!("{} {}", at(ds, "/name"), at(ds, "/version")).into(),
                    at(ds, "/content_digest").into(),
                    at(ds, "/profile/rows").into(),
                    Cell::verdict(ds.approval().is_some(), "yes", "no"),
                ]);
            }
            self.document.table(table);
        }
        let code = mv
            .data
            .pointer("/lineage/code_version")
            .and_then(Value::as_str)
            .and_then(|id| d.find("code_version", id));
        if let Some(code) = code {
            self.show_doc(code);
            self.document
                .subheading(format!("Code version: {}", record_line(code)));
            self.document.fields(vec![
                ("Repository", at(code, "/repository").into()),
                ("Commit", at(code, "/commit").into()),
                ("Branch", at(code, "/branch").into()),
                ("Author", at(code, "/author").into()),
                ("Change summary", at(code, "/change_summary").into()),
            ]);
        }
        let deployments = self.for_version("deployment", "/model_version");
        if !deployments.is_empty() {
            self.document.subheading("Deployments");
            let mut table = Table::new(&[
                ("Deployment", 1.0),
                ("Environment", 0.9),
                ("Target", 1.4),
                ("Action", 0.7),
                ("Change request", 1.0),
            ]);
            for dep in deployments {
                self.show_doc(dep);
                table.row(vec![
                    format!("{} v{}", dep.id, dep.version).into(),
                    at(dep, "/environment").into(),
                    at(dep, "/target").into(),
                    at(dep, "/action").into(),
                    at(dep, "/change_request").into(),
                ]);
            }
            self.document.table(table);
        }
    }

    fn signatures(&mut self) {
        self.heading("Signature manifestations");
        self.document.paragraph(
            "Every electronic signature on the records shown (21 CFR 11.50): printed name, date \
             and time (UTC), meaning, and the version signed. A signature applies to one \
             version only; one on an earlier version than the record's latest is marked so. \
             Each is the event of the given sequence number in the log.",
        );
        let mut rows: Vec<(u64, Vec<Cell>)> = Vec::new();
        for doc in &self.shown {
            for s in &doc.signatures {
                let applies = match s.version == doc.version {
                    true => Cell::verdict(true, &format!("{} (current)", s.version), ""),
                    false => Cell::verdict(
                        false,
                        "",
                        &format!("{} (earlier; record now at {})", s.version, doc.version),
                    ),
                };
                let mut meaning = s.meaning.as_str().to_owned();
                if let Some(comment) = &s.comment {
                    meaning.push_str(&format!("\n\u{201c}{comment}\u{201d}"));
                }
                rows.push((
                    s.seq,
                    vec![
                        format!("{} {}", doc.kind, doc.id).into(),
                        applies,
                        format!("{}\n({}, {})", s.name, s.signer, s.role).into(),
                        format!("{} UTC", s.signed_at).into(),
                        meaning.into(),
                        format!("{}\n{}…", s.seq, &s.leaf.to_hex()[..16]).into(),
                    ],
                ));
            }
        }
        if rows.is_empty() {
            self.document
                .paragraph("No record shown in this report carries a signature.");
            return;
        }
        rows.sort_by_key(|(seq, _)| *seq);
        let mut table = Table::new(&[
            ("Record", 1.3),
            ("Version signed", 0.9),
            ("Printed name", 1.2),
            ("Date and time", 1.3),
            ("Meaning", 0.9),
            ("Event / signed leaf", 1.0),
        ]);
        for (_, cells) in rows {
            table.row(cells);
        }
        self.document.table(table);
    }

    fn verification(&mut self) {
        let drawn = self.input.drawn;
        self.heading("Verifying this report");
        self.document.paragraph(format!(
            "This report was drawn from the log at the signed checkpoint of tree size {} \
             (root {}). Every record and signature it shows is an event below that size. An \
             inspector checks it without trusting the server:",
            drawn.checkpoint_size,
            drawn.checkpoint_root.to_hex()
        ));
        self.document.paragraph(
            "1. Obtain an export bundle of the log taken at or after this report (an \
             administrator runs `modeltrail export --out BUNDLE` on the server's data \
             directory), and the log's public key from a source other than the bundle \
             (GET /api/v1/log/public-key, saved as log.key).",
        );
        self.document.paragraph(
            "2. Save the signed checkpoint below as checkpoint.txt, exactly as printed (the HTML \
             form of the report is the easiest to copy from), and verify the bundle against it: \
             every leaf hash, the Merkle tree, every checkpoint signature and record version \
             chain is recomputed offline, and the log must contain this checkpoint.",
        );
        self.document.preformatted(
            "modeltrail verify BUNDLE --public-key log.key --trusted-checkpoint checkpoint.txt",
        );
        self.document.preformatted(drawn.checkpoint_text.trim_end());
        self.document.paragraph(format!(
            "3. The report itself is recorded in the log: the event `report.generated` with \
             report_id {} holds this file's SHA-256, its size and the checkpoint above. Find it \
             in BUNDLE/events.jsonl and compare the digest with `sha256sum` of this file.",
            self.input.report_id
        ));
        self.document.preformatted(format!(
            "grep '{}' BUNDLE/events.jsonl",
            self.input.report_id
        ));
        self.document.paragraph(
            "4. The report id is the first 16 bytes (hex) of the SHA-256 of these lines, each \
             ending in a line feed: a version tag, the report, the model version, the \
             checkpoint's size and root (hex), the generation time and the format:",
        );
        let recipe = report_id_input(
            REPORT,
            &self.input.dossier.model_version.id,
            drawn,
            self.input.format,
        );
        self.document.preformatted(recipe.trim_end());
        self.document.paragraph(
            "5. Each signature above names its event's sequence number: `modeltrail prove \
             inclusion SEQ --size N` (on a data directory) or the server's \
             GET /api/v1/proofs/inclusion?index=SEQ&size=N proves it is in the tree of this \
             checkpoint.",
        );
    }
}

/// The dossier report as a document.
pub fn dossier_document(input: &DossierReport<'_>) -> Document {
    let d = input.dossier;
    let model = d
        .model
        .as_ref()
        .map(|m| format!("{} ({})", m.text("name").unwrap_or(&m.id), m.id))
        .unwrap_or_else(|| d.model_version.text("model").unwrap_or("").to_owned());
    let header = Header {
        title: "Validation dossier".to_owned(),
        model,
        version: format!(
            "{} (version {})",
            d.model_version.id,
            d.model_version.text("version").unwrap_or("?")
        ),
        report_id: input.report_id.to_owned(),
        generated_at: input.drawn.generated_at.to_string(),
        checkpoint_size: input.drawn.checkpoint_size,
        checkpoint_root: input.drawn.checkpoint_root.to_hex(),
    };
    let mut builder = Builder {
        input,
        document: Document::new(header),
        shown: Vec::new(),
        section: 0,
    };
    builder.summary();
    builder.model();
    builder.risk();
    builder.checklist();
    builder.validation();
    builder.fairness();
    builder.explanation();
    builder.monitoring();
    builder.exceptions();
    builder.change_control();
    builder.lineage();
    builder.signatures();
    builder.verification();
    builder.document
}

/// The CAPA records `exceptions` name (by their `capa` field), as ids.
pub fn capa_ids<'a>(exceptions: impl IntoIterator<Item = &'a Doc>) -> BTreeSet<String> {
    exceptions
        .into_iter()
        .flat_map(|e| e.texts("/capa"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_plainly() {
        assert_eq!(number(0.8500000001), "0.85");
        assert_eq!(number(-0.0000001), "0");
        assert_eq!(number(12.0), "12");
        assert_eq!(show(Some(&serde_json::json!([1, "a", true]))), "1, a, yes");
        assert_eq!(show(Some(&serde_json::json!({"k": 0.25}))), "k: 0.25");
        assert_eq!(show(None), "");
    }
}
