//! Change control: what each step of a change request needs beyond being legal in its workflow
//! (`workflow::CHANGE_REQUEST`), and when a predetermined change control plan (PCCP) pre-approves
//! a change. Each need is a `Condition` that, when unmet, names the record, signature or figure
//! that is missing, as the release gate does. Pure: the server gathers the `ChangeFile`.
//!
//! A plan is a change request carrying `pccp`. It is in force while QA's approval stands on its
//! current version, it has been moved to `approved` (and not rejected or cancelled), and its
//! `valid_until` day has not passed. It pre-approves a change request of the same model whose
//! `category` it lists in `allowed_changes`; the change must then stay inside the plan's bounds:
//! every bound holds for the metrics of every re-validation result, and, with `same_code`, the
//! new model version is trained from the same commit as the version it replaces.

use serde_json::{json, Value};

use crate::dossier::Doc;
use crate::gate::{condition, Condition, RELEASING_ROLE};
use crate::signature::Meaning;
use crate::validation::evaluate_result;

/// Workflow states in which an approved plan stays in force.
const PLAN_IN_FORCE: &[&str] = &[
    "approved",
    "in_implementation",
    "implemented",
    "verified",
    "closed",
];

/// A change request and the records its steps are judged on.
#[derive(Clone, Debug)]
pub struct ChangeFile {
    pub request: Doc,
    /// Records the request's content names, directly or through them: the plan that covers it,
    /// the proposed and affected model versions, their training runs and code versions, the
    /// re-validation protocols, and the validation results of the proposed model version.
    pub related: Vec<Doc>,
}

impl ChangeFile {
    pub fn find(&self, kind: &str, id: &str) -> Option<&Doc> {
        self.related
            .iter()
            .find(|d| d.kind == kind && d.id == id && !d.voided)
    }

    fn plan(&self) -> Option<&Doc> {
        let id = self.request.text("covered_by_pccp")?;
        self.related
            .iter()
            .find(|d| d.kind == "change_request" && d.id == id)
    }
}

/// What moving `file.request` to `to` needs, on `today` (`YYYY-MM-DD`, UTC). Steps that need
/// nothing beyond being legal give no conditions.
pub fn step_conditions(file: &ChangeFile, to: &str, today: &str) -> Vec<Condition> {
    match to {
        "submitted" => vec![assessed(&file.request)],
        "approved" => vec![approved(file, today)],
        "implemented" => vec![implemented_by(file)],
        "verified" => {
            let mut conditions = vec![revalidation_passed(file)];
            if file.request.text("covered_by_pccp").is_some() {
                conditions.push(within_plan_bounds(file));
                if file
                    .plan()
                    .and_then(|p| p.data.pointer("/pccp/same_code"))
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    conditions.push(same_code(file));
                }
            }
            conditions.push(signed(
                &file.request,
                Meaning::Verified,
                "change_verified",
                "QA verified the implemented change (a `verified` signature on the request's \
                 current version)",
            ));
            conditions
        }
        _ => Vec::new(),
    }
}

/// A request is submitted with its re-validation scope decided and, unless the scope is none,
/// the protocols to execute named.
fn assessed(request: &Doc) -> Condition {
    let mut missing = Vec::new();
    match request.data.get("revalidation") {
        None => missing.push(format!(
            "{}: the re-validation scope (revalidation)",
            request.label()
        )),
        Some(revalidation) => {
            let scope = revalidation.get("scope").and_then(Value::as_str);
            if scope != Some("none") && request.texts("/revalidation/protocols").is_empty() {
                missing.push(format!(
                    "{}: the protocols a {} re-validation executes (revalidation.protocols)",
                    request.label(),
                    scope.unwrap_or("partial")
                ));
            }
        }
    }
    if request.text("model").is_none() {
        missing.push(format!("{}: the model changed (model)", request.label()));
    }
    condition(
        "change_assessed",
        "the request names its model and its re-validation scope and protocols".into(),
        missing,
    )
}

fn signed(doc: &Doc, meaning: Meaning, code: &'static str, detail: &str) -> Condition {
    let given = doc
        .current_signatures(meaning)
        .any(|s| s.role == RELEASING_ROLE);
    let missing = match given {
        true => Vec::new(),
        false => vec![format!(
            "{} version {}: a `{}` signature by {RELEASING_ROLE}",
            doc.label(),
            doc.version,
            meaning.as_str()
        )],
    };
    condition(code, detail.into(), missing)
}

