//! Acceptance criteria: the small expression language in which validation protocols,
//! data-readiness checks, fairness assessments and monitoring plans state what must hold, and
//! which the server evaluates itself, so no verdict is ever typed in.
//!
//! This module owns the language: its tokenizer and parser ([`Criterion::parse`], with errors that
//! name the column, what was expected and what was found), the facts a criterion needs
//! ([`Criterion::references`]), and its evaluation against facts the caller supplies
//! ([`Criterion::evaluate`]), which records every value the verdict was computed from.
//!
//! ```text
//! criterion   = disjunction ;                           (* must be a condition, see below *)
//! disjunction = conjunction { "or" conjunction } ;
//! conjunction = negation { "and" negation } ;
//! negation    = "not" negation | comparison ;
//! comparison  = sum { compare_op sum } ;
//! compare_op  = "<" | "<=" | ">" | ">=" | "==" | "!=" ;
//! sum         = product { ( "+" | "-" ) product } ;
//! product     = unary { ( "*" | "/" ) unary } ;
//! unary       = "-" unary | primary ;
//! primary     = number | "(" disjunction ")" | builtin | metric ;
//! builtin     = ( "abs" | "min" | "max" ) "(" disjunction { "," disjunction } ")" ;
//! metric      = name [ "(" argument { "," argument } ")" ]
//!                    [ "[" selector { "," selector } "]" ] ;
//! argument    = name | string | number ;
//! selector    = name "=" ( name | string | number ) ;
//! name        = ( letter | "_" ) { letter | digit | "_" } ;   (* ASCII letters *)
//! number      = digit { digit } [ "." digit { digit } ] [ ( "e" | "E" ) [ "+" | "-" ] digit { digit } ] ;
//! string      = '"' { character other than '"', '\' or a control character | '\"' | '\\' } '"' ;
//! ```
//!
//! Examples: `auc >= 0.85 and sensitivity >= 0.9`, `missing_rate(age) <= 0.01`,
//! `auc[sex=female] >= 0.8`, `tpr[site="Basel 2"] > 0.75`, `not (fpr > 0.2)`,
//! `abs(calibration_slope - 1) <= 0.1`, `0.8 <= disparate_impact <= 1.25`.
//!
//! Rules beyond the grammar, all checked when parsing:
//! - Types: `and`, `or`, `not` and the whole criterion take *conditions* (comparisons and their
//!   combinations); comparisons, arithmetic and the built-in functions take *numbers*. A bare
//!   `auc` or `auc + 1` is refused ("a criterion must compare").
//! - Every comparison refers to at least one metric: `1 == 1` would be a typed-in verdict.
//! - `not` binds looser than a comparison: `not fpr > 0.2` is `not (fpr > 0.2)`.
//! - Chains: `0.8 <= x <= 1.25` means `0.8 <= x and x <= 1.25` (with `x` evaluated once). A chain
//!   runs one way: only `<`/`<=` together or `>`/`>=` together; `==` and `!=` do not chain.
//! - No percent sign: `85%` is refused with a hint to write `0.85`. Metrics are fractions, and
//!   `%` reads as "modulo" to programmers; a criterion must mean one thing to everybody.
//! - `and`, `or`, `not` are reserved words (lowercase only); `abs`, `min`, `max` are built-in
//!   functions and cannot name a metric. Metric names are case-sensitive.
//! - Arguments of a metric (`missing_rate(age)`) are literal names, strings or numbers, never
//!   expressions; a bare word and the same text in quotes are the same argument.
//! - A selector (`auc[sex=female, site="Basel 2"]`) is a set of `key=value` pairs: a key appears
//!   at most once and the canonical form lists the keys in sorted order, so `[a=1, b=2]` and
//!   `[b=2, a=1]` name the same metric.
//! - Nesting is limited to [`MAX_NESTING`] levels, so hostile input cannot exhaust the stack.
//!
//! Evaluation:
//! - Every metric a criterion refers to is fetched and recorded, even where `and`/`or` could
//!   short-circuit, and every sub-expression is evaluated: the audit record holds every value
//!   referenced, and the verdict never depends on the order in which conditions are written.
//! - A metric that is missing or cannot be computed is an error naming it (all of them at once),
//!   never a silent `false`.
//! - Only finite numbers take part: a metric whose value is NaN or infinite is an error naming it
//!   (so a comparison with NaN never passes), division by zero is an error naming the division,
//!   and arithmetic that overflows is an error naming the expression.
//! - `==` and `!=` compare exactly; write `abs(a - b) <= 0.001` for a tolerance.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write};
use std::hash::BuildHasher;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The deepest nesting a criterion may have: parentheses, `not`, unary minus, function calls and
/// chains of operators each count one level.
pub const MAX_NESTING: usize = 64;

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// A parsed acceptance criterion.
///
/// It keeps the text it was parsed from: that text is what [`fmt::Display`] and serialization
/// write, so a record shows the criterion as its author wrote it. Two criteria are equal when
/// their structure is equal, whatever their spacing, parentheses or quoting.
#[derive(Clone, Debug)]
pub struct Criterion {
    source: String,
    condition: Condition,
    references: Vec<Reference>,
}

/// A metric a criterion refers to: a name, its arguments and its selector, as in
/// `missing_rate(age)` or `auc[sex=female]`. Its [`fmt::Display`] is the canonical text that
/// evaluation records and that [`Facts`] implementations keyed by text look up.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    name: String,
    args: Vec<Arg>,
    /// Sorted by key; keys are unique.
    selector: Vec<(String, String)>,
}

/// An argument of a metric: `age` in `missing_rate(age)`, `0.5` in `quantile(age, 0.5)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A bare word or a quoted string (the same thing: `"age"` is `age`).
    Name(String),
    /// A number literal.
    Number(f64),
}

/// Where and why a criterion's text does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the text.
    pub position: usize,
    /// 1-based line (criteria are usually one line).
    pub line: usize,
    /// 1-based column, counted in characters from the start of the line.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

/// The values a criterion is evaluated against: metric results, data-readiness measurements.
pub trait Facts {
    /// The value of the metric `reference` names (`reference.to_string()` is its canonical text).
    fn fact(&self, reference: &Reference) -> Result<f64, FactError>;
}

/// Why a fact has no usable value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FactError {
    /// The result holds no such metric.
    #[error("not in the result")]
    Missing,
    /// The metric exists but cannot be computed, for the reason given (e.g. an unknown column).
    #[error("{0}")]
    Unavailable(String),
    /// The value is NaN or infinite. Evaluation reports such values itself; an implementation
    /// may also return this.
    #[error("not a finite number ({0})")]
    NotFinite(f64),
}

