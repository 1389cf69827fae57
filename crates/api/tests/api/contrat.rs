//! The public contract frozen before the refactor of routes, extractors and errors (issue #17,
//! item 1): the OpenAPI document, the status of every documented operation for anonymous and
//! every role, and one answer, one 400 and one 404 per resource. Snapshots live in
//! `snapshots/` beside this file; a deliberate change is reviewed with `cargo insta review`.
//!
//! The test rows are those of the security suite (tests/tests/securite.rs, `Banc::rows`),
//! created in a fixed order in a fresh database, so ids are stable, and usernames are made
//! from ids; what still varies (timestamps, dates near today, tokens, PDF hashes, the server's
//! port, the current year in invoice numbers) is normalised by [`Normaliser`].

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Datelike, NaiveDate};
use diesel::ExpressionMethods;
use diesel_async::RunQueryDsl;
use ecole_core::Role;
use ecole_db::schema::notifications;
use ecole_test_support::school::School;
use ecole_test_support::{DEFAULT_PASSWORD, TestApp, TestUser, json_of};
use serde_json::{Value, json};

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// An id no test row has.
const ABSENT: i64 = 999_999;

fn in_days(n: u64) -> String {
    ecole_core::time::today()
        .checked_add_days(chrono::Days::new(n))
        .unwrap()
        .to_string()
}

/// Column label of a role (`None`: no token).
fn label(role: Option<Role>) -> &'static str {
    role.map_or("ANONYME", Role::as_str)
}

/// What a request carries.
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// The app, the school, one signed-in user per role and the ids of the test rows.
struct Banc {
    app: TestApp,
    school: School,
    users: Vec<(Role, TestUser)>,
    /// Resource (the path segment before `{id}`) → id.
    ids: HashMap<&'static str, i64>,
    /// Other rows for these methods, so that a write does not end a test user's account or
    /// scope (as in the security suite).
    ids_ecriture: HashMap<&'static str, (&'static [&'static str], i64)>,
    /// Operations ("METHOD template") sent to a path of their own.
    chemins: HashMap<&'static str, String>,
    /// Per role: the id of one of its own notifications.
    notifications: HashMap<Role, i64>,
    /// The account `users/{id}` acts on.
    victime: TestUser,
}

impl Banc {
    async fn new() -> Banc {
        let app = TestApp::new().await;
        let school = School::create(&app, 1).await;
        let mut users = Vec::new();
        for role in Role::ALL {
            let user = match role {
                Role::Enseignant => school.teacher.clone(),
                Role::Parent => school.a[0].parent.clone(),
                Role::Eleve => school.a[0].user.clone(),
                other => app.as_role(*other).await,
            };
            users.push((*role, user));
        }
        let victime = app.as_role(Role::Parent).await;
        // The builder's usernames end in a random suffix: name them after their id instead.
        diesel::sql_query(
            "UPDATE users SET username = lower(role) || '_' || id, \
             email = lower(role) || '_' || id || '@ecole.test'",
        )
        .execute(&mut app.conn().await)
        .await
        .unwrap();
        let mut banc = Banc {
            app,
            school,
            users,
            ids: HashMap::new(),
            ids_ecriture: HashMap::new(),
            chemins: HashMap::new(),
            notifications: HashMap::new(),
            victime,
        };
        banc.rows().await;
        banc
    }

    fn user(&self, role: Role) -> &TestUser {
        &self.users.iter().find(|(r, _)| *r == role).unwrap().1
    }

    fn token(&self, role: Role) -> &str {
        &self.user(role).access
    }

    fn admin(&self) -> &str {
        self.token(Role::Admin)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> (u16, Value) {
        let mut req = self
            .app
            .client
            .request(method.parse().unwrap(), self.app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(ct, bytes) => req.header("content-type", ct).body(bytes),
        };
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} : {e}"));
        json_of(res).await
    }