/// Approved by QA's signature on the current version, or pre-approved by a plan in force.
fn approved(file: &ChangeFile, today: &str) -> Condition {
    let request = &file.request;
    let detail = "QA approved the request (an `approved` signature on its current version), or \
                  a predetermined change control plan in force covers it (covered_by_pccp)";
    if request.approval_by(RELEASING_ROLE).is_some() {
        return condition("change_approved", detail.into(), Vec::new());
    }
    let mut missing = vec![format!(
        "{} version {}: an `approved` signature by {RELEASING_ROLE}",
        request.label(),
        request.version
    )];
    if let Some(plan_id) = request.text("covered_by_pccp") {
        match plan_covers(request, file.plan(), today) {
            Ok(()) => return condition("change_approved", detail.into(), Vec::new()),
            Err(gaps) => missing.extend(
                gaps.into_iter()
                    .map(|g| format!("plan change_request {plan_id}: {g}")),
            ),
        }
    }
    condition("change_approved", detail.into(), missing)
}

/// Whether `plan` is a plan in force that covers `request`; each reason it does not.
pub fn plan_covers(request: &Doc, plan: Option<&Doc>, today: &str) -> Result<(), Vec<String>> {
    let Some(plan) = plan else {
        return Err(vec!["not recorded".into()]);
    };
    if plan.id == request.id {
        return Err(vec!["a request cannot cover itself".into()]);
    }
    if plan.voided {
        return Err(vec!["voided".into()]);
    }
    let Some(pccp) = plan.data.get("pccp") else {
        return Err(vec![
            "defines no predetermined change control plan (pccp)".into()
        ]);
    };
    let mut gaps = Vec::new();
    let state = plan.state.as_deref().unwrap_or("draft");
    if !PLAN_IN_FORCE.contains(&state) {
        gaps.push(format!("is `{state}`, not approved"));
    }
    if plan.approval_by(RELEASING_ROLE).is_none() {
        gaps.push(format!(
            "version {}: an `approved` signature by {RELEASING_ROLE}",
            plan.version
        ));
    }
    if let Some(until) = pccp.get("valid_until").and_then(Value::as_str) {
        if until < today {
            gaps.push(format!("expired on {until}"));
        }
    }
    if plan.text("model") != request.text("model") {
        gaps.push(format!(
            "is for model {}, the request for model {}",
            plan.text("model").unwrap_or("(none)"),
            request.text("model").unwrap_or("(none)")
        ));
    }
    let category = request.text("category").unwrap_or("");
    let allowed = plan.texts("/pccp/allowed_changes");
    if !allowed.contains(&category) {
        gaps.push(format!(
            "does not allow {category} changes (it allows {})",
            allowed.join(", ")
        ));
    }
    match gaps.is_empty() {
        true => Ok(()),
        false => Err(gaps),
    }
}

/// The change is implemented by a recorded model version.
fn implemented_by(file: &ChangeFile) -> Condition {
    let request = &file.request;
    let missing = match request.text("proposed_model_version") {
        None => vec![format!(
            "{}: the model version implementing the change (proposed_model_version)",
            request.label()
        )],
        Some(id) => match file.find("model_version", id) {
            Some(_) => Vec::new(),
            None => vec![format!("model_version {id} (not recorded, or voided)")],
        },
    };
    condition(
        "change_implemented",
        "the model version implementing the change is recorded".into(),
        missing,
    )
}

/// The validation results of the proposed model version against `protocol`.
fn results_for<'a>(file: &'a ChangeFile, protocol: &'a str) -> impl Iterator<Item = &'a Doc> + 'a {
    let proposed = file.request.text("proposed_model_version");
    file.related.iter().filter(move |d| {
        d.kind == "validation_result"
            && !d.voided
            && d.text("protocol") == Some(protocol)
            && proposed.is_some()
            && d.text("model_version") == proposed
    })
}

/// Every re-validation protocol was executed on the proposed model version and passed.
fn revalidation_passed(file: &ChangeFile) -> Condition {
    let request = &file.request;
    let detail = "every re-validation protocol was executed on the new model version and all \
                  its criteria passed";
    let scope = request
        .data
        .pointer("/revalidation/scope")
        .and_then(Value::as_str);
    if scope == Some("none") {
        return condition(
            "revalidation_passed",
            "re-validation scope is none".into(),
            Vec::new(),
        );
    }
    let Some(proposed) = request.text("proposed_model_version") else {
        return condition(
            "revalidation_passed",
            detail.into(),
            vec![format!("{}: proposed_model_version", request.label())],
        );
    };
    let protocols = request.texts("/revalidation/protocols");
    if protocols.is_empty() {
        return condition(
            "revalidation_passed",
            detail.into(),
            vec![format!("{}: revalidation.protocols", request.label())],
        );
    }
    let mut missing = Vec::new();
    for protocol in protocols {
        let results: Vec<&Doc> = results_for(file, protocol).collect();
        if results.is_empty() {
            missing.push(format!(
                "a validation_result of model_version {proposed} against validation_protocol \
                 {protocol}"
            ));
        } else if !results
            .iter()
            .any(|r| r.data.get("passed").and_then(Value::as_bool) == Some(true))
        {
            let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
            missing.push(format!(
                "validation_protocol {protocol}: criteria failed on model_version {proposed} \
                 (validation_result {})",
                ids.join(", ")
            ));
        }
    }
    condition("revalidation_passed", detail.into(), missing)
}

