//! Data profiles of CSV and Parquet files: the "data readiness" evidence derived from an uploaded
//! dataset, the row digests that let two datasets be checked for shared rows, and the named facts
//! readiness checks read (`missing_rate(age) <= 0.01`, `rows >= 1000`).
//!
//! # Formats
//! A file is Parquet when it starts and ends with the magic `PAR1`; otherwise it is CSV only if it
//! is UTF-8 text without NUL bytes. CSV has a header row, comma separators and RFC 4180 quoting.
//! Parquet tables must be flat (structs are fine, their leaves are named `a.b`; lists and maps are
//! refused) and uncompressed or Snappy-compressed (the pandas and pyarrow default).
//!
//! # Missing values
//! A CSV cell is missing when it is, exactly (case and spaces matter), one of [`NA_SPELLINGS`]:
//! pandas' default `na_values`, the empty cell included. A Parquet value is missing when it is
//! null, or a floating-point NaN or infinity (so every figure in a profile is finite JSON). A
//! Parquet string is never re-read as missing: the text `"NA"` there is a value.
//!
//! # Types
//! A CSV column's type is inferred from all its non-missing cells, as pandas does: `integer` when
//! every cell is an integer (`-12`, `+7`, `007`), `number` when every cell is a finite decimal
//! number (`1.5`, `.5`, `1e-3`; spaces or tabs around a number are allowed; `inf` is not a
//! number), `boolean` when every cell is one of `true`, `True`, `TRUE`, `false`, `False`, `FALSE`,
//! and `string` otherwise; a column with no values at all is `number` (pandas reads it as float).
//! A Parquet column's type comes from its schema: booleans, integers (signed or not), numbers
//! (float, double, float16, decimal), and strings (UTF-8 text, enums, JSON, UUIDs, and dates,
//! times and timestamps, written as the text pandas' `to_csv` writes for them: dates as
//! `2024-01-31`; times as `13:05:00` or `13:05:00.250000`; a timestamp column as dates alone when
//! every value is at midnight, else as `2024-01-31 13:05:00` with as many fraction digits (3, 6
//! or 9) as its finest value needs, the same for the whole column, and `+00:00` after each value
//! when the column is adjusted to UTC). Integers are summarised as `f64`, so figures of integers
//! beyond 2^53 are rounded.
//!
//! A CSV column that holds numbers up to some row and then a word becomes a `string` column; the
//! numbers before the word are counted under their canonical spelling (`1.50` as `1.5`).
//!
//! # Canonical row form and row digests
//! A row's digest is the first 16 bytes of SHA-256 over `"mtrow1"` followed by each cell, in
//! column order, as one of:
//! - missing: `0x00`;
//! - boolean: `0x01`, then `0x00` or `0x01`;
//! - integer: `0x02`, then the value as a big-endian two's-complement 64-bit integer. A number
//!   with no fractional part that fits in 64 bits is written this way too (`1.0` is `1`, `-0.0`
//!   is `0`);
//! - other number: `0x03`, then the big-endian IEEE 754 bits of the `f64`;
//! - text: `0x04`, the byte length as unsigned LEB128 (7 bits a byte, low first), then the
//!   UTF-8 bytes.
//!
//! Each cell is canonicalised on its own, whatever its column's type: text that spells a boolean
//! or a number is written as that boolean or number, so the CSV cell `1`, the Parquet integer `1`,
//! the Parquet double `1.0` and the Parquet string `"1"` give the same bytes. A Parquet `float`
//! is taken as the shortest decimal that reads back as it (what a CSV writer prints), so the
//! float `0.1` equals the CSV cell `0.1`. Column names are not part of a row.
//!
//! # Tables of several files
//! [`TableProfiler`] profiles several files ("parts", e.g. `part-000.csv`, `part-001.parquet`)
//! as the one table their rows make when concatenated in the order given: every part must have
//! the same columns in the same order ([`ProfileError::ColumnsDiffer`] names the ones that are
//! not), and rows, missing rates, quantiles, category counts, duplicate rows (across parts too)
//! and the digest set are those of all the rows. CSV parts alone give exactly the profile of
//! their concatenated file (one header). When Parquet parts are among them, a column's type is
//! the widest of each Parquet part's schema type and, if any part is CSV, the type all its values
//! read as (`integer` and `number` widen to `number`, any other pair to `string`); a profile of
//! both formats has the format `mixed`. Parts are read one at a time, so only the part being read
//! need be in memory.
//!
//! `duplicate_rows` counts rows whose digest equals an earlier row's. The digest set kept for the
//! independence check is sorted and without repeats ([`RowDigestSet`]), and [`shared_rows`]
//! intersects two of them.

use std::fmt::Write as _;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
// Category counts are the hot map of a profile: foldhash is several times faster than SipHash and
// keeps a per-process random seed, so crafted uploads cannot aim at its collisions.
use foldhash::{HashMap, HashMapExt};
use parquet::basic::{Compression, ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{
    BoolType, ByteArrayType, DataType, DoubleType, FixedLenByteArrayType, FloatType, Int32Type,
    Int64Type, Int96Type,
};
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::schema::types::{ColumnDescriptor, SchemaDescriptor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The cell texts a CSV profile reads as missing: pandas' default `na_values`, matched exactly.
pub const NA_SPELLINGS: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// How many of a categorical column's most frequent values a profile lists.
pub const TOP_CATEGORIES: usize = 20;

/// The fact names [`DataProfile::fact`] answers without a column.
pub const TABLE_FACTS: [&str; 4] = ["rows", "columns", "duplicate_rows", "duplicate_rate"];

/// The fact names [`DataProfile::fact`] answers for a column (`median` is `p50`).
pub const COLUMN_FACTS: [&str; 14] = [
    "missing",
    "missing_rate",
    "distinct",
    "min",
    "max",
    "mean",
    "std",
    "p5",
    "p25",
    "p50",
    "median",
    "p75",
    "p95",
    "count",
];

const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
const ROW_DIGEST_PREFIX: &[u8] = b"mtrow1";
const DIGEST_SET_MAGIC: &[u8; 8] = b"MTROWS1\n";
const PARQUET_BATCH_ROWS: usize = 4096;
const UTF8_BOM: &str = "\u{feff}";

// ---------------------------------------------------------------------------------------------
// Public types

/// The two formats a dataset file may have, and the format of a profile read from both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    /// A profile's only, never a file's: its parts are CSV and Parquet.
    Mixed,
}

/// A column's type, inferred from the values (CSV) or read from the schema (Parquet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Number,
    Boolean,
    String,
}

impl ColumnType {
    /// Whether the column has a numeric summary (integer or number).
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Number)
    }

    /// The type of a column that holds values of both types: `integer` and `number` widen to
    /// `number`, any other two different types to `string`.
    fn widest(self, other: ColumnType) -> ColumnType {
        match (self, other) {
            _ if self == other => self,
            (ColumnType::Integer, ColumnType::Number)
            | (ColumnType::Number, ColumnType::Integer) => ColumnType::Number,
            _ => ColumnType::String,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::String => "string",
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The profile of a whole dataset, stored as JSON in the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataProfile {
    pub format: Format,
    pub rows: u64,
    /// Rows equal (by canonical form) to an earlier row.
    pub duplicate_rows: u64,
    pub columns: Vec<ColumnProfile>,
}

/// The profile of one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub missing: u64,
    /// `missing / rows`.
    pub missing_rate: f64,
    /// How many different non-missing values the column holds.
    pub distinct: u64,
    /// For integer and number columns with at least one value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericSummary>,
    /// For boolean and string columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<CategorySummary>,
}

/// Figures of a numeric column's non-missing values. Quantiles interpolate linearly between
/// order statistics, as numpy's default (and pandas' `quantile`) do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Sample standard deviation (ddof = 1, as pandas); absent with fewer than two values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    pub p5: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
}

/// The most frequent values of a categorical column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategorySummary {
    /// At most [`TOP_CATEGORIES`], most frequent first, ties in ascending value order. Booleans
    /// are listed as `true` and `false`.
    pub top: Vec<CategoryCount>,
    /// Non-missing values outside `top`.
    pub other: u64,
}

/// One value of a categorical column and how many rows hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub value: String,
    pub count: u64,
}

/// A row's digest: SHA-256 of its canonical form, truncated to 16 bytes.
pub type RowDigest = [u8; 16];

/// A profile together with the digest set of the rows it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Profiled {
    pub profile: DataProfile,
    pub digests: RowDigestSet,
}

/// The distinct row digests of a dataset, sorted ascending: the blob the independence check
/// stores and intersects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowDigestSet {
    digests: Vec<RowDigest>,
}

/// Why a dataset could not be profiled.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("not CSV or Parquet: {0}")]
    NotCsvOrParquet(String),
    #[error("empty data: no header row")]
    NoHeader,
    #[error("empty data: no rows (the {described_by} names {columns} columns)")]
    NoRows {
        described_by: &'static str,
        columns: usize,
    },
    #[error("empty data: no columns")]
    NoColumns,
    #[error("row {row} (line {line}) has {fields} fields, the header has {header}")]
    RaggedRow {
        row: u64,
        line: u64,
        fields: usize,
        header: usize,
    },
    #[error("the header names column {0:?} more than once")]
    DuplicateColumn(String),
    #[error("malformed CSV: {0}")]
    Csv(String),
    #[error("malformed Parquet: {0}")]
    Parquet(String),
    #[error(
        "Parquet column {column:?} is compressed with {codec}; only uncompressed and Snappy \
         (the pandas and pyarrow default) Parquet can be read"
    )]
    UnsupportedCodec { column: String, codec: &'static str },
    #[error(
        "Parquet column {0:?} is repeated (a list or a map); only flat tables can be profiled"
    )]
    NestedColumn(String),
    #[error("Parquet column {0:?} holds binary values that are not UTF-8 text")]
    BinaryColumn(String),
    #[error(
        "{part} has the columns {found:?}, but {first} has {expected:?}: the parts of a table \
         have the same columns in the same order (differing: {})",
        differing.join(", ")
    )]
    ColumnsDiffer {
        /// The part whose columns differ.
        part: String,
        /// The first part, whose columns the others must have.
        first: String,
        expected: Vec<String>,
        found: Vec<String>,
        /// The columns only one of the two has, or, when both have the same ones, those that
        /// stand at different places.
        differing: Vec<String>,
    },
}

