//! Building blocks shared by every École PDF (report cards now, invoices and receipts later):
//! the school header, page setup, bordered tables, a horizontal rule and rendering to memory.

use std::fmt;
use std::io::{Cursor, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use genpdf::elements::{Break, CellDecorator, Image, LinearLayout, TableLayout};
use genpdf::style::Style;
use genpdf::{
    Alignment, Context, Document, Element, Margins, Mm, PaperSize, Position, RenderResult, Scale,
    SimplePageDecorator, Size, render,
};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{ColorType, DynamicImage, ImageFormat, RgbImage};

use crate::PdfError;
use crate::bloc::TextBlock;
use crate::compact::compact;
use crate::polices::fonts;
use crate::texte::to_ascii;

/// Default body text size, in points.
pub const BODY_SIZE: u8 = 9;
/// Smallest size a table cell shrinks to so that its longest word fits its column.
pub const MIN_CELL_SIZE: u8 = 6;

/// Page margins in millimetres: top, right, bottom, left.
const MARGINS: (f64, f64, f64, f64) = (10.0, 12.0, 10.0, 12.0);
/// The box the logo is fitted in, in millimetres (width, height).
const LOGO_BOX: (f64, f64) = (28.0, 22.0);
/// A logo whose header declares more pixels than this is not decoded at all.
const LOGO_MAX_PIXELS: u64 = 4096 * 4096;
/// Logos are scaled down to this many pixels on their longer side (≈ 300 dpi at 22 mm).
const LOGO_MAX_SIDE: u32 = 260;
/// The most a logo adds to each document (a flat logo takes a few KB, a photograph more).
const LOGO_MAX_BYTES: usize = 24 * 1024;

/// The school's identity printed at the top of every document (the `etablissement` row).
/// Empty strings are left out.
#[derive(Debug, Clone, Default)]
pub struct Entete {
    pub nom: String,
    pub adresse: String,
    pub telephone: String,
    pub email: String,
    /// The school's motto, printed in italics under its name.
    pub devise: String,
    pub ville: String,
    pub directeur: String,
    pub logo: Option<Logo>,
}

/// The school's logo: PNG or JPEG bytes, decoded and encoded for the PDF at most once however
/// many documents print it (clones share that work, so build one `Entete` per batch and clone
/// it). A logo that does not decode is left out of the documents; it never makes a render fail.
#[derive(Clone)]
pub struct Logo(Arc<LogoInner>);

struct LogoInner {
    bytes: Vec<u8>,
    encoded: OnceLock<Option<EncodedLogo>>,
}

/// The logo as the data of a PDF image stream.
pub(crate) struct EncodedLogo {
    pub width: u32,
    pub height: u32,
    /// `FlateDecode` (RGB samples) or `DCTDecode` (a JPEG file).
    pub filter: &'static str,
    pub data: Vec<u8>,
}

impl Logo {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Logo {
        Logo(Arc::new(LogoInner {
            bytes: bytes.into(),
            encoded: OnceLock::new(),
        }))
    }

    /// The bytes as given.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Whether the logo decodes, i.e. whether documents will show it.
    pub fn is_printable(&self) -> bool {
        self.encoded().is_some()
    }

    pub(crate) fn encoded(&self) -> Option<&EncodedLogo> {
        self.0
            .encoded
            .get_or_init(|| encode_logo(&self.0.bytes))
            .as_ref()
    }
}

impl From<Vec<u8>> for Logo {
    fn from(bytes: Vec<u8>) -> Logo {
        Logo::new(bytes)
    }
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logo")
            .field("octets", &self.0.bytes.len())
            .finish()
    }
}

/// PNG or JPEG bytes → a small opaque RGB image (transparency flattened on white), or `None`.
fn decode_logo(bytes: &[u8]) -> Option<RgbImage> {
    let format = image::guess_format(bytes).ok()?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return None;
    }
    let (w, h) = image::io::Reader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .ok()?;
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > LOGO_MAX_PIXELS {
        return None;
    }
    // These decoders predate years of fuzzing: a panic on hostile bytes means "no logo".
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        image::load_from_memory_with_format(bytes, format)
    }))
    .ok()?
    .ok()?;
    let small = if w.max(h) > LOGO_MAX_SIDE {
        decoded.thumbnail(LOGO_MAX_SIDE, LOGO_MAX_SIDE)
    } else {
        decoded
    };
    Some(on_white(&small))
}

