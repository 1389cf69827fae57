//! Issue #15, 7/7: teachers' appreciations and the class council (`bulletins/appreciations/`,
//! `bulletins/appreciations/saisie/`, `bulletins/conseil/`).

use bigdecimal::BigDecimal;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::Role;
use ecole_db::schema::notes;
use ecole_test_support::TestApp;
use ecole_test_support::http::{get, post};
use ecole_test_support::school::{School, date};
use serde_json::{Value, json};

use crate::bulletins_corrections::{bulletin_id, generate};

const APPRECIATIONS: &str = "/api/v1/bulletins/appreciations/";
const SAISIE: &str = "/api/v1/bulletins/appreciations/saisie/";
const CONSEIL: &str = "/api/v1/bulletins/conseil/";

async fn grade(
    conn: &mut AsyncPgConnection,
    school: &School,
    (eleve, classe): (i64, i64),
    periode: &str,
    valeur: &str,
) {
    let day = match periode {
        "TRIMESTRE_1" => date(2025, 10, 15),
        "TRIMESTRE_2" => date(2026, 2, 10),
        _ => date(2026, 5, 10),
    };
    diesel::insert_into(notes::table)
        .values((
            notes::eleve_id.eq(eleve),
            notes::matiere_id.eq(school.math),
            notes::classe_id.eq(classe),
            notes::annee_scolaire_id.eq(school.annee),
            notes::periode.eq(periode),
            notes::type_note.eq("DEVOIR"),
            notes::valeur.eq(valeur.parse::<BigDecimal>().unwrap()),
            notes::sur.eq("20".parse::<BigDecimal>().unwrap()),
            notes::date_evaluation.eq(day),
            notes::saisie_par.eq(school.teacher.id()),
        ))
        .execute(conn)
        .await
        .unwrap();
}

