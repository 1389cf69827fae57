//! The school (one row): printed on every PDF.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role};
use ecole_db::schema::etablissement;
use serde::{Deserialize, Serialize};
use validator::ValidateEmail;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = etablissement, check_for_backend(diesel::pg::Pg))]
pub struct Etablissement {
    #[serde(skip)]
    pub id: i64,
    pub nom: String,
    pub adresse: String,
    pub telephone: String,
    pub email: String,
    pub devise: String,
    pub directeur: String,
    pub ville: String,
    /// Relative path of the logo under the media root, when set.
    #[serde(skip)]
    pub logo: Option<String>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = etablissement)]
#[serde(deny_unknown_fields)]
pub struct EtablissementInput {
    pub nom: String,
    #[serde(default)]
    pub adresse: String,
    #[serde(default)]
    pub telephone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub devise: String,
    #[serde(default)]
    pub directeur: String,
    #[serde(default = "default_ville")]
    pub ville: String,
}

fn default_ville() -> String {
    "Conakry".into()
}

pub async fn get(conn: &mut AsyncPgConnection) -> DomainResult<Etablissement> {
    Ok(etablissement::table
        .find(1)
        .select(Etablissement::as_select())
        .first(conn)
        .await?)
}

/// `PUT etablissement/` (ADMIN).
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: EtablissementInput,
) -> DomainResult<Etablissement> {
    actor.require(&[Role::Admin])?;
    let mut errors = FieldErrors::new();
    if input.nom.trim().is_empty() {
        errors.add("nom", "Ce champ ne peut pas être vide.");
    }
    for (field, value) in [
        ("nom", &input.nom),
        ("adresse", &input.adresse),
        ("devise", &input.devise),
        ("directeur", &input.directeur),
        ("ville", &input.ville),
        ("telephone", &input.telephone),
    ] {
        if value.chars().count() > 200 {
            errors.add(field, "Au plus 200 caractères.");
        }
    }
    if !input.email.trim().is_empty() && !input.email.trim().validate_email() {
        errors.add("email", "Saisissez une adresse e-mail valide.");
    }
    errors.into_result()?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = get(conn).await?;
        let after: Etablissement = diesel::update(etablissement::table.find(1))
            .set(&input)
            .returning(Etablissement::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Update,
                table: "etablissement",
                row_id: Some(1),
                before: serde_json::to_value(&before).ok(),
                after: serde_json::to_value(&after).ok(),
            },
        )
        .await?;
        Ok(after)
    })
    .await
}

/// The largest logo accepted.
pub const LOGO_MAX_BYTES: usize = 2 * 1024 * 1024;

/// The logo's kind, from its content (never its name): PNG or JPEG.
pub fn logo_extension(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else {
        None
    }
}

/// `PUT etablissement/logo/` (ADMIN): stores the image under a new server-chosen name,
/// points the school at it, removes the previous file. `None` removes the logo.
pub async fn set_logo(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    media_root: &std::path::Path,
    image: Option<&[u8]>,
) -> DomainResult<Etablissement> {
    actor.require(&[Role::Admin])?;
    let relative = match image {
        Some(bytes) => {
            let Some(ext) = logo_extension(bytes) else {
                return Err(DomainError::validation(
                    "logo",
                    "Image PNG ou JPEG attendue.",
                ));
            };
            let relative = format!("etablissement/logo-{}.{ext}", uuid::Uuid::new_v4().simple());
            ecole_core::media::write_atomic(media_root, &relative, bytes)
                .await
                .map_err(|e| DomainError::internal(format!("logo : {e}")))?;
            Some(relative)
        }
        None => None,
    };
    let actor = *actor;
    let new = relative.clone();
    let result = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let before = get(conn).await?;
            let after: Etablissement = diesel::update(etablissement::table.find(1))
                .set(etablissement::logo.eq(&new))
                .returning(Etablissement::as_returning())
                .get_result(conn)
                .await?;
            audit::record(
                conn,
                AuditEntry {
                    actor: Some(&actor),
                    action: AuditAction::Update,
                    table: "etablissement",
                    row_id: Some(1),
                    before: Some(serde_json::json!({"logo": before.logo})),
                    after: Some(serde_json::json!({"logo": after.logo})),
                },
            )
            .await?;
            Ok((before.logo, after))
        })
        .await;
    match result {
        Ok((old, after)) => {
            if let Some(path) = old
                .as_deref()
                .and_then(|r| ecole_core::media::resolve(media_root, r))
            {
                let _ = tokio::fs::remove_file(path).await;
            }
            Ok(after)
        }
        Err(e) => {
            if let Some(path) = relative
                .as_deref()
                .and_then(|r| ecole_core::media::resolve(media_root, r))
            {
                let _ = tokio::fs::remove_file(path).await;
            }
            Err(e)
        }
    }
}
