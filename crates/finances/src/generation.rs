//! `factures/generer/` → `finances.generer_factures`: the invoices of a level or a class from
//! the year's fee schedule. One invoice per active pupil, with one line per fee that pupil was
//! not billed yet (a fee on an invoice that is not cancelled counts as billed): running it
//! again, or twice at once, bills nothing twice. Issued at once by default (numbers taken in
//! pupil order, PDF jobs in the same transaction). Pupils are handled 250 per transaction,
//! with progress.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, time};
use ecole_db::enums::{Niveau, StatutEleve, StatutFacture};
use ecole_db::schema::{
    annees_scolaires, classes, eleves, factures, frais_scolarite, lignes_facture, users,
};
use ecole_jobs::payloads::GenererFactures;
use ecole_jobs::{JobContext, JobError, NewJob, enqueue, enqueue_many};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::exiger_caisse;
use crate::factures::{ECHEANCE_PAR_DEFAUT_JOURS, pdf_job};
use crate::numerotation::{self, Serie};

/// Pupils per transaction.
const LOT: usize = 250;

/// `POST factures/generer/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenererInput {
    pub annee_scolaire: i64,
    /// Every class of this level in the year…
    #[serde(default)]
    pub niveau: Option<Niveau>,
    /// …or one class (exactly one of the two).
    #[serde(default)]
    pub classe: Option<i64>,
    /// 30 days from today when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_echeance: Option<NaiveDate>,
    /// Issue the invoices at once (default); `false` leaves drafts to review.
    #[serde(default = "vrai")]
    pub emettre: bool,
}

fn vrai() -> bool {
    true
}

/// Checks the request and asks for the job (ADMIN, DIRECTION, COMPTABLE); returns its id.
pub async fn demander_generation(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &GenererInput,
) -> DomainResult<i64> {
    exiger_caisse(actor)?;
    let mut errors = FieldErrors::new();
    let annee: Option<i64> = annees_scolaires::table
        .find(input.annee_scolaire)
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .optional()?;
    if annee.is_none() {
        errors.add("annee_scolaire", "Année scolaire introuvable.");
    }
    let niveau = match (input.niveau, input.classe) {
        (Some(_), Some(_)) | (None, None) => {
            errors.add(
                "non_field_errors",
                "Indiquez soit un niveau, soit une classe.",
            );
            None
        }
        (Some(n), None) => Some(n),
        (None, Some(classe)) => {
            let row: Option<(i64, Niveau)> = classes::table
                .find(classe)
                .select((classes::annee_scolaire_id, classes::niveau))
                .first(conn)
                .await
                .optional()?;
            match row {
                None => {
                    errors.add("classe", "Classe introuvable.");
                    None
                }
                Some((a, _)) if a != input.annee_scolaire => {
                    errors.add(
                        "classe",
                        "Cette classe n'appartient pas à cette année scolaire.",
                    );
                    None
                }
                Some((_, n)) => Some(n),
            }
        }
    };
    if let (Some(niveau), Some(_)) = (niveau, annee) {
        let frais: i64 = frais_scolarite::table
            .filter(frais_scolarite::annee_scolaire_id.eq(input.annee_scolaire))
            .filter(frais_scolarite::niveau.eq(niveau))
            .count()
            .get_result(conn)
            .await?;
        if frais == 0 {
            errors.add(
                "non_field_errors",
                format!(
                    "Aucun frais n'est défini pour le niveau {} cette année : complétez d'abord la grille des frais.",
                    niveau.as_str()
                ),
            );
        }
    }
    if let Some(d) = input.date_echeance
        && input.emettre
        && d < time::today()
    {
        errors.add("date_echeance", "L'échéance ne peut pas être déjà passée.");
    }
    errors.into_result()?;
    let job = NewJob::of(&GenererFactures {
        annee_scolaire_id: input.annee_scolaire,
        niveau: input.niveau.map(|n| n.as_str().to_string()),
        classe_id: input.classe,
        date_echeance: input.date_echeance,
        emettre: input.emettre,
    })?
    .requested_by(Some(actor.user_id));
    enqueue(conn, job).await
}

