//! A worker process: the relay, and an apalis worker over Redis that hands each task to the
//! [`Runner`]. A Redis stall or restart ends `worker.run()` in apalis: the supervisor builds a
//! new worker (a new name: apalis refuses a name still within its heartbeat) with backoff.
//! On shutdown: stop taking tasks, let the running ones finish up to a timeout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use apalis::prelude::{
    BackendExt, BoxDynError, Data, PollSnapshot, PollStrategy, WorkerBuilder, WorkerBuilderExt,
};
use apalis_redis::RedisStorage;
use chrono::Utc;
use diesel::ExpressionMethods;
use diesel::upsert::excluded;
use ecole_config::Settings;
use ecole_db::Pool;
use ecole_db::schema::process_heartbeats;
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::instance::ClaimError;
use crate::queue::{JobRef, apalis_config, connect};
use crate::relay::{Relay, RelayConfig};
use crate::runner::{Registry, Runner};

/// Longest pause between two reconnections to Redis: a worker takes work again at most this
/// long after Redis returns, however long the outage (each attempt costs one connection).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Unique per process (apalis refuses two live workers of one name).
    pub name: String,
    pub concurrency: usize,
    /// How often an idle worker asks Redis for a task.
    pub poll_interval: Duration,
    /// How long running jobs may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    pub retry_base: Duration,
    /// Run the relay in this process too.
    pub relay: bool,
}

impl WorkerOptions {
    pub fn from_settings(settings: &Settings) -> Self {
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "hote".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        WorkerOptions {
            name: format!("worker-{host}-{}-{}", std::process::id(), &suffix[..6]),
            concurrency: settings.worker_concurrency.max(1),
            poll_interval: Duration::from_millis(10),
            shutdown_timeout: settings.worker_shutdown_timeout,
            retry_base: settings.job_retry_base,
            relay: true,
        }
    }
}

/// Wakes an idle worker every `interval` to ask Redis for a task. apalis-core 1.0's
/// `IntervalStrategy` re-arms its timer without polling it, so a fetch that completes at once
/// leaves the worker asleep until its next heartbeat (seconds); this one always ends on a
/// pending, registered timer.
struct Tick {
    interval: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Tick {
    fn new(interval: Duration) -> Self {
        Tick {
            interval,
            sleep: Box::pin(tokio::time::sleep(interval)),
        }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut fired = false;
        while self.sleep.as_mut().poll(cx).is_ready() {
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::now() + self.interval);
            fired = true;
        }
        if fired {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

async fn handle(job: JobRef, runner: Data<Runner>) -> Result<(), BoxDynError> {
    runner.execute(job.id).await.map_err(|e| e.message.into())
}

/// How often a worker or beat records that it is alive.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_secs(10);
/// A heartbeat file older than this (3 periods) means the process is stuck or cut off from
/// the database (`ecole health worker|beat`).
pub const HEARTBEAT_FILE_MAX_AGE: Duration = Duration::from_secs(30);

/// `<dir>/ecole-<kind>.battement`: touched after each heartbeat written to the database, so
/// that a container's health check reads its age without a database round trip.
pub fn heartbeat_file(dir: &Path, kind: &str) -> PathBuf {
    dir.join(format!("ecole-{kind}.battement"))
}

/// Age of the heartbeat file of `kind` in `dir` (from its modification time).
pub fn heartbeat_file_age(dir: &Path, kind: &str) -> std::io::Result<Duration> {
    let modified = std::fs::metadata(heartbeat_file(dir, kind))?.modified()?;
    // A clock set back makes the file look fresh rather than failing the check.
    Ok(std::time::SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default())
}

/// Records that a process of `kind` is alive, every 10 s (the first at once), until shutdown:
/// a row of `process_heartbeats`, then, when that write succeeded, the heartbeat file in
/// `heartbeat_dir` (see [`heartbeat_file`]). Both are removed at shutdown: await the handle
/// (with [`stop_heartbeat`]) before the process exits.
pub fn spawn_process_heartbeat(
    pool: Pool,
    name: String,
    kind: &'static str,
    heartbeat_dir: PathBuf,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    use diesel_async::RunQueryDsl;
    let file = heartbeat_file(&heartbeat_dir, kind);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT_PERIOD);
        let mut file_error_logged = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Ok(mut conn) = pool.get().await else {
                continue;
            };
            let now = Utc::now();
            let written = diesel::insert_into(process_heartbeats::table)
                .values((
                    process_heartbeats::name.eq(&name),
                    process_heartbeats::kind.eq(kind),
                    process_heartbeats::seen_at.eq(now),
                ))
                .on_conflict(process_heartbeats::name)
                .do_update()
                .set(process_heartbeats::seen_at.eq(excluded(process_heartbeats::seen_at)))
                .execute(&mut conn)
                .await;
            drop(conn);
            if written.is_err() {
                continue;
            }
            let line = format!("{name} {}\n", now.to_rfc3339());
            match tokio::fs::write(&file, line).await {
                Ok(()) => file_error_logged = false,
                Err(e) if !file_error_logged => {
                    file_error_logged = true;
                    tracing::warn!(
                        error.cause = %e,
                        fichier = %file.display(),
                        "fichier de battement impossible à écrire (ECOLE_HEARTBEAT_DIR) : `ecole health {kind}` échouera"
                    );
                }
                Err(_) => {}
            }
        }
        let _ = tokio::fs::remove_file(&file).await;
        if let Ok(mut conn) = pool.get().await {
            let _ = diesel::delete(process_heartbeats::table)
                .filter(process_heartbeats::name.eq(&name))
                .execute(&mut conn)
                .await;
        }
    })
}

