//! `ecole-bench soak`: endurance. Starts the real binaries — 2 `ecole-api`, 2 `ecole-worker`,
//! 1 `ecole-beat` — on a seeded database (`scripts/soak.sh` prepares it) and a private
//! `redis-server`, then sends a mixed load for N minutes: 80 % reads (lists of pupils, grades,
//! attendance, invoices; `users/me/`) and 20 % writes that enqueue jobs (grades, roll calls with
//! absences → SMS, payments → receipt PDF and notifications). Every window (30 s) it samples the
//! RSS of each process, Redis `used_memory`, the jobs waiting, and the window's latencies.
//!
//! Verdict (after a one-minute warm-up, first third of the remaining windows against the last
//! third): 0 HTTP errors and 0 failed jobs; p99 stable (median of the windows' p99, last ≤
//! 1.5 × first + 5 ms); RSS of every API and worker grown by less than 10 %; Redis memory
//! flat (less than 10 % or 256 KiB).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::{
    annees_scolaires, classes, eleve_parents, eleves, enseignements, jobs, periodes,
};
use ecole_jobs::JobStatus;
use ecole_test_support::process::{RedisServer, alive, free_port, rss_kib, wait_http_ok};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, RwLock};

pub struct Options {
    pub minutes: f64,
    pub window: Duration,
    /// Requests per second, all clients together.
    pub rate: f64,
    pub clients: usize,
    pub bin_dir: PathBuf,
    pub username: String,
    pub password: String,
}

struct Proc {
    name: String,
    child: Child,
    pid: i32,
}

/// What the load needs from the seeded school.
struct Ecole {
    /// (class, its pupils, a subject taught there)
    classes: Vec<(i64, Vec<i64>, i64)>,
    periode: String,
    date_note: chrono::NaiveDate,
    /// School days of the year so far: roll calls go over them again and again (an upsert
    /// once each was taken), so the tables grow as in a school, not ten times in 30 minutes.
    jours: Vec<chrono::NaiveDate>,
    factures: Vec<i64>,
}

#[derive(Clone, Copy)]
struct Sample {
    /// Seconds since the start of the load.
    at: f64,
    ms: f64,
    ok: bool,
    write: bool,
}

/// One window's figures.
struct Window {
    end: f64,
    requests: usize,
    errors: usize,
    p50: f64,
    p99: f64,
    rss: Vec<u64>,
    redis: u64,
    waiting: i64,
    done: i64,
    /// The machine's 1-minute load average at the end of the window.
    load: f64,
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[(((values.len() - 1) as f64) * p).round() as usize]
}

async fn redis_memory(url: &str) -> anyhow::Result<u64> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO memory sans used_memory")
}

