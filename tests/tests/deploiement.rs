//! `deploy/` without a Docker engine: the compose file passes the Compose schema
//! (`docker compose config`, or `docker-compose config` from Debian's package), the nginx
//! configuration passes `nginx -t`, and a real nginx started on loopback ports with that
//! configuration redirects to HTTPS, proxies with its headers, keeps PDFs internal and
//! enforces the 20 MB limit. The tools are installed by `make test`; a missing one fails
//! the test, never skips it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ecole_test_support::process::free_port;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn depot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dossier(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ecole-deploiement-{label}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn works(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `docker compose` when the plugin exists, else Debian's `docker-compose`: both validate
/// and normalise a compose file without talking to an engine.
fn compose() -> Vec<&'static str> {
    if works("docker", &["compose", "version"]) {
        vec!["docker", "compose"]
    } else if works("docker-compose", &["version"]) {
        vec!["docker-compose"]
    } else {
        panic!(
            "aucun outil Compose pour valider deploy/docker-compose.yml : `make test` installe \
             docker-compose (apt-get install docker-compose) ; sinon installez le plugin compose de Docker"
        );
    }
}

fn compose_config(dir: &Path) -> std::process::Output {
    let tool = compose();
    std::process::Command::new(tool[0])
        .args(&tool[1..])
        .args(["-f", "docker-compose.yml", "config"])
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn the_compose_file_is_valid_without_an_engine() {
    let dir = dossier("compose");
    copy_dir(&depot().join("deploy"), &dir.join("deploy"));
    copy_dir(&depot().join("nginx"), &dir.join("nginx"));
    let deploy = dir.join("deploy");
    std::fs::copy(deploy.join(".env.example"), deploy.join(".env")).unwrap();
    let out = compose_config(&deploy);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "service_completed_successfully", // api, worker, beat wait for the migration
        "health",                         // ecole health api|worker|beat
        "requirepass",                    // Redis wants a password
        "ecole_app",                      // the processes' least-privilege role
        "--appendonly",                   // Redis persists its queue
        "postgres:15",
        "redis:7",
        "ecole-worker",
        "ecole-beat",
        "max-size: 15m",
        "/var/lib/ecole/backups",
        "MEDIA_ACCEL_REDIRECT: /_media_protege/",
        // X-Forwarded-For is believed from nginx's network only (issue #16, item 7).
        "TRUSTED_PROXIES: 172.31.250.0/24",
        "subnet: 172.31.250.0/24",
    ] {
        assert!(text.contains(expected), "« {expected} » absent :\n{text}");
    }
    let raw = std::fs::read_to_string(deploy.join("docker-compose.yml")).unwrap();
    assert!(
        !raw.lines()
            .any(|l| l.trim_start().starts_with("container_name:")),
        "un nom fixe empêche --scale worker=N"
    );
    assert!(
        !raw.contains("5432:5432") && !raw.contains("6379:6379"),
        "base et Redis jamais publiés"
    );
    assert!(!raw.contains("TRUST_PROXY_HEADERS"), "variable retirée");

    // The validator does validate: an unknown key is refused.
    std::fs::write(
        deploy.join("docker-compose.yml"),
        raw.replacen("    healthcheck:", "    helthcheck:", 1),
    )
    .unwrap();
    assert!(!compose_config(&deploy).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

fn nginx() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    if works("nginx", &["-v"]) {
        return PathBuf::from("nginx");
    }
    panic!("nginx introuvable : `make test` l'installe (apt-get install nginx-light)");
}

/// A self-signed certificate (openssl) in `dir`.
fn certificate(dir: &Path) {
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=ecole.test",
            "-keyout",
        ])
        .arg(dir.join("privkey.pem"))
        .arg("-out")
        .arg(dir.join("fullchain.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl introuvable : `make test` l'installe");
    assert!(status.success());
}

struct Ports {
    http: u16,
    https: u16,
    upstream: u16,
}

