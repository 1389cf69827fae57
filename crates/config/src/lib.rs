//! Typed settings, read once from environment variables (and an optional `.env`).
//!
//! Every setting has a default that works on a developer box; production refuses weak
//! secrets. Messages for people are in French.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

/// Secret key used in development when `SECRET_KEY` is unset. Refused in production.
pub const DEV_SECRET_KEY: &str = "dev-insecure-secret-key-change-me-0000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn is_production(self) -> bool {
        self == AppEnv::Production
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Test => "test",
            AppEnv::Production => "production",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("variable {name} invalide : {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("SECRET_KEY est absente ou trop faible : {0}")]
    WeakSecret(String),
}

/// All settings of every binary. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub database_url: String,
    pub database_pool_size: usize,
    pub database_timeout: Duration,
    /// Least-privilege role of the API, worker and beat (`DATABASE_APP_USER`): `ecole migrate`,
    /// run as the owner, creates it when missing and grants it reads and writes only (the
    /// audit log append-only). Unset: no role is managed.
    pub database_app_user: Option<String>,
    /// Its password (`DATABASE_APP_PASSWORD`), set at each `ecole migrate` when given.
    pub database_app_password: Option<SecretString>,
    pub redis_url: String,
    /// Prefix of every Redis key this deployment writes (tests use one per test).
    pub redis_prefix: String,
    pub secret_key: SecretString,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Clock skew tolerated on `exp` between processes.
    pub jwt_leeway: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub http_bind: SocketAddr,
    pub http_workers: usize,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs; empty: none).
    /// The client address is read from the right of the header, past these hops only.
    pub trusted_proxies: Vec<IpNet>,
    pub login_max_failures_user: i64,
    pub login_max_failures_ip: i64,
    pub login_window: Duration,
    pub log_dir: Option<PathBuf>,
    pub log_format_json: bool,
    /// Size at which the log file rotates (`LOG_MAX_BYTES`, 15 MB as the seed).
    pub log_max_bytes: u64,
    /// Rotated files kept beside the current one (`LOG_MAX_FILES`, 10 as the seed).
    pub log_max_files: usize,
    pub otel_exporter_otlp_endpoint: Option<String>,
    pub sentry_dsn: Option<SecretString>,
    /// Send personal data (client address, user) to Sentry (`SENTRY_SEND_DEFAULT_PII`, off).
    pub sentry_send_default_pii: bool,
    /// Share of requests traced by Sentry (`SENTRY_TRACES_SAMPLE_RATE`, 0: errors only).
    pub sentry_traces_sample_rate: f32,
    pub worker_concurrency: usize,
    pub worker_shutdown_timeout: Duration,
    /// Base of the retry delay: `JOB_RETRY_BASE_SECONDS × 2ⁿ`.
    pub job_retry_base: Duration,
    /// How old a missed beat occurrence may be and still run at start.
    pub beat_catchup: Duration,
    /// Where the worker and the beat touch `ecole-<kind>.battement` after each heartbeat
    /// (`ECOLE_HEARTBEAT_DIR`, the system's temporary folder by default); `ecole health`
    /// reads its age.
    pub heartbeat_dir: PathBuf,
    pub media_root: PathBuf,
    /// Internal nginx location serving `MEDIA_ROOT` (`MEDIA_ACCEL_REDIRECT=/_media_protege/`):
    /// the API checks the caller's scope, then answers with `X-Accel-Redirect` instead of
    /// the bytes. Unset: the API sends the file itself.
    pub media_accel_redirect: Option<String>,
    pub backup_dir: PathBuf,
    pub backup: BackupSettings,
    /// At most one payment reminder per invoice in this many days (`RAPPEL_INTERVALLE_JOURS`).
    pub rappel_intervalle_jours: u32,
    /// Days attendance may be taken on, Monday first (`JOURS_DE_CLASSE`, French day names;
    /// Monday to Saturday by default, as Guinean schools work).
    pub jours_de_classe: [bool; 7],
    /// Immediate absence SMS alerts one teacher's roll calls may trigger per day
    /// (`ABSENCES_SMS_MAX_PAR_ENSEIGNANT`, 100): beyond it the absences wait for the 17:00
    /// round-up and the administrators are alerted.
    pub absences_sms_max_par_enseignant: u32,
    /// Library: open loans a borrower may hold at once (`BIBLIO_MAX_EMPRUNTS`, 3).
    pub biblio_max_emprunts: u32,
    /// Library: default loan length in days (`BIBLIO_DUREE_JOURS`, 14).
    pub biblio_duree_jours: u32,
    /// Library: penalty in GNF per day late (`BIBLIO_PENALITE_JOUR`, 0: none).
    pub biblio_penalite_jour: i64,
    /// Public address of the API (`https://ecole.exemple.gn`): makes notification links
    /// absolute in e-mails and SMS. Without it, relative links are left out of messages.
    pub public_base_url: Option<String>,
    /// Where `ecole check --deploy` reads the served TLS certificate (`TLS_CHECK_ADDR`,
    /// `hôte:port`, e.g. `nginx:443` inside Docker). Unset: the host and port of an https
    /// `PUBLIC_BASE_URL`.
    pub tls_check_addr: Option<String>,
    /// The site's name (`SERVER_NAME`, as nginx's `server_name`; its first name is sent as SNI
    /// by the certificate check).
    pub server_name: Option<String>,
    /// `smtp://`, `smtp://…?tls=required` (STARTTLS) or `smtps://`, with `user:password@`.
    /// Unset outside production: e-mails are written to the log instead.
    pub smtp_url: Option<SecretString>,
    pub smtp_timeout: Duration,
    pub default_from_email: String,
    pub sms: SmsSettings,
    /// Longest delay added to a failed login for an identifier failing from many addresses
    /// (`LOGIN_DELAY_MAX_SECONDS`); the right password is never delayed.
    pub login_delay_max: Duration,
    /// Password checks waiting for the hashing thread beyond which logins and password
    /// changes answer 429 at once (`PASSWORD_HASH_QUEUE_MAX`).
    pub password_hash_queue_max: usize,
}

