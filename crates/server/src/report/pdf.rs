//! A report as a paginated PDF (A4), drawn in Rust with `krilla`, the DejaVu Sans fonts
//! embedded (subset): every page carries the header (model, version, report id, generation
//! time, checkpoint size and root) and "Page X of Y". Text is laid out here (greedy line
//! breaking on the fonts' own advance widths, tables with wrapped cells and repeated column
//! titles, nothing drawn past the margins) in a first pass; the second draws the pages, so
//! the page count is known to every footer.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::MetadataProvider;
use std::collections::HashMap;

use super::document::{Block, Cell, Document, Table, Tone};

static REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 48.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// Where the flow starts (below the header) and must end (above the footer).
const FLOW_TOP: f32 = 96.0;
const FLOW_BOTTOM: f32 = PAGE_HEIGHT - 54.0;

const BODY_SIZE: f32 = 9.0;
const LINE: f32 = 12.0;
const TABLE_SIZE: f32 = 8.0;
const TABLE_LINE: f32 = 10.5;
const CELL_PAD: f32 = 3.0;
const HEADER_SIZE: f32 = 7.5;

/// Colours, as RGB.
type Colour = (u8, u8, u8);
const INK: Colour = (17, 17, 17);
const NAVY: Colour = (31, 59, 90);
const GREY: Colour = (90, 90, 90);
const GOOD: Colour = (11, 107, 46);
const BAD: Colour = (164, 22, 26);
const RULE: Colour = (159, 179, 200);
const SHADE: Colour = (232, 238, 244);
const PRE_SHADE: Colour = (243, 245, 247);

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font {0} cannot be read")]
    Font(&'static str),
    #[error("writing the PDF: {0}")]
    Write(String),
}

/// A PDF and how many pages it has.
pub struct Pdf {
    pub bytes: Vec<u8>,
    pub pages: usize,
}

/// One embedded font: krilla's handle for drawing, skrifa's tables for measuring.
struct Face {
    font: Font,
    outline: skrifa::FontRef<'static>,
    units_per_em: f32,
    /// Glyph id and advance (in em) of each character met so far.
    glyphs: std::cell::RefCell<HashMap<char, Option<(u32, f32)>>>,
}

impl Face {
    fn load(bytes: &'static [u8], name: &'static str) -> Result<Face, PdfError> {
        let font = Font::new(bytes.into(), 0).ok_or(PdfError::Font(name))?;
        let outline = skrifa::FontRef::new(bytes).map_err(|_| PdfError::Font(name))?;
        let units_per_em = f32::from(
            outline
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        if units_per_em <= 0.0 {
            return Err(PdfError::Font(name));
        }
        Ok(Face {
            font,
            outline,
            units_per_em,
            glyphs: Default::default(),
        })
    }

    /// The glyph of `c` and its advance in em; `None` when the font has no glyph for it.
    fn glyph(&self, c: char) -> Option<(u32, f32)> {
        if let Some(known) = self.glyphs.borrow().get(&c) {
            return *known;
        }
        let found = self.outline.charmap().map(c).map(|gid| {
            let advance = self
                .outline
                .glyph_metrics(Size::unscaled(), LocationRef::default())
                .advance_width(gid)
                .unwrap_or(0.0);
            (gid.to_u32(), advance / self.units_per_em)
        });
        self.glyphs.borrow_mut().insert(c, found);
        found
    }

    /// `text` as this font can draw it: tabs become spaces, other control characters are
    /// dropped, and characters it has no glyph for become "?".
    fn drawable(&self, text: &str) -> String {
        text.chars()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                c if c.is_control() => None,
                c if self.glyph(c).is_some() => Some(c),
                _ => Some('?'),
            })
            .collect()
    }

    /// The width of drawable `text` at `size`.
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.glyph(c).map_or(0.0, |(_, advance)| advance))
            .sum::<f32>()
            * size
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn load() -> Result<Fonts, PdfError> {
        Ok(Fonts {
            regular: Face::load(REGULAR, "DejaVuSans.ttf")?,
            bold: Face::load(BOLD, "DejaVuSans-Bold.ttf")?,
        })
    }

    fn face(&self, bold: bool) -> &Face {
        match bold {
            true => &self.bold,
            false => &self.regular,
        }
    }
}

