//! What the API and the CLI ask of jobs: read one's status, ask for one by name.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_config::AppEnv;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role};
use ecole_db::schema::jobs;
use serde_json::Value;

use crate::enqueue::{NewJob, enqueue};
use crate::model::{Job, JobStatus};
use crate::payloads::*;

/// At most one backup asked for in this many seconds (the beat's included).
pub const BACKUP_MIN_INTERVAL_SECS: i64 = 10 * 60;

/// A job, for its requester or ADMIN/DIRECTION; anyone else gets "not found". The scope is
/// part of the query: another user's job is never loaded.
pub async fn get_job(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<Job> {
    let mut query = jobs::table
        .filter(jobs::id.eq(id))
        .select(Job::as_select())
        .into_boxed();
    if !actor.role.is_management() {
        query = query.filter(jobs::requested_by.eq(actor.user_id));
    }
    query
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

fn check<P: JobPayload>(payload: &Value) -> Result<(), String> {
    serde_json::from_value::<P>(payload.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks a payload against the typed arguments of `name`.
pub fn validate_payload(name: &str, payload: &Value) -> Result<(), String> {
    match name {
        n if n == Debug::NAME => check::<Debug>(payload),
        n if n == BackupDatabase::NAME => check::<BackupDatabase>(payload),
        n if n == PurgerDonnees::NAME => check::<PurgerDonnees>(payload),
        n if n == GenererBulletinPdf::NAME => check::<GenererBulletinPdf>(payload),
        n if n == GenererBulletinsPeriode::NAME => check::<GenererBulletinsPeriode>(payload),
        n if n == NotifierAbsencesQuotidiennes::NAME => {
            check::<NotifierAbsencesQuotidiennes>(payload)
        }
        n if n == GenererFacturePdf::NAME => check::<GenererFacturePdf>(payload),
        n if n == GenererRecuPdf::NAME => check::<GenererRecuPdf>(payload),
        n if n == EnvoyerRappelsPaiement::NAME => check::<EnvoyerRappelsPaiement>(payload),
        n if n == GenererFactures::NAME => check::<GenererFactures>(payload),
        n if n == EnvoyerNotificationAbsence::NAME => check::<EnvoyerNotificationAbsence>(payload),
        n if n == EnvoyerEmailNotification::NAME => check::<EnvoyerEmailNotification>(payload),
        n if n == EnvoyerSmsNotification::NAME => check::<EnvoyerSmsNotification>(payload),
        n if n == RappelsEmpruntsRetard::NAME => check::<RappelsEmpruntsRetard>(payload),
        n if n == EnvoyerCodeTelephone::NAME => check::<EnvoyerCodeTelephone>(payload),
        other => Err(format!(
            "tâche « {other} » inconnue (connues : {})",
            KNOWN_JOBS.join(", ")
        )),
    }
}

/// Asks for a job by name (ADMIN through the API; operators through the CLI, `actor = None`).
/// In production `core.debug` is refused (it runs child processes and writes to Redis on
/// demand); a backup is refused while another one waits or runs (409), and within
/// [`BACKUP_MIN_INTERVAL_SECS`] of the last one asked for (429), so the disk cannot be filled
/// by requests.
pub async fn request_job(
    conn: &mut AsyncPgConnection,
    actor: Option<&Actor>,
    app_env: AppEnv,
    name: &str,
    payload: Value,
) -> DomainResult<i64> {
    if let Some(actor) = actor {
        actor.require(&[Role::Admin])?;
    }
    let mut errors = FieldErrors::new();
    if name == Debug::NAME && app_env.is_production() {
        errors.add(
            "name",
            "La tâche de diagnostic core.debug est refusée en production (APP_ENV=production).",
        );
    } else if !KNOWN_JOBS.contains(&name) {
        errors.add(
            "name",
            format!(
                "Tâche « {name} » inconnue (connues : {}).",
                KNOWN_JOBS.join(", ")
            ),
        );
    } else if let Err(e) = validate_payload(name, &payload) {
        errors.add("payload", format!("Arguments invalides : {e}"));
    }
    errors.into_result()?;
    let job = NewJob::named(name, payload).requested_by(actor.map(|a| a.user_id));
    if name != BackupDatabase::NAME {
        return enqueue(conn, job).await;
    }
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // Two requests at once: the second waits here and sees the first one's row.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(BackupDatabase::NAME)
            .execute(conn)
            .await?;
        ensure_backup_allowed(conn, Utc::now()).await?;
        enqueue(conn, job).await
    })
    .await
}

/// One backup waiting or running at a time, and one asked for per interval.
async fn ensure_backup_allowed(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let pending: Option<i64> = jobs::table
        .filter(jobs::name.eq(BackupDatabase::NAME))
        .filter(jobs::status.eq_any([JobStatus::EnAttente, JobStatus::EnCours]))
        .select(jobs::id)
        .order(jobs::id.desc())
        .first(conn)
        .await
        .optional()?;
    if let Some(id) = pending {
        return Err(DomainError::Conflict(format!(
            "Une sauvegarde est déjà en attente ou en cours (job {id}, suivi : \
             /api/v1/jobs/{id}/) : une seule à la fois."
        )));
    }
    let since = now - chrono::Duration::seconds(BACKUP_MIN_INTERVAL_SECS);
    let last: Option<DateTime<Utc>> = jobs::table
        .filter(jobs::name.eq(BackupDatabase::NAME))
        .filter(jobs::created_at.gt(since))
        .select(diesel::dsl::max(jobs::created_at))
        .first(conn)
        .await?;
    if let Some(last) = last {
        let wait = (last - since)
            .num_seconds()
            .clamp(1, BACKUP_MIN_INTERVAL_SECS);
        return Err(DomainError::Throttled {
            retry_after_secs: u64::try_from(wait).unwrap_or(1),
            message: format!(
                "Une sauvegarde a déjà été demandée il y a moins de {} minutes : réessayez dans \
                 {} min.",
                BACKUP_MIN_INTERVAL_SECS / 60,
                (wait + 59) / 60
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_checked_by_name() {
        assert!(validate_payload("core.debug", &serde_json::json!({"message": "x"})).is_ok());
        assert!(validate_payload("core.debug", &serde_json::json!({"inconnu": 1})).is_err());
        assert!(
            validate_payload("pedagogie.generer_bulletin_pdf", &serde_json::json!({})).is_err()
        );
        assert!(
            validate_payload(
                "pedagogie.generer_bulletin_pdf",
                &serde_json::json!({"bulletin_id": 3})
            )
            .is_ok()
        );
        assert!(validate_payload("nope", &serde_json::json!({})).is_err());
    }
}