/// Waits (2 s at most) for a heartbeat task whose token was cancelled to clean up.
pub async fn stop_heartbeat(handle: tokio::task::JoinHandle<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), handle).await;
}

/// Every 30 s, vacuums what apalis keeps of tasks finished more than a minute ago (any
/// worker may do it; it costs one script over the tasks of the last minute and a half), and
/// renews this database's claim on the namespace.
fn spawn_redis_maintenance(
    settings: Arc<Settings>,
    namespace: String,
    fingerprint: String,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Ok(mut conn) = connect(&settings.redis_url).await else {
                continue;
            };
            match crate::instance::claim(&mut conn, &namespace, &fingerprint).await {
                Ok(()) => {}
                Err(e @ ClaimError::Taken { .. }) => {
                    tracing::error!(error.cause = %e, "espace Redis des jobs")
                }
                Err(e) => {
                    tracing::warn!(error.cause = %e, "renouvellement de l'espace Redis des jobs")
                }
            }
            match crate::queue::vacuum(conn, &namespace, Duration::from_secs(60)).await {
                Ok(n) if n > 0 => {
                    tracing::debug!(redis.vacuumed = n, "Redis : tâches terminées nettoyées")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error.cause = %e, "nettoyage Redis"),
            }
        }
    });
}

enum ClaimAttempt {
    Refused(ClaimError),
    Retry(String),
}

async fn try_claim(settings: &Settings, pool: &Pool) -> Result<(String, String), ClaimAttempt> {
    let retry = |e: &dyn std::fmt::Display| ClaimAttempt::Retry(e.to_string());
    let mut conn = pool.get().await.map_err(|e| retry(&e))?;
    let namespace = crate::instance::namespace_of(&mut conn, &settings.redis_prefix)
        .await
        .map_err(|e| retry(&format!("instance de la base (ecole migrate fait ?) : {e}")))?;
    let fingerprint = crate::instance::fingerprint(&mut conn)
        .await
        .map_err(|e| retry(&e))?;
    drop(conn);
    let mut redis = connect(&settings.redis_url)
        .await
        .map_err(|e| retry(&format!("Redis : {e}")))?;
    match crate::instance::claim(&mut redis, &namespace, &fingerprint).await {
        Ok(()) => Ok((namespace, fingerprint)),
        Err(e @ ClaimError::Taken { .. }) => Err(ClaimAttempt::Refused(e)),
        Err(e) => Err(retry(&e)),
    }
}

