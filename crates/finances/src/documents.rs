//! The invoice and receipt PDFs (`finances.generer_facture_pdf`, `finances.generer_recu_pdf`),
//! laid out with the shared `ecole-pdf` helpers under the school's header, and stored under
//! the media root by id (`factures/<year>/<id>.pdf`, `recus/<year>/<id>.pdf`).
//!
//! The invoice is the document as issued (lines, total, due date, the total in words); a
//! cancelled one is rendered again, marked `ANNULÉE`. The receipt states the amount received,
//! in figures and in words, and where the invoice stood right after that payment.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::DomainError;
use ecole_db::enums::{ModePaiement, StatutFacture};
use ecole_db::schema::{
    annees_scolaires, classes, eleves, etablissement, factures, lignes_facture, paiements, users,
};
use ecole_jobs::payloads::{GenererFacturePdf, GenererRecuPdf};
use ecole_jobs::{JobContext, JobError};
use ecole_pdf::genpdf::elements::{Break, FrameCellDecorator, LinearLayout, TableLayout};
use ecole_pdf::genpdf::style::Style;
use ecole_pdf::genpdf::{Alignment, Element, Margins};
use ecole_pdf::{Column, Entete, Logo, PdfError, Table, TextBlock, centered, render, text};
use serde_json::{Value, json};

use crate::montants::{format_gnf, gnf_en_lettres};

const MOIS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `26 novembre 2026`, `1er mars 2027`.
pub fn date_longue(d: NaiveDate) -> String {
    let jour = match d.day() {
        1 => "1er".to_string(),
        n => n.to_string(),
    };
    let mois = MOIS.get(d.month0() as usize).copied().unwrap_or("");
    format!("{jour} {mois} {}", d.year())
}

/// One line of an invoice, as printed.
#[derive(Debug, Clone, Default)]
pub struct LignePdf {
    pub libelle: String,
    pub quantite: i32,
    pub prix_unitaire: i64,
    pub montant: i64,
}

/// An invoice, ready to print.
#[derive(Debug, Clone, Default)]
pub struct FacturePdf {
    pub entete: Entete,
    pub numero: String,
    pub annulee: bool,
    pub date_emission: NaiveDate,
    pub date_echeance: NaiveDate,
    pub annee_scolaire: String,
    pub eleve_nom: String,
    pub matricule: String,
    pub classe: Option<String>,
    pub lignes: Vec<LignePdf>,
    pub montant_total: i64,
}

/// A receipt, ready to print.
#[derive(Debug, Clone, Default)]
pub struct RecuPdf {
    pub entete: Entete,
    pub numero: String,
    pub date_paiement: NaiveDate,
    pub annee_scolaire: String,
    pub eleve_nom: String,
    pub matricule: String,
    pub classe: Option<String>,
    pub facture_numero: String,
    pub montant: i64,
    pub mode: String,
    pub reference: String,
    pub facture_total: i64,
    /// Paid on the invoice up to and including this payment.
    pub paye_cumule: i64,
    pub enregistre_par: String,
}

/// `label` then `value` in bold.
fn champ(label: &str, value: &str) -> TextBlock {
    TextBlock::new(label, Style::new()).run(value, Style::new().bold())
}

fn cellule(content: impl Element + 'static) -> impl Element {
    content.padded(Margins::trbl(1.2, 2.0, 1.0, 2.0))
}

/// Two framed columns of fields.
fn cadre(
    gauche: Vec<(&str, String)>,
    droite: Vec<(&str, String)>,
) -> Result<impl Element + use<>, PdfError> {
    let colonne = |fields: Vec<(&str, String)>| {
        let mut l = LinearLayout::vertical();
        for (label, value) in fields {
            l.push(champ(label, &value));
        }
        l
    };
    let mut t = TableLayout::new(vec![1, 1]);
    t.set_cell_decorator(FrameCellDecorator::new(false, true, false));
    t.row()
        .element(cellule(colonne(gauche)))
        .element(cellule(colonne(droite)))
        .push()
        .map_err(PdfError::from)?;
    Ok(t)
}

fn signature(entete: &Entete, titre: &str, date: NaiveDate) -> LinearLayout {
    let mut out = LinearLayout::vertical();
    let ville = if entete.ville.trim().is_empty() {
        "Conakry"
    } else {
        entete.ville.trim()
    };
    out.push(text(&format!("Fait à {ville}, le {}", date_longue(date))).aligned(Alignment::Right));
    out.push(Break::new(0.6));
    out.push(TextBlock::new(titre, Style::new().bold()).aligned(Alignment::Right));
    out
}

