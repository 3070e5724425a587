//! RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of a JSON value that gets hashed
//! and signed, plus a strict parser that turns JSON text into that form.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;
use std::fmt;

/// Integers up to this magnitude (2^53) are exactly representable as IEEE-754 doubles; every
/// integer between them is too, so the check below is a plain magnitude comparison.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Why a value cannot be written canonically.
///
/// Every variant that concerns a place inside the value carries `path`, written like
/// `$.payload.items[3].x`; keys that are not plain identifiers are bracketed, as `$["a b"]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// An integer beyond ±2^53 that canonicalizing would silently change: held as i64/u64 in a
    /// value, or written in text as an integer literal whose nearest double is written back as
    /// a different number.
    #[error("integer {value} at {path} is beyond ±2^53 and has no exact IEEE-754 double")]
    IntegerOutOfRange {
        /// Where the integer is.
        path: String,
        /// The integer as written.
        value: String,
    },
    /// A number is NaN, infinite, or rounds to infinity; JSON and RFC 8785 have no such numbers.
    #[error("number at {path} is not a finite IEEE-754 double")]
    NotFinite {
        /// Where the number is.
        path: String,
    },
    /// An object has the same key twice (compared after unescaping); RFC 8785 forbids it.
    #[error("duplicate key {key:?} in the object at {path}")]
    DuplicateKey {
        /// Where the object holding the duplicate is.
        path: String,
        /// The duplicated key.
        key: String,
    },
    /// The text is not JSON; the message is serde_json's.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
}

/// Appends the canonical form of `value` to `out`.
///
/// On error `out` is left as it was.
///
/// ```
/// let value = serde_json::json!({"b": [1.50, "\u{20ac}"], "a": null});
/// let mut out = b"prefix ".to_vec();
/// modeltrail_ledger::jcs::write_canonical(&value, &mut out).unwrap();
/// assert_eq!(out, "prefix {\"a\":null,\"b\":[1.5,\"\u{20ac}\"]}".as_bytes());
/// ```
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), JcsError> {
    let start = out.len();
    let mut encoder = Encoder {
        out,
        pending: Vec::new(),
    };
    match encoder.value(value) {
        Ok(()) => Ok(()),
        Err(failure) => {
            encoder.out.truncate(start);
            Err(failure.into_error())
        }
    }
}

