//! Issue #15: bulletins a school can sign. One regression test per reported bug (each failed
//! on the code before the fix), then the features that fix them.

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::Role;
use ecole_db::enums::CodePeriode;
use ecole_db::schema::{bulletins, notes};
use ecole_test_support::TestApp;
use ecole_test_support::http::{call, get, post};
use ecole_test_support::school::{School, date};
use serde_json::{Value, json};

fn d(s: &str) -> BigDecimal {
    s.parse().unwrap()
}

fn periode_of(code: &str) -> CodePeriode {
    code.parse().unwrap()
}

/// Inserts one grade directly.
#[allow(clippy::too_many_arguments)]
async fn grade(
    conn: &mut AsyncPgConnection,
    school: &School,
    eleve: i64,
    matiere: i64,
    classe: i64,
    periode: &str,
    type_note: &str,
    valeur: &str,
) -> i64 {
    let day = match periode {
        "TRIMESTRE_1" => date(2025, 10, 15),
        "TRIMESTRE_2" => date(2026, 2, 10),
        _ => date(2026, 5, 10),
    };
    diesel::insert_into(notes::table)
        .values((
            notes::eleve_id.eq(eleve),
            notes::matiere_id.eq(matiere),
            notes::classe_id.eq(classe),
            notes::annee_scolaire_id.eq(school.annee),
            notes::periode.eq(periode),
            notes::type_note.eq(type_note),
            notes::valeur.eq(d(valeur)),
            notes::sur.eq(d("20")),
            notes::date_evaluation.eq(day),
            notes::saisie_par.eq(school.teacher.id()),
        ))
        .returning(notes::id)
        .get_result(conn)
        .await
        .unwrap()
}

pub(crate) async fn generate(
    conn: &mut AsyncPgConnection,
    classe: i64,
    periode: &str,
    force: bool,
) {
    ecole_pedagogie::bulletins::generer_classe(conn, classe, periode_of(periode), force)
        .await
        .unwrap();
}

pub(crate) async fn bulletin_id(conn: &mut AsyncPgConnection, eleve: i64, periode: &str) -> i64 {
    bulletins::table
        .filter(bulletins::eleve_id.eq(eleve))
        .filter(bulletins::periode.eq(periode))
        .select(bulletins::id)
        .first(conn)
        .await
        .unwrap()
}

async fn detail(app: &TestApp, token: &str, id: i64) -> (u16, Value) {
    get(app, &format!("/api/v1/bulletins/{id}/"), token).await
}

pub(crate) async fn sql(conn: &mut AsyncPgConnection, statement: &str) {
    diesel::sql_query(statement).execute(conn).await.unwrap();
}

fn pdftotext(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ecole-pdf-{}", uuid_like()));
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

fn uuid_like() -> String {
    use rand::Rng;
    format!("{:016x}", rand::rng().random::<u64>())
}

async fn pdf_text(app: &TestApp, token: &str, id: i64) -> String {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/bulletins/{id}/pdf/")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "PDF du bulletin {id}");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() <= 60 * 1024, "{} octets", bytes.len());
    pdftotext(&bytes)
}

/// Inserts a pupil of `classe` directly (no password hashing).
async fn new_pupil(conn: &mut AsyncPgConnection, classe: i64, tag: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let row: Id = diesel::sql_query(
        "WITH u AS (INSERT INTO users (username, password_hash, first_name, last_name, role) \
           VALUES ($1, '!', 'Nouvel', $1, 'ELEVE') RETURNING id) \
         INSERT INTO eleves (user_id, matricule, classe_actuelle_id, sexe, date_admission) \
         SELECT id, 'N/' || $1, $2, 'M', '2025-09-01' FROM u RETURNING id",
    )
    .bind::<Text, _>(tag)
    .bind::<BigInt, _>(classe)
    .get_result(conn)
    .await
    .unwrap();
    row.id
}

// ---------------------------------------------------------------- bug 1

/// Bug 1: a graded subject without an `enseignements` row for the class was dropped.
#[tokio::test]
async fn bug1_graded_subject_without_enseignement_counts() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let mut conn = app.conn().await;
    let (p1, p2, a) = (school.a[0].id, school.a[1].id, school.classe_a);
    // Only MATH (coefficient 4) is assigned to class A; FRANCAIS (coefficient 3) is not.
    for (e, m, v) in [
        (p1, school.math, "10"),
        (p1, school.francais, "20"),
        (p2, school.math, "12"),
        (p2, school.francais, "8"),
    ] {
        grade(&mut conn, &school, e, m, a, "TRIMESTRE_1", "DEVOIR", v).await;
    }
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    type Resultat = (Option<BigDecimal>, Option<i32>, Option<String>);
    let rows: HashMap<i64, Resultat> = bulletins::table
        .select((
            bulletins::eleve_id,
            (
                bulletins::moyenne_generale,
                bulletins::rang,
                bulletins::mention,
            ),
        ))
        .load::<(i64, Resultat)>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    // (10×4 + 20×3) / 7 = 14.2857… ; (12×4 + 8×3) / 7 = 10.2857…
    assert_eq!(
        rows[&p1],
        (Some(d("14.29")), Some(1), Some("Bien".to_string()))
    );
    assert_eq!(
        rows[&p2],
        (Some(d("10.29")), Some(2), Some("Passable".to_string()))
    );
    let admin = app.as_admin().await;
    let id = bulletin_id(&mut conn, p1, "TRIMESTRE_1").await;
    let (_, b) = detail(&app, &admin.access, id).await;
    let lignes = b["lignes"].as_array().unwrap();
    assert_eq!(lignes.len(), 2, "{b}");
    let fr = lignes
        .iter()
        .find(|l| l["matiere_code"] == "FRANCAIS")
        .unwrap();
    assert_eq!(fr["coefficient"], 3);
}

