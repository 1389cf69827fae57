//! A realistic report card, shared by the tests and the benchmark example.

use ecole_pdf::{AnnuelPdf, BulletinPdf, ConseilPdf, Entete, LigneBulletinPdf, Logo};

pub const MATIERES: [(&str, i32, &str); 15] = [
    ("Mathématiques", 4, "M. Mamadou Diallo"),
    ("Physique-Chimie", 3, "M. Ibrahima Sory Camara"),
    (
        "Sciences de la vie et de la Terre",
        3,
        "Mme Fatoumata Binta Barry",
    ),
    ("Français", 4, "Mme Aïssata Condé"),
    ("Anglais", 2, "M. Alpha Oumar Baldé"),
    ("Arabe", 1, "M. Thierno Souleymane Bah"),
    ("Histoire", 2, "M. Sékou Touré Keïta"),
    ("Géographie", 2, "M. Sékou Touré Keïta"),
    ("Éducation civique et morale", 1, "Mme Mariama Soumah"),
    ("Économie", 1, "M. Lansana Kouyaté"),
    ("Informatique", 1, "M. Ousmane Sylla"),
    ("Éducation physique et sportive", 1, "M. Abdoulaye Cissé"),
    ("Dessin", 1, "Mme Hawa Doumbouya"),
    ("Musique", 1, "M. Mory Kanté"),
    (
        "Langues nationales (pular, maninka, soussou)",
        1,
        "Mme Kadiatou Bangoura",
    ),
];

const APPRECIATIONS: [&str; 5] = [
    "Très bon travail, continuez ainsi",
    "Bien",
    "Assez bien, peut mieux faire",
    "Passable : des efforts à fournir",
    "Insuffisant",
];

pub fn entete(logo: Option<Vec<u8>>) -> Entete {
    Entete {
        nom: "Groupe Scolaire Les Étoiles de Kaloum".into(),
        adresse: "Quartier Almamya, commune de Kaloum".into(),
        telephone: "+224 622 12 34 56".into(),
        email: "contact@etoiles-kaloum.edu.gn".into(),
        devise: "Travail – Rigueur – Réussite".into(),
        ville: "Conakry".into(),
        directeur: "M. Elhadj Boubacar Diallo".into(),
        logo: logo.map(Logo::new),
    }
}

pub fn bulletin(eleve_nom: &str, ne_le: &str, entete: Entete) -> BulletinPdf {
    let lignes = MATIERES
        .iter()
        .enumerate()
        .map(|(i, (matiere, coefficient, enseignant))| {
            let moyenne = if i == 13 {
                None
            } else {
                Some(format!("{},{:02}", 8 + (i * 7) % 11, (i * 25) % 100))
            };
            LigneBulletinPdf {
                matiere: matiere.to_string(),
                coefficient: *coefficient,
                points: moyenne.as_ref().map(|_| format!("{},00", 30 + i)),
                moyenne,
                rang: Some(if i == 0 {
                    "1er".into()
                } else {
                    format!("{}ème ex", i + 1)
                }),
                moyenne_classe: Some(format!("{},{:02}", 9 + i % 4, (i * 13) % 100)),
                appreciation: APPRECIATIONS[i % APPRECIATIONS.len()].to_string(),
                enseignant: enseignant.to_string(),
            }
        })
        .collect();
    BulletinPdf {
        entete,
        titre: "Bulletin de notes — Trimestre 1".into(),
        annee_scolaire: "2025-2026".into(),
        eleve_nom: eleve_nom.into(),
        matricule: "GSEK-2025-00417".into(),
        classe: "10ème Année A".into(),
        ne_le: Some(ne_le.into()),
        bareme: 20,
        lignes,
        total_coefficients: 28,
        total_points: "350,00".into(),
        moyenne_generale: Some("12,50".into()),
        rang: Some("2ème ex".into()),
        effectif: 45,
        mention: Some("Assez bien".into()),
        tableau_honneur: true,
        absences: 3,
        absences_justifiees: 2,
        retards: 1,
        moyenne_classe: Some("10,87".into()),
        moyenne_max: Some("16,25".into()),
        moyenne_min: Some("4,75".into()),
        annuel: Some(AnnuelPdf {
            moyenne: Some("12,10".into()),
            decision: Some("Admis(e)".into()),
            decision_du_conseil: false,
        }),
        conseil: Some(ConseilPdf {
            appreciation: "Bon trimestre, des efforts à poursuivre en anglais.".into(),
            distinction: Some("Encouragements".into()),
        }),
        professeur_principal: Some("Mme Aïssata Condé".into()),
        fait_a: "Conakry".into(),
        fait_le: "26 novembre 2026".into(),
    }
}
