//! Rights that change (issue #16, items 2, 4 and 6): parents linked by phone and name, links
//! audited and removable; attendance within the active year's school days, absence SMS for
//! today and yesterday only and capped per teacher; assignments tied to a school year, and
//! every assignment, link, coefficient and scale change audited.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use ecole_core::Role;
use ecole_db::schema::{
    audit_log, classes, eleve_parents, enseignements, jobs, notifications, presences,
};
use ecole_test_support::http::{call, get, post};
use ecole_test_support::school::School;
use ecole_test_support::{TestApp, json_of};
use serde_json::{Value, json};

const ABSENCE_JOB: &str = "communication.envoyer_notification_absence";

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, reqwest::Method::PATCH, path, token, Some(body)).await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    call(app, reqwest::Method::DELETE, path, token, None).await
}

/// The journal of one table: (action, row, before, after), oldest first.
async fn journal(
    app: &TestApp,
    table: &str,
) -> Vec<(String, Option<i64>, Option<Value>, Option<Value>)> {
    audit_log::table
        .filter(audit_log::table_name.eq(table))
        .order(audit_log::id)
        .select((
            audit_log::action,
            audit_log::row_id,
            audit_log::before,
            audit_log::after,
        ))
        .load(&mut app.conn().await)
        .await
        .unwrap()
}

