//! Post-processing of what printpdf 0.3.4 writes, for size.
//!
//! printpdf leaves page content streams uncompressed, and it writes every character shown with a
//! standard font as its own two-byte hex string, `<00E9>`: a stray code 0 (drawn as nothing)
//! before each real WinAnsi code. A report card's content stream is then ~45 KB, two thirds of
//! the file. [`compact`] rewrites each unfiltered stream with one literal string per run of
//! characters (`(Élève )`, the 0 codes dropped), deflates it and any other unfiltered stream
//! (printpdf compresses images in release builds only), and rebuilds the cross-reference table. Re-parsing with lopdf would cost 6 ms per document; this costs a fraction of one.
//!
//! It also puts the school's logo in place: the header holds a one-pixel placeholder image,
//! whose stream is replaced by the logo's, encoded once per [`crate::Logo`].
//!
//! Anything unexpected (another writer's layout, an embedded font whose two-byte codes are
//! real glyph ids) makes it return `None`, and the caller keeps the PDF as printpdf wrote it.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::commun::EncodedLogo;

/// The dictionary of the one-pixel image that stands for the logo (see `logo_placeholder`).
const PLACEHOLDER: &[u8] = b"/Subtype/Image/Width 1/Height 1/";

/// zlib level: 1 costs a third of 6 for a file 1.5 KB larger.
const LEVEL: u32 = 1;

/// The compacted PDF, or `None` when `pdf` is not shaped as expected.
pub(crate) fn compact(pdf: &[u8], logo: Option<&EncodedLogo>) -> Option<Vec<u8>> {
    let startxref = rfind(pdf, b"startxref")?;
    let xref_at: usize = parse_number(skip_ws(pdf, startxref + b"startxref".len()), pdf)?.0;
    let mut at = xref_at;
    if pdf.get(at..at + 4)? != b"xref" {
        return None;
    }
    at = skip_ws(pdf, at + 4);
    let (first, next) = parse_number(at, pdf)?;
    let (count, next) = parse_number(skip_ws(pdf, next), pdf)?;
    if first != 0 || count == 0 {
        return None;
    }
    // Entries are 20 bytes each: "oooooooooo ggggg n\r\n" (or " \n").
    let entries_at = skip_ws(pdf, next);
    let trailer_at = entries_at + 20 * count;
    if pdf.get(trailer_at..trailer_at + 7)? != b"trailer" {
        return None;
    }
    let mut objects: Vec<(usize, usize)> = Vec::with_capacity(count); // (offset, number)
    for i in 1..count {
        let entry = pdf.get(entries_at + 20 * i..entries_at + 20 * i + 18)?;
        if entry[17] != b'n' {
            return None;
        }
        objects.push((parse_number(0, &entry[..10])?.0, i));
    }
    objects.sort_unstable();
    let first_offset = objects.first()?.0;

    let mut out = Vec::with_capacity(pdf.len() / 3);
    out.extend_from_slice(pdf.get(..first_offset)?);
    let mut offsets = vec![0usize; count];
    for (k, &(offset, number)) in objects.iter().enumerate() {
        let end = objects.get(k + 1).map_or(xref_at, |o| o.0);
        let object = pdf.get(offset..end)?;
        let prefix = format!("{number} 0 obj");
        if !object.starts_with(prefix.as_bytes()) {
            return None;
        }
        offsets[number] = out.len();
        // The dictionary part (a stream's data is not searched).
        let head = &object[..find(object, b"stream").unwrap_or(object.len())];
        // Two-byte codes belong to embedded (Type0) fonts: leave such files alone.
        if find(head, b"/FontFile").is_some() || find(head, b"/Type0").is_some() {
            return None;
        }
        if let Some(logo) = logo
            && find(head, PLACEHOLDER).is_some()
        {
            writeln!(
                out,
                "{prefix}<</Type/XObject/Subtype/Image/Width {}/Height {}/BitsPerComponent 8\
                 /ColorSpace/DeviceRGB/Interpolate true/Length {}/Filter/{}>>stream",
                logo.width,
                logo.height,
                logo.data.len(),
                logo.filter
            )
            .ok()?;
            out.extend_from_slice(&logo.data);
            out.extend_from_slice(b"\nendstream\nendobj\n");
            continue;
        }
        match bare_stream(object, prefix.len())? {
            Some(stream) => {
                let data = if stream.dict == b"<<" {
                    // A page's content: `<</Length n>>` and nothing else.
                    deflate(&rewrite_strings(stream.data)?)?
                } else {
                    deflate(stream.data)?
                };
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(stream.dict);
                writeln!(out, "/Length {}/Filter/FlateDecode>>stream", data.len()).ok()?;
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\nendstream\nendobj\n");
            }
            None => out.extend_from_slice(object),
        }
    }
    let new_xref = out.len();
    write!(out, "xref\n0 {count}\n0000000000 65535 f \n").ok()?;
    for offset in &offsets[1..] {
        writeln!(out, "{offset:010} 00000 n ").ok()?;
    }
    out.extend_from_slice(pdf.get(trailer_at..startxref)?);
    write!(out, "startxref\n{new_xref}\n%%EOF\n").ok()?;
    Some(out)
}

