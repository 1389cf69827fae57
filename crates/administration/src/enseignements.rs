//! Who teaches what where: one teacher per (class, subject), with an optional coefficient
//! overriding the subject's in that class. An assignment belongs to its class's school year
//! (set by the database); it grants grade writes in the active year only. Every change is
//! audited: it grants rights and moves averages.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit;
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::schema::{classes, enseignants, enseignements, matieres, notes};
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = enseignements, check_for_backend(diesel::pg::Pg))]
pub struct Enseignement {
    pub id: i64,
    #[serde(rename = "classe")]
    pub classe_id: i64,
    #[serde(rename = "matiere")]
    pub matiere_id: i64,
    #[serde(rename = "enseignant")]
    pub enseignant_id: Option<i64>,
    pub coefficient: Option<i32>,
    /// The class's school year (read-only).
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnseignementInput {
    #[serde(rename = "classe")]
    pub classe_id: i64,
    #[serde(rename = "matiere")]
    pub matiere_id: i64,
    #[serde(rename = "enseignant", default)]
    pub enseignant_id: Option<i64>,
    #[serde(default)]
    pub coefficient: Option<i32>,
    /// Deduced from the class; when given, it must be the class's year.
    #[serde(rename = "annee_scolaire", default)]
    pub annee_scolaire_id: Option<i64>,
}

/// The columns written (the year comes from the class, in the database).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = enseignements, treat_none_as_null = true)]
struct EnseignementValues {
    classe_id: i64,
    matiere_id: i64,
    enseignant_id: Option<i64>,
    coefficient: Option<i32>,
}

impl From<&EnseignementInput> for EnseignementValues {
    fn from(i: &EnseignementInput) -> Self {
        EnseignementValues {
            classe_id: i.classe_id,
            matiere_id: i.matiere_id,
            enseignant_id: i.enseignant_id,
            coefficient: i.coefficient,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnseignementPatch {
    #[serde(rename = "classe")]
    pub classe_id: Option<i64>,
    #[serde(rename = "matiere")]
    pub matiere_id: Option<i64>,
    #[serde(
        rename = "enseignant",
        default,
        deserialize_with = "ecole_core::serde_util::double_option"
    )]
    #[schema(value_type = Option<i64>)]
    pub enseignant_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<i32>)]
    pub coefficient: Option<Option<i32>>,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: Option<i64>,
}

