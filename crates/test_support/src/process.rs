//! The real binaries, started as child processes (black-box tests).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// `target/<profile>/<name>`, next to the test executable's `deps/` folder.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = dir.join(name);
    if !path.exists() {
        panic!(
            "{} introuvable : lancez `cargo build --bins` (make test le fait)",
            path.display()
        );
    }
    path
}

/// A command for one of the project's binaries, with a clean, explicit environment.
pub fn command(name: &str, env: &[(&str, String)]) -> Command {
    command_at(&binary(name), env)
}

/// Like [`command`], for a program given by its path (e.g. a symbolic link to a binary).
pub fn command_at(program: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Polls `url` until it answers 200, at most `timeout`.
pub async fn wait_http_ok(url: &str, timeout: Duration) -> bool {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits for a child to exit, at most `timeout`.
pub async fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    tokio::time::timeout(timeout, child.wait())
        .await
        .ok()
        .and_then(Result::ok)
}

/// A private `redis-server` on a free port, for tests that stop, pause or restart Redis.
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    appendonly: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// `appendonly`: with `--appendonly yes --appendfsync always` (nothing acknowledged is
    /// lost when the server is killed).
    pub async fn start(appendonly: bool) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ecole-redis-{}-{port}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut server = RedisServer {
            port,
            dir,
            appendonly,
            child: None,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", if self.appendonly { "yes" } else { "no" }])
            // Append-only means every acknowledged write is on disk before the reply.
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!("redis-server introuvable : {e}"),
        };
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server ne répond pas sur le port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child
            .as_ref()
            .and_then(|c| c.id())
            .map(|p| p as i32)
            .unwrap_or(0)
    }

    /// SIGSTOP: Redis hangs without closing connections.
    pub fn pause(&self) {
        signal(self.pid(), "STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port (with its append-only file, if any).
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends a signal by name with `kill(1)` (`TERM`, `KILL`, `STOP`, `CONT`).
pub fn signal(pid: i32, name: &str) {
    if pid > 0 {
        let _ = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status();
    }
}

/// Polls `check` every 50 ms until it returns true, at most `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Children of `pid` whose command name is `comm` (from /proc).
pub fn children_named(pid: i32, comm: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let name = stat
            .get(stat.find('(').map(|i| i + 1).unwrap_or(0)..close)
            .unwrap_or("");
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok());
        if name == comm && ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// The real `ecole-api` binary serving a [`crate::TestApp`]'s database and Redis prefix with
/// the same secret (so the app's builders and tokens work against it), its stdout and stderr
/// written to a log file that a test can read back.
pub struct ApiProcess {
    pub base_url: String,
    pub log_path: PathBuf,
    child: Child,
}

impl ApiProcess {
    /// Starts the binary and waits until it is ready. `extra` adds or overrides variables.
    pub async fn start(app: &crate::TestApp, extra: &[(&str, String)]) -> ApiProcess {
        let settings = &app.state.settings;
        let port = free_port();
        let dir = std::env::temp_dir()
            .join("ecole-tests")
            .join(&app.redis_prefix);
        let _ = std::fs::create_dir_all(&dir);
        let log_path = dir.join(format!("ecole-api-{port}.log"));
        let log = match std::fs::File::create(&log_path) {
            Ok(f) => f,
            Err(e) => panic!("journal {} : {e}", log_path.display()),
        };
        let log_err = match log.try_clone() {
            Ok(f) => f,
            Err(e) => panic!("journal : {e}"),
        };
        let secret = String::from_utf8_lossy(settings.secret_bytes()).into_owned();
        let mut env: Vec<(&str, String)> = vec![
            ("APP_ENV", "test".into()),
            ("DATABASE_URL", app.db.url.clone()),
            ("DATABASE_POOL_SIZE", "4".into()),
            ("REDIS_URL", settings.redis_url.clone()),
            ("REDIS_PREFIX", app.redis_prefix.clone()),
            ("SECRET_KEY", secret),
            (
                "CORS_ALLOWED_ORIGINS",
                settings.cors_allowed_origins.join(","),
            ),
            ("HTTP_BIND", format!("127.0.0.1:{port}")),
            ("HTTP_WORKERS", "2".into()),
            (
                "MEDIA_ROOT",
                settings.media_root.to_string_lossy().into_owned(),
            ),
            (
                "BACKUP_DIR",
                settings.backup_dir.to_string_lossy().into_owned(),
            ),
        ];
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k, v.clone()));
        }
        let child = command("ecole-api", &env)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!("ecole-api : {e}"),
        };
        let base_url = format!("http://127.0.0.1:{port}");
        if !wait_http_ok(&format!("{base_url}/health/ready"), Duration::from_secs(30)).await {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("ecole-api ne répond pas sur {base_url} :\n{log}");
        }
        ApiProcess {
            base_url,
            log_path,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The process id, `0` once it is gone.
    pub fn pid(&self) -> i32 {
        self.child.id().map_or(0, |p| p as i32)
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops it with SIGTERM and waits (the log is then complete).
    pub async fn stop(&mut self) {
        signal(self.child.id().map(|p| p as i32).unwrap_or(0), "TERM");
        if wait_exit(&mut self.child, Duration::from_secs(20))
            .await
            .is_none()
        {
            let _ = self.child.kill().await;
        }
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Kept when the test failed, to read what happened.
        if std::thread::panicking() {
            eprintln!("journal de ecole-api : {}", self.log_path.display());
        } else {
            let _ = std::fs::remove_file(&self.log_path);
        }
    }
}

/// Resident memory of a process, in KiB (`VmRSS` of /proc), `None` once it is gone.
pub fn rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// Peak resident memory of a process, in KiB (`VmHWM` of /proc), `None` once it is gone.
pub fn peak_rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// A KiB field of /proc/<pid>/status (`VmRSS:`, `VmSize:`…).
pub fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next().map(|st| st != "Z"))
        })
        .unwrap_or(false)
}

