//! `core.purger_donnees` (the beat, 03:30 Conakry): deletes what nobody needs any more, so no
//! table grows forever. Set-based: each statement deletes at most [`TAILLE_LOT`] rows (short
//! locks, a bounded WAL burst), repeated until a batch comes back short.
//!
//! | table | deleted when |
//! |---|---|
//! | `jobs` | `SUCCES` finished more than 30 days ago; `ECHEC` more than 90 days ago; never one waiting or running |
//! | `notifications` | read more than a year ago, nothing left to deliver |
//! | `refresh_tokens` | expired for more than a day |
//! | `auth_sessions` | no refresh token valid less than a day ago (revoked or expired sessions) |
//! | `requetes_idempotentes` | older than 48 h (a client retries within minutes) |

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_jobs::payloads::PurgerDonnees;
use ecole_jobs::{JobContext, JobError};
use serde::Serialize;
use serde_json::Value;

/// Rows per `DELETE`.
pub const TAILLE_LOT: i64 = 5_000;
/// Finished jobs kept this many days; failed ones [`JOURS_JOBS_ECHEC`].
pub const JOURS_JOBS: i64 = 30;
pub const JOURS_JOBS_ECHEC: i64 = 90;
/// Read notifications kept this many days.
pub const JOURS_NOTIFICATIONS_LUES: i64 = 365;
/// Margin after a refresh token's expiry (clock skew, a refresh in flight).
pub const HEURES_MARGE_JETONS: i64 = 24;
/// Idempotency keys kept this many hours.
pub const HEURES_IDEMPOTENCE: i64 = 48;
/// Batches per table and run at most (a backlog is finished by the next runs).
const LOTS_MAX: usize = 2_000;

/// Rows deleted by one run, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BilanPurge {
    pub jobs: u64,
    pub notifications: u64,
    pub refresh_tokens: u64,
    pub auth_sessions: u64,
    pub requetes_idempotentes: u64,
}

/// `$1`: the cut-off instant, `$2`: the batch size (`$3`: failed jobs' cut-off).
const JOBS: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs
    WHERE status IN ('SUCCES', 'ECHEC') AND finished_at < $1
      AND (status = 'SUCCES' OR finished_at < $3)
    LIMIT $2)";
const NOTIFICATIONS: &str = "DELETE FROM notifications WHERE id IN (
    SELECT id FROM notifications
    WHERE lue AND lue_le < $1
      AND email_statut NOT IN ('EN_ATTENTE', 'EN_COURS')
      AND sms_statut NOT IN ('EN_ATTENTE', 'EN_COURS')
    LIMIT $2)";
const REFRESH_TOKENS: &str = "DELETE FROM refresh_tokens WHERE id IN (
    SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)";
const SESSIONS: &str = "DELETE FROM auth_sessions WHERE id IN (
    SELECT s.id FROM auth_sessions s
    WHERE s.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM refresh_tokens r
                      WHERE r.session_id = s.id AND r.expires_at >= $1)
    LIMIT $2)";
const IDEMPOTENCE: &str = "DELETE FROM requetes_idempotentes WHERE cle IN (
    SELECT cle FROM requetes_idempotentes WHERE created_at < $1 LIMIT $2)";

/// Runs `sql` batch after batch until one deletes fewer than `lot` rows.
async fn par_lots(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
    limite: DateTime<Utc>,
    seconde_limite: Option<DateTime<Utc>>,
    lot: i64,
) -> diesel::QueryResult<u64> {
    let mut total = 0u64;
    for _ in 0..LOTS_MAX {
        let query = diesel::sql_query(sql)
            .bind::<Timestamptz, _>(limite)
            .bind::<BigInt, _>(lot);
        let n = match seconde_limite {
            Some(autre) => query.bind::<Timestamptz, _>(autre).execute(conn).await?,
            None => query.execute(conn).await?,
        };
        total += n as u64;
        if (n as i64) < lot {
            break;
        }
    }
    Ok(total)
}

/// Deletes what expired at `maintenant`, `lot` rows per statement (outside any transaction:
/// each batch commits on its own).
pub async fn purger(
    conn: &mut AsyncPgConnection,
    maintenant: DateTime<Utc>,
    lot: i64,
) -> diesel::QueryResult<BilanPurge> {
    let lot = lot.max(1);
    let jours = |n: i64| maintenant - Duration::days(n);
    let heures = |n: i64| maintenant - Duration::hours(n);
    let jobs = par_lots(
        conn,
        JOBS,
        jours(JOURS_JOBS),
        Some(jours(JOURS_JOBS_ECHEC)),
        lot,
    )
    .await?;
    let notifications = par_lots(
        conn,
        NOTIFICATIONS,
        jours(JOURS_NOTIFICATIONS_LUES),
        None,
        lot,
    )
    .await?;
    let marge = heures(HEURES_MARGE_JETONS);
    let refresh_tokens = par_lots(conn, REFRESH_TOKENS, marge, None, lot).await?;
    let auth_sessions = par_lots(conn, SESSIONS, marge, None, lot).await?;
    let requetes_idempotentes =
        par_lots(conn, IDEMPOTENCE, heures(HEURES_IDEMPOTENCE), None, lot).await?;
    Ok(BilanPurge {
        jobs,
        notifications,
        refresh_tokens,
        auth_sessions,
        requetes_idempotentes,
    })
}

/// The job handler.
pub async fn purger_donnees(ctx: JobContext) -> Result<Value, JobError> {
    let _: PurgerDonnees = ctx.payload()?;
    let mut conn = ctx.pool.get().await?;
    let bilan = purger(&mut conn, Utc::now(), TAILLE_LOT)
        .await
        .map_err(|e| JobError::retry(format!("purge : {e}")))?;
    tracing::info!(
        purge.jobs = bilan.jobs,
        purge.notifications = bilan.notifications,
        purge.refresh_tokens = bilan.refresh_tokens,
        purge.auth_sessions = bilan.auth_sessions,
        purge.requetes_idempotentes = bilan.requetes_idempotentes,
        "données expirées purgées"
    );
    serde_json::to_value(&bilan).map_err(|e| JobError::fatal(format!("résultat illisible : {e}")))
}