impl EnseignementPatch {
    pub fn merge(self, e: &Enseignement) -> EnseignementInput {
        EnseignementInput {
            classe_id: self.classe_id.unwrap_or(e.classe_id),
            matiere_id: self.matiere_id.unwrap_or(e.matiere_id),
            enseignant_id: self.enseignant_id.unwrap_or(e.enseignant_id),
            coefficient: self.coefficient.unwrap_or(e.coefficient),
            annee_scolaire_id: self.annee_scolaire_id,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct EnseignementFilter {
    pub classe: Option<i64>,
    pub matiere: Option<i64>,
    pub enseignant: Option<i64>,
    pub annee_scolaire: Option<i64>,
}

async fn validate(conn: &mut AsyncPgConnection, input: &EnseignementInput) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    let annee: Option<i64> = classes::table
        .find(input.classe_id)
        .select(classes::annee_scolaire_id)
        .first(conn)
        .await
        .optional()?;
    match (annee, input.annee_scolaire_id) {
        (None, _) => errors.add("classe", "Classe introuvable."),
        (Some(a), Some(given)) if a != given => errors.add(
            "annee_scolaire",
            "Un enseignement appartient à l'année scolaire de sa classe.",
        ),
        _ => {}
    }
    let n: i64 = matieres::table
        .filter(matieres::id.eq(input.matiere_id))
        .count()
        .get_result(conn)
        .await?;
    if n == 0 {
        errors.add("matiere", "Matière introuvable.");
    }
    if let Some(e) = input.enseignant_id {
        let n: i64 = enseignants::table
            .filter(enseignants::id.eq(e))
            .count()
            .get_result(conn)
            .await?;
        if n == 0 {
            errors.add("enseignant", "Enseignant introuvable.");
        }
    }
    if let Some(c) = input.coefficient
        && !(1..=20).contains(&c)
    {
        errors.add("coefficient", "Le coefficient est un entier de 1 à 20.");
    }
    errors.into_result()
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some(_) => DomainError::validation(
            "matiere",
            "Cette matière a déjà un enseignement dans cette classe.",
        ),
        None => e.into(),
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &EnseignementFilter,
    page: PageRequest,
) -> DomainResult<Page<Enseignement>> {
    if !visible_to(actor) {
        return Err(DomainError::PermissionDenied(
            "Réservé au personnel de l'école.".into(),
        ));
    }
    let base = || {
        let mut q = enseignements::table.into_boxed();
        if let Some(c) = filter.classe {
            q = q.filter(enseignements::classe_id.eq(c));
        }
        if let Some(m) = filter.matiere {
            q = q.filter(enseignements::matiere_id.eq(m));
        }
        if let Some(e) = filter.enseignant {
            q = q.filter(enseignements::enseignant_id.eq(e));
        }
        if let Some(a) = filter.annee_scolaire {
            q = q.filter(enseignements::annee_scolaire_id.eq(a));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let results = base()
        .select(Enseignement::as_select())
        .order((
            enseignements::classe_id.asc(),
            enseignements::matiere_id.asc(),
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

/// Who teaches what is the staff's business: families get "not found".
fn visible_to(actor: &Actor) -> bool {
    actor.role.is_staff()
}

/// One assignment, for staff.
pub async fn get_for(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<Enseignement> {
    if !visible_to(actor) {
        return Err(DomainError::NotFound);
    }
    get(conn, id).await
}

async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Enseignement> {
    enseignements::table
        .find(id)
        .select(Enseignement::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

const TABLE: &str = "enseignements";

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: EnseignementInput,
) -> DomainResult<Enseignement> {
    actor.require(MANAGEMENT)?;
    validate(conn, &input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let created = diesel::insert_into(enseignements::table)
            .values(EnseignementValues::from(&input))
            .returning(Enseignement::as_returning())
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
    input: EnseignementInput,
) -> DomainResult<Enseignement> {
    actor.require(MANAGEMENT)?;
    let before = get(conn, id).await?;
    validate(conn, &input).await?;
    if (input.classe_id, input.matiere_id) != (before.classe_id, before.matiere_id) {
        // Moving the assignment drops the old pair.
        ensure_no_grades(conn, &before).await?;
    }
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let after = diesel::update(enseignements::table.find(id))
            .set(EnseignementValues::from(&input))
            .returning(Enseignement::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        audit::updated(conn, &actor, TABLE, id, &before, &after).await?;
        Ok(after)
    })
    .await
}

/// Refuses (409) to drop the pair (class, subject) of `e` while grades were given for it.
async fn ensure_no_grades(conn: &mut AsyncPgConnection, e: &Enseignement) -> DomainResult<()> {
    let n: i64 = notes::table
        .filter(notes::classe_id.eq(e.classe_id))
        .filter(notes::matiere_id.eq(e.matiere_id))
        .count()
        .get_result(conn)
        .await?;
    if n > 0 {
        let notes = if n == 1 {
            "1 note a été saisie".to_string()
        } else {
            format!("{n} notes ont été saisies")
        };
        return Err(DomainError::Conflict(format!(
            "{notes} dans cette matière pour cette classe : l'enseignement ne peut pas être \
             supprimé (modifiez plutôt l'enseignant ou le coefficient)."
        )));
    }
    Ok(())
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    actor.require(MANAGEMENT)?;
    let before = get(conn, id).await?;
    ensure_no_grades(conn, &before).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        diesel::delete(enseignements::table.find(id))
            .execute(conn)
            .await?;
        audit::deleted(conn, &actor, TABLE, id, &before).await
    })
    .await
}
