//! `ecole-bench notifications`: a school day with N absent pupils (each with a parent of
//! their own), the 17:00 round-up job, and the time until every SMS reached a fake Orange
//! API and every e-mail an SMTP listener (both started here, on loopback), with real
//! `ecole-worker` processes.

use crate::figures::{Cible, figure};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::enums::StatutEnvoi;
use ecole_db::schema::{
    annees_scolaires, classes, eleve_parents, eleves, notifications, parents, presences, users,
};
use ecole_jobs::payloads::NotifierAbsencesQuotidiennes;
use ecole_jobs::{NewJob, enqueue};
use ecole_test_support::orange::{self, FakeOrange};
use ecole_test_support::smtp::SmtpSink;

pub struct Options {
    pub total: usize,
    pub workers: usize,
    pub concurrency: usize,
    pub rate_limit: u32,
    pub worker_bin: String,
}

const BATCH: usize = 1_000;
const PER_CLASS: usize = 50;

/// Users ids created for `names`, in order.
async fn insert_users(
    conn: &mut AsyncPgConnection,
    role: &str,
    from: usize,
    to: usize,
) -> anyhow::Result<Vec<i64>> {
    let rows: Vec<_> = (from..to)
        .map(|i| {
            (
                users::username.eq(format!("bench_{}_{i}", role.to_lowercase())),
                users::email.eq(format!("bench.{}.{i}@ecole.test", role.to_lowercase())),
                users::password_hash.eq("!"),
                users::first_name.eq(if role == "ELEVE" {
                    "Fatoumata Binta"
                } else {
                    "Mamadou Saliou"
                }),
                users::last_name.eq(format!("Diallo{i}")),
                users::role.eq(role),
                users::telephone
                    .eq((role == "PARENT").then(|| format!("+2246{:08}", 20_000_000 + i))),
            )
        })
        .collect();
    Ok(diesel::insert_into(users::table)
        .values(&rows)
        .returning(users::id)
        .get_results(conn)
        .await?)
}