/// Why a named fact could not be read from a profile.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    #[error("unknown fact {name:?}; known facts are {known}")]
    UnknownFact { name: String, known: String },
    #[error("fact {0:?} is about a column: name one, as in {0}(age)")]
    NeedsColumn(String),
    #[error("fact {fact:?} is about the whole table, not column {column:?}")]
    TakesNoColumn { fact: String, column: String },
    #[error("no column named {0:?}")]
    UnknownColumn(String),
    #[error("fact {fact:?} needs a numeric column; {column:?} is {kind}")]
    NotNumeric {
        fact: String,
        column: String,
        kind: ColumnType,
    },
    #[error("fact {fact:?} has no value for column {column:?}: {reason}")]
    NoValue {
        fact: String,
        column: String,
        reason: &'static str,
    },
}

/// Why bytes are not a row digest set.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestSetError {
    #[error(
        "not a row digest set: it does not start with the magic {:?}",
        String::from_utf8_lossy(DIGEST_SET_MAGIC)
    )]
    BadMagic,
    #[error("row digest set of {declared} digests has {actual} bytes of digests, not {}", declared.saturating_mul(16))]
    BadLength { declared: u64, actual: usize },
    #[error("row digest set is not sorted without repeats at digest {0}")]
    NotSorted(usize),
}

// ---------------------------------------------------------------------------------------------
// Entry points

/// Tells the format of a dataset file, or why it is neither CSV nor Parquet.
pub fn detect_format(bytes: &[u8]) -> Result<Format, ProfileError> {
    if bytes.is_empty() {
        return Err(not_csv_or_parquet("the input is empty"));
    }
    if bytes.starts_with(PARQUET_MAGIC) {
        if bytes.len() >= 2 * PARQUET_MAGIC.len() + 4 && bytes.ends_with(PARQUET_MAGIC) {
            return Ok(Format::Parquet);
        }
        return Err(not_csv_or_parquet(
            "it starts with the Parquet magic PAR1 but does not end with it (truncated?)",
        ));
    }
    if let Err(error) = std::str::from_utf8(bytes) {
        return Err(not_csv_or_parquet(&format!(
            "byte {} is not UTF-8 text",
            error.valid_up_to()
        )));
    }
    if let Some(offset) = bytes.iter().position(|&byte| byte == 0) {
        return Err(not_csv_or_parquet(&format!(
            "byte {offset} is a NUL, which text has not"
        )));
    }
    Ok(Format::Csv)
}

/// Profiles a CSV or Parquet file held in memory.
pub fn profile(bytes: &[u8]) -> Result<DataProfile, ProfileError> {
    profile_with_digests(bytes).map(|profiled| profiled.profile)
}

/// Profiles a CSV or Parquet file and keeps the set of its row digests.
pub fn profile_with_digests(bytes: &[u8]) -> Result<Profiled, ProfileError> {
    let mut profiler = Profiler::new(ONE_FILE);
    read_any(bytes, &mut profiler)?;
    profiler.finish()
}

/// Profiles several CSV or Parquet files, each named for errors, as one table (see
/// [`TableProfiler`]).
pub fn profile_parts<'a>(
    parts: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Profiled, ProfileError> {
    let mut table = TableProfiler::new();
    for (name, bytes) in parts {
        table = table.add(name, bytes)?;
    }
    table.finish()
}

/// Profiles a table stored as several files (parts), read one after the other: the profile
/// and row-digest set are those of the rows of all the parts, in the order they were added.
/// Each `add` takes the profiler and gives it back, so that one whose part failed (a malformed
/// file, columns that differ) cannot be finished as if the part had not been read.
pub struct TableProfiler {
    profiler: Profiler,
}

impl Default for TableProfiler {
    fn default() -> Self {
        TableProfiler::new()
    }
}

impl TableProfiler {
    /// A profiler that has read no part yet.
    pub fn new() -> Self {
        TableProfiler {
            profiler: Profiler::new(""),
        }
    }

    /// Reads one more part, a CSV or Parquet file held in memory; `name` (its path, say) names
    /// it in errors.
    pub fn add(mut self, name: &str, bytes: &[u8]) -> Result<Self, ProfileError> {
        self.profiler.part = name.to_owned();
        read_any(bytes, &mut self.profiler)?;
        Ok(self)
    }

    /// Reads one more part, CSV from a stream.
    pub fn add_csv(mut self, name: &str, reader: impl Read) -> Result<Self, ProfileError> {
        self.profiler.part = name.to_owned();
        read_csv(reader, &mut self.profiler)?;
        Ok(self)
    }

    /// How many parts were read.
    pub fn parts(&self) -> usize {
        self.profiler.parts
    }

    /// The profile of all the rows read, and their digest set; an error when there were no
    /// parts, no columns or no rows.
    pub fn finish(self) -> Result<Profiled, ProfileError> {
        self.profiler.finish()
    }
}

/// Profiles CSV read from a stream (header row, comma separator, RFC 4180 quoting).
pub fn profile_csv(reader: impl Read) -> Result<DataProfile, ProfileError> {
    profile_csv_with_digests(reader).map(|profiled| profiled.profile)
}

/// Profiles CSV read from a stream and keeps the set of its row digests.
pub fn profile_csv_with_digests(reader: impl Read) -> Result<Profiled, ProfileError> {
    let mut profiler = Profiler::new(ONE_FILE);
    read_csv(reader, &mut profiler)?;
    profiler.finish()
}

/// The digest of every row of a CSV or Parquet file, in row order, repeats included.
pub fn row_digests(bytes: &[u8]) -> Result<Vec<RowDigest>, ProfileError> {
    let mut profiler = Profiler::new(ONE_FILE);
    read_any(bytes, &mut profiler)?;
    profiler.require_rows()?;
    Ok(profiler.digests)
}

/// How many digests two sorted, repeat-free digest lists (as [`RowDigestSet`] keeps them) share.
pub fn shared_rows(a: &[RowDigest], b: &[RowDigest]) -> u64 {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// The name a lone file goes by in errors.
const ONE_FILE: &str = "the file";

fn read_any<S: PartSink>(bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
    match detect_format(bytes)? {
        Format::Csv => read_csv(bytes, sink),
        Format::Parquet => read_parquet(bytes, sink),
        Format::Mixed => Err(not_csv_or_parquet("a file is either CSV or Parquet").into()),
    }
}

/// A column as a reader meets it, before any row: its name, and its type when the file
/// declares one (Parquet; CSV types are inferred from the values).
pub(crate) struct ColumnHead {
    pub name: String,
    pub declared: Option<ColumnType>,
}

/// Where a reader's rows go, cell by cell: the profiler, or another reader of the same files
/// (the fairness columns of [`crate::fairness_file`]).
pub(crate) trait RowSink {
    fn start_row(&mut self);
    /// The current row's cell of column `column` (in file order). `spelling` is the text it was
    /// read from: the CSV cell as written; for Parquet, text values, `true` or `false`, and empty
    /// for numbers and missing values.
    fn push(&mut self, column: usize, cell: &CellValue<'_>, spelling: &str);
    fn end_row(&mut self);
}

/// A sink told of each file (part) before its rows: its format and columns, which it may
/// refuse.
pub(crate) trait PartSink: RowSink {
    type Error: From<ProfileError>;
    fn begin_part(&mut self, format: Format, heads: Vec<ColumnHead>) -> Result<(), Self::Error>;
}

/// A sink built from the first file's format and columns by `make`; one file only.
struct BuiltSink<S, F> {
    make: Option<F>,
    sink: Option<S>,
}

impl<S: RowSink, F> RowSink for BuiltSink<S, F> {
    fn start_row(&mut self) {
        if let Some(sink) = &mut self.sink {
            sink.start_row();
        }
    }
    fn push(&mut self, column: usize, cell: &CellValue<'_>, spelling: &str) {
        if let Some(sink) = &mut self.sink {
            sink.push(column, cell, spelling);
        }
    }
    fn end_row(&mut self) {
        if let Some(sink) = &mut self.sink {
            sink.end_row();
        }
    }
}

impl<S, E, F> PartSink for BuiltSink<S, F>
where
    S: RowSink,
    E: From<ProfileError>,
    F: FnOnce(Format, Vec<ColumnHead>) -> Result<S, E>,
{
    type Error = E;
    fn begin_part(&mut self, format: Format, heads: Vec<ColumnHead>) -> Result<(), E> {
        let make = self.make.take().ok_or_else(|| {
            ProfileError::Parquet("one file is read into this sink, not several".to_owned())
        })?;
        self.sink = Some(make(format, heads)?);
        Ok(())
    }
}

/// Reads a CSV or Parquet file (told apart by [`detect_format`]) into the sink `make` builds
/// from the file's format and columns; `make` may refuse the columns.
pub(crate) fn read_any_into<S: RowSink, E: From<ProfileError>>(
    bytes: &[u8],
    make: impl FnOnce(Format, Vec<ColumnHead>) -> Result<S, E>,
) -> Result<S, E> {
    let mut built = BuiltSink {
        make: Some(make),
        sink: None,
    };
    read_any(bytes, &mut built)?;
    built
        .sink
        .ok_or_else(|| ProfileError::Parquet("the file was not read".to_owned()).into())
}

/// Reads a CSV file streamed from `reader` into the sink `make` builds from its columns, as
/// [`read_any_into`] reads one held in memory. The checks [`detect_format`] makes of a whole
/// file are made record by record instead: a byte that is not UTF-8 or a NUL is refused with
/// its row and column.
pub(crate) fn read_csv_into<S: RowSink, E: From<ProfileError>>(
    reader: impl Read,
    make: impl FnOnce(Format, Vec<ColumnHead>) -> Result<S, E>,
) -> Result<S, E> {
    let mut built = BuiltSink {
        make: Some(make),
        sink: None,
    };
    read_csv(reader, &mut built)?;
    built
        .sink
        .ok_or_else(|| ProfileError::Csv("the file was not read".to_owned()).into())
}

/// The columns that keep two parts' column lists from being equal: those only one has, or,
/// when they have the same ones, those at different places.
fn differing_columns(expected: &[String], found: &[String]) -> Vec<String> {
    let mut only_one: Vec<String> = expected
        .iter()
        .filter(|name| !found.contains(name))
        .chain(found.iter().filter(|name| !expected.contains(name)))
        .cloned()
        .collect();
    if only_one.is_empty() {
        only_one = expected
            .iter()
            .zip(found)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.clone())
            .collect();
    }
    only_one
}

fn not_csv_or_parquet(why: &str) -> ProfileError {
    ProfileError::NotCsvOrParquet(why.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Cells

/// One cell's value, after missing values and the spelling of booleans and numbers were read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CellValue<'a> {
    Missing,
    Boolean(bool),
    Integer(i64),
    Number(f64),
    Text(&'a str),
}

/// Reads a CSV cell: an NA spelling is missing, then as [`classify_text`].
///
/// Most cells of a table are plain numbers, so a cell that starts with a digit is first read in
/// one scan by [`read_plain_number`]; what that does not take goes the general way. (No boolean
/// starts with a digit, and the NA spellings that do, `1.#IND` and `1.#QNAN`, are not plain.)
fn classify_csv_cell(text: &str) -> CellValue<'_> {
    if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Some(cell) = read_plain_number(text.as_bytes()) {
            return cell;
        }
    }
    if is_na_spelling(text) {
        CellValue::Missing
    } else {
        classify_text(text)
    }
}

/// 10^0 ..= 10^22: the powers of ten a double holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Digits with at most one `.` and nothing else, read as [`parse_numeric`] reads them: up to 18
/// digits and no `.` is that integer; a `.` with digits that make a mantissa m <= 2^53 and at
/// most 22 of them after it is m / 10^k, which is correctly rounded because both are exact
/// doubles (Clinger's fast path: the same value the standard parser gives). None otherwise.
fn read_plain_number(bytes: &[u8]) -> Option<CellValue<'static>> {
    let mut mantissa = 0u64;
    let mut digits = 0usize;
    let mut dot = None;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(byte - b'0'));
                digits += 1;
            }
            b'.' if dot.is_none() => dot = Some(at),
            _ => return None,
        }
    }
    // 18 digits stay below 10^18 < 2^63: nothing wrapped, and the integer fits an i64.
    if digits == 0 || digits > 18 {
        return None;
    }
    match dot {
        None => i64::try_from(mantissa).ok().map(CellValue::Integer),
        Some(at) => {
            let scale = *EXACT_POWERS_OF_TEN.get(bytes.len() - at - 1)?;
            (mantissa <= 1 << 53).then(|| CellValue::Number(mantissa as f64 / scale))
        }
    }
}

