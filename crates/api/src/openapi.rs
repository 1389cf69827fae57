//! The OpenAPI document, generated from the handlers, and Swagger UI served from the binary.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{auth, health, jobs, users};

struct JwtAuth;

impl Modify for JwtAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("jwt", SecurityScheme::Http(scheme));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "École — API",
        description = "API REST de gestion scolaire (élèves, notes, bulletins, finances en GNF, communication, bibliothèque). \
Erreurs : 400 `{\"champ\": [\"message\"]}`, sinon `{\"detail\", \"code\"}`. Listes paginées `{count, next, previous, results}`.",
        version = "1"
    ),
    paths(
        health::live, health::ready, health::metrics,
        auth::login, auth::refresh, auth::logout, auth::change_password,
        users::list, users::create, users::retrieve, users::update, users::partial_update, users::destroy,
        users::me, users::update_me,
        jobs::retrieve, jobs::create,
    ),
    components(schemas(auth::TokensOut)),
    modifiers(&JwtAuth),
    tags(
        (name = "authentification"), (name = "utilisateurs"), (name = "jobs"), (name = "santé"),
    )
)]
pub struct ApiDoc;

/// `/api/v1/docs/` and `/api/v1/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/api/v1/docs/{_:.*}").url("/api/v1/openapi.json", ApiDoc::openapi())
}
