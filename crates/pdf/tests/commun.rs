#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{entete, images, pages, pdftotext, png_logo};
use ecole_pdf::genpdf::elements::Break;
use ecole_pdf::genpdf::style::Style;
use ecole_pdf::genpdf::{Alignment, Element};
use ecole_pdf::{Column, Table, TextBlock, centered, render, start_document};

/// The shared helpers make other documents too (an invoice here), header and logo included.
#[test]
fn an_invoice_like_document() {
    let mut doc =
        start_document("Facture FAC-2026-000123", &entete(Some(png_logo(80, 80)))).unwrap();
    doc.push(centered("Facture n° FAC-2026-000123").styled(Style::new().bold().with_font_size(13)));
    doc.push(Break::new(1.0));
    let mut t = Table::new(
        &[
            Column::new("Libellé", 5, Alignment::Left),
            Column::new("Quantité", 1, Alignment::Center),
            Column::new("Montant", 2, Alignment::Right),
        ],
        Style::new(),
    )
    .unwrap();
    t.row(&[
        "Frais de scolarité — 1er trimestre",
        "1",
        "1\u{a0}250\u{a0}000 GNF",
    ])
    .unwrap();
    t.row(&["Cantine « Le Baobab »", "3", "450\u{202f}000 GNF"])
        .unwrap();
    t.row_styled(&["Total", "", "1 700 000 GNF"], Style::new().bold())
        .unwrap();
    doc.push(t.into_layout());
    doc.push(
        TextBlock::new("Reste à payer : ", Style::new())
            .run("1 700 000 GNF", Style::new().bold())
            .aligned(Alignment::Right),
    );
    let pdf = render(doc).unwrap();
    assert_eq!(pages(&pdf), 1);
    assert_eq!(images(&pdf), 1);
    let text = pdftotext(&pdf);
    for expected in [
        "Groupe Scolaire Les Étoiles de Kaloum",
        "Facture n° FAC-2026-000123",
        "Frais de scolarité — 1er trimestre",
        "1 250 000 GNF",
        "Cantine « Le Baobab »",
        "450 000 GNF",
        "Reste à payer : 1 700 000 GNF",
    ] {
        assert!(text.contains(expected), "{expected:?} absent de :\n{text}");
    }
}
