//! Writes a sample 15-subject report card, to look at:
//! `cargo run -p ecole-pdf --example exemple_bulletin -- bulletin.pdf [logo.png]`.

#[path = "../tests/common/donnees.rs"]
mod donnees;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sortie = args.next().unwrap_or_else(|| "bulletin.pdf".into());
    let logo = args.next().map(std::fs::read).transpose()?;
    let bulletin = donnees::bulletin(
        "Aïssatou Bah",
        "Née le 12 mars 2012 à Kindia",
        donnees::entete(logo),
    );
    let pdf = ecole_pdf::render_bulletin(&bulletin)?;
    std::fs::write(&sortie, &pdf)?;
    println!("{sortie} : {} octets", pdf.len());
    Ok(())
}
