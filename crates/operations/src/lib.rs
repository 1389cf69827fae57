//! Operations (docs/SPEC.md §6): what an operator runs and what keeps the data safe.
//!
//! - [`sauvegarde`]: `pg_dump` in custom format to `BACKUP_DIR` with a `.sha256`, an optional
//!   copy to S3-compatible storage ([`stockage`]), pruning of old copies (the 3 newest are
//!   always kept). The `core.backup_database` job ([`travaux`]) runs it and alerts the
//!   administrators when it finally fails.
//! - [`restauration`]: checksum, refusal to overwrite a non-empty database without `force`,
//!   `pg_restore`, pending migrations, per-table row counts ([`statistiques`]).
//! - [`verification`]: the seed's pre-production checklist as code (`ecole check --deploy`),
//!   with the served certificate's expiry ([`certificat`]).
//! - [`purge`]: the `core.purger_donnees` job (daily, by the beat): rows nobody needs any
//!   more are deleted by batches, so no table grows forever.
//! - [`droits`]: the application's least-privilege role (`DATABASE_APP_USER`), granted by
//!   `ecole migrate` and `ecole restore`.
//!
//! External programs run through [`outils`]: arguments, never a shell string; the password
//! through the environment; the whole process group killed on timeout or cancellation.

pub mod certificat;
pub mod droits;
pub mod outils;
pub mod purge;
pub mod restauration;
pub mod sauvegarde;
pub mod statistiques;
pub mod stockage;
pub mod travaux;
pub mod verification;

/// Why an operation failed, in French for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A program (`pg_dump`, `pg_restore`) could not start, failed or ran too long.
    #[error("{0}")]
    Outil(String),
    /// A file could not be read or written.
    #[error("{contexte} : {source}")]
    Fichier {
        contexte: String,
        #[source]
        source: std::io::Error,
    },
    /// The S3-compatible storage refused or could not be reached.
    #[error("stockage S3 : {0}")]
    Stockage(String),
    /// The database could not be reached or refused a statement.
    #[error("base de données : {0}")]
    Base(String),
    /// The operation is refused as asked (checksum, non-empty target…).
    #[error("{0}")]
    Refus(String),
    /// Stopped by the operator (Ctrl-C) or at shutdown.
    #[error("opération interrompue")]
    Interrompue,
}

impl OpsError {
    pub(crate) fn fichier(contexte: impl Into<String>, source: std::io::Error) -> Self {
        OpsError::Fichier {
            contexte: contexte.into(),
            source,
        }
    }
}

impl From<diesel::result::Error> for OpsError {
    fn from(e: diesel::result::Error) -> Self {
        OpsError::Base(e.to_string())
    }
}

impl From<diesel::ConnectionError> for OpsError {
    fn from(e: diesel::ConnectionError) -> Self {
        OpsError::Base(e.to_string())
    }
}

impl From<ecole_db::DbSetupError> for OpsError {
    fn from(e: ecole_db::DbSetupError) -> Self {
        OpsError::Base(e.to_string())
    }
}

impl From<object_store::Error> for OpsError {
    fn from(e: object_store::Error) -> Self {
        OpsError::Stockage(e.to_string())
    }
}

pub type OpsResult<T> = Result<T, OpsError>;