/// The canonical form as a new vector.
///
/// ```
/// let value = serde_json::json!({"z": 1e21, "y": -0.0, "x": 1e-7});
/// let bytes = modeltrail_ledger::jcs::to_canonical_vec(&value).unwrap();
/// assert_eq!(bytes, br#"{"x":1e-7,"y":0,"z":1e+21}"#);
/// ```
pub fn to_canonical_vec(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

/// Parses JSON text strictly (rejecting duplicate object keys, which RFC 8785 requires;
/// serde_json's Value silently keeps the last) and returns its canonical form.
///
/// Numbers are read as the nearest IEEE-754 double, as RFC 8785 prescribes, except that an
/// integer literal beyond ±2^53 is rejected if that double would be written back as a different
/// number (`9007199254740993` is rejected; `100000000000000000000`, a double's own canonical
/// spelling, is accepted).
///
/// ```
/// use modeltrail_ledger::jcs::{canonicalize_str, JcsError};
/// assert_eq!(canonicalize_str(r#"{ "b": 4.50, "a": 2e-3 }"#).unwrap(), br#"{"a":0.002,"b":4.5}"#);
/// assert!(matches!(canonicalize_str(r#"{"a":1,"a":2}"#), Err(JcsError::DuplicateKey { .. })));
/// ```
pub fn canonicalize_str(text: &str) -> Result<Vec<u8>, JcsError> {
    let mut state = ParseState {
        text,
        cursor: 0,
        failure: None,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = ValueSeed { state: &mut state }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => to_canonical_vec(&value),
        Err(error) => Err(match state.failure.take() {
            Some(failure) => failure.into_error(),
            None => JcsError::InvalidJson(error.to_string()),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors with a path built while unwinding, so the success path pays nothing for it.

/// One step from a container to a member.
enum Segment {
    Key(String),
    Index(usize),
}

enum FailureKind {
    IntegerOutOfRange(String),
    NotFinite,
    DuplicateKey(String),
}

/// A failure deep inside a value; each enclosing level appends its segment on the way out.
struct Failure {
    kind: FailureKind,
    /// Innermost segment first.
    reversed_path: Vec<Segment>,
}

impl Failure {
    fn new(kind: FailureKind) -> Box<Failure> {
        Box::new(Failure {
            kind,
            reversed_path: Vec::new(),
        })
    }

    fn within(mut self: Box<Self>, segment: Segment) -> Box<Self> {
        self.reversed_path.push(segment);
        self
    }

    fn into_error(self) -> JcsError {
        let path = render_path(&self.reversed_path);
        match self.kind {
            FailureKind::IntegerOutOfRange(value) => JcsError::IntegerOutOfRange { path, value },
            FailureKind::NotFinite => JcsError::NotFinite { path },
            FailureKind::DuplicateKey(key) => JcsError::DuplicateKey { path, key },
        }
    }
}

fn render_path(reversed: &[Segment]) -> String {
    let mut path = String::from("$");
    for segment in reversed.iter().rev() {
        match segment {
            Segment::Key(key)
                if !key.is_empty()
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                path.push('.');
                path.push_str(key);
            }
            Segment::Key(key) => {
                let mut quoted = Vec::with_capacity(key.len() + 2);
                write_string(&mut quoted, key);
                path.push('[');
                path.push_str(&String::from_utf8_lossy(&quoted));
                path.push(']');
            }
            Segment::Index(index) => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

// ---------------------------------------------------------------------------------------------
// The encoder.

type Step = Result<(), Box<Failure>>;

struct Encoder<'v, 'o> {
    out: &'o mut Vec<u8>,
    /// Members of objects that must be reordered, as a stack shared by all nesting levels: each
    /// object sorts its own tail and truncates it when done, so one allocation serves the whole
    /// value (and none is made when every object already iterates in canonical order).
    pending: Vec<(&'v str, &'v Value)>,
}

impl<'v> Encoder<'v, '_> {
    fn value(&mut self, value: &'v Value) -> Step {
        match value {
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Number(number) => return write_number(self.out, number),
            Value::String(string) => write_string(self.out, string),
            Value::Array(items) => return self.array(items),
            Value::Object(members) => return self.object(members),
        }
        Ok(())
    }

    fn array(&mut self, items: &'v [Value]) -> Step {
        self.out.push(b'[');
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            self.value(item)
                .map_err(|failure| failure.within(Segment::Index(index)))?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn object(&mut self, members: &'v Map<String, Value>) -> Step {
        self.out.push(b'{');
        // UTF-8 byte order equals UTF-16 code unit order unless keys mix U+E000..U+FFFF with
        // characters above U+FFFF; neither occurs when no key has a byte >= 0xEE, which covers
        // every ASCII key.
        let bytewise = members.keys().all(|key| bytewise_sortable(key));
        let in_order = if bytewise {
            members
                .keys()
                .is_sorted_by(|a, b| a.as_bytes() < b.as_bytes())
        } else {
            members
                .keys()
                .is_sorted_by(|a, b| cmp_utf16(a, b) == Ordering::Less)
        };
        if in_order {
            // serde_json's default map is a BTreeMap, so ASCII keys always come this way.
            for (index, (key, value)) in members.iter().enumerate() {
                self.member(index, key, value)?;
            }
        } else {
            let base = self.pending.len();
            self.pending
                .extend(members.iter().map(|(key, value)| (key.as_str(), value)));
            if let Some(mine) = self.pending.get_mut(base..) {
                if bytewise {
                    mine.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                } else {
                    mine.sort_unstable_by(|a, b| cmp_utf16(a.0, b.0));
                }
            }
            for index in 0..members.len() {
                // Nested objects push above `base + members.len()` and truncate back to it.
                let Some(&(key, value)) = self.pending.get(base + index) else {
                    break;
                };
                self.member(index, key, value)?;
            }
            self.pending.truncate(base);
        }
        self.out.push(b'}');
        Ok(())
    }

    fn member(&mut self, index: usize, key: &str, value: &'v Value) -> Step {
        if index > 0 {
            self.out.push(b',');
        }
        write_string(self.out, key);
        self.out.push(b':');
        self.value(value)
            .map_err(|failure| failure.within(Segment::Key(key.to_owned())))
    }
}

fn bytewise_sortable(key: &str) -> bool {
    key.is_ascii() || key.bytes().all(|b| b < 0xEE)
}

/// Orders two strings by their UTF-16 code units (RFC 8785 section 3.2.3).
fn cmp_utf16(a: &str, b: &str) -> Ordering {
    // Equal leading bytes are equal code units; compare from the character where they part.
    let mut start = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while start > 0 && !a.is_char_boundary(start) {
        start -= 1;
    }
    match (a.get(start..), b.get(start..)) {
        (Some(a), Some(b)) => a.encode_utf16().cmp(b.encode_utf16()),
        _ => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

/// Writes a string per RFC 8785 section 3.2.2.2: only `"`, `\` and U+0000..U+001F are escaped.
fn write_string(out: &mut Vec<u8>, string: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = string.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean_from = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0C => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1F => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0x0F) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..index]);
        out.extend_from_slice(escape);
        clean_from = index + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

/// Writes a number as ECMAScript's Number.prototype.toString does (RFC 8785 section 3.2.2.3).
fn write_number(out: &mut Vec<u8>, number: &Number) -> Step {
    if let Some(integer) = number.as_i64() {
        if integer.unsigned_abs() > MAX_EXACT_INTEGER {
            return Err(Failure::new(FailureKind::IntegerOutOfRange(
                integer.to_string(),
            )));
        }
        if integer < 0 {
            out.push(b'-');
        }
        write_decimal(out, integer.unsigned_abs());
    } else if let Some(integer) = number.as_u64() {
        if integer > MAX_EXACT_INTEGER {
            return Err(Failure::new(FailureKind::IntegerOutOfRange(
                integer.to_string(),
            )));
        }
        write_decimal(out, integer);
    } else {
        match number.as_f64() {
            Some(float) if float.is_finite() => {
                // ryu-js prints -0 as "0" and switches to exponent form at 1e21 and below 1e-6,
                // exactly as ECMAScript does.
                out.extend_from_slice(ryu_js::Buffer::new().format_finite(float).as_bytes());
            }
            _ => return Err(Failure::new(FailureKind::NotFinite)),
        }
    }
    Ok(())
}

/// Writes an integer below 2^53 in decimal, which is what ECMAScript prints for it.
fn write_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

// ---------------------------------------------------------------------------------------------
// The strict parser: serde_json's tokenizer, a visitor that refuses duplicate keys, and exact
// re-reading of floating-point numbers.
//
// Without its `float_roundtrip` feature serde_json reads decimals with up to two roundings and
// can land one or two units in the last place off the nearest double (it reads
// 333333333.33333329 as 333333333.33333325, breaking the RFC's own example). So each float is
// re-read from its text with the correctly rounded `str::parse::<f64>`. serde_json visits numbers
// in document order, so a cursor that steps from one number token to the next (skipping strings)
// finds the text of the number being visited.

struct ParseState<'t> {
    text: &'t str,
    /// Byte offset just past the last number token handed out.
    cursor: usize,
    /// Set when the visitor, not the syntax, refused the input.
    failure: Option<Box<Failure>>,
}

impl<'t> ParseState<'t> {
    /// The text of the next number token after the cursor.
    fn next_number(&mut self) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        let mut at = self.cursor;
        while let Some(&byte) = bytes.get(at) {
            match byte {
                b'"' => {
                    at += 1;
                    while let Some(&byte) = bytes.get(at) {
                        at += 1;
                        match byte {
                            b'\\' => at += 1,
                            b'"' => break,
                            _ => {}
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let start = at;
                    while matches!(
                        bytes.get(at),
                        Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    ) {
                        at += 1;
                    }
                    self.cursor = at;
                    return self.text.get(start..at);
                }
                _ => at += 1,
            }
        }
        self.cursor = at;
        None
    }

    fn refuse<E: de::Error>(&mut self, kind: FailureKind) -> E {
        let message = match &kind {
            FailureKind::IntegerOutOfRange(value) => format!("integer {value} beyond ±2^53"),
            FailureKind::NotFinite => "number rounds to infinity".to_owned(),
            FailureKind::DuplicateKey(key) => format!("duplicate key {key:?}"),
        };
        self.failure = Some(Failure::new(kind));
        E::custom(message)
    }

    /// An integer literal beyond ±2^53 becomes a double only if the canonical spelling of that
    /// double denotes the same number (as `100000000000000000000` or `1000000000000000000000`,
    /// written back as `1e+21`, do). This keeps canonical output, which spells large doubles
    /// as integers, a fixed point, while `9007199254740993` (which would become
    /// `9007199254740992`) is refused instead of silently rounded.
    fn big_integer<E: de::Error>(
        &mut self,
        token: Option<&str>,
        approximate: f64,
    ) -> Result<Value, E> {
        let Some(text) = token else {
            return Err(self.refuse(FailureKind::IntegerOutOfRange(approximate.to_string())));
        };
        let nearest = text.parse::<f64>().unwrap_or(approximate);
        if nearest.is_finite() {
            let mut buffer = ryu_js::Buffer::new();
            let written = decimal_parts(buffer.format_finite(nearest));
            if written.is_some() && written == decimal_parts(text) {
                if let Some(number) = Number::from_f64(nearest) {
                    return Ok(Value::Number(number));
                }
            }
        }
        Err(self.refuse(FailureKind::IntegerOutOfRange(text.to_owned())))
    }

    fn note_segment(&mut self, segment: Segment) {
        if let Some(failure) = self.failure.take() {
            self.failure = Some(failure.within(segment));
        }
    }
}

struct ValueSeed<'s, 't> {
    state: &'s mut ParseState<'t>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        let token = self.state.next_number();
        if value <= MAX_EXACT_INTEGER {
            Ok(Value::from(value))
        } else {
            self.state.big_integer(token, value as f64)
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        let token = self.state.next_number();
        if value.unsigned_abs() <= MAX_EXACT_INTEGER {
            Ok(Value::from(value))
        } else {
            self.state.big_integer(token, value as f64)
        }
    }

    fn visit_f64<E: de::Error>(self, approximate: f64) -> Result<Value, E> {
        let token = self.state.next_number();
        if let Some(text) = token {
            // An integer literal too long for i64/u64 (or "-0", which is fine).
            if !text.contains(['.', 'e', 'E']) && approximate.abs() >= MAX_EXACT_INTEGER as f64 {
                return self.state.big_integer(token, approximate);
            }
        }
        let exact = token
            .and_then(|text| text.parse::<f64>().ok())
            .unwrap_or(approximate);
        match Number::from_f64(exact) {
            Some(number) => Ok(Value::Number(number)),
            None => Err(self.state.refuse(FailureKind::NotFinite)),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0));
        loop {
            let index = items.len();
            match access.next_element_seed(ValueSeed {
                state: &mut *self.state,
            }) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(error) => {
                    self.state.note_segment(Segment::Index(index));
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match members.entry(key) {
                Entry::Occupied(taken) => {
                    let key = taken.key().clone();
                    return Err(self.state.refuse(FailureKind::DuplicateKey(key)));
                }
                Entry::Vacant(slot) => {
                    let seed = ValueSeed {
                        state: &mut *self.state,
                    };
                    match access.next_value_seed(seed) {
                        Ok(value) => {
                            slot.insert(value);
                        }
                        Err(error) => {
                            self.state.note_segment(Segment::Key(slot.key().clone()));
                            return Err(error);
                        }
                    }
                }
            }
        }
        Ok(Value::Object(members))
    }
}

/// A decimal number's sign, significant digits and power of ten, so that `1e+21`,
/// `1000000000000000000000` and `10.0e20` come out equal. `None` if the text is not a number.
fn decimal_parts(text: &str) -> Option<(bool, String, i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, mut exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let without_trailing = digits.trim_end_matches('0');
    exponent = exponent
        .checked_sub(i64::try_from(fraction.len()).ok()?)?
        .checked_add(i64::try_from(digits.len() - without_trailing.len()).ok()?)?;
    let significant = without_trailing.trim_start_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, significant.to_owned(), exponent))
}
