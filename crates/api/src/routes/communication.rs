//! `notifications/`: the caller's own notifications (every role), read marks, unread count.

use actix_web::{HttpRequest, HttpResponse, web};
use ecole_communication::{Compte, NotificationFilter, NotificationOut, TypeNotification, service};
use ecole_core::FieldErrors;

use crate::error::ApiResult;
use crate::extract::{CurrentUser, QueryParams};
use crate::pagination::{Paginated, page_request, paginated};
use crate::routes::path_id;
use crate::state::AppState;

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications/", tag = "communication", security(("jwt" = [])),
    params(("lue" = Option<bool>, Query), ("type_notification" = Option<TypeNotification>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<NotificationOut>), (status = 401)))]
pub async fn notifications_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = NotificationFilter {
        lue: params.parse_bool("lue", &mut errors),
        type_notification: params.parse::<TypeNotification>("type_notification", &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        service::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

/// Marks one of the caller's notifications read (404 for anyone else's).
#[utoipa::path(post, path = "/api/v1/notifications/{id}/lire/", tag = "communication", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = NotificationOut), (status = 404)))]
pub async fn notifications_lire(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(service::lire(&mut conn, &user.actor, path_id(&path)?).await?))
}

/// Marks every unread notification of the caller read; `count` says how many.
#[utoipa::path(post, path = "/api/v1/notifications/tout-lire/", tag = "communication", security(("jwt" = [])),
    responses((status = 200, body = Compte), (status = 401)))]
pub async fn notifications_tout_lire(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let count = service::tout_lire(&mut conn, &user.actor).await?;
    Ok(HttpResponse::Ok().json(Compte { count }))
}

/// How many of the caller's notifications are unread.
#[utoipa::path(get, path = "/api/v1/notifications/non-lues/", tag = "communication", security(("jwt" = [])),
    responses((status = 200, body = Compte), (status = 401)))]
pub async fn notifications_non_lues(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let count = service::non_lues(&mut conn, &user.actor).await?;
    Ok(HttpResponse::Ok().json(Compte { count }))
}
