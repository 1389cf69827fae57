//! `etablissement/`, `annees-scolaires/`, `periodes/`, `classes/`, `matieres/`, `enseignements/`.

use actix_web::{HttpRequest, HttpResponse, web};
use ecole_administration::{annees, classes, enseignements, etablissement, matieres, periodes};
use ecole_core::FieldErrors;
use ecole_core::scope::Scope;
use ecole_db::enums::{CodePeriode, Niveau};

use crate::error::ApiResult;
use crate::extract::{ApiJson, CurrentUser, QueryParams};
use crate::pagination::{Paginated, page_request, paginated};
use crate::routes::path_id;
use crate::state::AppState;

// ---------- etablissement ----------

/// The school (name, motto, director…), printed on every PDF.
#[utoipa::path(get, path = "/api/v1/etablissement/", tag = "structure", security(("jwt" = [])),
    responses((status = 200, body = etablissement::Etablissement), (status = 401)))]
pub async fn etablissement_get(
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(etablissement::get(&mut conn).await?))
}

/// Changes the school's identity (ADMIN).
#[utoipa::path(put, path = "/api/v1/etablissement/", tag = "structure", security(("jwt" = [])),
    request_body = etablissement::EtablissementInput,
    responses((status = 200, body = etablissement::Etablissement), (status = 400), (status = 401), (status = 403)))]
pub async fn etablissement_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<etablissement::EtablissementInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(etablissement::update(&mut conn, &user.actor, body.0).await?))
}

/// The school's logo, printed on every PDF (ADMIN): PNG or JPEG, 2 Mo at most, checked by
/// content; raw body or multipart (field `logo`).
#[utoipa::path(put, path = "/api/v1/etablissement/logo/", tag = "structure", security(("jwt" = [])),
    request_body(content = Vec<u8>, content_type = "image/png"),
    responses((status = 200, body = etablissement::Etablissement), (status = 400), (status = 401), (status = 403), (status = 413)))]
pub async fn etablissement_logo_put(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    user.actor.require(&[ecole_core::Role::Admin])?;
    let (_, bytes) =
        crate::extract::upload(&req, payload, etablissement::LOGO_MAX_BYTES, "2 Mo").await?;
    let mut conn = state.conn().await?;
    let school = etablissement::set_logo(
        &mut conn,
        &user.actor,
        &state.settings.media_root,
        Some(&bytes),
    )
    .await?;
    Ok(HttpResponse::Ok().json(school))
}

/// Removes the logo (ADMIN).
#[utoipa::path(delete, path = "/api/v1/etablissement/logo/", tag = "structure", security(("jwt" = [])),
    responses((status = 204), (status = 401), (status = 403)))]
pub async fn etablissement_logo_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    etablissement::set_logo(&mut conn, &user.actor, &state.settings.media_root, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- annees-scolaires ----------

#[utoipa::path(get, path = "/api/v1/annees-scolaires/", tag = "structure", security(("jwt" = [])),
    params(("est_active" = Option<bool>, Query), ("ordering" = Option<String>, Query, description = "nom, date_debut"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<annees::AnneeScolaire>), (status = 401)))]
pub async fn annees_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = annees::AnneeFilter {
        est_active: params.parse_bool("est_active", &mut errors),
        ordering: params.ordering(
            annees::AnneeOrdering::parse,
            annees::AnneeOrdering::FIELDS,
            &mut errors,
        ),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(&req, &params, annees::list(&mut conn, &filter, page).await?)
}

#[utoipa::path(post, path = "/api/v1/annees-scolaires/", tag = "structure", security(("jwt" = [])), request_body = annees::AnneeInput,
    responses((status = 201, body = annees::AnneeScolaire), (status = 400), (status = 403)))]
