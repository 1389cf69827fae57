//! School structure and daily pedagogy through the API.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_core::Role;
use ecole_db::schema::{audit_log, jobs, notes, presences};
use ecole_test_support::http::{call, get, post};
use ecole_test_support::school::School;
use ecole_test_support::{TestApp, json_of};
use serde_json::{Value, json};

#[tokio::test]
async fn structure_years_periods_classes_subjects() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let (s, y1) = post(
        &app,
        "/api/v1/annees-scolaires/",
        t,
        json!({"nom": "2025-2026", "date_debut": "2025-09-01", "date_fin": "2026-07-15"}),
    )
    .await;
    assert_eq!(s, 201, "{y1}");
    let (s, y2) = post(
        &app,
        "/api/v1/annees-scolaires/",
        t,
        json!({"nom": "2026-2027", "date_debut": "2026-09-01", "date_fin": "2027-07-15"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, e) = post(
        &app,
        "/api/v1/annees-scolaires/",
        t,
        json!({"nom": "2025-2026", "date_debut": "2025-09-01", "date_fin": "2025-08-01"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e.get("nom").is_some() || e.get("date_fin").is_some(), "{e}");
    let (s, e) = post(
        &app,
        "/api/v1/annees-scolaires/",
        t,
        json!({"nom": "2025-2027", "date_debut": "2025-09-01", "date_fin": "2026-08-01"}),
    )
    .await;
    assert_eq!((s, e.get("nom").is_some()), (400, true));

    // Activation switches atomically: one active year.
    let id1 = y1["id"].as_i64().unwrap();
    let id2 = y2["id"].as_i64().unwrap();
    let (s, a) = post(
        &app,
        &format!("/api/v1/annees-scolaires/{id1}/activer/"),
        t,
        json!({}),
    )
    .await;
    assert_eq!((s, a["est_active"].as_bool()), (200, Some(true)));
    post(
        &app,
        &format!("/api/v1/annees-scolaires/{id2}/activer/"),
        t,
        json!({}),
    )
    .await;
    let (_, list) = get(&app, "/api/v1/annees-scolaires/?est_active=true", t).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["id"], id2);

    // Periods: inside the year, no overlap, one system.
    let p = |code: &str, a: &str, b: &str| json!({"annee_scolaire": id1, "code": code, "date_debut": a, "date_fin": b});
    let (s, t1) = post(
        &app,
        "/api/v1/periodes/",
        t,
        p("TRIMESTRE_1", "2025-09-01", "2025-12-20"),
    )
    .await;
    assert_eq!(s, 201, "{t1}");
    assert_eq!(t1["annee_scolaire"], id1);
    let (s, e) = post(
        &app,
        "/api/v1/periodes/",
        t,
        p("TRIMESTRE_2", "2025-12-01", "2026-03-31"),
    )
    .await;
    assert_eq!(s, 400, "chevauchement : {e}");
    let (s, e) = post(
        &app,
        "/api/v1/periodes/",
        t,
        p("SEMESTRE_2", "2026-01-05", "2026-07-01"),
    )
    .await;
    assert_eq!((s, e.get("code").is_some()), (400, true), "{e}");
    let (s, _) = post(
        &app,
        "/api/v1/periodes/",
        t,
        p("TRIMESTRE_2", "2026-01-05", "2026-08-31"),
    )
    .await;
    assert_eq!(s, 400, "hors de l'année");
    let (s, _) = post(
        &app,
        "/api/v1/periodes/",
        t,
        p("TRIMESTRE_1", "2026-01-05", "2026-03-31"),
    )
    .await;
    assert_eq!(s, 400, "doublon");

    // Subjects and classes.
    let (s, m) = post(
        &app,
        "/api/v1/matieres/",
        t,
        json!({"code": "math", "nom": "Mathématiques", "coefficient": 4}),
    )
    .await;
    assert_eq!((s, m["code"].as_str()), (201, Some("MATH")));
    let (s, _) = post(
        &app,
        "/api/v1/matieres/",
        t,
        json!({"code": "MATH", "nom": "Autre"}),
    )
    .await;
    assert_eq!(s, 400);
    let (s, c) = post(
        &app,
        "/api/v1/classes/",
        t,
        json!({"niveau": "CM2", "nom": "CM2 A", "annee_scolaire": id1}),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["bareme"], 10, "primaire : barème 10 par défaut");
    let (s, e) = post(
        &app,
        "/api/v1/classes/",
        t,
        json!({"niveau": "SIXIEME", "nom": "6ème A", "annee_scolaire": id1, "serie": "SM"}),
    )
    .await;
    assert_eq!((s, e.get("serie").is_some()), (400, true));
    let (s, c2) = post(
        &app,
        "/api/v1/classes/",
        t,
        json!({"niveau": "TERMINALE", "serie": "SM", "nom": "Tle SM", "annee_scolaire": id1}),
    )
    .await;
    assert_eq!((s, c2["bareme"].as_i64()), (201, Some(20)));
    let (s, _) = post(
        &app,
        "/api/v1/classes/",
        t,
        json!({"niveau": "CM2", "nom": "CM2 A", "annee_scolaire": id1}),
    )
    .await;
    assert_eq!(s, 400, "nom unique par année");
    let cid = c["id"].as_i64().unwrap();
    let (s, patched) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/classes/{cid}/"),
        t,
        Some(json!({"capacite": 45})),
    )
    .await;
    assert_eq!((s, patched["capacite"].as_i64()), (200, Some(45)));

    // A year in use cannot be deleted.
    let (s, e) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/annees-scolaires/{id1}/"),
        t,
        None,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")));

    // Others read, do not write.
    let parent = app.as_role(Role::Parent).await;
    let (s, _) = get(&app, "/api/v1/matieres/", &parent.access).await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &app,
        "/api/v1/matieres/",
        &parent.access,
        json!({"code": "X", "nom": "X"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &app,
        reqwest::Method::PUT,
        "/api/v1/etablissement/",
        &parent.access,
        Some(json!({"nom": "X"})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, etab) = call(&app, reqwest::Method::PUT, "/api/v1/etablissement/", t, Some(json!({"nom": "Groupe scolaire Kaloum", "devise": "Travail, Justice, Solidarité", "ville": "Conakry"}))).await;
    assert_eq!(
        (s, etab["nom"].as_str()),
        (200, Some("Groupe scolaire Kaloum"))
    );
}

#[tokio::test]
async fn creating_a_pupil_creates_the_account_and_deleting_is_refused_once_graded() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let (s, e) = post(&app, "/api/v1/eleves/", t, json!({
        "username": "fatoumata.bah", "email": "fatoumata@ecole.gn", "password": "Conakry-2026!",
        "first_name": "Fatoumata", "last_name": "Bah", "matricule": "2026/101", "sexe": "F",
        "classe_actuelle": school.classe_a, "date_naissance": "2013-04-02", "lieu_naissance": "Kindia",
        "contact_urgence_nom": "Ibrahima Bah", "contact_urgence_phone": "622 00 00 01", "contact_urgence_relation": "Père"
    })).await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["user"]["role"], "ELEVE");
    assert_eq!(e["user"]["username"], "fatoumata.bah");
    assert!(e["user"].get("password_hash").is_none());
    assert_eq!(e["classe_actuelle"], school.classe_a);
    assert_eq!(e["contact_urgence_phone"], "+224622000001");
    assert_eq!(e["nom_complet"], "Fatoumata Bah");
    // The pupil can sign in.
    let res = app
        .post("/api/v1/auth/login/")
        .json(&json!({"username": "fatoumata.bah", "password": "Conakry-2026!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Bad input: nothing is created, not even the user.
    let (s, err) = post(
        &app,
        "/api/v1/eleves/",
        t,
        json!({
            "username": "x.y", "password": "Conakry-2026!", "first_name": "X", "last_name": "Y",
            "matricule": "2026/101", "sexe": "F", "classe_actuelle": 999999
        }),
    )
    .await;
    assert_eq!(s, 400);
    assert!(err.get("classe_actuelle").is_some(), "{err}");
    let (s, err) = post(&app, "/api/v1/eleves/", t, json!({
        "username": "x.z", "password": "Conakry-2026!", "first_name": "X", "last_name": "Z", "matricule": "2026/101", "sexe": "M"
    })).await;
    assert_eq!((s, err.get("matricule").is_some()), (400, true), "{err}");
    let (_, users) = get(&app, "/api/v1/users/?search=x.", t).await;
    assert_eq!(users["count"], 0);

    // Delete: fine without grades; refused with grades.
    let id = e["id"].as_i64().unwrap();
    let graded = school.a[0].id;
    let (s, _) = post(&app, "/api/v1/notes/", t, json!({
        "eleve": graded, "matiere": school.math, "classe": school.classe_a, "periode": "TRIMESTRE_1",
        "type_note": "DEVOIR", "valeur": 12, "date_evaluation": "2025-10-15"
    })).await;
    assert_eq!(s, 201);
    let (s, body) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/eleves/{graded}/"),
        t,
        None,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (409, Some("conflict")));
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/eleves/{id}/"),
        t,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = get(&app, &format!("/api/v1/eleves/{id}/"), t).await;
    assert_eq!(s, 404);
}

fn note(school: &School, eleve: i64, valeur: f64, sur: f64) -> Value {
    json!({"eleve": eleve, "matiere": school.math, "classe": school.classe_a, "periode": "TRIMESTRE_1",
           "type_note": "DEVOIR", "valeur": valeur, "sur": sur, "date_evaluation": "2025-10-15"})
}

#[tokio::test]
async fn grades_exact_checked_scoped_and_audited() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let teacher = &school.teacher.access;
    // The seed's note_sur_20: 15.5/20 → 15.5; 8/10 → 16.0.
    let (s, n1) = post(
        &app,
        "/api/v1/notes/",
        teacher,
        note(&school, school.a[0].id, 15.5, 20.0),
    )
    .await;
    assert_eq!(s, 201, "{n1}");
    assert_eq!(n1["note_sur_20"], 15.5);
    assert_eq!(n1["valeur"], 15.5);
    assert_eq!(n1["annee_scolaire"], school.annee);
    assert_eq!(n1["saisie_par"], school.teacher.id());
    let (s, n2) = post(
        &app,
        "/api/v1/notes/",
        teacher,
        note(&school, school.a[1].id, 8.0, 10.0),
    )
    .await;
    assert_eq!((s, n2["note_sur_20"].as_f64()), (201, Some(16.0)));

    // Validation.
    let (s, e) = post(
        &app,
        "/api/v1/notes/",
        teacher,
        note(&school, school.a[0].id, 21.0, 20.0),
    )
    .await;
    assert_eq!((s, e.get("valeur").is_some()), (400, true));
    let (s, e) = post(
        &app,
        "/api/v1/notes/",
        teacher,
        note(&school, school.a[0].id, 5.0, 0.0),
    )
    .await;
    assert_eq!((s, e.get("sur").is_some()), (400, true));
    let (s, e) = post(
        &app,
        "/api/v1/notes/",
        teacher,
        note(&school, school.a[0].id, 12.345, 20.0),
    )
    .await;
    assert_eq!((s, e.get("valeur").is_some()), (400, true));
    let (s, e) = post(
        &app,
        "/api/v1/notes/",
        teacher,
        note(&school, school.b[0].id, 12.0, 20.0),
    )
    .await;
    assert_eq!(
        (s, e.get("eleve").is_some()),
        (400, true),
        "élève d'une autre classe : {e}"
    );
    let mut out_of_period = note(&school, school.a[0].id, 12.0, 20.0);
    out_of_period["date_evaluation"] = json!("2026-02-01");
    let (s, e) = post(&app, "/api/v1/notes/", teacher, out_of_period).await;
    assert_eq!((s, e.get("date_evaluation").is_some()), (400, true));

    // A teacher grades only their own (class, subject).
    let mut other_subject = note(&school, school.a[0].id, 12.0, 20.0);
    other_subject["matiere"] = json!(school.francais);
    let (s, _) = post(&app, "/api/v1/notes/", teacher, other_subject).await;
    assert_eq!(s, 403);
    let parent = &school.a[0].parent.access;
    let (s, _) = post(
        &app,
        "/api/v1/notes/",
        parent,
        note(&school, school.a[0].id, 12.0, 20.0),
    )
    .await;
    assert_eq!(s, 403);

    // Update and delete are audited; the parent sees only their child's grades.
    let id = n1["id"].as_i64().unwrap();
    let (s, patched) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/notes/{id}/"),
        teacher,
        Some(json!({"valeur": 16.25})),
    )
    .await;
    assert_eq!((s, patched["note_sur_20"].as_f64()), (200, Some(16.25)));
    let (s, list) = get(&app, "/api/v1/notes/", parent).await;
    assert_eq!((s, list["count"].as_i64()), (200, Some(1)));
    let other = n2["id"].as_i64().unwrap();
    let (s, _) = get(&app, &format!("/api/v1/notes/{other}/"), parent).await;
    assert_eq!(s, 404, "la note d'un autre enfant est introuvable");
    let (_, filtered) = get(
        &app,
        &format!("/api/v1/notes/?eleve={}", school.a[1].id),
        parent,
    )
    .await;
    assert_eq!(filtered["count"], 0);
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/notes/{other}/"),
        teacher,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let comptable = app.as_role(Role::Comptable).await;
    let (s, _) = get(&app, "/api/v1/notes/", &comptable.access).await;
    assert_eq!(s, 403);

    let mut conn = app.conn().await;
    let actions: Vec<String> = audit_log::table
        .filter(audit_log::table_name.eq("notes"))
        .order(audit_log::id)
        .select(audit_log::action)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(actions, ["CREATE", "CREATE", "UPDATE", "DELETE"]);
}

#[tokio::test]
async fn bulk_entry_is_all_or_nothing() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let teacher = &school.teacher.access;
    let lines: Vec<Value> = school
        .a
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"eleve": p.id, "valeur": 10 + i}))
        .collect();
    let body = |lines: Vec<Value>| {
        json!({"classe": school.classe_a, "matiere": school.math, "periode": "TRIMESTRE_1",
        "type_note": "COMPOSITION", "date_evaluation": "2025-12-10", "sur": 20, "notes": lines})
    };
    let mut bad = lines.clone();
    bad.push(json!({"eleve": school.b[0].id, "valeur": 12}));
    let (s, e) = post(&app, "/api/v1/notes/saisie/", teacher, body(bad)).await;
    assert_eq!(s, 400);
    assert!(e.get("notes.3").is_some(), "{e}");
    let mut conn = app.conn().await;
    let n: i64 = notes::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(n, 0);
    let (s, ok) = post(&app, "/api/v1/notes/saisie/", teacher, body(lines)).await;
    assert_eq!(s, 201, "{ok}");
    assert_eq!(ok["count"], 3);
    let n: i64 = notes::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(n, 3);
    let audits: i64 = audit_log::table
        .filter(audit_log::table_name.eq("notes"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(audits, 3);
}

#[tokio::test]
async fn roll_call_upserts_and_absence_alerts_are_asked_once() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    // Today: absence SMS alerts go for today's and yesterday's absences only.
    school.jusqu_a_aujourdhui(&app).await;
    let today = ecole_core::time::today().to_string();
    let teacher = &school.teacher.access;
    let appel = |statuts: [&str; 3]| json!({"classe": school.classe_a, "date": today, "presences": school.a.iter().zip(statuts).map(|(p, s)| json!({"eleve": p.id, "statut": s})).collect::<Vec<_>>()});
    let (s, rows) = post(
        &app,
        "/api/v1/presences/appel/",
        teacher,
        appel(["PRESENT", "ABSENT", "RETARD"]),
    )
    .await;
    assert_eq!(s, 200, "{rows}");
    // Again, then concurrently: still one row per pupil, one alert per absence.
    post(
        &app,
        "/api/v1/presences/appel/",
        teacher,
        appel(["PRESENT", "ABSENT", "PRESENT"]),
    )
    .await;
    let concurrent = (0..4).map(|_| {
        post(
            &app,
            "/api/v1/presences/appel/",
            teacher,
            appel(["ABSENT", "ABSENT", "PRESENT"]),
        )
    });
    for (s, body) in futures_util::future::join_all(concurrent).await {
        assert_eq!(s, 200, "{body}");
    }
    let mut conn = app.conn().await;
    let n: i64 = presences::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let alerts: Vec<Option<String>> = jobs::table
        .filter(jobs::name.eq("communication.envoyer_notification_absence"))
        .select(jobs::dedupe_key)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");

    // Not the teacher's class: 403. A pupil of another class: 400.
    let other = json!({"classe": school.classe_b, "date": today, "presences": [{"eleve": school.b[0].id, "statut": "ABSENT"}]});
    let (s, _) = post(&app, "/api/v1/presences/appel/", teacher, other).await;
    assert_eq!(s, 403);
    let wrong = json!({"classe": school.classe_a, "date": today, "presences": [{"eleve": school.b[0].id, "statut": "ABSENT"}]});
    let (s, _) = post(&app, "/api/v1/presences/appel/", teacher, wrong).await;
    assert_eq!(s, 400);

    // Scopes: a parent sees their child's days only.
    let parent = &school.a[1].parent.access;
    let (_, list) = get(&app, "/api/v1/presences/", parent).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["eleve"], school.a[1].id);
    let (_, list) = get(
        &app,
        &format!("/api/v1/presences/?classe={}&date={today}", school.classe_a),
        teacher,
    )
    .await;
    assert_eq!(list["count"], 3);
}

