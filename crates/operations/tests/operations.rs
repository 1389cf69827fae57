//! Operations against the real PostgreSQL, Redis and tools: backup → restore round trip with
//! per-table checksums, refusals of restore, a failing or hanging pg_dump (ECHEC and the
//! administrators' alert), the S3 copy and pruning against a local S3 fake (moto), the
//! deployment checklist (with the connected role, off-site copies and the served certificate's
//! expiry), the job metrics and the X-Accel-Redirect download.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_config::{S3Settings, Settings};
use ecole_core::Role;
use ecole_db::schema::{jobs, notifications, process_heartbeats};
use ecole_jobs::JobStatus;
use ecole_operations::restauration::restaurer;
use ecole_operations::sauvegarde::{
    Copie, chemin_somme, copies_locales, nom_fichier, sauvegarder, somme_sha256,
};
use ecole_operations::statistiques::sommes;
use ecole_operations::stockage::Depot;
use ecole_operations::verification::{Contexte, Niveau, verifier_deploiement};
use ecole_test_support::process::{command, free_port};
use ecole_test_support::{TestApp, TestDb};
use tokio_util::sync::CancellationToken;

// ---------- helpers ----------

/// `pg_dump`/`pg_restore` of the server's version when the test script names them.
fn outils_pg(settings: &mut Settings) {
    if let Ok(p) = std::env::var("PG_DUMP") {
        settings.backup.pg_dump = PathBuf::from(p);
    }
    if let Ok(p) = std::env::var("PG_RESTORE") {
        settings.backup.pg_restore = PathBuf::from(p);
    }
}