/// Deleting an assignment with grades behind it is refused (409, the grade count named);
/// one without grades goes.
#[tokio::test]
async fn bug1_deleting_a_graded_enseignement_is_refused() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    for e in [school.a[0].id, school.a[1].id] {
        grade(
            &mut conn,
            &school,
            e,
            school.math,
            school.classe_a,
            "TRIMESTRE_1",
            "DEVOIR",
            "12",
        )
        .await;
    }
    let (_, ens) = get(
        &app,
        &format!("/api/v1/enseignements/?classe={}", school.classe_a),
        &admin.access,
    )
    .await;
    let id = ens["results"][0]["id"].as_i64().unwrap();
    let (s, e) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/enseignements/{id}/"),
        &admin.access,
        None,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("2 notes"), "{e}");
    let (s, _) = get(&app, &format!("/api/v1/enseignements/{id}/"), &admin.access).await;
    assert_eq!(s, 200, "l'enseignement est toujours là");
    let (s, other) = post(
        &app,
        "/api/v1/enseignements/",
        &admin.access,
        json!({"classe": school.classe_b, "matiere": school.francais}),
    )
    .await;
    assert_eq!(s, 201, "{other}");
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/enseignements/{}/", other["id"]),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(s, 204);
}

// ---------------------------------------------------------------- bug 2