#[tokio::test]
async fn scopes_hide_what_is_not_yours() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let mine = &school.a[0];
    let theirs = &school.b[0];
    let parent = &mine.parent.access;
    // A parent: their child only, by list, id, filter and nested route.
    let (_, list) = get(&app, "/api/v1/eleves/", parent).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["id"], mine.id);
    assert_eq!(
        get(&app, &format!("/api/v1/eleves/{}/", theirs.id), parent)
            .await
            .0,
        404
    );
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/eleves/?classe={}", school.classe_b),
            parent
        )
        .await
        .1["count"],
        0
    );
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/eleves/{}/parents/", theirs.id),
            parent
        )
        .await
        .0,
        404
    );
    let (s, links) = get(
        &app,
        &format!("/api/v1/eleves/{}/parents/", mine.id),
        parent,
    )
    .await;
    assert_eq!((s, links[0]["lien"].as_str()), (200, Some("MERE")));
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/parents/{}/", theirs.parent_id),
            parent
        )
        .await
        .0,
        404
    );
    let (_, ps) = get(&app, "/api/v1/parents/", parent).await;
    assert_eq!(ps["count"], 1);
    // A pupil: themself.
    let (_, me) = get(&app, "/api/v1/eleves/", &mine.user.access).await;
    assert_eq!(
        (me["count"].as_i64(), me["results"][0]["id"].as_i64()),
        (Some(1), Some(mine.id))
    );
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/eleves/{}/", theirs.id),
            &mine.user.access
        )
        .await
        .0,
        404
    );
    // A teacher: the classes they teach.
    let (_, list) = get(&app, "/api/v1/eleves/", &school.teacher.access).await;
    assert_eq!(list["count"], 2);
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/eleves/{}/", theirs.id),
            &school.teacher.access
        )
        .await
        .0,
        404
    );
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/classes/{}/eleves/", school.classe_a),
            &school.teacher.access
        )
        .await
        .1["count"],
        2
    );
    // Families do not list a class; the library does not read pupils.
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/classes/{}/eleves/", school.classe_a),
            parent
        )
        .await
        .0,
        403
    );
    let librarian = app.as_role(Role::Bibliothecaire).await;
    assert_eq!(get(&app, "/api/v1/eleves/", &librarian.access).await.0, 403);
    // The accountant reads every pupil; search by name and matricule.
    let comptable = app.as_role(Role::Comptable).await;
    assert_eq!(
        get(&app, "/api/v1/eleves/", &comptable.access).await.1["count"],
        4
    );
    assert_eq!(
        get(&app, "/api/v1/eleves/?search=CamaraB1", &comptable.access)
            .await
            .1["count"],
        1
    );
    assert_eq!(
        get(
            &app,
            "/api/v1/eleves/?search=2026%2FA000",
            &comptable.access
        )
        .await
        .1["count"],
        1
    );
    // Writing needs management.
    let (s, _) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/eleves/{}/", mine.id),
        parent,
        Some(json!({"adresse": "Ratoma"})),
    )
    .await;
    assert_eq!(s, 403);
}