async fn absence_jobs(app: &TestApp) -> i64 {
    jobs::table
        .filter(jobs::name.eq(ABSENCE_JOB))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

async fn import_csv(app: &TestApp, token: &str, csv: &str, dry_run: bool) -> (u16, Value) {
    json_of(
        app.post(&format!("/api/v1/eleves/import/?dry_run={dry_run}"))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv.as_bytes().to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await
}

// ---------------------------------------------------------------- item 2: parent links

/// ASVS 4.0.3 V4.1.3 (least privilege: users reach only the data they are authorised for)
/// and V4.2.1 (no access to another's records): a phone number is neither unique nor
/// verified, so a parent who holds another family's number must not be linked to that
/// family's child at the next roster import. Before the fix the import linked the pupil to
/// whichever parent had the number (last match wins).
#[tokio::test]
async fn import_links_an_existing_parent_only_when_phone_and_name_match() {
    let app = TestApp::new().await;
    let _school = School::create(&app, 0).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    // Another family's number ends up on this parent's account.
    let (s, pirate) = post(&app, "/api/v1/parents/", t, json!({"username": "pirate.keita", "password": "Pirate-mot-de-passe-2026", "first_name": "Sekou", "last_name": "Keita", "telephone": "+224622334455"})).await;
    assert_eq!(s, 201, "{pirate}");
    let pirate_id = pirate["id"].as_i64().unwrap();
    let pirate_login = app
        .post("/api/v1/auth/login/")
        .json(&json!({"username": "pirate.keita", "password": "Pirate-mot-de-passe-2026"}))
        .send()
        .await
        .unwrap();
    let pirate_token = json_of(pirate_login).await.1["access"]
        .as_str()
        .unwrap()
        .to_string();

    let roster = "matricule,nom,prenom,sexe,classe,parent_nom,parent_prenom,parent_telephone,parent_lien\n\
                  2026/901,Bah,Aminata,F,6ème A,Bah,Fatoumata,622 33 44 55,MERE\n";
    // The dry run: a new parent, and management is told about the number known under
    // another name.
    let (s, dry) = import_csv(&app, t, roster, true).await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(
        dry["parents_crees"], 1,
        "not the holder of the number: {dry}"
    );
    assert_eq!(
        dry["homonymes"][0]["parents_existants"],
        json!([pirate_id]),
        "{dry}"
    );

    let (s, report) = import_csv(&app, t, roster, false).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (
            report["parents_crees"].as_i64(),
            report["liens_crees"].as_i64()
        ),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(
        report["homonymes"],
        json!([{"ligne": 2, "telephone": "+224622334455", "parents_existants": [pirate_id]}])
    );
    // The holder of the number sees nothing of the child.
    let (s, seen) = get(&app, "/api/v1/eleves/", &pirate_token).await;
    assert_eq!((s, seen["count"].as_i64()), (200, Some(0)), "{seen}");
    let eleve = get(&app, "/api/v1/eleves/?search=Aminata", t).await.1["results"][0]["id"]
        .as_i64()
        .unwrap();
    let (_, linked) = get(&app, &format!("/api/v1/eleves/{eleve}/parents/"), t).await;
    assert_eq!(linked.as_array().unwrap().len(), 1, "{linked}");
    assert_eq!(linked[0]["parent"]["nom_complet"], "Fatoumata Bah");
    let fatoumata = linked[0]["parent"]["id"].as_i64().unwrap();
    assert_ne!(fatoumata, pirate_id);

    // A sibling, the parent's name typed differently (case, accents, spaces): same parent,
    // no new homonym.
    let sibling = "matricule,nom,prenom,sexe,classe,parent_nom,parent_prenom,parent_telephone,parent_lien\n\
                   2026/902,Bah,Ousmane,M,6ème A,BAH, fatoumata ,+224622334455,MERE\n";
    let (s, report) = import_csv(&app, t, sibling, false).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (
            report["parents_crees"].as_i64(),
            report["liens_crees"].as_i64(),
            report["homonymes"].as_array().map(Vec::len)
        ),
        (Some(0), Some(1), Some(0)),
        "{report}"
    );
    let (_, children) = get(&app, "/api/v1/eleves/?search=Bah", t).await;
    for child in children["results"].as_array().unwrap() {
        let id = child["id"].as_i64().unwrap();
        let (_, ps) = get(&app, &format!("/api/v1/eleves/{id}/parents/"), t).await;
        assert_eq!(ps[0]["parent"]["id"], fatoumata, "{ps}");
    }
    // ASVS V7.1.4: each link made by an import is in the journal, with who made it.
    let links = journal(&app, "eleve_parents").await;
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(
        links
            .iter()
            .all(|(action, _, before, after)| action == "CREATE"
                && before.is_none()
                && after.as_ref().is_some_and(|a| a["parent"] == fatoumata))
    );
}

/// The import writes set-based: parents it creates are found again by later rows of the same
/// file, homonyms within the file name the parent created for the earlier row, and a parent
/// e-mail already used refuses the file naming its line.
#[tokio::test]
async fn import_reuses_the_parents_it_creates_and_names_the_line_of_a_taken_email() {
    let app = TestApp::new().await;
    let _school = School::create(&app, 0).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let header = "matricule,nom,prenom,sexe,classe,parent_nom,parent_prenom,parent_telephone,parent_email,parent_lien\n";
    let roster = format!(
        "{header}\
         2026/911,Camara,Aissatou,F,6ème A,Camara,Mariama,622 10 20 30,,MERE\n\
         2026/912,Camara,Ibrahima,M,6ème A,CAMARA, mariama ,+224622102030,,MERE\n\
         2026/913,Soumah,Alpha,M,6ème A,Soumah,Kadiatou,622102030,,MERE\n"
    );
    let (s, report) = import_csv(&app, t, &roster, false).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        (
            report["crees"].as_i64(),
            report["parents_crees"].as_i64(),
            report["liens_crees"].as_i64()
        ),
        (Some(3), Some(2), Some(3)),
        "{report}"
    );
    let eleve = |search: &'static str| {
        let app = &app;
        async move {
            let id = get(app, &format!("/api/v1/eleves/?search={search}"), t)
                .await
                .1["results"][0]["id"]
                .as_i64()
                .unwrap();
            get(app, &format!("/api/v1/eleves/{id}/parents/"), t)
                .await
                .1[0]["parent"]["id"]
                .as_i64()
                .unwrap()
        }
    };
    let (aissatou, ibrahima, alpha) = (
        eleve("Aissatou").await,
        eleve("Ibrahima").await,
        eleve("Alpha").await,
    );
    assert_eq!(aissatou, ibrahima, "one mother for both Camara children");
    assert_ne!(alpha, aissatou);
    assert_eq!(
        report["homonymes"],
        json!([{"ligne": 4, "telephone": "+224622102030", "parents_existants": [aissatou]}])
    );
    assert_eq!(journal(&app, "eleve_parents").await.len(), 3);

    // A new parent whose e-mail is an account's: refused, line named, nothing written.
    let (s, taken) = post(&app, "/api/v1/parents/", t, json!({"username": "oumou.sow", "password": "Oumou-mot-de-passe-2026", "first_name": "Oumou", "last_name": "Sow", "email": "oumou@example.gn"})).await;
    assert_eq!(s, 201, "{taken}");
    let clash = format!(
        "{header}\
         2026/921,Diallo,Mamadou,M,6ème A,Diallo,Hawa,623 00 00 01,,MERE\n\
         2026/922,Sow,Fanta,F,6ème A,Sow,Oumou,623 00 00 02,OUMOU@example.gn,MERE\n"
    );
    let (s, refused) = import_csv(&app, t, &clash, false).await;
    assert_eq!(s, 400, "{refused}");
    assert!(refused.to_string().contains("Ligne 3 :"), "{refused}");
    let (_, none) = get(&app, "/api/v1/eleves/?search=Mamadou", t).await;
    assert_eq!(none["count"], 0, "{none}");
}

