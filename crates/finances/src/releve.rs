//! A pupil's statement (`eleves/<id>/releve/`): every issued invoice of a school year with its
//! payments, and what is still owed. The till reads any pupil's, a family its own children's;
//! outside the scope the pupil is not found. Drafts are left out; cancelled invoices are
//! listed but owe nothing.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::time;
use ecole_core::{Actor, DomainError, DomainResult};
use ecole_db::enums::StatutFacture;
use ecole_db::schema::{annees_scolaires, classes, eleves, factures, users};
use serde::Serialize;

use crate::Acces;
use crate::factures::{FactureOut, scoped, to_out};
use crate::paiements::{PaiementOut, des_factures};

/// An invoice of the statement and its payments.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleveFacture {
    #[serde(flatten)]
    pub facture: FactureOut,
    pub paiements: Vec<PaiementOut>,
}

/// The statement.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Releve {
    pub eleve: i64,
    pub eleve_nom: String,
    pub matricule: String,
    pub classe: Option<i64>,
    pub classe_nom: Option<String>,
    /// `null`: every year (no year given and none active).
    pub annee_scolaire: Option<i64>,
    pub annee_scolaire_nom: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub factures: Vec<ReleveFacture>,
    /// Sum of the invoices that are not cancelled (GNF).
    pub total_facture: i64,
    pub total_paye: i64,
    /// What remains to pay.
    pub solde_du: i64,
    /// The part of `solde_du` already past its due date.
    pub montant_en_retard: i64,
}

/// `eleves/<id>/releve/?annee_scolaire=` (the active year by default).
pub async fn releve(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    eleve: i64,
    annee: Option<i64>,
) -> DomainResult<Releve> {
    let acces = Acces::for_row(conn, actor).await?;
    if let Acces::Eleves(ids) = &acces
        && !ids.contains(&eleve)
    {
        return Err(DomainError::NotFound);
    }
    /// Matricule, class, first and last names, class name.
    type Pupil = (String, Option<i64>, String, String, Option<String>);
    let pupil: Option<Pupil> = eleves::table
        .inner_join(users::table)
        .left_join(classes::table)
        .filter(eleves::id.eq(eleve))
        .select((
            eleves::matricule,
            eleves::classe_actuelle_id,
            users::first_name,
            users::last_name,
            classes::nom.nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((matricule, classe, first, last, classe_nom)) = pupil else {
        return Err(DomainError::NotFound);
    };
    let annee: Option<(i64, String)> = match annee {
        Some(id) => Some(
            annees_scolaires::table
                .find(id)
                .select((annees_scolaires::id, annees_scolaires::nom))
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| {
                    DomainError::validation("annee_scolaire", "Année scolaire introuvable.")
                })?,
        ),
        None => annees_scolaires::table
            .filter(annees_scolaires::est_active.eq(true))
            .select((annees_scolaires::id, annees_scolaires::nom))
            .first(conn)
            .await
            .optional()?,
    };
    let mut q = scoped(&acces)
        .filter(factures::eleve_id.eq(eleve))
        .filter(factures::statut.ne(StatutFacture::Brouillon));
    if let Some((id, _)) = &annee {
        q = q.filter(factures::annee_scolaire_id.eq(*id));
    }
    let today = time::today();
    let rows = q
        .select((
            crate::factures::Facture::as_select(),
            (
                eleves::matricule,
                eleves::classe_actuelle_id,
                users::first_name,
                users::last_name,
            ),
            classes::nom.nullable(),
        ))
        .order((factures::date_emission.asc(), factures::id.asc()))
        .load(conn)
        .await?;
    let invoices: Vec<FactureOut> = rows.into_iter().map(|r| to_out(r, today)).collect();
    let ids: Vec<i64> = invoices.iter().map(|f| f.id).collect();
    let mut payments = des_factures(conn, &ids).await?;
    let (mut total_facture, mut total_paye, mut en_retard) = (0i64, 0i64, 0i64);
    let mut out = Vec::with_capacity(invoices.len());
    for facture in invoices {
        if facture.statut != StatutFacture::Annulee {
            total_facture += facture.montant_total;
            total_paye += facture.montant_paye;
            if facture.en_retard {
                en_retard += facture.montant_restant;
            }
        }
        let (siens, autres): (Vec<PaiementOut>, Vec<PaiementOut>) =
            payments.into_iter().partition(|p| p.facture == facture.id);
        payments = autres;
        out.push(ReleveFacture {
            facture,
            paiements: siens,
        });
    }
    Ok(Releve {
        eleve,
        eleve_nom: format!("{first} {last}").trim().to_string(),
        matricule,
        classe,
        classe_nom,
        annee_scolaire: annee.as_ref().map(|(id, _)| *id),
        annee_scolaire_nom: annee.map(|(_, nom)| nom),
        date: today,
        factures: out,
        total_facture,
        total_paye,
        solde_du: total_facture - total_paye,
        montant_en_retard: en_retard,
    })
}
