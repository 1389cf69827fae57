#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    MATIERES, bulletin, entete, images, noisy_png, pages, pdftotext, pdftotext_raw, png_logo,
};
use ecole_pdf::{LigneBulletinPdf, Logo, PdfError, fonts, render_bulletin};

/// Whitespace removed, so that words broken across lines or cells still match.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn text_survives_extraction_accents_included() {
    let b = bulletin("Aïssatou Bah", "Née le 12 mars 2012 à Kindia", entete(None));
    let pdf = render_bulletin(&b).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    for expected in [
        "Aïssatou Bah",
        "Née le 12 mars 2012 à Kindia",
        "Groupe Scolaire Les Étoiles de Kaloum",
        "Travail – Rigueur – Réussite",
        "Bulletin de notes — Trimestre 1",
        "Année scolaire 2025-2026",
        "GSEK-2025-00417",
        "12,50 / 20",
        "Rang : 2ème ex / 45",
        "Mention : Assez bien",
        "Tableau d'honneur",
        "Moyenne de la classe : 10,87",
        "Plus forte moyenne : 16,25",
        "Plus faible moyenne : 4,75",
        "Moyenne annuelle : 12,10 / 20",
        "Décision : Admis(e)",
        "Le professeur principal",
        "Le directeur",
        "M. Elhadj Boubacar Diallo",
        "Fait à Conakry, le 26 novembre 2026",
        "Éducation civique et morale",
        "M. Sékou Touré Keïta",
    ] {
        assert!(text.contains(expected), "{expected:?} absent de :\n{text}");
    }
    // The subject without grades is printed NC; every subject is there.
    assert!(text.contains("NC"));
    let flat = squeeze(&pdftotext_raw(&pdf));
    for (matiere, _, enseignant) in MATIERES {
        assert!(flat.contains(&squeeze(matiere)), "{matiere} absente");
        assert!(flat.contains(&squeeze(enseignant)), "{enseignant} absent");
    }
    // Moyennes sur 10 only for a class graded on 10.
    assert!(!text.contains("Moyennes sur 10"));

    let b = bulletin(
        "Mamadou Diallo",
        "Né le 3 janvier 2013 à Labé",
        entete(None),
    );
    let text = pdftotext(&render_bulletin(&b).unwrap());
    assert!(text.contains("Mamadou Diallo"));
    assert!(text.contains("Né le 3 janvier 2013 à Labé"));
}

#[test]
fn fifteen_subjects_fit_one_small_page() {
    let pdf = render_bulletin(&bulletin(
        "Aïssatou Bah",
        "Née le 1er mai 2012",
        entete(None),
    ))
    .unwrap();
    assert_eq!(pages(&pdf), 1);
    assert!(pdf.len() <= 60 * 1024, "{} octets", pdf.len());
    assert_eq!(images(&pdf), 0);
}

#[test]
fn a_longer_report_card_goes_on_a_second_page() {
    let mut b = bulletin("Aïssatou Bah", "Née le 1er mai 2012", entete(None));
    let extra: Vec<LigneBulletinPdf> = (1..=25)
        .map(|i| LigneBulletinPdf {
            matiere: format!("Option {i}"),
            coefficient: 1,
            appreciation: "Travail régulier et sérieux, bonne participation en classe".into(),
            ..Default::default()
        })
        .collect();
    b.lignes.extend(extra);
    let pdf = render_bulletin(&b).unwrap();
    assert_eq!(pages(&pdf), 2);
    let text = pdftotext(&pdf);
    assert!(text.contains("Option 25"));
    assert!(text.contains("Le directeur"));
}

#[test]
fn primary_scale_and_missing_values() {
    let mut b = bulletin("Aïssatou Bah", "Née le 1er mai 2012", entete(None));
    b.bareme = 10;
    b.moyenne_generale = None;
    b.rang = None;
    b.mention = None;
    b.tableau_honneur = false;
    b.annuel = None;
    b.ne_le = None;
    b.professeur_principal = None;
    let text = pdftotext(&render_bulletin(&b).unwrap());
    assert!(text.contains("Moyennes sur 10"));
    assert!(text.contains("Moyenne générale : NC"));
    assert!(text.contains("Rang : NC / 45"));
    assert!(!text.contains("Mention"));
    assert!(!text.contains("Tableau d'honneur"));
    assert!(!text.contains("Moyenne annuelle"));
    assert!(!text.contains("Née le"));
}

#[test]
fn a_png_logo_is_printed() {
    let logo = png_logo(120, 90);
    assert!(Logo::new(logo.clone()).is_printable());
    let pdf = render_bulletin(&bulletin(
        "Aïssatou Bah",
        "Née le 1er mai 2012",
        entete(Some(logo)),
    ))
    .unwrap();
    assert_eq!(images(&pdf), 1);
    assert_eq!(pages(&pdf), 1);
    assert!(pdftotext(&pdf).contains("Groupe Scolaire Les Étoiles de Kaloum"));
}

#[test]
fn a_large_logo_is_scaled_down() {
    let logo = png_logo(900, 700);
    let pdf = render_bulletin(&bulletin(
        "Aïssatou Bah",
        "Née le 1er mai 2012",
        entete(Some(logo)),
    ))
    .unwrap();
    assert_eq!(images(&pdf), 1);
    assert!(pdf.len() < 60 * 1024, "{} octets", pdf.len());
}

#[test]
fn a_photograph_logo_stays_small() {
    let logo = noisy_png(700, 500);
    let pdf = render_bulletin(&bulletin(
        "Aïssatou Bah",
        "Née le 1er mai 2012",
        entete(Some(logo)),
    ))
    .unwrap();
    assert_eq!(images(&pdf), 1);
    assert!(pdf.len() < 40 * 1024, "{} octets", pdf.len());
}