/// Whether `text` is one of [`NA_SPELLINGS`], compared only with the spellings of its length.
fn is_na_spelling(text: &str) -> bool {
    let bytes = text.as_bytes();
    match bytes.len() {
        0 => true,
        2 => bytes == b"NA",
        3 => matches!(bytes, b"#NA" | b"N/A" | b"NaN" | b"n/a" | b"nan"),
        4 => matches!(
            bytes,
            b"#N/A" | b"-NaN" | b"-nan" | b"<NA>" | b"NULL" | b"None" | b"null"
        ),
        6 => bytes == b"1.#IND",
        7 => matches!(bytes, b"-1.#IND" | b"1.#QNAN"),
        8 => matches!(bytes, b"#N/A N/A" | b"-1.#QNAN"),
        _ => false,
    }
}

/// Reads text as a boolean or a number when it spells one, else keeps it as text.
fn classify_text(text: &str) -> CellValue<'_> {
    if let Some(value) = parse_boolean(text) {
        return CellValue::Boolean(value);
    }
    parse_numeric(text).unwrap_or(CellValue::Text(text))
}

fn parse_boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// An integer or a finite decimal number, with spaces or tabs around it allowed.
fn parse_numeric(text: &str) -> Option<CellValue<'static>> {
    let trimmed = trim_spaces(text);
    let first = *trimmed.as_bytes().first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    if let Some(integer) = parse_integer(trimmed.as_bytes()) {
        return Some(CellValue::Integer(integer));
    }
    if !is_decimal_syntax(trimmed.as_bytes()) {
        return None;
    }
    let number: f64 = trimmed.parse().ok()?;
    number.is_finite().then_some(CellValue::Number(number))
}

/// `text` without the ASCII spaces and tabs around it.
fn trim_spaces(text: &str) -> &str {
    let is_space = |byte: &u8| matches!(byte, b' ' | b'\t');
    let bytes = text.as_bytes();
    let start = bytes.iter().take_while(|byte| is_space(byte)).count();
    let end = bytes.len()
        - bytes[start..]
            .iter()
            .rev()
            .take_while(|byte| is_space(byte))
            .count();
    // Spaces and tabs are ASCII, so both ends are character boundaries.
    text.get(start..end).unwrap_or(text)
}

fn parse_integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(byte - b'0');
        magnitude = magnitude.checked_mul(10)?;
        magnitude = if negative {
            magnitude.checked_sub(digit)?
        } else {
            magnitude.checked_add(digit)?
        };
    }
    Some(magnitude)
}

/// `[+-]? digits? (. digits?)? ([eE] [+-]? digits)?` with at least one mantissa digit.
fn is_decimal_syntax(text: &[u8]) -> bool {
    let mut at = usize::from(matches!(text.first(), Some(b'+' | b'-')));
    let integer_digits = count_digits(&text[at..]);
    at += integer_digits;
    let mut fraction_digits = 0;
    if text.get(at) == Some(&b'.') {
        at += 1;
        fraction_digits = count_digits(&text[at..]);
        at += fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return false;
    }
    if matches!(text.get(at), Some(b'e' | b'E')) {
        at += 1;
        at += usize::from(matches!(text.get(at), Some(b'+' | b'-')));
        let exponent_digits = count_digits(&text[at..]);
        if exponent_digits == 0 {
            return false;
        }
        at += exponent_digits;
    }
    at == text.len()
}

fn count_digits(text: &[u8]) -> usize {
    text.iter().take_while(|byte| byte.is_ascii_digit()).count()
}

/// The integer a finite number equals exactly, if it has no fraction and fits in an `i64`.
fn exact_integer(number: f64) -> Option<i64> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let fits = (-TWO_POW_63..TWO_POW_63).contains(&number);
    (fits && number.fract() == 0.0).then_some(number as i64)
}

// ---------------------------------------------------------------------------------------------
// Canonical rows

/// The canonical bytes of the row being read (see the module documentation).
struct CanonicalRow {
    bytes: Vec<u8>,
}

impl CanonicalRow {
    fn new() -> Self {
        CanonicalRow {
            bytes: Vec::with_capacity(256),
        }
    }

    fn start(&mut self) {
        self.bytes.clear();
        self.bytes.extend_from_slice(ROW_DIGEST_PREFIX);
    }

    /// Appends a cell already read by [`classify_text`] (text cells spell no boolean or number).
    fn push(&mut self, cell: &CellValue) {
        match *cell {
            CellValue::Missing => self.bytes.push(0),
            CellValue::Boolean(value) => self.bytes.extend_from_slice(&[1, u8::from(value)]),
            CellValue::Integer(value) => self.push_integer(value),
            CellValue::Number(value) => match exact_integer(value) {
                Some(integer) => self.push_integer(integer),
                None => {
                    self.bytes.push(3);
                    self.bytes.extend_from_slice(&value.to_bits().to_be_bytes());
                }
            },
            CellValue::Text(text) => {
                self.bytes.push(4);
                self.push_length(text.len());
                self.bytes.extend_from_slice(text.as_bytes());
            }
        }
    }

    /// Unsigned LEB128: seven bits a byte, low bits first, the high bit set on all but the last.
    fn push_length(&mut self, mut length: usize) {
        while length >= 0x80 {
            self.bytes.push((length & 0x7f) as u8 | 0x80);
            length >>= 7;
        }
        self.bytes.push(length as u8);
    }

    fn push_integer(&mut self, value: i64) {
        self.bytes.push(2);
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    fn digest(&self) -> RowDigest {
        let full = Sha256::digest(&self.bytes);
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        digest
    }
}

// ---------------------------------------------------------------------------------------------
// Columns

/// What a column has seen so far.
enum Observed {
    /// Every value so far was a number.
    Numbers { values: Vec<f64>, all_integer: bool },
    /// Counts of each value's spelling.
    Categories { counts: Tally, all_boolean: bool },
}

/// How often each spelling of a categorical column occurs. Spellings of up to 15 bytes (most
/// categories: codes, arms, sites, dates) are counted under their bytes and length packed in a
/// `u128`, which hashes and compares in a few instructions and needs no allocation; longer ones
/// under the text itself. A spelling is under one or the other by its length alone.
#[derive(Default)]
struct Tally {
    short: HashMap<u128, u64>,
    long: HashMap<Box<str>, u64>,
}

impl Tally {
    const SHORT: usize = 15;

    fn add(&mut self, spelling: &str) {
        match Tally::pack(spelling) {
            Some(key) => *self.short.entry(key).or_insert(0) += 1,
            None => count_category(&mut self.long, spelling),
        }
    }

