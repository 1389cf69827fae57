//! `core.backup_database` (the beat's 02:00 entry): one backup per run. A failure is a
//! retried error (the job policy: 3 retries); the last one ends the job in `ECHEC`, logs an
//! error line and alerts every active administrator (in-app notification and e-mail).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_communication::{NouvelleNotification, TypeNotification, notifier};
use ecole_core::Role;
use ecole_db::schema::users;
use ecole_jobs::payloads::BackupDatabase;
use ecole_jobs::{JobContext, JobError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::sauvegarde::sauvegarder;

/// The job handler.
pub async fn backup_database(ctx: JobContext) -> Result<Value, JobError> {
    let _: BackupDatabase = ctx.payload()?;
    // Dropped with the run (hard time limit, shutdown): the dump's process group is killed.
    let annulation = CancellationToken::new();
    match sauvegarder(&ctx.settings, &annulation).await {
        Ok(bilan) => {
            tracing::info!(
                sauvegarde.fichier = %bilan.fichier,
                sauvegarde.taille = bilan.taille,
                sauvegarde.s3 = ?bilan.s3,
                duration_ms = bilan.duree_ms,
                "sauvegarde de la base terminée"
            );
            serde_json::to_value(&bilan)
                .map_err(|e| JobError::fatal(format!("résultat illisible : {e}")))
        }
        Err(e) => {
            let derniere = ctx.attempt >= ctx.max_attempts;
            if derniere {
                tracing::error!(
                    job.id = ctx.job_id,
                    job.attempt = ctx.attempt,
                    error.cause = %e,
                    "SAUVEGARDE EN ÉCHEC : dernière tentative, les administrateurs sont alertés"
                );
                if let Err(alerte) = alerter_administrateurs(&ctx, &e.to_string()).await {
                    tracing::error!(error.cause = %alerte, "alerte des administrateurs impossible");
                }
            } else {
                tracing::error!(
                    job.id = ctx.job_id,
                    job.attempt = ctx.attempt,
                    job.max_attempts = ctx.max_attempts,
                    error.cause = %e,
                    "sauvegarde de la base en échec : nouvelle tentative prévue"
                );
            }
            Err(JobError::retry(format!("sauvegarde impossible : {e}")))
        }
    }
}

/// Ids of the active administrators.
async fn administrateurs(conn: &mut AsyncPgConnection) -> QueryResult<Vec<i64>> {
    users::table
        .filter(users::role.eq(Role::Admin))
        .filter(users::is_active.eq(true))
        .select(users::id)
        .order(users::id)
        .load(conn)
        .await
}

/// One `GENERAL` notification (with e-mail) per active administrator, once per job.
async fn alerter_administrateurs(ctx: &JobContext, erreur: &str) -> Result<usize, JobError> {
    let mut conn = ctx.pool.get().await?;
    let admins = administrateurs(&mut conn).await?;
    let quand = ecole_core::time::format_fr(chrono::Utc::now());
    let erreur: String = if erreur.chars().count() > 1_500 {
        erreur.chars().take(1_500).collect::<String>() + "…"
    } else {
        erreur.to_string()
    };
    let message = format!(
        "La sauvegarde de la base de données a échoué (le {quand}, {} tentative(s)) : {erreur}\n\n\
         Aucune nouvelle copie n'existe depuis la dernière sauvegarde réussie. Vérifiez le \
         serveur avec « ecole check --deploy », puis lancez « ecole backup ».",
        ctx.attempt
    );
    let notifications: Vec<NouvelleNotification> = admins
        .iter()
        .map(|&id| NouvelleNotification {
            utilisateur_id: id,
            type_notification: TypeNotification::General,
            titre: "Échec de la sauvegarde de la base de données".into(),
            message: message.clone(),
            lien_url: Some(format!("/api/v1/jobs/{}/", ctx.job_id)),
            envoyer_par_email: true,
            envoyer_par_sms: false,
            cle: Some(format!("sauvegarde-echec:{}:{id}", ctx.job_id)),
        })
        .collect();
    let created = conn
        .transaction::<_, ecole_core::DomainError, _>(async move |conn| {
            notifier(conn, &notifications).await
        })
        .await?;
    if admins.is_empty() {
        tracing::warn!("aucun administrateur actif à alerter");
    }
    Ok(created.len())
}
