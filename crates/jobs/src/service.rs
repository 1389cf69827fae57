//! What the API and the CLI ask of jobs: read one's status, ask for one by name.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role};
use ecole_db::schema::jobs;
use serde_json::Value;

use crate::enqueue::{NewJob, enqueue};
use crate::model::Job;
use crate::payloads::*;

/// A job, for its requester or ADMIN/DIRECTION; anyone else gets "not found".
pub async fn get_job(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<Job> {
    let job: Job = jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)?;
    if actor.role.is_management() || job.requested_by == Some(actor.user_id) {
        Ok(job)
    } else {
        Err(DomainError::NotFound)
    }
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
        other => Err(format!(
            "tâche « {other} » inconnue (connues : {})",
            KNOWN_JOBS.join(", ")
        )),
    }
}

/// Asks for a job by name (ADMIN through the API; operators through the CLI, `actor = None`).
pub async fn request_job(
    conn: &mut AsyncPgConnection,
    actor: Option<&Actor>,
    name: &str,
    payload: Value,
) -> DomainResult<i64> {
    if let Some(actor) = actor {
        actor.require(&[Role::Admin])?;
    }
    let mut errors = FieldErrors::new();
    if !KNOWN_JOBS.contains(&name) {
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
    enqueue(
        conn,
        NewJob::named(name, payload).requested_by(actor.map(|a| a.user_id)),
    )
    .await
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
