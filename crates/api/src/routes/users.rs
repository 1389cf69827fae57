//! `users/` (ADMIN writes; ADMIN, DIRECTION and BIBLIOTHECAIRE read) and `users/me/`.

use actix_web::{HttpRequest, HttpResponse, web};
use ecole_core::{FieldErrors, Role};
use ecole_users::model::{MeUpdate, NewUserInput, UserFilter, UserOrdering, UserOut, UserUpdate};
use ecole_users::service;
use ecole_users::telephone::{self, ConfirmationTelephone, DemandeTelephone, DemandeTelephoneOut};

use crate::error::ApiResult;
use crate::extract::{ApiJson, CurrentUser, QueryParams};
use crate::pagination::{Paginated, page_request, paginated};
use crate::routes::path_id;
use crate::state::AppState;

/// Lists users.
#[utoipa::path(get, path = "/api/v1/users/", tag = "utilisateurs", security(("jwt" = [])),
    params(
        ("role" = Option<Role>, Query, description = "Filtre par rôle"),
        ("is_active" = Option<bool>, Query),
        ("search" = Option<String>, Query, description = "Nom d'utilisateur, e-mail, prénom, nom"),
        ("ordering" = Option<String>, Query, description = "username, last_name, first_name, email, role, created_at, last_login, id ; préfixe - pour décroissant"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query),
    ),
    responses((status = 200, body = Paginated<UserOut>), (status = 401), (status = 403)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = UserFilter {
        role: params.parse::<Role>("role", &mut errors),
        is_active: params.parse_bool("is_active", &mut errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering(UserOrdering::parse, UserOrdering::FIELDS, &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    let users = service::list_users(&mut conn, &current.actor, &filter, page).await?;
    paginated(&req, &params, users.map(UserOut::from))
}

/// Creates a user (ADMIN).
#[utoipa::path(post, path = "/api/v1/users/", tag = "utilisateurs", security(("jwt" = [])), request_body = NewUserInput,
    responses((status = 201, body = UserOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: ApiJson<NewUserInput>,
) -> ApiResult<HttpResponse> {
    current.actor.require(&[Role::Admin])?;
    let mut conn = state.conn().await?;
    let user = service::create_user(&mut conn, Some(&current.actor), &body.0).await?;
    Ok(HttpResponse::Created().json(UserOut::from(user)))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}/", tag = "utilisateurs", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = UserOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let user = service::get_user(&mut conn, &current.actor, id).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

async fn do_update(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    body: UserUpdate,
    partial: bool,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let user = service::update_user(&mut conn, &current.actor, id, &body, partial).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// The body `PUT users/<id>/` needs (the same type as PATCH, read with these fields required);
/// for the document only.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserReplace {
    pub username: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub role: ecole_core::Role,
    pub telephone: Option<String>,
    pub is_active: Option<bool>,
    /// Sets a new password (and ends the user's sessions).
    pub password: Option<String>,
}

/// Replaces a user's fields (ADMIN); `password` sets a new one and ends their sessions.
#[utoipa::path(put, path = "/api/v1/users/{id}/", tag = "utilisateurs", security(("jwt" = [])), request_body = UserReplace,
    params(("id" = i64, Path)), responses((status = 200, body = UserOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<UserUpdate>,
) -> ApiResult<HttpResponse> {
    do_update(state, current, path, body.0, false).await
}

/// Changes some of a user's fields (ADMIN).
#[utoipa::path(patch, path = "/api/v1/users/{id}/", tag = "utilisateurs", security(("jwt" = [])), request_body = UserUpdate,
    params(("id" = i64, Path)), responses((status = 200, body = UserOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<UserUpdate>,
) -> ApiResult<HttpResponse> {
    do_update(state, current, path, body.0, true).await
}

/// Deactivates a user (ADMIN); users are never deleted.
#[utoipa::path(delete, path = "/api/v1/users/{id}/", tag = "utilisateurs", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    service::deactivate_user(&mut conn, &current.actor, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/users/me/", tag = "utilisateurs", security(("jwt" = [])),
    responses((status = 200, body = UserOut), (status = 401)))]
pub async fn me(current: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(UserOut::from(&current.user))
}

/// Changes one's own email (nothing else). The phone number changes through
/// `users/me/telephone/`; `telephone` is accepted here only unchanged.
#[utoipa::path(patch, path = "/api/v1/users/me/", tag = "utilisateurs", security(("jwt" = [])), request_body = MeUpdate,
    responses((status = 200, body = UserOut), (status = 400), (status = 401)))]
pub async fn update_me(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: ApiJson<MeUpdate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let user = service::update_me(&mut conn, &current.actor, &body.0).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// Asks to change one's own phone number: a 6-digit code goes by SMS to the new number
/// (valid 10 minutes, 5 tries). One request a minute, five a day.
#[utoipa::path(post, path = "/api/v1/users/me/telephone/", tag = "utilisateurs", security(("jwt" = [])), request_body = DemandeTelephone,
    responses((status = 202, body = DemandeTelephoneOut), (status = 400), (status = 401),
        (status = 429, description = "Code demandé trop souvent (voir Retry-After)")))]
pub async fn telephone_demander(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: ApiJson<DemandeTelephone>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let out = telephone::demander(&mut conn, &current.actor, &body.0).await?;
    Ok(HttpResponse::Accepted().json(out))
}

/// Confirms the new phone number with the code received by SMS; the number is then set.
#[utoipa::path(post, path = "/api/v1/users/me/telephone/confirmer/", tag = "utilisateurs", security(("jwt" = [])), request_body = ConfirmationTelephone,
    responses((status = 200, body = UserOut), (status = 400, description = "Code incorrect, expiré ou sans demande en attente"), (status = 401)))]
pub async fn telephone_confirmer(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: ApiJson<ConfirmationTelephone>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let user = telephone::confirmer(
        &mut conn,
        state.settings.secret_bytes(),
        &current.actor,
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}
