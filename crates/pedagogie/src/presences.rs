//! Attendance: one row per pupil and day; roll calls upsert; a pupil marked absent triggers
//! the immediate SMS job (once per attendance row).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::scope::{Scope, teacher_classes};
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::enums::StatutPresence;
use ecole_db::schema::{classes, eleves, presences};
use ecole_jobs::payloads::{EnvoyerNotificationAbsence, JobPayload};
use ecole_jobs::{NewJob, enqueue_many};
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = presences, check_for_backend(diesel::pg::Pg))]
pub struct Presence {
    pub id: i64,
    #[serde(rename = "eleve")]
    pub eleve_id: i64,
    #[serde(rename = "classe")]
    pub classe_id: i64,
    pub date: NaiveDate,
    pub statut: StatutPresence,
    pub motif: String,
    pub notification_envoyee: bool,
    pub saisie_par: Option<i64>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    pub eleve: i64,
    pub classe: i64,
    pub date: NaiveDate,
    pub statut: StatutPresence,
    #[serde(default)]
    pub motif: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresencePatch {
    pub eleve: Option<i64>,
    pub classe: Option<i64>,
    pub date: Option<NaiveDate>,
    pub statut: Option<StatutPresence>,
    pub motif: Option<String>,
}

impl PresencePatch {
    pub fn merge(self, p: &Presence) -> PresenceInput {
        PresenceInput {
            eleve: self.eleve.unwrap_or(p.eleve_id),
            classe: self.classe.unwrap_or(p.classe_id),
            date: self.date.unwrap_or(p.date),
            statut: self.statut.unwrap_or(p.statut),
            motif: self.motif.unwrap_or_else(|| p.motif.clone()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppelLigne {
    pub eleve: i64,
    pub statut: StatutPresence,
    #[serde(default)]
    pub motif: String,
}

/// `presences/appel/`: a class, a date, every pupil's status.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Appel {
    pub classe: i64,
    pub date: NaiveDate,
    pub presences: Vec<AppelLigne>,
}

#[derive(Debug, Clone, Default)]
pub struct PresenceFilter {
    pub eleve: Option<i64>,
    pub classe: Option<i64>,
    pub date: Option<NaiveDate>,
    pub statut: Option<StatutPresence>,
    pub date_min: Option<NaiveDate>,
    pub date_max: Option<NaiveDate>,
    /// (field, descending) among [`PRESENCE_ORDERING`].
    pub ordering: Vec<(&'static str, bool)>,
}

pub const PRESENCE_ORDERING: &[&str] = &["date", "statut", "eleve"];

fn can_read(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Direction | Role::Enseignant | Role::Parent | Role::Eleve
    )
}

fn scoped(scope: &Scope) -> presences::BoxedQuery<'static, diesel::pg::Pg> {
    let q = presences::table.into_boxed();
    match scope {
        Scope::All => q,
        Scope::Eleves(ids) => q.filter(presences::eleve_id.eq_any(ids.clone())),
        Scope::Classes(ids) => q.filter(presences::classe_id.eq_any(ids.clone())),
    }
}

/// Management, or a teacher of the class.
async fn ensure_can_take(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
) -> DomainResult<()> {
    if MANAGEMENT.contains(&actor.role) {
        return Ok(());
    }
    if actor.role == Role::Enseignant
        && teacher_classes(conn, actor.user_id)
            .await?
            .contains(&classe)
    {
        return Ok(());
    }
    Err(DomainError::PermissionDenied(
        "Vous ne pouvez faire l'appel que dans vos classes.".into(),
    ))
}

/// One job per absence row, ever (dedupe key), in the caller's transaction.
async fn enqueue_absence_alerts(
    conn: &mut AsyncPgConnection,
    rows: &[Presence],
    requested_by: i64,
) -> DomainResult<()> {
    let jobs: Vec<NewJob> = rows
        .iter()
        .filter(|p| p.statut == StatutPresence::Absent && !p.notification_envoyee)
        .filter_map(|p| {
            NewJob::of(&EnvoyerNotificationAbsence { presence_id: p.id })
                .ok()
                .map(|j| {
                    j.dedupe(format!("{}:{}", EnvoyerNotificationAbsence::NAME, p.id))
                        .requested_by(Some(requested_by))
                })
        })
        .collect();
    enqueue_many(conn, &jobs).await?;
    Ok(())
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &PresenceFilter,
    page: PageRequest,
) -> DomainResult<Page<Presence>> {
    if !can_read(actor) {
        return Err(DomainError::PermissionDenied(
            "Vous n'avez pas accès aux présences.".into(),
        ));
    }
    let scope = Scope::of(conn, actor).await?;
    let base = || {
        let mut q = scoped(&scope);
        if let Some(v) = filter.eleve {
            q = q.filter(presences::eleve_id.eq(v));
        }
        if let Some(v) = filter.classe {
            q = q.filter(presences::classe_id.eq(v));
        }
        if let Some(v) = filter.date {
            q = q.filter(presences::date.eq(v));
        }
        if let Some(v) = filter.date_min {
            q = q.filter(presences::date.ge(v));
        }
        if let Some(v) = filter.date_max {
            q = q.filter(presences::date.le(v));
        }
        if let Some(v) = filter.statut {
            q = q.filter(presences::statut.eq(v));
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
    let mut q = base().select(Presence::as_select());
    for (field, desc) in &filter.ordering {
        q = match (*field, desc) {
            ("date", false) => q.then_order_by(presences::date.asc()),
            ("date", true) => q.then_order_by(presences::date.desc()),
            ("statut", false) => q.then_order_by(presences::statut.asc()),
            ("statut", true) => q.then_order_by(presences::statut.desc()),
            ("eleve", false) => q.then_order_by(presences::eleve_id.asc()),
            (_, _) => q.then_order_by(presences::eleve_id.desc()),
        };
    }
    if filter.ordering.is_empty() {
        q = q.then_order_by(presences::date.desc());
    }
    let results = q
        .then_order_by(presences::id.asc())
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

async fn get_row(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<Presence> {
    if !can_read(actor) {
        return Err(DomainError::NotFound);
    }
    let scope = Scope::of(conn, actor).await?;
    scoped(&scope)
        .filter(presences::id.eq(id))
        .select(Presence::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn get(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<Presence> {
    get_row(conn, actor, id).await
}

async fn validate(conn: &mut AsyncPgConnection, input: &PresenceInput) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    let class_exists: i64 = classes::table
        .filter(classes::id.eq(input.classe))
        .count()
        .get_result(conn)
        .await?;
    if class_exists == 0 {
        errors.add("classe", "Classe introuvable.");
    }
    let in_class: i64 = eleves::table
        .filter(eleves::id.eq(input.eleve))
        .filter(eleves::classe_actuelle_id.eq(input.classe))
        .count()
        .get_result(conn)
        .await?;
    if in_class == 0 {
        errors.add("eleve", "Cet élève n'est pas dans cette classe.");
    }
    if input.motif.chars().count() > 500 {
        errors.add("motif", "Au plus 500 caractères.");
    }
    errors.into_result()
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some(_) => DomainError::validation(
            "date",
            "Cet élève a déjà une présence ce jour-là : modifiez-la.",
        ),
        None => e.into(),
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: PresenceInput,
) -> DomainResult<Presence> {
    ensure_can_take(conn, actor, input.classe).await?;
    validate(conn, &input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let p: Presence = diesel::insert_into(presences::table)
            .values((
                presences::eleve_id.eq(input.eleve),
                presences::classe_id.eq(input.classe),
                presences::date.eq(input.date),
                presences::statut.eq(input.statut),
                presences::motif.eq(input.motif.trim()),
                presences::saisie_par.eq(actor.user_id),
            ))
            .returning(Presence::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        enqueue_absence_alerts(conn, std::slice::from_ref(&p), actor.user_id).await?;
        Ok(p)
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: PresenceInput,
) -> DomainResult<Presence> {
    let before = get_row(conn, actor, id).await?;
    ensure_can_take(conn, actor, before.classe_id).await?;
    ensure_can_take(conn, actor, input.classe).await?;
    validate(conn, &input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let p: Presence = diesel::update(presences::table.find(id))
            .set((
                presences::eleve_id.eq(input.eleve),
                presences::classe_id.eq(input.classe),
                presences::date.eq(input.date),
                presences::statut.eq(input.statut),
                presences::motif.eq(input.motif.trim()),
                presences::saisie_par.eq(actor.user_id),
            ))
            .returning(Presence::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        enqueue_absence_alerts(conn, std::slice::from_ref(&p), actor.user_id).await?;
        Ok(p)
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    let before = get_row(conn, actor, id).await?;
    ensure_can_take(conn, actor, before.classe_id).await?;
    diesel::delete(presences::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// `presences/appel/`: upserts every pupil's status for the day (sending it again updates,
/// never duplicates; two concurrent roll calls leave one row per pupil).
pub async fn appel(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: Appel,
) -> DomainResult<Vec<Presence>> {
    ensure_can_take(conn, actor, input.classe).await?;
    let mut errors = FieldErrors::new();
    if input.presences.is_empty() {
        errors.add("presences", "Au moins un élève est attendu.");
    }
    let class_pupils: HashSet<i64> = eleves::table
        .filter(eleves::classe_actuelle_id.eq(input.classe))
        .select(eleves::id)
        .load::<i64>(conn)
        .await?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    for (i, line) in input.presences.iter().enumerate() {
        let field = format!("presences.{i}");
        if !class_pupils.contains(&line.eleve) {
            errors.add(
                &field,
                format!("L'élève {} n'est pas dans cette classe.", line.eleve),
            );
        }
        if !seen.insert(line.eleve) {
            errors.add(&field, format!("L'élève {} figure deux fois.", line.eleve));
        }
        if line.motif.chars().count() > 500 {
            errors.add(&field, "Motif : au plus 500 caractères.");
        }
    }
    errors.into_result()?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let rows: Vec<_> = input
            .presences
            .iter()
            .map(|l| {
                (
                    presences::eleve_id.eq(l.eleve),
                    presences::classe_id.eq(input.classe),
                    presences::date.eq(input.date),
                    presences::statut.eq(l.statut),
                    presences::motif.eq(l.motif.trim().to_string()),
                    presences::saisie_par.eq(actor.user_id),
                )
            })
            .collect();
        let saved: Vec<Presence> = diesel::insert_into(presences::table)
            .values(&rows)
            .on_conflict((presences::eleve_id, presences::date))
            .do_update()
            .set((
                presences::classe_id.eq(excluded(presences::classe_id)),
                presences::statut.eq(excluded(presences::statut)),
                presences::motif.eq(excluded(presences::motif)),
                presences::saisie_par.eq(excluded(presences::saisie_par)),
            ))
            .returning(Presence::as_returning())
            .get_results(conn)
            .await?;
        enqueue_absence_alerts(conn, &saved, actor.user_id).await?;
        Ok(saved)
    })
    .await
}
