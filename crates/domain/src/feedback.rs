//! Escalating feedback into an exception: the exception a feedback record raises (detected by
//! the person who escalates it, its source the feedback, the model version it is about as the
//! affected one, category and severity derived from the feedback's unless given) and the
//! feedback's next version with its triage recorded as `exception_raised`.

use serde_json::{json, Value};

pub const KIND: &str = "feedback";

/// Why feedback cannot be escalated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EscalationRefused {
    #[error("feedback `{feedback}` already raised exception `{exception}`")]
    AlreadyEscalated { feedback: String, exception: String },
}

/// What the person escalating decides; the rest comes from the feedback.
#[derive(Clone, Debug, Default)]
pub struct Escalation {
    pub title: Option<String>,
    pub severity: Option<String>,
    pub category: Option<String>,
    /// Why it is escalated: the triage rationale.
    pub rationale: String,
}

/// The exception category a feedback category maps to.
pub fn category_of(feedback_category: &str) -> &'static str {
    match feedback_category {
        "incorrect_output" => "deviation",
        "low_confidence" | "performance" => "performance",
        "unexpected_behaviour" => "incident",
        _ => "complaint",
    }
}

/// The exception severity a reporter's severity maps to (GMP classification: minor, major,
/// critical).
pub fn severity_of(feedback_severity: Option<&str>) -> &'static str {
    match feedback_severity {
        Some("critical") => "critical",
        Some("high") => "major",
        _ => "minor",
    }
}

/// The exception content and the feedback's next content, or why it cannot be escalated.
/// `by` is the user id of the person escalating; `detected_at` the time to record.
pub fn escalate(
    feedback_id: &str,
    feedback: &Value,
    exception_id: &str,
    escalation: &Escalation,
    by: &str,
    detected_at: &str,
) -> Result<(Value, Value), EscalationRefused> {
    if let Some(triage) = feedback.get("triage") {
        if triage.get("decision").and_then(Value::as_str) == Some("exception_raised") {
            return Err(EscalationRefused::AlreadyEscalated {
                feedback: feedback_id.to_owned(),
                exception: triage
                    .get("exception")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
            });
        }
    }
    let text = |field: &str| feedback.get(field).and_then(Value::as_str);
    let category = escalation
        .category
        .clone()
        .unwrap_or_else(|| category_of(text("category").unwrap_or("other")).to_owned());
    let severity = escalation
        .severity
        .clone()
        .unwrap_or_else(|| severity_of(text("severity")).to_owned());
    let title = escalation.title.clone().unwrap_or_else(|| {
        format!(
            "Feedback {feedback_id}: {}",
            text("category").unwrap_or("other").replace('_', " ")
        )
    });
    let mut description = text("description").unwrap_or_default().to_owned();
    if let Some(seen) = text("model_output") {
        description.push_str(&format!("\nModel output: {seen}"));
    }
    if let Some(expected) = text("expected_output") {
        description.push_str(&format!("\nExpected: {expected}"));
    }
    if let Some(prediction) = text("prediction") {
        description.push_str(&format!("\nPrediction: {prediction}"));
    }
    let mut exception = json!({
        "title": title,
        "description": description,
        "category": category,
        "severity": severity,
        "detected_by": {"kind": "person", "id": by},
        "detected_at": detected_at,
        "source": feedback_id,
    });
    if let Some(model_version) = text("model_version") {
        exception["affected_model_versions"] = json!([model_version]);
    }
    let mut next = feedback.clone();
    next["triage"] = json!({
        "decision": "exception_raised",
        "rationale": escalation.rationale,
        "exception": exception_id,
    });
    Ok((exception, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback() -> Value {
        json!({"model_version": "mv1", "category": "incorrect_output", "severity": "high",
               "description": "Batch 7 flagged as out of trend.", "model_output": "reject",
               "expected_output": "accept"})
    }

    #[test]
    fn the_exception_is_derived_from_the_feedback() {
        let escalation = Escalation {
            rationale: "Two reports this week.".into(),
            ..Escalation::default()
        };
        let (exception, next) = escalate(
            "fb1",
            &feedback(),
            "ex9",
            &escalation,
            "qa",
            "2026-12-04T10:00:00Z",
        )
        .unwrap();
        assert_eq!(exception["category"], "deviation");
        assert_eq!(exception["severity"], "major");
        assert_eq!(exception["source"], "fb1");
        assert_eq!(exception["affected_model_versions"], json!(["mv1"]));
        assert_eq!(
            exception["detected_by"],
            json!({"kind": "person", "id": "qa"})
        );
        assert!(exception["description"]
            .as_str()
            .unwrap()
            .contains("Expected: accept"));
        assert_eq!(next["triage"]["exception"], "ex9");
        assert_eq!(next["description"], feedback()["description"]);
        let again = escalate(
            "fb1",
            &next,
            "ex10",
            &escalation,
            "qa",
            "2026-12-04T10:00:00Z",
        );
        assert_eq!(
            again,
            Err(EscalationRefused::AlreadyEscalated {
                feedback: "fb1".into(),
                exception: "ex9".into()
            })
        );
    }

    #[test]
    fn given_choices_win_over_the_mapping() {
        let escalation = Escalation {
            title: Some("Wrong rejections".into()),
            severity: Some("critical".into()),
            category: Some("incident".into()),
            rationale: "Patient impact possible.".into(),
        };
        let (exception, _) = escalate(
            "fb1",
            &feedback(),
            "ex9",
            &escalation,
            "qa",
            "2026-12-04T10:00:00Z",
        )
        .unwrap();
        assert_eq!(exception["title"], "Wrong rejections");
        assert_eq!(exception["severity"], "critical");
        assert_eq!(exception["category"], "incident");
        assert_eq!(category_of("low_confidence"), "performance");
        assert_eq!(severity_of(None), "minor");
    }
}
