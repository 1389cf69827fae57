//! `livres/` (with `import/`), `exemplaires/`, `emprunts/` (with `<id>/retour/`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use ecole_bibliotheque::{Regles, emprunts, exemplaires, import, livres};
use ecole_core::FieldErrors;
use ecole_db::enums::{EtatExemplaire, StatutEmprunt};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, CurrentUser, QueryParams, optional_body};
use crate::pagination::Paginated;
use crate::routes::{crud, path_id};
use crate::state::AppState;

fn regles(state: &AppState) -> Regles {
    Regles::from_settings(&state.settings)
}

fn search(params: &QueryParams) -> Option<String> {
    params.get("search").map(|s| s.chars().take(100).collect())
}

// ---------- livres/ ----------

/// The catalogue (every signed-in user). `?search=`: every word in the title, the author or
/// the ISBN (accents and case ignored; an ISBN with or without hyphens, ISBN-10 or 13).
#[utoipa::path(get, path = "/api/v1/livres/", tag = "bibliothèque", security(("jwt" = [])),
    params(("search" = Option<String>, Query, description = "Mots du titre, de l'auteur ou de l'ISBN"),
        ("categorie" = Option<String>, Query), ("disponible" = Option<bool>, Query),
        ("ordering" = Option<String>, Query, description = "titre, auteur, annee_publication, categorie, created_at"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<livres::Livre>), (status = 400), (status = 401)))]
pub async fn livres_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> ApiResult<HttpResponse> {
    crud::list(
        &req,
        &state,
        |p, e| livres::LivreFilter {
            search: search(p),
            categorie: p.get("categorie").map(String::from),
            disponible: p.parse_bool("disponible", e),
            ordering: p.ordering(
                livres::LivreOrdering::parse,
                livres::LivreOrdering::FIELDS,
                e,
            ),
        },
        async |conn, filter, page| livres::list(conn, &filter, page).await,
    )
    .await
}

/// A book (BIBLIOTHECAIRE, ADMIN); `nombre_exemplaires` copies are created with it.
#[utoipa::path(post, path = "/api/v1/livres/", tag = "bibliothèque", security(("jwt" = [])),
    request_body = livres::LivreInput,
    responses((status = 201, body = livres::Livre), (status = 400), (status = 401), (status = 403)))]
pub async fn livres_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<livres::LivreInput>,
) -> ApiResult<HttpResponse> {
    crud::json(&state, StatusCode::CREATED, async |conn| {
        livres::create(conn, &user.actor, body.0).await
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/livres/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = livres::Livre), (status = 401), (status = 404)))]
pub async fn livres_get(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::json(&state, StatusCode::OK, async |conn| {
        livres::get(conn, id).await
    })
    .await
}

#[utoipa::path(put, path = "/api/v1/livres/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = livres::LivreInput,
    responses((status = 200, body = livres::Livre), (status = 400), (status = 403), (status = 404)))]
pub async fn livres_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<livres::LivreInput>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    if body.0.nombre_exemplaires.is_some() {
        return Err(ApiError::field(
            "nombre_exemplaires",
            "À la création seulement : ajoutez des exemplaires par exemplaires/.",
        ));
    }
    crud::json(&state, StatusCode::OK, async |conn| {
        livres::update(conn, &user.actor, id, body.0.into()).await
    })
    .await
}

#[utoipa::path(patch, path = "/api/v1/livres/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = livres::LivrePatch,
    responses((status = 200, body = livres::Livre), (status = 400), (status = 403), (status = 404)))]
pub async fn livres_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<livres::LivrePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::json(&state, StatusCode::OK, async |conn| {
        livres::update(conn, &user.actor, id, body.0).await
    })
    .await
}

/// Deletes a book and its copies; 409 once one of them was lent.
#[utoipa::path(delete, path = "/api/v1/livres/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "Livre déjà emprunté")))]
pub async fn livres_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::no_content(&state, async |conn| {
        livres::delete(conn, &user.actor, id).await
    })
    .await
}

