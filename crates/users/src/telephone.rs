//! Changing one's own phone number (`users/me/telephone/` then `…/confirmer/`): the number
//! is set only once the code sent by SMS to it comes back. A phone number links a parent to
//! pupils at the roster import and receives the absence SMS, so nobody may claim a number
//! they do not hold. Management sets numbers directly (`users/<id>/`, profiles).
//!
//! The code (6 digits) is drawn by the worker that sends the SMS, and only its HMAC-SHA256
//! (keyed with `SECRET_KEY`, bound to the user and the number) is stored: the code is never
//! in the database, a job's payload or a log. It is valid 10 minutes and for 5 tries; the
//! comparison is constant-time. A user may ask for a code once a minute and five times a day.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors};
use ecole_db::schema::telephone_confirmations as tc;
use ecole_jobs::payloads::{EnvoyerCodeTelephone, JobPayload};
use ecole_jobs::{NewJob, enqueue};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::model::User;
use crate::repo::{self, UserChanges};
use crate::service::audit_user_update;
use crate::validation::clean_phone;

/// How long a code is valid once sent.
pub const VALIDITE_MINUTES: i64 = 10;
/// Wrong codes accepted before the code is dead.
pub const MAX_ESSAIS: i32 = 5;
/// Seconds between two requests of one user.
const INTERVALLE_SECONDES: i64 = 60;
/// Requests of one user per 24 hours.
const DEMANDES_PAR_JOUR: usize = 5;

/// Body of `POST users/me/telephone/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandeTelephone {
    /// The new number (`+224621000000`, `621 00 00 00`, …).
    pub telephone: String,
}

/// Body of `POST users/me/telephone/confirmer/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationTelephone {
    /// The 6 digits received by SMS.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// Answer of `POST users/me/telephone/`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DemandeTelephoneOut {
    pub detail: String,
    /// The number the code goes to, normalised.
    pub telephone: String,
    pub expire_dans_secondes: i64,
}

/// A new code: 6 digits from the operating system's generator (via `rand`'s thread RNG).
pub fn generate_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

fn mac(secret: &[u8], user_id: i64, telephone: &str, code: &str) -> DomainResult<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| DomainError::internal(format!("clé HMAC : {e}")))?;
    mac.update(b"ecole:telephone:v1\0");
    mac.update(&user_id.to_be_bytes());
    mac.update(telephone.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    Ok(mac)
}

/// What is stored for a code: HMAC-SHA256 of the code, bound to the user and the number.
pub fn digest_code(
    secret: &[u8],
    user_id: i64,
    telephone: &str,
    code: &str,
) -> DomainResult<Vec<u8>> {
    Ok(mac(secret, user_id, telephone, code)?
        .finalize()
        .into_bytes()
        .to_vec())
}

/// Whether `code` is the one behind `stored`, compared in constant time.
fn code_matches(
    secret: &[u8],
    user_id: i64,
    telephone: &str,
    code: &str,
    stored: &[u8],
) -> DomainResult<bool> {
    Ok(mac(secret, user_id, telephone, code)?
        .verify_slice(stored)
        .is_ok())
}

/// The SMS carrying a code (the school's name is put in front by the sender).
pub fn message(code: &str) -> String {
    format!(
        "Code de confirmation de votre numéro : {code}. Valable {VALIDITE_MINUTES} minutes. Ne le communiquez à personne."
    )
}

fn throttled(retry_after_secs: i64, message: String) -> DomainError {
    DomainError::Throttled {
        retry_after_secs: retry_after_secs.max(1) as u64,
        message,
    }
}

/// `POST users/me/telephone/`: records the request and asks for the SMS job, in one
/// transaction. The number is not changed yet.
pub async fn demander(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &DemandeTelephone,
) -> DomainResult<DemandeTelephoneOut> {
    let mut errors = FieldErrors::new();
    let telephone = clean_phone(Some(&input.telephone), &mut errors);
    let Some(telephone) = telephone else {
        if errors.is_empty() {
            errors.add("telephone", "Ce champ ne peut pas être vide.");
        }
        return Err(DomainError::Validation(errors));
    };
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // The user's row lock orders their concurrent requests.
        let user = repo::get_for_update(conn, actor.user_id)
            .await?
            .ok_or(DomainError::NotFound)?;
        if user.telephone.as_deref() == Some(telephone.as_str()) {
            return Err(DomainError::validation(
                "telephone",
                "C'est déjà votre numéro de téléphone.",
            ));
        }
        let now = Utc::now();
        let day_ago = now - Duration::hours(24);
        diesel::delete(
            tc::table
                .filter(tc::user_id.eq(actor.user_id))
                .filter(tc::created_at.lt(day_ago)),
        )
        .execute(conn)
        .await?;
        let recent: Vec<DateTime<Utc>> = tc::table
            .filter(tc::user_id.eq(actor.user_id))
            .select(tc::created_at)
            .order(tc::created_at.desc())
            .limit(DEMANDES_PAR_JOUR as i64)
            .load(conn)
            .await?;
        if let Some(last) = <[_]>::first(&recent) {
            let wait = INTERVALLE_SECONDES - (now - *last).num_seconds();
            if wait > 0 {
                return Err(throttled(
                    wait,
                    format!("Un code vient d'être demandé : attendez {wait} secondes avant d'en demander un autre."),
                ));
            }
        }
        if recent.len() >= DEMANDES_PAR_JOUR
            && let Some(oldest) = recent.last()
        {
            return Err(throttled(
                (*oldest + Duration::hours(24) - now).num_seconds(),
                format!("{DEMANDES_PAR_JOUR} codes ont déjà été demandés en 24 heures : réessayez plus tard."),
            ));
        }
        let id: i64 = diesel::insert_into(tc::table)
            .values((tc::user_id.eq(actor.user_id), tc::telephone.eq(&telephone)))
            .returning(tc::id)
            .get_result(conn)
            .await?;
        let payload = EnvoyerCodeTelephone {
            confirmation_id: id,
        };
        enqueue(
            conn,
            NewJob::of(&payload)?
                .dedupe(format!("{}:{id}", EnvoyerCodeTelephone::NAME))
                .requested_by(Some(actor.user_id))
                .max_attempts(3)
                .time_limits(120, 100),
        )
        .await?;
        Ok(DemandeTelephoneOut {
            detail: format!(
                "Un code de confirmation part par SMS au {telephone}. Envoyez-le à POST users/me/telephone/confirmer/ dans les {VALIDITE_MINUTES} minutes."
            ),
            telephone,
            expire_dans_secondes: VALIDITE_MINUTES * 60,
        })
    })
    .await
}

