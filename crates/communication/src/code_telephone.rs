//! `users.envoyer_code_telephone`: the SMS of a phone change (`users/me/telephone/`). The code
//! is drawn here, its digest stored in the same statement that claims the send, and only
//! then does the SMS leave: a job run twice sends one code, and the code itself is never
//! written anywhere but in the SMS. Quiet hours do not apply: the user is waiting for it.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::telephone_confirmations as tc;
use ecole_jobs::{JobContext, JobError};
use ecole_users::telephone::{VALIDITE_MINUTES, digest_code, generate_code, message};
use serde_json::{Value, json};

use crate::envoi::ErreurEnvoi;
use crate::gsm7;
use crate::livraison::Services;
use crate::service::school_name;

fn outcome(id: i64, statut: &str, detail: Option<&str>) -> Value {
    json!({ "confirmation": id, "statut": statut, "detail": detail })
}

/// Records why the SMS did not leave; a temporary failure also frees the claim (a new code
/// is drawn by the next attempt).
async fn record_error(
    conn: &mut AsyncPgConnection,
    id: i64,
    erreur: &str,
    free_claim: bool,
) -> Result<(), JobError> {
    let erreur: String = erreur.chars().take(500).collect();
    let target = tc::table.find(id);
    if free_claim {
        diesel::update(target)
            .set((
                tc::code_hash.eq(None::<Vec<u8>>),
                tc::envoye_le.eq(None::<DateTime<Utc>>),
                tc::expire_le.eq(None::<DateTime<Utc>>),
                tc::erreur.eq(erreur),
            ))
            .execute(conn)
            .await?;
    } else {
        diesel::update(target)
            .set(tc::erreur.eq(erreur))
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn envoyer_code_telephone(
    ctx: &JobContext,
    services: &Services,
    id: i64,
) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let row: Option<(i64, String, bool, bool, DateTime<Utc>)> = tc::table
        .find(id)
        .select((
            tc::user_id,
            tc::telephone,
            tc::code_hash.is_not_null(),
            tc::confirme_le.is_not_null(),
            tc::created_at,
        ))
        .first(&mut conn)
        .await
        .optional()?;
    let Some((user_id, telephone, sent, confirmed, created_at)) = row else {
        return Ok(outcome(id, "IGNORE", Some("demande supprimée")));
    };
    if sent || confirmed {
        return Ok(outcome(id, "IGNORE", Some("déjà traité")));
    }
    let now = Utc::now();
    if now - created_at > Duration::minutes(VALIDITE_MINUTES) {
        record_error(&mut conn, id, "demande expirée avant l'envoi", false).await?;
        return Ok(outcome(id, "IGNORE", Some("demande expirée avant l'envoi")));
    }
    let code = generate_code();
    let digest = digest_code(ctx.settings.secret_bytes(), user_id, &telephone, &code)?;
    let text = gsm7::sms_text(&school_name(&mut conn).await?, &message(&code), None);
    let claimed = diesel::update(
        tc::table
            .find(id)
            .filter(tc::code_hash.is_null())
            .filter(tc::confirme_le.is_null()),
    )
    .set((
        tc::code_hash.eq(digest),
        tc::envoye_le.eq(now),
        tc::expire_le.eq(now + Duration::minutes(VALIDITE_MINUTES)),
        tc::erreur.eq(None::<String>),
    ))
    .execute(&mut conn)
    .await?;
    if claimed != 1 {
        return Ok(outcome(id, "IGNORE", Some("pris par un autre traitement")));
    }
    drop(conn);
    services.rate.acquire().await;
    let result = services.sms.send(&telephone, &text).await;
    let mut conn = ctx.pool.get().await?;
    match result {
        Ok(message_id) => {
            let mut value = outcome(id, "ENVOYE", None);
            value["message_id"] = Value::String(message_id);
            Ok(value)
        }
        Err(e) => {
            tracing::warn!(confirmation.id = id, sms.provider = services.sms.name(), error.cause = %e, "code de confirmation non envoyé");
            match e {
                ErreurEnvoi::Temporaire(e) => {
                    record_error(&mut conn, id, &e, true).await?;
                    Err(JobError::retry(e))
                }
                ErreurEnvoi::Definitive(e) | ErreurEnvoi::Incertaine(e) => {
                    record_error(&mut conn, id, &e, false).await?;
                    Err(JobError::fatal(e))
                }
            }
        }
    }
}
