//! Login throttling: after too many failures for one username, or from one address, within
//! the window, logins are refused with a delay to wait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_config::Settings;
use ecole_core::{DomainError, DomainResult};
use ecole_db::schema::login_failures;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    pub max_per_user: i64,
    pub max_per_ip: i64,
    pub window: Duration,
}

impl ThrottleConfig {
    pub fn from_settings(s: &Settings) -> Self {
        ThrottleConfig {
            max_per_user: s.login_max_failures_user.max(1),
            max_per_ip: s.login_max_failures_ip.max(1),
            window: s.login_window,
        }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::minutes(15))
    }
}

/// The failure that must age out before one more attempt is allowed, if the limit is reached.
async fn blocking_failure(
    conn: &mut AsyncPgConnection,
    by_user: Option<&str>,
    by_ip: Option<&str>,
    max: i64,
    cutoff: DateTime<Utc>,
) -> DomainResult<Option<DateTime<Utc>>> {
    let mut query = login_failures::table
        .filter(login_failures::created_at.gt(cutoff))
        .select(login_failures::created_at)
        .order(login_failures::created_at.desc())
        .offset(max - 1)
        .into_boxed();
    if let Some(user) = by_user {
        query = query.filter(login_failures::username.eq(user.to_string()));
    }
    if let Some(ip) = by_ip {
        query = query.filter(login_failures::ip.eq(ip.to_string()));
    }
    Ok(query.first::<DateTime<Utc>>(conn).await.optional()?)
}

/// Refuses with `Throttled` when the username or the address has used up its attempts.
pub async fn check(
    conn: &mut AsyncPgConnection,
    cfg: &ThrottleConfig,
    username: &str,
    ip: &str,
) -> DomainResult<()> {
    let window = cfg.window();
    let now = Utc::now();
    let cutoff = now - window;
    let user_block = blocking_failure(conn, Some(username), None, cfg.max_per_user, cutoff).await?;
    let ip_block = blocking_failure(conn, None, Some(ip), cfg.max_per_ip, cutoff).await?;
    let until = [user_block, ip_block]
        .into_iter()
        .flatten()
        .map(|t| t + window)
        .max();
    match until {
        Some(until) => {
            let secs = (until - now).num_seconds().max(1) as u64;
            let minutes = secs.div_ceil(60);
            Err(DomainError::Throttled {
                retry_after_secs: secs,
                message: format!(
                    "Trop de tentatives de connexion. Réessayez dans {minutes} minute{}.",
                    if minutes > 1 { "s" } else { "" }
                ),
            })
        }
        None => Ok(()),
    }
}

pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    cfg: &ThrottleConfig,
    username: &str,
    ip: &str,
) -> DomainResult<()> {
    // Old rows are of no use any more; the created_at index keeps this cheap.
    diesel::delete(
        login_failures::table.filter(login_failures::created_at.lt(Utc::now() - cfg.window())),
    )
    .execute(conn)
    .await?;
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::username.eq(username),
            login_failures::ip.eq(ip),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A successful login forgets the username's failures (not the address's).
pub async fn clear_user(conn: &mut AsyncPgConnection, username: &str) -> DomainResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::username.eq(username)))
        .execute(conn)
        .await?;
    Ok(())
}