/// Bug 2: a bareme-10 class printed round2(stored /20 ÷ 2): two printed 7,78 with different
/// ranks, 6,00 without « Assez bien », an annual 5,00 with « Redouble ».
#[tokio::test]
async fn bug2_bareme_10_has_one_value_of_record() {
    let app = TestApp::new().await;
    let school = School::create(&app, 4).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let a = school.classe_a;
    sql(
        &mut conn,
        &format!("UPDATE classes SET bareme = 10 WHERE id = {a}"),
    )
    .await;
    let [p0, p1, p2, p3] = [0, 1, 2, 3].map(|i| school.a[i].id);
    for (e, v) in [(p0, "15.55"), (p1, "15.56"), (p2, "11.99"), (p3, "9.99")] {
        grade(
            &mut conn,
            &school,
            e,
            school.math,
            a,
            "TRIMESTRE_1",
            "DEVOIR",
            v,
        )
        .await;
    }
    for periode in ["TRIMESTRE_2", "TRIMESTRE_3"] {
        grade(
            &mut conn,
            &school,
            p3,
            school.math,
            a,
            periode,
            "DEVOIR",
            "9.99",
        )
        .await;
    }
    // T1 and T2 are published before T3 is computed (the annual result on the PDF families
    // receive uses published periods only).
    for periode in ["TRIMESTRE_1", "TRIMESTRE_2"] {
        generate(&mut conn, a, periode, false).await;
        app.run_jobs(ecole_handlers::registry()).await;
        let (s, r) = post(
            &app,
            "/api/v1/bulletins/publier/",
            &admin.access,
            json!({"annee_scolaire": school.annee, "periode": periode, "classe": a}),
        )
        .await;
        assert_eq!(s, 200, "{r}");
    }
    generate(&mut conn, a, "TRIMESTRE_3", false).await;
    let get_b = async |conn: &mut AsyncPgConnection, e: i64, p: &str| {
        let id = bulletin_id(conn, e, p).await;
        detail(&app, &admin.access, id).await.1
    };
    let b0 = get_b(&mut conn, p0, "TRIMESTRE_1").await;
    let b1 = get_b(&mut conn, p1, "TRIMESTRE_1").await;
    let b2 = get_b(&mut conn, p2, "TRIMESTRE_1").await;
    let b3 = get_b(&mut conn, p3, "TRIMESTRE_1").await;
    assert_eq!(b0["bareme"], 10);
    assert_eq!(b0["moyenne_generale"], json!(7.78), "{b0}");
    assert_eq!(b0["moyenne_generale_sur_20"], json!(15.55), "{b0}");
    assert_eq!(b1["moyenne_generale"], json!(7.78));
    assert_eq!((&b0["rang"], &b0["ex_aequo"]), (&json!(1), &json!(true)));
    assert_eq!((&b1["rang"], &b1["ex_aequo"]), (&json!(1), &json!(true)));
    assert_eq!(b0["rang_affiche"], "1ère ex");
    assert_eq!(b1["rang_affiche"], "1er ex");
    assert_eq!(b0["lignes"][0]["moyenne"], json!(7.78));
    // 11.99 / 2 = 5.995 → 6.00: « Assez bien » (12 / 2) and the honour roll.
    assert_eq!(b2["moyenne_generale"], json!(6.0));
    assert_eq!(b2["mention"], "Assez bien");
    assert_eq!(b2["tableau_honneur"], true);
    assert_eq!(b3["moyenne_generale"], json!(5.0));
    assert_eq!(b3["mention"], "Passable");
    // Class statistics on /10: mean of 7.78, 7.78, 6.00, 5.00 = 6.64.
    assert_eq!(b0["moyenne_classe"], json!(6.64));
    assert_eq!(b0["moyenne_max"], json!(7.78));
    assert_eq!(b0["moyenne_min"], json!(5.0));
    let t3 = get_b(&mut conn, p3, "TRIMESTRE_3").await;
    assert_eq!(t3["annuel"]["moyenne_annuelle"], json!(5.0), "{t3}");
    assert_eq!(t3["annuel"]["decision"], "Admis(e)");
    // The PDFs print those values.
    app.run_jobs(ecole_handlers::registry()).await;
    let id0 = bulletin_id(&mut conn, p0, "TRIMESTRE_1").await;
    let text = pdf_text(&app, &admin.access, id0).await;
    assert!(text.contains("7,78 / 10"), "{text}");
    assert!(text.contains("1ère ex"), "{text}");
    let id3 = bulletin_id(&mut conn, p3, "TRIMESTRE_3").await;
    let text = pdf_text(&app, &admin.access, id3).await;
    assert!(text.contains("Moyenne annuelle : 5,00 / 10"), "{text}");
    assert!(
        text.contains("Admis(e)") && !text.contains("Redouble"),
        "{text}"
    );
}

// ---------------------------------------------------------------- bug 3