/// Imports the catalogue from CSV (or XLSX); `?dry_run=true` checks without writing. Rows are
/// keyed by ISBN (else title and author): the same file twice changes nothing.
#[utoipa::path(post, path = "/api/v1/livres/import/", tag = "bibliothèque", security(("jwt" = [])),
    params(("dry_run" = Option<bool>, Query)),
    request_body(content = String, description = "Fichier CSV (UTF-8, « , » ou « ; ») ou XLSX, brut ou en multipart (champ `fichier`)",
        content_type = "text/csv"),
    responses((status = 200, body = import::ImportReport), (status = 400, body = import::ImportReport),
        (status = 403), (status = 413), (status = 415)))]
pub async fn livres_import(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    use ecole_pedagogie::import::{Format, MAX_BYTES};
    ecole_bibliotheque::exiger_bibliothecaire(&user.actor)?;
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let dry_run = params.parse_bool("dry_run", &mut errors).unwrap_or(false);
    errors.into_result()?;
    let (content_type, bytes) = crate::extract::upload(&req, payload, MAX_BYTES, "5 Mo").await?;
    let Some(format) = Format::detect(&content_type, &bytes) else {
        return Err(ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Fichier CSV ou XLSX attendu.",
        ));
    };
    let mut conn = state.conn().await?;
    let report = import::import(&mut conn, &user.actor, format, &bytes, dry_run).await?;
    if report.erreurs.is_empty() {
        Ok(HttpResponse::Ok().json(report))
    } else {
        Ok(HttpResponse::BadRequest().json(report))
    }
}

// ---------- exemplaires/ ----------

/// Copies (every signed-in user): `?livre=`, `?etat=`, `?disponible=`, `?code_barre=`.
#[utoipa::path(get, path = "/api/v1/exemplaires/", tag = "bibliothèque", security(("jwt" = [])),
    params(("livre" = Option<i64>, Query), ("etat" = Option<EtatExemplaire>, Query),
        ("disponible" = Option<bool>, Query), ("code_barre" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<exemplaires::Exemplaire>), (status = 400), (status = 401)))]
pub async fn exemplaires_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> ApiResult<HttpResponse> {
    crud::list(
        &req,
        &state,
        |p, e| exemplaires::ExemplaireFilter {
            livre: p.parse_id("livre", e),
            etat: p.parse::<EtatExemplaire>("etat", e),
            disponible: p.parse_bool("disponible", e),
            code_barre: p.get("code_barre").map(String::from),
        },
        async |conn, filter, page| exemplaires::list(conn, &filter, page).await,
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/exemplaires/", tag = "bibliothèque", security(("jwt" = [])),
    request_body = exemplaires::ExemplaireInput,
    responses((status = 201, body = exemplaires::Exemplaire), (status = 400), (status = 401), (status = 403)))]
pub async fn exemplaires_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<exemplaires::ExemplaireInput>,
) -> ApiResult<HttpResponse> {
    crud::json(&state, StatusCode::CREATED, async |conn| {
        exemplaires::create(conn, &user.actor, body.0).await
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/exemplaires/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = exemplaires::Exemplaire), (status = 401), (status = 404)))]
pub async fn exemplaires_get(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::json(&state, StatusCode::OK, async |conn| {
        exemplaires::get(conn, id).await
    })
    .await
}

#[utoipa::path(put, path = "/api/v1/exemplaires/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = exemplaires::ExemplaireInput,
    responses((status = 200, body = exemplaires::Exemplaire), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn exemplaires_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<exemplaires::ExemplaireInput>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::json(&state, StatusCode::OK, async |conn| {
        exemplaires::update(conn, &user.actor, id, body.0.into()).await
    })
    .await
}

/// Changes a copy; a lent copy is declared lost through its loan's return (409 here).
#[utoipa::path(patch, path = "/api/v1/exemplaires/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = exemplaires::ExemplairePatch,
    responses((status = 200, body = exemplaires::Exemplaire), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn exemplaires_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<exemplaires::ExemplairePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::json(&state, StatusCode::OK, async |conn| {
        exemplaires::update(conn, &user.actor, id, body.0).await
    })
    .await
}

/// Deletes a copy never lent (409 otherwise).
#[utoipa::path(delete, path = "/api/v1/exemplaires/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn exemplaires_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::no_content(&state, async |conn| {
        exemplaires::delete(conn, &user.actor, id).await
    })
    .await
}

// ---------- emprunts/ ----------

