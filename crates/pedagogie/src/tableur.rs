//! Bounded reading of an uploaded spreadsheet (CSV or XLSX), shared by every import (pupils,
//! library catalogue). Issue #16: calamine's `worksheet_range` sizes a grid of rows × columns
//! from the cells' positions, and opening a workbook trusts the zip's and the XML's counts, so
//! a 1.5 KB file could ask for 512 GB. Here every limit is checked before what it bounds is
//! allocated: the zip (entries, declared and real decompressed sizes, compression ratio, one
//! part at a time, nothing kept), the shared strings' announced count, then the first sheet is
//! streamed cell by cell (calamine's cell reader) keeping only non-empty cells, within a
//! number of cells, rows, columns and characters. Nothing is ever sized from the file's own
//! claims. The parse runs on tokio's blocking pool, one at a time, never on an HTTP worker.

use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx};
use chrono::NaiveDate;
use tokio::sync::Semaphore;

use crate::import::{Format, MAX_ROWS};

/// Rows of text cells, the header first.
pub type Table = Vec<Vec<String>>;

const MIO: u64 = 1024 * 1024;

/// Columns between the first and the last non-empty one (the imports use 8 to 17).
pub const MAX_COLONNES: usize = 50;
/// Non-empty cells kept: every cell of [`MAX_ROWS`] rows (and the header) × [`MAX_COLONNES`].
pub const MAX_CELLULES: usize = (MAX_ROWS + 1) * MAX_COLONNES;
/// Characters in one cell: Excel's own limit.
pub const MAX_CARACTERES_CELLULE: usize = 32_767;
/// Bytes of text kept over the whole sheet.
pub const MAX_TEXTE: usize = 16 * MIO as usize;
/// Entries in the zip (a workbook from Excel or LibreOffice has 10 to 30).
pub const MAX_ENTREES_ZIP: usize = 200;
/// Decompressed bytes of all the entries together.
pub const MAX_DECOMPRESSE: u64 = 64 * MIO;
/// Decompressed bytes of a worksheet (read as a stream, never held whole).
pub const MAX_FEUILLE: u64 = 32 * MIO;
/// Decompressed bytes of `sharedStrings.xml` (held in memory by calamine).
pub const MAX_CHAINES_PARTAGEES: u64 = 16 * MIO;
/// Shared strings a workbook may announce (`uniqueCount`: calamine reserves that many).
pub const MAX_NB_CHAINES: u64 = 1_000_000;
/// Decompressed bytes of any other entry (styles, workbook, relationships, images…).
pub const MAX_AUTRE_ENTREE: u64 = 4 * MIO;
/// Decompressed ÷ compressed size of one entry, over [`RATIO_DES`] bytes (XML deflates 5 to
/// 20 times; a zip bomb thousands of times).
pub const MAX_RATIO: u64 = 100;
pub const RATIO_DES: u64 = MIO;
/// The Excel grid: no genuine sheet declares more.
const LIGNES_EXCEL: u32 = 1_048_576;
const COLONNES_EXCEL: u32 = 16_384;

/// One parse at a time for the whole process: its memory is bounded, not that of many.
static LECTURES: Semaphore = Semaphore::const_new(1);

/// [`lire`] on tokio's blocking pool (never on an HTTP worker), one file at a time.
pub async fn lire_hors_requete(format: Format, bytes: &[u8]) -> Result<Table, String> {
    let permis = LECTURES
        .acquire()
        .await
        .map_err(|_| "Lecture du fichier impossible pour le moment.".to_string())?;
    let bytes = bytes.to_vec();
    // The permit goes with the parse: a request given up does not free it early.
    let parse = move || {
        let table = lire(format, &bytes);
        drop(permis);
        table
    };
    match tokio::task::spawn_blocking(parse).await {
        Ok(table) => table,
        Err(e) => {
            tracing::error!(error = %e, "lecture d'un fichier d'import interrompue");
            Err(ILLISIBLE.into())
        }
    }
}

const ILLISIBLE: &str = "Fichier illisible : enregistrez-le de nouveau en XLSX ou en CSV UTF-8.";

/// The refusal of a file the readers could not parse: the reader's own (English) words go to
/// the log, the user reads French.
fn illisible(quoi: &str, detail: impl std::fmt::Display) -> String {
    tracing::info!(error.cause = %detail, "fichier d'import refusé : {quoi}");
    format!("{quoi} : enregistrez-le de nouveau depuis Excel ou LibreOffice.")
}

