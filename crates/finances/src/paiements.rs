//! Payments (`factures/<id>/paiements/`, `paiements/`) and their receipts.
//!
//! Recording one is a single transaction: claim the `Idempotency-Key` (if any), lock the
//! invoice row (`FOR UPDATE`), check its status and what remains, take the next receipt
//! number, insert the payment, update `montant_paye` and `statut`, write the audit rows, ask
//! for the receipt PDF and notify the parents. Two concurrent payments on one invoice run one
//! after the other, so their sum can never exceed the invoice; a refused payment changes
//! nothing.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_communication::{NouvelleNotification, TypeNotification, parents_eleves};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::time::{self, serde_conakry};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::{ModePaiement, StatutFacture};
use ecole_db::schema::{eleves, factures, paiements, users};
use ecole_jobs::payloads::GenererRecuPdf;
use ecole_jobs::{NewJob, enqueue};
use serde::{Deserialize, Serialize};

use crate::factures::{Facture, verrouiller};
use crate::idempotence::{self, Reponse, Revendication};
use crate::montants::{MONTANT_MAX, format_gnf};
use crate::numerotation::{self, Serie};
use crate::{Acces, exiger_caisse};

/// `POST factures/<id>/paiements/`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaiementInput {
    /// GNF, > 0 and at most what remains to pay.
    pub montant: i64,
    pub mode: ModePaiement,
    /// The operator's reference (transaction id, transfer, cheque number); required for every
    /// mode but `ESPECES`.
    #[serde(default)]
    pub reference: String,
    /// Today (Conakry) when absent; never in the future.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_paiement: Option<NaiveDate>,
}

/// `POST paiements/`: the same, naming the invoice.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NouveauPaiement {
    pub facture: i64,
    pub montant: i64,
    pub mode: ModePaiement,
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_paiement: Option<NaiveDate>,
}

impl NouveauPaiement {
    pub fn separer(self) -> (i64, PaiementInput) {
        (
            self.facture,
            PaiementInput {
                montant: self.montant,
                mode: self.mode,
                reference: self.reference,
                date_paiement: self.date_paiement,
            },
        )
    }
}

/// A payment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaiementOut {
    pub id: i64,
    pub facture: i64,
    pub facture_numero: Option<String>,
    pub eleve: i64,
    pub eleve_nom: String,
    pub matricule: String,
    pub montant: i64,
    pub mode: ModePaiement,
    /// `Orange Money`, `Espèces`…
    pub mode_libelle: String,
    pub reference: String,
    #[schema(value_type = String, format = Date)]
    pub date_paiement: NaiveDate,
    /// `REC-2026-000045`.
    pub recu_numero: String,
    /// `/api/v1/paiements/<id>/recu/` once the receipt PDF exists.
    pub recu_url: Option<String>,
    pub enregistre_par: i64,
    pub enregistre_par_nom: String,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// The answer to a recorded payment: the payment and where its invoice now stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaiementEnregistre {
    #[serde(flatten)]
    pub paiement: PaiementOut,
    pub facture_statut: StatutFacture,
    pub facture_montant_paye: i64,
    pub facture_montant_restant: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaiementOrdering {
    DatePaiement,
    Montant,
    RecuNumero,
}

