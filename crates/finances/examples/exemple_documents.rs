//! Writes a sample invoice and receipt: `cargo run -p ecole-finances --example
//! exemple_documents -- facture.pdf recu.pdf`.

use chrono::NaiveDate;
use ecole_finances::documents::{FacturePdf, LignePdf, RecuPdf, render_facture, render_recu};
use ecole_pdf::Entete;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let facture_path = args.next().unwrap_or_else(|| "facture.pdf".into());
    let recu_path = args.next().unwrap_or_else(|| "recu.pdf".into());
    let entete = Entete {
        nom: "Groupe Scolaire Les Étoiles de Kaloum".into(),
        adresse: "Quartier Almamya, Kaloum".into(),
        telephone: "+224 621 00 00 00".into(),
        email: "contact@etoiles-kaloum.gn".into(),
        devise: "Travail — Rigueur — Réussite".into(),
        ville: "Conakry".into(),
        directeur: "M. Ibrahima Sow".into(),
        logo: None,
    };
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("date invalide");
    let facture = FacturePdf {
        entete: entete.clone(),
        numero: "FAC-2026-000123".into(),
        annulee: false,
        date_emission: date(2026, 11, 26)?,
        date_echeance: date(2026, 12, 26)?,
        annee_scolaire: "2026-2027".into(),
        eleve_nom: "Aïssatou Ɓaldé".into(),
        matricule: "2026/0042".into(),
        classe: Some("6ème A".into()),
        lignes: vec![
            LignePdf {
                libelle: "Frais de scolarité — 1er trimestre".into(),
                quantite: 1,
                prix_unitaire: 1_250_000,
                montant: 1_250_000,
            },
            LignePdf {
                libelle: "Cantine « Le Baobab »".into(),
                quantite: 2,
                prix_unitaire: 125_000,
                montant: 250_000,
            },
        ],
        montant_total: 1_500_000,
    };
    std::fs::write(&facture_path, render_facture(&facture)?)?;
    let recu = RecuPdf {
        entete,
        numero: "REC-2026-000045".into(),
        date_paiement: date(2026, 11, 27)?,
        annee_scolaire: "2026-2027".into(),
        eleve_nom: "Aïssatou Ɓaldé".into(),
        matricule: "2026/0042".into(),
        classe: Some("6ème A".into()),
        facture_numero: "FAC-2026-000123".into(),
        montant: 1_000_000,
        mode: "Orange Money".into(),
        reference: "OM-261127-8841".into(),
        facture_total: 1_500_000,
        paye_cumule: 1_000_000,
        enregistre_par: "Fatoumata Bah".into(),
    };
    std::fs::write(&recu_path, render_recu(&recu)?)?;
    println!("{facture_path} et {recu_path} écrits");
    Ok(())
}
