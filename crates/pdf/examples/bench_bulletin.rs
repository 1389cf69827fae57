//! Renders N (first argument, default 500) 15-subject report cards on one thread and prints
//! `bulletins: N, ms/pdf: X.XX, octets/pdf: Y`. Run in release:
//! `cargo run --release -p ecole-pdf --example bench_bulletin [N] [logo.png]`.

#[path = "../tests/common/donnees.rs"]
mod donnees;

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("nombre de bulletins invalide : {s}"))?,
        None => 500,
    };
    let logo = args.next().map(std::fs::read).transpose()?;
    let bulletin = donnees::bulletin(
        "Aïssatou Bah",
        "Née le 12 mars 2012 à Kindia",
        donnees::entete(logo),
    );
    // Fonts (and the logo) are loaded once per process: keep that out of the timing.
    let first = ecole_pdf::render_bulletin(&bulletin)?;
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += ecole_pdf::render_bulletin(&bulletin)?.len();
    }
    let elapsed = start.elapsed();
    let n_div = n.max(1);
    println!(
        "bulletins: {n}, ms/pdf: {:.2}, octets/pdf: {}",
        elapsed.as_secs_f64() * 1000.0 / n_div as f64,
        if n == 0 { first.len() } else { bytes / n_div }
    );
    Ok(())
}