/// ASVS 4.0.3 V4.1.3 (a right can be withdrawn) and V7.1.3/V7.1.4 (security-relevant changes
/// are logged with who and what): `DELETE eleves/<id>/parents/<parent_id>/` ends a parent's
/// access to the child, management only, and every link, change of link and unlink writes a
/// journal row. Before the fix the route did not exist and links were not journaled.
#[tokio::test]
async fn parent_links_are_audited_and_can_be_removed_by_management_only() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let a0 = &school.a[0];
    let (s, tuteur) = post(&app, "/api/v1/parents/", t, json!({"username": "tuteur.sow", "password": "Tuteur-mot-de-passe-2026", "first_name": "Alpha", "last_name": "Sow"})).await;
    assert_eq!(s, 201, "{tuteur}");
    let tuteur = tuteur["id"].as_i64().unwrap();
    let liens = format!("/api/v1/eleves/{}/parents/", a0.id);

    let (s, b) = post(&app, &liens, t, json!({"parent": tuteur, "lien": "TUTEUR"})).await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = post(&app, &liens, t, json!({"parent": tuteur, "lien": "PERE"})).await;
    assert_eq!(s, 201);
    let (s, _) = post(&app, &liens, t, json!({"parent": tuteur, "lien": "PERE"})).await;
    assert_eq!(s, 201);
    let rows = journal(&app, "eleve_parents").await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        ["CREATE", "UPDATE"],
        "sent again unchanged: no row"
    );
    assert_eq!(
        (
            rows[1].2.as_ref().unwrap()["lien"].as_str(),
            rows[1].3.as_ref().unwrap()["lien"].as_str()
        ),
        (Some("TUTEUR"), Some("PERE"))
    );

    // Only management unlinks; a pupil outside one's scope is not found.
    let unlink = format!("/api/v1/eleves/{}/parents/{}/", a0.id, a0.parent_id);
    for (who, expected) in [
        (&school.teacher.access, 403),
        (&a0.parent.access, 403),
        (&app.as_role(Role::Comptable).await.access, 403),
        (&school.b[0].parent.access, 404),
    ] {
        assert_eq!(delete(&app, &unlink, who).await.0, expected);
    }
    let child = format!("/api/v1/eleves/{}/", a0.id);
    assert_eq!(get(&app, &child, &a0.parent.access).await.0, 200);
    let (s, b) = delete(&app, &unlink, t).await;
    assert_eq!(s, 204, "{b}");
    // The parent no longer sees the child; unlinking again: not found.
    assert_eq!(get(&app, &child, &a0.parent.access).await.0, 404);
    assert_eq!(delete(&app, &unlink, t).await.0, 404);
    assert_eq!(
        delete(&app, &format!("/api/v1/eleves/{}/parents/abc/", a0.id), t)
            .await
            .0,
        404
    );
    let rows = journal(&app, "eleve_parents").await;
    let last = rows.last().unwrap();
    assert_eq!(last.0, "DELETE");
    assert_eq!(
        last.2.as_ref().unwrap()["parent"].as_i64(),
        Some(a0.parent_id)
    );
    let who: Option<i64> = audit_log::table
        .filter(audit_log::table_name.eq("eleve_parents"))
        .order(audit_log::id.desc())
        .select(audit_log::user_id)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(who, Some(admin.id()));

    // Deleting a parent takes their links along, journaled too.
    let (s, _) = delete(&app, &format!("/api/v1/parents/{tuteur}/"), t).await;
    assert_eq!(s, 204);
    let remaining: i64 = eleve_parents::table
        .filter(eleve_parents::parent_id.eq(tuteur))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(remaining, 0);
    let rows = journal(&app, "eleve_parents").await;
    assert_eq!(rows.last().unwrap().0, "DELETE");
    assert_eq!(rows.last().unwrap().2.as_ref().unwrap()["parent"], tuteur);
}

