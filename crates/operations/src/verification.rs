//! `ecole check --deploy`: the seed's pre-production checklist (§10.2) as code. Each line is
//! `OK`, `ATTENTION` (works, but worth a look) or `ERREUR` (not fit for production); any
//! `ERREUR` makes the command exit non-zero.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_config::{Settings, SmsProviderKind, secret_key_weakness};
use ecole_core::time::CONAKRY;
use ecole_db::schema::process_heartbeats;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::certificat::{self, CibleTls};
use crate::outils;
use crate::sauvegarde::derniere_locale;
use crate::stockage::Depot;

/// How old the newest backup may be (the nightly one, plus slack).
pub const AGE_MAX_SAUVEGARDE_HEURES: i64 = 26;
/// A process whose heartbeat (every 10 s) is older than this is gone.
pub const BATTEMENT_MAX_SECONDES: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Niveau {
    Ok,
    Attention,
    Erreur,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Constat {
    pub niveau: Niveau,
    pub message: String,
}

impl std::fmt::Display for Constat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = match self.niveau {
            Niveau::Ok => "OK",
            Niveau::Attention => "ATTENTION",
            Niveau::Erreur => "ERREUR",
        };
        write!(f, "{label:<10} {}", self.message)
    }
}

/// What the report needs besides the settings.
#[derive(Debug, Clone, Default)]
pub struct Contexte {
    /// `RUST_LOG` as the processes will see it.
    pub rust_log: Option<String>,
}

#[derive(Default)]
struct Rapport(Vec<Constat>);

impl Rapport {
    fn ok(&mut self, m: impl Into<String>) {
        self.push(Niveau::Ok, m);
    }
    fn attention(&mut self, m: impl Into<String>) {
        self.push(Niveau::Attention, m);
    }
    fn erreur(&mut self, m: impl Into<String>) {
        self.push(Niveau::Erreur, m);
    }
    fn push(&mut self, niveau: Niveau, m: impl Into<String>) {
        self.0.push(Constat {
            niveau,
            message: m.into(),
        });
    }
}

async fn dans<T, E: std::fmt::Display>(
    secondes: u64,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(secondes), fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("pas de réponse en {secondes} s")),
    }
}

/// Creates the folder if needed, writes and removes a probe file.
async fn inscriptible(dir: &Path) -> Result<(), String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("création impossible : {e}"))?;
    let probe = dir.join(format!(".ecole-check-{}", std::process::id()));
    tokio::fs::write(&probe, b"ok")
        .await
        .map_err(|e| format!("écriture impossible : {e}"))?;
    let _ = tokio::fs::remove_file(&probe).await;
    Ok(())
}