pub async fn annees_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<annees::AnneeInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(annees::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/annees-scolaires/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = annees::AnneeScolaire), (status = 404)))]
pub async fn annees_get(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(annees::get(&mut conn, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/annees-scolaires/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = annees::AnneeInput, responses((status = 200, body = annees::AnneeScolaire), (status = 400), (status = 403), (status = 404)))]
pub async fn annees_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<annees::AnneeInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(annees::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(patch, path = "/api/v1/annees-scolaires/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = annees::AnneePatch, responses((status = 200, body = annees::AnneeScolaire), (status = 400), (status = 403), (status = 404)))]
pub async fn annees_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<annees::AnneePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let current = annees::get(&mut conn, id).await?;
    Ok(HttpResponse::Ok()
        .json(annees::update(&mut conn, &user.actor, id, body.0.merge(&current)).await?))
}

#[utoipa::path(delete, path = "/api/v1/annees-scolaires/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "Année utilisée")))]
pub async fn annees_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    annees::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes this year the only active one.
#[utoipa::path(post, path = "/api/v1/annees-scolaires/{id}/activer/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = annees::AnneeScolaire), (status = 403), (status = 404)))]
pub async fn annees_activer(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(annees::activate(&mut conn, &user.actor, path_id(&path)?).await?))
}

// ---------- periodes ----------

#[utoipa::path(get, path = "/api/v1/periodes/", tag = "structure", security(("jwt" = [])),
    params(("annee_scolaire" = Option<i64>, Query), ("code" = Option<CodePeriode>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<periodes::Periode>)))]
pub async fn periodes_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = periodes::PeriodeFilter {
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        code: params.parse::<CodePeriode>("code", &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        periodes::list(&mut conn, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/periodes/", tag = "structure", security(("jwt" = [])), request_body = periodes::PeriodeInput,
    responses((status = 201, body = periodes::Periode), (status = 400), (status = 403)))]
pub async fn periodes_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<periodes::PeriodeInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(periodes::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/periodes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = periodes::Periode), (status = 404)))]
pub async fn periodes_get(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(periodes::get(&mut conn, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/periodes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = periodes::PeriodeInput, responses((status = 200, body = periodes::Periode), (status = 400), (status = 403), (status = 404)))]
pub async fn periodes_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<periodes::PeriodeInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(periodes::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(patch, path = "/api/v1/periodes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = periodes::PeriodePatch, responses((status = 200, body = periodes::Periode), (status = 400), (status = 403), (status = 404)))]
pub async fn periodes_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<periodes::PeriodePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let current = periodes::get(&mut conn, id).await?;
    Ok(HttpResponse::Ok()
        .json(periodes::update(&mut conn, &user.actor, id, body.0.merge(&current)).await?))
}

#[utoipa::path(delete, path = "/api/v1/periodes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn periodes_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    periodes::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- classes ----------

#[utoipa::path(get, path = "/api/v1/classes/", tag = "structure", security(("jwt" = [])),
    params(("annee_scolaire" = Option<i64>, Query), ("niveau" = Option<Niveau>, Query), ("search" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<classes::Classe>)))]
pub async fn classes_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = classes::ClasseFilter {
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        niveau: params.parse::<Niveau>("niveau", &mut errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering_named(classes::CLASSE_ORDERING, &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    let scope = Scope::of(&mut conn, &user.actor).await?;
    paginated(
        &req,
        &params,
        classes::list(&mut conn, &scope, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/classes/", tag = "structure", security(("jwt" = [])), request_body = classes::ClasseInput,
    responses((status = 201, body = classes::Classe), (status = 400), (status = 403)))]
pub async fn classes_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<classes::ClasseInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(classes::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/classes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = classes::Classe), (status = 404)))]
pub async fn classes_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let scope = Scope::of(&mut conn, &user.actor).await?;
    Ok(HttpResponse::Ok().json(classes::get(&mut conn, &scope, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/classes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = classes::ClasseInput, responses((status = 200, body = classes::Classe), (status = 400), (status = 403), (status = 404)))]
pub async fn classes_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<classes::ClasseInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(classes::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(patch, path = "/api/v1/classes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = classes::ClassePatch, responses((status = 200, body = classes::Classe), (status = 400), (status = 403), (status = 404)))]
pub async fn classes_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<classes::ClassePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let scope = Scope::of(&mut conn, &user.actor).await?;
    let current = classes::get(&mut conn, &scope, id).await?;
    Ok(HttpResponse::Ok()
        .json(classes::update(&mut conn, &user.actor, id, body.0.merge(&current)).await?))
}

#[utoipa::path(delete, path = "/api/v1/classes/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn classes_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    classes::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- matieres ----------

#[utoipa::path(get, path = "/api/v1/matieres/", tag = "structure", security(("jwt" = [])),
    params(("search" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<matieres::Matiere>)))]
