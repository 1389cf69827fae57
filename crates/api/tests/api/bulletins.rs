//! Report cards: the rules, generation as jobs, reading within scope, the docs/SPEC.md §3 cases and
//! a randomised comparison with a plain reference implementation.

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_core::Role;
use ecole_db::enums::CodePeriode;
use ecole_db::schema::{
    bulletin_lignes, bulletins, classes, eleves, enseignements, jobs, matieres, notes, periodes,
    users,
};
use ecole_test_support::TestApp;
use ecole_test_support::http::{call, get, post};
use ecole_test_support::school::{School, date};
use num_rational::Ratio;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn d(s: &str) -> BigDecimal {
    s.parse().unwrap()
}

/// Inserts grades directly: (pupil, subject, type, value, scale).
async fn grades(
    app: &TestApp,
    school: &School,
    classe: i64,
    rows: &[(i64, i64, &str, &str, &str)],
) {
    let mut conn = app.conn().await;
    let values: Vec<_> = rows
        .iter()
        .map(|(eleve, matiere, t, v, sur)| {
            (
                notes::eleve_id.eq(*eleve),
                notes::matiere_id.eq(*matiere),
                notes::classe_id.eq(classe),
                notes::annee_scolaire_id.eq(school.annee),
                notes::periode.eq("TRIMESTRE_1"),
                notes::type_note.eq(*t),
                notes::valeur.eq(d(v)),
                notes::sur.eq(d(sur)),
                notes::date_evaluation.eq(date(2025, 10, 15)),
                notes::saisie_par.eq(school.teacher.id()),
            )
        })
        .collect();
    diesel::insert_into(notes::table)
        .values(&values)
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn assign(app: &TestApp, classe: i64, matiere: i64, coefficient: Option<i32>) {
    let mut conn = app.conn().await;
    diesel::insert_into(enseignements::table)
        .values((
            enseignements::classe_id.eq(classe),
            enseignements::matiere_id.eq(matiere),
            enseignements::coefficient.eq(coefficient),
        ))
        .on_conflict((enseignements::classe_id, enseignements::matiere_id))
        .do_update()
        .set(enseignements::coefficient.eq(coefficient))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn patch(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    call(
        app,
        reqwest::Method::PATCH,
        "/api/v1/bulletins/regles/",
        token,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn rules_are_read_by_staff_and_edited_by_admin_only() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    let direction = app.as_role(Role::Direction).await;
    let teacher = app.as_role(Role::Enseignant).await;
    let parent = app.as_role(Role::Parent).await;
    let (s, r) = get(&app, "/api/v1/bulletins/regles/", &teacher.access).await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            &r["poids_cours"],
            &r["poids_composition"],
            &r["seuil_excellent"],
            &r["seuil_tableau_honneur"],
            &r["seuil_admission"]
        ),
        (
            &json!(1),
            &json!(2),
            &json!(18.0),
            &json!(12.0),
            &json!(10.0)
        )
    );
    assert_eq!(
        get(&app, "/api/v1/bulletins/regles/", &parent.access)
            .await
            .0,
        403
    );
    assert_eq!(
        patch(&app, &direction.access, json!({"poids_cours": 2}))
            .await
            .0,
        403
    );
    let (s, r) = patch(
        &app,
        &admin.access,
        json!({"poids_cours": 2, "seuil_tableau_honneur": 13.5}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["poids_cours"], &r["seuil_tableau_honneur"]),
        (&json!(2), &json!(13.5))
    );
    // Thresholds out of order, out of range, too precise, both weights 0: 400, nothing changes.
    for bad in [
        json!({"seuil_bien": 17}),
        json!({"seuil_passable": 21}),
        json!({"seuil_passable": 10.125}),
        json!({"poids_cours": 0, "poids_composition": 0}),
        json!({"inconnu": 1}),
    ] {
        let (s, e) = patch(&app, &admin.access, bad.clone()).await;
        assert_eq!(s, 400, "{bad} → {e}");
    }
    let (s, e) = call(
        &app,
        reqwest::Method::PUT,
        "/api/v1/bulletins/regles/",
        &admin.access,
        Some(json!({"poids_cours": 1})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e.get("seuil_excellent").is_some(), "{e}");
    let (_, r) = get(&app, "/api/v1/bulletins/regles/", &admin.access).await;
    assert_eq!(
        (&r["poids_cours"], &r["seuil_bien"]),
        (&json!(2), &json!(14.0))
    );
    let mut conn = app.conn().await;
    let audited: i64 = ecole_db::schema::audit_log::table
        .filter(ecole_db::schema::audit_log::table_name.eq("regles_bulletin"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    // The new weights are used: cours 2, composition 2 → plain mean.
    let school = School::create(&app, 1).await;
    grades(
        &app,
        &school,
        school.classe_a,
        &[
            (school.a[0].id, school.math, "DEVOIR", "10", "20"),
            (school.a[0].id, school.math, "COMPOSITION", "15", "20"),
        ],
    )
    .await;
    ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        false,
    )
    .await
    .unwrap();
    let avg: Option<BigDecimal> = bulletins::table
        .select(bulletins::moyenne_generale)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(avg, Some(d("12.50")));
}

#[tokio::test]
async fn spec_cases_coefficients_scales_missing_grades_and_rounding() {
    let app = TestApp::new().await;
    let school = School::create(&app, 5).await;
    let mut conn = app.conn().await;
    // Class A: MATH (coef 4, overridden to 5 here), FRANCAIS (coef 3), PHYSIQUE (coef 2, no grade).
    assign(&app, school.classe_a, school.math, Some(5)).await;
    assign(&app, school.classe_a, school.francais, None).await;
    let physique: i64 = diesel::insert_into(matieres::table)
        .values((
            matieres::code.eq("PC"),
            matieres::nom.eq("Physique-Chimie"),
            matieres::coefficient.eq(2),
        ))
        .returning(matieres::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    assign(&app, school.classe_a, physique, None).await;
    let [p0, p1, p2, p3, p4] = [0, 1, 2, 3, 4].map(|i| school.a[i].id);
    grades(
        &app,
        &school,
        school.classe_a,
        &[
            // p0: MATH 8/10 (=16) and 14/20 → cours 15; compo 12 → (15 + 24)/3 = 13; FR 10.
            (p0, school.math, "INTERROGATION", "8", "10"),
            (p0, school.math, "DEVOIR", "14", "20"),
            (p0, school.math, "COMPOSITION", "12", "20"),
            (p0, school.francais, "COMPOSITION", "10", "20"),
            // p1: same general average as p0 → tie (ranks 1, 2, 2, 4 below).
            (p1, school.math, "COMPOSITION", "13", "20"),
            (p1, school.francais, "DEVOIR", "10", "20"),
            // p2: higher.
            (p2, school.math, "COMPOSITION", "18", "20"),
            (p2, school.francais, "COMPOSITION", "16", "20"),
            // p3: MATH only 10.005 → exact 10.005, stored 10.01 (half-up at .xx5).
            (p3, school.math, "DEVOIR", "20.01", "40"),
            // p4: no grade at all.
        ],
    )
    .await;
    let generation = ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        false,
    )
    .await
    .unwrap();
    assert_eq!(generation.bulletins.len(), 5);
    type Row = (
        i64,
        Option<BigDecimal>,
        Option<i32>,
        bool,
        i32,
        Option<String>,
        bool,
    );
    let rows: HashMap<i64, Row> = bulletins::table
        .select((
            bulletins::eleve_id,
            bulletins::moyenne_generale,
            bulletins::rang,
            bulletins::ex_aequo,
            bulletins::effectif,
            bulletins::mention,
            bulletins::tableau_honneur,
        ))
        .load::<Row>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.0, r))
        .collect();
    // p0: (13×5 + 10×3)/8 = 11.875 → 11.88 ; p1: (13×5 + 10×3)/8 = 11.88 ; p2: (18×5+16×3)/8 = 17.25
    assert_eq!(rows[&p0].1, Some(d("11.88")));
    assert_eq!(rows[&p1].1, Some(d("11.88")));
    assert_eq!(rows[&p2].1, Some(d("17.25")));
    assert_eq!(
        rows[&p3].1,
        Some(d("10.01")),
        "moyenne exacte 10,005 arrondie au demi supérieur"
    );
    assert_eq!(rows[&p4].1, None, "aucune note : non classé");
    assert_eq!((rows[&p2].2, rows[&p2].3), (Some(1), false));
    assert_eq!((rows[&p0].2, rows[&p0].3), (Some(2), true));
    assert_eq!((rows[&p1].2, rows[&p1].3), (Some(2), true));
    assert_eq!((rows[&p3].2, rows[&p3].3), (Some(4), false));
    assert_eq!((rows[&p4].2, rows[&p4].3), (None, false));
    assert!(rows.values().all(|r| r.4 == 4), "effectif : élèves classés");
    assert_eq!(rows[&p2].5.as_deref(), Some("Très bien"));
    assert_eq!(rows[&p0].5.as_deref(), Some("Passable"));
    assert_eq!(rows[&p4].5, None);
    assert!(rows[&p2].6 && !rows[&p0].6);
    // Lines: the class's coefficient, non classé subject, subject ranks and class averages.
    type L = (
        i64,
        i64,
        i32,
        Option<BigDecimal>,
        Option<BigDecimal>,
        Option<i32>,
        bool,
        Option<BigDecimal>,
        String,
    );
    let lines: Vec<L> = bulletin_lignes::table
        .inner_join(bulletins::table)
        .select((
            bulletins::eleve_id,
            bulletin_lignes::matiere_id,
            bulletin_lignes::coefficient,
            bulletin_lignes::moyenne,
            bulletin_lignes::points,
            bulletin_lignes::rang_matiere,
            bulletin_lignes::ex_aequo,
            bulletin_lignes::moyenne_classe_matiere,
            bulletin_lignes::appreciation,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(lines.len(), 15);
    let line = |e: i64, m: i64| lines.iter().find(|l| l.0 == e && l.1 == m).unwrap().clone();
    let m0 = line(p0, school.math);
    assert_eq!(
        (m0.2, m0.3.clone(), m0.4.clone()),
        (5, Some(d("13.00")), Some(d("65.00")))
    );
    assert_eq!(
        (m0.5, m0.6),
        (Some(2), true),
        "13, 13 derrière 18 et devant 10,01"
    );
    // MATH class average: (13 + 13 + 18 + 10.01) / 4 = 13.5025 → 13.50
    assert_eq!(m0.7, Some(d("13.50")));
    // No automatic appreciation (issue #15, 7/7): only what the teacher writes.
    assert_eq!(m0.8, "");
    let ph = line(p0, physique);
    assert_eq!(
        (ph.3, ph.4, ph.5, ph.7, ph.8.as_str()),
        (None, None, None, None, "")
    );
    assert_eq!(line(p4, school.math).3, None);
}

#[tokio::test]
async fn generation_through_the_api_is_a_job_with_progress_and_scoped_reading() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let admin = app.as_admin().await;
    let direction = app.as_role(Role::Direction).await;
    let comptable = app.as_role(Role::Comptable).await;
    assign(&app, school.classe_b, school.math, None).await;
    let mut rows = Vec::new();
    for (i, p) in school.a.iter().chain(school.b.iter()).enumerate() {
        let classe = if i < 3 {
            school.classe_a
        } else {
            school.classe_b
        };
        rows.push((
            p.id,
            school.math,
            "DEVOIR",
            ["12", "15", "9"][i % 3],
            "20",
            classe,
        ));
    }
    for (e, m, t, v, s, c) in &rows {
        grades(&app, &school, *c, &[(*e, *m, t, v, s)]).await;
    }
    // Bad requests: 400 and no job.
    for bad in [
        json!({"annee_scolaire": school.annee, "periode": "SEMESTRE_1"}),
        json!({"annee_scolaire": school.annee + 100, "periode": "TRIMESTRE_1"}),
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_a + 100}),
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_9"}),
    ] {
        let (s, e) = post(
            &app,
            "/api/v1/bulletins/generer/",
            &admin.access,
            bad.clone(),
        )
        .await;
        assert_eq!(s, 400, "{bad} → {e}");
    }
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/generer/",
        &comptable.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1"}),
    )
    .await;
    assert_eq!(s, 403);
    let mut conn = app.conn().await;
    let n_jobs: i64 = jobs::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(n_jobs, 0);

    let (s, accepted) = post(
        &app,
        "/api/v1/bulletins/generer/",
        &direction.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1"}),
    )
    .await;
    assert_eq!(s, 202, "{accepted}");
    let status_url = accepted["status_url"].as_str().unwrap().to_string();
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, job) = get(&app, &status_url, &direction.access).await;
    assert_eq!(s, 200);
    assert_eq!(job["status"], "SUCCES", "{job}");
    assert_eq!(job["progress"], json!({"done": 2, "total": 2}));
    assert_eq!(job["result"]["bulletins"], 6);
    let generated: Option<chrono::DateTime<chrono::Utc>> = periodes::table
        .filter(periodes::code.eq("TRIMESTRE_1"))
        .select(periodes::bulletins_generes_le)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(generated.is_some());
    let pdf_jobs: i64 = jobs::table
        .filter(jobs::name.eq("pedagogie.generer_bulletin_pdf"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(pdf_jobs, 6, "un job PDF par bulletin");

    // Staff read every card; the teacher those of class A; families nothing unpublished.
    let list = format!(
        "/api/v1/bulletins/?annee_scolaire={}&periode=TRIMESTRE_1",
        school.annee
    );
    let (s, page) = get(&app, &list, &admin.access).await;
    assert_eq!((s, page["count"].as_i64()), (200, Some(6)));
    let (_, page) = get(
        &app,
        &format!("{list}&classe={}&ordering=rang", school.classe_a),
        &admin.access,
    )
    .await;
    let first = &page["results"][0];
    assert_eq!(
        (first["rang"].as_i64(), first["moyenne_generale"].as_f64()),
        (Some(1), Some(15.0))
    );
    assert_eq!(first["classe_nom"], "6ème A");
    assert!(first["rang_affiche"].as_str().unwrap().starts_with("1"));
    let (_, page) = get(&app, &list, &school.teacher.access).await;
    assert_eq!(page["count"], 3);
    let id_b = {
        let (_, page) = get(
            &app,
            &format!("{list}&classe={}", school.classe_b),
            &admin.access,
        )
        .await;
        page["results"][0]["id"].as_i64().unwrap()
    };
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/bulletins/{id_b}/"),
            &school.teacher.access
        )
        .await
        .0,
        404
    );
    let (_, page) = get(&app, "/api/v1/bulletins/", &school.a[0].parent.access).await;
    assert_eq!(page["count"], 0);
    let (_, page) = get(&app, "/api/v1/bulletins/", &school.a[0].user.access).await;
    assert_eq!(page["count"], 0);
    assert_eq!(
        get(&app, "/api/v1/bulletins/", &comptable.access).await.0,
        403
    );
    let (s, detail) = get(&app, &format!("/api/v1/bulletins/{id_b}/"), &admin.access).await;
    assert_eq!(s, 200);
    assert_eq!(detail["lignes"].as_array().unwrap().len(), 1);
    assert_eq!(detail["lignes"][0]["matiere_code"], "MATH");
    assert_eq!(detail["annuel"], Value::Null, "pas la dernière période");
    // Bad filters: 400.
    assert_eq!(
        get(&app, "/api/v1/bulletins/?periode=X", &admin.access)
            .await
            .0,
        400
    );
    assert_eq!(
        get(&app, "/api/v1/bulletins/?ordering=nom", &admin.access)
            .await
            .0,
        400
    );

    // Generating again recomputes in place: the same rows.
    let ids_before: Vec<i64> = bulletins::table
        .select(bulletins::id)
        .order(bulletins::id)
        .load(&mut conn)
        .await
        .unwrap();
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/generer/",
        &admin.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_a}),
    )
    .await;
    assert_eq!(s, 202);
    app.run_jobs(ecole_handlers::registry()).await;
    let ids_after: Vec<i64> = bulletins::table
        .select(bulletins::id)
        .order(bulletins::id)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids_before, ids_after);
    let lines: i64 = bulletin_lignes::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(lines, 6);
}

