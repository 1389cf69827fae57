//! Classes of a year (`6ème A`), graded out of 20 or, in primary, out of 10. Changes and
//! deletions are audited (the scale moves every average of the class; a deletion takes the
//! class's assignments with it).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit;
use ecole_core::error::unique_violation;
use ecole_core::scope::Scope;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::{Niveau, Serie};
use ecole_db::schema::{classes, eleves, enseignants};
use serde::{Deserialize, Serialize};

use crate::{MANAGEMENT, annees};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = classes, check_for_backend(diesel::pg::Pg))]
pub struct Classe {
    pub id: i64,
    pub niveau: Niveau,
    pub serie: Option<Serie>,
    pub nom: String,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    #[serde(rename = "professeur_principal")]
    pub professeur_principal_id: Option<i64>,
    pub capacite: i32,
    pub bareme: i32,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClasseInput {
    pub niveau: Niveau,
    #[serde(default)]
    pub serie: Option<Serie>,
    pub nom: String,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    #[serde(rename = "professeur_principal", default)]
    pub professeur_principal_id: Option<i64>,
    #[serde(default = "default_capacite")]
    pub capacite: i32,
    /// 20, or 10 (default for primary levels).
    #[serde(default)]
    pub bareme: Option<i32>,
}

/// A validated class, as stored.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = classes, treat_none_as_null = true)]
pub struct ClasseValues {
    pub niveau: Niveau,
    pub serie: Option<Serie>,
    pub nom: String,
    pub annee_scolaire_id: i64,
    pub professeur_principal_id: Option<i64>,
    pub capacite: i32,
    pub bareme: i32,
}

fn default_capacite() -> i32 {
    60
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassePatch {
    pub niveau: Option<Niveau>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<Serie>)]
    pub serie: Option<Option<Serie>>,
    pub nom: Option<String>,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: Option<i64>,
    #[serde(
        rename = "professeur_principal",
        default,
        deserialize_with = "ecole_core::serde_util::double_option"
    )]
    #[schema(value_type = Option<i64>)]
    pub professeur_principal_id: Option<Option<i64>>,
    pub capacite: Option<i32>,
    pub bareme: Option<i32>,
}