/// Bug 3: corrections after generation left bulletins silently stale.
#[tokio::test]
async fn bug3_corrections_mark_bulletins_and_block_publication() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let (p0, p1, a) = (school.a[0].id, school.a[1].id, school.classe_a);
    let note = grade(
        &mut conn,
        &school,
        p0,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "12",
    )
    .await;
    grade(
        &mut conn,
        &school,
        p1,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "14",
    )
    .await;
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (b0, b1) = (
        bulletin_id(&mut conn, p0, "TRIMESTRE_1").await,
        bulletin_id(&mut conn, p1, "TRIMESTRE_1").await,
    );
    let flags = async || {
        let f0 = detail(&app, &admin.access, b0).await.1["a_recalculer"].clone();
        let f1 = detail(&app, &admin.access, b1).await.1["a_recalculer"].clone();
        (f0, f1)
    };
    assert_eq!(flags().await, (json!(false), json!(false)));
    let publish = json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a});

    // A grade: the whole class (ranks change).
    let (s, n) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/notes/{note}/"),
        &admin.access,
        Some(json!({"valeur": 16})),
    )
    .await;
    assert_eq!(s, 200, "{n}");
    assert_eq!(flags().await, (json!(true), json!(true)));
    let (_, page) = get(
        &app,
        &format!("/api/v1/bulletins/?classe={a}&a_recalculer=true"),
        &admin.access,
    )
    .await;
    assert_eq!(page["count"], 2, "{page}");
    let (s, e) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        publish.clone(),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    let published: i64 = bulletins::table
        .filter(bulletins::statut.eq("PUBLIE"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(published, 0, "rien n'a été publié");
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    assert_eq!(flags().await, (json!(false), json!(false)));
    let (_, page) = get(
        &app,
        &format!("/api/v1/bulletins/?classe={a}&a_recalculer=false"),
        &admin.access,
    )
    .await;
    assert_eq!(page["count"], 2, "{page}");

    // A coefficient.
    let (_, ens) = get(
        &app,
        &format!("/api/v1/enseignements/?classe={a}"),
        &admin.access,
    )
    .await;
    let ens = ens["results"][0]["id"].as_i64().unwrap();
    let (s, _) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/enseignements/{ens}/"),
        &admin.access,
        Some(json!({"coefficient": 5})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(flags().await, (json!(true), json!(true)));
    generate(&mut conn, a, "TRIMESTRE_1", false).await;

    // Attendance: the pupil's own bulletin only.
    let (s, p) = post(
        &app,
        "/api/v1/presences/",
        &admin.access,
        json!({"eleve": p0, "classe": a, "date": "2025-10-03", "statut": "ABSENT"}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(flags().await, (json!(true), json!(false)));
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    assert_eq!(detail(&app, &admin.access, b0).await.1["absences"], 1);

    // An assignment.
    let (s, _) = post(
        &app,
        "/api/v1/enseignements/",
        &admin.access,
        json!({"classe": a, "matiere": school.francais}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(flags().await, (json!(true), json!(true)));
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, p) = post(&app, "/api/v1/bulletins/publier/", &admin.access, publish).await;
    assert_eq!((s, &p["publies"]), (200, &json!(2)), "{p}");
}

/// Bug 3: regenerating without `force` recomputed the unpublished bulletins of a class whose
/// others were published: two pupils printed « 1er ».
#[tokio::test]
async fn bug3_regeneration_without_force_keeps_one_ranking() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let a = school.classe_a;
    grade(
        &mut conn,
        &school,
        school.a[0].id,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "15",
    )
    .await;
    grade(
        &mut conn,
        &school,
        school.a[1].id,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "12",
    )
    .await;
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a}),
    )
    .await;
    assert_eq!(s, 200);
    // A pupil arrives with the best grade; the class is generated again without force.
    let newcomer = new_pupil(&mut conn, a, "arrivee").await;
    grade(
        &mut conn,
        &school,
        newcomer,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "18",
    )
    .await;
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    let firsts: i64 = bulletins::table
        .filter(bulletins::classe_id.eq(a))
        .filter(bulletins::rang.eq(1))
        .filter(bulletins::ex_aequo.eq(false))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(firsts, 1, "un seul « 1er » dans la classe");
}

/// Bug 3: `force` on a published bulletin made it CALCULE (families lost it) and the
/// corrected one was never notified.
#[tokio::test]
async fn bug3_forced_regeneration_versions_and_notifies_the_correction() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let parent = &school.a[0].parent;
    let mut conn = app.conn().await;
    let (p0, a) = (school.a[0].id, school.classe_a);
    let note = grade(
        &mut conn,
        &school,
        p0,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "12",
    )
    .await;
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let publish = json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a});
    let (s, _) = post(&app, "/api/v1/bulletins/publier/", &admin.access, publish).await;
    assert_eq!(s, 200);
    let id = bulletin_id(&mut conn, p0, "TRIMESTRE_1").await;
    let first_pdf = pdf_text(&app, &parent.access, id).await;
    assert!(first_pdf.contains("12,00"), "{first_pdf}");
    // Correction: 12 → 16, then a forced regeneration through the API.
    let (s, _) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/notes/{note}/"),
        &admin.access,
        Some(json!({"valeur": 16})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/generer/",
        &admin.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a, "force": true}),
    )
    .await;
    assert_eq!(s, 202);
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, b) = detail(&app, &parent.access, id).await;
    assert_eq!(s, 200, "la famille voit toujours le bulletin : {b}");
    assert_eq!(
        (&b["statut"], &b["version"], &b["moyenne_generale"]),
        (&json!("PUBLIE"), &json!(2), &json!(16.0))
    );
    let text = pdf_text(&app, &parent.access, id).await;
    assert!(text.contains("16,00"), "{text}");
    // The previous PDF is kept with its SHA-256, for management only.
    let (s, versions) = get(
        &app,
        &format!("/api/v1/bulletins/{id}/versions/"),
        &admin.access,
    )
    .await;
    assert_eq!(s, 200, "{versions}");
    let list = versions.as_array().unwrap();
    assert_eq!(list.len(), 2, "{versions}");
    let v1 = list.iter().find(|v| v["version"] == 1).unwrap();
    assert_eq!(v1["sha256"].as_str().unwrap().len(), 64, "{v1}");
    let kept = app
        .state
        .settings
        .media_root
        .join(v1["fichier_pdf"].as_str().unwrap());
    let bytes = std::fs::read(&kept).unwrap();
    assert!(pdftotext(&bytes).contains("12,00"));
    let (s, _) = get(
        &app,
        &format!("/api/v1/bulletins/{id}/versions/"),
        &parent.access,
    )
    .await;
    assert!(s == 403 || s == 404, "{s}");
    // Families are told once per new version.
    app.run_jobs(ecole_handlers::registry()).await;
    let (_, page) = get(&app, "/api/v1/notifications/", &parent.access).await;
    let corrected = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["titre"].as_str().unwrap().contains("corrigé"))
        .count();
    assert_eq!(corrected, 1, "{page}");
}