/// A text run placed on a page (`y` is the baseline).
struct Run {
    x: f32,
    y: f32,
    size: f32,
    bold: bool,
    colour: Colour,
    text: String,
}

/// What a page holds, before it is drawn.
#[derive(Default)]
struct PageItems {
    boxes: Vec<(Rect, Colour)>,
    runs: Vec<Run>,
}

/// Breaks `text` into lines no wider than `width` at `size`: at line feeds, then between
/// words; a word wider than the line is broken between characters. The text must be drawable.
fn wrap(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let word_width = face.width(word, size);
            let space = if line.is_empty() {
                0.0
            } else {
                face.width(" ", size)
            };
            if line_width + space + word_width <= width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            if word_width <= width {
                line.push_str(word);
                line_width = word_width;
                continue;
            }
            for c in word.chars() {
                let w = face.width(c.encode_utf8(&mut [0; 4]), size);
                if line_width + w > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(c);
                line_width += w;
            }
        }
        lines.push(line);
    }
    lines
}

/// One cell laid out: where it starts, its lines, and how they are drawn.
struct CellLines {
    x: f32,
    lines: Vec<String>,
    bold: bool,
    colour: Colour,
}

fn tone_colour(tone: Tone) -> Colour {
    match tone {
        Tone::Plain => INK,
        Tone::Good => GOOD,
        Tone::Bad => BAD,
    }
}

/// The first pass: the document's blocks flowed onto pages.
struct Flow<'a> {
    fonts: &'a Fonts,
    pages: Vec<PageItems>,
    y: f32,
}

