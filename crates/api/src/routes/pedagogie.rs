//! `eleves/`, `parents/`, `enseignants/`, `notes/`, `presences/`, `classes/<id>/eleves/`.

use actix_web::{HttpRequest, HttpResponse, web};
use ecole_core::FieldErrors;
use ecole_db::enums::{CodePeriode, Sexe, StatutEleve, StatutPresence, TypeNote};
use ecole_pedagogie::{eleves, enseignants, notes, parents, presences};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, CurrentUser, QueryParams};
use crate::pagination::{Paginated, page_request, paginated};
use crate::routes::path_id;
use crate::state::AppState;

// ---------- eleves ----------

fn eleve_filter(params: &QueryParams) -> ApiResult<eleves::EleveFilter> {
    let mut errors = FieldErrors::new();
    let filter = eleves::EleveFilter {
        classe: params.parse_id("classe", &mut errors),
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        statut: params.parse::<StatutEleve>("statut", &mut errors),
        sexe: params.parse::<Sexe>("sexe", &mut errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering(
            eleves::EleveOrdering::parse,
            eleves::EleveOrdering::FIELDS,
            &mut errors,
        ),
    };
    errors.into_result()?;
    Ok(filter)
}

/// Pupils in the caller's scope.
#[utoipa::path(get, path = "/api/v1/eleves/", tag = "pédagogie", security(("jwt" = [])),
    params(("classe" = Option<i64>, Query), ("annee_scolaire" = Option<i64>, Query), ("statut" = Option<StatutEleve>, Query),
        ("sexe" = Option<Sexe>, Query), ("search" = Option<String>, Query, description = "Nom, prénom, matricule"),
        ("ordering" = Option<String>, Query, description = "matricule, nom, date_admission"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<eleves::EleveOut>), (status = 401), (status = 403)))]
pub async fn eleves_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let filter = eleve_filter(&params)?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        eleves::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

/// Creates a pupil and their account (flat body: the user's fields and the profile's).
#[utoipa::path(post, path = "/api/v1/eleves/", tag = "pédagogie", security(("jwt" = [])), request_body = eleves::EleveCreate,
    responses((status = 201, body = eleves::EleveOut), (status = 400), (status = 403)))]
