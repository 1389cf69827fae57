//! Database access shared by every crate: the generated schema, the async pool, the embedded
//! migrations and the enums stored as checked text.

pub mod enums;
pub mod schema;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::{Connection, QueryableByName};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use diesel_async::AsyncPgConnection as PgConn;

/// The pool every binary shares.
pub type Pool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type PooledConn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("URL de base de données invalide : {0}")]
    Url(String),
    #[error("impossible de créer le pool : {0}")]
    Pool(String),
    #[error("connexion à PostgreSQL impossible : {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("erreur SQL : {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations : {0}")]
    Migration(String),
    /// The database is not UTF8 (see [`encoding_problem`]).
    #[error("{0}")]
    Encoding(String),
}

/// Counts the SQL statements run on a pool's connections (metrics; tests assert that a
/// list costs a constant number of queries whatever its page size).
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct CountQueries(Arc<AtomicU64>);

impl diesel::connection::Instrumentation for CountQueries {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Builds the pool. Checkout waits at most `timeout`, so an unreachable database fails fast.
pub fn build_pool(url: &str, max_size: usize, timeout: Duration) -> Result<Pool, DbSetupError> {
    build_counted_pool(url, max_size, timeout, None)
}

/// Like [`build_pool`], counting every statement in `counter`.
pub fn build_counted_pool(
    url: &str,
    max_size: usize,
    timeout: Duration,
    counter: Option<QueryCounter>,
) -> Result<Pool, DbSetupError> {
    let mut config = ManagerConfig::default();
    // A broken connection is detected by the driver; no extra round trip per checkout.
    config.recycling_method = RecyclingMethod::Fast;
    if let Some(counter) = counter {
        config.custom_setup = Box::new(move |url| {
            let counter = counter.0.clone();
            let url = url.to_string();
            Box::pin(async move {
                use diesel_async::AsyncConnection;
                let mut conn = AsyncPgConnection::establish(&url).await?;
                conn.set_instrumentation(CountQueries(counter));
                Ok(conn)
            })
        });
    }
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbSetupError::Pool(e.to_string()))
}

#[derive(QueryableByName)]
struct Encoding {
    #[diesel(sql_type = diesel::sql_types::Text)]
    base: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    encodage: String,
}

const ENCODING_SQL: &str = "SELECT current_database()::text AS base, \
     pg_encoding_to_char(encoding)::text AS encodage \
     FROM pg_database WHERE datname = current_database()";

/// Why École cannot use `database` stored in `encoding`, and how to fix it; `None` for UTF8.
/// Any other encoding breaks on accented text (a SQL_ASCII cluster made every payment fail
/// with « invalid byte sequence for encoding UTF8 »).
pub fn encoding_problem(database: &str, encoding: &str) -> Option<String> {
    if encoding.eq_ignore_ascii_case("UTF8") {
        return None;
    }
    Some(format!(
        "la base « {database} » est encodée en {encoding} : École exige UTF8 (sinon les textes \
         accentués, paiements compris, échouent). Recréez-la en UTF8 avec \
         CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8' \
         (ou un cluster initialisé par initdb --encoding=UTF8), puis restaurez-y une sauvegarde"
    ))
}

/// `(database, encoding)` of the database `conn` is connected to.
pub async fn database_encoding(
    conn: &mut AsyncPgConnection,
) -> Result<(String, String), diesel::result::Error> {
    use diesel_async::RunQueryDsl;
    let row: Encoding = diesel::sql_query(ENCODING_SQL).get_result(conn).await?;
    Ok((row.base, row.encodage))
}

