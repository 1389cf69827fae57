//! The production image's single binary: `ecole api|worker|beat`, the same under the names
//! `ecole-api`, `ecole-worker`, `ecole-beat` (symbolic links), and `ecole health` for the
//! containers' health checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_db::schema::jobs;
use ecole_jobs::payloads::Debug;
use ecole_jobs::{JobStatus, NewJob, enqueue};
use ecole_test_support::process::{
    binary, command, command_at, free_port, signal, wait_exit, wait_http_ok, wait_until,
};
use ecole_test_support::{TestDb, redis_url};
use tokio::process::Child;

/// A folder of the test's own, removed on drop.
struct Dossier(PathBuf);

impl Dossier {
    fn new(label: &str) -> Dossier {
        let dir = std::env::temp_dir().join(format!(
            "ecole-processus-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dossier(dir)
    }

    /// `<dir>/<name>`, a symbolic link to the `ecole` binary.
    fn lien(&self, name: &str) -> PathBuf {
        let link = self.0.join(name);
        std::os::unix::fs::symlink(binary("ecole"), &link).unwrap();
        link
    }
}

impl Drop for Dossier {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Env {
    db: TestDb,
    prefix: String,
    heartbeats: Dossier,
}

impl Env {
    async fn new() -> Env {
        Env {
            db: TestDb::new().await,
            prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
            heartbeats: Dossier::new("battements"),
        }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("REDIS_URL", redis_url()),
            ("REDIS_PREFIX", self.prefix.clone()),
            ("BEAT_CATCHUP", "0".into()),
            ("WORKER_CONCURRENCY", "1".into()),
            ("DATABASE_POOL_SIZE", "4".into()),
            (
                "ECOLE_HEARTBEAT_DIR",
                self.heartbeats.0.to_string_lossy().into_owned(),
            ),
        ]
    }

    async fn status(&self, id: i64) -> JobStatus {
        let mut conn = self.db.conn().await;
        jobs::table
            .find(id)
            .select(jobs::status)
            .first(&mut conn)
            .await
            .unwrap()
    }
}

fn quiet(mut cmd: tokio::process::Command) -> tokio::process::Command {
    if std::env::var_os("TEST_LOG").is_none() {
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
    cmd
}

async fn stop(mut child: Child) -> std::process::ExitStatus {
    signal(child.id().unwrap() as i32, "TERM");
    wait_exit(&mut child, Duration::from_secs(30))
        .await
        .expect("arrêt en moins de 30 s")
}

async fn sortie(mut cmd: tokio::process::Command) -> (Option<i32>, String, String) {
    let out = cmd.output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_binary_runs_the_api_the_worker_and_the_beat_by_command_or_by_name() {
    let env = Env::new().await;
    let liens = Dossier::new("liens");

    // The schedule: the same from the standalone beat, `ecole beat` and a link `ecole-beat`.
    let list = ["--list", "--entry", "core.debug=0 0 3 * * *"];
    let mut standalone = command("ecole-beat", &[]);
    standalone.args(list);
    let mut sub = command("ecole", &[]);
    sub.arg("beat").args(list);
    let mut named = command_at(&liens.lien("ecole-beat"), &[]);
    named.args(list);
    let (code, expected, err) = sortie(standalone).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        expected.starts_with("core.debug  [0 0 3 * * *]"),
        "{expected}"
    );
    for cmd in [sub, named] {
        let (code, out, err) = sortie(cmd).await;
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, expected);
    }
    let mut help = command_at(&liens.lien("ecole-worker"), &[]);
    help.arg("--help");
    let (code, out, _) = sortie(help).await;
    assert_eq!(code, Some(0));
    assert!(
        out.contains("Utilisation : ecole worker") && out.contains("comme ecole-worker"),
        "{out}"
    );

    // The API under the name `ecole-api`.
    let port = free_port();
    let mut vars = env.vars();
    vars.push(("HTTP_BIND", format!("127.0.0.1:{port}")));
    vars.push(("HTTP_WORKERS", "1".into()));
    let api = quiet(command_at(&liens.lien("ecole-api"), &vars))
        .spawn()
        .unwrap();
    assert!(
        wait_http_ok(
            &format!("http://127.0.0.1:{port}/health/ready"),
            Duration::from_secs(30)
        )
        .await,
        "ecole-api (lien vers ecole) ne répond pas"
    );
    assert!(stop(api).await.success());

    // `ecole worker` runs a job; `ecole beat` fires its entry.
    let id = {
        let mut conn = env.db.conn().await;
        let job = NewJob::of(&Debug {
            message: Some("multi-appel".into()),
            ..Debug::default()
        })
        .unwrap();
        enqueue(&mut conn, job).await.unwrap()
    };
    let mut worker = quiet(command("ecole", &env.vars()));
    let worker = worker.arg("worker").spawn().unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || async {
            env.status(id).await == JobStatus::Succes
        })
        .await,
        "job {id} : {:?}",
        env.status(id).await
    );
    assert!(stop(worker).await.success());

