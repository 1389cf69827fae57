//! The library end to end against the real app and PostgreSQL: ISBN checks, the catalogue's
//! search and copy counts, the loan rules, concurrent lending of one copy, returns and
//! penalties, overdue reminders, the catalogue import and who sees what.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_bibliotheque::Regles;
use ecole_core::Role;
use ecole_db::schema::{eleves, emprunts, exemplaires, livres, notifications};
use ecole_test_support::http::{call, get, post};
use ecole_test_support::school::School;
use ecole_test_support::{TestApp, TestUser, json_of};
use serde_json::{Value, json};

// ---------- helpers ----------

fn today() -> NaiveDate {
    ecole_core::time::today()
}

fn days_ago(n: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(n)).unwrap()
}

fn in_days(n: u64) -> NaiveDate {
    today().checked_add_days(Days::new(n)).unwrap()
}

async fn bibliothecaire(app: &TestApp) -> TestUser {
    app.user()
        .role(Role::Bibliothecaire)
        .names("Kadiatou", "Sow")
        .create()
        .await
}

/// A book with `copies` copies: its id and its copies' ids.
async fn livre(app: &TestApp, token: &str, titre: &str, copies: u32) -> (i64, Vec<i64>) {
    let (s, l) = post(
        app,
        "/api/v1/livres/",
        token,
        json!({"titre": titre, "auteur": "Camara Laye", "categorie": "Roman", "nombre_exemplaires": copies}),
    )
    .await;
    assert_eq!(s, 201, "{l}");
    let id = l["id"].as_i64().unwrap();
    let (_, list) = get(app, &format!("/api/v1/exemplaires/?livre={id}"), token).await;
    let ids = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    (id, ids)
}

async fn preter(app: &TestApp, token: &str, exemplaire: i64, emprunteur: i64) -> (u16, Value) {
    post(
        app,
        "/api/v1/emprunts/",
        token,
        json!({"exemplaire": exemplaire, "emprunteur": emprunteur}),
    )
    .await
}

/// Moves a loan into the past: lent `lent` days ago, due `due` days ago.
async fn antidater(app: &TestApp, emprunt: i64, lent: u64, due: u64) {
    let mut conn = app.conn().await;
    diesel::update(emprunts::table.find(emprunt))
        .set((
            emprunts::date_emprunt.eq(days_ago(lent)),
            emprunts::date_retour_prevue.eq(days_ago(due)),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn field_error(body: &Value, field: &str) -> String {
    body[field][0]
        .as_str()
        .unwrap_or_else(|| panic!("pas d'erreur sur {field} : {body}"))
        .to_string()
}

// ---------- ISBN ----------

#[tokio::test]
async fn isbn_is_checked_stored_as_isbn13_and_unique() {
    let app = TestApp::new().await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    // ISBN-13 with hyphens.
    let (s, l) = post(
        &app,
        "/api/v1/livres/",
        t,
        json!({"titre": "L'Enfant noir", "isbn": "978-2-266-16118-3"}),
    )
    .await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["isbn"], "9782266161183");
    assert_eq!(l["exemplaires_total"], 0);
    // ISBN-10 with hyphens and an X check digit: stored as its ISBN-13.
    let (s, l) = post(
        &app,
        "/api/v1/livres/",
        t,
        json!({"titre": "Les Soleils des indépendances", "isbn": "2-07-036822-X"}),
    )
    .await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["isbn"], "9782070368228");
    let id = l["id"].as_i64().unwrap();
    // Plain ISBN-10 digits.
    let (s, l) = post(
        &app,
        "/api/v1/livres/",
        t,
        json!({"titre": "Sans tirets", "isbn": "0306406152"}),
    )
    .await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["isbn"], "9780306406157");
    // Invalid: a wrong check digit (10 and 13), a wrong length, letters, a wrong prefix.
    for bad in [
        "978-2-266-16118-4",
        "2-07-036822-9",
        "978-2-266-1611",
        "ISBN 978-2-266-16118-3",
        "977-2-266-16118-3",
    ] {
        let (s, e) = post(
            &app,
            "/api/v1/livres/",
            t,
            json!({"titre": "Refusé", "isbn": bad}),
        )
        .await;
        assert_eq!(s, 400, "{bad} : {e}");
        assert!(field_error(&e, "isbn").contains("ISBN"), "{e}");
    }
    // The same book under its ISBN-13 form: refused, by field.
    let (s, e) = post(
        &app,
        "/api/v1/livres/",
        t,
        json!({"titre": "Doublon", "isbn": "9782070368228"}),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(field_error(&e, "isbn").contains("déjà"), "{e}");
    // Nothing refused was written.
    let mut conn = app.conn().await;
    let n: i64 = livres::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(n, 3);
    // Without ISBN twice is fine; PATCH null removes one; an invalid one in PATCH is refused.
    for _ in 0..2 {
        assert_eq!(
            post(&app, "/api/v1/livres/", t, json!({"titre": "Cahier"}))
                .await
                .0,
            201
        );
    }
    let path = format!("/api/v1/livres/{id}/");
    let (s, l) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        t,
        Some(json!({"isbn": null})),
    )
    .await;
    assert_eq!((s, l["isbn"].clone()), (200, Value::Null), "{l}");
    let (s, e) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        t,
        Some(json!({"isbn": "123"})),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = post(&app, "/api/v1/livres/", t, json!({"titre": "  "})).await;
    assert_eq!(s, 400);
    assert!(e["titre"].is_array());
}

