//! `ecole health api|worker|beat`: the health check of one container, from its environment
//! alone and cheap enough to run every 15 s. Exit status 0 when healthy, 1 otherwise with a
//! short reason on stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use clap::ValueEnum;
use ecole_config::Settings;
use ecole_jobs::worker::{HEARTBEAT_FILE_MAX_AGE, heartbeat_file, heartbeat_file_age};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// How long the API may take to answer `/health/ready`.
const DELAI_API: Duration = Duration::from_secs(3);

/// The process a health check is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Cible {
    /// L'API : GET /health/ready sur le port de HTTP_BIND doit répondre 200 en 3 s.
    Api,
    /// Le worker : son fichier de battement (ECOLE_HEARTBEAT_DIR) a moins de 30 s.
    Worker,
    /// Le planificateur : son fichier de battement (ECOLE_HEARTBEAT_DIR) a moins de 30 s.
    Beat,
}

/// `1 min 35 s`, `12 s`, `2 h 05 min`.
pub fn duree_lisible(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Where to reach the API from inside its container: the bound address, or loopback when it
/// listens on every interface.
pub fn adresse_locale(bind: SocketAddr) -> SocketAddr {
    let ip = if bind.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind.ip()
    };
    SocketAddr::new(ip, bind.port())
}

/// The status code of `GET /health/ready` (HTTP/1.1 by hand: no client to build).
async fn statut_pret(addr: SocketAddr) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "GET /health/ready HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ecole-health\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut line = String::new();
    BufReader::new(stream.take(1024))
        .read_line(&mut line)
        .await?;
    // `HTTP/1.1 200 OK`
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("réponse inattendue « {} »", line.trim()),
            )
        })
}

async fn api(bind: SocketAddr) -> Result<String, String> {
    let addr = adresse_locale(bind);
    match tokio::time::timeout(DELAI_API, statut_pret(addr)).await {
        Ok(Ok(200)) => Ok(format!("API prête ({addr})")),
        Ok(Ok(503)) => Err(format!(
            "API non prête ({addr}) : HTTP 503, PostgreSQL ou Redis injoignable"
        )),
        Ok(Ok(code)) => Err(format!("API non prête ({addr}) : HTTP {code}")),
        Ok(Err(e)) => Err(format!("API injoignable sur {addr} : {e}")),
        Err(_) => Err(format!(
            "API muette sur {addr} : pas de réponse en {} s",
            DELAI_API.as_secs()
        )),
    }
}

fn battement(dir: &Path, kind: &str) -> Result<String, String> {
    let file = heartbeat_file(dir, kind);
    match heartbeat_file_age(dir, kind) {
        Ok(age) if age <= HEARTBEAT_FILE_MAX_AGE => Ok(format!(
            "ecole-{kind} actif : dernier battement il y a {}",
            duree_lisible(age)
        )),
        Ok(age) => Err(format!(
            "ecole-{kind} sans battement depuis {} (plus de {} s) : processus bloqué ou PostgreSQL injoignable ({})",
            duree_lisible(age),
            HEARTBEAT_FILE_MAX_AGE.as_secs(),
            file.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "ecole-{kind} : fichier de battement {} absent (processus arrêté, pas encore démarré, ou PostgreSQL injoignable)",
            file.display()
        )),
        Err(e) => Err(format!(
            "ecole-{kind} : fichier de battement {} illisible : {e}",
            file.display()
        )),
    }
}

/// Checks `cible`; `Ok` says what was seen, `Err` why it is unhealthy.
pub async fn verifier(settings: &Settings, cible: Cible) -> Result<String, String> {
    match cible {
        Cible::Api => api(settings.http_bind).await,
        Cible::Worker => battement(&settings.heartbeat_dir, "worker"),
        Cible::Beat => battement(&settings.heartbeat_dir, "beat"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_addresses() {
        assert_eq!(duree_lisible(Duration::from_secs(12)), "12 s");
        assert_eq!(duree_lisible(Duration::from_secs(95)), "1 min 35 s");
        assert_eq!(duree_lisible(Duration::from_secs(7500)), "2 h 05 min");
        let local = |s: &str| adresse_locale(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")));
        assert_eq!(local("0.0.0.0:8000").to_string(), "127.0.0.1:8000");
        assert_eq!(local("[::]:8000").to_string(), "127.0.0.1:8000");
        assert_eq!(local("10.1.2.3:9000").to_string(), "10.1.2.3:9000");
    }
}