/// Which SMS provider sends the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsProviderKind {
    /// Writes each SMS to the log (development).
    Console,
    /// Orange SMS API (OAuth2 client credentials).
    Orange,
}

/// SMS settings: the provider, its credentials, quiet hours and rate limit.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub provider: SmsProviderKind,
    pub orange_client_id: Option<String>,
    pub orange_client_secret: Option<SecretString>,
    /// Digits of the sender number, country code first (`224620000000`).
    pub orange_sender: Option<String>,
    pub orange_sender_name: Option<String>,
    /// Base URL of the Orange API (tests point it at a local fake server).
    pub orange_api_base: String,
    pub timeout: Duration,
    /// No SMS from `quiet_start` to `quiet_end` (minutes after midnight, Conakry time);
    /// `None`: SMS go out at any hour.
    pub quiet_hours: Option<(u32, u32)>,
    /// Messages per second sent to the provider, all workers together (0: no limit).
    pub rate_limit_per_second: u32,
}

/// Backups (`core.backup_database`, `ecole backup`, `ecole restore`).
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// Copies older than this are pruned, the 3 newest always kept (`BACKUP_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Longest a `pg_dump`/`pg_restore` may run before it is killed (`BACKUP_TIMEOUT_SECONDS`).
    pub timeout: Duration,
    /// `pg_dump` to run (`PG_DUMP`; its version must not be older than the server's).
    pub pg_dump: PathBuf,
    /// `pg_restore` to run (`PG_RESTORE`).
    pub pg_restore: PathBuf,
    /// Copy to S3-compatible storage when `S3_BUCKET` is set.
    pub s3: Option<S3Settings>,
    /// `BACKUP_OFFSITE=externe`: the copies leave the server by other means (rsync of the
    /// volume, an external disk…), so a production without `S3_BUCKET` is not an error.
    pub offsite_externe: bool,
}

/// An S3-compatible bucket (AWS, MinIO, Wasabi, OVH, Scaleway…).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `https://s3.exemple.com` (none: AWS itself).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Key prefix of the copies (`S3_PREFIX`, e.g. `ecole/`; empty by default).
    pub prefix: String,
}

type Vars = HashMap<String, String>;

fn get<'a>(vars: &'a Vars, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn parse<T: std::str::FromStr>(
    vars: &Vars,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(vars, name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: format!("« {raw} » : {e}"),
        }),
    }
}

/// French day names, Monday first (`JOURS_DE_CLASSE`).
pub const JOURS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

/// `JOURS_DE_CLASSE`: `lundi,mardi,…` (Monday to Saturday when unset).
fn parse_jours(vars: &Vars) -> Result<[bool; 7], ConfigError> {
    let Some(raw) = get(vars, "JOURS_DE_CLASSE") else {
        return Ok([true, true, true, true, true, true, false]);
    };
    let mut days = [false; 7];
    for item in raw.split(',').map(|d| d.trim().to_lowercase()) {
        match JOURS.iter().position(|j| *j == item) {
            Some(i) => days[i] = true,
            None => {
                return Err(ConfigError::Invalid {
                    name: "JOURS_DE_CLASSE",
                    reason: format!(
                        "« {item} » : jours séparés par des virgules attendus, parmi {}",
                        JOURS.join(", ")
                    ),
                });
            }
        }
    }
    Ok(days)
}

/// `DATABASE_APP_USER` and `DATABASE_APP_PASSWORD`.
fn parse_app_role(vars: &Vars) -> Result<(Option<String>, Option<SecretString>), ConfigError> {
    let user = get(vars, "DATABASE_APP_USER").map(String::from);
    let password = vars
        .get("DATABASE_APP_PASSWORD")
        .filter(|p| !p.is_empty())
        .map(|p| SecretString::from(p.clone()));
    if let Some(user) = &user {
        let reason = if user.len() > 63 {
            Some("63 octets au plus (limite de PostgreSQL)")
        } else if user.chars().any(char::is_control) {
            Some("caractère de contrôle interdit")
        } else if user.to_ascii_lowercase().starts_with("pg_") {
            Some("le préfixe pg_ est réservé par PostgreSQL")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ConfigError::Invalid {
                name: "DATABASE_APP_USER",
                reason: format!("« {user} » : {reason}"),
            });
        }
    }
    if let Some(p) = &password {
        if user.is_none() {
            return Err(ConfigError::Invalid {
                name: "DATABASE_APP_USER",
                reason: "obligatoire quand DATABASE_APP_PASSWORD est définie".into(),
            });
        }
        if p.expose_secret().contains('\0') {
            return Err(ConfigError::Invalid {
                name: "DATABASE_APP_PASSWORD",
                reason: "caractère nul interdit".into(),
            });
        }
    }
    Ok((user, password))
}

/// `TLS_CHECK_ADDR`: `host:port` (`[::1]:443` for an IPv6 address).
fn parse_host_port(vars: &Vars, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(raw) = get(vars, name) else {
        return Ok(None);
    };
    let invalid = || ConfigError::Invalid {
        name,
        reason: format!("« {raw} » : hôte:port attendu (ex. nginx:443)"),
    };
    let (host, port) = raw.rsplit_once(':').ok_or_else(invalid)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host.is_empty() || port == 0 || host.contains(['/', ' ']) {
        return Err(invalid());
    }
    Ok(Some(raw.to_string()))
}

/// `SERVER_NAME`: one or more host names separated by spaces (nginx's `server_name`).
fn parse_server_name(vars: &Vars) -> Result<Option<String>, ConfigError> {
    let Some(raw) = get(vars, "SERVER_NAME") else {
        return Ok(None);
    };
    let valid = raw.split_whitespace().all(|n| {
        n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'))
    });
    if !valid {
        return Err(ConfigError::Invalid {
            name: "SERVER_NAME",
            reason: format!(
                "« {raw} » : un nom d'hôte sans schéma ni chemin est attendu (ex. ecole.exemple.gn)"
            ),
        });
    }
    Ok(Some(raw.to_string()))
}

