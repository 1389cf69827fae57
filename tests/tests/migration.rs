//! `ecole migrate` as run in production (the real binary): it refuses a database that is not
//! UTF8 before applying anything, and creates a missing one in UTF8.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_test_support::process::{PgCluster, command};
use ecole_test_support::{TestDb, redis_url};

#[derive(QueryableByName)]
struct Nombre {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Texte {
    #[diesel(sql_type = Text)]
    t: String,
}

async fn nombre(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Nombre>(conn)
        .await
        .unwrap()
        .n
}

async fn texte(conn: &mut AsyncPgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<Texte>(conn)
        .await
        .unwrap()
        .t
}

async fn ecole(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = command("ecole", env).args(args).output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_refuses_a_sql_ascii_database_before_applying_anything() {
    let db = TestDb::empty_with("ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'").await;
    let env = vec![("DATABASE_URL", db.url.clone()), ("REDIS_URL", redis_url())];
    let (code, out, err) = ecole(&env, &["migrate"]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    for needle in [
        "SQL_ASCII",
        &db.name,
        "ENCODING 'UTF8'",
        "TEMPLATE template0",
        "initdb --encoding=UTF8",
    ] {
        assert!(err.contains(needle), "« {needle} » absent : {err}");
    }
    let mut conn = db.conn().await;
    let tables = nombre(
        &mut conn,
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'",
    )
    .await;
    assert_eq!(tables, 0, "rien ne doit être appliqué");

    // The deployment checklist says it too.
    let (code, out, _) = ecole(&env, &["check", "--deploy"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ERREUR") && l.contains("SQL_ASCII") && l.contains("UTF8")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_a_missing_database_in_utf8_even_on_a_sql_ascii_cluster() {
    let cluster = PgCluster::start_with(&["-E", "SQL_ASCII", "--locale=C"]).await;
    let mut server = AsyncPgConnection::establish(&cluster.url("postgres"))
        .await
        .unwrap();
    assert_eq!(
        texte(&mut server, "SELECT current_setting('server_encoding') AS t").await,
        "SQL_ASCII"
    );
    let env = vec![
        ("DATABASE_URL", cluster.url("ecole_neuve")),
        ("REDIS_URL", redis_url()),
    ];
    let (code, out, err) = ecole(&env, &["migrate"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Base de données créée"), "{out}");
    let encoding = texte(
        &mut server,
        "SELECT pg_encoding_to_char(encoding) AS t FROM pg_database WHERE datname = 'ecole_neuve'",
    )
    .await;
    assert_eq!(encoding, "UTF8");
    let mut conn = AsyncPgConnection::establish(&cluster.url("ecole_neuve"))
        .await
        .unwrap();
    assert!(
        nombre(
            &mut conn,
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'"
        )
        .await
            > 10
    );
}
