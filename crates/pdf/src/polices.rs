//! The font family: PDF standard fonts (Helvetica), Liberation Sans for the layout metrics.
//!
//! Liberation Sans is metric-compatible with Helvetica, so the line breaks genpdf computes from
//! it match what the viewer draws with its own Helvetica. Nothing is embedded in the PDF.

use std::sync::OnceLock;

use genpdf::Mm;
use genpdf::fonts::{FontCache, FontData, FontFamily};
use genpdf::style::Style;
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

/// Advance widths of the four styles for every character the standard fonts print, in em, as
/// genpdf computes them: measuring a word is then a table look-up instead of two glyph
/// searches per letter. Kerning is left out, which can only overestimate (Liberation Sans
/// kerns inwards), by a fraction of a millimetre per line.
pub(crate) struct Advances {
    em: [[f32; SLOTS]; 4],
}

/// Latin-1 by code point, then the Windows-1252 additions.
const SLOTS: usize = 256 + EXTRA.len();
const EXTRA: [char; 27] = [
    'Œ', 'œ', 'Š', 'š', 'Ÿ', 'Ž', 'ž', 'ƒ', 'ˆ', '˜', '–', '—', '‘', '’', '‚', '“', '”', '„', '†',
    '‡', '•', '…', '‰', '‹', '›', '€', '™',
];

fn slot(c: char) -> Option<usize> {
    let code = c as usize;
    if code < 256 {
        Some(code)
    } else {
        EXTRA.iter().position(|&e| e == c).map(|i| 256 + i)
    }
}

static ADVANCES: OnceLock<Option<Advances>> = OnceLock::new();

/// The table, built once per process; `None` if a font does not parse (then genpdf measures).
pub(crate) fn advances() -> Option<&'static Advances> {
    ADVANCES.get_or_init(load_advances).as_ref()
}

fn load_advances() -> Option<Advances> {
    let mut em = [[0f32; SLOTS]; 4];
    for (table, bytes) in em.iter_mut().zip([REGULAR, BOLD, ITALIC, BOLD_ITALIC]) {
        let font = rusttype::Font::from_bytes(bytes).ok()?;
        let units = f32::from(font.units_per_em());
        if units == 0.0 {
            return None;
        }
        let v = font.v_metrics_unscaled();
        // genpdf's scale: the glyph height in em, so that widths come out in em.
        let scale = rusttype::Scale::uniform((v.ascent - v.descent) / units);
        for (c, width) in (0u32..256)
            .filter_map(char::from_u32)
            .chain(EXTRA)
            .zip(table.iter_mut())
        {
            *width = font.glyph(c).scaled(scale).h_metrics().advance_width;
        }
    }
    Some(Advances { em })
}

impl Advances {
    fn index(style: Style) -> usize {
        usize::from(style.is_bold()) + 2 * usize::from(style.is_italic())
    }

    /// The width of `s` in `style`, or `None` for a character outside the table.
    pub(crate) fn width(&self, style: Style, s: &str) -> Option<Mm> {
        let table = &self.em[Self::index(style)];
        let mut em = 0f32;
        for c in s.chars() {
            em += table[slot(c)?];
        }
        Some(Mm::from(printpdf::Pt(f64::from(
            em * f32::from(style.font_size()),
        ))))
    }

    /// Whether `style` in this document is drawn with this crate's fonts (a document may add
    /// other families): two letters must measure exactly as genpdf measures them.
    pub(crate) fn describes(&self, fc: &FontCache, style: Style) -> bool {
        ['W', 'i']
            .into_iter()
            .all(|c| self.width(style, c.encode_utf8(&mut [0; 4])) == Some(style.char_width(fc, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genpdf::fonts::FontCache;

    #[test]
    fn the_table_measures_like_genpdf_without_kerning() {
        let fc = FontCache::new(fonts().unwrap().clone());
        let table = advances().unwrap();
        // (text, how much wider than genpdf's kerned width it may measure, in mm)
        let samples = [
            ("Aïssatou Bah", 0.3),
            ("Éducation civique et morale", 0.3),
            ("« Très bien », 12,50 / 20 — 2ème ex", 0.3),
            ("1 250 000 GNF", 0.3),
            ("AVATAR Tour Wagon, Yves ; œuvre 25 € ™", 2.0),
        ];
        for base in [Style::new(), Style::new().bold(), Style::new().italic()] {
            let style = base.bold().italic().and(base).with_font_size(9);
            for style in [base.with_font_size(9), style] {
                assert!(table.describes(&fc, style));
                for (s, max) in samples {
                    let ours = table.width(style, s).unwrap();
                    let genpdf = style.str_width(&fc, s);
                    let diff = printpdf::Mm::from(ours - genpdf).0;
                    // Kerning only ever tightens: the table never measures short.
                    assert!(diff > -1e-9 && diff < max, "{s:?}: {diff} mm");
                }
            }
        }
        assert!(table.width(Style::new(), "ŋ").is_none());
    }
}
