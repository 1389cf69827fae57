//! The HTTP face of École: an actix-web application built as a library, so that the binary
//! and the tests run the very same app.

pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod state;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, web};

pub use error::ApiError;
pub use state::AppState;

/// Body limit of every request (uploads have their own, larger, limits).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole application: middleware, routes, docs, JSON fallbacks.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = middleware::cors(&state.settings.cors_allowed_origins);
    // Errors and panics of requests to Sentry, when SENTRY_DSN is set (no request bodies,
    // no personal data unless SENTRY_SEND_DEFAULT_PII: see ecole-telemetry).
    let sentry = actix_web::middleware::Condition::new(
        state.settings.sentry_dsn.is_some(),
        sentry_actix::Sentry::new(),
    );
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        .wrap(actix_web::middleware::from_fn(middleware::refuse_nul))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(middleware::observe))
        .wrap(sentry)
}

/// Runs the API until SIGINT/SIGTERM, then lets in-flight requests finish.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let bind = state.settings.http_bind;
    let workers = state.settings.http_workers;
    let data = web::Data::new(state);
    tracing::info!(http.bind = %bind, http.workers = workers, "API à l'écoute");
    HttpServer::new(move || build_app(data.clone()))
        .workers(workers)
        .shutdown_timeout(30)
        .bind(bind)?
        .run()
        .await
}

/// What `ecole-api` and `ecole api` run: settings from the environment, logs, then the API
/// until SIGINT/SIGTERM.
pub async fn run() -> anyhow::Result<()> {
    let settings = ecole_config::Settings::from_env()?;
    settings.ensure_fit_to_serve()?;
    let _telemetry = ecole_telemetry::init_as(&settings, "ecole-api");
    let state = AppState::new(settings)?;
    serve(state).await?;
    tracing::info!("API arrêtée");
    Ok(())
}