/// This database's Redis namespace (`<REDIS_PREFIX>:<instance>`) and fingerprint, once the
/// namespace is claimed for it; waits while PostgreSQL or Redis do not answer. `Ok(None)`:
/// shutdown came first. An error: another database holds the namespace, do not start.
pub async fn claim_namespace(
    settings: &Settings,
    pool: &Pool,
    shutdown: &CancellationToken,
) -> Result<Option<(String, String)>, ClaimError> {
    let mut backoff = Duration::from_millis(500);
    loop {
        match try_claim(settings, pool).await {
            Ok(claimed) => return Ok(Some(claimed)),
            Err(ClaimAttempt::Refused(e)) => return Err(e),
            Err(ClaimAttempt::Retry(cause)) => {
                tracing::warn!(error.cause = %cause, "espace Redis des jobs : nouvel essai dans {} ms", backoff.as_millis());
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Runs a worker until `shutdown` is cancelled, then drains. Refuses to start (an error)
/// when this database's Redis namespace belongs to another database.
pub async fn run_worker(
    settings: Arc<Settings>,
    pool: Pool,
    registry: Registry,
    options: WorkerOptions,
    shutdown: CancellationToken,
) -> Result<(), ClaimError> {
    let Some((namespace, fingerprint)) = claim_namespace(&settings, &pool, &shutdown).await? else {
        return Ok(());
    };
    let in_flight = Arc::new(AtomicUsize::new(0));
    tracing::info!(
        worker.name = %options.name,
        worker.concurrency = options.concurrency,
        redis.namespace = %namespace,
        jobs = ?registry.names(),
        "worker démarré"
    );
    let background = CancellationToken::new();
    if options.relay {
        let config = RelayConfig::new(&settings.database_url, &settings.redis_url, &namespace);
        tokio::spawn(Relay::new(pool.clone(), config).run(background.clone()));
    }
    let heartbeat = spawn_process_heartbeat(
        pool.clone(),
        options.name.clone(),
        "worker",
        settings.heartbeat_dir.clone(),
        background.clone(),
    );
    spawn_redis_maintenance(
        settings.clone(),
        namespace.clone(),
        fingerprint,
        background.clone(),
    );
    let registry = Arc::new(registry);
    let bookkeeping = match ecole_db::build_pool(
        &crate::runner::bookkeeping_url(&settings.database_url),
        options.concurrency + 2,
        settings.database_timeout,
    ) {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!(error.cause = %e, "pool de suivi des jobs");
            background.cancel();
            stop_heartbeat(heartbeat).await;
            return Ok(());
        }
    };
    let mut generation = 0usize;
    let mut backoff = Duration::from_millis(500);
    while !shutdown.is_cancelled() {
        let conn = match connect(&settings.redis_url).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error.cause = %e, "Redis injoignable : nouvel essai dans {} ms", backoff.as_millis());
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let runner = Runner {
            pool: pool.clone(),
            bookkeeping: bookkeeping.clone(),
            settings: settings.clone(),
            registry: registry.clone(),
            worker_name: options.name.clone(),
            retry_base: options.retry_base,
            in_flight: in_flight.clone(),
            redis: Some(conn.clone()),
        };
        // One apalis worker per slot, each taking one task at a time (Celery's prefork
        // children with prefetch 1): slots fetch in parallel, and a slot busy with a long job
        // holds nothing else back.
        let set = shutdown.child_token();
        let mut running = futures_util::stream::FuturesUnordered::new();
        for slot in 0..options.concurrency {
            let storage = RedisStorage::<JobRef>::new(conn.clone())
                .with_config(apalis_config(&namespace))
                .poll_with_strategy(Tick::new(options.poll_interval));
            let worker = WorkerBuilder::new(format!("{}-{generation}-{slot}", options.name))
                .backend(storage)
                .data(runner.clone())
                .concurrency(1)
                .build(handle);
            let signal = set
                .clone()
                .cancelled_owned()
                .map(|_| Ok::<(), std::io::Error>(()));
            running.push(tokio::spawn(worker.run_until(signal)));
        }
        let started = tokio::time::Instant::now();
        // The first slot to stop (Redis gone, or shutdown) stops the set.
        let first = futures_util::StreamExt::next(&mut running).await;
        set.cancel();
        while futures_util::StreamExt::next(&mut running).await.is_some() {}
        let result = match first {
            Some(Ok(r)) => r.map_err(|e| e.to_string()),
            Some(Err(e)) => Err(e.to_string()),
            None => Ok(()),
        };
        if shutdown.is_cancelled() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_millis(500);
        }
        tracing::warn!(error.cause = ?result.err(), "worker interrompu (Redis ?) : redémarrage dans {} ms", backoff.as_millis());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        generation += 1;
    }
    let deadline = tokio::time::Instant::now() + options.shutdown_timeout;
    while in_flight.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = in_flight.load(Ordering::SeqCst);
    background.cancel();
    stop_heartbeat(heartbeat).await;
    if left > 0 {
        tracing::warn!(
            jobs.running = left,
            "arrêt : des jobs tournaient encore (ils seront repris)"
        );
    } else {
        tracing::info!("worker arrêté proprement");
    }
    Ok(())
}