/// A fee to bill: id, label, amount.
type FraisLigne = (i64, String, i64);

/// What one batch did.
#[derive(Debug, Default, Clone, Copy)]
struct Lot {
    factures: usize,
    a_jour: usize,
}

/// One batch of pupils in one transaction.
async fn facturer_lot(
    conn: &mut AsyncPgConnection,
    annee: i64,
    pupils: &[i64],
    frais: &[FraisLigne],
    echeance: NaiveDate,
    emettre: bool,
    requested_by: Option<i64>,
) -> DomainResult<Lot> {
    let pupils = pupils.to_vec();
    let frais = frais.to_vec();
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // Runs for the same year wait for each other: what is billed is read after the lock.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("factures:generer:{annee}"))
            .execute(conn)
            .await?;
        let frais_ids: Vec<i64> = frais.iter().map(|f| f.0).collect();
        let deja: HashSet<(i64, i64)> = lignes_facture::table
            .inner_join(factures::table)
            .filter(factures::eleve_id.eq_any(&pupils))
            .filter(factures::statut.ne(StatutFacture::Annulee))
            .filter(lignes_facture::frais_id.eq_any(&frais_ids))
            .select((
                factures::eleve_id,
                lignes_facture::frais_id.assume_not_null(),
            ))
            .load::<(i64, i64)>(conn)
            .await?
            .into_iter()
            .collect();
        let a_facturer: Vec<(i64, Vec<&FraisLigne>)> = pupils
            .iter()
            .map(|e| {
                (
                    *e,
                    frais
                        .iter()
                        .filter(|f| !deja.contains(&(*e, f.0)))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, f)| !f.is_empty())
            .collect();
        let lot = Lot {
            factures: a_facturer.len(),
            a_jour: pupils.len() - a_facturer.len(),
        };
        if a_facturer.is_empty() {
            return Ok(lot);
        }
        let today = time::today();
        let annee_num = numerotation::annee_courante();
        let premier = if emettre {
            numerotation::prendre(conn, Serie::Facture, annee_num, a_facturer.len() as i64).await?
        } else {
            0
        };
        let rows: Vec<_> = a_facturer
            .iter()
            .enumerate()
            .map(|(i, (eleve, fees))| {
                let total: i64 = fees.iter().map(|f| f.2).sum();
                (
                    factures::eleve_id.eq(*eleve),
                    factures::annee_scolaire_id.eq(annee),
                    factures::date_echeance.eq(echeance),
                    factures::montant_total.eq(total),
                    factures::statut.eq(if emettre {
                        StatutFacture::Emise
                    } else {
                        StatutFacture::Brouillon
                    }),
                    factures::numero.eq(emettre.then(|| {
                        numerotation::formater(Serie::Facture, annee_num, premier + i as i64)
                    })),
                    factures::date_emission.eq(emettre.then_some(today)),
                )
            })
            .collect();
        let created: Vec<(i64, i64, Option<String>, i64)> = diesel::insert_into(factures::table)
            .values(&rows)
            .returning((
                factures::id,
                factures::eleve_id,
                factures::numero,
                factures::montant_total,
            ))
            .get_results(conn)
            .await?;
        let by_pupil: HashMap<i64, i64> = created.iter().map(|(id, e, _, _)| (*e, *id)).collect();
        let lignes: Vec<_> = a_facturer
            .iter()
            .flat_map(|(eleve, fees)| {
                let facture = by_pupil.get(eleve).copied().unwrap_or_default();
                fees.iter().map(move |(frais, libelle, montant)| {
                    (
                        lignes_facture::facture_id.eq(facture),
                        lignes_facture::frais_id.eq(Some(*frais)),
                        lignes_facture::libelle.eq(libelle.clone()),
                        lignes_facture::quantite.eq(1),
                        lignes_facture::prix_unitaire.eq(*montant),
                        lignes_facture::montant.eq(*montant),
                    )
                })
            })
            .collect();
        diesel::insert_into(lignes_facture::table)
            .values(&lignes)
            .execute(conn)
            .await?;
        if emettre {
            let jobs = created
                .iter()
                .map(|(id, _, _, _)| pdf_job(*id, requested_by))
                .collect::<DomainResult<Vec<_>>>()?;
            enqueue_many(conn, &jobs).await?;
        }
        let entries: Vec<AuditEntry<'_>> = created
            .iter()
            .map(|(id, eleve, numero, total)| AuditEntry {
                actor: None,
                action: AuditAction::Create,
                table: "factures",
                row_id: Some(*id),
                before: None,
                after: Some(json!({
                    "eleve_id": eleve,
                    "annee_scolaire_id": annee,
                    "numero": numero,
                    "montant_total": total,
                    "date_echeance": echeance,
                    "statut": if emettre { "EMISE" } else { "BROUILLON" },
                    "origine": "finances.generer_factures",
                })),
            })
            .collect();
        audit::record_many_as(conn, requested_by, entries).await?;
        Ok(lot)
    })
    .await
}