// ---------------------------------------------------------------- bug 4

/// Bug 4: the annual average skipped a missing period and used unpublished bulletins.
#[tokio::test]
async fn bug4_annual_average_needs_every_period_and_families_published_ones() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let (p0, p1, a) = (school.a[0].id, school.a[1].id, school.classe_a);
    // p0: T1 8, no T2, T3 12.
    grade(
        &mut conn,
        &school,
        p0,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "8",
    )
    .await;
    grade(
        &mut conn,
        &school,
        p0,
        school.math,
        a,
        "TRIMESTRE_3",
        "DEVOIR",
        "12",
    )
    .await;
    // p1: 10 every period.
    for p in ["TRIMESTRE_1", "TRIMESTRE_2", "TRIMESTRE_3"] {
        grade(&mut conn, &school, p1, school.math, a, p, "DEVOIR", "10").await;
    }
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    generate(&mut conn, a, "TRIMESTRE_3", false).await;
    let t3_p0 = bulletin_id(&mut conn, p0, "TRIMESTRE_3").await;
    let (_, b) = detail(&app, &admin.access, t3_p0).await;
    assert_eq!(b["annuel"]["moyenne_annuelle"], Value::Null, "{b}");
    assert_eq!(b["annuel"]["decision"], Value::Null, "{b}");
    assert_eq!(b["annuel"]["statut"], "incomplète", "{b}");
    // T2 generated (p0 has no grade in T2): still incomplete for p0, complete for p1.
    generate(&mut conn, a, "TRIMESTRE_2", false).await;
    generate(&mut conn, a, "TRIMESTRE_3", false).await;
    let (_, b) = detail(&app, &admin.access, t3_p0).await;
    assert_eq!(b["annuel"]["decision"], Value::Null, "{b}");
    let t3_p1 = bulletin_id(&mut conn, p1, "TRIMESTRE_3").await;
    let (_, b) = detail(&app, &admin.access, t3_p1).await;
    assert_eq!(
        (&b["annuel"]["moyenne_annuelle"], &b["annuel"]["decision"]),
        (&json!(10.0), &json!("Admis(e)")),
        "{b}"
    );
    // Families: T1 and T3 published, T2 not: incomplete for them.
    app.run_jobs(ecole_handlers::registry()).await;
    for p in ["TRIMESTRE_1", "TRIMESTRE_3"] {
        let (s, r) = post(
            &app,
            "/api/v1/bulletins/publier/",
            &admin.access,
            json!({"annee_scolaire": school.annee, "periode": p, "classe": a}),
        )
        .await;
        assert_eq!(s, 200, "{r}");
    }
    let (s, b) = detail(&app, &school.a[1].parent.access, t3_p1).await;
    assert_eq!(s, 200);
    assert_eq!(b["annuel"]["moyenne_annuelle"], Value::Null, "{b}");
    assert_eq!(b["annuel"]["decision"], Value::Null, "{b}");
    let text = pdf_text(&app, &admin.access, t3_p0).await;
    assert!(text.contains("incomplète"), "{text}");
    assert!(
        !text.contains("Admis(e)") && !text.contains("Redouble"),
        "{text}"
    );
}

/// Bug 4: with no third trimester defined (yet), T2 was taken for the year's last period.
#[tokio::test]
async fn bug4_second_trimester_prints_no_annual_decision() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    sql(&mut conn, "DELETE FROM periodes WHERE code = 'TRIMESTRE_3'").await;
    let (p0, a) = (school.a[0].id, school.classe_a);
    for p in ["TRIMESTRE_1", "TRIMESTRE_2"] {
        grade(&mut conn, &school, p0, school.math, a, p, "DEVOIR", "11").await;
        generate(&mut conn, a, p, false).await;
    }
    let id = bulletin_id(&mut conn, p0, "TRIMESTRE_2").await;
    let (_, b) = detail(&app, &admin.access, id).await;
    assert_eq!(b["annuel"], Value::Null, "{b}");
    app.run_jobs(ecole_handlers::registry()).await;
    let text = pdf_text(&app, &admin.access, id).await;
    assert!(
        !text.contains("Décision") && !text.contains("Moyenne annuelle"),
        "{text}"
    );
}

// ---------------------------------------------------------------- bug 5

