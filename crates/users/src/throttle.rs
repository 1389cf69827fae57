//! Login throttling that an attacker cannot turn against the account's owner.
//!
//! - Failures are counted per (identifier, address) pair: beyond `max_per_user` in the
//!   window, that pair gets 429. Another address, the owner's, is not blocked by it.
//! - Per address, what counts is the number of *distinct* identifiers that failed: many
//!   accounts tried from one address is credential stuffing, while the parents of a carrier
//!   NAT mistyping their own passwords are not.
//! - Per identifier, across every address, failures beyond `max_per_user` only delay the
//!   *failed* answers (growing, up to `delay_max`): the right password is never delayed nor
//!   refused.
//!
//! Password changes (`auth/password/`) count their failures here too, under the account's
//! username.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_config::Settings;
use ecole_core::{DomainError, DomainResult};
use ecole_db::schema::login_failures;

/// First step of the delay of a failed answer once an identifier is over its limit.
const DELAY_STEP: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures per (identifier, address) pair before 429; also where the identifier's
    /// delay starts.
    pub max_per_user: i64,
    /// Distinct identifiers failing from one address before 429.
    pub max_per_ip: i64,
    pub window: Duration,
    /// Longest delay of a failed answer.
    pub delay_max: Duration,
    /// Password checks waiting for the hashing thread beyond which logins answer 429.
    pub hash_queue_max: usize,
}

impl ThrottleConfig {
    pub fn from_settings(s: &Settings) -> Self {
        ThrottleConfig {
            max_per_user: s.login_max_failures_user.max(1),
            max_per_ip: s.login_max_failures_ip.max(1),
            window: s.login_window,
            delay_max: s.login_delay_max,
            hash_queue_max: s.password_hash_queue_max,
        }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::minutes(15))
    }

    /// The delay of a failed answer after `failures` failures of one identifier (all
    /// addresses, this one included): none up to the limit, then 250 ms doubling each time.
    pub fn delay_after(&self, failures: i64) -> Duration {
        let over = failures - self.max_per_user;
        if over < 0 {
            return Duration::ZERO;
        }
        let factor = 1u32 << (over.min(16) as u32);
        DELAY_STEP.saturating_mul(factor).min(self.delay_max)
    }
}

/// The failure of the pair that must age out before one more attempt is allowed.
async fn pair_block(
    conn: &mut AsyncPgConnection,
    cfg: &ThrottleConfig,
    username: &str,
    ip: &str,
    cutoff: DateTime<Utc>,
) -> DomainResult<Option<DateTime<Utc>>> {
    Ok(login_failures::table
        .filter(login_failures::created_at.gt(cutoff))
        .filter(login_failures::username.eq(username))
        .filter(login_failures::ip.eq(ip))
        .select(login_failures::created_at)
        .order(login_failures::created_at.desc())
        .offset(cfg.max_per_user - 1)
        .first::<DateTime<Utc>>(conn)
        .await
        .optional()?)
}

/// When the address is at its limit of distinct identifiers: the last failure of the
/// identifier that must age out for the count to drop under the limit.
async fn address_block(
    conn: &mut AsyncPgConnection,
    cfg: &ThrottleConfig,
    ip: &str,
    cutoff: DateTime<Utc>,
) -> DomainResult<Option<DateTime<Utc>>> {
    let last = || diesel::dsl::max(login_failures::created_at);
    let row: Option<Option<DateTime<Utc>>> = login_failures::table
        .filter(login_failures::created_at.gt(cutoff))
        .filter(login_failures::ip.eq(ip))
        .group_by(login_failures::username)
        .select(last())
        .order(last().desc())
        .offset(cfg.max_per_ip - 1)
        .first(conn)
        .await
        .optional()?;
    Ok(row.flatten())
}

/// Refuses with `Throttled` when the (identifier, address) pair has used up its attempts,
/// or when the address has failed with too many distinct identifiers.
pub async fn check(
    conn: &mut AsyncPgConnection,
    cfg: &ThrottleConfig,
    username: &str,
    ip: &str,
) -> DomainResult<()> {
    let window = cfg.window();
    let now = Utc::now();
    let cutoff = now - window;
    let pair = pair_block(conn, cfg, username, ip, cutoff).await?;
    let address = address_block(conn, cfg, ip, cutoff).await?;
    let until = [pair, address]
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

/// Records a failure and returns how long to wait before answering it (the identifier's
/// growing delay, [`ThrottleConfig::delay_after`]). Wait without holding a connection.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    cfg: &ThrottleConfig,
    username: &str,
    ip: &str,
) -> DomainResult<Duration> {
    let cutoff = Utc::now() - cfg.window();
    // Old rows are of no use any more; the created_at index keeps this cheap.
    diesel::delete(login_failures::table.filter(login_failures::created_at.lt(cutoff)))
        .execute(conn)
        .await?;
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::username.eq(username),
            login_failures::ip.eq(ip),
        ))
        .execute(conn)
        .await?;
    // Counted up to where the delay stops growing: a flood costs no more to count.
    let enough = cfg.max_per_user.saturating_add(17);
    let failures = login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::created_at.gt(cutoff))
        .select(login_failures::id)
        .limit(enough)
        .load::<i64>(conn)
        .await?
        .len() as i64;
    Ok(cfg.delay_after(failures))
}

/// A success forgets the failures of its (identifier, address) pair only: an attacker's
/// failures from elsewhere keep counting.
pub async fn clear_pair(
    conn: &mut AsyncPgConnection,
    username: &str,
    ip: &str,
) -> DomainResult<()> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::username.eq(username))
            .filter(login_failures::ip.eq(ip)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_from_the_limit_and_stops_at_its_maximum() {
        let cfg = ThrottleConfig {
            max_per_user: 5,
            max_per_ip: 20,
            window: Duration::from_secs(900),
            delay_max: Duration::from_secs(5),
            hash_queue_max: 16,
        };
        assert_eq!(cfg.delay_after(4), Duration::ZERO);
        assert_eq!(cfg.delay_after(5), Duration::from_millis(250));
        assert_eq!(cfg.delay_after(6), Duration::from_millis(500));
        assert_eq!(cfg.delay_after(9), Duration::from_secs(4));
        assert_eq!(cfg.delay_after(10), Duration::from_secs(5));
        assert_eq!(cfg.delay_after(i64::MAX), Duration::from_secs(5));
    }
}
