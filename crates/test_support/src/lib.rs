//! Test harness against the real services.
//!
//! - [`TestDb`]: a database of its own per test, cloned from a template migrated once per
//!   migration set (`CREATE DATABASE … TEMPLATE …`), dropped `WITH (FORCE)` afterwards;
//!   leftovers of crashed runs are dropped when their process is gone.
//! - [`TestApp`]: the real actix app on a loopback port, with its own database and Redis prefix.
//! - [`UserBuilder`]: users of any role, signed in.
//! - [`smtp::SmtpSink`]: a real SMTP server that records messages; [`orange::FakeOrange`]: a
//!   fake Orange SMS API, both on loopback ports.
//!
//! `TEST_DATABASE_URL` names the server (any database on it; default
//! `postgres://postgres@127.0.0.1:5432/postgres`), `TEST_REDIS_URL` the Redis server,
//! `TEST_LOG=1` shows logs, `KEEP_TEST_DB=1` keeps the databases.

pub mod builders;
pub mod http;
pub mod orange;
pub mod process;
pub mod school;
pub mod smtp;

use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_api::{AppState, build_app};
use ecole_config::Settings;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

pub use builders::{TestUser, UserBuilder};

pub const DEFAULT_PASSWORD: &str = "Motdepasse-de-test-2026";

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

fn with_database(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(e) => panic!("TEST_DATABASE_URL invalide : {e}"),
    }
}

/// Hash of the migrations folder: a new migration gives a new template.
fn migrations_hash() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(f.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&f).unwrap_or_default());
    }
    hex::encode(&hasher.finalize()[..8])
}

#[derive(QueryableByName)]
struct DbName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

async fn admin_conn() -> AsyncPgConnection {
    let url = server_url();
    match AsyncPgConnection::establish(&url).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL de test injoignable ({url}) : {e}. Lancez `make test` ou définissez TEST_DATABASE_URL."
        ),
    }
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    if let Err(e) = diesel::sql_query(sql).execute(conn).await {
        panic!("{sql} : {e}");
    }
}

async fn database_names(conn: &mut AsyncPgConnection, like: &str) -> Vec<String> {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE $1")
        .bind::<diesel::sql_types::Text, _>(like)
        .load::<DbName>(conn)
        .await
        .map(|rows| rows.into_iter().map(|r| r.datname).collect())
        .unwrap_or_default()
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Creates the template of the current migrations once (across processes, under an
/// advisory lock) and drops what crashed runs left behind.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("ecole_tpl_{}", migrations_hash());
            let mut conn = admin_conn().await;
            exec(&mut conn, "SELECT pg_advisory_lock(4242001)").await;
            let existing = database_names(&mut conn, "ecole_tpl_%").await;
            if !existing.contains(&name) {
                let building = format!("{name}_b");
                exec(
                    &mut conn,
                    &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
                )
                .await;
                exec(&mut conn, &format!("CREATE DATABASE \"{building}\"")).await;
                if let Err(e) =
                    ecole_db::run_migrations(&with_database(&server_url(), &building)).await
                {
                    panic!("migrations du gabarit de test : {e}");
                }
                exec(
                    &mut conn,
                    &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
                )
                .await;
                for old in existing
                    .iter()
                    .filter(|n| **n != name && !n.ends_with("_b"))
                {
                    exec(
                        &mut conn,
                        &format!("DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"),
                    )
                    .await;
                }
            }
            for leftover in database_names(&mut conn, "t\\_%").await {
                let pid = leftover
                    .split('_')
                    .nth(1)
                    .and_then(|p| p.parse::<u32>().ok());
                if let Some(pid) = pid
                    && !pid_alive(pid)
                {
                    exec(
                        &mut conn,
                        &format!("DROP DATABASE IF EXISTS \"{leftover}\" WITH (FORCE)"),
                    )
                    .await;
                }
            }
            exec(&mut conn, "SELECT pg_advisory_unlock(4242001)").await;
            name
        })
        .await
}

