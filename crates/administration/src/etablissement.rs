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