/// Rows of text cells, the header first (CSV: UTF-8 with or without BOM, `,` or `;`; XLSX:
/// the first sheet, from its first non-empty row and column), at most [`MAX_ROWS`] + 2 rows
/// for a CSV; an XLSX with more is refused. A file over a limit gets a French message naming
/// it. A panic of the XLSX parser (a malformed file) is a refusal too.
pub fn lire(format: Format, bytes: &[u8]) -> Result<Table, String> {
    match format {
        Format::Csv => lire_csv(bytes),
        Format::Xlsx => std::panic::catch_unwind(|| lire_xlsx(bytes)).unwrap_or_else(|_| {
            tracing::error!("le lecteur XLSX a paniqué sur un fichier d'import");
            Err(ILLISIBLE.into())
        }),
    }
}

fn lire_csv(bytes: &[u8]) -> Result<Table, String> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(
        |_| "Le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 ».".to_string(),
    )?;
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    compter_colonnes_csv(text.as_bytes(), delimiter)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let ligne = e.position().map_or(rows.len() + 1, |p| p.line() as usize);
            illisible(&format!("CSV illisible à la ligne {ligne}"), e)
        })?;
        if record.len() > MAX_COLONNES {
            return Err(trop_de_colonnes(rows.len() + 1));
        }
        rows.push(record.iter().map(|c| c.trim().to_string()).collect());
        if rows.len() > MAX_ROWS + 1 {
            break;
        }
    }
    Ok(rows)
}

/// Fields per record counted before the csv crate splits one (it would hold a record of
/// millions of fields): delimiters outside quotes, records ended by a newline outside quotes.
fn compter_colonnes_csv(text: &[u8], delimiter: u8) -> Result<(), String> {
    let (mut record, mut fields, mut quoted) = (1, 1, false);
    for &b in text {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => {
                record += 1;
                fields = 1;
            }
            b if b == delimiter && !quoted => {
                fields += 1;
                if fields > MAX_COLONNES {
                    return Err(trop_de_colonnes(record));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn trop_de_colonnes(ligne: usize) -> String {
    format!("Au plus {MAX_COLONNES} colonnes par import (ligne {ligne}).")
}

fn mio(n: u64) -> u64 {
    n / MIO
}

/// The zip's limits, checked entry by entry before calamine opens it: every entry is
/// decompressed once into nothing, so a size the zip lies about is caught too.
fn verifier_zip(bytes: &[u8]) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| illisible("Fichier XLSX illisible (archive ZIP invalide)", e))?;
    if zip.len() > MAX_ENTREES_ZIP {
        return Err(format!(
            "Classeur refusé : {} fichiers dans l'archive XLSX, au plus {MAX_ENTREES_ZIP}.",
            zip.len()
        ));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| illisible("Fichier XLSX illisible (archive ZIP invalide)", e))?;
        if entry.encrypted() {
            return Err(
                "Classeur chiffré : enregistrez-le sans mot de passe avant de l'importer.".into(),
            );
        }
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let lower = name.to_ascii_lowercase().replace('\\', "/");
        let max = if lower.ends_with("sharedstrings.xml") {
            MAX_CHAINES_PARTAGEES
        } else if lower.contains("worksheets/") {
            MAX_FEUILLE
        } else {
            MAX_AUTRE_ENTREE
        };
        let trop_gros = |name: &str| {
            format!(
                "Classeur refusé : « {name} » dépasse {} Mo une fois décompressé.",
                mio(max)
            )
        };
        if entry.size() > max {
            return Err(trop_gros(&name));
        }
        // The real size: at most `max` + 1 bytes are ever inflated, into nothing.
        let reel = std::io::copy(&mut (&mut entry).take(max + 1), &mut std::io::sink())
            .map_err(|e| illisible(&format!("Classeur illisible (« {name} »)"), e))?;
        if reel > max {
            return Err(trop_gros(&name));
        }
        if reel > RATIO_DES && reel / entry.compressed_size().max(1) > MAX_RATIO {
            return Err(format!(
                "Classeur refusé : « {name} » est compressé plus de {MAX_RATIO} fois \
                 (bombe de décompression ?)."
            ));
        }
        total += reel;
        if total > MAX_DECOMPRESSE {
            return Err(format!(
                "Classeur refusé : plus de {} Mo une fois décompressé.",
                mio(MAX_DECOMPRESSE)
            ));
        }
        drop(entry);
        if lower.ends_with("sharedstrings.xml") {
            verifier_chaines(&mut zip, i, &name)?;
        }
    }
    Ok(())
}

/// `<sst uniqueCount="…">`: calamine reserves that many strings before reading one.
fn verifier_chaines(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    index: usize,
    name: &str,
) -> Result<(), String> {
    use quick_xml::events::Event;
    let entry = zip
        .by_index(index)
        .map_err(|e| illisible("Fichier XLSX illisible (archive ZIP invalide)", e))?;
    let mut xml =
        quick_xml::Reader::from_reader(std::io::BufReader::new(entry.take(MAX_CHAINES_PARTAGEES)));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                if e.local_name().as_ref() != "sst" {
                    return Ok(());
                }
                for attr in e.attributes().flatten() {
                    if attr.key.local_name().as_ref() != "uniqueCount" {
                        continue;
                    }
                    let digits = attr
                        .value
                        .trim()
                        .trim_start_matches('+')
                        .trim_start_matches('0');
                    let announced = if digits.is_empty() {
                        Some(0)
                    } else if digits.len() <= 12 {
                        digits.parse::<u64>().ok()
                    } else {
                        None
                    };
                    if announced.is_none_or(|n| n > MAX_NB_CHAINES) {
                        return Err(format!(
                            "Classeur refusé : « {name} » annonce plus de {MAX_NB_CHAINES} \
                             textes partagés."
                        ));
                    }
                }
                return Ok(());
            }
            Ok(Event::Eof) => return Ok(()),
            // calamine will refuse it as well; its message is clearer.
            Err(_) => return Ok(()),
            _ => {}
        }
    }
}

