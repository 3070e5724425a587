//! Reports for people: a model version's validation dossier as HTML and as PDF (21 CFR
//! 11.10(b): accurate and complete copies in human-readable form). Pure: the caller gathers the
//! dossier and the checkpoint; this module turns them into a format-neutral [`Document`]
//! (`dossier`) and draws it (`html`, `pdf`). Every report carries an id a reader can tie back
//! to the log: [`report_id`] hashes what it was drawn from.

pub mod document;
pub mod dossier;
pub mod html;
pub mod pdf;

use modeltrail_ledger::{Hash, Timestamp};
use sha2::{Digest, Sha256};

pub use document::{Block, Cell, Document, Header, Table, Tone};
pub use dossier::{dossier_document, DossierReport};
pub use pdf::{Pdf, PdfError};

/// The two forms a report is given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

/// What a report is drawn at: the signed checkpoint that covers every record it shows, and
/// the time it was made.
#[derive(Clone, Debug)]
pub struct DrawnAt {
    pub checkpoint_size: u64,
    pub checkpoint_root: Hash,
    /// The signed checkpoint's text (a C2SP signed note), for `modeltrail verify
    /// --trusted-checkpoint`.
    pub checkpoint_text: String,
    pub generated_at: Timestamp,
}

/// The text a report id is the hash of: one line each of a version tag, the report, the model
/// version, the checkpoint's size and root (hex), the generation time and the format.
pub fn report_id_input(
    report: &str,
    model_version: &str,
    drawn: &DrawnAt,
    format: Format,
) -> String {
    format!(
        "modeltrail-report/1\n{report}\n{model_version}\n{}\n{}\n{}\n{}\n",
        drawn.checkpoint_size,
        drawn.checkpoint_root.to_hex(),
        drawn.generated_at,
        format.as_str()
    )
}

/// A report's id: `R-` and the first 16 bytes, hex, of the SHA-256 of [`report_id_input`].
pub fn report_id(report: &str, model_version: &str, drawn: &DrawnAt, format: Format) -> String {
    let digest = Sha256::digest(report_id_input(report, model_version, drawn, format).as_bytes());
    format!("R-{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_changes_with_everything_it_is_drawn_from() {
        let drawn = DrawnAt {
            checkpoint_size: 10,
            checkpoint_root: Hash([7; 32]),
            checkpoint_text: String::new(),
            generated_at: Timestamp::parse("2026-01-02T03:04:05.000006Z").unwrap(),
        };
        let id = report_id("dossier", "mv1", &drawn, Format::Pdf);
        assert!(id.starts_with("R-") && id.len() == 34, "{id}");
        assert_ne!(id, report_id("dossier", "mv2", &drawn, Format::Pdf));
        assert_ne!(id, report_id("dossier", "mv1", &drawn, Format::Html));
        let mut later = drawn.clone();
        later.checkpoint_size = 11;
        assert_ne!(id, report_id("dossier", "mv1", &later, Format::Pdf));
        let digest = Sha256::digest(
            "modeltrail-report/1\ndossier\nmv1\n10\n0707070707070707070707070707070707070707070707070707070707070707\n2026-01-02T03:04:05.000006Z\npdf\n",
        );
        assert_eq!(id, format!("R-{}", hex::encode(&digest[..16])));
    }
}