/// Renders an invoice (pure CPU: call it from `spawn_blocking`).
pub fn render_facture(f: &FacturePdf) -> Result<Vec<u8>, PdfError> {
    let titre = format!("Facture n° {}", f.numero);
    let mut doc = ecole_pdf::start_document(&format!("{titre} — {}", f.eleve_nom), &f.entete)?;
    doc.push(centered(&titre.to_uppercase()).styled(Style::new().bold().with_font_size(13)));
    doc.push(centered(&format!("Année scolaire {}", f.annee_scolaire)));
    if f.annulee {
        doc.push(Break::new(0.4));
        doc.push(
            centered("ANNULÉE").styled(
                Style::new()
                    .bold()
                    .with_font_size(16)
                    .with_color(ecole_pdf::genpdf::style::Color::Rgb(180, 20, 20)),
            ),
        );
    }
    doc.push(Break::new(0.6));
    doc.push(cadre(
        vec![
            ("Élève : ", f.eleve_nom.clone()),
            ("Matricule : ", f.matricule.clone()),
            ("Classe : ", f.classe.clone().unwrap_or_else(|| "—".into())),
        ],
        vec![
            ("Date d'émission : ", date_longue(f.date_emission)),
            ("Date d'échéance : ", date_longue(f.date_echeance)),
        ],
    )?);
    doc.push(Break::new(0.8));
    let mut t = Table::new(
        &[
            Column::new("Désignation", 12, Alignment::Left),
            Column::new("Quantité", 3, Alignment::Center),
            Column::new("Prix unitaire", 5, Alignment::Right),
            Column::new("Montant", 5, Alignment::Right),
        ],
        Style::new(),
    )?;
    for l in &f.lignes {
        t.row(&[
            l.libelle.clone(),
            l.quantite.to_string(),
            format_gnf(l.prix_unitaire),
            format_gnf(l.montant),
        ])?;
    }
    t.row_styled(
        &["Total à payer", "", "", &format_gnf(f.montant_total)],
        Style::new().bold(),
    )?;
    doc.push(t.into_layout());
    doc.push(Break::new(0.8));
    doc.push(
        TextBlock::new("Arrêtée la présente facture à la somme de : ", Style::new())
            .run(&gnf_en_lettres(f.montant_total), Style::new().bold())
            .run(
                &format!(" ({}).", format_gnf(f.montant_total)),
                Style::new(),
            ),
    );
    doc.push(Break::new(0.6));
    doc.push(
        text(&format!(
            "À régler au plus tard le {} : espèces à la caisse de l'établissement, Orange Money, \
             MTN Mobile Money, virement ou chèque. Rappelez le numéro {} à chaque paiement ; un \
             reçu vous sera remis.",
            date_longue(f.date_echeance),
            f.numero
        ))
        .styled(Style::new().with_font_size(8)),
    );
    doc.push(Break::new(1.0));
    doc.push(signature(&f.entete, "La comptabilité", f.date_emission));
    render(doc)
}

/// Renders a receipt (pure CPU: call it from `spawn_blocking`).
pub fn render_recu(r: &RecuPdf) -> Result<Vec<u8>, PdfError> {
    let titre = format!("Reçu de paiement n° {}", r.numero);
    let mut doc = ecole_pdf::start_document(&format!("{titre} — {}", r.eleve_nom), &r.entete)?;
    doc.push(centered(&titre.to_uppercase()).styled(Style::new().bold().with_font_size(13)));
    doc.push(centered(&format!("Année scolaire {}", r.annee_scolaire)));
    doc.push(Break::new(0.6));
    doc.push(cadre(
        vec![
            ("Élève : ", r.eleve_nom.clone()),
            ("Matricule : ", r.matricule.clone()),
            ("Classe : ", r.classe.clone().unwrap_or_else(|| "—".into())),
        ],
        vec![
            ("Date du paiement : ", date_longue(r.date_paiement)),
            ("Facture : ", r.facture_numero.clone()),
            ("Mode de paiement : ", r.mode.clone()),
            (
                "Référence : ",
                if r.reference.is_empty() {
                    "—".into()
                } else {
                    r.reference.clone()
                },
            ),
        ],
    )?);
    doc.push(Break::new(0.8));
    doc.push(
        champ("Montant reçu : ", &format_gnf(r.montant)).styled(Style::new().with_font_size(12)),
    );
    doc.push(Break::new(0.3));
    doc.push(champ("Soit : ", &gnf_en_lettres(r.montant)));
    doc.push(Break::new(0.8));
    let reste = r.facture_total - r.paye_cumule;
    let mut t = Table::new(
        &[
            Column::new("Facture", 6, Alignment::Left),
            Column::new("Montant total", 5, Alignment::Right),
            Column::new("Total payé à ce jour", 5, Alignment::Right),
            Column::new("Reste à payer", 5, Alignment::Right),
        ],
        Style::new(),
    )?;
    t.row(&[
        r.facture_numero.clone(),
        format_gnf(r.facture_total),
        format_gnf(r.paye_cumule),
        format_gnf(reste),
    ])?;
    doc.push(t.into_layout());
    if reste == 0 {
        doc.push(Break::new(0.4));
        doc.push(text("Facture entièrement réglée.").styled(Style::new().bold()));
    }
    doc.push(Break::new(0.6));
    doc.push(champ("Enregistré par : ", &r.enregistre_par));
    doc.push(Break::new(1.0));
    doc.push(signature(&r.entete, "Le caissier", r.date_paiement));
    render(doc)
}