/// One metric evaluation could not use, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FactFailure {
    /// The canonical text of the metric, e.g. `auc[sex=female]`.
    pub reference: String,
    pub problem: FactError,
}

/// Why a criterion could not be evaluated. A criterion that cannot be evaluated has no verdict:
/// it neither passes nor fails.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Metrics that are missing, cannot be computed or are not finite: all of them, in the order
    /// the criterion refers to them.
    #[error("{}", join_failures(.0))]
    Facts(Vec<FactFailure>),
    /// A division whose divisor evaluated to zero.
    #[error("division by zero: \"{divisor}\" is 0 in \"{expression}\"")]
    DivisionByZero { expression: String, divisor: String },
    /// Arithmetic whose result is not a finite number (overflow).
    #[error("\"{expression}\" is not a finite number ({value})")]
    NotFinite { expression: String, value: f64 },
}

/// The verdict of a criterion and the values it was computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub passed: bool,
    /// Every metric the criterion refers to, once each, in the order of first reference.
    pub values: Vec<UsedValue>,
    /// The criterion as written.
    pub text: String,
}

/// A metric's value as used in an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsedValue {
    /// Canonical text, e.g. `auc[sex=female]` or `missing_rate(age)`.
    pub reference: String,
    pub value: f64,
}

/// [`Facts`] from a function, for callers whose metrics are not a map keyed by canonical text.
pub struct FactsFn<F>(pub F);

impl<F: Fn(&Reference) -> Result<f64, FactError>> Facts for FactsFn<F> {
    fn fact(&self, reference: &Reference) -> Result<f64, FactError> {
        (self.0)(reference)
    }
}

/// A map from canonical reference text (`"auc"`, `"auc[sex=female]"`) to value.
impl<S: BuildHasher> Facts for HashMap<String, f64, S> {
    fn fact(&self, reference: &Reference) -> Result<f64, FactError> {
        self.get(&reference.to_string())
            .copied()
            .ok_or(FactError::Missing)
    }
}

/// A map from canonical reference text (`"auc"`, `"auc[sex=female]"`) to value.
impl Facts for BTreeMap<String, f64> {
    fn fact(&self, reference: &Reference) -> Result<f64, FactError> {
        self.get(&reference.to_string())
            .copied()
            .ok_or(FactError::Missing)
    }
}

// ---------------------------------------------------------------------------------------------
// Criterion
// ---------------------------------------------------------------------------------------------

impl Criterion {
    /// Parses and type-checks `text`.
    pub fn parse(text: &str) -> Result<Criterion, ParseError> {
        let mut parser = Parser::new(text)?;
        if parser.current.kind == TokenKind::End {
            return Err(parser.error_at(
                parser.current.span.start,
                "the criterion is empty: write a condition such as \"auc >= 0.85\"".to_owned(),
            ));
        }
        let parsed = parser.disjunction()?;
        parser.expect_end()?;
        let condition = match parsed.expr {
            Typed::Condition(condition) => condition,
            Typed::Number(_) => {
                let text = parser.text(parsed.span);
                return Err(parser.error_at(
                    parsed.span.start,
                    format!(
                        "a criterion must compare: \"{text}\" is a number, not a condition such \
                         as \"{text} >= 0.85\""
                    ),
                ));
            }
        };
        Ok(Criterion {
            source: text.to_owned(),
            condition,
            references: parser.references,
        })
    }

    /// The text the criterion was parsed from, as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The canonical text: single spaces around operators, the fewest parentheses (and always
    /// around the operand of `not`), canonical numbers, sorted selectors. Parsing it gives an
    /// equal criterion.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        write_condition(&mut out, &self.condition, &self.references);
        out
    }

    /// The metrics the criterion needs, once each, in the order of first reference.
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// Evaluates the criterion against `facts`: fetches every metric it refers to (all of them,
    /// see the module documentation), then computes the verdict.
    pub fn evaluate<F: Facts + ?Sized>(&self, facts: &F) -> Result<Evaluation, EvalError> {
        let mut values = Vec::with_capacity(self.references.len());
        let mut failures = Vec::new();
        for reference in &self.references {
            match facts.fact(reference) {
                Ok(value) if value.is_finite() => values.push(value),
                Ok(value) => failures.push(FactFailure {
                    reference: reference.to_string(),
                    problem: FactError::NotFinite(value),
                }),
                Err(problem) => failures.push(FactFailure {
                    reference: reference.to_string(),
                    problem,
                }),
            }
        }
        if !failures.is_empty() {
            return Err(EvalError::Facts(failures));
        }
        let context = EvalContext {
            values: &values,
            references: &self.references,
        };
        let passed = context.condition(&self.condition)?;
        Ok(Evaluation {
            passed,
            values: self
                .references
                .iter()
                .zip(&values)
                .map(|(reference, &value)| UsedValue {
                    reference: reference.to_string(),
                    value,
                })
                .collect(),
            text: self.source.clone(),
        })
    }
}

impl PartialEq for Criterion {
    fn eq(&self, other: &Self) -> bool {
        self.condition == other.condition && self.references == other.references
    }
}

impl FromStr for Criterion {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Criterion::parse(text)
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Criterion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Criterion::parse(&text).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Reference
// ---------------------------------------------------------------------------------------------

impl Reference {
    /// The metric's name: `auc` in `auc[sex=female]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments: `[Name("age")]` in `missing_rate(age)`; empty without parentheses.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// The selector's `(key, value)` pairs, sorted by key; empty without brackets.
    pub fn selector(&self) -> &[(String, String)] {
        &self.selector
    }

    /// The selector's value for `key`, if it has one.
    pub fn selector_value(&self, key: &str) -> Option<&str> {
        self.selector
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.args.is_empty() {
            f.write_char('(')?;
            for (i, arg) in self.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                match arg {
                    Arg::Name(name) => write_word(f, name)?,
                    Arg::Number(number) => f.write_str(&format_number(*number))?,
                }
            }
            f.write_char(')')?;
        }
        if !self.selector.is_empty() {
            f.write_char('[')?;
            for (i, (key, value)) in self.selector.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(key)?;
                f.write_char('=')?;
                if lexes_as_number(value) {
                    f.write_str(value)?;
                } else {
                    write_word(f, value)?;
                }
            }
            f.write_char(']')?;
        }
        Ok(())
    }
}

impl Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Writes `text` bare when it reads back as the same name, quoted otherwise.
fn write_word(out: &mut impl Write, text: &str) -> fmt::Result {
    if is_bare_name(text) {
        return out.write_str(text);
    }
    out.write_char('"')?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

/// Whether `text` lexes as one name token (and not as a reserved word).
fn is_bare_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    let starts_well = matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'));
    starts_well && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') && keyword(text).is_none()
}

