//! `ecole migrate` as run in production (the real binary): it refuses a database that is not
//! UTF8 before applying anything, creates a missing one in UTF8, and gives the application
//! role (`DATABASE_APP_USER`) least privilege, again after `ecole restore`.
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
        texte(
            &mut server,
            "SELECT current_setting('server_encoding') AS t"
        )
        .await,
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

/// A role name that needs quoting (capitals, a space, a double quote), unique to this run.
fn nom_de_role() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("Ecole App \"{}\" {}", std::process::id(), &id[..12])
}

fn url_du_role(db_url: &str, role: &str) -> String {
    let mut url = url::Url::parse(db_url).unwrap();
    url.set_username(role).unwrap();
    url.set_password(None).unwrap();
    url.to_string()
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) -> Result<usize, String> {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .map_err(|e| e.to_string())
}

/// Drops the role once its database is gone (a role with privileges cannot be dropped).
async fn supprimer_role(db: TestDb, role: &str) {
    let admin_url = {
        let mut url = url::Url::parse(&db.url).unwrap();
        url.set_path("/postgres");
        url.to_string()
    };
    drop(db);
    let mut admin = AsyncPgConnection::establish(&admin_url).await.unwrap();
    let sql = diesel::sql_query("SELECT format('DROP ROLE IF EXISTS %I', $1::text) AS t")
        .bind::<Text, _>(role)
        .get_result::<Texte>(&mut admin)
        .await
        .unwrap()
        .t;
    exec(&mut admin, &sql).await.unwrap();
}

async fn role_peut_travailler(role_url: &str, label: &str) {
    let mut conn = AsyncPgConnection::establish(role_url).await.unwrap();
    let user = format!("role-{label}-{}", uuid::Uuid::new_v4().simple());
    exec(
        &mut conn,
        &format!(
            "INSERT INTO users (username, password_hash, role) VALUES ('{user}', 'x', 'ENSEIGNANT')"
        ),
    )
    .await
    .unwrap();
    exec(
        &mut conn,
        &format!("UPDATE users SET last_name = 'Camara' WHERE username = '{user}'"),
    )
    .await
    .unwrap();
    exec(
        &mut conn,
        "INSERT INTO audit_log (action, table_name) VALUES ('TEST', 'essai')",
    )
    .await
    .unwrap();
    for sql in [
        "UPDATE audit_log SET action = 'FALSIFIE'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "TRUNCATE users CASCADE",
        "DELETE FROM __diesel_schema_migrations",
    ] {
        let err = exec(&mut conn, sql).await.unwrap_err();
        assert!(err.contains("permission denied"), "{label} : {sql} : {err}");
    }
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TABLE audit_log",
    ] {
        let err = exec(&mut conn, sql).await.unwrap_err();
        assert!(err.contains("must be owner"), "{label} : {sql} : {err}");
    }
    let err = exec(&mut conn, "CREATE TABLE a_moi (id int)")
        .await
        .unwrap_err();
    assert!(err.contains("permission denied"), "{label} : {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_the_application_role_with_least_privilege() {
    let db = TestDb::empty().await;
    let role = nom_de_role();
    let backups = std::env::temp_dir().join(format!(
        "ecole-migration-role-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("REDIS_URL", redis_url()),
        ("DATABASE_APP_USER", role.clone()),
        (
            "DATABASE_APP_PASSWORD",
            "mdp d'essai'; DROP ROLE postgres; --".into(),
        ),
        ("BACKUP_DIR", backups.to_string_lossy().into_owned()),
    ];
    for var in ["PG_DUMP", "PG_RESTORE"] {
        if let Ok(v) = std::env::var(var) {
            env.push((var, v));
        }
    }
    let (code, out, err) = ecole(&env, &["migrate"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("migration(s) appliquée(s)"), "{out}");
    assert!(
        out.contains(&format!(
            "Rôle applicatif « {role} » créé ; mot de passe défini"
        )),
        "{out}"
    );
    // Twice is fine.
    let (code, out, err) = ecole(&env, &["migrate"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("« {role} » existant")), "{out}");

    let mut owner = db.conn().await;
    #[derive(QueryableByName)]
    struct Role {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        rolsuper: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        rolcreatedb: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        rolcreaterole: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        rolbypassrls: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        rolcanlogin: bool,
        #[diesel(sql_type = Text)]
        motdepasse: String,
        #[diesel(sql_type = BigInt)]
        possedees: i64,
    }
    let r: Role = diesel::sql_query(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolcanlogin, \
         coalesce(left(rolpassword, 14), '') AS motdepasse, \
         (SELECT count(*) FROM pg_class c WHERE c.relowner = a.oid) AS possedees \
         FROM pg_authid a WHERE rolname = $1",
    )
    .bind::<Text, _>(&role)
    .get_result(&mut owner)
    .await
    .unwrap();
    assert!(r.rolcanlogin && !r.rolsuper && !r.rolcreatedb && !r.rolcreaterole && !r.rolbypassrls);
    assert_eq!(r.motdepasse, "SCRAM-SHA-256$");
    assert_eq!(r.possedees, 0, "le rôle ne possède aucune relation");
    assert_eq!(
        nombre(
            &mut owner,
            "SELECT count(*) AS n FROM pg_roles WHERE rolname = 'postgres'"
        )
        .await,
        1
    );

    let role_url = url_du_role(&db.url, &role);
    role_peut_travailler(&role_url, "après migrate").await;

    // A table of a later migration: the same grants, by default privileges.
    exec(
        &mut owner,
        "CREATE TABLE essai_futur (id BIGSERIAL PRIMARY KEY, x INT)",
    )
    .await
    .unwrap();
    let mut conn = AsyncPgConnection::establish(&role_url).await.unwrap();
    exec(&mut conn, "INSERT INTO essai_futur (x) VALUES (1)")
        .await
        .unwrap();
    let err = exec(&mut conn, "TRUNCATE essai_futur").await.unwrap_err();
    assert!(err.contains("permission denied"), "{err}");
    drop(conn);
    exec(&mut owner, "DROP TABLE essai_futur").await.unwrap();

    // The application's own commands work as that role (pending migrations are readable).
    let mut role_env = env.clone();
    role_env.retain(|(k, _)| !k.starts_with("DATABASE_"));
    role_env.push(("DATABASE_URL", role_url.clone()));
    let (code, out, err) = ecole(&role_env, &["check"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("OK      migrations à jour"), "{out}");

    // A restore (pg_restore --no-privileges, --force drops the schema) grants them again.
    let (code, out, err) = ecole(&env, &["backup"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let dump = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .unwrap();
    drop(owner);
    let dump = dump.to_string_lossy().into_owned();
    let (code, out, err) = ecole(&env, &["restore", &dump, "--force"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("« {role} » existant")), "{out}");
    role_peut_travailler(&role_url, "après restore").await;

    let _ = std::fs::remove_dir_all(&backups);
    supprimer_role(db, &role).await;
}
