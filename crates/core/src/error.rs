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
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                DomainError::Unavailable("connexion à la base de données perdue".into())
            }
            other => DomainError::Internal(other.to_string()),
        }
    }
}

impl From<ecole_db::PoolError> for DomainError {
    fn from(e: ecole_db::PoolError) -> Self {
        DomainError::Unavailable(format!("base de données : {e}"))
    }
}