impl PaiementOrdering {
    pub const FIELDS: &'static [&'static str] = &["date_paiement", "montant", "recu_numero"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "date_paiement" => Self::DatePaiement,
            "montant" => Self::Montant,
            "recu_numero" => Self::RecuNumero,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct PaiementFilter {
    pub facture: Option<i64>,
    pub eleve: Option<i64>,
    pub annee_scolaire: Option<i64>,
    pub mode: Option<ModePaiement>,
    pub date_min: Option<NaiveDate>,
    pub date_max: Option<NaiveDate>,
    /// Receipt number, reference, pupil's names, matricule.
    pub search: Option<String>,
    pub ordering: Vec<(PaiementOrdering, bool)>,
}

type Source = diesel::helper_types::InnerJoin<
    paiements::table,
    diesel::helper_types::InnerJoin<
        factures::table,
        diesel::helper_types::InnerJoin<eleves::table, users::table>,
    >,
>;

type Boxed = diesel::helper_types::IntoBoxed<'static, Source, diesel::pg::Pg>;

fn scoped(acces: &Acces) -> Boxed {
    let q = paiements::table
        .inner_join(factures::table.inner_join(eleves::table.inner_join(users::table)))
        .into_boxed();
    match acces {
        Acces::Tout => q,
        Acces::Eleves(ids) => q.filter(factures::eleve_id.eq_any(ids.clone())),
    }
}

type Row = (
    (
        i64,
        i64,
        i64,
        ModePaiement,
        String,
        NaiveDate,
        String,
        i64,
        Option<String>,
        DateTime<Utc>,
    ),
    (Option<String>, i64),
    (String, String, String),
);

macro_rules! row_select {
    () => {
        (
            (
                paiements::id,
                paiements::facture_id,
                paiements::montant,
                paiements::mode,
                paiements::reference,
                paiements::date_paiement,
                paiements::recu_numero,
                paiements::enregistre_par,
                paiements::fichier_pdf,
                paiements::created_at,
            ),
            (factures::numero, factures::eleve_id),
            (eleves::matricule, users::first_name, users::last_name),
        )
    };
}

/// Rows to payments, with the names of who recorded them (one more query).
async fn to_out(conn: &mut AsyncPgConnection, rows: Vec<Row>) -> DomainResult<Vec<PaiementOut>> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0.7).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::first_name, users::last_name))
        .load::<(i64, String, String)>(conn)
        .await?
        .into_iter()
        .map(|(id, f, l)| (id, format!("{f} {l}").trim().to_string()))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(p, (facture_numero, eleve), (matricule, first, last))| {
            let (id, facture, montant, mode, reference, date_paiement, recu_numero, par, pdf, at) =
                p;
            PaiementOut {
                id,
                facture,
                facture_numero,
                eleve,
                eleve_nom: format!("{first} {last}").trim().to_string(),
                matricule,
                montant,
                mode,
                mode_libelle: mode.libelle().to_string(),
                reference,
                date_paiement,
                recu_numero,
                recu_url: pdf.map(|_| format!("/api/v1/paiements/{id}/recu/")),
                enregistre_par: par,
                enregistre_par_nom: names.get(&par).cloned().unwrap_or_default(),
                created_at: at,
            }
        })
        .collect())
}

/// `paiements/` and `factures/<id>/paiements/` (then `filter.facture` is set and an invoice
/// outside the scope is not found): 3 queries (4 for a family).
pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &PaiementFilter,
    page: PageRequest,
) -> DomainResult<Page<PaiementOut>> {
    let acces = Acces::for_list(conn, actor).await?;
    if let Some(facture) = filter.facture {
        crate::factures::get_out(conn, actor, facture).await?;
    }
    let base = || {
        let mut q = scoped(&acces);
        if let Some(v) = filter.facture {
            q = q.filter(paiements::facture_id.eq(v));
        }
        if let Some(v) = filter.eleve {
            q = q.filter(factures::eleve_id.eq(v));
        }
        if let Some(v) = filter.annee_scolaire {
            q = q.filter(factures::annee_scolaire_id.eq(v));
        }
        if let Some(v) = filter.mode {
            q = q.filter(paiements::mode.eq(v));
        }
        if let Some(v) = filter.date_min {
            q = q.filter(paiements::date_paiement.ge(v));
        }
        if let Some(v) = filter.date_max {
            q = q.filter(paiements::date_paiement.le(v));
        }
        if let Some(term) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
            let p = ecole_core::contains_pattern(term.trim());
            q = q.filter(
                paiements::recu_numero
                    .ilike(p.clone())
                    .or(paiements::reference.ilike(p.clone()))
                    .or(eleves::matricule.ilike(p.clone()))
                    .or(users::first_name.ilike(p.clone()))
                    .or(users::last_name.ilike(p)),
            );
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    if count <= page.offset() {
        return Ok(Page {
            count,
            results: Vec::new(),
            request: page,
        });
    }
    let mut q = base().select(row_select!());
    for (field, desc) in &filter.ordering {
        q = match (field, desc) {
            (PaiementOrdering::DatePaiement, false) => {
                q.then_order_by(paiements::date_paiement.asc())
            }
            (PaiementOrdering::DatePaiement, true) => {
                q.then_order_by(paiements::date_paiement.desc())
            }
            (PaiementOrdering::Montant, false) => q.then_order_by(paiements::montant.asc()),
            (PaiementOrdering::Montant, true) => q.then_order_by(paiements::montant.desc()),
            (PaiementOrdering::RecuNumero, false) => q.then_order_by(paiements::recu_numero.asc()),
            (PaiementOrdering::RecuNumero, true) => q.then_order_by(paiements::recu_numero.desc()),
        };
    }
    let rows: Vec<Row> = q
        .then_order_by(paiements::id.desc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: to_out(conn, rows).await?,
        request: page,
    })
}