    async fn json(&self, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(method, path, Some(token), Body::Json(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send("GET", path, Some(token), Body::None).await
    }

    /// The security suite's rows (`Banc::rows` in tests/tests/securite.rs), in the same order:
    /// a grade, an attendance, a fee, an invoice issued and partly paid, published bulletins
    /// (the job handlers run in-process), library rows, one notification per role.
    async fn rows(&mut self) {
        let admin = self.admin().to_string();
        let (a0, ca, math, annee) = (
            self.school.a[0].id,
            self.school.classe_a,
            self.school.math,
            self.school.annee,
        );
        let (s, note) = self
            .json("POST", "/api/v1/notes/", &admin, json!({"eleve": a0, "matiere": math, "classe": ca, "periode": "TRIMESTRE_1", "type_note": "DEVOIR", "valeur": 11, "date_evaluation": "2025-10-01"}))
            .await;
        assert_eq!(s, 201, "{note}");
        let (s, presence) = self
            .json(
                "POST",
                "/api/v1/presences/",
                &admin,
                json!({"eleve": a0, "classe": ca, "date": "2025-10-03", "statut": "ABSENT"}),
            )
            .await;
        assert_eq!(s, 201, "{presence}");
        let (_, periodes) = self.get("/api/v1/periodes/?code=TRIMESTRE_1", &admin).await;
        let (_, ens) = self
            .get(&format!("/api/v1/enseignements/?classe={ca}"), &admin)
            .await;
        let (s, frais) = self
            .json("POST", "/api/v1/frais/", &admin, json!({"annee_scolaire": annee, "niveau": "SIXIEME", "libelle": "Scolarité", "montant": 300000}))
            .await;
        assert_eq!(s, 201, "{frais}");
        let (s, facture) = self
            .json("POST", "/api/v1/factures/", &admin, json!({"eleve": a0, "date_echeance": in_days(30), "lignes": [{"libelle": "Scolarité", "quantite": 1, "prix_unitaire": 300000}]}))
            .await;
        assert_eq!(s, 201, "{facture}");
        let facture_id = facture["id"].as_i64().unwrap();
        let (s, b) = self
            .json(
                "POST",
                &format!("/api/v1/factures/{facture_id}/emettre/"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, paiement) = self
            .json(
                "POST",
                &format!("/api/v1/factures/{facture_id}/paiements/"),
                &admin,
                json!({"montant": 100000, "mode": "ESPECES"}),
            )
            .await;
        assert_eq!(s, 201, "{paiement}");
        let (s, job) = self
            .json(
                "POST",
                "/api/v1/bulletins/generer/",
                &admin,
                json!({"annee_scolaire": annee, "periode": "TRIMESTRE_1", "classe": ca}),
            )
            .await;
        assert_eq!(s, 202, "{job}");
        self.app.run_jobs(ecole_handlers::registry()).await;
        let (s, b) = self
            .json(
                "POST",
                "/api/v1/bulletins/publier/",
                &admin,
                json!({"annee_scolaire": annee, "periode": "TRIMESTRE_1", "classe": ca}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (_, bulletins) = self
            .get(&format!("/api/v1/bulletins/?eleve={a0}"), &admin)
            .await;
        self.ids = HashMap::from([
            ("annees-scolaires", annee),
            ("periodes", periodes["results"][0]["id"].as_i64().unwrap()),
            ("classes", ca),
            ("matieres", math),
            ("enseignements", ens["results"][0]["id"].as_i64().unwrap()),
            ("eleves", a0),
            ("parents", self.school.a[0].parent_id),
            ("enseignants", self.school.enseignant_id),
            ("notes", note["id"].as_i64().unwrap()),
            ("presences", presence["id"].as_i64().unwrap()),
            ("bulletins", bulletins["results"][0]["id"].as_i64().unwrap()),
            ("frais", frais["id"].as_i64().unwrap()),
            ("factures", facture_id),
            ("paiements", paiement["id"].as_i64().unwrap()),
            ("jobs", job["job_id"].as_str().unwrap().parse().unwrap()),
            ("users", self.victime.id()),
        ]);
        let (s, prof) = self
            .json("POST", "/api/v1/enseignants/", &admin, json!({"username": "prof.supprime", "password": "Matrice-securite-2026", "first_name": "Karim", "last_name": "Sylla", "matricule": "ENS-900"}))
            .await;
        assert_eq!(s, 201, "{prof}");
        let prof = prof["id"].as_i64().unwrap();
        let (s, autre) = self
            .json(
                "POST",
                "/api/v1/enseignements/",
                &admin,
                json!({"classe": self.school.classe_b, "matiere": self.school.francais, "enseignant": prof}),
            )
            .await;
        assert_eq!(s, 201, "{autre}");
        let mut livres = Vec::new();
        for titre in ["L'Enfant noir", "Le Regard du roi"] {
            let (s, row) = self
                .json(
                    "POST",
                    "/api/v1/livres/",
                    &admin,
                    json!({"titre": titre, "auteur": "Camara Laye", "categorie": "Roman"}),
                )
                .await;
            assert_eq!(s, 201, "{row}");
            livres.push(row["id"].as_i64().unwrap());
        }
        let mut copies = Vec::new();
        for code in ["BIB-0001", "BIB-0002", "BIB-0003"] {
            let (s, row) = self
                .json(
                    "POST",
                    "/api/v1/exemplaires/",
                    &admin,
                    json!({"livre": livres[0], "code_barre": code}),
                )
                .await;
            assert_eq!(s, 201, "{row}");
            copies.push(row["id"].as_i64().unwrap());
        }
        let mut loans = Vec::new();
        for copy in [copies[0], copies[2]] {
            let (s, row) = self
                .json(
                    "POST",
                    "/api/v1/emprunts/",
                    &admin,
                    json!({"exemplaire": copy, "emprunteur": self.school.a[0].user.id()}),
                )
                .await;
            assert_eq!(s, 201, "{row}");
            loans.push(row["id"].as_i64().unwrap());
        }
        self.ids.extend([
            ("livres", livres[0]),
            ("exemplaires", copies[0]),
            ("emprunts", loans[0]),
        ]);
        const DELETE: &[&str] = &["DELETE"];
        self.ids_ecriture = HashMap::from([
            ("eleves", (DELETE, self.school.b[0].id)),
            ("livres", (DELETE, livres[1])),
            ("exemplaires", (DELETE, copies[1])),
            ("emprunts", (DELETE, loans[1])),
            ("parents", (DELETE, self.school.b[0].parent_id)),
            ("enseignants", (DELETE, prof)),
            (
                "enseignements",
                (
                    &["PUT", "PATCH", "DELETE"][..],
                    autre["id"].as_i64().unwrap(),
                ),
            ),
        ]);
        let (s, tuteur) = self
            .json("POST", "/api/v1/parents/", &admin, json!({"username": "tuteur.matrice", "password": "Matrice-securite-2026", "first_name": "Alpha", "last_name": "Sow"}))
            .await;
        assert_eq!(s, 201, "{tuteur}");
        let (b0, tuteur) = (self.school.b[0].id, tuteur["id"].as_i64().unwrap());
        let (s, lien) = self
            .json(
                "POST",
                &format!("/api/v1/eleves/{b0}/parents/"),
                &admin,
                json!({"parent": tuteur, "lien": "TUTEUR"}),
            )
            .await;
        assert_eq!(s, 201, "{lien}");
        self.chemins = HashMap::from([(
            "DELETE /api/v1/eleves/{id}/parents/{parent_id}/",
            format!("/api/v1/eleves/{b0}/parents/{tuteur}/"),
        )]);
        let mut conn = self.app.conn().await;
        for (role, user) in &self.users {
            let id: i64 = diesel::insert_into(notifications::table)
                .values((
                    notifications::utilisateur_id.eq(user.id()),
                    notifications::type_notification.eq("GENERAL"),
                    notifications::titre.eq("Réunion"),
                    notifications::message.eq("Réunion des parents samedi."),
                ))
                .returning(notifications::id)
                .get_result(&mut conn)
                .await
                .unwrap();
            self.notifications.insert(*role, id);
        }
    }

    /// The path of an operation with the test rows' ids.
    fn path_for(&self, method: &str, template: &str, role: Option<Role>) -> String {
        if let Some(path) = self.chemins.get(format!("{method} {template}").as_str()) {
            return path.clone();
        }
        let segments: Vec<&str> = template.split('/').collect();
        let mut out = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            if !seg.starts_with('{') {
                out.push((*seg).to_string());
                continue;
            }
            let resource = segments.get(i.wrapping_sub(1)).copied().unwrap_or("");
            let id = if resource == "notifications" {
                self.notifications
                    .get(&role.unwrap_or(Role::Admin))
                    .copied()
            } else if let Some((_, id)) = self
                .ids_ecriture
                .get(resource)
                .filter(|(methods, _)| methods.contains(&method))
            {
                Some(*id)
            } else {
                self.ids.get(resource).copied()
            };
            let id = id.unwrap_or_else(|| {
                panic!("aucune ligne de test pour « {resource} » : ajoutez son id dans Banc::rows")
            });
            out.push(id.to_string());
        }
        out.join("/")
    }

    async fn openapi(&self) -> Value {
        let (s, doc) = self
            .send("GET", "/api/v1/openapi.json", None, Body::None)
            .await;
        assert_eq!(s, 200);
        doc
    }
}

/// Every documented operation: (METHOD, path template, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .map(|s| resolve(doc, s))
            .unwrap_or(schema),
        None => schema,
    }
}

/// A value of `schema` for a property called `name`, with the test rows' ids for references
/// (as the security suite's `sample`).
fn sample(doc: &Value, schema: &Value, name: &str, banc: &Banc, n: &mut u32) -> Value {
    let schema = resolve(doc, schema);
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let pick = options
                .iter()
                .find(|o| resolve(doc, o).get("type") != Some(&json!("null")))
                .unwrap_or(&Value::Null);
            return sample(doc, pick, name, banc, n);
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return <[Value]>::first(values).cloned().unwrap_or(Value::Null);
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .find(|t| *t != "null")
            .and_then(Value::as_str)
            .unwrap_or("null")
            .to_string(),
        Some(Value::String(t)) => t.clone(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "null".into(),
    };
    *n += 1;
    match kind.as_str() {
        "object" => {
            let mut out = serde_json::Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (prop, s) in props {
                    if required.contains(&prop.as_str()) {
                        out.insert(prop.clone(), sample(doc, s, prop, banc, n));
                    }
                }
            }
            Value::Object(out)
        }
        "array" => json!([sample(doc, &schema["items"], name, banc, n)]),
        "integer" => {
            let resource = match name {
                "eleve" => Some("eleves"),
                "classe" | "classe_actuelle" => Some("classes"),
                "matiere" => Some("matieres"),
                "annee_scolaire" => Some("annees-scolaires"),
                "parent" => Some("parents"),
                "enseignant" | "professeur_principal" => Some("enseignants"),
                "facture" => Some("factures"),
                _ => None,
            };
            match resource.and_then(|r| banc.ids.get(r)) {
                Some(id) => json!(id),
                None => match name {
                    "montant" | "prix_unitaire" => json!(1000),
                    "bareme" => json!(20),
                    "capacite" => json!(40),
                    _ => json!(1),
                },
            }
        }
        "number" => json!(10),
        "boolean" => json!(false),
        "string" => {
            let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
            match (format, name) {
                ("date", _) => json!("2025-10-06"),
                ("date-time", _) => json!("2025-10-06T08:00:00Z"),
                (_, "password" | "new_password") => json!("Matrice-contrat-2026"),
                (_, "email") => json!(format!("contrat{n}@ecole.test")),
                (_, "telephone" | "contact_urgence_phone") => json!("+224621000099"),
                _ => json!(format!("M{n}")),
            }
        }
        _ => Value::Null,
    }
}

/// The body of an operation: a value of its schema (only required fields).
fn body_for(doc: &Value, op: &Value, banc: &Banc, n: &mut u32) -> Body {
    let Some(content) = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
    else {
        return Body::None;
    };
    if let Some(media) = content.get("application/json") {
        return Body::Json(sample(doc, &media["schema"], "", banc, n));
    }
    if content.contains_key("text/csv") {
        return Body::Raw(
            "text/csv",
            format!("matricule,nom,prenom,sexe\n2026/M{n},Bah,Test,M\n").into_bytes(),
        );
    }
    if content.contains_key("image/png") {
        return Body::Raw("image/png", STANDARD.decode(PNG).unwrap());
    }
    Body::None
}

/// Replaces what differs from one run to the next with placeholders.
struct Normaliser {
    today: NaiveDate,
    base_url: String,
}

/// Keys whose string values are secrets or vary between runs, and their placeholders.
const REDACTED_KEYS: &[(&str, &str)] = &[
    ("access", "[jeton]"),
    ("refresh", "[jeton]"),
    ("sha256", "[empreinte]"),
];

impl Normaliser {
    fn new(app: &TestApp) -> Normaliser {
        Normaliser {
            today: ecole_core::time::today(),
            base_url: app.base_url.clone(),
        }
    }

