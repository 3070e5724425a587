//! The report as a format-neutral document: a header printed on every page and a flow of
//! blocks (headings, paragraphs, label-value lists, tables, preformatted text). The HTML and
//! PDF renderers draw the same document, so both say the same thing.

/// What every page of a report carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The report's title, e.g. "Validation dossier".
    pub title: String,
    /// The model's name (and id).
    pub model: String,
    /// The model version's id and version.
    pub version: String,
    pub report_id: String,
    /// UTC, as the log writes timestamps.
    pub generated_at: String,
    pub checkpoint_size: u64,
    /// The checkpoint's root hash, hex.
    pub checkpoint_root: String,
}

impl Header {
    /// The header's lines, as the PDF prints them at the top of each page.
    pub fn lines(&self) -> [String; 3] {
        [
            format!("{} · {} · {}", self.title, self.model, self.version),
            format!(
                "Report {} · generated {} UTC",
                self.report_id, self.generated_at
            ),
            format!(
                "Checkpoint size {} · root {}",
                self.checkpoint_size, self.checkpoint_root
            ),
        ]
    }
}

/// How a cell or value reads at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Plain,
    /// Met, passed.
    Good,
    /// Unmet, failed, breached.
    Bad,
}

/// One cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            tone: Tone::Plain,
        }
    }

    /// "yes"/"no"-like verdict cell: `good` text when true, `bad` text when false.
    pub fn verdict(ok: bool, good: &str, bad: &str) -> Cell {
        match ok {
            true => Cell {
                text: good.to_owned(),
                tone: Tone::Good,
            },
            false => Cell {
                text: bad.to_owned(),
                tone: Tone::Bad,
            },
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::plain(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::plain(text)
    }
}

/// A table: column titles with relative widths, and rows of as many cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, f32)>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these columns (title, relative width) and no rows yet.
    pub fn new(columns: &[(&str, f32)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(title, weight)| ((*title).to_owned(), *weight))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left empty, extra ones dropped.
    pub fn row(&mut self, cells: Vec<Cell>) {
        let mut cells = cells;
        cells.resize(self.columns.len(), Cell::plain(""));
        self.rows.push(cells);
    }
}

/// One block of the flow.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A numbered section's title.
    Heading(String),
    /// A title inside a section (one record, one table).
    Subheading(String),
    Paragraph(String),
    /// Label and value pairs.
    Fields(Vec<(String, Cell)>),
    Table(Table),
    /// Text kept line for line (commands, a signed checkpoint).
    Preformatted(String),
}

/// A whole report.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub header: Header,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new(header: Header) -> Document {
        Document {
            header,
            blocks: Vec::new(),
        }
    }

    pub fn heading(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Heading(text.into()));
    }

    pub fn subheading(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Subheading(text.into()));
    }

    pub fn paragraph(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Paragraph(text.into()));
    }

    /// Label-value pairs; pairs whose value is empty are left out.
    pub fn fields(&mut self, pairs: Vec<(&str, Cell)>) {
        let pairs: Vec<(String, Cell)> = pairs
            .into_iter()
            .filter(|(_, value)| !value.text.is_empty())
            .map(|(label, value)| (label.to_owned(), value))
            .collect();
        if !pairs.is_empty() {
            self.blocks.push(Block::Fields(pairs));
        }
    }

    pub fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }

    pub fn preformatted(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Preformatted(text.into()));
    }
}
