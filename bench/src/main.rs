//! `ecole-bench`: drives the parts of `make bench` that need the project's own code.
//!
//! `ecole-bench jobs`: enqueues no-op `core.debug` jobs through the outbox (workers must be
//! running) and reports throughput from commit to `SUCCES` and pickup latency (commit →
//! start) as a Markdown table.
//!
//! `ecole-bench notifications`: N absent pupils, the 17:00 round-up, and the time until
//! every SMS and e-mail reached local fake servers, with real worker processes.
//!
//! `ecole-bench finances`: invoice generation with PDFs, concurrent payments and payment
//! reminders against a running API and workers.
//!
//! `ecole-bench bibliotheque`: a catalogue of 20,000 books (set-based) and the wrk script of
//! the catalogue searches.
//!
//! `ecole-bench rapport`: `bench/REPORT.md` from the figures every section appended to
//! `BENCH_FIGURES`, beside their targets and the run's `pgbench -S` ceiling.
//!
//! `ecole-bench soak`: endurance (`make soak`): the real binaries under a mixed load for N
//! minutes, RSS, Redis memory and latency sampled per window, a pass/fail verdict.

mod bibliotheque;
mod figures;
mod finances;
mod notifications;
mod soak;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use diesel::QueryableByName;
use diesel::sql_types::{Double, Nullable};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_jobs::{NewJob, enqueue, enqueue_many};

mod bulletins;

#[derive(Parser)]
#[command(
    name = "ecole-bench",
    about = "Mesures de performance d'École (appelé par make bench)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Débit et latence de prise en charge des jobs (les workers doivent tourner).
    Jobs {
        #[arg(long, default_value_t = 10_000)]
        total: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Jobs envoyés un par transaction, à cadence fixe, pour la latence.
        #[arg(long, default_value_t = 2_000)]
        paced: usize,
        /// Cadence (jobs/s) de la phase de latence.
        #[arg(long, default_value_t = 200)]
        rate: u64,
    },
    /// Bulletins d'une période pour toute l'école : `--phase calcul` (sans worker) puis
    /// `--phase pdf` (2 workers).
    Bulletins {
        #[arg(long, default_value = "calcul")]
        phase: String,
        #[arg(long, default_value = "TRIMESTRE_1")]
        periode: String,
        #[arg(long, default_value_t = 5)]
        tours: usize,
    },
    /// Absences du jour : N notifications (e-mail + SMS) jusqu'aux faux serveurs locaux.
    Notifications {
        /// Élèves absents (un parent chacun, donc autant de notifications).
        #[arg(long, default_value_t = 3_000)]
        total: usize,
        /// Processus ecole-worker lancés.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// WORKER_CONCURRENCY de chaque worker.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Limite de débit vers le fournisseur SMS (SMS_MAX_PAR_SECONDE, 0 : aucune).
        #[arg(long, default_value_t = 1_000)]
        rate_limit: u32,
        /// Chemin du binaire ecole-worker.
        #[arg(long, default_value = "target/release/ecole-worker")]
        worker_bin: String,
    },
    /// Finances : génération des factures (PDF compris), paiements simultanés, rappels
    /// (l'API et les workers doivent tourner sur une base créée par `ecole seed`).
    Finances {
        /// URL de l'API (`http://127.0.0.1:8000`).
        #[arg(long)]
        api: String,
        /// Jeton d'accès d'un compte ADMIN ou COMPTABLE.
        #[arg(long, env = "BENCH_TOKEN")]
        token: String,
        /// Paiements envoyés en même temps.
        #[arg(long, default_value_t = 200)]
        paiements: usize,
        /// Factures sur lesquelles ils se répartissent.
        #[arg(long, default_value_t = 50)]
        factures: usize,
    },
    /// Bibliothèque : un catalogue de N livres (exemplaires, emprunts) dans une base migrée
    /// au catalogue vide, et le script wrk des recherches `livres/?search=`.
    Bibliotheque {
        #[arg(long, default_value_t = 20_000)]
        livres: usize,
        /// Script Lua écrit pour wrk.
        #[arg(long)]
        lua: std::path::PathBuf,
    },
    /// Rapport de performance (bench/REPORT.md) à partir des mesures d'un passage.
    Rapport {
        /// Fichier des mesures (BENCH_FIGURES).
        #[arg(long)]
        figures: std::path::PathBuf,
        /// Rapport écrit.
        #[arg(long, default_value = "bench/REPORT.md")]
        sortie: std::path::PathBuf,
        /// pgbench -S au début du passage : transactions par seconde.
        #[arg(long)]
        pgbench_tps: f64,
        /// … et latence moyenne (ms).
        #[arg(long)]
        pgbench_latence: f64,
        /// pgbench -S à la fin du passage (TPS), s'il a été mesuré.
        #[arg(long)]
        pgbench_tps_fin: Option<f64>,
        #[arg(long)]
        pgbench_latence_fin: Option<f64>,
        /// Lignes d'en-tête (machine, charge, commit…), dans l'ordre.
        #[arg(long)]
        entete: Vec<String>,
        /// Comptes rendus détaillés des sections (bench/out/*.md), recopiés en annexe.
        #[arg(long)]
        annexe: Vec<std::path::PathBuf>,
    },
    /// Endurance : 2 API, 2 workers et un planificateur sous charge mixte (80 % lectures,
    /// 20 % écritures qui créent des jobs) ; verdict réussi/échoué (code de sortie 1).
    Soak {
        /// Durée en minutes.
        #[arg(long, env = "SOAK_MINUTES", default_value_t = 30.0)]
        minutes: f64,
        /// Durée d'une fenêtre de mesure, en secondes.
        #[arg(long, env = "SOAK_WINDOW_SECONDS", default_value_t = 30)]
        fenetre: u64,
        /// Requêtes par seconde (tous les clients ensemble).
        #[arg(long, env = "SOAK_RATE", default_value_t = 50.0)]
        rate: f64,
        /// Clients simultanés.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Dossier des binaires (ecole-api, ecole-worker, ecole-beat).
        #[arg(long, default_value = "target/release")]
        bin_dir: String,
        /// Compte ADMIN utilisé par la charge.
        #[arg(long, env = "SOAK_USERNAME", default_value = "soak")]
        username: String,
        #[arg(long, env = "SOAK_PASSWORD")]
        password: String,
    },
}

