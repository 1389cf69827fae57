//! Finances end to end against the real app, PostgreSQL and the job handlers: statuses,
//! payments under concurrency, Idempotency-Key, gap-free numbers, generation from the fee
//! schedule, PDFs, statements, reminders, and who sees what.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::HashSet;

use chrono::{Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use ecole_core::Role;
use ecole_db::schema::{
    audit_log, compteurs_numeros, factures, frais_scolarite, notifications, paiements,
};
use ecole_finances::numerotation::{self, Serie};
use ecole_test_support::http::{call, get, post};
use ecole_test_support::school::School;
use ecole_test_support::{TestApp, TestUser, json_of};
use serde_json::{Value, json};

// ---------- helpers ----------

fn today() -> NaiveDate {
    ecole_core::time::today()
}

fn in_days(n: u64) -> String {
    today().checked_add_days(Days::new(n)).unwrap().to_string()
}

fn fac(n: i64) -> String {
    numerotation::formater(Serie::Facture, numerotation::annee_courante(), n)
}

fn rec(n: i64) -> String {
    numerotation::formater(Serie::Recu, numerotation::annee_courante(), n)
}

/// A draft for `eleve` with one line of `montant` GNF.
async fn brouillon(app: &TestApp, token: &str, eleve: i64, montant: i64) -> Value {
    let (s, f) = post(
        app,
        "/api/v1/factures/",
        token,
        json!({
            "eleve": eleve,
            "date_echeance": in_days(30),
            "lignes": [{"libelle": "Frais de scolarité", "quantite": 1, "prix_unitaire": montant}],
        }),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    f
}

/// An issued invoice of `montant` GNF: its id.
async fn emise(app: &TestApp, token: &str, eleve: i64, montant: i64) -> i64 {
    let id = brouillon(app, token, eleve, montant).await["id"]
        .as_i64()
        .unwrap();
    let (s, f) = post(
        app,
        &format!("/api/v1/factures/{id}/emettre/"),
        token,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{f}");
    id
}

async fn payer(
    app: &TestApp,
    token: &str,
    facture: i64,
    body: Value,
    key: Option<&str>,
) -> (u16, Value, bool) {
    let mut req = app
        .post(&format!("/api/v1/factures/{facture}/paiements/"))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let replayed = res.headers().get("idempotent-replayed").is_some();
    let (s, v) = json_of(res).await;
    (s, v, replayed)
}

fn especes(montant: i64) -> Value {
    json!({"montant": montant, "mode": "ESPECES"})
}

async fn facture_row(app: &TestApp, id: i64) -> (i64, String, Option<String>) {
    let mut conn = app.conn().await;
    factures::table
        .find(id)
        .select((factures::montant_paye, factures::statut, factures::numero))
        .first(&mut conn)
        .await
        .unwrap()
}

async fn count_paiements(app: &TestApp, facture: i64) -> i64 {
    let mut conn = app.conn().await;
    paiements::table
        .filter(paiements::facture_id.eq(facture))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

async fn comptable(app: &TestApp) -> TestUser {
    app.user()
        .role(Role::Comptable)
        .names("Fatoumata", "Bah")
        .create()
        .await
}

/// The text of a PDF (`pdftotext`), whitespace collapsed so that wrapped lines still match.
fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!(
        "ecole-finances-test-{}-{}.pdf",
        std::process::id(),
        uuid_like()
    ));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-raw")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) : scripts/test.sh l'installe");
    std::fs::remove_file(&path).ok();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn download(app: &TestApp, path: &str, token: &str) -> (u16, Vec<u8>, String) {
    let res = app.get(path).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, res.bytes().await.unwrap().to_vec(), ct)
}

// ---------- fee schedule ----------

#[tokio::test]
async fn fee_schedule_is_kept_by_the_till_and_audited() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let teacher = &school.teacher;
    let parent = &school.a[0].parent;
    let body = json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": "Frais de scolarité", "montant": 1_500_000});
    let (s, f) = post(&app, "/api/v1/frais/", &caisse.access, body.clone()).await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(
        (f["montant"].as_i64(), f["annee_scolaire"].as_i64()),
        (Some(1_500_000), Some(school.annee))
    );
    let id = f["id"].as_i64().unwrap();
    // Same label, level and year: refused with a field error.
    let (s, e) = post(&app, "/api/v1/frais/", &caisse.access, body).await;
    assert_eq!(s, 400);
    assert!(e["libelle"][0].as_str().unwrap().contains("existe déjà"));
    let (s, e) = post(
        &app,
        "/api/v1/frais/",
        &caisse.access,
        json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": "Cantine", "montant": 0}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["montant"].is_array());
    // Families read the schedule; teachers have no access; only the till writes.
    let (s, l) = get(&app, "/api/v1/frais/?niveau=SIXIEME", &parent.access).await;
    assert_eq!((s, l["count"].as_i64()), (200, Some(1)));
    assert_eq!(get(&app, "/api/v1/frais/", &teacher.access).await.0, 403);
    let (s, _) = post(
        &app,
        "/api/v1/frais/",
        &parent.access,
        json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": "X", "montant": 10}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, f) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/frais/{id}/"),
        &caisse.access,
        Some(json!({"montant": 1_600_000})),
    )
    .await;
    assert_eq!((s, f["montant"].as_i64()), (200, Some(1_600_000)));
    let mut conn = app.conn().await;
    let actions: Vec<String> = audit_log::table
        .filter(audit_log::table_name.eq("frais_scolarite"))
        .select(audit_log::action)
        .order(audit_log::id)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(actions, ["CREATE", "UPDATE"]);
    let (s, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/frais/{id}/"),
        &caisse.access,
        None,
    )
    .await;
    assert_eq!(s, 204);
}

// ---------- statuses ----------