/// N pupils in classes of 50, each with a parent of their own, all absent today.
async fn seed(conn: &mut AsyncPgConnection, total: usize) -> anyhow::Result<()> {
    let today = ecole_core::time::today();
    let annee: i64 = diesel::insert_into(annees_scolaires::table)
        .values((
            annees_scolaires::nom.eq("2090-2091"),
            annees_scolaires::date_debut.eq(today - chrono::Duration::days(60)),
            annees_scolaires::date_fin.eq(today + chrono::Duration::days(200)),
        ))
        .returning(annees_scolaires::id)
        .get_result(conn)
        .await?;
    let class_rows: Vec<_> = (0..total.div_ceil(PER_CLASS))
        .map(|c| {
            (
                classes::niveau.eq("DIXIEME"),
                classes::nom.eq(format!("10ème Bench {c}")),
                classes::annee_scolaire_id.eq(annee),
                classes::capacite.eq(PER_CLASS as i32),
            )
        })
        .collect();
    let class_ids: Vec<i64> = diesel::insert_into(classes::table)
        .values(&class_rows)
        .returning(classes::id)
        .get_results(conn)
        .await?;
    for start in (0..total).step_by(BATCH) {
        let end = (start + BATCH).min(total);
        let pupils = insert_users(conn, "ELEVE", start, end).await?;
        let parent_users = insert_users(conn, "PARENT", start, end).await?;
        let eleve_rows: Vec<_> = pupils
            .iter()
            .enumerate()
            .map(|(k, user)| {
                let i = start + k;
                (
                    eleves::user_id.eq(*user),
                    eleves::matricule.eq(format!("B/{i:06}")),
                    eleves::classe_actuelle_id.eq(class_ids.get(i / PER_CLASS).copied()),
                    eleves::sexe.eq(if i % 2 == 0 { "F" } else { "M" }),
                )
            })
            .collect();
        let eleve_ids: Vec<i64> = diesel::insert_into(eleves::table)
            .values(&eleve_rows)
            .returning(eleves::id)
            .get_results(conn)
            .await?;
        let parent_rows: Vec<_> = parent_users
            .iter()
            .map(|u| parents::user_id.eq(*u))
            .collect();
        let parent_ids: Vec<i64> = diesel::insert_into(parents::table)
            .values(&parent_rows)
            .returning(parents::id)
            .get_results(conn)
            .await?;
        let links: Vec<_> = eleve_ids
            .iter()
            .zip(&parent_ids)
            .map(|(e, p)| {
                (
                    eleve_parents::eleve_id.eq(*e),
                    eleve_parents::parent_id.eq(*p),
                    eleve_parents::lien.eq("MERE"),
                )
            })
            .collect();
        diesel::insert_into(eleve_parents::table)
            .values(&links)
            .execute(conn)
            .await?;
        let absences: Vec<_> = eleve_ids
            .iter()
            .enumerate()
            .map(|(k, e)| {
                (
                    presences::eleve_id.eq(*e),
                    presences::classe_id.eq(class_ids[(start + k) / PER_CLASS]),
                    presences::date.eq(today),
                    presences::statut.eq("ABSENT"),
                )
            })
            .collect();
        diesel::insert_into(presences::table)
            .values(&absences)
            .execute(conn)
            .await?;
    }
    diesel::sql_query("ANALYZE").execute(conn).await?;
    Ok(())
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn count_sent(conn: &mut AsyncPgConnection) -> anyhow::Result<(i64, i64)> {
    let email: i64 = notifications::table
        .filter(notifications::email_statut.eq(StatutEnvoi::Envoye))
        .count()
        .get_result(conn)
        .await?;
    let sms: i64 = notifications::table
        .filter(notifications::sms_statut.eq(StatutEnvoi::Envoye))
        .count()
        .get_result(conn)
        .await?;
    Ok((email, sms))
}

pub async fn run(url: &str, o: Options) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;
    let seeding = Instant::now();
    seed(&mut conn, o.total).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let sink = SmtpSink::start().await;
    let fake = FakeOrange::start().await;
    let prefix = format!("bench_comm_{}", std::process::id());
    let mut children = Vec::new();
    for _ in 0..o.workers {
        let child = tokio::process::Command::new(&o.worker_bin)
            .env("DATABASE_URL", url)
            .env("REDIS_PREFIX", &prefix)
            .env("WORKER_CONCURRENCY", o.concurrency.to_string())
            .env("SMTP_URL", sink.url())
            .env(
                "DEFAULT_FROM_EMAIL",
                "École Bench <ne-pas-repondre@bench.gn>",
            )
            .env("SMS_PROVIDER", "orange")
            .env("ORANGE_CLIENT_ID", orange::CLIENT_ID)
            .env("ORANGE_CLIENT_SECRET", orange::CLIENT_SECRET)
            .env("ORANGE_SENDER", orange::SENDER)
            .env("ORANGE_API_BASE", &fake.base_url)
            .env("SMS_MAX_PAR_SECONDE", o.rate_limit.to_string())
            .env("SMS_SILENCE_DEBUT", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("lancement de {}", o.worker_bin))?;
        children.push(child);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let started = Instant::now();
    enqueue(&mut conn, NewJob::of(&NotifierAbsencesQuotidiennes {})?).await?;
    let deadline = Duration::from_secs(600);
    let mut sms_done = None;
    let mut email_done = None;
    while sms_done.is_none() || email_done.is_none() {
        if started.elapsed() > deadline {
            bail!(
                "délai dépassé : {} SMS et {} e-mails sur {}",
                fake.sms_accepted(),
                sink.count(),
                o.total
            );
        }
        if sms_done.is_none() && fake.sms_accepted() >= o.total {
            sms_done = Some(started.elapsed().as_secs_f64());
        }
        if email_done.is_none() && sink.count() >= o.total {
            email_done = Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_s = sms_done
        .unwrap_or_default()
        .max(email_done.unwrap_or_default());
    let rss: Vec<u64> = children.iter().filter_map(|c| c.id()).map(rss_kb).collect();
    // Let the last outcomes be recorded, then check nothing went out twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (email_rows, sms_rows) = count_sent(&mut conn).await?;
    let sms_total = fake.sms_accepted();
    let email_total = sink.count();
    let token_requests = fake.token_requests();
    for child in &children {
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    for mut child in children {
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
    let messages = 2 * o.total;
    figure(
        "communication",
        &format!(
            "{} SMS reçus par le faux service Orange (après la demande du job)",
            o.total
        ),
        sms_done.unwrap_or(f64::NAN),
        "s",
        Cible::Aucune,
    );
    figure(
        "communication",
        &format!(
            "{} e-mails reçus par le serveur SMTP local (après la demande du job)",
            o.total
        ),
        email_done.unwrap_or(f64::NAN),
        "s",
        Cible::Aucune,
    );
    figure(
        "communication",
        &format!("débit, {messages} messages (job de 17:00 → dernier message reçu)"),
        messages as f64 / all_s,
        "messages/s",
        Cible::AuMoins(300.0),
    );
    figure(
        "communication",
        "messages en double ou manquants",
        (sms_total.abs_diff(o.total) + email_total.abs_diff(o.total)) as f64,
        "",
        Cible::AuPlus(0.0),
    );
    println!("| mesure | valeur | objectif |");
    println!("|---|---|---|");
    println!(
        "| données : {} élèves absents, un parent chacun (e-mail + téléphone) | créées en {seed_s:.1} s | |",
        o.total
    );
    println!(
        "| {} SMS reçus par le faux service Orange | {:.2} s après la demande du job | |",
        o.total,
        sms_done.unwrap_or_default()
    );
    println!(
        "| {} e-mails reçus par le serveur SMTP local | {:.2} s après la demande du job | |",
        o.total,
        email_done.unwrap_or_default()
    );
    println!(
        "| débit, {messages} messages (job de 17:00 → dernier message reçu) | **{:.0} messages/s** ({all_s:.2} s) | ≥ 300 messages/s |",
        messages as f64 / all_s
    );
    println!(
        "| doublons | {} SMS et {} e-mails reçus pour {} notifications ; {sms_rows} SMS et {email_rows} e-mails ENVOYE en base | 0 |",
        sms_total, email_total, o.total
    );
    println!(
        "| jetons OAuth demandés | {token_requests} ({} workers) | 1 par worker |",
        o.workers
    );
    println!(
        "| RSS maximale des workers | {} | |",
        rss.iter()
            .map(|k| format!("{} Mo", k / 1024))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if sms_total != o.total || email_total != o.total {
        bail!("messages en double ou manquants");
    }
    Ok(())
}
