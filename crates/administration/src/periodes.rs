//! Periods of a year: three trimesters or two semesters, inside the year, without overlap.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::CodePeriode;
use ecole_db::schema::periodes;
use serde::{Deserialize, Serialize};

use crate::{MANAGEMENT, annees};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = periodes, check_for_backend(diesel::pg::Pg))]
pub struct Periode {
    pub id: i64,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    pub code: CodePeriode,
    pub date_debut: NaiveDate,
    pub date_fin: NaiveDate,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub bulletins_generes_le: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, Insertable, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = periodes)]
#[serde(deny_unknown_fields)]
pub struct PeriodeInput {
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    pub code: CodePeriode,
    pub date_debut: NaiveDate,
    pub date_fin: NaiveDate,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodePatch {
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: Option<i64>,
    pub code: Option<CodePeriode>,
    pub date_debut: Option<NaiveDate>,
    pub date_fin: Option<NaiveDate>,
}

impl PeriodePatch {
    pub fn merge(self, p: &Periode) -> PeriodeInput {
        PeriodeInput {
            annee_scolaire_id: self.annee_scolaire_id.unwrap_or(p.annee_scolaire_id),
            code: self.code.unwrap_or(p.code),
            date_debut: self.date_debut.unwrap_or(p.date_debut),
            date_fin: self.date_fin.unwrap_or(p.date_fin),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PeriodeFilter {
    pub annee_scolaire: Option<i64>,
    pub code: Option<CodePeriode>,
}

async fn validate(
    conn: &mut AsyncPgConnection,
    input: &PeriodeInput,
    id: Option<i64>,
) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    let annee = match annees::get(conn, input.annee_scolaire_id).await {
        Ok(a) => Some(a),
        Err(DomainError::NotFound) => {
            errors.add("annee_scolaire", "Année scolaire introuvable.");
            None
        }
        Err(e) => return Err(e),
    };
    if input.date_fin < input.date_debut {
        errors.add("date_fin", "La date de fin doit suivre la date de début.");
    }
    if let Some(annee) = &annee {
        if input.date_debut < annee.date_debut || input.date_fin > annee.date_fin {
            errors.add(
                "non_field_errors",
                format!(
                    "La période doit être comprise dans l'année scolaire ({} – {}).",
                    annee.date_debut.format("%d/%m/%Y"),
                    annee.date_fin.format("%d/%m/%Y")
                ),
            );
        }
        let others: Vec<Periode> = periodes::table
            .filter(periodes::annee_scolaire_id.eq(annee.id))
            .filter(periodes::id.ne(id.unwrap_or(0)))
            .select(Periode::as_select())
            .load(conn)
            .await?;
        for other in &others {
            if other.code.is_trimestre() != input.code.is_trimestre() {
                errors.add(
                    "code",
                    "Une année utilise soit des trimestres, soit des semestres, pas les deux.",
                );
                break;
            }
        }
        for other in &others {
            if other.code == input.code {
                errors.add(
                    "code",
                    format!("Cette année a déjà un « {} ».", input.code.libelle()),
                );
            } else if input.date_debut <= other.date_fin && other.date_debut <= input.date_fin {
                errors.add(
                    "non_field_errors",
                    format!("Chevauche le {}.", other.code.libelle()),
                );
            }
        }
    }
    errors.into_result()
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some(_) => DomainError::validation("code", "Cette année a déjà cette période."),
        None => e.into(),
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &PeriodeFilter,
    page: PageRequest,
) -> DomainResult<Page<Periode>> {
    let base = || {
        let mut q = periodes::table.into_boxed();
        if let Some(a) = filter.annee_scolaire {
            q = q.filter(periodes::annee_scolaire_id.eq(a));
        }
        if let Some(c) = filter.code {
            q = q.filter(periodes::code.eq(c));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let results = base()
        .select(Periode::as_select())
        .order((
            periodes::annee_scolaire_id.desc(),
            periodes::date_debut.asc(),
            periodes::id.asc(),
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

pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Periode> {
    periodes::table
        .find(id)
        .select(Periode::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

/// The period of a year by code.
pub async fn by_code(
    conn: &mut AsyncPgConnection,
    annee: i64,
    code: CodePeriode,
) -> DomainResult<Option<Periode>> {
    Ok(periodes::table
        .filter(periodes::annee_scolaire_id.eq(annee))
        .filter(periodes::code.eq(code))
        .select(Periode::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: PeriodeInput,
) -> DomainResult<Periode> {
    actor.require(MANAGEMENT)?;
    validate(conn, &input, None).await?;
    diesel::insert_into(periodes::table)
        .values(&input)
        .returning(Periode::as_returning())
        .get_result(conn)
        .await
        .map_err(map_unique)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: PeriodeInput,
) -> DomainResult<Periode> {
    actor.require(MANAGEMENT)?;
    get(conn, id).await?;
    validate(conn, &input, Some(id)).await?;
    diesel::update(periodes::table.find(id))
        .set(&input)
        .returning(Periode::as_returning())
        .get_result(conn)
        .await
        .map_err(map_unique)
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    actor.require(MANAGEMENT)?;
    get(conn, id).await?;
    diesel::delete(periodes::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}
