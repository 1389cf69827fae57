//! Creating notifications (the entry point of every other domain) and reading them (the
//! owner's API).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::{StatutEnvoi, TypeNotification};
use ecole_db::schema::{eleve_parents, eleves, etablissement, notifications, parents, users};
use ecole_jobs::payloads::{EnvoyerEmailNotification, EnvoyerSmsNotification, JobPayload};
use ecole_jobs::{NewJob, enqueue_many};

use crate::gsm7;
use crate::model::NotificationOut;

/// A notification to create. `cle` is an optional idempotency key: the same key never
/// creates a second notification (so a job run twice notifies once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NouvelleNotification {
    pub utilisateur_id: i64,
    pub type_notification: TypeNotification,
    pub titre: String,
    pub message: String,
    pub lien_url: Option<String>,
    pub envoyer_par_email: bool,
    pub envoyer_par_sms: bool,
    pub cle: Option<String>,
}

/// Rows per INSERT: well under PostgreSQL's 65,535 bound parameters.
const CHUNK: usize = 2_000;

/// Delivery jobs may take a while (SMTP, HTTP, a provider's rate limit), never 30 minutes.
const DELIVERY_HARD_LIMIT_SECONDS: i32 = 300;
const DELIVERY_SOFT_LIMIT_SECONDS: i32 = 240;

#[derive(Insertable)]
#[diesel(table_name = notifications)]
struct NewRow<'a> {
    utilisateur_id: i64,
    type_notification: TypeNotification,
    titre: &'a str,
    message: &'a str,
    lien_url: Option<&'a str>,
    envoyer_par_email: bool,
    envoyer_par_sms: bool,
    email_statut: StatutEnvoi,
    sms_statut: StatutEnvoi,
    sms_texte: Option<String>,
    cle: Option<&'a str>,
}

fn validate(notifications: &[NouvelleNotification]) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    for (i, n) in notifications.iter().enumerate() {
        let field = |name: &str| format!("notifications.{i}.{name}");
        let titre = n.titre.trim().chars().count();
        if titre == 0 || titre > 200 {
            errors.add(&field("titre"), "Entre 1 et 200 caractères.");
        }
        let message = n.message.trim().chars().count();
        if message == 0 || message > 5_000 {
            errors.add(&field("message"), "Entre 1 et 5 000 caractères.");
        }
        if n.lien_url.as_ref().is_some_and(|l| l.chars().count() > 500) {
            errors.add(&field("lien_url"), "Au plus 500 caractères.");
        }
        if n.cle
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.chars().count() > 200)
        {
            errors.add(&field("cle"), "Entre 1 et 200 caractères.");
        }
    }
    errors.into_result()
}

/// The school's name, as messages are signed (`École` when it is not set yet).
pub async fn school_name(conn: &mut AsyncPgConnection) -> DomainResult<String> {
    let nom: Option<String> = etablissement::table
        .select(etablissement::nom)
        .order(etablissement::id)
        .first(conn)
        .await
        .optional()?;
    Ok(nom
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "École".into()))
}

/// Only an absolute link is worth a place in an SMS.
fn sms_link(lien: Option<&str>) -> Option<&str> {
    lien.filter(|l| l.starts_with("https://") || l.starts_with("http://"))
}

