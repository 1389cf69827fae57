//! The relay: committed, due, undispatched rows → Redis, then marked dispatched, in batches
//! under `FOR UPDATE SKIP LOCKED` (any number of relays may run). Woken by LISTEN/NOTIFY on
//! `ecole_jobs`, with a short poll as fallback. Redis down: rows wait, the relay retries.
//! Every 30 s it also hands back rows lost on the way (a Redis restart without persistence, a
//! worker gone without trace).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::Pool;
use ecole_db::schema::jobs;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

use crate::model::JobStatus;
use crate::queue::{apalis_config, connect, task_for};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub database_url: String,
    pub redis_url: String,
    /// `<REDIS_PREFIX>:<instance>`, claimed by the caller (see [`crate::instance`]).
    pub namespace: String,
    pub batch_size: i64,
    /// Fallback poll when no notification arrives.
    pub poll_interval: Duration,
    /// A dispatched row not started after this is dispatched again.
    pub redispatch_after: Duration,
    /// A running row whose heartbeat is older than this has lost its worker.
    pub stale_after: Duration,
}

impl RelayConfig {
    pub fn new(database_url: &str, redis_url: &str, namespace: &str) -> Self {
        RelayConfig {
            database_url: database_url.to_string(),
            redis_url: redis_url.to_string(),
            namespace: namespace.to_string(),
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
            redispatch_after: Duration::from_secs(600),
            stale_after: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("PostgreSQL : {0}")]
    Db(#[from] diesel::result::Error),
    #[error("pool : {0}")]
    Pool(#[from] ecole_db::PoolError),
    #[error("Redis : {0}")]
    Redis(String),
}

pub struct Relay {
    pool: Pool,
    config: RelayConfig,
    apalis: apalis_redis::Config,
    redis: Option<ConnectionManager>,
}

impl Relay {
    pub fn new(pool: Pool, config: RelayConfig) -> Self {
        let apalis = apalis_config(&config.namespace);
        Relay {
            pool,
            config,
            apalis,
            redis: None,
        }
    }

    async fn redis(&mut self) -> Result<ConnectionManager, RelayError> {
        if let Some(conn) = &self.redis {
            return Ok(conn.clone());
        }
        let conn = connect(&self.config.redis_url)
            .await
            .map_err(|e| RelayError::Redis(e.to_string()))?;
        self.redis = Some(conn.clone());
        Ok(conn)
    }

    /// Dispatches one batch; returns how many rows went to Redis.
    pub async fn dispatch_once(&mut self) -> Result<usize, RelayError> {
        let mut redis = self.redis().await?;
        let apalis = self.apalis.clone();
        let limit = self.config.batch_size;
        let mut conn = self.pool.get().await?;
        let result = conn
            .transaction::<_, RelayError, _>(async move |conn| {
                let rows: Vec<(i64, i32, uuid::Uuid)> = jobs::table
                    .filter(jobs::dispatched_at.is_null())
                    .filter(jobs::status.eq(JobStatus::EnAttente))
                    .filter(jobs::run_after.le(Utc::now()))
                    .order(jobs::id)
                    .limit(limit)
                    .select((jobs::id, jobs::dispatch_count, jobs::task_token))
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let tasks = rows
                    .iter()
                    .map(|(id, count, token)| task_for(*id, count + 1, *token))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| RelayError::Redis(e.to_string()))?;
                let push = apalis_redis::queries::push_tasks(&mut redis, &apalis, &tasks);
                match tokio::time::timeout(Duration::from_secs(10), push).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(RelayError::Redis(e.to_string())),
                    Err(_) => return Err(RelayError::Redis("délai dépassé".into())),
                }
                let ids: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
                diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
                    .set((
                        jobs::dispatched_at.eq(Utc::now()),
                        jobs::dispatch_count.eq(jobs::dispatch_count + 1),
                    ))
                    .execute(conn)
                    .await?;
                Ok(ids.len())
            })
            .await;
        if let Err(RelayError::Redis(_)) = &result {
            // A fresh connection next time.
            self.redis = None;
        }
        result
    }

    /// Gives back rows lost on the way; returns how many.
    pub async fn recover_lost(&mut self) -> Result<usize, RelayError> {
        let mut conn = self.pool.get().await?;
        let now = Utc::now();
        let redispatch = chrono::Duration::from_std(self.config.redispatch_after)
            .unwrap_or(chrono::Duration::minutes(10));
        let stale = chrono::Duration::from_std(self.config.stale_after)
            .unwrap_or(chrono::Duration::minutes(2));
        let waited = diesel::update(
            jobs::table
                .filter(jobs::status.eq(JobStatus::EnAttente))
                .filter(jobs::dispatched_at.lt(now - redispatch)),
        )
        .set(jobs::dispatched_at.eq(None::<chrono::DateTime<Utc>>))
        .execute(&mut conn)
        .await?;
        let abandoned = diesel::update(
            jobs::table
                .filter(jobs::status.eq(JobStatus::EnCours))
                .filter(jobs::heartbeat_at.lt(now - stale))
                .filter(jobs::attempts.lt(jobs::max_attempts)),
        )
        .set((
            jobs::status.eq(JobStatus::EnAttente),
            jobs::dispatched_at.eq(None::<chrono::DateTime<Utc>>),
            jobs::run_token.eq(None::<uuid::Uuid>),
            jobs::error.eq("le worker a disparu pendant l'exécution"),
        ))
        .execute(&mut conn)
        .await?;
        let dead = diesel::update(
            jobs::table
                .filter(jobs::status.eq(JobStatus::EnCours))
                .filter(jobs::heartbeat_at.lt(now - stale))
                .filter(jobs::attempts.ge(jobs::max_attempts)),
        )
        .set((
            jobs::status.eq(JobStatus::Echec),
            jobs::finished_at.eq(now),
            jobs::run_token.eq(None::<uuid::Uuid>),
            jobs::error.eq("le worker a disparu pendant la dernière tentative"),
        ))
        .execute(&mut conn)
        .await?;
        Ok(waited + abandoned + dead)
    }

    /// Runs until `shutdown`: dispatch, then wait for a notification, the poll, or shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(listen(
            self.config.database_url.clone(),
            wake_tx,
            shutdown.clone(),
        ));
        let mut backoff = Duration::from_millis(200);
        let mut last_recovery = tokio::time::Instant::now();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let wait = match self.dispatch_once().await {
                Ok(n) if n as i64 >= self.config.batch_size => {
                    backoff = Duration::from_millis(200);
                    continue;
                }
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(jobs.dispatched = n, "jobs transmis à Redis");
                    }
                    backoff = Duration::from_millis(200);
                    self.config.poll_interval
                }
                Err(e) => {
                    tracing::warn!(error.cause = %e, "relais des jobs : nouvelle tentative dans {} ms", backoff.as_millis());
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    wait
                }
            };
            if last_recovery.elapsed() >= Duration::from_secs(30) {
                last_recovery = tokio::time::Instant::now();
                match self.recover_lost().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(jobs.recovered = n, "jobs perdus en route : renvoyés"),
                    Err(e) => tracing::warn!(error.cause = %e, "récupération des jobs perdus"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake_rx.recv() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// LISTEN on `ecole_jobs`; reconnects with a pause when the connection drops.
async fn listen(url: String, wake: tokio::sync::mpsc::Sender<()>, shutdown: CancellationToken) {
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => {
                if diesel::sql_query("LISTEN ecole_jobs")
                    .execute(&mut conn)
                    .await
                    .is_ok()
                {
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    loop {
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            item = stream.next() => match item {
                                Some(Ok(_)) => { let _ = wake.try_send(()); }
                                _ => break,
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error.cause = %e, "LISTEN ecole_jobs indisponible"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
