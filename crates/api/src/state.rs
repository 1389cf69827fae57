//! What every handler shares: settings, the pool, Redis, signing keys, metrics.

use std::time::Duration;

use ecole_config::Settings;
use ecole_db::{Pool, PooledConn};
use ecole_users::AuthKeys;
use ecole_users::throttle::ThrottleConfig;

use crate::error::ApiError;
use crate::metrics::Metrics;

pub struct AppState {
    pub settings: Settings,
    pub pool: Pool,
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
            keys: AuthKeys::from_settings(&settings),
            throttle: ThrottleConfig::from_settings(&settings),
            metrics: Metrics::new()?,
            queries,
            pool,
            redis,
            settings,
        })
    }

    /// A pooled connection, or 503 when the database cannot give one in time.
    pub async fn conn(&self) -> Result<PooledConn, ApiError> {
        Ok(self
            .pool
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