/// The latest pending request of a user, as the confirmation reads it.
#[derive(Queryable)]
struct Pending {
    id: i64,
    telephone: String,
    code_hash: Option<Vec<u8>>,
    expire_le: Option<DateTime<Utc>>,
    essais: i32,
}

/// `POST users/me/telephone/confirmer/`: the right code sets the number (audited); a wrong
/// one uses up one of the 5 tries.
pub async fn confirmer(
    conn: &mut AsyncPgConnection,
    secret: &[u8],
    actor: &Actor,
    input: &ConfirmationTelephone,
) -> DomainResult<User> {
    let code = input.code.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::validation(
            "code",
            "Code à 6 chiffres attendu.",
        ));
    }
    let secret = secret.to_vec();
    let actor = *actor;
    // Ok(Err(message)): refused, with the tries counted (the transaction commits).
    let outcome = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let pending: Option<Pending> = tc::table
                .filter(tc::user_id.eq(actor.user_id))
                .filter(tc::confirme_le.is_null())
                .select((
                    tc::id,
                    tc::telephone,
                    tc::code_hash,
                    tc::expire_le,
                    tc::essais,
                ))
                .order((tc::created_at.desc(), tc::id.desc()))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(p) = pending else {
                return Ok(Err(
                    "Aucun code en attente : demandez-en un par POST users/me/telephone/."
                        .to_string(),
                ));
            };
            let (Some(hash), Some(expire_le)) = (p.code_hash, p.expire_le) else {
                return Ok(Err(
                    "Le code n'est pas encore parti : réessayez dans un instant.".to_string(),
                ));
            };
            if expire_le <= Utc::now() {
                return Ok(Err("Ce code a expiré : demandez-en un nouveau.".to_string()));
            }
            if p.essais >= MAX_ESSAIS {
                return Ok(Err(
                    "Trop d'essais pour ce code : demandez-en un nouveau.".to_string()
                ));
            }
            if !code_matches(&secret, actor.user_id, &p.telephone, &code, &hash)? {
                let essais = p.essais + 1;
                diesel::update(tc::table.find(p.id))
                    .set(tc::essais.eq(essais))
                    .execute(conn)
                    .await?;
                let left = MAX_ESSAIS - essais;
                return Ok(Err(if left > 0 {
                    format!(
                        "Code incorrect ({left} essai{} restant{}).",
                        if left > 1 { "s" } else { "" },
                        if left > 1 { "s" } else { "" }
                    )
                } else {
                    "Code incorrect. Trop d'essais : demandez un nouveau code.".to_string()
                }));
            }
            diesel::update(tc::table.find(p.id))
                .set(tc::confirme_le.eq(Utc::now()))
                .execute(conn)
                .await?;
            let before = repo::get_for_update(conn, actor.user_id)
                .await?
                .ok_or(DomainError::NotFound)?;
            let after = repo::update(
                conn,
                actor.user_id,
                &UserChanges {
                    telephone: Some(Some(p.telephone)),
                    ..Default::default()
                },
            )
            .await?;
            audit_user_update(conn, &actor, &before, &after).await?;
            Ok(Ok(after))
        })
        .await?;
    outcome.map_err(|message| DomainError::validation("code", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_their_digest_is_bound_to_user_and_number() {
        for _ in 0..200 {
            let code = generate_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        let key = b"une-cle-secrete-de-test-assez-longue";
        let d = digest_code(key, 7, "+224621000000", "123456").unwrap();
        assert_eq!(d.len(), 32);
        assert!(code_matches(key, 7, "+224621000000", "123456", &d).unwrap());
        assert!(!code_matches(key, 7, "+224621000000", "123457", &d).unwrap());
        assert!(!code_matches(key, 8, "+224621000000", "123456", &d).unwrap());
        assert!(!code_matches(key, 7, "+224621000001", "123456", &d).unwrap());
        assert!(!code_matches(b"autre-cle", 7, "+224621000000", "123456", &d).unwrap());
        assert!(!code_matches(key, 7, "+224621000000", "123456", &d[..31]).unwrap());
    }
}
