//! The font family: PDF standard fonts (Helvetica), Liberation Sans for the layout metrics.
//!
//! Liberation Sans is metric-compatible with Helvetica, so the line breaks genpdf computes from
//! it match what the viewer draws with its own Helvetica. Nothing is embedded in the PDF.

use std::sync::OnceLock;

use genpdf::fonts::{FontData, FontFamily};
use printpdf::BuiltinFont;

use crate::PdfError;

const REGULAR: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/LiberationSans-Bold.ttf");
const ITALIC: &[u8] = include_bytes!("../fonts/LiberationSans-Italic.ttf");
const BOLD_ITALIC: &[u8] = include_bytes!("../fonts/LiberationSans-BoldItalic.ttf");

static FAMILY: OnceLock<Result<FontFamily<FontData>, String>> = OnceLock::new();

/// The Helvetica family with Liberation Sans metrics, parsed once per process. Clone it for each
/// `genpdf::Document` (a clone shares the parsed font data).
pub fn fonts() -> Result<&'static FontFamily<FontData>, PdfError> {
    FAMILY
        .get_or_init(load)
        .as_ref()
        .map_err(|e| PdfError::Fonts(e.clone()))
}

fn load() -> Result<FontFamily<FontData>, String> {
    let font = |bytes: &[u8], builtin| {
        FontData::new(bytes.to_vec(), Some(builtin)).map_err(|e| e.to_string())
    };
    Ok(FontFamily {
        regular: font(REGULAR, BuiltinFont::Helvetica)?,
        bold: font(BOLD, BuiltinFont::HelveticaBold)?,
        italic: font(ITALIC, BuiltinFont::HelveticaOblique)?,
        bold_italic: font(BOLD_ITALIC, BuiltinFont::HelveticaBoldOblique)?,
    })
}