/// An unfiltered stream: its dictionary up to (not including) `/Length n>>`, which printpdf
/// writes last, and its data.
struct BareStream<'a> {
    dict: &'a [u8],
    data: &'a [u8],
}

/// The object as a [`BareStream`], `Some(None)` for any other object (filtered streams
/// included), `None` when a stream is malformed.
fn bare_stream(object: &[u8], header: usize) -> Option<Option<BareStream<'_>>> {
    let rest = &object[header..];
    let Some(stream_at) = find(rest, b">>stream") else {
        return Some(None);
    };
    let head = &rest[..stream_at];
    if !head.starts_with(b"<<") || find(head, b"/Filter").is_some() {
        return Some(None);
    }
    let length_at = rfind(head, b"/Length ")?;
    let (length, end) = parse_number(length_at + b"/Length ".len(), head)?;
    if end != head.len() {
        return Some(None);
    }
    let after = &rest[stream_at + b">>stream".len()..];
    let data_at = if after.starts_with(b"\r\n") {
        2
    } else if after.starts_with(b"\n") {
        1
    } else {
        return None;
    };
    let data = after.get(data_at..data_at + length)?;
    find(&after[data_at + length..], b"endstream")?;
    Some(Some(BareStream {
        dict: &head[..length_at],
        data,
    }))
}

/// Hex strings in `content` become literal strings, adjacent ones merged, and 16-bit codes with
/// a zero high byte reduced to their low byte. Literal strings, dictionaries and comments are
/// copied as they are.
fn rewrite_strings(content: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(content.len() / 2);
    let mut pending: Vec<u8> = Vec::new();
    let mut has_pending = false;
    let mut dict_depth = 0usize;
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        if b == b'<' && content.get(i + 1) == Some(&b'<') {
            flush(&mut out, &mut pending, &mut has_pending);
            dict_depth += 1;
            out.extend_from_slice(b"<<");
            i += 2;
        } else if b == b'>' && content.get(i + 1) == Some(&b'>') {
            flush(&mut out, &mut pending, &mut has_pending);
            dict_depth = dict_depth.checked_sub(1)?;
            out.extend_from_slice(b">>");
            i += 2;
        } else if b == b'<' {
            let end = i + 1 + content[i + 1..].iter().position(|&c| c == b'>')?;
            let hex = &content[i + 1..end];
            if dict_depth > 0 {
                flush(&mut out, &mut pending, &mut has_pending);
                out.extend_from_slice(&content[i..=end]);
            } else {
                match hex {
                    // The common case, one WinAnsi code: `<00E9>`.
                    [b'0', b'0', hi, lo] => pending.push((hex_digit(*hi)? << 4) | hex_digit(*lo)?),
                    _ => decode_hex(hex, &mut pending)?,
                }
                has_pending = true;
            }
            i = end + 1;
        } else if b == b'(' {
            flush(&mut out, &mut pending, &mut has_pending);
            let end = literal_end(content, i)?;
            out.extend_from_slice(&content[i..end]);
            i = end;
        } else if b == b'%' {
            flush(&mut out, &mut pending, &mut has_pending);
            let end = content[i..]
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .map_or(content.len(), |p| i + p);
            out.extend_from_slice(&content[i..end]);
            i = end;
        } else {
            flush(&mut out, &mut pending, &mut has_pending);
            out.push(b);
            i += 1;
        }
    }
    flush(&mut out, &mut pending, &mut has_pending);
    Some(out)
}

