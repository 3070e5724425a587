//! Named columns of a CSV or Parquet file read as drift monitoring takes them: a numerical
//! column as numbers (a missing cell as NaN, so the drift tests count it as missing), a
//! categorical column as optional category names. The file is read, and told CSV or Parquet, by
//! [`crate::profile`]'s readers, so the NA spellings and Parquet types are the profile's.
//!
//! This module owns picking the columns out of the file, the reading of each cell by the
//! column's kind, and the errors that name what is wrong: a column the file lacks (with the
//! columns it has), a cell of a numerical column that is not a number (with its row), no rows.
//! A column the file lacks is not an error when the caller allows it ([`Wanted::optional`]):
//! monitoring records a missing feature as an anomaly of the batch.

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::sync::Arc;

use crate::drift::ColumnKind;
use crate::profile::{
    read_any_into, read_csv_into, CellValue, ColumnHead, Format, ProfileError, RowSink,
};

/// A column to read and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub kind: ColumnKind,
    /// Whether the file may lack it.
    pub optional: bool,
}

impl Wanted {
    pub fn required(name: &str, kind: ColumnKind) -> Wanted {
        Wanted {
            name: name.to_owned(),
            kind,
            optional: false,
        }
    }

    pub fn optional(name: &str, kind: ColumnKind) -> Wanted {
        Wanted {
            name: name.to_owned(),
            kind,
            optional: true,
        }
    }
}

/// One column's cells.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Numbers; NaN where the cell is missing, infinities as written.
    Numbers(Vec<f64>),
    /// Category names; `None` where the cell is missing. Each distinct name is stored once and
    /// shared by its cells.
    Categories(Vec<Option<Arc<str>>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Numbers(values) => values.len(),
            Column::Categories(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The columns read, in the order they were asked for; `None` for an optional column the
/// file lacks.
#[derive(Clone, Debug, PartialEq)]
pub struct TableColumns {
    pub format: Format,
    pub rows: u64,
    pub columns: Vec<(String, Option<Column>)>,
    /// Every column of the file, in file order.
    pub available: Vec<String>,
}

impl TableColumns {
    /// The column named `name`, when it was asked for and found.
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, c)| c.as_ref())
    }

    /// Takes the column named `name` out (the first place it was asked for), leaving `None`.
    pub fn take(&mut self, name: &str) -> Option<Column> {
        self.columns
            .iter_mut()
            .find(|(n, c)| n == name && c.is_some())
            .and_then(|(_, c)| c.take())
    }
}

/// Why a file's columns could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ColumnsError {
    #[error("the file: {0}")]
    File(#[from] ProfileError),
    #[error("empty data: the file has no bytes")]
    EmptyFile,
    #[error("the file has no column {column:?}; its columns are {}", .available.join(", "))]
    ColumnNotFound {
        column: String,
        available: Vec<String>,
    },
    #[error("column {column:?} is numerical but row {row} holds {found:?}, which is not a number")]
    NotANumber {
        column: String,
        row: u64,
        found: String,
    },
}

/// Reads the `wanted` columns of a CSV or Parquet file held in memory.
pub fn read_columns(bytes: &[u8], wanted: &[Wanted]) -> Result<TableColumns, ColumnsError> {
    if bytes.is_empty() {
        return Err(ColumnsError::EmptyFile);
    }
    // Sized once for the rows a CSV file can hold, a column never grows by doubling (which
    // would hold up to twice its cells at the end).
    let rows = if bytes.starts_with(b"PAR1") {
        0
    } else {
        line_breaks(bytes)
    };
    let picker = read_any_into(bytes, |format, heads| {
        Picker::new(format, heads, wanted, rows)
    })?;
    picker.finish()
}

/// Reads the `wanted` columns of a CSV file streamed from `file`, which is read twice: once to
/// count its lines, so every column is sized once, then to read the cells. Nothing of the file
/// is held but the record being read: a large upload is read without mapping it into memory.
/// The file is refused, with its row and column, where it is not UTF-8 text or holds a NUL.
pub fn read_csv_columns<R: Read + Seek>(
    mut file: R,
    wanted: &[Wanted],
) -> Result<TableColumns, ColumnsError> {
    let reading =
        |e: std::io::Error| ColumnsError::File(ProfileError::Csv(format!("reading failed: {e}")));
    let mut buffer = vec![0u8; 1 << 16];
    let mut rows = 0;
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer).map_err(reading)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        rows += line_breaks(&buffer[..read]);
    }
    if bytes == 0 {
        return Err(ColumnsError::EmptyFile);
    }
    file.rewind().map_err(reading)?;
    let picker = read_csv_into(
        std::io::BufReader::with_capacity(1 << 16, file),
        |format, heads| Picker::new(format, heads, wanted, rows),
    )?;
    picker.finish()
}