/// The decoded logo as lossless deflated samples, or as a JPEG when that is less than half
/// the size (photographs); smaller and smaller until it fits [`LOGO_MAX_BYTES`].
fn encode_logo(bytes: &[u8]) -> Option<EncodedLogo> {
    let mut rgb = decode_logo(bytes)?;
    let mut quality = 88;
    loop {
        let encoded = encode_rgb(&rgb, quality)?;
        let (w, h) = rgb.dimensions();
        if encoded.data.len() <= LOGO_MAX_BYTES || w.max(h) <= 48 {
            return Some(encoded);
        }
        let (w, h) = ((w * 3 / 4).max(1), (h * 3 / 4).max(1));
        rgb = image::imageops::resize(&rgb, w, h, FilterType::Triangle);
        quality = (quality - 8).max(60);
    }
}

fn encode_rgb(rgb: &RgbImage, quality: u8) -> Option<EncodedLogo> {
    let (width, height) = rgb.dimensions();
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(rgb.as_raw()).ok()?;
    let flate = encoder.finish().ok()?;
    let mut jpeg = Vec::new();
    let jpeg_ok = JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode(rgb.as_raw(), width, height, ColorType::Rgb8)
        .is_ok();
    let (filter, data) = if jpeg_ok && jpeg.len() * 2 < flate.len() {
        ("DCTDecode", jpeg)
    } else {
        ("FlateDecode", flate)
    };
    Some(EncodedLogo {
        width,
        height,
        filter,
        data,
    })
}

fn on_white(img: &DynamicImage) -> RgbImage {
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = u16::from(a);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([mix(r), mix(g), mix(b)])
    })
}

/// A genpdf document being built, and the logo its header shows. Push the body, then
/// [`render()`] it.
pub struct PdfDocument {
    pub(crate) doc: Document,
    logo: Option<Logo>,
}

impl PdfDocument {
    /// Appends an element to the body.
    pub fn push<E: Element + 'static>(&mut self, element: E) {
        self.doc.push(element);
    }

    /// The genpdf document, for settings this crate does not wrap.
    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.doc
    }
}

/// A new A4 document with the house page setup (margins, 9 pt Helvetica, PDF title metadata)
/// and the school header at the top of its first page.
pub fn start_document(title: &str, entete: &Entete) -> Result<PdfDocument, PdfError> {
    let mut doc = Document::new(fonts()?.clone());
    doc.set_title(to_ascii(title));
    doc.set_paper_size(PaperSize::A4);
    // No ICC profile nor XMP packet: a few KB less per document.
    doc.set_minimal_conformance();
    doc.set_font_size(BODY_SIZE);
    doc.set_line_spacing(1.1);
    let mut decorator = SimplePageDecorator::new();
    let (top, right, bottom, left) = MARGINS;
    decorator.set_margins(Margins::trbl(top, right, bottom, left));
    doc.set_page_decorator(decorator);
    let logo = entete.logo.clone().filter(Logo::is_printable);
    doc.push(header(entete, logo.as_ref())?);
    Ok(PdfDocument { doc, logo })
}

/// Writes the document to memory, with printpdf's content streams compacted (deflated, one
/// string per run of text) and the logo put in place.
pub fn render(doc: PdfDocument) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::with_capacity(64 * 1024);
    doc.doc.render(&mut out)?;
    let logo = doc.logo.as_ref().and_then(Logo::encoded);
    // `None` only for a layout printpdf 0.3.4 does not write (the tests check it does not):
    // the file is then valid as it is, its logo a blank pixel.
    Ok(compact(&out, logo).unwrap_or(out))
}