/// Appends the bytes of one hex string to `into`; pairs `00 xx` count as the single byte `xx`
/// when the whole string is made of them (printpdf's codes for the standard fonts).
fn decode_hex(hex: &[u8], into: &mut Vec<u8>) -> Option<()> {
    let digits: Vec<u8> = hex
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|&c| hex_digit(c))
        .collect::<Option<_>>()?;
    let mut bytes: Vec<u8> = digits
        .chunks(2)
        .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0))
        .collect();
    if bytes.len().is_multiple_of(2) && bytes.chunks(2).all(|p| p[0] == 0) {
        bytes = bytes.chunks(2).map(|p| p[1]).collect();
    }
    into.extend_from_slice(&bytes);
    Some(())
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn flush(out: &mut Vec<u8>, pending: &mut Vec<u8>, has_pending: &mut bool) {
    if !*has_pending {
        return;
    }
    out.push(b'(');
    for &c in pending.iter() {
        match c {
            b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(c),
        }
    }
    out.push(b')');
    pending.clear();
    *has_pending = false;
}

/// The index just past the literal string opening at `start` (balanced parentheses, escapes).
fn literal_end(content: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < content.len() {
        match content[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 3), Compression::new(LEVEL));
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The decimal number at `s[i..]` and the index after it.
fn parse_number(i: usize, s: &[u8]) -> Option<(usize, usize)> {
    let digits = s
        .get(i..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let n = std::str::from_utf8(&s[i..i + digits]).ok()?.parse().ok()?;
    Some((n, i + digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdftotext(pdf: &[u8], name: &str) -> String {
        let path =
            std::env::temp_dir().join(format!("ecole-pdf-{}-{name}.pdf", std::process::id()));
        std::fs::write(&path, pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .args(["-layout"])
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils)");
        std::fs::remove_file(&path).ok();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    fn rendered_raw() -> Vec<u8> {
        let doc = crate::start_document("Essai", &crate::Entete::default()).unwrap();
        let mut raw = Vec::new();
        doc.doc.render(&mut raw).unwrap();
        raw
    }

    #[test]
    fn compacted_file_reads_the_same_and_is_smaller() {
        let entete = crate::Entete {
            nom: "École « Les Manguiers » (Kindia)".into(),
            devise: "Savoir \\ Être".into(),
            ..Default::default()
        };
        let mut doc = crate::start_document("Essai", &entete).unwrap();
        doc.push(crate::text(
            "Parenthèses (ouvertes et fermées), barre \\ oblique, œuvre, 25 €.",
        ));
        let mut raw = Vec::new();
        doc.doc.render(&mut raw).unwrap();
        let small = compact(&raw, None).expect("printpdf output is compacted");
        assert!(small.len() < raw.len(), "{} -> {}", raw.len(), small.len());
        let text = pdftotext(&small, "compact");
        assert_eq!(text, pdftotext(&raw, "raw"));
        assert!(text.contains("Parenthèses (ouvertes et fermées), barre \\ oblique, œuvre, 25 €."));

        // Every cross-reference entry points at its object.
        let xref = rfind(&small, b"xref\n0 ").unwrap();
        let table = std::str::from_utf8(&small[xref..]).unwrap();
        for (n, line) in table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let offset: usize = line[..10].parse().unwrap();
            assert!(small[offset..].starts_with(format!("{} 0 obj", n + 1).as_bytes()));
        }
    }

    #[test]
    fn other_layouts_are_left_alone() {
        assert!(compact(b"%PDF-1.4\nnot really a pdf", None).is_none());
        assert!(compact(b"", None).is_none());
        assert!(compact(b"%PDF-1.7 /FontFile2 startxref\n9\n%%EOF", None).is_none());
        // An embedded font: the file is left as it is.
        let raw = rendered_raw();
        let embedded = String::from_utf8_lossy(&raw).replacen(
            "/Type/Font/Subtype/Type1",
            "/Type/Font/Subtype/Type0",
            1,
        );
        assert!(compact(embedded.as_bytes(), None).is_none());
    }

    #[test]
    fn hex_runs_become_one_literal_string() {
        let content = b"BT\n/F1 9.00 Tf\n[<0047><0072> 74<0028><00E9><005C>] TJ\nET\n";
        let out = rewrite_strings(content).unwrap();
        assert_eq!(
            out,
            b"BT\n/F1 9.00 Tf\n[(Gr) 74(\\(\xe9\\\\)] TJ\nET\n".to_vec()
        );
    }

    #[test]
    fn dictionaries_literals_and_wide_codes_are_kept() {
        let content = b"/P <</MCID <0102>>> BDC (a<b>) Tj [<0102><0003>] TJ";
        let out = rewrite_strings(content).unwrap();
        assert_eq!(
            out,
            b"/P <</MCID <0102>>> BDC (a<b>) Tj [(\x01\x02\x03)] TJ".to_vec()
        );
    }
}
