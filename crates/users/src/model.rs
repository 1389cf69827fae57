//! Rows and the JSON shapes of a user.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use ecole_core::Role;
use ecole_core::time::serde_conakry;
use ecole_db::schema::users;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub telephone: Option<String>,
    pub is_active: bool,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// `"first last"`, as Django's `get_full_name()`.
    pub fn get_full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }

    pub fn is_eleve(&self) -> bool {
        self.role == Role::Eleve
    }
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub role: Role,
    pub telephone: Option<String>,
    pub is_active: bool,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            full_name: u.get_full_name(),
            role: u.role,
            telephone: u.telephone.clone(),
            is_active: u.is_active,
            last_login: u.last_login,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut::from(&u)
    }
}

/// Body of `POST users/` (and the user part of a pupil, parent or teacher).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    pub password: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub role: Role,
    #[serde(default)]
    pub telephone: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

pub use ecole_core::serde_util::double_option;

/// Body of `PUT`/`PATCH users/<id>/` (ADMIN).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub telephone: Option<Option<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Sets a new password (and ends the user's sessions).
    #[serde(default)]
    pub password: Option<String>,
}

/// Body of `PATCH users/me/`: the email. `telephone` is accepted only unchanged: a new number
/// goes through `POST users/me/telephone/` (a code sent by SMS to it).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub telephone: Option<Option<String>>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    /// Username or email.
    #[schema(pattern = r"\S")]
    pub username: String,
    #[schema(min_length = 1)]
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeInput {
    pub old_password: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoginOut {
    pub access: String,
    pub refresh: String,
    pub user: UserOut,
}

/// Sort keys accepted by `?ordering=` on `users/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOrdering {
    Username,
    LastName,
    FirstName,
    Email,
    Role,
    CreatedAt,
    LastLogin,
    Id,
}

impl UserOrdering {
    pub const FIELDS: &'static [&'static str] = &[
        "username",
        "last_name",
        "first_name",
        "email",
        "role",
        "created_at",
        "last_login",
        "id",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "username" => Self::Username,
            "last_name" => Self::LastName,
            "first_name" => Self::FirstName,
            "email" => Self::Email,
            "role" => Self::Role,
            "created_at" | "date_joined" => Self::CreatedAt,
            "last_login" => Self::LastLogin,
            "id" => Self::Id,
            _ => return None,
        })
    }
}

/// Filters of `users/`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub search: Option<String>,
    /// (field, descending)
    pub ordering: Vec<(UserOrdering, bool)>,
}