pub async fn eleves_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<eleves::EleveCreate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(eleves::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/eleves/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = eleves::EleveOut), (status = 404)))]
pub async fn eleves_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(eleves::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

/// Changes a pupil (every field optional, for PUT as for PATCH).
#[utoipa::path(method(put, patch), path = "/api/v1/eleves/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = eleves::EleveUpdate, responses((status = 200, body = eleves::EleveOut), (status = 400), (status = 403), (status = 404)))]
pub async fn eleves_update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<eleves::EleveUpdate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(eleves::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

/// Deletes a pupil without grades (409 otherwise: change their status instead).
#[utoipa::path(delete, path = "/api/v1/eleves/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn eleves_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    eleves::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The parents of a pupil, with their link.
#[utoipa::path(get, path = "/api/v1/eleves/{id}/parents/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = [parents::ParentLienOut]), (status = 404)))]
pub async fn eleves_parents(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(parents::of_eleve(&mut conn, &user.actor, path_id(&path)?).await?))
}

/// Links a parent to a pupil (`{"parent", "lien"}`).
#[utoipa::path(post, path = "/api/v1/eleves/{id}/parents/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = parents::LienInput, responses((status = 201, body = parents::ParentLienOut), (status = 400), (status = 403), (status = 404)))]
pub async fn eleves_parents_link(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<parents::LienInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created()
        .json(parents::link(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

/// Unlinks a parent from a pupil: the parent no longer sees the pupil's records (audited).
#[utoipa::path(delete, path = "/api/v1/eleves/{id}/parents/{parent_id}/", tag = "pédagogie", security(("jwt" = [])),
    params(("id" = i64, Path), ("parent_id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404, description = "Élève hors de portée ou parent non lié")))]
pub async fn eleves_parents_unlink(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (eleve, parent) = (path_id(&path.0)?, path_id(&path.1)?);
    let mut conn = state.conn().await?;
    parents::unlink(&mut conn, &user.actor, eleve, parent).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The pupils of a class (management, accountants, the class's teachers).
#[utoipa::path(get, path = "/api/v1/classes/{id}/eleves/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<eleves::EleveOut>), (status = 403), (status = 404)))]
pub async fn classe_eleves(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let params = QueryParams::from_request(&req);
    let filter = eleve_filter(&params)?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        eleves::list_of_classe(&mut conn, &user.actor, id, filter, page).await?,
    )
}

// ---------- parents ----------

#[utoipa::path(get, path = "/api/v1/parents/", tag = "pédagogie", security(("jwt" = [])),
    params(("eleve" = Option<i64>, Query), ("search" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<parents::ParentOut>), (status = 403)))]
pub async fn parents_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = parents::ParentFilter {
        eleve: params.parse_id("eleve", &mut errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering_named(parents::PARENT_ORDERING, &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        parents::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/parents/", tag = "pédagogie", security(("jwt" = [])), request_body = parents::ParentCreate,
    responses((status = 201, body = parents::ParentOut), (status = 400), (status = 403)))]
pub async fn parents_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<parents::ParentCreate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(parents::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/parents/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = parents::ParentOut), (status = 404)))]
pub async fn parents_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(parents::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

#[utoipa::path(method(put, patch), path = "/api/v1/parents/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = parents::ParentUpdate, responses((status = 200, body = parents::ParentOut), (status = 400), (status = 403), (status = 404)))]
pub async fn parents_update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<parents::ParentUpdate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(parents::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(delete, path = "/api/v1/parents/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn parents_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    parents::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- enseignants ----------

#[utoipa::path(get, path = "/api/v1/enseignants/", tag = "pédagogie", security(("jwt" = [])),
    params(("search" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<enseignants::EnseignantOut>), (status = 403)))]
pub async fn enseignants_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = enseignants::EnseignantFilter {
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering_named(enseignants::ENSEIGNANT_ORDERING, &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        enseignants::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/enseignants/", tag = "pédagogie", security(("jwt" = [])), request_body = enseignants::EnseignantCreate,
    responses((status = 201, body = enseignants::EnseignantOut), (status = 400), (status = 403)))]
pub async fn enseignants_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<enseignants::EnseignantCreate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(enseignants::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/enseignants/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = enseignants::EnseignantOut), (status = 404)))]
pub async fn enseignants_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(enseignants::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

#[utoipa::path(method(put, patch), path = "/api/v1/enseignants/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = enseignants::EnseignantUpdate, responses((status = 200, body = enseignants::EnseignantOut), (status = 400), (status = 403), (status = 404)))]
pub async fn enseignants_update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<enseignants::EnseignantUpdate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(enseignants::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(delete, path = "/api/v1/enseignants/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn enseignants_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    enseignants::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- notes ----------

#[utoipa::path(get, path = "/api/v1/notes/", tag = "pédagogie", security(("jwt" = [])),
    params(("eleve" = Option<i64>, Query), ("classe" = Option<i64>, Query), ("matiere" = Option<i64>, Query),
        ("periode" = Option<CodePeriode>, Query), ("annee_scolaire" = Option<i64>, Query), ("type_note" = Option<TypeNote>, Query),
        ("date" = Option<String>, Query), ("ordering" = Option<String>, Query, description = "date_evaluation, valeur, eleve"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<notes::NoteOut>), (status = 403)))]
pub async fn notes_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = notes::NoteFilter {
        eleve: params.parse_id("eleve", &mut errors),
        classe: params.parse_id("classe", &mut errors),
        matiere: params.parse_id("matiere", &mut errors),
        periode: params.parse::<CodePeriode>("periode", &mut errors),
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        type_note: params.parse::<TypeNote>("type_note", &mut errors),
        date: params.parse_date("date", &mut errors),
        ordering: params.ordering(
            notes::NoteOrdering::parse,
            notes::NoteOrdering::FIELDS,
            &mut errors,
        ),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        notes::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/notes/", tag = "pédagogie", security(("jwt" = [])), request_body = notes::NoteInput,
    responses((status = 201, body = notes::NoteOut), (status = 400), (status = 403)))]
pub async fn notes_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<notes::NoteInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(notes::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/notes/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = notes::NoteOut), (status = 404)))]
pub async fn notes_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(notes::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/notes/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = notes::NoteInput, responses((status = 200, body = notes::NoteOut), (status = 400), (status = 403), (status = 404)))]
pub async fn notes_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<notes::NoteInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(notes::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(patch, path = "/api/v1/notes/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = notes::NotePatch, responses((status = 200, body = notes::NoteOut), (status = 400), (status = 403), (status = 404)))]
pub async fn notes_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<notes::NotePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let current = notes::get_row(&mut conn, &user.actor, id).await?;
    Ok(HttpResponse::Ok()
        .json(notes::update(&mut conn, &user.actor, id, body.0.merge(&current)).await?))
}

#[utoipa::path(delete, path = "/api/v1/notes/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn notes_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    notes::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SaisieOut {
    pub count: usize,
    pub notes: Vec<notes::NoteOut>,
}

/// One evaluation for a whole class, all or nothing.
#[utoipa::path(post, path = "/api/v1/notes/saisie/", tag = "pédagogie", security(("jwt" = [])), request_body = notes::NoteSaisie,
    responses((status = 201, body = SaisieOut), (status = 400), (status = 403)))]
pub async fn notes_saisie(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<notes::NoteSaisie>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let created = notes::saisie(&mut conn, &user.actor, body.0).await?;
    Ok(HttpResponse::Created().json(SaisieOut {
        count: created.len(),
        notes: created,
    }))
}