/// The report's sections, in `make bench` order, with the issue each one measures.
const SECTIONS: &[(&str, &str)] = &[
    ("users", "#2 Fondation : API et utilisateurs"),
    ("jobs", "#3 Jobs"),
    ("pedagogie", "#4 Pédagogie : listes et saisie des notes"),
    ("bulletins", "#5 Bulletins"),
    ("communication", "#7 Communication"),
    ("finances", "#6 Finances"),
    ("bibliotheque", "#8 Bibliothèque"),
    (
        "exploitation",
        "#9 Exploitation : sauvegarde et restauration",
    ),
];

#[derive(QueryableByName, Debug)]
struct Stats {
    #[diesel(sql_type = Nullable<Double>)]
    done: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    span_s: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p50_ms: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p99_ms: Option<f64>,
}

async fn stats(conn: &mut AsyncPgConnection, from_id: i64) -> anyhow::Result<Stats> {
    Ok(diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'SUCCES')::float8 AS done,
                extract(epoch FROM max(finished_at) - min(created_at))::float8 AS span_s,
                (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000)::float8 AS p50_ms,
                (percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000)::float8 AS p99_ms
         FROM jobs WHERE id > $1 AND name = 'core.debug'",
    )
    .bind::<diesel::sql_types::BigInt, _>(from_id)
    .get_result(conn)
    .await?)
}

async fn last_id(conn: &mut AsyncPgConnection) -> anyhow::Result<i64> {
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let m: Max = diesel::sql_query("SELECT coalesce(max(id), 0) AS id FROM jobs")
        .get_result(conn)
        .await?;
    Ok(m.id)
}

