//! What exception and CAPA workflow steps need beyond being legal (issue: exceptions and CAPA,
//! 21 CFR 820.100-style corrective and preventive action): an exception gets CAPA only with its
//! investigation and root cause recorded and the CAPA records named; its effectiveness is
//! checked once its CAPA are; it closes only when every CAPA is closed and QA has approved its
//! current version. A CAPA closes only with a recorded, effective effectiveness check and QA's
//! approval of its current version.

use serde_json::Value;

use crate::dossier::Doc;
use crate::gate::{condition, qa_approval, Condition};

fn qa_approved(doc: &Doc) -> Condition {
    qa_approval(doc, "qa_approved", "QA has approved the current version")
}

fn recorded(doc: &Doc, fields: &[&str]) -> Condition {
    let missing = fields
        .iter()
        .filter(|f| doc.text(f).is_none_or(|t| t.trim().is_empty()))
        .map(|f| format!("{}: `{f}` is not recorded", doc.label()))
        .collect();
    condition(
        "findings_recorded",
        format!("{} are recorded", fields.join(" and ")),
        missing,
    )
}

/// The CAPA an exception names, each found among `capas` or reported missing; those found
/// must be in one of `states` (any state when empty).
fn capa_in(exception: &Doc, capas: &[Doc], states: &[&str], code: &'static str) -> Condition {
    let named = exception.texts("/capa");
    let mut missing = Vec::new();
    if named.is_empty() {
        missing.push(format!(
            "{}: no capa record named in `capa`",
            exception.label()
        ));
    }
    for id in named {
        match capas.iter().find(|c| c.id == id && !c.voided) {
            None => missing.push(format!("capa {id} (not recorded)")),
            Some(capa) => {
                let state = capa.state.as_deref().unwrap_or("planned");
                if !states.is_empty() && !states.contains(&state) {
                    missing.push(format!(
                        "{} is `{state}`: it must be {}",
                        capa.label(),
                        states.join(" or ")
                    ));
                }
            }
        }
    }
    let detail = match states.is_empty() {
        true => "the exception names its CAPA records".to_owned(),
        false => format!("every CAPA of the exception is {}", states.join(" or ")),
    };
    condition(code, detail, missing)
}

/// What moving an exception to `to` needs; `capas` are the CAPA records it names.
pub fn exception_step(exception: &Doc, capas: &[Doc], to: &str) -> Vec<Condition> {
    match to {
        "capa_planned" => vec![
            recorded(exception, &["investigation", "root_cause"]),
            capa_in(exception, capas, &[], "capa_named"),
        ],
        "effectiveness_check" => vec![capa_in(
            exception,
            capas,
            &["effectiveness_check", "closed"],
            "capa_checked",
        )],
        "closed" => vec![
            capa_in(exception, capas, &["closed"], "capa_closed"),
            qa_approved(exception),
        ],
        _ => Vec::new(),
    }
}

/// What moving a CAPA to `to` needs.
pub fn capa_step(capa: &Doc, to: &str) -> Vec<Condition> {
    match to {
        "closed" => {
            let check = capa.data.get("effectiveness_check");
            let missing = match check.and_then(|c| c.get("effective")) {
                Some(Value::Bool(true)) => Vec::new(),
                Some(_) => vec![format!(
                    "{}: the effectiveness check found the actions not effective; plan further \
                     actions (back to in_progress) or cancel",
                    capa.label()
                )],
                None => vec![format!(
                    "{}: `effectiveness_check` (performed_on, performed_by, effective, summary) \
                     is not recorded",
                    capa.label()
                )],
            };
            vec![
                condition(
                    "effectiveness_confirmed",
                    "an effectiveness check is recorded and found the actions effective".into(),
                    missing,
                ),
                qa_approved(capa),
            ]
        }
        _ => Vec::new(),
    }
}
