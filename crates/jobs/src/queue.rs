//! The Redis side: the apalis-redis queue configuration shared by relay and workers, and the
//! message a task carries (only the row id: the row is the truth).

use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskId};
use apalis_redis::{Config, RedisTask};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

/// What travels through Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub id: i64,
}

/// Heartbeat of a worker; a worker silent for `HEARTBEAT × MISSED_HEARTBEATS` (20 s) is dead
/// and its tasks go back to the queue for the other workers.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
pub const MISSED_HEARTBEATS: usize = 4;
/// Idempotency keys outlive any plausible duplicate push of the same dispatch.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The queue of this deployment: `<REDIS_PREFIX>:jobs`.
pub fn queue_name(prefix: &str) -> String {
    format!("{prefix}:jobs")
}

/// One task per fetch (the seed's prefetch 1), our heartbeat, idempotency keys with a TTL.
pub fn apalis_config(prefix: &str) -> Config {
    Config::default()
        .queue(queue_name(prefix))
        .batch_size(1)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS)
        .idempotency_ttl(Some(IDEMPOTENCY_TTL))
        .emit_events(false)
        .lock_tasks(false)
}

/// The task for one dispatch of a row: task id and idempotency key `job-<id>-<dispatch>`.
pub fn task_for(id: i64, dispatch: i32) -> Result<RedisTask, serde_json::Error> {
    let key = format!("job-{id}-{dispatch}");
    let args = serde_json::to_vec(&JobRef { id })?;
    Ok(TaskBuilder::new(args)
        .task_id(TaskId::from_string(key.clone()))
        .idempotency_key(key)
        .max_attempts(1)
        .build())
}

/// A Redis connection that reconnects by itself, with bounded waits.
pub async fn connect(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2);
    client.get_connection_manager_with_config(config).await
}

/// Removes what apalis keeps of finished tasks (data, metadata, the `done` set): the job rows
/// in PostgreSQL are the record, so Redis memory stays flat. Returns the tasks vacuumed.
pub async fn vacuum(
    conn: ConnectionManager,
    prefix: &str,
    older_than: Duration,
) -> Result<usize, String> {
    use apalis_core::backend::Vacuum;
    let config = apalis_config(prefix);
    let mut storage =
        apalis_redis::RedisStorage::<JobRef>::new(conn.clone()).with_config(config.clone());
    let vacuumed = storage
        .vacuum_before(older_than)
        .await
        .map_err(|e| e.to_string())?;
    let mut conn = conn;
    redis::cmd("DEL")
        .arg(config.done_jobs_set())
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(vacuumed)
}
