//! School years (`2025-2026`): at most one active, switched atomically.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::schema::annees_scolaires;
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = annees_scolaires, check_for_backend(diesel::pg::Pg))]
pub struct AnneeScolaire {
    pub id: i64,
    pub nom: String,
    pub date_debut: NaiveDate,
    pub date_fin: NaiveDate,
    pub est_active: bool,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, Insertable, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = annees_scolaires)]
#[serde(deny_unknown_fields)]
pub struct AnneeInput {
    /// `2025-2026`
    pub nom: String,
    pub date_debut: NaiveDate,
    pub date_fin: NaiveDate,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnneePatch {
    pub nom: Option<String>,
    pub date_debut: Option<NaiveDate>,
    pub date_fin: Option<NaiveDate>,
}

impl AnneePatch {
    pub fn merge(self, a: &AnneeScolaire) -> AnneeInput {
        AnneeInput {
            nom: self.nom.unwrap_or_else(|| a.nom.clone()),
            date_debut: self.date_debut.unwrap_or(a.date_debut),
            date_fin: self.date_fin.unwrap_or(a.date_fin),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnneeOrdering {
    Nom,
    DateDebut,
}

impl AnneeOrdering {
    pub const FIELDS: &'static [&'static str] = &["nom", "date_debut"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nom" => Some(Self::Nom),
            "date_debut" => Some(Self::DateDebut),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AnneeFilter {
    pub est_active: Option<bool>,
    pub ordering: Vec<(AnneeOrdering, bool)>,
}

fn validate(input: &mut AnneeInput) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    input.nom = input.nom.trim().to_string();
    let years: Vec<i32> = input
        .nom
        .split('-')
        .filter_map(|p| p.parse().ok())
        .collect();
    let well_formed = input.nom.len() == 9 && years.len() == 2 && years[1] == years[0] + 1;
    if !well_formed {
        errors.add(
            "nom",
            "Format attendu : deux années consécutives, ex. 2025-2026.",
        );
    }
    if input.date_fin <= input.date_debut {
        errors.add(
            "date_fin",
            "La date de fin doit être postérieure à la date de début.",
        );
    }
    errors.into_result()
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some("annees_scolaires_nom_key") => {
            DomainError::validation("nom", "Une année scolaire porte déjà ce nom.")
        }
        _ => e.into(),
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AnneeFilter,
    page: PageRequest,
) -> DomainResult<Page<AnneeScolaire>> {
    let base = || {
        let mut q = annees_scolaires::table.into_boxed();
        if let Some(active) = filter.est_active {
            q = q.filter(annees_scolaires::est_active.eq(active));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let mut q = base().select(AnneeScolaire::as_select());
    if filter.ordering.is_empty() {
        q = q.order(annees_scolaires::date_debut.desc());
    }
    for (field, desc) in &filter.ordering {
        q = match (field, desc) {
            (AnneeOrdering::Nom, false) => q.then_order_by(annees_scolaires::nom.asc()),
            (AnneeOrdering::Nom, true) => q.then_order_by(annees_scolaires::nom.desc()),
            (AnneeOrdering::DateDebut, false) => {
                q.then_order_by(annees_scolaires::date_debut.asc())
            }
            (AnneeOrdering::DateDebut, true) => {
                q.then_order_by(annees_scolaires::date_debut.desc())
            }
        };
    }
    let results = q
        .then_order_by(annees_scolaires::id.asc())
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

pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<AnneeScolaire> {
    annees_scolaires::table
        .find(id)
        .select(AnneeScolaire::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

/// The active year, if any.
pub async fn active(conn: &mut AsyncPgConnection) -> DomainResult<Option<AnneeScolaire>> {
    Ok(annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select(AnneeScolaire::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    mut input: AnneeInput,
) -> DomainResult<AnneeScolaire> {
    actor.require(MANAGEMENT)?;
    validate(&mut input)?;
    diesel::insert_into(annees_scolaires::table)
        .values(&input)
        .returning(AnneeScolaire::as_returning())
        .get_result(conn)
        .await
        .map_err(map_unique)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    mut input: AnneeInput,
) -> DomainResult<AnneeScolaire> {
    actor.require(MANAGEMENT)?;
    get(conn, id).await?;
    validate(&mut input)?;
    diesel::update(annees_scolaires::table.find(id))
        .set(&input)
        .returning(AnneeScolaire::as_returning())
        .get_result(conn)
        .await
        .map_err(map_unique)
}

/// Deleting a year with periods or classes is refused (409).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    actor.require(MANAGEMENT)?;
    get(conn, id).await?;
    diesel::delete(annees_scolaires::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// `activer/`: this year becomes the only active one, atomically.
pub async fn activate(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<AnneeScolaire> {
    actor.require(MANAGEMENT)?;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // Serialises concurrent activations.
        diesel::sql_query("SELECT pg_advisory_xact_lock(4242101)")
            .execute(conn)
            .await?;
        get(conn, id).await?;
        diesel::update(annees_scolaires::table.filter(annees_scolaires::est_active.eq(true)))
            .set(annees_scolaires::est_active.eq(false))
            .execute(conn)
            .await?;
        Ok(diesel::update(annees_scolaires::table.find(id))
            .set(annees_scolaires::est_active.eq(true))
            .returning(AnneeScolaire::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}