// ---------------------------------------------------------------- item 4: attendance

/// ASVS 4.0.3 V5.1.4 (structured data validated, related fields reasonable) and V11.1.4
/// (anti-automation against excessive business requests): a roll call for 2090-01-01,
/// 2090-01-02… made a new ABSENT row each, and each sent SMS to every parent. A date must be
/// in the active school year, on a school day, not in the future; anything else is a 400
/// that writes nothing. Before the fix every one of these dates was accepted.
#[tokio::test]
async fn attendance_dates_stay_in_the_active_year_on_school_days_and_not_in_the_future() {
    let app = TestApp::with_settings(|s| {
        // Monday to Saturday, as in production.
        s.jours_de_classe = [true, true, true, true, true, true, false];
    })
    .await;
    let school = School::create(&app, 2).await;
    let teacher = &school.teacher.access;
    let appel = |date: &str| json!({"classe": school.classe_a, "date": date, "presences": school.a.iter().map(|p| json!({"eleve": p.id, "statut": "ABSENT"})).collect::<Vec<_>>()});
    for (date, needle) in [
        ("2090-01-02", "future"),
        ("2090-01-03", "future"),
        ("2024-10-07", "année scolaire active"),
        ("2025-10-05", "dimanche"),
    ] {
        let (s, b) = post(&app, "/api/v1/presences/appel/", teacher, appel(date)).await;
        assert_eq!(s, 400, "{date} : {b}");
        assert!(
            b["date"][0].as_str().unwrap().contains(needle),
            "{date} : {b}"
        );
        let one = json!({"eleve": school.a[0].id, "classe": school.classe_a, "date": date, "statut": "ABSENT"});
        let (s, b) = post(&app, "/api/v1/presences/", teacher, one).await;
        assert_eq!(s, 400, "{date} : {b}");
    }
    let written: i64 = presences::table
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!((written, absence_jobs(&app).await), (0, 0));

    // A school day of the year is taken; moving it to the future is refused.
    let (s, rows) = post(
        &app,
        "/api/v1/presences/appel/",
        teacher,
        appel("2025-10-06"),
    )
    .await;
    assert_eq!(s, 200, "{rows}");
    let id = rows[0]["id"].as_i64().unwrap();
    let (s, b) = patch(
        &app,
        &format!("/api/v1/presences/{id}/"),
        teacher,
        json!({"date": "2090-01-02"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (_, row) = get(&app, &format!("/api/v1/presences/{id}/"), teacher).await;
    assert_eq!(row["date"], "2025-10-06");

    // Without an active year, no roll call.
    diesel::update(ecole_db::schema::annees_scolaires::table)
        .set(ecole_db::schema::annees_scolaires::est_active.eq(false))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let admin = app.as_admin().await;
    let (s, b) = post(
        &app,
        "/api/v1/presences/appel/",
        &admin.access,
        appel("2025-10-07"),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["date"][0].as_str().unwrap().contains("active"), "{b}");
}

/// ASVS 4.0.3 V11.1.4 (anti-automation: excessive business requests): an absence recorded
/// for an old day sends no immediate SMS, whether the roll call asks for it or the job is
/// queued by hand; today's and yesterday's do. Before the fix any date queued the SMS job.
#[tokio::test]
async fn absence_sms_go_for_today_and_yesterday_only() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    school.jusqu_a_aujourdhui(&app).await;
    let admin = app.as_admin().await;
    let today = ecole_core::time::today();
    let yesterday = today.pred_opt().unwrap();
    let [p0, p1, p2] = [0, 1, 2].map(|i| school.a[i].id);
    for (eleve, date) in [
        (p0, "2025-10-20".to_string()),
        (p1, today.to_string()),
        (p2, yesterday.to_string()),
    ] {
        let body = json!({"classe": school.classe_a, "date": date, "presences": [{"eleve": eleve, "statut": "ABSENT"}]});
        let (s, b) = post(&app, "/api/v1/presences/appel/", &admin.access, body).await;
        assert_eq!(s, 200, "{date} : {b}");
    }
    let asked: Vec<Value> = jobs::table
        .filter(jobs::name.eq(ABSENCE_JOB))
        .select(jobs::payload)
        .order(jobs::id)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    let old: i64 = presences::table
        .filter(presences::eleve_id.eq(p0))
        .select(presences::id)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.iter().all(|p| p["presence_id"] != old), "{asked:?}");

    // Queued by hand for the old day (operators' `jobs/`): the job sends nothing.
    let mut conn = app.conn().await;
    ecole_jobs::enqueue(
        &mut conn,
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::EnvoyerNotificationAbsence {
            presence_id: old,
        })
        .unwrap(),
    )
    .await
    .unwrap();
    app.run_jobs(ecole_handlers::registry()).await;
    let notified: Vec<i64> = notifications::table
        .select(notifications::utilisateur_id)
        .order(notifications::utilisateur_id)
        .load(&mut conn)
        .await
        .unwrap();
    let mut expected = vec![school.a[1].parent.id(), school.a[2].parent.id()];
    expected.sort_unstable();
    assert_eq!(notified, expected);
}

