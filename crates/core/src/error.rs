//! The one error type services return; the API maps each variant to the REST contract.

use std::collections::BTreeMap;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub type DomainResult<T> = Result<T, DomainError>;

/// Validation messages by field, as Django REST Framework returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, the validation error otherwise.
    pub fn into_result(self) -> DomainResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("données invalides")]
    Validation(FieldErrors),
    #[error("identifiants invalides")]
    AuthenticationFailed(String),
    #[error("permission refusée")]
    PermissionDenied(String),
    #[error("introuvable")]
    NotFound,
    #[error("conflit : {0}")]
    Conflict(String),
    #[error("trop de tentatives")]
    Throttled {
        retry_after_secs: u64,
        message: String,
    },
    #[error("service indisponible : {0}")]
    Unavailable(String),
    #[error("erreur interne : {0}")]
    Internal(String),
}

impl DomainError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        DomainError::Validation(FieldErrors::single(field, message))
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        DomainError::Internal(e.to_string())
    }
}

/// The constraint named by a unique violation, if `e` is one.
pub fn unique_violation(e: &DieselError) -> Option<&str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            Some(info.constraint_name().unwrap_or(""))
        }
        _ => None,
    }
}

impl From<DieselError> for DomainError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => DomainError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info) => {
                DomainError::Conflict(format!(
                    "Cette valeur existe déjà ({}).",
                    info.constraint_name().unwrap_or("contrainte d'unicité")
                ))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, ref info) => {
                tracing::debug!(constraint = ?info.constraint_name(), "clé étrangère");
                DomainError::Conflict(
                    "Opération impossible : cet élément est lié à d'autres données (ou en référence une inexistante)."
                        .into(),
                )
            }
            DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, ref info) => {
                DomainError::Validation(FieldErrors::single(
                    "non_field_errors",
                    format!(
                        "Valeur refusée par la règle « {} ».",
                        info.constraint_name().unwrap_or("?")
                    ),
                ))
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                DomainError::Conflict("Opération concurrente, veuillez réessayer.".into())
            }
            DieselError::DatabaseError(kind, ref info)
                if connexion_perdue(kind, info.message()) =>
            {
                DomainError::Unavailable(format!(
                    "connexion à la base de données perdue : {}",
                    info.message()
                ))
            }
            // A commit that failed and whose rollback failed too: the commit's cause decides.
            DieselError::RollbackErrorOnCommit { commit_error, .. } => (*commit_error).into(),
            // The connection's transaction state is lost, which only a dropped connection does.
            DieselError::BrokenTransactionManager => DomainError::Unavailable(
                "connexion à la base de données perdue pendant une transaction".into(),
            ),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

/// Whether a database error says the connection itself failed (server stopping, restarting
/// or unreachable) rather than the statement: those are 503, not 500.
fn connexion_perdue(kind: DatabaseErrorKind, message: &str) -> bool {
    match kind {
        DatabaseErrorKind::ClosedConnection => true,
        // diesel-async reports every error without a SQLSTATE this way: I/O, a closed
        // socket, a protocol error; only parameter (de)serialization is our own fault.
        DatabaseErrorKind::UnableToSendCommand => !message.contains("serializ"),
        // SQLSTATE class 57 (operator intervention) and 53300, which diesel does not
        // classify; PostgreSQL's own wording (lc_messages in English, the default).
        DatabaseErrorKind::Unknown => [
            "terminating connection",
            "the database system is",
            "sorry, too many clients",
            "canceling statement due to statement timeout",
        ]
        .iter()
        .any(|start| message.starts_with(start)),
        _ => false,
    }
}

impl From<ecole_db::PoolError> for DomainError {
    fn from(e: ecole_db::PoolError) -> Self {
        DomainError::Unavailable(format!("base de données : {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: DatabaseErrorKind, message: &str) -> DomainError {
        DieselError::DatabaseError(kind, Box::new(message.to_string())).into()
    }

    #[test]
    fn a_lost_connection_is_unavailable_not_internal() {
        for (kind, message) in [
            (
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection",
            ),
            (DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            (
                DatabaseErrorKind::UnableToSendCommand,
                "error communicating with the server: Connection reset by peer",
            ),
            (
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            (
                DatabaseErrorKind::Unknown,
                "the database system is shutting down",
            ),
        ] {
            assert!(
                matches!(db(kind, message), DomainError::Unavailable(_)),
                "{message}"
            );
        }
        let commit = DieselError::RollbackErrorOnCommit {
            rollback_error: Box::new(DieselError::BrokenTransactionManager),
            commit_error: Box::new(DieselError::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("terminating connection due to administrator command".to_string()),
            )),
        };
        assert!(matches!(
            DomainError::from(commit),
            DomainError::Unavailable(_)
        ));
        for (kind, message) in [
            (
                DatabaseErrorKind::UnableToSendCommand,
                "error serializing parameter 0",
            ),
            (DatabaseErrorKind::Unknown, "column \"x\" does not exist"),
        ] {
            assert!(
                matches!(db(kind, message), DomainError::Internal(_)),
                "{message}"
            );
        }
    }
}