/// Creates notifications in one statement per 2,000 (set-based) and asks for their e-mail
/// and SMS jobs in the same transaction: call it inside the caller's transaction, and the
/// notifications and their deliveries exist only if it commits. Rows whose `cle` already
/// exists are skipped; returns the ids created.
pub async fn notifier(
    conn: &mut AsyncPgConnection,
    notifications: &[NouvelleNotification],
) -> DomainResult<Vec<i64>> {
    if notifications.is_empty() {
        return Ok(Vec::new());
    }
    validate(notifications)?;
    let school = if notifications.iter().any(|n| n.envoyer_par_sms) {
        school_name(conn).await?
    } else {
        String::new()
    };
    let mut created = Vec::with_capacity(notifications.len());
    for chunk in notifications.chunks(CHUNK) {
        let rows: Vec<NewRow> = chunk
            .iter()
            .map(|n| NewRow {
                utilisateur_id: n.utilisateur_id,
                type_notification: n.type_notification,
                titre: n.titre.trim(),
                message: n.message.trim(),
                lien_url: n.lien_url.as_deref(),
                envoyer_par_email: n.envoyer_par_email,
                envoyer_par_sms: n.envoyer_par_sms,
                email_statut: if n.envoyer_par_email {
                    StatutEnvoi::EnAttente
                } else {
                    StatutEnvoi::NonDemande
                },
                sms_statut: if n.envoyer_par_sms {
                    StatutEnvoi::EnAttente
                } else {
                    StatutEnvoi::NonDemande
                },
                sms_texte: n.envoyer_par_sms.then(|| {
                    gsm7::sms_text(&school, n.message.trim(), sms_link(n.lien_url.as_deref()))
                }),
                cle: n.cle.as_deref(),
            })
            .collect();
        let inserted: Vec<(i64, bool, bool)> = diesel::insert_into(notifications::table)
            .values(&rows)
            .on_conflict(notifications::cle)
            .do_nothing()
            .returning((
                notifications::id,
                notifications::envoyer_par_email,
                notifications::envoyer_par_sms,
            ))
            .get_results(conn)
            .await?;
        let mut jobs = Vec::with_capacity(inserted.len() * 2);
        for (id, email, sms) in &inserted {
            if *email {
                jobs.push(delivery_job(&EnvoyerEmailNotification {
                    notification_id: *id,
                })?);
            }
            if *sms {
                jobs.push(delivery_job(&EnvoyerSmsNotification {
                    notification_id: *id,
                })?);
            }
        }
        for batch in jobs.chunks(CHUNK) {
            enqueue_many(conn, batch).await?;
        }
        created.extend(inserted.into_iter().map(|(id, _, _)| id));
    }
    Ok(created)
}

/// An alert to every active administrator: a `GENERAL` notification in the application and
/// by e-mail, never by SMS (the SMS budget or provider may be what the alert is about), in
/// the caller's transaction. `cle` is completed with each administrator's id: the same alert
/// is made once. Returns how many administrators were alerted (0: none is active).
pub async fn alerter_admins(
    conn: &mut AsyncPgConnection,
    titre: &str,
    message: &str,
    cle: &str,
) -> DomainResult<usize> {
    let admins: Vec<i64> = users::table
        .filter(users::role.eq(ecole_core::Role::Admin))
        .filter(users::is_active.eq(true))
        .select(users::id)
        .load(conn)
        .await?;
    let alertes: Vec<NouvelleNotification> = admins
        .iter()
        .map(|admin| NouvelleNotification {
            utilisateur_id: *admin,
            type_notification: TypeNotification::General,
            titre: titre.to_string(),
            message: message.to_string(),
            lien_url: None,
            envoyer_par_email: true,
            envoyer_par_sms: false,
            cle: Some(format!("{cle}:{admin}")),
        })
        .collect();
    notifier(conn, &alertes).await?;
    Ok(admins.len())
}

/// Delivery job payloads carry the notification id.
pub(crate) trait Delivery: JobPayload {
    fn notification_id(&self) -> i64;
}

impl Delivery for EnvoyerEmailNotification {
    fn notification_id(&self) -> i64 {
        self.notification_id
    }
}

impl Delivery for EnvoyerSmsNotification {
    fn notification_id(&self) -> i64 {
        self.notification_id
    }
}

/// One delivery job per notification and channel, ever (dedupe key).
pub(crate) fn delivery_job<P: Delivery>(payload: &P) -> DomainResult<NewJob> {
    Ok(NewJob::of(payload)?
        .dedupe(format!("{}:{}", P::NAME, payload.notification_id()))
        .time_limits(DELIVERY_HARD_LIMIT_SECONDS, DELIVERY_SOFT_LIMIT_SECONDS))
}

fn group(rows: Vec<(i64, i64)>) -> HashMap<i64, Vec<i64>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for (eleve, user) in rows {
        out.entry(eleve).or_default().push(user);
    }
    for users in out.values_mut() {
        users.sort_unstable();
        users.dedup();
    }
    out
}