async fn ecole(conn: &mut AsyncPgConnection) -> anyhow::Result<(i64, Ecole)> {
    let (annee, debut, fin): (i64, chrono::NaiveDate, chrono::NaiveDate) = annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select((
            annees_scolaires::id,
            annees_scolaires::date_debut,
            annees_scolaires::date_fin,
        ))
        .first(conn)
        .await
        .context("aucune année active : lancez `ecole seed` d'abord")?;
    let last = fin.min(ecole_core::time::today());
    let jours: Vec<chrono::NaiveDate> = debut
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| {
            use chrono::Datelike;
            d.weekday().num_days_from_monday() < 5
        })
        .collect();
    if jours.is_empty() {
        bail!("l'année active n'a pas encore commencé");
    }
    let (periode, date_note): (String, chrono::NaiveDate) = periodes::table
        .filter(periodes::annee_scolaire_id.eq(annee))
        .order(periodes::date_debut)
        .select((periodes::code, periodes::date_debut))
        .first(conn)
        .await?;
    let pupils: Vec<(i64, i64)> = eleves::table
        .inner_join(classes::table)
        .filter(classes::annee_scolaire_id.eq(annee))
        .select((classes::id, eleves::id))
        .order((classes::id, eleves::id))
        .load(conn)
        .await?;
    let taught: Vec<(i64, i64)> = enseignements::table
        .inner_join(classes::table)
        .filter(classes::annee_scolaire_id.eq(annee))
        .select((enseignements::classe_id, enseignements::matiere_id))
        .load(conn)
        .await?;
    let mut list: Vec<(i64, Vec<i64>, i64)> = Vec::new();
    for (classe, eleve) in pupils {
        match list.last_mut() {
            Some((c, v, _)) if *c == classe => v.push(eleve),
            _ => {
                if let Some((_, m)) = taught.iter().find(|(c, _)| *c == classe) {
                    list.push((classe, vec![eleve], *m));
                }
            }
        }
    }
    if list.is_empty() {
        bail!("aucune classe avec des élèves et des enseignements : lancez `ecole seed`");
    }
    Ok((
        annee,
        Ecole {
            classes: list,
            periode,
            date_note,
            jours,
            factures: Vec::new(),
        },
    ))
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// Issued invoices to pay in small amounts for the whole run, for pupils with parents.
async fn factures(
    conn: &mut AsyncPgConnection,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<Vec<i64>> {
    let with_parents: Vec<i64> = eleve_parents::table
        .select(eleve_parents::eleve_id)
        .distinct()
        .order(eleve_parents::eleve_id)
        .limit(n as i64)
        .load(conn)
        .await?;
    let mut ids = Vec::new();
    for eleve in with_parents {
        let (s, body) = call(
            client,
            reqwest::Method::POST,
            &format!("{base}/api/v1/factures/"),
            token,
            Some(&json!({"eleve": eleve, "lignes": [{"libelle": "Scolarité (endurance)", "quantite": 1, "prix_unitaire": 500_000_000}]})),
        )
        .await?;
        let Some(id) = body["id"].as_i64().filter(|_| s == 201) else {
            bail!("facture : {s} {body}");
        };
        let (s, body) = call(
            client,
            reqwest::Method::POST,
            &format!("{base}/api/v1/factures/{id}/emettre/"),
            token,
            None,
        )
        .await?;
        if s != 200 {
            bail!("émission : {s} {body}");
        }
        ids.push(id);
    }
    Ok(ids)
}

type Request = (reqwest::Method, String, Option<Value>, bool);

/// The i-th request of the mix: 4 writes in 20 (grades, roll calls, payments), the rest reads.
fn request(e: &Ecole, i: usize) -> Request {
    let (slot, k) = (i % 20, i / 20);
    let n = e.classes.len();
    let (classe, eleves, matiere) = &e.classes[(k + slot) % n];
    let get = |path: String| (reqwest::Method::GET, path, None, false);
    match slot {
        3 | 13 => (
            reqwest::Method::POST,
            "/api/v1/notes/".into(),
            Some(json!({
                "eleve": eleves[(k / n) % eleves.len()], "matiere": matiere, "classe": classe,
                "periode": e.periode, "type_note": "INTERROGATION",
                "valeur": (i % 21) as f64, "sur": 20.0, "date_evaluation": e.date_note,
            })),
            true,
        ),
        7 => {
            // Every class, every school day in turn: a few pupils absent; an absence of today or
            // yesterday asks for an SMS job (then a notification per parent), older ones none.
            let date = e.jours[(k / n) % e.jours.len()];
            let presences: Vec<Value> = eleves
                .iter()
                .enumerate()
                .map(|(j, id)| {
                    let statut = if (j + k) % 12 == 0 {
                        "ABSENT"
                    } else {
                        "PRESENT"
                    };
                    json!({"eleve": id, "statut": statut, "motif": ""})
                })
                .collect();
            (
                reqwest::Method::POST,
                "/api/v1/presences/appel/".into(),
                Some(json!({"classe": classe, "date": date, "presences": presences})),
                true,
            )
        }
        17 if !e.factures.is_empty() => {
            let facture = e.factures[k % e.factures.len()];
            (
                reqwest::Method::POST,
                format!("/api/v1/factures/{facture}/paiements/"),
                Some(json!({"montant": 1_000, "mode": "ESPECES", "reference": ""})),
                true,
            )
        }
        0 | 5 | 10 | 15 => get(format!("/api/v1/eleves/?classe={classe}&page_size=50")),
        1 | 6 | 11 | 16 => get(format!("/api/v1/notes/?classe={classe}&page_size=50")),
        2 | 8 | 12 => get(format!("/api/v1/presences/?classe={classe}&page_size=50")),
        4 | 14 => get("/api/v1/factures/?page_size=20".into()),
        _ => get("/api/v1/users/me/".into()),
    }
}

fn spawn(
    o: &Options,
    bin: &str,
    env: &[(&str, String)],
    logs: &std::path::Path,
    n: usize,
) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(logs.join(format!("{bin}-{n}.log")))?;
    let mut cmd = Command::new(o.bin_dir.join(bin));
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let child = cmd.spawn().with_context(|| format!("lancement de {bin}"))?;
    let pid = child.id().context("pid")? as i32;
    Ok(Proc {
        name: format!("{bin}-{n}"),
        child,
        pid,
    })
}

