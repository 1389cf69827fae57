//! `bulletins/`, `bulletins/<id>/`, `bulletins/<id>/pdf/`, `bulletins/<id>/versions/`,
//! `bulletins/generer/`, `bulletins/publier/`, `bulletins/regles/`, `bulletins/appreciations/`
//! (+ `saisie/`), `bulletins/conseil/`.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use ecole_core::{FieldErrors, Role};
use ecole_db::enums::{CodePeriode, StatutBulletin};
use ecole_pedagogie::bulletins::{conseil, consultation, publication, travaux};
use ecole_pedagogie::regles;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, CurrentUser, QueryParams};
use crate::pagination::{Paginated, page_request, paginated};
use crate::routes::jobs::Accepted;
use crate::routes::path_id;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/bulletins/", tag = "bulletins", security(("jwt" = [])),
    params(("classe" = Option<i64>, Query), ("periode" = Option<CodePeriode>, Query), ("annee_scolaire" = Option<i64>, Query),
        ("eleve" = Option<i64>, Query), ("statut" = Option<StatutBulletin>, Query),
        ("a_recalculer" = Option<bool>, Query, description = "Bulletins à recalculer (notes, coefficients, enseignements, présences, appréciations ou conseil de classe modifiés depuis le calcul)"),
        ("search" = Option<String>, Query, description = "Nom, prénom, matricule"),
        ("ordering" = Option<String>, Query, description = "rang, moyenne_generale, eleve, classe"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<consultation::BulletinOut>), (status = 401), (status = 403)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = consultation::BulletinFilter {
        classe: params.parse_id("classe", &mut errors),
        periode: params.parse::<CodePeriode>("periode", &mut errors),
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        eleve: params.parse_id("eleve", &mut errors),
        statut: params.parse::<StatutBulletin>("statut", &mut errors),
        a_recalculer: params.parse_bool("a_recalculer", &mut errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering(
            consultation::BulletinOrdering::parse,
            consultation::BulletinOrdering::FIELDS,
            &mut errors,
        ),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        consultation::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

/// A report card with its subject lines (and the annual result on the year's last period).
#[utoipa::path(get, path = "/api/v1/bulletins/{id}/", tag = "bulletins", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = consultation::BulletinDetail), (status = 401), (status = 404)))]
pub async fn retrieve(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(consultation::get(&mut conn, &user.actor, id).await?))
}

/// The PDF (`application/pdf`); 404 outside the caller's scope or before it is rendered.
#[utoipa::path(get, path = "/api/v1/bulletins/{id}/pdf/", tag = "bulletins", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 401), (status = 404)))]
pub async fn pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let (relative, filename) = {
        let mut conn = state.conn().await?;
        consultation::pdf(&mut conn, &user.actor, id).await?
    };
    stream_pdf(&state, &relative, filename).await
}

/// Every version of a bulletin, newest first: the current one and those its corrections
/// replaced, each with its PDF's path and SHA-256 (ADMIN, DIRECTION; never served to
/// families).
#[utoipa::path(get, path = "/api/v1/bulletins/{id}/versions/", tag = "bulletins", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<consultation::VersionOut>), (status = 401), (status = 403), (status = 404)))]
pub async fn versions(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(consultation::versions(&mut conn, &user.actor, id).await?))
}