/// `finances.generer_factures`: progress is the number of pupils handled.
pub async fn generer_factures(ctx: JobContext) -> Result<Value, JobError> {
    let args: GenererFactures = ctx.payload()?;
    let requested_by: Option<i64> = {
        use ecole_db::schema::jobs;
        let mut conn = ctx.pool.get().await?;
        jobs::table
            .find(ctx.job_id)
            .select(jobs::requested_by)
            .first(&mut conn)
            .await?
    };
    let mut conn = ctx.pool.get().await?;
    let annee = args.annee_scolaire_id;
    let niveau: Niveau = match (&args.niveau, args.classe_id) {
        (Some(n), None) => n
            .parse()
            .map_err(|_| JobError::fatal(format!("niveau inconnu : {n}")))?,
        (None, Some(classe)) => classes::table
            .find(classe)
            .select(classes::niveau)
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| JobError::fatal(format!("classe {classe} introuvable")))?,
        _ => {
            return Err(JobError::fatal(
                "arguments invalides : soit « niveau », soit « classe_id »",
            ));
        }
    };
    let frais: Vec<FraisLigne> = frais_scolarite::table
        .filter(frais_scolarite::annee_scolaire_id.eq(annee))
        .filter(frais_scolarite::niveau.eq(niveau))
        .select((
            frais_scolarite::id,
            frais_scolarite::libelle,
            frais_scolarite::montant,
        ))
        .order(frais_scolarite::id)
        .load(&mut conn)
        .await?;
    // Active pupils of the class, or of every class of the level that year, in class and
    // name order (the order numbers are given in).
    let mut q = eleves::table
        .inner_join(users::table)
        .inner_join(classes::table)
        .filter(classes::annee_scolaire_id.eq(annee))
        .filter(eleves::statut.eq(StatutEleve::Actif))
        .into_boxed();
    q = match args.classe_id {
        Some(c) => q.filter(classes::id.eq(c)),
        None => q.filter(classes::niveau.eq(niveau)),
    };
    let pupils: Vec<i64> = q
        .select(eleves::id)
        .order((
            classes::nom.asc(),
            users::last_name.asc(),
            users::first_name.asc(),
            eleves::id.asc(),
        ))
        .load(&mut conn)
        .await?;
    let today = time::today();
    let echeance = args.date_echeance.unwrap_or_else(|| {
        today
            .checked_add_days(Days::new(ECHEANCE_PAR_DEFAUT_JOURS))
            .unwrap_or(today)
    });
    let total = pupils.len() as i32;
    ctx.progress(0, Some(total)).await?;
    let mut bilan = Lot::default();
    if !frais.is_empty() {
        for (i, lot) in pupils.chunks(LOT).enumerate() {
            let fait = facturer_lot(
                &mut conn,
                annee,
                lot,
                &frais,
                echeance,
                args.emettre,
                requested_by,
            )
            .await?;
            bilan.factures += fait.factures;
            bilan.a_jour += fait.a_jour;
            ctx.progress(((i * LOT) + lot.len()) as i32, Some(total))
                .await?;
        }
    }
    Ok(json!({
        "eleves": pupils.len(),
        "factures": bilan.factures,
        "eleves_deja_factures": bilan.a_jour,
        "frais": frais.len(),
        "emises": args.emettre,
        "date_echeance": echeance,
    }))
}
