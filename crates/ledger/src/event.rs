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
    /// A person's user id and password sent with the request itself (HTTP Basic, as MLflow
    /// clients send them), checked like a login.
    Password,
    /// The server itself (first start, automated checks).
    System,
    /// Nobody proven: a failed login, recorded with the user id that was tried.
    Unauthenticated,
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
    /// The leaf hash of the record version this event attests to without changing it (an
    /// electronic signature, say): present, the event creates no version, and `record.version`
    /// must be the record's latest version, whose leaf hash this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Hash>,
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
    /// The leaf hash of the record version this event attests to without changing it (an
    /// electronic signature, say): present, the event creates no version, and `record.version`
    /// must be the record's latest version, whose leaf hash this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Hash>,
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
    #[error("`target` is only meaningful for an event that touches a record")]
    TargetWithoutRecord,
    #[error("record {kind}/{id}: an event attests to a version (`target`) or creates one (`prev`), not both")]
    TargetWithPrev { kind: String, id: String },
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
        if self.record.is_none() && self.target.is_some() {
            return Err(EventError::TargetWithoutRecord);
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
                if self.target.is_some() && prev.is_some() {
                    return Err(EventError::TargetWithPrev {
                        kind: r.kind.clone(),
                        id: r.id.clone(),
                    });
                }
                match (r.version, prev) {
                    (0, _) => Err(EventError::VersionZero {
                        kind: r.kind.clone(),
                        id: r.id.clone(),
                    }),
                    _ if self.target.is_some() => Ok(()),
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
            target: self.target,
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
    #[serde(default)]
    pub target: Option<Hash>,
}

impl EventHead {
    /// Reads the head of a stored event. Canonical events (no whitespace, unique keys) are
    /// scanned at their top level only, which skips the payload several times faster than a
    /// parser can; anything else goes through the full parser, whose errors say what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<EventHead, EventError> {
        match scan::forward(bytes) {
            Some(head) => Ok(head),
            None => serde_json::from_slice(bytes).map_err(|e| EventError::Malformed(e.to_string())),
        }
    }
}

impl EventHead {
    /// Reads the head of an event known to be canonical, from its end, without looking at the
    /// payload; falls back to [`EventHead::from_bytes`]. It does not re-check the grammar of
    /// what it skips: verification uses it after the event's bytes have been matched to their
    /// leaf hash, and the tree to signed checkpoints, which is what proves the bytes are the
    /// ones the log wrote.
    pub fn from_canonical(bytes: &[u8]) -> Result<EventHead, EventError> {
        match scan::tail(bytes) {
            Some(head) => Ok(head),
            None => EventHead::from_bytes(bytes),
        }
    }
}

/// A scanner for the top level of a canonical event. It answers `None` at the first thing it
/// does not expect, leaving the judgement to the full parser.
mod scan {
    use super::{EventHead, RecordRef};
    use crate::hash::Hash;
    use crate::timestamp::Timestamp;

    /// Reads the head from the end of a canonical event, where JCS's key order puts it:
    /// `... "payload":P[,"prev":H][,"reason":R][,"record":{..}],"seq":N[,"target":H],"timestamp":T}`. The
    /// payload, usually most of the event, is never looked at.
    pub(super) fn tail(b: &[u8]) -> Option<EventHead> {
        let mut t = Tail { b, end: b.len() };
        t.strip(b"}")?;
        let timestamp = t.string()?;
        t.strip(b",\"timestamp\":")?;
        let mut target = None;
        if t.last()? == b'"' {
            let value = t.string()?;
            t.strip(b",\"target\":")?;
            target = Some(Hash::from_hex(std::str::from_utf8(value).ok()?).ok()?);
        }
        let seq = unsigned(t.digits()?)?;
        t.strip(b",\"seq\":")?;
        let timestamp = Timestamp::parse(std::str::from_utf8(timestamp).ok()?).ok()?;
        let mut record = None;
        if t.last()? == b'}' {
            let mut r = t.clone();
            r.strip(b"}")?;
            let version = unsigned(r.digits()?)?;
            let parsed = r.strip(b",\"version\":").and_then(|_| {
                let kind = r.string()?;
                r.strip(b",\"type\":")?;
                let id = r.string()?;
                r.strip(b",\"record\":{\"id\":")?;
                Some((kind, id))
            });
            match parsed {
                // A JSON-escaped id or type goes to the forward scan, which unescapes.
                Some((kind, id)) if !kind.contains(&b'\\') && !id.contains(&b'\\') => {
                    record = Some(RecordRef {
                        kind: String::from_utf8(kind.to_vec()).ok()?,
                        id: String::from_utf8(id.to_vec()).ok()?,
                        version,
                    });
                    t = r;
                }
                Some(_) => return None,
                // An object that is not a record is the payload: nothing lies between it and seq.
                None => {
                    return Some(EventHead {
                        seq,
                        timestamp,
                        record: None,
                        prev: None,
                        target,
                    })
                }
            }
        }
        let mut prev = None;
        // Strings before this point: the reason and the previous version's hash, or a payload.
        let mut reason_seen = false;
        while t.last()? == b'"' {
            let mut k = t.clone();
            let value = k.string()?;
            if !reason_seen && k.strip(b",\"reason\":").is_some() {
                reason_seen = true;
                t = k;
            } else if k.strip(b",\"prev\":").is_some() {
                prev = Some(Hash::from_hex(std::str::from_utf8(value).ok()?).ok()?);
                break;
            } else {
                k.strip(b",\"payload\":")?;
                break;
            }
        }
        Some(EventHead {
            seq,
            timestamp,
            record,
            prev,
            target,
        })
    }