/// Bug 5: EXCUSE counted nowhere, grades of the previous class lost, excluded pupils ranked.
#[tokio::test]
async fn bug5_attendance_membership_and_excluded_pupils() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let (a, b) = (school.classe_a, school.classe_b);
    let [p0, p1, p2] = [0, 1, 2].map(|i| school.a[i].id);
    let mover = school.b[0].id;
    for (day, statut) in [
        ("2025-10-01", "ABSENT"),
        ("2025-10-02", "EXCUSE"),
        ("2025-10-03", "EXCUSE"),
        ("2025-10-06", "RETARD"),
        ("2026-01-12", "ABSENT"), // T2: not counted in T1
    ] {
        let (s, r) = post(
            &app,
            "/api/v1/presences/",
            &admin.access,
            json!({"eleve": p0, "classe": a, "date": day, "statut": statut}),
        )
        .await;
        assert_eq!(s, 201, "{r}");
    }
    for (e, v) in [(p0, "12"), (p1, "15"), (p2, "9")] {
        grade(
            &mut conn,
            &school,
            e,
            school.math,
            a,
            "TRIMESTRE_1",
            "DEVOIR",
            v,
        )
        .await;
    }
    // p1, the best, is excluded: no rank, not counted.
    sql(
        &mut conn,
        &format!("UPDATE eleves SET statut = 'EXCLU' WHERE id = {p1}"),
    )
    .await;
    // The mover: T1 and T2 grades in B, then moved to A today; a T1 and a T2 grade in A.
    grade(
        &mut conn,
        &school,
        mover,
        school.math,
        b,
        "TRIMESTRE_1",
        "DEVOIR",
        "14",
    )
    .await;
    grade(
        &mut conn,
        &school,
        mover,
        school.math,
        b,
        "TRIMESTRE_2",
        "DEVOIR",
        "8",
    )
    .await;
    // T2 is still running (it ends in a month).
    let fin = ecole_core::time::today() + chrono::Days::new(30);
    sql(
        &mut conn,
        &format!("UPDATE periodes SET date_fin = '{fin}' WHERE code = 'TRIMESTRE_2'"),
    )
    .await;
    let (s, r) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/eleves/{mover}/"),
        &admin.access,
        Some(json!({"classe_actuelle": a})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    grade(
        &mut conn,
        &school,
        mover,
        school.francais,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "10",
    )
    .await;
    grade(
        &mut conn,
        &school,
        mover,
        school.francais,
        a,
        "TRIMESTRE_2",
        "DEVOIR",
        "16",
    )
    .await;
    for p in ["TRIMESTRE_1", "TRIMESTRE_2"] {
        generate(&mut conn, a, p, false).await;
        generate(&mut conn, b, p, false).await;
    }
    let b0 = bulletin_id(&mut conn, p0, "TRIMESTRE_1").await;
    let (_, r0) = detail(&app, &admin.access, b0).await;
    assert_eq!(
        (&r0["absences"], &r0["absences_justifiees"], &r0["retards"]),
        (&json!(1), &json!(2), &json!(1)),
        "{r0}"
    );
    // p0 (12) is first: p1 (15) is excluded; effectif: p0, p2.
    assert_eq!(
        (&r0["rang"], &r0["effectif"]),
        (&json!(1), &json!(2)),
        "{r0}"
    );
    let (_, r1) = detail(
        &app,
        &admin.access,
        bulletin_id(&mut conn, p1, "TRIMESTRE_1").await,
    )
    .await;
    assert_eq!(r1["rang"], Value::Null, "{r1}");
    assert_eq!(r1["moyenne_generale"], json!(15.0));
    assert_eq!(r0["moyenne_max"], json!(12.0), "{r0}");
    // T1 had ended before the move: the mover's T1 bulletin is B's, with every T1 grade.
    let (_, m1) = detail(
        &app,
        &admin.access,
        bulletin_id(&mut conn, mover, "TRIMESTRE_1").await,
    )
    .await;
    assert_eq!(m1["classe"], b, "{m1}");
    // (14×4 + 10×3) / 7 = 12.2857…
    assert_eq!(m1["moyenne_generale"], json!(12.29), "{m1}");
    // T2 ends after the move: A's, with the grades given in B too. (8×4 + 16×3) / 7 = 11.43
    let (_, m2) = detail(
        &app,
        &admin.access,
        bulletin_id(&mut conn, mover, "TRIMESTRE_2").await,
    )
    .await;
    assert_eq!(m2["classe"], a, "{m2}");
    assert_eq!(m2["moyenne_generale"], json!(11.43), "{m2}");
    app.run_jobs(ecole_handlers::registry()).await;
    let text = pdf_text(&app, &admin.access, b0).await;
    assert!(text.contains("justifiées"), "{text}");
}