/// The school header: the logo at the left, then the name, the motto in italics, the address
/// and the contacts, centred, and a rule under it all.
fn header(entete: &Entete, logo: Option<&Logo>) -> Result<LinearLayout, PdfError> {
    let mut lines = LinearLayout::vertical();
    lines.push(centered(&entete.nom).styled(Style::new().bold().with_font_size(14)));
    if !entete.devise.trim().is_empty() {
        lines.push(centered(&entete.devise).styled(Style::new().italic().with_font_size(9)));
    }
    let mut adresse = entete.adresse.trim().to_string();
    let ville = entete.ville.trim();
    if !ville.is_empty() && !adresse.to_lowercase().contains(&ville.to_lowercase()) {
        if !adresse.is_empty() {
            adresse.push_str(", ");
        }
        adresse.push_str(ville);
    }
    if !adresse.is_empty() {
        lines.push(centered(&adresse).styled(Style::new().with_font_size(8)));
    }
    let contacts: Vec<String> = [
        ("Tél. : ", entete.telephone.trim()),
        ("Courriel : ", entete.email.trim()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(label, v)| format!("{label}{v}"))
    .collect();
    if !contacts.is_empty() {
        lines.push(centered(&contacts.join("  —  ")).styled(Style::new().with_font_size(8)));
    }

    let mut out = LinearLayout::vertical();
    match logo.and_then(Logo::encoded).and_then(logo_placeholder) {
        Some(logo) => {
            let mut row = TableLayout::new(vec![6, 25, 6]);
            row.row()
                .element(logo)
                .element(lines)
                .element(text(""))
                .push()?;
            out.push(row);
        }
        None => out.push(lines),
    }
    out.push(Break::new(0.3));
    out.push(Rule);
    out.push(Break::new(0.3));
    Ok(out)
}

/// A one-pixel image stretched to the logo's place and size: genpdf lays it out, and
/// [`render()`] swaps the logo's own stream in (printpdf would deflate the logo's pixels again
/// for every document, at its slowest setting).
fn logo_placeholder(logo: &EncodedLogo) -> Option<Image> {
    let (w, h) = (f64::from(logo.width), f64::from(logo.height));
    let fit = (LOGO_BOX.0 / w).min(LOGO_BOX.1 / h);
    // At genpdf's default 300 dpi one pixel is 25.4 / 300 mm wide.
    let pixel = 25.4 / 300.0;
    Image::from_dynamic_image(DynamicImage::ImageRgb8(RgbImage::from_pixel(
        1,
        1,
        image::Rgb([255, 255, 255]),
    )))
    .ok()
    .map(|i| i.with_scale(Scale::new(w * fit / pixel, h * fit / pixel)))
}

/// A block of `text` (made printable, see [`crate::to_winansi`]).
pub fn text(text: &str) -> TextBlock {
    TextBlock::new(text, Style::new())
}

/// A centred block of `text`.
pub fn centered(text: &str) -> TextBlock {
    self::text(text).aligned(Alignment::Center)
}

/// A full-width horizontal line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rule;

impl Element for Rule {
    fn render(
        &mut self,
        _context: &Context,
        area: render::Area<'_>,
        style: Style,
    ) -> Result<RenderResult, genpdf::error::Error> {
        let height = Mm::from(1.0);
        if area.size().height < height {
            return Ok(RenderResult {
                size: Size::new(0, 0),
                has_more: true,
            });
        }
        let width = area.size().width;
        area.draw_line(
            vec![Position::new(0, 0.5), Position::new(width, Mm::from(0.5))],
            style,
        );
        Ok(RenderResult {
            size: Size::new(width, height),
            has_more: false,
        })
    }
}

/// Draws each border of a table once: per row, one line across the top and one on the left of
/// every cell, plus the right edge and, on the last row or before a page break, the bottom.
/// (genpdf's `FrameCellDecorator` draws four lines per cell, inner ones twice.)
struct Grid {
    weights: Vec<usize>,
    rows: usize,
}

impl Grid {
    fn new(weights: Vec<usize>) -> Grid {
        Grid { weights, rows: 0 }
    }
}

impl CellDecorator for Grid {
    fn set_table_size(&mut self, _columns: usize, rows: usize) {
        self.rows = rows;
    }

    fn decorate_cell(
        &mut self,
        column: usize,
        row: usize,
        has_more: bool,
        area: render::Area<'_>,
        style: Style,
    ) {
        let size = area.size();
        let (Some(&weight), total) = (self.weights.get(column), self.weights.iter().sum::<usize>())
        else {
            return;
        };
        if column == 0 && weight > 0 {
            // Cells are split in proportion to their weights: the row spans this much.
            let full = size.width * (total as f64 / weight as f64);
            area.draw_line(
                vec![Position::new(0, 0), Position::new(full, Mm::from(0.0))],
                style,
            );
            if has_more || row + 1 == self.rows {
                area.draw_line(
                    vec![
                        Position::new(0, size.height),
                        Position::new(full, size.height),
                    ],
                    style,
                );
            }
        }
        area.draw_line(
            vec![Position::new(0, 0), Position::new(0, size.height)],
            style,
        );
        if column + 1 == self.weights.len() {
            area.draw_line(
                vec![
                    Position::new(size.width, 0),
                    Position::new(size.width, size.height),
                ],
                style,
            );
        }
    }
}

/// A column of a [`Table`]: its header, its relative width and how its cells are aligned.
#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    pub weight: usize,
    pub align: Alignment,
}

