//! The Redis side: the apalis-redis queue configuration shared by relay and workers, and the
//! message a task carries (only the row id: the row is the truth).

use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskId};
use apalis_redis::{Config, RedisTask};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// The queue of a database: `<namespace>:jobs`, the namespace being `<REDIS_PREFIX>:<instance>`
/// (see [`crate::instance::namespace`]).
pub fn queue_name(namespace: &str) -> String {
    format!("{namespace}:jobs")
}

/// One task per fetch (the seed's prefetch 1), our heartbeat, idempotency keys with a TTL.
pub fn apalis_config(namespace: &str) -> Config {
    Config::default()
        .queue(queue_name(namespace))
        .batch_size(1)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS)
        .idempotency_ttl(Some(IDEMPOTENCY_TTL))
        .emit_events(false)
        .lock_tasks(false)
}

/// The task for one dispatch of a row: task id and idempotency key
/// `job-<id>-<dispatch>-<task token>` (ids and dispatch counts repeat across databases and
/// restores; the row's random token does not).
pub fn task_for(id: i64, dispatch: i32, token: Uuid) -> Result<RedisTask, serde_json::Error> {
    let key = format!("job-{id}-{dispatch}-{}", token.simple());
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

/// Removes what apalis keeps of a finished task (data, metadata, result, `done` entry) and
/// its idempotency key, once it finished more than `ARGV[1]` seconds ago. apalis' own
/// `vacuum_before` leaves the idempotency keys to their TTL (24 h): one key per task kept
/// Redis memory growing for a day.
const VACUUM: &str = r#"
local cutoff = redis.call("TIME")[1] - tonumber(ARGV[1])
local deleted = 0
local cursor = "0"
repeat
  local page = redis.call("HSCAN", KEYS[1], cursor, "COUNT", 500)
  cursor = page[1]
  local fields = page[2]
  for i = 1, #fields, 2 do
    local id = fields[i]
    local meta = KEYS[2] .. ":" .. id
    local m = redis.call("HMGET", meta, "status", "done_at", "idempotency_key")
    if (m[1] == "Done" or m[1] == "Failed" or m[1] == "Killed") and m[2]
        and tonumber(m[2]) <= cutoff then
      redis.call("HDEL", KEYS[1], id)
      redis.call("HDEL", KEYS[2] .. ":result", id)
      redis.call("DEL", meta)
      if m[3] and #m[3] > 0 then
        redis.call("DEL", KEYS[3] .. ":" .. m[3])
      end
      redis.call("SREM", KEYS[4], id)
      deleted = deleted + 1
    end
  end
until cursor == "0"
return deleted
"#;

/// Removes what apalis keeps of tasks finished more than `older_than` ago (data, metadata,
/// the `done` set, their idempotency keys): the job rows in PostgreSQL are the record, so
/// Redis memory stays flat. Returns the tasks vacuumed.
pub async fn vacuum(
    conn: ConnectionManager,
    namespace: &str,
    older_than: Duration,
) -> Result<usize, String> {
    let config = apalis_config(namespace);
    let mut conn = conn;
    redis::Script::new(VACUUM)
        .key(config.job_data_hash())
        .key(config.job_meta_hash())
        .key(config.idempotency_key_set())
        .key(config.done_jobs_set())
        .arg(older_than.as_secs())
        .invoke_async::<usize>(&mut conn)
        .await
        .map_err(|e| e.to_string())
}
