//! The jobs backbone across real processes: `ecole-worker` and `ecole-beat` against real
//! PostgreSQL and a private Redis server per test (so Redis can be paused and killed).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::jobs;
use ecole_jobs::payloads::Debug;
use ecole_jobs::{JobStatus, NewJob, enqueue};
use ecole_test_support::TestDb;
use ecole_test_support::process::{
    RedisServer, children_named, command, signal, wait_exit, wait_until,
};
use tokio::process::Child;

struct Env {
    db: TestDb,
    redis: RedisServer,
    prefix: String,
}

impl Env {
    async fn new() -> Env {
        Env {
            db: TestDb::new().await,
            redis: RedisServer::start(false).await,
            prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn env(&self, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("REDIS_URL", self.redis.url()),
            ("REDIS_PREFIX", self.prefix.clone()),
            ("JOB_RETRY_BASE_SECONDS", "1".to_string()),
            ("WORKER_SHUTDOWN_TIMEOUT_SECONDS", "20".to_string()),
            ("BEAT_CATCHUP", "0".to_string()),
        ];
        for (k, v) in extra {
            let key: &'static str = Box::leak(k.to_string().into_boxed_str());
            env.retain(|(name, _)| *name != key);
            env.push((key, v.to_string()));
        }
        env
    }

    fn worker(&self, extra: &[(&str, &str)]) -> Child {
        let mut cmd = command("ecole-worker", &self.env(extra));
        if std::env::var_os("TEST_LOG").is_none() {
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        cmd.spawn().unwrap()
    }

    fn beat(&self, args: &[&str]) -> Child {
        let mut cmd = command("ecole-beat", &self.env(&[]));
        if std::env::var_os("TEST_LOG").is_none() {
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        cmd.args(args).spawn().unwrap()
    }

    async fn conn(&self) -> AsyncPgConnection {
        self.db.conn().await
    }

    async fn enqueue(&self, job: NewJob) -> i64 {
        let mut conn = self.conn().await;
        enqueue(&mut conn, job).await.unwrap()
    }

    async fn status(&self, id: i64) -> (JobStatus, i32, Option<String>, Option<String>) {
        let mut conn = self.conn().await;
        jobs::table
            .find(id)
            .select((jobs::status, jobs::attempts, jobs::error, jobs::worker))
            .first(&mut conn)
            .await
            .unwrap()
    }

    async fn wait_status(&self, id: i64, want: JobStatus, timeout: Duration) -> bool {
        wait_until(timeout, || async { self.status(id).await.0 == want }).await
    }

    /// The runs `core.debug` recorded with `trace`: (attempt, pid, unix ms).
    async fn runs(&self, id: i64) -> Vec<(i32, i32, i64)> {
        let client = redis::Client::open(self.redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let entries: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{}:debug:{id}", self.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        entries
            .iter()
            .map(|e| {
                let p: Vec<&str> = e.split(' ').collect();
                (
                    p[0].parse().unwrap(),
                    p[1].parse().unwrap(),
                    p[2].parse().unwrap(),
                )
            })
            .collect()
    }
}

fn debug(args: Debug) -> NewJob {
    NewJob::of(&Debug {
        trace: true,
        ..args
    })
    .unwrap()
}

fn pid(child: &Child) -> i32 {
    child.id().unwrap() as i32
}

async fn stop(mut child: Child) -> std::process::ExitStatus {
    signal(pid(&child), "TERM");
    wait_exit(&mut child, Duration::from_secs(30))
        .await
        .expect("arrêt en moins de 30 s")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_asked_in_a_rolled_back_transaction_never_runs() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    let mut conn = env.conn().await;
    let rolled_back: Result<(), diesel::result::Error> = conn
        .transaction(async |conn| {
            enqueue(
                conn,
                debug(Debug {
                    message: Some("annulé".into()),
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    let kept = env
        .enqueue(debug(Debug {
            message: Some("gardé".into()),
            ..Default::default()
        }))
        .await;
    assert!(
        env.wait_status(kept, JobStatus::Succes, Duration::from_secs(20))
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count: i64 = jobs::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 1, "seul le job validé existe");
    assert_eq!(env.runs(kept).await.len(), 1);
    assert!(stop(worker).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_succeed_while_redis_hangs_and_every_job_runs_after() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    let first = env.enqueue(debug(Debug::default())).await;
    assert!(
        env.wait_status(first, JobStatus::Succes, Duration::from_secs(20))
            .await
    );

    env.redis.pause();
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            env.enqueue(debug(Debug {
                message: Some(format!("pendant la panne {i}")),
                ..Default::default()
            }))
            .await,
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "les écritures n'attendent pas Redis"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    env.redis.resume();
    let resumed = Instant::now();
    for id in &ids {
        assert!(
            env.wait_status(*id, JobStatus::Succes, Duration::from_secs(40))
                .await,
            "job {id}"
        );
        assert_eq!(env.runs(*id).await.len(), 1, "job {id} exécuté une fois");
    }
    eprintln!("reprise après Redis : {:?}", resumed.elapsed());
    assert!(stop(worker).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_worker_is_killed_runs_again_on_another_worker() {
    let env = Env::new().await;
    let a = env.worker(&[]);
    let b = env.worker(&[]);
    let id = env
        .enqueue(debug(Debug {
            sleep_ms: 3000,
            message: Some("long".into()),
            ..Default::default()
        }))
        .await;
    assert!(
        env.wait_status(id, JobStatus::EnCours, Duration::from_secs(20))
            .await
    );
    let (_, _, _, owner) = env.status(id).await;
    let owner = owner.unwrap();
    let (victim, survivor) = if owner.contains(&format!("-{}-", pid(&a))) {
        (a, b)
    } else {
        (b, a)
    };
    let killed_at = Instant::now();
    signal(pid(&victim), "KILL");
    assert!(
        env.wait_status(id, JobStatus::Succes, Duration::from_secs(60))
            .await,
        "repris en moins de 60 s"
    );
    let recovery = killed_at.elapsed();
    eprintln!("reprise après SIGKILL : {recovery:?}");
    let runs = env.runs(id).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].1, pid(&victim));
    assert_eq!(runs[1].1, pid(&survivor));
    let (_, attempts, _, _) = env.status(id).await;
    assert_eq!(attempts, 2);
    drop(victim);
    assert!(stop(survivor).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_beats_fire_each_occurrence_once() {
    let env = Env::new().await;
    let entry = "core.debug=* * * * * *";
    let one = env.beat(&["--entry", entry]);
    let two = env.beat(&["--entry", entry]);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(stop(one).await.success());
    assert!(stop(two).await.success());
    let mut conn = env.conn().await;
    let keys: Vec<Option<String>> = jobs::table
        .filter(jobs::name.eq("core.debug"))
        .select(jobs::dedupe_key)
        .order(jobs::dedupe_key)
        .load(&mut conn)
        .await
        .unwrap();
    let keys: Vec<String> = keys.into_iter().flatten().collect();
    let mut unique = keys.clone();
    unique.dedup();
    assert_eq!(keys, unique, "aucune occurrence en double");
    assert!(
        (9..=11).contains(&keys.len()),
        "{} occurrences : {keys:?}",
        keys.len()
    );
    // Consecutive seconds, none missing.
    let times: Vec<chrono::DateTime<chrono::Utc>> = keys
        .iter()
        .map(|k| k.trim_start_matches("core.debug:").parse().unwrap())
        .collect();
    for pair in times.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 1, "{keys:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_at_base_times_two_to_the_n_then_fail() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    let id = env
        .enqueue(debug(Debug {
            fail_attempts: 100,
            ..Default::default()
        }))
        .await;
    assert!(
        env.wait_status(id, JobStatus::Echec, Duration::from_secs(30))
            .await
    );
    let runs = env.runs(id).await;
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let gaps: Vec<f64> = runs
        .windows(2)
        .map(|w| (w[1].2 - w[0].2) as f64 / 1000.0)
        .collect();
    eprintln!("intervalles entre tentatives : {gaps:?}");
    for (gap, expected) in gaps.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            *gap >= expected - 0.05 && *gap <= expected + 1.0,
            "{gaps:?}"
        );
    }
    let (_, attempts, error, _) = env.status(id).await;
    assert_eq!(attempts, 4);
    assert!(error.unwrap().contains("échec demandé"));
    assert!(stop(worker).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_over_its_hard_limit_is_cancelled_retried_and_leaves_no_child() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    let job = debug(Debug {
        child_sleep_seconds: 30,
        ..Default::default()
    })
    .time_limits(1, 1)
    .max_attempts(2);
    let id = env.enqueue(job).await;
    assert!(
        env.wait_status(id, JobStatus::EnCours, Duration::from_secs(20))
            .await
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            !children_named(pid(&worker), "sleep").is_empty()
        })
        .await
    );
    assert!(
        env.wait_status(id, JobStatus::Echec, Duration::from_secs(20))
            .await
    );
    let (_, attempts, error, _) = env.status(id).await;
    assert_eq!(attempts, 2);
    assert!(error.unwrap().contains("limite de temps"));
    assert_eq!(env.runs(id).await.len(), 2);
    assert!(
        wait_until(Duration::from_secs(2), || async {
            children_named(pid(&worker), "sleep").is_empty()
        })
        .await,
        "aucun processus enfant ne reste"
    );
    assert!(stop(worker).await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_running_job_finish_and_exits_zero() {
    let env = Env::new().await;
    let mut worker = env.worker(&[]);
    let id = env
        .enqueue(debug(Debug {
            sleep_ms: 2000,
            ..Default::default()
        }))
        .await;
    assert!(
        env.wait_status(id, JobStatus::EnCours, Duration::from_secs(20))
            .await
    );
    signal(pid(&worker), "TERM");
    let status = wait_exit(&mut worker, Duration::from_secs(20))
        .await
        .expect("arrêt");
    assert!(status.success(), "{status:?}");
    assert_eq!(env.status(id).await.0, JobStatus::Succes);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_job_ends_in_failure_not_a_crash() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    let id = env
        // A name no version implements (every real job now has a handler).
        .enqueue(NewJob::named("core.tache_inconnue", serde_json::json!({})))
        .await;
    assert!(
        env.wait_status(id, JobStatus::Echec, Duration::from_secs(20))
            .await
    );
    let (_, attempts, error, _) = env.status(id).await;
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("non implémentée"));
    let ok = env.enqueue(debug(Debug::default())).await;
    assert!(
        env.wait_status(ok, JobStatus::Succes, Duration::from_secs(20))
            .await
    );
    assert!(stop(worker).await.success());
}

#[tokio::test]
async fn beat_lists_the_schedule_with_next_times() {
    let out = command("ecole-beat", &[])
        .arg("--list")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for name in [
        "finances.envoyer_rappels_paiement",
        "pedagogie.notifier_absences_quotidiennes",
        "core.backup_database",
        "bibliotheque.rappels_emprunts_retard",
        "pedagogie.generer_bulletins_periode",
        "core.purger_donnees",
    ] {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains("09:00:00") && text.contains("17:00:00") && text.contains("02:00:00"));
    assert!(text.contains("03:30:00"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("    ")).count(), 18);
}

#[tokio::test(flavor = "multi_thread")]
async fn missed_occurrences_run_once_at_start_within_the_catchup_window() {
    let env = Env::new().await;
    let mut env_vars = env.env(&[("BEAT_CATCHUP", "150s")]);
    env_vars.push(("RUST_LOG", "warn".into()));
    let run_beat = || {
        let mut cmd = command("ecole-beat", &env_vars);
        cmd.args(["--entry", "core.debug=0 * * * * *"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    for _ in 0..2 {
        let beat = run_beat();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(stop(beat).await.success());
    }
    let mut conn = env.conn().await;
    let keys: Vec<Option<String>> = jobs::table
        .select(jobs::dedupe_key)
        .load(&mut conn)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let times: Vec<chrono::DateTime<chrono::Utc>> = keys
        .iter()
        .flatten()
        .map(|k| k.trim_start_matches("core.debug:").parse().unwrap())
        .collect();
    // Minutes within the last 150 s: two or three of them, each once.
    assert!((2..=3).contains(&times.len()), "{keys:?}");
    assert!(
        times.iter().all(|t| (now - *t).num_seconds() <= 155),
        "{keys:?}"
    );
    let mut unique = times.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), times.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_keeps_nothing_of_finished_jobs_after_vacuum() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(env.enqueue(NewJob::of(&Debug::default()).unwrap()).await);
    }
    for id in &ids {
        assert!(
            env.wait_status(*id, JobStatus::Succes, Duration::from_secs(20))
                .await
        );
    }
    let conn = ecole_jobs::queue::connect(&env.redis.url()).await.unwrap();
    let namespace = ecole_jobs::instance::namespace_of(&mut env.conn().await, &env.prefix)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let vacuumed = ecole_jobs::queue::vacuum(conn.clone(), &namespace, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(vacuumed, 20);
    let mut conn = conn;
    let data: i64 = redis::cmd("HLEN")
        .arg(format!("{namespace}:jobs:data"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let done: i64 = redis::cmd("EXISTS")
        .arg(format!("{namespace}:jobs:done"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((data, done), (0, 0));
    // Nor their metadata and idempotency keys (apalis leaves those to a 24 h TTL).
    for pattern in ["meta:*", "idempotency:*"] {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{namespace}:jobs:{pattern}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(keys.is_empty(), "{pattern} : {keys:?}");
    }
    assert!(stop(worker).await.success());
}

// ---------- one Redis, several databases (issue #16 items 8–9) ----------

/// Status and attempts of a row of `db`.
async fn status_in(db: &TestDb, id: i64) -> (JobStatus, i32) {
    let mut conn = db.conn().await;
    jobs::table
        .find(id)
        .select((jobs::status, jobs::attempts))
        .first(&mut conn)
        .await
        .unwrap()
}

/// Until a worker of `db` has written its heartbeat row (it is up).
async fn worker_up(db: &TestDb) {
    let up = wait_until(Duration::from_secs(20), || async {
        let mut conn = db.conn().await;
        let n: i64 = ecole_db::schema::process_heartbeats::table
            .filter(ecole_db::schema::process_heartbeats::kind.eq("worker"))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        n > 0
    })
    .await;
    assert!(up, "worker démarré");
    // Its apalis slots register in Redis right after.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Forgets what `core.debug` traced for these ids (another database reuses them).
async fn forget_traces(env: &Env, ids: &[i64]) {
    let client = redis::Client::open(env.redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for id in ids {
        let _: i64 = redis::cmd("DEL")
            .arg(format!("{}:debug:{id}", env.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// Enqueues three traced `core.debug` jobs in `db`; each must succeed within 2 s of its
/// enqueue, once, at its first attempt.
async fn three_jobs_run_at_once(env: &Env, db: &TestDb, label: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut conn = db.conn().await;
        let id = enqueue(
            &mut conn,
            debug(Debug {
                message: Some(format!("{label} {i}")),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        let enqueued = Instant::now();
        let ran = wait_until(Duration::from_secs(2), || async {
            status_in(db, id).await.0 == JobStatus::Succes
        })
        .await;
        let (status, attempts) = status_in(db, id).await;
        assert!(
            ran,
            "{label} : job {id} toujours {status:?} {:?} après son enqueue",
            enqueued.elapsed()
        );
        assert_eq!(attempts, 1, "{label} : job {id}");
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &ids {
        assert_eq!(
            env.runs(*id).await.len(),
            1,
            "{label} : job {id} exécuté une fois"
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_a_second_database_on_the_same_redis_prefix_runs_its_jobs_at_once() {
    // Database A runs three jobs, then its worker stops.
    let env = Env::new().await;
    let worker = env.worker(&[]);
    worker_up(&env.db).await;
    let first = three_jobs_run_at_once(&env, &env.db, "base A").await;
    assert!(stop(worker).await.success());
    forget_traces(&env, &first).await;

    // Database B, migrated on its own, same Redis, same REDIS_PREFIX: its ids start at 1 too.
    let b = TestDb::new().await;
    let worker = env.worker(&[("DATABASE_URL", &b.url)]);
    worker_up(&b).await;
    let second = three_jobs_run_at_once(&env, &b, "base B").await;
    assert_eq!(first, second, "mêmes identifiants dans les deux bases");
    assert!(stop(worker).await.success());
    // A's rows were not run again by B's worker.
    for id in &first {
        assert_eq!(status_in(&env.db, *id).await, (JobStatus::Succes, 1));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_two_databases_sharing_a_prefix_never_run_each_others_jobs() {
    let env = Env::new().await;
    let b = TestDb::new().await;
    let wa = env.worker(&[]);
    let wb = env.worker(&[("DATABASE_URL", &b.url)]);
    worker_up(&env.db).await;
    worker_up(&b).await;
    let mut pairs = Vec::new();
    for i in 0..10 {
        let mut ca = env.db.conn().await;
        let mut cb = b.conn().await;
        let ia = enqueue(&mut ca, NewJob::of(&Debug::default()).unwrap())
            .await
            .unwrap();
        // B's job with the same id waits 3 s: a worker of A that pops it runs A's row.
        let ib = enqueue(
            &mut cb,
            NewJob::of(&Debug::default())
                .unwrap()
                .run_after(chrono::Utc::now() + chrono::Duration::seconds(3)),
        )
        .await
        .unwrap();
        assert_eq!(ia, ib, "essai {i}");
        pairs.push(ia);
    }
    for id in &pairs {
        assert!(
            wait_until(Duration::from_secs(10), || async {
                status_in(&env.db, *id).await.0 == JobStatus::Succes
                    && status_in(&b, *id).await.0 == JobStatus::Succes
            })
            .await,
            "job {id} : A {:?}, B {:?}",
            status_in(&env.db, *id).await,
            status_in(&b, *id).await
        );
        assert_eq!(status_in(&env.db, *id).await.1, 1, "A, job {id} : une fois");
        assert_eq!(status_in(&b, *id).await.1, 1, "B, job {id} : une fois");
    }
    // Each row ran in its own database's worker (the worker name carries its pid).
    let mut ca = env.db.conn().await;
    let mut cb = b.conn().await;
    let owners_a: Vec<Option<String>> = jobs::table
        .select(jobs::worker)
        .load(&mut ca)
        .await
        .unwrap();
    let owners_b: Vec<Option<String>> = jobs::table
        .select(jobs::worker)
        .load(&mut cb)
        .await
        .unwrap();
    let pa = format!("-{}-", pid(&wa));
    let pb = format!("-{}-", pid(&wb));
    assert!(
        owners_a.iter().flatten().all(|w| w.contains(&pa)),
        "{owners_a:?}"
    );
    assert!(
        owners_b.iter().flatten().all(|w| w.contains(&pb)),
        "{owners_b:?}"
    );
    assert!(stop(wa).await.success());
    assert!(stop(wb).await.success());
}

/// `ecole <args>` against `db` with this test's Redis prefix; (code, stdout + stderr).
async fn ecole_cli(
    env: &Env,
    db: &TestDb,
    backups: &std::path::Path,
    args: &[&str],
) -> (i32, String) {
    let mut vars = env.env(&[
        ("DATABASE_URL", &db.url),
        ("BACKUP_DIR", &backups.to_string_lossy()),
    ]);
    for var in ["PG_DUMP", "PG_RESTORE"] {
        if let Ok(v) = std::env::var(var) {
            vars.push((var, v));
        }
    }
    let out = command("ecole", &vars).args(args).output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_then_enqueue_runs_every_job_at_once() {
    let env = Env::new().await;
    let backups = std::env::temp_dir().join(format!("ecole-jobs-restore-{}", env.prefix));
    // The backup is taken before any job exists; three jobs run after it.
    let (code, out) = ecole_cli(&env, &env.db, &backups, &["backup"]).await;
    assert_eq!(code, 0, "{out}");
    let dump = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .unwrap();
    let worker = env.worker(&[]);
    worker_up(&env.db).await;
    let before = three_jobs_run_at_once(&env, &env.db, "avant la restauration").await;
    assert!(stop(worker).await.success());
    forget_traces(&env, &before).await;

    // Restored over the same database: the id sequence goes back.
    let (code, out) = ecole_cli(
        &env,
        &env.db,
        &backups,
        &["restore", &dump.to_string_lossy(), "--force"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let worker = env.worker(&[]);
    worker_up(&env.db).await;
    let after = three_jobs_run_at_once(&env, &env.db, "après la restauration").await;
    assert_eq!(before, after, "la séquence des ids est revenue en arrière");
    assert!(stop(worker).await.success());
    let _ = std::fs::remove_dir_all(&backups);
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_a_copy_of_a_database_is_refused_its_originals_namespace() {
    let env = Env::new().await;
    let worker = env.worker(&[]);
    worker_up(&env.db).await;
    // Database B carries A's instance id: a copy made outside `ecole restore`.
    let instance = ecole_jobs::instance::instance_id(&mut env.conn().await)
        .await
        .unwrap();
    let b = TestDb::new().await;
    diesel::sql_query(format!("UPDATE instance SET id = '{instance}'"))
        .execute(&mut b.conn().await)
        .await
        .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        command("ecole-worker", &env.env(&[("DATABASE_URL", &b.url)])).output(),
    )
    .await
    .expect("le worker refuse sans attendre")
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for needle in [
        "appartient à une autre base",
        "REDIS_PREFIX différent",
        &format!(
            "redis-cli DEL {}:{}:proprietaire",
            env.prefix,
            instance.simple()
        ),
    ] {
        assert!(err.contains(needle), "« {needle} » absent : {err}");
    }
    // A's own worker starts again on the same namespace (same instance, same database).
    assert!(stop(worker).await.success());
    let worker = env.worker(&[]);
    worker_up(&env.db).await;
    three_jobs_run_at_once(&env, &env.db, "base A relancée").await;
    assert!(stop(worker).await.success());
}