fn dossier(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ecole-ops-{label}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An executable shell script standing in for pg_dump.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A small, realistic school: every domain table gets rows.
async fn ecole_de_demo(app: &TestApp) {
    let mut conn = app.conn().await;
    ecole_seed::seed(
        &mut conn,
        &ecole_seed::SeedOptions {
            eleves: 40,
            seed: 7,
            today: ecole_core::time::today(),
            progress: false,
        },
    )
    .await
    .unwrap();
}

async fn app_with_backups() -> (TestApp, PathBuf) {
    let dir = dossier("sauvegardes");
    let backups = dir.clone();
    let app = TestApp::with_settings(move |s| {
        s.backup_dir = backups;
        outils_pg(s);
    })
    .await;
    (app, dir)
}

// ---------- purge ----------

/// The purge is batched: with batches of 2, five expired keys go in three statements and a
/// fresh one stays; a second run finds nothing. (What each table keeps: the security suite's
/// `expired_rows_are_purged_daily_and_live_ones_kept`.)
#[tokio::test]
async fn the_purge_deletes_by_batches_until_nothing_is_left() {
    let app = TestApp::new().await;
    let user = app.as_role(Role::Comptable).await;
    let mut conn = app.conn().await;
    let sql = format!(
        "INSERT INTO requetes_idempotentes (cle, utilisateur_id, empreinte, created_at)
         SELECT 'cle-' || i, {}, 'e', now() - interval '3 days' FROM generate_series(1, 5) i
         UNION ALL SELECT 'fraiche', {}, 'e', now()",
        user.id(),
        user.id()
    );
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    let bilan = ecole_operations::purge::purger(&mut conn, Utc::now(), 2)
        .await
        .unwrap();
    assert_eq!(bilan.requetes_idempotentes, 5, "{bilan:?}");
    let again = ecole_operations::purge::purger(&mut conn, Utc::now(), 2)
        .await
        .unwrap();
    assert_eq!(again, ecole_operations::purge::BilanPurge::default());
    let left: i64 = ecole_db::schema::requetes_idempotentes::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

// ---------- backup → restore ----------

/// Per-table checksums, less `instance`: a restore gives the database a new instance id.
async fn sommes_hors_instance(
    conn: &mut AsyncPgConnection,
) -> Vec<ecole_operations::statistiques::Table> {
    let mut tables = sommes(conn).await.unwrap();
    tables.retain(|t| t.nom != "instance");
    tables
}

/// (id, restored_from) of the database's instance.
async fn instance_de(conn: &mut AsyncPgConnection) -> (uuid::Uuid, Option<uuid::Uuid>) {
    use ecole_db::schema::instance;
    instance::table
        .select((instance::id, instance::restored_from))
        .first(conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_then_restore_gives_identical_tables() {
    let (app, dir) = app_with_backups().await;
    ecole_de_demo(&app).await;
    let admin = app.as_admin().await;
    let before = sommes_hors_instance(&mut app.conn().await).await;
    let (instance_avant, _) = instance_de(&mut app.conn().await).await;
    assert!(before.iter().any(|t| t.nom == "eleves" && t.lignes == 40));
    assert!(before.iter().filter(|t| t.lignes > 0).count() >= 10);

    let settings = app.state.settings.clone();
    let bilan = sauvegarder(&settings, &CancellationToken::new())
        .await
        .unwrap();
    let dump = PathBuf::from(&bilan.fichier);
    assert_eq!(dump.parent().unwrap(), dir);
    let name = dump.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("ecole_") && name.ends_with(".dump"),
        "{name}"
    );
    // The `sha256sum -c` format.
    let line = std::fs::read_to_string(chemin_somme(&dump)).unwrap();
    assert_eq!(line, format!("{}  {name}\n", bilan.sha256));
    assert_eq!(somme_sha256(&dump).await.unwrap().0, bilan.sha256);
    assert!(bilan.s3.is_none());
    // Nothing half-written is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Into an empty database: no --force needed.
    let target = TestDb::empty().await;
    let restored = restaurer(
        &settings,
        &dump,
        &target.url,
        false,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(restored.tables_remplacees, 0);
    assert!(restored.migrations.is_empty(), "{:?}", restored.migrations);
    let after = sommes_hors_instance(&mut target.conn().await).await;
    assert_eq!(before, after, "contenu différent après restauration");
    // A new instance id, that remembers the backup's: the jobs take a fresh Redis namespace.
    let (instance_apres, restauree_de) = instance_de(&mut target.conn().await).await;
    assert_ne!(instance_apres, instance_avant);
    assert_eq!(restauree_de, Some(instance_avant));
    assert_eq!(restored.instance, instance_apres.to_string());
    assert_eq!(
        restored.instance_sauvegardee,
        Some(instance_avant.to_string())
    );
    let counts: Vec<(String, i64)> = restored
        .tables
        .iter()
        .filter(|t| t.nom != "instance")
        .map(|t| (t.nom.clone(), t.lignes))
        .collect();
    let expected: Vec<(String, i64)> = before.iter().map(|t| (t.nom.clone(), t.lignes)).collect();
    assert_eq!(counts, expected);

    // The restored copy is a working database: the admin signs in.
    let mut restored_settings = settings.clone();
    restored_settings.database_url = target.url.clone();
    let mut conn = target.conn().await;
    let found: i64 = ecole_db::schema::users::table
        .filter(ecole_db::schema::users::id.eq(admin.id()))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(found, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_checks_the_checksum_and_never_overwrites_without_force() {
    let (app, dir) = app_with_backups().await;
    ecole_de_demo(&app).await;
    let settings = app.state.settings.clone();
    let bilan = sauvegarder(&settings, &CancellationToken::new())
        .await
        .unwrap();
    let dump = PathBuf::from(&bilan.fichier);
    let never = CancellationToken::new();

    // A damaged copy (one byte changed) is refused before anything is touched.
    let damaged = dir.join("ecole_20200101_000000.dump");
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    std::fs::copy(chemin_somme(&dump), chemin_somme(&damaged)).unwrap();
    let target = TestDb::empty().await;
    let err = restaurer(&settings, &damaged, &target.url, false, &never)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("somme de contrôle différente"),
        "{err}"
    );
    // Without its .sha256: refused too.
    std::fs::remove_file(chemin_somme(&damaged)).unwrap();
    let err = restaurer(&settings, &damaged, &target.url, false, &never)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(".sha256"), "{err}");
    assert!(sommes(&mut target.conn().await).await.unwrap().is_empty());

    // A migrated database with its own data is not overwritten without --force.
    let other = TestApp::new().await;
    let lonely = other.as_role(Role::Direction).await;
    let before_other = sommes(&mut other.conn().await).await.unwrap();
    let err = restaurer(&settings, &dump, &other.db.url, false, &never)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(sommes(&mut other.conn().await).await.unwrap(), before_other);

    // With --force it becomes the backup, exactly.
    let expected = sommes_hors_instance(&mut app.conn().await).await;
    let restored = restaurer(&settings, &dump, &other.db.url, true, &never)
        .await
        .unwrap();
    assert!(restored.tables_remplacees > 10);
    assert_eq!(
        sommes_hors_instance(&mut other.conn().await).await,
        expected
    );
    let mut conn = other.conn().await;
    let gone: i64 = ecole_db::schema::users::table
        .filter(ecole_db::schema::users::username.eq(&lonely.user.username))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(gone, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_restores_and_prints_row_counts() {
    let (app, dir) = app_with_backups().await;
    ecole_de_demo(&app).await;
    let settings = app.state.settings.clone();
    let bilan = sauvegarder(&settings, &CancellationToken::new())
        .await
        .unwrap();
    let target = TestDb::empty().await;
    let mut env = vec![
        ("DATABASE_URL", target.url.clone()),
        ("BACKUP_DIR", dir.to_string_lossy().into_owned()),
    ];
    for var in ["PG_DUMP", "PG_RESTORE"] {
        if let Ok(v) = std::env::var(var) {
            env.push((var, v));
        }
    }
    let out = command("ecole", &env)
        .args(["restore", &bilan.fichier])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Somme de contrôle vérifiée"), "{stdout}");
    let eleves = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("eleves "))
        .unwrap_or_default();
    assert!(eleves.trim_end().ends_with(" 40"), "{stdout}");
    // A second time: the target is no longer empty.
    let out = command("ecole", &env)
        .args(["restore", &bilan.fichier])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------- failures of the job ----------

async fn backup_job(app: &TestApp) -> i64 {
    let mut conn = app.conn().await;
    ecole_jobs::enqueue(
        &mut conn,
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::BackupDatabase {}).unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_pg_dump_ends_in_echec_and_alerts_the_active_admins() {
    let dir = dossier("echec");
    let fake = script(
        &dir,
        "pg_dump",
        "echo 'pg_dump: error: connection to server failed: Connexion refusée' >&2\nexit 1",
    );
    let backups = dir.join("sauvegardes");
    let app = TestApp::with_settings(move |s| {
        s.backup_dir = backups;
        s.backup.pg_dump = fake;
    })
    .await;
    let admin = app.as_admin().await;
    let second = app.as_admin().await;
    let inactive = app.user().role(Role::Admin).inactive().create().await;
    let direction = app.as_role(Role::Direction).await;
    let id = backup_job(&app).await;
    app.run_jobs(ecole_handlers::registry()).await;

    let mut conn = app.conn().await;
    let (status, attempts, error): (JobStatus, i32, Option<String>) = jobs::table
        .find(id)
        .select((jobs::status, jobs::attempts, jobs::error))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, JobStatus::Echec);
    assert_eq!(attempts, 4, "la politique de reprise s'applique");
    let error = error.unwrap();
    assert!(error.contains("pg_dump a échoué (code 1)"), "{error}");
    assert!(error.contains("Connexion refusée"), "{error}");

    let alerts: Vec<(i64, String, String, bool)> = notifications::table
        .filter(notifications::type_notification.eq(ecole_db::enums::TypeNotification::General))
        .select((
            notifications::utilisateur_id,
            notifications::titre,
            notifications::message,
            notifications::envoyer_par_email,
        ))
        .order(notifications::utilisateur_id)
        .load(&mut conn)
        .await
        .unwrap();
    let alerted: Vec<i64> = alerts.iter().map(|a| a.0).collect();
    assert_eq!(
        alerted,
        vec![admin.id(), second.id()],
        "une alerte par administrateur actif, une seule fois"
    );
    assert!(!alerted.contains(&inactive.id()) && !alerted.contains(&direction.id()));
    for (_, titre, message, email) in &alerts {
        assert_eq!(titre, "Échec de la sauvegarde de la base de données");
        assert!(
            message.contains("Connexion refusée") && message.contains("ecole backup"),
            "{message}"
        );
        assert!(email);
    }
    // The e-mails were asked for in the same transaction.
    let emails: i64 = jobs::table
        .filter(jobs::name.eq("communication.envoyer_email_notification"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(emails, 2);
    // No half-written dump.
    let files: Vec<_> = std::fs::read_dir(dir.join("sauvegardes"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "{files:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_pg_dump_is_killed_at_the_timeout() {
    let dir = dossier("delai");
    let marker = dir.join("pid");
    let fake = script(
        &dir,
        "pg_dump",
        &format!("echo $$ > {}\nexec sleep 60", marker.display()),
    );
    let mut settings = Settings::for_tests(
        "postgres://postgres@127.0.0.1:1/x",
        "redis://127.0.0.1:1",
        "t",
    );
    settings.backup_dir = dir.join("sauvegardes");
    settings.backup.pg_dump = fake;
    settings.backup.timeout = Duration::from_millis(800);
    let started = std::time::Instant::now();
    let err = sauvegarder(&settings, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.to_string().contains("délai de 0 s dépassé") || err.to_string().contains("délai"),
        "{err}"
    );
    let pid = std::fs::read_to_string(&marker).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .unwrap_or_default()
                .contains(") Z"),
        "pg_dump tourne encore"
    );
    assert!(
        copies_locales(&settings.backup_dir)
            .await
            .unwrap()
            .is_empty()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------- S3 (moto) ----------

/// moto's S3 server on a free loopback port, stopped on drop.
struct Moto {
    url: String,
    _child: tokio::process::Child,
}

fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/moto-venv/bin/moto_server");
    if local.exists() {
        return local;
    }
    panic!(
        "moto_server introuvable : `make test` l'installe (target/moto-venv) ; sinon \
         `python3 -m venv target/moto-venv && target/moto-venv/bin/pip install 'moto[server]'`, \
         ou MOTO_SERVER=/chemin/vers/moto_server"
    );
}

impl Moto {
    async fn start() -> Moto {
        let port = free_port();
        let child = tokio::process::Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server ne démarre pas");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(&url).send().await.is_ok() {
                return Moto { url, _child: child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server ne répond pas sur {url}");
    }

    /// Creates a bucket (moto accepts unsigned requests).
    async fn bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(self.url.clone()),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key_id: "testing".into(),
            secret_access_key: "testing".to_string().into(),
            prefix: "ecole/".into(),
        }
    }
}

fn vieille(jours: i64, i: i64) -> String {
    nom_fichier(Utc::now() - chrono::Duration::days(jours) - chrono::Duration::minutes(i))
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_go_to_s3_and_old_copies_are_pruned_on_both_sides() {
    let moto = Moto::start().await;
    moto.bucket("sauvegardes").await;
    let s3 = moto.settings("sauvegardes");
    let (app, dir) = {
        let s3 = s3.clone();
        let dir = dossier("s3");
        let backups = dir.clone();
        let app = TestApp::with_settings(move |s| {
            s.backup_dir = backups;
            s.backup.s3 = Some(s3);
            s.backup.retention_days = 14;
            outils_pg(s);
        })
        .await;
        (app, dir)
    };
    ecole_de_demo(&app).await;
    let depot = Depot::new(&s3, 1).unwrap();
    // Remote: five copies of 20 to 24 days ago, and a stranger that is never touched.
    let remote_old: Vec<String> = (0..5).map(|i| vieille(20 + i, i)).collect();
    for name in &remote_old {
        depot.deposer(name, b"ancienne".to_vec()).await.unwrap();
        depot
            .deposer(&format!("{name}.sha256"), b"x".to_vec())
            .await
            .unwrap();
    }
    depot
        .deposer("LISEZMOI.txt", b"garder".to_vec())
        .await
        .unwrap();
    // Local: four old copies, a recent one, and an unrelated file.
    let local_old: Vec<String> = (0..4).map(|i| vieille(30 + i, i)).collect();
    for name in &local_old {
        std::fs::write(dir.join(name), b"ancienne").unwrap();
        std::fs::write(chemin_somme(&dir.join(name)), b"x").unwrap();
    }
    let recent = vieille(1, 0);
    std::fs::write(dir.join(&recent), b"hier").unwrap();
    std::fs::write(chemin_somme(&dir.join(&recent)), b"x").unwrap();
    std::fs::write(dir.join("notes.txt"), b"garder").unwrap();

    let bilan = sauvegarder(&app.state.settings, &CancellationToken::new())
        .await
        .unwrap();
    let name = Path::new(&bilan.fichier)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        bilan.s3.as_deref(),
        Some(format!("sauvegardes/ecole/{name}").as_str())
    );

    // The remote copy is the local file, byte for byte, with its checksum beside it.
    let remote = depot.lire(&name).await.unwrap();
    assert_eq!(remote, std::fs::read(&bilan.fichier).unwrap());
    let remote_sum =
        String::from_utf8(depot.lire(&format!("{name}.sha256")).await.unwrap()).unwrap();
    assert!(remote_sum.starts_with(&bilan.sha256));

    // Remote: the new copy and the two newest old ones (3 kept), the stranger untouched.
    let left: Vec<String> = depot
        .copies()
        .await
        .unwrap()
        .into_iter()
        .map(|c: Copie| c.nom)
        .collect();
    let mut expected = vec![remote_old[0].clone(), remote_old[1].clone(), name.clone()];
    expected.sort();
    let mut sorted = left.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    assert_eq!(depot.lire("LISEZMOI.txt").await.unwrap(), b"garder");
    assert!(
        depot
            .lire(&format!("{}.sha256", remote_old[4]))
            .await
            .is_err()
    );
    let mut gone = bilan.supprimees_s3.clone();
    gone.sort();
    let mut expected_gone = remote_old[2..].to_vec();
    expected_gone.sort();
    assert_eq!(gone, expected_gone);

    // Local: the new copy, yesterday's, the newest old one; the stranger untouched.
    let mut local: Vec<String> = copies_locales(&dir)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.nom)
        .collect();
    local.sort();
    let mut expected = vec![name.clone(), recent.clone(), local_old[0].clone()];
    expected.sort();
    assert_eq!(local, expected);
    assert!(dir.join("notes.txt").exists());
    assert!(!chemin_somme(&dir.join(&local_old[3])).exists());
    assert_eq!(bilan.supprimees_locales.len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_bucket_fails_the_backup() {
    let (app, dir) = app_with_backups().await;
    let mut settings = app.state.settings.clone();
    settings.backup.s3 = Some(S3Settings {
        endpoint: Some(format!("http://127.0.0.1:{}", free_port())),
        bucket: "absent".into(),
        region: "us-east-1".into(),
        access_key_id: "k".into(),
        secret_access_key: "s".to_string().into(),
        prefix: String::new(),
    });
    let err = sauvegarder(&settings, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stockage S3"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------- check --deploy ----------

/// A certificate for `nom` valid `jours` days more (and one hour), self-signed or issued by a
/// test CA (the chain then holds the leaf, then the CA, valid ten years).
fn certificat_de_test(
    nom: &str,
    jours: i64,
    par_une_ac: bool,
) -> (
    Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    tokio_rustls::rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let maintenant = time::OffsetDateTime::now_utc();
    let cle = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![nom.to_string()]).unwrap();
    params.not_before = maintenant - time::Duration::days(1);
    params.not_after = maintenant + time::Duration::days(jours) + time::Duration::hours(1);
    let chaine = if par_une_ac {
        let cle_ac = KeyPair::generate().unwrap();
        let mut ac = CertificateParams::new(Vec::<String>::new()).unwrap();
        ac.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ac.not_before = maintenant - time::Duration::days(1);
        ac.not_after = maintenant + time::Duration::days(3650);
        let certificat_ac = ac.self_signed(&cle_ac).unwrap();
        let emetteur = Issuer::new(ac, cle_ac);
        let feuille = params.signed_by(&cle, &emetteur).unwrap();
        vec![feuille.der().clone(), certificat_ac.der().clone()]
    } else {
        vec![params.self_signed(&cle).unwrap().der().clone()]
    };
    let cle = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(cle.serialize_der().into());
    (chaine, cle)
}

/// A TLS server on a loopback port serving that certificate; stops when dropped.
struct ServeurTls {
    port: u16,
    tache: tokio::task::JoinHandle<()>,
}

impl ServeurTls {
    async fn start(nom: &str, jours: i64, par_une_ac: bool) -> ServeurTls {
        use tokio_rustls::rustls;
        let (chaine, cle) = certificat_de_test(nom, jours, par_une_ac);
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chaine, cle)
        .unwrap();
        let accepteur = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let ecoute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = ecoute.local_addr().unwrap().port();
        let tache = tokio::spawn(async move {
            while let Ok((flux, _)) = ecoute.accept().await {
                let accepteur = accepteur.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = accepteur.accept(flux).await {
                        use tokio::io::AsyncWriteExt;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        ServeurTls { port, tache }
    }

    fn adresse(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ServeurTls {
    fn drop(&mut self) {
        self.tache.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_certificate_expiry_is_checked() {
    use ecole_operations::certificat::CibleTls;
    use ecole_operations::verification::verifier_certificat;
    let nom = "ecole.exemple.gn";
    for (jours, par_une_ac, niveau) in [
        (3, false, Niveau::Erreur),
        (14, false, Niveau::Attention),
        (60, false, Niveau::Ok),
        // The leaf's date, not the CA's (valid ten years).
        (14, true, Niveau::Attention),
        (3, true, Niveau::Erreur),
    ] {
        let serveur = ServeurTls::start(nom, jours, par_une_ac).await;
        let cible = CibleTls {
            adresse: serveur.adresse(),
            nom: nom.into(),
        };
        let constat = verifier_certificat(&cible).await;
        assert_eq!(constat.niveau, niveau, "{jours} j : {}", constat.message);
        let attendu = if jours < 7 {
            format!("({jours} jour(s))")
        } else {
            format!("({jours} jours)")
        };
        assert!(
            constat
                .message
                .starts_with(&format!("certificat servi pour {nom} valide jusqu'au "))
                && constat.message.contains(&attendu),
            "{}",
            constat.message
        );
        let fin = (Utc::now() + chrono::Duration::days(jours) + chrono::Duration::minutes(59))
            .with_timezone(&ecole_core::time::CONAKRY)
            .format("%d/%m/%Y")
            .to_string();
        assert!(
            constat.message.contains(&fin),
            "{fin} : {}",
            constat.message
        );
    }
    // Nothing listens: an error, quickly.
    let cible = CibleTls {
        adresse: format!("127.0.0.1:{}", free_port()),
        nom: nom.into(),
    };
    let constat = verifier_certificat(&cible).await;
    assert_eq!(constat.niveau, Niveau::Erreur);
    assert!(
        constat
            .message
            .contains("certificat TLS de ecole.exemple.gn illisible"),
        "{}",
        constat.message
    );
}

/// Settings of a deployment where every check passes, and what it needs around it.
struct Deploiement {
    app: TestApp,
    _smtp: ecole_test_support::smtp::SmtpSink,
    _tls: ServeurTls,
    dir: PathBuf,
    vars: Vec<(String, String)>,
    /// The application role of `DATABASE_URL` (created for the test, dropped by `fin`).
    role: String,
}

/// `url` with another user and no password (the test server trusts local connections).
fn url_en_tant_que(url: &str, role: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_username(role).unwrap();
    url.set_password(None).unwrap();
    url.to_string()
}

impl Deploiement {
    async fn new() -> Deploiement {
        let app = TestApp::new().await;
        let smtp = ecole_test_support::smtp::SmtpSink::start().await;
        let tls = ServeurTls::start("api.ecole.exemple.gn", 60, true).await;
        // The application connects with its least-privilege role, as `ecole migrate` makes it.
        let role = format!(
            "ecole_app_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        ecole_operations::droits::appliquer_droits(&app.db.url, &role, None)
            .await
            .unwrap();
        let dir = dossier("deploy");
        let backups = dir.join("sauvegardes");
        std::fs::create_dir_all(&backups).unwrap();
        let recent = backups.join(nom_fichier(Utc::now() - chrono::Duration::hours(3)));
        std::fs::write(&recent, b"copie").unwrap();
        std::fs::write(chemin_somme(&recent), b"x").unwrap();
        let mut conn = app.conn().await;
        for (name, kind) in [("worker-test-1", "worker"), ("beat-test-1", "beat")] {
            diesel::insert_into(process_heartbeats::table)
                .values((
                    process_heartbeats::name.eq(name),
                    process_heartbeats::kind.eq(kind),
                    process_heartbeats::seen_at.eq(Utc::now()),
                ))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let mut vars: Vec<(String, String)> = [
            ("APP_ENV", "production".to_string()),
            (
                "SECRET_KEY",
                "Zx8#kP2m!Qv7@Lr4$Tn9^Wb3&Hy6*Jd1(Fs5)Gc0".into(),
            ),
            ("DATABASE_URL", url_en_tant_que(&app.db.url, &role)),
            ("REDIS_URL", ecole_test_support::redis_url()),
            ("CORS_ALLOWED_ORIGINS", "https://ecole.exemple.gn".into()),
            ("PUBLIC_BASE_URL", "https://api.ecole.exemple.gn".into()),
            ("TLS_CHECK_ADDR", tls.adresse()),
            ("BACKUP_OFFSITE", "externe".into()),
            ("SMTP_URL", format!("smtp://127.0.0.1:{}", smtp.port)),
            ("SMS_PROVIDER", "orange".into()),
            ("ORANGE_CLIENT_ID", "id".into()),
            ("ORANGE_CLIENT_SECRET", "secret".into()),
            ("ORANGE_SENDER", "224620000000".into()),
            (
                "MEDIA_ROOT",
                dir.join("media").to_string_lossy().into_owned(),
            ),
            ("BACKUP_DIR", backups.to_string_lossy().into_owned()),
            ("LOG_DIR", dir.join("logs").to_string_lossy().into_owned()),
            ("SENTRY_DSN", "https://cle@sentry.exemple.gn/1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for var in ["PG_DUMP", "PG_RESTORE"] {
            if let Ok(v) = std::env::var(var) {
                vars.push((var.to_string(), v));
            }
        }
        Deploiement {
            app,
            _smtp: smtp,
            _tls: tls,
            dir,
            vars,
            role,
        }
    }

    /// Drops the database, then the role (which holds privileges in it until then).
    async fn fin(self) {
        let serveur = url_en_tant_que(&self.app.db.url, "postgres");
        let mut serveur = url::Url::parse(&serveur).unwrap();
        serveur.set_path("/postgres");
        let _ = std::fs::remove_dir_all(&self.dir);
        let role = self.role.clone();
        drop(self);
        use diesel_async::AsyncConnection;
        let mut conn = diesel_async::AsyncPgConnection::establish(serveur.as_str())
            .await
            .unwrap();
        diesel::sql_query(format!("DROP ROLE IF EXISTS \"{role}\""))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    fn with(&self, changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
        let mut vars = self.vars.clone();
        for (k, v) in changes {
            vars.retain(|(name, _)| name != k);
            if let Some(v) = v {
                vars.push((k.to_string(), v.to_string()));
            }
        }
        vars
    }

    async fn check(
        &self,
        changes: &[(&str, Option<&str>)],
        rust_log: &str,
    ) -> Vec<(Niveau, String)> {
        let settings = Settings::from_vars_for_audit(self.with(changes).into_iter().collect())
            .expect("réglages valides");
        let contexte = Contexte {
            rust_log: Some(rust_log.to_string()),
        };
        verifier_deploiement(&settings, &contexte)
            .await
            .into_iter()
            .map(|c| (c.niveau, c.message))
            .collect()
    }
}

/// Variables to change, `RUST_LOG`, and the text an `ERREUR` line must contain.
type Cas<'a> = (Vec<(&'a str, Option<&'a str>)>, &'a str, &'a str);

fn erreurs(lines: &[(Niveau, String)]) -> Vec<String> {
    lines
        .iter()
        .filter(|(n, _)| *n == Niveau::Erreur)
        .map(|(_, m)| m.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_deploy_fails_on_each_bad_setting() {
    let d = Deploiement::new().await;
    let good = d.check(&[], "info").await;
    assert!(erreurs(&good).is_empty(), "{good:#?}");
    for ok in [
        "BACKUP_OFFSITE=externe",
        "certificat servi pour api.ecole.exemple.gn valide jusqu'au ",
        "ni superutilisateur, ni propriétaire des tables",
        "encodée en UTF8",
    ] {
        assert!(
            good.iter().any(|(n, m)| *n == Niveau::Ok && m.contains(ok)),
            "« {ok} » : {good:#?}"
        );
    }
    // Outside production, no off-site copy is only worth a look.
    let dev = d
        .check(
            &[("APP_ENV", Some("development")), ("BACKUP_OFFSITE", None)],
            "info",
        )
        .await;
    assert!(
        dev.iter()
            .any(|(n, m)| *n == Niveau::Attention && m.contains("S3_BUCKET")),
        "{dev:#?}"
    );

    // The owner of the tables, even without superuser rights, is not the application's role.
    let owner = format!(
        "ecole_proprio_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut su = d.app.conn().await;
    for sql in [
        format!("CREATE ROLE \"{owner}\" LOGIN"),
        "CREATE TABLE essai_proprio (id INT)".to_string(),
        format!("ALTER TABLE essai_proprio OWNER TO \"{owner}\""),
    ] {
        diesel::sql_query(sql).execute(&mut su).await.unwrap();
    }
    let owner_url = url_en_tant_que(&d.app.db.url, &owner);
    let superuser_url = url_en_tant_que(&d.app.db.url, "postgres");

    let unwritable = d.dir.join("fichier");
    std::fs::write(&unwritable, b"pas un dossier").unwrap();
    let media = unwritable.join("media").to_string_lossy().into_owned();
    let empty = d.dir.join("vide").to_string_lossy().into_owned();
    let old = d.dir.join("vieux");
    std::fs::create_dir_all(&old).unwrap();
    let stale = old.join(nom_fichier(Utc::now() - chrono::Duration::hours(27)));
    std::fs::write(&stale, b"x").unwrap();
    std::fs::write(chemin_somme(&stale), b"x").unwrap();
    let old = old.to_string_lossy().into_owned();
    let closed = format!("127.0.0.1:{}", free_port());
    let bad_db = format!("postgres://postgres@{closed}/ecole");
    let bad_redis = format!("redis://{closed}/0");
    let bad_smtp = format!("smtp://{closed}");
    let bad_s3 = format!("http://{closed}");
    let cases: Vec<Cas> = vec![
        (vec![("SECRET_KEY", Some("court"))], "info", "SECRET_KEY"),
        (vec![("APP_ENV", Some("development"))], "info", "APP_ENV"),
        (vec![], "info,ecole=debug", "RUST_LOG"),
        (
            vec![("CORS_ALLOWED_ORIGINS", None)],
            "info",
            "CORS_ALLOWED_ORIGINS",
        ),
        (
            vec![("DATABASE_URL", Some(&bad_db))],
            "info",
            "PostgreSQL injoignable",
        ),
        (vec![("REDIS_URL", Some(&bad_redis))], "info", "Redis"),
        (vec![("SMTP_URL", Some(&bad_smtp))], "info", "SMTP"),
        (vec![("SMTP_URL", None)], "info", "SMTP_URL"),
        (
            vec![("SMS_PROVIDER", Some("console"))],
            "info",
            "SMS_PROVIDER",
        ),
        (vec![("MEDIA_ROOT", Some(&media))], "info", "MEDIA_ROOT"),
        (
            vec![("BACKUP_DIR", Some(&empty))],
            "info",
            "aucune sauvegarde",
        ),
        (vec![("BACKUP_DIR", Some(&old))], "info", "plus de 26 h"),
        (
            vec![("PG_DUMP", Some("/nulle/part/pg_dump"))],
            "info",
            "pg_dump",
        ),
        (
            vec![
                ("S3_BUCKET", Some("b")),
                ("S3_ENDPOINT", Some(&bad_s3)),
                ("S3_ACCESS_KEY_ID", Some("k")),
                ("S3_SECRET_ACCESS_KEY", Some("s")),
            ],
            "info",
            "stockage S3",
        ),
        (vec![("BACKUP_OFFSITE", None)], "info", "S3_BUCKET absente"),
        (
            vec![("DATABASE_URL", Some(&superuser_url))],
            "info",
            "superutilisateur (postgres)",
        ),
        (
            vec![("DATABASE_URL", Some(&owner_url))],
            "info",
            "possède 1 table(s) du schéma public",
        ),
        (
            vec![("TLS_CHECK_ADDR", Some(&closed))],
            "info",
            "certificat TLS de api.ecole.exemple.gn illisible",
        ),
    ];
    for (changes, rust_log, needle) in &cases {
        let lines = d.check(changes, rust_log).await;
        let errors = erreurs(&lines);
        assert!(
            errors.iter().any(|m| m.contains(needle)),
            "{changes:?} : aucune ERREUR « {needle} » dans {lines:#?}"
        );
    }

    // Without heartbeats: no worker, no beat.
    let mut conn = d.app.conn().await;
    diesel::update(process_heartbeats::table)
        .set(process_heartbeats::seen_at.eq(Utc::now() - chrono::Duration::minutes(5)))
        .execute(&mut conn)
        .await
        .unwrap();
    let errors = erreurs(&d.check(&[], "info").await);
    assert!(
        errors.iter().any(|m| m.contains("aucun worker actif")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|m| m.contains("planificateur arrêté")),
        "{errors:?}"
    );

    // A migration not applied.
    diesel::sql_query(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let errors = erreurs(&d.check(&[], "info").await);
    assert!(
        errors.iter().any(|m| m.contains("migration(s) en attente")),
        "{errors:?}"
    );
    diesel::sql_query("DROP TABLE essai_proprio")
        .execute(&mut su)
        .await
        .unwrap();
    diesel::sql_query(format!("DROP ROLE \"{owner}\""))
        .execute(&mut su)
        .await
        .unwrap();
    drop((su, conn));
    d.fin().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_check_deploy_exits_non_zero_on_an_error() {
    let d = Deploiement::new().await;
    let run = |vars: Vec<(String, String)>| async move {
        let env: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let out = command("ecole", &env)
            .env("RUST_LOG", "info")
            .args(["check", "--deploy"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(d.vars.clone()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("OK         PostgreSQL joignable")),
        "{out}"
    );
    assert!(out.contains("Prêt pour la production"), "{out}");
    // A weak secret in production: reported as a line, not a refusal to start.
    let (code, out) = run(d.with(&[("SECRET_KEY", Some("court"))])).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ERREUR     SECRET_KEY faible")),
        "{out}"
    );
    // An invalid setting: one ERREUR line, exit status 2.
    let (code, out) = run(d.with(&[("CORS_ALLOWED_ORIGINS", Some("*"))])).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("ERREUR") && out.contains("CORS_ALLOWED_ORIGINS"),
        "{out}"
    );
    // An unknown BACKUP_OFFSITE is a configuration error, in French.
    let (code, out) = run(d.with(&[("BACKUP_OFFSITE", Some("oui"))])).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("BACKUP_OFFSITE") && out.contains("externe"),
        "{out}"
    );
    d.fin().await;
}

// ---------- /metrics and downloads ----------

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_jobs_by_name_and_the_outbox_backlog() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    ecole_jobs::enqueue(
        &mut conn,
        ecole_jobs::NewJob::of(&ecole_jobs::payloads::Debug {
            fail_attempts: 1,
            ..Default::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    app.run_jobs(ecole_handlers::registry()).await;
    // Two jobs waiting for the relay, one of them not due yet.
    for delay in [0, 3600] {
        ecole_jobs::enqueue(
            &mut conn,
            ecole_jobs::NewJob::of(&ecole_jobs::payloads::Debug::default())
                .unwrap()
                .run_after(Utc::now() + chrono::Duration::seconds(delay)),
        )
        .await
        .unwrap();
    }
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "ecole_jobs_succeeded{name=\"core.debug\"} 1",
        "ecole_jobs_retried{name=\"core.debug\"} 1",
        "ecole_jobs_queued{name=\"core.debug\"} 2",
        "ecole_jobs_failed{name=\"core.backup_database\"} 0",
        "ecole_outbox_backlog 1",
        "# TYPE ecole_jobs_queued gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "« {line} » absent :\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pdfs_go_through_nginx_internal_location_when_configured() {
    let app = TestApp::with_settings(|s| {
        s.media_accel_redirect = Some("/_media_protege/".into());
    })
    .await;
    let root = app.state.settings.media_root.clone();
    std::fs::create_dir_all(root.join("bulletins/2026")).unwrap();
    std::fs::write(root.join("bulletins/2026/7.pdf"), b"%PDF-1.4").unwrap();
    let response = ecole_api::routes::bulletins::stream_pdf(
        &app.state,
        "bulletins/2026/7.pdf",
        "b.pdf".into(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("x-accel-redirect").unwrap(),
        "/_media_protege/bulletins/2026/7.pdf"
    );
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/pdf"
    );
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    assert!(body.is_empty());
    assert!(
        ecole_api::routes::bulletins::stream_pdf(
            &app.state,
            "bulletins/2026/8.pdf",
            "b.pdf".into()
        )
        .await
        .is_err()
    );
    let _ = std::fs::remove_dir_all(&root);
}
