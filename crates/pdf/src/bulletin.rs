//! The report card (bulletin de notes): one A4 page for up to about twenty subjects.

use genpdf::elements::{Break, FrameCellDecorator, LinearLayout, TableLayout};
use genpdf::style::Style;
use genpdf::{Alignment, Element, Margins};

use crate::PdfError;
use crate::bloc::TextBlock;
use crate::commun::{Column, Entete, Table, centered, render, start_document, text};

/// One subject row of a report card. Every value arrives formatted (French decimals, `12,50`).
#[derive(Debug, Clone, Default)]
pub struct LigneBulletinPdf {
    pub matiere: String,
    pub coefficient: i32,
    /// Already on the class's scale; `None` prints `NC` (non classé).
    pub moyenne: Option<String>,
    pub points: Option<String>,
    /// `1er`, `2ème ex`…
    pub rang: Option<String>,
    pub moyenne_classe: Option<String>,
    /// The teacher's appreciation (at most 200 characters), printed as written.
    pub appreciation: String,
    pub enseignant: String,
}

/// The annual result, on the year's last period.
#[derive(Debug, Clone, Default)]
pub struct AnnuelPdf {
    /// `12,10`; `None` prints `incomplète` (a period of the year without average, or not
    /// published yet).
    pub moyenne: Option<String>,
    /// `Admis(e)`, `Redouble`, `Exclu(e)`; nothing printed when `None`.
    pub decision: Option<String>,
    /// The decision is the class council's (it overrides the computed one).
    pub decision_du_conseil: bool,
}

/// What the class council recorded for the pupil.
#[derive(Debug, Clone, Default)]
pub struct ConseilPdf {
    /// The council's general appreciation.
    pub appreciation: String,
    /// `Félicitations`, `Avertissement (conduite)`…
    pub distinction: Option<String>,
}

/// A pupil's report card for one period, computed and formatted by the caller.
#[derive(Debug, Clone, Default)]
pub struct BulletinPdf {
    pub entete: Entete,
    /// `Bulletin de notes — Trimestre 1`
    pub titre: String,
    /// `2025-2026`
    pub annee_scolaire: String,
    pub eleve_nom: String,
    pub matricule: String,
    pub classe: String,
    /// `Né le 12 mars 2012 à Kindia` / `Née le …`, printed as given when present.
    pub ne_le: Option<String>,
    /// 20, or 10 in primary school (then `Moyennes sur 10` is printed).
    pub bareme: i32,
    pub lignes: Vec<LigneBulletinPdf>,
    pub total_coefficients: i32,
    pub total_points: String,
    /// `None` prints `NC`.
    pub moyenne_generale: Option<String>,
    /// `2ème ex`; printed `Rang : 2ème ex / {effectif}`.
    pub rang: Option<String>,
    pub effectif: i32,
    pub mention: Option<String>,
    pub tableau_honneur: bool,
    /// Unjustified absences.
    pub absences: i32,
    /// Justified absences (`EXCUSE`).
    pub absences_justifiees: i32,
    pub retards: i32,
    pub moyenne_classe: Option<String>,
    pub moyenne_max: Option<String>,
    pub moyenne_min: Option<String>,
    /// On the year's last period only.
    pub annuel: Option<AnnuelPdf>,
    /// The class council's appreciation and distinction or sanction, when recorded.
    pub conseil: Option<ConseilPdf>,
    pub professeur_principal: Option<String>,
    /// `Conakry`
    pub fait_a: String,
    /// `26 novembre 2026`
    pub fait_le: String,
}

const NC: &str = "NC";
const NONE: &str = "—";

/// Renders the report card to PDF bytes (about 20 KB without a logo; pure CPU, no I/O: call it
/// from `spawn_blocking` in async code).
pub fn render_bulletin(b: &BulletinPdf) -> Result<Vec<u8>, PdfError> {
    let mut doc = start_document(&format!("{} — {}", b.titre, b.eleve_nom), &b.entete)?;

    doc.push(centered(&b.titre).styled(Style::new().bold().with_font_size(13)));
    let mut sous_titre = format!("Année scolaire {}", b.annee_scolaire);
    if b.bareme != 20 {
        sous_titre.push_str(&format!("  —  Moyennes sur {}", b.bareme));
    }
    doc.push(centered(&sous_titre));
    doc.push(Break::new(0.6));

    doc.push(eleve(b)?);
    doc.push(Break::new(0.6));
    doc.push(
        notes(b)?
            .into_layout()
            .styled(Style::new().with_font_size(8)),
    );
    doc.push(Break::new(0.6));
    doc.push(synthese(b)?);
    doc.push(Break::new(0.8));
    doc.push(signatures(b)?);

    render(doc)
}

/// `label` then `value` in bold, on one line.
fn champ(label: &str, value: &str) -> TextBlock {
    TextBlock::new(label, Style::new()).run(value, Style::new().bold())
}

fn cellule(content: impl Element + 'static) -> impl Element {
    content.padded(Margins::trbl(1.2, 2.0, 1.0, 2.0))
}

/// The pupil's identity, framed.
fn eleve(b: &BulletinPdf) -> Result<impl Element + use<>, PdfError> {
    let mut gauche = LinearLayout::vertical();
    gauche.push(champ("Élève : ", &b.eleve_nom));
    gauche.push(champ("Classe : ", &b.classe));
    let mut droite = LinearLayout::vertical();
    droite.push(champ("Matricule : ", &b.matricule));
    if let Some(ne_le) = &b.ne_le {
        droite.push(text(ne_le));
    }
    let mut t = TableLayout::new(vec![1, 1]);
    t.set_cell_decorator(FrameCellDecorator::new(false, true, false));
    t.row()
        .element(cellule(gauche))
        .element(cellule(droite))
        .push()?;
    Ok(t)
}

