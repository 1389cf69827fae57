//! Subjects (`MATH`, coefficient ≥ 1). Every change is audited: a coefficient moves every
//! average it weighs in.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit;
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::schema::matieres;
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = matieres, check_for_backend(diesel::pg::Pg))]
pub struct Matiere {
    pub id: i64,
    pub code: String,
    pub nom: String,
    pub coefficient: i32,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

fn default_coefficient() -> i32 {
    1
}

#[derive(Debug, Clone, Deserialize, Insertable, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = matieres)]
#[serde(deny_unknown_fields)]
pub struct MatiereInput {
    pub code: String,
    pub nom: String,
    #[serde(default = "default_coefficient")]
    pub coefficient: i32,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatierePatch {
    pub code: Option<String>,
    pub nom: Option<String>,
    pub coefficient: Option<i32>,
}

impl MatierePatch {
    pub fn merge(self, m: &Matiere) -> MatiereInput {
        MatiereInput {
            code: self.code.unwrap_or_else(|| m.code.clone()),
            nom: self.nom.unwrap_or_else(|| m.nom.clone()),
            coefficient: self.coefficient.unwrap_or(m.coefficient),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct MatiereFilter {
    pub search: Option<String>,
    pub ordering: Vec<(&'static str, bool)>,
}

pub const MATIERE_ORDERING: &[&str] = &["code", "nom", "coefficient"];

const TABLE: &str = "matieres";

fn validate(input: &mut MatiereInput) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    input.code = input.code.trim().to_uppercase();
    input.nom = input.nom.trim().to_string();
    if input.code.is_empty()
        || input.code.len() > 20
        || !input
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        errors.add("code", "Code de 1 à 20 lettres, chiffres ou _ (ex. MATH).");
    }
    if input.nom.is_empty() || input.nom.chars().count() > 100 {
        errors.add("nom", "Nom de 1 à 100 caractères.");
    }
    if !(1..=20).contains(&input.coefficient) {
        errors.add("coefficient", "Le coefficient est un entier de 1 à 20.");
    }
    errors.into_result()
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some(_) => DomainError::validation("code", "Une matière porte déjà ce code."),
        None => e.into(),
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &MatiereFilter,
    page: PageRequest,
) -> DomainResult<Page<Matiere>> {
    let base = || {
        let mut q = matieres::table.into_boxed();
        if let Some(search) = &filter.search {
            let p = ecole_core::contains_pattern(search);
            q = q.filter(matieres::code.ilike(p.clone()).or(matieres::nom.ilike(p)));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let mut q = base().select(Matiere::as_select());
    for (field, desc) in &filter.ordering {
        q = match (*field, desc) {
            ("code", false) => q.then_order_by(matieres::code.asc()),
            ("code", true) => q.then_order_by(matieres::code.desc()),
            ("nom", false) => q.then_order_by(matieres::nom.asc()),
            ("nom", true) => q.then_order_by(matieres::nom.desc()),
            ("coefficient", false) => q.then_order_by(matieres::coefficient.asc()),
            (_, _) => q.then_order_by(matieres::coefficient.desc()),
        };
    }
    let results = q
        .then_order_by((matieres::nom.asc(), matieres::id.asc()))
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

pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Matiere> {
    matieres::table
        .find(id)
        .select(Matiere::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    mut input: MatiereInput,
) -> DomainResult<Matiere> {
    actor.require(MANAGEMENT)?;
    validate(&mut input)?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let created: Matiere = diesel::insert_into(matieres::table)
            .values(&input)
            .returning(Matiere::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        audit::created(conn, &actor, TABLE, created.id, &created).await?;
        Ok(created)
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    mut input: MatiereInput,
) -> DomainResult<Matiere> {
    actor.require(MANAGEMENT)?;
    let before = get(conn, id).await?;
    validate(&mut input)?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let after: Matiere = diesel::update(matieres::table.find(id))
            .set(&input)
            .returning(Matiere::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        audit::updated(conn, &actor, TABLE, id, &before, &after).await?;
        Ok(after)
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    actor.require(MANAGEMENT)?;
    let before = get(conn, id).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        diesel::delete(matieres::table.find(id))
            .execute(conn)
            .await?;
        audit::deleted(conn, &actor, TABLE, id, &before).await
    })
    .await
}
