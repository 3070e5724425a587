//! The release gate (DESIGN section 4; 21 CFR 11.10(f) operational checks): the conditions a
//! model version must meet before it is deployed to production, each evaluated from the
//! dossier and, when unmet, naming the record or signature that is missing. The model's risk
//! decides whether fairness and explanation evidence are demanded.

use serde::Serialize;
use serde_json::Value;

use crate::dossier::{Doc, Dossier};
use crate::profiled::unprofiled_data_files;
use crate::risk::{stored_model_risk, Demands, Level};

/// The role whose approval releases a model version.
pub const RELEASING_ROLE: &str = "qa";

/// One condition of the gate and whether it is met.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Condition {
    /// Stable code, e.g. `intended_use_approved`.
    pub code: &'static str,
    pub met: bool,
    /// What the condition asks, or why it is met.
    pub detail: String,
    /// When unmet: each record or signature that is missing or failing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// When met: the record versions that satisfy the condition (what a report or page links).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub satisfied_by: Vec<Evidence>,
}

/// A record version that satisfies a condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub kind: String,
    pub id: String,
    pub version: u64,
}

impl Evidence {
    /// The latest version of `doc`.
    pub fn of(doc: &Doc) -> Evidence {
        Evidence {
            kind: doc.kind.clone(),
            id: doc.id.clone(),
            version: doc.version,
        }
    }
}

impl Condition {
    /// The condition, naming `docs` as what satisfies it when it is met (nothing otherwise).
    pub(crate) fn satisfied_by<'a>(mut self, docs: impl IntoIterator<Item = &'a Doc>) -> Self {
        if self.met {
            self.satisfied_by = docs.into_iter().map(Evidence::of).collect();
        }
        self
    }
}

/// The gate's answer for one model version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checklist {
    pub model_version: String,
    pub model_risk: Option<Level>,
    pub demands: Option<Demands>,
    pub ready: bool,
    pub conditions: Vec<Condition>,
}

impl Checklist {
    /// The conditions not met.
    pub fn unmet(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| !c.met)
    }
}

/// Evaluates every condition for releasing `dossier.model_version` to production.
pub fn release_checklist(dossier: &Dossier) -> Checklist {
    let mv = &dossier.model_version;
    let risk = dossier
        .model
        .as_ref()
        .and_then(|m| stored_model_risk(&m.data));
    // An unknown risk demands everything: the gate never assumes the lenient case.
    let demands = Demands::at(risk.unwrap_or(Level::High));
    let mut conditions = vec![
        version_is_current(mv),
        intended_use_approved(dossier),
        datasets_ready(dossier),
    ];
    let validation = validation_conditions(dossier);
    conditions.extend(validation);
    if demands.fairness {
        conditions.push(fairness_passed(dossier));
    }
    if demands.explanation {
        conditions.push(explanation_recorded(dossier));
    }
    conditions.push(monitoring_plan_approved(dossier));
    conditions.push(change_verified(dossier));
    conditions.push(revalidated(dossier));
    conditions.push(released_by_qa(mv));
    Checklist {
        model_version: mv.id.clone(),
        model_risk: risk,
        demands: risk.map(Demands::at),
        ready: conditions.iter().all(|c| c.met),
        conditions,
    }
}

pub(crate) fn condition(code: &'static str, detail: String, missing: Vec<String>) -> Condition {
    Condition {
        code,
        met: missing.is_empty(),
        detail,
        missing,
        satisfied_by: Vec::new(),
    }
}

fn version_is_current(mv: &Doc) -> Condition {
    let missing = if mv.voided {
        vec![format!("{} is voided", mv.label())]
    } else {
        Vec::new()
    };
    condition(
        "model_version_current",
        "the model version is not voided".into(),
        missing,
    )
    .satisfied_by([mv])
}

fn intended_use_approved(dossier: &Dossier) -> Condition {
    let detail = "the model's intended use and risk assessment are approved (signature on its \
                  current version)";
    let mv = &dossier.model_version;
    let missing = match (&dossier.model, mv.text("model")) {
        (_, None) => vec![format!("{} names no model", mv.label())],
        (None, Some(id)) => vec![format!("model {id} (not recorded)")],
        (Some(model), _) if model.voided => vec![format!("{} is voided", model.label())],
        (Some(model), _) if stored_model_risk(&model.data).is_none() => {
            vec![format!("{}: risk assessment (model_risk)", model.label())]
        }
        (Some(model), _) => match model.approval() {
            Some(_) => Vec::new(),
            None => vec![format!(
                "{} version {}: an approved signature",
                model.label(),
                model.version
            )],
        },
    };
    condition("intended_use_approved", detail.into(), missing).satisfied_by(dossier.model.as_ref())
}

