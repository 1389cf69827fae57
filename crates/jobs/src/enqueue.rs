//! Asking for a job: one insert in the caller's transaction, nothing else.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::on_constraint;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{DomainError, DomainResult};
use ecole_db::schema::jobs;
use serde_json::Value;

use crate::payloads::JobPayload;

/// Default attempts: the first run and the seed's 3 retries.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 4;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub name: String,
    pub payload: Value,
    pub dedupe_key: Option<String>,
    pub run_after: DateTime<Utc>,
    pub max_attempts: i32,
    pub timeout_seconds: i32,
    pub soft_timeout_seconds: i32,
    pub requested_by: Option<i64>,
}

impl NewJob {
    /// A job of a typed payload.
    pub fn of<P: JobPayload>(payload: &P) -> DomainResult<Self> {
        let value = serde_json::to_value(payload).map_err(DomainError::internal)?;
        Ok(Self::named(P::NAME, value))
    }

    /// A job by name (operators' `enqueue-job`, the beat).
    pub fn named(name: &str, payload: Value) -> Self {
        NewJob {
            name: name.to_string(),
            payload,
            dedupe_key: None,
            run_after: Utc::now(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            timeout_seconds: 30 * 60,
            soft_timeout_seconds: 25 * 60,
            requested_by: None,
        }
    }

    /// At most one job with this key, ever (a second enqueue returns the first id).
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn requested_by(mut self, user_id: Option<i64>) -> Self {
        self.requested_by = user_id;
        self
    }

    pub fn run_after(mut self, at: DateTime<Utc>) -> Self {
        self.run_after = at;
        self
    }

    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Hard and soft limits, in seconds (the soft one is clamped under the hard one).
    pub fn time_limits(mut self, hard: i32, soft: i32) -> Self {
        self.timeout_seconds = hard.max(1);
        self.soft_timeout_seconds = soft.clamp(1, self.timeout_seconds);
        self
    }
}

/// Inserts the job row; with a dedupe key already taken, returns the existing job's id.
pub async fn enqueue(conn: &mut AsyncPgConnection, job: NewJob) -> DomainResult<i64> {
    let key = job.dedupe_key.clone();
    let inserted: Option<i64> = diesel::insert_into(jobs::table)
        .values(&job)
        .on_conflict(on_constraint("jobs_dedupe_key_key"))
        .do_nothing()
        .returning(jobs::id)
        .get_result(conn)
        .await
        .optional()?;
    match (inserted, key) {
        (Some(id), _) => Ok(id),
        (None, Some(key)) => Ok(jobs::table
            .filter(jobs::dedupe_key.eq(key))
            .select(jobs::id)
            .first(conn)
            .await?),
        (None, None) => Err(DomainError::internal("insertion du job sans identifiant")),
    }
}

/// Inserts many jobs in one statement (rows with a taken dedupe key are skipped).
pub async fn enqueue_many(
    conn: &mut AsyncPgConnection,
    batch: &[NewJob],
) -> DomainResult<Vec<i64>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::insert_into(jobs::table)
        .values(batch)
        .on_conflict(on_constraint("jobs_dedupe_key_key"))
        .do_nothing()
        .returning(jobs::id)
        .get_results(conn)
        .await?)
}
