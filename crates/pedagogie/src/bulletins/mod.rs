//! Report cards: computed per class and period ([`generation`]), rendered as PDFs and
//! published by jobs ([`travaux`]), read within the caller's scope ([`consultation`]).

pub mod conseil;
pub mod consultation;
pub mod document;
pub mod generation;
pub mod notification;
pub mod publication;
pub mod travaux;

pub use generation::{Generation, calculer, generer, generer_classe, regles};
