//! Stakeholder training records (21 CFR 11.10(i)): the trainee named in a record is a person in
//! the user directory, and the record is acknowledged by the trainee's own signature.
//!
//! The trainee's acknowledgement is a signature with the meaning `reviewed` ("I have received
//! and understood this training"): only the trainee may give it, and the trainee may not
//! certify their own training (`approved` or `verified`). A training record counts as
//! acknowledged while the trainee's `reviewed` signature applies to its current version.

use serde_json::Value;

use crate::actions::UserKind;
use crate::projection::{Projection, RecordState};
use crate::signature::Meaning;

/// The record type this module rules.
pub const KIND: &str = "training_record";

/// The meaning of the trainee's acknowledgement.
pub const ACKNOWLEDGEMENT: Meaning = Meaning::Reviewed;

/// Why a training record's content or a signature on it is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrainingRefused {
    #[error(
        "trainee `{0}` is not a user: a training record names the user id of the person trained"
    )]
    UnknownTrainee(String),
    #[error("trainee `{0}` is a service account: only people are trained")]
    ServiceAccount(String),
    #[error("trainee_name `{given}` is not the printed name of `{trainee}`, which is `{name}`")]
    WrongName {
        given: String,
        trainee: String,
        name: String,
    },
    #[error(
        "only the trainee `{trainee}` can acknowledge this training (a `reviewed` signature); \
         {signer} may sign it with another meaning"
    )]
    NotTrainee { trainee: String, signer: String },
    #[error(
        "segregation of duties: trainee `{trainee}` cannot sign their own training record as \
         {meaning}"
    )]
    SelfCertified {
        trainee: String,
        meaning: &'static str,
    },
}

impl TrainingRefused {
    /// The field of the record's data at fault, for content errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TrainingRefused::UnknownTrainee(_) | TrainingRefused::ServiceAccount(_) => {
                Some("trainee")
            }
            TrainingRefused::WrongName { .. } => Some("trainee_name"),
            TrainingRefused::NotTrainee { .. } | TrainingRefused::SelfCertified { .. } => None,
        }
    }
}

fn trainee(content: &Value) -> &str {
    content.get("trainee").and_then(Value::as_str).unwrap_or("")
}

/// Checks a training record's content (already valid against its schema) against the user
/// directory and fills in `trainee_name` with the trainee's printed name when it is absent.
pub fn complete_content(content: &mut Value, users: &Projection) -> Result<(), TrainingRefused> {
    let id = trainee(content).to_owned();
    let user = users
        .user(&id)
        .ok_or_else(|| TrainingRefused::UnknownTrainee(id.clone()))?;
    if user.kind == UserKind::Service {
        return Err(TrainingRefused::ServiceAccount(id));
    }
    match content.get("trainee_name").and_then(Value::as_str) {
        Some(given) if given != user.name => Err(TrainingRefused::WrongName {
            given: given.to_owned(),
            trainee: id,
            name: user.name.clone(),
        }),
        Some(_) => Ok(()),
        None => {
            if let Some(object) = content.as_object_mut() {
                object.insert("trainee_name".into(), Value::String(user.name.clone()));
            }
            Ok(())
        }
    }
}

/// Whether `signer` may sign a training record whose current content is `content` with
/// `meaning`: the acknowledgement is the trainee's alone, and the trainee does not certify
/// their own training.
pub fn check_signature(
    content: &Value,
    signer: &str,
    meaning: Meaning,
) -> Result<(), TrainingRefused> {
    let trainee = trainee(content);
    let is_trainee = signer == trainee;
    match meaning {
        ACKNOWLEDGEMENT if !is_trainee => Err(TrainingRefused::NotTrainee {
            trainee: trainee.to_owned(),
            signer: signer.to_owned(),
        }),
        Meaning::Approved | Meaning::Verified if is_trainee => {
            Err(TrainingRefused::SelfCertified {
                trainee: trainee.to_owned(),
                meaning: meaning.as_str(),
            })
        }
        _ => Ok(()),
    }
}

/// The trainee's acknowledgement that applies to the record's current version, if any.
pub fn acknowledgement<'r>(
    record: &'r RecordState,
    content: &Value,
) -> Option<&'r crate::signature::Manifestation> {
    let current = record.versions.len() as u64;
    let trainee = trainee(content);
    record
        .signatures
        .iter()
        .find(|s| s.version == current && s.meaning == ACKNOWLEDGEMENT && s.signer == trainee)
}