    fn value(&self, mut v: Value) -> Value {
        self.walk(&mut v);
        v
    }

    fn walk(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    match REDACTED_KEYS.iter().find(|(k, _)| k == key) {
                        Some((_, placeholder)) if item.is_string() => *item = json!(placeholder),
                        _ => self.walk(item),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.walk(item)),
            Value::String(s) => *s = self.text(s),
            _ => {}
        }
    }

    fn text(&self, s: &str) -> String {
        if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
            return "[horodatage]".into();
        }
        let mut out = s.replace(&self.base_url, "http://[hôte]");
        // Invoice and receipt numbers carry the current calendar year.
        for prefix in ["FAC-", "REC-"] {
            out = out.replace(
                &format!("{prefix}{}-", self.today.year()),
                &format!("{prefix}[année]-"),
            );
        }
        self.dates(&out)
    }

    /// Dates within 90 days of today → `[aujourd'hui]`, `[aujourd'hui+N]`, `[aujourd'hui-N]`
    /// (other dates are kept as written).
    fn dates(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some((i, date)) = first_date(rest) {
            out.push_str(&rest[..i]);
            out.push_str(&match (date - self.today).num_days() {
                0 => "[aujourd'hui]".to_string(),
                d if d.abs() <= 90 => format!("[aujourd'hui{d:+}]"),
                _ => rest[i..i + 10].to_string(),
            });
            rest = &rest[i + 10..];
        }
        out.push_str(rest);
        out
    }
}

