//! Running PostgreSQL's client programs: arguments (never a shell string), the password in
//! the environment (never on the command line, where `ps` shows it), the child in a process
//! group of its own that is killed whole on timeout, cancellation or drop.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use crate::{OpsError, OpsResult};

/// How to reach the database with libpq's programs.
#[derive(Clone)]
pub struct Connexion {
    /// The connection URI without its password (`--dbname=` accepts a URI).
    pub uri: String,
    /// Decoded password, given as `PGPASSWORD`.
    password: Option<String>,
    /// The database name, for messages.
    pub base: String,
}

impl std::fmt::Debug for Connexion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connexion")
            .field("uri", &self.uri)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Connexion {
    /// Splits `DATABASE_URL` into a password-free URI and the password.
    pub fn depuis_url(database_url: &str) -> OpsResult<Self> {
        let mut url = url::Url::parse(database_url)
            .map_err(|e| OpsError::Refus(format!("DATABASE_URL invalide : {e}")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(OpsError::Refus(
                "DATABASE_URL doit commencer par postgres://".into(),
            ));
        }
        let password = match url.password() {
            Some(p) => Some(
                percent_encoding::percent_decode_str(p)
                    .decode_utf8()
                    .map_err(|_| OpsError::Refus("mot de passe de DATABASE_URL illisible".into()))?
                    .into_owned(),
            ),
            None => None,
        };
        if url.set_password(None).is_err() {
            return Err(OpsError::Refus("DATABASE_URL sans hôte".into()));
        }
        let base = url.path().trim_start_matches('/').to_string();
        if base.is_empty() {
            return Err(OpsError::Refus(
                "DATABASE_URL ne nomme pas de base (…/ecole)".into(),
            ));
        }
        Ok(Connexion {
            uri: url.to_string(),
            password,
            base,
        })
    }

    /// Environment of the child: the password, and no waiting for a prompt.
    pub fn environnement(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("PGCONNECT_TIMEOUT", "10".to_string())];
        if let Some(p) = &self.password {
            env.push(("PGPASSWORD", p.clone()));
        }
        env
    }
}