    let mut beat = quiet(command("ecole", &env.vars()));
    let beat = beat
        .args(["beat", "--entry", "core.debug=* * * * * *"])
        .spawn()
        .unwrap();
    let fired = wait_until(Duration::from_secs(10), || async {
        let mut conn = env.db.conn().await;
        jobs::table
            .filter(jobs::dedupe_key.like("core.debug:%"))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap()
            > 0
    })
    .await;
    assert!(fired, "ecole beat n'a créé aucun job");
    assert!(stop(beat).await.success());
}

fn health(env: &[(&str, String)], target: &str) -> tokio::process::Command {
    let mut cmd = command("ecole", env);
    cmd.args(["health", target]);
    cmd
}

/// Sets the modification time of `path` to `age` ago.
fn vieillir(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reads_the_age_of_the_heartbeat_file() {
    let dir = Dossier::new("sante");
    let vars = vec![("ECOLE_HEARTBEAT_DIR", dir.0.to_string_lossy().into_owned())];
    for kind in ["worker", "beat"] {
        let (code, _, err) = sortie(health(&vars, kind)).await;
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!("ecole-{kind}.battement")) && err.contains("absent"),
            "{err}"
        );
        let file = dir.0.join(format!("ecole-{kind}.battement"));
        std::fs::write(&file, b"x").unwrap();
        let (code, out, err) = sortie(health(&vars, kind)).await;
        assert_eq!(code, Some(0), "{out}{err}");
        vieillir(&file, Duration::from_secs(25));
        let (code, out, err) = sortie(health(&vars, kind)).await;
        assert_eq!(code, Some(0), "{out}{err}");
        vieillir(&file, Duration::from_secs(95));
        let (code, _, err) = sortie(health(&vars, kind)).await;
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("1 min 35 s"), "{err}");
    }
    let (code, _, err) = sortie(health(&vars, "inconnu")).await;
    assert_eq!(code, Some(2), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_of_a_real_worker_beat_and_api() {
    let env = Env::new().await;
    let vars = env.vars();
    let (code, _, _) = sortie(health(&vars, "worker")).await;
    assert_eq!(code, Some(1));

    // A worker that cannot write its heartbeat to PostgreSQL does not touch the file either.
    let mut cut_off = vars.clone();
    cut_off.retain(|(k, _)| *k != "DATABASE_URL");
    cut_off.push((
        "DATABASE_URL",
        format!("postgres://postgres@127.0.0.1:{}/ecole", free_port()),
    ));
    let lost = quiet(command("ecole-worker", &cut_off)).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, _, err) = sortie(health(&vars, "worker")).await;
    assert_eq!(code, Some(1), "{err}");
    let _ = stop(lost).await;

    let worker = quiet(command("ecole-worker", &vars)).spawn().unwrap();
    let beat = quiet(command("ecole-beat", &vars)).spawn().unwrap();
    for kind in ["worker", "beat"] {
        let healthy = wait_until(Duration::from_secs(10), || async {
            sortie(health(&vars, kind)).await.0 == Some(0)
        })
        .await;
        assert!(healthy, "{kind} : {:?}", sortie(health(&vars, kind)).await);
    }
    // Stopped: its file goes with it.
    assert!(stop(worker).await.success());
    let (code, _, err) = sortie(health(&vars, "worker")).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(stop(beat).await.success());

    // The API: healthy only while it answers /health/ready with 200.
    let port = free_port();
    let mut api_vars = vars.clone();
    api_vars.push(("HTTP_BIND", format!("127.0.0.1:{port}")));
    api_vars.push(("HTTP_WORKERS", "1".into()));
    let (code, _, err) = sortie(health(&api_vars, "api")).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let api = quiet(command("ecole-api", &api_vars)).spawn().unwrap();
    assert!(
        wait_http_ok(
            &format!("http://127.0.0.1:{port}/health/ready"),
            Duration::from_secs(30)
        )
        .await
    );
    let (code, out, err) = sortie(health(&api_vars, "api")).await;
    assert_eq!(code, Some(0), "{out}{err}");
    // Ready means the database answers: not with a closed database port.
    let closed = format!("postgres://postgres@127.0.0.1:{}/ecole", free_port());
    let mut broken = api_vars.clone();
    broken.retain(|(k, _)| *k != "DATABASE_URL" && *k != "HTTP_BIND");
    let port2 = free_port();
    broken.push(("DATABASE_URL", closed));
    broken.push(("HTTP_BIND", format!("127.0.0.1:{port2}")));
    let api2 = quiet(command("ecole-api", &broken)).spawn().unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port2))
                .await
                .is_ok()
        })
        .await
    );
    let (code, _, err) = sortie(health(&broken, "api")).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("503"), "{err}");
    assert!(stop(api).await.success());
    let _ = stop(api2).await;
}
