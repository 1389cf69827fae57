//! École's PDF documents, presentation only: callers hand over data already computed and
//! formatted (French decimals, dates in words) and get PDF bytes back. No database, no other
//! École crate, so finances can reuse the shared parts for invoices and receipts.
//!
//! Text uses the PDF standard fonts (the Helvetica family, nothing embedded) laid out with the
//! metrics of Liberation Sans, which ships in `fonts/` under the SIL Open Font License and is
//! parsed once per process. The standard fonts print Windows-1252 only, so every string goes
//! through [`to_winansi`]: French is untouched, other letters are transliterated (`ɓ` → `b`),
//! a render never fails on a name. printpdf's output is then compacted (see `compact.rs`):
//! a 15-subject report card is about 7 KB, plus the logo's few KB.
//!
//! # API
//! - [`render_bulletin`]`(&`[`BulletinPdf`]`) -> Result<Vec<u8>, PdfError>`: the report card,
//!   one [`LigneBulletinPdf`] per subject. Field notes are on the structs; the fields are those
//!   of the brief, with `entete.logo` an `Option<`[`Logo`]`>` (`Logo::new(bytes)`) rather than
//!   raw bytes, so that a batch decodes and encodes its logo once.
//! - Shared helpers, for invoices and receipts:
//!   - [`Entete`]: the school (name, motto, address, contacts, town, director, logo).
//!   - [`start_document`]`(title, &Entete) -> Result<`[`PdfDocument`]`, PdfError>`: A4, margins,
//!     9 pt text, ASCII title metadata, the school header; then [`PdfDocument::push`] any genpdf
//!     element (genpdf is re-exported as [`genpdf`]).
//!   - [`Table`]`::new(&[`[`Column`]`], header_style)`, [`Table::row`], [`Table::row_styled`],
//!     [`Table::into_layout`]: bordered table, bold header row, cells that wrap and never lose
//!     a word.
//!   - [`TextBlock`] (wrapped styled runs: `TextBlock::new("Total : ", plain).run("12 000 GNF",
//!     bold)`), [`text`], [`centered`], [`Rule`].
//!   - [`render`]`(PdfDocument) -> Result<Vec<u8>, PdfError>`.
//! - [`fonts`]`() -> Result<&'static FontFamily<FontData>, PdfError>`: the family, parsed once.
//! - [`to_winansi`], [`to_ascii`], [`is_winansi`]: what the standard fonts can print.
//!
//! Rendering is synchronous CPU work (about 2 ms): run it in `spawn_blocking` from async code.
//! [`PdfDocument`] is not `Send`: build and render it inside the same closure.

mod bloc;
mod bulletin;
mod commun;
mod compact;
mod polices;
mod texte;

pub use bloc::TextBlock;
pub use bulletin::{AnnuelPdf, BulletinPdf, ConseilPdf, LigneBulletinPdf, render_bulletin};
pub use commun::{
    BODY_SIZE, Column, Entete, Logo, MIN_CELL_SIZE, PdfDocument, Rule, Table, centered, render,
    start_document, text,
};
pub use genpdf;
pub use polices::fonts;
pub use texte::{is_winansi, to_ascii, to_winansi};

/// Why a PDF could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("polices du PDF illisibles : {0}")]
    Fonts(String),
    #[error("tableau du PDF mal formé : {0}")]
    Table(String),
    #[error("échec du rendu du PDF : {0}")]
    Render(String),
}

impl From<genpdf::error::Error> for PdfError {
    fn from(e: genpdf::error::Error) -> Self {
        PdfError::Render(e.to_string())
    }
}
