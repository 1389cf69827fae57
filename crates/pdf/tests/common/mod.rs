//! Shared by the tests: the sample report card and the poppler-utils helpers.

#![allow(dead_code)]

mod donnees;

pub use donnees::*;

/// The text of a PDF as `pdftotext` (poppler-utils) extracts it, in reading layout.
pub fn pdftotext(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-layout"], pdf, true)
}

/// The text in content order (`pdftotext -raw`): a wrapped cell's lines stay together.
pub fn pdftotext_raw(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-raw"], pdf, true)
}

/// `pdfinfo`'s page count.
pub fn pages(pdf: &[u8]) -> usize {
    let info = poppler("pdfinfo", &[], pdf, false);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo sans nombre de pages :\n{info}"))
}

/// The images `pdfimages -list` finds (one line each after the two header lines).
pub fn images(pdf: &[u8]) -> usize {
    poppler("pdfimages", &["-list"], pdf, false)
        .lines()
        .skip(2)
        .count()
}

fn poppler(tool: &str, args: &[&str], pdf: &[u8], to_stdout: bool) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "ecole-pdf-test-{}-{}.pdf",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, pdf).unwrap();
    let mut cmd = std::process::Command::new(tool);
    cmd.args(args).arg(&path);
    if to_stdout {
        cmd.arg("-");
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{tool} introuvable ({e}) : installez poppler-utils (scripts/test.sh le fait)")
    });
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "{tool} a échoué : {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A small opaque PNG logo made with the image crate.
pub fn png_logo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let inside = (x as i64 - w as i64 / 2).pow(2) + (y as i64 - h as i64 / 2).pow(2)
            < (w.min(h) as i64 / 2).pow(2);
        if inside {
            image::Rgba([200, 30, 40, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut out, image::ImageOutputFormat::Png)
        .unwrap();
    out
}

/// A PNG of noise (what compresses worst), as a large photograph would be.
pub fn noisy_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        };
        image::Rgb([next(), next(), next()])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageOutputFormat::Png)
        .unwrap();
    out
}
