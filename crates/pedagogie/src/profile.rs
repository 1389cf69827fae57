//! The user part of a profile (pupil, parent, teacher): created in the profile's transaction.

use ecole_core::{DomainResult, FieldErrors, Role};
use ecole_users::NewUserInput;
use ecole_users::service::{PreparedUser, prepare_user};
use serde::Deserialize;

/// The user's fields, flat in a profile's body (docs/SPEC.md §4).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct UserFields {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    pub password: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub telephone: Option<String>,
}

/// Validates and hashes; errors are added to `errors`.
pub async fn prepare(
    fields: &UserFields,
    role: Role,
    errors: &mut FieldErrors,
) -> DomainResult<Option<PreparedUser>> {
    let input = NewUserInput {
        username: fields.username.clone(),
        email: fields.email.clone(),
        password: fields.password.clone(),
        first_name: fields.first_name.clone(),
        last_name: fields.last_name.clone(),
        role,
        telephone: fields.telephone.clone(),
        is_active: Some(true),
    };
    if fields.first_name.trim().is_empty() {
        errors.add("first_name", "Ce champ ne peut pas être vide.");
    }
    if fields.last_name.trim().is_empty() {
        errors.add("last_name", "Ce champ ne peut pas être vide.");
    }
    prepare_user(&input, errors).await
}
