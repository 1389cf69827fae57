//! `ecole-bench bulletins`: a whole school's report cards for one period.
//!
//! `--phase calcul` (no worker running): computing every class in memory, then computing and
//! storing them (bulletins, lines, PDF jobs), each timed over all classes; the PDF jobs it
//! asked for are then withdrawn. `--phase pdf` (2 workers running): the generation job for
//! the whole year, then one PDF job per bulletin; wall time until every PDF is stored,
//! PDFs per second, bytes per PDF.

use crate::figures::{Cible, figure};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::enums::CodePeriode;
use ecole_db::schema::{annees_scolaires, bulletins, classes, jobs};
use ecole_jobs::payloads::{GenererBulletinPdf, GenererBulletinsPeriode, JobPayload};
use ecole_jobs::{NewJob, enqueue};
use ecole_pedagogie::bulletins::{generation, travaux};

async fn school(conn: &mut AsyncPgConnection) -> anyhow::Result<(i64, Vec<i64>)> {
    let annee: i64 = annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .context("année active")?;
    let ids: Vec<i64> = classes::table
        .filter(classes::annee_scolaire_id.eq(annee))
        .select(classes::id)
        .order(classes::id)
        .load(conn)
        .await?;
    Ok((annee, ids))
}

pub async fn calcul(url: &str, periode: CodePeriode, rounds: usize) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;
    let (_, classes) = school(&mut conn).await?;
    let mut compute = Vec::new();
    let mut store = Vec::new();
    let mut pupils = 0;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        pupils = 0;
        let c = generation::calculer(&mut conn, &classes, periode).await?;
        pupils += c
            .classes
            .iter()
            .map(|c| c.result.bulletins.len())
            .sum::<usize>();
        compute.push(started.elapsed());
        // As the generation job does it: batches of classes, one transaction each.
        let started = Instant::now();
        for lot in classes.chunks(travaux::CLASSES_PAR_LOT) {
            generation::generer(&mut conn, lot, periode, true).await?;
        }
        store.push(started.elapsed());
    }
    // The PDF jobs asked for here are not part of this phase.
    diesel::delete(
        jobs::table
            .filter(jobs::name.eq(GenererBulletinPdf::NAME))
            .filter(jobs::status.eq("EN_ATTENTE")),
    )
    .execute(&mut conn)
    .await?;
    compute.sort();
    store.sort();
    let median = |v: &[Duration]| v[v.len() / 2].as_secs_f64() * 1000.0;
    figure(
        "bulletins",
        &format!(
            "{pupils} élèves, {} classes : calcul de tous les bulletins (médiane de {})",
            classes.len(),
            compute.len()
        ),
        median(&compute),
        "ms",
        Cible::Moins(50.0),
    );
    figure(
        "bulletins",
        &format!(
            "calcul + enregistrement des bulletins et lignes (médiane de {})",
            store.len()
        ),
        median(&store),
        "ms",
        Cible::Moins(1000.0),
    );
    println!("| bulletins | mesure | valeur | objectif |");
    println!("|---|---|---|---|");
    println!(
        "| {pupils} élèves, {} classes | calcul de tous les bulletins (chargement + calcul exact), médiane de {} | {:.1} ms | < 50 ms |",
        classes.len(),
        compute.len(),
        median(&compute)
    );
    println!(
        "| {pupils} élèves, {} classes | calcul + enregistrement (bulletins, lignes, jobs PDF), médiane de {} | {:.0} ms | < 1 000 ms |",
        classes.len(),
        store.len(),
        median(&store)
    );
    Ok(())
}