// ---------- presences ----------

#[utoipa::path(get, path = "/api/v1/presences/", tag = "pédagogie", security(("jwt" = [])),
    params(("eleve" = Option<i64>, Query), ("classe" = Option<i64>, Query), ("date" = Option<String>, Query),
        ("date_min" = Option<String>, Query), ("date_max" = Option<String>, Query), ("statut" = Option<StatutPresence>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<presences::Presence>), (status = 403)))]
pub async fn presences_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = presences::PresenceFilter {
        eleve: params.parse_id("eleve", &mut errors),
        classe: params.parse_id("classe", &mut errors),
        date: params.parse_date("date", &mut errors),
        date_min: params.parse_date("date_min", &mut errors),
        date_max: params.parse_date("date_max", &mut errors),
        statut: params.parse::<StatutPresence>("statut", &mut errors),
        ordering: params.ordering_named(presences::PRESENCE_ORDERING, &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        presences::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/presences/", tag = "pédagogie", security(("jwt" = [])), request_body = presences::PresenceInput,
    responses((status = 201, body = presences::Presence), (status = 400), (status = 403)))]
pub async fn presences_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<presences::PresenceInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let regles = presences::ReglesPresences::from_settings(&state.settings);
    Ok(HttpResponse::Created()
        .json(presences::create(&mut conn, &user.actor, body.0, &regles).await?))
}

#[utoipa::path(get, path = "/api/v1/presences/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = presences::Presence), (status = 404)))]
pub async fn presences_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(presences::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/presences/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = presences::PresenceInput, responses((status = 200, body = presences::Presence), (status = 400), (status = 403), (status = 404)))]
pub async fn presences_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<presences::PresenceInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let regles = presences::ReglesPresences::from_settings(&state.settings);
    Ok(HttpResponse::Ok()
        .json(presences::update(&mut conn, &user.actor, path_id(&path)?, body.0, &regles).await?))
}

#[utoipa::path(patch, path = "/api/v1/presences/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    request_body = presences::PresencePatch, responses((status = 200, body = presences::Presence), (status = 400), (status = 403), (status = 404)))]
pub async fn presences_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<presences::PresencePatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    let mut conn = state.conn().await?;
    let current = presences::get(&mut conn, &user.actor, id).await?;
    let regles = presences::ReglesPresences::from_settings(&state.settings);
    Ok(HttpResponse::Ok().json(
        presences::update(&mut conn, &user.actor, id, body.0.merge(&current), &regles).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/presences/{id}/", tag = "pédagogie", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn presences_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    presences::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Roll call: a class, a date, every pupil's status (sending it again updates). The date is a
/// school day of the active year, not in the future; absences of today and yesterday send
/// the immediate SMS, within a teacher's daily cap.
#[utoipa::path(post, path = "/api/v1/presences/appel/", tag = "pédagogie", security(("jwt" = [])), request_body = presences::Appel,
    responses((status = 200, body = [presences::Presence]), (status = 400), (status = 403)))]
pub async fn presences_appel(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<presences::Appel>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let regles = presences::ReglesPresences::from_settings(&state.settings);
    Ok(HttpResponse::Ok().json(presences::appel(&mut conn, &user.actor, body.0, &regles).await?))
}

// ---------- import ----------

/// Imports pupils (and parents) from CSV or XLSX; `?dry_run=true` checks without writing.
/// Columns: see the README. Rows are keyed by `matricule`: the same file twice changes nothing.
#[utoipa::path(post, path = "/api/v1/eleves/import/", tag = "pédagogie", security(("jwt" = [])),
    params(("dry_run" = Option<bool>, Query)),
    request_body(content = String, description = "Fichier CSV (UTF-8, « , » ou « ; ») ou XLSX, brut ou en multipart (champ `fichier`)",
        content_type = "text/csv"),
    responses((status = 200, body = ecole_pedagogie::import::ImportReport), (status = 400, body = ecole_pedagogie::import::ImportReport),
        (status = 403), (status = 413), (status = 415)))]
pub async fn eleves_import(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    use ecole_pedagogie::import::{Format, import};
    user.actor.require(ecole_pedagogie::MANAGEMENT)?;
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let dry_run = params.parse_bool("dry_run", &mut errors).unwrap_or(false);
    errors.into_result()?;
    let (content_type, bytes) =
        crate::extract::upload(&req, payload, ecole_pedagogie::import::MAX_BYTES, "5 Mo").await?;
    let Some(format) = Format::detect(&content_type, &bytes) else {
        return Err(ApiError::detail(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Fichier CSV ou XLSX attendu.",
        ));
    };
    let mut conn = state.conn().await?;
    let report = import(&mut conn, &user.actor, format, &bytes, dry_run).await?;
    if report.erreurs.is_empty() {
        Ok(HttpResponse::Ok().json(report))
    } else {
        Ok(HttpResponse::BadRequest().json(report))
    }
}