/// The first date in `s`, ISO (`2026-12-08`) or French (`08/12/2026`), and its byte offset.
fn first_date(s: &str) -> Option<(usize, NaiveDate)> {
    (0..s.len()).find_map(|i| {
        let candidate = s.get(i..i + 10)?;
        let shaped = |sep: u8, at: [usize; 2]| {
            candidate.bytes().enumerate().all(|(k, b)| {
                if at.contains(&k) {
                    b == sep
                } else {
                    b.is_ascii_digit()
                }
            })
        };
        let format = if shaped(b'-', [4, 7]) {
            "%Y-%m-%d"
        } else if shaped(b'/', [2, 5]) {
            "%d/%m/%Y"
        } else {
            return None;
        };
        NaiveDate::parse_from_str(candidate, format)
            .ok()
            .map(|d| (i, d))
    })
}

/// A request whose answer is frozen: (snapshot name, method, path, caller, JSON body).
type Case = (String, &'static str, String, Option<Role>, Option<Value>);

/// Snapshot of one answer: its status and normalised body, map keys sorted.
fn freeze(name: &str, status: u16, body: Value, normaliser: &Normaliser) {
    let answer = json!({"status": status, "body": normaliser.value(body)});
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!(name, answer);
    });
}

/// The OpenAPI document as served, keys sorted so that map order cannot move it.
#[tokio::test]
async fn openapi_document_is_frozen() {
    let app = TestApp::new().await;
    let (s, doc) = json_of(app.get("/api/v1/openapi.json").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(doc["paths"].is_object(), "{doc}");
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!("openapi", doc);
    });
}