pub async fn pdf(url: &str, periode: CodePeriode, media_root: &Path) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;
    let (annee, _) = school(&mut conn).await?;
    let since: DateTime<Utc> = Utc::now();
    let started = Instant::now();
    let job = NewJob::of(&GenererBulletinsPeriode {
        periode: Some(periode.as_str().to_string()),
        annee_scolaire_id: Some(annee),
        classe_id: None,
        force: true,
    })?;
    let generation_id = enqueue(&mut conn, job).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let left: i64 = jobs::table
            .filter(jobs::created_at.ge(since))
            .filter(jobs::status.eq_any(["EN_ATTENTE", "EN_COURS"]))
            .count()
            .get_result(&mut conn)
            .await?;
        let gen_done: bool = jobs::table
            .find(generation_id)
            .select(jobs::status.eq_any(["SUCCES", "ECHEC"]))
            .first(&mut conn)
            .await?;
        if gen_done && left == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("délai dépassé : {left} jobs restants");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let gen_span: Span = jobs::table
        .find(generation_id)
        .select((jobs::started_at, jobs::finished_at))
        .first(&mut conn)
        .await?;
    let pdf_span: (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = jobs::table
        .filter(jobs::created_at.ge(since))
        .filter(jobs::name.eq(GenererBulletinPdf::NAME))
        .select((
            diesel::dsl::min(jobs::started_at),
            diesel::dsl::max(jobs::finished_at),
        ))
        .first(&mut conn)
        .await?;
    let by_status: Vec<(String, i64)> = jobs::table
        .filter(jobs::created_at.ge(since))
        .filter(jobs::name.eq(GenererBulletinPdf::NAME))
        .group_by(jobs::status)
        .select((jobs::status, diesel::dsl::count_star()))
        .load(&mut conn)
        .await?;
    let ok = by_status
        .iter()
        .find(|(s, _)| s == "SUCCES")
        .map(|(_, n)| *n)
        .unwrap_or(0);
    let failed: i64 = by_status
        .iter()
        .filter(|(s, _)| s != "SUCCES")
        .map(|(_, n)| n)
        .sum();
    let files: Vec<Option<String>> = bulletins::table
        .filter(bulletins::annee_scolaire_id.eq(annee))
        .filter(bulletins::periode.eq(periode))
        .select(bulletins::fichier_pdf)
        .load(&mut conn)
        .await?;
    let mut bytes = 0u64;
    let mut stored = 0u64;
    for f in files.iter().flatten() {
        if let Ok(meta) = std::fs::metadata(media_root.join(f)) {
            bytes += meta.len();
            stored += 1;
        }
    }
    let secs = |(a, b): Span| match (a, b) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => f64::NAN,
    };
    let gen_s = secs(gen_span);
    let pdf_s = secs(pdf_span);
    figure(
        "bulletins",
        "job de période (calcul + enregistrement, toutes les classes)",
        gen_s,
        "s",
        Cible::Aucune,
    );
    figure(
        "bulletins",
        &format!("{ok} PDF, 2 workers : débit (premier début → dernière fin)"),
        ok as f64 / pdf_s,
        "PDF/s",
        Cible::Aucune,
    );
    figure(
        "bulletins",
        "taille moyenne d'un PDF",
        bytes as f64 / stored.max(1) as f64 / 1024.0,
        "Ko",
        Cible::AuPlus(60.0),
    );
    figure(
        "bulletins",
        "demande → dernier PDF enregistré",
        wall,
        "s",
        Cible::Moins(10.0),
    );
    figure(
        "bulletins",
        "PDF en échec",
        failed as f64,
        "",
        Cible::AuPlus(0.0),
    );
    println!("| bulletins (2 workers) | mesure | valeur | objectif |");
    println!("|---|---|---|---|");
    println!(
        "| job `generer_bulletins_periode` | durée (calcul + enregistrement, toutes les classes) | {gen_s:.2} s | |"
    );
    println!(
        "| {ok} PDF ({failed} en échec) | débit des PDF (premier début → dernière fin) | {:.0} PDF/s ({pdf_s:.2} s) | ≥ 333 PDF/s par cœur (≤ 3 ms/PDF) |",
        ok as f64 / pdf_s
    );
    println!(
        "| {stored} fichiers | taille moyenne d'un PDF | {:.1} Ko | ≤ 60 Ko |",
        bytes as f64 / stored.max(1) as f64 / 1024.0
    );
    println!("| tout | demande → dernier PDF enregistré | {wall:.2} s | < 10 s |");
    if failed > 0 || stored as usize != files.len() {
        bail!(
            "{failed} jobs PDF en échec, {stored}/{} fichiers",
            files.len()
        );
    }
    Ok(())
}