#[tokio::test]
async fn invoice_goes_from_draft_to_paid_and_cancelling_is_refused_once_paid() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let eleve = school.a[0].id;
    // Totals are computed by the server from the lines.
    let (s, f) = post(
        &app,
        "/api/v1/factures/",
        &caisse.access,
        json!({"eleve": eleve, "lignes": [
            {"libelle": "Frais de scolarité", "quantite": 1, "prix_unitaire": 1_200_000},
            {"libelle": "Tenue scolaire", "quantite": 2, "prix_unitaire": 150_000},
        ]}),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    let id = f["id"].as_i64().unwrap();
    assert_eq!(f["statut"], "BROUILLON");
    assert_eq!(f["numero"], Value::Null);
    assert_eq!(f["montant_total"], 1_500_000);
    assert_eq!(f["annee_scolaire"], school.annee);
    assert_eq!(f["lignes"][1]["montant"], 300_000);
    assert_eq!(f["date_echeance"], in_days(30));
    // A client-sent total is not a field.
    let (s, _) = post(
        &app,
        "/api/v1/factures/",
        &caisse.access,
        json!({"eleve": eleve, "montant_total": 5, "lignes": [{"libelle": "x", "prix_unitaire": 5}]}),
    )
    .await;
    assert_eq!(s, 400);
    // Draft: no payment.
    let (s, e, _) = payer(&app, &caisse.access, id, especes(1000), None).await;
    assert_eq!(s, 400);
    assert!(
        e["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("brouillon")
    );
    // A draft is edited freely.
    let (s, f) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/factures/{id}/"),
        &caisse.access,
        Some(json!({"lignes": [{"libelle": "Frais de scolarité", "prix_unitaire": 1_500_000}]})),
    )
    .await;
    assert_eq!((s, f["montant_total"].as_i64()), (200, Some(1_500_000)));
    assert_eq!(f["lignes"].as_array().unwrap().len(), 1);
    // Issued: a number, today's date, no more edits.
    let (s, f) = post(
        &app,
        &format!("/api/v1/factures/{id}/emettre/"),
        &caisse.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(f["statut"], "EMISE");
    assert_eq!(f["numero"], fac(1));
    assert_eq!(f["date_emission"], today().to_string());
    let (s, _) = post(
        &app,
        &format!("/api/v1/factures/{id}/emettre/"),
        &caisse.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/factures/{id}/"),
        &caisse.access,
        Some(json!({"date_echeance": in_days(10)})),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(
        call(
            &app,
            reqwest::Method::DELETE,
            &format!("/api/v1/factures/{id}/"),
            &caisse.access,
            None
        )
        .await
        .0,
        409
    );
    // Partly paid, then paid.
    let (s, p, _) = payer(&app, &caisse.access, id, especes(500_000), None).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["recu_numero"], rec(1));
    assert_eq!(p["facture_statut"], "PARTIELLEMENT_PAYEE");
    assert_eq!(p["facture_montant_restant"], 1_000_000);
    assert_eq!(p["enregistre_par"], caisse.id());
    assert_eq!(p["enregistre_par_nom"], "Fatoumata Bah");
    // Cancelling is refused once money was paid.
    let (s, e) = post(
        &app,
        &format!("/api/v1/factures/{id}/annuler/"),
        &caisse.access,
        json!({}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")));
    let (s, p, _) = payer(
        &app,
        &caisse.access,
        id,
        json!({"montant": 1_000_000, "mode": "ORANGE_MONEY", "reference": "OM-2611-0042"}),
        None,
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(
        (
            p["facture_statut"].as_str(),
            p["facture_montant_restant"].as_i64()
        ),
        (Some("PAYEE"), Some(0))
    );
    assert_eq!(p["mode_libelle"], "Orange Money");
    let (s, e, _) = payer(&app, &caisse.access, id, especes(1), None).await;
    assert_eq!(s, 400);
    assert!(
        e["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("entièrement payée")
    );
    assert_eq!(
        facture_row(&app, id).await,
        (1_500_000, "PAYEE".into(), Some(fac(1)))
    );

    // Another invoice, issued then cancelled: it keeps its number; paying it is refused.
    let other = emise(&app, &caisse.access, eleve, 200_000).await;
    let (s, f) = post(
        &app,
        &format!("/api/v1/factures/{other}/annuler/"),
        &caisse.access,
        json!({"motif": "Erreur de saisie"}),
    )
    .await;
    assert_eq!(
        (s, f["statut"].as_str(), f["numero"].as_str()),
        (200, Some("ANNULEE"), Some(fac(2).as_str()))
    );
    let (s, _) = post(
        &app,
        &format!("/api/v1/factures/{other}/annuler/"),
        &caisse.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 409);
    let (s, e, _) = payer(&app, &caisse.access, other, especes(1000), None).await;
    assert_eq!(s, 400);
    assert!(
        e["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("annulée")
    );
    // Cancelling without a body works too.
    let draft = brouillon(&app, &caisse.access, eleve, 1000).await["id"]
        .as_i64()
        .unwrap();
    let res = app
        .post(&format!("/api/v1/factures/{draft}/annuler/"))
        .bearer_auth(&caisse.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // A plain draft is deleted.
    let draft = brouillon(&app, &caisse.access, eleve, 1000).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        call(
            &app,
            reqwest::Method::DELETE,
            &format!("/api/v1/factures/{draft}/"),
            &caisse.access,
            None
        )
        .await
        .0,
        204
    );

    // Every money change is in the journal, with who made it.
    let mut conn = app.conn().await;
    let rows: Vec<(String, String, Option<i64>)> = audit_log::table
        .filter(audit_log::table_name.eq_any(["factures", "paiements"]))
        .select((audit_log::table_name, audit_log::action, audit_log::user_id))
        .order(audit_log::id)
        .load(&mut conn)
        .await
        .unwrap();
    let paiements_audites = rows
        .iter()
        .filter(|r| r.0 == "paiements" && r.1 == "CREATE")
        .count();
    assert_eq!(paiements_audites, 2);
    assert!(rows.iter().all(|r| r.2 == Some(caisse.id())));
    // Create, patch, issue, 2 payments (facture side), on the first invoice alone.
    let first: i64 = audit_log::table
        .filter(audit_log::table_name.eq("factures"))
        .filter(audit_log::row_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(first, 5);
}

#[tokio::test]
async fn payment_checks_mode_reference_amount_and_date() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let id = emise(&app, &caisse.access, school.a[0].id, 300_000).await;
    for (body, field) in [
        (json!({"montant": 0, "mode": "ESPECES"}), "montant"),
        (json!({"montant": -5, "mode": "ESPECES"}), "montant"),
        (json!({"montant": 1000, "mode": "MTN_MOMO"}), "reference"),
        (
            json!({"montant": 1000, "mode": "CHEQUE", "reference": "  "}),
            "reference",
        ),
        (
            json!({"montant": 1000, "mode": "ESPECES", "date_paiement": in_days(1)}),
            "date_paiement",
        ),
        (json!({"montant": 1000, "mode": "BITCOIN"}), "mode"),
        (json!({"montant": 1.5, "mode": "ESPECES"}), "montant"),
    ] {
        let (s, e, _) = payer(&app, &caisse.access, id, body.clone(), None).await;
        assert_eq!(s, 400, "{body}");
        assert!(e[field].is_array(), "{body} → {e}");
    }
    // Teachers and families do not record payments.
    let (s, _, _) = payer(&app, &school.teacher.access, id, especes(1000), None).await;
    assert_eq!(s, 403);
    let (s, _, _) = payer(&app, &school.a[0].parent.access, id, especes(1000), None).await;
    assert_eq!(s, 403);
    assert_eq!(count_paiements(&app, id).await, 0);
    // The other route, naming the invoice.
    let (s, p) = post(
        &app,
        "/api/v1/paiements/",
        &caisse.access,
        json!({"facture": id, "montant": 100_000, "mode": "VIREMENT", "reference": "VIR-88", "date_paiement": today().to_string()}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["facture"], id);
    let (s, _) = post(
        &app,
        "/api/v1/paiements/",
        &caisse.access,
        json!({"facture": 999_999, "montant": 100, "mode": "ESPECES"}),
    )
    .await;
    assert_eq!(s, 404);
}

// ---------- overpayment and concurrency ----------

#[tokio::test]
async fn overpayment_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let id = emise(&app, &caisse.access, school.a[0].id, 500_000).await;
    assert_eq!(
        payer(&app, &caisse.access, id, especes(200_000), None)
            .await
            .0,
        201
    );
    let (s, e, _) = payer(&app, &caisse.access, id, especes(300_001), None).await;
    assert_eq!(s, 400);
    assert!(
        e["montant"][0].as_str().unwrap().contains("300 000 GNF"),
        "{e}"
    );
    assert_eq!(facture_row(&app, id).await.0, 200_000);
    assert_eq!(count_paiements(&app, id).await, 1);
    // The refused payment took no receipt number: the next one is REC-…-000002.
    let (s, p, _) = payer(&app, &caisse.access, id, especes(300_000), None).await;
    assert_eq!(s, 201);
    assert_eq!(p["recu_numero"], rec(2));
}

#[tokio::test]
async fn concurrent_payments_never_exceed_the_invoice() {
    let app = TestApp::with_settings(|s| s.database_pool_size = 16).await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let id = emise(&app, &caisse.access, school.a[0].id, 1_000_000).await;
    // 24 payments of 100 000 at once on a 1 000 000 invoice: exactly 10 can pass.
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/v1/factures/{id}/paiements/"));
            let token = caisse.access.clone();
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&especes(100_000))
                    .send()
                    .await
                    .unwrap();
                json_of(res).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut receipts = Vec::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        if s == 201 {
            receipts.push(body["recu_numero"].as_str().unwrap().to_string());
        } else {
            assert_eq!(s, 400, "{body}");
            assert!(
                body["montant"].is_array() || body["non_field_errors"].is_array(),
                "{body}"
            );
        }
        statuses.push(s);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 10);
    assert_eq!(
        facture_row(&app, id).await,
        (1_000_000, "PAYEE".into(), Some(fac(1)))
    );
    assert_eq!(count_paiements(&app, id).await, 10);
    let mut conn = app.conn().await;
    let sum: Vec<i64> = paiements::table
        .filter(paiements::facture_id.eq(id))
        .select(paiements::montant)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(sum.iter().sum::<i64>(), 1_000_000);
    // Receipt numbers: 1..=10, no gap, no duplicate.
    receipts.sort();
    assert_eq!(receipts, (1..=10).map(rec).collect::<Vec<_>>());
}

// ---------- Idempotency-Key ----------

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let app = TestApp::with_settings(|s| s.database_pool_size = 12).await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let id = emise(&app, &caisse.access, school.a[0].id, 900_000).await;
    let body = json!({"montant": 300_000, "mode": "MTN_MOMO", "reference": "MOMO-7781"});
    let (s1, first, replayed) =
        payer(&app, &caisse.access, id, body.clone(), Some("cle-001")).await;
    assert_eq!((s1, replayed), (201, false), "{first}");
    // Same key, same body (fields in another order): the same answer, nothing recorded.
    let (s2, second, replayed) = payer(
        &app,
        &caisse.access,
        id,
        json!({"reference": "MOMO-7781", "mode": "MTN_MOMO", "montant": 300_000}),
        Some("cle-001"),
    )
    .await;
    assert_eq!((s2, replayed), (201, true));
    assert_eq!(first, second);
    assert_eq!(count_paiements(&app, id).await, 1);
    assert_eq!(facture_row(&app, id).await.0, 300_000);
    // Same key, another body: 409, nothing recorded.
    let (s, e, _) = payer(&app, &caisse.access, id, especes(300_000), Some("cle-001")).await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")));
    // Same key by someone else: another request too.
    let other = comptable(&app).await;
    let (s, _, _) = payer(&app, &other.access, id, body.clone(), Some("cle-001")).await;
    assert_eq!(s, 409);
    assert_eq!(count_paiements(&app, id).await, 1);
    // A bad key is a field error.
    let (s, e, _) = payer(
        &app,
        &caisse.access,
        id,
        body.clone(),
        Some("clé avec espaces"),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["Idempotency-Key"].is_array());
    // A refused request keeps no answer: the key can be used again once it can succeed.
    let (s, _, _) = payer(&app, &caisse.access, id, especes(700_000), Some("cle-002")).await;
    assert_eq!(s, 400);
    let (s, p, replayed) = payer(&app, &caisse.access, id, especes(600_000), Some("cle-002")).await;
    assert_eq!((s, replayed), (201, false), "{p}");
    assert_eq!(p["facture_statut"], "PAYEE");

    // Ten identical requests at once with one key: one payment, ten identical answers.
    let id = emise(&app, &caisse.access, school.a[0].id, 500_000).await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/v1/factures/{id}/paiements/"));
            let token = caisse.access.clone();
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", "cle-simultanee")
                    .json(&especes(50_000))
                    .send()
                    .await
                    .unwrap();
                json_of(res).await
            })
        })
        .collect();
    let mut answers = HashSet::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        assert_eq!(s, 201, "{body}");
        answers.insert(body.to_string());
    }
    assert_eq!(answers.len(), 1);
    assert_eq!(count_paiements(&app, id).await, 1);
    assert_eq!(facture_row(&app, id).await.0, 50_000);
    let mut conn = app.conn().await;
    let key: Option<String> = paiements::table
        .filter(paiements::facture_id.eq(id))
        .select(paiements::idempotency_key)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(key.as_deref(), Some("cle-simultanee"));
}

