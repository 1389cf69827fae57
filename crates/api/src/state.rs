//! What every handler shares: settings, the pool, Redis, signing keys, metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use ecole_config::Settings;
use ecole_db::{Pool, PooledConn};
use ecole_users::AuthKeys;
use ecole_users::throttle::ThrottleConfig;

use crate::error::ApiError;
use crate::metrics::Metrics;

pub struct AppState {
    pub settings: Settings,
    /// For work off the HTTP workers (tests, tools). Requests use [`AppState::conn`].
    pub pool: Pool,
    /// One pool per HTTP worker thread, made on its first request. actix-web runs each worker
    /// on a runtime of its own, where a connection's driver task lives; with one shared pool,
    /// a worker stopped at SIGTERM (an idle one stops at once) took down the connections it
    /// had opened while requests of other workers were using them (`connection closed`, a 500
    /// in the middle of a graceful shutdown). A worker's own pool dies with it, unused.
    worker_pools: Mutex<HashMap<ThreadId, Pool>>,
    pub redis: redis::Client,
    pub keys: AuthKeys,
    pub throttle: ThrottleConfig,
    pub metrics: Metrics,
    /// Statements run by this process (exported in `/metrics`).
    pub queries: ecole_db::QueryCounter,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Db(#[from] ecole_db::DbSetupError),
    #[error("REDIS_URL invalide : {0}")]
    Redis(#[from] redis::RedisError),
    #[error("métriques : {0}")]
    Metrics(#[from] prometheus::Error),
}

impl AppState {
    /// Builds the state; connects lazily, so the API starts even when a service is down.
    pub fn new(settings: Settings) -> Result<Self, StateError> {
        let queries = ecole_db::QueryCounter::default();
        let pool = ecole_db::build_counted_pool(
            &settings.database_url,
            settings.database_pool_size,
            settings.database_timeout,
            Some(queries.clone()),
        )?;
        let redis = redis::Client::open(settings.redis_url.as_str())?;
        ecole_users::password::warm_up();
        Ok(AppState {
            worker_pools: Mutex::default(),
            keys: AuthKeys::from_settings(&settings),
            throttle: ThrottleConfig::from_settings(&settings),
            metrics: Metrics::new()?,
            queries,
            pool,
            redis,
            settings,
        })
    }

    /// The pool of the calling thread (an HTTP worker's own), made on first use:
    /// `DATABASE_POOL_SIZE` shared between the workers, 4 connections at least.
    pub fn worker_pool(&self) -> Result<Pool, ApiError> {
        let id = std::thread::current().id();
        let mut pools = self.worker_pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&id) {
            return Ok(pool.clone());
        }
        let size = self
            .settings
            .database_pool_size
            .div_ceil(self.settings.http_workers.max(1))
            .max(4);
        let pool = ecole_db::build_counted_pool(
            &self.settings.database_url,
            size,
            self.settings.database_timeout,
            Some(self.queries.clone()),
        )
        .map_err(|e| ApiError::from(ecole_core::DomainError::internal(e)))?;
        pools.insert(id, pool.clone());
        Ok(pool)
    }

    /// A pooled connection of this worker, or 503 when the database cannot give one in time.
    pub async fn conn(&self) -> Result<PooledConn, ApiError> {
        Ok(self
            .worker_pool()?
            .get()
            .await
            .map_err(ecole_core::DomainError::from)?)
    }

    /// PINGs Redis within `timeout`.
    pub async fn redis_ping(&self, timeout: Duration) -> Result<(), String> {
        let fut = async {
            let mut conn = self
                .redis
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("délai dépassé".into()),
        }
    }
}