// ---------- catalogue ----------

#[tokio::test]
async fn search_category_ordering_and_copy_counts() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    for (titre, auteur, isbn, categorie, copies) in [
        (
            "Les Misérables",
            "Victor Hugo",
            Some("978-2-07-040922-8"),
            "Roman",
            3,
        ),
        ("Notre-Dame de Paris", "Victor Hugo", None, "Roman", 1),
        ("L'Œuvre au noir", "Marguerite Yourcenar", None, "Roman", 0),
        ("Précis de mathématiques", "Collectif", None, "Sciences", 2),
    ] {
        let (s, l) = post(
            &app,
            "/api/v1/livres/",
            t,
            json!({"titre": titre, "auteur": auteur, "isbn": isbn, "categorie": categorie, "nombre_exemplaires": copies}),
        )
        .await;
        assert_eq!(s, 201, "{l}");
        assert_eq!(l["exemplaires_total"], copies);
        assert_eq!(l["exemplaires_disponibles"], copies);
    }
    let titles = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["titre"].as_str().unwrap().to_string())
            .collect()
    };
    let eleve = school.a[0].user.access.as_str();
    for (query, expected) in [
        ("miserables", vec!["Les Misérables"]),
        ("MISÉRABLES hugo", vec!["Les Misérables"]),
        ("hugo", vec!["Les Misérables", "Notre-Dame de Paris"]),
        ("oeuvre", vec!["L'Œuvre au noir"]),
        ("l’œuvre", vec!["L'Œuvre au noir"]),
        ("978-2-07-040922-8", vec!["Les Misérables"]),
        ("2070409228", vec!["Les Misérables"]),
        ("040922", vec!["Les Misérables"]),
        ("mathematiques", vec!["Précis de mathématiques"]),
        ("100%", vec![]),
        ("victor zola", vec![]),
    ] {
        let url = format!("/api/v1/livres/?search={}", url_escape(query));
        let (s, l) = get(&app, &url, eleve).await;
        assert_eq!(s, 200, "{l}");
        assert_eq!(titles(&l), expected, "{query}");
        assert_eq!(l["count"], expected.len(), "{query}");
    }
    let (_, l) = get(&app, "/api/v1/livres/?categorie=sciences", eleve).await;
    assert_eq!(titles(&l), ["Précis de mathématiques"]);
    let (_, l) = get(&app, "/api/v1/livres/?ordering=-titre&page_size=2", eleve).await;
    assert_eq!(
        titles(&l),
        ["Précis de mathématiques", "Notre-Dame de Paris"]
    );
    assert_eq!(l["count"], 4);
    assert!(l["next"].as_str().unwrap().contains("page=2"));
    let (s, e) = get(&app, "/api/v1/livres/?ordering=prix", eleve).await;
    assert_eq!(s, 400, "{e}");
    let (s, _) = get(&app, "/api/v1/livres/?page=9", eleve).await;
    assert_eq!(s, 404);
    // Copies: one lent, one lost → 3 copies: total 2, available 1.
    let (_, l) = get(&app, "/api/v1/livres/?search=miserables", eleve).await;
    let id = l["results"][0]["id"].as_i64().unwrap();
    let (_, copies) = get(&app, &format!("/api/v1/exemplaires/?livre={id}"), eleve).await;
    assert_eq!(copies["count"], 3);
    let c: Vec<i64> = copies["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        copies["results"][0]["code_barre"],
        format!("BIB-{id:06}-01")
    );
    assert_eq!(preter(&app, t, c[0], school.a[0].user.id()).await.0, 201);
    let (s, x) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/exemplaires/{}/", c[1]),
        t,
        Some(json!({"etat": "PERDU"})),
    )
    .await;
    assert_eq!((s, x["disponible"].clone()), (200, json!(false)), "{x}");
    let (_, l) = get(&app, &format!("/api/v1/livres/{id}/"), eleve).await;
    assert_eq!(
        (
            l["exemplaires_total"].clone(),
            l["exemplaires_disponibles"].clone()
        ),
        (json!(2), json!(1))
    );
    let (_, l) = get(&app, "/api/v1/livres/?disponible=false", eleve).await;
    assert_eq!(titles(&l), ["L'Œuvre au noir"]);
    let (_, x) = get(
        &app,
        &format!("/api/v1/exemplaires/?livre={id}&disponible=true"),
        eleve,
    )
    .await;
    assert_eq!(x["count"], 1);
    assert_eq!(x["results"][0]["id"], c[2]);
    let (_, x) = get(&app, &format!("/api/v1/exemplaires/{}/", c[0]), eleve).await;
    assert!(x["emprunt_en_cours"].is_i64(), "{x}");
    // A copy lent cannot be declared lost here; a copy once lent cannot be deleted.
    let (s, e) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/exemplaires/{}/", c[0]),
        t,
        Some(json!({"etat": "PERDU"})),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/exemplaires/{}/", c[0]),
        t,
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/livres/{id}/"),
        t,
        None,
    )
    .await;
    assert_eq!(s, 409);
    // Barcodes: unique, checked; a book never lent is deleted with its copies.
    let (s, e) = post(
        &app,
        "/api/v1/exemplaires/",
        t,
        json!({"livre": id, "code_barre": format!("BIB-{id:06}-01")}),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(field_error(&e, "code_barre").contains("déjà"));
    let (s, e) = post(
        &app,
        "/api/v1/exemplaires/",
        t,
        json!({"livre": id, "code_barre": "a b"}),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = post(
        &app,
        "/api/v1/exemplaires/",
        t,
        json!({"livre": 999_999, "code_barre": "X1"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["livre"].is_array());
    let (_, l) = get(&app, "/api/v1/livres/?search=mathematiques", eleve).await;
    let maths = l["results"][0]["id"].as_i64().unwrap();
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/livres/{maths}/"),
        t,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let mut conn = app.conn().await;
    let left: i64 = exemplaires::table
        .filter(exemplaires::livre_id.eq(maths))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn search_terms_are_folded_as_the_database_folds_the_catalogue() {
    use ecole_bibliotheque::recherche::{biblio_pli, plier};
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let sample = "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖòóôõöÙÚÛÜùúûüÝýÿ’‘ œŒæÆ \
                  L’ŒUVRE au Noir — Sékou Touré, Kindia 978-2-07 «ÉCOLE» N'Zérékoré";
    let folded: String = diesel::select(biblio_pli(sample))
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(plier(sample), folded);
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn lists_cost_a_constant_number_of_queries() {
    let app = TestApp::with_settings(|s| s.biblio_max_emprunts = 10).await;
    let school = School::create(&app, 1).await;
    let b = bibliothecaire(&app).await;
    for i in 0..6 {
        let (_, c) = livre(&app, &b.access, &format!("Livre {i}"), 2).await;
        assert_eq!(
            preter(&app, &b.access, c[0], school.a[0].parent.id())
                .await
                .0,
            201
        );
    }
    for (token, path) in [
        (&b.access, "/api/v1/livres/"),
        (&b.access, "/api/v1/livres/?search=livre"),
        (&b.access, "/api/v1/exemplaires/"),
        (&b.access, "/api/v1/emprunts/"),
        (&school.a[0].parent.access, "/api/v1/emprunts/"),
    ] {
        let mut costs = Vec::new();
        for size in [1, 50] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let before = app.state.queries.get();
            let (s, body) = get(&app, &format!("{path}{sep}page_size={size}"), token).await;
            assert_eq!(s, 200, "{path}: {body}");
            assert!(body["count"].as_i64().unwrap() >= 6, "{path}: {body}");
            costs.push(app.state.queries.get() - before);
        }
        assert_eq!(costs[0], costs[1], "{path} : {costs:?} requêtes");
        assert!(costs[0] <= 3, "{path} : {} requêtes", costs[0]);
    }
}

// ---------- loans ----------

#[tokio::test]
async fn loan_rules() {
    let app = TestApp::with_settings(|s| {
        s.biblio_max_emprunts = 2;
        s.biblio_duree_jours = 10;
    })
    .await;
    let school = School::create(&app, 2).await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    let (_, c) = livre(&app, t, "Le Petit Prince", 5).await;
    let pupil = school.a[0].user.id();
    // By barcode, with the default due date (BIBLIO_DUREE_JOURS).
    let code = format!("BIB-{:06}-01", {
        let mut conn = app.conn().await;
        exemplaires::table
            .find(c[0])
            .select(exemplaires::livre_id)
            .first::<i64>(&mut conn)
            .await
            .unwrap()
    });
    let (s, e) = post(
        &app,
        "/api/v1/emprunts/",
        t,
        json!({"code_barre": code, "emprunteur": pupil}),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["exemplaire"], c[0]);
    assert_eq!(e["statut"], "EN_COURS");
    assert_eq!(e["date_emprunt"], today().to_string());
    assert_eq!(e["date_retour_prevue"], in_days(10).to_string());
    assert_eq!(e["enregistre_par"], b.id());
    assert_eq!(
        e["emprunteur_nom"],
        format!(
            "{} {}",
            school.a[0].user.user.first_name, school.a[0].user.user.last_name
        )
    );
    assert_eq!(
        (e["en_retard"].clone(), e["penalite"].clone()),
        (json!(false), json!(0))
    );
    // The same copy again: 409.
    let (s, e) = preter(&app, t, c[0], school.a[1].user.id()).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["code"], "conflict");
    // A chosen due date; none in the past.
    let (s, e) = post(
        &app,
        "/api/v1/emprunts/",
        t,
        json!({"exemplaire": c[1], "emprunteur": pupil, "date_retour_prevue": in_days(3)}),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["date_retour_prevue"], in_days(3).to_string());
    let (s, e) = post(&app, "/api/v1/emprunts/", t, json!({"exemplaire": c[2], "emprunteur": school.a[1].user.id(), "date_retour_prevue": days_ago(1)})).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["date_retour_prevue"].is_array());
    // BIBLIO_MAX_EMPRUNTS = 2: the third open loan is refused.
    let (s, e) = preter(&app, t, c[2], pupil).await;
    assert_eq!(s, 400, "{e}");
    assert!(field_error(&e, "emprunteur").contains("2 au plus"), "{e}");
    // A lost copy; a pupil who left; a disabled account; unknown copy or borrower.
    let mut conn = app.conn().await;
    diesel::update(exemplaires::table.find(c[3]))
        .set(exemplaires::etat.eq("PERDU"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (s, e) = preter(&app, t, c[3], school.a[1].user.id()).await;
    assert_eq!(s, 400, "{e}");
    assert!(field_error(&e, "exemplaire").contains("perdu"));
    diesel::update(eleves::table.find(school.b[0].id))
        .set(eleves::statut.eq("TRANSFERE"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (s, e) = preter(&app, t, c[2], school.b[0].user.id()).await;
    assert_eq!(s, 400, "{e}");
    assert!(field_error(&e, "emprunteur").contains("TRANSFERE"));
    let gone = app.user().role(Role::Enseignant).inactive().create().await;
    let (s, e) = preter(&app, t, c[2], gone.id()).await;
    assert_eq!(s, 400, "{e}");
    assert!(field_error(&e, "emprunteur").contains("désactivé"));
    assert_eq!(preter(&app, t, 999_999, pupil).await.0, 400);
    assert_eq!(preter(&app, t, c[2], 999_999).await.0, 400);
    let (s, e) = post(&app, "/api/v1/emprunts/", t, json!({"emprunteur": pupil})).await;
    assert_eq!(s, 400, "{e}");
    // None of the refusals wrote anything.
    let open: i64 = emprunts::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(open, 2);
    // Only the library writes: DIRECTION, a teacher, a parent, a pupil get 403.
    for role in [
        Role::Direction,
        Role::Enseignant,
        Role::Comptable,
        Role::Parent,
        Role::Eleve,
    ] {
        let u = app.as_role(role).await;
        assert_eq!(
            preter(&app, &u.access, c[2], u.id()).await.0,
            403,
            "{role:?}"
        );
        assert_eq!(
            post(&app, "/api/v1/livres/", &u.access, json!({"titre": "X"}))
                .await
                .0,
            403
        );
    }
    // ADMIN lends too; any active account may borrow (a teacher here).
    let admin = app.as_admin().await;
    let (s, e) = preter(&app, &admin.access, c[2], school.teacher.id()).await;
    assert_eq!(s, 201, "{e}");
    // Extending an open loan; a closed one cannot be changed nor deleted.
    let id = e["id"].as_i64().unwrap();
    let path = format!("/api/v1/emprunts/{id}/");
    let (s, e) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        t,
        Some(json!({"date_retour_prevue": in_days(30)})),
    )
    .await;
    assert_eq!(
        (s, e["date_retour_prevue"].clone()),
        (200, json!(in_days(30).to_string())),
        "{e}"
    );
    assert_eq!(
        post(&app, &format!("{path}retour/"), t, json!({})).await.0,
        200
    );
    let (s, _) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        t,
        Some(json!({"date_retour_prevue": in_days(31)})),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(
        call(&app, reqwest::Method::DELETE, &path, t, None).await.0,
        409
    );
}

#[tokio::test]
async fn concurrent_lending_of_one_copy_lets_exactly_one_through() {
    let app = TestApp::with_settings(|s| s.database_pool_size = 16).await;
    let school = School::create(&app, 4).await;
    let b = bibliothecaire(&app).await;
    let (_, c) = livre(&app, &b.access, "Une si longue lettre", 1).await;
    let copy = c[0];
    // Eight librarians' requests at once, for eight different borrowers.
    let borrowers: Vec<i64> = school
        .a
        .iter()
        .chain(school.b.iter())
        .map(|p| p.user.id())
        .collect();
    let tasks: Vec<_> = borrowers
        .into_iter()
        .map(|borrower| {
            let client = app.client.clone();
            let url = app.url("/api/v1/emprunts/");
            let token = b.access.clone();
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"exemplaire": copy, "emprunteur": borrower}))
                    .send()
                    .await
                    .unwrap();
                json_of(res).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let (s, body) = task.await.unwrap();
        if s != 201 {
            assert_eq!(
                (s, body["code"].clone()),
                (409, json!("conflict")),
                "{body}"
            );
        }
        statuses.push(s);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    let mut conn = app.conn().await;
    let open: i64 = emprunts::table
        .filter(emprunts::exemplaire_id.eq(copy))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(open, 1);
    // The database itself refuses a second open loan of the copy, whatever the code does.
    let err = diesel::insert_into(emprunts::table)
        .values((
            emprunts::exemplaire_id.eq(copy),
            emprunts::emprunteur_id.eq(b.id()),
            emprunts::date_emprunt.eq(today()),
            emprunts::date_retour_prevue.eq(in_days(1)),
        ))
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("emprunts_un_en_cours_par_exemplaire"),
        "{err}"
    );
}

// ---------- returns ----------

#[tokio::test]
async fn return_sets_the_date_and_state_and_fixes_the_penalty() {
    let app = TestApp::with_settings(|s| s.biblio_penalite_jour = 500).await;
    let school = School::create(&app, 1).await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    let (livre_id, c) = livre(&app, t, "Le Monde s'effondre", 3).await;
    let pupil = school.a[0].user.id();
    // On time: no penalty; the copy comes back damaged.
    let (_, e) = preter(&app, t, c[0], pupil).await;
    let id = e["id"].as_i64().unwrap();
    let (s, r) = post(
        &app,
        &format!("/api/v1/emprunts/{id}/retour/"),
        t,
        json!({"etat": "ABIME"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["statut"], "RENDU");
    assert_eq!(r["date_retour"], today().to_string());
    assert_eq!(r["etat_retour"], "ABIME");
    assert_eq!(
        (r["penalite"].clone(), r["jours_retard"].clone()),
        (json!(0), json!(0))
    );
    let (_, x) = get(&app, &format!("/api/v1/exemplaires/{}/", c[0]), t).await;
    assert_eq!(
        (x["etat"].clone(), x["disponible"].clone()),
        (json!("ABIME"), json!(true))
    );
    // Returned twice: 409, nothing changes.
    let (s, e) = post(
        &app,
        &format!("/api/v1/emprunts/{id}/retour/"),
        t,
        json!({}),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("rendu"));
    // Late: lent 20 days ago, due 6 days ago → 6 days × 500 GNF. Open, it shows today's.
    let (_, e) = preter(&app, t, c[1], pupil).await;
    let late = e["id"].as_i64().unwrap();
    antidater(&app, late, 20, 6).await;
    let (_, open) = get(&app, &format!("/api/v1/emprunts/{late}/"), t).await;
    assert_eq!(
        (
            open["en_retard"].clone(),
            open["jours_retard"].clone(),
            open["penalite"].clone()
        ),
        (json!(true), json!(6), json!(3000))
    );
    let (_, overdue) = get(&app, "/api/v1/emprunts/?en_retard=true", t).await;
    assert_eq!(overdue["count"], 1);
    // Returned (body-less) two days ago: 4 days late, the copy keeps its state.
    let (s, r) = post(
        &app,
        &format!("/api/v1/emprunts/{late}/retour/"),
        t,
        json!({"date_retour": days_ago(2)}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["jours_retard"].clone(),
            r["penalite"].clone(),
            r["etat_retour"].clone()
        ),
        (json!(4), json!(2000), json!("BON"))
    );
    assert_eq!(r["en_retard"], false);
    // Bad return dates change nothing.
    let (_, e) = preter(&app, t, c[2], pupil).await;
    let lost = e["id"].as_i64().unwrap();
    antidater(&app, lost, 10, 3).await;
    for bad in [
        json!({"date_retour": in_days(1)}),
        json!({"date_retour": days_ago(11)}),
        json!({"etat": "NEUF"}),
    ] {
        let (s, e) = post(
            &app,
            &format!("/api/v1/emprunts/{lost}/retour/"),
            t,
            bad.clone(),
        )
        .await;
        assert_eq!(s, 400, "{bad} : {e}");
    }
    // Lost: the loan closes as PERDU with its penalty; the copy leaves the counts.
    let res = app
        .post(&format!("/api/v1/emprunts/{lost}/retour/"))
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body(r#"{"etat": "PERDU"}"#)
        .send()
        .await
        .unwrap();
    let (s, r) = json_of(res).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["statut"].clone(), r["penalite"].clone()),
        (json!("PERDU"), json!(1500))
    );
    let (_, l) = get(&app, &format!("/api/v1/livres/{livre_id}/"), t).await;
    assert_eq!(
        (
            l["exemplaires_total"].clone(),
            l["exemplaires_disponibles"].clone()
        ),
        (json!(2), json!(2))
    );
    let (s, e) = preter(&app, t, c[2], pupil).await;
    assert_eq!(s, 400, "{e}");
    // An empty body is a return today.
    let (_, e) = preter(&app, t, c[1], pupil).await;
    let res = app
        .post(&format!("/api/v1/emprunts/{}/retour/", e["id"]))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Only the library records returns; an unknown loan is 404.
    let (_, e) = preter(&app, t, c[1], pupil).await;
    let parent = &school.a[0].parent.access;
    assert_eq!(
        post(
            &app,
            &format!("/api/v1/emprunts/{}/retour/", e["id"]),
            parent,
            json!({})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post(&app, "/api/v1/emprunts/999999/retour/", t, json!({}))
            .await
            .0,
        404
    );
}

// ---------- reminders ----------

async fn run_reminders(app: &TestApp) {
    let mut conn = app.conn().await;
    ecole_jobs::enqueue(
        &mut conn,
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::RappelsEmpruntsRetard {}).unwrap(),
    )
    .await
    .unwrap();
    app.run_jobs(ecole_handlers::registry()).await;
}

type Notif = (i64, String, String, Option<String>, bool);

async fn notifs(app: &TestApp) -> Vec<Notif> {
    let mut conn = app.conn().await;
    notifications::table
        .filter(notifications::type_notification.eq("EMPRUNT_RETARD"))
        .select((
            notifications::utilisateur_id,
            notifications::message,
            notifications::titre,
            notifications::lien_url,
            notifications::envoyer_par_sms,
        ))
        .order(notifications::id)
        .load(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn overdue_reminders_once_a_day_to_the_borrower_and_parents() {
    let app = TestApp::with_settings(|s| s.biblio_penalite_jour = 1000).await;
    let school = School::create(&app, 4).await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    let (_, c) = livre(&app, t, "Ville cruelle", 6).await;
    let p = &school.a;
    let lend =
        async |copy: i64, who: i64| preter(&app, t, copy, who).await.1["id"].as_i64().unwrap();
    let overdue_pupil = lend(c[0], p[0].user.id()).await;
    let overdue_teacher = lend(c[1], school.teacher.id()).await;
    let due_today = lend(c[2], p[1].user.id()).await;
    let reminded_today = lend(c[3], p[2].user.id()).await;
    let returned = lend(c[4], p[3].user.id()).await;
    antidater(&app, overdue_pupil, 20, 1).await;
    antidater(&app, overdue_teacher, 30, 3).await;
    antidater(&app, due_today, 14, 0).await;
    antidater(&app, reminded_today, 20, 5).await;
    antidater(&app, returned, 20, 5).await;
    post(
        &app,
        &format!("/api/v1/emprunts/{returned}/retour/"),
        t,
        json!({}),
    )
    .await;
    {
        let mut conn = app.conn().await;
        diesel::update(emprunts::table.find(reminded_today))
            .set(emprunts::dernier_rappel_le.eq(today()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    run_reminders(&app).await;
    let rows = notifs(&app).await;
    // The pupil and their parent; the teacher. Nobody else.
    let mut to: Vec<i64> = rows.iter().map(|r| r.0).collect();
    to.sort_unstable();
    let mut expected = vec![p[0].user.id(), p[0].parent.id(), school.teacher.id()];
    expected.sort_unstable();
    assert_eq!(to, expected, "{rows:#?}");
    let to_pupil = rows.iter().find(|r| r.0 == p[0].user.id()).unwrap();
    assert!(
        to_pupil
            .1
            .starts_with("Le livre « Ville cruelle » (exemplaire BIB-")
            && to_pupil.1.contains(&format!(
                "devait être rendu le {} : 1 jour de retard.",
                days_ago(1).format("%d/%m/%Y")
            ))
            && to_pupil.1.ends_with("Pénalité à ce jour : 1 000 GNF."),
        "{}",
        to_pupil.1
    );
    assert_eq!(
        to_pupil.3.as_deref(),
        Some(format!("/api/v1/emprunts/{overdue_pupil}/").as_str())
    );
    // First day late: SMS too; three days late: e-mail only.
    assert!(to_pupil.4);
    let to_parent = rows.iter().find(|r| r.0 == p[0].parent.id()).unwrap();
    let nom = format!("{} {}", p[0].user.user.first_name, p[0].user.user.last_name);
    assert!(
        to_parent
            .1
            .starts_with(&format!("{nom} devait rendre le livre « Ville cruelle »")),
        "{}",
        to_parent.1
    );
    let to_teacher = rows.iter().find(|r| r.0 == school.teacher.id()).unwrap();
    assert!(
        to_teacher.1.contains("3 jours de retard"),
        "{}",
        to_teacher.1
    );
    assert!(!to_teacher.4);
    // Delivery jobs ran.
    let mut conn = app.conn().await;
    let pending: i64 = ecole_db::schema::jobs::table
        .filter(ecole_db::schema::jobs::name.like("communication.envoyer_%"))
        .filter(ecole_db::schema::jobs::status.ne("SUCCES"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    // Again the same day: nothing new. With the day's marks wiped, the notification keys
    // still hold: only the loan reminded earlier today (outside this job) gets its two.
    run_reminders(&app).await;
    assert_eq!(notifs(&app).await.len(), 3);
    diesel::update(emprunts::table)
        .set(emprunts::dernier_rappel_le.eq(None::<NaiveDate>))
        .execute(&mut conn)
        .await
        .unwrap();
    let bilan =
        ecole_bibliotheque::rappels::envoyer_rappels(&mut conn, today(), &Regles::default())
            .await
            .unwrap();
    assert_eq!((bilan.emprunts, bilan.notifications), (3, 2));
    // Tomorrow: the three overdue loans (and the one due today) are reminded again.
    let bilan =
        ecole_bibliotheque::rappels::envoyer_rappels(&mut conn, in_days(1), &Regles::default())
            .await
            .unwrap();
    assert_eq!(bilan.emprunts, 4);
    assert_eq!(bilan.notifications, 7);
}

// ---------- scopes ----------

#[tokio::test]
async fn families_see_their_own_loans_and_everyone_reads_the_catalogue() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    let (livre_id, c) = livre(&app, t, "Climbié", 4).await;
    let mine = &school.a[0];
    let other = &school.a[1];
    let child_loan = preter(&app, t, c[0], mine.user.id()).await.1["id"]
        .as_i64()
        .unwrap();
    let parent_loan = preter(&app, t, c[1], mine.parent.id()).await.1["id"]
        .as_i64()
        .unwrap();
    let other_loan = preter(&app, t, c[2], other.user.id()).await.1["id"]
        .as_i64()
        .unwrap();
    let teacher_loan = preter(&app, t, c[3], school.teacher.id()).await.1["id"]
        .as_i64()
        .unwrap();
    let ids = |v: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    // A parent: their child's loans and their own.
    let (_, l) = get(&app, "/api/v1/emprunts/", &mine.parent.access).await;
    assert_eq!(ids(&l), [child_loan, parent_loan]);
    let (_, l) = get(
        &app,
        &format!("/api/v1/emprunts/?eleve={}", mine.id),
        &mine.parent.access,
    )
    .await;
    assert_eq!(ids(&l), [child_loan]);
    // A pupil: their own.
    let (_, l) = get(&app, "/api/v1/emprunts/", &mine.user.access).await;
    assert_eq!(ids(&l), [child_loan]);
    // A teacher: their own.
    let (_, l) = get(&app, "/api/v1/emprunts/", &school.teacher.access).await;
    assert_eq!(ids(&l), [teacher_loan]);
    // Outside the scope: 404 by id, nothing by filter.
    for (token, loan) in [
        (&mine.parent.access, other_loan),
        (&mine.user.access, parent_loan),
        (&school.teacher.access, child_loan),
    ] {
        assert_eq!(
            get(&app, &format!("/api/v1/emprunts/{loan}/"), token)
                .await
                .0,
            404
        );
    }
    let (_, l) = get(
        &app,
        &format!("/api/v1/emprunts/?eleve={}", other.id),
        &mine.parent.access,
    )
    .await;
    assert_eq!(l["count"], 0);
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/emprunts/{child_loan}/"),
            &mine.parent.access
        )
        .await
        .0,
        200
    );
    // The library and the direction see every loan.
    for role in [Role::Bibliothecaire, Role::Admin, Role::Direction] {
        let u = app.as_role(role).await;
        let (_, l) = get(&app, "/api/v1/emprunts/", &u.access).await;
        assert_eq!(l["count"], 4, "{role:?}");
    }
    let (_, l) = get(
        &app,
        &format!(
            "/api/v1/emprunts/?search={}",
            url_escape(&other.user.user.last_name)
        ),
        t,
    )
    .await;
    assert_eq!(ids(&l), [other_loan]);
    // Everyone signed in reads the catalogue and the copies; nobody without a token.
    for u in [&mine.user, &mine.parent, &school.teacher] {
        assert_eq!(get(&app, "/api/v1/livres/", &u.access).await.0, 200);
        assert_eq!(
            get(&app, &format!("/api/v1/livres/{livre_id}/"), &u.access)
                .await
                .0,
            200
        );
        assert_eq!(get(&app, "/api/v1/exemplaires/", &u.access).await.0, 200);
        let (s, _) = call(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/v1/livres/{livre_id}/"),
            &u.access,
            Some(json!({"titre": "X"})),
        )
        .await;
        assert_eq!(s, 403);
        let (s, _) = call(
            &app,
            reqwest::Method::DELETE,
            &format!("/api/v1/exemplaires/{}/", c[0]),
            &u.access,
            None,
        )
        .await;
        assert_eq!(s, 403);
    }
    let res = app.get("/api/v1/livres/").send().await.unwrap();
    assert_eq!(res.status(), 401);
    // The routes are documented.
    let (s, doc) = json_of(app.get("/api/v1/openapi.json").send().await.unwrap()).await;
    assert_eq!(s, 200);
    for path in [
        "/api/v1/livres/",
        "/api/v1/livres/{id}/",
        "/api/v1/livres/import/",
        "/api/v1/exemplaires/",
        "/api/v1/exemplaires/{id}/",
        "/api/v1/emprunts/",
        "/api/v1/emprunts/{id}/",
        "/api/v1/emprunts/{id}/retour/",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} absent de l'OpenAPI");
    }
}

// ---------- import ----------

async fn import(app: &TestApp, token: &str, csv: &str, dry_run: bool) -> (u16, Value) {
    json_of(
        app.post(&format!("/api/v1/livres/import/?dry_run={dry_run}"))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn counts(app: &TestApp) -> (i64, i64) {
    let mut conn = app.conn().await;
    (
        livres::table.count().get_result(&mut conn).await.unwrap(),
        exemplaires::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn import_reports_bad_rows_dry_runs_then_imports_once() {
    let app = TestApp::new().await;
    let b = bibliothecaire(&app).await;
    let t = b.access.as_str();
    let bad = "titre;auteur;isbn;editeur;annee;categorie;exemplaires\n\
               L'Enfant noir;Camara Laye;2-266-16118-0;Plon;1953;Roman;2\n\
               ;Sans titre;;;;;1\n\
               Mauvais ISBN;X;978-2-266-16118-4;;;;1\n\
               Doublon;Y;9782266161183;;;;1\n\
               Trop;Z;;;19x3;;1000\n";
    let (s, r) = import(&app, t, bad, false).await;
    assert_eq!(s, 400, "{r}");
    let errors: Vec<(i64, String)> = r["erreurs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ligne"].as_i64().unwrap(),
                e["champ"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        (3, "titre"),
        (4, "isbn"),
        (5, "isbn"),
        (6, "annee_publication"),
        (6, "exemplaires"),
    ] {
        assert!(
            errors.contains(&(expected.0, expected.1.to_string())),
            "{expected:?} : {r}"
        );
    }
    assert_eq!(r["lignes"], 5);
    assert_eq!(counts(&app).await, (0, 0));
    let good = "Titre,Auteur,ISBN,Éditeur,Année de publication,Catégorie,Nombre d'exemplaires,Cote\n\
                L'Enfant noir,Camara Laye,2-266-16118-0,Plon,1953,Roman,2,840 LAY\n\
                Les Bouts de bois de Dieu,Ousmane Sembène,,Le Livre contemporain,1960,Roman,3,\n\
                Dictionnaire,,,Larousse,,Référence,,\n";
    let (s, r) = import(&app, t, good, true).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["dry_run"].clone(),
            r["crees"].clone(),
            r["exemplaires_crees"].clone()
        ),
        (json!(true), json!(3), json!(6))
    );
    assert_eq!(counts(&app).await, (0, 0));
    let (s, r) = import(&app, t, good, false).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["crees"].clone(), r["exemplaires_crees"].clone()),
        (json!(3), json!(6))
    );
    assert_eq!(counts(&app).await, (3, 6));
    let (_, l) = get(&app, "/api/v1/livres/?search=2-266-16118-0", t).await;
    assert_eq!(l["results"][0]["isbn"], "9782266161183");
    assert_eq!(l["results"][0]["cote"], "840 LAY");
    assert_eq!(l["results"][0]["exemplaires_total"], 2);
    // The same file again changes nothing.
    let (s, r) = import(&app, t, good, false).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["crees"].clone(),
            r["modifies"].clone(),
            r["inchanges"].clone(),
            r["exemplaires_crees"].clone()
        ),
        (json!(0), json!(0), json!(3), json!(0))
    );
    assert_eq!(counts(&app).await, (3, 6));
    // A changed publisher, one more copy, a new title: updated, added; no copy removed.
    let changed = "titre,auteur,isbn,editeur,exemplaires\n\
                   L'Enfant noir,Camara Laye,978-2-266-16118-3,Pocket,3\n\
                   les bouts de bois de dieu,OUSMANE SEMBÈNE,,Le Livre contemporain,1\n\
                   Sous l'orage,Seydou Badian,,,1\n";
    let (s, r) = import(&app, t, changed, false).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["crees"].clone(),
            r["modifies"].clone(),
            r["exemplaires_crees"].clone()
        ),
        (json!(1), json!(2), json!(2))
    );
    assert_eq!(counts(&app).await, (4, 8));
    // Only the library imports; a file that is not CSV is refused.
    let parent = app.as_role(Role::Parent).await;
    assert_eq!(import(&app, &parent.access, good, true).await.0, 403);
    let res = app
        .post("/api/v1/livres/import/")
        .bearer_auth(t)
        .header("content-type", "image/png")
        .body(vec![0x89, b'P', b'N', b'G'])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let (s, r) = import(&app, t, "auteur\nX\n", false).await;
    assert_eq!(s, 400, "{r}");
    assert_eq!(r["erreurs"][0]["champ"], "titre");
}