    /// The bytes in the low 15 bytes (little-endian), the length in the top one.
    fn pack(spelling: &str) -> Option<u128> {
        let bytes = spelling.as_bytes();
        if bytes.len() > Tally::SHORT {
            return None;
        }
        let mut packed = [0u8; 16];
        packed[..bytes.len()].copy_from_slice(bytes);
        packed[Tally::SHORT] = bytes.len() as u8;
        Some(u128::from_le_bytes(packed))
    }

    fn unpack(key: u128) -> Box<str> {
        let packed = key.to_le_bytes();
        let length = usize::from(packed[Tally::SHORT]).min(Tally::SHORT);
        // Packed from a `str`, so the bytes are UTF-8 text.
        String::from_utf8_lossy(&packed[..length]).into()
    }

    fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    fn into_map(self) -> HashMap<Box<str>, u64> {
        let mut counts = self.long;
        counts.extend(
            self.short
                .into_iter()
                .map(|(key, count)| (Tally::unpack(key), count)),
        );
        counts
    }
}

/// Gathers one column's values while rows are read.
struct ColumnAccumulator {
    name: String,
    /// The widest type the schemas of the Parquet parts read so far declare.
    declared: Option<ColumnType>,
    /// Whether a CSV part was read, whose values tell the type.
    inferred: bool,
    missing: u64,
    observed: Observed,
}

impl ColumnAccumulator {
    /// A CSV column, whose type the values will tell.
    fn inferred(name: String) -> Self {
        ColumnAccumulator {
            name,
            declared: None,
            inferred: true,
            missing: 0,
            observed: Observed::Numbers {
                values: Vec::new(),
                all_integer: true,
            },
        }
    }

    /// A Parquet column, whose type the schema tells.
    fn declared(name: String, kind: ColumnType) -> Self {
        let observed = if kind.is_numeric() {
            Observed::Numbers {
                values: Vec::new(),
                all_integer: kind == ColumnType::Integer,
            }
        } else {
            Observed::Categories {
                counts: Tally::default(),
                all_boolean: kind == ColumnType::Boolean,
            }
        };
        ColumnAccumulator {
            name,
            declared: Some(kind),
            inferred: false,
            missing: 0,
            observed,
        }
    }

    /// Takes in that the next part is CSV (`None`) or Parquet declaring `kind`.
    fn next_part(&mut self, kind: Option<ColumnType>) {
        match kind {
            None => self.inferred = true,
            Some(kind) => {
                self.declared = Some(self.declared.map_or(kind, |seen| seen.widest(kind)));
                if !kind.is_numeric() {
                    self.become_categorical();
                }
            }
        }
    }

    /// Counts a cell; `spelling` is its text as read, the category it counts under if the
    /// column is categorical.
    fn push(&mut self, cell: &CellValue, spelling: &str) {
        if let CellValue::Missing = cell {
            self.missing += 1;
            return;
        }
        if let (
            Observed::Numbers {
                values,
                all_integer,
            },
            Some(number),
        ) = (&mut self.observed, numeric_value(cell))
        {
            values.push(number);
            *all_integer &= matches!(cell, CellValue::Integer(_));
            return;
        }
        self.become_categorical();
        if let Observed::Categories {
            counts,
            all_boolean,
        } = &mut self.observed
        {
            *all_boolean &= matches!(cell, CellValue::Boolean(_));
            match (spelling, cell) {
                // A Parquet number has no spelling; it counts under its canonical one when a
                // CSV part made its column categorical.
                ("", CellValue::Integer(value)) => {
                    counts.add(&number_spelling(*value as f64, true))
                }
                ("", CellValue::Number(value)) => counts.add(&number_spelling(*value, false)),
                _ => counts.add(spelling),
            }
        }
    }

    /// Turns the numbers seen so far into categories, spelled canonically.
    fn become_categorical(&mut self) {
        if let Observed::Numbers {
            values,
            all_integer,
        } = &mut self.observed
        {
            let mut counts = Tally::default();
            for &value in values.iter() {
                counts.add(&number_spelling(value, *all_integer));
            }
            self.observed = Observed::Categories {
                all_boolean: counts.is_empty(),
                counts,
            };
        }
    }

    fn kind(&self) -> ColumnType {
        match (self.declared, self.inferred) {
            (Some(kind), false) => kind,
            (Some(kind), true) => kind.widest(self.inferred_kind()),
            (None, _) => self.inferred_kind(),
        }
    }

    /// The type the values seen say.
    fn inferred_kind(&self) -> ColumnType {
        match &self.observed {
            Observed::Numbers {
                values,
                all_integer,
            } if *all_integer && !values.is_empty() => ColumnType::Integer,
            Observed::Numbers { .. } => ColumnType::Number,
            Observed::Categories { all_boolean, .. } if *all_boolean => ColumnType::Boolean,
            Observed::Categories { .. } => ColumnType::String,
        }
    }

    fn finish(mut self, rows: u64) -> ColumnProfile {
        let kind = self.kind();
        if !kind.is_numeric() {
            self.become_categorical();
        }
        let mut profile = ColumnProfile {
            name: self.name,
            kind,
            missing: self.missing,
            missing_rate: self.missing as f64 / rows as f64,
            distinct: 0,
            numeric: None,
            categories: None,
        };
        match self.observed {
            Observed::Numbers { values, .. } => {
                let (summary, distinct) = summarize_numbers(values);
                profile.numeric = summary;
                profile.distinct = distinct;
            }
            Observed::Categories { counts, .. } => {
                let counts = counts.into_map();
                let counts = if kind == ColumnType::Boolean {
                    canonical_booleans(counts)
                } else {
                    counts
                };
                profile.distinct = counts.len() as u64;
                profile.categories = Some(summarize_categories(counts));
            }
        }
        profile
    }
}

fn numeric_value(cell: &CellValue) -> Option<f64> {
    match *cell {
        CellValue::Integer(value) => Some(value as f64),
        CellValue::Number(value) => Some(value),
        _ => None,
    }
}

fn count_category(counts: &mut HashMap<Box<str>, u64>, spelling: &str) {
    match counts.get_mut(spelling) {
        Some(count) => *count += 1,
        None => {
            counts.insert(spelling.into(), 1);
        }
    }
}

fn number_spelling(value: f64, integer: bool) -> String {
    if integer {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Merges the spellings of a boolean column (`True`, `TRUE`, ...) into `true` and `false`.
fn canonical_booleans(counts: HashMap<Box<str>, u64>) -> HashMap<Box<str>, u64> {
    let mut merged: HashMap<Box<str>, u64> = HashMap::new();
    for (spelling, count) in counts {
        let value = parse_boolean(&spelling).unwrap_or(false);
        *merged.entry(value.to_string().into()).or_insert(0) += count;
    }
    merged
}

// ---------------------------------------------------------------------------------------------
// Summaries

/// The numeric summary and the distinct count of a column's values.
fn summarize_numbers(mut values: Vec<f64>) -> (Option<NumericSummary>, u64) {
    if values.is_empty() {
        return (None, 0);
    }
    crate::radix::sort_total(&mut values);
    let distinct = 1 + values.windows(2).filter(|pair| pair[0] != pair[1]).count() as u64;
    let mean = compensated_sum(values.iter().copied()) / values.len() as f64;
    let summary = NumericSummary {
        count: values.len() as u64,
        min: values[0],
        max: values[values.len() - 1],
        mean,
        std: sample_std(&values, mean),
        p5: quantile_of_sorted(&values, 0.05),
        p25: quantile_of_sorted(&values, 0.25),
        p50: quantile_of_sorted(&values, 0.5),
        p75: quantile_of_sorted(&values, 0.75),
        p95: quantile_of_sorted(&values, 0.95),
    };
    (Some(summary), distinct)
}

/// Neumaier's compensated sum, so that means of millions of values keep their digits.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for value in values {
        let next = sum + value;
        compensation += if sum.abs() >= value.abs() {
            (sum - next) + value
        } else {
            (value - next) + sum
        };
        sum = next;
    }
    sum + compensation
}

/// The sample standard deviation (ddof = 1), from the mean, in two passes as pandas computes it.
fn sample_std(values: &[f64], mean: f64) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let squares = compensated_sum(values.iter().map(|value| (value - mean) * (value - mean)));
    Some((squares / (values.len() - 1) as f64).sqrt())
}

/// numpy's default (`linear`) quantile of sorted values: `x[i] + g (x[i+1] - x[i])` where
/// `i + g = q (n - 1)`, computed as numpy's `_lerp` does.
fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let virtual_index = q * last as f64;
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let low = (below as usize).min(last);
    let high = (low + 1).min(last);
    interpolate(sorted[low], sorted[high], gamma)
}

fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    let difference = b - a;
    if t >= 0.5 {
        b - difference * (1.0 - t)
    } else {
        a + difference * t
    }
}