/// How many rows a CSV text can hold at most: its line breaks, and one more for a last line
/// without one.
fn line_breaks(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&byte| byte == b'\n').count() + 1
}

/// The shared copy of `name`, made on its first sight.
fn intern(names: &mut HashSet<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(shared) = names.get(name) {
        return shared.clone();
    }
    let shared: Arc<str> = Arc::from(name);
    names.insert(shared.clone());
    shared
}

struct Slot {
    name: String,
    column: Column,
    /// The category names seen so far, each stored once.
    names: HashSet<Arc<str>>,
    /// The first cell of a numerical column that is not a number: row and text.
    bad: Option<(u64, String)>,
}

struct Picker {
    format: Format,
    /// For each column of the file, the slot it fills.
    wanted: Vec<Option<usize>>,
    slots: Vec<Option<Slot>>,
    names: Vec<String>,
    asked: Vec<String>,
    row: u64,
}

impl Picker {
    fn new(
        format: Format,
        heads: Vec<ColumnHead>,
        wanted: &[Wanted],
        rows: usize,
    ) -> Result<Picker, ColumnsError> {
        let names: Vec<String> = heads.into_iter().map(|h| h.name).collect();
        let mut by_column = vec![None; names.len()];
        let mut slots = Vec::with_capacity(wanted.len());
        for want in wanted {
            match names.iter().position(|n| *n == want.name) {
                Some(index) if by_column[index].is_none() => {
                    by_column[index] = Some(slots.len());
                    slots.push(Some(Slot {
                        name: want.name.clone(),
                        column: match want.kind {
                            ColumnKind::Numerical => Column::Numbers(Vec::with_capacity(rows)),
                            ColumnKind::Categorical => Column::Categories(Vec::with_capacity(rows)),
                        },
                        bad: None,
                        names: HashSet::new(),
                    }));
                }
                // Asked for twice: read once, given once.
                Some(_) => slots.push(None),
                None if want.optional => slots.push(None),
                None => {
                    return Err(ColumnsError::ColumnNotFound {
                        column: want.name.clone(),
                        available: names,
                    })
                }
            }
        }
        Ok(Picker {
            format,
            wanted: by_column,
            slots,
            names,
            asked: wanted.iter().map(|w| w.name.clone()).collect(),
            row: 0,
        })
    }

    fn finish(self) -> Result<TableColumns, ColumnsError> {
        let mut columns = Vec::with_capacity(self.slots.len());
        for (name, slot) in self.asked.into_iter().zip(self.slots) {
            match slot {
                Some(slot) => {
                    if let Some((row, found)) = slot.bad {
                        return Err(ColumnsError::NotANumber {
                            column: slot.name,
                            row,
                            found,
                        });
                    }
                    columns.push((name, Some(slot.column)));
                }
                None => columns.push((name, None)),
            }
        }
        // A column asked for twice is given at each place it was asked for.
        for index in 0..columns.len() {
            if columns[index].1.is_none() {
                let name = columns[index].0.clone();
                let found = columns
                    .iter()
                    .find(|(n, c)| *n == name && c.is_some())
                    .and_then(|(_, c)| c.clone());
                columns[index].1 = found;
            }
        }
        Ok(TableColumns {
            format: self.format,
            rows: self.row,
            columns,
            available: self.names,
        })
    }
}

impl RowSink for Picker {
    fn start_row(&mut self) {
        self.row += 1;
    }

    fn push(&mut self, column: usize, cell: &CellValue<'_>, spelling: &str) {
        let Some(&Some(index)) = self.wanted.get(column) else {
            return;
        };
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        match &mut slot.column {
            Column::Numbers(values) => values.push(match cell {
                CellValue::Missing => f64::NAN,
                CellValue::Integer(value) => *value as f64,
                CellValue::Number(value) => *value,
                CellValue::Boolean(flag) => f64::from(u8::from(*flag)),
                CellValue::Text(text) => match infinity(text) {
                    Some(value) => value,
                    None => {
                        if slot.bad.is_none() {
                            slot.bad = Some((self.row, (*text).to_owned()));
                        }
                        f64::NAN
                    }
                },
            }),
            Column::Categories(values) => {
                let name: Option<std::borrow::Cow<str>> = match cell {
                    CellValue::Missing => None,
                    CellValue::Text("") => None,
                    CellValue::Integer(value) if self.format != Format::Csv => {
                        Some(value.to_string().into())
                    }
                    CellValue::Number(value) if self.format != Format::Csv => {
                        Some(value.to_string().into())
                    }
                    CellValue::Boolean(flag) if self.format != Format::Csv => {
                        Some(flag.to_string().into())
                    }
                    CellValue::Text(text) => Some((*text).into()),
                    _ => Some(spelling.into()),
                };
                values.push(name.map(|name| intern(&mut slot.names, &name)));
            }
        }
    }