/// A database of the test's own, dropped when this value is.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let template = template().await;
        let db = Self::create(template).await;
        // A copy of the template is a database of its own, as if migrated apart.
        let mut conn = db.conn().await;
        exec(&mut conn, "UPDATE instance SET id = gen_random_uuid()").await;
        db
    }

    /// An empty database (no tables, no migrations), e.g. the target of a restore.
    pub async fn empty() -> TestDb {
        Self::create("template0").await
    }

    /// An empty database created with these options after `TEMPLATE template0` (e.g.
    /// `ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`).
    pub async fn empty_with(options: &str) -> TestDb {
        Self::create_with("template0", options).await
    }

    async fn create(template: &str) -> TestDb {
        Self::create_with(template, "").await
    }

    async fn create_with(template: &str, options: &str) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t_{}_{}_{:04x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_u16()
        );
        let mut conn = admin_conn().await;
        exec(
            &mut conn,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\" {options}"),
        )
        .await;
        TestDb {
            url: with_database(&server_url(), &name),
            name,
        }
    }

    /// A fresh connection to this database.
    pub async fn conn(&self) -> AsyncPgConnection {
        match AsyncPgConnection::establish(&self.url).await {
            Ok(c) => c,
            Err(e) => panic!("connexion à {} : {e}", self.name),
        }
    }
}

fn rand_u16() -> u16 {
    let id = uuid::Uuid::new_v4();
    u16::from_le_bytes([id.as_bytes()[0], id.as_bytes()[1]])
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_DB").is_some() {
            eprintln!("base de test conservée : {}", self.url);
            return;
        }
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(&server_url()).await {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Logs for tests, shown only with `TEST_LOG=1`.
pub fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            ))
            .with_test_writer()
            .try_init();
    }
}

/// The real application on a loopback port, with its own database and Redis prefix.
pub struct TestApp {
    pub db: TestDb,
    pub state: web::Data<AppState>,
    pub base_url: String,
    pub client: reqwest::Client,
    pub redis_prefix: String,
    handle: ServerHandle,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_settings(|_| {}).await
    }

    /// Like `new`, with settings adjusted first (limits, origins, …).
    pub async fn with_settings(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        init_test_logging();
        let db = TestDb::new().await;
        let redis_prefix = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut settings = Settings::for_tests(&db.url, &redis_url(), &redis_prefix);
        adjust(&mut settings);
        let state = match AppState::new(settings) {
            Ok(s) => web::Data::new(s),
            Err(e) => panic!("état de l'application : {e}"),
        };
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("port local : {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let data = state.clone();
        let server = match HttpServer::new(move || build_app(data.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)
        {
            Ok(s) => s.run(),
            Err(e) => panic!("serveur de test : {e}"),
        };
        let handle = server.handle();
        tokio::spawn(server);
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => panic!("client HTTP : {e}"),
        };
        TestApp {
            db,
            state,
            base_url: format!("http://127.0.0.1:{port}"),
            client,
            redis_prefix,
            handle,
        }
    }

    /// Runs this test's due jobs in-process with `registry`, in id order, until none is left
    /// (jobs enqueued by jobs included; failed attempts are retried at once). Returns the
    /// number of runs.
    pub async fn run_jobs(&self, registry: ecole_jobs::Registry) -> usize {
        let runner = ecole_jobs::runner::Runner {
            pool: self.state.pool.clone(),
            bookkeeping: self.state.pool.clone(),
            settings: std::sync::Arc::new(self.state.settings.clone()),
            registry: std::sync::Arc::new(registry),
            worker_name: format!("test-{}", self.redis_prefix),
            retry_base: std::time::Duration::ZERO,
            in_flight: Default::default(),
            redis: None,
        };
        let mut runs = 0;
        for _ in 0..10_000 {
            let due = self.due_jobs().await;
            if due.is_empty() {
                return runs;
            }
            for id in due {
                ecole_jobs::runner::Runner::execute(&runner, id).await.ok();
                runs += 1;
            }
        }
        panic!("run_jobs : les jobs ne s'épuisent pas");
    }

    async fn due_jobs(&self) -> Vec<i64> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use ecole_db::schema::jobs;
        let mut conn = self.conn().await;
        match jobs::table
            .filter(jobs::status.eq(ecole_jobs::model::JobStatus::EnAttente))
            .filter(jobs::run_after.le(diesel::dsl::now))
            .select(jobs::id)
            .order(jobs::id)
            .limit(500)
            .load(&mut conn)
            .await
        {
            Ok(ids) => ids,
            Err(e) => panic!("jobs en attente : {e}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path))
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        self.db.conn().await
    }

    pub fn user(&self) -> UserBuilder<'_> {
        UserBuilder::new(self)
    }

    /// A signed-in user of `role`.
    pub async fn as_role(&self, role: ecole_core::Role) -> TestUser {
        self.user().role(role).create().await
    }

    pub async fn as_admin(&self) -> TestUser {
        self.as_role(ecole_core::Role::Admin).await
    }

    /// Stops the server (tests of shutdown); also done on drop.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Not awaited: the runtime ends with the test; the server stops with it.
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

/// Reads a response as (status, JSON body or `Null`).
pub async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