async fn detail(app: &TestApp, token: &str, id: i64) -> Value {
    let (s, b) = get(app, &format!("/api/v1/bulletins/{id}/"), token).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn pdf_bytes(app: &TestApp, token: &str, id: i64) -> Vec<u8> {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/bulletins/{id}/pdf/")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "PDF du bulletin {id}");
    let bytes = r.bytes().await.unwrap().to_vec();
    assert!(bytes.len() <= 60 * 1024, "{} octets", bytes.len());
    bytes
}

fn pdftotext(bytes: &[u8]) -> String {
    use rand::Rng;
    let dir = std::env::temp_dir().join(format!(
        "ecole-conseil-{:016x}",
        rand::rng().random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("b.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) est requis");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success());
    // Column wrapping aside: words separated by single spaces.
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn appreciation(eleve: i64, classe: i64, matiere: i64, texte: &str) -> Value {
    json!({"eleve": eleve, "classe": classe, "matiere": matiere, "periode": "TRIMESTRE_1",
           "texte": texte})
}

/// A teacher writes for their own (class, subject) only; management for any; other roles
/// never. Reading the list follows the same rule.
#[tokio::test]
async fn a_teacher_writes_appreciations_for_their_own_class_and_subject_only() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let teacher = &school.teacher;
    let direction = app.as_role(Role::Direction).await;
    let comptable = app.as_role(Role::Comptable).await;
    let (pa, pb, a, b) = (
        school.a[0].id,
        school.b[0].id,
        school.classe_a,
        school.classe_b,
    );
    // Their own pair.
    let (s, r) = post(
        &app,
        APPRECIATIONS,
        &teacher.access,
        appreciation(pa, a, school.math, "Bon travail."),
    )
    .await;
    assert_eq!((s, &r["texte"]), (200, &json!("Bon travail.")), "{r}");
    assert_eq!(r["annee_scolaire"], school.annee);
    // Another teacher's subject in their class, their subject in another class.
    for body in [
        appreciation(pa, a, school.francais, "Hors de mon périmètre."),
        appreciation(pb, b, school.math, "Hors de mon périmètre."),
    ] {
        let (s, r) = post(&app, APPRECIATIONS, &teacher.access, body.clone()).await;
        assert_eq!(
            (s, r["code"].as_str()),
            (403, Some("permission_denied")),
            "{r}"
        );
        let (s, r) = post(
            &app,
            SAISIE,
            &teacher.access,
            json!({"classe": body["classe"], "matiere": body["matiere"], "periode": "TRIMESTRE_1",
                   "appreciations": [{"eleve": body["eleve"], "texte": "x"}]}),
        )
        .await;
        assert_eq!(s, 403, "{r}");
    }
    let (s, _) = get(
        &app,
        &format!(
            "{APPRECIATIONS}?classe={a}&matiere={}&periode=TRIMESTRE_1",
            school.francais
        ),
        &teacher.access,
    )
    .await;
    assert_eq!(s, 403);
    // Other roles.
    for token in [&comptable.access, &school.a[0].parent.access] {
        let (s, _) = post(
            &app,
            APPRECIATIONS,
            token,
            appreciation(pa, a, school.math, "Non."),
        )
        .await;
        assert_eq!(s, 403);
    }
    // Management writes any subject; the council is management's only.
    let (s, r) = post(
        &app,
        APPRECIATIONS,
        &direction.access,
        appreciation(pa, a, school.francais, "Des progrès en expression écrite."),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let council = json!({"eleve": pa, "annee_scolaire": school.annee, "periode": "TRIMESTRE_1",
                         "distinction": "ENCOURAGEMENTS"});
    let (s, _) = post(&app, CONSEIL, &teacher.access, council.clone()).await;
    assert_eq!(s, 403);
    let (s, _) = get(
        &app,
        &format!("{CONSEIL}?classe={a}&periode=TRIMESTRE_1"),
        &teacher.access,
    )
    .await;
    assert_eq!(s, 403);
    // The teacher's list holds their subject's appreciations only.
    let (s, list) = get(
        &app,
        &format!(
            "{APPRECIATIONS}?classe={a}&matiere={}&periode=TRIMESTRE_1",
            school.math
        ),
        &teacher.access,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["texte"], "Bon travail.");
    // Required filters.
    let (s, e) = get(&app, APPRECIATIONS, &teacher.access).await;
    assert_eq!(s, 400);
    assert!(e["classe"].is_array() && e["periode"].is_array(), "{e}");
}

/// Texts are bounded (200 characters, counted as characters), the council's codes and the
/// decision's period are checked: 400 in the contract's format, nothing written.
#[tokio::test]
async fn texts_are_bounded_and_codes_checked() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let teacher = &school.teacher;
    let direction = app.as_role(Role::Direction).await;
    let (pa, a) = (school.a[0].id, school.classe_a);
    let long = "é".repeat(201);
    let (s, e) = post(
        &app,
        APPRECIATIONS,
        &teacher.access,
        appreciation(pa, a, school.math, &long),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["texte"][0].as_str().unwrap().contains("200"), "{e}");
    // 200 accented characters (400 bytes) are accepted; spaces collapsed.
    let exact = "é".repeat(200);
    let (s, r) = post(
        &app,
        APPRECIATIONS,
        &teacher.access,
        appreciation(pa, a, school.math, &format!("  {exact}\n ")),
    )
    .await;
    assert_eq!((s, r["texte"].as_str()), (200, Some(exact.as_str())), "{r}");
    // Empty: removed.
    let (s, r) = post(
        &app,
        APPRECIATIONS,
        &teacher.access,
        appreciation(pa, a, school.math, "   "),
    )
    .await;
    assert_eq!((s, &r["texte"]), (200, &json!("")), "{r}");
    let mut conn = app.conn().await;
    let rows: i64 = diesel::sql_query("SELECT count(*) AS n FROM appreciations")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n;
    assert_eq!(rows, 0);
    // A pupil of another class, an unknown subject or period.
    let (s, e) = post(
        &app,
        APPRECIATIONS,
        &direction.access,
        appreciation(school.b[0].id, a, school.math, "x"),
    )
    .await;
    assert!(s == 400 && e["eleve"].is_array(), "{s} {e}");
    let (s, e) = post(
        &app,
        APPRECIATIONS,
        &direction.access,
        json!({"eleve": pa, "classe": a, "matiere": school.math, "periode": "TRIMESTRE_9",
               "texte": "x"}),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    // Council: bounded appreciation, known codes, decision on the last period only.
    let base = || json!({"eleve": pa, "annee_scolaire": school.annee, "periode": "TRIMESTRE_1"});
    let with = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("appreciation", json!("x".repeat(201))), "appreciation"),
        (with("distinction", json!("MEDAILLE")), "distinction"),
        (with("decision", json!("REDOUBLE")), "decision"),
    ] {
        let (s, e) = post(&app, CONSEIL, &direction.access, body).await;
        assert_eq!(s, 400, "{field}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let rows: i64 = diesel::sql_query("SELECT count(*) AS n FROM conseils_classe")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n;
    assert_eq!(rows, 0);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The bulk entry is all or nothing, bounded, and its texts reach the bulletins; a text
/// written after the computation flags the bulletin and blocks publication (409).
#[tokio::test]
async fn bulk_entry_for_a_class() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let teacher = &school.teacher;
    let admin = app.as_admin().await;
    let mut conn = app.conn().await;
    let a = school.classe_a;
    let ids: Vec<i64> = school.a.iter().map(|p| p.id).collect();
    for (i, p) in ids.iter().enumerate() {
        grade(
            &mut conn,
            &school,
            (*p, a),
            "TRIMESTRE_1",
            &format!("{}", 10 + i),
        )
        .await;
    }
    let saisie = |lines: Value| {
        json!({"classe": a, "matiere": school.math, "periode": "TRIMESTRE_1",
               "appreciations": lines})
    };
    let (s, r) = post(
        &app,
        SAISIE,
        &teacher.access,
        saisie(json!([
            {"eleve": ids[0], "texte": "Excellent."},
            {"eleve": ids[1], "texte": "Assez bien."},
            {"eleve": ids[2], "texte": "À revoir."},
        ])),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r,
        json!({"enregistrees": 3, "supprimees": 0, "inchangees": 0})
    );
    // One bad line (a pupil of class B), a duplicate: nothing changes.
    let (s, e) = post(
        &app,
        SAISIE,
        &teacher.access,
        saisie(json!([
            {"eleve": ids[0], "texte": "Changé."},
            {"eleve": school.b[0].id, "texte": "Intrus."},
            {"eleve": ids[1], "texte": "x"},
            {"eleve": ids[1], "texte": "y"},
        ])),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["appreciations.1"].is_array() && e["appreciations.3"].is_array(),
        "{e}"
    );
    let too_many: Vec<Value> = (0..201)
        .map(|i| json!({"eleve": i + 1, "texte": "x"}))
        .collect();
    let (s, e) = post(&app, SAISIE, &teacher.access, saisie(json!(too_many))).await;
    assert!(s == 400 && e["appreciations"].is_array(), "{s} {e}");
    // Changed, removed, unchanged.
    let (s, r) = post(
        &app,
        SAISIE,
        &teacher.access,
        saisie(json!([
            {"eleve": ids[0], "texte": "Excellent trimestre."},
            {"eleve": ids[1], "texte": ""},
            {"eleve": ids[2], "texte": "À revoir."},
        ])),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r,
        json!({"enregistrees": 1, "supprimees": 1, "inchangees": 1})
    );
    let audited: i64 =
        diesel::sql_query("SELECT count(*) AS n FROM audit_log WHERE table_name = 'appreciations'")
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n;
    assert_eq!(audited, 5, "3 créations, 1 modification, 1 suppression");
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    let texts: Vec<Value> = {
        let mut out = Vec::new();
        for p in &ids {
            let id = bulletin_id(&mut conn, *p, "TRIMESTRE_1").await;
            out.push(detail(&app, &admin.access, id).await["lignes"][0]["appreciation"].clone());
        }
        out
    };
    assert_eq!(
        texts,
        vec![json!("Excellent trimestre."), json!(""), json!("À revoir.")]
    );
    // Written after the computation: flagged, publication refused until regenerated.
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, _) = post(
        &app,
        APPRECIATIONS,
        &teacher.access,
        appreciation(ids[1], a, school.math, "Des efforts."),
    )
    .await;
    assert_eq!(s, 200);
    let b1 = bulletin_id(&mut conn, ids[1], "TRIMESTRE_1").await;
    let b0 = bulletin_id(&mut conn, ids[0], "TRIMESTRE_1").await;
    assert_eq!(detail(&app, &admin.access, b1).await["a_recalculer"], true);
    assert_eq!(
        detail(&app, &admin.access, b0).await["a_recalculer"],
        false,
        "seul le bulletin de l'élève"
    );
    let publish = json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a});
    let (s, e) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        publish.clone(),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, r) = post(&app, "/api/v1/bulletins/publier/", &admin.access, publish).await;
    assert_eq!(s, 200, "{r}");
    let parent = &school.a[1].parent;
    let text = pdftotext(&pdf_bytes(&app, &parent.access, b1).await);
    assert!(text.contains("Des efforts."), "{text}");
}