    fn end_row(&mut self) {}
}

/// The spellings of infinity pandas reads as a float.
fn infinity(text: &str) -> Option<f64> {
    match text.trim() {
        "inf" | "Inf" | "INF" | "+inf" | "+Inf" | "infinity" | "Infinity" | "+Infinity" => {
            Some(f64::INFINITY)
        }
        "-inf" | "-Inf" | "-INF" | "-infinity" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_categories_with_missing_cells_and_infinities() {
        let csv = b"age,site,score,unused\n34,A,0.5,x\n,B,inf,y\n51,,-inf,z\n40,A,NA,w\n";
        let read = read_columns(
            csv,
            &[
                Wanted::required("age", ColumnKind::Numerical),
                Wanted::required("site", ColumnKind::Categorical),
                Wanted::required("score", ColumnKind::Numerical),
                Wanted::optional("weight", ColumnKind::Numerical),
            ],
        )
        .unwrap();
        assert_eq!(read.rows, 4);
        let Some(Column::Numbers(age)) = read.get("age") else {
            panic!("age")
        };
        assert_eq!(age[0], 34.0);
        assert!(age[1].is_nan());
        assert_eq!(
            read.get("site"),
            Some(&Column::Categories(vec![
                Some("A".into()),
                Some("B".into()),
                None,
                Some("A".into())
            ]))
        );
        let Some(Column::Numbers(score)) = read.get("score") else {
            panic!("score")
        };
        assert_eq!(&score[..3], &[0.5, f64::INFINITY, f64::NEG_INFINITY]);
        assert!(score[3].is_nan());
        assert_eq!(read.get("weight"), None);
        assert_eq!(read.columns[3], ("weight".to_owned(), None));
    }

    #[test]
    fn errors_name_the_column_and_row() {
        let csv = b"age,site\n34,A\nold,B\n";
        let e = read_columns(csv, &[Wanted::required("age", ColumnKind::Numerical)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column \"age\" is numerical but row 2 holds \"old\", which is not a number"
        );
        let e =
            read_columns(csv, &[Wanted::required("weight", ColumnKind::Numerical)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file has no column \"weight\"; its columns are age, site"
        );
        assert!(matches!(
            read_columns(b"", &[]),
            Err(ColumnsError::EmptyFile)
        ));
        // Numbers in a categorical column keep their spelling.
        let read = read_columns(csv, &[Wanted::required("age", ColumnKind::Categorical)]);
        assert!(read.is_ok());
    }

    #[test]
    fn a_streamed_csv_reads_as_the_same_file_in_memory() {
        let csv = "age,site,score\r\n34,A,0.5\r\n,\"B\nC\",inf\r\n51,,NA\r\n";
        let wanted = [
            Wanted::required("score", ColumnKind::Numerical),
            Wanted::required("site", ColumnKind::Categorical),
            Wanted::optional("weight", ColumnKind::Numerical),
        ];
        let streamed = read_csv_columns(std::io::Cursor::new(csv), &wanted).unwrap();
        let in_memory = read_columns(csv.as_bytes(), &wanted).unwrap();
        assert_eq!(streamed.rows, 3);
        assert_eq!(format!("{streamed:?}"), format!("{in_memory:?}"));
    }

    #[test]
    fn a_streamed_csv_names_where_it_is_not_text() {
        let wanted = [Wanted::required("b", ColumnKind::Categorical)];
        let e = read_csv_columns(std::io::Cursor::new(b"a,b\n1,x\n2,\xff\n"), &wanted).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file: not CSV or Parquet: row 2, column \"b\" is not UTF-8 text"
        );
        let e = read_csv_columns(std::io::Cursor::new(b"a,b\n1,x\0\n"), &wanted).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file: not CSV or Parquet: row 1, column \"b\" holds a NUL byte"
        );
        assert!(matches!(
            read_csv_columns(std::io::Cursor::new(b""), &wanted),
            Err(ColumnsError::EmptyFile)
        ));
    }
}