/// `A`, `Z`, `AA`… for a 0-based column.
fn lettres(mut col: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

fn texte(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => {
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
            let days = dt.as_f64().floor();
            if days.is_finite() && days.abs() < 3_000_000.0 {
                base.checked_add_signed(chrono::Duration::days(days as i64))
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        }
        DataRef::DateTimeIso(s) => s.chars().take(10).collect(),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    }
}

fn lire_xlsx(bytes: &[u8]) -> Result<Table, String> {
    verifier_zip(bytes)?;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| illisible("Fichier XLSX illisible", e))?;
    let first = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or("Le classeur n'a aucune feuille.")?;
    let mut reader = book
        .worksheet_cells_reader(&first)
        .map_err(|e| illisible("Première feuille du classeur illisible", e))?;
    let dim = reader.dimensions();
    if dim.start.0 > dim.end.0
        || dim.start.1 > dim.end.1
        || dim.end.0 >= LIGNES_EXCEL
        || dim.end.1 >= COLONNES_EXCEL
    {
        return Err(format!(
            "Feuille refusée : sa dimension déclarée sort de la grille Excel \
             ({LIGNES_EXCEL} lignes × {COLONNES_EXCEL} colonnes)."
        ));
    }
    // The declared dimension sizes nothing: only non-empty cells are kept, in file order.
    let mut cells: Vec<(u32, u32, String)> = Vec::new();
    let mut text = 0usize;
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| illisible("Première feuille du classeur illisible", e))?
    {
        let value = texte(cell.get_value());
        if value.is_empty() {
            continue;
        }
        let (row, col) = cell.get_position();
        let at = || format!("{}{}", lettres(col), u64::from(row) + 1);
        if row >= LIGNES_EXCEL || col >= COLONNES_EXCEL {
            return Err(format!(
                "Feuille refusée : une cellule est hors de la grille Excel ({LIGNES_EXCEL} \
                 lignes × {COLONNES_EXCEL} colonnes)."
            ));
        }
        if value.chars().count() > MAX_CARACTERES_CELLULE {
            return Err(format!(
                "La cellule {} dépasse {MAX_CARACTERES_CELLULE} caractères.",
                at()
            ));
        }
        if cells.len() >= MAX_CELLULES {
            return Err(format!(
                "Au plus {MAX_CELLULES} cellules remplies par import."
            ));
        }
        text += value.len();
        if text > MAX_TEXTE {
            return Err(format!(
                "Au plus {} Mo de texte par import.",
                mio(MAX_TEXTE as u64)
            ));
        }
        cells.push((row, col, value));
    }
    let (Some(top), Some(left)) = (
        cells.iter().map(|c| c.0).min(),
        cells.iter().map(|c| c.1).min(),
    ) else {
        return Ok(Vec::new());
    };
    let (bottom, right) = cells
        .iter()
        .fold((top, left), |(b, r), c| (b.max(c.0), r.max(c.1)));
    if (bottom - top) as usize > MAX_ROWS {
        return Err(format!(
            "Au plus {MAX_ROWS} lignes par import (une valeur en ligne {}).",
            u64::from(bottom) + 1
        ));
    }
    if (right - left) as usize >= MAX_COLONNES {
        return Err(format!(
            "Au plus {MAX_COLONNES} colonnes par import (une valeur en colonne {}).",
            lettres(right)
        ));
    }
    // Both bounds checked: at most (MAX_ROWS + 1) × MAX_COLONNES cells.
    let width = (right - left) as usize + 1;
    let mut table = vec![vec![String::new(); width]; (bottom - top) as usize + 1];
    for (row, col, value) in cells {
        if let Some(slot) = table
            .get_mut((row - top) as usize)
            .and_then(|r| r.get_mut((col - left) as usize))
        {
            *slot = value;
        }
    }
    Ok(table)
}