/// Whether a dataset version's readiness assessment passes: a server-computed profile covering
/// every CSV and Parquet file of its manifest, every readiness check passed, and an approval of
/// the version that holds them.
fn readiness_gaps(dataset: &Doc) -> Vec<String> {
    let label = dataset.label();
    if dataset.voided {
        return vec![format!("{label} is voided")];
    }
    let mut gaps = Vec::new();
    if dataset.data.get("profile").is_none() {
        gaps.push(format!("{label}: a data profile computed from its data"));
    } else {
        let unprofiled = unprofiled_data_files(&dataset.data);
        if !unprofiled.is_empty() {
            gaps.push(format!(
                "{label}: a data profile covering every data file (not uploaded yet: {})",
                unprofiled.join(", ")
            ));
        }
    }
    let failing: Vec<String> = dataset
        .data
        .get("quality_checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|check| check.get("passed").and_then(Value::as_bool) != Some(true))
        .map(|check| {
            check
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("unnamed")
                .to_owned()
        })
        .collect();
    if !failing.is_empty() {
        gaps.push(format!(
            "{label}: readiness checks not passed: {}",
            failing.join(", ")
        ));
    }
    if dataset.approval().is_none() {
        gaps.push(format!(
            "{label} version {}: an approved readiness assessment (signature)",
            dataset.version
        ));
    }
    gaps
}

fn datasets_ready(dossier: &Dossier) -> Condition {
    // Every dataset version used: those it was trained on and those it was tested on.
    let mut ids = dossier.training_dataset_ids();
    for result in dossier.for_version("validation_result", "/model_version") {
        for id in result.texts("/test_datasets") {
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
    }
    let mut missing = Vec::new();
    if ids.is_empty() {
        missing.push(format!(
            "{}: lineage naming the dataset versions used",
            dossier.model_version.label()
        ));
    }
    for id in &ids {
        match dossier.find("dataset_version", id) {
            Some(dataset) => missing.extend(readiness_gaps(dataset)),
            None => missing.push(format!("dataset_version {id} (not recorded)")),
        }
    }
    condition(
        "datasets_ready",
        format!(
            "every dataset version used ({}) has an approved readiness assessment",
            if ids.is_empty() {
                "none named".to_owned()
            } else {
                ids.join(", ")
            }
        ),
        missing,
    )
    .satisfied_by(
        ids.iter()
            .filter_map(|id| dossier.find("dataset_version", id)),
    )
}

/// Validation: a protocol approved before its result was recorded, every criterion passed,
/// and test data independent of the training data.
fn validation_conditions(dossier: &Dossier) -> Vec<Condition> {
    let results: Vec<&Doc> = dossier
        .for_version("validation_result", "/model_version")
        .collect();
    let mut approved_first = Vec::new();
    let mut problems = Vec::new();
    for result in &results {
        let protocol = result
            .text("protocol")
            .and_then(|id| dossier.find("validation_protocol", id));
        match protocol {
            None => problems.push(format!(
                "{}: its validation_protocol {} is not recorded",
                result.label(),
                result.text("protocol").unwrap_or("?")
            )),
            Some(p) if p.voided => problems.push(format!("{} is voided", p.label())),
            Some(p) => match p.first_approval_seq() {
                Some(seq) if seq < result.created_seq => approved_first.push((*result, p)),
                _ => problems.push(format!(
                    "{}: recorded before {} was approved",
                    result.label(),
                    p.label()
                )),
            },
        }
    }
    let protocol_condition = if approved_first.is_empty() {
        let mut missing = problems;
        if results.is_empty() {
            missing.push(format!(
                "a validation_result for {} against an approved validation_protocol",
                dossier.model_version.label()
            ));
        }
        condition(
            "protocol_approved_before_results",
            "a validation protocol was approved before its results were recorded".into(),
            missing,
        )
    } else {
        condition(
            "protocol_approved_before_results",
            format!(
                "{} approved before {} was recorded",
                approved_first[0].1.label(),
                approved_first[0].0.label()
            ),
            Vec::new(),
        )
        .satisfied_by([approved_first[0].1, approved_first[0].0])
    };
    let passing = approved_first
        .iter()
        .find(|(result, _)| result.data.get("passed").and_then(Value::as_bool) == Some(true));
    let criteria_condition = match passing {
        Some((result, _)) => condition(
            "validation_criteria_passed",
            format!("every acceptance criterion passed in {}", result.label()),
            Vec::new(),
        )
        .satisfied_by([*result]),
        None => condition(
            "validation_criteria_passed",
            "every acceptance criterion of the approved protocol passes".into(),
            if approved_first.is_empty() {
                vec!["a passing validation_result".into()]
            } else {
                approved_first
                    .iter()
                    .map(|(result, _)| format!("{}: criteria not all passed", result.label()))
                    .collect()
            },
        ),
    };
    let independence = match passing {
        Some((result, _)) => test_data_independent(result),
        None => condition(
            "test_data_independent",
            "the test data is independent of the training data".into(),
            vec!["a passing validation_result whose test data was checked".into()],
        ),
    };
    vec![protocol_condition, criteria_condition, independence]
}

fn test_data_independent(result: &Doc) -> Condition {
    let detail = "the test data is independent of the training data (no shared file digests, no \
                  shared rows)";
    let missing = match result.data.get("independence") {
        None => vec![format!(
            "{}: an independence check of its test data",
            result.label()
        )],
        Some(check) if check.get("independent").and_then(Value::as_bool) == Some(true) => {
            Vec::new()
        }
        Some(_) => vec![format!(
            "{}: its test data shares files or rows with the training data",
            result.label()
        )],
    };
    condition("test_data_independent", detail.into(), missing).satisfied_by([result])
}

fn fairness_passed(dossier: &Dossier) -> Condition {
    let detail = "the fairness assessment passes, or an approved deviation covers it";
    let assessments: Vec<&Doc> = dossier
        .for_version("fairness_assessment", "/model_version")
        .collect();
    if let Some(passing) = assessments
        .iter()
        .find(|a| a.data.get("passed").and_then(Value::as_bool) == Some(true))
    {
        return condition("fairness_passed", detail.into(), Vec::new()).satisfied_by([*passing]);
    }
    let covered = assessments.iter().find_map(|a| {
        dossier
            .of_kind("exception")
            .find(|e| {
                e.text("category") == Some("deviation")
                    && e.text("source") == Some(a.id.as_str())
                    && e.approval().is_some()
            })
            .map(|deviation| (*a, deviation))
    });
    if let Some((a, deviation)) = covered {
        return condition(
            "fairness_passed",
            format!("{} failed; an approved deviation covers it", a.label()),
            Vec::new(),
        )
        .satisfied_by([a, deviation]);
    }
    let missing = if assessments.is_empty() {
        vec![format!(
            "a fairness_assessment of {}",
            dossier.model_version.label()
        )]
    } else {
        assessments
            .iter()
            .map(|a| {
                format!(
                    "{}: failed, and no approved deviation (exception, category deviation, \
                     source {}) covers it",
                    a.label(),
                    a.id
                )
            })
            .collect()
    };
    condition("fairness_passed", detail.into(), missing)
}

fn explanation_recorded(dossier: &Dossier) -> Condition {
    let explanation = dossier.for_version("explanation", "/model_version").next();
    let has = explanation.is_some();
    condition(
        "explanation_recorded",
        "an explanation of the model version is recorded (the model's risk requires it)".into(),
        if has {
            Vec::new()
        } else {
            vec![format!(
                "an explanation of {}",
                dossier.model_version.label()
            )]
        },
    )
    .satisfied_by(explanation)
}

fn monitoring_plan_approved(dossier: &Dossier) -> Condition {
    let plans: Vec<&Doc> = dossier
        .for_version("monitoring_plan", "/model_version")
        .collect();
    let missing = if plans.iter().any(|p| p.approval().is_some()) {
        Vec::new()
    } else if plans.is_empty() {
        vec![format!(
            "a monitoring_plan for {}",
            dossier.model_version.label()
        )]
    } else {
        plans
            .iter()
            .map(|p| format!("{} version {}: an approved signature", p.label(), p.version))
            .collect()
    };
    condition(
        "monitoring_plan_approved",
        "a monitoring plan for the model version is approved".into(),
        missing,
    )
    .satisfied_by(plans.iter().copied().filter(|p| p.approval().is_some()))
}

/// Workflow states of a change request whose implementation may be released.
const CHANGE_DONE: &[&str] = &["verified", "closed"];

/// A model version that implements a change (a change request's `proposed_model_version`) is
/// released only once one such change is verified: approved (or pre-approved by a plan),
/// implemented, re-validated and verified by QA. A first version no change names needs none.
fn change_verified(dossier: &Dossier) -> Condition {
    let requests: Vec<&Doc> = dossier
        .for_version("change_request", "/proposed_model_version")
        .collect();
    let done = requests
        .iter()
        .any(|r| r.state.as_deref().is_some_and(|s| CHANGE_DONE.contains(&s)));
    let missing = match done || requests.is_empty() {
        true => Vec::new(),
        false => requests
            .iter()
            .map(|r| {
                format!(
                    "{} is `{}`: it must be verified before the version implementing it is \
                     released",
                    r.label(),
                    r.state.as_deref().unwrap_or("draft")
                )
            })
            .collect(),
    };
    let detail = match requests.is_empty() {
        true => "no change request names the model version as its implementation",
        false => "the change the model version implements is verified",
    };
    condition("change_verified", detail.into(), missing).satisfied_by(
        requests
            .iter()
            .copied()
            .filter(|r| r.state.as_deref().is_some_and(|s| CHANGE_DONE.contains(&s))),
    )
}

/// Change-request states at and after approval.
const CHANGE_APPROVED: &[&str] = &[
    "approved",
    "in_implementation",
    "implemented",
    "verified",
    "closed",
];

/// A model version under re-validation (an open drift, performance or data-quality exception
/// affects it: monitoring raises these on a breach) is released again only once a change
/// request for it is approved and a validation result recorded after the exception, against a
/// protocol approved before that result, passes.
fn revalidated(dossier: &Dossier) -> Condition {
    let mv = &dossier.model_version;
    let triggers: Vec<&Doc> = dossier
        .for_version("exception", "/affected_model_versions")
        .filter(|e| crate::lifecycle::requires_revalidation(e))
        .collect();
    if triggers.is_empty() {
        return condition(
            "revalidated",
            "no open drift, performance or data-quality exception puts the model version under \
             re-validation"
                .into(),
            Vec::new(),
        );
    }
    let since = triggers.iter().map(|e| e.created_seq).max().unwrap_or(0);
    let raised_by: Vec<String> = triggers.iter().map(|e| e.label()).collect();
    let mut missing = Vec::new();
    let approved = dossier
        .for_version("change_request", "/affected_model_versions")
        .find(|r| {
            r.state
                .as_deref()
                .is_some_and(|s| CHANGE_APPROVED.contains(&s))
        });
    if approved.is_none() {
        missing.push(format!(
            "an approved change_request for {} (re-validation required by {})",
            mv.label(),
            raised_by.join(", ")
        ));
    }
    let passed = dossier
        .for_version("validation_result", "/model_version")
        .filter(|r| r.created_seq > since && !r.voided)
        .filter(|r| r.data.get("passed") == Some(&Value::Bool(true)))
        .find(|r| {
            r.text("protocol")
                .and_then(|id| dossier.find("validation_protocol", id))
                .and_then(Doc::first_approval_seq)
                .is_some_and(|seq| seq < r.created_seq)
        });
    if passed.is_none() {
        missing.push(format!(
            "a passing validation_result for {} recorded after {}, against an approved protocol",
            mv.label(),
            raised_by.join(", ")
        ));
    }
    condition(
        "revalidated",
        "the model version, under re-validation, has an approved change request and a new \
         passing validation result"
            .into(),
        missing,
    )
    .satisfied_by(approved.into_iter().chain(passed))
}

fn released_by_qa(mv: &Doc) -> Condition {
    qa_approval(
        mv,
        "qa_release_signature",
        "QA has signed the release (approved, on the current version)",
    )
}

/// Met when QA (role [`RELEASING_ROLE`]) has approved the record's current version.
pub(crate) fn qa_approval(doc: &Doc, code: &'static str, detail: &str) -> Condition {
    let missing = match doc.approval_by(RELEASING_ROLE) {
        Some(_) => Vec::new(),
        None => vec![format!(
            "{} version {}: an approved signature by QA (role {RELEASING_ROLE})",
            doc.label(),
            doc.version
        )],
    };
    condition(code, detail.into(), missing).satisfied_by([doc])
}
