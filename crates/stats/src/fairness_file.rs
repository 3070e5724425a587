//! The inputs of a fairness assessment read from a data file: the labels column, the
//! predictions column and one or more sensitive-attribute columns of a CSV (header row) or flat
//! Parquet file, named by [`FairnessColumns`], become what [`crate::fairness::assess`] takes.
//!
//! This module owns: picking the named columns out of the file (the file is read, and told CSV
//! or Parquet, by [`crate::profile`]'s readers, so both formats, the NA spellings and the Parquet
//! value types are exactly the profile's); reading their cells as labels and group names; and
//! the errors that name what is wrong with the file ([`FairnessFileError`]).
//!
//! # Rows
//! Rows are counted from 1, the first row after the CSV header (or the first Parquet row) being
//! row 1. Every picked cell must hold a value: a missing one (a CSV cell spelled as one of
//! [`crate::profile::NA_SPELLINGS`], the empty cell included; a Parquet null or NaN; an empty
//! string as a group name) is refused with its column and row, never dropped or filled in.
//!
//! # Labels and predictions
//! A column is read as pandas' `read_csv` types it, then as [`Label`]s: a CSV column whose cells
//! all spell booleans (`true`, `True`, `TRUE`, `false`, …) holds booleans; one whose cells all
//! spell numbers holds numbers (`1`, `1.0` and `01` are the number 1); any other holds the cells'
//! text as written. A Parquet column's values keep their type: booleans, numbers (integers,
//! floats, decimals) and strings (a string `"1"` is text, not the number 1). Labels, predictions
//! and the positive label must then be of one kind, as in the JSON upload.
//!
//! # Sensitive attributes
//! Each sensitive column is an attribute of the same name; its groups are the cells' text: a CSV
//! cell as written, a Parquet string as stored, a Parquet boolean as `true` / `false`, a Parquet
//! number in its shortest decimal spelling (`3`, `2.5`).

use serde::{Deserialize, Serialize};

use crate::fairness::{assess, FairnessError, FairnessReport, Label};
use crate::profile::{read_any_into, CellValue, ColumnHead, Format, ProfileError, RowSink};

/// Which columns of the file hold what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessColumns {
    /// The true labels.
    pub labels: String,
    /// The model's predictions.
    pub predictions: String,
    /// The sensitive attributes, each a column named as the attribute.
    pub sensitive: Vec<String>,
}

/// The named columns of a file, read and checked: what [`assess`] takes.
#[derive(Clone, Debug, PartialEq)]
pub struct FairnessInputs {
    pub format: Format,
    pub rows: usize,
    pub labels: Vec<Label>,
    pub predictions: Vec<Label>,
    /// `(attribute, one group name per row)`, in the order the columns were named.
    pub sensitive: Vec<(String, Vec<String>)>,
}