/// The beat's monthly entry: no arguments.
async fn beat_job(conn: &mut diesel_async::AsyncPgConnection) -> i64 {
    let job =
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::GenererBulletinsPeriode::default()).unwrap();
    ecole_jobs::enqueue(conn, job).await.unwrap()
}

#[tokio::test]
async fn the_beat_generates_ended_periods_without_bulletins_once() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    grades(
        &app,
        &school,
        school.classe_a,
        &[(school.a[0].id, school.math, "DEVOIR", "14", "20")],
    )
    .await;
    let mut conn = app.conn().await;
    // Only the first trimester has ended (move the others into the future).
    diesel::update(periodes::table.filter(periodes::code.ne("TRIMESTRE_1")))
        .set(periodes::date_fin.eq(date(2999, 1, 1)))
        .execute(&mut conn)
        .await
        .unwrap();
    let first = beat_job(&mut conn).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let result: Option<Value> = jobs::table
        .find(first)
        .select(jobs::result)
        .first(&mut conn)
        .await
        .unwrap();
    let result = result.unwrap();
    assert_eq!(result["classes"], 2, "{result}");
    assert_eq!(result["periodes"][0]["periode"], "TRIMESTRE_1");
    let n: i64 = bulletins::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 4);
    // Next month: nothing left to do.
    let second = beat_job(&mut conn).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let result: Option<Value> = jobs::table
        .find(second)
        .select(jobs::result)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(result.unwrap()["classes"], 0);
}

