//! Routes of `/api/v1/` and the operational endpoints.

pub mod auth;
pub mod health;
pub mod jobs;
pub mod users;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").route(web::get().to(health::live)))
        .service(web::resource("/health/ready").route(web::get().to(health::ready)))
        .service(web::resource("/metrics").route(web::get().to(health::metrics)))
        .service(crate::openapi::swagger_ui())
        .service(
            web::scope("/api/v1")
                .service(web::resource("/auth/login").route(web::post().to(auth::login)))
                .service(web::resource("/auth/refresh").route(web::post().to(auth::refresh)))
                .service(web::resource("/auth/logout").route(web::post().to(auth::logout)))
                .service(
                    web::resource("/auth/password").route(web::post().to(auth::change_password)),
                )
                .service(
                    web::resource("/users")
                        .route(web::get().to(users::list))
                        .route(web::post().to(users::create)),
                )
                .service(
                    web::resource("/users/me")
                        .route(web::get().to(users::me))
                        .route(web::patch().to(users::update_me)),
                )
                .service(web::resource("/jobs").route(web::post().to(jobs::create)))
                .service(web::resource("/jobs/{id:\\d+}").route(web::get().to(jobs::retrieve)))
                .service(
                    web::resource("/users/{id:\\d+}")
                        .route(web::get().to(users::retrieve))
                        .route(web::put().to(users::update))
                        .route(web::patch().to(users::partial_update))
                        .route(web::delete().to(users::destroy)),
                ),
        );
}

/// Unknown routes answer 404 in the contract's JSON.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// Parses a path id (`{id:\d+}` guarantees digits; overflow is a 404).
pub fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(ApiError::not_found)
}