/// `TRUSTED_PROXIES`: CIDRs or addresses separated by commas or spaces (`172.31.250.0/24,
/// 10.0.0.7`). The former `TRUST_PROXY_HEADERS=true` trusted any first hop: it is refused,
/// with the way out; `false` meant what an empty list means.
fn parse_trusted_proxies(vars: &Vars) -> Result<Vec<IpNet>, ConfigError> {
    if parse_bool(vars, "TRUST_PROXY_HEADERS", false).unwrap_or(true) {
        return Err(ConfigError::Invalid {
            name: "TRUST_PROXY_HEADERS",
            reason: "cette variable n'existe plus (elle croyait X-Forwarded-For de n'importe qui) : \
                     retirez-la et listez dans TRUSTED_PROXIES les adresses ou réseaux de vos proxys \
                     (ex. TRUSTED_PROXIES=172.31.250.0/24, le réseau du nginx du compose)"
                .into(),
        });
    }
    let Some(raw) = get(vars, "TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    let mut nets = Vec::new();
    for item in raw
        .split([',', ' '])
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                reason: format!(
                    "« {item} » : une adresse IP ou un réseau CIDR est attendu (ex. 172.31.250.0/24)"
                ),
            })?;
        if net.prefix_len() == 0 {
            return Err(ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                reason: format!(
                    "« {item} » ferait croire l'en-tête X-Forwarded-For de tout Internet : listez vos seuls proxys"
                ),
            });
        }
        nets.push(net.trunc());
        if nets.len() > 64 {
            return Err(ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                reason: "64 réseaux au plus".into(),
            });
        }
    }
    Ok(nets)
}

/// `BIBLIO_PENALITE_JOUR`: GNF per day late, from 0 to 1,000,000.
fn parse_penalite(vars: &Vars) -> Result<i64, ConfigError> {
    let value: i64 = parse(vars, "BIBLIO_PENALITE_JOUR", 0)?;
    if !(0..=1_000_000).contains(&value) {
        return Err(ConfigError::Invalid {
            name: "BIBLIO_PENALITE_JOUR",
            reason: format!("« {value} » : un montant en GNF entre 0 et 1 000 000 attendu"),
        });
    }
    Ok(value)
}

/// `HH:MM` → minutes after midnight.
fn parse_clock(vars: &Vars, name: &'static str, default: &str) -> Result<Option<u32>, ConfigError> {
    let raw = get(vars, name).unwrap_or(default);
    if matches!(raw.to_ascii_lowercase().as_str(), "off" | "non" | "aucune") {
        return Ok(None);
    }
    let invalid = || ConfigError::Invalid {
        name,
        reason: format!("« {raw} » n'est pas une heure (HH:MM, ex. 20:00)"),
    };
    let (h, m) = raw.split_once(':').ok_or_else(invalid)?;
    let h: u32 = h.trim().parse().map_err(|_| invalid())?;
    let m: u32 = m.trim().parse().map_err(|_| invalid())?;
    if h > 23 || m > 59 {
        return Err(invalid());
    }
    Ok(Some(h * 60 + m))
}

fn parse_sms(vars: &Vars) -> Result<SmsSettings, ConfigError> {
    let provider = match get(vars, "SMS_PROVIDER")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("console") => SmsProviderKind::Console,
        Some("orange") => SmsProviderKind::Orange,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "SMS_PROVIDER",
                reason: format!("« {other} » (attendu : console ou orange)"),
            });
        }
    };
    let orange_sender = get(vars, "ORANGE_SENDER")
        .map(|s| s.trim_start_matches('+').to_string())
        .map(|s| {
            if !s.is_empty() && s.len() <= 15 && s.chars().all(|c| c.is_ascii_digit()) {
                Ok(s)
            } else {
                Err(ConfigError::Invalid {
                    name: "ORANGE_SENDER",
                    reason: format!(
                        "« {s} » : les chiffres du numéro expéditeur sont attendus, indicatif compris (ex. 224620000000)"
                    ),
                })
            }
        })
        .transpose()?;
    let orange_client_id = get(vars, "ORANGE_CLIENT_ID").map(String::from);
    let orange_client_secret =
        get(vars, "ORANGE_CLIENT_SECRET").map(|s| SecretString::from(s.to_string()));
    if provider == SmsProviderKind::Orange {
        for (name, present) in [
            ("ORANGE_CLIENT_ID", orange_client_id.is_some()),
            ("ORANGE_CLIENT_SECRET", orange_client_secret.is_some()),
            ("ORANGE_SENDER", orange_sender.is_some()),
        ] {
            if !present {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "obligatoire avec SMS_PROVIDER=orange".into(),
                });
            }
        }
    }
    let orange_api_base = get(vars, "ORANGE_API_BASE")
        .unwrap_or("https://api.orange.com")
        .trim_end_matches('/')
        .to_string();
    let parsed = url::Url::parse(&orange_api_base).map_err(|e| ConfigError::Invalid {
        name: "ORANGE_API_BASE",
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid {
            name: "ORANGE_API_BASE",
            reason: format!("« {orange_api_base} » doit commencer par http:// ou https://"),
        });
    }
    let sender_name = get(vars, "ORANGE_SENDER_NAME").map(String::from);
    if let Some(name) = &sender_name
        && (name.chars().count() > 11
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
    {
        return Err(ConfigError::Invalid {
            name: "ORANGE_SENDER_NAME",
            reason: format!("« {name} » : 11 lettres ou chiffres au plus, sans accent"),
        });
    }
    let quiet_start = parse_clock(vars, "SMS_SILENCE_DEBUT", "20:00")?;
    let quiet_end = parse_clock(vars, "SMS_SILENCE_FIN", "07:00")?;
    let quiet_hours = match (quiet_start, quiet_end) {
        (Some(a), Some(b)) if a != b => Some((a, b)),
        _ => None,
    };
    Ok(SmsSettings {
        provider,
        orange_client_id,
        orange_client_secret,
        orange_sender,
        orange_sender_name: sender_name,
        orange_api_base,
        timeout: Duration::from_secs(parse(vars, "SMS_TIMEOUT_SECONDS", 15)?),
        quiet_hours,
        rate_limit_per_second: parse(vars, "SMS_MAX_PAR_SECONDE", 20)?,
    })
}