// ---------- numbers ----------

#[tokio::test]
async fn invoice_numbers_have_no_gap_under_concurrency_and_rollback() {
    let app = TestApp::with_settings(|s| s.database_pool_size = 16).await;
    let school = School::create(&app, 2).await;
    let caisse = comptable(&app).await;
    let eleve = school.a[0].id;
    let mut drafts = Vec::new();
    for _ in 0..20 {
        drafts.push(
            brouillon(&app, &caisse.access, eleve, 10_000).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // A transaction that takes numbers, holds them while issuing starts, then rolls back.
    let db = app.db.url.clone();
    let (taken_tx, taken_rx) = tokio::sync::oneshot::channel::<i64>();
    let rollback = tokio::spawn(async move {
        let mut conn = diesel_async::AsyncPgConnection::establish(&db)
            .await
            .unwrap();
        let r: Result<(), diesel::result::Error> = conn
            .transaction(async move |conn| {
                let n =
                    numerotation::prendre(conn, Serie::Facture, numerotation::annee_courante(), 3)
                        .await
                        .unwrap();
                taken_tx.send(n).unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                Err(diesel::result::Error::RollbackTransaction)
            })
            .await;
        assert!(r.is_err());
    });
    assert_eq!(taken_rx.await.unwrap(), 1);
    // Twenty issues at once (and an invalid one, refused before any number is taken).
    let mut conn = app.conn().await;
    let expired = drafts[0];
    diesel::update(factures::table.find(expired))
        .set(factures::date_echeance.eq(today().checked_sub_days(Days::new(1)).unwrap()))
        .execute(&mut conn)
        .await
        .unwrap();
    let tasks: Vec<_> = drafts
        .iter()
        .map(|id| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/v1/factures/{id}/emettre/"));
            let token = caisse.access.clone();
            tokio::spawn(async move {
                json_of(client.post(url).bearer_auth(token).send().await.unwrap()).await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        let (s, f) = t.await.unwrap();
        if s == 200 {
            numbers.push(f["numero"].as_str().unwrap().to_string());
        } else {
            assert_eq!(s, 400, "{f}");
            assert!(f["date_echeance"].is_array());
        }
    }
    rollback.await.unwrap();
    numbers.sort();
    assert_eq!(numbers, (1..=19).map(fac).collect::<Vec<_>>());
    let stored: Vec<Option<String>> = factures::table
        .filter(factures::numero.is_not_null())
        .select(factures::numero)
        .order(factures::numero)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored.len(), 19);
    let dernier: i64 = compteurs_numeros::table
        .filter(compteurs_numeros::prefixe.eq("FAC"))
        .select(compteurs_numeros::dernier)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(dernier, 19);
}

// ---------- generation from the fee schedule ----------

#[tokio::test]
async fn generation_bills_each_pupil_once_per_fee_with_pdfs() {
    let app = TestApp::new().await;
    let school = School::create(&app, 3).await;
    let caisse = comptable(&app).await;
    for (libelle, montant) in [("Frais de scolarité", 1_200_000), ("Inscription", 300_000)] {
        let (s, _) = post(
            &app,
            "/api/v1/frais/",
            &caisse.access,
            json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": libelle, "montant": montant}),
        )
        .await;
        assert_eq!(s, 201);
    }
    // Validation: a level or a class, not both; a class of the year.
    let (s, e) = post(
        &app,
        "/api/v1/factures/generer/",
        &caisse.access,
        json!({"annee_scolaire": school.annee}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["non_field_errors"].is_array());
    let (s, e) = post(
        &app,
        "/api/v1/factures/generer/",
        &caisse.access,
        json!({"annee_scolaire": school.annee, "niveau": "CP1"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        e["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("Aucun frais")
    );
    assert_eq!(
        post(
            &app,
            "/api/v1/factures/generer/",
            &school.a[0].parent.access,
            json!({"annee_scolaire": school.annee, "niveau": "SIXIEME"})
        )
        .await
        .0,
        403
    );
    // Class A, then the whole level: class A's pupils are not billed twice.
    let (s, job) = post(
        &app,
        "/api/v1/factures/generer/",
        &caisse.access,
        json!({"annee_scolaire": school.annee, "classe": school.classe_a, "date_echeance": in_days(20)}),
    )
    .await;
    assert_eq!(s, 202, "{job}");
    let status_url = job["status_url"].as_str().unwrap().to_string();
    app.run_jobs(ecole_handlers::registry()).await;
    let (_, j) = get(&app, &status_url, &caisse.access).await;
    assert_eq!(j["status"], "SUCCES", "{j}");
    assert_eq!(
        (
            j["result"]["factures"].as_i64(),
            j["progress"]["done"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let (_, job) = post(
        &app,
        "/api/v1/factures/generer/",
        &caisse.access,
        json!({"annee_scolaire": school.annee, "niveau": "SIXIEME"}),
    )
    .await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (_, j) = get(&app, job["status_url"].as_str().unwrap(), &caisse.access).await;
    assert_eq!(j["result"]["factures"], 3, "{j}");
    assert_eq!(j["result"]["eleves_deja_factures"], 3);
    let (_, l) = get(
        &app,
        "/api/v1/factures/?page_size=50&ordering=numero",
        &caisse.access,
    )
    .await;
    assert_eq!(l["count"], 6);
    let numbers: Vec<&str> = l["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["numero"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, (1..=6).map(fac).collect::<Vec<_>>());
    for f in l["results"].as_array().unwrap() {
        assert_eq!(
            (f["statut"].as_str(), f["montant_total"].as_i64()),
            (Some("EMISE"), Some(1_500_000))
        );
        assert!(f["pdf_url"].is_string(), "{f}");
    }
    let first_a = l["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["classe"] == school.classe_a)
        .unwrap();
    assert_eq!(first_a["date_echeance"], in_days(20));
    // A new fee: the next run bills only it; a cancelled invoice's fees may be billed again.
    let (_, f) = post(
        &app,
        "/api/v1/frais/",
        &caisse.access,
        json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": "Cantine", "montant": 450_000}),
    )
    .await;
    let cantine = f["id"].as_i64().unwrap();
    let cancelled = l["results"][0]["id"].as_i64().unwrap();
    let cancelled_pupil = l["results"][0]["eleve"].as_i64().unwrap();
    post(
        &app,
        &format!("/api/v1/factures/{cancelled}/annuler/"),
        &caisse.access,
        json!({}),
    )
    .await;
    let (_, job) = post(
        &app,
        "/api/v1/factures/generer/",
        &caisse.access,
        json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "emettre": false}),
    )
    .await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (_, j) = get(&app, job["status_url"].as_str().unwrap(), &caisse.access).await;
    assert_eq!(j["result"]["factures"], 6, "{j}");
    let (_, drafts) = get(
        &app,
        "/api/v1/factures/?statut=BROUILLON&page_size=50",
        &caisse.access,
    )
    .await;
    assert_eq!(drafts["count"], 6);
    for d in drafts["results"].as_array().unwrap() {
        let (_, detail) = get(
            &app,
            &format!("/api/v1/factures/{}/", d["id"]),
            &caisse.access,
        )
        .await;
        let fees: Vec<i64> = detail["lignes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["frais"].as_i64().unwrap())
            .collect();
        if d["eleve"] == cancelled_pupil {
            assert_eq!(fees.len(), 3, "{detail}");
            assert_eq!(d["montant_total"], 1_950_000);
        } else {
            assert_eq!(fees, [cantine]);
            assert_eq!(d["montant_total"], 450_000);
        }
        assert_eq!(d["numero"], Value::Null);
    }
    // A billed fee is not deleted.
    let mut conn = app.conn().await;
    let scolarite: i64 = frais_scolarite::table
        .filter(frais_scolarite::libelle.eq("Frais de scolarité"))
        .select(frais_scolarite::id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        call(
            &app,
            reqwest::Method::DELETE,
            &format!("/api/v1/frais/{scolarite}/"),
            &caisse.access,
            None
        )
        .await
        .0,
        409
    );
    // Generated invoices are audited on behalf of who asked.
    let audited: i64 = audit_log::table
        .filter(audit_log::table_name.eq("factures"))
        .filter(audit_log::action.eq("CREATE"))
        .filter(audit_log::user_id.eq(caisse.id()))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, 12);
}

// ---------- PDFs ----------

#[tokio::test]
async fn invoice_and_receipt_pdfs_show_number_pupil_and_amounts() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let pupil = &school.a[0];
    let (s, f) = post(
        &app,
        "/api/v1/factures/",
        &caisse.access,
        json!({"eleve": pupil.id, "date_echeance": in_days(15), "lignes": [
            {"libelle": "Frais de scolarité — 1er trimestre", "quantite": 1, "prix_unitaire": 1_250_000},
            {"libelle": "Cantine « Le Baobab »", "quantite": 2, "prix_unitaire": 125_000},
        ]}),
    )
    .await;
    assert_eq!(s, 201);
    let id = f["id"].as_i64().unwrap();
    // Before issue: no PDF (404), and no job to render one.
    assert_eq!(
        download(&app, &format!("/api/v1/factures/{id}/pdf/"), &caisse.access)
            .await
            .0,
        404
    );
    post(
        &app,
        &format!("/api/v1/factures/{id}/emettre/"),
        &caisse.access,
        json!({}),
    )
    .await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, pdf, ct) = download(&app, &format!("/api/v1/factures/{id}/pdf/"), &caisse.access).await;
    assert_eq!((s, ct.as_str()), (200, "application/pdf"));
    let text = pdf_text(&pdf);
    let nom = format!(
        "{} {}",
        pupil.user.user.first_name, pupil.user.user.last_name
    );
    for expected in [
        fac(1).as_str(),
        nom.as_str(),
        "2026/A000",
        "6ème A",
        "Frais de scolarité — 1er trimestre",
        "Cantine « Le Baobab »",
        "1 250 000 GNF",
        "250 000 GNF",
        "1 500 000 GNF",
        "un million cinq cent mille francs guinéens",
    ] {
        assert!(text.contains(expected), "{expected:?} absent de : {text}");
    }
    assert!(!text.contains("ANNULÉE"));
    // The parent downloads it too.
    assert_eq!(
        download(
            &app,
            &format!("/api/v1/factures/{id}/pdf/"),
            &pupil.parent.access
        )
        .await
        .0,
        200
    );

    let (s, p, _) = payer(
        &app,
        &caisse.access,
        id,
        json!({"montant": 1_000_000, "mode": "ORANGE_MONEY", "reference": "OM-123456"}),
        None,
    )
    .await;
    assert_eq!(s, 201);
    let paiement = p["id"].as_i64().unwrap();
    assert_eq!(p["recu_url"], Value::Null);
    app.run_jobs(ecole_handlers::registry()).await;
    let (_, p) = get(
        &app,
        &format!("/api/v1/paiements/{paiement}/"),
        &caisse.access,
    )
    .await;
    assert_eq!(p["recu_url"], format!("/api/v1/paiements/{paiement}/recu/"));
    let (s, pdf, _) = download(
        &app,
        &format!("/api/v1/paiements/{paiement}/recu/"),
        &pupil.parent.access,
    )
    .await;
    assert_eq!(s, 200);
    let text = pdf_text(&pdf);
    for expected in [
        rec(1).as_str(),
        fac(1).as_str(),
        nom.as_str(),
        "1 000 000 GNF",
        "un million de francs guinéens",
        "Orange Money",
        "OM-123456",
        "500 000 GNF",
        "Fatoumata Bah",
    ] {
        assert!(text.contains(expected), "{expected:?} absent de : {text}");
    }
}

#[tokio::test]
async fn cancelled_invoice_pdf_is_marked_cancelled() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let id = emise(&app, &caisse.access, school.a[0].id, 75_000).await;
    post(
        &app,
        &format!("/api/v1/factures/{id}/annuler/"),
        &caisse.access,
        json!({}),
    )
    .await;
    app.run_jobs(ecole_handlers::registry()).await;
    let (s, pdf, _) = download(&app, &format!("/api/v1/factures/{id}/pdf/"), &caisse.access).await;
    assert_eq!(s, 200);
    let text = pdf_text(&pdf);
    assert!(text.contains("ANNULÉE"), "{text}");
    assert!(
        text.contains("soixante-quinze mille francs guinéens"),
        "{text}"
    );
}

// ---------- scope ----------

#[tokio::test]
async fn families_see_only_their_children_invoices_and_payments() {
    let app = TestApp::new().await;
    let school = School::create(&app, 2).await;
    let caisse = comptable(&app).await;
    let mine = &school.a[0];
    let other = &school.b[0];
    let f_mine = emise(&app, &caisse.access, mine.id, 400_000).await;
    let f_other = emise(&app, &caisse.access, other.id, 400_000).await;
    let draft_mine = brouillon(&app, &caisse.access, mine.id, 1000).await["id"]
        .as_i64()
        .unwrap();
    let (_, p_mine, _) = payer(&app, &caisse.access, f_mine, especes(100_000), None).await;
    let (_, p_other, _) = payer(&app, &caisse.access, f_other, especes(100_000), None).await;
    app.run_jobs(ecole_handlers::registry()).await;
    for family in [&mine.parent, &mine.user] {
        let token = family.access.as_str();
        let (s, l) = get(&app, "/api/v1/factures/", token).await;
        assert_eq!(s, 200);
        let ids: Vec<i64> = l["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids,
            [f_mine],
            "les brouillons et les factures des autres sont invisibles"
        );
        assert_eq!(
            get(&app, &format!("/api/v1/factures/{f_mine}/"), token)
                .await
                .0,
            200
        );
        for path in [
            format!("/api/v1/factures/{f_other}/"),
            format!("/api/v1/factures/{draft_mine}/"),
            format!("/api/v1/factures/{f_other}/paiements/"),
            format!("/api/v1/paiements/{}/", p_other["id"]),
            format!("/api/v1/eleves/{}/releve/", other.id),
        ] {
            let (s, e) = get(&app, &path, token).await;
            assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{path}");
        }
        for path in [
            format!("/api/v1/factures/{f_other}/pdf/"),
            format!("/api/v1/paiements/{}/recu/", p_other["id"]),
        ] {
            assert_eq!(download(&app, &path, token).await.0, 404, "{path}");
        }
        assert_eq!(
            download(
                &app,
                &format!("/api/v1/paiements/{}/recu/", p_mine["id"]),
                token
            )
            .await
            .0,
            200
        );
        let (_, l) = get(&app, "/api/v1/paiements/", token).await;
        assert_eq!(l["count"], 1);
        assert_eq!(l["results"][0]["id"], p_mine["id"]);
        let (_, l) = get(
            &app,
            &format!("/api/v1/factures/{f_mine}/paiements/"),
            token,
        )
        .await;
        assert_eq!(l["count"], 1);
        // Families write nothing.
        assert_eq!(
            post(
                &app,
                &format!("/api/v1/factures/{f_mine}/annuler/"),
                token,
                json!({})
            )
            .await
            .0,
            403
        );
    }
    // Teachers have no access to the till: 403 on lists, 404 on rows.
    let t = &school.teacher.access;
    assert_eq!(get(&app, "/api/v1/factures/", t).await.0, 403);
    assert_eq!(get(&app, "/api/v1/paiements/", t).await.0, 403);
    assert_eq!(
        get(&app, &format!("/api/v1/factures/{f_mine}/"), t).await.0,
        404
    );
    assert_eq!(
        get(&app, &format!("/api/v1/eleves/{}/releve/", mine.id), t)
            .await
            .0,
        404
    );
    // The till sees everything; filters narrow it.
    let (_, l) = get(&app, "/api/v1/factures/", &caisse.access).await;
    assert_eq!(l["count"], 3);
    let (_, l) = get(
        &app,
        &format!(
            "/api/v1/factures/?eleve={}&statut=PARTIELLEMENT_PAYEE",
            other.id
        ),
        &caisse.access,
    )
    .await;
    assert_eq!(l["count"], 1);
    let (_, l) = get(
        &app,
        &format!("/api/v1/factures/?search={}", fac(2)),
        &caisse.access,
    )
    .await;
    assert_eq!(l["count"], 1);
    let (s, _) = get(&app, "/api/v1/factures/?statut=PERDUE", &caisse.access).await;
    assert_eq!(s, 400);
    // No token: 401.
    assert_eq!(
        app.get("/api/v1/factures/")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn statement_lists_invoices_payments_and_balance() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let pupil = &school.a[0];
    let f1 = emise(&app, &caisse.access, pupil.id, 1_000_000).await;
    let f2 = emise(&app, &caisse.access, pupil.id, 500_000).await;
    let f3 = emise(&app, &caisse.access, pupil.id, 80_000).await;
    brouillon(&app, &caisse.access, pupil.id, 9_999).await;
    post(
        &app,
        &format!("/api/v1/factures/{f3}/annuler/"),
        &caisse.access,
        json!({}),
    )
    .await;
    payer(&app, &caisse.access, f1, especes(400_000), None).await;
    payer(&app, &caisse.access, f1, especes(100_000), None).await;
    // f2 is overdue.
    let mut conn = app.conn().await;
    diesel::update(factures::table.find(f2))
        .set(factures::date_echeance.eq(today().checked_sub_days(Days::new(3)).unwrap()))
        .execute(&mut conn)
        .await
        .unwrap();
    let (s, r) = get(
        &app,
        &format!("/api/v1/eleves/{}/releve/", pupil.id),
        &pupil.parent.access,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["annee_scolaire"], school.annee);
    assert_eq!(r["annee_scolaire_nom"], "2025-2026");
    assert_eq!(
        r["factures"].as_array().unwrap().len(),
        3,
        "brouillon exclu"
    );
    assert_eq!(r["total_facture"], 1_500_000);
    assert_eq!(r["total_paye"], 500_000);
    assert_eq!(r["solde_du"], 1_000_000);
    assert_eq!(r["montant_en_retard"], 500_000);
    let first = &r["factures"][0];
    assert_eq!(first["id"], f1);
    assert_eq!(first["paiements"].as_array().unwrap().len(), 2);
    assert_eq!(first["paiements"][0]["montant"], 400_000);
    assert_eq!(r["factures"][1]["en_retard"], true);
    assert_eq!(r["factures"][2]["statut"], "ANNULEE");
    let (s, _) = get(
        &app,
        &format!("/api/v1/eleves/{}/releve/?annee_scolaire=99999", pupil.id),
        &caisse.access,
    )
    .await;
    assert_eq!(s, 400);
    let (_, l) = get(&app, "/api/v1/factures/?en_retard=true", &caisse.access).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["results"][0]["id"], f2);
}

// ---------- notifications ----------

#[tokio::test]
async fn a_payment_notifies_the_parents() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let caisse = comptable(&app).await;
    let pupil = &school.a[0];
    let id = emise(&app, &caisse.access, pupil.id, 750_000).await;
    let (s, p, _) = payer(&app, &caisse.access, id, especes(250_000), Some("k-notif")).await;
    assert_eq!(s, 201);
    // The replay notifies nobody again.
    assert!(
        payer(&app, &caisse.access, id, especes(250_000), Some("k-notif"))
            .await
            .2
    );
    let mut conn = app.conn().await;
    let rows: Vec<(i64, String, String, bool, bool)> = notifications::table
        .select((
            notifications::utilisateur_id,
            notifications::type_notification,
            notifications::message,
            notifications::envoyer_par_email,
            notifications::envoyer_par_sms,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (user, kind, message, email, sms) = &rows[0];
    assert_eq!(
        (*user, kind.as_str(), *email, *sms),
        (pupil.parent.id(), "PAIEMENT_RECU", true, true)
    );
    assert!(message.contains("250 000 GNF"), "{message}");
    assert!(
        message.contains(p["recu_numero"].as_str().unwrap()),
        "{message}"
    );
    assert!(message.contains("Reste à payer : 500 000 GNF"), "{message}");
    let (_, n) = get(&app, "/api/v1/notifications/", &pupil.parent.access).await;
    assert_eq!(n["count"], 1);
}

/// Sets an invoice's due date `days` ago and, optionally, its last reminder `reminded` days ago.
async fn overdue(app: &TestApp, id: i64, days: u64, reminded: Option<i64>) {
    let mut conn = app.conn().await;
    diesel::update(factures::table.find(id))
        .set((
            factures::date_echeance.eq(today().checked_sub_days(Days::new(days)).unwrap()),
            factures::dernier_rappel_le
                .eq(reminded.map(|d| Utc::now() - chrono::Duration::days(d))),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn reminders_go_to_overdue_invoices_once_per_interval() {
    let app = TestApp::new().await;
    let school = School::create(&app, 5).await;
    let caisse = comptable(&app).await;
    let p = &school.a;
    let due = emise(&app, &caisse.access, p[0].id, 1_500_000).await;
    let not_due = emise(&app, &caisse.access, p[1].id, 100_000).await;
    let reminded_recently = emise(&app, &caisse.access, p[2].id, 100_000).await;
    let reminded_long_ago = emise(&app, &caisse.access, p[3].id, 100_000).await;
    let paid = emise(&app, &caisse.access, p[4].id, 100_000).await;
    let partly = emise(&app, &caisse.access, p[0].id, 300_000).await;
    overdue(&app, due, 10, None).await;
    overdue(&app, reminded_recently, 10, Some(3)).await;
    overdue(&app, reminded_long_ago, 30, Some(8)).await;
    overdue(&app, paid, 10, None).await;
    overdue(&app, partly, 1, None).await;
    // Paid meanwhile: not reminded. Partly paid: reminded for what remains.
    payer(&app, &caisse.access, paid, especes(100_000), None).await;
    payer(&app, &caisse.access, partly, especes(100_000), None).await;
    // Due today is not overdue yet.
    {
        let mut conn = app.conn().await;
        diesel::update(factures::table.find(not_due))
            .set(factures::date_echeance.eq(today()))
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::delete(notifications::table)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // The beat's job, run as the worker runs it.
    let mut conn = app.conn().await;
    ecole_jobs::enqueue(
        &mut conn,
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::EnvoyerRappelsPaiement {}).unwrap(),
    )
    .await
    .unwrap();
    app.run_jobs(ecole_handlers::registry()).await;
    let rows: Vec<(i64, String, String, String, Option<String>)> = notifications::table
        .select((
            notifications::utilisateur_id,
            notifications::type_notification,
            notifications::titre,
            notifications::message,
            notifications::lien_url,
        ))
        .order(notifications::id)
        .load(&mut conn)
        .await
        .unwrap();
    // due, reminded_long_ago and partly: pupil + parent each.
    assert_eq!(rows.len(), 6, "{rows:#?}");
    assert!(
        rows.iter()
            .all(|r| r.1 == "RAPPEL_PAIEMENT" && r.2 == "Rappel de paiement")
    );
    let numero_due = facture_row(&app, due).await.2.unwrap();
    let to_pupil = rows
        .iter()
        .find(|r| r.0 == p[0].user.id() && r.3.contains(&numero_due))
        .unwrap();
    assert!(
        to_pupil.3.starts_with(&format!(
            "Votre facture {numero_due} d'un montant restant de 1 500 000 GNF est en retard."
        )),
        "{}",
        to_pupil.3
    );
    assert_eq!(
        to_pupil.4.as_deref(),
        Some(format!("/factures/{due}").as_str())
    );
    let to_parent = rows
        .iter()
        .find(|r| r.0 == p[0].parent.id() && r.3.contains(&numero_due))
        .unwrap();
    let nom = format!("{} {}", p[0].user.user.first_name, p[0].user.user.last_name);
    assert!(
        to_parent.3.starts_with(&format!(
            "Facture {numero_due} pour {nom} en retard. Montant restant : 1 500 000 GNF."
        )),
        "{}",
        to_parent.3
    );
    let numero_partly = facture_row(&app, partly).await.2.unwrap();
    assert!(
        rows.iter()
            .any(|r| r.3.contains(&numero_partly) && r.3.contains("200 000 GNF"))
    );
    for id in [not_due, reminded_recently, paid] {
        let numero = facture_row(&app, id).await.2.unwrap();
        assert!(
            !rows.iter().any(|r| r.3.contains(&numero)),
            "{numero} relancée à tort"
        );
    }
    // Each reminder's delivery jobs (e-mail + SMS) were asked for and run.
    let ids: HashSet<i64> = notifications::table
        .select(notifications::id)
        .load::<i64>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let deliveries: Vec<(Value, String)> = ecole_db::schema::jobs::table
        .filter(ecole_db::schema::jobs::name.like("communication.envoyer_%_notification"))
        .select((
            ecole_db::schema::jobs::payload,
            ecole_db::schema::jobs::status,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let ours: Vec<&String> = deliveries
        .iter()
        .filter(|(p, _)| ids.contains(&p["notification_id"].as_i64().unwrap()))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(ours.len(), 12);
    assert!(ours.iter().all(|s| *s == "SUCCES"), "{ours:?}");
    // Run again today: nothing new.
    let bilan = ecole_finances::rappels::envoyer_rappels(&mut conn, today(), 7)
        .await
        .unwrap();
    assert_eq!(bilan, ecole_finances::rappels::Bilan::default());
    // Seven days later: the three reminded today are due again, so is the one reminded three
    // days before today, and the one due today is overdue by then.
    let later = today().checked_add_days(Days::new(7)).unwrap();
    let bilan = ecole_finances::rappels::envoyer_rappels(&mut conn, later, 7)
        .await
        .unwrap();
    assert_eq!((bilan.factures, bilan.notifications), (5, 10));
}

#[tokio::test]
async fn only_the_till_writes_and_the_routes_are_documented() {
    let app = TestApp::new().await;
    let school = School::create(&app, 1).await;
    let eleve = school.a[0].id;
    let caisse = comptable(&app).await;
    let draft = brouillon(&app, &caisse.access, eleve, 10_000).await["id"]
        .as_i64()
        .unwrap();
    let issued = emise(&app, &caisse.access, eleve, 10_000).await;
    let fee = json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": "Tenue", "montant": 90_000});
    for role in [
        Role::Enseignant,
        Role::Bibliothecaire,
        Role::Parent,
        Role::Eleve,
    ] {
        let u = app.as_role(role).await;
        let t = u.access.as_str();
        assert_eq!(
            post(&app, "/api/v1/frais/", t, fee.clone()).await.0,
            403,
            "{role:?}"
        );
        assert_eq!(
            post(
                &app,
                "/api/v1/factures/",
                t,
                json!({"eleve": eleve, "lignes": [{"libelle": "x", "prix_unitaire": 5}]})
            )
            .await
            .0,
            403,
            "{role:?}"
        );
        assert_eq!(
            post(
                &app,
                &format!("/api/v1/factures/{draft}/emettre/"),
                t,
                json!({})
            )
            .await
            .0,
            403
        );
        assert_eq!(payer(&app, t, issued, especes(1000), None).await.0, 403);
        assert_eq!(
            post(
                &app,
                "/api/v1/factures/generer/",
                t,
                json!({"annee_scolaire": school.annee, "niveau": "SIXIEME"})
            )
            .await
            .0,
            403
        );
        assert_eq!(
            call(
                &app,
                reqwest::Method::DELETE,
                &format!("/api/v1/factures/{draft}/"),
                t,
                None
            )
            .await
            .0,
            403
        );
    }
    for role in [Role::Admin, Role::Direction, Role::Comptable] {
        let u = app.as_role(role).await;
        let t = u.access.as_str();
        let (s, f) = post(
            &app,
            "/api/v1/frais/",
            t,
            json!({"annee_scolaire": school.annee, "niveau": "SIXIEME", "libelle": format!("Tenue {role:?}"), "montant": 90_000}),
        )
        .await;
        assert_eq!(s, 201, "{role:?} {f}");
        let id = emise(&app, t, eleve, 20_000).await;
        assert_eq!(payer(&app, t, id, especes(20_000), None).await.0, 201);
        // Without the trailing slash too.
        let (s, l) = get(&app, "/api/v1/factures", t).await;
        assert_eq!((s, l["count"].as_i64().map(|c| c >= 2)), (200, Some(true)));
    }
    let (s, doc) = json_of(app.get("/api/v1/openapi.json").send().await.unwrap()).await;
    assert_eq!(s, 200);
    for (path, method) in [
        ("/api/v1/frais/", "post"),
        ("/api/v1/factures/", "post"),
        ("/api/v1/factures/{id}/emettre/", "post"),
        ("/api/v1/factures/{id}/annuler/", "post"),
        ("/api/v1/factures/generer/", "post"),
        ("/api/v1/factures/{id}/paiements/", "post"),
        ("/api/v1/paiements/", "get"),
        ("/api/v1/paiements/{id}/recu/", "get"),
        ("/api/v1/eleves/{id}/releve/", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
}