/// Sends a stored PDF (a path the server wrote, relative to the media root).
pub async fn stream_pdf(
    state: &AppState,
    relative: &str,
    filename: String,
) -> ApiResult<HttpResponse> {
    let path = ecole_core::media::resolve(&state.settings.media_root, relative)
        .ok_or_else(ApiError::not_found)?;
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(filename)],
    };
    if let Some(prefix) = &state.settings.media_accel_redirect {
        // Behind nginx: the scope is checked, nginx sends the bytes from its `internal`
        // location (MEDIA_ACCEL_REDIRECT), the file never is a public URL.
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            tracing::warn!(fichier = %relative, "PDF enregistré mais absent du disque");
            return Err(ApiError::not_found());
        }
        return Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header(disposition)
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .insert_header(("X-Accel-Redirect", format!("{prefix}{relative}")))
            .finish());
    }
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(fichier = %relative, "PDF enregistré mais absent du disque");
            return Err(ApiError::not_found());
        }
        Err(e) => {
            tracing::error!(fichier = %relative, error.cause = %e, "lecture du PDF impossible");
            return Err(ApiError::internal());
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(disposition)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// Computes a period's report cards (a class, or every class of the year) as a job:
/// `202 {"job_id", "status_url"}` (ADMIN, DIRECTION). Computing again replaces the figures in
/// place; a class with published bulletins is left as it is unless `force` (then they stay
/// published, get a new version and the families are told of the correction).
#[utoipa::path(post, path = "/api/v1/bulletins/generer/", tag = "bulletins", security(("jwt" = [])),
    request_body = travaux::GenererInput,
    responses((status = 202, body = Accepted), (status = 400), (status = 401), (status = 403)))]
pub async fn generer(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<travaux::GenererInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let id = travaux::demander_generation(&mut conn, &user.actor, &body.0).await?;
    Ok(Accepted::response(id))
}

/// Publishes a class's rendered report cards for a period and notifies the families
/// (ADMIN, DIRECTION); 409 while one of them needs recomputing.
#[utoipa::path(post, path = "/api/v1/bulletins/publier/", tag = "bulletins", security(("jwt" = [])),
    request_body = publication::PublierInput,
    responses((status = 200, body = publication::Publication), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn publier(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<publication::PublierInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(publication::publier(&mut conn, &user.actor, &body.0).await?))
}

/// The report-card rules (weights, mention thresholds, honour roll, admission).
#[utoipa::path(get, path = "/api/v1/bulletins/regles/", tag = "bulletins", security(("jwt" = [])),
    responses((status = 200, body = regles::ReglesBulletin), (status = 401), (status = 403)))]
pub async fn regles_get(state: web::Data<AppState>, user: CurrentUser) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(regles::get(&mut conn, &user.actor).await?))
}

/// The body `PUT bulletins/regles/` needs (the PATCH type with every field required); for the
/// document only.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReglesReplace {
    pub poids_cours: i32,
    pub poids_composition: i32,
    pub seuil_excellent: f64,
    pub seuil_tres_bien: f64,
    pub seuil_bien: f64,
    pub seuil_assez_bien: f64,
    pub seuil_passable: f64,
    pub seuil_insuffisant: f64,
    pub seuil_tableau_honneur: f64,
    pub seuil_admission: f64,
}

/// Replaces the rules (ADMIN; every field).
#[utoipa::path(put, path = "/api/v1/bulletins/regles/", tag = "bulletins", security(("jwt" = [])),
    request_body = ReglesReplace,
    responses((status = 200, body = regles::ReglesBulletin), (status = 400), (status = 401), (status = 403)))]
pub async fn regles_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<regles::ReglesInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(regles::update(&mut conn, &user.actor, body.0, false).await?))
}

/// Changes some rules (ADMIN).
#[utoipa::path(patch, path = "/api/v1/bulletins/regles/", tag = "bulletins", security(("jwt" = [])),
    request_body = regles::ReglesInput,
    responses((status = 200, body = regles::ReglesBulletin), (status = 400), (status = 401), (status = 403)))]
pub async fn regles_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<regles::ReglesInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(regles::update(&mut conn, &user.actor, body.0, true).await?))
}

/// `classe`, `matiere`, `periode` of a query, each required.
fn required<T>(value: Option<T>, key: &str, errors: &mut FieldErrors) -> Option<T> {
    if value.is_none() && !errors.0.contains_key(key) {
        errors.add(key, "Ce paramètre est obligatoire.");
    }
    value
}