/// On the last period the council's decision overrides the computed one: both are served,
/// the override is audited with the computed decision, and printed as the council's.
#[tokio::test]
async fn the_council_decision_overrides_the_computed_one() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let direction = app.as_role(Role::Direction).await;
    let mut conn = app.conn().await;
    let (p0, a) = (school.a[0].id, school.classe_a);
    for p in ["TRIMESTRE_1", "TRIMESTRE_2", "TRIMESTRE_3"] {
        grade(&mut conn, &school, (p0, a), p, "12").await;
        generate(&mut conn, a, p, false).await;
    }
    let t3 = bulletin_id(&mut conn, p0, "TRIMESTRE_3").await;
    let b = detail(&app, &admin.access, t3).await;
    assert_eq!(b["annuel"]["decision"], "Admis(e)", "{b}");
    assert_eq!(b["annuel"]["decision_conseil"], Value::Null, "{b}");
    let (s, r) = post(
        &app,
        CONSEIL,
        &direction.access,
        json!({"eleve": p0, "annee_scolaire": school.annee, "periode": "TRIMESTRE_3",
               "appreciation": "Doit reprendre l'année.", "decision": "REDOUBLE"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            &r["decision"],
            &r["decision_libelle"],
            &r["decision_calculee"],
            &r["bulletin_a_recalculer"]
        ),
        (
            &json!("REDOUBLE"),
            &json!("Redouble"),
            &json!("ADMIS"),
            &json!(true)
        ),
        "{r}"
    );
    // Audited, with the computed decision it overrides.
    #[derive(QueryableByName)]
    struct Audit {
        #[diesel(sql_type = Nullable<Text>)]
        decision: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        calculee: Option<String>,
        #[diesel(sql_type = Nullable<BigInt>)]
        user_id: Option<i64>,
    }
    let rows: Vec<Audit> = diesel::sql_query(
        "SELECT after->>'decision' AS decision, after->>'decision_calculee' AS calculee, \
           user_id FROM audit_log WHERE table_name = 'conseils_classe' ORDER BY id",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].decision.as_deref(),
            rows[0].calculee.as_deref(),
            rows[0].user_id
        ),
        (Some("REDOUBLE"), Some("ADMIS"), Some(direction.id()))
    );
    // Served and printed once the bulletin is computed again; the appreciation is kept
    // when a later call changes only the distinction.
    let (s, r) = post(
        &app,
        CONSEIL,
        &direction.access,
        json!({"eleve": p0, "annee_scolaire": school.annee, "periode": "TRIMESTRE_3",
               "distinction": "AVERTISSEMENT_TRAVAIL"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["appreciation"], "Doit reprendre l'année.", "{r}");
    assert_eq!(r["decision"], "REDOUBLE", "{r}");
    generate(&mut conn, a, "TRIMESTRE_3", false).await;
    let b = detail(&app, &admin.access, t3).await;
    assert_eq!(
        (
            &b["annuel"]["decision"],
            &b["annuel"]["decision_calculee"],
            &b["annuel"]["decision_conseil"],
            &b["conseil"]["decision"],
            &b["conseil"]["distinction_libelle"],
        ),
        (
            &json!("Redouble"),
            &json!("Admis(e)"),
            &json!("Redouble"),
            &json!("REDOUBLE"),
            &json!("Avertissement (travail)"),
        ),
        "{b}"
    );
    app.run_jobs(ecole_handlers::registry()).await;
    let text = pdftotext(&pdf_bytes(&app, &admin.access, t3).await);
    for expected in [
        "Décision du conseil de classe : Redouble",
        "Doit reprendre l'année.",
        "Avertissement (travail)",
    ] {
        assert!(text.contains(expected), "« {expected} » absent :\n{text}");
    }
    assert!(!text.contains("Admis(e)"), "{text}");
    // Removing every field removes the record (audited too).
    let (s, r) = post(
        &app,
        CONSEIL,
        &direction.access,
        json!({"eleve": p0, "annee_scolaire": school.annee, "periode": "TRIMESTRE_3",
               "appreciation": "", "distinction": null, "decision": null}),
    )
    .await;
    assert_eq!(
        (s, &r["decision"], &r["updated_at"]),
        (200, &Value::Null, &Value::Null)
    );
    let (s, list) = get(
        &app,
        &format!("{CONSEIL}?classe={a}&periode=TRIMESTRE_3"),
        &direction.access,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["decision_calculee"], "ADMIS", "{list}");
    assert_eq!(list[0]["decision"], Value::Null, "{list}");
    generate(&mut conn, a, "TRIMESTRE_3", false).await;
    let b = detail(&app, &admin.access, t3).await;
    assert_eq!(b["annuel"]["decision"], "Admis(e)", "{b}");
}

/// A published bulletin never changes silently: a new appreciation flags it while its PDF
/// and SHA-256 stay as published; a forced regeneration prints it in a new version, keeps
/// the previous one and tells the families.
#[tokio::test]
async fn a_published_bulletin_keeps_its_pdf_until_a_forced_regeneration() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let teacher = &school.teacher;
    let parent = &school.a[0].parent;
    let mut conn = app.conn().await;
    let (p0, a) = (school.a[0].id, school.classe_a);
    grade(&mut conn, &school, (p0, a), "TRIMESTRE_1", "13").await;
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    app.run_jobs(ecole_handlers::registry()).await;
    let publish = json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a});
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/publier/",
        &admin.access,
        publish.clone(),
    )
    .await;
    assert_eq!(s, 200);
    let id = bulletin_id(&mut conn, p0, "TRIMESTRE_1").await;
    let versions = async |app: &TestApp| {
        let (s, v) = get(
            app,
            &format!("/api/v1/bulletins/{id}/versions/"),
            &admin.access,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        v
    };
    let sha_published = versions(&app).await[0]["sha256"].clone();
    let first = pdf_bytes(&app, &parent.access, id).await;
    assert!(!pdftotext(&first).contains("Passable"));

    let (s, _) = post(
        &app,
        APPRECIATIONS,
        &teacher.access,
        appreciation(p0, a, school.math, "Travail sérieux et régulier."),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &app,
        CONSEIL,
        &admin.access,
        json!({"eleve": p0, "annee_scolaire": school.annee, "periode": "TRIMESTRE_1",
               "distinction": "TABLEAU_HONNEUR"}),
    )
    .await;
    assert_eq!(s, 200);
    // Flagged, still published as it was: same detail, same file, same hash.
    let b = detail(&app, &parent.access, id).await;
    assert_eq!(
        (&b["statut"], &b["version"], &b["lignes"][0]["appreciation"]),
        (&json!("PUBLIE"), &json!(1), &json!(""))
    );
    assert_eq!(b["conseil"]["distinction"], Value::Null);
    assert_eq!(detail(&app, &admin.access, id).await["a_recalculer"], true);
    app.run_jobs(ecole_handlers::registry()).await;
    assert_eq!(pdf_bytes(&app, &parent.access, id).await, first);
    assert_eq!(versions(&app).await[0]["sha256"], sha_published);
    // A regeneration without force leaves the published class whole.
    generate(&mut conn, a, "TRIMESTRE_1", false).await;
    assert_eq!(detail(&app, &admin.access, id).await["version"], 1);
    // Forced: version 2 with the texts, version 1 kept, the family told.
    let (s, _) = post(
        &app,
        "/api/v1/bulletins/generer/",
        &admin.access,
        json!({"annee_scolaire": school.annee, "periode": "TRIMESTRE_1", "classe": a,
               "force": true}),
    )
    .await;
    assert_eq!(s, 202);
    app.run_jobs(ecole_handlers::registry()).await;
    let b = detail(&app, &parent.access, id).await;
    assert_eq!(
        (
            &b["statut"],
            &b["version"],
            &b["a_recalculer"],
            &b["lignes"][0]["appreciation"],
            &b["conseil"]["distinction_libelle"]
        ),
        (
            &json!("PUBLIE"),
            &json!(2),
            &json!(false),
            &json!("Travail sérieux et régulier."),
            &json!("Tableau d'honneur")
        ),
        "{b}"
    );
    let text = pdftotext(&pdf_bytes(&app, &parent.access, id).await);
    // The column wraps the text: its words, in order, around the teacher's name.
    assert!(
        text.contains("Travail sérieux") && text.contains("régulier."),
        "{text}"
    );
    assert!(
        text.contains("Distinction ou sanction : Tableau d'honneur"),
        "{text}"
    );
    let v = versions(&app).await;
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v[1]["sha256"], sha_published, "{v}");
    assert_ne!(v[0]["sha256"], sha_published, "{v}");
    app.run_jobs(ecole_handlers::registry()).await;
    let (_, page) = get(&app, "/api/v1/notifications/", &parent.access).await;
    let corrected = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["titre"].as_str().unwrap_or_default().contains("corrigé"))
        .count();
    assert_eq!(corrected, 1, "{page}");
}