async fn charger(
    conn: &mut AsyncPgConnection,
    acces: &Acces,
    id: i64,
) -> DomainResult<PaiementOut> {
    let row: Option<Row> = scoped(acces)
        .filter(paiements::id.eq(id))
        .select(row_select!())
        .first(conn)
        .await
        .optional()?;
    let row = row.ok_or(DomainError::NotFound)?;
    to_out(conn, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound)
}

/// `paiements/<id>/`.
pub async fn get(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<PaiementOut> {
    let acces = Acces::for_row(conn, actor).await?;
    charger(conn, &acces, id).await
}

/// The stored receipt of a payment in scope (path under the media root, download name).
pub async fn recu(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<(String, String)> {
    let acces = Acces::for_row(conn, actor).await?;
    let row: Option<(Option<String>, String)> = scoped(&acces)
        .filter(paiements::id.eq(id))
        .select((paiements::fichier_pdf, paiements::recu_numero))
        .first(conn)
        .await
        .optional()?;
    match row {
        Some((Some(fichier), numero)) => Ok((fichier, format!("recu_{numero}.pdf"))),
        _ => Err(DomainError::NotFound),
    }
}

/// Checks a payment's own fields (not yet the invoice's state).
fn valider(mut input: PaiementInput) -> DomainResult<PaiementInput> {
    let mut errors = FieldErrors::new();
    if input.montant <= 0 {
        errors.add("montant", "Le montant doit être positif (en GNF).");
    } else if input.montant > MONTANT_MAX {
        errors.add("montant", "Montant trop élevé.");
    }
    input.reference = input.reference.trim().to_string();
    if input.reference.chars().count() > 100 {
        errors.add("reference", "Au plus 100 caractères.");
    } else if input.reference.is_empty() && input.mode.exige_reference() {
        errors.add(
            "reference",
            format!(
                "La référence de l'opération est obligatoire pour un paiement par {}.",
                input.mode.libelle()
            ),
        );
    }
    let today = time::today();
    match input.date_paiement {
        Some(d) if d > today => {
            errors.add(
                "date_paiement",
                "La date du paiement ne peut pas être dans le futur.",
            );
        }
        Some(_) => {}
        None => input.date_paiement = Some(today),
    }
    errors.into_result()?;
    Ok(input)
}

/// Why an invoice cannot take this payment (400), if it cannot.
fn refus(facture: &Facture, montant: i64) -> Option<FieldErrors> {
    if !facture.statut.accepte_paiement() {
        let raison = match facture.statut {
            StatutFacture::Brouillon => {
                "Cette facture est un brouillon : émettez-la avant d'enregistrer un paiement."
                    .to_string()
            }
            StatutFacture::Annulee => "Cette facture est annulée : aucun paiement possible.".into(),
            _ => "Cette facture est déjà entièrement payée.".into(),
        };
        return Some(FieldErrors::single("non_field_errors", raison));
    }
    let reste = facture.montant_restant();
    if montant > reste {
        return Some(FieldErrors::single(
            "montant",
            format!(
                "Le montant dépasse ce qui reste à payer sur cette facture ({}).",
                format_gnf(reste)
            ),
        ));
    }
    None
}

/// The receipt PDF job of a payment.
pub(crate) fn recu_job(paiement: i64, requested_by: Option<i64>) -> DomainResult<NewJob> {
    Ok(NewJob::of(&GenererRecuPdf {
        paiement_id: paiement,
    })?
    .requested_by(requested_by))
}

/// `PAIEMENT_RECU` to each of `parents` (e-mail and SMS), in the caller's transaction.
async fn notifier_parents(
    conn: &mut AsyncPgConnection,
    parents: &[i64],
    paiement: &PaiementOut,
    facture: &Facture,
) -> DomainResult<()> {
    if parents.is_empty() {
        return Ok(());
    }
    let reste = facture.montant_restant();
    let suite = if reste == 0 {
        "La facture est entièrement réglée.".to_string()
    } else {
        format!("Reste à payer : {}.", format_gnf(reste))
    };
    let message = format!(
        "Paiement de {} reçu le {} pour {} (facture {}, reçu {}). {suite}",
        format_gnf(paiement.montant),
        paiement.date_paiement.format("%d/%m/%Y"),
        paiement.eleve_nom,
        facture.numero.as_deref().unwrap_or("?"),
        paiement.recu_numero,
    );
    let notifications: Vec<NouvelleNotification> = parents
        .iter()
        .map(|user| NouvelleNotification {
            utilisateur_id: *user,
            type_notification: TypeNotification::PaiementRecu,
            titre: "Paiement reçu".into(),
            message: message.clone(),
            lien_url: Some(format!("/factures/{}", facture.id)),
            envoyer_par_email: true,
            envoyer_par_sms: true,
            cle: Some(format!("paiement_recu:{}:{user}", paiement.id)),
        })
        .collect();
    ecole_communication::notifier(conn, &notifications).await?;
    Ok(())
}

/// What a payment's answer and notifications say of its pupil and recorder, read before the
/// receipt counter is locked (so the lock is held as briefly as possible).
struct Contexte {
    matricule: String,
    eleve_nom: String,
    enregistre_par_nom: String,
    parents: Vec<i64>,
}

async fn contexte(
    conn: &mut AsyncPgConnection,
    facture: &Facture,
    enregistre_par: i64,
) -> DomainResult<Contexte> {
    let (matricule, first, last): (String, String, String) = eleves::table
        .inner_join(users::table)
        .filter(eleves::id.eq(facture.eleve_id))
        .select((eleves::matricule, users::first_name, users::last_name))
        .first(conn)
        .await?;
    let (pf, pl): (String, String) = users::table
        .find(enregistre_par)
        .select((users::first_name, users::last_name))
        .first(conn)
        .await?;
    let parents = parents_eleves(conn, &[facture.eleve_id])
        .await?
        .remove(&facture.eleve_id)
        .unwrap_or_default();
    Ok(Contexte {
        matricule,
        eleve_nom: format!("{first} {last}").trim().to_string(),
        enregistre_par_nom: format!("{pf} {pl}").trim().to_string(),
        parents,
    })
}

/// Records a payment on `facture_id` (ADMIN, DIRECTION, COMPTABLE): `201` with
/// [`PaiementEnregistre`], or with `cle` already used for this very request, its first answer
/// again (nothing recorded twice); the same key for another request → 409.
pub async fn enregistrer(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    facture_id: i64,
    input: PaiementInput,
    cle: Option<&str>,
) -> DomainResult<Reponse> {
    exiger_caisse(actor)?;
    let cle = cle.map(idempotence::valider_cle).transpose()?;
    let empreinte =
        idempotence::empreinte(actor.user_id, &format!("paiement:{facture_id}"), &input);
    let input = valider(input)?;
    let a = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        if let Some(cle) = &cle
            && let Revendication::Rejouer(reponse) =
                idempotence::revendiquer(conn, cle, a.user_id, &empreinte).await?
        {
            return Ok(reponse);
        }
        let before = verrouiller(conn, facture_id).await?;
        if let Some(errors) = refus(&before, input.montant) {
            return Err(DomainError::Validation(errors));
        }
        let ctx = contexte(conn, &before, a.user_id).await?;
        let date_paiement = input.date_paiement.unwrap_or_else(time::today);
        // Last lock taken: the receipt counter, held until commit.
        let recu_numero = numerotation::prochain(conn, Serie::Recu).await?;
        let (paiement_id, created_at): (i64, DateTime<Utc>) = diesel::insert_into(paiements::table)
            .values((
                paiements::facture_id.eq(facture_id),
                paiements::montant.eq(input.montant),
                paiements::mode.eq(input.mode),
                paiements::reference.eq(&input.reference),
                paiements::date_paiement.eq(date_paiement),
                paiements::recu_numero.eq(&recu_numero),
                paiements::enregistre_par.eq(a.user_id),
                paiements::idempotency_key.eq(cle.as_deref()),
            ))
            .returning((paiements::id, paiements::created_at))
            .get_result(conn)
            .await?;
        let paye = before.montant_paye + input.montant;
        let statut = if paye == before.montant_total {
            StatutFacture::Payee
        } else {
            StatutFacture::PartiellementPayee
        };
        let after: Facture = diesel::update(factures::table.find(facture_id))
            .set((factures::montant_paye.eq(paye), factures::statut.eq(statut)))
            .returning(Facture::as_returning())
            .get_result(conn)
            .await?;
        let paiement = PaiementOut {
            id: paiement_id,
            facture: facture_id,
            facture_numero: after.numero.clone(),
            eleve: after.eleve_id,
            eleve_nom: ctx.eleve_nom,
            matricule: ctx.matricule,
            montant: input.montant,
            mode: input.mode,
            mode_libelle: input.mode.libelle().to_string(),
            reference: input.reference.clone(),
            date_paiement,
            recu_numero,
            recu_url: None,
            enregistre_par: a.user_id,
            enregistre_par_nom: ctx.enregistre_par_nom,
            created_at,
        };
        audit::record_many(
            conn,
            vec![
                AuditEntry {
                    actor: Some(&a),
                    action: AuditAction::Create,
                    table: "paiements",
                    row_id: Some(paiement_id),
                    before: None,
                    after: serde_json::to_value(&paiement).ok(),
                },
                AuditEntry {
                    actor: Some(&a),
                    action: AuditAction::Update,
                    table: "factures",
                    row_id: Some(facture_id),
                    before: serde_json::to_value(&before).ok(),
                    after: serde_json::to_value(&after).ok(),
                },
            ],
        )
        .await?;
        enqueue(conn, recu_job(paiement_id, Some(a.user_id))?).await?;
        notifier_parents(conn, &ctx.parents, &paiement, &after).await?;
        let corps = serde_json::to_value(PaiementEnregistre {
            facture_statut: after.statut,
            facture_montant_paye: after.montant_paye,
            facture_montant_restant: after.montant_restant(),
            paiement,
        })
        .map_err(DomainError::internal)?;
        let reponse = Reponse {
            statut: 201,
            corps,
            rejouee: false,
        };
        if let Some(cle) = &cle {
            idempotence::enregistrer(conn, cle, &reponse).await?;
        }
        Ok(reponse)
    })
    .await
}

/// Every payment of these invoices, oldest first (2 queries).
pub(crate) async fn des_factures(
    conn: &mut AsyncPgConnection,
    factures_ids: &[i64],
) -> DomainResult<Vec<PaiementOut>> {
    let rows: Vec<Row> = scoped(&Acces::Tout)
        .filter(paiements::facture_id.eq_any(factures_ids.to_vec()))
        .select(row_select!())
        .order((paiements::date_paiement.asc(), paiements::id.asc()))
        .load(conn)
        .await?;
    to_out(conn, rows).await
}