/// Every bound of the covering plan holds for every re-validation result's metrics: the bounds
/// are criteria (metric, op, threshold) evaluated as a protocol's acceptance criteria are.
fn within_plan_bounds(file: &ChangeFile) -> Condition {
    let detail = "every bound of the covering plan holds for the new model version's \
                  re-validation results";
    let Some(plan) = file.plan() else {
        return condition(
            "within_plan_bounds",
            detail.into(),
            vec!["the covering plan (not recorded)".into()],
        );
    };
    let bounds = json!({
        "acceptance_criteria": plan.data.pointer("/pccp/bounds").cloned().unwrap_or(json!([]))
    });
    let results: Vec<&Doc> = file
        .request
        .texts("/revalidation/protocols")
        .into_iter()
        .flat_map(|p| results_for(file, p))
        .collect();
    let mut missing = Vec::new();
    if results.is_empty() {
        missing.push(
            "a re-validation result of the new model version to hold the plan's bounds against"
                .into(),
        );
    }
    for result in results {
        let metrics = result.data.get("metrics").unwrap_or(&Value::Null);
        match evaluate_result(&bounds, metrics) {
            Ok(evaluation) => {
                for failed in evaluation
                    .criteria_results
                    .iter()
                    .filter(|c| c["passed"] == json!(false))
                {
                    let used: Vec<String> = failed["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| {
                            format!("{} = {}", v["reference"].as_str().unwrap_or(""), v["value"])
                        })
                        .collect();
                    missing.push(format!(
                        "{}: {} is outside the plan's bound {}",
                        result.label(),
                        used.join(", "),
                        failed["criterion"].as_str().unwrap_or("")
                    ));
                }
            }
            Err(e) => missing.push(format!("{}: the plan's bounds: {e}", result.label())),
        }
    }
    condition("within_plan_bounds", detail.into(), missing)
}

/// The commit a model version was trained from: its lineage's code version, or its training
/// run's; as (repository, commit).
fn trained_from<'a>(file: &'a ChangeFile, model_version: &'a Doc) -> Option<(&'a str, &'a str)> {
    let code_id = model_version
        .data
        .pointer("/lineage/code_version")
        .and_then(Value::as_str)
        .or_else(|| {
            let run = model_version
                .data
                .pointer("/lineage/training_run")
                .and_then(Value::as_str)?;
            file.find("training_run", run)?.text("code_version")
        })?;
    let code = file.find("code_version", code_id)?;
    Some((code.text("repository").unwrap_or(""), code.text("commit")?))
}

/// The new model version is trained from the commit of every version it replaces.
fn same_code(file: &ChangeFile) -> Condition {
    let detail = "the plan allows only the same code: the new model version is trained from \
                  the commit of the version it replaces";
    let request = &file.request;
    let proposed = request
        .text("proposed_model_version")
        .and_then(|id| file.find("model_version", id));
    let Some(proposed) = proposed else {
        return condition(
            "same_code",
            detail.into(),
            vec![format!("{}: proposed_model_version", request.label())],
        );
    };
    let mut missing = Vec::new();
    let new_code = trained_from(file, proposed);
    if new_code.is_none() {
        missing.push(format!(
            "{}: its code version (lineage.code_version or its training run's)",
            proposed.label()
        ));
    }
    let affected = request.texts("/affected_model_versions");
    if affected.is_empty() {
        missing.push(format!(
            "{}: the model versions it replaces (affected_model_versions)",
            request.label()
        ));
    }
    for id in affected {
        let Some(old) = file.find("model_version", id) else {
            missing.push(format!("model_version {id} (not recorded)"));
            continue;
        };
        match (trained_from(file, old), new_code) {
            (None, _) => missing.push(format!(
                "{}: its code version (lineage.code_version or its training run's)",
                old.label()
            )),
            (Some(old_code), Some(new)) if old_code != new => missing.push(format!(
                "{} is trained from {} {}, {} from {} {}",
                proposed.label(),
                new.0,
                new.1,
                old.label(),
                old_code.0,
                old_code.1
            )),
            _ => {}
        }
    }
    condition("same_code", detail.into(), missing)
}
