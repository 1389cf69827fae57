//! `auth/login/`, `auth/refresh/`, `auth/logout/`, `auth/password/`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ecole_users::model::{LoginInput, LoginOut, PasswordChangeInput, RefreshInput, UserOut};
use ecole_users::service::{self, ClientInfo};
use serde::Serialize;

use crate::error::ApiResult;
use crate::extract::{ApiJson, CurrentUser, client_ip};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokensOut {
    pub access: String,
    pub refresh: String,
}

fn client_info(req: &HttpRequest, state: &AppState) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req, &state.settings.trusted_proxies),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// Logs in with a username (or email) and a password.
#[utoipa::path(post, path = "/api/v1/auth/login/", tag = "authentification", request_body = LoginInput,
    responses(
        (status = 200, body = LoginOut),
        (status = 400, description = "Champs manquants"),
        (status = 401, description = "Identifiants invalides"),
        (status = 429, description = "Trop de tentatives (voir Retry-After)"),
    ))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<LoginInput>,
) -> ApiResult<HttpResponse> {
    let client = client_info(&req, &state);
    let pool = state.worker_pool()?;
    let (tokens, user) =
        service::login(&pool, &state.keys, &state.throttle, &body.0, &client).await?;
    Ok(HttpResponse::Ok().json(LoginOut {
        access: tokens.access,
        refresh: tokens.refresh,
        user: UserOut::from(user),
    }))
}

/// Exchanges a refresh token for a new pair (the old refresh token stops working).
#[utoipa::path(post, path = "/api/v1/auth/refresh/", tag = "authentification", request_body = RefreshInput,
    responses((status = 200, body = TokensOut), (status = 401, description = "Jeton invalide, expiré ou déjà utilisé")))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<RefreshInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let tokens = service::refresh(&mut conn, &state.keys, &body.0.refresh).await?;
    Ok(HttpResponse::Ok().json(TokensOut {
        access: tokens.access,
        refresh: tokens.refresh,
    }))
}

/// Ends the session of a refresh token (its access tokens stop working too).
#[utoipa::path(post, path = "/api/v1/auth/logout/", tag = "authentification", request_body = RefreshInput,
    responses((status = 204, description = "Session terminée"), (status = 401, description = "Jeton inconnu")))]
pub async fn logout(
    state: web::Data<AppState>,
    body: ApiJson<RefreshInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    service::logout(&mut conn, &body.0.refresh).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes one's own password; the other sessions are ended. Wrong current passwords count
/// as failed logins (same limits).
#[utoipa::path(post, path = "/api/v1/auth/password/", tag = "authentification", request_body = PasswordChangeInput,
    security(("jwt" = [])),
    responses((status = 204, description = "Mot de passe modifié"), (status = 400, description = "Mot de passe refusé"), (status = 401),
        (status = 429, description = "Trop d'essais, ou serveur occupé (voir Retry-After)")))]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    body: ApiJson<PasswordChangeInput>,
) -> ApiResult<HttpResponse> {
    let client = client_info(&req, &state);
    let pool = state.worker_pool()?;
    service::change_password(&pool, &state.throttle, &current.actor, &body.0, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}