fn parse_backup(vars: &Vars) -> Result<BackupSettings, ConfigError> {
    let s3 = match get(vars, "S3_BUCKET") {
        None => {
            for name in ["S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] {
                if get(vars, name).is_some() {
                    return Err(ConfigError::Invalid {
                        name: "S3_BUCKET",
                        reason: format!("obligatoire quand {name} est définie"),
                    });
                }
            }
            None
        }
        Some(bucket) => {
            let endpoint = get(vars, "S3_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .map(|e| match url::Url::parse(&e) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                        Ok(e)
                    }
                    _ => Err(ConfigError::Invalid {
                        name: "S3_ENDPOINT",
                        reason: format!("« {e} » : adresse http(s) attendue"),
                    }),
                })
                .transpose()?;
            let required = |name: &'static str| {
                get(vars, name)
                    .map(String::from)
                    .ok_or(ConfigError::Invalid {
                        name,
                        reason: "obligatoire avec S3_BUCKET".into(),
                    })
            };
            let mut prefix = get(vars, "S3_PREFIX")
                .unwrap_or("")
                .trim_matches('/')
                .to_string();
            if !prefix.is_empty() {
                prefix.push('/');
            }
            Some(S3Settings {
                endpoint,
                bucket: bucket.to_string(),
                region: get(vars, "S3_REGION").unwrap_or("us-east-1").to_string(),
                access_key_id: required("S3_ACCESS_KEY_ID")?,
                secret_access_key: SecretString::from(required("S3_SECRET_ACCESS_KEY")?),
                prefix,
            })
        }
    };
    let timeout: u64 = parse(vars, "BACKUP_TIMEOUT_SECONDS", 20 * 60)?;
    let offsite_externe = match get(vars, "BACKUP_OFFSITE")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => false,
        Some("externe") => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "BACKUP_OFFSITE",
                reason: format!(
                    "« {other} » (attendu : vide, ou externe quand un autre moyen copie les sauvegardes hors du serveur)"
                ),
            });
        }
    };
    Ok(BackupSettings {
        retention_days: parse(vars, "BACKUP_RETENTION_DAYS", 14)?,
        timeout: Duration::from_secs(timeout.max(1)),
        pg_dump: PathBuf::from(get(vars, "PG_DUMP").unwrap_or("pg_dump")),
        pg_restore: PathBuf::from(get(vars, "PG_RESTORE").unwrap_or("pg_restore")),
        s3,
        offsite_externe,
    })
}

fn parse_bool(vars: &Vars, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match get(vars, name).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "oui" | "on") => Ok(true),
        Some("0" | "false" | "no" | "non" | "off") => Ok(false),
        Some(other) => Err(ConfigError::Invalid {
            name,
            reason: format!("« {other} » n'est pas un booléen (true/false)"),
        }),
    }
}

/// A duration: seconds (`90`), or with a unit (`30s`, `15m`, `1h`).
fn parse_duration(
    vars: &Vars,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = get(vars, name) else {
        return Ok(default);
    };
    let (number, unit) = match raw.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&raw[..i], &raw[i..]),
        None => (raw, "s"),
    };
    let factor = match unit.trim() {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("unité « {other} » inconnue (s, m ou h)"),
            });
        }
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| Duration::from_secs_f64(n * factor))
        .ok_or_else(|| ConfigError::Invalid {
            name,
            reason: format!("« {raw} » n'est pas une durée (ex. 3600, 30m, 1h)"),
        })
}

/// Checks a secret key is fit for production; returns the reason when it is not.
pub fn secret_key_weakness(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("la variable n'est pas définie".into());
    }
    if key == DEV_SECRET_KEY || key.to_ascii_lowercase().contains("change") {
        return Some("c'est la valeur de développement ou d'exemple".into());
    }
    if key.len() < 32 {
        return Some(format!(
            "{} caractères, il en faut au moins 32 (générez-la avec `openssl rand -base64 48`)",
            key.len()
        ));
    }
    let distinct = key.chars().collect::<std::collections::HashSet<_>>().len();
    if distinct < 10 {
        return Some("trop peu de caractères différents".into());
    }
    None
}

