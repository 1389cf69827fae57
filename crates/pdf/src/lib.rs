//! École's PDF documents, presentation only: callers hand over data already computed and
//! formatted (French decimals, dates in words) and get PDF bytes back. No database, no other
//! École crate, so finances can reuse the shared parts for invoices and receipts.
//!
//! Text uses the PDF standard fonts (Helvetica family, nothing embedded) laid out with the
//! metrics of Liberation Sans, which ships in `fonts/` under the SIL Open Font License and is
//! parsed once per process: a report card is about 20 KB and 1 ms. The standard fonts print
//! Windows-1252 only, so every string goes through [`to_winansi`] (French is untouched; other
//! letters are transliterated, never a failed render).
//!
//! # API
//! - [`render_bulletin`]`(&`[`BulletinPdf`]`) -> Result<Vec<u8>, PdfError>`: the report card,
//!   one row per [`LigneBulletinPdf`].
//! - Shared helpers: [`Entete`] (the school, with an optional [`Logo`] decoded once and shared
//!   by clones), [`start_document`]`(title, &Entete) -> Result<genpdf::Document, PdfError>` (A4,
//!   margins, metadata, the school header), [`Table`] of [`Column`]s (bordered, bold header row),
//!   [`TextBlock`] (wrapped styled runs; never drops a word), [`text`], [`centered`], [`Rule`],
//!   [`render`]`(Document) -> Result<Vec<u8>, PdfError>` (with content streams compacted).
//! - [`fonts`]`() -> Result<&'static FontFamily<FontData>, PdfError>`: the parsed family.
//!
//! Rendering is synchronous CPU work: run it in `spawn_blocking` from async code.

mod bloc;
mod bulletin;
mod commun;
mod compact;
mod polices;
mod texte;

pub use bloc::TextBlock;
pub use bulletin::{BulletinPdf, LigneBulletinPdf, render_bulletin};
pub use commun::{
    BODY_SIZE, Column, Entete, Logo, MIN_CELL_SIZE, Rule, Table, centered, header, render,
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
