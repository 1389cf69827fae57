//! `ecole-bench finances`: the till under load, against a running API and workers (started by
//! `scripts/bench.sh` on a seeded database):
//!
//! 1. `factures/generer/` for every level of the active year (one fee each): wall time from
//!    the first request until every invoice's PDF is stored.
//! 2. N concurrent payment requests spread over M issued invoices, four per invoice, each of
//!    400 000 GNF on a 1 500 000 GNF invoice (so the fourth must be refused): requests/s,
//!    p50/p99, and the check that no invoice is overpaid.
//! 3. A second fee billed (so that every pupil has two invoices), every unpaid invoice made
//!    overdue, then `finances.envoyer_rappels_paiement`: time until every notification exists.

use crate::figures::{Cible, figure};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::enums::{Niveau, StatutEleve, StatutFacture};
use ecole_db::schema::{
    annees_scolaires, classes, eleves, factures, frais_scolarite, jobs, paiements,
};
use ecole_jobs::model::JobStatus;
use ecole_jobs::payloads::EnvoyerRappelsPaiement;
use ecole_jobs::{NewJob, enqueue};
use serde_json::{Value, json};

pub struct Options {
    pub api: String,
    pub token: String,
    pub payments: usize,
    pub invoices: usize,
}

const MONTANT_FACTURE: i64 = 1_500_000;
const MONTANT_PAIEMENT: i64 = 400_000;

/// Active year and the levels of its classes.
async fn annee_et_niveaux(conn: &mut AsyncPgConnection) -> anyhow::Result<(i64, Vec<Niveau>)> {
    let annee: i64 = annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .context("aucune année active : lancez `ecole seed` d'abord")?;
    let mut niveaux: Vec<Niveau> = classes::table
        .filter(classes::annee_scolaire_id.eq(annee))
        .select(classes::niveau)
        .distinct()
        .load(conn)
        .await?;
    niveaux.sort();
    Ok((annee, niveaux))
}

