//! The event: one entry of the log, its canonical bytes (RFC 8785) and its leaf hash.
//!
//! A caller submits an [`EventDraft`]; the sequencer alone gives it its sequence number and
//! timestamp, turning it into an [`Event`], whose canonical JSON bytes are the Merkle leaf.

use crate::hash::{leaf_hash, Hash};
use crate::jcs::{write_canonical, JcsError};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

/// How the actor proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// An interactive login session.
    Session,
    /// A revocable API token (service accounts, pipelines).
    ApiToken,
    /// The server itself (first start, automated checks).
    System,
}

/// Who did it: user id, printed full name, role, and how they authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub role: String,
    pub auth: AuthMethod,
}

/// Where it came from: the device check of 21 CFR 11.10(h).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// The record an event touches, and the version of it the event creates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub version: u64,
}

/// An event as a caller submits it, before the sequencer orders and timestamps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDraft {
    pub actor: Actor,
    #[serde(default)]
    pub client: Client,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordRef>,
    /// The leaf hash of the record's previous version: present exactly when version > 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub payload: serde_json::Value,
}

/// An event in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// 0-based leaf index in the log.
    pub seq: u64,
    /// Server time of the commit; never decreases along the log.
    pub timestamp: Timestamp,
    pub actor: Actor,
    pub client: Client,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub payload: serde_json::Value,
}

/// An event that cannot be written or read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventError {
    #[error("event field `{field}` must not be empty")]
    EmptyField { field: &'static str },
    #[error("record {kind}/{id}: versions start at 1, found 0")]
    VersionZero { kind: String, id: String },
    #[error("record {kind}/{id} version {version} needs `prev`, the leaf hash of version {}", version - 1)]
    MissingPrev {
        kind: String,
        id: String,
        version: u64,
    },
    #[error("record {kind}/{id} version 1 is a first version and must not carry `prev`")]
    UnexpectedPrev { kind: String, id: String },
    #[error("`prev` is only meaningful for an event that touches a record")]
    PrevWithoutRecord,
    #[error("event payload cannot be written canonically: {0}")]
    Canonical(#[from] JcsError),
    #[error("event is not valid JSON of the event form: {0}")]
    Malformed(String),
}

impl EventDraft {
    /// Checks what a log entry must satisfy before it is sequenced.
    pub fn validate(&self) -> Result<(), EventError> {
        for (field, value) in [
            ("actor.id", &self.actor.id),
            ("actor.name", &self.actor.name),
            ("actor.role", &self.actor.role),
            ("action", &self.action),
        ] {
            if value.trim().is_empty() {
                return Err(EventError::EmptyField { field });
            }
        }
        match (&self.record, &self.prev) {
            (None, Some(_)) => Err(EventError::PrevWithoutRecord),
            (None, None) => Ok(()),
            (Some(r), prev) => {
                if r.kind.is_empty() {
                    return Err(EventError::EmptyField {
                        field: "record.type",
                    });
                }
                if r.id.is_empty() {
                    return Err(EventError::EmptyField { field: "record.id" });
                }
                match (r.version, prev) {
                    (0, _) => Err(EventError::VersionZero {
                        kind: r.kind.clone(),
                        id: r.id.clone(),
                    }),
                    (1, Some(_)) => Err(EventError::UnexpectedPrev {
                        kind: r.kind.clone(),
                        id: r.id.clone(),
                    }),
                    (v, None) if v > 1 => Err(EventError::MissingPrev {
                        kind: r.kind.clone(),
                        id: r.id.clone(),
                        version: v,
                    }),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Gives the draft its place and time in the log.
    pub fn seal(self, seq: u64, timestamp: Timestamp) -> Event {
        Event {
            seq,
            timestamp,
            actor: self.actor,
            client: self.client,
            action: self.action,
            record: self.record,
            prev: self.prev,
            reason: self.reason,
            payload: self.payload,
        }
    }
}

impl Event {
    /// The event's canonical JSON bytes: the Merkle leaf.
    pub fn to_canonical(&self) -> Result<Vec<u8>, EventError> {
        let value = serde_json::to_value(self).map_err(|e| EventError::Malformed(e.to_string()))?;
        let mut out = Vec::with_capacity(256);
        write_canonical(&value, &mut out)?;
        Ok(out)
    }

    /// Reads an event from its stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Event, EventError> {
        serde_json::from_slice(bytes).map_err(|e| EventError::Malformed(e.to_string()))
    }
}

/// An event encoded for the log: its canonical bytes and their leaf hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    pub seq: u64,
    pub timestamp: Timestamp,
    pub bytes: Vec<u8>,
    pub leaf: Hash,
}

impl EncodedEvent {
    pub fn encode(event: &Event) -> Result<EncodedEvent, EventError> {
        let bytes = event.to_canonical()?;
        Ok(EncodedEvent {
            seq: event.seq,
            timestamp: event.timestamp,
            leaf: leaf_hash(&bytes),
            bytes,
        })
    }
}

/// The parts of a stored event that verification checks besides its hash; reading only these
/// skips the payload without building it.
#[derive(Debug, Deserialize)]
pub struct EventHead {
    pub seq: u64,
    pub timestamp: Timestamp,
    #[serde(default)]
    pub record: Option<RecordRef>,
    #[serde(default)]
    pub prev: Option<Hash>,
}

impl EventHead {
    pub fn from_bytes(bytes: &[u8]) -> Result<EventHead, EventError> {
        serde_json::from_slice(bytes).map_err(|e| EventError::Malformed(e.to_string()))
    }
}