impl ClassePatch {
    pub fn merge(self, c: &Classe) -> ClasseInput {
        ClasseInput {
            niveau: self.niveau.unwrap_or(c.niveau),
            serie: self.serie.unwrap_or(c.serie),
            nom: self.nom.unwrap_or_else(|| c.nom.clone()),
            annee_scolaire_id: self.annee_scolaire_id.unwrap_or(c.annee_scolaire_id),
            professeur_principal_id: self
                .professeur_principal_id
                .unwrap_or(c.professeur_principal_id),
            capacite: self.capacite.unwrap_or(c.capacite),
            bareme: Some(self.bareme.unwrap_or(c.bareme)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClasseFilter {
    pub annee_scolaire: Option<i64>,
    pub niveau: Option<Niveau>,
    pub search: Option<String>,
    pub ordering: Vec<(&'static str, bool)>,
}

pub const CLASSE_ORDERING: &[&str] = &["nom", "niveau"];

async fn validate(
    conn: &mut AsyncPgConnection,
    mut input: ClasseInput,
) -> DomainResult<ClasseValues> {
    let mut errors = FieldErrors::new();
    input.nom = input.nom.trim().to_string();
    if input.nom.is_empty() || input.nom.chars().count() > 100 {
        errors.add("nom", "Nom de 1 à 100 caractères.");
    }
    if input.serie.is_some() && input.niveau != Niveau::Terminale {
        errors.add(
            "serie",
            "Seule une classe de Terminale a une série (SM, SE, SS).",
        );
    }
    if !(1..=200).contains(&input.capacite) {
        errors.add("capacite", "La capacité est comprise entre 1 et 200.");
    }
    let bareme = input
        .bareme
        .unwrap_or(if input.niveau.is_primaire() { 10 } else { 20 });
    if bareme != 10 && bareme != 20 {
        errors.add("bareme", "Le barème est 20, ou 10 (primaire).");
    }
    if let Err(DomainError::NotFound) = annees::get(conn, input.annee_scolaire_id).await {
        errors.add("annee_scolaire", "Année scolaire introuvable.");
    }
    if let Some(prof) = input.professeur_principal_id {
        let exists: i64 = enseignants::table
            .filter(enseignants::id.eq(prof))
            .count()
            .get_result(conn)
            .await?;
        if exists == 0 {
            errors.add("professeur_principal", "Enseignant introuvable.");
        }
    }
    errors.into_result()?;
    Ok(ClasseValues {
        niveau: input.niveau,
        serie: input.serie,
        nom: input.nom,
        annee_scolaire_id: input.annee_scolaire_id,
        professeur_principal_id: input.professeur_principal_id,
        capacite: input.capacite,
        bareme,
    })
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some(_) => DomainError::validation("nom", "Une classe porte déjà ce nom cette année."),
        None => e.into(),
    }
}

fn scoped(scope: &Scope) -> classes::BoxedQuery<'static, diesel::pg::Pg> {
    let q = classes::table.into_boxed();
    match scope {
        Scope::All | Scope::Classes(_) => q,
        Scope::Eleves(ids) => q.filter(
            classes::id.nullable().eq_any(
                eleves::table
                    .filter(eleves::id.eq_any(ids.clone()))
                    .select(eleves::classe_actuelle_id),
            ),
        ),
    }
}

/// Every class for staff (teachers read every class); a family's own classes.
pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    filter: &ClasseFilter,
    page: PageRequest,
) -> DomainResult<Page<Classe>> {
    let base = || {
        let mut q = scoped(scope);
        if let Some(a) = filter.annee_scolaire {
            q = q.filter(classes::annee_scolaire_id.eq(a));
        }
        if let Some(n) = filter.niveau {
            q = q.filter(classes::niveau.eq(n));
        }
        if let Some(search) = &filter.search {
            let p = ecole_core::contains_pattern(search);
            q = q.filter(classes::nom.ilike(p));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let mut q = base().select(Classe::as_select());
    for (field, desc) in &filter.ordering {
        q = match (*field, desc) {
            ("nom", false) => q.then_order_by(classes::nom.asc()),
            ("nom", true) => q.then_order_by(classes::nom.desc()),
            ("niveau", false) => q.then_order_by(classes::niveau.asc()),
            (_, _) => q.then_order_by(classes::niveau.desc()),
        };
    }
    let results = q
        .then_order_by((
            classes::annee_scolaire_id.desc(),
            classes::nom.asc(),
            classes::id.asc(),
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

pub async fn get(conn: &mut AsyncPgConnection, scope: &Scope, id: i64) -> DomainResult<Classe> {
    scoped(scope)
        .filter(classes::id.eq(id))
        .select(Classe::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: ClasseInput,
) -> DomainResult<Classe> {
    actor.require(MANAGEMENT)?;
    let values = validate(conn, input).await?;
    diesel::insert_into(classes::table)
        .values(&values)
        .returning(Classe::as_returning())
        .get_result(conn)
        .await
        .map_err(map_unique)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: ClasseInput,
) -> DomainResult<Classe> {
    actor.require(MANAGEMENT)?;
    let before = get(conn, &Scope::All, id).await?;
    let values = validate(conn, input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let after: Classe = diesel::update(classes::table.find(id))
            .set(&values)
            .returning(Classe::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        audit::updated(conn, &actor, "classes", id, &before, &after).await?;
        Ok(after)
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    actor.require(MANAGEMENT)?;
    let before = get(conn, &Scope::All, id).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        diesel::delete(classes::table.find(id))
            .execute(conn)
            .await?;
        audit::deleted(conn, &actor, "classes", id, &before).await
    })
    .await
}