async fn frais(
    conn: &mut AsyncPgConnection,
    annee: i64,
    niveaux: &[Niveau],
    libelle: &str,
    montant: i64,
) -> anyhow::Result<()> {
    let rows: Vec<_> = niveaux
        .iter()
        .map(|n| {
            (
                frais_scolarite::annee_scolaire_id.eq(annee),
                frais_scolarite::niveau.eq(*n),
                frais_scolarite::libelle.eq(libelle),
                frais_scolarite::montant.eq(montant),
            )
        })
        .collect();
    diesel::insert_into(frais_scolarite::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

async fn post(
    client: &reqwest::Client,
    o: &Options,
    path: &str,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let res = client
        .post(format!("{}{path}", o.api))
        .bearer_auth(&o.token)
        .json(body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// Asks for the invoices of every level, waits until every invoice has its PDF; returns the
/// wall time and the number of invoices.
async fn generer(
    conn: &mut AsyncPgConnection,
    client: &reqwest::Client,
    o: &Options,
    annee: i64,
    niveaux: &[Niveau],
) -> anyhow::Result<(Duration, i64)> {
    let before: i64 = factures::table.count().get_result(conn).await?;
    let pupils: i64 = eleves::table
        .inner_join(classes::table)
        .filter(classes::annee_scolaire_id.eq(annee))
        .filter(eleves::statut.eq(StatutEleve::Actif))
        .count()
        .get_result(conn)
        .await?;
    let started = Instant::now();
    let mut job_ids = Vec::new();
    for n in niveaux {
        let (s, body) = post(
            client,
            o,
            "/api/v1/factures/generer/",
            &json!({"annee_scolaire": annee, "niveau": n}),
        )
        .await?;
        if s != 202 {
            bail!("factures/generer/ {n} : {s} {body}");
        }
        job_ids.push(
            body["job_id"]
                .as_str()
                .and_then(|j| j.parse::<i64>().ok())
                .context("job_id")?,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let failed: i64 = jobs::table
            .filter(jobs::id.eq_any(&job_ids))
            .filter(jobs::status.eq(JobStatus::Echec))
            .count()
            .get_result(conn)
            .await?;
        if failed > 0 {
            bail!("génération des factures en échec");
        }
        let done: i64 = jobs::table
            .filter(jobs::id.eq_any(&job_ids))
            .filter(jobs::status.eq(JobStatus::Succes))
            .count()
            .get_result(conn)
            .await?;
        let with_pdf: i64 = factures::table
            .filter(factures::fichier_pdf.is_not_null())
            .count()
            .get_result(conn)
            .await?;
        let total: i64 = factures::table.count().get_result(conn).await?;
        if done == job_ids.len() as i64 && total - before >= pupils && with_pdf == total {
            return Ok((started.elapsed(), total - before));
        }
        if Instant::now() > deadline {
            bail!("délai dépassé : {with_pdf} PDF sur {total} factures");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

struct Payments {
    wall: Duration,
    p50_ms: f64,
    p99_ms: f64,
    accepted: usize,
    refused: usize,
    other: usize,
    overpaid: i64,
    mismatched: i64,
}

/// `payments` requests at once, request i on invoice i mod `invoices`.
async fn payer(conn: &mut AsyncPgConnection, o: &Options) -> anyhow::Result<Payments> {
    let ids: Vec<i64> = factures::table
        .filter(factures::statut.eq(StatutFacture::Emise))
        .filter(factures::montant_total.eq(MONTANT_FACTURE))
        .select(factures::id)
        .order(factures::id)
        .limit(o.invoices as i64)
        .load(conn)
        .await?;
    if ids.len() < o.invoices {
        bail!("{} factures émises seulement", ids.len());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.payments)
        .build()?;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(o.payments + 1));
    let tasks: Vec<_> = (0..o.payments)
        .map(|i| {
            let client = client.clone();
            let url = format!("{}/api/v1/factures/{}/paiements/", o.api, ids[i % ids.len()]);
            let token = o.token.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let t = Instant::now();
                let status = client
                    .post(url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", format!("bench-{i}"))
                    .json(&json!({"montant": MONTANT_PAIEMENT, "mode": "ORANGE_MONEY", "reference": format!("OM-BENCH-{i}")}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (status, t.elapsed())
            })
        })
        .collect();
    barrier.wait().await;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(o.payments);
    let (mut accepted, mut refused, mut other) = (0, 0, 0);
    for t in tasks {
        let (status, latency) = t.await?;
        match status {
            201 => accepted += 1,
            400 => refused += 1,
            _ => other += 1,
        }
        latencies.push(latency);
    }
    let wall = started.elapsed();
    latencies.sort();
    let overpaid: i64 = factures::table
        .filter(factures::id.eq_any(&ids))
        .filter(factures::montant_paye.gt(factures::montant_total))
        .count()
        .get_result(conn)
        .await?;
    // Every invoice's montant_paye is the sum of its payments.
    let paid: Vec<(i64, i64)> = factures::table
        .filter(factures::id.eq_any(&ids))
        .select((factures::id, factures::montant_paye))
        .load(conn)
        .await?;
    let sums: Vec<(i64, i64)> = paiements::table
        .filter(paiements::facture_id.eq_any(&ids))
        .select((paiements::facture_id, paiements::montant))
        .load(conn)
        .await?;
    let mismatched = paid
        .iter()
        .filter(|(id, paye)| {
            sums.iter()
                .filter(|(f, _)| f == id)
                .map(|(_, m)| m)
                .sum::<i64>()
                != *paye
        })
        .count() as i64;
    Ok(Payments {
        wall,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        accepted,
        refused,
        other,
        overpaid,
        mismatched,
    })
}

/// Makes every unpaid invoice overdue, runs the reminders job through the workers; returns
/// (invoices overdue, job result, run time, enqueue → finished).
async fn rappels(conn: &mut AsyncPgConnection) -> anyhow::Result<(usize, Value, f64, f64)> {
    let overdue = diesel::update(factures::table.filter(
        factures::statut.eq_any([StatutFacture::Emise, StatutFacture::PartiellementPayee]),
    ))
    .set((
        factures::date_echeance.eq(ecole_core::time::today() - chrono::Days::new(10)),
        factures::dernier_rappel_le.eq(None::<chrono::DateTime<chrono::Utc>>),
    ))
    .execute(conn)
    .await?;
    let id = enqueue(conn, NewJob::of(&EnvoyerRappelsPaiement {})?).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        type Row = (
            JobStatus,
            Option<Value>,
            chrono::DateTime<chrono::Utc>,
            Option<chrono::DateTime<chrono::Utc>>,
            Option<chrono::DateTime<chrono::Utc>>,
        );
        let (status, result, created, started, finished): Row = jobs::table
            .find(id)
            .select((
                jobs::status,
                jobs::result,
                jobs::created_at,
                jobs::started_at,
                jobs::finished_at,
            ))
            .first(conn)
            .await?;
        match (status, started, finished) {
            (JobStatus::Succes, Some(s), Some(f)) => {
                let run = (f - s).as_seconds_f64();
                let total = (f - created).as_seconds_f64();
                return Ok((overdue, result.unwrap_or(Value::Null), run, total));
            }
            (JobStatus::Echec, _, _) => bail!("rappels en échec"),
            _ => {}
        }
        if Instant::now() > deadline {
            bail!("délai dépassé pour les rappels");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(url: &str, o: Options) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;
    let client = reqwest::Client::new();
    let (annee, niveaux) = annee_et_niveaux(&mut conn).await?;
    frais(
        &mut conn,
        annee,
        &niveaux,
        "Frais de scolarité",
        MONTANT_FACTURE,
    )
    .await?;
    let (generation, invoices) = generer(&mut conn, &client, &o, annee, &niveaux).await?;
    let p = payer(&mut conn, &o).await?;
    frais(&mut conn, annee, &niveaux, "Frais d'inscription", 300_000).await?;
    let (generation2, invoices2) = generer(&mut conn, &client, &o, annee, &niveaux).await?;
    let (overdue, result, run, total) = rappels(&mut conn).await?;

    figure(
        "finances",
        &format!(
            "`factures/generer/` ({} niveaux) : {invoices} factures émises, PDF compris",
            niveaux.len()
        ),
        generation.as_secs_f64(),
        "s",
        Cible::Moins(10.0),
    );
    figure(
        "finances",
        &format!(
            "seconde génération (2ᵉ frais, pendant les SMS des paiements) : {invoices2} factures, PDF compris"
        ),
        generation2.as_secs_f64(),
        "s",
        Cible::Aucune,
    );
    figure(
        "finances",
        &format!(
            "{} paiements simultanés sur {} factures : débit",
            o.payments, o.invoices
        ),
        o.payments as f64 / p.wall.as_secs_f64(),
        "req/s",
        Cible::Aucune,
    );
    figure(
        "finances",
        "paiements simultanés : p99",
        p.p99_ms,
        "ms",
        Cible::Aucune,
    );
    figure(
        "finances",
        "factures payées au-delà du total, ou `montant_paye` ≠ somme des paiements",
        (p.overpaid + p.mismatched) as f64,
        "",
        Cible::AuPlus(0.0),
    );
    figure(
        "finances",
        &format!("rappels : {overdue} factures en retard → notifications (exécution du job)"),
        run,
        "s",
        Cible::Moins(2.0),
    );
    println!("| mesure | valeur | objectif |");
    println!("|---|---|---|");
    println!(
        "| `factures/generer/` ({} niveaux) : {invoices} factures émises, PDF compris | {:.2} s ({:.0} factures/s) | < 10 s |",
        niveaux.len(),
        generation.as_secs_f64(),
        invoices as f64 / generation.as_secs_f64()
    );
    println!(
        "| seconde génération (2ᵉ frais) : {invoices2} factures, PDF compris | {:.2} s | |",
        generation2.as_secs_f64()
    );
    println!(
        "| {} paiements simultanés sur {} factures | {:.0} req/s ({:.2} s) ; p50 {:.1} ms ; p99 {:.1} ms | |",
        o.payments,
        o.invoices,
        o.payments as f64 / p.wall.as_secs_f64(),
        p.wall.as_secs_f64(),
        p.p50_ms,
        p.p99_ms
    );
    println!(
        "| … réponses | {} acceptés (201), {} refusés (400), {} autres | {} et {} |",
        p.accepted,
        p.refused,
        p.other,
        o.invoices * 3,
        o.payments.saturating_sub(o.invoices * 3)
    );
    println!(
        "| … factures payées au-delà du total ; `montant_paye` ≠ somme des paiements | {} ; {} | 0 ; 0 |",
        p.overpaid, p.mismatched
    );
    println!(
        "| rappels : {overdue} factures en retard → {} notifications | {:.2} s d'exécution ({:.2} s depuis la demande) | < 2 s |",
        result["notifications"], run, total
    );
    if p.overpaid > 0 || p.mismatched > 0 || p.other > 0 {
        bail!("incohérence des paiements");
    }
    Ok(())
}