impl<'a> Flow<'a> {
    fn new(fonts: &'a Fonts) -> Flow<'a> {
        Flow {
            fonts,
            pages: vec![PageItems::default()],
            y: FLOW_TOP,
        }
    }

    fn page(&mut self) -> &mut PageItems {
        if self.pages.is_empty() {
            self.pages.push(PageItems::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(PageItems::default());
        self.y = FLOW_TOP;
    }

    fn at_top(&self) -> bool {
        self.y <= FLOW_TOP + 0.5
    }

    /// Starts a new page unless `height` still fits on this one.
    fn room_for(&mut self, height: f32) {
        if self.y + height > FLOW_BOTTOM && !self.at_top() {
            self.new_page();
        }
    }

    fn run(&mut self, x: f32, size: f32, bold: bool, colour: Colour, text: String) {
        let y = self.y + size;
        self.page().runs.push(Run {
            x,
            y,
            size,
            bold,
            colour,
            text,
        });
    }

    fn fill(&mut self, x: f32, y: f32, width: f32, height: f32, colour: Colour) {
        if let Some(rect) = Rect::from_xywh(x, y, width, height) {
            self.page().boxes.push((rect, colour));
        }
    }

    fn heading(&mut self, text: &str) {
        let face = &self.fonts.bold;
        let lines = wrap(face, &face.drawable(text), 13.0, CONTENT_WIDTH);
        // A heading is kept with the start of what follows it.
        self.room_for(lines.len() as f32 * 17.0 + 8.0 + 4.0 * LINE);
        if !self.at_top() {
            self.y += 10.0;
        }
        for line in lines {
            self.run(MARGIN, 13.0, true, NAVY, line);
            self.y += 17.0;
        }
        self.fill(MARGIN, self.y, CONTENT_WIDTH, 0.8, RULE);
        self.y += 7.0;
    }

    fn subheading(&mut self, text: &str) {
        let face = &self.fonts.bold;
        let lines = wrap(face, &face.drawable(text), 10.0, CONTENT_WIDTH);
        self.room_for(lines.len() as f32 * 13.0 + 3.0 * LINE);
        self.y += 4.0;
        for line in lines {
            self.run(MARGIN, 10.0, true, INK, line);
            self.y += 13.0;
        }
        self.y += 2.0;
    }

    fn paragraph(&mut self, text: &str, size: f32, line: f32) {
        let face = &self.fonts.regular;
        for text in wrap(face, &face.drawable(text), size, CONTENT_WIDTH) {
            self.room_for(line);
            self.run(MARGIN, size, false, INK, text);
            self.y += line;
        }
        self.y += 4.0;
    }

    fn preformatted(&mut self, text: &str) {
        let face = &self.fonts.regular;
        let size = 7.5;
        let line = 10.0;
        let inner = CONTENT_WIDTH - 8.0;
        let lines: Vec<String> = text
            .split('\n')
            .flat_map(|l| wrap(face, &face.drawable(l), size, inner))
            .collect();
        let mut rest = lines.as_slice();
        while !rest.is_empty() {
            self.room_for(line + 6.0);
            let fit = (((FLOW_BOTTOM - self.y - 6.0) / line).floor() as usize).clamp(1, rest.len());
            let (now, later) = rest.split_at(fit);
            self.fill(
                MARGIN,
                self.y,
                CONTENT_WIDTH,
                now.len() as f32 * line + 6.0,
                PRE_SHADE,
            );
            self.y += 3.0;
            for text in now {
                self.run(MARGIN + 4.0, size, false, INK, text.clone());
                self.y += line;
            }
            self.y += 3.0;
            rest = later;
        }
        self.y += 5.0;
    }

    fn fields(&mut self, pairs: &[(String, Cell)]) {
        let label_width = 130.0;
        for (label, value) in pairs {
            let bold = &self.fonts.bold;
            let regular = &self.fonts.regular;
            let cells = vec![
                CellLines {
                    x: MARGIN,
                    lines: wrap(bold, &bold.drawable(label), BODY_SIZE, label_width - 8.0),
                    bold: true,
                    colour: GREY,
                },
                CellLines {
                    x: MARGIN + label_width,
                    lines: wrap(
                        regular,
                        &regular.drawable(&value.text),
                        BODY_SIZE,
                        CONTENT_WIDTH - label_width,
                    ),
                    bold: value.tone != Tone::Plain,
                    colour: tone_colour(value.tone),
                },
            ];
            self.row(cells, BODY_SIZE, LINE, 1.0, None, &|_| {});
        }
        self.y += 4.0;
    }

    /// Places one row of cells, splitting it across pages when it is taller than what is left;
    /// `on_new_page` is called after each page break inside the row (tables repeat their
    /// column titles there). `shade` fills the row's background.
    fn row(
        &mut self,
        mut cells: Vec<CellLines>,
        size: f32,
        line: f32,
        pad: f32,
        shade: Option<Colour>,
        on_new_page: &dyn Fn(&mut Flow<'a>),
    ) {
        // A row is moved to the next page at most once; past that it is split.
        let mut moved = false;
        loop {
            let needed = cells
                .iter()
                .map(|c| c.lines.len())
                .max()
                .unwrap_or(1)
                .max(1);
            let height = needed as f32 * line + 2.0 * pad;
            if self.y + height > FLOW_BOTTOM && !self.at_top() && !moved {
                // Move the row whole to the next page when it fits there.
                let fits_a_page = height <= FLOW_BOTTOM - FLOW_TOP - 3.0 * line;
                let room = ((FLOW_BOTTOM - self.y - 2.0 * pad) / line).floor();
                if fits_a_page || room < 1.0 {
                    self.new_page();
                    on_new_page(self);
                    moved = true;
                    continue;
                }
            }
            let room = (((FLOW_BOTTOM - self.y - 2.0 * pad) / line).floor() as usize).max(1);
            let take = needed.min(room);
            let drawn_height = take as f32 * line + 2.0 * pad;
            if let Some(colour) = shade {
                self.fill(MARGIN, self.y, CONTENT_WIDTH, drawn_height, colour);
            }
            let top = self.y + pad;
            for cell in &mut cells {
                let rest = cell.lines.split_off(take.min(cell.lines.len()));
                for (i, text) in std::mem::replace(&mut cell.lines, rest)
                    .into_iter()
                    .enumerate()
                {
                    let y = top + i as f32 * line + size;
                    self.page().runs.push(Run {
                        x: cell.x,
                        y,
                        size,
                        bold: cell.bold,
                        colour: cell.colour,
                        text,
                    });
                }
            }
            self.y += drawn_height;
            if cells.iter().all(|c| c.lines.is_empty()) {
                return;
            }
            self.new_page();
            on_new_page(self);
            moved = true;
        }
    }

    fn table(&mut self, table: &Table) {
        let total: f32 = table.columns.iter().map(|(_, w)| w.max(0.01)).sum();
        let widths: Vec<f32> = table
            .columns
            .iter()
            .map(|(_, w)| w.max(0.01) / total * CONTENT_WIDTH)
            .collect();
        let starts: Vec<f32> = widths
            .iter()
            .scan(MARGIN, |x, w| {
                let start = *x;
                *x += w;
                Some(start)
            })
            .collect();
        let fonts = self.fonts;
        let header_cells = || -> Vec<CellLines> {
            table
                .columns
                .iter()
                .zip(&starts)
                .zip(&widths)
                .map(|(((title, _), x), w)| CellLines {
                    x: x + CELL_PAD,
                    lines: wrap(
                        &fonts.bold,
                        &fonts.bold.drawable(title),
                        TABLE_SIZE,
                        w - 2.0 * CELL_PAD,
                    ),
                    bold: true,
                    colour: NAVY,
                })
                .collect()
        };
        let header = |flow: &mut Flow<'a>| {
            flow.row(
                header_cells(),
                TABLE_SIZE,
                TABLE_LINE,
                CELL_PAD,
                Some(SHADE),
                &|_| {},
            );
        };
        // The titles and the first row are kept together.
        self.room_for(4.0 * TABLE_LINE + 4.0 * CELL_PAD);
        header(self);
        for (index, row) in table.rows.iter().enumerate() {
            let cells: Vec<CellLines> = row
                .iter()
                .zip(&starts)
                .zip(&widths)
                .map(|((cell, x), w)| {
                    let bold = cell.tone != Tone::Plain;
                    let face = fonts.face(bold);
                    CellLines {
                        x: x + CELL_PAD,
                        lines: wrap(
                            face,
                            &face.drawable(&cell.text),
                            TABLE_SIZE,
                            w - 2.0 * CELL_PAD,
                        ),
                        bold,
                        colour: tone_colour(cell.tone),
                    }
                })
                .collect();
            let shade = (index % 2 == 1).then_some((247, 249, 251));
            self.row(cells, TABLE_SIZE, TABLE_LINE, CELL_PAD, shade, &header);
            self.fill(MARGIN, self.y, CONTENT_WIDTH, 0.4, RULE);
        }
        self.y += 8.0;
    }
}

fn set_colour(surface: &mut Surface, colour: Colour) {
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

/// Draws drawable `text` with its glyphs placed by the font's advances (as measured).
fn draw_text(surface: &mut Surface, face: &Face, x: f32, y: f32, size: f32, text: &str) {
    let glyphs: Vec<KrillaGlyph> = text
        .char_indices()
        .filter_map(|(at, c)| {
            face.glyph(c).map(|(id, advance)| KrillaGlyph {
                glyph_id: GlyphId::new(id),
                text_range: at..at + c.len_utf8(),
                x_advance: advance,
                x_offset: 0.0,
                y_offset: 0.0,
                y_advance: 0.0,
                location: None,
            })
        })
        .collect();
    if glyphs.is_empty() {
        return;
    }
    surface.draw_glyphs(
        Point::from_xy(x, y),
        &glyphs,
        face.font.clone(),
        text,
        size,
        false,
    );
}

fn draw_box(surface: &mut Surface, rect: Rect, colour: Colour) {
    let mut path = PathBuilder::new();
    path.push_rect(rect);
    if let Some(path) = path.finish() {
        set_colour(surface, colour);
        surface.draw_path(&path);
    }
}

/// Cuts drawable `text` to fit `width` at `size`, ending in "…" when cut.
fn fit(face: &Face, text: &str, size: f32, width: f32) -> String {
    if face.width(text, size) <= width {
        return text.to_owned();
    }
    let ellipsis = face.width("…", size);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = face.width(c.encode_utf8(&mut [0; 4]), size);
        if used + w + ellipsis > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The document as a PDF.
pub fn render(document: &Document) -> Result<Pdf, PdfError> {
    let fonts = Fonts::load()?;
    let mut flow = Flow::new(&fonts);
    for block in &document.blocks {
        match block {
            Block::Heading(text) => flow.heading(text),
            Block::Subheading(text) => flow.subheading(text),
            Block::Paragraph(text) => flow.paragraph(text, BODY_SIZE, LINE),
            Block::Fields(pairs) => flow.fields(pairs),
            Block::Table(table) => flow.table(table),
            Block::Preformatted(text) => flow.preformatted(text),
        }
    }
    let pages = flow.pages;
    let count = pages.len();
    let header_lines = document
        .header
        .lines()
        .map(|line| fonts.regular.drawable(&line));
    let footer_left = fonts.regular.drawable(&format!(
        "{} · report {}",
        document.header.title, document.header.report_id
    ));

    let mut pdf = krilla::Document::new();
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| PdfError::Write("the page size".into()))?;
    for (index, items) in pages.into_iter().enumerate() {
        let mut page = pdf.start_page_with(settings.clone());
        let mut surface = page.surface();
        // Header: three lines and a rule.
        for (i, line) in header_lines.iter().enumerate() {
            let (bold, colour, size) = match i {
                0 => (true, NAVY, 9.0),
                _ => (false, GREY, HEADER_SIZE),
            };
            let face = fonts.face(bold);
            let text = fit(face, &face.drawable(line), size, CONTENT_WIDTH);
            set_colour(&mut surface, colour);
            draw_text(
                &mut surface,
                face,
                MARGIN,
                36.0 + i as f32 * 11.0,
                size,
                &text,
            );
        }
        if let Some(rule) = Rect::from_xywh(MARGIN, 36.0 + 2.0 * 11.0 + 6.0, CONTENT_WIDTH, 0.8) {
            draw_box(&mut surface, rule, NAVY);
        }
        for (rect, colour) in items.boxes {
            draw_box(&mut surface, rect, colour);
        }
        for run in &items.runs {
            set_colour(&mut surface, run.colour);
            draw_text(
                &mut surface,
                fonts.face(run.bold),
                run.x,
                run.y,
                run.size,
                &run.text,
            );
        }
        // Footer: a rule, what this is, and where in it.
        let footer_y = PAGE_HEIGHT - 30.0;
        if let Some(rule) = Rect::from_xywh(MARGIN, footer_y - 12.0, CONTENT_WIDTH, 0.5) {
            draw_box(&mut surface, rule, RULE);
        }
        let page_of = format!("Page {} of {}", index + 1, count);
        let page_width = fonts.regular.width(&page_of, HEADER_SIZE);
        set_colour(&mut surface, GREY);
        let left = fit(
            &fonts.regular,
            &footer_left,
            HEADER_SIZE,
            CONTENT_WIDTH - page_width - 12.0,
        );
        draw_text(
            &mut surface,
            &fonts.regular,
            MARGIN,
            footer_y,
            HEADER_SIZE,
            &left,
        );
        draw_text(
            &mut surface,
            &fonts.regular,
            PAGE_WIDTH - MARGIN - page_width,
            footer_y,
            HEADER_SIZE,
            &page_of,
        );
        surface.finish();
        page.finish();
    }
    let header = &document.header;
    pdf.set_metadata(
        Metadata::new()
            .title(format!(
                "{} – {} – {}",
                header.title, header.model, header.version
            ))
            .description(format!(
                "Report {}, generated {} UTC at checkpoint size {}, root {}",
                header.report_id,
                header.generated_at,
                header.checkpoint_size,
                header.checkpoint_root
            ))
            .creator("modeltrail".to_owned())
            .document_id(header.report_id.clone()),
    );
    let bytes = pdf
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))?;
    Ok(Pdf {
        bytes,
        pages: count,
    })
}