/// The shipped configuration, pointed at loopback ports and temporary files.
fn config_copy(dir: &Path, ports: Option<&Ports>, media: &Path) -> PathBuf {
    let original = std::fs::read_to_string(depot().join("nginx/nginx.conf")).unwrap();
    let d = dir.display().to_string();
    // The included files (nginx/ is mounted at /etc/nginx/ecole/), and server_name as
    // nginx/entrypoint.sh renders it from its template.
    for name in ["proxy.conf", "headers.conf"] {
        std::fs::copy(depot().join("nginx").join(name), dir.join(name)).unwrap();
    }
    let template =
        std::fs::read_to_string(depot().join("nginx/templates/server_name.conf.template")).unwrap();
    assert!(template.contains("${SERVER_NAME}"));
    std::fs::write(
        dir.join("server_name.conf"),
        template.replace("${SERVER_NAME}", "ecole.test"),
    )
    .unwrap();
    let mut conf = original
        .replace(
            "/etc/nginx/conf.d/server_name.conf",
            &format!("{d}/server_name.conf"),
        )
        .replace("/etc/nginx/ecole/", &format!("{d}/"))
        .replace("/etc/nginx/certs/", &format!("{d}/"))
        .replace("/var/log/nginx/", &format!("{d}/"))
        .replace("/var/lib/ecole/media/", &format!("{}/", media.display()));
    assert_ne!(conf, original);
    let upstream = ports.map(|p| p.upstream).unwrap_or(8000);
    conf = conf.replace("server api:8000;", &format!("server 127.0.0.1:{upstream};"));
    if let Some(p) = ports {
        conf = conf
            .replace(
                "listen 80 default_server;",
                &format!("listen 127.0.0.1:{} default_server;", p.http),
            )
            .replace(
                "listen 443 ssl http2 default_server;",
                &format!("listen 127.0.0.1:{} ssl http2 default_server;", p.https),
            );
    }
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

#[test]
fn the_nginx_config_passes_nginx_t() {
    let dir = dossier("nginx-t");
    certificate(&dir);
    let conf = config_copy(&dir, None, &dir);
    let out = std::process::Command::new(nginx())
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("test is successful"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stand-in for the API: answers by path, reports the X-Forwarded-For it received.
async fn fake_api() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let mut forwarded = String::new();
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let lower = header.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("x-forwarded-for:") {
                            forwarded = v.trim().to_string();
                        }
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; length];
                    let _ = reader.read_exact(&mut body).await;
                    let response = match path.as_str() {
                        "/api/v1/bulletins/1/pdf/" => "HTTP/1.1 200 OK\r\ncontent-type: application/pdf\r\n\
                             content-disposition: attachment; filename=\"bulletin.pdf\"\r\n\
                             x-accel-redirect: /_media_protege/bulletins/2026/1.pdf\r\ncontent-length: 0\r\n\r\n"
                            .to_string(),
                        _ => {
                            let body = "{\"status\":\"ok\"}";
                            format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                 x-frame-options: SAMEORIGIN\r\ncontent-security-policy: default-src 'none'\r\n\
                                 x-vu-forwarded-for: {forwarded}\r\ncontent-length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        }
                    };
                    if write.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

struct Nginx(tokio::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_redirects_proxies_and_serves_pdfs_only_through_the_api() {
    let dir = dossier("nginx");
    certificate(&dir);
    let media = dir.join("media");
    std::fs::create_dir_all(media.join("bulletins/2026")).unwrap();
    let pdf = b"%PDF-1.4 bulletin de test".to_vec();
    std::fs::write(media.join("bulletins/2026/1.pdf"), &pdf).unwrap();
    let ports = Ports {
        http: free_port(),
        https: free_port(),
        upstream: fake_api().await,
    };
    let conf = config_copy(&dir, Some(&ports), &media);
    let global = format!("daemon off; pid {}/nginx.pid;", dir.display());
    let mut cmd = tokio::process::Command::new(nginx());
    cmd.arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg(if nix_is_root() {
            format!("{global} user root;")
        } else {
            global
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let _nginx = Nginx(cmd.spawn().unwrap());
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let https = format!("https://127.0.0.1:{}", ports.https);
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(format!("{https}/health/live"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        up,
        "nginx ne répond pas : {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );

    // HTTP: everything to HTTPS, except the liveness probe.
    let r = client
        .get(format!("http://127.0.0.1:{}/api/v1/users/me/", ports.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://")
    );
    let r = client
        .get(format!("http://127.0.0.1:{}/health/live", ports.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // HTTPS: proxied, one value per security header, the client's own X-Forwarded-For ignored.
    let r = client
        .get(format!("{https}/api/v1/users/me/"))
        .header("X-Forwarded-For", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    let frame: Vec<_> = h.get_all("x-frame-options").iter().collect();
    assert_eq!(frame, vec!["DENY"]);
    assert!(
        h["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'");
    assert_eq!(h["x-vu-forwarded-for"], "127.0.0.1");
    assert!(h.get("server").is_none_or(|s| s == "nginx"));

    // PDFs: never a public URL; through the API's X-Accel-Redirect only.
    let r = client
        .get(format!("{https}/_media_protege/bulletins/2026/1.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .get(format!("{https}/api/v1/bulletins/1/pdf/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("bulletin.pdf")
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    for path in ["/media/bulletins/2026/1.pdf", "/metrics"] {
        let r = client.get(format!("{https}{path}")).send().await.unwrap();
        let body = r.text().await.unwrap();
        assert!(!body.contains("PDF-1.4"), "{path}");
    }
    // Closed whatever follows the path (the API ignores a final slash).
    for path in [
        "/metrics",
        "/metrics/",
        "/metrics//",
        "/metrics/x",
        "/%6Detrics/",
    ] {
        let r = client.get(format!("{https}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    // Logins are rate-limited per address: 429 in the API's JSON error format.
    let mut throttled = None;
    for _ in 0..40 {
        let r = client
            .post(format!("{https}/api/v1/auth/login/"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let retry = r.headers().get("retry-after").cloned();
            throttled = Some((retry, r.text().await.unwrap()));
            break;
        }
    }
    let (retry, body) = throttled.expect("aucun 429 après 40 connexions en rafale");
    assert!(retry.is_some());
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["code"], "throttled");
    assert_eq!(json["detail"], "Trop de requêtes.");

    // 20 MB at most.
    let r = client
        .post(format!("{https}/api/v1/eleves/import/"))
        .body(vec![b'a'; 21 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = client
        .post(format!("{https}/api/v1/eleves/import/"))
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(_nginx);
    let _ = std::fs::remove_dir_all(&dir);
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_with_pg_dump() {
    let text = std::fs::read_to_string(depot().join("deploy/Dockerfile")).unwrap();
    // No `# syntax=` line: it would make the build fetch a frontend image from a registry.
    assert!(!text.to_ascii_lowercase().contains("syntax="));
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 3, "{stages:?}");
    assert!(stages[2].ends_with("AS runtime"), "{stages:?}");
    assert!(text.contains("--mount=type=cache,target=/usr/local/cargo/registry"));
    for bin in ["ecole-api", "ecole-worker", "ecole-beat", "--bin ecole "] {
        assert!(text.contains(bin), "{bin}");
    }
    assert!(text.contains("postgresql-client-15"));
    assert!(text.lines().any(|l| l.trim() == "USER ecole"));
    let ignore = std::fs::read_to_string(depot().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
    assert!(ignore.lines().any(|l| l.trim() == "deploy/.env"));
}
