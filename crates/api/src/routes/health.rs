//! `/health/live`, `/health/ready` and `/metrics`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "santé", responses((status = 200, description = "Processus actif")))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn check_postgres(state: &AppState) -> Result<(), String> {
    let check = async {
        let pool = state.worker_pool().map_err(|e| format!("{e:?}"))?;
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(result) => result,
        Err(_) => Err("délai dépassé".into()),
    }
}

/// PostgreSQL and Redis are reachable (503 otherwise).
#[utoipa::path(get, path = "/health/ready", tag = "santé", responses(
    (status = 200, description = "PostgreSQL et Redis joignables"),
    (status = 503, description = "Un service est injoignable"),
))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let (pg, redis) = tokio::join!(
        check_postgres(&state),
        state.redis_ping(Duration::from_secs(2))
    );
    let label = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(_) => "injoignable".to_string(),
    };
    if let Err(e) = &pg {
        tracing::warn!(error.cause = %e, "PostgreSQL injoignable");
    }
    if let Err(e) = &redis {
        tracing::warn!(error.cause = %e, "Redis injoignable");
    }
    let body = json!({
        "status": if pg.is_ok() && redis.is_ok() { "ok" } else { "indisponible" },
        "postgresql": label(&pg),
        "redis": label(&redis),
    });
    if pg.is_ok() && redis.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Jobs by name and status and the outbox backlog, read from the `jobs` table (2 statements).
async fn job_metrics(state: &AppState) -> Result<String, String> {
    let read = async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        let counts = ecole_jobs::stats::comptages(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let outbox = ecole_jobs::stats::outbox(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((counts, outbox))
    };
    let (counts, outbox) = match tokio::time::timeout(Duration::from_secs(2), read).await {
        Ok(r) => r?,
        Err(_) => return Err("délai dépassé".into()),
    };
    crate::metrics::render_jobs(&counts, &outbox, chrono::Utc::now()).map_err(|e| e.to_string())
}

/// Prometheus text exposition: HTTP requests and latencies of this process, SQL statements,
/// jobs by name (queued, running, succeeded, failed, retried) and the outbox backlog.
#[utoipa::path(get, path = "/metrics", tag = "santé", responses((status = 200, description = "Métriques Prometheus", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = state.metrics.render();
    text.push_str(&format!(
        "# HELP ecole_db_queries_total Requêtes SQL exécutées par ce processus\n# TYPE ecole_db_queries_total counter\necole_db_queries_total {}\n",
        state.queries.get()
    ));
    match job_metrics(&state).await {
        Ok(jobs) => text.push_str(&jobs),
        Err(e) => {
            tracing::warn!(error.cause = %e, "métriques des jobs indisponibles");
            text.push_str("# métriques des jobs indisponibles (base de données injoignable)\n");
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}