/// The user accounts to notify about each pupil: the pupil and each parent (active
/// accounts only), in one query. Pupils without any active account are absent from the map.
pub async fn destinataires_eleves(
    conn: &mut AsyncPgConnection,
    eleves_ids: &[i64],
) -> DomainResult<HashMap<i64, Vec<i64>>> {
    if eleves_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let pupils = eleves::table
        .inner_join(users::table.on(users::id.eq(eleves::user_id)))
        .filter(eleves::id.eq_any(eleves_ids))
        .filter(users::is_active.eq(true))
        .select((eleves::id, eleves::user_id));
    let parents = eleve_parents::table
        .inner_join(parents::table.on(parents::id.eq(eleve_parents::parent_id)))
        .inner_join(users::table.on(users::id.eq(parents::user_id)))
        .filter(eleve_parents::eleve_id.eq_any(eleves_ids))
        .filter(users::is_active.eq(true))
        .select((eleve_parents::eleve_id, parents::user_id));
    let rows: Vec<(i64, i64)> = pupils.union_all(parents).load(conn).await?;
    Ok(group(rows))
}

/// The parents' active accounts of each pupil, in one query.
pub async fn parents_eleves(
    conn: &mut AsyncPgConnection,
    eleves_ids: &[i64],
) -> DomainResult<HashMap<i64, Vec<i64>>> {
    if eleves_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64)> = eleve_parents::table
        .inner_join(parents::table.on(parents::id.eq(eleve_parents::parent_id)))
        .inner_join(users::table.on(users::id.eq(parents::user_id)))
        .filter(eleve_parents::eleve_id.eq_any(eleves_ids))
        .filter(users::is_active.eq(true))
        .select((eleve_parents::eleve_id, parents::user_id))
        .load(conn)
        .await?;
    Ok(group(rows))
}

/// Filters of `GET notifications/`.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub lue: Option<bool>,
    pub type_notification: Option<TypeNotification>,
}

fn own(actor: &Actor) -> notifications::BoxedQuery<'static, diesel::pg::Pg> {
    notifications::table
        .filter(notifications::utilisateur_id.eq(actor.user_id))
        .into_boxed()
}

/// The caller's own notifications, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &NotificationFilter,
    page: PageRequest,
) -> DomainResult<Page<NotificationOut>> {
    let base = || {
        let mut q = own(actor);
        if let Some(lue) = filter.lue {
            q = q.filter(notifications::lue.eq(lue));
        }
        if let Some(t) = filter.type_notification {
            q = q.filter(notifications::type_notification.eq(t));
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
    let results = base()
        .select(NotificationOut::as_select())
        .order((notifications::created_at.desc(), notifications::id.desc()))
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

/// Marks one of the caller's notifications read (the first reading time is kept).
/// Another user's notification is not found.
pub async fn lire(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<NotificationOut> {
    let updated = diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::utilisateur_id.eq(actor.user_id))
            .filter(notifications::lue.eq(false)),
    )
    .set((
        notifications::lue.eq(true),
        notifications::lue_le.eq(Some(chrono::Utc::now())),
    ))
    .returning(NotificationOut::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    match updated {
        Some(n) => Ok(n),
        None => own(actor)
            .filter(notifications::id.eq(id))
            .select(NotificationOut::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or(DomainError::NotFound),
    }
}

/// Marks every unread notification of the caller read; returns how many.
pub async fn tout_lire(conn: &mut AsyncPgConnection, actor: &Actor) -> DomainResult<i64> {
    let n = diesel::update(
        notifications::table
            .filter(notifications::utilisateur_id.eq(actor.user_id))
            .filter(notifications::lue.eq(false)),
    )
    .set((
        notifications::lue.eq(true),
        notifications::lue_le.eq(Some(chrono::Utc::now())),
    ))
    .execute(conn)
    .await?;
    Ok(n as i64)
}

/// How many of the caller's notifications are unread.
pub async fn non_lues(conn: &mut AsyncPgConnection, actor: &Actor) -> DomainResult<i64> {
    Ok(own(actor)
        .filter(notifications::lue.eq(false))
        .count()
        .get_result(conn)
        .await?)
}