#[test]
fn an_unreadable_logo_is_left_out() {
    let truncated = png_logo(64, 64)[..60].to_vec();
    // A valid PNG header announcing 100 000 × 100 000 pixels, and nothing after it.
    let mut bomb = png_logo(8, 8)[..33].to_vec();
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    for bytes in [
        b"ceci n'est pas une image".to_vec(),
        Vec::new(),
        truncated,
        bomb,
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
    ] {
        assert!(!Logo::new(bytes.clone()).is_printable());
        let pdf = render_bulletin(&bulletin(
            "Aïssatou Bah",
            "Née le 1er mai 2012",
            entete(Some(bytes)),
        ))
        .unwrap();
        assert_eq!(images(&pdf), 0);
        assert!(pdftotext(&pdf).contains("Aïssatou Bah"));
    }
}

#[test]
fn letters_outside_windows_1252_do_not_fail_the_render() {
    let mut b = bulletin(
        "Ɓoɓo Ŋaaŋa Kɛita",
        "Né le 2 février 2012 à Boké",
        entete(None),
    );
    b.total_points = "1\u{202f}350,00".into();
    b.lignes[0].enseignant = "M. Dvořák ߒߞߏ".into();
    let text = pdftotext(&render_bulletin(&b).unwrap());
    assert!(text.contains("Bobo Ngaanga Keita"), "{text}");
    assert!(text.contains("1 350,00"));
    assert!(text.contains("M. Dvorák ???"));
}

#[test]
fn a_word_wider_than_its_column_is_not_cut() {
    let mut b = bulletin("Aïssatou Bah", "Née le 1er mai 2012", entete(None));
    let long = "Abdourahamane-Mohamed-Lamine-Soumaoro-Kourouma";
    b.lignes[0].enseignant = long.into();
    b.lignes[1].rang = Some("123456789ème ex".into());
    let text = pdftotext_raw(&render_bulletin(&b).unwrap());
    let flat = squeeze(&text);
    assert!(flat.contains(long), "{text}");
    assert!(flat.contains("123456789èmeex"), "{text}");
}

#[test]
fn fonts_are_parsed_once() {
    let a = fonts().unwrap();
    let b = fonts().unwrap();
    assert!(std::ptr::eq(a, b));
    // And documents reuse them: a second render does not parse anything.
    let _ = render_bulletin(&bulletin("Aïssatou Bah", "", entete(None))).unwrap();
    assert!(std::ptr::eq(a, fonts().unwrap()));
}

#[test]
fn a_table_row_of_the_wrong_width_is_an_error() {
    use ecole_pdf::genpdf::Alignment;
    use ecole_pdf::genpdf::style::Style;
    use ecole_pdf::{Column, Table};
    let mut t = Table::new(
        &[
            Column::new("Libellé", 3, Alignment::Left),
            Column::new("Montant", 1, Alignment::Right),
        ],
        Style::new(),
    )
    .unwrap();
    let err = t.row(&["Frais de scolarité"]).unwrap_err();
    assert!(matches!(err, PdfError::Table(_)));
    assert_eq!(
        err.to_string(),
        "tableau du PDF mal formé : 1 cellules pour 2 colonnes"
    );
    assert!(Table::new(&[], Style::new()).is_err());
}

#[test]
fn report_cards_render_from_several_threads_sharing_one_logo() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<ecole_pdf::BulletinPdf>();
    send_sync::<ecole_pdf::Entete>();
    send_sync::<Logo>();
    send_sync::<PdfError>();

    let shared = entete(Some(png_logo(100, 100)));
    let handles: Vec<_> = [
        "Aïssatou Bah",
        "Mamadou Diallo",
        "Fanta Camara",
        "Ibrahima Sow",
    ]
    .into_iter()
    .map(|nom| {
        let b = bulletin(nom, "Né(e) le 1er mai 2012", shared.clone());
        std::thread::spawn(move || (nom, render_bulletin(&b).unwrap()))
    })
    .collect();
    for handle in handles {
        let (nom, pdf) = handle.join().unwrap();
        assert_eq!(images(&pdf), 1);
        assert!(pdftotext(&pdf).contains(nom));
    }
}

#[test]
fn attendance_annual_result_and_class_council() {
    use ecole_pdf::{AnnuelPdf, ConseilPdf};
    let mut b = bulletin("Aïssatou Bah", "Née le 1er mai 2012", entete(None));
    let text = pdftotext(&render_bulletin(&b).unwrap());
    for expected in [
        "Absences non justifiées : 3",
        "justifiées : 2",
        "Retards : 1",
        "Conseil de classe : Bon trimestre",
        "Distinction ou sanction : Encouragements",
    ] {
        assert!(text.contains(expected), "{expected:?} absent de :\n{text}");
    }
    // Incomplete: no average, no decision; a council's decision is printed as such.
    b.annuel = Some(AnnuelPdf::default());
    b.conseil = None;
    let text = pdftotext(&render_bulletin(&b).unwrap());
    assert!(text.contains("Moyenne annuelle : incomplète"), "{text}");
    assert!(!text.contains("Décision") && !text.contains("Conseil de classe"));
    b.annuel = Some(AnnuelPdf {
        moyenne: Some("9,50".into()),
        decision: Some("Admis(e)".into()),
        decision_du_conseil: true,
    });
    b.conseil = Some(ConseilPdf {
        appreciation: String::new(),
        distinction: Some("Avertissement (travail)".into()),
    });
    let pdf = render_bulletin(&b).unwrap();
    assert!(pdf.len() <= 60 * 1024);
    let text = pdftotext(&pdf);
    assert!(
        text.contains("Décision du conseil de classe : Admis(e)"),
        "{text}"
    );
    assert!(text.contains("Avertissement (travail)"));
}