/// Every documented operation × anonymous and every role: the status code, one line per
/// operation. Reads first, then writes, then DELETE (dependants first), as the security
/// suite; within an operation the callers go from the least to the most privileged, so the
/// first allowed role of a DELETE removes the row and the later ones get 404.
#[tokio::test]
async fn role_by_endpoint_matrix_is_frozen() {
    let banc = Banc::new().await;
    let doc = banc.openapi().await;
    let mut ops = operations(&doc);
    let rank = |m: &str| match m {
        "GET" => 0,
        "DELETE" => 2,
        _ => 1,
    };
    ops.sort_by(|a, b| {
        rank(&a.0).cmp(&rank(&b.0)).then_with(|| {
            if a.0 == "DELETE" {
                b.1.cmp(&a.1)
            } else {
                a.1.cmp(&b.1)
            }
        })
    });
    let callers = [
        None,
        Some(Role::Eleve),
        Some(Role::Parent),
        Some(Role::Bibliothecaire),
        Some(Role::Comptable),
        Some(Role::Enseignant),
        Some(Role::Direction),
        Some(Role::Admin),
    ];
    let columns: Vec<Option<Role>> = std::iter::once(None)
        .chain(Role::ALL.iter().copied().map(Some))
        .collect();
    assert_eq!(
        columns.len(),
        callers.len(),
        "a role was added: put it in `callers`"
    );
    let mut n = 0;
    let mut lines = vec![format!(
        "# {} operations, columns: {}",
        ops.len(),
        columns
            .iter()
            .map(|r| label(*r))
            .collect::<Vec<_>>()
            .join(" ")
    )];
    for (method, template, op) in &ops {
        let mut statuses = HashMap::new();
        for role in callers {
            let path = banc.path_for(method, template, role);
            let token = role.map(|r| banc.token(r).to_string());
            let body = body_for(&doc, op, &banc, &mut n);
            let (status, _) = banc.send(method, &path, token.as_deref(), body).await;
            statuses.insert(role, status);
        }
        let cells: Vec<String> = columns
            .iter()
            .map(|r| format!("{}={}", label(*r), statuses[r]))
            .collect();
        lines.push(format!("{method} {template}  {}", cells.join(" ")));
    }
    insta::assert_snapshot!("role_matrix", lines.join("\n"));
}