/// Runs pending migrations on a blocking thread; returns the names applied. A database that
/// is not UTF8 is refused before anything is applied.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, DbSetupError> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        let found: Encoding =
            diesel::RunQueryDsl::get_result(diesel::sql_query(ENCODING_SQL), &mut conn)?;
        if let Some(problem) = encoding_problem(&found.base, &found.encodage) {
            return Err(DbSetupError::Encoding(format!(
                "{problem}. Aucune migration n'a été appliquée."
            )));
        }
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbSetupError::Migration(e.to_string()))?;
        Ok(applied.iter().map(|m| m.to_string()).collect())
    })
    .await
    .map_err(|e| DbSetupError::Migration(e.to_string()))?
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Names of the migrations not yet applied. Reads `__diesel_schema_migrations` only, so that
/// the application role (no CREATE on the schema) can ask: diesel's own harness creates the
/// table first when missing.
pub async fn pending_migrations(url: &str) -> Result<Vec<String>, DbSetupError> {
    use diesel::migration::MigrationSource;
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(url).await?;
    let table: Exists =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists")
            .get_result(&mut conn)
            .await?;
    let applied: Vec<String> = if table.exists {
        diesel::sql_query("SELECT version::text AS version FROM __diesel_schema_migrations")
            .load::<Version>(&mut conn)
            .await?
            .into_iter()
            .map(|v| v.version)
            .collect()
    } else {
        Vec::new()
    };
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| DbSetupError::Migration(e.to_string()))?;
    Ok(migrations
        .iter()
        .filter(|m| !applied.contains(&m.name().version().to_string()))
        .map(|m| m.name().to_string())
        .collect())
}

/// A database name we are willing to put in DDL (it cannot be a bound parameter).
pub fn is_safe_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Splits a database URL into (URL of the server's `postgres` database, database name).
pub fn split_database_url(url: &str) -> Result<(String, String), DbSetupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| DbSetupError::Url(e.to_string()))?;
    let name = parsed.path().trim_start_matches('/').to_string();
    if !is_safe_identifier(&name) {
        return Err(DbSetupError::Url(format!(
            "nom de base « {name} » refusé (lettres, chiffres et _ uniquement)"
        )));
    }
    parsed.set_path("/postgres");
    Ok((parsed.to_string(), name))
}

diesel::define_sql_function! {
    /// `lower(text)`, for case-insensitive lookups on indexed expressions.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
diesel::define_sql_function! {
    /// `lower(text)` on a nullable column.
    #[sql_name = "lower"]
    fn lower_nullable(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Creates the database named in `url` when it does not exist yet. Returns true when created.
pub async fn ensure_database(url: &str) -> Result<bool, DbSetupError> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let (admin_url, name) = split_database_url(url)?;
    let mut conn = AsyncPgConnection::establish(&admin_url).await?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if found.exists {
        return Ok(false);
    }
    // `name` passed is_safe_identifier: letters, digits and underscores only. UTF8 whatever
    // the cluster's default (template1 may be SQL_ASCII).
    diesel::sql_query(format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
    ))
    .execute(&mut conn)
    .await
    .map_err(|e| {
        DbSetupError::Encoding(format!(
            "création de la base « {name} » en UTF8 impossible : {e} (il faut un cluster de \
             locale UTF-8 ou C : initdb --encoding=UTF8 --locale=C.UTF-8)"
        ))
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_safe_identifier("ecole"));
        assert!(is_safe_identifier("t_123_ab"));
        assert!(!is_safe_identifier("ecole; DROP"));
        assert!(!is_safe_identifier("1abc"));
        assert!(!is_safe_identifier(""));
        assert!(!is_safe_identifier("a\"b"));
    }

    #[test]
    fn only_utf8_is_accepted() {
        assert!(encoding_problem("ecole", "UTF8").is_none());
        let problem = encoding_problem("ecole", "SQL_ASCII").unwrap();
        assert!(problem.contains("SQL_ASCII") && problem.contains("initdb --encoding=UTF8"));
        assert!(encoding_problem("ecole", "LATIN1").is_some());
    }

    #[test]
    fn split_url() {
        let (admin, name) = split_database_url("postgres://postgres@127.0.0.1:5432/ecole").unwrap();
        assert_eq!(name, "ecole");
        assert_eq!(admin, "postgres://postgres@127.0.0.1:5432/postgres");
        assert!(split_database_url("postgres://h/bad-name").is_err());
    }
}