/// The school's header, its logo read from the media root when one is set (a missing or
/// unreadable logo is left out, never fatal).
pub async fn entete(
    conn: &mut AsyncPgConnection,
    media_root: &std::path::Path,
) -> Result<Entete, DomainError> {
    type E = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
    );
    let e: Option<E> = etablissement::table
        .select((
            etablissement::nom,
            etablissement::adresse,
            etablissement::telephone,
            etablissement::email,
            etablissement::devise,
            etablissement::ville,
            etablissement::directeur,
            etablissement::logo,
        ))
        .order(etablissement::id)
        .first(conn)
        .await
        .optional()?;
    let Some((nom, adresse, telephone, email, devise, ville, directeur, logo)) = e else {
        return Ok(Entete::default());
    };
    let logo = match logo.and_then(|l| ecole_core::media::resolve(media_root, &l)) {
        Some(path) => match tokio::fs::read(&path).await {
            Ok(bytes) => Some(Logo::new(bytes)),
            Err(e) => {
                tracing::warn!(fichier = %path.display(), error.cause = %e, "logo illisible : PDF sans logo");
                None
            }
        },
        None => None,
    };
    Ok(Entete {
        nom,
        adresse,
        telephone,
        email,
        devise,
        ville,
        directeur,
        logo,
    })
}

async fn rendre<T: Send + 'static>(
    data: T,
    f: fn(&T) -> Result<Vec<u8>, PdfError>,
) -> Result<Vec<u8>, JobError> {
    tokio::task::spawn_blocking(move || f(&data))
        .await
        .map_err(|e| JobError::retry(format!("rendu du PDF interrompu : {e}")))?
        .map_err(|e| JobError::retry(e.to_string()))
}

async fn ecrire(ctx: &JobContext, relative: &str, bytes: &[u8]) -> Result<(), JobError> {
    ecole_core::media::write_atomic(&ctx.settings.media_root, relative, bytes)
        .await
        .map_err(|e| JobError::retry(format!("écriture de {relative} impossible : {e}")))?;
    Ok(())
}

type FactureRow = (
    (
        Option<String>,
        StatutFacture,
        Option<NaiveDate>,
        NaiveDate,
        i64,
        i64,
    ),
    (String, String, String),
    Option<String>,
    String,
);