// ---------- randomised comparison with a plain implementation of docs/SPEC.md §3 ----------

type Q = Ratio<i128>;

/// General averages (cents), ranks, subject averages (cents) and subject ranks per pupil.
type Reference = (
    Vec<Option<i128>>,
    Vec<Option<u32>>,
    Vec<Vec<Option<i128>>>,
    Vec<Vec<Option<u32>>>,
);

/// Half-up to cents, as an integer number of cents.
fn cents(r: Q) -> i128 {
    (r * Q::from_integer(100) + Q::new(1, 2))
        .floor()
        .to_integer()
}

fn cents_of(d: &BigDecimal) -> i128 {
    (d * BigDecimal::from(100))
        .with_scale(0)
        .to_string()
        .parse()
        .unwrap()
}

struct RefNote {
    eleve: usize,
    matiere: usize,
    compo: bool,
    valeur_cents: i128,
    sur: i128,
}

/// docs/SPEC.md §3 written the obvious way: per pupil, per subject, sort for ranks.
fn reference(n_eleves: usize, coefs: &[i128], notes: &[RefNote]) -> Reference {
    let mut subject = vec![vec![None; coefs.len()]; n_eleves];
    let mut subject_exact: Vec<Vec<Option<Q>>> = vec![vec![None; coefs.len()]; n_eleves];
    for (e, row) in subject_exact.iter_mut().enumerate() {
        for (m, cell) in row.iter_mut().enumerate() {
            let of = |compo: bool| -> Vec<Q> {
                notes
                    .iter()
                    .filter(|n| n.eleve == e && n.matiere == m && n.compo == compo)
                    .map(|n| Q::new(n.valeur_cents * 20, 100 * n.sur))
                    .collect()
            };
            let mean = |v: Vec<Q>| -> Option<Q> {
                if v.is_empty() {
                    None
                } else {
                    let len = v.len() as i128;
                    Some(
                        v.into_iter().fold(Q::from_integer(0), |a, b| a + b) / Q::from_integer(len),
                    )
                }
            };
            *cell = match (mean(of(false)), mean(of(true))) {
                (Some(c), Some(k)) => Some((c + k * Q::from_integer(2)) / Q::from_integer(3)),
                (Some(c), None) => Some(c),
                (None, Some(k)) => Some(k),
                (None, None) => None,
            };
            subject[e][m] = cell.map(cents);
        }
    }
    let general: Vec<Option<i128>> = subject_exact
        .iter()
        .map(|row| {
            let mut num = Q::from_integer(0);
            let mut den = 0;
            for (m, v) in row.iter().enumerate() {
                if let Some(v) = v {
                    num += *v * Q::from_integer(coefs[m]);
                    den += coefs[m];
                }
            }
            (den > 0).then(|| cents(num / Q::from_integer(den)))
        })
        .collect();
    let rank = |values: &[Option<i128>]| -> Vec<Option<u32>> {
        values
            .iter()
            .map(|v| v.map(|v| 1 + values.iter().flatten().filter(|o| **o > v).count() as u32))
            .collect()
    };
    let subject_ranks: Vec<Vec<Option<u32>>> = {
        let by_subject: Vec<Vec<Option<u32>>> = (0..coefs.len())
            .map(|m| rank(&subject.iter().map(|row| row[m]).collect::<Vec<_>>()))
            .collect();
        (0..n_eleves)
            .map(|e| (0..coefs.len()).map(|m| by_subject[m][e]).collect())
            .collect()
    };
    (general.clone(), rank(&general), subject, subject_ranks)
}