const CSV_OK: &str = "matricule;nom;prénom;sexe;date_naissance;classe;parent_nom;parent_prenom;parent_telephone;parent_lien\n\
2026/501;Diallo;Mariama;F;12/03/2013;6ème A;Diallo;Ibrahima;621 11 22 33;PERE\n\
2026/502;Diallo;Alpha;M;2014-05-01;6ème A;Diallo;Ibrahima;+224621112233;PERE\n\
2026/503;Sylla;Hawa;F;;6ème B;Sylla;Fanta;622 00 11 22;MERE\n";

async fn import(
    app: &TestApp,
    token: &str,
    body: Vec<u8>,
    content_type: &str,
    dry_run: bool,
) -> (u16, Value) {
    let url = format!("/api/v1/eleves/import/?dry_run={dry_run}");
    json_of(
        app.post(&url)
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn import_reports_bad_rows_then_imports_once() {
    let app = TestApp::new().await;
    let _school = School::create(&app, 0).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let bad = "matricule,nom,prenom,sexe,classe,parent_telephone,parent_nom\n\
               2026/601,Bah,Oumar,M,6ème A,,\n\
               ,Bah,Sans matricule,F,6ème A,,\n\
               2026/603,Bah,Kadi,X,6ème Z,12,Bah\n\
               2026/601,Bah,Doublon,M,6ème A,,\n";
    let (s, report) = import(&app, t, bad.as_bytes().to_vec(), "text/csv", true).await;
    assert_eq!(s, 400, "{report}");
    let lines: Vec<(i64, &str)> = report["erreurs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["ligne"].as_i64().unwrap(), e["champ"].as_str().unwrap()))
        .collect();
    for expected in [
        (3, "matricule"),
        (4, "sexe"),
        (4, "classe"),
        (4, "parent_telephone"),
        (5, "matricule"),
    ] {
        assert!(
            lines.contains(&expected),
            "{expected:?} absent de {lines:?}"
        );
    }
    let (_, list) = get(&app, "/api/v1/eleves/", t).await;
    assert_eq!(list["count"], 0, "rien n'est écrit");

    // Dry run of a good file: counts, nothing written.
    let (s, report) = import(
        &app,
        t,
        CSV_OK.as_bytes().to_vec(),
        "text/csv; charset=utf-8",
        true,
    )
    .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (report["crees"].as_i64(), report["parents_crees"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(get(&app, "/api/v1/eleves/", t).await.1["count"], 0);

    // The real import, then the same file again: nothing changes.
    let (s, report) = import(&app, t, CSV_OK.as_bytes().to_vec(), "text/csv", false).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (
            report["crees"].as_i64(),
            report["parents_crees"].as_i64(),
            report["liens_crees"].as_i64()
        ),
        (Some(3), Some(2), Some(3))
    );
    let (s, again) = import(&app, t, CSV_OK.as_bytes().to_vec(), "text/csv", false).await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            again["crees"].as_i64(),
            again["inchanges"].as_i64(),
            again["parents_crees"].as_i64(),
            again["liens_crees"].as_i64()
        ),
        (Some(0), Some(3), Some(0), Some(0))
    );
    let (_, list) = get(&app, "/api/v1/eleves/?ordering=matricule", t).await;
    assert_eq!(list["count"], 3);
    assert_eq!(list["results"][0]["user"]["first_name"], "Mariama");
    assert_eq!(list["results"][0]["date_naissance"], "2013-03-12");
    // Siblings share their parent, found by phone number.
    let id = list["results"][0]["id"].as_i64().unwrap();
    let (_, ps) = get(&app, &format!("/api/v1/eleves/{id}/parents/"), t).await;
    assert_eq!(ps[0]["parent"]["user"]["telephone"], "+224621112233");
    assert_eq!(get(&app, "/api/v1/parents/", t).await.1["count"], 2);
    // A changed row is updated.
    let changed = CSV_OK.replace("2026/503;Sylla;Hawa", "2026/503;Sylla;Hawa Binta");
    let (_, report) = import(&app, t, changed.into_bytes(), "text/csv", false).await;
    assert_eq!(
        (report["modifies"].as_i64(), report["inchanges"].as_i64()),
        (Some(1), Some(2))
    );
    // Imported accounts cannot sign in until a password is set.
    let (_, list) = get(&app, "/api/v1/users/?role=ELEVE", t).await;
    let username = list["results"][0]["username"].as_str().unwrap().to_string();
    let res = app
        .post("/api/v1/auth/login/")
        .json(&json!({"username": username, "password": "!import"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Only management imports; other files are refused.
    let teacher = app.as_role(Role::Enseignant).await;
    assert_eq!(
        import(
            &app,
            &teacher.access,
            CSV_OK.as_bytes().to_vec(),
            "text/csv",
            true
        )
        .await
        .0,
        403
    );
    assert_eq!(
        import(&app, t, b"\x89PNG\r\n".to_vec(), "image/png", true)
            .await
            .0,
        415
    );
}

#[tokio::test]
async fn import_of_more_than_a_thousand_homonyms_gives_each_a_username() {
    let app = TestApp::new().await;
    let _school = School::create(&app, 0).await;
    let admin = app.as_admin().await;
    let mut csv = String::from("matricule,nom,prenom,sexe,classe\n");
    for k in 0..1_100 {
        csv.push_str(&format!("H/{k:05},Diallo,Mamadou,M,6ème A\n"));
    }
    let (s, report) = import(&app, &admin.access, csv.into_bytes(), "text/csv", false).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["crees"], 1_100);
    let mut conn = app.conn().await;
    let names: Vec<String> = ecole_db::schema::users::table
        .filter(ecole_db::schema::users::username.like("mamadou.diallo%"))
        .select(ecole_db::schema::users::username)
        .load(&mut conn)
        .await
        .unwrap();
    let distinct: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!((names.len(), distinct.len()), (1_100, 1_100));
    assert!(names.contains(&"mamadou.diallo1099".to_string()));
}

#[tokio::test]
async fn import_xlsx_through_a_multipart_form() {
    let app = TestApp::new().await;
    let _school = School::create(&app, 0).await;
    let admin = app.as_admin().await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows = [
        [
            "Matricule",
            "Nom",
            "Prénom",
            "Sexe",
            "Classe",
            "Parent_Nom",
            "Parent_Telephone",
            "Parent_Lien",
        ],
        [
            "2026/701",
            "Keïta",
            "Sékou",
            "M",
            "6ème B",
            "Keïta",
            "624 55 66 77",
            "MERE",
        ],
        ["2026/702", "Touré", "Néné", "F", "6ème A", "", "", ""],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *value).unwrap();
        }
    }
    let date_format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write_datetime_with_format(
            1,
            8,
            rust_xlsxwriter::ExcelDateTime::from_ymd(2013, 1, 31).unwrap(),
            &date_format,
        )
        .unwrap();
    sheet.write_string(0, 8, "date_naissance").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let form = reqwest::multipart::Form::new().part(
        "fichier",
        reqwest::multipart::Part::bytes(bytes)
            .file_name("eleves.xlsx")
            .mime_str("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .unwrap(),
    );
    let res = app
        .post("/api/v1/eleves/import/")
        .bearer_auth(&admin.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (s, report) = json_of(res).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (report["crees"].as_i64(), report["parents_crees"].as_i64()),
        (Some(2), Some(1))
    );
    let (_, list) = get(&app, "/api/v1/eleves/?search=2026%2F701", &admin.access).await;
    assert_eq!(list["results"][0]["nom_complet"], "Sékou Keïta");
    assert_eq!(list["results"][0]["date_naissance"], "2013-01-31");
}

/// Every endpoint × every role (and anonymous) against one expected table.
#[tokio::test]
async fn every_endpoint_for_every_role() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let direction = app.as_role(Role::Direction).await;
    let comptable = app.as_role(Role::Comptable).await;
    let biblio = app.as_role(Role::Bibliothecaire).await;
    // (label, token); the teacher teaches MATH in class A; the family is pupil a[0]'s.
    let roles: Vec<(&str, String)> = vec![
        ("anonyme", String::new()),
        ("ADMIN", admin.access.clone()),
        ("DIRECTION", direction.access.clone()),
        ("ENSEIGNANT", school.teacher.access.clone()),
        ("COMPTABLE", comptable.access.clone()),
        ("BIBLIOTHECAIRE", biblio.access.clone()),
        ("PARENT", school.a[0].parent.access.clone()),
        ("ELEVE", school.a[0].user.access.clone()),
    ];
    let (a0, b0, ca) = (school.a[0].id, school.b[0].id, school.classe_a);
    let note = json!({"eleve": a0, "matiere": school.math, "classe": ca, "periode": "TRIMESTRE_1", "type_note": "DEVOIR", "valeur": 11, "date_evaluation": "2025-10-01"});
    let (_, n) = post(&app, "/api/v1/notes/", &admin.access, note.clone()).await;
    let note_id = n["id"].as_i64().unwrap();
    let presence = json!({"eleve": a0, "classe": ca, "date": "2025-10-03", "statut": "PRESENT"});
    let (_, p) = post(&app, "/api/v1/presences/", &admin.access, presence.clone()).await;
    let presence_id = p["id"].as_i64().unwrap();
    let (_, ps) = get(&app, "/api/v1/periodes/?code=TRIMESTRE_1", &admin.access).await;
    let periode_id = ps["results"][0]["id"].as_i64().unwrap();
    let (_, es) = get(
        &app,
        &format!("/api/v1/enseignements/?classe={ca}"),
        &admin.access,
    )
    .await;
    let ens_id = es["results"][0]["id"].as_i64().unwrap();
    let (annee, math, pid, tid) = (
        school.annee,
        school.math,
        school.a[0].parent_id,
        school.enseignant_id,
    );
    let new_user = |prefix: &str| json!({"username": format!("{prefix}.matrice"), "password": "Conakry-2026!", "first_name": "Test", "last_name": "Matrice"});
    let mut eleve_body = new_user("eleve");
    eleve_body["matricule"] = json!("2026/999");
    eleve_body["sexe"] = json!("F");
    let mut parent_body = new_user("parent");
    parent_body["profession"] = json!("Commerçante");
    let mut ens_body = new_user("prof");
    ens_body["matricule"] = json!("ENS-999");
    let full_note = json!({"eleve": a0, "matiere": math, "classe": ca, "periode": "TRIMESTRE_1", "type_note": "DEVOIR", "valeur": 13, "date_evaluation": "2025-10-01"});
    let csv = "matricule,nom,prenom,sexe\n2026/998,Bah,Test,M\n";
    let appel = json!({"classe": ca, "date": "2025-10-02", "presences": [{"eleve": a0, "statut": "PRESENT"}]});
    //          anon  ADM  DIR  ENS  CPT  BIB  PAR  ELV
    let table: Vec<(&str, String, Option<Value>, [u16; 8])> = vec![
        (
            "GET",
            "/api/v1/etablissement/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/annees-scolaires/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/periodes/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/classes/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/classes/{}/", school.classe_b),
            None,
            [401, 200, 200, 200, 200, 200, 404, 404],
        ),
        (
            "GET",
            "/api/v1/matieres/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/enseignements/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/eleves/".into(),
            None,
            [401, 200, 200, 200, 200, 403, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/eleves/{a0}/"),
            None,
            [401, 200, 200, 200, 200, 404, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/eleves/{b0}/"),
            None,
            [401, 200, 200, 404, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/v1/eleves/{a0}/parents/"),
            None,
            [401, 200, 200, 200, 200, 404, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/classes/{ca}/eleves/"),
            None,
            [401, 200, 200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/parents/".into(),
            None,
            [401, 200, 200, 403, 200, 403, 200, 403],
        ),
        (
            "GET",
            "/api/v1/enseignants/".into(),
            None,
            [401, 200, 200, 200, 200, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/notes/".into(),
            None,
            [401, 200, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/presences/".into(),
            None,
            [401, 200, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/users/".into(),
            None,
            [401, 200, 200, 403, 403, 200, 403, 403],
        ),
        (
            "POST",
            "/api/v1/notes/".into(),
            Some(note),
            [401, 201, 201, 201, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/presences/appel/".into(),
            Some(appel),
            [401, 200, 200, 200, 403, 403, 403, 403],
        ),
        (
            "PUT",
            "/api/v1/etablissement/".into(),
            Some(json!({"nom": "École test"})),
            [401, 200, 403, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/annees-scolaires/".into(),
            Some(json!({"nom": "2030-2031", "date_debut": "2030-09-01", "date_fin": "2031-07-01"})),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/eleves/{a0}/"),
            Some(json!({"adresse": "Kaloum"})),
            [401, 200, 200, 403, 403, 404, 403, 403],
        ),
        (
            "POST",
            "/api/v1/enseignements/".into(),
            Some(json!({"classe": ca, "matiere": school.francais})),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        // Every other route, read and write, for every role.
        (
            "GET",
            format!("/api/v1/annees-scolaires/{annee}/"),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "PUT",
            format!("/api/v1/annees-scolaires/{annee}/"),
            Some(json!({"nom": "2025-2026", "date_debut": "2025-09-01", "date_fin": "2026-07-15"})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/annees-scolaires/{annee}/"),
            Some(json!({})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "DELETE",
            format!("/api/v1/annees-scolaires/{annee}/"),
            None,
            [401, 409, 409, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            format!("/api/v1/annees-scolaires/{annee}/activer/"),
            Some(json!({})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/periodes/".into(),
            Some(
                json!({"annee_scolaire": annee, "code": "TRIMESTRE_1", "date_debut": "2025-09-01", "date_fin": "2025-12-20"}),
            ),
            [401, 400, 400, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/periodes/{periode_id}/"),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "PUT",
            format!("/api/v1/periodes/{periode_id}/"),
            Some(
                json!({"annee_scolaire": annee, "code": "TRIMESTRE_1", "date_debut": "2025-09-01", "date_fin": "2025-12-20"}),
            ),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/periodes/{periode_id}/"),
            Some(json!({})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/classes/".into(),
            Some(json!({"niveau": "SIXIEME", "nom": "6ème C", "annee_scolaire": annee})),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/classes/{ca}/"),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "PUT",
            format!("/api/v1/classes/{ca}/"),
            Some(json!({"niveau": "SIXIEME", "nom": "6ème A", "annee_scolaire": annee})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/classes/{ca}/"),
            Some(json!({})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "DELETE",
            format!("/api/v1/classes/{ca}/"),
            None,
            [401, 409, 409, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/matieres/".into(),
            Some(json!({"code": "TEST", "nom": "Test"})),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/matieres/{math}/"),
            None,
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "PUT",
            format!("/api/v1/matieres/{math}/"),
            Some(json!({"code": "MATH", "nom": "Mathématiques", "coefficient": 4})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/matieres/{math}/"),
            Some(json!({})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "DELETE",
            format!("/api/v1/matieres/{math}/"),
            None,
            [401, 409, 409, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/enseignements/{ens_id}/"),
            None,
            [401, 200, 200, 200, 200, 200, 404, 404],
        ),
        (
            "PUT",
            format!("/api/v1/enseignements/{ens_id}/"),
            Some(json!({"classe": ca, "matiere": math, "enseignant": tid})),
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/enseignements/{ens_id}/"),
            Some(json!({})),
            [401, 200, 200, 403, 403, 403, 404, 404],
        ),
        (
            "POST",
            "/api/v1/eleves/".into(),
            Some(eleve_body),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        (
            "PUT",
            format!("/api/v1/eleves/{a0}/"),
            Some(json!({"adresse": "Dixinn"})),
            [401, 200, 200, 403, 403, 404, 403, 403],
        ),
        (
            "DELETE",
            format!("/api/v1/eleves/{a0}/"),
            None,
            [401, 409, 409, 403, 403, 404, 403, 403],
        ),
        (
            "POST",
            format!("/api/v1/eleves/{a0}/parents/"),
            Some(json!({"parent": pid, "lien": "MERE"})),
            [401, 201, 201, 403, 403, 404, 403, 403],
        ),
        (
            "POST",
            "/api/v1/parents/".into(),
            Some(parent_body),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/parents/{pid}/"),
            None,
            [401, 200, 200, 404, 200, 404, 200, 404],
        ),
        (
            "PATCH",
            format!("/api/v1/parents/{pid}/"),
            Some(json!({"profession": "Commerçante"})),
            [401, 200, 200, 404, 403, 404, 403, 404],
        ),
        (
            "POST",
            "/api/v1/enseignants/".into(),
            Some(ens_body),
            [401, 201, 400, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/enseignants/{tid}/"),
            None,
            [401, 200, 200, 200, 200, 200, 404, 404],
        ),
        (
            "PATCH",
            format!("/api/v1/enseignants/{tid}/"),
            Some(json!({"specialite": "Mathématiques"})),
            [401, 200, 200, 403, 403, 403, 404, 404],
        ),
        (
            "GET",
            format!("/api/v1/notes/{note_id}/"),
            None,
            [401, 200, 200, 200, 404, 404, 200, 200],
        ),
        (
            "PUT",
            format!("/api/v1/notes/{note_id}/"),
            Some(full_note),
            [401, 200, 200, 200, 404, 404, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/notes/{note_id}/"),
            Some(json!({"valeur": 14})),
            [401, 200, 200, 200, 404, 404, 403, 403],
        ),
        (
            "POST",
            "/api/v1/notes/saisie/".into(),
            Some(
                json!({"classe": ca, "matiere": math, "periode": "TRIMESTRE_1", "type_note": "INTERROGATION", "date_evaluation": "2025-10-06", "notes": [{"eleve": a0, "valeur": 9}]}),
            ),
            [401, 201, 201, 201, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/presences/".into(),
            Some(json!({"eleve": a0, "classe": ca, "date": "2025-10-07", "statut": "RETARD"})),
            [401, 201, 400, 400, 403, 403, 403, 403],
        ),
        (
            "GET",
            format!("/api/v1/presences/{presence_id}/"),
            None,
            [401, 200, 200, 200, 404, 404, 200, 200],
        ),
        (
            "PUT",
            format!("/api/v1/presences/{presence_id}/"),
            Some(presence),
            [401, 200, 200, 200, 404, 404, 403, 403],
        ),
        (
            "PATCH",
            format!("/api/v1/presences/{presence_id}/"),
            Some(json!({"motif": "Pluie"})),
            [401, 200, 200, 200, 404, 404, 403, 403],
        ),
        (
            "POST",
            "/api/v1/eleves/import/?dry_run=true".into(),
            None,
            [401, 200, 200, 403, 403, 403, 403, 403],
        ),
    ];
    let mut deviations = Vec::new();
    for (method, path, body, expected) in &table {
        for (i, (role, token)) in roles.iter().enumerate() {
            let mut req = app.client.request(method.parse().unwrap(), app.url(path));
            if !token.is_empty() {
                req = req.bearer_auth(token);
            }
            if let Some(b) = body {
                req = req.json(b);
            } else if path.contains("/import/") {
                req = req.header("content-type", "text/csv").body(csv);
            }
            let status = req.send().await.unwrap().status().as_u16();
            if status != expected[i] {
                deviations.push(format!(
                    "{method} {path} en {role} : {status} (attendu {})",
                    expected[i]
                ));
            }
        }
    }
    assert!(
        deviations.is_empty(),
        "{} écart(s) :\n{}",
        deviations.len(),
        deviations.join("\n")
    );
}

/// A list costs the same number of queries whatever its page size.
#[tokio::test]
async fn list_query_count_does_not_grow_with_page_size() {
    let app = TestApp::new().await;
    let school = School::create(&app, 6).await;
    let admin = app.as_admin().await;
    let lines: Vec<Value> = school
        .a
        .iter()
        .map(|p| json!({"eleve": p.id, "valeur": 12}))
        .collect();
    let (s, _) = post(&app, "/api/v1/notes/saisie/", &admin.access, json!({"classe": school.classe_a, "matiere": school.math,
        "periode": "TRIMESTRE_1", "type_note": "DEVOIR", "date_evaluation": "2025-10-10", "notes": lines})).await;
    assert_eq!(s, 201);
    let parent = &school.a[0].parent.access;
    for (token, path) in [
        (&admin.access, "/api/v1/eleves/"),
        (&admin.access, "/api/v1/notes/"),
        (&admin.access, "/api/v1/presences/"),
        (&admin.access, "/api/v1/parents/"),
        (&admin.access, "/api/v1/users/"),
        (&admin.access, "/api/v1/classes/"),
        (parent, "/api/v1/eleves/"),
        (parent, "/api/v1/notes/"),
        (&school.teacher.access, "/api/v1/eleves/"),
    ] {
        let mut costs = Vec::new();
        for size in [1, 50] {
            let before = app.state.queries.get();
            let (s, body) = get(&app, &format!("{path}?page_size={size}"), token).await;
            assert_eq!(s, 200, "{path}: {body}");
            costs.push(app.state.queries.get() - before);
        }
        assert_eq!(costs[0], costs[1], "{path} : {costs:?} requêtes");
        assert!(costs[0] <= 4, "{path} : {} requêtes", costs[0]);
    }
}

#[tokio::test]
async fn every_list_orders_and_refuses_unknown_fields() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let (_, m) = get(&app, "/api/v1/matieres/?ordering=-coefficient", t).await;
    assert_eq!(m["results"][0]["code"], "MATH");
    let (_, m) = get(&app, "/api/v1/matieres/?ordering=coefficient", t).await;
    assert_eq!(m["results"][0]["code"], "FRANCAIS");
    let (_, c) = get(&app, "/api/v1/classes/?ordering=-nom", t).await;
    assert_eq!(c["results"][0]["nom"], "6ème B");
    let (_, e) = get(&app, "/api/v1/eleves/?ordering=-matricule", t).await;
    assert_eq!(e["results"][0]["id"], school.b[1].id);
    for path in [
        "matieres",
        "classes",
        "eleves",
        "notes",
        "presences",
        "parents",
        "enseignants",
        "users",
        "annees-scolaires",
    ] {
        let (s, body) = get(&app, &format!("/api/v1/{path}/?ordering=password_hash"), t).await;
        assert_eq!(s, 400, "{path}: {body}");
        assert!(body.get("ordering").is_some(), "{path}: {body}");
    }
}

#[tokio::test]
async fn bulletins_of_a_class_are_computed_in_place_and_respect_publication() {
    use ecole_db::enums::CodePeriode;
    use ecole_db::schema::{bulletin_lignes, bulletins};
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let admin = app.as_admin().await;
    let saisie = |matiere: i64, type_note: &str, values: [f64; 3]| {
        json!({"classe": school.classe_a, "matiere": matiere, "periode": "TRIMESTRE_1", "type_note": type_note,
               "date_evaluation": "2025-11-10", "notes": school.a.iter().zip(values).map(|(p, v)| json!({"eleve": p.id, "valeur": v})).collect::<Vec<_>>()})
    };
    // MATH (coef 4): devoirs 12, 16, 12 ; compositions 12, 10, 12 → 12, 12, 12 ; FRANCAIS not taught in A.
    assert_eq!(
        post(
            &app,
            "/api/v1/notes/saisie/",
            &admin.access,
            saisie(school.math, "DEVOIR", [12.0, 16.0, 12.0])
        )
        .await
        .0,
        201
    );
    assert_eq!(
        post(
            &app,
            "/api/v1/notes/saisie/",
            &admin.access,
            saisie(school.math, "COMPOSITION", [12.0, 10.0, 13.5])
        )
        .await
        .0,
        201
    );
    let appel = json!({"classe": school.classe_a, "date": "2025-11-12", "presences": [
        {"eleve": school.a[0].id, "statut": "ABSENT"}, {"eleve": school.a[1].id, "statut": "RETARD"}, {"eleve": school.a[2].id, "statut": "PRESENT"}]});
    assert_eq!(
        post(&app, "/api/v1/presences/appel/", &admin.access, appel)
            .await
            .0,
        200
    );

    let mut conn = app.conn().await;
    let first = ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        false,
    )
    .await
    .unwrap();
    assert_eq!(first.bulletins.len(), 3);
    let again = ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        false,
    )
    .await
    .unwrap();
    assert_eq!(again.bulletins, first.bulletins, "recalculés sur place");
    let n: i64 = bulletins::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let lines: i64 = bulletin_lignes::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(lines, 3, "une ligne (MATH) par bulletin");

    type Row = (
        i64,
        Option<bigdecimal::BigDecimal>,
        Option<i32>,
        bool,
        i32,
        i32,
        Option<String>,
    );
    let rows: Vec<Row> = bulletins::table
        .order(bulletins::eleve_id)
        .select((
            bulletins::eleve_id,
            bulletins::moyenne_generale,
            bulletins::rang,
            bulletins::ex_aequo,
            bulletins::absences,
            bulletins::retards,
            bulletins::mention,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let d = |s: &str| Some(s.parse::<bigdecimal::BigDecimal>().unwrap());
    // (12 + 2×12)/3 = 12 ; (16 + 2×10)/3 = 12 ; (12 + 2×13.5)/3 = 13
    assert_eq!(rows[0].1, d("12.00"));
    assert_eq!(rows[1].1, d("12.00"));
    assert_eq!(rows[2].1, d("13.00"));
    assert_eq!((rows[2].2, rows[2].3), (Some(1), false));
    assert_eq!(
        (rows[0].2, rows[0].3, rows[1].2, rows[1].3),
        (Some(2), true, Some(2), true)
    );
    assert_eq!((rows[0].4, rows[0].5, rows[1].4, rows[1].5), (1, 0, 0, 1));
    assert_eq!(rows[2].6.as_deref(), Some("Assez bien"));

    // A published bulletin is recomputed only when forced; without force its whole class is
    // left as it is (one ranking per class).
    diesel::update(bulletins::table.filter(bulletins::eleve_id.eq(school.a[2].id)))
        .set(bulletins::statut.eq("PUBLIE"))
        .execute(&mut conn)
        .await
        .unwrap();
    let skipped = ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            skipped.bulletins.len(),
            skipped.publies_ignores,
            skipped.classes_ignorees
        ),
        (0, 1, vec![school.classe_a])
    );
    let forced = ecole_pedagogie::bulletins::generer_classe(
        &mut conn,
        school.classe_a,
        CodePeriode::Trimestre1,
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            forced.bulletins.len(),
            forced.publies_ignores,
            forced.nouvelles_versions
        ),
        (3, 0, 1)
    );
}

#[tokio::test]
async fn a_teacher_with_assignments_is_not_deleted_and_deletions_are_audited() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let (s, body) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/enseignants/{}/", school.enseignant_id),
        t,
        None,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (409, Some("conflict")));
    let (s, parent) = post(&app, "/api/v1/parents/", t, json!({"username": "a.supprimer", "password": "Conakry-2026!", "first_name": "A", "last_name": "Supprimer"})).await;
    assert_eq!(s, 201);
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/parents/{}/", parent["id"]),
        t,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let mut conn = app.conn().await;
    let deleted: i64 = audit_log::table
        .filter(audit_log::table_name.eq("users"))
        .filter(audit_log::action.eq("DELETE"))
        .filter(audit_log::row_id.eq(parent["user"]["id"].as_i64().unwrap()))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
}
