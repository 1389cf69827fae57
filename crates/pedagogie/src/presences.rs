//! Attendance: one row per pupil and day; roll calls upsert; every change is audited.
//!
//! A day is taken only inside the active school year, on a school day (`JOURS_DE_CLASSE`),
//! never in the future. A pupil marked absent today or yesterday triggers the immediate SMS
//! job (once per attendance row); older days send nothing. A teacher's roll calls trigger at
//! most `ABSENCES_SMS_MAX_PAR_ENSEIGNANT` immediate alerts a day: the SMS are the school's
//! expense and share the provider's rate with every genuine alert. Beyond it the absences
//! wait for the 17:00 round-up (one message per parent) and the administrators are alerted.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_communication::absences::sms_immediat_permis;
use ecole_config::{JOURS, Settings};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::error::unique_violation;
use ecole_core::scope::{Scope, teacher_classes_this_year};
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::enums::StatutPresence;
use ecole_db::schema::{annees_scolaires, classes, eleves, jobs, presences, users};
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

/// The school's attendance rules, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReglesPresences {
    /// Days attendance is taken on, Monday first (`JOURS_DE_CLASSE`).
    pub jours_de_classe: [bool; 7],
    /// Immediate absence alerts one teacher may trigger per day
    /// (`ABSENCES_SMS_MAX_PAR_ENSEIGNANT`).
    pub sms_max_par_enseignant: u32,
}

impl ReglesPresences {
    pub fn from_settings(settings: &Settings) -> ReglesPresences {
        ReglesPresences {
            jours_de_classe: settings.jours_de_classe,
            sms_max_par_enseignant: settings.absences_sms_max_par_enseignant,
        }
    }
}

impl Default for ReglesPresences {
    fn default() -> Self {
        ReglesPresences {
            jours_de_classe: [true, true, true, true, true, true, false],
            sms_max_par_enseignant: 100,
        }
    }
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

/// Management, or a teacher of the class this school year.
async fn ensure_can_take(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
) -> DomainResult<()> {
    if MANAGEMENT.contains(&actor.role) {
        return Ok(());
    }
    if actor.role == Role::Enseignant
        && teacher_classes_this_year(conn, actor.user_id)
            .await?
            .contains(&classe)
    {
        return Ok(());
    }
    Err(DomainError::PermissionDenied(
        "Vous ne pouvez faire l'appel que dans vos classes.".into(),
    ))
}

fn dedupe_key(presence_id: i64) -> String {
    format!("{}:{presence_id}", EnvoyerNotificationAbsence::NAME)
}

/// The immediate SMS alerts of these rows, in the caller's transaction: one job per absence
/// row, ever (dedupe key), for today's and yesterday's absences only, within a teacher's
/// daily cap (the administrators are alerted once a day when a teacher reaches it).
async fn enqueue_absence_alerts(
    conn: &mut AsyncPgConnection,
    rows: &[Presence],
    actor: &Actor,
    regles: &ReglesPresences,
) -> DomainResult<()> {
    let today = ecole_core::time::today();
    let mut alerts: Vec<&Presence> = rows
        .iter()
        .filter(|p| p.statut == StatutPresence::Absent && !p.notification_envoyee)
        .filter(|p| sms_immediat_permis(p.date, today))
        .collect();
    if alerts.is_empty() {
        return Ok(());
    }
    if actor.role == Role::Enseignant {
        alerts = within_daily_cap(conn, alerts, actor, regles, today).await?;
    }
    let jobs: Vec<NewJob> = alerts
        .iter()
        .filter_map(|p| {
            NewJob::of(&EnvoyerNotificationAbsence { presence_id: p.id })
                .ok()
                .map(|j| j.dedupe(dedupe_key(p.id)).requested_by(Some(actor.user_id)))
        })
        .collect();
    enqueue_many(conn, &jobs).await?;
    Ok(())
}

/// The alerts of `alerts` a teacher may still trigger today: those already asked for (their
/// job exists) and new ones up to the cap, counted over the absence jobs they asked for
/// since midnight. Serialised per teacher (transaction lock), so two roll calls at once do
/// not both pass the cap.
async fn within_daily_cap<'a>(
    conn: &mut AsyncPgConnection,
    alerts: Vec<&'a Presence>,
    actor: &Actor,
    regles: &ReglesPresences,
    today: NaiveDate,
) -> DomainResult<Vec<&'a Presence>> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(format!("absences-sms:{}", actor.user_id))
        .execute(conn)
        .await?;
    let keys: Vec<String> = alerts.iter().map(|p| dedupe_key(p.id)).collect();
    let asked: HashSet<String> = jobs::table
        .filter(jobs::dedupe_key.eq_any(&keys))
        .select(jobs::dedupe_key)
        .load::<Option<String>>(conn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let midnight = today
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(ecole_core::time::CONAKRY).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let sent_today: i64 = jobs::table
        .filter(jobs::requested_by.eq(actor.user_id))
        .filter(jobs::name.eq(EnvoyerNotificationAbsence::NAME))
        .filter(jobs::created_at.ge(midnight))
        .count()
        .get_result(conn)
        .await?;
    let cap = i64::from(regles.sms_max_par_enseignant);
    let initial_room = (cap - sent_today).max(0);
    let mut room = initial_room;
    let (mut kept, mut withheld) = (Vec::new(), 0usize);
    for p in alerts {
        if asked.contains(&dedupe_key(p.id)) {
            kept.push(p);
        } else if room > 0 {
            room -= 1;
            kept.push(p);
        } else {
            withheld += 1;
        }
    }
    if withheld > 0 || (initial_room > 0 && room == 0) {
        alert_cap_reached(conn, actor, regles, today, withheld).await?;
    }
    Ok(kept)
}