/// Whether `text` lexes as exactly one number token.
fn lexes_as_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    let Some(mut end) = digits_from(0) else {
        return false;
    };
    if bytes.get(end) == Some(&b'.') {
        match digits_from(end + 1) {
            Some(after) => end = after,
            None => return false,
        }
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        match digits_from(end + 1 + sign) {
            Some(after) => end = after,
            None => return false,
        }
    }
    end == bytes.len()
}

/// The shortest text that parses back to `value` (a finite, non-negative literal): `1`, `0.85`,
/// `1e-7`, `1.5e300`.
fn format_number(value: f64) -> String {
    let plain = format!("{value}");
    if plain.len() <= 21 {
        plain
    } else {
        format!("{value:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

impl ParseError {
    /// The line of `source` holding the error, and under it a `^` at the error's column:
    ///
    /// ```text
    /// auc >= >= 1
    ///        ^
    /// ```
    pub fn pointer(&self, source: &str) -> String {
        let mut position = self.position.min(source.len());
        while !source.is_char_boundary(position) {
            position -= 1;
        }
        let line_start = source[..position].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[position..]
            .find('\n')
            .map_or(source.len(), |i| position + i);
        let line = source[line_start..line_end].trim_end_matches('\r');
        let padding: String = source[line_start..position]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{line}\n{padding}^")
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 1 {
            write!(f, "at line {}, column {}: ", self.line, self.column)?;
        } else {
            write!(f, "at column {}: ", self.column)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

impl fmt::Display for FactFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reference = &self.reference;
        match &self.problem {
            FactError::Missing => write!(f, "metric \"{reference}\" is not in the result"),
            FactError::Unavailable(reason) => {
                write!(f, "metric \"{reference}\" cannot be computed: {reason}")
            }
            FactError::NotFinite(value) => {
                write!(f, "metric \"{reference}\" is not a finite number ({value})")
            }
        }
    }
}

fn join_failures(failures: &[FactFailure]) -> String {
    let mut out = String::new();
    for (i, failure) in failures.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{failure}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The typed tree
// ---------------------------------------------------------------------------------------------

/// An expression whose value is true or false.
#[derive(Clone, Debug, PartialEq)]
enum Condition {
    /// `first op1 second op2 third ...`: every comparison holds.
    Compare {
        first: Number,
        rest: Vec<(CompareOp, Number)>,
    },
    Not(Box<Condition>),
    /// `and`: two or more conditions.
    All(Vec<Condition>),
    /// `or`: two or more conditions.
    Any(Vec<Condition>),
}

/// An expression whose value is a number.
#[derive(Clone, Debug, PartialEq)]
enum Number {
    Literal(f64),
    /// Index into the criterion's references.
    Fact(usize),
    Negate(Box<Number>),
    Arithmetic(ArithmeticOp, Box<Number>, Box<Number>),
    Abs(Box<Number>),
    /// Two or more arguments.
    Min(Vec<Number>),
    /// Two or more arguments.
    Max(Vec<Number>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CompareOp {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArithmeticOp {
    Add,
    Subtract,
    Multiply,
    Divide,
}

impl CompareOp {
    fn symbol(self) -> &'static str {
        match self {
            CompareOp::Less => "<",
            CompareOp::LessOrEqual => "<=",
            CompareOp::Greater => ">",
            CompareOp::GreaterOrEqual => ">=",
            CompareOp::Equal => "==",
            CompareOp::NotEqual => "!=",
        }
    }

    /// +1 for `<`/`<=`, -1 for `>`/`>=`, 0 for the operators that do not chain.
    fn direction(self) -> i8 {
        match self {
            CompareOp::Less | CompareOp::LessOrEqual => 1,
            CompareOp::Greater | CompareOp::GreaterOrEqual => -1,
            CompareOp::Equal | CompareOp::NotEqual => 0,
        }
    }

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CompareOp::Less => left < right,
            CompareOp::LessOrEqual => left <= right,
            CompareOp::Greater => left > right,
            CompareOp::GreaterOrEqual => left >= right,
            CompareOp::Equal => left == right,
            CompareOp::NotEqual => left != right,
        }
    }
}

impl ArithmeticOp {
    fn symbol(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "+",
            ArithmeticOp::Subtract => "-",
            ArithmeticOp::Multiply => "*",
            ArithmeticOp::Divide => "/",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            ArithmeticOp::Add | ArithmeticOp::Subtract => PRECEDENCE_SUM,
            ArithmeticOp::Multiply | ArithmeticOp::Divide => PRECEDENCE_PRODUCT,
        }
    }
}

const PRECEDENCE_OR: u8 = 1;
const PRECEDENCE_AND: u8 = 2;
const PRECEDENCE_COMPARE: u8 = 4;
const PRECEDENCE_SUM: u8 = 5;
const PRECEDENCE_PRODUCT: u8 = 6;
const PRECEDENCE_NEGATE: u8 = 7;
const PRECEDENCE_ATOM: u8 = 8;

impl Condition {
    fn precedence(&self) -> u8 {
        match self {
            Condition::Any(_) => PRECEDENCE_OR,
            Condition::All(_) => PRECEDENCE_AND,
            Condition::Not(_) => 3,
            Condition::Compare { .. } => PRECEDENCE_COMPARE,
        }
    }
}

impl Number {
    fn precedence(&self) -> u8 {
        match self {
            Number::Arithmetic(op, _, _) => op.precedence(),
            Number::Negate(_) => PRECEDENCE_NEGATE,
            Number::Literal(_)
            | Number::Fact(_)
            | Number::Abs(_)
            | Number::Min(_)
            | Number::Max(_) => PRECEDENCE_ATOM,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

fn write_condition(out: &mut String, condition: &Condition, references: &[Reference]) {
    match condition {
        Condition::Any(items) | Condition::All(items) => {
            let (separator, precedence) = match condition {
                Condition::Any(_) => (" or ", PRECEDENCE_OR),
                _ => (" and ", PRECEDENCE_AND),
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                let wrap = item.precedence() <= precedence;
                open_if(out, wrap);
                write_condition(out, item, references);
                close_if(out, wrap);
            }
        }
        Condition::Not(operand) => {
            out.push_str("not ");
            let wrap = !matches!(**operand, Condition::Not(_));
            open_if(out, wrap);
            write_condition(out, operand, references);
            close_if(out, wrap);
        }
        Condition::Compare { first, rest } => {
            write_operand(out, first, references, PRECEDENCE_COMPARE + 1);
            for (op, operand) in rest {
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                write_operand(out, operand, references, PRECEDENCE_COMPARE + 1);
            }
        }
    }
}

/// Writes `number`, in parentheses when it binds looser than `least_precedence`.
fn write_operand(out: &mut String, number: &Number, references: &[Reference], least: u8) {
    let wrap = number.precedence() < least;
    open_if(out, wrap);
    write_number(out, number, references);
    close_if(out, wrap);
}

fn write_number(out: &mut String, number: &Number, references: &[Reference]) {
    match number {
        Number::Literal(value) => out.push_str(&format_number(*value)),
        Number::Fact(index) => {
            if let Some(reference) = references.get(*index) {
                // Writing to a String cannot fail.
                let _ = write!(out, "{reference}");
            }
        }
        Number::Negate(operand) => {
            out.push('-');
            write_operand(out, operand, references, PRECEDENCE_NEGATE + 1);
        }
        Number::Arithmetic(op, left, right) => {
            let precedence = op.precedence();
            write_operand(out, left, references, precedence);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_operand(out, right, references, precedence + 1);
        }
        Number::Abs(operand) => write_call(out, "abs", std::slice::from_ref(operand), references),
        Number::Min(args) => write_call(out, "min", args, references),
        Number::Max(args) => write_call(out, "max", args, references),
    }
}

fn write_call(out: &mut String, name: &str, args: &[Number], references: &[Reference]) {
    out.push_str(name);
    out.push('(');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_number(out, arg, references);
    }
    out.push(')');
}

fn open_if(out: &mut String, wrap: bool) {
    if wrap {
        out.push('(');
    }
}

fn close_if(out: &mut String, wrap: bool) {
    if wrap {
        out.push(')');
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

struct EvalContext<'a> {
    /// The value of each reference, by index.
    values: &'a [f64],
    references: &'a [Reference],
}

impl EvalContext<'_> {
    /// Evaluates every part of `condition` (no short-circuit), then combines.
    fn condition(&self, condition: &Condition) -> Result<bool, EvalError> {
        match condition {
            Condition::Compare { first, rest } => {
                let mut left = self.number(first)?;
                let mut holds = true;
                for (op, operand) in rest {
                    let right = self.number(operand)?;
                    holds &= op.holds(left, right);
                    left = right;
                }
                Ok(holds)
            }
            Condition::Not(operand) => Ok(!self.condition(operand)?),
            Condition::All(items) => {
                let mut holds = true;
                for item in items {
                    holds &= self.condition(item)?;
                }
                Ok(holds)
            }
            Condition::Any(items) => {
                let mut holds = false;
                for item in items {
                    holds |= self.condition(item)?;
                }
                Ok(holds)
            }
        }
    }

    fn number(&self, number: &Number) -> Result<f64, EvalError> {
        match number {
            Number::Literal(value) => Ok(*value),
            Number::Fact(index) => Ok(self.values[*index]),
            Number::Negate(operand) => Ok(-self.number(operand)?),
            Number::Abs(operand) => Ok(self.number(operand)?.abs()),
            Number::Min(args) => self.fold(args, f64::min),
            Number::Max(args) => self.fold(args, f64::max),
            Number::Arithmetic(op, left, right) => {
                let left_value = self.number(left)?;
                let right_value = self.number(right)?;
                let value = match op {
                    ArithmeticOp::Add => left_value + right_value,
                    ArithmeticOp::Subtract => left_value - right_value,
                    ArithmeticOp::Multiply => left_value * right_value,
                    ArithmeticOp::Divide => {
                        if right_value == 0.0 {
                            return Err(EvalError::DivisionByZero {
                                expression: self.text(number),
                                divisor: self.text(right),
                            });
                        }
                        left_value / right_value
                    }
                };
                if value.is_finite() {
                    Ok(value)
                } else {
                    Err(EvalError::NotFinite {
                        expression: self.text(number),
                        value,
                    })
                }
            }
        }
    }

    /// Combines the values of two or more arguments (all finite, so the result is one of them).
    fn fold(&self, args: &[Number], combine: fn(f64, f64) -> f64) -> Result<f64, EvalError> {
        let mut result: Option<f64> = None;
        for arg in args {
            let value = self.number(arg)?;
            result = Some(result.map_or(value, |so_far| combine(so_far, value)));
        }
        // The parser guarantees at least two arguments; 0 is never reached.
        Ok(result.unwrap_or(0.0))
    }

    fn text(&self, number: &Number) -> String {
        let mut out = String::new();
        write_number(&mut out, number, self.references);
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

/// A byte range of the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum TokenKind {
    Number(f64),
    Name,
    Text(String),
    And,
    Or,
    Not,
    OpenParen,
    CloseParen,
    OpenBracket,
    CloseBracket,
    Comma,
    Assign,
    Plus,
    Minus,
    Star,
    Slash,
    Compare(CompareOp),
    End,
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    kind: TokenKind,
    span: Span,
}

fn keyword(word: &str) -> Option<TokenKind> {
    match word {
        "and" => Some(TokenKind::And),
        "or" => Some(TokenKind::Or),
        "not" => Some(TokenKind::Not),
        _ => None,
    }
}

/// Turns text into tokens one at a time, so the first error reported is the first in the text.
struct Lexer<'a> {
    source: &'a str,
    position: usize,
}

impl<'a> Lexer<'a> {
    fn new(source: &'a str) -> Self {
        Lexer {
            source,
            position: 0,
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.source.as_bytes().get(at).copied()
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        while matches!(self.byte(self.position), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.position += 1;
        }
        let start = self.position;
        let Some(first) = self.byte(start) else {
            return Ok(Token {
                kind: TokenKind::End,
                span: Span { start, end: start },
            });
        };
        let next = self.byte(start + 1);
        let (kind, length) = match first {
            b'0'..=b'9' => return self.number(start),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => return Ok(self.word(start)),
            b'"' => return self.string(start),
            b'(' => (TokenKind::OpenParen, 1),
            b')' => (TokenKind::CloseParen, 1),
            b'[' => (TokenKind::OpenBracket, 1),
            b']' => (TokenKind::CloseBracket, 1),
            b',' => (TokenKind::Comma, 1),
            b'+' => (TokenKind::Plus, 1),
            b'-' => (TokenKind::Minus, 1),
            b'*' => (TokenKind::Star, 1),
            b'/' => (TokenKind::Slash, 1),
            b'<' if next == Some(b'=') => (TokenKind::Compare(CompareOp::LessOrEqual), 2),
            b'<' => (TokenKind::Compare(CompareOp::Less), 1),
            b'>' if next == Some(b'=') => (TokenKind::Compare(CompareOp::GreaterOrEqual), 2),
            b'>' => (TokenKind::Compare(CompareOp::Greater), 1),
            b'=' if next == Some(b'=') => (TokenKind::Compare(CompareOp::Equal), 2),
            b'=' => (TokenKind::Assign, 1),
            b'!' if next == Some(b'=') => (TokenKind::Compare(CompareOp::NotEqual), 2),
            b'.' if next.is_some_and(|b| b.is_ascii_digit())
                && !(start > 0 && self.byte(start - 1).is_some_and(|b| b.is_ascii_digit())) =>
            {
                let digits: String = self.source[start + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                return Err(self.error(
                    start,
                    format!("a number must start with a digit: write \"0.{digits}\""),
                ));
            }
            _ => return Err(self.unexpected_character(start)),
        };
        self.position = start + length;
        Ok(Token {
            kind,
            span: Span {
                start,
                end: self.position,
            },
        })
    }

    fn unexpected_character(&self, at: usize) -> ParseError {
        let character = self.source[at..].chars().next().unwrap_or(' ');
        let hint = match character {
            '&' => ": write \"and\"",
            '|' => ": write \"or\"",
            '!' => ": write \"not\", or \"!=\" to compare",
            '%' => {
                ": there is no percent sign; write a fraction (85% is 0.85), as metrics are \
                 fractions"
            }
            '^' => ": there is no power operator",
            '≥' => ": write \">=\"",
            '≤' => ": write \"<=\"",
            '≠' => ": write \"!=\"",
            '\'' | '‘' | '’' | '“' | '”' => {
                ": strings are written in straight double quotes (\")"
            }
            _ => "",
        };
        self.error(at, format!("unexpected character \"{character}\"{hint}"))
    }

    fn digits(&mut self) -> usize {
        let start = self.position;
        while self.byte(self.position).is_some_and(|b| b.is_ascii_digit()) {
            self.position += 1;
        }
        self.position - start
    }

    fn number(&mut self, start: usize) -> Result<Token, ParseError> {
        self.position = start;
        self.digits();
        if self.byte(self.position) == Some(b'.') {
            self.position += 1;
            if self.digits() == 0 {
                return Err(self.error(
                    self.position,
                    "expected a digit after the decimal point".to_owned(),
                ));
            }
        }
        let mantissa_end = self.position;
        if matches!(self.byte(self.position), Some(b'e' | b'E')) {
            self.position += 1;
            if matches!(self.byte(self.position), Some(b'+' | b'-')) {
                self.position += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(
                    self.position,
                    "expected the digits of the exponent after \"e\"".to_owned(),
                ));
            }
        }
        let span = Span {
            start,
            end: self.position,
        };
        let text = &self.source[start..self.position];
        let value: f64 = text
            .parse()
            .map_err(|_| self.error(start, format!("\"{text}\" is not a number")))?;
        if !value.is_finite() {
            return Err(self.error(start, format!("the number \"{text}\" is too large")));
        }
        let has_nonzero_digit = self.source[start..mantissa_end]
            .bytes()
            .any(|b| matches!(b, b'1'..=b'9'));
        if value == 0.0 && has_nonzero_digit {
            return Err(self.error(start, format!("the number \"{text}\" is too small")));
        }
        Ok(Token {
            kind: TokenKind::Number(value),
            span,
        })
    }

    fn word(&mut self, start: usize) -> Token {
        self.position = start;
        while self
            .byte(self.position)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.position += 1;
        }
        let text = &self.source[start..self.position];
        Token {
            kind: keyword(text).unwrap_or(TokenKind::Name),
            span: Span {
                start,
                end: self.position,
            },
        }
    }

    fn string(&mut self, start: usize) -> Result<Token, ParseError> {
        let body_start = start + 1;
        let mut value = String::new();
        let mut chars = self.source[body_start..].char_indices();
        let unterminated = || {
            self.error(
                start,
                "unterminated string: no closing \" for the string that starts here".to_owned(),
            )
        };
        loop {
            match chars.next() {
                None => return Err(unterminated()),
                Some((offset, '"')) => {
                    self.position = body_start + offset + 1;
                    break;
                }
                Some((offset, '\\')) => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                    Some((_, other)) => {
                        return Err(self.error(
                            body_start + offset,
                            format!(
                                "unknown escape \"\\{other}\" in a string: only \\\" and \\\\ \
                                 are allowed"
                            ),
                        ))
                    }
                    None => return Err(unterminated()),
                },
                Some((offset, c)) if c.is_control() => {
                    return Err(self.error(
                        body_start + offset,
                        "a string cannot hold a control character (such as a line break)"
                            .to_owned(),
                    ))
                }
                Some((_, c)) => value.push(c),
            }
        }
        Ok(Token {
            kind: TokenKind::Text(value),
            span: Span {
                start,
                end: self.position,
            },
        })
    }

    fn error(&self, position: usize, message: String) -> ParseError {
        error_at(self.source, position, message)
    }
}

fn error_at(source: &str, position: usize, message: String) -> ParseError {
    let before = &source[..position.min(source.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    ParseError {
        position,
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// A parsed sub-expression: its type-tagged tree, where it is in the text, and its height.
struct Parsed {
    expr: Typed,
    span: Span,
    height: usize,
}

enum Typed {
    Number(Number),
    Condition(Condition),
}

#[derive(Clone, Copy)]
enum Builtin {
    Abs,
    Min,
    Max,
}

fn builtin(name: &str) -> Option<Builtin> {
    match name {
        "abs" => Some(Builtin::Abs),
        "min" => Some(Builtin::Min),
        "max" => Some(Builtin::Max),
        _ => None,
    }
}

struct Parser<'a> {
    source: &'a str,
    lexer: Lexer<'a>,
    current: Token,
    /// The token before `current`, for "expected ... after X" messages.
    previous: Option<Span>,
    /// How many nested calls of the recursive descent are open.
    nesting: usize,
    references: Vec<Reference>,
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Result<Self, ParseError> {
        let mut lexer = Lexer::new(source);
        let current = lexer.next_token()?;
        Ok(Parser {
            source,
            lexer,
            current,
            previous: None,
            nesting: 0,
            references: Vec::new(),
        })
    }

    /// Moves to the next token, returning the one that was current.
    fn advance(&mut self) -> Result<Token, ParseError> {
        let next = self.lexer.next_token()?;
        let token = std::mem::replace(&mut self.current, next);
        self.previous = Some(token.span);
        Ok(token)
    }

    fn text(&self, span: Span) -> &'a str {
        self.source[span.start..span.end].trim()
    }

    fn error_at(&self, position: usize, message: String) -> ParseError {
        error_at(self.source, position, message)
    }

    /// An error at the current token: "expected {expected}, found {current}", with a hint for
    /// common slips.
    fn expected(&self, expected: &str) -> ParseError {
        let found = self.describe_current();
        let hint = match &self.current.kind {
            TokenKind::Assign => " (write \"==\" to compare)",
            TokenKind::Name => match self.text(self.current.span) {
                "AND" | "And" => " (write \"and\" in lowercase)",
                "OR" | "Or" => " (write \"or\" in lowercase)",
                "NOT" | "Not" => " (write \"not\" in lowercase)",
                _ => "",
            },
            _ => "",
        };
        self.error_at(
            self.current.span.start,
            format!("expected {expected}, found {found}{hint}"),
        )
    }

    fn describe_current(&self) -> String {
        match &self.current.kind {
            TokenKind::End => "the end of the criterion".to_owned(),
            TokenKind::Text(_) => format!("the string {}", self.text(self.current.span)),
            _ => format!("\"{}\"", self.text(self.current.span)),
        }
    }

    /// " after X" naming the previous token, or nothing at the start.
    fn after_previous(&self) -> String {
        match self.previous {
            Some(span) => format!(" after \"{}\"", self.text(span)),
            None => String::new(),
        }
    }

    fn expect_end(&self) -> Result<(), ParseError> {
        match self.current.kind {
            TokenKind::End => Ok(()),
            TokenKind::CloseParen => Err(self.error_at(
                self.current.span.start,
                "unbalanced \")\": there is no \"(\" for it to close".to_owned(),
            )),
            _ => Err(self.expected("an operator, \"and\", \"or\" or the end of the criterion")),
        }
    }

    /// Runs `parse` one nesting level deeper, refusing to go past [`MAX_NESTING`].
    fn nested(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<Parsed, ParseError>,
    ) -> Result<Parsed, ParseError> {
        if self.nesting >= MAX_NESTING {
            return Err(self.too_deep(self.current.span.start));
        }
        self.nesting += 1;
        let parsed = parse(self);
        self.nesting -= 1;
        parsed
    }

    fn too_deep(&self, position: usize) -> ParseError {
        self.error_at(
            position,
            format!("the criterion is nested too deeply (more than {MAX_NESTING} levels)"),
        )
    }

    /// Wraps a new node, refusing trees taller than [`MAX_NESTING`].
    fn node(&self, expr: Typed, span: Span, height: usize) -> Result<Parsed, ParseError> {
        if height > MAX_NESTING {
            return Err(self.too_deep(span.start));
        }
        Ok(Parsed { expr, span, height })
    }

    fn number(&self, parsed: Parsed, place: &str) -> Result<Number, ParseError> {
        match parsed.expr {
            Typed::Number(number) => Ok(number),
            Typed::Condition(_) => Err(self.error_at(
                parsed.span.start,
                format!(
                    "expected a number {place}, found the condition \"{}\"",
                    self.text(parsed.span)
                ),
            )),
        }
    }

    fn condition(&self, parsed: Parsed, place: &str) -> Result<Condition, ParseError> {
        match parsed.expr {
            Typed::Condition(condition) => Ok(condition),
            Typed::Number(_) => Err(self.error_at(
                parsed.span.start,
                format!(
                    "expected a condition {place}, found the number \"{}\"",
                    self.text(parsed.span)
                ),
            )),
        }
    }

    fn disjunction(&mut self) -> Result<Parsed, ParseError> {
        self.junction(TokenKind::Or)
    }

    fn conjunction(&mut self) -> Result<Parsed, ParseError> {
        self.junction(TokenKind::And)
    }

    /// `operand { keyword operand }` for `or` (operands: conjunctions) and `and` (negations).
    fn junction(&mut self, keyword: TokenKind) -> Result<Parsed, ParseError> {
        let is_or = keyword == TokenKind::Or;
        let word = if is_or { "or" } else { "and" };
        let operand = |parser: &mut Self| {
            if is_or {
                parser.conjunction()
            } else {
                parser.negation()
            }
        };
        let first = operand(self)?;
        if self.current.kind != keyword {
            return Ok(first);
        }
        let span_start = first.span.start;
        let mut span_end = first.span.end;
        let mut height = first.height;
        let mut items = vec![self.condition(first, &format!("on the left of \"{word}\""))?];
        while self.current.kind == keyword {
            self.advance()?;
            let next = operand(self)?;
            span_end = next.span.end;
            height = height.max(next.height);
            items.push(self.condition(next, &format!("on the right of \"{word}\""))?);
        }
        let condition = if is_or {
            Condition::Any(items)
        } else {
            Condition::All(items)
        };
        self.node(
            Typed::Condition(condition),
            Span {
                start: span_start,
                end: span_end,
            },
            height + 1,
        )
    }

    fn negation(&mut self) -> Result<Parsed, ParseError> {
        if self.current.kind != TokenKind::Not {
            return self.comparison();
        }
        let not = self.advance()?;
        let operand = self.nested(Self::negation)?;
        let span = Span {
            start: not.span.start,
            end: operand.span.end,
        };
        let height = operand.height + 1;
        let condition = self.condition(operand, "after \"not\"")?;
        self.node(
            Typed::Condition(Condition::Not(Box::new(condition))),
            span,
            height,
        )
    }

    fn comparison(&mut self) -> Result<Parsed, ParseError> {
        let first = self.sum()?;
        let TokenKind::Compare(first_op) = self.current.kind else {
            return Ok(first);
        };
        let span_start = first.span.start;
        let mut span_end = first.span.end;
        let mut height = first.height;
        let first_number =
            self.number(first, &format!("on the left of \"{}\"", first_op.symbol()))?;
        let mut rest: Vec<(CompareOp, Number)> = Vec::new();
        while let TokenKind::Compare(op) = self.current.kind {
            let op_token = self.advance()?;
            if let Some((previous_op, _)) = rest.last() {
                let one_way = op.direction() != 0 && op.direction() == previous_op.direction();
                if !one_way {
                    return Err(self.error_at(
                        op_token.span.start,
                        format!(
                            "\"{}\" and \"{}\" cannot be chained: a chain runs one way, as in \
                             \"0.8 <= x <= 1.25\"; join other comparisons with \"and\"",
                            previous_op.symbol(),
                            op.symbol()
                        ),
                    ));
                }
            }
            let right = self.sum()?;
            span_end = right.span.end;
            height = height.max(right.height);
            rest.push((
                op,
                self.number(right, &format!("on the right of \"{}\"", op.symbol()))?,
            ));
        }
        let span = Span {
            start: span_start,
            end: span_end,
        };
        let compare = Condition::Compare {
            first: first_number,
            rest,
        };
        if !refers_to_a_fact(&compare) {
            return Err(self.error_at(
                span.start,
                format!(
                    "the comparison \"{}\" refers to no metric, so it cannot depend on the result",
                    self.text(span)
                ),
            ));
        }
        self.node(Typed::Condition(compare), span, height + 1)
    }

    fn sum(&mut self) -> Result<Parsed, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = match self.current.kind {
                TokenKind::Plus => ArithmeticOp::Add,
                TokenKind::Minus => ArithmeticOp::Subtract,
                _ => return Ok(left),
            };
            self.advance()?;
            let right = self.product()?;
            left = self.arithmetic(op, left, right)?;
        }
    }

    fn product(&mut self) -> Result<Parsed, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.current.kind {
                TokenKind::Star => ArithmeticOp::Multiply,
                TokenKind::Slash => ArithmeticOp::Divide,
                _ => return Ok(left),
            };
            self.advance()?;
            let right = self.unary()?;
            left = self.arithmetic(op, left, right)?;
        }
    }

    fn arithmetic(
        &self,
        op: ArithmeticOp,
        left: Parsed,
        right: Parsed,
    ) -> Result<Parsed, ParseError> {
        let span = Span {
            start: left.span.start,
            end: right.span.end,
        };
        let height = left.height.max(right.height) + 1;
        let symbol = op.symbol();
        let left = self.number(left, &format!("on the left of \"{symbol}\""))?;
        let right = self.number(right, &format!("on the right of \"{symbol}\""))?;
        self.node(
            Typed::Number(Number::Arithmetic(op, Box::new(left), Box::new(right))),
            span,
            height,
        )
    }

    fn unary(&mut self) -> Result<Parsed, ParseError> {
        if self.current.kind != TokenKind::Minus {
            return self.primary();
        }
        let minus = self.advance()?;
        let operand = self.nested(Self::unary)?;
        let span = Span {
            start: minus.span.start,
            end: operand.span.end,
        };
        let height = operand.height + 1;
        let number = self.number(operand, "after \"-\"")?;
        self.node(
            Typed::Number(Number::Negate(Box::new(number))),
            span,
            height,
        )
    }

    fn primary(&mut self) -> Result<Parsed, ParseError> {
        match self.current.kind {
            TokenKind::Number(value) => {
                let token = self.advance()?;
                self.node(Typed::Number(Number::Literal(value)), token.span, 1)
            }
            TokenKind::OpenParen => {
                let open = self.advance()?;
                let inner = self.nested(Self::disjunction)?;
                if self.current.kind != TokenKind::CloseParen {
                    let column = error_at(self.source, open.span.start, String::new()).column;
                    return Err(
                        self.expected(&format!("\")\" to close the \"(\" at column {column}"))
                    );
                }
                let close = self.advance()?;
                Ok(Parsed {
                    expr: inner.expr,
                    span: Span {
                        start: open.span.start,
                        end: close.span.end,
                    },
                    height: inner.height,
                })
            }
            TokenKind::Name => {
                let name_token = self.advance()?;
                let name = self.text(name_token.span);
                match builtin(name) {
                    Some(function) => self.builtin_call(function, name, name_token.span),
                    None => self.metric(name, name_token.span),
                }
            }
            _ => Err(self.expected(&format!("a number or a name{}", self.after_previous()))),
        }
    }

    fn builtin_call(
        &mut self,
        function: Builtin,
        name: &'a str,
        name_span: Span,
    ) -> Result<Parsed, ParseError> {
        if self.current.kind != TokenKind::OpenParen {
            return Err(self.expected(&format!(
                "\"(\" after the built-in function \"{name}\" (it cannot name a metric)"
            )));
        }
        self.advance()?;
        let mut args = Vec::new();
        let mut height = 0;
        loop {
            let arg = self.nested(Self::disjunction)?;
            height = height.max(arg.height);
            args.push(self.number(arg, &format!("as an argument of \"{name}\""))?);
            match self.current.kind {
                TokenKind::Comma => {
                    self.advance()?;
                }
                TokenKind::CloseParen => break,
                _ => {
                    return Err(
                        self.expected(&format!("\",\" or \")\" in the arguments of \"{name}\""))
                    )
                }
            }
        }
        let close = self.advance()?;
        let span = Span {
            start: name_span.start,
            end: close.span.end,
        };
        let found = args.len();
        let arity_error = |expected: &str| {
            self.error_at(
                name_span.start,
                format!("\"{name}\" takes {expected}, found {found}"),
            )
        };
        let number = match function {
            Builtin::Abs => {
                if args.len() != 1 {
                    return Err(arity_error("1 argument"));
                }
                let Some(operand) = args.pop() else {
                    return Err(arity_error("1 argument"));
                };
                Number::Abs(Box::new(operand))
            }
            Builtin::Min | Builtin::Max => {
                if args.len() < 2 {
                    return Err(arity_error("at least 2 arguments"));
                }
                match function {
                    Builtin::Min => Number::Min(args),
                    _ => Number::Max(args),
                }
            }
        };
        self.node(Typed::Number(number), span, height + 1)
    }

    fn metric(&mut self, name: &'a str, name_span: Span) -> Result<Parsed, ParseError> {
        let mut end = name_span.end;
        let mut args = Vec::new();
        if self.current.kind == TokenKind::OpenParen {
            self.advance()?;
            loop {
                let arg = match &self.current.kind {
                    TokenKind::Name => Arg::Name(self.text(self.current.span).to_owned()),
                    TokenKind::Text(text) => Arg::Name(text.clone()),
                    TokenKind::Number(value) => Arg::Number(*value),
                    _ => {
                        return Err(self.expected(&format!(
                            "an argument of \"{name}\" (a name, a string or a number)"
                        )))
                    }
                };
                args.push(arg);
                self.advance()?;
                match self.current.kind {
                    TokenKind::Comma => {
                        self.advance()?;
                    }
                    TokenKind::CloseParen => break,
                    _ => {
                        return Err(self.expected(&format!(
                            "\",\" or \")\" after an argument of \"{name}\" (arguments are \
                             names, strings or numbers)"
                        )))
                    }
                }
            }
            end = self.advance()?.span.end;
        }
        let mut selector: Vec<(String, String)> = Vec::new();
        if self.current.kind == TokenKind::OpenBracket {
            self.advance()?;
            loop {
                if self.current.kind != TokenKind::Name {
                    return Err(self.expected(&format!(
                        "a selector key (a name) in the selector of \"{name}\""
                    )));
                }
                let key_token = self.advance()?;
                let key = self.text(key_token.span).to_owned();
                if self.current.kind != TokenKind::Assign {
                    return Err(self.expected(&format!("\"=\" after the selector key \"{key}\"")));
                }
                self.advance()?;
                let value = match &self.current.kind {
                    TokenKind::Name | TokenKind::Number(_) => {
                        self.text(self.current.span).to_owned()
                    }
                    TokenKind::Text(text) => text.clone(),
                    _ => {
                        return Err(self.expected(&format!(
                            "a value (a name, a string or a number) for the selector key \
                             \"{key}\""
                        )))
                    }
                };
                if selector.iter().any(|(existing, _)| *existing == key) {
                    return Err(self.error_at(
                        key_token.span.start,
                        format!("the selector key \"{key}\" is given twice"),
                    ));
                }
                selector.push((key, value));
                self.advance()?;
                match self.current.kind {
                    TokenKind::Comma => {
                        self.advance()?;
                    }
                    TokenKind::CloseBracket => break,
                    _ => {
                        return Err(
                            self.expected(&format!("\",\" or \"]\" in the selector of \"{name}\""))
                        )
                    }
                }
            }
            end = self.advance()?.span.end;
            selector.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let reference = Reference {
            name: name.to_owned(),
            args,
            selector,
        };
        let index = match self.references.iter().position(|r| *r == reference) {
            Some(index) => index,
            None => {
                self.references.push(reference);
                self.references.len() - 1
            }
        };
        self.node(
            Typed::Number(Number::Fact(index)),
            Span {
                start: name_span.start,
                end,
            },
            1,
        )
    }
}

/// Whether a comparison mentions at least one metric.
fn refers_to_a_fact(condition: &Condition) -> bool {
    fn number_refers(number: &Number) -> bool {
        match number {
            Number::Literal(_) => false,
            Number::Fact(_) => true,
            Number::Negate(operand) | Number::Abs(operand) => number_refers(operand),
            Number::Arithmetic(_, left, right) => number_refers(left) || number_refers(right),
            Number::Min(args) | Number::Max(args) => args.iter().any(number_refers),
        }
    }
    match condition {
        Condition::Compare { first, rest } => {
            number_refers(first) || rest.iter().any(|(_, operand)| number_refers(operand))
        }
        Condition::Not(operand) => refers_to_a_fact(operand),
        Condition::All(items) | Condition::Any(items) => items.iter().any(refers_to_a_fact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().expect("lexes");
            if token.kind == TokenKind::End {
                return out;
            }
            out.push(token.kind);
        }
    }

    fn canonical(text: &str) -> String {
        Criterion::parse(text).expect("parses").canonical()
    }

    #[test]
    fn lexer_splits_operators_and_numbers() {
        assert_eq!(
            kinds("a<=1e-3 != \"x\\\"y\"[=]"),
            vec![
                TokenKind::Name,
                TokenKind::Compare(CompareOp::LessOrEqual),
                TokenKind::Number(0.001),
                TokenKind::Compare(CompareOp::NotEqual),
                TokenKind::Text("x\"y".to_owned()),
                TokenKind::OpenBracket,
                TokenKind::Assign,
                TokenKind::CloseBracket,
            ]
        );
        assert_eq!(
            kinds("and or not andy"),
            vec![
                TokenKind::And,
                TokenKind::Or,
                TokenKind::Not,
                TokenKind::Name
            ]
        );
    }

    #[test]
    fn lexer_rejects_malformed_numbers() {
        let error = |text: &str| {
            let mut lexer = Lexer::new(text);
            lexer.next_token().expect_err("must not lex")
        };
        assert_eq!(error("1.").column, 3);
        assert_eq!(
            error("1e").message,
            "expected the digits of the exponent after \"e\""
        );
        assert_eq!(error("1e999").message, "the number \"1e999\" is too large");
        assert_eq!(
            error("1e-999").message,
            "the number \"1e-999\" is too small"
        );
        assert_eq!(
            error(".5").message,
            "a number must start with a digit: write \"0.5\""
        );
    }

    #[test]
    fn numbers_are_written_shortest_and_read_back() {
        for value in [
            0.0,
            1.0,
            0.85,
            1e-3,
            1e-7,
            1.5e300,
            123456789.125,
            1e21,
            5e-324,
        ] {
            let text = format_number(value);
            assert!(lexes_as_number(&text), "{text}");
            assert_eq!(text.parse::<f64>().ok(), Some(value), "{text}");
        }
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(0.001), "0.001");
        assert_eq!(format_number(1e300), "1e300");
    }

    #[test]
    fn lexes_as_number_is_exact() {
        for yes in ["0", "65", "1.5", "1e3", "1E+3", "2.5e-3"] {
            assert!(lexes_as_number(yes), "{yes}");
        }
        for no in ["", "1.", ".5", "1e", "1x", "-1", "1 ", "1.2.3"] {
            assert!(!lexes_as_number(no), "{no}");
        }
    }

    #[test]
    fn printing_uses_the_fewest_parentheses() {
        assert_eq!(canonical("((a)) >= (1)"), "a >= 1");
        assert_eq!(canonical("a - (b - c) > 0"), "a - (b - c) > 0");
        assert_eq!(canonical("(a - b) - c > 0"), "a - b - c > 0");
        assert_eq!(canonical("a * (b + c) > 0"), "a * (b + c) > 0");
        assert_eq!(canonical("-(-a) > 2 * -3"), "-(-a) > 2 * -3");
        assert_eq!(
            canonical("a>1 or (b>1 and c>1)"),
            "a > 1 or b > 1 and c > 1"
        );
        assert_eq!(
            canonical("(a>1 or b>1) and c>1"),
            "(a > 1 or b > 1) and c > 1"
        );
        assert_eq!(
            canonical("a>1 and (b>1 and c>1)"),
            "a > 1 and (b > 1 and c > 1)"
        );
        assert_eq!(canonical("not not a > 1"), "not not (a > 1)");
        assert_eq!(canonical("x[b=2,a=\"q r\"] > 0"), "x[a=\"q r\", b=2] > 0");
        assert_eq!(
            canonical("f(\"age\", \"and\", 0.50) > 0"),
            "f(age, \"and\", 0.5) > 0"
        );
    }

    #[test]
    fn height_is_limited_for_long_chains_too() {
        let long_sum = vec!["a"; MAX_NESTING + 2].join(" + ");
        let error = Criterion::parse(&format!("{long_sum} > 1")).expect_err("too deep");
        assert!(error.message.contains("nested too deeply"), "{error}");
        let fine_sum = vec!["a"; MAX_NESTING - 4].join(" + ");
        assert!(Criterion::parse(&format!("{fine_sum} > 1")).is_ok());
        // `and` lists are flat: a long list is not deep.
        let long_and = vec!["a > 1"; 1000].join(" and ");
        assert!(Criterion::parse(&long_and).is_ok());
    }
}
