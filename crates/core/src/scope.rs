//! What rows a user may see, computed once per request and applied in SQL (ARCHITECTURE:
//! "reads are scoped in SQL"). A row outside the scope is simply not found.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::{
    annees_scolaires, eleve_parents, eleves, enseignants, enseignements, parents,
};

use crate::{Actor, DomainResult, Role};

/// The pupils an actor may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// School-wide (ADMIN, DIRECTION, COMPTABLE, BIBLIOTHECAIRE).
    All,
    /// These pupils only (a parent's children; a pupil themself).
    Eleves(Vec<i64>),
    /// Pupils of these classes (a teacher's classes).
    Classes(Vec<i64>),
}

impl Scope {
    /// One query for families and teachers, none for the others.
    pub async fn of(conn: &mut AsyncPgConnection, actor: &Actor) -> DomainResult<Scope> {
        Ok(match actor.role {
            Role::Parent => Scope::Eleves(
                eleve_parents::table
                    .inner_join(parents::table)
                    .filter(parents::user_id.eq(actor.user_id))
                    .select(eleve_parents::eleve_id)
                    .load(conn)
                    .await?,
            ),
            Role::Eleve => Scope::Eleves(
                eleves::table
                    .filter(eleves::user_id.eq(actor.user_id))
                    .select(eleves::id)
                    .load(conn)
                    .await?,
            ),
            Role::Enseignant => Scope::Classes(teacher_classes(conn, actor.user_id).await?),
            _ => Scope::All,
        })
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Scope::All)
    }
}

/// The classes a teacher teaches in (any subject, any year): what they read.
pub async fn teacher_classes(conn: &mut AsyncPgConnection, user_id: i64) -> DomainResult<Vec<i64>> {
    classes_of(conn, user_id, false).await
}

/// The classes a teacher teaches in this school year (an assignment of the active year):
/// where they may still write (attendance), as opposed to read.
pub async fn teacher_classes_this_year(
    conn: &mut AsyncPgConnection,
    user_id: i64,
) -> DomainResult<Vec<i64>> {
    classes_of(conn, user_id, true).await
}

async fn classes_of(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    active_year_only: bool,
) -> DomainResult<Vec<i64>> {
    let mut q = enseignements::table
        .inner_join(enseignants::table)
        .filter(enseignants::user_id.eq(user_id))
        .select(enseignements::classe_id)
        .into_boxed();
    if active_year_only {
        q = q.filter(
            enseignements::annee_scolaire_id.eq_any(
                annees_scolaires::table
                    .filter(annees_scolaires::est_active.eq(true))
                    .select(annees_scolaires::id),
            ),
        );
    }
    let mut ids: Vec<i64> = q.load(conn).await?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The teacher profile id of a user, if any.
pub async fn enseignant_id(
    conn: &mut AsyncPgConnection,
    user_id: i64,
) -> DomainResult<Option<i64>> {
    Ok(enseignants::table
        .filter(enseignants::user_id.eq(user_id))
        .select(enseignants::id)
        .first(conn)
        .await
        .optional()?)
}
