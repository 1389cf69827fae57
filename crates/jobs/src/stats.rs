//! Figures for `/metrics`: jobs by name and status, retries, the outbox backlog. Two
//! aggregate statements per scrape, whatever the number of jobs.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::DomainResult;
use ecole_db::schema::jobs;

use crate::model::JobStatus;

/// Jobs of one name in one status.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Comptage {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub jobs: i64,
    /// Runs beyond the first (`attempts − 1` summed).
    #[diesel(sql_type = BigInt)]
    pub retries: i64,
}

/// What the outbox holds: committed jobs not yet handed to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    pub backlog: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Counts by (name, status), with retries.
pub async fn comptages(conn: &mut AsyncPgConnection) -> DomainResult<Vec<Comptage>> {
    Ok(diesel::sql_query(
        "SELECT name, status, count(*)::bigint AS jobs, \
         coalesce(sum(greatest(attempts - 1, 0)), 0)::bigint AS retries \
         FROM jobs GROUP BY name, status ORDER BY name, status",
    )
    .load(conn)
    .await?)
}

/// Due jobs waiting for the relay.
pub async fn outbox(conn: &mut AsyncPgConnection) -> DomainResult<Outbox> {
    let (backlog, oldest): (i64, Option<DateTime<Utc>>) = jobs::table
        .filter(jobs::status.eq(JobStatus::EnAttente))
        .filter(jobs::dispatched_at.is_null())
        .filter(jobs::run_after.le(diesel::dsl::now))
        .select((diesel::dsl::count_star(), diesel::dsl::min(jobs::run_after)))
        .get_result(conn)
        .await?;
    Ok(Outbox { backlog, oldest })
}