/// XLSX files written part by part, for tests (malformed ones included).
#[cfg(test)]
pub(crate) mod essais {
    use std::io::{Cursor, Write};

    use zip::CompressionMethod;
    use zip::write::{SimpleFileOptions, ZipWriter};

    pub const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
    pub const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    pub const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    pub const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

    /// A sheet's XML around `sheet_data` (the `<row>` elements), with a `<dimension>`.
    pub fn feuille(dimension: &str, sheet_data: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>"#
        )
    }

    /// A workbook of one sheet, plus `extra` parts (a part named like a standard one
    /// replaces it), every part deflated.
    pub fn classeur(sheet_xml: &str, extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut parts: Vec<(String, Vec<u8>)> = vec![
            ("[Content_Types].xml".into(), CONTENT_TYPES.into()),
            ("_rels/.rels".into(), RELS.into()),
            ("xl/workbook.xml".into(), WORKBOOK.into()),
            ("xl/_rels/workbook.xml.rels".into(), WORKBOOK_RELS.into()),
            ("xl/worksheets/sheet1.xml".into(), sheet_xml.into()),
        ];
        for (name, bytes) in extra {
            parts.retain(|(n, _)| n != name);
            parts.push((name.to_string(), bytes.clone()));
        }
        zip_de(&parts, CompressionMethod::Deflated)
    }

    /// A zip of these entries.
    pub fn zip_de(parts: &[(String, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(false);
        for (name, bytes) in parts {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn status_kib(field: &str) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    }

    /// Peak resident memory of this process (`VmHWM`), in KiB.
    pub fn pic_rss_kib() -> u64 {
        status_kib("VmHWM:")
    }

    /// Peak resident memory of this process (`VmHWM`), in MiB.
    pub fn pic_rss_mib() -> u64 {
        pic_rss_kib() / 1024
    }

    /// Resets the peak to the current resident memory (Linux ≥ 4.0), which it returns (KiB).
    pub fn remettre_pic_rss_kib() -> u64 {
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        status_kib("VmRSS:")
    }

    /// Runs the test `name` of this binary again in a child process whose address space is
    /// capped (`ulimit -v`, KiB): a runaway allocation kills the child, not the machine.
    /// Fails when the child does; prints its output.
    pub fn dans_un_enfant(name: &str, ulimit_kib: u64) {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v {ulimit_kib} && exec \"$0\" --exact \"$1\" --nocapture --test-threads 1"
            ))
            .arg(exe)
            .arg(name)
            .env("ECOLE_TEST_ENFANT", "1")
            .output()
            .unwrap();
        println!("{}", String::from_utf8_lossy(&out.stdout));
        assert!(
            out.status.success(),
            "the child failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// True in the child started by [`dans_un_enfant`].
    pub fn est_enfant() -> bool {
        std::env::var_os("ECOLE_TEST_ENFANT").is_some()
    }
}

/// Malformed files of every kind: never a panic, always a table or a French refusal naming
/// the limit, in bounded memory. ASVS 4.0.3: V5.1.3 (input validated against an allow list
/// of limits), V5.1.4 (structured data checked: sizes, counts, ranges), V5.2.2 (untrusted
/// content handled as data), V5.5.3 (untrusted data parsed safely), V12.1.1 (size of an
/// uploaded file, decompressed included, bounded) and V12.1.2 (compressed files checked
/// against a maximum uncompressed size and number of files before they are read).
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

    use std::io::Write;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use zip::CompressionMethod;
    use zip::write::{SimpleFileOptions, ZipWriter};

    use super::essais::*;
    use super::*;

    fn inline(r: &str, text: &str) -> String {
        format!(r#"<c r="{r}" t="inlineStr"><is><t>{text}</t></is></c>"#)
    }

    fn entete() -> String {
        format!(
            r#"<row r="1">{}{}</row>"#,
            inline("A1", "matricule"),
            inline("B1", "nom")
        )
    }

    /// A workbook whose sheet is `size` bytes of one repeated chunk, written as a stream.
    fn bombe(chunk: &[u8], size: usize) -> Vec<u8> {
        let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, part) in [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ] {
            zip.start_file(name, deflated).unwrap();
            zip.write_all(part.as_bytes()).unwrap();
        }
        zip.start_file("xl/worksheets/sheet1.xml", deflated.large_file(true))
            .unwrap();
        zip.write_all(br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#)
            .unwrap();
        let mut written = 0;
        while written < size {
            zip.write_all(chunk).unwrap();
            written += chunk.len();
        }
        zip.write_all(b"</sheetData></worksheet>").unwrap();
        zip.finish().unwrap().into_inner()
    }

    fn mot(rng: &mut ChaCha8Rng, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
            .collect()
    }

    /// `(case, file, format)`: every kind of malformed file, and a few sound ones.
    fn cas(rng: &mut ChaCha8Rng) -> Vec<(String, Vec<u8>, Format)> {
        let mut out: Vec<(String, Vec<u8>, Format)> = Vec::new();
        let mut xlsx = |name: &str, bytes: Vec<u8>| out.push((name.into(), bytes, Format::Xlsx));
        let sound = classeur(
            &feuille(
                "A1:B2",
                &format!(
                    r#"{}<row r="2">{}<c r="B2"><v>12</v></c></row>"#,
                    entete(),
                    inline("A2", "2026/1")
                ),
            ),
            &[],
        );
        xlsx("sound", sound.clone());
        // Huge declared dimensions.
        for (dim, data) in [
            ("A1:XFD1048576", entete()),
            (
                "A1:XFD1048576",
                format!(
                    r#"{}<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
                    entete()
                ),
            ),
            (
                "A1:XFD1",
                r#"<row r="1"><c r="A1"><v>1</v></c><c r="XFD1"><v>1</v></c></row>"#.into(),
            ),
            ("A1:ZZZZZ99999999", entete()),
            ("B9:A1", entete()),
            ("A1:XFE1", entete()),
            ("", entete()),
        ] {
            xlsx(
                &format!("dimension {dim}"),
                classeur(&feuille(dim, &data), &[]),
            );
        }
        // Cells out of the grid, or with absurd references.
        for r in ["XFE1", "A1048577", "ZZZZZZZZ1", "A99999999999", "1A", "é1"] {
            xlsx(
                &format!("cell {r}"),
                classeur(
                    &feuille("A1", &format!(r#"<row><c r="{r}"><v>1</v></c></row>"#)),
                    &[],
                ),
            );
        }
        // Empty formatted cells over a whole area, one value at A1 (a genuine shape).
        let mut formatted = entete();
        for r in 2..2000 {
            formatted.push_str(&format!(r#"<row r="{r}">"#));
            for c in 0..100 {
                formatted.push_str(&format!(r#"<c r="{}{r}" s="0"/>"#, lettres(c)));
            }
            formatted.push_str("</row>");
        }
        xlsx(
            "formatted empty cells",
            classeur(&feuille("A1:CV1999", &formatted), &[]),
        );
        // Zip bombs: over the sheet's size, and within it but compressed too well.
        xlsx("bomb 40 MiB", bombe(b"<row/>", 40 * MIO as usize));
        xlsx("bomb ratio", bombe(b"<row/>", 3 * MIO as usize));
        // Many entries.
        let mut parts: Vec<(String, Vec<u8>)> = vec![
            ("_rels/.rels".into(), RELS.into()),
            ("xl/workbook.xml".into(), WORKBOOK.into()),
            ("xl/_rels/workbook.xml.rels".into(), WORKBOOK_RELS.into()),
            (
                "xl/worksheets/sheet1.xml".into(),
                feuille("A1", &entete()).into(),
            ),
        ];
        for i in 0..1000 {
            parts.push((format!("xl/media/image{i}.png"), vec![b'x'; 10]));
        }
        xlsx("1000 entries", zip_de(&parts, CompressionMethod::Stored));
        // Deep nesting, inside a cell and between rows.
        let deep = format!(
            r#"{}<row r="2"><c r="A2" t="inlineStr"><is>{}<t>x</t>{}</is></c></row>"#,
            entete(),
            "<r>".repeat(100_000),
            "</r>".repeat(100_000)
        );
        xlsx(
            "deep nesting in a cell",
            classeur(&feuille("A1:B2", &deep), &[]),
        );
        let deep = format!("{}{}", entete(), "<x>".repeat(300_000));
        xlsx(
            "deep nesting unclosed",
            classeur(&feuille("A1:B2", &deep), &[]),
        );
        // Invalid UTF-8 in the sheet and in the shared strings.
        let mut bad = feuille("A1", &entete()).into_bytes();
        let at = bad.len() - 40;
        bad.splice(at..at, [0xff, 0xfe, 0xc3]);
        xlsx("invalid UTF-8 sheet", classeur_bytes(bad));
        let sst = b"<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" uniqueCount=\"1\"><si><t>\xff\xfe</t></si></sst>".to_vec();
        xlsx(
            "invalid UTF-8 shared string",
            classeur(
                &feuille("A1", r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#),
                &[("xl/sharedStrings.xml", sst)],
            ),
        );
        // Formula cells: the cached value is read, a formula is never evaluated.
        let formulas = format!(
            r#"{}<row r="2"><c r="A2" t="str"><f>CONCAT("a","b")</f><v>ab</v></c><c r="B2"><f>1/0</f><v>#DIV/0!</v></c><c r="C2"><f t="shared" ref="C2:C3" si="0">A2&amp;B2</f></c><c r="D2" t="e"><f>NA()</f><v>#N/A</v></c><c r="E2"><f>HYPERLINK("http://x")</f></c></row>"#,
            entete()
        );
        xlsx("formulas", classeur(&feuille("A1:E2", &formulas), &[]));
        // Shared strings: announced by the billion, over the size, many and varied.
        let sst = |count: &str, body: &str| {
            format!(r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="{count}">{body}</sst>"#).into_bytes()
        };
        let s_sheet = feuille(
            "A1",
            r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>99999999</v></c></row>"#,
        );
        for count in ["99999999999", "18446744073709551615", "1e9", "-1"] {
            xlsx(
                &format!("uniqueCount {count}"),
                classeur(
                    &s_sheet,
                    &[("xl/sharedStrings.xml", sst(count, "<si><t>a</t></si>"))],
                ),
            );
        }
        let many: String = (0..600_000)
            .map(|_| format!("<si><t>{}</t></si>", mot(rng, 8)))
            .collect();
        xlsx(
            "600,000 shared strings",
            classeur(&s_sheet, &[("xl/sharedStrings.xml", sst("600000", &many))]),
        );
        let big: String = (0..1_100_000)
            .map(|_| format!("<si><t>{}</t></si>", mot(rng, 8)))
            .collect();
        xlsx(
            "shared strings over 16 MiB",
            classeur(&s_sheet, &[("xl/sharedStrings.xml", sst("1", &big))]),
        );
        // One long shared string in every cell: the text kept is bounded, not the references.
        let long = mot(rng, 30_000);
        let mut refs = String::new();
        for r in 1..=1500 {
            refs.push_str(&format!(r#"<row r="{r}">"#));
            for c in 0..5 {
                refs.push_str(&format!(r#"<c r="{}{r}" t="s"><v>0</v></c>"#, lettres(c)));
            }
            refs.push_str("</row>");
        }
        xlsx(
            "one long string referenced 7,500 times",
            classeur(
                &feuille("A1:E1500", &refs),
                &[(
                    "xl/sharedStrings.xml",
                    sst("1", &format!("<si><t>{long}</t></si>")),
                )],
            ),
        );
        // Styles and workbook parts as large as allowed, made of many tiny records.
        let xfs: String = (0..120_000)
            .map(|_| {
                format!(
                    r#"<xf numFmtId="{}" fontId="0"/>"#,
                    rng.random_range(0..200)
                )
            })
            .collect();
        let styles = format!(
            r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><cellXfs count="1">{xfs}</cellXfs></styleSheet>"#
        );
        xlsx(
            "120,000 styles",
            classeur(
                &feuille("A1", &entete()),
                &[("xl/styles.xml", styles.into_bytes())],
            ),
        );
        let sheets: String = (0..100_000)
            .map(|i| {
                format!(
                    r#"<sheet name="{}{i}" sheetId="{i}" r:id="rId1"/>"#,
                    mot(rng, 4)
                )
            })
            .collect();
        let workbook =
            WORKBOOK.replace(r#"<sheet name="Feuil1" sheetId="1" r:id="rId1"/>"#, &sheets);
        xlsx(
            "100,000 sheets",
            classeur(
                &feuille("A1", &entete()),
                &[("xl/workbook.xml", workbook.into_bytes())],
            ),
        );
        // A workbook without sheet, without workbook, with an encrypted-looking flag, not a zip.
        xlsx(
            "no sheet",
            classeur(
                &feuille("A1", ""),
                &[(
                    "xl/workbook.xml",
                    WORKBOOK
                        .replace(r#"<sheet name="Feuil1" sheetId="1" r:id="rId1"/>"#, "")
                        .into_bytes(),
                )],
            ),
        );
        xlsx("zip header only", b"PK\x03\x04garbage".to_vec());
        // Random mutations of a sound workbook, stored (so mutations reach the XML) and
        // deflated.
        let stored = {
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(&sound)).unwrap();
            let parts: Vec<(String, Vec<u8>)> = (0..z.len())
                .map(|i| {
                    let mut e = z.by_index(i).unwrap();
                    let mut b = Vec::new();
                    e.read_to_end(&mut b).unwrap();
                    (e.name().unwrap().into_owned(), b)
                })
                .collect();
            zip_de(&parts, CompressionMethod::Stored)
        };
        for n in 0..300 {
            let mut bytes = if n % 2 == 0 {
                stored.clone()
            } else {
                sound.clone()
            };
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            xlsx(&format!("mutation {n}"), bytes);
        }
        // CSV: invalid UTF-8, too many columns, too many rows, quotes, NUL bytes.
        let mut csv = |name: &str, bytes: Vec<u8>| out.push((name.into(), bytes, Format::Csv));
        csv("csv invalid UTF-8", b"matricule;nom\n\xff\xfe;x\n".to_vec());
        csv("csv 5 MB of commas", vec![b','; 5 * MIO as usize]);
        csv(
            "csv 100,000 rows",
            "matricule,nom\n"
                .bytes()
                .chain("1,x\n".repeat(100_000).bytes())
                .collect(),
        );
        csv(
            "csv unbalanced quotes",
            b"matricule,nom\n\"1,x\n2,y\n".to_vec(),
        );
        csv("csv NUL bytes", b"matricule,nom\n\0\0,\0\n".to_vec());
        csv("csv formula", b"matricule,nom\n=1+1,@SUM(A1)\n".to_vec());
        out
    }

    fn classeur_bytes(sheet: Vec<u8>) -> Vec<u8> {
        let parts: Vec<(String, Vec<u8>)> = vec![
            ("_rels/.rels".into(), RELS.into()),
            ("xl/workbook.xml".into(), WORKBOOK.into()),
            ("xl/_rels/workbook.xml.rels".into(), WORKBOOK_RELS.into()),
            ("xl/worksheets/sheet1.xml".into(), sheet),
        ];
        zip_de(&parts, CompressionMethod::Deflated)
    }

    /// French: no message is one of the readers' own (English) error texts.
    fn francais(message: &str) -> bool {
        let words = [
            "error",
            "invalid",
            "failed",
            "unexpected",
            "expected",
            "found",
            "record",
        ];
        !message.is_empty()
            && !words.iter().any(|w| {
                message
                    .to_lowercase()
                    .split(|c: char| !c.is_alphabetic())
                    .any(|m| m == *w)
            })
    }

    #[test]
    fn import_of_malformed_files_is_a_table_or_a_french_refusal_in_bounded_memory() {
        const NAME: &str = "tableur::tests::import_of_malformed_files_is_a_table_or_a_french_refusal_in_bounded_memory";
        if !est_enfant() {
            return dans_un_enfant(NAME, 2_000_000);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(16);
        let mut refused = 0;
        let mut worst = (0, String::new());
        for (name, bytes, format) in cas(&mut rng) {
            // What one read adds to the resident memory at its peak.
            let before = remettre_pic_rss_kib();
            let started = std::time::Instant::now();
            let outcome = lire(format, &bytes);
            let took = started.elapsed();
            let added = (pic_rss_kib() - before) / 1024;
            if added > worst.0 {
                worst = (added, name.clone());
            }
            assert!(took.as_secs() < 10, "{name}: {took:?}");
            match &outcome {
                Ok(table) => {
                    assert!(table.len() <= MAX_ROWS + 2, "{name}: {} rows", table.len());
                    assert!(table.iter().all(|r| r.len() <= MAX_COLONNES), "{name}");
                }
                Err(message) => {
                    refused += 1;
                    assert!(francais(message), "{name}: {message}");
                }
            }
            if !name.starts_with("mutation") {
                println!(
                    "{name} ({} bytes, {took:?}, +{added} MiB): {}",
                    bytes.len(),
                    match &outcome {
                        Ok(t) => format!("{} rows", t.len()),
                        Err(m) => m.clone(),
                    }
                );
            }
        }
        println!(
            "{refused} refused; one read added at most {} MiB ({})",
            worst.0, worst.1
        );
        assert!(worst.0 < 100, "{} MiB for {}", worst.0, worst.1);
    }

    #[test]
    fn import_limits_name_themselves_and_sound_files_still_read() {
        let sheet = |data: &str| classeur(&feuille("A1", data), &[]);
        let refused = |bytes: Vec<u8>| lire(Format::Xlsx, &bytes).unwrap_err();
        // A1 and XFD1048576: rows first.
        let m = refused(sheet(
            r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
        ));
        assert_eq!(
            m,
            "Au plus 5000 lignes par import (une valeur en ligne 1048576)."
        );
        let m = refused(sheet(
            r#"<row r="1"><c r="A1"><v>1</v></c><c r="AY1"><v>1</v></c></row>"#,
        ));
        assert_eq!(
            m,
            "Au plus 50 colonnes par import (une valeur en colonne AY)."
        );
        let m = refused(bombe(b"<row/>", 3 * MIO as usize));
        assert!(m.contains("plus de 100 fois"), "{m}");
        let m = refused(bombe(b"<row/>", 33 * MIO as usize));
        assert!(m.contains("dépasse 32 Mo"), "{m}");
        let m = refused(classeur(
            &feuille("A1", ""),
            &[(
                "xl/sharedStrings.xml",
                br#"<sst uniqueCount="4000000000"><si><t>a</t></si></sst>"#.to_vec(),
            )],
        ));
        assert!(m.contains("1000000 textes partagés"), "{m}");
        let m = refused(classeur(&feuille("A1:XFE1", ""), &[]));
        assert!(m.contains("grille Excel"), "{m}");
        // The data starts at its first non-empty row and column; empty cells are nothing.
        let t = lire(
            Format::Xlsx,
            &sheet(&format!(
                r#"<row r="3"><c r="C3" s="1"/>{}{}</row><row r="4">{}<c r="D4"><v>1.5</v></c><c r="E4"><v>3</v></c></row><row r="900000"><c r="XFD900000" s="2"/></row>"#,
                inline("C3", "matricule"),
                inline("D3", "nom"),
                inline("C4", " 2026/1 ")
            )),
        )
        .unwrap();
        assert_eq!(
            t,
            [
                vec!["matricule".to_string(), "nom".into(), "".into()],
                vec!["2026/1".into(), "1.5".into(), "3".into()]
            ]
        );
        // CSV: columns counted per record.
        let m = lire(Format::Csv, ",".repeat(50).as_bytes()).unwrap_err();
        assert_eq!(m, "Au plus 50 colonnes par import (ligne 1).");
    }
}
