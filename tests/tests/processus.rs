//! The production image's single binary: `ecole api|worker|beat`, the same under the names
//! `ecole-api`, `ecole-worker`, `ecole-beat` (symbolic links), and `ecole health` for the
//! containers' health checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::PathBuf;
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