/// One row per subject, then the totals.
fn notes(b: &BulletinPdf) -> Result<Table, PdfError> {
    use Alignment::{Center, Left};
    let colonnes = [
        Column::new("Matière", 20, Left),
        Column::new("Coef.", 7, Center),
        Column::new("Moyenne", 9, Center),
        Column::new("Points", 9, Center),
        Column::new("Rang", 8, Center),
        Column::new("Moy. classe", 9, Center),
        Column::new("Appréciation", 17, Left),
        Column::new("Professeur", 17, Left),
    ];
    let mut t = Table::new(&colonnes, Style::new())?;
    for l in &b.lignes {
        let coefficient = l.coefficient.to_string();
        t.row(&[
            l.matiere.as_str(),
            &coefficient,
            l.moyenne.as_deref().unwrap_or(NC),
            l.points.as_deref().unwrap_or(NONE),
            l.rang.as_deref().unwrap_or(NC),
            l.moyenne_classe.as_deref().unwrap_or(NONE),
            &l.appreciation,
            &l.enseignant,
        ])?;
    }
    let total = b.total_coefficients.to_string();
    t.row_styled(
        &["Total", &total, "", &b.total_points, "", "", "", ""],
        Style::new().bold(),
    )?;
    Ok(t)
}

/// The pupil's results (left) and the class statistics (right), then the annual result.
fn synthese(b: &BulletinPdf) -> Result<impl Element + use<>, PdfError> {
    let sur = |v: &Option<String>| match v {
        Some(v) => format!("{v} / {}", b.bareme),
        None => NC.to_string(),
    };
    let mut gauche = LinearLayout::vertical();
    gauche.push(
        champ("Moyenne générale : ", &sur(&b.moyenne_generale))
            .styled(Style::new().with_font_size(10)),
    );
    let rang = format!("{} / {}", b.rang.as_deref().unwrap_or(NC), b.effectif);
    gauche.push(champ("Rang : ", &rang));
    if let Some(mention) = &b.mention {
        gauche.push(champ("Mention : ", mention));
    }
    if b.tableau_honneur {
        gauche.push(text("Tableau d'honneur").styled(Style::new().bold()));
    }
    gauche.push(
        champ("Absences non justifiées : ", &b.absences.to_string())
            .run("     justifiées : ", Style::new())
            .run(&b.absences_justifiees.to_string(), Style::new().bold()),
    );
    gauche.push(champ("Retards : ", &b.retards.to_string()));

    let stat = |v: &Option<String>| v.as_deref().unwrap_or(NONE).to_string();
    let mut droite = LinearLayout::vertical();
    droite.push(text("Statistiques de la classe").styled(Style::new().bold()));
    droite.push(champ("Moyenne de la classe : ", &stat(&b.moyenne_classe)));
    droite.push(champ("Plus forte moyenne : ", &stat(&b.moyenne_max)));
    droite.push(champ("Plus faible moyenne : ", &stat(&b.moyenne_min)));
    droite.push(champ("Effectif : ", &b.effectif.to_string()));

    let mut t = TableLayout::new(vec![1, 1]);
    t.set_cell_decorator(FrameCellDecorator::new(true, true, false));
    t.row()
        .element(cellule(gauche))
        .element(cellule(droite))
        .push()?;
    if let Some(annuel) = &b.annuel {
        let moyenne = match &annuel.moyenne {
            Some(m) => format!("{m} / {}", b.bareme),
            None => "incomplète".to_string(),
        };
        let mut decision = LinearLayout::vertical();
        match &annuel.decision {
            Some(d) if annuel.decision_du_conseil => {
                decision.push(champ("Décision du conseil de classe : ", d))
            }
            Some(d) => decision.push(champ("Décision : ", d)),
            None => {}
        }
        t.row()
            .element(cellule(champ("Moyenne annuelle : ", &moyenne)))
            .element(cellule(decision))
            .push()?;
    }
    if let Some(conseil) = &b.conseil {
        let mut bloc = LinearLayout::vertical();
        if !conseil.appreciation.trim().is_empty() {
            bloc.push(champ("Conseil de classe : ", &conseil.appreciation));
        }
        if let Some(distinction) = &conseil.distinction {
            bloc.push(champ("Distinction ou sanction : ", distinction));
        }
        t.row()
            .element(cellule(bloc))
            .element(cellule(text("")))
            .push()?;
    }
    Ok(t)
}

/// Place and date, then the two signature blocks.
fn signatures(b: &BulletinPdf) -> Result<impl Element + use<>, PdfError> {
    let mut out = LinearLayout::vertical();
    out.push(text(&format!("Fait à {}, le {}", b.fait_a, b.fait_le)).aligned(Alignment::Right));
    out.push(Break::new(0.8));
    let bloc = |titre: &str, nom: Option<&str>| {
        let mut l = LinearLayout::vertical();
        l.push(centered(titre).styled(Style::new().bold()));
        if let Some(nom) = nom.filter(|n| !n.trim().is_empty()) {
            l.push(centered(nom));
        }
        l
    };
    let mut t = TableLayout::new(vec![1, 1]);
    t.row()
        .element(bloc(
            "Le professeur principal",
            b.professeur_principal.as_deref(),
        ))
        .element(bloc("Le directeur", Some(&b.entete.directeur)))
        .push()?;
    out.push(t);
    Ok(out)
}
