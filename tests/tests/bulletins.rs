//! Report-card PDFs across real processes: a worker SIGKILLed in the middle of PDF jobs,
//! another one finishing them — every bulletin ends with exactly one correct PDF.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_db::enums::CodePeriode;
use ecole_db::schema::{bulletins, jobs};
use ecole_jobs::JobStatus;
use ecole_test_support::TestApp;
use ecole_test_support::process::{RedisServer, command, signal, wait_exit, wait_until};
use ecole_test_support::school::School;

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_during_pdf_jobs_leaves_one_correct_pdf_per_bulletin() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let mut conn = app.conn().await;
    // 300 more pupils in class A, each with a grade (direct SQL: no password hashing).
    diesel::sql_query(
        "WITH u AS (
            INSERT INTO users (username, password_hash, first_name, last_name, role)
            SELECT 'masse' || g, '!', 'Élève', 'Nº' || g, 'ELEVE' FROM generate_series(1, 300) g
            RETURNING id, username)
         INSERT INTO eleves (user_id, matricule, classe_actuelle_id, sexe, date_admission)
         SELECT id, 'M/' || username, $1, 'M', '2025-09-01' FROM u",
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
    let generation = ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        false,
    )
    .await
    .unwrap();
    let total = generation.bulletins.len();
    assert_eq!(total, 302);

    let redis = RedisServer::start(false).await;
    let media = app.state.settings.media_root.clone();
    let env = vec![
        ("DATABASE_URL", app.db.url.clone()),
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", app.redis_prefix.clone()),
        ("MEDIA_ROOT", media.to_string_lossy().into_owned()),
        ("JOB_RETRY_BASE_SECONDS", "1".to_string()),
    ];
    let spawn = || {
        let mut cmd = command("ecole-worker", &env);
        if std::env::var_os("TEST_LOG").is_none() {
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        cmd.spawn().unwrap()
    };
    let pdf_jobs = || {
        jobs::table
            .filter(jobs::name.eq("pedagogie.generer_bulletin_pdf"))
            .into_boxed()
    };
    // Kill a worker while it holds PDF jobs; try again if it happened to hold none.
    let mut interrupted: Vec<i64> = Vec::new();
    for _ in 0..5 {
        let victim = spawn();
        let pid = victim.id().unwrap() as i32;
        let running = wait_until(Duration::from_secs(30), || async {
            let mut conn = app.conn().await;
            pdf_jobs()
                .filter(jobs::status.eq(JobStatus::EnCours))
                .filter(jobs::worker.like(format!("%-{pid}-%")))
                .count()
                .get_result::<i64>(&mut conn)
                .await
                .unwrap()
                > 0
        })
        .await;
        signal(pid, "KILL");
        let mut victim = victim;
        let _ = wait_exit(&mut victim, Duration::from_secs(10)).await;
        if !running {
            continue;
        }
        interrupted = pdf_jobs()
            .filter(jobs::status.eq(JobStatus::EnCours))
            .filter(jobs::worker.like(format!("%-{pid}-%")))
            .select(jobs::id)
            .load(&mut conn)
            .await
            .unwrap();
        if !interrupted.is_empty() {
            break;
        }
    }
    assert!(!interrupted.is_empty(), "aucun job PDF interrompu");
    let survivor = spawn();
    let done = wait_until(Duration::from_secs(120), || async {
        let mut conn = app.conn().await;
        pdf_jobs()
            .filter(jobs::status.ne(JobStatus::Succes))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap()
            == 0
    })
    .await;
    assert!(done, "tous les jobs PDF terminés");
    // The interrupted jobs ran again.
    let attempts: Vec<i32> = pdf_jobs()
        .filter(jobs::id.eq_any(&interrupted))
        .select(jobs::attempts)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(attempts.iter().all(|a| *a >= 2), "{attempts:?}");
    // One correct PDF per bulletin, nothing else but temporary files of the killed process.
    let rows: Vec<(i64, String, Option<String>)> = bulletins::table
        .select((bulletins::id, bulletins::statut, bulletins::fichier_pdf))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), total);
    for (id, statut, fichier) in &rows {
        assert_eq!(statut, "PDF_GENERE");
        let path = media.join(fichier.as_deref().unwrap());
        assert_eq!(
            path.file_name().unwrap().to_string_lossy(),
            format!("{id}.pdf")
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{}", path.display());
        assert!(
            bytes.trim_ascii_end().ends_with(b"%%EOF"),
            "PDF complet : {}",
            path.display()
        );
    }
    let dir = media.join(format!("bulletins/{}", school.annee));
    let pdfs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name.ends_with(".pdf")
        })
        .count();
    assert_eq!(pdfs, total);
    signal(survivor.id().unwrap() as i32, "TERM");
    let mut survivor = survivor;
    assert!(
        wait_exit(&mut survivor, Duration::from_secs(30))
            .await
            .unwrap()
            .success()
    );
}