pub async fn matieres_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = matieres::MatiereFilter {
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering_named(matieres::MATIERE_ORDERING, &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        matieres::list(&mut conn, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/matieres/", tag = "structure", security(("jwt" = [])), request_body = matieres::MatiereInput,
    responses((status = 201, body = matieres::Matiere), (status = 400), (status = 403)))]
pub async fn matieres_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<matieres::MatiereInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(matieres::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/matieres/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = matieres::Matiere), (status = 404)))]
pub async fn matieres_get(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(matieres::get(&mut conn, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/matieres/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = matieres::MatiereInput, responses((status = 200, body = matieres::Matiere), (status = 400), (status = 403), (status = 404)))]
pub async fn matieres_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<matieres::MatiereInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(matieres::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(patch, path = "/api/v1/matieres/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = matieres::MatierePatch, responses((status = 200, body = matieres::Matiere), (status = 400), (status = 403), (status = 404)))]
pub async fn matieres_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<matieres::MatierePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let current = matieres::get(&mut conn, id).await?;
    Ok(HttpResponse::Ok()
        .json(matieres::update(&mut conn, &user.actor, id, body.0.merge(&current)).await?))
}

#[utoipa::path(delete, path = "/api/v1/matieres/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn matieres_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    matieres::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- enseignements ----------

#[utoipa::path(get, path = "/api/v1/enseignements/", tag = "structure", security(("jwt" = [])),
    params(("classe" = Option<i64>, Query), ("matiere" = Option<i64>, Query), ("enseignant" = Option<i64>, Query),
        ("annee_scolaire" = Option<i64>, Query, description = "Année scolaire (celle de la classe)"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<enseignements::Enseignement>), (status = 403)))]
pub async fn enseignements_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = enseignements::EnseignementFilter {
        classe: params.parse_id("classe", &mut errors),
        matiere: params.parse_id("matiere", &mut errors),
        enseignant: params.parse_id("enseignant", &mut errors),
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        enseignements::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/enseignements/", tag = "structure", security(("jwt" = [])), request_body = enseignements::EnseignementInput,
    responses((status = 201, body = enseignements::Enseignement), (status = 400), (status = 403)))]
pub async fn enseignements_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<enseignements::EnseignementInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(enseignements::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/enseignements/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = enseignements::Enseignement), (status = 404)))]
pub async fn enseignements_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(enseignements::get_for(&mut conn, &user.actor, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/enseignements/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = enseignements::EnseignementInput, responses((status = 200, body = enseignements::Enseignement), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn enseignements_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<enseignements::EnseignementInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(enseignements::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(patch, path = "/api/v1/enseignements/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = enseignements::EnseignementPatch, responses((status = 200, body = enseignements::Enseignement), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn enseignements_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<enseignements::EnseignementPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let current = enseignements::get_for(&mut conn, &user.actor, id).await?;
    Ok(HttpResponse::Ok()
        .json(enseignements::update(&mut conn, &user.actor, id, body.0.merge(&current)).await?))
}

/// Refused (409) while grades were given in this subject for this class.
#[utoipa::path(delete, path = "/api/v1/enseignements/{id}/", tag = "structure", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "Des notes ont été saisies dans cette matière pour cette classe")))]
pub async fn enseignements_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    enseignements::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