/// The administrators learn (once a day per teacher) that a teacher reached the cap.
async fn alert_cap_reached(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    regles: &ReglesPresences,
    today: NaiveDate,
    withheld: usize,
) -> DomainResult<()> {
    let (prenom, nom): (String, String) = users::table
        .find(actor.user_id)
        .select((users::first_name, users::last_name))
        .first(conn)
        .await?;
    let enseignant = format!("{prenom} {nom}");
    let cap = regles.sms_max_par_enseignant;
    let message = format!(
        "{} a atteint le plafond de {cap} alertes SMS d'absence immédiates pour le {} \
         (ABSENCES_SMS_MAX_PAR_ENSEIGNANT). Les absences suivantes de ses appels ne partent \
         plus par SMS immédiat ; celles du jour restent dans le récapitulatif de 17 h. \
         Vérifiez ses appels du jour.",
        enseignant.trim(),
        today.format("%d/%m/%Y"),
    );
    let cle = format!("alerte:plafond-sms-absences:{}:{today}", actor.user_id);
    let admins = ecole_communication::service::alerter_admins(
        conn,
        "Plafond d'alertes SMS d'absence atteint",
        &message,
        &cle,
    )
    .await?;
    tracing::warn!(
        user.id = actor.user_id,
        plafond = cap,
        retenues = withheld,
        admins,
        "plafond d'alertes SMS d'absence atteint par un enseignant"
    );
    Ok(())
}

/// Where a day may be taken: the active school year, a school day, not in the future.
async fn check_date(
    conn: &mut AsyncPgConnection,
    date: NaiveDate,
    regles: &ReglesPresences,
    errors: &mut FieldErrors,
) -> DomainResult<()> {
    let today = ecole_core::time::today();
    if date > today {
        errors.add("date", "L'appel ne se fait pas pour une date future.");
        return Ok(());
    }
    let weekday = date.weekday().num_days_from_monday() as usize;
    if !regles
        .jours_de_classe
        .get(weekday)
        .copied()
        .unwrap_or(false)
    {
        let jour = JOURS.get(weekday).copied().unwrap_or_default();
        errors.add(
            "date",
            format!(
                "Le {} est un {jour} : ce n'est pas un jour de classe (JOURS_DE_CLASSE).",
                date.format("%d/%m/%Y")
            ),
        );
        return Ok(());
    }
    let annee: Option<(NaiveDate, NaiveDate)> = annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select((annees_scolaires::date_debut, annees_scolaires::date_fin))
        .first(conn)
        .await
        .optional()?;
    match annee {
        None => errors.add(
            "date",
            "Aucune année scolaire n'est active : activez-en une avant de faire l'appel.",
        ),
        Some((debut, fin)) if date < debut || date > fin => errors.add(
            "date",
            format!(
                "La date doit être dans l'année scolaire active (du {} au {}).",
                debut.format("%d/%m/%Y"),
                fin.format("%d/%m/%Y")
            ),
        ),
        Some(_) => {}
    }
    Ok(())
}