fn configuration(settings: &Settings, contexte: &Contexte, r: &mut Rapport) {
    if settings.app_env.is_production() {
        r.ok("APP_ENV=production");
    } else {
        r.erreur(format!(
            "APP_ENV={} : mettez APP_ENV=production (secret obligatoire, journaux JSON, aucune sortie de débogage)",
            settings.app_env.as_str()
        ));
    }
    let rust_log = contexte.rust_log.clone().unwrap_or_default();
    let lower = rust_log.to_ascii_lowercase();
    if lower.contains("debug") || lower.contains("trace") {
        r.erreur(format!(
            "RUST_LOG={rust_log} : journaux de débogage activés (ils peuvent contenir des données personnelles) ; mettez RUST_LOG=info"
        ));
    } else {
        r.ok(format!(
            "journaux sans débogage (RUST_LOG={})",
            if rust_log.is_empty() {
                "info"
            } else {
                &rust_log
            }
        ));
    }
    if settings.app_env.is_production() && !settings.log_format_json {
        r.attention(
            "LOG_JSON=false : en production, les journaux JSON se lisent mieux par les outils",
        );
    }
    match secret_key_weakness(settings.secret_key.expose_secret()) {
        Some(reason) => r.erreur(format!(
            "SECRET_KEY faible : {reason} (générez-la avec `openssl rand -base64 48`)"
        )),
        None => r.ok("SECRET_KEY forte"),
    }
    let origins = &settings.cors_allowed_origins;
    if origins.is_empty() {
        r.erreur(
            "CORS_ALLOWED_ORIGINS est vide : indiquez l'adresse exacte du frontend (https://…)",
        );
    } else {
        let risky: Vec<&String> = origins
            .iter()
            .filter(|o| {
                o.starts_with("http://") || o.contains("localhost") || o.contains("127.0.0.1")
            })
            .collect();
        if risky.is_empty() {
            r.ok(format!("CORS : {}", origins.join(", ")));
        } else {
            r.attention(format!(
                "CORS : origine(s) non chiffrée(s) ou locale(s) autorisée(s) : {}",
                risky
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    match &settings.public_base_url {
        Some(url) if url.starts_with("https://") => r.ok(format!("PUBLIC_BASE_URL={url}")),
        Some(url) => r.attention(format!("PUBLIC_BASE_URL={url} n'est pas en https")),
        None => r.attention("PUBLIC_BASE_URL absente : les e-mails et SMS n'auront pas de lien"),
    }
    match settings.sms.provider {
        SmsProviderKind::Console => r.erreur(
            "SMS_PROVIDER=console : les SMS ne partent pas, ils sont seulement écrits dans le journal (l'API, les workers et le planificateur refusent de démarrer ainsi en production) ; configurez SMS_PROVIDER=orange",
        ),
        SmsProviderKind::Orange => {
            let sender = settings.sms.orange_sender.clone().unwrap_or_default();
            if settings.sms.orange_api_base.starts_with("https://") {
                r.ok(format!("SMS : Orange, expéditeur +{sender}"));
            } else {
                r.attention(format!(
                    "SMS : ORANGE_API_BASE={} n'est pas en https",
                    settings.sms.orange_api_base
                ));
            }
        }
    }
    if settings.trusted_proxies.is_empty() {
        r.attention(
            "TRUSTED_PROXIES vide : derrière nginx, tous les clients auraient l'adresse du proxy (limitations des connexions communes à tous) ; indiquez le réseau du proxy (172.31.250.0/24 dans le compose)",
        );
    } else {
        let nets: Vec<String> = settings
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        r.ok(format!("proxys de confiance : {}", nets.join(", ")));
    }
    if settings.sentry_dsn.is_some() {
        r.ok("Sentry activé (SENTRY_DSN)");
    } else {
        r.attention("SENTRY_DSN absente : les erreurs ne sont remontées nulle part");
    }
    match &settings.log_dir {
        Some(dir) => r.ok(format!("journaux écrits dans {}", dir.display())),
        None => r.attention("LOG_DIR absente : journaux sur la console seulement"),
    }
}

async fn fichiers(settings: &Settings, r: &mut Rapport) {
    for (name, dir) in [
        ("MEDIA_ROOT", &settings.media_root),
        ("BACKUP_DIR", &settings.backup_dir),
    ] {
        match inscriptible(dir).await {
            Ok(()) => r.ok(format!("{name} ({}) accessible en écriture", dir.display())),
            Err(e) => r.erreur(format!("{name} ({}) : {e}", dir.display())),
        }
    }
    if let Ok(meta) = tokio::fs::metadata(&settings.backup_dir).await {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            r.attention(format!(
                "BACKUP_DIR ({}) est ouvert aux autres comptes (mode {mode:o}) : chmod 700 (la prochaine sauvegarde le fait si le dossier appartient à l'application)",
                settings.backup_dir.display()
            ));
        }
    }
    match derniere_locale(&settings.backup_dir).await {
        Ok(Some(copie)) => {
            let age = Utc::now() - copie.horodatage;
            let heures = if age.num_minutes() < 60 {
                format!("{} min", age.num_minutes().max(0))
            } else {
                format!("{:.1} h", age.num_minutes() as f64 / 60.0).replace('.', ",")
            };
            if age > chrono::Duration::hours(AGE_MAX_SAUVEGARDE_HEURES) {
                r.erreur(format!(
                    "dernière sauvegarde {} il y a {heures} (plus de {AGE_MAX_SAUVEGARDE_HEURES} h) : vérifiez le job core.backup_database",
                    copie.nom
                ));
            } else {
                r.ok(format!("dernière sauvegarde {} il y a {heures}", copie.nom));
            }
        }
        Ok(None) => r.erreur(format!(
            "aucune sauvegarde dans {} : lancez `ecole backup`",
            settings.backup_dir.display()
        )),
        Err(e) => r.erreur(format!("sauvegardes : {e}")),
    }
    match outils::version(&settings.backup.pg_dump).await {
        Ok(v) => r.ok(format!("pg_dump disponible ({v})")),
        Err(e) => r.erreur(format!("pg_dump : {e}")),
    }
    match &settings.backup.s3 {
        None if settings.backup.offsite_externe => r.ok(
            "copies hors site faites par un autre moyen (BACKUP_OFFSITE=externe) : S3_BUCKET non utilisée",
        ),
        None if settings.app_env.is_production() => r.erreur(
            "S3_BUCKET absente : les sauvegardes ne sont copiées nulle part hors du serveur ; configurez S3_BUCKET, ou BACKUP_OFFSITE=externe si un autre moyen les copie ailleurs",
        ),
        None => r.attention(
            "S3_BUCKET absente : les sauvegardes ne sont copiées nulle part hors du serveur",
        ),
        Some(s3) => {
            let check = async {
                let depot = Depot::new(s3, 0)?;
                depot.verifier().await
            };
            match dans(20, check).await {
                Ok(n) => r.ok(format!(
                    "stockage S3 joignable : {} ({n} copie(s))",
                    s3.bucket
                )),
                Err(e) => r.erreur(format!("stockage S3 ({}) : {e}", s3.bucket)),
            }
        }
    }
}

#[derive(QueryableByName)]
struct RoleConnecte {
    #[diesel(sql_type = diesel::sql_types::Text)]
    role: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    superutilisateur: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tables: i64,
}

/// The role of `DATABASE_URL` must be the application's: neither a superuser nor the owner
/// of the tables (the owner could rewrite the audit log or disable its trigger).
async fn role_connecte(conn: &mut AsyncPgConnection, r: &mut Rapport) {
    let role: QueryResult<RoleConnecte> = diesel::sql_query(
        "SELECT current_user::text AS role, r.rolsuper AS superutilisateur, \
         (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relowner = r.oid) AS tables \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .get_result(conn)
    .await;
    match role {
        Ok(c) if c.superutilisateur => r.erreur(format!(
            "DATABASE_URL se connecte en superutilisateur ({}) : l'application doit utiliser le rôle applicatif (DATABASE_APP_USER, créé par `ecole migrate`) ; gardez le propriétaire pour ecole migrate",
            c.role
        )),
        Ok(c) if c.tables > 0 => r.erreur(format!(
            "le rôle {} de DATABASE_URL possède {} table(s) du schéma public : il peut réécrire le journal d'audit ; l'application doit utiliser le rôle applicatif (DATABASE_APP_USER, créé par `ecole migrate`), le propriétaire ne sert qu'à ecole migrate",
            c.role, c.tables
        )),
        Ok(c) => r.ok(format!(
            "rôle {} : ni superutilisateur, ni propriétaire des tables",
            c.role
        )),
        Err(e) => r.erreur(format!("rôle de DATABASE_URL : {e}")),
    }
}

/// The certificate of the served site (see [`crate::certificat`]).
pub fn constat_certificat(
    cible: &CibleTls,
    fin: Result<DateTime<Utc>, String>,
    maintenant: DateTime<Utc>,
) -> Constat {
    let (niveau, message) = match fin {
        Err(e) => (
            Niveau::Erreur,
            format!(
                "certificat TLS de {} illisible sur {} : {e} (TLS_CHECK_ADDR)",
                cible.nom, cible.adresse
            ),
        ),
        Ok(fin) => {
            let date = fin.with_timezone(&CONAKRY).format("%d/%m/%Y");
            let jours = (fin - maintenant).num_days();
            if fin <= maintenant {
                (
                    Niveau::Erreur,
                    format!(
                        "certificat servi pour {} expiré depuis le {date} : renouvelez-le (certbot)",
                        cible.nom
                    ),
                )
            } else if jours < certificat::JOURS_ERREUR {
                (
                    Niveau::Erreur,
                    format!(
                        "certificat servi pour {} valide jusqu'au {date} seulement ({jours} jour(s)) : renouvelez-le (certbot)",
                        cible.nom
                    ),
                )
            } else if jours < certificat::JOURS_ATTENTION {
                (
                    Niveau::Attention,
                    format!(
                        "certificat servi pour {} valide jusqu'au {date} ({jours} jours) : le renouvellement automatique aurait dû passer",
                        cible.nom
                    ),
                )
            } else {
                (
                    Niveau::Ok,
                    format!(
                        "certificat servi pour {} valide jusqu'au {date} ({jours} jours)",
                        cible.nom
                    ),
                )
            }
        }
    };
    Constat { niveau, message }
}

/// Reads the certificate served at `cible` and judges its expiry.
pub async fn verifier_certificat(cible: &CibleTls) -> Constat {
    constat_certificat(cible, certificat::expiration(cible).await, Utc::now())
}

async fn tls(settings: &Settings, r: &mut Rapport) {
    match certificat::cible(settings) {
        Some(cible) => {
            let c = verifier_certificat(&cible).await;
            r.push(c.niveau, c.message);
        }
        None => r.attention(
            "certificat TLS non vérifié : définissez TLS_CHECK_ADDR (ex. nginx:443) ou une PUBLIC_BASE_URL en https",
        ),
    }
}

async fn heartbeats(conn: &mut AsyncPgConnection, kind: &str) -> QueryResult<i64> {
    let since = Utc::now() - chrono::Duration::seconds(BATTEMENT_MAX_SECONDES);
    process_heartbeats::table
        .filter(process_heartbeats::kind.eq(kind))
        .filter(process_heartbeats::seen_at.gt(since))
        .count()
        .get_result(conn)
        .await
}

async fn services(settings: &Settings, r: &mut Rapport) {
    match dans(5, AsyncPgConnection::establish(&settings.database_url)).await {
        Ok(mut conn) => {
            r.ok("PostgreSQL joignable");
            match ecole_db::database_encoding(&mut conn).await {
                Ok((base, encodage)) => match ecole_db::encoding_problem(&base, &encodage) {
                    Some(probleme) => r.erreur(probleme),
                    None => r.ok(format!("base « {base} » encodée en UTF8")),
                },
                Err(e) => r.erreur(format!("encodage de la base : {e}")),
            }
            role_connecte(&mut conn, r).await;
            match ecole_db::pending_migrations(&settings.database_url).await {
                Ok(p) if p.is_empty() => r.ok("migrations à jour"),
                Ok(p) => r.erreur(format!(
                    "{} migration(s) en attente : lancez `ecole migrate`",
                    p.len()
                )),
                Err(e) => r.erreur(format!("migrations : {e}")),
            }
            match heartbeats(&mut conn, "worker").await {
                Ok(0) => r.erreur(format!(
                    "aucun worker actif (aucun battement depuis {BATTEMENT_MAX_SECONDES} s) : lancez ecole-worker"
                )),
                Ok(n) => r.ok(format!("{n} worker(s) actif(s)")),
                Err(e) => r.erreur(format!("workers : {e}")),
            }
            match heartbeats(&mut conn, "beat").await {
                Ok(0) => r.erreur(format!(
                    "planificateur arrêté (aucun battement depuis {BATTEMENT_MAX_SECONDES} s) : lancez ecole-beat"
                )),
                Ok(_) => r.ok("planificateur (ecole-beat) actif"),
                Err(e) => r.erreur(format!("planificateur : {e}")),
            }
        }
        Err(e) => {
            r.erreur(format!("PostgreSQL injoignable : {e}"));
            r.erreur("migrations, workers et planificateur non vérifiés (PostgreSQL injoignable)");
        }
    }
    let redis = async {
        let client = redis::Client::open(settings.redis_url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match dans(5, redis).await {
        Ok(_) => r.ok("Redis joignable"),
        Err(e) => r.erreur(format!("Redis injoignable : {e}")),
    }
    match &settings.smtp_url {
        None => r.erreur("SMTP_URL absente : aucun e-mail ne peut partir"),
        Some(url) => {
            let host = url::Url::parse(url.expose_secret())
                .ok()
                .map(|u| {
                    format!(
                        "{}:{}",
                        u.host_str().unwrap_or(""),
                        u.port().map(|p| p.to_string()).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let check = async {
                use lettre::{AsyncSmtpTransport, Tokio1Executor};
                let transport: AsyncSmtpTransport<Tokio1Executor> =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())?
                        .timeout(Some(Duration::from_secs(5)))
                        .build();
                transport.test_connection().await
            };
            match dans(10, check).await {
                Ok(true) => r.ok(format!("serveur SMTP joignable ({host})")),
                Ok(false) => r.erreur(format!("serveur SMTP ({host}) : réponse inattendue")),
                Err(e) => r.erreur(format!("serveur SMTP injoignable ({host}) : {e}")),
            }
        }
    }
}

/// Runs every check; the caller prints the lines and fails on any `ERREUR`.
pub async fn verifier_deploiement(settings: &Settings, contexte: &Contexte) -> Vec<Constat> {
    let mut r = Rapport::default();
    configuration(settings, contexte, &mut r);
    services(settings, &mut r).await;
    tls(settings, &mut r).await;
    fichiers(settings, &mut r).await;
    r.0
}

/// True when a line is an error.
pub fn en_erreur(constats: &[Constat]) -> usize {
    constats
        .iter()
        .filter(|c| c.niveau == Niveau::Erreur)
        .count()
}
