//! Delivering a notification's e-mail or SMS at most once, even when its job runs twice:
//! the send is claimed in the database (`EN_COURS`, committed) before the provider is
//! called, and its outcome recorded after. A run that finds a claim it did not make knows
//! an earlier run was interrupted: if that claim is older than any call could last, the
//! message may have gone out, so the channel becomes `INCERTAIN` (visible, never resent in
//! a loop); otherwise the other run is still at work and this one steps aside.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_config::Settings;
use ecole_core::phone::normalize_phone;
use ecole_db::enums::StatutEnvoi;
use ecole_db::schema::{notifications, users};
use ecole_jobs::payloads::EnvoyerSmsNotification;
use ecole_jobs::{JobContext, JobError, enqueue};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::email::{Contenu, Courriel, Mailer};
use crate::envoi::ErreurEnvoi;
use crate::model::Envoi;
use crate::service::{alerter_admins, delivery_job, school_name};
use crate::sms::{RateLimiter, SmsProvider, provider};
use crate::{gsm7, horaires};

/// A channel of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canal {
    Email,
    Sms,
}

impl Canal {
    fn label(self) -> &'static str {
        match self {
            Canal::Email => "E-mail",
            Canal::Sms => "SMS",
        }
    }
}

/// The providers of one worker process, built on first use from its settings.
pub struct Services {
    pub mailer: Mailer,
    pub sms: Box<dyn SmsProvider>,
    pub rate: RateLimiter,
    /// How long a claim may be held by a run still at work (beyond: interrupted).
    pub claim_timeout: Duration,
}

impl Services {
    pub fn new(
        settings: &Settings,
        redis: Option<redis::aio::ConnectionManager>,
    ) -> Result<Self, String> {
        let longest = settings.smtp_timeout.max(settings.sms.timeout) * 3;
        if settings.app_env.is_production()
            && settings.sms.provider == ecole_config::SmsProviderKind::Console
        {
            tracing::warn!(
                "SMS_PROVIDER=console en production : les SMS sont écrits dans le journal, pas envoyés"
            );
        }
        Ok(Services {
            mailer: Mailer::new(settings)?,
            sms: provider(settings)?,
            rate: RateLimiter::new(
                settings.sms.rate_limit_per_second,
                redis,
                &settings.redis_prefix,
            ),
            claim_timeout: Duration::from_std(longest).unwrap_or(Duration::minutes(5))
                + Duration::seconds(30),
        })
    }
}

/// Shared by a registry's handlers: the services, built once per process.
#[derive(Clone, Default)]
pub struct Lazy(Arc<OnceCell<Arc<Services>>>);

impl Lazy {
    pub async fn get(&self, ctx: &JobContext) -> Result<Arc<Services>, JobError> {
        self.0
            .get_or_try_init(|| async {
                Services::new(&ctx.settings, ctx.redis.clone()).map(Arc::new)
            })
            .await
            .cloned()
            .map_err(|e| JobError::retry(format!("configuration des envois : {e}")))
    }
}

async fn load(
    conn: &mut AsyncPgConnection,
    canal: Canal,
    id: i64,
) -> Result<Option<Envoi>, JobError> {
    let recipient = (
        users::first_name,
        users::last_name,
        users::email,
        users::telephone,
        users::is_active,
    );
    let base = notifications::table
        .inner_join(users::table)
        .filter(notifications::id.eq(id));
    let row = match canal {
        Canal::Email => {
            base.select((
                notifications::id,
                notifications::titre,
                notifications::message,
                notifications::lien_url,
                notifications::sms_texte,
                notifications::created_at,
                notifications::email_statut,
                notifications::email_tente_le,
                recipient,
            ))
            .first::<Envoi>(conn)
            .await
        }
        Canal::Sms => {
            base.select((
                notifications::id,
                notifications::titre,
                notifications::message,
                notifications::lien_url,
                notifications::sms_texte,
                notifications::created_at,
                notifications::sms_statut,
                notifications::sms_tente_le,
                recipient,
            ))
            .first::<Envoi>(conn)
            .await
        }
    };
    Ok(row.optional()?)
}