/// What a program printed.
#[derive(Debug, Default)]
pub struct Sortie {
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// A process group to kill unless its leader was reaped.
struct Groupe(Option<i32>);

impl Groupe {
    fn tuer(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for Groupe {
    fn drop(&mut self) {
        self.tuer();
    }
}

/// Reads a pipe to its end, keeping at most `limite` bytes (the child never blocks on it).
async fn lire<R: AsyncRead + Unpin>(pipe: Option<R>, limite: usize) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limite.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    kept
}

fn nom(programme: &Path) -> String {
    programme
        .file_name()
        .unwrap_or(programme.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// The last lines of a program's error output, for a message.
pub fn fin_du_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(5);
    let text = lines[start..].join(" | ");
    if text.chars().count() > 1_000 {
        text.chars().take(1_000).collect::<String>() + "…"
    } else {
        text
    }
}

/// Runs `programme args…` with `env` added, at most `delai`; a non-zero exit is an error
/// carrying the end of its error output.
pub async fn executer(
    programme: &Path,
    args: &[OsString],
    env: &[(&str, String)],
    delai: Duration,
    annulation: &CancellationToken,
) -> OpsResult<Sortie> {
    let nom = nom(programme);
    let mut cmd = tokio::process::Command::new(programme);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| {
        OpsError::Outil(format!(
            "{nom} ne peut pas être lancé ({}) : {e} — installez postgresql-client ou réglez {}",
            programme.display(),
            if nom.contains("restore") {
                "PG_RESTORE"
            } else {
                "PG_DUMP"
            }
        ))
    })?;
    let mut groupe = Groupe(child.id().and_then(|p| i32::try_from(p).ok()));
    let stdout = tokio::spawn(lire(child.stdout.take(), 64 * 1024 * 1024));
    let stderr = tokio::spawn(lire(child.stderr.take(), 256 * 1024));
    let status = tokio::select! {
        status = child.wait() => status
            .map_err(|e| OpsError::Outil(format!("{nom} : attente du processus impossible : {e}")))?,
        _ = tokio::time::sleep(delai) => {
            groupe.tuer();
            let _ = child.wait().await;
            return Err(OpsError::Outil(format!(
                "{nom} : délai de {} s dépassé, processus arrêté (BACKUP_TIMEOUT_SECONDS)",
                delai.as_secs()
            )));
        }
        _ = annulation.cancelled() => {
            groupe.tuer();
            let _ = child.wait().await;
            return Err(OpsError::Interrompue);
        }
    };
    // The leader is reaped: its group id may be reused, never signal it again.
    groupe.0 = None;
    let sortie = Sortie {
        stdout: stdout.await.unwrap_or_default(),
        stderr: String::from_utf8_lossy(&stderr.await.unwrap_or_default()).into_owned(),
    };
    if !status.success() {
        let code = status
            .code()
            .map(|c| format!("code {c}"))
            .unwrap_or_else(|| "tué par un signal".into());
        let detail = fin_du_message(&sortie.stderr);
        return Err(OpsError::Outil(if detail.is_empty() {
            format!("{nom} a échoué ({code})")
        } else {
            format!("{nom} a échoué ({code}) : {detail}")
        }));
    }
    Ok(sortie)
}

/// `programme --version`, first line (`pg_dump (PostgreSQL) 15.10`).
pub async fn version(programme: &Path) -> OpsResult<String> {
    let sortie = executer(
        programme,
        &[OsString::from("--version")],
        &[],
        Duration::from_secs(10),
        &CancellationToken::new(),
    )
    .await?;
    Ok(String::from_utf8_lossy(&sortie.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

/// `--opt=value` as one argument.
pub(crate) fn opt(name: &str, value: impl AsRef<OsStr>) -> OsString {
    let mut s = OsString::from(name);
    s.push("=");
    s.push(value);
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_password_leaves_the_uri() {
        let c = Connexion::depuis_url(
            "postgres://ecole:p%40ss%3Aw0rd@db.local:5433/ecole_prod?sslmode=require",
        )
        .unwrap();
        assert_eq!(
            c.uri,
            "postgres://ecole@db.local:5433/ecole_prod?sslmode=require"
        );
        assert_eq!(c.base, "ecole_prod");
        assert!(
            c.environnement()
                .contains(&("PGPASSWORD", "p@ss:w0rd".to_string()))
        );
        assert!(!format!("{c:?}").contains("w0rd"));
        let c = Connexion::depuis_url("postgres://postgres@127.0.0.1/ecole").unwrap();
        assert!(c.environnement().iter().all(|(k, _)| *k != "PGPASSWORD"));
        assert!(Connexion::depuis_url("mysql://x@h/b").is_err());
        assert!(Connexion::depuis_url("postgres://x@h/").is_err());
    }

    #[tokio::test]
    async fn a_child_past_its_time_is_killed_with_its_group() {
        let dir = std::env::temp_dir().join(format!("ecole-outils-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("vivant");
        // A shell whose own child would outlive a kill of the shell alone.
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let started = std::time::Instant::now();
        let err = executer(
            Path::new("sh"),
            &[OsString::from("-c"), OsString::from(script)],
            &[],
            Duration::from_millis(500),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("délai"), "{err}");
        let pid = std::fs::read_to_string(&marker).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        // Gone, or a zombie waiting for its (init) parent.
        assert!(
            stat.as_deref().map(|s| s.contains(") Z")).unwrap_or(true),
            "le petit-enfant tourne encore : {stat:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn failures_carry_the_end_of_stderr() {
        let err = executer(
            Path::new("sh"),
            &[
                OsString::from("-c"),
                OsString::from("echo 'pg_dump: error: connection refused' >&2; exit 1"),
            ],
            &[],
            Duration::from_secs(5),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("code 1"), "{err}");
        assert!(err.to_string().contains("connection refused"), "{err}");
        let err = executer(
            Path::new("/nulle/part/pg_dump"),
            &[],
            &[],
            Duration::from_secs(5),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("PG_DUMP"), "{err}");
    }
}