    /// Reads backwards from `end`.
    #[derive(Clone)]
    struct Tail<'a> {
        b: &'a [u8],
        end: usize,
    }

    impl<'a> Tail<'a> {
        fn last(&self) -> Option<u8> {
            self.end.checked_sub(1).map(|i| self.b[i])
        }

        fn strip(&mut self, suffix: &[u8]) -> Option<()> {
            self.b[..self.end]
                .ends_with(suffix)
                .then(|| self.end -= suffix.len())
        }

        fn digits(&mut self) -> Option<&'a [u8]> {
            let end = self.end;
            while self.last()?.is_ascii_digit() {
                self.end -= 1;
            }
            (self.end < end).then(|| &self.b[self.end..end])
        }

        /// A string ending here; returns its raw contents. A quote closes a string exactly when
        /// an even number of backslashes precede it.
        fn string(&mut self) -> Option<&'a [u8]> {
            self.strip(b"\"")?;
            let close = self.end;
            loop {
                let quote = memchr::memrchr(b'"', &self.b[..self.end])?;
                let slashes = self.b[..quote]
                    .iter()
                    .rev()
                    .take_while(|&&c| c == b'\\')
                    .count();
                self.end = quote;
                if slashes % 2 == 0 {
                    return Some(&self.b[quote + 1..close]);
                }
            }
        }
    }

    pub(super) fn forward(b: &[u8]) -> Option<EventHead> {
        let mut s = Scanner { b, at: 0 };
        s.eat(b'{')?;
        let (mut seq, mut timestamp) = (None, None);
        let (mut record, mut prev): (Option<RecordRef>, Option<Hash>) = (None, None);
        let mut target: Option<Hash> = None;
        loop {
            let key = s.plain_string()?;
            s.eat(b':')?;
            let start = s.at;
            s.skip_value()?;
            let raw = &b[start..s.at];
            match key {
                b"seq" if seq.is_none() => seq = Some(unsigned(raw)?),
                b"timestamp" if timestamp.is_none() => {
                    timestamp =
                        Some(Timestamp::parse(std::str::from_utf8(unquote(raw)?).ok()?).ok()?)
                }
                b"prev" if prev.is_none() => {
                    prev = Some(Hash::from_hex(std::str::from_utf8(unquote(raw)?).ok()?).ok()?)
                }
                b"target" if target.is_none() => {
                    target = Some(Hash::from_hex(std::str::from_utf8(unquote(raw)?).ok()?).ok()?)
                }
                b"record" if record.is_none() => record = Some(serde_json::from_slice(raw).ok()?),
                b"seq" | b"timestamp" | b"prev" | b"record" | b"target" => return None,
                _ => {}
            }
            match s.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        (s.at == b.len()).then_some(())?;
        Some(EventHead {
            seq: seq?,
            timestamp: timestamp?,
            record,
            prev,
            target,
        })
    }

    fn unquote(raw: &[u8]) -> Option<&[u8]> {
        raw.strip_prefix(b"\"")?.strip_suffix(b"\"")
    }

    /// A JSON integer as JCS writes it: digits, no sign, no leading zero, within 2^53.
    fn unsigned(raw: &[u8]) -> Option<u64> {
        if raw.is_empty() || raw.len() > 16 || (raw.len() > 1 && raw[0] == b'0') {
            return None;
        }
        let n = raw.iter().try_fold(0u64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
        })?;
        (n <= 1 << 53).then_some(n)
    }

    struct Scanner<'a> {
        b: &'a [u8],
        at: usize,
    }

    impl<'a> Scanner<'a> {
        fn next(&mut self) -> Option<u8> {
            let c = *self.b.get(self.at)?;
            self.at += 1;
            Some(c)
        }

        fn eat(&mut self, want: u8) -> Option<()> {
            (self.next()? == want).then_some(())
        }

        /// A key without escapes (every key of an event is plain ASCII).
        fn plain_string(&mut self) -> Option<&'a [u8]> {
            self.eat(b'"')?;
            let start = self.at;
            let len = memchr::memchr2(b'"', b'\\', &self.b[start..])?;
            self.at = start + len;
            self.eat(b'"')?;
            Some(&self.b[start..start + len])
        }

        /// Moves past a string whose opening quote was just read.
        fn skip_string_body(&mut self) -> Option<()> {
            loop {
                let rest = &self.b[self.at..];
                let i = memchr::memchr2(b'"', b'\\', rest)?;
                self.at += i + 1;
                if rest[i] == b'"' {
                    return Some(());
                }
                self.at += 1; // the escaped character
            }
        }

        fn skip_value(&mut self) -> Option<()> {
            match self.next()? {
                b'"' => self.skip_string_body(),
                b'{' | b'[' => {
                    let mut depth = 1usize;
                    while depth > 0 {
                        match self.next()? {
                            b'"' => self.skip_string_body()?,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => depth -= 1,
                            _ => {}
                        }
                    }
                    Some(())
                }
                c if c == b'-' || c.is_ascii_alphanumeric() => {
                    while let Some(&c) = self.b.get(self.at) {
                        if matches!(c, b',' | b'}' | b']') {
                            break;
                        }
                        if !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')) {
                            return None;
                        }
                        self.at += 1;
                    }
                    Some(())
                }
                _ => None,
            }
        }
    }
}
