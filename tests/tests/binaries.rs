//! The shipped binaries, end to end: `ecole` migrates and creates an administrator, `ecole-api`
//! serves, signs in, and stops cleanly on SIGTERM; production refuses a weak secret.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::Duration;

use ecole_test_support::process::{command, free_port, wait_exit, wait_http_ok};
use ecole_test_support::{TestDb, redis_url};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

#[tokio::test]
async fn cli_migrates_creates_an_admin_and_the_api_serves_then_stops_on_sigterm() {
    let db = TestDb::new().await;
    let env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("REDIS_URL", redis_url()),
        (
            "ECOLE_SUPERUSER_PASSWORD",
            "Administrateur-2026".to_string(),
        ),
    ];
    let out = command("ecole", &env)
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Aucune migration en attente"));

    let out = command("ecole", &env)
        .args([
            "createsuperuser",
            "--username",
            "directeur",
            "--email",
            "dir@ecole.gn",
            "--no-input",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = command("ecole", &env)
        .args(["createsuperuser", "--username", "directeur", "--no-input"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("existe déjà"));
    let out = command("ecole", &env).arg("check").output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let port = free_port();
    let mut api_env = env.clone();
    api_env.push(("HTTP_BIND", format!("127.0.0.1:{port}")));
    let mut api = command("ecole-api", &api_env).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_http_ok(&format!("{base}/health/ready"), Duration::from_secs(15)).await);

    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/auth/login/"))
        .json(&json!({"username": "dir@ecole.gn", "password": "Administrateur-2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["role"], "ADMIN");

    kill(Pid::from_raw(api.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let status = wait_exit(&mut api, Duration::from_secs(20))
        .await
        .expect("arrêt en moins de 20 s");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn production_refuses_a_weak_secret_and_says_why_in_french() {
    for secret in ["", "trop-courte"] {
        let env = vec![
            ("APP_ENV", "production".to_string()),
            ("SECRET_KEY", secret.to_string()),
        ];
        let out = command("ecole-api", &env).output().await.unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("SECRET_KEY") && stderr.contains("Erreur"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn cli_help_is_in_french() {
    let out = command("ecole", &[]).arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Utilisation")
            && help.contains("Commandes")
            && help.contains("createsuperuser"),
        "{help}"
    );
}
