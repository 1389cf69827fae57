//! Faults (issue #10): the real binaries (`ecole-api`, `ecole-worker`, `ecole-beat`) against
//! real PostgreSQL and a private Redis per test, with real signals. One test per numbered
//! fault, named after it; each prints its measured figure (`--no-capture` shows it).
//!
//! Processes write their logs to a temporary folder, kept (and printed) when a test fails or
//! with `PANNES_JOURNAUX=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_db::schema::jobs;
use ecole_jobs::payloads::Debug;
use ecole_jobs::{JobStatus, NewJob, enqueue_many};
use ecole_test_support::process::{
    PgCluster, RedisServer, alive, command, free_port, signal, wait_exit, wait_http_ok, wait_until,
};
use ecole_test_support::school::School;
use ecole_test_support::{TestApp, TestUser};
use serde_json::{Value, json};
use tokio::process::Child;

// ---------------------------------------------------------------- harness

/// Logs of the processes of one test: removed at the end, kept when the test fails.
struct Logs {
    dir: PathBuf,
}

impl Logs {
    fn new() -> Logs {
        let dir = std::env::temp_dir().join(format!(
            "ecole-pannes-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Logs { dir }
    }

    fn file(&self, name: &str) -> std::fs::File {
        let mut n = 0;
        loop {
            let path = self.dir.join(format!("{name}-{n}.log"));
            if !path.exists() {
                return std::fs::File::create(path).unwrap();
            }
            n += 1;
        }
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("PANNES_JOURNAUX").is_some() {
            eprintln!("journaux des processus : {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A running binary.
struct Proc {
    child: Child,
    pid: i32,
}

impl Proc {
    fn kill(&self) {
        signal(self.pid, "KILL");
    }

    fn term(&self) {
        signal(self.pid, "TERM");
    }

    async fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.child, timeout).await
    }
}

/// An API process and its address.
struct Api {
    proc: Proc,
    base: String,
}

/// The environment every binary of a test shares, and how to start them.
struct Procs {
    env: Vec<(String, String)>,
    logs: Logs,
}

impl Procs {
    fn new(env: Vec<(String, String)>) -> Procs {
        Procs {
            env,
            logs: Logs::new(),
        }
    }

    fn set(&mut self, key: &str, value: impl Into<String>) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
    }

    fn spawn(&self, bin: &str, extra: &[(&str, String)], args: &[&str]) -> Proc {
        let mut cmd = command(bin, &[]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = self.logs.file(bin);
        let err = out.try_clone().unwrap();
        cmd.stdout(out).stderr(err).args(args);
        let child = cmd.spawn().unwrap();
        let pid = child.id().unwrap() as i32;
        Proc { child, pid }
    }

    fn worker(&self, extra: &[(&str, String)]) -> Proc {
        self.spawn("ecole-worker", extra, &[])
    }

    fn beat(&self, args: &[&str]) -> Proc {
        self.spawn("ecole-beat", &[], args)
    }

    async fn api(&self) -> Api {
        let port = free_port();
        let proc = self.spawn(
            "ecole-api",
            &[("HTTP_BIND", format!("127.0.0.1:{port}"))],
            &[],
        );
        let base = format!("http://127.0.0.1:{port}");
        assert!(
            wait_http_ok(&format!("{base}/health/live"), Duration::from_secs(30)).await,
            "l'API répond"
        );
        Api { proc, base }
    }
}

/// A test's system: its database and fixtures (in-process app), a private Redis, and the
/// environment of its binaries.
struct Banc {
    app: TestApp,
    redis: RedisServer,
    procs: Procs,
}

impl Banc {
    async fn new(appendonly: bool) -> Banc {
        Self::with_settings(appendonly, |_| {}).await
    }

    async fn with_settings(
        appendonly: bool,
        adjust: impl FnOnce(&mut ecole_config::Settings),
    ) -> Banc {
        let redis = RedisServer::start(appendonly).await;
        let redis_url = redis.url();
        let app = TestApp::with_settings(|s| {
            s.redis_url = redis_url;
            adjust(s);
        })
        .await;
        let s = &app.state.settings;
        let env = vec![
            ("APP_ENV", "test".to_string()),
            ("DATABASE_URL", app.db.url.clone()),
            ("DATABASE_POOL_SIZE", "4".to_string()),
            ("DATABASE_TIMEOUT_SECONDS", "3".to_string()),
            ("REDIS_URL", redis.url()),
            ("REDIS_PREFIX", app.redis_prefix.clone()),
            (
                "SECRET_KEY",
                String::from_utf8_lossy(s.secret_bytes()).into_owned(),
            ),
            ("MEDIA_ROOT", s.media_root.to_string_lossy().into_owned()),
            ("HTTP_WORKERS", "2".to_string()),
            ("JOB_RETRY_BASE_SECONDS", "1".to_string()),
            ("WORKER_SHUTDOWN_TIMEOUT_SECONDS", "20".to_string()),
            ("BEAT_CATCHUP", "0".to_string()),
            ("SMS_SILENCE_DEBUT", "off".to_string()),
            // The provider's rate limit would set the pace of the drain, not the recovery.
            ("SMS_MAX_PAR_SECONDE", "0".to_string()),
        ];
        let env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Banc {
            app,
            redis,
            procs: Procs::new(env),
        }
    }

    async fn count_jobs(&self, status: Option<JobStatus>) -> i64 {
        let mut conn = self.app.conn().await;
        let mut q = jobs::table.into_boxed();
        if let Some(s) = status {
            q = q.filter(jobs::status.eq(s));
        }
        q.count().get_result(&mut conn).await.unwrap()
    }

    /// Committed rows the relay has not handed to Redis yet (the outbox backlog).
    async fn backlog(&self) -> i64 {
        let mut conn = self.app.conn().await;
        jobs::table
            .filter(jobs::status.eq(JobStatus::EnAttente))
            .filter(jobs::dispatched_at.is_null())
            .filter(jobs::run_after.le(diesel::dsl::now))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }
}

/// One HTTP request of a load: when it was sent, how long it took, what came back.
#[derive(Debug, Clone)]
struct Sample {
    sent: Instant,
    ms: f64,
    status: Option<u16>,
    error: Option<String>,
    write: bool,
}

/// What a load sends: (method, path, body, is a write).
type Plan = Arc<dyn Fn(usize) -> (reqwest::Method, String, Option<Value>, bool) + Send + Sync>;

/// `tasks` clients, each sending `plan(i)` to the APIs in turn, `pause` apart, until `stop`.
fn load(
    bases: Vec<String>,
    token: String,
    tasks: usize,
    pause: Duration,
    plan: Plan,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (bases, token, plan, stop) =
                (bases.clone(), token.clone(), plan.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let mut samples = Vec::new();
                let mut i = t;
                while !AtomicBool::load(&stop, Ordering::SeqCst) {
                    let (method, path, body, write) = plan(i);
                    let base = &bases[i % bases.len()];
                    let mut req = client
                        .request(method, format!("{base}{path}"))
                        .bearer_auth(&token);
                    if let Some(b) = body {
                        req = req.json(&b);
                    }
                    let sent = Instant::now();
                    let result = req.send().await;
                    let (status, error) = match result {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            (Some(status), None)
                        }
                        Err(e) => (None, Some(format!("{e:?}"))),
                    };
                    samples.push(Sample {
                        sent,
                        ms: sent.elapsed().as_secs_f64() * 1000.0,
                        status,
                        error,
                        write,
                    });
                    i += tasks;
                    tokio::time::sleep(pause).await;
                }
                samples
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all.sort_by_key(|s| s.sent);
        all
    })
}

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let i = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[i.min(values.len() - 1)]
}

/// Payments of 1,000 GNF on an open invoice (each asks for its receipt's PDF job) and grades,
/// through the API, as `admin`. (Roll calls on a new date each time no longer fit: attendance
/// stays inside the active year's school days, and older absences send no SMS job.)
fn school_writes(school: &School, facture: i64) -> Plan {
    let classe = school.classe_a;
    let math = school.math;
    let eleves: Vec<i64> = school.a.iter().map(|p| p.id).collect();
    Arc::new(move |i| {
        if i % 2 == 0 {
            (
                reqwest::Method::POST,
                format!("/api/v1/factures/{facture}/paiements/"),
                Some(json!({"montant": 1000, "mode": "ESPECES", "reference": format!("P{i}")})),
                true,
            )
        } else {
            (
                reqwest::Method::POST,
                "/api/v1/notes/".to_string(),
                Some(json!({
                    "eleve": eleves[i % eleves.len()], "matiere": math, "classe": classe,
                    "periode": "TRIMESTRE_1", "type_note": "DEVOIR",
                    "valeur": (i % 21) as f64, "sur": 20.0, "date_evaluation": "2025-10-10",
                })),
                true,
            )
        }
    })
}

/// An issued invoice of a pupil of class B, large enough for every payment of a test.
async fn facture_ouverte(app: &TestApp, school: &School, admin: &TestUser) -> i64 {
    use ecole_test_support::http::post;
    let echeance = ecole_core::time::today() + chrono::Days::new(30);
    let (s, f) = post(
        app,
        "/api/v1/factures/",
        &admin.access,
        json!({"eleve": school.b[0].id, "date_echeance": echeance, "lignes": [{"libelle": "Scolarité", "quantite": 1, "prix_unitaire": 100_000_000}]}),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    let id = f["id"].as_i64().unwrap();
    let (s, b) = post(
        app,
        &format!("/api/v1/factures/{id}/emettre/"),
        &admin.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    id
}

fn debug_job(sleep_ms: u64) -> NewJob {
    NewJob::of(&Debug {
        sleep_ms,
        ..Default::default()
    })
    .unwrap()
}

async fn admin_of(app: &TestApp) -> TestUser {
    app.as_admin().await
}

// ---------------------------------------------------------------- 3. Redis frozen

/// Fault 3: Redis frozen (SIGSTOP) for 60 s (`PANNES_GEL_REDIS_SECONDES`) while writes go
/// through two APIs to two workers → no write fails, the outbox drains within 30 s of
/// Redis's return, the workers recover without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn panne_3_redis_gele_pendant_des_ecritures() {
    let pause: u64 = std::env::var("PANNES_GEL_REDIS_SECONDES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let banc = Banc::new(false).await;
    let school = School::create(&banc.app, 2).await;
    let admin = admin_of(&banc.app).await;
    let apis = [banc.procs.api().await, banc.procs.api().await];
    let workers = [banc.procs.worker(&[]), banc.procs.worker(&[])];
    let bases: Vec<String> = apis.iter().map(|a| a.base.clone()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let samples = load(
        bases.clone(),
        admin.access.clone(),
        2,
        Duration::from_millis(200),
        school_writes(&school, facture_ouverte(&banc.app, &school, &admin).await),
        stop.clone(),
    );
    // The system works before the fault.
    assert!(
        wait_until(Duration::from_secs(30), || async {
            banc.count_jobs(Some(JobStatus::Succes)).await > 0
        })
        .await,
        "des jobs aboutissent avant la panne"
    );
    banc.redis.pause();
    let frozen = Instant::now();
    tokio::time::sleep(Duration::from_secs(pause)).await;
    let backlog_at_resume = banc.backlog().await;
    banc.redis.resume();
    let resumed = Instant::now();
    let resumed_utc = chrono::Utc::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let samples = samples.await.unwrap();

    let drained = wait_until(Duration::from_secs(30), || async {
        banc.backlog().await == 0
    })
    .await;
    let drain = resumed.elapsed();
    assert!(
        drained,
        "outbox vidée moins de 30 s après le retour de Redis"
    );
    let all_done = wait_until(Duration::from_secs(60), || async {
        banc.count_jobs(Some(JobStatus::Succes)).await == banc.count_jobs(None).await
    })
    .await;
    let done = resumed.elapsed();
    let first_after: Option<chrono::DateTime<chrono::Utc>> = {
        let mut conn = banc.app.conn().await;
        jobs::table
            .filter(jobs::started_at.gt(resumed_utc))
            .select(diesel::dsl::min(jobs::finished_at))
            .first(&mut conn)
            .await
            .unwrap()
    };
    let first_after = first_after.map(|t| (t - resumed_utc).as_seconds_f64());

    let writes: Vec<&Sample> = samples.iter().filter(|s| s.write).collect();
    let failed: Vec<&&Sample> = writes
        .iter()
        .filter(|s| !matches!(s.status, Some(200..=299)))
        .collect();
    let during: Vec<f64> = writes
        .iter()
        .filter(|s| s.sent >= frozen && s.sent < resumed)
        .map(|s| s.ms)
        .collect();
    let total_jobs = banc.count_jobs(None).await;
    eprintln!(
        "panne 3 : Redis gelé {pause} s ; {} écritures ({} pendant le gel, p99 {:.0} ms), {} en échec ; \
         {backlog_at_resume} jobs en attente au retour de Redis ; premier job exécuté {:.1} s après, \
         outbox vidée en {:.1} s, {total_jobs} jobs tous SUCCES en {:.1} s",
        writes.len(),
        during.len(),
        percentile(during.clone(), 0.99),
        failed.len(),
        first_after.unwrap_or(f64::NAN),
        drain.as_secs_f64(),
        done.as_secs_f64(),
    );
    assert!(failed.is_empty(), "écritures en échec : {failed:?}");
    assert!(!during.is_empty(), "des écritures pendant le gel");
    assert!(backlog_at_resume > 0, "des jobs attendaient Redis");
    assert!(all_done, "tous les jobs aboutissent");
    for w in &workers {
        assert!(
            alive(w.pid),
            "worker {} toujours vivant (pas de redémarrage)",
            w.pid
        );
    }
    for a in &apis {
        assert!(alive(a.proc.pid));
        assert!(wait_http_ok(&format!("{}/health/ready", a.base), Duration::from_secs(5)).await);
    }
    for mut w in workers {
        w.term();
        assert!(w.wait(Duration::from_secs(30)).await.unwrap().success());
    }
}

// ---------------------------------------------------------------- 4. Redis killed

/// Fault 4: Redis (append-only, fsync always) SIGKILLed and restarted while jobs flow → no
/// job lost: every row ends `SUCCES`, or `ECHEC` with its reason.
#[tokio::test(flavor = "multi_thread")]
async fn panne_4_redis_tue_et_redemarre_en_append_only() {
    let mut banc = Banc::new(true).await;
    let workers = [banc.procs.worker(&[]), banc.procs.worker(&[])];
    let mut conn = banc.app.conn().await;
    let failing = |n: usize| {
        NewJob::of(&Debug {
            fail_attempts: 100,
            message: Some(format!("échoue toujours {n}")),
            ..Default::default()
        })
        .unwrap()
    };
    // 400 jobs in batches of 20 every 100 ms; one in twenty always fails.
    let mut total = 0;
    let mut killed_at = None;
    let mut restarted_at = None;
    for batch in 0..20 {
        let rows: Vec<NewJob> = (0..20)
            .map(|i| {
                if i == 0 {
                    failing(batch)
                } else {
                    debug_job(20)
                }
            })
            .collect();
        total += enqueue_many(&mut conn, &rows).await.unwrap().len();
        if batch == 6 {
            banc.redis.kill().await;
            killed_at = Some(Instant::now());
        }
        if batch == 12 {
            banc.redis.restart().await;
            restarted_at = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let restarted_at = restarted_at.unwrap();
    let finished = wait_until(Duration::from_secs(90), || async {
        banc.count_jobs(Some(JobStatus::Succes)).await
            + banc.count_jobs(Some(JobStatus::Echec)).await
            == total as i64
    })
    .await;
    let recovery = restarted_at.elapsed();
    let rows: Vec<(i64, JobStatus, i32, Option<String>)> = jobs::table
        .select((jobs::id, jobs::status, jobs::attempts, jobs::error))
        .load(&mut conn)
        .await
        .unwrap();
    let pending: Vec<_> = rows
        .iter()
        .filter(|r| !matches!(r.1, JobStatus::Succes | JobStatus::Echec))
        .collect();
    let failed: Vec<_> = rows.iter().filter(|r| r.1 == JobStatus::Echec).collect();
    eprintln!(
        "panne 4 : Redis tué {:.1} s ; {total} jobs, {} SUCCES, {} ECHEC, {} perdus ; tout terminé {:.1} s après le redémarrage",
        (restarted_at - killed_at.unwrap()).as_secs_f64(),
        rows.len() - failed.len() - pending.len(),
        failed.len(),
        pending.len(),
        recovery.as_secs_f64()
    );
    assert!(
        finished && pending.is_empty(),
        "jobs non terminés : {pending:?}"
    );
    assert_eq!(rows.len(), total);
    assert_eq!(
        failed.len(),
        20,
        "seuls les jobs qui échouent exprès : {failed:?}"
    );
    for (id, _, attempts, error) in &failed {
        assert!(
            error.as_deref().unwrap_or("").contains("échec demandé"),
            "job {id} : raison {error:?}"
        );
        assert_eq!(*attempts, 4, "job {id}");
    }
    for mut w in workers {
        assert!(alive(w.pid));
        w.term();
        assert!(w.wait(Duration::from_secs(30)).await.unwrap().success());
    }
}

// ---------------------------------------------------------------- 5. PostgreSQL restarted

/// True when a job finished in `SUCCES` after `since`.
async fn succes_depuis(url: &str, since: chrono::DateTime<chrono::Utc>) -> bool {
    use diesel_async::AsyncConnection;
    let Ok(mut conn) = diesel_async::AsyncPgConnection::establish(url).await else {
        return false;
    };
    jobs::table
        .filter(jobs::status.eq(JobStatus::Succes))
        .filter(jobs::finished_at.gt(since))
        .count()
        .get_result::<i64>(&mut conn)
        .await
        .unwrap_or(0)
        > 0
}

/// Fault 5: PostgreSQL (a private cluster) stopped for 5 s and started again under load →
/// 503 during the outage, each within the pool timeout; the first success ≤ 5 s after it
/// is back; no process restarts.
#[tokio::test(flavor = "multi_thread")]
async fn panne_5_postgresql_redemarre_sous_charge() {
    let pg = PgCluster::start().await;
    let redis = RedisServer::start(false).await;
    let db = pg.url("ecole");
    let procs = Procs::new(
        [
            ("APP_ENV", "test".to_string()),
            ("DATABASE_URL", db.clone()),
            ("DATABASE_POOL_SIZE", "4".to_string()),
            ("DATABASE_TIMEOUT_SECONDS", "2".to_string()),
            ("REDIS_URL", redis.url()),
            ("REDIS_PREFIX", "pg".to_string()),
            ("HTTP_WORKERS", "2".to_string()),
            ("JOB_RETRY_BASE_SECONDS", "1".to_string()),
            ("BEAT_CATCHUP", "0".to_string()),
            (
                "ECOLE_SUPERUSER_PASSWORD",
                "Administrateur-2026".to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    for args in [
        vec!["migrate"],
        vec![
            "createsuperuser",
            "--username",
            "admin",
            "--email",
            "admin@ecole.gn",
            "--no-input",
        ],
    ] {
        let mut p = procs.spawn("ecole", &[], &args);
        assert!(p.wait(Duration::from_secs(60)).await.unwrap().success());
    }
    let apis = [procs.api().await, procs.api().await];
    let worker = procs.worker(&[]);
    let beat = procs.beat(&["--entry", "core.debug=*/2 * * * * *"]);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login/", apis[0].base))
        .json(&json!({"username": "admin", "password": "Administrateur-2026"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access"].as_str().unwrap().to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let plan: Plan = Arc::new(|i| match i % 4 {
        0 => (
            reqwest::Method::POST,
            "/api/v1/jobs/".into(),
            Some(json!({"name": "core.debug", "payload": {"message": "charge"}})),
            true,
        ),
        1 => (
            reqwest::Method::GET,
            "/api/v1/users/?page_size=20".into(),
            None,
            false,
        ),
        _ => (
            reqwest::Method::GET,
            "/api/v1/users/me/".into(),
            None,
            false,
        ),
    });
    let bases: Vec<String> = apis.iter().map(|a| a.base.clone()).collect();
    let samples = load(
        bases,
        token,
        4,
        Duration::from_millis(50),
        plan,
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let down = Instant::now();
    pg.stop("fast").await;
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let starting = Instant::now();
    pg.start_server().await;
    let up = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::SeqCst);
    let samples = samples.await.unwrap();

    let before: Vec<&Sample> = samples.iter().filter(|s| s.sent < down).collect();
    let outage: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent >= stopped && s.sent + Duration::from_millis(s.ms as u64) < starting)
        .collect();
    let first_ok = samples
        .iter()
        .filter(|s| s.sent >= starting && matches!(s.status, Some(200..=299)))
        .map(|s| s.sent + Duration::from_micros((s.ms * 1000.0) as u64))
        .min();
    let bad: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.error.is_some() || matches!(s.status, Some(500..=502) | Some(504..)))
        .collect();
    let outage_ms: Vec<f64> = outage.iter().map(|s| s.ms).collect();
    // From the moment `pg_ctl start` returned (0 when a request succeeded before that).
    let first_ok = first_ok.map(|t| t.saturating_duration_since(up));
    eprintln!(
        "panne 5 : PostgreSQL arrêté {:.1} s ; {} requêtes pendant la panne : {} en 503, p50 {:.0} ms, max {:.0} ms ; \
         première réussite {:.2} s après le retour ; {} erreurs hors 503",
        (up - stopped).as_secs_f64(),
        outage.len(),
        outage.iter().filter(|s| s.status == Some(503)).count(),
        percentile(outage_ms.clone(), 0.5),
        percentile(outage_ms.clone(), 1.0),
        first_ok.map(|d| d.as_secs_f64()).unwrap_or(f64::NAN),
        bad.len(),
    );
    assert!(
        before.iter().all(|s| matches!(s.status, Some(200..=299))),
        "tout réussit avant la panne"
    );
    assert!(!outage.is_empty());
    assert!(
        outage.iter().all(|s| s.status == Some(503)),
        "503 pendant la panne : {:?}",
        outage
            .iter()
            .filter(|s| s.status != Some(503))
            .collect::<Vec<_>>()
    );
    assert!(
        outage_ms.iter().all(|ms| *ms <= 3_000.0),
        "aucune requête n'attend au-delà du délai du pool (2 s) : {outage_ms:?}"
    );
    assert!(bad.is_empty(), "ni 500 ni erreur de transport : {bad:?}");
    let first_ok = first_ok.expect("une réussite après le retour");
    assert!(first_ok <= Duration::from_secs(5), "{first_ok:?}");
    // No process restarted; the worker and the beat work again.
    for p in [&apis[0].proc, &apis[1].proc, &worker, &beat] {
        assert!(alive(p.pid), "processus {} vivant", p.pid);
    }
    let since = chrono::Utc::now();
    assert!(
        wait_until(Duration::from_secs(20), || succes_depuis(&db, since)).await,
        "le worker exécute des jobs après le retour"
    );
    for mut p in [worker, beat, apis.into_iter().next().unwrap().proc] {
        p.term();
        assert!(p.wait(Duration::from_secs(30)).await.unwrap().success());
    }
}

// ---------------------------------------------------------------- 1. worker killed during a PDF

/// Fault 1: a worker SIGKILLed in the middle of bulletin PDF jobs (two workers running) → each
/// interrupted job runs once more, on the other worker; one PDF per bulletin; once
/// published, one notification and one e-mail per recipient (counted by key).
#[tokio::test(flavor = "multi_thread")]
async fn panne_1_worker_tue_pendant_un_pdf_de_bulletin() {
    use ecole_db::schema::{bulletins, notifications};
    let sink = ecole_test_support::smtp::SmtpSink::start().await;
    let mut banc = Banc::new(false).await;
    banc.procs.set("SMTP_URL", sink.url());
    let school = School::create(&banc.app, 2).await;
    let admin = admin_of(&banc.app).await;
    let mut conn = banc.app.conn().await;
    // 150 more pupils in class A (with an e-mail address), each with a grade.
    diesel::sql_query(
        "WITH u AS (
            INSERT INTO users (username, email, password_hash, first_name, last_name, role)
            SELECT 'masse' || g, 'masse' || g || '@ecole.test', '!', 'Élève', 'Nº' || g, 'ELEVE'
            FROM generate_series(1, 150) g
            RETURNING id, username)
         INSERT INTO eleves (user_id, matricule, classe_actuelle_id, sexe, date_admission)
         SELECT id, 'M/' || username, $1, 'F', '2025-09-01' FROM u",
    )
    .bind::<diesel::sql_types::BigInt, _>(school.classe_a)
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO notes (eleve_id, matiere_id, classe_id, annee_scolaire_id, periode, type_note, valeur, sur, date_evaluation, saisie_par)
         SELECT e.id, $2, $1, $3, 'TRIMESTRE_1', 'DEVOIR', (e.id % 20), 20, '2025-10-10', $4
         FROM eleves e WHERE e.classe_actuelle_id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(school.classe_a)
    .bind::<diesel::sql_types::BigInt, _>(school.math)
    .bind::<diesel::sql_types::BigInt, _>(school.annee)
    .bind::<diesel::sql_types::BigInt, _>(school.teacher.id())
    .execute(&mut conn)
    .await
    .unwrap();
    let api = banc.procs.api().await;
    let client = reqwest::Client::new();
    let victim = banc.procs.worker(&[]);
    let survivor = banc.procs.worker(&[]);
    let res = client
        .post(format!("{}/api/v1/bulletins/generer/", api.base))
        .bearer_auth(&admin.access)
        .json(&json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_a}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let pdf_jobs = || {
        jobs::table
            .filter(jobs::name.eq("pedagogie.generer_bulletin_pdf"))
            .into_boxed()
    };
    let mine = format!("%-{}-%", victim.pid);
    let running = wait_until(Duration::from_secs(60), || async {
        let mut conn = banc.app.conn().await;
        pdf_jobs()
            .filter(jobs::status.eq(JobStatus::EnCours))
            .filter(jobs::worker.like(&mine))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap()
            > 0
    })
    .await;
    assert!(running, "le worker visé rend des PDF");
    victim.kill();
    let killed = Instant::now();
    let mut victim = victim;
    let _ = victim.wait(Duration::from_secs(10)).await;
    let interrupted: Vec<i64> = pdf_jobs()
        .filter(jobs::status.eq(JobStatus::EnCours))
        .filter(jobs::worker.like(&mine))
        .select(jobs::id)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(!interrupted.is_empty(), "des jobs PDF interrompus");
    let recovered = wait_until(Duration::from_secs(90), || async {
        let mut conn = banc.app.conn().await;
        pdf_jobs()
            .filter(jobs::id.eq_any(&interrupted))
            .filter(jobs::status.ne(JobStatus::Succes))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap()
            == 0
    })
    .await;
    let recovery = killed.elapsed();
    assert!(recovered, "jobs interrompus repris");
    assert!(
        wait_until(Duration::from_secs(60), || async {
            let mut conn = banc.app.conn().await;
            pdf_jobs()
                .filter(jobs::status.ne(JobStatus::Succes))
                .count()
                .get_result::<i64>(&mut conn)
                .await
                .unwrap()
                == 0
        })
        .await,
        "tous les PDF rendus"
    );
    let reruns: Vec<(i32, Option<String>)> = pdf_jobs()
        .filter(jobs::id.eq_any(&interrupted))
        .select((jobs::attempts, jobs::worker))
        .load(&mut conn)
        .await
        .unwrap();
    let other = format!("-{}-", survivor.pid);
    for (attempts, worker) in &reruns {
        assert_eq!(*attempts, 2, "une seule nouvelle exécution");
        assert!(
            worker.as_deref().unwrap().contains(&other),
            "sur l'autre worker"
        );
    }
    let max_attempts: Option<i32> = pdf_jobs()
        .select(diesel::dsl::max(jobs::attempts))
        .first(&mut conn)
        .await
        .unwrap();
    assert!(max_attempts.unwrap() <= 2);
    // One complete PDF per bulletin.
    let rows: Vec<(i64, String, Option<String>)> = bulletins::table
        .select((bulletins::id, bulletins::statut, bulletins::fichier_pdf))
        .load(&mut conn)
        .await
        .unwrap();
    let media = banc.app.state.settings.media_root.clone();
    for (id, statut, fichier) in &rows {
        assert_eq!(statut, "PDF_GENERE", "bulletin {id}");
        let bytes = std::fs::read(media.join(fichier.as_deref().unwrap())).unwrap();
        assert!(bytes.starts_with(b"%PDF-") && bytes.trim_ascii_end().ends_with(b"%%EOF"));
    }
    let pdfs = std::fs::read_dir(media.join(format!("bulletins/{}", school.annee)))
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !n.starts_with('.') && n.ends_with(".pdf")
        })
        .count();
    assert_eq!(pdfs, rows.len(), "un fichier par bulletin");

    // Published: one notification per recipient and bulletin, one e-mail each.
    let res = client
        .post(format!("{}/api/v1/bulletins/publier/", api.base))
        .bearer_auth(&admin.access)
        .json(&json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_a}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let keys: Vec<Option<String>> = notifications::table
        .select(notifications::cle)
        .load(&mut conn)
        .await
        .unwrap();
    let keys: Vec<String> = keys.into_iter().flatten().collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "une notification par clé");
    // 152 pupils + 2 parents.
    assert_eq!(keys.len(), rows.len() + 2);
    let mails = sink.wait_for(keys.len(), Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = sink.messages().len().max(mails.len());
    let mut ids: Vec<String> = sink
        .messages()
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    ids.sort();
    ids.dedup();
    eprintln!(
        "panne 1 : {} jobs PDF interrompus par SIGKILL, repris une fois sur l'autre worker en {:.1} s ; \
         {} bulletins, {} PDF ; {} notifications, {} e-mails reçus ({} Message-ID distincts)",
        interrupted.len(),
        recovery.as_secs_f64(),
        rows.len(),
        pdfs,
        keys.len(),
        mails,
        ids.len(),
    );
    assert_eq!(mails, keys.len(), "un e-mail par notification");
    assert_eq!(ids.len(), keys.len());
    let mut survivor = survivor;
    survivor.term();
    assert!(
        survivor
            .wait(Duration::from_secs(30))
            .await
            .unwrap()
            .success()
    );
}

// ---------------------------------------------------------------- 2. worker killed after an SMS left

/// Takes row locks in a transaction of its own (held until [`Verrous::liberer`]).
struct Verrous {
    conn: diesel_async::AsyncPgConnection,
}

impl Verrous {
    async fn prendre(url: &str, statements: &[String]) -> Verrous {
        use diesel_async::AsyncConnection;
        let mut conn = diesel_async::AsyncPgConnection::establish(url)
            .await
            .unwrap();
        diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
        for sql in statements {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
        Verrous { conn }
    }

    /// Ends the statements of dead clients still waiting for these locks (a crashed process
    /// never sends them), then releases the locks.
    async fn liberer(mut self) -> usize {
        let terminated = diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND wait_event_type = 'Lock'",
        )
        .execute(&mut self.conn)
        .await
        .unwrap();
        diesel::sql_query("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .unwrap();
        terminated
    }
}

/// Fault 2: a worker SIGKILLed after SMS left, before the job was recorded done — one SMS
/// accepted by the provider with its outcome not yet recorded (→ `INCERTAIN`, not resent),
/// another recorded `ENVOYE` with its job not yet marked done (→ the re-run sends nothing)
/// → each parent receives one SMS.
#[tokio::test(flavor = "multi_thread")]
async fn panne_2_worker_tue_apres_le_depart_du_sms() {
    use ecole_communication::{NouvelleNotification, StatutEnvoi, TypeNotification, notifier};
    use ecole_db::schema::notifications;
    use ecole_test_support::orange::{CLIENT_ID, CLIENT_SECRET, FakeOrange, SENDER};
    let fake = FakeOrange::start().await;
    fake.slow_down(Duration::from_millis(1500));
    let mut banc = Banc::new(false).await;
    for (k, v) in [
        ("SMS_PROVIDER", "orange".to_string()),
        ("ORANGE_CLIENT_ID", CLIENT_ID.to_string()),
        ("ORANGE_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("ORANGE_SENDER", SENDER.to_string()),
        ("ORANGE_API_BASE", fake.base_url.clone()),
        // A claim older than 3 × 2 s + 30 s belongs to a dead run.
        ("SMS_TIMEOUT_SECONDS", "2".to_string()),
        ("SMTP_TIMEOUT_SECONDS", "2".to_string()),
        // The re-run that finds the claim still young retries after 20 s.
        ("JOB_RETRY_BASE_SECONDS", "10".to_string()),
    ] {
        banc.procs.set(k, v);
    }
    let p1 = banc
        .app
        .user()
        .role(ecole_core::Role::Parent)
        .telephone("+224621000011")
        .create()
        .await;
    let p2 = banc
        .app
        .user()
        .role(ecole_core::Role::Parent)
        .telephone("+224621000012")
        .create()
        .await;
    let victim = banc.procs.worker(&[]);
    let nouvelle = |user: i64| NouvelleNotification {
        utilisateur_id: user,
        type_notification: TypeNotification::Absence,
        titre: "Absence".into(),
        message: "Votre enfant est absent aujourd'hui.".into(),
        lien_url: None,
        envoyer_par_email: false,
        envoyer_par_sms: true,
        cle: None,
    };
    let batch = vec![nouvelle(p1.id()), nouvelle(p2.id())];
    let mut conn = banc.app.conn().await;
    let ids = {
        use diesel_async::AsyncConnection;
        conn.transaction::<_, ecole_core::DomainError, _>(async move |c| notifier(c, &batch).await)
            .await
            .unwrap()
    };
    let (a, b) = (ids[0], ids[1]);
    let app = &banc.app;
    let job_of = |n: i64| {
        let key = format!("communication.envoyer_sms_notification:{n}");
        async move {
            let mut conn = app.conn().await;
            jobs::table
                .filter(jobs::dedupe_key.eq(key))
                .select((jobs::id, jobs::status, jobs::attempts))
                .first::<(i64, JobStatus, i32)>(&mut conn)
                .await
                .unwrap()
        }
    };
    let sms_statut = |n: i64| async move {
        let mut conn = app.conn().await;
        notifications::table
            .find(n)
            .select(notifications::sms_statut)
            .first::<StatutEnvoi>(&mut conn)
            .await
            .unwrap()
    };
    let (job_b, _, _) = job_of(b).await;
    // A: claimed, at the provider (1.5 s). B's job row: running.
    assert!(
        wait_until(Duration::from_secs(20), || async {
            sms_statut(a).await == StatutEnvoi::EnCours && job_of(b).await.1 == JobStatus::EnCours
        })
        .await
    );
    // A's outcome and B's "job done" wait behind these locks.
    let verrous = Verrous::prendre(
        &banc.app.db.url,
        &[
            format!("SELECT id FROM notifications WHERE id = {a} FOR UPDATE"),
            format!("SELECT id FROM jobs WHERE id = {job_b} FOR UPDATE"),
        ],
    )
    .await;
    assert_eq!(
        fake.wait_for(2, Duration::from_secs(20)).await,
        2,
        "les deux SMS sont partis"
    );
    assert!(
        wait_until(Duration::from_secs(10), || async {
            sms_statut(b).await == StatutEnvoi::Envoye
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sms_statut(a).await,
        StatutEnvoi::EnCours,
        "A : issue pas encore enregistrée"
    );
    assert_eq!(
        job_of(b).await.1,
        JobStatus::EnCours,
        "B : job pas encore terminé"
    );
    victim.kill();
    let killed = Instant::now();
    let mut victim = victim;
    let _ = victim.wait(Duration::from_secs(10)).await;
    let ended = verrous.liberer().await;
    assert!(
        ended >= 2,
        "les écritures du worker tué n'aboutissent pas ({ended})"
    );
    let survivor = banc.procs.worker(&[]);
    let finished = wait_until(Duration::from_secs(90), || async {
        job_of(a).await.1 == JobStatus::Succes && job_of(b).await.1 == JobStatus::Succes
    })
    .await;
    let recovery = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = fake.sms_requests();
    let to = |tel: &str| {
        requests
            .iter()
            .filter(|r| r.json()["outboundSMSMessageRequest"]["address"] == format!("tel:{tel}"))
            .count()
    };
    let (sa, sb) = (sms_statut(a).await, sms_statut(b).await);
    let (ja, jb) = (job_of(a).await, job_of(b).await);
    eprintln!(
        "panne 2 : SIGKILL après le départ des SMS ; repris en {:.1} s ; parent 1 : {} SMS ({sa:?}, job {} tentatives), \
         parent 2 : {} SMS ({sb:?}, job {} tentatives)",
        recovery.as_secs_f64(),
        to("+224621000011"),
        ja.2,
        to("+224621000012"),
        jb.2,
    );
    assert!(finished, "les deux jobs se terminent : {ja:?} {jb:?}");
    assert_eq!(requests.len(), 2, "aucun SMS renvoyé");
    assert_eq!((to("+224621000011"), to("+224621000012")), (1, 1));
    assert_eq!(sa, StatutEnvoi::Incertain);
    assert_eq!(sb, StatutEnvoi::Envoye);
    assert!(jb.2 >= 2, "le job de B a été repris");
    let mut survivor = survivor;
    survivor.term();
    assert!(
        survivor
            .wait(Duration::from_secs(30))
            .await
            .unwrap()
            .success()
    );
}

// ---------------------------------------------------------------- 6. two beats, one killed

/// Two beats on `cron` (one occurrence every `period`) for `periods` periods, started and
/// stopped half-way between two occurrences, one SIGKILLed half-way through, one worker →
/// the occurrences of the window, each once, each run once. Returns a report line.
async fn deux_beats(cron: &str, period: Duration, periods: u32) -> (bool, String) {
    let mut banc = Banc::new(false).await;
    // A beat slow to start still fires the window's first occurrence, never the one before.
    banc.procs
        .set("BEAT_CATCHUP", format!("{}s", period.as_secs_f64() / 2.0));
    let worker = banc.procs.worker(&[]);
    // Start half-way between two occurrences.
    let p = period.as_millis() as i64;
    let now = chrono::Utc::now().timestamp_millis();
    let wait = (p / 2 - now.rem_euclid(p)).rem_euclid(p);
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    let entry = format!("core.debug={cron}");
    let start = chrono::Utc::now();
    let one = banc.procs.beat(&["--entry", &entry]);
    let mut two = banc.procs.beat(&["--entry", &entry]);
    let half = period * (periods / 2);
    tokio::time::sleep(half).await;
    one.kill();
    tokio::time::sleep(period * periods - half).await;
    two.term();
    let stop = chrono::Utc::now();
    let beat_ok = two
        .wait(Duration::from_secs(30))
        .await
        .is_some_and(|s| s.success());
    let mut conn = banc.app.conn().await;
    let _ = wait_until(Duration::from_secs(30), || async {
        banc.count_jobs(Some(JobStatus::Succes)).await == banc.count_jobs(None).await
    })
    .await;
    let rows: Vec<(Option<String>, JobStatus, i32)> = jobs::table
        .filter(jobs::name.eq("core.debug"))
        .select((jobs::dedupe_key, jobs::status, jobs::attempts))
        .order(jobs::dedupe_key)
        .load(&mut conn)
        .await
        .unwrap();
    let times: Vec<chrono::DateTime<chrono::Utc>> = rows
        .iter()
        .filter_map(|r| r.0.as_deref())
        .map(|k| k.trim_start_matches("core.debug:").parse().unwrap())
        .collect();
    let mut unique = times.clone();
    unique.dedup();
    let in_window = times.iter().all(|t| *t > start && *t <= stop);
    let consecutive = times
        .windows(2)
        .all(|w| (w[1] - w[0]).to_std().ok() == Some(period));
    let once = rows.iter().all(|r| r.1 == JobStatus::Succes && r.2 == 1);
    let ok = beat_ok
        && unique.len() == times.len()
        && times.len() == periods as usize
        && in_window
        && consecutive
        && once;
    let line = format!(
        "deux planificateurs, une occurrence toutes les {} s pendant {} s, l'un tué (SIGKILL) à mi-parcours : \
         {} exécutions pour {periods} attendues, {} en double, {} hors fenêtre, {} exécutées plus d'une fois — {}",
        period.as_secs(),
        (period * periods).as_secs(),
        times.len(),
        times.len() - unique.len(),
        times.iter().filter(|t| **t <= start || **t > stop).count(),
        rows.iter().filter(|r| r.2 != 1).count(),
        if ok { "RÉUSSI" } else { "ÉCHEC" },
    );
    let mut worker = worker;
    worker.term();
    let _ = worker.wait(Duration::from_secs(30)).await;
    (ok, line)
}

/// Fault 6, CI version: an occurrence every 2 s for 40 s → exactly 20 runs.
#[tokio::test(flavor = "multi_thread")]
async fn panne_6_deux_beats_dont_un_tue_a_mi_parcours() {
    let (ok, line) = deux_beats("*/2 * * * * *", Duration::from_secs(2), 20).await;
    eprintln!("panne 6 : {line}");
    assert!(ok, "{line}");
}

/// Fault 6 as specified (`make pannes-longues`): once a minute for 10 minutes → exactly 10.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "10 minutes : make pannes-longues"]
async fn panne_6_longue_deux_beats_dix_minutes() {
    let (ok, line) = deux_beats("0 * * * * *", Duration::from_secs(60), 10).await;
    println!("pannes longues : {line}");
    assert!(ok, "{line}");
}

// ---------------------------------------------------------------- 7. SIGTERM to everything

/// Fault 7: SIGTERM to every process (2 APIs, 2 workers, 2 beats) under load → requests in
/// flight are answered, running jobs finish, every process exits 0, nothing is left in flight
/// in Redis.
#[tokio::test(flavor = "multi_thread")]
async fn panne_7_sigterm_a_tous_les_processus_sous_charge() {
    let banc = Banc::new(false).await;
    let school = School::create(&banc.app, 2).await;
    let admin = admin_of(&banc.app).await;
    let apis = [banc.procs.api().await, banc.procs.api().await];
    let workers = [banc.procs.worker(&[]), banc.procs.worker(&[])];
    let entry = "core.debug=* * * * * *";
    let beats = [
        banc.procs.beat(&["--entry", entry]),
        banc.procs.beat(&["--entry", entry]),
    ];
    let bases: Vec<String> = apis.iter().map(|a| a.base.clone()).collect();
    let writes = school_writes(&school, facture_ouverte(&banc.app, &school, &admin).await);
    let classe = school.classe_a;
    let plan: Plan = Arc::new(move |i| {
        if i % 5 == 0 {
            writes(i / 5)
        } else {
            (
                reqwest::Method::GET,
                format!("/api/v1/eleves/?classe={classe}&page_size=50"),
                None,
                false,
            )
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let samples = load(
        bases,
        admin.access.clone(),
        8,
        Duration::from_millis(10),
        plan,
        stop.clone(),
    );
    // Every slot of both workers busy with a 3 s job.
    let mut conn = banc.app.conn().await;
    let long: Vec<NewJob> = (0..8).map(|_| debug_job(3000)).collect();
    let long = enqueue_many(&mut conn, &long).await.unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || async {
            let mut conn = banc.app.conn().await;
            jobs::table
                .filter(jobs::id.eq_any(&long))
                .filter(jobs::status.eq(JobStatus::EnCours))
                .count()
                .get_result::<i64>(&mut conn)
                .await
                .unwrap()
                == long.len() as i64
        })
        .await,
        "les 8 emplacements travaillent"
    );
    // Slow writes in flight on both APIs when the signal comes: two imports of 4,000 pupils.
    let imports: Vec<_> = apis
        .iter()
        .enumerate()
        .map(|(n, api)| {
            let mut csv = String::from("matricule,nom,prenom,sexe,classe\n");
            for k in 0..4_000 {
                csv.push_str(&format!("IMP{n}-{k:05},Barry{n},Ousmane{k},M,6ème A\n"));
            }
            let req = reqwest::Client::new()
                .post(format!("{}/api/v1/eleves/import/", api.base))
                .bearer_auth(&admin.access)
                .header("content-type", "text/csv")
                .body(csv);
            tokio::spawn(async move {
                let sent = Instant::now();
                let res = req.send().await;
                let ms = sent.elapsed().as_millis();
                match res {
                    Ok(r) => (
                        Some(r.status().as_u16()),
                        r.json::<Value>().await.unwrap_or(Value::Null),
                        ms,
                    ),
                    Err(e) => (None, json!(format!("{e:?}")), ms),
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let term = Instant::now();
    let mut all: Vec<Proc> = apis.into_iter().map(|a| a.proc).collect();
    all.extend(workers);
    all.extend(beats);
    for p in &all {
        p.term();
    }
    let mut codes = Vec::new();
    for p in &mut all {
        codes.push(p.wait(Duration::from_secs(40)).await);
    }
    let exited = term.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut imported = Vec::new();
    for i in imports {
        imported.push(i.await.unwrap());
    }
    let samples = samples.await.unwrap();

    let in_flight: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent < term && s.sent + Duration::from_micros((s.ms * 1000.0) as u64) > term)
        .collect();
    let before_failed: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent < term && !matches!(s.status, Some(200..=299)))
        .collect();
    let statuses: Vec<(JobStatus, i32)> = jobs::table
        .filter(jobs::id.eq_any(&long))
        .select((jobs::status, jobs::attempts))
        .load(&mut conn)
        .await
        .unwrap();
    let running_left = banc.count_jobs(Some(JobStatus::EnCours)).await;
    // What apalis holds for running tasks: one `inflight` set per worker slot.
    let mut redis = ecole_jobs::queue::connect(&banc.redis.url()).await.unwrap();
    let namespace = ecole_jobs::instance::namespace_of(&mut conn, &banc.app.redis_prefix)
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:jobs:inflight*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut left_in_redis = 0;
    for k in &keys {
        let n: i64 = redis::cmd("SCARD")
            .arg(k)
            .query_async(&mut redis)
            .await
            .unwrap();
        left_in_redis += n;
    }
    let pupils: i64 = {
        use ecole_db::schema::eleves;
        eleves::table
            .filter(eleves::matricule.like("IMP%"))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    };
    eprintln!(
        "panne 7 : imports de 4 000 élèves en vol au signal : {:?} ({pupils} élèves enregistrés)",
        imported
            .iter()
            .map(|(s, body, ms)| format!("{s:?} crees={} en {ms} ms", body["crees"]))
            .collect::<Vec<_>>()
    );
    eprintln!(
        "panne 7 : SIGTERM à 6 processus ; tous sortis en {:.1} s, codes {:?} ; {} requêtes en vol au signal, \
         {} en échec parmi les {} envoyées avant ; 8 jobs de 3 s en cours : {:?} ; {} jobs EN_COURS, {} tâches en vol dans Redis",
        exited.as_secs_f64(),
        codes
            .iter()
            .map(|c| c.and_then(|c| c.code()))
            .collect::<Vec<_>>(),
        in_flight.len(),
        before_failed.len(),
        samples.iter().filter(|s| s.sent < term).count(),
        statuses,
        running_left,
        left_in_redis,
    );
    assert!(
        codes.iter().all(|c| c.is_some_and(|c| c.success())),
        "chaque processus sort avec 0 : {codes:?}"
    );
    for (status, body, ms) in &imported {
        assert_eq!(*status, Some(200), "import en vol terminé : {body}");
        assert_eq!(body["crees"], 4_000);
        assert!(*ms > 300, "l'import était en cours au signal ({ms} ms)");
    }
    assert_eq!(pupils, 8_000, "les imports en vol sont enregistrés");
    assert!(
        before_failed.is_empty(),
        "requêtes en vol abandonnées : {before_failed:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == (JobStatus::Succes, 1)),
        "les jobs en cours finissent : {statuses:?}"
    );
    assert_eq!(running_left, 0, "aucun job EN_COURS");
    assert_eq!(left_in_redis, 0, "rien en vol dans Redis : {keys:?}");
}

// ---------------------------------------------------------------- 8. SMS provider down for good

/// Fault 8: the SMS provider answers 500 forever → retries at the policy's delays
/// (`JOB_RETRY_BASE_SECONDS` = 1: 1, 2, 4 s), then `ECHEC`, an alert to the administrators
/// (in the application and by e-mail), and no more calls.
#[tokio::test(flavor = "multi_thread")]
async fn panne_8_fournisseur_sms_en_erreur_500() {
    use ecole_communication::{NouvelleNotification, StatutEnvoi, TypeNotification, notifier};
    use ecole_db::schema::notifications;
    use ecole_test_support::orange::{CLIENT_ID, CLIENT_SECRET, FakeOrange, SENDER};
    let fake = FakeOrange::start().await;
    fake.fail_forever(500);
    let sink = ecole_test_support::smtp::SmtpSink::start().await;
    let mut banc = Banc::new(false).await;
    for (k, v) in [
        ("SMS_PROVIDER", "orange".to_string()),
        ("ORANGE_CLIENT_ID", CLIENT_ID.to_string()),
        ("ORANGE_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("ORANGE_SENDER", SENDER.to_string()),
        ("ORANGE_API_BASE", fake.base_url.clone()),
        ("SMTP_URL", sink.url()),
    ] {
        banc.procs.set(k, v);
    }
    let admin = banc
        .app
        .user()
        .role(ecole_core::Role::Admin)
        .email("direction@ecole.gn")
        .create()
        .await;
    let parent = banc
        .app
        .user()
        .role(ecole_core::Role::Parent)
        .names("Mariama", "Bah")
        .telephone("+224621000021")
        .create()
        .await;
    let worker = banc.procs.worker(&[]);
    let batch = vec![NouvelleNotification {
        utilisateur_id: parent.id(),
        type_notification: TypeNotification::RappelPaiement,
        titre: "Rappel de paiement".into(),
        message: "Votre facture FAC-2026-000001 est en retard.".into(),
        lien_url: None,
        envoyer_par_email: false,
        envoyer_par_sms: true,
        cle: None,
    }];
    let mut conn = banc.app.conn().await;
    let id = {
        use diesel_async::AsyncConnection;
        conn.transaction::<_, ecole_core::DomainError, _>(async move |c| notifier(c, &batch).await)
            .await
            .unwrap()[0]
    };
    let key = format!("communication.envoyer_sms_notification:{id}");
    let app = &banc.app;
    let job = || {
        let key = key.clone();
        async move {
            let mut conn = app.conn().await;
            jobs::table
                .filter(jobs::dedupe_key.eq(key))
                .select((jobs::status, jobs::attempts, jobs::error))
                .first::<(JobStatus, i32, Option<String>)>(&mut conn)
                .await
                .unwrap()
        }
    };
    assert!(
        wait_until(Duration::from_secs(40), || async {
            job().await.0 == JobStatus::Echec
        })
        .await,
        "le job finit en ECHEC : {:?}",
        job().await
    );
    let failed_at = Instant::now();
    let (_, attempts, error) = job().await;
    // The alert: a notification to the administrator, and its e-mail.
    let alerts: Vec<(String, String, Option<String>)> = notifications::table
        .filter(notifications::utilisateur_id.eq(admin.id()))
        .select((
            notifications::titre,
            notifications::message,
            notifications::cle,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    // No more calls afterwards.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls = fake.sms_requests();
    let gaps: Vec<f64> = calls
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).unwrap().as_secs_f64())
        .collect();
    let (statut, erreur): (StatutEnvoi, Option<String>) = notifications::table
        .find(id)
        .select((notifications::sms_statut, notifications::derniere_erreur))
        .first(&mut conn)
        .await
        .unwrap();
    eprintln!(
        "panne 8 : fournisseur SMS en 500 : {} appels, intervalles {:?} s (attendus 1, 2, 4), job ECHEC après {attempts} tentatives, \
         canal {statut:?} ; {} alerte(s) administrateur, {} e-mail(s) ; appels 5 s après l'échec : {}",
        calls.len(),
        gaps.iter()
            .map(|g| (g * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        alerts.len(),
        mails.len(),
        calls.len(),
    );
    assert_eq!(calls.len(), 4, "1 tentative + 3 nouvelles, puis plus rien");
    assert!(calls.iter().all(|c| c.status == 500));
    for (gap, expected) in gaps.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            *gap >= expected - 0.05 && *gap <= expected + 1.5,
            "{gaps:?}"
        );
    }
    assert_eq!(attempts, 4);
    assert!(error.unwrap_or_default().contains("500"));
    assert_eq!(statut, StatutEnvoi::Echec);
    assert!(erreur.unwrap_or_default().contains("500"));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].0.contains("Échec d'envoi d'un SMS"));
    assert!(
        alerts[0].1.contains("Mariama Bah") && alerts[0].1.contains("500"),
        "{}",
        alerts[0].1
    );
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["direction@ecole.gn".to_string()]);
    assert!(mails[0].subject().contains("Échec d'envoi d'un SMS"));
    assert!(failed_at.elapsed() >= Duration::from_secs(5));
    assert_eq!(fake.token_requests(), 1);
    let mut worker = worker;
    worker.term();
    assert!(
        worker
            .wait(Duration::from_secs(30))
            .await
            .unwrap()
            .success()
    );
}