// ---------------------------------------------------------------- bug 6

/// Bug 6: a generation that read the grades before a correction could store its result after
/// the generation that saw the correction (on the code before the fix: `calculer` then
/// `enregistrer` of two overlapping generations, the older reading stored last). Now two
/// generations of one class run concurrently with a grade change between them, in many
/// interleavings: what is stored is always a fresh computation of the final grades.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bug6_overlapping_generations_store_the_latest_grades() {
    use rand::Rng;
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let mut conn = app.conn().await;
    let a = school.classe_a;
    let mut notes_ids = Vec::new();
    for (i, p) in school.a.iter().enumerate() {
        for m in [school.math, school.francais] {
            let v = ["10", "12", "14"][i];
            notes_ids.push(grade(&mut conn, &school, p.id, m, a, "TRIMESTRE_1", "DEVOIR", v).await);
        }
    }
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    for round in 0..12 {
        let note = notes_ids[round % notes_ids.len()];
        let valeur = BigDecimal::from(rand::rng().random_range(0..=20));
        let pause = rand::rng().random_range(0..15u64);
        let mut first = app.conn().await;
        let gen1 = tokio::spawn(async move {
            ecole_pedagogie::bulletins::generer_classe(
                &mut first,
                a,
                CodePeriode::Trimestre1,
                false,
            )
            .await
            .unwrap();
        });
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        diesel::update(notes::table.find(note))
            .set(notes::valeur.eq(valeur))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut second = app.conn().await;
        let gen2 = tokio::spawn(async move {
            ecole_pedagogie::bulletins::generer_classe(
                &mut second,
                a,
                CodePeriode::Trimestre1,
                false,
            )
            .await
            .unwrap();
        });
        gen1.await.unwrap();
        gen2.await.unwrap();
        let fresh = ecole_pedagogie::bulletins::calculer(&mut conn, &[a], CodePeriode::Trimestre1)
            .await
            .unwrap();
        let stored: HashMap<i64, (Option<BigDecimal>, Option<i32>, bool)> = bulletins::table
            .filter(bulletins::classe_id.eq(a))
            .select((
                bulletins::eleve_id,
                (
                    bulletins::moyenne_generale,
                    bulletins::rang,
                    bulletins::a_recalculer,
                ),
            ))
            .load::<(i64, (Option<BigDecimal>, Option<i32>, bool))>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
        for b in &fresh.classes[0].result.bulletins {
            let (avg, rang, stale) = &stored[&b.eleve];
            let expected = b.moyenne_generale.map(|c| BigDecimal::new(c.into(), 2));
            assert_eq!(
                (avg, rang.map(|r| r as u32), *stale),
                (&expected, b.rang, false),
                "tour {round}, élève {}",
                b.eleve
            );
        }
    }
    // The same while the period's lock is held elsewhere: the first generation, the grade
    // change and the second generation all queue behind it. A generation that read the
    // grades before taking the lock would store a reading older than the change.
    for (round, &note) in notes_ids.iter().take(3).enumerate() {
        use diesel_async::SimpleAsyncConnection;
        let mut blocker = app.conn().await;
        blocker
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('bulletins:{}:TRIMESTRE_1', 0))",
                school.annee
            ))
            .await
            .unwrap();
        let pause = || tokio::time::sleep(std::time::Duration::from_millis(150));
        let mut first = app.conn().await;
        let gen1 = tokio::spawn(async move {
            ecole_pedagogie::bulletins::generer_classe(
                &mut first,
                a,
                CodePeriode::Trimestre1,
                false,
            )
            .await
            .unwrap();
        });
        pause().await;
        let mut writer = app.conn().await;
        let change = tokio::spawn(async move {
            diesel::update(notes::table.find(note))
                .set(notes::valeur.eq(BigDecimal::from(19 - round as i64)))
                .execute(&mut writer)
                .await
                .unwrap();
        });
        pause().await;
        let mut second = app.conn().await;
        let gen2 = tokio::spawn(async move {
            ecole_pedagogie::bulletins::generer_classe(
                &mut second,
                a,
                CodePeriode::Trimestre1,
                false,
            )
            .await
            .unwrap();
        });
        pause().await;
        blocker.batch_execute("COMMIT").await.unwrap();
        gen1.await.unwrap();
        change.await.unwrap();
        gen2.await.unwrap();
        let fresh = ecole_pedagogie::bulletins::calculer(&mut conn, &[a], CodePeriode::Trimestre1)
            .await
            .unwrap();
        for b in &fresh.classes[0].result.bulletins {
            let (avg, stale): (Option<BigDecimal>, bool) = bulletins::table
                .filter(bulletins::eleve_id.eq(b.eleve))
                .select((bulletins::moyenne_generale, bulletins::a_recalculer))
                .first(&mut conn)
                .await
                .unwrap();
            let expected = b.moyenne_generale.map(|c| BigDecimal::new(c.into(), 2));
            assert_eq!((avg, stale), (expected, false), "verrou tenu, tour {round}");
        }
    }
}