/// One answer per resource, and its errors: a 400 with its field errors and a 404, plus the
/// contract's generic errors (401, 403, 404 route, 405, 413, 415, malformed JSON).
#[tokio::test]
async fn representative_responses_and_errors_are_frozen() {
    let banc = Banc::new().await;
    let norm = Normaliser::new(&banc.app);
    let admin = banc.admin().to_string();
    let id = |resource: &str| banc.ids[resource];
    let (a0, facture, bulletin, job) = (id("eleves"), id("factures"), id("bulletins"), id("jobs"));

    let mut cases: Vec<Case> = vec![
        (
            "auth_login".into(),
            "POST",
            "/api/v1/auth/login/".into(),
            None,
            Some(
                json!({"username": format!("comptable_{}", banc.user(Role::Comptable).id()), "password": DEFAULT_PASSWORD}),
            ),
        ),
        (
            "auth_login_400".into(),
            "POST",
            "/api/v1/auth/login/".into(),
            None,
            Some(json!({})),
        ),
        (
            "auth_login_401".into(),
            "POST",
            "/api/v1/auth/login/".into(),
            None,
            Some(json!({"username": "personne", "password": "mauvais-mot-de-passe"})),
        ),
        (
            "auth_refresh_401".into(),
            "POST",
            "/api/v1/auth/refresh/".into(),
            None,
            Some(json!({"refresh": "inconnu"})),
        ),
        (
            "auth_password_400".into(),
            "POST",
            "/api/v1/auth/password/".into(),
            Some(Role::Comptable),
            Some(json!({"old_password": "pas-le-bon-mot-de-passe", "new_password": "123"})),
        ),
        (
            "users_me".into(),
            "GET",
            "/api/v1/users/me/".into(),
            Some(Role::Parent),
            None,
        ),
        (
            "users_me_400".into(),
            "PATCH",
            "/api/v1/users/me/".into(),
            Some(Role::Parent),
            Some(json!({"email": "pas-un-email"})),
        ),
        (
            "users_me_400_champ_inconnu".into(),
            "PATCH",
            "/api/v1/users/me/".into(),
            Some(Role::Parent),
            Some(json!({"email": "pas-un-email", "role": "ADMIN"})),
        ),
        (
            "users_me_telephone_400".into(),
            "POST",
            "/api/v1/users/me/telephone/".into(),
            Some(Role::Parent),
            Some(json!({"telephone": "abc"})),
        ),
        (
            "users_list".into(),
            "GET",
            "/api/v1/users/?ordering=username".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "users_list_400".into(),
            "GET",
            "/api/v1/users/?role=ROI&is_active=peut-etre&ordering=password_hash".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "users_create_400".into(),
            "POST",
            "/api/v1/users/".into(),
            Some(Role::Admin),
            Some(json!({"username": 12, "role": "ROI", "is_superuser": true})),
        ),
        (
            "users_detail".into(),
            "GET",
            format!("/api/v1/users/{}/", banc.victime.id()),
            Some(Role::Admin),
            None,
        ),
        (
            "users_404".into(),
            "GET",
            format!("/api/v1/users/{ABSENT}/"),
            Some(Role::Admin),
            None,
        ),
        (
            "etablissement".into(),
            "GET",
            "/api/v1/etablissement/".into(),
            Some(Role::Parent),
            None,
        ),
        (
            "etablissement_400".into(),
            "PUT",
            "/api/v1/etablissement/".into(),
            Some(Role::Admin),
            Some(json!({"email": "x"})),
        ),
        (
            "etablissement_logo_400".into(),
            "PUT",
            "/api/v1/etablissement/logo/".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "jobs_detail".into(),
            "GET",
            format!("/api/v1/jobs/{job}/"),
            Some(Role::Admin),
            None,
        ),
        (
            "jobs_400".into(),
            "POST",
            "/api/v1/jobs/".into(),
            Some(Role::Admin),
            Some(json!({"name": "rm -rf"})),
        ),
        (
            "jobs_404".into(),
            "GET",
            format!("/api/v1/jobs/{ABSENT}/"),
            Some(Role::Admin),
            None,
        ),
        (
            "eleves_list_400".into(),
            "GET",
            "/api/v1/eleves/?classe=abc&sexe=X&ordering=password_hash".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "eleves_list_page_404".into(),
            "GET",
            "/api/v1/eleves/?page=99".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "eleves_detail_parent".into(),
            "GET",
            format!("/api/v1/eleves/{a0}/"),
            Some(Role::Parent),
            None,
        ),
        (
            "eleves_parents".into(),
            "GET",
            format!("/api/v1/eleves/{a0}/parents/"),
            Some(Role::Admin),
            None,
        ),
        (
            "eleves_releve".into(),
            "GET",
            format!("/api/v1/eleves/{a0}/releve/"),
            Some(Role::Parent),
            None,
        ),
        (
            "classes_eleves".into(),
            "GET",
            format!("/api/v1/classes/{}/eleves/", id("classes")),
            Some(Role::Enseignant),
            None,
        ),
        (
            "bulletins_list".into(),
            "GET",
            format!("/api/v1/bulletins/?eleve={a0}"),
            Some(Role::Admin),
            None,
        ),
        (
            "bulletins_list_400".into(),
            "GET",
            "/api/v1/bulletins/?periode=TRIMESTRE_9&eleve=abc".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "bulletins_detail".into(),
            "GET",
            format!("/api/v1/bulletins/{bulletin}/"),
            Some(Role::Parent),
            None,
        ),
        (
            "bulletins_versions".into(),
            "GET",
            format!("/api/v1/bulletins/{bulletin}/versions/"),
            Some(Role::Admin),
            None,
        ),
        (
            "bulletins_regles".into(),
            "GET",
            "/api/v1/bulletins/regles/".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "bulletins_generer_400".into(),
            "POST",
            "/api/v1/bulletins/generer/".into(),
            Some(Role::Admin),
            Some(json!({})),
        ),
        (
            "bulletins_404".into(),
            "GET",
            format!("/api/v1/bulletins/{ABSENT}/"),
            Some(Role::Admin),
            None,
        ),
        (
            "factures_list_comptable".into(),
            "GET",
            "/api/v1/factures/".into(),
            Some(Role::Comptable),
            None,
        ),
        (
            "factures_list_400".into(),
            "GET",
            "/api/v1/factures/?statut=PERDUE&date_min=hier".into(),
            Some(Role::Comptable),
            None,
        ),
        (
            "factures_detail_parent".into(),
            "GET",
            format!("/api/v1/factures/{facture}/"),
            Some(Role::Parent),
            None,
        ),
        (
            "factures_paiements".into(),
            "GET",
            format!("/api/v1/factures/{facture}/paiements/"),
            Some(Role::Comptable),
            None,
        ),
        (
            "factures_annuler_409".into(),
            "POST",
            format!("/api/v1/factures/{facture}/annuler/"),
            Some(Role::Comptable),
            Some(json!({"motif": "erreur"})),
        ),
        (
            "notifications_list".into(),
            "GET",
            "/api/v1/notifications/".into(),
            Some(Role::Parent),
            None,
        ),
        (
            "notifications_list_400".into(),
            "GET",
            "/api/v1/notifications/?lue=peut-etre".into(),
            Some(Role::Parent),
            None,
        ),
        (
            "notifications_non_lues".into(),
            "GET",
            "/api/v1/notifications/non-lues/".into(),
            Some(Role::Parent),
            None,
        ),
        (
            "notifications_404".into(),
            "POST",
            format!("/api/v1/notifications/{ABSENT}/lire/"),
            Some(Role::Parent),
            Some(json!({})),
        ),
        // The contract's generic errors.
        (
            "erreur_401_sans_jeton".into(),
            "GET",
            "/api/v1/eleves/".into(),
            None,
            None,
        ),
        (
            "erreur_401_jeton_invalide".into(),
            "GET",
            "/api/v1/eleves/".into(),
            None,
            None,
        ),
        (
            "erreur_403".into(),
            "GET",
            "/api/v1/users/".into(),
            Some(Role::Parent),
            None,
        ),
        // The body is read before the role is checked here: 400, not 403.
        (
            "users_create_400_avant_403".into(),
            "POST",
            "/api/v1/users/".into(),
            Some(Role::Parent),
            Some(json!({})),
        ),
        (
            "erreur_404_route".into(),
            "GET",
            "/api/v1/nexiste-pas/".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "erreur_404_id_non_numerique".into(),
            "GET",
            "/api/v1/eleves/abc/".into(),
            Some(Role::Admin),
            None,
        ),
        (
            "erreur_405".into(),
            "DELETE",
            "/api/v1/users/me/".into(),
            Some(Role::Admin),
            None,
        ),
    ];
    // Each CRUD resource: its list, one row, a 400 on creation and a 404.
    for (resource, invalid) in [
        (
            "annees-scolaires",
            json!({"nom": "", "date_debut": "2026-09-01", "date_fin": "2025-09-01"}),
        ),
        ("periodes", json!({"code": "TRIMESTRE_9"})),
        ("classes", json!({"nom": "", "niveau": "MATERNELLE"})),
        ("matieres", json!({"code": "", "coefficient": -1})),
        ("enseignements", json!({"classe": "abc"})),
        ("enseignants", json!({"username": "", "password": "court"})),
        ("eleves", json!({})),
        ("parents", json!({"telephone": "abc"})),
        (
            "notes",
            json!({"eleve": a0, "valeur": 25, "periode": "TRIMESTRE_1"}),
        ),
        ("presences", json!({"eleve": a0, "statut": "EN_VACANCES"})),
        ("frais", json!({"montant": -5})),
        ("factures", json!({"eleve": a0, "lignes": []})),
        (
            "paiements",
            json!({"facture": facture, "montant": 0, "mode": "TROC"}),
        ),
        ("livres", json!({"titre": "", "isbn": "123"})),
        ("exemplaires", json!({"livre": ABSENT})),
        ("emprunts", json!({"exemplaire": "abc"})),
    ] {
        let key = resource.replace('-', "_");
        cases.extend([
            (
                format!("{key}_list"),
                "GET",
                format!("/api/v1/{resource}/"),
                Some(Role::Admin),
                None,
            ),
            (
                format!("{key}_detail"),
                "GET",
                format!("/api/v1/{resource}/{}/", id(resource)),
                Some(Role::Admin),
                None,
            ),
            (
                format!("{key}_400"),
                "POST",
                format!("/api/v1/{resource}/"),
                Some(Role::Admin),
                Some(invalid),
            ),
            (
                format!("{key}_404"),
                "GET",
                format!("/api/v1/{resource}/{ABSENT}/"),
                Some(Role::Admin),
                None,
            ),
        ]);
    }
    let mut names = std::collections::HashSet::new();
    for (name, method, path, role, body) in cases {
        assert!(names.insert(name.clone()), "{name} twice");
        let token = match name.as_str() {
            "erreur_401_jeton_invalide" => Some("x.y.z".to_string()),
            _ => role.map(|r| banc.token(r).to_string()),
        };
        let body = body.map_or(Body::None, Body::Json);
        let (status, answer) = banc.send(method, &path, token.as_deref(), body).await;
        freeze(&name, status, answer, &norm);
    }

    // Bodies the JSON extractor refuses.
    let cases: [(&str, &str, Vec<u8>); 4] = [
        (
            "erreur_json_malforme",
            "application/json",
            b"{\"nom\": ".to_vec(),
        ),
        (
            "erreur_json_pas_un_objet",
            "application/json",
            b"[1, 2]".to_vec(),
        ),
        ("erreur_415", "text/plain", b"bonjour".to_vec()),
        (
            "erreur_413",
            "application/json",
            format!("{{\"nom\": \"{}\"}}", "a".repeat(1_100_000)).into_bytes(),
        ),
    ];
    for (name, content_type, bytes) in cases {
        let (status, answer) = banc
            .send(
                "POST",
                "/api/v1/matieres/",
                Some(admin.as_str()),
                Body::Raw(content_type, bytes),
            )
            .await;
        freeze(name, status, answer, &norm);
    }
}