impl Settings {
    /// Reads the process environment, after loading `.env` when it exists.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is reported by the parse below.
        let _ = dotenvy::dotenv();
        Self::from_vars(std::env::vars().collect())
    }

    /// Builds settings from an explicit map (used by tests and `from_env`).
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Self::build(vars, true)
    }

    /// Like [`Settings::from_env`], but a weak `SECRET_KEY` in production is kept instead of
    /// refused: `ecole check --deploy` reports it among the other findings.
    pub fn from_env_for_audit() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::build(std::env::vars().collect(), false)
    }

    /// [`Settings::from_env_for_audit`] from an explicit map (tests).
    pub fn from_vars_for_audit(vars: Vars) -> Result<Self, ConfigError> {
        Self::build(vars, false)
    }

    fn build(vars: Vars, strict: bool) -> Result<Self, ConfigError> {
        let app_env = match get(&vars, "APP_ENV")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("development" | "dev") => AppEnv::Development,
            Some("test") => AppEnv::Test,
            Some("production" | "prod") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_ENV",
                    reason: format!("« {other} » (attendu : development, test ou production)"),
                });
            }
        };
        let secret = get(&vars, "SECRET_KEY").unwrap_or("").to_string();
        let secret_key = if app_env.is_production() {
            if let Some(reason) = secret_key_weakness(&secret)
                && strict
            {
                return Err(ConfigError::WeakSecret(reason));
            }
            secret
        } else if secret.is_empty() {
            DEV_SECRET_KEY.to_string()
        } else {
            secret
        };
        let database_url = get(&vars, "DATABASE_URL")
            .unwrap_or("postgres://postgres@127.0.0.1:5432/ecole")
            .to_string();
        url::Url::parse(&database_url).map_err(|e| ConfigError::Invalid {
            name: "DATABASE_URL",
            reason: e.to_string(),
        })?;
        let redis_url = get(&vars, "REDIS_URL")
            .unwrap_or("redis://127.0.0.1:6379/0")
            .to_string();
        url::Url::parse(&redis_url).map_err(|e| ConfigError::Invalid {
            name: "REDIS_URL",
            reason: e.to_string(),
        })?;
        let cors_allowed_origins: Vec<String> = get(&vars, "CORS_ALLOWED_ORIGINS")
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for origin in &cors_allowed_origins {
            if origin == "*" || origin == "null" {
                return Err(ConfigError::Invalid {
                    name: "CORS_ALLOWED_ORIGINS",
                    reason: format!(
                        "« {origin} » n'est pas autorisé : listez les origines exactes"
                    ),
                });
            }
            let parsed = url::Url::parse(origin).map_err(|e| ConfigError::Invalid {
                name: "CORS_ALLOWED_ORIGINS",
                reason: format!("« {origin} » : {e}"),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid {
                    name: "CORS_ALLOWED_ORIGINS",
                    reason: format!("« {origin} » doit commencer par http:// ou https://"),
                });
            }
        }
        let pool_size: usize = parse(&vars, "DATABASE_POOL_SIZE", 16)?;
        let (database_app_user, database_app_password) = parse_app_role(&vars)?;
        let public_base_url = get(&vars, "PUBLIC_BASE_URL")
            .map(|u| u.trim_end_matches('/').to_string())
            .map(|u| match url::Url::parse(&u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => Ok(u),
                _ => Err(ConfigError::Invalid {
                    name: "PUBLIC_BASE_URL",
                    reason: format!("« {u} » : adresse http(s) attendue"),
                }),
            })
            .transpose()?;
        let smtp_url = get(&vars, "SMTP_URL")
            .map(|raw| {
                let parsed = url::Url::parse(raw).map_err(|e| ConfigError::Invalid {
                    name: "SMTP_URL",
                    reason: e.to_string(),
                })?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host_str().is_none() {
                    return Err(ConfigError::Invalid {
                        name: "SMTP_URL",
                        reason: "smtp://hôte:port, smtp://hôte:587?tls=required ou smtps://hôte:465 attendu".into(),
                    });
                }
                Ok(SecretString::from(raw.to_string()))
            })
            .transpose()?;
        let http_workers: usize = parse(
            &vars,
            "HTTP_WORKERS",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )?;
        Ok(Settings {
            app_env,
            database_url,
            database_pool_size: pool_size.max(1),
            database_timeout: Duration::from_secs(parse(&vars, "DATABASE_TIMEOUT_SECONDS", 5)?),
            database_app_user,
            database_app_password,
            redis_url,
            redis_prefix: get(&vars, "REDIS_PREFIX").unwrap_or("ecole").to_string(),
            secret_key: SecretString::from(secret_key),
            jwt_issuer: "ecole".into(),
            jwt_audience: "ecole-api".into(),
            jwt_leeway: Duration::from_secs(parse(&vars, "JWT_LEEWAY_SECONDS", 5)?),
            access_token_ttl: Duration::from_secs(parse(
                &vars,
                "ACCESS_TOKEN_TTL_SECONDS",
                15 * 60,
            )?),
            refresh_token_ttl: Duration::from_secs(
                parse::<u64>(&vars, "REFRESH_TOKEN_TTL_DAYS", 7)? * 86_400,
            ),
            cors_allowed_origins,
            http_bind: parse(&vars, "HTTP_BIND", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            http_workers: http_workers.max(1),
            trusted_proxies: parse_trusted_proxies(&vars)?,
            login_max_failures_user: parse(&vars, "LOGIN_MAX_FAILURES_USER", 5)?,
            login_max_failures_ip: parse(&vars, "LOGIN_MAX_FAILURES_IP", 20)?,
            login_window: Duration::from_secs(
                parse::<u64>(&vars, "LOGIN_WINDOW_MINUTES", 15)? * 60,
            ),
            log_dir: get(&vars, "LOG_DIR").map(PathBuf::from),
            log_format_json: parse_bool(&vars, "LOG_JSON", app_env.is_production())?,
            log_max_bytes: parse::<u64>(&vars, "LOG_MAX_BYTES", 15 * 1024 * 1024)?.max(1024),
            log_max_files: parse::<usize>(&vars, "LOG_MAX_FILES", 10)?.max(1),
            otel_exporter_otlp_endpoint: get(&vars, "OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .map(|e| match url::Url::parse(&e) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(e),
                    _ => Err(ConfigError::Invalid {
                        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
                        reason: format!("« {e} » : adresse http(s) attendue (ex. http://collecteur:4318)"),
                    }),
                })
                .transpose()?,
            sentry_dsn: get(&vars, "SENTRY_DSN").map(|s| SecretString::from(s.to_string())),
            sentry_send_default_pii: parse_bool(&vars, "SENTRY_SEND_DEFAULT_PII", false)?,
            sentry_traces_sample_rate: parse::<f32>(&vars, "SENTRY_TRACES_SAMPLE_RATE", 0.0)?
                .clamp(0.0, 1.0),
            worker_concurrency: parse::<usize>(&vars, "WORKER_CONCURRENCY", 4)?.max(1),
            worker_shutdown_timeout: Duration::from_secs(parse(
                &vars,
                "WORKER_SHUTDOWN_TIMEOUT_SECONDS",
                120,
            )?),
            job_retry_base: Duration::from_secs_f64(parse(&vars, "JOB_RETRY_BASE_SECONDS", 60.0)?),
            beat_catchup: parse_duration(&vars, "BEAT_CATCHUP", Duration::from_secs(3600))?,
            heartbeat_dir: get(&vars, "ECOLE_HEARTBEAT_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
            media_root: PathBuf::from(get(&vars, "MEDIA_ROOT").unwrap_or("var/media")),
            media_accel_redirect: get(&vars, "MEDIA_ACCEL_REDIRECT")
                .map(|p| format!("/{}/", p.trim_matches('/')))
                .map(|p| {
                    if p.len() > 2 && p.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c)) {
                        Ok(p)
                    } else {
                        Err(ConfigError::Invalid {
                            name: "MEDIA_ACCEL_REDIRECT",
                            reason: format!("« {p} » : un chemin interne de nginx est attendu (ex. /_media_protege/)"),
                        })
                    }
                })
                .transpose()?,
            backup_dir: PathBuf::from(get(&vars, "BACKUP_DIR").unwrap_or("var/backups")),
            backup: parse_backup(&vars)?,
            rappel_intervalle_jours: parse::<u32>(&vars, "RAPPEL_INTERVALLE_JOURS", 7)?.max(1),
            jours_de_classe: parse_jours(&vars)?,
            absences_sms_max_par_enseignant: parse::<u32>(
                &vars,
                "ABSENCES_SMS_MAX_PAR_ENSEIGNANT",
                100,
            )?
            .clamp(1, 100_000),
            biblio_max_emprunts: parse::<u32>(&vars, "BIBLIO_MAX_EMPRUNTS", 3)?.clamp(1, 100),
            biblio_duree_jours: parse::<u32>(&vars, "BIBLIO_DUREE_JOURS", 14)?.clamp(1, 365),
            biblio_penalite_jour: parse_penalite(&vars)?,
            public_base_url,
            tls_check_addr: parse_host_port(&vars, "TLS_CHECK_ADDR")?,
            server_name: parse_server_name(&vars)?,
            smtp_url,
            smtp_timeout: Duration::from_secs(parse(&vars, "SMTP_TIMEOUT_SECONDS", 30)?),
            default_from_email: get(&vars, "DEFAULT_FROM_EMAIL")
                .unwrap_or("École <ne-pas-repondre@ecole.local>")
                .to_string(),
            sms: parse_sms(&vars)?,
            login_delay_max: Duration::from_secs(
                parse::<u64>(&vars, "LOGIN_DELAY_MAX_SECONDS", 5)?.min(60),
            ),
            password_hash_queue_max: parse::<usize>(&vars, "PASSWORD_HASH_QUEUE_MAX", 16)?
                .clamp(1, 10_000),
        })
    }

    /// Settings for tests: development defaults pointed at the given services.
    pub fn for_tests(database_url: &str, redis_url: &str, redis_prefix: &str) -> Self {
        let mut vars = Vars::new();
        vars.insert("APP_ENV".into(), "test".into());
        vars.insert("DATABASE_URL".into(), database_url.into());
        vars.insert("REDIS_URL".into(), redis_url.into());
        vars.insert("REDIS_PREFIX".into(), redis_prefix.into());
        vars.insert("DATABASE_POOL_SIZE".into(), "4".into());
        vars.insert(
            "SECRET_KEY".into(),
            "test-secret-key-0123456789-abcdefghijklmnop".into(),
        );
        vars.insert(
            "CORS_ALLOWED_ORIGINS".into(),
            "https://app.ecole.test".into(),
        );
        vars.insert("DATABASE_TIMEOUT_SECONDS".into(), "3".into());
        // Tests do not depend on the hour: SMS quiet hours only where a test sets them.
        // Nor on the weekday: attendance any day, unless a test says otherwise.
        vars.insert("JOURS_DE_CLASSE".into(), JOURS.join(","));
        vars.insert("SMS_SILENCE_DEBUT".into(), "off".into());
        vars.insert("SMS_MAX_PAR_SECONDE".into(), "0".into());
        // Files of one test stay in its own folder.
        let root = std::env::temp_dir().join("ecole-tests").join(redis_prefix);
        vars.insert(
            "MEDIA_ROOT".into(),
            root.join("media").to_string_lossy().into_owned(),
        );
        vars.insert(
            "BACKUP_DIR".into(),
            root.join("backups").to_string_lossy().into_owned(),
        );
        match Self::from_vars(vars) {
            Ok(settings) => settings,
            // The map above is constant and valid; a failure here is a bug in this function.
            Err(e) => panic!("réglages de test invalides : {e}"),
        }
    }

    /// What the serving processes (API, worker, beat) refuse at start in production, beyond
    /// [`Settings::from_env`]'s checks: the console SMS provider, which writes every message
    /// and number to the log instead of sending it. Other commands (`migrate`, `backup`,
    /// `check --deploy`) still run, so the operator can fix and verify.
    pub fn ensure_fit_to_serve(&self) -> Result<(), ConfigError> {
        if self.app_env.is_production() && self.sms.provider == SmsProviderKind::Console {
            return Err(ConfigError::Invalid {
                name: "SMS_PROVIDER",
                reason:
                    "« console » est refusé en production : les SMS ne partiraient pas et leur \
                         texte comme les numéros des familles seraient écrits dans le journal ; \
                         configurez SMS_PROVIDER=orange (ORANGE_CLIENT_ID, ORANGE_CLIENT_SECRET, \
                         ORANGE_SENDER)"
                        .into(),
            });
        }
        Ok(())
    }

    pub fn secret_bytes(&self) -> &[u8] {
        self.secret_key.expose_secret().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_without_any_variable() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.database_url, "postgres://postgres@127.0.0.1:5432/ecole");
        assert_eq!(s.redis_url, "redis://127.0.0.1:6379/0");
        assert_eq!(s.http_bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
        assert!(s.cors_allowed_origins.is_empty());
        assert_eq!(s.heartbeat_dir, std::env::temp_dir());
        let s = Settings::from_vars(vars(&[("ECOLE_HEARTBEAT_DIR", "/run/ecole")])).unwrap();
        assert_eq!(s.heartbeat_dir, PathBuf::from("/run/ecole"));
    }

    #[test]
    fn school_days_default_to_monday_to_saturday_and_refuse_unknown_names() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert_eq!(
            s.jours_de_classe,
            [true, true, true, true, true, true, false]
        );
        assert_eq!(s.absences_sms_max_par_enseignant, 100);
        let s = Settings::from_vars(vars(&[("JOURS_DE_CLASSE", "Lundi, mardi,vendredi")])).unwrap();
        assert_eq!(
            s.jours_de_classe,
            [true, true, false, false, true, false, false]
        );
        let err = Settings::from_vars(vars(&[("JOURS_DE_CLASSE", "lundi,sunday")])).unwrap_err();
        assert!(err.to_string().contains("JOURS_DE_CLASSE"), "{err}");
    }

    #[test]
    fn production_refuses_missing_or_weak_secret() {
        for secret in [
            "",
            "court",
            DEV_SECRET_KEY,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let err =
                Settings::from_vars(vars(&[("APP_ENV", "production"), ("SECRET_KEY", secret)]))
                    .unwrap_err();
            assert!(matches!(err, ConfigError::WeakSecret(_)), "{secret}: {err}");
            assert!(err.to_string().contains("SECRET_KEY"));
        }
        let ok = Settings::from_vars(vars(&[
            ("APP_ENV", "production"),
            ("SECRET_KEY", "Zx8#kP2m!Qv7@Lr4$Tn9^Wb3&Hy6*Jd1(Fs5)Gc0"),
        ]))
        .unwrap();
        assert!(ok.log_format_json);
    }

    #[test]
    fn cors_wildcard_and_null_are_refused() {
        for bad in ["*", "null", "ftp://x.org"] {
            assert!(
                Settings::from_vars(vars(&[("CORS_ALLOWED_ORIGINS", bad)])).is_err(),
                "{bad}"
            );
        }
        let s = Settings::from_vars(vars(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://a.gn/, http://localhost:3000",
        )]))
        .unwrap();
        assert_eq!(
            s.cors_allowed_origins,
            vec!["https://a.gn", "http://localhost:3000"]
        );
    }

    #[test]
    fn durations_with_units() {
        let s = Settings::from_vars(vars(&[("BEAT_CATCHUP", "30m")])).unwrap();
        assert_eq!(s.beat_catchup, Duration::from_secs(1800));
        let s = Settings::from_vars(vars(&[("BEAT_CATCHUP", "0")])).unwrap();
        assert_eq!(s.beat_catchup, Duration::ZERO);
        assert!(Settings::from_vars(vars(&[("BEAT_CATCHUP", "1 jour")])).is_err());
        let s = Settings::from_vars(vars(&[("JOB_RETRY_BASE_SECONDS", "0.5")])).unwrap();
        assert_eq!(s.job_retry_base, Duration::from_millis(500));
    }

    #[test]
    fn sms_and_smtp_settings() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert_eq!(s.sms.provider, SmsProviderKind::Console);
        assert_eq!(s.sms.quiet_hours, Some((20 * 60, 7 * 60)));
        assert_eq!(s.sms.orange_api_base, "https://api.orange.com");
        assert!(s.smtp_url.is_none());
        let err = Settings::from_vars(vars(&[("SMS_PROVIDER", "orange")])).unwrap_err();
        assert!(err.to_string().contains("ORANGE_CLIENT_ID"), "{err}");
        let s = Settings::from_vars(vars(&[
            ("SMS_PROVIDER", "orange"),
            ("ORANGE_CLIENT_ID", "id"),
            ("ORANGE_CLIENT_SECRET", "orange-cle-privee"),
            ("ORANGE_SENDER", "+224620000000"),
            ("ORANGE_API_BASE", "http://127.0.0.1:9/"),
            ("SMS_SILENCE_DEBUT", "21:30"),
            ("SMS_SILENCE_FIN", "06:15"),
            ("SMTP_URL", "smtps://u:mdp-smtp-prive@mail.exemple.gn"),
        ]))
        .unwrap();
        assert_eq!(s.sms.orange_sender.as_deref(), Some("224620000000"));
        assert_eq!(s.sms.orange_api_base, "http://127.0.0.1:9");
        assert_eq!(s.sms.quiet_hours, Some((21 * 60 + 30, 6 * 60 + 15)));
        let shown = format!("{s:?}");
        assert!(!shown.contains("orange-cle-privee") && !shown.contains("mdp-smtp-prive"));
        let s = Settings::from_vars(vars(&[("SMS_SILENCE_DEBUT", "off")])).unwrap();
        assert_eq!(s.sms.quiet_hours, None);
        for (name, value) in [
            ("SMS_SILENCE_FIN", "25:00"),
            ("SMTP_URL", "http://mail.exemple.gn"),
            ("ORANGE_SENDER_NAME", "École très longue"),
            ("SMS_PROVIDER", "mtn"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn backup_and_s3_settings() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert_eq!(s.backup.retention_days, 14);
        assert_eq!(s.backup.pg_dump, PathBuf::from("pg_dump"));
        assert!(s.backup.s3.is_none());
        assert_eq!(s.log_max_bytes, 15 * 1024 * 1024);
        assert_eq!(s.log_max_files, 10);
        assert!(!s.sentry_send_default_pii);
        let s = Settings::from_vars(vars(&[
            ("S3_BUCKET", "sauvegardes"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000/"),
            ("S3_ACCESS_KEY_ID", "cle"),
            ("S3_SECRET_ACCESS_KEY", "secret-s3-prive"),
            ("S3_PREFIX", "/ecole/"),
            ("BACKUP_RETENTION_DAYS", "30"),
            ("MEDIA_ACCEL_REDIRECT", "_media_protege"),
        ]))
        .unwrap();
        let s3 = s.backup.s3.as_ref().unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(s3.prefix, "ecole/");
        assert_eq!(s.backup.retention_days, 30);
        assert_eq!(s.media_accel_redirect.as_deref(), Some("/_media_protege/"));
        assert!(!format!("{s:?}").contains("secret-s3-prive"));
        for (pairs, name) in [
            (vec![("S3_BUCKET", "b")], "S3_ACCESS_KEY_ID"),
            (vec![("S3_ENDPOINT", "http://x")], "S3_BUCKET"),
            (
                vec![
                    ("S3_BUCKET", "b"),
                    ("S3_ENDPOINT", "ftp://x"),
                    ("S3_ACCESS_KEY_ID", "a"),
                    ("S3_SECRET_ACCESS_KEY", "b"),
                ],
                "S3_ENDPOINT",
            ),
            (
                vec![("MEDIA_ACCEL_REDIRECT", "/a b/")],
                "MEDIA_ACCEL_REDIRECT",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collecteur:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
        ] {
            let err = Settings::from_vars(vars(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn application_role() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert!(s.database_app_user.is_none() && s.database_app_password.is_none());
        let s = Settings::from_vars(vars(&[
            ("DATABASE_APP_USER", "ecole_app"),
            ("DATABASE_APP_PASSWORD", "mdp-role-prive' -- x"),
        ]))
        .unwrap();
        assert_eq!(s.database_app_user.as_deref(), Some("ecole_app"));
        assert_eq!(
            s.database_app_password.as_ref().unwrap().expose_secret(),
            "mdp-role-prive' -- x"
        );
        assert!(!format!("{s:?}").contains("mdp-role-prive"));
        let long = "r".repeat(64);
        for (pairs, name) in [
            (
                vec![("DATABASE_APP_PASSWORD", "secret")],
                "DATABASE_APP_USER",
            ),
            (
                vec![("DATABASE_APP_USER", long.as_str())],
                "DATABASE_APP_USER",
            ),
            (vec![("DATABASE_APP_USER", "pg_ecole")], "DATABASE_APP_USER"),
            (vec![("DATABASE_APP_USER", "a\nb")], "DATABASE_APP_USER"),
        ] {
            let err = Settings::from_vars(vars(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn offsite_backups_and_tls_check() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert!(!s.backup.offsite_externe);
        assert!(s.tls_check_addr.is_none() && s.server_name.is_none());
        let s = Settings::from_vars(vars(&[
            ("BACKUP_OFFSITE", "Externe"),
            ("TLS_CHECK_ADDR", "nginx:443"),
            ("SERVER_NAME", "ecole.exemple.gn www.ecole.exemple.gn"),
        ]))
        .unwrap();
        assert!(s.backup.offsite_externe);
        assert_eq!(s.tls_check_addr.as_deref(), Some("nginx:443"));
        assert_eq!(
            s.server_name.as_deref(),
            Some("ecole.exemple.gn www.ecole.exemple.gn")
        );
        let s = Settings::from_vars(vars(&[
            ("BACKUP_OFFSITE", ""),
            ("TLS_CHECK_ADDR", "[::1]:8443"),
        ]))
        .unwrap();
        assert!(!s.backup.offsite_externe);
        assert_eq!(s.tls_check_addr.as_deref(), Some("[::1]:8443"));
        for (name, value) in [
            ("BACKUP_OFFSITE", "s3"),
            ("TLS_CHECK_ADDR", "nginx"),
            ("TLS_CHECK_ADDR", "nginx:https"),
            ("TLS_CHECK_ADDR", ":443"),
            ("SERVER_NAME", "https://ecole.exemple.gn"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn audit_keeps_a_weak_secret_for_the_report() {
        let weak = vars(&[("APP_ENV", "production"), ("SECRET_KEY", "court")]);
        assert!(Settings::from_vars(weak.clone()).is_err());
        let s = Settings::build(weak, false).unwrap();
        assert_eq!(s.secret_key.expose_secret(), "court");
    }

    #[test]
    fn trusted_proxies_are_cidrs_and_the_old_switch_is_refused() {
        let s = Settings::from_vars(Vars::new()).unwrap();
        assert!(s.trusted_proxies.is_empty());
        let s = Settings::from_vars(vars(&[(
            "TRUSTED_PROXIES",
            "172.31.250.7/24, 10.0.0.7 fd00::/8",
        )]))
        .unwrap();
        let shown: Vec<String> = s.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["172.31.250.0/24", "10.0.0.7/32", "fd00::/8"]);
        // `false` meant "no proxy": still accepted; `true` trusted anyone: refused.
        assert!(Settings::from_vars(vars(&[("TRUST_PROXY_HEADERS", "false")])).is_ok());
        for (name, value, named) in [
            ("TRUST_PROXY_HEADERS", "true", "TRUSTED_PROXIES"),
            ("TRUSTED_PROXIES", "nginx", "TRUSTED_PROXIES"),
            ("TRUSTED_PROXIES", "0.0.0.0/0", "TRUSTED_PROXIES"),
            ("TRUSTED_PROXIES", "10.0.0.0/33", "TRUSTED_PROXIES"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(named), "{name}={value}: {err}");
        }
        // `check --deploy` reports it too (its settings fail to load, in French).
        let err =
            Settings::from_vars_for_audit(vars(&[("TRUST_PROXY_HEADERS", "true")])).unwrap_err();
        assert!(err.to_string().contains("n'existe plus"), "{err}");
    }

    #[test]
    fn serving_processes_refuse_the_console_sms_provider_in_production() {
        let secret = ("SECRET_KEY", "Zx8#kP2m!Qv7@Lr4$Tn9^Wb3&Hy6*Jd1(Fs5)Gc0");
        let prod = Settings::from_vars(vars(&[("APP_ENV", "production"), secret])).unwrap();
        let err = prod.ensure_fit_to_serve().unwrap_err();
        assert!(err.to_string().contains("SMS_PROVIDER"), "{err}");
        let dev = Settings::from_vars(Vars::new()).unwrap();
        assert!(dev.ensure_fit_to_serve().is_ok());
        let orange = Settings::from_vars(vars(&[
            ("APP_ENV", "production"),
            secret,
            ("SMS_PROVIDER", "orange"),
            ("ORANGE_CLIENT_ID", "id"),
            ("ORANGE_CLIENT_SECRET", "s"),
            ("ORANGE_SENDER", "224620000000"),
        ]))
        .unwrap();
        assert!(orange.ensure_fit_to_serve().is_ok());
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let err = Settings::from_vars(vars(&[("HTTP_BIND", "pas-une-adresse")])).unwrap_err();
        assert!(err.to_string().contains("HTTP_BIND"));
        let err = Settings::from_vars(vars(&[("APP_ENV", "staging")])).unwrap_err();
        assert!(err.to_string().contains("APP_ENV"));
    }
}