/// The journal entries of attendance rows written: created, or changed (`before` by pupil
/// and day); rows sent again unchanged are not journaled.
fn changes<'a>(
    actor: &'a Actor,
    before: &HashMap<(i64, NaiveDate), Presence>,
    saved: &[Presence],
) -> Vec<AuditEntry<'a>> {
    saved
        .iter()
        .filter_map(|p| match before.get(&(p.eleve_id, p.date)) {
            None => Some(AuditEntry::row(
                actor,
                AuditAction::Create,
                "presences",
                p.id,
                None,
                Some(p),
            )),
            Some(b) if (b.classe_id, b.statut, &b.motif) != (p.classe_id, p.statut, &p.motif) => {
                Some(AuditEntry::row(
                    actor,
                    AuditAction::Update,
                    "presences",
                    p.id,
                    Some(b),
                    Some(p),
                ))
            }
            Some(_) => None,
        })
        .collect()
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

async fn validate(
    conn: &mut AsyncPgConnection,
    input: &PresenceInput,
    regles: &ReglesPresences,
) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    check_date(conn, input.date, regles, &mut errors).await?;
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
    regles: &ReglesPresences,
) -> DomainResult<Presence> {
    ensure_can_take(conn, actor, input.classe).await?;
    validate(conn, &input, regles).await?;
    let (actor, regles) = (*actor, *regles);
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
        audit::created(conn, &actor, "presences", p.id, &p).await?;
        enqueue_absence_alerts(conn, std::slice::from_ref(&p), &actor, &regles).await?;
        Ok(p)
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: PresenceInput,
    regles: &ReglesPresences,
) -> DomainResult<Presence> {
    let before = get_row(conn, actor, id).await?;
    ensure_can_take(conn, actor, before.classe_id).await?;
    ensure_can_take(conn, actor, input.classe).await?;
    validate(conn, &input, regles).await?;
    let (actor, regles) = (*actor, *regles);
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
        audit::updated(conn, &actor, "presences", id, &before, &p).await?;
        enqueue_absence_alerts(conn, std::slice::from_ref(&p), &actor, &regles).await?;
        Ok(p)
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    let before = get_row(conn, actor, id).await?;
    ensure_can_take(conn, actor, before.classe_id).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        diesel::delete(presences::table.find(id))
            .execute(conn)
            .await?;
        audit::deleted(conn, &actor, "presences", id, &before).await
    })
    .await
}

/// `presences/appel/`: upserts every pupil's status for the day (sending it again updates,
/// never duplicates; two concurrent roll calls leave one row per pupil).
pub async fn appel(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: Appel,
    regles: &ReglesPresences,
) -> DomainResult<Vec<Presence>> {
    ensure_can_take(conn, actor, input.classe).await?;
    let mut errors = FieldErrors::new();
    check_date(conn, input.date, regles, &mut errors).await?;
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
    let (actor, regles) = (*actor, *regles);
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let eleves: Vec<i64> = input.presences.iter().map(|l| l.eleve).collect();
        let before: HashMap<(i64, NaiveDate), Presence> = presences::table
            .filter(presences::eleve_id.eq_any(&eleves))
            .filter(presences::date.eq(input.date))
            .select(Presence::as_select())
            .order(presences::id)
            .for_update()
            .load(conn)
            .await?
            .into_iter()
            .map(|p| ((p.eleve_id, p.date), p))
            .collect();
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
        audit::record_many(conn, changes(&actor, &before, &saved)).await?;
        enqueue_absence_alerts(conn, &saved, &actor, &regles).await?;
        Ok(saved)
    })
    .await
}