// ---------------------------------------------------------------- bug 7

/// Bug 7: the « Appréciation » column printed the mention; teachers could write nothing and
/// there was no class council.
#[tokio::test]
async fn bug7_teachers_write_appreciations_and_direction_records_the_council() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let direction = app.as_role(Role::Direction).await;
    let teacher = &school.teacher;
    let mut conn = app.conn().await;
    let (p0, p1, a) = (school.a[0].id, school.a[1].id, school.classe_a);
    grade(
        &mut conn,
        &school,
        p0,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "15",
    )
    .await;
    grade(
        &mut conn,
        &school,
        p1,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "11",
    )
    .await;
    let (s, r) = post(
        &app,
        "/api/v1/bulletins/appreciations/",
        &teacher.access,
        json!({"eleve": p0, "classe": a, "matiere": school.math, "periode": "TRIMESTRE_1",
               "texte": "Très bon trimestre, continuez ainsi."}),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {r}");
    let (s, r) = post(
        &app,
        "/api/v1/bulletins/conseil/",
        &direction.access,
        json!({"eleve": p0, "annee_scolaire": school.annee, "periode": "TRIMESTRE_1",
               "appreciation": "Élève sérieuse.", "distinction": "FELICITATIONS"}),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {r}");
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    let id0 = bulletin_id(&mut conn, p0, "TRIMESTRE_1").await;
    let id1 = bulletin_id(&mut conn, p1, "TRIMESTRE_1").await;
    let (_, b0) = detail(&app, &admin.access, id0).await;
    let (_, b1) = detail(&app, &admin.access, id1).await;
    assert_eq!(
        b0["lignes"][0]["appreciation"],
        "Très bon trimestre, continuez ainsi."
    );
    assert_eq!(
        b1["lignes"][0]["appreciation"], "",
        "pas de texte automatique"
    );
    assert_eq!(b0["conseil"]["distinction"], "FELICITATIONS", "{b0}");
    app.run_jobs(ecole_handlers::registry()).await;
    let text = pdf_text(&app, &admin.access, id0).await;
    for expected in ["Très bon trimestre", "Félicitations", "Élève sérieuse."] {
        assert!(text.contains(expected), "« {expected} » absent :\n{text}");
    }
    let text = pdf_text(&app, &admin.access, id1).await;
    // p1's general average (11) still has its mention, printed as such; nothing else
    // (no automatic appreciation in the subject's row).
    assert_eq!(
        text.matches("Passable").count(),
        text.matches("Mention : Passable").count(),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("Mathématiques")).unwrap();
    assert!(!row.contains("Passable"), "{row}");
}

/// The beat's monthly run recomputes the bulletins that need it while unpublished, never a
/// published one.
#[tokio::test]
async fn the_beat_recomputes_flagged_unpublished_bulletins_only() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let (a, b) = (school.classe_a, school.classe_b);
    let na = grade(
        &mut conn,
        &school,
        school.a[0].id,
        school.math,
        a,
        "TRIMESTRE_1",
        "DEVOIR",
        "12",
    )
    .await;
    let nb = grade(
        &mut conn,
        &school,
        school.b[0].id,
        school.math,
        b,
        "TRIMESTRE_1",
        "DEVOIR",
        "12",
    )
    .await;
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    generate(&mut conn, b, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": b}),
    )
    .await;
    assert_eq!(s, 200);
    for note in [na, nb] {
        diesel::update(notes::table.find(note))
            .set(notes::valeur.eq(d("17")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let job =
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::GenererBulletinsPeriode::default()).unwrap();
    ecole_jobs::enqueue(&mut conn, job).await.unwrap();
    app.run_jobs(ecole_handlers::registry()).await;
    let rows: HashMap<i64, (Option<BigDecimal>, bool, String)> = bulletins::table
        .filter(bulletins::periode.eq("TRIMESTRE_1"))
        .select((
            bulletins::classe_id,
            (
                bulletins::moyenne_generale,
                bulletins::a_recalculer,
                bulletins::statut,
            ),
        ))
        .load::<(i64, (Option<BigDecimal>, bool, String))>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(rows[&a], (Some(d("17.00")), false, "PDF_GENERE".into()));
    assert_eq!(rows[&b], (Some(d("12.00")), true, "PUBLIE".into()));
}