pub async fn run(url: &str, o: Options) -> anyhow::Result<bool> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;
    let (_, mut school) = ecole(&mut conn).await?;
    let redis = RedisServer::start(false).await;
    let logs = std::env::temp_dir().join(format!("ecole-soak-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    let media = logs.join("media");
    let prefix = format!("soak{}", std::process::id());
    let common = vec![
        ("DATABASE_URL", url.to_string()),
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", prefix.clone()),
        ("MEDIA_ROOT", media.to_string_lossy().into_owned()),
        ("RUST_LOG", "warn".to_string()),
        // Console SMS at any hour, no provider rate limit to respect.
        ("SMS_SILENCE_DEBUT", "off".to_string()),
        ("SMS_MAX_PAR_SECONDE", "0".to_string()),
        ("DATABASE_POOL_SIZE", "8".to_string()),
    ];
    let mut procs = Vec::new();
    let mut bases = Vec::new();
    for n in 0..2 {
        let port = free_port();
        let mut env = common.clone();
        env.push(("HTTP_BIND", format!("127.0.0.1:{port}")));
        env.push(("HTTP_WORKERS", "2".to_string()));
        procs.push(spawn(&o, "ecole-api", &env, &logs, n)?);
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    for n in 0..2 {
        procs.push(spawn(&o, "ecole-worker", &common, &logs, n)?);
    }
    procs.push(spawn(&o, "ecole-beat", &common, &logs, 0)?);
    for base in &bases {
        if !wait_http_ok(&format!("{base}/health/ready"), Duration::from_secs(30)).await {
            bail!("l'API {base} ne répond pas (journaux : {})", logs.display());
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let login: Value = client
        .post(format!("{}/api/v1/auth/login/", bases[0]))
        .json(&json!({"username": o.username, "password": o.password}))
        .send()
        .await?
        .json()
        .await?;
    let (Some(access), Some(refresh)) = (login["access"].as_str(), login["refresh"].as_str())
    else {
        bail!("connexion refusée : {login}");
    };
    let token = Arc::new(RwLock::new(access.to_string()));
    let refresh = Arc::new(Mutex::new(refresh.to_string()));
    school.factures = factures(&mut conn, &client, &bases[0], access, 20).await?;
    let school = Arc::new(school);

    let stop = Arc::new(AtomicBool::new(false));
    // Access tokens live 15 minutes: refresh every 10, as a client does.
    {
        let (client, token, refresh, stop, base) = (
            client.clone(),
            token.clone(),
            refresh.clone(),
            stop.clone(),
            bases[0].clone(),
        );
        tokio::spawn(async move {
            loop {
                for _ in 0..600 {
                    if AtomicBool::load(&stop, Ordering::SeqCst) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let mut r = refresh.lock().await;
                if let Ok(res) = client
                    .post(format!("{base}/api/v1/auth/refresh/"))
                    .json(&json!({"refresh": *r}))
                    .send()
                    .await
                    && let Ok(v) = res.json::<Value>().await
                    && let (Some(a), Some(n)) = (v["access"].as_str(), v["refresh"].as_str())
                {
                    *token.write().await = a.to_string();
                    *r = n.to_string();
                }
            }
        });
    }

    let started = Instant::now();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let errors_seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let counter = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    let per_client = Duration::from_secs_f64(o.clients as f64 / o.rate.max(0.1));
    for c in 0..o.clients {
        let (client, token, school, stop, samples, errors_seen, counter, bases) = (
            client.clone(),
            token.clone(),
            school.clone(),
            stop.clone(),
            samples.clone(),
            errors_seen.clone(),
            counter.clone(),
            bases.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(per_client);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Spread the clients over one period.
            tokio::time::sleep(per_client.mul_f64(c as f64 / 8.0)).await;
            while !AtomicBool::load(&stop, Ordering::SeqCst) {
                tick.tick().await;
                let i = counter.fetch_add(1, Ordering::SeqCst) as usize;
                let (method, path, body, write) = request(&school, i);
                let base = &bases[i % bases.len()];
                let t = token.read().await.clone();
                let sent = Instant::now();
                let mut req = client
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(t);
                if let Some(b) = &body {
                    req = req.json(b);
                }
                let ok = match req.send().await {
                    Ok(res) => {
                        let status = res.status();
                        let text = res.text().await.unwrap_or_default();
                        if !status.is_success() {
                            errors_seen.lock().await.push(format!(
                                "{status} {path} {}",
                                text.chars().take(200).collect::<String>()
                            ));
                        }
                        status.is_success()
                    }
                    Err(e) => {
                        errors_seen.lock().await.push(format!("{path} : {e}"));
                        false
                    }
                };
                samples.lock().await.push(Sample {
                    at: (sent - started).as_secs_f64(),
                    ms: sent.elapsed().as_secs_f64() * 1000.0,
                    ok,
                    write,
                });
            }
        }));
    }

    println!(
        "| fenêtre | requêtes | erreurs | p50 ms | p99 ms | RSS API (Mo) | RSS workers (Mo) | RSS beat (Mo) | Redis (Ko) | jobs en attente | jobs SUCCES | charge machine |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let total = Duration::from_secs_f64(o.minutes * 60.0);
    let mut windows: Vec<Window> = Vec::new();
    let mut last_end = 0.0;
    let mut dead = Vec::new();
    while started.elapsed() < total {
        let left = total.saturating_sub(started.elapsed());
        tokio::time::sleep(o.window.min(left)).await;
        let end = started.elapsed().as_secs_f64();
        let (requests, errors, mut lat) = {
            let s = samples.lock().await;
            let w: Vec<&Sample> = s
                .iter()
                .filter(|x| x.at >= last_end && x.at < end)
                .collect();
            (
                w.len(),
                w.iter().filter(|x| !x.ok).count(),
                w.iter().map(|x| x.ms).collect::<Vec<f64>>(),
            )
        };
        last_end = end;
        let rss: Vec<u64> = procs.iter().map(|p| rss_kib(p.pid).unwrap_or(0)).collect();
        for p in &procs {
            if !alive(p.pid) && !dead.contains(&p.name) {
                dead.push(p.name.clone());
            }
        }
        let redis_mem = redis_memory(&redis.url()).await.unwrap_or(0);
        let waiting: i64 = jobs::table
            .filter(jobs::status.eq(JobStatus::EnAttente))
            .filter(jobs::run_after.le(diesel::dsl::now))
            .count()
            .get_result(&mut conn)
            .await?;
        let done: i64 = jobs::table
            .filter(jobs::status.eq(JobStatus::Succes))
            .count()
            .get_result(&mut conn)
            .await?;
        let w = Window {
            end,
            requests,
            errors,
            p50: percentile(&mut lat, 0.5),
            p99: percentile(&mut lat, 0.99),
            rss,
            redis: redis_mem,
            waiting,
            done,
            load: loadavg(),
        };
        let mb = |k: u64| format!("{:.1}", k as f64 / 1024.0);
        println!(
            "| {:.0} s | {} | {} | {:.1} | {:.1} | {} / {} | {} / {} | {} | {} | {} | {} | {:.1} |",
            w.end,
            w.requests,
            w.errors,
            w.p50,
            w.p99,
            mb(w.rss[0]),
            mb(w.rss[1]),
            mb(w.rss[2]),
            mb(w.rss[3]),
            mb(w.rss[4]),
            w.redis / 1024,
            w.waiting,
            w.done,
            w.load,
        );
        windows.push(w);
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.await;
    }
    // Jobs asked during the run finish.
    let drain_start = Instant::now();
    let mut left_running = i64::MAX;
    while drain_start.elapsed() < Duration::from_secs(120) {
        left_running = jobs::table
            .filter(jobs::status.eq_any([JobStatus::EnAttente, JobStatus::EnCours]))
            .filter(jobs::run_after.le(diesel::dsl::now))
            .count()
            .get_result(&mut conn)
            .await?;
        if left_running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain = drain_start.elapsed();
    let failed_jobs: Vec<(String, Option<String>)> = jobs::table
        .filter(jobs::status.eq(JobStatus::Echec))
        .filter(jobs::error.not_like("%non implémentée%"))
        .select((jobs::name, jobs::error))
        .load(&mut conn)
        .await?;
    let total_done: i64 = jobs::table
        .filter(jobs::status.eq(JobStatus::Succes))
        .count()
        .get_result(&mut conn)
        .await?;
    let mut exits = Vec::new();
    for p in &procs {
        ecole_test_support::process::signal(p.pid, "TERM");
    }
    for p in &mut procs {
        let code = tokio::time::timeout(Duration::from_secs(60), p.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|s| s.code());
        exits.push((p.name.clone(), code));
    }

    // Verdict.
    let samples = samples.lock().await;
    let errors = samples.iter().filter(|s| !s.ok).count();
    let writes = samples.iter().filter(|s| s.write).count();
    let warm = windows
        .iter()
        .position(|w| w.end >= 60.0)
        .map(|i| i + 1)
        .unwrap_or(windows.len());
    let steady = &windows[warm.min(windows.len())..];
    let third = (steady.len() / 3).max(1);
    let (first, last) = if steady.len() >= 2 {
        (&steady[..third], &steady[steady.len() - third..])
    } else {
        (
            &windows[..1.min(windows.len())],
            &windows[windows.len().saturating_sub(1)..],
        )
    };
    // The median of the windows' p99: one window slowed by the rest of the machine (a
    // compilation next door) does not make a trend.
    let median_p99 = |ws: &[Window]| {
        let mut v: Vec<f64> = ws.iter().map(|w| w.p99).collect();
        percentile(&mut v, 0.5)
    };
    let (p99_first, p99_last) = (median_p99(first), median_p99(last));
    let mean = |ws: &[Window], f: &dyn Fn(&Window) -> u64| {
        ws.iter().map(f).sum::<u64>() as f64 / ws.len().max(1) as f64
    };
    let growth: Vec<(String, f64)> = (0..4)
        .map(|k| {
            let a = mean(first, &|w| w.rss[k]);
            let b = mean(last, &|w| w.rss[k]);
            (procs[k].name.clone(), (b - a) / a.max(1.0) * 100.0)
        })
        .collect();
    let redis_first = mean(first, &|w| w.redis);
    let redis_last = mean(last, &|w| w.redis);
    let redis_growth = (redis_last - redis_first) / redis_first.max(1.0) * 100.0;
    let p99_ok = p99_last <= 1.5 * p99_first + 5.0;
    let rss_ok = growth.iter().all(|(_, g)| *g < 10.0);
    let redis_ok = redis_growth < 10.0 || redis_last - redis_first < 256.0 * 1024.0;
    let exits_ok = exits.iter().all(|(_, c)| *c == Some(0));
    let ok = errors == 0
        && failed_jobs.is_empty()
        && left_running == 0
        && dead.is_empty()
        && p99_ok
        && rss_ok
        && redis_ok
        && exits_ok;
    println!();
    println!(
        "Requêtes : {} ({} écritures), {errors} erreurs ; jobs : {total_done} SUCCES, {} ECHEC, file vidée {:.1} s après l'arrêt de la charge",
        samples.len(),
        writes,
        failed_jobs.len(),
        drain.as_secs_f64()
    );
    for e in errors_seen.lock().await.iter().take(5) {
        println!("  erreur : {e}");
    }
    for (name, error) in failed_jobs.iter().take(5) {
        println!(
            "  job en échec : {name} : {}",
            error.as_deref().unwrap_or("")
        );
    }
    println!(
        "p99 (médiane des fenêtres) : {p99_first:.1} ms (premier tiers après 1 min de chauffe) → {p99_last:.1} ms (dernier tiers) ; RSS : {} ; Redis : {:.0} → {:.0} Ko ({redis_growth:+.1} %) ; arrêts : {}",
        growth
            .iter()
            .map(|(n, g)| format!("{n} {g:+.1} %"))
            .collect::<Vec<_>>()
            .join(", "),
        redis_first / 1024.0,
        redis_last / 1024.0,
        exits
            .iter()
            .map(|(n, c)| format!("{n}={}", c.map(|c| c.to_string()).unwrap_or("?".into())))
            .collect::<Vec<_>>()
            .join(" "),
    );
    println!(
        "ENDURANCE {} : {} min, {} requêtes, {errors} erreurs, p99 {p99_first:.1} → {p99_last:.1} ms, RSS max {:+.1} %, Redis {redis_growth:+.1} %{}",
        if ok { "RÉUSSIE" } else { "ÉCHOUÉE" },
        o.minutes,
        samples.len(),
        growth.iter().map(|(_, g)| *g).fold(f64::MIN, f64::max),
        if dead.is_empty() {
            String::new()
        } else {
            format!(", processus morts : {dead:?}")
        },
    );
    if ok {
        let _ = std::fs::remove_dir_all(&logs);
    } else {
        println!("journaux : {}", logs.display());
    }
    Ok(ok)
}