/// Moves the channel from `from` to `to` (with an error to record); true when it did.
async fn transition(
    conn: &mut AsyncPgConnection,
    canal: Canal,
    id: i64,
    from: StatutEnvoi,
    to: StatutEnvoi,
    erreur: Option<String>,
) -> Result<bool, JobError> {
    let target = notifications::table.filter(notifications::id.eq(id));
    let erreur = erreur.map(|e| format!("{} : {e}", canal.label()));
    let n = match canal {
        Canal::Email => {
            diesel::update(target.filter(notifications::email_statut.eq(from)))
                .set((
                    notifications::email_statut.eq(to),
                    notifications::derniere_erreur.eq(erreur),
                ))
                .execute(conn)
                .await?
        }
        Canal::Sms => {
            diesel::update(target.filter(notifications::sms_statut.eq(from)))
                .set((
                    notifications::sms_statut.eq(to),
                    notifications::derniere_erreur.eq(erreur),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(n == 1)
}

/// The claim: `EN_ATTENTE` → `EN_COURS`, stamped; false when another run took it first.
async fn claim(conn: &mut AsyncPgConnection, canal: Canal, id: i64) -> Result<bool, JobError> {
    let target = notifications::table.filter(notifications::id.eq(id));
    let now = Utc::now();
    let n = match canal {
        Canal::Email => {
            diesel::update(target.filter(notifications::email_statut.eq(StatutEnvoi::EnAttente)))
                .set((
                    notifications::email_statut.eq(StatutEnvoi::EnCours),
                    notifications::email_tente_le.eq(now),
                ))
                .execute(conn)
                .await?
        }
        Canal::Sms => {
            diesel::update(target.filter(notifications::sms_statut.eq(StatutEnvoi::EnAttente)))
                .set((
                    notifications::sms_statut.eq(StatutEnvoi::EnCours),
                    notifications::sms_tente_le.eq(now),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(n == 1)
}

/// Records the provider's acceptance.
async fn record_sent(
    conn: &mut AsyncPgConnection,
    canal: Canal,
    id: i64,
    message_id: &str,
) -> Result<(), JobError> {
    let target = notifications::table.filter(notifications::id.eq(id));
    let now = Utc::now();
    match canal {
        Canal::Email => {
            diesel::update(target.filter(notifications::email_statut.eq(StatutEnvoi::EnCours)))
                .set((
                    notifications::email_statut.eq(StatutEnvoi::Envoye),
                    notifications::email_envoye.eq(true),
                    notifications::email_envoye_le.eq(now),
                    notifications::email_message_id.eq(message_id),
                ))
                .execute(conn)
                .await?
        }
        Canal::Sms => {
            diesel::update(target.filter(notifications::sms_statut.eq(StatutEnvoi::EnCours)))
                .set((
                    notifications::sms_statut.eq(StatutEnvoi::Envoye),
                    notifications::sms_envoye.eq(true),
                    notifications::sms_envoye_le.eq(now),
                    notifications::sms_message_id.eq(message_id),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

/// What a run did, as the job's result.
fn outcome(canal: Canal, id: i64, statut: StatutEnvoi, detail: Option<&str>) -> Value {
    json!({
        "notification": id,
        "canal": match canal { Canal::Email => "email", Canal::Sms => "sms" },
        "statut": statut,
        "detail": detail,
    })
}

/// Where a run stands after reading the row.
enum Step {
    /// Nothing to send (already done, interrupted earlier, inactive account): the result.
    Done(Value),
    /// Send this.
    Go(Box<Envoi>),
}

/// Reads the row and decides whether this run sends.
async fn check(
    conn: &mut AsyncPgConnection,
    services: &Services,
    canal: Canal,
    id: i64,
) -> Result<Step, JobError> {
    let Some(envoi) = load(conn, canal, id).await? else {
        return Ok(Step::Done(
            json!({ "notification": id, "detail": "notification supprimée" }),
        ));
    };
    match envoi.statut {
        StatutEnvoi::EnAttente => {}
        StatutEnvoi::EnCours => {
            let since = envoi.tente_le.unwrap_or(DateTime::<Utc>::MIN_UTC);
            if Utc::now() - since < services.claim_timeout {
                return Err(JobError::retry(format!(
                    "{} de la notification {id} en cours dans un autre traitement",
                    canal.label()
                )));
            }
            let reason = "envoi interrompu après l'appel au fournisseur : peut-être parti, il n'est pas renvoyé automatiquement";
            transition(
                conn,
                canal,
                id,
                StatutEnvoi::EnCours,
                StatutEnvoi::Incertain,
                Some(reason.into()),
            )
            .await?;
            tracing::warn!(notification.id = id, canal = canal.label(), "{reason}");
            return Ok(Step::Done(outcome(
                canal,
                id,
                StatutEnvoi::Incertain,
                Some(reason),
            )));
        }
        done => return Ok(Step::Done(outcome(canal, id, done, Some("déjà traité")))),
    }
    if !envoi.destinataire.is_active {
        return ignore(conn, canal, id, "compte désactivé")
            .await
            .map(Step::Done);
    }
    Ok(Step::Go(Box::new(envoi)))
}

/// Nothing to send, for a reason that is not an error.
async fn ignore(
    conn: &mut AsyncPgConnection,
    canal: Canal,
    id: i64,
    reason: &str,
) -> Result<Value, JobError> {
    transition(
        conn,
        canal,
        id,
        StatutEnvoi::EnAttente,
        StatutEnvoi::Ignore,
        Some(reason.into()),
    )
    .await?;
    tracing::info!(
        notification.id = id,
        canal = canal.label(),
        "envoi ignoré : {reason}"
    );
    Ok(outcome(canal, id, StatutEnvoi::Ignore, Some(reason)))
}

/// Records what the provider said, and what the job does next.
async fn record(
    ctx: &JobContext,
    canal: Canal,
    id: i64,
    result: Result<String, ErreurEnvoi>,
) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let conn = &mut *conn;
    match result {
        Ok(message_id) => {
            record_sent(conn, canal, id, &message_id).await?;
            let mut value = outcome(canal, id, StatutEnvoi::Envoye, None);
            value["message_id"] = Value::String(message_id);
            Ok(value)
        }
        Err(ErreurEnvoi::Temporaire(e)) => {
            let last = ctx.attempt >= ctx.max_attempts;
            let next = if last {
                StatutEnvoi::Echec
            } else {
                StatutEnvoi::EnAttente
            };
            let moved =
                transition(conn, canal, id, StatutEnvoi::EnCours, next, Some(e.clone())).await?;
            if last && moved {
                alerter_echec(conn, canal, id, &e).await?;
            }
            Err(JobError::retry(e))
        }
        Err(ErreurEnvoi::Definitive(e)) => {
            let moved = transition(
                conn,
                canal,
                id,
                StatutEnvoi::EnCours,
                StatutEnvoi::Echec,
                Some(e.clone()),
            )
            .await?;
            if moved {
                alerter_echec(conn, canal, id, &e).await?;
            }
            Err(JobError::fatal(e))
        }
        Err(ErreurEnvoi::Incertaine(e)) => {
            let reason = format!("{e} ; peut-être parti, il n'est pas renvoyé automatiquement");
            transition(
                conn,
                canal,
                id,
                StatutEnvoi::EnCours,
                StatutEnvoi::Incertain,
                Some(reason.clone()),
            )
            .await?;
            Err(JobError::fatal(reason))
        }
    }
}

/// Keys of the administrators' alerts start with this (an alert is never alerted about: a
/// failing alert e-mail would otherwise alert again, for ever).
pub const ALERTE_PREFIXE: &str = "alerte:echec-envoi:";

/// A message failed for good (`ECHEC`): every active administrator gets a notification (in
/// the application and by e-mail, never by SMS: the SMS provider may be what is broken),
/// once per channel of the failed notification (keyed), in one transaction.
async fn alerter_echec(
    conn: &mut AsyncPgConnection,
    canal: Canal,
    id: i64,
    erreur: &str,
) -> Result<(), JobError> {
    use diesel_async::AsyncConnection;
    let row: Option<(Option<String>, String, String, String)> = notifications::table
        .inner_join(users::table)
        .filter(notifications::id.eq(id))
        .select((
            notifications::cle,
            notifications::titre,
            users::first_name,
            users::last_name,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((cle, titre, prenom, nom)) = row else {
        return Ok(());
    };
    if cle
        .as_deref()
        .is_some_and(|c| c.starts_with(ALERTE_PREFIXE))
    {
        return Ok(());
    }
    let (canal_nom, canal_cle) = match canal {
        Canal::Email => ("e-mail", "email"),
        Canal::Sms => ("SMS", "sms"),
    };
    let erreur: String = erreur.chars().take(500).collect();
    let destinataire = format!("{prenom} {nom}");
    let titre_alerte = format!("Échec d'envoi d'un {canal_nom}");
    let message = format!(
        "Le {canal_nom} « {} » destiné à {} (notification {id}) n'a pas pu être envoyé \
         après les nouvelles tentatives : {erreur}. Il ne sera pas renvoyé automatiquement.",
        titre.trim(),
        destinataire.trim(),
    );
    let cle = format!("{ALERTE_PREFIXE}{canal_cle}:{id}");
    let admins = conn
        .transaction::<_, ecole_core::DomainError, _>(async move |conn| {
            alerter_admins(conn, &titre_alerte, &message, &cle).await
        })
        .await?;
    if admins == 0 {
        tracing::warn!(
            notification.id = id,
            "échec d'envoi : aucun administrateur actif à prévenir"
        );
        return Ok(());
    }
    tracing::warn!(
        notification.id = id,
        canal = canal.label(),
        admins,
        "échec d'envoi : administrateurs prévenus"
    );
    Ok(())
}

/// An absolute link for a message, when the notification has one.
fn absolute_link(settings: &Settings, lien: Option<&str>) -> Option<String> {
    let lien = lien?;
    if lien.starts_with("https://") || lien.starts_with("http://") {
        return Some(lien.to_string());
    }
    let base = settings.public_base_url.as_deref()?;
    Some(format!("{base}/{}", lien.trim_start_matches('/')))
}

/// `communication.envoyer_email_notification`.
pub async fn envoyer_email(
    ctx: &JobContext,
    services: &Services,
    id: i64,
) -> Result<Value, JobError> {
    let canal = Canal::Email;
    let mut conn = ctx.pool.get().await?;
    let envoi = match check(&mut conn, services, canal, id).await? {
        Step::Done(value) => return Ok(value),
        Step::Go(envoi) => envoi,
    };
    let Some(email) = envoi
        .destinataire
        .email
        .clone()
        .filter(|e| !e.trim().is_empty())
    else {
        return ignore(&mut conn, canal, id, "aucune adresse e-mail").await;
    };
    let school = school_name(&mut conn).await?;
    let name = envoi.destinataire.nom_complet();
    let link = absolute_link(&ctx.settings, envoi.lien_url.as_deref());
    let contenu = Contenu {
        school: &school,
        recipient_name: &name,
        titre: &envoi.titre,
        message: &envoi.message,
        link: link.as_deref(),
    };
    let courriel = Courriel {
        to_name: name.clone(),
        to_email: email,
        subject: contenu.subject(),
        text: contenu.text(),
        html: contenu.html(),
        message_id: format!(
            "<notification-{id}.{}@{}>",
            envoi.created_at.timestamp(),
            services.mailer.from_domain()
        ),
    };
    if !claim(&mut conn, canal, id).await? {
        return Ok(outcome(
            canal,
            id,
            StatutEnvoi::EnCours,
            Some("pris par un autre traitement"),
        ));
    }
    drop(conn);
    let result = services.mailer.send(&courriel).await;
    record(ctx, canal, id, result).await
}

/// `communication.envoyer_sms_notification`.
pub async fn envoyer_sms(
    ctx: &JobContext,
    services: &Services,
    id: i64,
) -> Result<Value, JobError> {
    let canal = Canal::Sms;
    let mut conn = ctx.pool.get().await?;
    let envoi = match check(&mut conn, services, canal, id).await? {
        Step::Done(value) => return Ok(value),
        Step::Go(envoi) => envoi,
    };
    if let Some(at) = horaires::deferred_until(Utc::now(), ctx.settings.sms.quiet_hours) {
        // Quiet hours: the same delivery, asked for again at the end of the silence.
        let job = delivery_job(&EnvoyerSmsNotification {
            notification_id: id,
        })?;
        let key = format!(
            "{}:{}",
            job.dedupe_key.clone().unwrap_or_default(),
            at.timestamp()
        );
        enqueue(&mut conn, job.dedupe(key).run_after(at)).await?;
        let detail = format!(
            "heures de silence : envoi reporté au {}",
            ecole_core::time::format_fr(at)
        );
        let mut value = outcome(canal, id, StatutEnvoi::EnAttente, Some(&detail));
        value["reporte_a"] = Value::String(at.to_rfc3339());
        return Ok(value);
    }
    let Some(raw) = envoi
        .destinataire
        .telephone
        .clone()
        .filter(|t| !t.trim().is_empty())
    else {
        return ignore(&mut conn, canal, id, "aucun numéro de téléphone").await;
    };
    let to = match normalize_phone(&raw) {
        Ok(to) => to,
        Err(e) => return ignore(&mut conn, canal, id, &e).await,
    };
    let text = match envoi.sms_texte.clone() {
        Some(text) => text,
        None => {
            let school = school_name(&mut conn).await?;
            gsm7::sms_text(&school, &envoi.message, None)
        }
    };
    drop(conn);
    services.rate.acquire().await;
    let mut conn = ctx.pool.get().await?;
    if !claim(&mut conn, canal, id).await? {
        return Ok(outcome(
            canal,
            id,
            StatutEnvoi::EnCours,
            Some("pris par un autre traitement"),
        ));
    }
    drop(conn);
    let result = services.sms.send(&to, &text).await;
    if let Err(e) = &result {
        tracing::warn!(notification.id = id, sms.provider = services.sms.name(), error.cause = %e, "SMS non envoyé");
    }
    record(ctx, canal, id, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_absolute_only_with_a_public_address() {
        let mut settings =
            Settings::for_tests("postgres://x@127.0.0.1/x", "redis://127.0.0.1", "t");
        assert_eq!(absolute_link(&settings, Some("/api/v1/bulletins/3/")), None);
        assert_eq!(
            absolute_link(&settings, Some("https://a.gn/x")).as_deref(),
            Some("https://a.gn/x")
        );
        settings.public_base_url = Some("https://ecole.gn".into());
        assert_eq!(
            absolute_link(&settings, Some("/api/v1/bulletins/3/")).as_deref(),
            Some("https://ecole.gn/api/v1/bulletins/3/")
        );
        assert_eq!(absolute_link(&settings, None), None);
    }
}
