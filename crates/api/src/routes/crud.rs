//! The shape list and CRUD handlers share, written once: parse the query's filters (each bad
//! parameter reported by name, 400), take the page, run one service call on a pooled
//! connection, answer JSON. A handler keeps its own `#[utoipa::path]` and passes closures.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel_async::AsyncPgConnection;
use ecole_core::{DomainResult, FieldErrors, Page, PageRequest};
use serde::Serialize;

use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::pagination::{page_request, paginated};
use crate::state::AppState;

/// `GET` of a list: `filter` reads the query parameters (adding errors by parameter), `run`
/// loads the page.
pub async fn list<F, T>(
    req: &HttpRequest,
    state: &AppState,
    filter: impl FnOnce(&QueryParams, &mut FieldErrors) -> F,
    run: impl AsyncFnOnce(&mut AsyncPgConnection, F, PageRequest) -> DomainResult<Page<T>>,
) -> ApiResult<HttpResponse>
where
    T: Serialize + utoipa::ToSchema,
{
    let params = QueryParams::from_request(req);
    let mut errors = FieldErrors::new();
    let filter = filter(&params, &mut errors);
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    let page = run(&mut conn, filter, page).await?;
    paginated(req, &params, page)
}

/// One service call, its result as JSON with `status` (200 for reads and updates, 201 for
/// creations).
pub async fn json<T: Serialize>(
    state: &AppState,
    status: StatusCode,
    run: impl AsyncFnOnce(&mut AsyncPgConnection) -> DomainResult<T>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let value = run(&mut conn).await?;
    Ok(HttpResponse::build(status).json(value))
}

/// One service call answered `204 No Content` (deletions).
pub async fn no_content(
    state: &AppState,
    run: impl AsyncFnOnce(&mut AsyncPgConnection) -> DomainResult<()>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    run(&mut conn).await?;
    Ok(HttpResponse::NoContent().finish())
}
