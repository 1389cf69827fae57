//! Running one job: claim the row, run its handler under the hard limit, record the outcome,
//! and own the retry policy (apalis only transports; it always sees success).

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_config::Settings;
use ecole_db::Pool;
use ecole_db::schema::jobs;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

use crate::model::{Job, JobStatus};
use crate::payloads::JobPayload;

/// Why a run failed. `retry = false` ends the job at once (bad payload, unknown row…).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    pub message: String,
    pub retry: bool,
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retry: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retry: false,
        }
    }
}

impl From<ecole_core::DomainError> for JobError {
    fn from(e: ecole_core::DomainError) -> Self {
        match e {
            ecole_core::DomainError::NotFound => JobError::fatal("objet introuvable"),
            ecole_core::DomainError::Validation(errors) => {
                JobError::fatal(format!("données invalides : {errors:?}"))
            }
            other => JobError::retry(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        ecole_core::DomainError::from(e).into()
    }
}

impl From<ecole_db::PoolError> for JobError {
    fn from(e: ecole_db::PoolError) -> Self {
        JobError::retry(format!("base de données : {e}"))
    }
}

/// What a handler gets: its row, the shared resources, its limits, a progress reporter.
#[derive(Clone)]
pub struct JobContext {
    pub job_id: i64,
    pub name: String,
    pub attempt: i32,
    pub max_attempts: i32,
    pub payload: Value,
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub run_token: Uuid,
    /// The worker's Redis connection (reconnects by itself).
    pub redis: Option<redis::aio::ConnectionManager>,
    soft_deadline: Instant,
}

impl JobContext {
    /// The payload as its typed struct (a bad payload is not retried).
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| JobError::fatal(format!("arguments invalides pour {} : {e}", self.name)))
    }

    /// True once the soft time limit has passed: wrap up and return.
    pub fn soft_limit_reached(&self) -> bool {
        Instant::now() >= self.soft_deadline
    }

    /// Records progress (`GET /jobs/<id>/` shows it).
    pub async fn progress(&self, done: i32, total: Option<i32>) -> Result<(), JobError> {
        let mut conn = self.pool.get().await?;
        diesel::update(
            jobs::table
                .find(self.job_id)
                .filter(jobs::run_token.eq(self.run_token)),
        )
        .set((jobs::progress_done.eq(done), jobs::progress_total.eq(total)))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, JobError>> + Send>>;
pub type Handler = Arc<dyn Fn(JobContext) -> HandlerFuture + Send + Sync>;

/// Handlers by job name.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of `P::NAME`.
    pub fn register<P, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        P: JobPayload,
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, JobError>> + Send + 'static,
    {
        self.handlers.insert(
            P::NAME.to_string(),
            Arc::new(move |ctx| Box::pin(handler(ctx))),
        );
        self
    }

    pub fn get(&self, name: &str) -> Option<&Handler> {
        self.handlers.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort();
        names
    }
}

/// Settings of the runner.
#[derive(Clone)]
pub struct Runner {
    pub pool: Pool,
    /// Connections for the job rows' own bookkeeping (claim, outcome, heartbeat), with
    /// `synchronous_commit = off`: losing the last status update in a crash only means
    /// running an idempotent job again. One round trip per update.
    pub bookkeeping: Pool,
    pub settings: Arc<Settings>,
    pub registry: Arc<Registry>,
    pub worker_name: String,
    /// Base of the retry delay: `base × 2^(attempt − 1)`.
    pub retry_base: Duration,
    /// Jobs running now in this process (graceful shutdown waits for 0).
    pub in_flight: Arc<AtomicUsize>,
    pub redis: Option<redis::aio::ConnectionManager>,
}

/// The database URL of the bookkeeping pool: `synchronous_commit = off` for its sessions.
pub fn bookkeeping_url(database_url: &str) -> String {
    let separator = if database_url.contains('?') { '&' } else { '?' };
    format!("{database_url}{separator}options=-c%20synchronous_commit%3Doff")
}

enum Outcome {
    Success(Value),
    Failure(JobError),
}

impl Runner {
    /// Claims the row: a new run token, one more attempt. `None`: nothing to run.
    async fn claim(&self, id: i64) -> Result<Option<Job>, JobError> {
        let mut conn = self.bookkeeping.get().await?;
        let token = Uuid::new_v4();
        let worker = self.worker_name.clone();
        let now = Utc::now();
        let claimed = diesel::update(
            jobs::table
                .find(id)
                .filter(jobs::status.eq_any([JobStatus::EnAttente, JobStatus::EnCours]))
                .filter(jobs::attempts.lt(jobs::max_attempts)),
        )
        .set((
            jobs::status.eq(JobStatus::EnCours),
            jobs::attempts.eq(jobs::attempts + 1),
            jobs::run_token.eq(token),
            jobs::worker.eq(worker),
            jobs::started_at.eq(now),
            jobs::heartbeat_at.eq(now),
        ))
        .returning(Job::as_returning())
        .get_result(&mut conn)
        .await
        .optional()?;
        if claimed.is_none() {
            // A row still running with no attempt left: its last worker died with it.
            diesel::update(
                jobs::table
                    .find(id)
                    .filter(jobs::status.eq(JobStatus::EnCours))
                    .filter(jobs::attempts.ge(jobs::max_attempts)),
            )
            .set((
                jobs::status.eq(JobStatus::Echec),
                jobs::finished_at.eq(Utc::now()),
                jobs::run_token.eq(None::<Uuid>),
                jobs::error.eq("le worker s'est arrêté pendant chaque tentative : abandon"),
            ))
            .execute(&mut conn)
            .await?;
        }
        Ok(claimed)
    }

