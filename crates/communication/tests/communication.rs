//! Communication end to end: real PostgreSQL, a real SMTP listener and a fake Orange API on
//! loopback ports, the jobs run in-process with the worker's registry.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::Duration;

use chrono::{Timelike, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use ecole_communication::{
    NouvelleNotification, StatutEnvoi, TypeNotification, destinataires_eleves, notifier,
};
use ecole_core::{DomainError, Role};
use ecole_db::enums::StatutPresence;
use ecole_db::schema::{
    eleve_parents, eleves, etablissement, jobs, notifications, presences, users,
};
use ecole_jobs::payloads::{
    EnvoyerEmailNotification, EnvoyerSmsNotification, NotifierAbsencesQuotidiennes,
};
use ecole_jobs::{NewJob, enqueue};
use ecole_test_support::orange::FakeOrange;
use ecole_test_support::school::School;
use ecole_test_support::smtp::SmtpSink;
use ecole_test_support::{TestApp, TestUser, json_of};
use secrecy::SecretString;
use serde_json::{Value, json};

const SCHOOL: &str = "Groupe Scolaire Les Flamboyants";

/// An app whose e-mail goes to `sink` and SMS to `fake` (each when given).
async fn app_with(
    sink: Option<&SmtpSink>,
    fake: Option<&FakeOrange>,
    adjust: impl FnOnce(&mut ecole_config::Settings),
) -> TestApp {
    let smtp = sink.map(|s| s.url());
    let app = TestApp::with_settings(|s| {
        if let Some(url) = smtp {
            s.smtp_url = Some(SecretString::from(url));
        }
        if let Some(fake) = fake {
            fake.configure(s);
        }
        s.default_from_email = "École Les Flamboyants <ne-pas-repondre@flamboyants.gn>".into();
        adjust(s);
    })
    .await;
    let mut conn = app.conn().await;
    diesel::update(etablissement::table)
        .set(etablissement::nom.eq(SCHOOL))
        .execute(&mut conn)
        .await
        .unwrap();
    app
}

fn nouvelle(user: i64, email: bool, sms: bool) -> NouvelleNotification {
    NouvelleNotification {
        utilisateur_id: user,
        type_notification: TypeNotification::Bulletin,
        titre: "Bulletin du 1er trimestre".into(),
        message: "Le bulletin de Aïssatou est disponible : moyenne 14,25, rang 3ème.".into(),
        lien_url: Some("/api/v1/bulletins/7/".into()),
        envoyer_par_email: email,
        envoyer_par_sms: sms,
        cle: None,
    }
}

async fn create(app: &TestApp, batch: Vec<NouvelleNotification>) -> Vec<i64> {
    let mut conn = app.conn().await;
    conn.transaction::<_, DomainError, _>(async move |conn| notifier(conn, &batch).await)
        .await
        .unwrap()
}

#[derive(Queryable, Debug)]
struct Etat {
    email_statut: StatutEnvoi,
    email_envoye: bool,
    email_envoye_le: Option<chrono::DateTime<Utc>>,
    email_message_id: Option<String>,
    sms_statut: StatutEnvoi,
    sms_envoye: bool,
    sms_message_id: Option<String>,
    sms_texte: Option<String>,
    derniere_erreur: Option<String>,
}

async fn etat(app: &TestApp, id: i64) -> Etat {
    let mut conn = app.conn().await;
    notifications::table
        .find(id)
        .select((
            notifications::email_statut,
            notifications::email_envoye,
            notifications::email_envoye_le,
            notifications::email_message_id,
            notifications::sms_statut,
            notifications::sms_envoye,
            notifications::sms_message_id,
            notifications::sms_texte,
            notifications::derniere_erreur,
        ))
        .first(&mut conn)
        .await
        .unwrap()
}

async fn parent(app: &TestApp, first: &str, last: &str, phone: &str) -> TestUser {
    app.user()
        .role(Role::Parent)
        .names(first, last)
        .telephone(phone)
        .create()
        .await
}

async fn run(app: &TestApp) -> usize {
    app.run_jobs(ecole_handlers::registry()).await
}

async fn job_rows(app: &TestApp, name: &str) -> Vec<(String, Option<Value>, Option<String>, i32)> {
    let mut conn = app.conn().await;
    jobs::table
        .filter(jobs::name.eq(name))
        .order(jobs::id)
        .select((jobs::status, jobs::result, jobs::error, jobs::attempts))
        .load::<(ecole_jobs::JobStatus, Option<Value>, Option<String>, i32)>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(s, r, e, a)| (s.as_str().to_string(), r, e, a))
        .collect()
}

// ---------- e-mail ----------

