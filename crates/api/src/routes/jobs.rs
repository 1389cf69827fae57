//! `jobs/<id>/` (status of long work) and `jobs/` (ADMIN asks for a job by name).

use actix_web::{HttpResponse, web};
use ecole_jobs::JobOut;
use ecole_jobs::service;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiResult;
use crate::extract::{ApiJson, CurrentUser};
use crate::routes::path_id;
use crate::state::AppState;

/// The answer to long work: `202 {"job_id", "status_url"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub job_id: String,
    pub status_url: String,
}

impl Accepted {
    pub fn new(id: i64) -> Self {
        Accepted {
            job_id: id.to_string(),
            status_url: format!("/api/v1/jobs/{id}/"),
        }
    }

    pub fn response(id: i64) -> HttpResponse {
        HttpResponse::Accepted().json(Accepted::new(id))
    }
}

/// A job's status, progress and result (its requester, ADMIN or DIRECTION).
#[utoipa::path(get, path = "/api/v1/jobs/{id}/", tag = "jobs", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = JobOut), (status = 401), (status = 404)))]
pub async fn retrieve(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let job = service::get_job(&mut conn, &current.actor, id).await?;
    Ok(HttpResponse::Ok().json(JobOut::from(job)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Nom de la tâche (`core.debug`, `core.backup_database`, …).
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
}

/// Asks for a job by name (ADMIN): `202 {"job_id", "status_url"}`. `core.debug` is refused in
/// production (400); `core.backup_database` while another backup waits or runs (409), and
/// within 10 minutes of the last one (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/jobs/", tag = "jobs", security(("jwt" = [])), request_body = JobRequest,
    responses((status = 202, body = Accepted), (status = 400), (status = 401), (status = 403),
        (status = 409, description = "Une sauvegarde est déjà en attente ou en cours"),
        (status = 429, description = "Une sauvegarde a été demandée il y a moins de 10 minutes (voir Retry-After)")))]
pub async fn create(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: ApiJson<JobRequest>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let payload = body
        .0
        .payload
        .unwrap_or_else(|| Value::Object(Default::default()));
    let id = service::request_job(
        &mut conn,
        Some(&current.actor),
        state.settings.app_env,
        &body.0.name,
        payload,
    )
    .await?;
    Ok(Accepted::response(id))
}
