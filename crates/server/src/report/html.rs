//! A report as one self-contained HTML page: inline CSS, no script, no external reference;
//! every text from a record is escaped.

use std::fmt::Write as _;

use super::document::{Block, Cell, Document, Tone};

const STYLE: &str = "\
body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;font-size:10.5pt;color:#111;\
margin:2em auto;max-width:60em;padding:0 1em;line-height:1.4}\
header.report{border-bottom:2px solid #1f3b5a;margin-bottom:1.5em;padding-bottom:.5em}\
header.report h1{font-size:1.5em;margin:0 0 .3em;color:#1f3b5a}\
header.report dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:0;\
font-size:.9em}\
header.report dt{font-weight:bold}header.report dd{margin:0;overflow-wrap:anywhere}\
h2{font-size:1.25em;color:#1f3b5a;border-bottom:1px solid #9fb3c8;margin-top:1.6em}\
h3{font-size:1.05em;margin:1.2em 0 .4em}\
table{border-collapse:collapse;width:100%;margin:.4em 0 1em;font-size:.92em}\
th,td{border:1px solid #b8c4d0;padding:.25em .45em;text-align:left;vertical-align:top;\
overflow-wrap:anywhere;white-space:pre-wrap}\
th{background:#e8eef4}\
dl.fields{display:grid;grid-template-columns:minmax(8em,max-content) 1fr;gap:.15em 1em;\
margin:.4em 0 1em}\
dl.fields dt{font-weight:bold;color:#333}\
dl.fields dd{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}\
p{white-space:pre-wrap;overflow-wrap:anywhere}\
pre{background:#f3f5f7;border:1px solid #d0d7de;padding:.6em;white-space:pre-wrap;\
overflow-wrap:anywhere;font-size:.9em}\
.good{color:#0b6b2e;font-weight:bold}.bad{color:#a4161a;font-weight:bold}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

/// `text` escaped for HTML text and attribute values. Characters HTML forbids (controls other
/// than tab, line feed and carriage return) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn class_of(tone: Tone) -> &'static str {
    match tone {
        Tone::Plain => "",
        Tone::Good => " class=\"good\"",
        Tone::Bad => " class=\"bad\"",
    }
}

fn cell(out: &mut String, tag: &str, cell: &Cell) {
    let _ = write!(
        out,
        "<{tag}{}>{}</{tag}>",
        class_of(cell.tone),
        escape(&cell.text)
    );
}

/// The document as a complete HTML page.
pub fn render(document: &Document) -> String {
    let header = &document.header;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"modeltrail\">\
         <title>{} – {} – {}</title><style>{STYLE}</style></head><body>\n",
        escape(&header.title),
        escape(&header.model),
        escape(&header.version)
    );
    let _ = write!(
        out,
        "<header class=\"report\"><h1>{}</h1><dl>\
         <dt>Model</dt><dd>{}</dd><dt>Version</dt><dd>{}</dd>\
         <dt>Report id</dt><dd id=\"report-id\">{}</dd>\
         <dt>Generated</dt><dd>{} UTC</dd>\
         <dt>Checkpoint</dt><dd>size {}, root {}</dd></dl></header>\n<main>\n",
        escape(&header.title),
        escape(&header.model),
        escape(&header.version),
        escape(&header.report_id),
        escape(&header.generated_at),
        header.checkpoint_size,
        escape(&header.checkpoint_root)
    );
    for block in &document.blocks {
        match block {
            Block::Heading(text) => {
                let _ = writeln!(out, "<h2>{}</h2>", escape(text));
            }
            Block::Subheading(text) => {
                let _ = writeln!(out, "<h3>{}</h3>", escape(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape(text));
            }
            Block::Fields(pairs) => {
                out.push_str("<dl class=\"fields\">");
                for (label, value) in pairs {
                    let _ = write!(out, "<dt>{}</dt>", escape(label));
                    cell(&mut out, "dd", value);
                }
                out.push_str("</dl>\n");
            }
            Block::Table(table) => {
                out.push_str("<table><thead><tr>");
                for (title, _) in &table.columns {
                    let _ = write!(out, "<th scope=\"col\">{}</th>", escape(title));
                }
                out.push_str("</tr></thead><tbody>");
                for row in &table.rows {
                    out.push_str("<tr>");
                    for value in row {
                        cell(&mut out, "td", value);
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</tbody></table>\n");
            }
            Block::Preformatted(text) => {
                let _ = writeln!(out, "<pre>{}</pre>", escape(text));
            }
        }
    }
    out.push_str("</main>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::{Header, Table};

    fn header() -> Header {
        Header {
            title: "Validation dossier".into(),
            model: "<m>".into(),
            version: "v\"1".into(),
            report_id: "R-1".into(),
            generated_at: "2026-01-01T00:00:00.000000Z".into(),
            checkpoint_size: 3,
            checkpoint_root: "ab".into(),
        }
    }

    #[test]
    fn every_text_is_escaped() {
        let mut document = Document::new(header());
        document.paragraph("<script>alert('x')</script> & \u{7}");
        let mut table = Table::new(&[("<th>", 1.0)]);
        table.row(vec!["<img src=x onerror=alert(1)>".into()]);
        document.table(table);
        let html = render(&document);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<m>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; \u{FFFD}"));
        assert!(html.contains("v&quot;1"));
        assert!(html.contains("&lt;th&gt;"));
    }
}
