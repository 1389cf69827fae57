//! The fee schedule (`frais/`): what a level pays in a school year, line by line
//! (`Frais de scolarité`, `Inscription`, `Cantine`…). Read by the till and by families; written
//! by the till, each change audited. A fee already billed cannot be deleted (its invoices keep
//! their own copy of label and amount, so changing it only affects later invoices).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::Niveau;
use ecole_db::schema::{annees_scolaires, frais_scolarite, lignes_facture};
use serde::{Deserialize, Serialize};

use crate::montants::MONTANT_MAX;
use crate::{Acces, exiger_caisse};

/// A fee of the schedule.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = frais_scolarite, check_for_backend(diesel::pg::Pg))]
pub struct Frais {
    pub id: i64,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    pub niveau: Niveau,
    pub libelle: String,
    /// GNF.
    pub montant: i64,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// `POST frais/`, `PUT frais/<id>/`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraisInput {
    pub annee_scolaire: i64,
    pub niveau: Niveau,
    pub libelle: String,
    /// GNF, > 0.
    pub montant: i64,
}

/// `PATCH frais/<id>/`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraisPatch {
    pub annee_scolaire: Option<i64>,
    pub niveau: Option<Niveau>,
    pub libelle: Option<String>,
    pub montant: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct FraisFilter {
    pub annee_scolaire: Option<i64>,
    pub niveau: Option<Niveau>,
}

/// `montant` in `(0, MONTANT_MAX]` (the schedule's own bound, 10¹² GNF, is checked by SQL).
pub(crate) fn check_montant(errors: &mut FieldErrors, field: &str, montant: i64) {
    if montant <= 0 {
        errors.add(field, "Le montant doit être positif (en GNF).");
    } else if montant > MONTANT_MAX / 1000 {
        errors.add(field, "Montant trop élevé.");
    }
}

async fn validate(conn: &mut AsyncPgConnection, input: &mut FraisInput) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    input.libelle = input.libelle.trim().to_string();
    let longueur = input.libelle.chars().count();
    if longueur == 0 {
        errors.add("libelle", "Ce champ ne peut pas être vide.");
    } else if longueur > 200 {
        errors.add("libelle", "Au plus 200 caractères.");
    }
    check_montant(&mut errors, "montant", input.montant);
    let annee: Option<i64> = annees_scolaires::table
        .find(input.annee_scolaire)
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .optional()?;
    if annee.is_none() {
        errors.add("annee_scolaire", "Année scolaire introuvable.");
    }
    errors.into_result()
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    if unique_violation(&e).is_some() {
        DomainError::validation(
            "libelle",
            "Ce libellé existe déjà pour ce niveau et cette année scolaire.",
        )
    } else {
        e.into()
    }
}

/// `frais/`: filtered by year and level.
pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &FraisFilter,
    page: PageRequest,
) -> DomainResult<Page<Frais>> {
    Acces::for_list(conn, actor).await?;
    let base = || {
        let mut q = frais_scolarite::table.into_boxed();
        if let Some(a) = filter.annee_scolaire {
            q = q.filter(frais_scolarite::annee_scolaire_id.eq(a));
        }
        if let Some(n) = filter.niveau {
            q = q.filter(frais_scolarite::niveau.eq(n));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let results = base()
        .select(Frais::as_select())
        .order((
            frais_scolarite::annee_scolaire_id.desc(),
            frais_scolarite::niveau.asc(),
            frais_scolarite::libelle.asc(),
            frais_scolarite::id.asc(),
        ))
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results,
        request: page,
    })
}

pub async fn get(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<Frais> {
    Acces::for_row(conn, actor).await?;
    frais_scolarite::table
        .find(id)
        .select(Frais::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    mut input: FraisInput,
) -> DomainResult<Frais> {
    exiger_caisse(actor)?;
    validate(conn, &mut input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let frais: Frais = diesel::insert_into(frais_scolarite::table)
            .values((
                frais_scolarite::annee_scolaire_id.eq(input.annee_scolaire),
                frais_scolarite::niveau.eq(input.niveau),
                frais_scolarite::libelle.eq(&input.libelle),
                frais_scolarite::montant.eq(input.montant),
            ))
            .returning(Frais::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Create,
                table: "frais_scolarite",
                row_id: Some(frais.id),
                before: None,
                after: serde_json::to_value(&frais).ok(),
            },
        )
        .await?;
        Ok(frais)
    })
    .await
}

/// `PUT` (every field) or `PATCH` (those given).
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    patch: FraisPatch,
) -> DomainResult<Frais> {
    exiger_caisse(actor)?;
    let before = get(conn, actor, id).await?;
    let mut input = FraisInput {
        annee_scolaire: patch.annee_scolaire.unwrap_or(before.annee_scolaire_id),
        niveau: patch.niveau.unwrap_or(before.niveau),
        libelle: patch.libelle.unwrap_or_else(|| before.libelle.clone()),
        montant: patch.montant.unwrap_or(before.montant),
    };
    validate(conn, &mut input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let after: Frais = diesel::update(frais_scolarite::table.find(id))
            .set((
                frais_scolarite::annee_scolaire_id.eq(input.annee_scolaire),
                frais_scolarite::niveau.eq(input.niveau),
                frais_scolarite::libelle.eq(&input.libelle),
                frais_scolarite::montant.eq(input.montant),
            ))
            .returning(Frais::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Update,
                table: "frais_scolarite",
                row_id: Some(id),
                before: serde_json::to_value(&before).ok(),
                after: serde_json::to_value(&after).ok(),
            },
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Deletes a fee nobody was billed yet (409 otherwise).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    exiger_caisse(actor)?;
    let before = get(conn, actor, id).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let facture: bool = diesel::select(diesel::dsl::exists(
            lignes_facture::table.filter(lignes_facture::frais_id.eq(id)),
        ))
        .get_result(conn)
        .await?;
        if facture {
            return Err(DomainError::Conflict(
                "Ces frais figurent déjà sur des factures : ils ne peuvent plus être supprimés."
                    .into(),
            ));
        }
        diesel::delete(frais_scolarite::table.find(id))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Delete,
                table: "frais_scolarite",
                row_id: Some(id),
                before: serde_json::to_value(&before).ok(),
                after: None,
            },
        )
        .await?;
        Ok(())
    })
    .await
}
