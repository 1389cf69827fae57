//! One outer middleware for every request: trailing-slash normalisation, request id, tracing
//! span and one log line, metrics, security headers, and the contract's JSON for errors
//! produced outside the handlers (router, CORS). CORS itself is actix-cors.

use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const DOCS_PREFIX: &str = "/api/v1/docs";

/// The request id, stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (8..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// `/api/v1/users/me/` and `/api/v1/users/me` reach the same route (the docs keep their slash).
fn normalize_path(req: &mut ServiceRequest) {
    let path = req.path();
    if path.len() <= 1 || !path.ends_with('/') || path.starts_with(DOCS_PREFIX) {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let new_path = match req.query_string() {
        "" => trimmed.to_string(),
        q => format!("{trimmed}?{q}"),
    };
    if let Ok(uri) = new_path.parse::<Uri>() {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

fn is_json_response<B>(res: &ServiceResponse<B>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/json") || ct.starts_with("application/problem+json")
        })
}

fn set_security_headers<B>(res: &mut ServiceResponse<B>, path: &str, authenticated: bool) {
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    let csp = if path.starts_with(DOCS_PREFIX) {
        // Swagger UI is served from the binary: its own scripts, styles and inline images.
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    if authenticated || path.starts_with("/api/v1/auth") {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    headers.remove(header::SERVER);
}

pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, Error> {
    let started = Instant::now();
    normalize_path(&mut req);
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.path().to_string();
    let authenticated = req.headers().contains_key(header::AUTHORIZATION);
    let span = tracing::info_span!(
        "http.request",
        request_id = %id,
        http.method = %method,
        http.path = %path,
        user.id = tracing::field::Empty,
    );

    let mut res = match next.call(req).instrument(span.clone()).await {
        Ok(res) => res.map_into_left_body(),
        Err(err) => {
            // Rare (handler errors arrive as responses): answer in the contract's JSON.
            let status = err.as_response_error().status_code();
            span.in_scope(|| tracing::warn!(http.status = status.as_u16(), error.cause = %err, "requête en erreur"));
            return Err(ApiError::for_status(status, method.as_str()).into());
        }
    };

    let status = res.status();
    if status.is_client_error() || status.is_server_error() {
        if status == StatusCode::INTERNAL_SERVER_ERROR
            && let Some(err) = res.response().error()
        {
            span.in_scope(|| tracing::error!(error.cause = %err, "erreur interne"));
        }
        if !is_json_response(&res) {
            let api = ApiError::for_status(status, method.as_str());
            let (request, response) = res.into_parts();
            let mut replacement = api.error_response();
            for (name, value) in response.headers() {
                if name == header::ALLOW
                    || name == header::RETRY_AFTER
                    || name.as_str().starts_with("access-control-")
                    || name == header::VARY
                {
                    replacement
                        .headers_mut()
                        .insert(name.clone(), value.clone());
                }
            }
            res = ServiceResponse::new(request, replacement).map_into_right_body();
        }
    }

    set_security_headers(&mut res, &path, authenticated);
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }

    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "inconnue".to_string());
    let elapsed = started.elapsed();
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state.metrics.observe(
            method.as_str(),
            &route,
            res.status().as_u16(),
            elapsed.as_secs_f64(),
        );
    }
    let level_warn = res.status().is_server_error();
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if level_warn {
            tracing::warn!(http.status = res.status().as_u16(), http.route = %route, duration_ms = ms, "requête");
        } else if path.starts_with("/health") || path == "/metrics" {
            tracing::debug!(http.status = res.status().as_u16(), http.route = %route, duration_ms = ms, "requête");
        } else {
            tracing::info!(http.status = res.status().as_u16(), http.route = %route, duration_ms = ms, "requête");
        }
    });
    Ok(res)
}

/// PostgreSQL's text cannot hold a NUL character: a `%00` in the query string is a 400 for
/// every parameter (inside CORS, so the answer carries its headers like any other).
pub async fn refuse_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, Error> {
    if req.query_string().contains("%00") {
        return Ok(req
            .error_response(ApiError::field(
                "non_field_errors",
                "Le caractère nul (%00) n'est accepté dans aucun paramètre.",
            ))
            .map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The authenticated routes' door: the access token and its session are checked before the
/// handler runs, so before its extractors read the body. A request without a valid token
/// answers 401 whatever its body (a revoked session cannot probe validation), and changes
/// nothing. Paths that match no route are left to the router (404).
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, Error> {
    match crate::extract::authenticate(req.request()).await {
        Ok(current) => {
            req.extensions_mut().insert(current.actor);
            req.extensions_mut().insert(current);
        }
        // Looked up only on failure: the signed-in hot path pays nothing for it.
        Err(e) if req.match_pattern().is_some() => {
            return Ok(req.error_response(e).map_into_right_body());
        }
        Err(_) => {}
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// CORS from `CORS_ALLOWED_ORIGINS` only: exact origins, credentials allowed, never `*`,
/// never `null`.
pub fn cors(allowed: &[String]) -> Cors {
    let allowed: Vec<String> = allowed.to_vec();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| o != "null" && allowed.iter().any(|a| a == o))
        })
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER, header::CONTENT_DISPOSITION])
        .supports_credentials()
        .max_age(3600)
}
