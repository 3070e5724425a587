//! Electronic signatures (21 CFR Part 11 subpart C): their meanings, their manifestation, and
//! the rule that nobody approves what they authored.

use modeltrail_ledger::{Hash, Timestamp};
use serde::{Deserialize, Serialize};

/// What a signature means (§11.50(a)(3)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    Authored,
    Reviewed,
    Approved,
    Verified,
    Responsible,
}

impl Meaning {
    /// The meaning as written in the log and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::Authored => "authored",
            Meaning::Reviewed => "reviewed",
            Meaning::Approved => "approved",
            Meaning::Verified => "verified",
            Meaning::Responsible => "responsible",
        }
    }
}

/// A signature as every read of the record shows it: printed name, UTC date and time, meaning.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Manifestation {
    pub signer: String,
    pub name: String,
    /// The signer's role when they signed.
    pub role: String,
    pub meaning: Meaning,
    pub signed_at: Timestamp,
    pub version: u64,
    /// The leaf hash of the signed version.
    pub leaf: Hash,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Why a signature is refused by the rules of the record itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureRefused {
    #[error(
        "segregation of duties: {signer} authored version {version} and cannot sign it as \
         approved"
    )]
    ApproverIsAuthor { signer: String, version: u64 },
    #[error("{signer} has already signed version {version} as {meaning:?}")]
    Duplicate {
        signer: String,
        version: u64,
        meaning: Meaning,
    },
}

impl Manifestation {
    /// The human-readable line of §11.50: printed name, UTC date and time, meaning.
    pub fn line(&self) -> String {
        format!(
            "{} ({}), {} UTC, {}, version {}",
            self.name,
            self.signer,
            self.signed_at
                .to_string()
                .replace('T', " ")
                .trim_end_matches('Z'),
            self.meaning.as_str(),
            self.version
        )
    }
}