/// ASVS 4.0.3 V11.1.4 (anti-automation) and V7.1.3 (the event is reported): one teacher's
/// roll calls trigger at most `ABSENCES_SMS_MAX_PAR_ENSEIGNANT` immediate absence alerts a
/// day; past the cap the rows are saved, the alert waits for the 17:00 round-up, and every
/// administrator is told once. Management is not capped. Before the fix every absence
/// queued its SMS.
#[tokio::test]
async fn a_teachers_absence_sms_are_capped_per_day_and_the_admins_alerted_once() {
    let app = TestApp::with_settings(|s| s.absences_sms_max_par_enseignant = 2).await;
    let school = School::create(&app, 3).await;
    school.jusqu_a_aujourdhui(&app).await;
    let admin = app.as_admin().await;
    let today = ecole_core::time::today();
    let appel = |classe: i64, pupils: &[ecole_test_support::school::Pupil], date: String| json!({"classe": classe, "date": date, "presences": pupils.iter().map(|p| json!({"eleve": p.id, "statut": "ABSENT"})).collect::<Vec<_>>()});
    let teacher = &school.teacher.access;
    let (s, rows) = post(
        &app,
        "/api/v1/presences/appel/",
        teacher,
        appel(school.classe_a, &school.a, today.to_string()),
    )
    .await;
    assert_eq!(s, 200, "{rows}");
    assert_eq!(
        rows.as_array().unwrap().len(),
        3,
        "every absence is recorded"
    );
    assert_eq!(absence_jobs(&app).await, 2);
    // Again, and for yesterday: nothing more, and still one alert per administrator.
    for date in [today, today.pred_opt().unwrap()] {
        let (s, b) = post(
            &app,
            "/api/v1/presences/appel/",
            teacher,
            appel(school.classe_a, &school.a, date.to_string()),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    assert_eq!(absence_jobs(&app).await, 2);
    let alerts: Vec<(i64, String, bool, bool)> = notifications::table
        .filter(notifications::titre.like("Plafond%"))
        .select((
            notifications::utilisateur_id,
            notifications::message,
            notifications::envoyer_par_email,
            notifications::envoyer_par_sms,
        ))
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, admin.id());
    assert!(
        alerts[0].1.contains("Alpha Condé") && alerts[0].1.contains("2 alertes"),
        "{}",
        alerts[0].1
    );
    assert_eq!(
        (alerts[0].2, alerts[0].3),
        (true, false),
        "e-mail, never SMS"
    );
    // Management's roll calls are not capped.
    let (s, b) = post(
        &app,
        "/api/v1/presences/appel/",
        &admin.access,
        appel(school.classe_b, &school.b, today.to_string()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(absence_jobs(&app).await, 5);
}

/// ASVS 4.0.3 V7.1.3/V7.1.4 (changes logged with who, when, before and after): attendance
/// decides absence SMS and bulletin counts; every created, changed or deleted row writes a
/// journal row, a roll call sent again unchanged writes none. Before the fix: no row.
#[tokio::test]
async fn attendance_changes_are_audited() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let teacher = &school.teacher;
    let appel = |statuts: [&str; 2]| json!({"classe": school.classe_a, "date": "2025-10-06", "presences": school.a.iter().zip(statuts).map(|(p, s)| json!({"eleve": p.id, "statut": s})).collect::<Vec<_>>()});
    let (s, rows) = post(
        &app,
        "/api/v1/presences/appel/",
        &teacher.access,
        appel(["PRESENT", "ABSENT"]),
    )
    .await;
    assert_eq!(s, 200, "{rows}");
    post(
        &app,
        "/api/v1/presences/appel/",
        &teacher.access,
        appel(["PRESENT", "ABSENT"]),
    )
    .await;
    post(
        &app,
        "/api/v1/presences/appel/",
        &teacher.access,
        appel(["RETARD", "ABSENT"]),
    )
    .await;
    let id = rows[1]["id"].as_i64().unwrap();
    let (s, _) = patch(
        &app,
        &format!("/api/v1/presences/{id}/"),
        &teacher.access,
        json!({"statut": "EXCUSE", "motif": "Malade"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = delete(&app, &format!("/api/v1/presences/{id}/"), &teacher.access).await;
    assert_eq!(s, 204);
    let rows = journal(&app, "presences").await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        ["CREATE", "CREATE", "UPDATE", "UPDATE", "DELETE"],
        "{rows:?}"
    );
    assert_eq!(rows[2].2.as_ref().unwrap()["statut"], "PRESENT");
    assert_eq!(rows[2].3.as_ref().unwrap()["statut"], "RETARD");
    assert_eq!(rows[3].3.as_ref().unwrap()["motif"], "Malade");
    assert_eq!(rows[4].2.as_ref().unwrap()["statut"], "EXCUSE");
    let authors: Vec<Option<i64>> = audit_log::table
        .filter(audit_log::table_name.eq("presences"))
        .select(audit_log::user_id)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert!(authors.iter().all(|a| *a == Some(teacher.id())));
}

// ---------------------------------------------------------------- item 6: years and audit

/// ASVS 4.0.3 V4.1.3 (least privilege) and V4.1.5 (access controls fail securely): an
/// assignment belongs to its class's school year and grants grade writes (and roll calls)
/// in the active year only; last year's class stays readable. Before the fix a teacher kept
/// writing grades in last year's classes.
#[tokio::test]
async fn assignments_belong_to_a_year_and_grant_writes_in_the_active_year_only() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let teacher = &school.teacher.access;
    let a0 = school.a[0].id;
    let note = |date: &str| json!({"eleve": a0, "matiere": school.math, "classe": school.classe_a, "periode": "TRIMESTRE_1", "type_note": "DEVOIR", "valeur": 12, "date_evaluation": date});
    let (s, b) = post(&app, "/api/v1/notes/", teacher, note("2025-10-01")).await;
    assert_eq!(s, 201, "{b}");

    // The next year starts: the teacher's 2025-2026 assignment no longer grants writes.
    let (s, next) = post(
        &app,
        "/api/v1/annees-scolaires/",
        t,
        json!({"nom": "2026-2027", "date_debut": "2026-09-01", "date_fin": "2027-07-15"}),
    )
    .await;
    assert_eq!(s, 201, "{next}");
    let next = next["id"].as_i64().unwrap();
    let (s, _) = post(
        &app,
        &format!("/api/v1/annees-scolaires/{next}/activer/"),
        t,
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, b) = post(&app, "/api/v1/notes/", teacher, note("2025-10-02")).await;
    assert_eq!(s, 403, "{b}");
    let roll = json!({"classe": school.classe_a, "date": "2025-10-06", "presences": [{"eleve": a0, "statut": "PRESENT"}]});
    assert_eq!(
        post(&app, "/api/v1/presences/appel/", teacher, roll)
            .await
            .0,
        403
    );
    // Reading last year's grades is still allowed; management still corrects them.
    let (s, list) = get(
        &app,
        &format!("/api/v1/notes/?classe={}", school.classe_a),
        teacher,
    )
    .await;
    assert_eq!((s, list["count"].as_i64()), (200, Some(1)));
    assert_eq!(
        post(&app, "/api/v1/notes/", t, note("2025-10-02")).await.0,
        201
    );
    let (_, ens) = get(
        &app,
        &format!("/api/v1/enseignements/?classe={}", school.classe_a),
        t,
    )
    .await;
    assert_eq!(ens["results"][0]["annee_scolaire"], school.annee, "{ens}");

    // An assignment in the new year's class grants writes there; its year is the class's.
    let (s, c) = post(
        &app,
        "/api/v1/classes/",
        t,
        json!({"niveau": "SEPTIEME", "nom": "7ème A", "annee_scolaire": next}),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let c = c["id"].as_i64().unwrap();
    let (s, b) = post(&app, "/api/v1/enseignements/", t, json!({"classe": c, "matiere": school.math, "enseignant": school.enseignant_id, "annee_scolaire": school.annee})).await;
    assert_eq!(s, 400, "a year other than the class's: {b}");
    assert!(b.get("annee_scolaire").is_some(), "{b}");
    let (s, e) = post(
        &app,
        "/api/v1/enseignements/",
        t,
        json!({"classe": c, "matiere": school.math, "enseignant": school.enseignant_id}),
    )
    .await;
    assert_eq!((s, e["annee_scolaire"].as_i64()), (201, Some(next)), "{e}");
    let (_, this_year) = get(
        &app,
        &format!("/api/v1/enseignements/?annee_scolaire={next}"),
        t,
    )
    .await;
    assert_eq!(this_year["count"], 1);
    diesel::update(ecole_db::schema::eleves::table.find(a0))
        .set(ecole_db::schema::eleves::classe_actuelle_id.eq(c))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let (s, b) = post(&app, "/api/v1/periodes/", t, json!({"annee_scolaire": next, "code": "TRIMESTRE_1", "date_debut": "2026-09-01", "date_fin": "2026-12-19"})).await;
    assert_eq!(s, 201, "{b}");
    let grade = json!({"eleve": a0, "matiere": school.math, "classe": c, "periode": "TRIMESTRE_1", "type_note": "DEVOIR", "valeur": 14, "date_evaluation": "2026-10-01"});
    let (s, b) = post(&app, "/api/v1/notes/", teacher, grade).await;
    assert_eq!(s, 201, "{b}");

    // A class moved to another year takes its assignments along.
    diesel::update(classes::table.find(c))
        .set(classes::annee_scolaire_id.eq(school.annee))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let year: i64 = enseignements::table
        .filter(enseignements::classe_id.eq(c))
        .select(enseignements::annee_scolaire_id)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(year, school.annee);
}

/// The migration gives each existing assignment its class's year.
#[tokio::test]
async fn the_migration_gives_existing_assignments_their_class_year() {
    let app = TestApp::new().await;
    let school = School::create(&app, 0).await;
    let mut conn = app.conn().await;
    conn.batch_execute(include_str!(
        "../../../../migrations/2026-12-08-020000_enseignements_annee/down.sql"
    ))
    .await
    .unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO enseignements (classe_id, matiere_id) VALUES ({}, {})",
        school.classe_b, school.francais
    ))
    .await
    .unwrap();
    conn.batch_execute(include_str!(
        "../../../../migrations/2026-12-08-020000_enseignements_annee/up.sql"
    ))
    .await
    .unwrap();
    let years: Vec<(i64, i64)> = enseignements::table
        .inner_join(classes::table)
        .select((enseignements::annee_scolaire_id, classes::annee_scolaire_id))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(years.len(), 2);
    assert!(years.iter().all(|(e, c)| e == c), "{years:?}");
}

/// ASVS 4.0.3 V7.1.3/V7.1.4 (changes logged with who, before and after): an assignment grants
/// grade writes, a coefficient or a class's scale moves every average. Each change writes a
/// journal row. Before the fix none did.
#[tokio::test]
async fn assignment_coefficient_and_scale_changes_are_audited() {
    let app = TestApp::new().await;
    let school = School::create(&app, 0).await;
    let admin = app.as_admin().await;
    let t = &admin.access;
    let (s, e) = post(&app, "/api/v1/enseignements/", t, json!({"classe": school.classe_b, "matiere": school.francais, "enseignant": school.enseignant_id})).await;
    assert_eq!(s, 201, "{e}");
    let id = e["id"].as_i64().unwrap();
    let (s, _) = patch(
        &app,
        &format!("/api/v1/enseignements/{id}/"),
        t,
        json!({"coefficient": 3}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = delete(&app, &format!("/api/v1/enseignements/{id}/"), t).await;
    assert_eq!(s, 204);
    let rows = journal(&app, "enseignements").await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["CREATE", "UPDATE", "DELETE"]);
    assert!(rows.iter().all(|r| r.1 == Some(id)));
    assert_eq!(
        rows[0].3.as_ref().unwrap()["enseignant"],
        school.enseignant_id
    );
    assert_eq!(
        (
            rows[1].2.as_ref().unwrap()["coefficient"].clone(),
            rows[1].3.as_ref().unwrap()["coefficient"].clone()
        ),
        (Value::Null, json!(3))
    );

    // One journal row each: (action, field before, field after).
    for (path, table, field, body, expected) in [
        (
            format!("/api/v1/matieres/{}/", school.math),
            "matieres",
            "coefficient",
            json!({"coefficient": 5}),
            (4, 5),
        ),
        (
            format!("/api/v1/classes/{}/", school.classe_a),
            "classes",
            "bareme",
            json!({"bareme": 10}),
            (20, 10),
        ),
    ] {
        let (s, b) = patch(&app, &path, t, body).await;
        assert_eq!(s, 200, "{b}");
        let rows = journal(&app, table).await;
        assert_eq!(rows.len(), 1, "{table}");
        let (action, _, before, after) = &rows[0];
        assert_eq!(
            (
                action.as_str(),
                before.as_ref().unwrap()[field].as_i64(),
                after.as_ref().unwrap()[field].as_i64()
            ),
            ("UPDATE", Some(expected.0), Some(expected.1)),
            "{table}"
        );
    }
    let authors: Vec<Option<i64>> = audit_log::table
        .filter(audit_log::table_name.eq_any(["enseignements", "matieres", "classes"]))
        .select(audit_log::user_id)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert!(authors.iter().all(|a| *a == Some(admin.id())));
}