/// `finances.generer_facture_pdf(facture_id)`: renders the invoice as it stands and stores it.
/// Runs of one invoice are serialised (an advisory lock), so the last file reflects the last
/// state even when issue and cancellation jobs run at once.
pub async fn generer_facture_pdf(ctx: JobContext) -> Result<Value, JobError> {
    let args: GenererFacturePdf = ctx.payload()?;
    let id = args.facture_id;
    let mut conn = ctx.pool.get().await?;
    let entete = entete(&mut conn, &ctx.settings.media_root).await?;
    let ctx2 = ctx.clone();
    conn.transaction::<_, JobError, _>(async move |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("facture_pdf:{id}"))
            .execute(conn)
            .await?;
        let row: Option<FactureRow> = factures::table
            .inner_join(
                eleves::table
                    .inner_join(users::table)
                    .left_join(classes::table),
            )
            .inner_join(annees_scolaires::table)
            .filter(factures::id.eq(id))
            .select((
                (
                    factures::numero,
                    factures::statut,
                    factures::date_emission,
                    factures::date_echeance,
                    factures::montant_total,
                    factures::annee_scolaire_id,
                ),
                (eleves::matricule, users::first_name, users::last_name),
                classes::nom.nullable(),
                annees_scolaires::nom,
            ))
            .first(conn)
            .await
            .optional()?;
        let Some((
            (numero, statut, emission, echeance, total, annee),
            (matricule, f, l),
            classe,
            annee_nom,
        )) = row
        else {
            return Err(JobError::fatal(format!("facture {id} introuvable")));
        };
        let (Some(numero), Some(emission)) = (numero, emission) else {
            return Err(JobError::fatal(format!(
                "la facture {id} est un brouillon : pas de PDF avant son émission"
            )));
        };
        let lignes: Vec<(String, i32, i64, i64)> = lignes_facture::table
            .filter(lignes_facture::facture_id.eq(id))
            .select((
                lignes_facture::libelle,
                lignes_facture::quantite,
                lignes_facture::prix_unitaire,
                lignes_facture::montant,
            ))
            .order(lignes_facture::id)
            .load(conn)
            .await?;
        let data = FacturePdf {
            entete,
            numero: numero.clone(),
            annulee: statut == StatutFacture::Annulee,
            date_emission: emission,
            date_echeance: echeance,
            annee_scolaire: annee_nom,
            eleve_nom: format!("{f} {l}").trim().to_string(),
            matricule,
            classe,
            lignes: lignes
                .into_iter()
                .map(|(libelle, quantite, prix_unitaire, montant)| LignePdf {
                    libelle,
                    quantite,
                    prix_unitaire,
                    montant,
                })
                .collect(),
            montant_total: total,
        };
        let bytes = rendre(data, render_facture).await?;
        let relative = format!("factures/{annee}/{id}.pdf");
        ecrire(&ctx2, &relative, &bytes).await?;
        diesel::update(factures::table.find(id))
            .set(factures::fichier_pdf.eq(&relative))
            .execute(conn)
            .await?;
        Ok(json!({"facture_id": id, "numero": numero, "fichier": relative, "octets": bytes.len()}))
    })
    .await
}

type RecuRow = (
    (i64, i64, ModePaiement, String, NaiveDate, String, i64),
    (Option<String>, i64, i64),
    (String, String, String),
    Option<String>,
    String,
);

/// `finances.generer_recu_pdf(paiement_id)`: renders the receipt and stores it.
pub async fn generer_recu_pdf(ctx: JobContext) -> Result<Value, JobError> {
    let args: GenererRecuPdf = ctx.payload()?;
    let id = args.paiement_id;
    let mut conn = ctx.pool.get().await?;
    let conn = &mut *conn;
    let row: Option<RecuRow> = paiements::table
        .inner_join(
            factures::table
                .inner_join(
                    eleves::table
                        .inner_join(users::table)
                        .left_join(classes::table),
                )
                .inner_join(annees_scolaires::table),
        )
        .filter(paiements::id.eq(id))
        .select((
            (
                paiements::facture_id,
                paiements::montant,
                paiements::mode,
                paiements::reference,
                paiements::date_paiement,
                paiements::recu_numero,
                paiements::enregistre_par,
            ),
            (
                factures::numero,
                factures::montant_total,
                factures::annee_scolaire_id,
            ),
            (eleves::matricule, users::first_name, users::last_name),
            classes::nom.nullable(),
            annees_scolaires::nom,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((
        (facture, montant, mode, reference, date, numero, par),
        (facture_numero, total, annee),
        (matricule, first, last),
        classe,
        annee_nom,
    )) = row
    else {
        return Err(JobError::fatal(format!("paiement {id} introuvable")));
    };
    // Paid up to and including this payment: the receipt never changes afterwards.
    let cumule_exact: i64 = paiements::table
        .filter(paiements::facture_id.eq(facture))
        .filter(paiements::id.le(id))
        .select(paiements::montant)
        .load::<i64>(conn)
        .await?
        .iter()
        .sum();
    let (pf, pl): (String, String) = users::table
        .find(par)
        .select((users::first_name, users::last_name))
        .first(conn)
        .await?;
    let data = RecuPdf {
        entete: entete(conn, &ctx.settings.media_root).await?,
        numero: numero.clone(),
        date_paiement: date,
        annee_scolaire: annee_nom,
        eleve_nom: format!("{first} {last}").trim().to_string(),
        matricule,
        classe,
        facture_numero: facture_numero.unwrap_or_default(),
        montant,
        mode: mode.libelle().to_string(),
        reference,
        facture_total: total,
        paye_cumule: cumule_exact,
        enregistre_par: format!("{pf} {pl}").trim().to_string(),
    };
    let bytes = rendre(data, render_recu).await?;
    let relative = format!("recus/{annee}/{id}.pdf");
    ecrire(&ctx, &relative, &bytes).await?;
    diesel::update(paiements::table.find(id))
        .set(paiements::fichier_pdf.eq(&relative))
        .execute(conn)
        .await?;
    Ok(json!({"paiement_id": id, "numero": numero, "fichier": relative, "octets": bytes.len()}))
}