/// The appreciations written for a class in a subject and period (ADMIN, DIRECTION, or the
/// subject's teacher in the class).
#[utoipa::path(get, path = "/api/v1/bulletins/appreciations/", tag = "bulletins", security(("jwt" = [])),
    params(("classe" = i64, Query), ("matiere" = i64, Query), ("periode" = CodePeriode, Query)),
    responses((status = 200, body = Vec<conseil::AppreciationOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn appreciations_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    // Refused before the parameters are read: a 400 would tell a stranger the route exists.
    user.actor
        .require(&[Role::Admin, Role::Direction, Role::Enseignant])?;
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let classe = required(
        params.parse_id("classe", &mut errors),
        "classe",
        &mut errors,
    );
    let matiere = required(
        params.parse_id("matiere", &mut errors),
        "matiere",
        &mut errors,
    );
    let periode = required(
        params.parse::<CodePeriode>("periode", &mut errors),
        "periode",
        &mut errors,
    );
    errors.into_result()?;
    let (Some(classe), Some(matiere), Some(periode)) = (classe, matiere, periode) else {
        return Err(ApiError::internal());
    };
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(conseil::lister(&mut conn, &user.actor, classe, matiere, periode).await?))
}

/// Writes a teacher's appreciation of a pupil in a subject and period (at most 200
/// characters; an empty `texte` removes it). ADMIN, DIRECTION, or the subject's teacher in
/// the class (403 otherwise). A bulletin already computed is flagged `a_recalculer`.
#[utoipa::path(post, path = "/api/v1/bulletins/appreciations/", tag = "bulletins", security(("jwt" = [])),
    request_body = conseil::AppreciationInput,
    responses((status = 200, body = conseil::AppreciationOut), (status = 400), (status = 401), (status = 403)))]
pub async fn appreciations_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<conseil::AppreciationInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(conseil::ecrire(&mut conn, &user.actor, body.0).await?))
}

/// A class's appreciations in one subject and period, at most 200 pupils, all or nothing
/// (same rights as one appreciation).
#[utoipa::path(post, path = "/api/v1/bulletins/appreciations/saisie/", tag = "bulletins", security(("jwt" = [])),
    request_body = conseil::AppreciationsSaisie,
    responses((status = 200, body = conseil::SaisieAppreciations), (status = 400), (status = 401), (status = 403)))]
pub async fn appreciations_saisie(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<conseil::AppreciationsSaisie>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(conseil::saisie(&mut conn, &user.actor, body.0).await?))
}

/// The class council's records for every pupil of a class and period (ADMIN, DIRECTION).
#[utoipa::path(get, path = "/api/v1/bulletins/conseil/", tag = "bulletins", security(("jwt" = [])),
    params(("classe" = i64, Query), ("periode" = CodePeriode, Query)),
    responses((status = 200, body = Vec<conseil::ConseilOut>), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn conseil_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    user.actor.require(&[Role::Admin, Role::Direction])?;
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let classe = required(
        params.parse_id("classe", &mut errors),
        "classe",
        &mut errors,
    );
    let periode = required(
        params.parse::<CodePeriode>("periode", &mut errors),
        "periode",
        &mut errors,
    );
    errors.into_result()?;
    let (Some(classe), Some(periode)) = (classe, periode) else {
        return Err(ApiError::internal());
    };
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(conseil::lister_conseil(&mut conn, &user.actor, classe, periode).await?))
}

/// Records the class council for a pupil and period (ADMIN, DIRECTION): general
/// appreciation, distinction or sanction and, on the year's last period, the decision, which
/// overrides the computed one. Omitted fields keep their value; audited; a bulletin already
/// computed is flagged `a_recalculer`.
#[utoipa::path(post, path = "/api/v1/bulletins/conseil/", tag = "bulletins", security(("jwt" = [])),
    request_body = conseil::ConseilInput,
    responses((status = 200, body = conseil::ConseilOut), (status = 400), (status = 401), (status = 403)))]
pub async fn conseil_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<conseil::ConseilInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(
        HttpResponse::Ok()
            .json(conseil::enregistrer_conseil(&mut conn, &user.actor, body.0).await?),
    )
}
