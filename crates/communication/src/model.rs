//! The `notifications` row and its JSON shape for its owner.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use ecole_core::time::serde_conakry;
use ecole_db::enums::{StatutEnvoi, TypeNotification};
use ecole_db::schema::notifications;
use serde::Serialize;

/// A notification as its owner sees it (`GET notifications/`). Delivery details meant for
/// operators (errors, provider ids) stay in the database.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationOut {
    pub id: i64,
    #[serde(rename = "utilisateur")]
    pub utilisateur_id: i64,
    pub type_notification: TypeNotification,
    pub titre: String,
    pub message: String,
    /// A path of the API (`/api/v1/bulletins/12/`) the notification is about.
    pub lien_url: Option<String>,
    pub lue: bool,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lue_le: Option<DateTime<Utc>>,
    pub envoyer_par_email: bool,
    pub envoyer_par_sms: bool,
    pub email_envoye: bool,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub email_envoye_le: Option<DateTime<Utc>>,
    pub email_statut: StatutEnvoi,
    pub sms_envoye: bool,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sms_envoye_le: Option<DateTime<Utc>>,
    pub sms_statut: StatutEnvoi,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// What a delivery job reads: the notification's channel state and its recipient.
#[derive(Debug, Clone, Queryable)]
pub struct Envoi {
    pub id: i64,
    pub titre: String,
    pub message: String,
    pub lien_url: Option<String>,
    pub sms_texte: Option<String>,
    pub created_at: DateTime<Utc>,
    pub statut: StatutEnvoi,
    pub tente_le: Option<DateTime<Utc>>,
    pub destinataire: Destinataire,
}

#[derive(Debug, Clone, Queryable)]
pub struct Destinataire {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub telephone: Option<String>,
    pub is_active: bool,
}

impl Destinataire {
    pub fn nom_complet(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }
}

/// `{"count": n}` of `notifications/non-lues/` and `notifications/tout-lire/`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Compte {
    pub count: i64,
}