/// Loans: all for the library staff and DIRECTION; one's own otherwise, and a parent's
/// children's.
#[utoipa::path(get, path = "/api/v1/emprunts/", tag = "bibliothèque", security(("jwt" = [])),
    params(("statut" = Option<StatutEmprunt>, Query), ("emprunteur" = Option<i64>, Query), ("eleve" = Option<i64>, Query),
        ("exemplaire" = Option<i64>, Query), ("livre" = Option<i64>, Query), ("en_retard" = Option<bool>, Query),
        ("search" = Option<String>, Query, description = "Titre, code-barres, nom de l'emprunteur"),
        ("ordering" = Option<String>, Query, description = "date_emprunt, date_retour_prevue, date_retour, emprunteur"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<emprunts::EmpruntOut>), (status = 400), (status = 401)))]
pub async fn emprunts_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let regles = regles(&state);
    crud::list(
        &req,
        &state,
        |p, e| emprunts::EmpruntFilter {
            statut: p.parse::<StatutEmprunt>("statut", e),
            emprunteur: p.parse_id("emprunteur", e),
            eleve: p.parse_id("eleve", e),
            exemplaire: p.parse_id("exemplaire", e),
            livre: p.parse_id("livre", e),
            en_retard: p.parse_bool("en_retard", e),
            search: search(p),
            ordering: p.ordering(
                emprunts::EmpruntOrdering::parse,
                emprunts::EmpruntOrdering::FIELDS,
                e,
            ),
        },
        async |conn, filter, page| emprunts::list(conn, &user.actor, &regles, &filter, page).await,
    )
    .await
}

/// Lends a copy (BIBLIOTHECAIRE, ADMIN): `{"exemplaire" | "code_barre", "emprunteur",
/// "date_retour_prevue"?}`. 409 when the copy is already lent (even by a concurrent request).
#[utoipa::path(post, path = "/api/v1/emprunts/", tag = "bibliothèque", security(("jwt" = [])),
    request_body = emprunts::EmpruntInput,
    responses((status = 201, body = emprunts::EmpruntOut), (status = 400), (status = 401), (status = 403),
        (status = 409, description = "Exemplaire déjà emprunté")))]
pub async fn emprunts_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<emprunts::EmpruntInput>,
) -> ApiResult<HttpResponse> {
    let regles = regles(&state);
    crud::json(&state, StatusCode::CREATED, async |conn| {
        emprunts::emprunter(conn, &user.actor, &regles, body.0).await
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/emprunts/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = emprunts::EmpruntOut), (status = 401), (status = 404)))]
pub async fn emprunts_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let regles = regles(&state);
    crud::json(&state, StatusCode::OK, async |conn| {
        emprunts::get(conn, &user.actor, &regles, id).await
    })
    .await
}

/// Moves the due date of an open loan (`PUT` and `PATCH` alike); 409 once closed.
#[utoipa::path(patch, path = "/api/v1/emprunts/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = emprunts::EmpruntUpdate,
    responses((status = 200, body = emprunts::EmpruntOut), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn emprunts_update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<emprunts::EmpruntUpdate>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let regles = regles(&state);
    crud::json(&state, StatusCode::OK, async |conn| {
        emprunts::update(conn, &user.actor, &regles, id, body.0).await
    })
    .await
}

/// Cancels a loan recorded by mistake (open only; a closed loan stays as history: 409).
#[utoipa::path(delete, path = "/api/v1/emprunts/{id}/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn emprunts_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    crud::no_content(&state, async |conn| {
        emprunts::delete(conn, &user.actor, id).await
    })
    .await
}

/// The return: `{"etat"?, "date_retour"?}` (body optional). Sets the return date and the
/// copy's state (`PERDU`: the loan closes as lost); a late return fixes the penalty
/// (`BIBLIO_PENALITE_JOUR` GNF per day). 409 when the loan is already closed.
#[utoipa::path(post, path = "/api/v1/emprunts/{id}/retour/", tag = "bibliothèque", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body(content = Option<emprunts::RetourInput>),
    responses((status = 200, body = emprunts::EmpruntOut), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn emprunts_retour(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let input: emprunts::RetourInput = optional_body(&req, &body)?;
    let regles = regles(&state);
    crud::json(&state, StatusCode::OK, async |conn| {
        emprunts::retourner(conn, &user.actor, &regles, id, input).await
    })
    .await
}