fn summarize_categories(counts: HashMap<Box<str>, u64>) -> CategorySummary {
    let total: u64 = counts.values().sum();
    let mut entries: Vec<(Box<str>, u64)> = counts.into_iter().collect();
    let by_frequency =
        |a: &(Box<str>, u64), b: &(Box<str>, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    if entries.len() > TOP_CATEGORIES {
        entries.select_nth_unstable_by(TOP_CATEGORIES - 1, by_frequency);
        entries.truncate(TOP_CATEGORIES);
    }
    entries.sort_unstable_by(by_frequency);
    let listed: u64 = entries.iter().map(|entry| entry.1).sum();
    CategorySummary {
        top: entries
            .into_iter()
            .map(|(value, count)| CategoryCount {
                value: value.into(),
                count,
            })
            .collect(),
        other: total - listed,
    }
}

// ---------------------------------------------------------------------------------------------
// The profiler: rows in, profile out

/// Reads rows, of one part or several, into column accumulators and row digests.
struct Profiler {
    /// The format of the parts read so far (`None` before the first).
    format: Option<Format>,
    columns: Vec<ColumnAccumulator>,
    row: CanonicalRow,
    digests: Vec<RowDigest>,
    /// How many parts were begun.
    parts: usize,
    /// The format of the part being read.
    part_format: Format,
    /// The name of the part being read, and of the first part, for errors.
    part: String,
    first_part: String,
}

impl Profiler {
    fn new(part: &str) -> Self {
        Profiler {
            format: None,
            columns: Vec::new(),
            row: CanonicalRow::new(),
            digests: Vec::new(),
            parts: 0,
            part_format: Format::Csv,
            part: part.to_owned(),
            first_part: String::new(),
        }
    }

    /// Starts a part with these columns: CSV (`kinds` is `None`) or Parquet with the types its
    /// schema declares. The first part sets the columns; every later one must have the same.
    fn begin_part_of(
        &mut self,
        format: Format,
        names: &[String],
        kinds: Option<&[ColumnType]>,
    ) -> Result<(), ProfileError> {
        self.part_format = format;
        let kind_of = |index: usize| kinds.and_then(|kinds| kinds.get(index).copied());
        let Some(seen) = self.format else {
            self.columns = names
                .iter()
                .enumerate()
                .map(|(index, name)| match kind_of(index) {
                    Some(kind) => ColumnAccumulator::declared(name.clone(), kind),
                    None => ColumnAccumulator::inferred(name.clone()),
                })
                .collect();
            self.format = Some(format);
            self.parts = 1;
            self.first_part = self.part.clone();
            return Ok(());
        };
        let same = self.columns.len() == names.len()
            && self.columns.iter().zip(names).all(|(c, n)| c.name == *n);
        if !same {
            let expected: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
            return Err(ProfileError::ColumnsDiffer {
                part: self.part.clone(),
                first: self.first_part.clone(),
                differing: differing_columns(&expected, names),
                expected,
                found: names.to_vec(),
            });
        }
        for (index, column) in self.columns.iter_mut().enumerate() {
            column.next_part(kind_of(index));
        }
        if seen != format {
            self.format = Some(Format::Mixed);
        }
        self.parts += 1;
        Ok(())
    }

    fn require_rows(&self) -> Result<(), ProfileError> {
        if self.columns.is_empty() {
            return Err(ProfileError::NoColumns);
        }
        if self.digests.is_empty() {
            let described_by = match self.format {
                Some(Format::Csv) | None => "header",
                Some(Format::Parquet) => "schema",
                Some(Format::Mixed) => "header and schema",
            };
            return Err(ProfileError::NoRows {
                described_by,
                columns: self.columns.len(),
            });
        }
        Ok(())
    }

    fn finish(self) -> Result<Profiled, ProfileError> {
        self.require_rows()?;
        let rows = self.digests.len() as u64;
        let digests = RowDigestSet::from_digests(self.digests);
        let profile = DataProfile {
            format: self.format.unwrap_or(Format::Csv),
            rows,
            duplicate_rows: rows - digests.len() as u64,
            columns: self
                .columns
                .into_iter()
                .map(|column| column.finish(rows))
                .collect(),
        };
        Ok(Profiled { profile, digests })
    }
}

impl RowSink for Profiler {
    fn start_row(&mut self) {
        self.row.start();
    }

    fn push(&mut self, column: usize, cell: &CellValue<'_>, spelling: &str) {
        self.columns[column].push(cell, spelling);
        match (self.part_format, cell) {
            // A Parquet string that spells a number or a boolean is that value in a row digest;
            // a CSV cell was read that way already.
            (Format::Parquet, CellValue::Text(text)) => self.row.push(&classify_text(text)),
            _ => self.row.push(cell),
        }
    }

    fn end_row(&mut self) {
        self.digests.push(self.row.digest());
    }
}

impl PartSink for Profiler {
    type Error = ProfileError;
    fn begin_part(&mut self, format: Format, heads: Vec<ColumnHead>) -> Result<(), ProfileError> {
        let names: Vec<String> = heads.iter().map(|h| h.name.clone()).collect();
        let kinds: Option<Vec<ColumnType>> = heads.iter().map(|h| h.declared).collect();
        self.begin_part_of(format, &names, kinds.as_deref())
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

fn read_csv<S: PartSink>(reader: impl Read, sink: &mut S) -> Result<(), S::Error> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let names = read_csv_header(&mut csv)?;
    let width = names.len();
    let heads = names
        .iter()
        .map(|name| ColumnHead {
            name: name.clone(),
            declared: None,
        })
        .collect();
    sink.begin_part(Format::Csv, heads)?;
    // A `StringRecord` checks a whole ASCII record at once, then each field only if it must.
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    while read_csv_record(&mut csv, &mut record, row + 1, &names)? {
        row += 1;
        check_record(&record, row, width, &names)?;
        sink.start_row();
        for (column, text) in record.iter().enumerate() {
            let cell = classify_csv_cell(text);
            sink.push(column, &cell, text);
        }
        sink.end_row();
    }
    Ok(())
}

fn read_csv_record<R: Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    row: u64,
    names: &[String],
) -> Result<bool, ProfileError> {
    csv.read_record(record).map_err(|error| match error.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            let column = names.get(err.field()).map_or("?", String::as_str);
            not_csv_or_parquet(&format!("row {row}, column {column:?} is not UTF-8 text"))
        }
        _ => csv_error(error),
    })
}