impl Column {
    pub fn new(title: impl Into<String>, weight: usize, align: Alignment) -> Column {
        Column {
            title: title.into(),
            weight,
            align,
        }
    }
}

/// A table with borders around every cell and a bold header row. Cells wrap at word
/// boundaries; a word too wide for its column shrinks the cell's text (down to
/// [`MIN_CELL_SIZE`]), then breaks, instead of being cut. Rows that do not fit go on to the next page.
pub struct Table {
    aligns: Vec<Alignment>,
    layout: TableLayout,
}

impl Table {
    /// A table with these columns; the header row uses `header_style` (bold is added).
    pub fn new(columns: &[Column], header_style: Style) -> Result<Table, PdfError> {
        if columns.is_empty() || columns.iter().any(|c| c.weight == 0) {
            return Err(PdfError::Table(
                "il faut au moins une colonne, de largeur non nulle".into(),
            ));
        }
        let weights: Vec<usize> = columns.iter().map(|c| c.weight).collect();
        let mut layout = TableLayout::new(weights.clone());
        layout.set_cell_decorator(Grid::new(weights));
        let mut table = Table {
            aligns: columns.iter().map(|c| c.align).collect(),
            layout,
        };
        let titles: Vec<&str> = columns.iter().map(|c| c.title.as_str()).collect();
        let centered = vec![Alignment::Center; columns.len()];
        table.push(&titles, header_style.bold(), &centered)?;
        Ok(table)
    }

    /// Appends a row of plain cells.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<(), PdfError> {
        self.row_styled(cells, Style::new())
    }

    /// Appends a row whose cells all use `style` (e.g. bold totals).
    pub fn row_styled<S: AsRef<str>>(&mut self, cells: &[S], style: Style) -> Result<(), PdfError> {
        let aligns = self.aligns.clone();
        self.push(cells, style, &aligns)
    }

    fn push<S: AsRef<str>>(
        &mut self,
        cells: &[S],
        style: Style,
        aligns: &[Alignment],
    ) -> Result<(), PdfError> {
        if cells.len() != aligns.len() {
            return Err(PdfError::Table(format!(
                "{} cellules pour {} colonnes",
                cells.len(),
                aligns.len()
            )));
        }
        let mut row = self.layout.row();
        for (cell, align) in cells.iter().zip(aligns) {
            let text = TextBlock::new(cell.as_ref(), style)
                .aligned(*align)
                .shrink_to_fit(MIN_CELL_SIZE);
            row.push_element(text.padded(Margins::trbl(0.7, 1.0, 0.5, 1.0)));
        }
        row.push()?;
        Ok(())
    }

    /// The genpdf element, to push into a document.
    pub fn into_layout(self) -> TableLayout {
        self.layout
    }
}
