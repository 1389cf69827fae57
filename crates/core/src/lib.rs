//! Domain primitives every domain crate shares: who acts ([`Actor`]), how a domain says no
//! ([`DomainError`]), pages of results, Conakry time and the audit journal.

pub mod audit;
pub mod decimal;
pub mod error;
pub mod media;
pub mod page;
pub mod phone;
pub mod scope;
pub mod serde_util;
pub mod time;

pub use ecole_db::enums::Role;
pub use error::{DomainError, DomainResult, FieldErrors};
pub use page::{Page, PageRequest};

/// The authenticated user on whose behalf a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
    /// The login session (refresh-token family) the access token belongs to.
    pub session_id: uuid::Uuid,
}

impl Actor {
    /// Refuses unless the actor has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> DomainResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(DomainError::PermissionDenied(
                "Vous n'avez pas la permission d'effectuer cette action.".into(),
            ))
        }
    }
}

/// A `LIKE`/`ILIKE` pattern matching `term` anywhere, with `\`, `%` and `_` taken literally.
pub fn contains_pattern(term: &str) -> String {
    format!(
        "%{}%",
        term.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}