fn read_csv_header<R: Read>(csv: &mut csv::Reader<R>) -> Result<Vec<String>, ProfileError> {
    let header = csv.headers().map_err(|error| match error.kind() {
        csv::ErrorKind::Utf8 { .. } => not_csv_or_parquet("the header row is not UTF-8 text"),
        _ => csv_error(error),
    })?;
    if header.is_empty() {
        return Err(ProfileError::NoHeader);
    }
    if header.as_byte_record().as_slice().contains(&0) {
        return Err(not_csv_or_parquet("the header row holds a NUL byte"));
    }
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (index, name) in header.iter().enumerate() {
        let name = if index == 0 {
            name.strip_prefix(UTF8_BOM).unwrap_or(name)
        } else {
            name
        };
        if names.iter().any(|seen| seen == name) {
            return Err(ProfileError::DuplicateColumn(name.to_owned()));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn check_record(
    record: &csv::StringRecord,
    row: u64,
    width: usize,
    names: &[String],
) -> Result<(), ProfileError> {
    if record.len() != width {
        return Err(ProfileError::RaggedRow {
            row,
            line: record.position().map_or(0, |position| position.line()),
            fields: record.len(),
            header: width,
        });
    }
    if record.as_byte_record().as_slice().contains(&0) {
        let column = record
            .iter()
            .position(|field| field.contains('\0'))
            .unwrap_or(0);
        return Err(not_csv_or_parquet(&format!(
            "row {row}, column {:?} holds a NUL byte",
            names[column]
        )));
    }
    Ok(())
}

fn csv_error(error: csv::Error) -> ProfileError {
    match error.kind() {
        csv::ErrorKind::Io(io) => ProfileError::Csv(format!("reading failed: {io}")),
        _ => ProfileError::Csv(error.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Parquet

/// How a Parquet leaf column's stored values become cells.
#[derive(Clone, Copy, Debug, PartialEq)]
enum LeafKind {
    Boolean,
    Integer,
    UnsignedInteger,
    Float32,
    Float64,
    Float16,
    Decimal {
        scale: i32,
    },
    Date,
    Time {
        unit: Unit,
    },
    Timestamp {
        unit: Unit,
        utc: bool,
        style: TimestampStyle,
    },
    Int96Timestamp {
        style: TimestampStyle,
    },
    Uuid,
    Text,
    AlwaysNull,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }

    fn digits(self) -> u32 {
        match self {
            Unit::Millis => 3,
            Unit::Micros => 6,
            Unit::Nanos => 9,
        }
    }

    fn per_day(self) -> i64 {
        86_400 * self.per_second()
    }
}

/// How pandas writes a timestamp column to CSV, which it decides from the whole column: the date
/// alone when every value is at midnight (and the column is not UTC-adjusted), else the time
/// with as many fraction digits (none, 3, 6 or 9) as the finest value needs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TimestampStyle {
    date_only: bool,
    fraction_digits: u32,
}

impl TimestampStyle {
    /// The style of a column with no values, widened by each value seen.
    const NARROWEST: TimestampStyle = TimestampStyle {
        date_only: true,
        fraction_digits: 0,
    };

    fn widen(&mut self, ticks: i64, unit: Unit) {
        if ticks.rem_euclid(unit.per_day()) != 0 {
            self.date_only = false;
        }
        let fraction = ticks.rem_euclid(unit.per_second());
        let needed = [0, 3, 6, 9]
            .into_iter()
            .find(|&digits| {
                digits >= unit.digits() || fraction % 10i64.pow(unit.digits() - digits) == 0
            })
            .unwrap_or(9);
        self.fraction_digits = self.fraction_digits.max(needed);
    }
}

impl From<&TimeUnit> for Unit {
    fn from(unit: &TimeUnit) -> Self {
        match unit {
            TimeUnit::MILLIS => Unit::Millis,
            TimeUnit::MICROS => Unit::Micros,
            TimeUnit::NANOS => Unit::Nanos,
        }
    }
}

impl LeafKind {
    fn of(column: &ColumnDescriptor) -> LeafKind {
        let physical = column.physical_type();
        match column.logical_type_ref() {
            Some(logical) => Self::of_logical(logical, physical, column.type_scale()),
            None => Self::of_converted(column.converted_type(), physical, column.type_scale()),
        }
    }

    fn of_logical(logical: &LogicalType, physical: PhysicalType, scale: i32) -> LeafKind {
        match logical {
            LogicalType::Integer(integer) if !integer.is_signed => LeafKind::UnsignedInteger,
            LogicalType::Integer(_) => LeafKind::Integer,
            LogicalType::Decimal(decimal) => LeafKind::Decimal {
                scale: decimal.scale,
            },
            LogicalType::Date => LeafKind::Date,
            LogicalType::Time(time) => LeafKind::Time {
                unit: Unit::from(&time.unit),
            },
            LogicalType::Timestamp(timestamp) => LeafKind::Timestamp {
                unit: Unit::from(&timestamp.unit),
                utc: timestamp.is_adjusted_to_u_t_c,
                style: TimestampStyle::NARROWEST,
            },
            LogicalType::Float16 => LeafKind::Float16,
            LogicalType::Uuid => LeafKind::Uuid,
            LogicalType::Unknown => LeafKind::AlwaysNull,
            LogicalType::String | LogicalType::Enum | LogicalType::Json => LeafKind::Text,
            _ => Self::of_converted(ConvertedType::NONE, physical, scale),
        }
    }

    fn of_converted(converted: ConvertedType, physical: PhysicalType, scale: i32) -> LeafKind {
        match converted {
            ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64 => LeafKind::UnsignedInteger,
            ConvertedType::DECIMAL => LeafKind::Decimal { scale },
            ConvertedType::DATE => LeafKind::Date,
            ConvertedType::TIME_MILLIS => LeafKind::Time { unit: Unit::Millis },
            ConvertedType::TIME_MICROS => LeafKind::Time { unit: Unit::Micros },
            ConvertedType::TIMESTAMP_MILLIS => LeafKind::Timestamp {
                unit: Unit::Millis,
                utc: true,
                style: TimestampStyle::NARROWEST,
            },
            ConvertedType::TIMESTAMP_MICROS => LeafKind::Timestamp {
                unit: Unit::Micros,
                utc: true,
                style: TimestampStyle::NARROWEST,
            },
            _ => Self::of_physical(physical),
        }
    }

    fn of_physical(physical: PhysicalType) -> LeafKind {
        match physical {
            PhysicalType::BOOLEAN => LeafKind::Boolean,
            PhysicalType::INT32 | PhysicalType::INT64 => LeafKind::Integer,
            PhysicalType::INT96 => LeafKind::Int96Timestamp {
                style: TimestampStyle::NARROWEST,
            },
            PhysicalType::FLOAT => LeafKind::Float32,
            PhysicalType::DOUBLE => LeafKind::Float64,
            PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY => LeafKind::Text,
        }
    }

    fn column_type(self) -> ColumnType {
        match self {
            LeafKind::Boolean => ColumnType::Boolean,
            LeafKind::Integer | LeafKind::UnsignedInteger => ColumnType::Integer,
            LeafKind::Float32
            | LeafKind::Float64
            | LeafKind::Float16
            | LeafKind::Decimal { .. } => ColumnType::Number,
            LeafKind::Date
            | LeafKind::Time { .. }
            | LeafKind::Timestamp { .. }
            | LeafKind::Int96Timestamp { .. }
            | LeafKind::Uuid
            | LeafKind::Text
            | LeafKind::AlwaysNull => ColumnType::String,
        }
    }
}

/// A flat Parquet leaf column: its dotted name and how its values read.
struct Leaf {
    name: String,
    kind: LeafKind,
    max_definition: i16,
}

fn read_parquet<S: PartSink>(bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
    // The parquet crate can panic on some malformed files; an upload must not take the server.
    catch_unwind(AssertUnwindSafe(|| read_parquet_unguarded(bytes, sink))).unwrap_or_else(|_| {
        Err(ProfileError::Parquet("the Parquet reader failed on this file".to_owned()).into())
    })
}

fn read_parquet_unguarded<S: PartSink>(bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
    let file = SerializedFileReader::new(Bytes::copy_from_slice(bytes)).map_err(parquet_error)?;
    let mut leaves = parquet_leaves(file.metadata().file_metadata().schema_descr())?;
    for index in 0..file.num_row_groups() {
        let group = file.get_row_group(index).map_err(parquet_error)?;
        check_codecs(group.as_ref(), &leaves)?;
    }
    settle_timestamp_styles(&file, &mut leaves)?;
    let heads = leaves
        .iter()
        .map(|leaf| ColumnHead {
            name: leaf.name.clone(),
            declared: Some(leaf.kind.column_type()),
        })
        .collect();
    sink.begin_part(Format::Parquet, heads)?;
    for index in 0..file.num_row_groups() {
        let group = file.get_row_group(index).map_err(parquet_error)?;
        read_row_group(group.as_ref(), &leaves, sink)?;
    }
    Ok(())
}

fn parquet_leaves(schema: &SchemaDescriptor) -> Result<Vec<Leaf>, ProfileError> {
    schema
        .columns()
        .iter()
        .map(|column| {
            let name = column.path().string();
            if column.max_rep_level() > 0 {
                return Err(ProfileError::NestedColumn(name));
            }
            Ok(Leaf {
                name,
                kind: LeafKind::of(column),
                max_definition: column.max_def_level(),
            })
        })
        .collect()
}

fn read_row_group(
    group: &dyn RowGroupReader,
    leaves: &[Leaf],
    sink: &mut impl RowSink,
) -> Result<(), ProfileError> {
    let mut readers = Vec::with_capacity(leaves.len());
    for (index, leaf) in leaves.iter().enumerate() {
        let reader = group.get_column_reader(index).map_err(parquet_error)?;
        readers.push(LeafReader::new(leaf, reader));
    }
    let expected = u64::try_from(group.metadata().num_rows()).unwrap_or(0);
    let mut read = 0u64;
    loop {
        let batch = read_batch(&mut readers, leaves)?;
        if batch == 0 {
            break;
        }
        read += batch as u64;
        for _ in 0..batch {
            sink.start_row();
            for (column, reader) in readers.iter_mut().enumerate() {
                reader.push_next(column, sink)?;
            }
            sink.end_row();
        }
    }
    if read != expected {
        return Err(ProfileError::Parquet(format!(
            "a row group declares {expected} rows but holds {read}"
        )));
    }
    Ok(())
}

/// Reads every timestamp column once ahead of the rows, to write it as pandas would.
fn settle_timestamp_styles(
    file: &SerializedFileReader<Bytes>,
    leaves: &mut [Leaf],
) -> Result<(), ProfileError> {
    for (index, leaf) in leaves.iter_mut().enumerate() {
        let (unit, style) = match &mut leaf.kind {
            LeafKind::Timestamp { unit, style, .. } => (*unit, style),
            LeafKind::Int96Timestamp { style } => (Unit::Micros, style),
            _ => continue,
        };
        for group in 0..file.num_row_groups() {
            let reader = file
                .get_row_group(group)
                .and_then(|group| group.get_column_reader(index))
                .map_err(parquet_error)?;
            widen_timestamp_style(reader, leaf.max_definition, unit, style)?;
        }
    }
    Ok(())
}

fn widen_timestamp_style(
    reader: ColumnReader,
    max_definition: i16,
    unit: Unit,
    style: &mut TimestampStyle,
) -> Result<(), ProfileError> {
    let mut definitions = Vec::new();
    match reader {
        ColumnReader::Int64ColumnReader(mut reader) => {
            let mut values = Vec::new();
            while read_records(
                &mut reader,
                &mut values,
                &mut definitions,
                max_definition,
                PARQUET_BATCH_ROWS,
            )? > 0
            {
                values.iter().for_each(|&ticks| style.widen(ticks, unit));
            }
        }
        ColumnReader::Int96ColumnReader(mut reader) => {
            let mut values = Vec::new();
            while read_records(
                &mut reader,
                &mut values,
                &mut definitions,
                max_definition,
                PARQUET_BATCH_ROWS,
            )? > 0
            {
                values
                    .iter()
                    .for_each(|value| style.widen(value.to_micros(), unit));
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_codecs(group: &dyn RowGroupReader, leaves: &[Leaf]) -> Result<(), ProfileError> {
    for (index, leaf) in leaves.iter().enumerate() {
        let codec = match group.metadata().column(index).compression() {
            Compression::UNCOMPRESSED | Compression::SNAPPY => continue,
            Compression::GZIP(_) => "gzip",
            Compression::LZO => "LZO",
            Compression::BROTLI(_) => "Brotli",
            Compression::LZ4 => "LZ4",
            Compression::ZSTD(_) => "Zstandard",
            Compression::LZ4_RAW => "LZ4 (raw)",
        };
        return Err(ProfileError::UnsupportedCodec {
            column: leaf.name.clone(),
            codec,
        });
    }
    Ok(())
}

/// Reads the next batch of rows of every column; they must agree on how many there were.
fn read_batch(readers: &mut [LeafReader], leaves: &[Leaf]) -> Result<usize, ProfileError> {
    let mut batch = None;
    for (reader, leaf) in readers.iter_mut().zip(leaves) {
        let rows = reader.read_batch(PARQUET_BATCH_ROWS)?;
        match batch {
            None => batch = Some(rows),
            Some(first) if first != rows => {
                return Err(ProfileError::Parquet(format!(
                    "column {:?} holds a different number of rows than the first column",
                    leaf.name
                )))
            }
            Some(_) => {}
        }
    }
    Ok(batch.unwrap_or(0))
}

/// Stored values of one physical type, with their reader.
enum StoredValues {
    Boolean(ColumnReaderImpl<BoolType>, Vec<bool>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    Int96(ColumnReaderImpl<Int96Type>, Vec<<Int96Type as DataType>::T>),
    Float(ColumnReaderImpl<FloatType>, Vec<f32>),
    Double(ColumnReaderImpl<DoubleType>, Vec<f64>),
    Bytes(
        ColumnReaderImpl<ByteArrayType>,
        Vec<<ByteArrayType as DataType>::T>,
    ),
    Fixed(
        ColumnReaderImpl<FixedLenByteArrayType>,
        Vec<<FixedLenByteArrayType as DataType>::T>,
    ),
}

impl StoredValues {
    fn new(reader: ColumnReader) -> Self {
        match reader {
            ColumnReader::BoolColumnReader(reader) => StoredValues::Boolean(reader, Vec::new()),
            ColumnReader::Int32ColumnReader(reader) => StoredValues::Int32(reader, Vec::new()),
            ColumnReader::Int64ColumnReader(reader) => StoredValues::Int64(reader, Vec::new()),
            ColumnReader::Int96ColumnReader(reader) => StoredValues::Int96(reader, Vec::new()),
            ColumnReader::FloatColumnReader(reader) => StoredValues::Float(reader, Vec::new()),
            ColumnReader::DoubleColumnReader(reader) => StoredValues::Double(reader, Vec::new()),
            ColumnReader::ByteArrayColumnReader(reader) => StoredValues::Bytes(reader, Vec::new()),
            ColumnReader::FixedLenByteArrayColumnReader(reader) => {
                StoredValues::Fixed(reader, Vec::new())
            }
        }
    }
}

/// Reads one leaf column in batches and turns its values into cells.
struct LeafReader {
    name: String,
    kind: LeafKind,
    max_definition: i16,
    definitions: Vec<i16>,
    values: StoredValues,
    next_row: usize,
    next_value: usize,
    scratch: String,
}

impl LeafReader {
    fn new(leaf: &Leaf, reader: ColumnReader) -> Self {
        LeafReader {
            name: leaf.name.clone(),
            kind: leaf.kind,
            max_definition: leaf.max_definition,
            definitions: Vec::new(),
            values: StoredValues::new(reader),
            next_row: 0,
            next_value: 0,
            scratch: String::new(),
        }
    }

    fn read_batch(&mut self, wanted: usize) -> Result<usize, ProfileError> {
        self.next_row = 0;
        self.next_value = 0;
        let definitions = &mut self.definitions;
        let max_definition = self.max_definition;
        match &mut self.values {
            StoredValues::Boolean(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Int32(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Int64(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Int96(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Float(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Double(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Bytes(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
            StoredValues::Fixed(reader, values) => {
                read_records(reader, values, definitions, max_definition, wanted)
            }
        }
    }

    /// Pushes the next row's cell of this column into the sink.
    fn push_next(&mut self, column: usize, sink: &mut impl RowSink) -> Result<(), ProfileError> {
        let row = self.next_row;
        self.next_row += 1;
        let present =
            self.max_definition == 0 || self.definitions.get(row) == Some(&self.max_definition);
        if !present {
            sink.push(column, &CellValue::Missing, "");
            return Ok(());
        }
        let index = self.next_value;
        self.next_value += 1;
        let cell = self.cell(index)?;
        let spelling = match cell {
            CellValue::Boolean(true) => "true",
            CellValue::Boolean(false) => "false",
            CellValue::Text(text) => text,
            _ => "",
        };
        sink.push(column, &cell, spelling);
        Ok(())
    }

    /// The cell of the `index`th stored (non-null) value of the batch.
    fn cell(&mut self, index: usize) -> Result<CellValue<'_>, ProfileError> {
        let missing = || ProfileError::Parquet(format!("column {:?} ends early", self.name));
        let kind = self.kind;
        let scratch = &mut self.scratch;
        let cell = match &self.values {
            StoredValues::Boolean(_, values) => {
                CellValue::Boolean(*values.get(index).ok_or_else(missing)?)
            }
            StoredValues::Int32(_, values) => {
                let value = *values.get(index).ok_or_else(missing)?;
                let widened = match kind {
                    LeafKind::UnsignedInteger => i64::from(value as u32),
                    _ => i64::from(value),
                };
                integer_cell(widened, kind, scratch)
            }
            StoredValues::Int64(_, values) => {
                integer_cell(*values.get(index).ok_or_else(missing)?, kind, scratch)
            }
            StoredValues::Int96(_, values) => {
                let micros = values.get(index).ok_or_else(missing)?.to_micros();
                let style = match kind {
                    LeafKind::Int96Timestamp { style } => style,
                    _ => TimestampStyle::NARROWEST,
                };
                write_timestamp(scratch, micros, Unit::Micros, false, style);
                CellValue::Text(scratch)
            }
            StoredValues::Float(_, values) => {
                float32_cell(*values.get(index).ok_or_else(missing)?, scratch)
            }
            StoredValues::Double(_, values) => finite_cell(*values.get(index).ok_or_else(missing)?),
            StoredValues::Bytes(_, values) => {
                let bytes = values.get(index).ok_or_else(missing)?.data();
                bytes_cell(bytes, kind, &self.name, scratch)?
            }
            StoredValues::Fixed(_, values) => {
                let bytes = values.get(index).ok_or_else(missing)?.data();
                bytes_cell(bytes, kind, &self.name, scratch)?
            }
        };
        Ok(cell)
    }
}

fn read_records<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    values: &mut Vec<T::T>,
    definitions: &mut Vec<i16>,
    max_definition: i16,
    wanted: usize,
) -> Result<usize, ProfileError> {
    values.clear();
    definitions.clear();
    let mut rows = 0;
    while rows < wanted {
        let levels = if max_definition > 0 {
            Some(&mut *definitions)
        } else {
            None
        };
        let (records, _, _) = reader
            .read_records(wanted - rows, levels, None, values)
            .map_err(parquet_error)?;
        if records == 0 {
            break;
        }
        rows += records;
    }
    Ok(rows)
}

/// An `INT32` or `INT64` value (widened) as the cell its logical type makes it.
fn integer_cell(value: i64, kind: LeafKind, scratch: &mut String) -> CellValue<'_> {
    match kind {
        LeafKind::UnsignedInteger if value < 0 => CellValue::Number(value as u64 as f64),
        LeafKind::Decimal { scale } => finite_cell(value as f64 / 10f64.powi(scale)),
        LeafKind::Date => {
            scratch.clear();
            write_date(scratch, value);
            CellValue::Text(scratch)
        }
        LeafKind::Time { unit } => {
            write_time_of_day(scratch, value, unit);
            CellValue::Text(scratch)
        }
        LeafKind::Timestamp { unit, utc, style } => {
            write_timestamp(scratch, value, unit, utc, style);
            CellValue::Text(scratch)
        }
        LeafKind::AlwaysNull => CellValue::Missing,
        _ => CellValue::Integer(value),
    }
}

/// A `float` as the number its shortest decimal spelling reads as, like a CSV writer prints it.
fn float32_cell(value: f32, scratch: &mut String) -> CellValue<'static> {
    if !value.is_finite() {
        return CellValue::Missing;
    }
    scratch.clear();
    let _ = write!(scratch, "{value}");
    finite_cell(scratch.parse().unwrap_or(f64::from(value)))
}

fn finite_cell(value: f64) -> CellValue<'static> {
    if value.is_finite() {
        CellValue::Number(value)
    } else {
        CellValue::Missing
    }
}

/// A `BYTE_ARRAY` or `FIXED_LEN_BYTE_ARRAY` value as the cell its logical type makes it.
fn bytes_cell<'a>(
    bytes: &'a [u8],
    kind: LeafKind,
    column: &str,
    scratch: &'a mut String,
) -> Result<CellValue<'a>, ProfileError> {
    match kind {
        LeafKind::Decimal { scale } => {
            Ok(finite_cell(decimal_from_bytes(bytes)? / 10f64.powi(scale)))
        }
        LeafKind::Float16 => Ok(finite_cell(float16_from_bytes(bytes)?)),
        LeafKind::Uuid => {
            write_uuid(scratch, bytes);
            Ok(CellValue::Text(scratch))
        }
        LeafKind::AlwaysNull => Ok(CellValue::Missing),
        _ => std::str::from_utf8(bytes)
            .map(CellValue::Text)
            .map_err(|_| ProfileError::BinaryColumn(column.to_owned())),
    }
}

/// A big-endian two's-complement unscaled decimal of up to 16 bytes.
fn decimal_from_bytes(bytes: &[u8]) -> Result<f64, ProfileError> {
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(ProfileError::Parquet(format!(
            "a decimal of {} bytes (1 to 16 are read)",
            bytes.len()
        )));
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut wide = [fill; 16];
    wide[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(wide) as f64)
}

/// An IEEE 754 half-precision number stored little-endian.
fn float16_from_bytes(bytes: &[u8]) -> Result<f64, ProfileError> {
    let [low, high] = bytes else {
        return Err(ProfileError::Parquet(format!(
            "a float16 of {} bytes",
            bytes.len()
        )));
    };
    let bits = u16::from_le_bytes([*low, *high]);
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + fraction / 1024.0) * 2f64.powi(exponent - 15),
    };
    Ok(sign * magnitude)
}

fn write_uuid(out: &mut String, bytes: &[u8]) {
    out.clear();
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01, as `(year, month, day)`.
fn civil_date(days_since_epoch: i64) -> (i64, i64, i64) {
    // Days are counted in 400-year eras that start on 0000-03-01, so leap days end a year.
    let days = days_since_epoch + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn write_date(out: &mut String, days_since_epoch: i64) {
    let (year, month, day) = civil_date(days_since_epoch);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
}

/// `HH:MM:SS`, then `.` and the fraction of a second in `fraction_digits` digits, if any.
fn write_clock(out: &mut String, ticks_of_day: i64, unit: Unit, fraction_digits: u32) {
    let seconds = ticks_of_day / unit.per_second();
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction_digits > 0 {
        let fraction = ticks_of_day % unit.per_second();
        let scaled = if fraction_digits >= unit.digits() {
            fraction * 10i64.pow(fraction_digits - unit.digits())
        } else {
            fraction / 10i64.pow(unit.digits() - fraction_digits)
        };
        let width = fraction_digits as usize;
        let _ = write!(out, ".{scaled:0width$}");
    }
}

/// A time of day as Python writes one: six fraction digits (nine for nanoseconds) if it has a
/// fraction, none otherwise.
fn write_time_of_day(out: &mut String, ticks: i64, unit: Unit) {
    out.clear();
    let fraction_digits = match ticks % unit.per_second() {
        0 => 0,
        _ => unit.digits().max(6),
    };
    write_clock(out, ticks, unit, fraction_digits);
}

fn write_timestamp(out: &mut String, ticks: i64, unit: Unit, utc: bool, style: TimestampStyle) {
    out.clear();
    write_date(out, ticks.div_euclid(unit.per_day()));
    if style.date_only && !utc {
        return;
    }
    out.push(' ');
    write_clock(
        out,
        ticks.rem_euclid(unit.per_day()),
        unit,
        style.fraction_digits,
    );
    if utc {
        out.push_str("+00:00");
    }
}

fn parquet_error(error: ParquetError) -> ProfileError {
    ProfileError::Parquet(error.to_string())
}

// ---------------------------------------------------------------------------------------------
// Facts

impl DataProfile {
    /// The column of that name.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// A named figure of the profile, for readiness checks: the table facts in [`TABLE_FACTS`]
    /// take no column, the column facts in [`COLUMN_FACTS`] need one.
    pub fn fact(&self, name: &str, column: Option<&str>) -> Result<f64, FactError> {
        match (
            TABLE_FACTS.contains(&name),
            COLUMN_FACTS.contains(&name),
            column,
        ) {
            (true, _, None) => Ok(self.table_fact(name)),
            (true, _, Some(column)) => Err(FactError::TakesNoColumn {
                fact: name.to_owned(),
                column: column.to_owned(),
            }),
            (_, true, None) => Err(FactError::NeedsColumn(name.to_owned())),
            (_, true, Some(column)) => self
                .column(column)
                .ok_or_else(|| FactError::UnknownColumn(column.to_owned()))?
                .fact(name),
            _ => Err(FactError::UnknownFact {
                name: name.to_owned(),
                known: TABLE_FACTS
                    .iter()
                    .chain(COLUMN_FACTS.iter())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn table_fact(&self, name: &str) -> f64 {
        match name {
            "rows" => self.rows as f64,
            "columns" => self.columns.len() as f64,
            "duplicate_rows" => self.duplicate_rows as f64,
            _ if self.rows == 0 => 0.0,
            _ => self.duplicate_rows as f64 / self.rows as f64,
        }
    }
}

impl ColumnProfile {
    /// A named figure of this column (one of [`COLUMN_FACTS`]).
    pub fn fact(&self, name: &str) -> Result<f64, FactError> {
        match name {
            "missing" => return Ok(self.missing as f64),
            "missing_rate" => return Ok(self.missing_rate),
            "distinct" => return Ok(self.distinct as f64),
            _ => {}
        }
        if !COLUMN_FACTS.contains(&name) {
            return Err(FactError::UnknownFact {
                name: name.to_owned(),
                known: COLUMN_FACTS.join(", "),
            });
        }
        if !self.kind.is_numeric() {
            return Err(FactError::NotNumeric {
                fact: name.to_owned(),
                column: self.name.clone(),
                kind: self.kind,
            });
        }
        let no_value = |reason| FactError::NoValue {
            fact: name.to_owned(),
            column: self.name.clone(),
            reason,
        };
        let summary = self
            .numeric
            .as_ref()
            .ok_or_else(|| no_value("every value is missing"))?;
        let value = match name {
            "count" => summary.count as f64,
            "min" => summary.min,
            "max" => summary.max,
            "mean" => summary.mean,
            "std" => summary
                .std
                .ok_or_else(|| no_value("a standard deviation needs two values"))?,
            "p5" => summary.p5,
            "p25" => summary.p25,
            "p50" | "median" => summary.p50,
            "p75" => summary.p75,
            _ => summary.p95,
        };
        Ok(value)
    }
}

// ---------------------------------------------------------------------------------------------
// Digest sets

impl RowDigestSet {
    /// The set of the given digests: sorted, repeats removed.
    pub fn from_digests(mut digests: Vec<RowDigest>) -> Self {
        sort_digests(&mut digests, 0);
        digests.dedup();
        RowDigestSet { digests }
    }

    /// The digests, sorted ascending, without repeats.
    pub fn as_slice(&self) -> &[RowDigest] {
        &self.digests
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// How many digests this set shares with another.
    pub fn shared_with(&self, other: &RowDigestSet) -> u64 {
        shared_rows(&self.digests, &other.digests)
    }

    /// `MTROWS1\n`, the count as big-endian `u64`, then the 16-byte digests in order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(16 + 16 * self.digests.len());
        bytes.extend_from_slice(DIGEST_SET_MAGIC);
        bytes.extend_from_slice(&(self.digests.len() as u64).to_be_bytes());
        for digest in &self.digests {
            bytes.extend_from_slice(digest);
        }
        bytes
    }

    /// Reads [`RowDigestSet::to_bytes`] back, refusing anything else (wrong magic, a length
    /// that disagrees with the count, digests out of order or repeated).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DigestSetError> {
        let body = bytes
            .strip_prefix(DIGEST_SET_MAGIC.as_slice())
            .ok_or(DigestSetError::BadMagic)?;
        let (count, digests) = body.split_at_checked(8).ok_or(DigestSetError::BadLength {
            declared: 0,
            actual: 0,
        })?;
        let mut count_bytes = [0u8; 8];
        count_bytes.copy_from_slice(count);
        let declared = u64::from_be_bytes(count_bytes);
        if Some(digests.len() as u64) != declared.checked_mul(16) {
            return Err(DigestSetError::BadLength {
                declared,
                actual: digests.len(),
            });
        }
        let mut set = Vec::with_capacity(digests.len() / 16);
        for (index, chunk) in digests.chunks_exact(16).enumerate() {
            let mut digest = [0u8; 16];
            digest.copy_from_slice(chunk);
            if set.last().is_some_and(|last: &RowDigest| *last >= digest) {
                return Err(DigestSetError::NotSorted(index));
            }
            set.push(digest);
        }
        Ok(RowDigestSet { digests: set })
    }
}

/// Sorts digests ascending (as big-endian integers: byte order). Digests are uniform, so a
/// large set is first spread by its leading bytes, in place, 256 ways a byte for at most two
/// bytes (an American flag sort: each pass touches 256 places at a time, which stay in cache),
/// and only the small runs that share them are sorted by comparison.
fn sort_digests(digests: &mut [RowDigest], byte: usize) {
    const SPREAD_ABOVE: usize = 1 << 12;
    if digests.len() <= SPREAD_ABOVE || byte >= 2 {
        digests.sort_unstable_by_key(|digest| u128::from_be_bytes(*digest));
        return;
    }
    let mut counts = [0usize; 256];
    for digest in digests.iter() {
        counts[usize::from(digest[byte])] += 1;
    }
    let mut next = [0usize; 256];
    let mut ends = [0usize; 256];
    let mut running = 0;
    for bucket in 0..256 {
        next[bucket] = running;
        running += counts[bucket];
        ends[bucket] = running;
    }
    for bucket in 0..256 {
        while next[bucket] < ends[bucket] {
            // Carry the digest found here to its bucket, and the one displaced there on, until
            // one belongs here.
            let mut carried = digests[next[bucket]];
            loop {
                let home = usize::from(carried[byte]);
                if home == bucket {
                    break;
                }
                std::mem::swap(&mut carried, &mut digests[next[home]]);
                next[home] += 1;
            }
            digests[next[bucket]] = carried;
            next[bucket] += 1;
        }
    }
    let mut start = 0;
    for end in ends {
        sort_digests(&mut digests[start..end], byte + 1);
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_sort_as_big_endian_integers() {
        let mut state = 0x5eed_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state
        };
        let mut digests: Vec<RowDigest> = (0..100_000)
            .map(|i| {
                let mut digest = [0u8; 16];
                digest[..8].copy_from_slice(&next().to_be_bytes());
                digest[8..].copy_from_slice(&next().to_be_bytes());
                if i % 3 == 0 {
                    digest[0] = 7; // crowded buckets
                    digest[1] = (i % 5) as u8;
                }
                digest
            })
            .collect();
        digests.extend_from_within(..1000); // repeats
        let mut expected = digests.clone();
        expected.sort_unstable_by_key(|digest| u128::from_be_bytes(*digest));
        sort_digests(&mut digests, 0);
        assert_eq!(digests, expected);
    }

    #[test]
    fn the_fast_cell_reading_agrees_with_the_general_one() {
        let cells = [
            "0",
            "007",
            "12",
            "12 ",
            "12\t",
            "1 2",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999",
            "1.5",
            "1.",
            "1e3",
            "1e",
            "1e999",
            "1.#IND",
            "1.#QNAN",
            "2023-01-05",
            "1,5",
            "12abc",
            "1_000",
            "3.25e-2",
            "0x10",
        ];
        for cell in cells {
            let general = if is_na_spelling(cell) {
                CellValue::Missing
            } else {
                classify_text(cell)
            };
            assert_eq!(
                format!("{:?}", classify_csv_cell(cell)),
                format!("{general:?}"),
                "{cell:?}"
            );
        }
        let mut state = 0x0dec_u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let digits = (state >> 59) as usize % 18 + 1;
            let text = format!("{:0digits$}", (state >> 4) % 10u64.pow(digits as u32));
            let point = (state >> 40) as usize % (digits + 1);
            let cell = format!("{}.{}", &text[..point.max(1)], &text[point.max(1)..]);
            let Some(CellValue::Number(fast)) = read_plain_number(cell.as_bytes()) else {
                continue; // beyond the fast path: read the general way
            };
            let general: f64 = cell.parse().expect("a decimal");
            assert_eq!(fast.to_bits(), general.to_bits(), "{cell}");
        }
        for spelling in NA_SPELLINGS {
            assert!(is_na_spelling(spelling), "{spelling:?}");
            assert!(
                !is_na_spelling(&format!("{spelling} ")),
                "{spelling:?} and a space"
            );
        }
        for other in [
            "na", "Na", "NAN", "N/a", "none", "Null", "-NAN", "1.#ind", " ",
        ] {
            assert!(!is_na_spelling(other), "{other:?}");
        }
    }
}