async fn wait_done(
    conn: &mut AsyncPgConnection,
    from_id: i64,
    expected: usize,
) -> anyhow::Result<Stats> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let s = stats(conn, from_id).await?;
        if s.done.unwrap_or(0.0) as usize >= expected {
            return Ok(s);
        }
        if Instant::now() > deadline {
            bail!("délai dépassé : {:?} / {expected}", s.done);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn job() -> anyhow::Result<NewJob> {
    Ok(NewJob::of(&ecole_jobs::payloads::Debug::default())?)
}

async fn jobs_bench(
    url: &str,
    total: usize,
    batch: usize,
    paced: usize,
    rate: u64,
) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;

    // Throughput: everything at once, in batches through the outbox.
    let start_id = last_id(&mut conn).await?;
    let started = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(batch);
        let rows = (0..n).map(|_| job()).collect::<anyhow::Result<Vec<_>>>()?;
        enqueue_many(&mut conn, &rows).await?;
        left -= n;
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    let s = wait_done(&mut conn, start_id, total).await?;
    let span = s.span_s.unwrap_or(f64::NAN);
    let throughput = total as f64 / span;

    // Latency: one job per transaction at a steady rate.
    let start_id = last_id(&mut conn).await?;
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tick = tokio::time::interval(period);
    for _ in 0..paced {
        tick.tick().await;
        enqueue(&mut conn, job()?).await?;
    }
    let l = wait_done(&mut conn, start_id, paced).await?;

    use figures::{Cible, figure};
    figure(
        "jobs",
        &format!("{total} jobs vides : insertion dans l'outbox (lots de {batch})"),
        enqueue_s,
        "s",
        Cible::Aucune,
    );
    figure(
        "jobs",
        &format!("{total} jobs vides : débit, validation → SUCCES"),
        throughput,
        "jobs/s",
        Cible::AuMoins(2000.0),
    );
    figure(
        "jobs",
        &format!("{paced} jobs à {rate}/s : prise en charge p50 (validation → début)"),
        l.p50_ms.unwrap_or(f64::NAN),
        "ms",
        Cible::Moins(20.0),
    );
    figure(
        "jobs",
        &format!("{paced} jobs à {rate}/s : prise en charge p99"),
        l.p99_ms.unwrap_or(f64::NAN),
        "ms",
        Cible::Moins(100.0),
    );
    println!("| jobs | mesure | valeur | objectif |");
    println!("|---|---|---|---|");
    println!(
        "| {total} jobs vides (lots de {batch}) | insertion dans l'outbox | {enqueue_s:.2} s | |"
    );
    println!(
        "| {total} jobs vides | débit, validation → SUCCES | {throughput:.0} jobs/s ({span:.2} s) | ≥ 2 000 jobs/s |"
    );
    println!(
        "| {paced} jobs à {rate}/s | prise en charge p50 (validation → début) | {:.1} ms | < 20 ms |",
        l.p50_ms.unwrap_or(f64::NAN)
    );
    println!(
        "| {paced} jobs à {rate}/s | prise en charge p99 | {:.1} ms | < 100 ms |",
        l.p99_ms.unwrap_or(f64::NAN)
    );
    println!(
        "| {total} jobs vides (file pleine) | prise en charge p50 / p99 | {:.0} / {:.0} ms | (file d'attente) |",
        s.p50_ms.unwrap_or(f64::NAN),
        s.p99_ms.unwrap_or(f64::NAN)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Rapport {
        figures,
        sortie,
        pgbench_tps,
        pgbench_latence,
        pgbench_tps_fin,
        pgbench_latence_fin,
        entete,
        annexe,
    } = &cli.command
    {
        let ctx = figures::Contexte {
            titre_sections: SECTIONS
                .iter()
                .map(|(k, t)| (k.to_string(), t.to_string()))
                .collect(),
            entete: entete.clone(),
            debut: figures::Plafond {
                tps: *pgbench_tps,
                latence_ms: *pgbench_latence,
            },
            fin: pgbench_tps_fin.map(|tps| figures::Plafond {
                tps,
                latence_ms: pgbench_latence_fin.unwrap_or(f64::NAN),
            }),
        };
        let mut report = figures::rapport(figures, &ctx)?;
        if !annexe.is_empty() {
            report.push_str("## Annexe : comptes rendus des sections\n\n");
            for path in annexe {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("lecture de {}", path.display()))?;
                // Each section's own title one level down.
                for line in text.lines() {
                    if line.starts_with('#') {
                        report.push_str("##");
                    }
                    report.push_str(line);
                    report.push('\n');
                }
                report.push('\n');
            }
        }
        std::fs::write(sortie, report)
            .with_context(|| format!("écriture de {}", sortie.display()))?;
        println!("rapport écrit : {}", sortie.display());
        return Ok(());
    }
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL")?;
    match cli.command {
        Command::Jobs {
            total,
            batch,
            paced,
            rate,
        } => jobs_bench(&url, total, batch, paced, rate).await,
        Command::Bulletins {
            phase,
            periode,
            tours,
        } => {
            let periode: ecole_db::enums::CodePeriode = periode
                .parse()
                .map_err(|_| anyhow::anyhow!("période inconnue : {periode}"))?;
            match phase.as_str() {
                "calcul" => bulletins::calcul(&url, periode, tours).await,
                "pdf" => {
                    let media = std::env::var("MEDIA_ROOT").unwrap_or_else(|_| "var/media".into());
                    bulletins::pdf(&url, periode, std::path::Path::new(&media)).await
                }
                other => bail!("phase inconnue : {other} (calcul, pdf)"),
            }
        }
        Command::Notifications {
            total,
            workers,
            concurrency,
            rate_limit,
            worker_bin,
        } => {
            notifications::run(
                &url,
                notifications::Options {
                    total,
                    workers,
                    concurrency,
                    rate_limit,
                    worker_bin,
                },
            )
            .await
        }
        Command::Soak {
            minutes,
            fenetre,
            rate,
            clients,
            bin_dir,
            username,
            password,
        } => {
            let ok = soak::run(
                &url,
                soak::Options {
                    minutes,
                    window: std::time::Duration::from_secs(fenetre.max(1)),
                    rate,
                    clients: clients.max(1),
                    bin_dir: bin_dir.into(),
                    username,
                    password,
                },
            )
            .await?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Finances {
            api,
            token,
            paiements,
            factures,
        } => {
            finances::run(
                &url,
                finances::Options {
                    api: api.trim_end_matches('/').to_string(),
                    token,
                    payments: paiements,
                    invoices: factures.max(1),
                },
            )
            .await
        }
        Command::Bibliotheque { livres, lua } => bibliotheque::run(&url, livres, &lua).await,
        Command::Rapport { .. } => Ok(()),
    }
}