#[tokio::test]
async fn email_reaches_a_real_smtp_listener_in_french_utf8() {
    let sink = SmtpSink::start().await;
    let app = app_with(Some(&sink), None, |s| {
        s.smtp_url = Some(SecretString::from(format!(
            "smtp://ecole:mot%20de%20passe@127.0.0.1:{}",
            sink.port
        )));
        s.public_base_url = Some("https://ecole.flamboyants.gn".into());
    })
    .await;
    let user = app
        .user()
        .role(Role::Parent)
        .names("Aïssatou", "Diallo")
        .email("aissatou.diallo@exemple.gn")
        .create()
        .await;
    let ids = create(&app, vec![nouvelle(user.id(), true, false)]).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        etat(&app, ids[0]).await.email_statut,
        StatutEnvoi::EnAttente
    );
    run(&app).await;

    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "ne-pas-repondre@flamboyants.gn");
    assert_eq!(mail.to, ["aissatou.diallo@exemple.gn"]);
    assert_eq!(mail.auth, Some(("ecole".into(), "mot de passe".into())));
    assert_eq!(
        mail.subject(),
        "Bulletin du 1er trimestre — Groupe Scolaire Les Flamboyants"
    );
    assert!(
        mail.header("from")
            .unwrap()
            .contains("École Les Flamboyants")
    );
    assert!(mail.header("to").unwrap().contains("Aïssatou Diallo"));
    let text = mail.text();
    assert!(text.starts_with("Bonjour Aïssatou Diallo,"), "{text}");
    assert!(text.contains("Le bulletin de Aïssatou est disponible : moyenne 14,25, rang 3ème."));
    assert!(
        text.contains("https://ecole.flamboyants.gn/api/v1/bulletins/7/"),
        "{text}"
    );
    assert!(text.contains("Groupe Scolaire Les Flamboyants"));
    let html = mail.html();
    assert!(html.contains("<p>Bonjour Aïssatou Diallo,</p>"), "{html}");
    assert!(html.contains("href=\"https://ecole.flamboyants.gn/api/v1/bulletins/7/\""));

    let e = etat(&app, ids[0]).await;
    assert_eq!(e.email_statut, StatutEnvoi::Envoye);
    assert!(e.email_envoye && e.email_envoye_le.is_some());
    assert_eq!(
        e.email_message_id.as_deref(),
        mail.header("message-id").as_deref()
    );
    assert_eq!(e.sms_statut, StatutEnvoi::NonDemande);
    assert_eq!(
        job_rows(&app, "communication.envoyer_email_notification").await[0].0,
        "SUCCES"
    );
}

