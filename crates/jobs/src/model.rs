//! The `jobs` row and its JSON shape (docs/SPEC.md §4: `GET /api/v1/jobs/<id>/`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use ecole_core::time::serde_conakry;
use ecole_db::schema::jobs;
use serde::Serialize;
use serde_json::Value;

ecole_db::text_enum! {
    /// Where a job stands.
    pub enum JobStatus {
        EnAttente => "EN_ATTENTE",
        EnCours => "EN_COURS",
        Succes => "SUCCES",
        Echec => "ECHEC",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub payload: Value,
    pub dedupe_key: Option<String>,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub timeout_seconds: i32,
    pub soft_timeout_seconds: i32,
    pub progress_done: i32,
    pub progress_total: Option<i32>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub requested_by: Option<i64>,
    pub dispatch_count: i32,
    pub run_token: Option<uuid::Uuid>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub task_token: uuid::Uuid,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgressOut {
    pub done: i32,
    pub total: Option<i32>,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobOut {
    pub id: i64,
    pub name: String,
    pub status: JobStatus,
    pub progress: ProgressOut,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobOut {
    fn from(j: Job) -> Self {
        JobOut {
            id: j.id,
            name: j.name,
            status: j.status,
            progress: ProgressOut {
                done: j.progress_done,
                total: j.progress_total,
            },
            result: j.result,
            error: j.error,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}