/// Why a file's columns could not be read as a fairness assessment's inputs.
#[derive(Debug, thiserror::Error)]
pub enum FairnessFileError {
    /// Not CSV or Parquet, malformed, no header, no columns, an unsupported Parquet codec, …
    #[error("the file: {0}")]
    File(#[from] ProfileError),
    #[error("empty data: the file has no bytes")]
    EmptyFile,
    #[error("the file has no column {column:?} (named as the {role} column); its columns are {}", list(.available))]
    ColumnNotFound {
        role: String,
        column: String,
        available: Vec<String>,
    },
    #[error("no sensitive attribute column named: name at least one")]
    NoSensitiveColumns,
    #[error("column {column:?} is named as a sensitive attribute more than once")]
    DuplicateSensitiveColumn { column: String },
    #[error("empty data: the file has columns ({}) but no rows", list(.columns))]
    NoRows { columns: Vec<String> },
    #[error("the {role} column {column:?} has no value in row {row} ({found}): every row needs a value there")]
    MissingValue {
        role: String,
        column: String,
        row: u64,
        found: String,
    },
    #[error("the {role} column {column:?} holds {found} but the positive label {positive} is {expected}: labels, predictions and the positive label must all be booleans, all numbers or all strings")]
    LabelKind {
        role: String,
        column: String,
        found: &'static str,
        positive: Label,
        expected: &'static str,
    },
    /// What the JSON upload refuses too: a non-binary classification, an absent positive label.
    #[error("columns {labels:?} (labels) and {predictions:?} (predictions): {source}")]
    Assessment {
        labels: String,
        predictions: String,
        source: Box<FairnessError>,
    },
}

fn list(names: &[String]) -> String {
    match names.is_empty() {
        true => "none".to_owned(),
        false => names
            .iter()
            .map(|name| format!("{name:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Reads the named columns of a CSV or Parquet file held in memory.
pub fn read_fairness_inputs(
    bytes: &[u8],
    columns: &FairnessColumns,
) -> Result<FairnessInputs, FairnessFileError> {
    if bytes.is_empty() {
        return Err(FairnessFileError::EmptyFile);
    }
    if columns.sensitive.is_empty() {
        return Err(FairnessFileError::NoSensitiveColumns);
    }
    for (index, column) in columns.sensitive.iter().enumerate() {
        if columns.sensitive[..index].contains(column) {
            return Err(FairnessFileError::DuplicateSensitiveColumn {
                column: column.clone(),
            });
        }
    }
    let picker = read_any_into(bytes, |format, heads| Picker::new(format, heads, columns))?;
    picker.finish()
}

/// Reads the named columns of a file and computes the fairness figures from them, counting
/// `positive_label` as the positive class (see [`assess`]).
pub fn assess_file(
    bytes: &[u8],
    columns: &FairnessColumns,
    positive_label: &Label,
) -> Result<(FairnessReport, FairnessInputs), FairnessFileError> {
    let inputs = read_fairness_inputs(bytes, columns)?;
    for (role, column, values) in [
        ("labels", &columns.labels, &inputs.labels),
        ("predictions", &columns.predictions, &inputs.predictions),
    ] {
        if let Some(value) = values
            .iter()
            .find(|v| std::mem::discriminant(*v) != std::mem::discriminant(positive_label))
        {
            return Err(FairnessFileError::LabelKind {
                role: role.to_owned(),
                column: column.clone(),
                found: value.kind(),
                positive: positive_label.clone(),
                expected: positive_label.kind(),
            });
        }
    }
    let report = assess(
        &inputs.labels,
        &inputs.predictions,
        positive_label,
        &inputs.sensitive,
    )
    .map_err(|source| FairnessFileError::Assessment {
        labels: columns.labels.clone(),
        predictions: columns.predictions.clone(),
        source: Box::new(source),
    })?;
    Ok((report, inputs))
}

/// What one picked column is for.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Labels,
    Predictions,
    Sensitive,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Labels => "labels",
            Role::Predictions => "predictions",
            Role::Sensitive => "sensitive attribute",
        }
    }
}

/// One picked column's cells as read.
struct Slot {
    role: Role,
    column: String,
    /// Labels and predictions: the values as typed cell by cell.
    labels: Vec<Label>,
    /// CSV labels and predictions, and every sensitive attribute: the text of each cell.
    texts: Vec<String>,
    /// The first row without a value, and what stood there.
    missing: Option<(u64, String)>,
}

/// The row sink that keeps the picked columns' cells.
struct Picker {
    format: Format,
    /// For each column of the file, the slots it fills (a column may be picked twice).
    wanted: Vec<Vec<usize>>,
    slots: Vec<Slot>,
    columns: Vec<String>,
    row: u64,
}

impl Picker {
    fn new(
        format: Format,
        heads: Vec<ColumnHead>,
        columns: &FairnessColumns,
    ) -> Result<Picker, FairnessFileError> {
        let names: Vec<String> = heads.into_iter().map(|head| head.name).collect();
        let picked = [
            (Role::Labels, &columns.labels),
            (Role::Predictions, &columns.predictions),
        ]
        .into_iter()
        .chain(columns.sensitive.iter().map(|c| (Role::Sensitive, c)));
        let mut wanted = vec![Vec::new(); names.len()];
        let mut slots = Vec::new();
        for (role, column) in picked {
            let index = names
                .iter()
                .position(|name| name == column)
                .ok_or_else(|| FairnessFileError::ColumnNotFound {
                    role: role.name().to_owned(),
                    column: column.clone(),
                    available: names.clone(),
                })?;
            wanted[index].push(slots.len());
            slots.push(Slot {
                role,
                column: column.clone(),
                labels: Vec::new(),
                texts: Vec::new(),
                missing: None,
            });
        }
        Ok(Picker {
            format,
            wanted,
            slots,
            columns: names,
            row: 0,
        })
    }

    fn finish(self) -> Result<FairnessInputs, FairnessFileError> {
        if self.row == 0 {
            return Err(FairnessFileError::NoRows {
                columns: self.columns,
            });
        }
        if let Some(slot) = self.slots.iter().find(|slot| slot.missing.is_some()) {
            let (row, found) = slot.missing.clone().unwrap_or_default();
            return Err(FairnessFileError::MissingValue {
                role: match slot.role {
                    Role::Sensitive => format!("sensitive attribute {:?}", slot.column),
                    other => other.name().to_owned(),
                },
                column: slot.column.clone(),
                row,
                found,
            });
        }
        let format = self.format;
        let mut slots = self.slots.into_iter();
        let mut next_labels = || slots.next().map(|slot| slot.into_labels(format));
        let labels = next_labels().unwrap_or_default();
        let predictions = next_labels().unwrap_or_default();
        let sensitive = slots.map(|slot| (slot.column, slot.texts)).collect();
        Ok(FairnessInputs {
            format,
            rows: labels.len(),
            labels,
            predictions,
            sensitive,
        })
    }
}

impl Slot {
    /// The column's labels: a CSV column of one kind as that kind, else as its text.
    fn into_labels(self, format: Format) -> Vec<Label> {
        let uniform = self.labels.first().is_none_or(|first| {
            self.labels
                .iter()
                .all(|label| std::mem::discriminant(label) == std::mem::discriminant(first))
        });
        match format == Format::Csv && !uniform {
            true => self.texts.into_iter().map(Label::Text).collect(),
            false => self.labels,
        }
    }

    fn push(&mut self, format: Format, row: u64, cell: &CellValue<'_>, spelling: &str) {
        if self.missing.is_some() {
            return;
        }
        let missing = |found: &str| Some((row, found.to_owned()));
        match (self.role, cell) {
            (_, CellValue::Missing) => {
                self.missing = missing(&match format {
                    Format::Csv => format!("the cell is {spelling:?}, which reads as missing"),
                    Format::Parquet | Format::Mixed => {
                        "the value is null or not a finite number".to_owned()
                    }
                })
            }
            (Role::Sensitive, CellValue::Text("")) => {
                self.missing = missing("the value is an empty string")
            }
            (Role::Sensitive, cell) => self.texts.push(match (format, cell) {
                (Format::Parquet, CellValue::Integer(value)) => value.to_string(),
                (Format::Parquet, CellValue::Number(value)) => value.to_string(),
                _ => spelling.to_owned(),
            }),
            (_, cell) => {
                self.labels.push(match cell {
                    CellValue::Boolean(flag) => Label::Bool(*flag),
                    CellValue::Integer(value) => Label::Number(*value as f64),
                    CellValue::Number(value) => Label::Number(*value),
                    CellValue::Text(text) => Label::Text((*text).to_owned()),
                    CellValue::Missing => return,
                });
                if format == Format::Csv {
                    self.texts.push(spelling.to_owned());
                }
            }
        }
    }
}

impl RowSink for Picker {
    fn start_row(&mut self) {
        self.row += 1;
    }

    fn push(&mut self, column: usize, cell: &CellValue<'_>, spelling: &str) {
        let Some(wanted) = self.wanted.get(column) else {
            return;
        };
        for &slot in wanted {
            if let Some(slot) = self.slots.get_mut(slot) {
                slot.push(self.format, self.row, cell, spelling);
            }
        }
    }

    fn end_row(&mut self) {}
}