#[tokio::test]
async fn smtp_errors_are_recorded_and_retried_per_policy() {
    let sink = SmtpSink::start().await;
    let app = app_with(Some(&sink), None, |_| {}).await;
    let user = app.user().role(Role::Parent).create().await;
    sink.fail_next(1, "451 4.3.0 Serveur surchargé, réessayez");
    let ids = create(&app, vec![nouvelle(user.id(), true, false)]).await;
    run(&app).await;
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    let rows = job_rows(&app, "communication.envoyer_email_notification").await;
    assert_eq!(rows[0].0, "SUCCES");
    assert_eq!(rows[0].3, 2, "deux tentatives");
    assert_eq!(etat(&app, ids[0]).await.email_statut, StatutEnvoi::Envoye);

    // A permanent refusal ends at once: no retry, the reason kept.
    sink.fail_next(1, "550 5.1.1 Boîte inconnue");
    let ids = create(&app, vec![nouvelle(user.id(), true, false)]).await;
    run(&app).await;
    let e = etat(&app, ids[0]).await;
    assert_eq!(e.email_statut, StatutEnvoi::Echec);
    assert!(e.derniere_erreur.unwrap().starts_with("E-mail : SMTP"));
    let rows = job_rows(&app, "communication.envoyer_email_notification").await;
    assert_eq!((rows[1].0.as_str(), rows[1].3), ("ECHEC", 1));
    assert_eq!(sink.count(), 1);

    // A server that stays down: 4 attempts, then ECHEC with the error.
    sink.fail_next(4, "421 4.3.2 Service indisponible");
    let ids = create(&app, vec![nouvelle(user.id(), true, false)]).await;
    run(&app).await;
    let e = etat(&app, ids[0]).await;
    assert_eq!(e.email_statut, StatutEnvoi::Echec);
    let rows = job_rows(&app, "communication.envoyer_email_notification").await;
    assert_eq!((rows[2].0.as_str(), rows[2].3), ("ECHEC", 4));
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn a_message_failing_for_good_alerts_each_administrator_once() {
    let sink = SmtpSink::start().await;
    let app = app_with(Some(&sink), None, |_| {}).await;
    let admin = app
        .user()
        .role(Role::Admin)
        .email("admin@ecole.gn")
        .create()
        .await;
    let _inactive = app.user().role(Role::Admin).inactive().create().await;
    let user = app
        .user()
        .role(Role::Parent)
        .names("Fatoumata", "Sow")
        .create()
        .await;
    // The parent's e-mail is refused for good, then the alert's e-mail too.
    sink.fail_next(2, "550 5.1.1 Boîte inconnue");
    let ids = create(&app, vec![nouvelle(user.id(), true, false)]).await;
    run(&app).await;
    assert_eq!(etat(&app, ids[0]).await.email_statut, StatutEnvoi::Echec);
    let mut conn = app.conn().await;
    let alerts: Vec<(i64, String, String, Option<String>)> = notifications::table
        .filter(notifications::type_notification.eq(TypeNotification::General))
        .select((
            notifications::utilisateur_id,
            notifications::titre,
            notifications::message,
            notifications::cle,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        alerts.len(),
        1,
        "l'administrateur actif seulement : {alerts:?}"
    );
    assert_eq!(alerts[0].0, admin.id());
    assert_eq!(alerts[0].1, "Échec d'envoi d'un e-mail");
    assert!(
        alerts[0].2.contains("Fatoumata Sow") && alerts[0].2.contains("550"),
        "{}",
        alerts[0].2
    );
    assert_eq!(
        alerts[0].3.as_deref(),
        Some(format!("alerte:echec-envoi:email:{}:{}", ids[0], admin.id()).as_str())
    );
    // The alert's own e-mail failed: no alert about the alert.
    let alert_statut: StatutEnvoi = notifications::table
        .filter(notifications::utilisateur_id.eq(admin.id()))
        .select(notifications::email_statut)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(alert_statut, StatutEnvoi::Echec);
    let total: i64 = notifications::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn recipients_without_address_or_number_are_skipped_with_a_reason() {
    let sink = SmtpSink::start().await;
    let app = app_with(Some(&sink), None, |_| {}).await;
    let user = app.user().role(Role::Parent).create().await;
    let mut conn = app.conn().await;
    diesel::update(users::table.find(user.id()))
        .set((
            users::email.eq(None::<String>),
            users::telephone.eq(None::<String>),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let ids = create(&app, vec![nouvelle(user.id(), true, true)]).await;
    run(&app).await;
    let e = etat(&app, ids[0]).await;
    assert_eq!(e.email_statut, StatutEnvoi::Ignore);
    assert_eq!(e.sms_statut, StatutEnvoi::Ignore);
    assert!(e.derniere_erreur.unwrap().contains("aucun"));
    for name in [
        "communication.envoyer_email_notification",
        "communication.envoyer_sms_notification",
    ] {
        assert_eq!(job_rows(&app, name).await[0].0, "SUCCES", "{name}");
    }
    assert_eq!(sink.count(), 0);
}

// ---------- SMS over the Orange API ----------

#[tokio::test]
async fn orange_token_basic_auth_exact_body_and_token_reuse() {
    let fake = FakeOrange::start().await;
    let app = app_with(None, Some(&fake), |s| {
        s.sms.orange_sender_name = Some("Flamboyant".into());
    })
    .await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let b = parent(&app, "Kadiatou", "Barry", "+224622000002").await;
    let ids = create(
        &app,
        vec![nouvelle(a.id(), false, true), nouvelle(b.id(), false, true)],
    )
    .await;
    run(&app).await;

    let requests = fake.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.is_token()).collect();
    assert_eq!(tokens.len(), 1, "un seul jeton pour deux SMS");
    let t = tokens[0];
    assert_eq!(t.method, "POST");
    assert_eq!(
        t.header("authorization"),
        Some("Basic Y2xpZW50LWVjb2xlOnNlY3JldC1lY29sZS0yMDI2")
    );
    assert_eq!(
        t.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(t.body, "grant_type=client_credentials");

    let sms = fake.accepted();
    assert_eq!(sms.len(), 2);
    for r in &sms {
        assert_eq!(
            r.path,
            "/smsmessaging/v1/outbound/tel%3A%2B224620000000/requests"
        );
        assert_eq!(r.header("authorization"), Some("Bearer jeton-1"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let texte = "Groupe Scolaire Les Flamboyants : Le bulletin de Aissatou est disponible : moyenne 14,25, rang 3ème.";
    assert_eq!(
        sms[0].json(),
        json!({
            "outboundSMSMessageRequest": {
                "address": "tel:+224621000001",
                "senderAddress": "tel:+224620000000",
                "senderName": "Flamboyant",
                "outboundSMSTextMessage": { "message": texte }
            }
        })
    );
    assert_eq!(
        sms[1].json()["outboundSMSMessageRequest"]["address"],
        "tel:+224622000002"
    );
    let e = etat(&app, ids[0]).await;
    assert_eq!(e.sms_statut, StatutEnvoi::Envoye);
    assert!(e.sms_envoye);
    assert_eq!(e.sms_texte.as_deref(), Some(texte));
    let id = e.sms_message_id.unwrap();
    assert_eq!(id.len(), 32, "identifiant de l'opérateur : {id}");
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn orange_401_refreshes_the_token_once_and_503_is_retried() {
    let fake = FakeOrange::start().await;
    let app = app_with(None, Some(&fake), |_| {}).await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;

    // 401 on the first SMS: one new token, the same SMS sent once.
    fake.script(&[401]);
    let first = create(&app, vec![nouvelle(a.id(), false, true)]).await;
    run(&app).await;
    assert_eq!(fake.token_requests(), 2);
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].header("authorization"), Some("Bearer jeton-2"));
    assert_eq!(
        accepted[0].json()["outboundSMSMessageRequest"]["address"],
        "tel:+224621000001"
    );
    assert_eq!(etat(&app, first[0]).await.sms_statut, StatutEnvoi::Envoye);

    // 503 then 429: the job is retried per policy; the SMS goes out once.
    fake.script(&[503, 429]);
    let second = create(&app, vec![nouvelle(a.id(), false, true)]).await;
    run(&app).await;
    assert_eq!(fake.accepted().len(), 2);
    let rows = job_rows(&app, "communication.envoyer_sms_notification").await;
    assert_eq!((rows[1].0.as_str(), rows[1].3), ("SUCCES", 3));
    assert_eq!(etat(&app, second[0]).await.sms_statut, StatutEnvoi::Envoye);
    // A new registry (as a new worker) takes one token, reused over the three attempts.
    assert_eq!(fake.token_requests(), 3, "le jeton est réutilisé");

    // A 400 is final: ECHEC at once, with the provider's answer.
    fake.script(&[400]);
    let third = create(&app, vec![nouvelle(a.id(), false, true)]).await;
    run(&app).await;
    let e = etat(&app, third[0]).await;
    assert_eq!(e.sms_statut, StatutEnvoi::Echec);
    assert!(
        e.derniere_erreur
            .unwrap()
            .starts_with("SMS : SMS Orange : refusé (400)")
    );
    assert_eq!(fake.accepted().len(), 2);
}

#[tokio::test]
async fn a_job_run_twice_sends_one_email_and_one_sms() {
    let sink = SmtpSink::start().await;
    let fake = FakeOrange::start().await;
    let app = app_with(Some(&sink), Some(&fake), |_| {}).await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let ids = create(&app, vec![nouvelle(a.id(), true, true)]).await;
    run(&app).await;
    // The same deliveries asked for again (no dedupe key), as a redelivered job would be.
    let mut conn = app.conn().await;
    for _ in 0..2 {
        enqueue(
            &mut conn,
            NewJob::of(&EnvoyerEmailNotification {
                notification_id: ids[0],
            })
            .unwrap(),
        )
        .await
        .unwrap();
        enqueue(
            &mut conn,
            NewJob::of(&EnvoyerSmsNotification {
                notification_id: ids[0],
            })
            .unwrap(),
        )
        .await
        .unwrap();
    }
    run(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.count(), 1);
    assert_eq!(fake.accepted().len(), 1);
    let rows = job_rows(&app, "communication.envoyer_sms_notification").await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.0 == "SUCCES"));
    assert_eq!(rows[2].1.as_ref().unwrap()["detail"], "déjà traité");
    let e = etat(&app, ids[0]).await;
    assert_eq!(
        (e.email_statut, e.sms_statut),
        (StatutEnvoi::Envoye, StatutEnvoi::Envoye)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_the_same_time_send_one_sms() {
    let fake = FakeOrange::start().await;
    let app = app_with(None, Some(&fake), |_| {}).await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let ids = create(&app, vec![nouvelle(a.id(), false, true)]).await;
    fake.slow_down(Duration::from_millis(300));
    // The queued job and a duplicate of it, run side by side by two slots.
    let mut conn = app.conn().await;
    let first: i64 = jobs::table
        .filter(jobs::name.eq("communication.envoyer_sms_notification"))
        .select(jobs::id)
        .first(&mut conn)
        .await
        .unwrap();
    let second = enqueue(
        &mut conn,
        NewJob::of(&EnvoyerSmsNotification {
            notification_id: ids[0],
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let runner = ecole_jobs::runner::Runner {
        pool: app.state.pool.clone(),
        bookkeeping: app.state.pool.clone(),
        settings: std::sync::Arc::new(app.state.settings.clone()),
        registry: std::sync::Arc::new(ecole_handlers::registry()),
        worker_name: "deux-emplacements".into(),
        retry_base: Duration::ZERO,
        in_flight: Default::default(),
        redis: None,
    };
    let (r1, r2) = tokio::join!(
        ecole_jobs::runner::Runner::execute(&runner, first),
        ecole_jobs::runner::Runner::execute(&runner, second)
    );
    r1.unwrap();
    r2.unwrap();
    assert_eq!(
        fake.accepted().len(),
        1,
        "un seul SMS pour deux exécutions simultanées"
    );
    assert_eq!(etat(&app, ids[0]).await.sms_statut, StatutEnvoi::Envoye);
    // The run that lost the claim either stepped aside at once or is retried and finds the
    // SMS sent.
    run(&app).await;
    let rows = job_rows(&app, "communication.envoyer_sms_notification").await;
    assert!(rows.iter().all(|r| r.0 == "SUCCES"), "{rows:?}");
    assert_eq!(fake.accepted().len(), 1);
}

#[tokio::test]
async fn an_interrupted_send_is_marked_uncertain_and_not_resent() {
    let fake = FakeOrange::start().await;
    let app = app_with(None, Some(&fake), |_| {}).await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let ids = create(&app, vec![nouvelle(a.id(), false, true)]).await;
    // A worker claimed the send an hour ago and died before recording its outcome.
    let mut conn = app.conn().await;
    diesel::update(notifications::table.find(ids[0]))
        .set((
            notifications::sms_statut.eq(StatutEnvoi::EnCours),
            notifications::sms_tente_le.eq(Utc::now() - chrono::Duration::hours(1)),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    run(&app).await;
    let e = etat(&app, ids[0]).await;
    assert_eq!(e.sms_statut, StatutEnvoi::Incertain);
    assert!(!e.sms_envoye);
    assert!(
        e.derniere_erreur
            .unwrap()
            .contains("pas renvoyé automatiquement")
    );
    assert!(fake.requests().is_empty());
    // And a later run does not change its mind.
    enqueue(
        &mut conn,
        NewJob::of(&EnvoyerSmsNotification {
            notification_id: ids[0],
        })
        .unwrap(),
    )
    .await
    .unwrap();
    run(&app).await;
    assert_eq!(etat(&app, ids[0]).await.sms_statut, StatutEnvoi::Incertain);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn quiet_hours_hold_sms_until_the_end_of_the_silence() {
    let now = Utc::now();
    let minute = now.hour() * 60 + now.minute();
    // A silence from an hour ago to two hours from now (Conakry is UTC).
    let start = (minute + 24 * 60 - 60) % (24 * 60);
    let end = (minute + 120) % (24 * 60);
    let fake = FakeOrange::start().await;
    let app = app_with(None, Some(&fake), |s| {
        s.sms.quiet_hours = Some((start, end))
    })
    .await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let ids = create(&app, vec![nouvelle(a.id(), false, true)]).await;
    run(&app).await;
    assert!(fake.requests().is_empty(), "aucun SMS pendant le silence");
    assert_eq!(etat(&app, ids[0]).await.sms_statut, StatutEnvoi::EnAttente);
    let mut conn = app.conn().await;
    let waiting: Vec<(chrono::DateTime<Utc>, Value)> = jobs::table
        .filter(jobs::name.eq("communication.envoyer_sms_notification"))
        .filter(jobs::status.eq(ecole_jobs::JobStatus::EnAttente))
        .select((jobs::run_after, jobs::payload))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].1, json!({ "notification_id": ids[0] }));
    let expected = ecole_communication::horaires::deferred_until(now, Some((start, end))).unwrap();
    assert_eq!(waiting[0].0, expected);
    assert!(
        (119..=120).contains(&(expected - now).num_minutes()),
        "fin du silence dans deux heures"
    );
}

// ---------- the service other domains call ----------

#[tokio::test]
async fn notifier_is_idempotent_by_key_and_follows_the_callers_transaction() {
    let app = app_with(None, None, |_| {}).await;
    let a = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let mut keyed = nouvelle(a.id(), true, true);
    keyed.cle = Some("bulletin:7:parent".into());
    let first = create(&app, vec![keyed.clone(), keyed.clone()]).await;
    assert_eq!(first.len(), 1, "la même clé deux fois dans un lot");
    let again = create(&app, vec![keyed.clone(), nouvelle(a.id(), false, false)]).await;
    assert_eq!(again.len(), 1, "clé existante ignorée, la seconde créée");
    assert_ne!(again[0], first[0]);

    // A rolled-back caller leaves neither a notification nor a job.
    let mut conn = app.conn().await;
    let mut other = keyed.clone();
    other.cle = Some("annule".into());
    let rolled: Result<(), DomainError> = conn
        .transaction::<(), DomainError, _>(async move |conn| {
            notifier(conn, &[other]).await?;
            Err(DomainError::Conflict("annulé".into()))
        })
        .await;
    assert!(rolled.is_err());
    let count: i64 = notifications::table
        .filter(notifications::cle.eq("annule"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let jobs_count: i64 = jobs::table
        .filter(jobs::name.like("communication.%"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        jobs_count, 2,
        "un e-mail et un SMS pour la seule notification qui les demande"
    );

    // Invalid input names the field.
    let mut bad = nouvelle(a.id(), false, false);
    bad.titre = " ".into();
    let err = notifier(&mut conn, &[bad]).await.unwrap_err();
    assert!(
        matches!(err, DomainError::Validation(ref e) if e.0.contains_key("notifications.0.titre")),
        "{err:?}"
    );

    // Thousands at once, in a few statements.
    let many: Vec<NouvelleNotification> =
        (0..4_500).map(|_| nouvelle(a.id(), true, true)).collect();
    let ids = create(&app, many).await;
    assert_eq!(ids.len(), 4_500);
    let jobs_count: i64 = jobs::table
        .filter(jobs::name.like("communication.%"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(jobs_count, 2 + 9_000);
}

#[tokio::test]
async fn destinataires_are_the_pupil_and_each_active_parent() {
    let app = app_with(None, None, |_| {}).await;
    let school = School::create(&app, 2).await;
    let p0 = &school.a[0];
    let p1 = &school.a[1];
    let mut conn = app.conn().await;
    // p0 gets a second parent, an inactive third one.
    let second = parent(&app, "Kadiatou", "Barry", "+224622000002").await;
    let inactive = app.user().role(Role::Parent).inactive().create().await;
    for user in [&second, &inactive] {
        let pid: i64 = diesel::insert_into(ecole_db::schema::parents::table)
            .values(ecole_db::schema::parents::user_id.eq(user.id()))
            .returning(ecole_db::schema::parents::id)
            .get_result(&mut conn)
            .await
            .unwrap();
        diesel::insert_into(eleve_parents::table)
            .values((
                eleve_parents::eleve_id.eq(p0.id),
                eleve_parents::parent_id.eq(pid),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let map = destinataires_eleves(&mut conn, &[p0.id, p1.id, 999_999])
        .await
        .unwrap();
    let mut expected0 = vec![p0.user.id(), p0.parent.id(), second.id()];
    expected0.sort_unstable();
    assert_eq!(map[&p0.id], expected0);
    let mut expected1 = vec![p1.user.id(), p1.parent.id()];
    expected1.sort_unstable();
    assert_eq!(map[&p1.id], expected1);
    assert!(!map.contains_key(&999_999));
}

// ---------- absences ----------

async fn set_presence(
    app: &TestApp,
    eleve: i64,
    classe: i64,
    date: chrono::NaiveDate,
    statut: StatutPresence,
) -> i64 {
    let mut conn = app.conn().await;
    diesel::insert_into(presences::table)
        .values((
            presences::eleve_id.eq(eleve),
            presences::classe_id.eq(classe),
            presences::date.eq(date),
            presences::statut.eq(statut),
        ))
        .returning(presences::id)
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn daily_absences_send_one_message_per_parent_naming_every_child() {
    let sink = SmtpSink::start().await;
    let fake = FakeOrange::start().await;
    let app = app_with(Some(&sink), Some(&fake), |_| {}).await;
    let school = School::create(&app, 4).await;
    let mut conn = app.conn().await;
    // Three children of class A share the first pupil's parent (siblings), with long names.
    let family = &school.a[0];
    let names = [
        ("Thierno Mamadou Saliou", "Diallo", "M"),
        ("Fatoumata Binta Kadiatou", "Diallo", "F"),
        ("Mohamed Lamine Abdoulaye", "Diallo", "M"),
    ];
    let siblings = [&school.a[0], &school.a[1], &school.a[2]];
    for (pupil, (first, last, sexe)) in siblings.iter().zip(names) {
        diesel::update(users::table.find(pupil.user.id()))
            .set((users::first_name.eq(first), users::last_name.eq(last)))
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::update(eleves::table.find(pupil.id))
            .set(eleves::sexe.eq(sexe))
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::update(eleve_parents::table.filter(eleve_parents::eleve_id.eq(pupil.id)))
            .set(eleve_parents::parent_id.eq(family.parent_id))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    diesel::update(users::table.find(family.parent.id()))
        .set((
            users::email.eq("famille.diallo@exemple.gn"),
            users::telephone.eq("+224621111111"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let other = &school.b[0];
    diesel::update(users::table.find(other.parent.id()))
        .set(users::telephone.eq("+224622222222"))
        .execute(&mut conn)
        .await
        .unwrap();
    let today = ecole_core::time::today();
    let yesterday = today.pred_opt().unwrap();
    let p_a0 = set_presence(
        &app,
        school.a[0].id,
        school.classe_a,
        today,
        StatutPresence::Absent,
    )
    .await;
    set_presence(
        &app,
        school.a[1].id,
        school.classe_a,
        today,
        StatutPresence::Retard,
    )
    .await;
    set_presence(
        &app,
        school.a[2].id,
        school.classe_a,
        today,
        StatutPresence::Absent,
    )
    .await;
    set_presence(
        &app,
        school.a[3].id,
        school.classe_a,
        today,
        StatutPresence::Present,
    )
    .await;
    set_presence(
        &app,
        other.id,
        school.classe_b,
        today,
        StatutPresence::Absent,
    )
    .await;
    set_presence(
        &app,
        school.b[1].id,
        school.classe_b,
        yesterday,
        StatutPresence::Absent,
    )
    .await;

    enqueue(
        &mut conn,
        NewJob::of(&NotifierAbsencesQuotidiennes {}).unwrap(),
    )
    .await
    .unwrap();
    run(&app).await;
    let rows = job_rows(&app, "pedagogie.notifier_absences_quotidiennes").await;
    assert_eq!(rows[0].0, "SUCCES", "{rows:?}");
    assert_eq!(rows[0].1.as_ref().unwrap()["notifications"], 2);
    assert_eq!(rows[0].1.as_ref().unwrap()["eleves"], 4);

    let sent: Vec<(i64, TypeNotification, String, String)> = notifications::table
        .select((
            notifications::utilisateur_id,
            notifications::type_notification,
            notifications::titre,
            notifications::message,
        ))
        .order(notifications::id)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(sent.len(), 2);
    let family_note = sent.iter().find(|n| n.0 == family.parent.id()).unwrap();
    assert_eq!(family_note.1, TypeNotification::Absence);
    assert!(
        family_note.2.starts_with("Absences et retards du "),
        "{}",
        family_note.2
    );
    for name in [
        "Thierno Mamadou Saliou Diallo",
        "Fatoumata Binta Kadiatou Diallo",
        "Mohamed Lamine Abdoulaye Diallo",
    ] {
        assert!(family_note.3.contains(name), "{name} : {}", family_note.3);
    }
    assert!(family_note.3.contains("en retard") && family_note.3.contains("absent"));

    // Every SMS and e-mail reached its server: one per parent, not one per child.
    assert_eq!(fake.wait_for(2, Duration::from_secs(5)).await, 2);
    let sms = fake.accepted();
    let family_sms = sms
        .iter()
        .map(|r| r.json()["outboundSMSMessageRequest"].clone())
        .find(|r| r["address"] == "tel:+224621111111")
        .unwrap();
    let text = family_sms["outboundSMSTextMessage"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ecole_communication::gsm7::length(&text) <= 160, "{text}");
    for name in ["Thierno", "Fatoumata", "Mohamed"] {
        assert!(text.contains(name), "{name} : {text}");
    }
    assert!(!text.contains('ê') && !text.contains('ç'));
    let mails = sink.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 2);
    let family_mail = mails
        .iter()
        .find(|m| m.to == ["famille.diallo@exemple.gn"])
        .unwrap();
    assert!(family_mail.subject().starts_with("Absences et retards du "));
    assert!(
        family_mail
            .text()
            .contains("Fatoumata Binta Kadiatou Diallo")
    );

    // Today's rows are marked; yesterday's and the present pupil's are not touched.
    let flagged: Vec<(i64, bool)> = presences::table
        .select((presences::id, presences::notification_envoyee))
        .filter(presences::notification_envoyee.eq(true))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(flagged.len(), 4);
    assert!(flagged.iter().any(|f| f.0 == p_a0));

    // Run again: nothing new.
    enqueue(
        &mut conn,
        NewJob::of(&NotifierAbsencesQuotidiennes {}).unwrap(),
    )
    .await
    .unwrap();
    run(&app).await;
    let count: i64 = notifications::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(fake.accepted().len(), 2);
    assert_eq!(sink.count(), 2);
}

#[tokio::test]
async fn a_pupil_marked_absent_sends_an_immediate_sms_to_each_parent_once() {
    let fake = FakeOrange::start().await;
    let app = app_with(None, Some(&fake), |_| {}).await;
    let school = School::create(&app, 2).await;
    school.jusqu_a_aujourdhui(&app).await;
    let admin = app.as_admin().await;
    let today = ecole_core::time::today();
    let body = json!({
        "classe": school.classe_a,
        "date": today,
        "presences": [
            {"eleve": school.a[0].id, "statut": "ABSENT"},
            {"eleve": school.a[1].id, "statut": "PRESENT"},
        ]
    });
    for _ in 0..2 {
        let (status, _) = json_of(
            app.post("/api/v1/presences/appel/")
                .bearer_auth(&admin.access)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
    }
    run(&app).await;
    assert_eq!(fake.wait_for(1, Duration::from_secs(5)).await, 1);
    let sms = fake.accepted();
    assert_eq!(sms.len(), 1);
    let request = &sms[0].json()["outboundSMSMessageRequest"];
    assert_eq!(request["address"], "tel:+224621000001");
    let text = request["outboundSMSTextMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(
        text.starts_with("Groupe Scolaire Les Flamboyants : Aissatou CamaraA0"),
        "{text}"
    );
    assert!(
        text.contains("(6ème A)") && text.contains(&today.format("%d/%m/%Y").to_string()),
        "{text}"
    );

    let mut conn = app.conn().await;
    let notes: Vec<(i64, TypeNotification, bool, bool)> = notifications::table
        .select((
            notifications::utilisateur_id,
            notifications::type_notification,
            notifications::envoyer_par_email,
            notifications::envoyer_par_sms,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        notes,
        [(
            school.a[0].parent.id(),
            TypeNotification::Absence,
            false,
            true
        )]
    );
    // The evening round-up does not notify it again.
    enqueue(
        &mut conn,
        NewJob::of(&NotifierAbsencesQuotidiennes {}).unwrap(),
    )
    .await
    .unwrap();
    run(&app).await;
    let count: i64 = notifications::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert_eq!(fake.accepted().len(), 1);
}

// ---------- the API ----------

#[tokio::test]
async fn notifications_api_shows_only_the_callers_own() {
    let app = app_with(None, None, |_| {}).await;
    let me = parent(&app, "Mamadou", "Diallo", "+224621000001").await;
    let other = parent(&app, "Kadiatou", "Barry", "+224622000002").await;
    let mut mine = Vec::new();
    for i in 0..3 {
        let mut n = nouvelle(me.id(), false, false);
        n.titre = format!("Message {i}");
        n.type_notification = if i == 0 {
            TypeNotification::Absence
        } else {
            TypeNotification::Bulletin
        };
        mine.push(n);
    }
    let ids = create(&app, mine).await;
    let theirs = create(&app, vec![nouvelle(other.id(), false, false)]).await;

    let (s, _) = json_of(app.get("/api/v1/notifications/").send().await.unwrap()).await;
    assert_eq!(s, 401);
    let (s, body) = json_of(
        app.get("/api/v1/notifications/")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["count"], 3);
    let first = &body["results"][0];
    assert_eq!(first["id"], ids[2], "les plus récentes d'abord");
    assert_eq!(first["utilisateur"], me.id());
    assert_eq!(first["titre"], "Message 2");
    assert_eq!(first["lien_url"], "/api/v1/bulletins/7/");
    assert_eq!(first["lue"], false);
    assert_eq!(first["lue_le"], Value::Null);
    assert_eq!(first["email_statut"], "NON_DEMANDE");
    assert!(first["created_at"].as_str().unwrap().ends_with("+00:00"));
    assert!(first.get("derniere_erreur").is_none() && first.get("cle").is_none());

    let (_, body) = json_of(
        app.get("/api/v1/notifications/?type_notification=ABSENCE")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["count"], 1);
    let (s, body) = json_of(
        app.get("/api/v1/notifications/?type_notification=AUTRE")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(body["type_notification"].is_array());

    let (_, body) = json_of(
        app.get("/api/v1/notifications/non-lues/")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({ "count": 3 }));
    // Another user's notification is not found, not forbidden.
    let (s, _) = json_of(
        app.post(&format!("/api/v1/notifications/{}/lire/", theirs[0]))
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    let (s, body) = json_of(
        app.post(&format!("/api/v1/notifications/{}/lire/", ids[0]))
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["lue"], true);
    let lue_le = body["lue_le"].clone();
    assert!(lue_le.is_string());
    // Reading again keeps the first reading time (and works without the slash).
    let (s, body) = json_of(
        app.post(&format!("/api/v1/notifications/{}/lire", ids[0]))
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["lue_le"], lue_le);
    let (_, body) = json_of(
        app.get("/api/v1/notifications/?lue=false")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["count"], 2);
    let (s, body) = json_of(
        app.post("/api/v1/notifications/tout-lire/")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body, json!({ "count": 2 }));
    let (_, body) = json_of(
        app.get("/api/v1/notifications/non-lues/")
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({ "count": 0 }));
    // The other user's notification is untouched.
    let (_, body) = json_of(
        app.get("/api/v1/notifications/non-lues/")
            .bearer_auth(&other.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({ "count": 1 }));
    let (_, doc) = json_of(app.get("/api/v1/openapi.json").send().await.unwrap()).await;
    for path in [
        "/api/v1/notifications/",
        "/api/v1/notifications/{id}/lire/",
        "/api/v1/notifications/tout-lire/",
        "/api/v1/notifications/non-lues/",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