#[tokio::test]
async fn random_classes_match_a_plain_reference_implementation() {
    let app = TestApp::new().await;
    let school = School::create(&app, 0).await;
    let mut conn = app.conn().await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261126);
    let mut matricule = 0;
    for round in 0..12 {
        let classe: i64 = diesel::insert_into(classes::table)
            .values((
                classes::niveau.eq("SIXIEME"),
                classes::nom.eq(format!("Hasard {round}")),
                classes::annee_scolaire_id.eq(school.annee),
            ))
            .returning(classes::id)
            .get_result(&mut conn)
            .await
            .unwrap();
        let n_subjects = rng.random_range(1..=5usize);
        let mut subject_ids = Vec::new();
        let mut coefs = Vec::new();
        for m in 0..n_subjects {
            let base = rng.random_range(1..=5);
            let id: i64 = diesel::insert_into(matieres::table)
                .values((
                    matieres::code.eq(format!("R{round}M{m}")),
                    matieres::nom.eq(format!("Matière {round}-{m}")),
                    matieres::coefficient.eq(base),
                ))
                .returning(matieres::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            let over = rng.random_bool(0.3).then(|| rng.random_range(1..=6));
            assign(&app, classe, id, over).await;
            subject_ids.push(id);
            coefs.push(over.unwrap_or(base) as i128);
        }
        let n_eleves = rng.random_range(1..=25usize);
        let mut eleve_ids = Vec::new();
        for _ in 0..n_eleves {
            matricule += 1;
            // Direct insert: no password hashing for hundreds of pupils.
            let user_id: i64 = diesel::insert_into(users::table)
                .values((
                    users::username.eq(format!("hasard{matricule}")),
                    users::password_hash.eq("!"),
                    users::first_name.eq("Hasard"),
                    users::last_name.eq(format!("N{matricule}")),
                    users::role.eq("ELEVE"),
                ))
                .returning(users::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            let id: i64 = diesel::insert_into(eleves::table)
                .values((
                    eleves::user_id.eq(user_id),
                    eleves::matricule.eq(format!("R/{matricule:05}")),
                    eleves::classe_actuelle_id.eq(classe),
                    eleves::sexe.eq("F"),
                    eleves::date_admission.eq(date(2025, 9, 1)),
                ))
                .returning(eleves::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            eleve_ids.push(id);
        }
        let mut ref_notes = Vec::new();
        let mut rows = Vec::new();
        for (e, eleve) in eleve_ids.iter().enumerate() {
            if rng.random_bool(0.1) {
                continue; // no grade at all
            }
            for (m, matiere) in subject_ids.iter().enumerate() {
                if rng.random_bool(0.15) {
                    continue; // non classé in this subject
                }
                for _ in 0..rng.random_range(1..=4) {
                    let sur = [10i128, 20, 20, 40][rng.random_range(0..4)];
                    // Coarse values so that ties happen.
                    let valeur_cents = rng.random_range(0..=(sur * 4)) * 25;
                    let compo = rng.random_bool(0.35);
                    ref_notes.push(RefNote {
                        eleve: e,
                        matiere: m,
                        compo,
                        valeur_cents,
                        sur,
                    });
                    rows.push((
                        *eleve,
                        *matiere,
                        if compo { "COMPOSITION" } else { "DEVOIR" },
                        BigDecimal::new(valeur_cents.into(), 2),
                        BigDecimal::from(sur as i64),
                    ));
                }
            }
        }
        let values: Vec<_> = rows
            .iter()
            .map(|(e, m, t, v, s)| {
                (
                    notes::eleve_id.eq(*e),
                    notes::matiere_id.eq(*m),
                    notes::classe_id.eq(classe),
                    notes::annee_scolaire_id.eq(school.annee),
                    notes::periode.eq("TRIMESTRE_1"),
                    notes::type_note.eq(*t),
                    notes::valeur.eq(v.clone()),
                    notes::sur.eq(s.clone()),
                    notes::date_evaluation.eq(date(2025, 10, 15)),
                    notes::saisie_par.eq(school.teacher.id()),
                )
            })
            .collect();
        for chunk in values.chunks(1000) {
            diesel::insert_into(notes::table)
                .values(chunk)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        ecole_pedagogie::bulletins::generer_classe(
            &mut conn,
            classe,
            CodePeriode::Trimestre1,
            false,
        )
        .await
        .unwrap();
        let (general, ranks, subject, subject_ranks) = reference(n_eleves, &coefs, &ref_notes);
        let stored: HashMap<i64, (Option<BigDecimal>, Option<i32>)> = bulletins::table
            .filter(bulletins::classe_id.eq(classe))
            .select((
                bulletins::eleve_id,
                (bulletins::moyenne_generale, bulletins::rang),
            ))
            .load::<(i64, (Option<BigDecimal>, Option<i32>))>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
        let lines: HashMap<(i64, i64), (Option<BigDecimal>, Option<i32>)> = bulletin_lignes::table
            .inner_join(bulletins::table)
            .filter(bulletins::classe_id.eq(classe))
            .select((
                bulletins::eleve_id,
                bulletin_lignes::matiere_id,
                (bulletin_lignes::moyenne, bulletin_lignes::rang_matiere),
            ))
            .load::<(i64, i64, (Option<BigDecimal>, Option<i32>))>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|(e, m, v)| ((e, m), v))
            .collect();
        for (e, eleve) in eleve_ids.iter().enumerate() {
            let (avg, rang) = &stored[eleve];
            assert_eq!(
                avg.as_ref().map(cents_of),
                general[e],
                "classe {round}, élève {e}"
            );
            assert_eq!(
                rang.map(|r| r as u32),
                ranks[e],
                "rang, classe {round}, élève {e}"
            );
            for (m, matiere) in subject_ids.iter().enumerate() {
                let (avg, rang) = &lines[&(*eleve, *matiere)];
                assert_eq!(
                    avg.as_ref().map(cents_of),
                    subject[e][m],
                    "matière {m}, classe {round}, élève {e}"
                );
                assert_eq!(
                    rang.map(|r| r as u32),
                    subject_ranks[e][m],
                    "rang matière {m}, classe {round}"
                );
            }
        }
    }
}

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn pdftotext(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ecole-pdf-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("b.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) est requis");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn pdfs_are_rendered_by_jobs_stored_by_id_and_downloaded_within_scope() {
    use base64::Engine;
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    // The logo: checked by content and size, ADMIN only.
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    let put_logo = |token: &str, body: Vec<u8>, ct: &str| {
        app.client
            .put(app.url("/api/v1/etablissement/logo/"))
            .bearer_auth(token.to_string())
            .header("Content-Type", ct.to_string())
            .body(body)
            .send()
    };
    assert_eq!(
        put_logo(&school.teacher.access, png.clone(), "image/png")
            .await
            .unwrap()
            .status(),
        403
    );
    let r = put_logo(&admin.access, b"GIF89a pas une image".to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = put_logo(&admin.access, vec![0u8; 2 * 1024 * 1024 + 1], "image/png")
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = put_logo(&admin.access, png.clone(), "image/png")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    diesel::update(ecole_db::schema::etablissement::table)
        .set((
            ecole_db::schema::etablissement::nom.eq("Groupe Scolaire Les Palmiers"),
            ecole_db::schema::etablissement::directeur.eq("Mme Fatoumata Bah"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(eleves::table.filter(eleves::id.eq(school.a[0].id)))
        .set((
            eleves::date_naissance.eq(Some(date(2013, 3, 1))),
            eleves::lieu_naissance.eq("Kindia"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    grades(
        &app,
        &school,
        school.classe_a,
        &[
            (school.a[0].id, school.math, "DEVOIR", "15", "20"),
            (school.a[1].id, school.math, "DEVOIR", "12.5", "20"),
            (school.a[2].id, school.math, "DEVOIR", "12.5", "20"),
        ],
    )
    .await;
    let generate = || {
        post(
            &app,
            "/api/v1/bulletins/generer/",
            &admin.access,
            json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_a}),
        )
    };
    assert_eq!(generate().await.0, 202);
    app.run_jobs(ecole_handlers::registry()).await;
    let failed: Vec<(String, Option<String>)> = jobs::table
        .filter(jobs::status.ne("SUCCES"))
        .select((jobs::name, jobs::error))
        .load(&mut conn)
        .await
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    let rows: Vec<(i64, i64, String, Option<String>)> = bulletins::table
        .select((
            bulletins::id,
            bulletins::eleve_id,
            bulletins::statut,
            bulletins::fichier_pdf,
        ))
        .order(bulletins::eleve_id)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (id, _, statut, fichier) in &rows {
        assert_eq!(statut, "PDF_GENERE");
        assert_eq!(
            fichier.as_deref(),
            Some(format!("bulletins/{}/{id}.pdf", school.annee).as_str())
        );
    }
    let (first, _, _, _) = rows[0];
    let r = app
        .client
        .get(app.url(&format!("/api/v1/bulletins/{first}/pdf/")))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment")
            && disposition.contains("bulletin_2026-A000_TRIMESTRE_1_2025-2026.pdf"),
        "{disposition}"
    );
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() <= 60 * 1024,
        "{} octets",
        bytes.len()
    );
    let text = pdftotext(&bytes);
    for expected in [
        "Aissatou CamaraA0",
        "Groupe Scolaire Les Palmiers",
        "15,00",
        "1ère",
        "Née le 1er mars 2013 à Kindia",
        "Mathématiques",
        "Conakry, le",
    ] {
        assert!(
            text.contains(expected),
            "« {expected} » absent de :\n{text}"
        );
    }
    // Families: not before publication (404, as outside the scope); teacher of the class: yes.
    let parent = &school.a[0].parent;
    let pdf_status = |token: String| {
        let url = app.url(&format!("/api/v1/bulletins/{first}/pdf/"));
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(pdf_status(parent.access.clone()).await, 404);
    assert_eq!(pdf_status(school.teacher.access.clone()).await, 200);
    assert_eq!(pdf_status(school.b[0].parent.access.clone()).await, 404);

    // Generating again: same rows, one file per bulletin.
    assert_eq!(generate().await.0, 202);
    app.run_jobs(ecole_handlers::registry()).await;
    let ids: Vec<i64> = bulletins::table
        .select(bulletins::id)
        .order(bulletins::eleve_id)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids, rows.iter().map(|r| r.0).collect::<Vec<_>>());
    let dir = app
        .state
        .settings
        .media_root
        .join(format!("bulletins/{}", school.annee));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = ids.iter().map(|id| format!("{id}.pdf")).collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "un fichier par bulletin, aucun fichier temporaire"
    );

    // Publication: management only; families then see their own, and are notified once.
    let publish = json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_a});
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &school.teacher.access,
        publish.clone(),
    )
    .await;
    assert_eq!(s, 403);
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, p) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        publish.clone(),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (p["publies"].as_i64(), p["notifications"].as_i64()),
        (Some(3), Some(6)),
        "{p}"
    );
    assert_eq!(pdf_status(parent.access.clone()).await, 200);
    assert_eq!(pdf_status(school.a[0].user.access.clone()).await, 200);
    assert_eq!(pdf_status(school.b[0].parent.access.clone()).await, 404);
    let (_, page) = get(&app, "/api/v1/bulletins/", &parent.access).await;
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["eleve"], school.a[0].id);
    let (_, page) = get(&app, "/api/v1/notifications/", &parent.access).await;
    assert_eq!(page["count"], 1, "{page}");
    assert_eq!(page["results"][0]["type_notification"], "BULLETIN");
    assert!(
        page["results"][0]["titre"]
            .as_str()
            .unwrap()
            .contains("1er trimestre")
    );
    let (s, p) = post(&app, "/api/v1/bulletins/publier/", &admin.access, publish).await;
    assert_eq!(
        (s, p["publies"].as_i64(), p["notifications"].as_i64()),
        (200, Some(0), Some(0))
    );
    let emails: i64 = jobs::table
        .filter(jobs::name.eq("communication.envoyer_email_notification"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(emails, 6, "un e-mail par destinataire, une seule fois");
    let (s, e) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": school.classe_b}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")));
}
