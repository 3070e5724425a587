//! Model risk (FDA 2025 draft guidance on AI credibility, step 3): model influence and decision
//! consequence give model risk by a fixed matrix, and the risk decides what evidence the release
//! gate demands. The server computes the risk; a client that states one must state the same.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A level of influence, consequence or risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        match text {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            _ => None,
        }
    }
}

/// The credibility framework's matrix: risk rises with both factors; a high consequence makes
/// even a low-influence model medium risk, and high influence on a medium consequence is high.
///
/// | influence \ consequence | low    | medium | high   |
/// |-------------------------|--------|--------|--------|
/// | low                     | low    | low    | medium |
/// | medium                  | low    | medium | high   |
/// | high                    | medium | high   | high   |
pub fn model_risk(influence: Level, consequence: Level) -> Level {
    use Level::*;
    match (influence, consequence) {
        (Low, Low) | (Low, Medium) | (Medium, Low) => Low,
        (Low, High) | (Medium, Medium) | (High, Low) => Medium,
        (Medium, High) | (High, Medium) | (High, High) => High,
    }
}

/// What the release gate demands of a model version at a risk level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Demands {
    /// A passing fairness assessment (or an approved deviation covering a failing one).
    pub fairness: bool,
    /// A recorded explanation of the model version.
    pub explanation: bool,
}

impl Demands {
    pub fn at(risk: Level) -> Demands {
        let elevated = risk >= Level::Medium;
        Demands {
            fairness: elevated,
            explanation: elevated,
        }
    }
}

/// Why a model record's risk assessment is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RiskError {
    #[error("{field} must be low, medium or high")]
    NotALevel { field: &'static str },
    #[error(
        "model_risk is {stated}, but model influence {influence} and decision consequence \
         {consequence} give {computed} (FDA credibility framework matrix); leave model_risk out \
         and the server fills it in"
    )]
    Contradicts {
        stated: &'static str,
        influence: &'static str,
        consequence: &'static str,
        computed: &'static str,
    },
}

impl RiskError {
    /// The JSON pointer of the field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            RiskError::NotALevel { field } => field,
            RiskError::Contradicts { .. } => "/risk/model_risk",
        }
    }
}

/// Fills in `risk.model_risk` of a model record (already valid against its schema) from its two
/// factors; a stated risk must agree with them.
pub fn complete_model_risk(model: &mut Value) -> Result<Level, RiskError> {
    let level_at = |model: &Value, key: &'static str, field: &'static str| {
        model
            .pointer(&format!("/risk/{key}"))
            .and_then(Value::as_str)
            .and_then(Level::parse)
            .ok_or(RiskError::NotALevel { field })
    };
    let influence = level_at(model, "model_influence", "/risk/model_influence")?;
    let consequence = level_at(model, "decision_consequence", "/risk/decision_consequence")?;
    let computed = model_risk(influence, consequence);
    if let Some(stated) = model.pointer("/risk/model_risk") {
        let stated = stated
            .as_str()
            .and_then(Level::parse)
            .ok_or(RiskError::NotALevel {
                field: "/risk/model_risk",
            })?;
        if stated != computed {
            return Err(RiskError::Contradicts {
                stated: stated.as_str(),
                influence: influence.as_str(),
                consequence: consequence.as_str(),
                computed: computed.as_str(),
            });
        }
    }
    if let Some(risk) = model.get_mut("risk").and_then(Value::as_object_mut) {
        risk.insert("model_risk".into(), Value::from(computed.as_str()));
    }
    Ok(computed)
}

/// The model risk stated in a stored model record, if it has one.
pub fn stored_model_risk(model: &Value) -> Option<Level> {
    model
        .pointer("/risk/model_risk")
        .and_then(Value::as_str)
        .and_then(Level::parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_matrix_is_monotone_in_both_factors() {
        let levels = [Level::Low, Level::Medium, Level::High];
        for &i in &levels {
            for &c in &levels {
                for &i2 in levels.iter().filter(|&&l| l >= i) {
                    for &c2 in levels.iter().filter(|&&l| l >= c) {
                        assert!(model_risk(i2, c2) >= model_risk(i, c), "{i:?}/{c:?}");
                    }
                }
                // Symmetric in its two factors.
                assert_eq!(model_risk(i, c), model_risk(c, i));
            }
        }
        assert_eq!(model_risk(Level::Low, Level::High), Level::Medium);
        assert_eq!(model_risk(Level::High, Level::Medium), Level::High);
        assert_eq!(model_risk(Level::Medium, Level::Low), Level::Low);
    }

    #[test]
    fn the_risk_is_filled_in_and_a_contradiction_refused() {
        let mut model = json!({"risk": {"model_influence": "high", "decision_consequence": "low"}});
        assert_eq!(complete_model_risk(&mut model), Ok(Level::Medium));
        assert_eq!(model["risk"]["model_risk"], "medium");
        let mut wrong = json!({"risk": {"model_influence": "high", "decision_consequence": "high",
            "model_risk": "low"}});
        let err = complete_model_risk(&mut wrong).unwrap_err();
        assert_eq!(err.field(), "/risk/model_risk");
        assert!(err.to_string().contains("give high"), "{err}");
        assert_eq!(wrong["risk"]["model_risk"], "low", "nothing changed");
    }

    #[test]
    fn demands_rise_with_risk() {
        assert!(!Demands::at(Level::Low).explanation);
        assert!(Demands::at(Level::Medium).fairness && Demands::at(Level::High).explanation);
    }
}