    async fn finish(&self, job: &Job, token: Uuid, outcome: Outcome) -> Result<(), JobError> {
        let mut conn = self.bookkeeping.get().await?;
        let conn = &mut *conn;
        let now = Utc::now();
        let target = jobs::table.find(job.id).filter(jobs::run_token.eq(token));
        {
            match outcome {
                Outcome::Success(result) => {
                    diesel::update(target)
                        .set((
                            jobs::status.eq(JobStatus::Succes),
                            jobs::result.eq(result),
                            jobs::error.eq(None::<String>),
                            jobs::finished_at.eq(now),
                            jobs::run_token.eq(None::<Uuid>),
                        ))
                        .execute(conn)
                        .await?;
                }
                Outcome::Failure(err) if err.retry && job.attempts < job.max_attempts => {
                    let exponent = (job.attempts - 1).clamp(0, 20) as u32;
                    let delay = self
                        .retry_base
                        .saturating_mul(2u32.saturating_pow(exponent));
                    let run_after = now
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                    tracing::warn!(job.id = job.id, job.name = %job.name, job.attempt = job.attempts, error.cause = %err.message,
                        "échec, nouvelle tentative dans {} s", delay.as_secs());
                    diesel::update(target)
                        .set((
                            jobs::status.eq(JobStatus::EnAttente),
                            jobs::error.eq(&err.message),
                            jobs::run_after.eq(run_after),
                            jobs::dispatched_at.eq(None::<chrono::DateTime<Utc>>),
                            jobs::run_token.eq(None::<Uuid>),
                        ))
                        .execute(conn)
                        .await?;
                }
                Outcome::Failure(err) => {
                    tracing::error!(job.id = job.id, job.name = %job.name, job.attempt = job.attempts, error.cause = %err.message, "job en échec");
                    diesel::update(target)
                        .set((
                            jobs::status.eq(JobStatus::Echec),
                            jobs::error.eq(&err.message),
                            jobs::finished_at.eq(now),
                            jobs::run_token.eq(None::<Uuid>),
                        ))
                        .execute(conn)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Keeps `heartbeat_at` fresh while the job runs (the relay recovers rows that go stale).
    fn spawn_heartbeat(&self, id: i64, token: Uuid) -> tokio::task::JoinHandle<()> {
        let pool = self.bookkeeping.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Ok(mut conn) = pool.get().await {
                    let _ = diesel::update(jobs::table.find(id).filter(jobs::run_token.eq(token)))
                        .set(jobs::heartbeat_at.eq(Utc::now()))
                        .execute(&mut conn)
                        .await;
                }
            }
        })
    }

    /// Runs the job behind a task. Errors here are infrastructure errors (the row could not
    /// be read or written): the caller leaves the task to apalis' redelivery.
    pub async fn execute(&self, id: i64) -> Result<(), JobError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = self.execute_inner(id).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn execute_inner(&self, id: i64) -> Result<(), JobError> {
        let Some(job) = self.claim(id).await? else {
            tracing::debug!(job.id = id, "job déjà traité ou abandonné : rien à faire");
            return Ok(());
        };
        let Some(token) = job.run_token else {
            return Err(JobError::retry("jeton d'exécution absent"));
        };
        let started = Instant::now();
        let Some(handler) = self.registry.get(&job.name).cloned() else {
            let err = JobError::fatal(format!(
                "tâche « {} » non implémentée dans cette version",
                job.name
            ));
            return self.finish(&job, token, Outcome::Failure(err)).await;
        };
        let hard = Duration::from_secs(job.timeout_seconds.max(1) as u64);
        let soft = Duration::from_secs(job.soft_timeout_seconds.max(1) as u64);
        let ctx = JobContext {
            job_id: job.id,
            name: job.name.clone(),
            attempt: job.attempts,
            max_attempts: job.max_attempts,
            payload: job.payload.clone(),
            pool: self.pool.clone(),
            settings: self.settings.clone(),
            run_token: token,
            redis: self.redis.clone(),
            soft_deadline: started + soft,
        };
        let span = tracing::info_span!("job", job.id = job.id, job.name = %job.name, job.attempt = job.attempts);
        let heartbeat = self.spawn_heartbeat(job.id, token);
        // The handler runs in its own task: a timeout or panic drops it, and with it any
        // child process spawned with `kill_on_drop`.
        let mut task = tokio::spawn(tracing::Instrument::instrument(
            AssertUnwindSafe(handler(ctx)).catch_unwind(),
            span.clone(),
        ));
        let outcome = match tokio::time::timeout(hard, &mut task).await {
            Ok(Ok(Ok(Ok(value)))) => Outcome::Success(value),
            Ok(Ok(Ok(Err(err)))) => Outcome::Failure(err),
            Ok(Ok(Err(_))) | Ok(Err(_)) => {
                Outcome::Failure(JobError::retry("le traitement a paniqué"))
            }
            Err(_) => {
                task.abort();
                let _ = task.await;
                Outcome::Failure(JobError::retry(format!(
                    "limite de temps dépassée ({} s) : exécution annulée",
                    hard.as_secs()
                )))
            }
        };
        heartbeat.abort();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        span.in_scope(|| match &outcome {
            Outcome::Success(_) => tracing::info!(duration_ms = ms, "job terminé"),
            Outcome::Failure(e) => {
                tracing::warn!(duration_ms = ms, error.cause = %e.message, "job en erreur")
            }
        });
        self.finish(&job, token, outcome).await
    }
}

/// The `core.debug` handler: logs, waits, fails on demand, runs a child process on demand.
/// Never in production, whoever inserted the row (a beat `--entry`, SQL by hand).
pub fn debug_handler() -> impl Fn(JobContext) -> HandlerFuture + Send + Sync + Clone + 'static {
    |ctx: JobContext| {
        Box::pin(async move {
            if ctx.settings.app_env.is_production() {
                return Err(JobError::fatal(
                    "core.debug est refusé en production (APP_ENV=production)",
                ));
            }
            let args: crate::payloads::Debug = ctx.payload()?;
            tracing::info!(message = ?args.message, "core.debug");
            if args.trace
                && let Some(mut redis) = ctx.redis.clone()
            {
                let key = format!("{}:debug:{}", ctx.settings.redis_prefix, ctx.job_id);
                let now_ms = Utc::now().timestamp_millis();
                let entry = format!("{} {} {now_ms}", ctx.attempt, std::process::id());
                redis::pipe()
                    .rpush(&key, entry)
                    .expire(&key, 86_400)
                    .query_async::<()>(&mut redis)
                    .await
                    .map_err(|e| JobError::retry(format!("Redis : {e}")))?;
            }
            if args.sleep_ms > 0 {
                tokio::time::sleep(Duration::from_millis(args.sleep_ms)).await;
            }
            if args.child_sleep_seconds > 0 {
                let status = tokio::process::Command::new("sleep")
                    .arg(args.child_sleep_seconds.to_string())
                    .kill_on_drop(true)
                    .status()
                    .await
                    .map_err(|e| JobError::retry(format!("processus enfant : {e}")))?;
                if !status.success() {
                    return Err(JobError::retry(format!("processus enfant : {status}")));
                }
            }
            if ctx.attempt as u32 <= args.fail_attempts {
                return Err(JobError::retry(format!(
                    "échec demandé (tentative {})",
                    ctx.attempt
                )));
            }
            Ok(
                serde_json::json!({ "message": args.message, "attempt": ctx.attempt, "worker_pid": std::process::id() }),
            )
        }) as HandlerFuture
    }
}