/// A private PostgreSQL cluster (`initdb` + `pg_ctl` in a temporary folder, free port,
/// `fsync=off`), for tests that stop or restart the database server. Run as the `postgres`
/// system user when the tests run as root (initdb refuses root). Removed on drop.
pub struct PgCluster {
    pub port: u16,
    dir: PathBuf,
    bindir: PathBuf,
}

fn pg_bindir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

impl PgCluster {
    /// A tool of the cluster's PostgreSQL version, as the `postgres` user when root.
    fn tool(&self, name: &str) -> Command {
        let path = self.bindir.join(name);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    pub async fn start() -> PgCluster {
        Self::start_with(&["-E", "UTF8"]).await
    }

    /// Like [`PgCluster::start`], with these `initdb` options (e.g. `-E SQL_ASCII --locale=C`).
    pub async fn start_with(initdb: &[&str]) -> PgCluster {
        let Some(bindir) = pg_bindir() else {
            panic!("PostgreSQL introuvable sous /usr/lib/postgresql (initdb, pg_ctl)");
        };
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let port = free_port();
        let dir = base.join(format!("ecole-pg-{}-{port}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        if is_root() {
            let _ = std::process::Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status();
        }
        let cluster = PgCluster { port, dir, bindir };
        let status = cluster
            .tool("initdb")
            .arg("-D")
            .arg(cluster.dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .args(initdb)
            .status()
            .await;
        if !matches!(status, Ok(s) if s.success()) {
            panic!("initdb a échoué dans {}", cluster.dir.display());
        }
        cluster.start_server().await;
        cluster
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server (after [`PgCluster::stop`]) and waits until it accepts connections.
    pub async fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let status = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"])
            .status()
            .await;
        if !matches!(status, Ok(s) if s.success()) {
            panic!(
                "démarrage du PostgreSQL privé impossible (voir {})",
                self.dir.join("server.log").display()
            );
        }
    }

    /// Stops the server: `fast` (sessions terminated, clean shutdown) or `immediate`.
    pub async fn stop(&self, mode: &str) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", mode, "-w", "-t", "30", "stop"])
            .status()
            .await;
    }

    /// The server's main process id (`postmaster.pid`), while it runs.
    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let path = self.bindir.join("pg_ctl");
        let data = self.dir.join("data");
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
