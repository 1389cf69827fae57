//! `frais/`, `factures/` (with `emettre/`, `annuler/`, `pdf/`, `paiements/`),
//! `factures/generer/`, `paiements/` (with `recu/`) and `eleves/<id>/releve/`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use ecole_core::FieldErrors;
use ecole_db::enums::{ModePaiement, Niveau, StatutFacture};
use ecole_finances::idempotence::{self, Reponse};
use ecole_finances::{factures, frais, generation, paiements, releve};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, CurrentUser, QueryParams, optional_body};
use crate::pagination::{Paginated, page_request, paginated};
use crate::routes::bulletins::stream_pdf;
use crate::routes::jobs::Accepted;
use crate::routes::path_id;
use crate::state::AppState;

// ---------- frais/ ----------

/// The fee schedule (the till and families).
#[utoipa::path(get, path = "/api/v1/frais/", tag = "finances", security(("jwt" = [])),
    params(("annee_scolaire" = Option<i64>, Query), ("niveau" = Option<Niveau>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<frais::Frais>), (status = 401), (status = 403)))]
pub async fn frais_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = frais::FraisFilter {
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        niveau: params.parse::<Niveau>("niveau", &mut errors),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        frais::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

#[utoipa::path(post, path = "/api/v1/frais/", tag = "finances", security(("jwt" = [])),
    request_body = frais::FraisInput,
    responses((status = 201, body = frais::Frais), (status = 400), (status = 401), (status = 403)))]
pub async fn frais_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<frais::FraisInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(frais::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/frais/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = frais::Frais), (status = 401), (status = 404)))]
pub async fn frais_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(frais::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

#[utoipa::path(put, path = "/api/v1/frais/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = frais::FraisInput,
    responses((status = 200, body = frais::Frais), (status = 400), (status = 403), (status = 404)))]
pub async fn frais_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<frais::FraisInput>,
) -> ApiResult<HttpResponse> {
    let input = body.0;
    let patch = frais::FraisPatch {
        annee_scolaire: Some(input.annee_scolaire),
        niveau: Some(input.niveau),
        libelle: Some(input.libelle),
        montant: Some(input.montant),
    };
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(frais::update(&mut conn, &user.actor, path_id(&path)?, patch).await?))
}

#[utoipa::path(patch, path = "/api/v1/frais/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = frais::FraisPatch,
    responses((status = 200, body = frais::Frais), (status = 400), (status = 403), (status = 404)))]
pub async fn frais_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<frais::FraisPatch>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(frais::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

#[utoipa::path(delete, path = "/api/v1/frais/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "Frais déjà facturés")))]
pub async fn frais_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    frais::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- factures/ ----------

/// Invoices: every one for the till, a family's children's once issued.
#[utoipa::path(get, path = "/api/v1/factures/", tag = "finances", security(("jwt" = [])),
    params(("eleve" = Option<i64>, Query), ("annee_scolaire" = Option<i64>, Query), ("classe" = Option<i64>, Query),
        ("statut" = Option<StatutFacture>, Query), ("en_retard" = Option<bool>, Query),
        ("search" = Option<String>, Query, description = "Numéro, nom, prénom, matricule"),
        ("ordering" = Option<String>, Query, description = "numero, date_emission, date_echeance, montant_total, montant_restant, eleve, statut"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<factures::FactureOut>), (status = 401), (status = 403)))]
pub async fn factures_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let filter = factures::FactureFilter {
        eleve: params.parse_id("eleve", &mut errors),
        annee_scolaire: params.parse_id("annee_scolaire", &mut errors),
        classe: params.parse_id("classe", &mut errors),
        statut: params.parse::<StatutFacture>("statut", &mut errors),
        en_retard: params.parse_bool("en_retard", &mut errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering(
            factures::FactureOrdering::parse,
            factures::FactureOrdering::FIELDS,
            &mut errors,
        ),
    };
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        &req,
        &params,
        factures::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

/// A draft invoice with its lines; totals are computed by the server.
#[utoipa::path(post, path = "/api/v1/factures/", tag = "finances", security(("jwt" = [])),
    request_body = factures::FactureInput,
    responses((status = 201, body = factures::FactureDetail), (status = 400), (status = 401), (status = 403)))]
pub async fn factures_create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<factures::FactureInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Created().json(factures::create(&mut conn, &user.actor, body.0).await?))
}

#[utoipa::path(get, path = "/api/v1/factures/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = factures::FactureDetail), (status = 401), (status = 404)))]
pub async fn factures_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(factures::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

/// Replaces a draft (409 once issued).
#[utoipa::path(put, path = "/api/v1/factures/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = factures::FactureInput,
    responses((status = 200, body = factures::FactureDetail), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn factures_put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<factures::FactureInput>,
) -> ApiResult<HttpResponse> {
    let input = body.0;
    let patch = factures::FacturePatch {
        eleve: Some(input.eleve),
        annee_scolaire: input.annee_scolaire,
        date_echeance: input.date_echeance,
        lignes: Some(input.lignes),
    };
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(factures::update(&mut conn, &user.actor, path_id(&path)?, patch).await?))
}

/// Changes a draft (409 once issued); `lignes` replaces every line.
#[utoipa::path(patch, path = "/api/v1/factures/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body = factures::FacturePatch,
    responses((status = 200, body = factures::FactureDetail), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn factures_patch(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<factures::FacturePatch>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(factures::update(&mut conn, &user.actor, path_id(&path)?, body.0).await?))
}

/// Deletes a draft (409 once issued: cancel it instead).
#[utoipa::path(delete, path = "/api/v1/factures/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn factures_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    factures::delete(&mut conn, &user.actor, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `BROUILLON` → `EMISE` with the next `FAC-<année>-<n>`; the PDF follows as a job.
#[utoipa::path(post, path = "/api/v1/factures/{id}/emettre/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = factures::FactureDetail), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn factures_emettre(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(factures::emettre(&mut conn, &user.actor, path_id(&path)?).await?))
}

/// Cancels an invoice: 409 once money was paid. Body `{"motif"}` optional.
#[utoipa::path(post, path = "/api/v1/factures/{id}/annuler/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)), request_body(content = Option<factures::AnnulationInput>),
    responses((status = 200, body = factures::FactureDetail), (status = 403), (status = 404), (status = 409)))]
pub async fn factures_annuler(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let input: factures::AnnulationInput = optional_body(&req, &body)?;
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(factures::annuler(&mut conn, &user.actor, path_id(&path)?, input).await?))
}

/// The invoice PDF (`application/pdf`); 404 outside the scope or before it is rendered.
#[utoipa::path(get, path = "/api/v1/factures/{id}/pdf/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 401), (status = 404)))]
pub async fn factures_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (relative, filename) = {
        let mut conn = state.conn().await?;
        factures::pdf(&mut conn, &user.actor, path_id(&path)?).await?
    };
    stream_pdf(&state, &relative, filename).await
}

/// Invoices of a level or a class from the fee schedule, as a job: `202 {"job_id", "status_url"}`.
#[utoipa::path(post, path = "/api/v1/factures/generer/", tag = "finances", security(("jwt" = [])),
    request_body = generation::GenererInput,
    responses((status = 202, body = Accepted), (status = 400), (status = 401), (status = 403)))]
pub async fn factures_generer(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<generation::GenererInput>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let id = generation::demander_generation(&mut conn, &user.actor, &body.0).await?;
    Ok(Accepted::response(id))
}

// ---------- paiements/ ----------

fn paiement_filter(
    params: &QueryParams,
    errors: &mut FieldErrors,
    facture: Option<i64>,
) -> paiements::PaiementFilter {
    paiements::PaiementFilter {
        facture: facture.or_else(|| params.parse_id("facture", errors)),
        eleve: params.parse_id("eleve", errors),
        annee_scolaire: params.parse_id("annee_scolaire", errors),
        mode: params.parse::<ModePaiement>("mode", errors),
        date_min: params.parse_date("date_min", errors),
        date_max: params.parse_date("date_max", errors),
        search: params.get("search").map(|s| s.chars().take(100).collect()),
        ordering: params.ordering(
            paiements::PaiementOrdering::parse,
            paiements::PaiementOrdering::FIELDS,
            errors,
        ),
    }
}

async fn list_paiements(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    facture: Option<i64>,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(req);
    let mut errors = FieldErrors::new();
    let filter = paiement_filter(&params, &mut errors, facture);
    errors.into_result()?;
    let page = page_request(&params)?;
    let mut conn = state.conn().await?;
    paginated(
        req,
        &params,
        paiements::list(&mut conn, &user.actor, &filter, page).await?,
    )
}

/// Payments: every one for the till, a family's children's.
#[utoipa::path(get, path = "/api/v1/paiements/", tag = "finances", security(("jwt" = [])),
    params(("facture" = Option<i64>, Query), ("eleve" = Option<i64>, Query), ("annee_scolaire" = Option<i64>, Query),
        ("mode" = Option<ModePaiement>, Query), ("date_min" = Option<String>, Query), ("date_max" = Option<String>, Query),
        ("search" = Option<String>, Query, description = "Numéro de reçu, référence, nom, matricule"),
        ("ordering" = Option<String>, Query, description = "date_paiement, montant, recu_numero"),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<paiements::PaiementOut>), (status = 401), (status = 403)))]
pub async fn paiements_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    list_paiements(&req, &state, &user, None).await
}

/// An invoice's payments (404 when the invoice is outside the scope).
#[utoipa::path(get, path = "/api/v1/factures/{id}/paiements/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<paiements::PaiementOut>), (status = 401), (status = 404)))]
pub async fn factures_paiements_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let facture = path_id(&path)?;
    list_paiements(&req, &state, &user, Some(facture)).await
}

/// The `Idempotency-Key` header, if sent.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get(idempotence::EN_TETE) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.to_string())).map_err(|_| {
            ApiError::field(
                idempotence::EN_TETE,
                "Clé d'idempotence invalide : caractères ASCII visibles uniquement.",
            )
        }),
    }
}

fn send(reponse: Reponse) -> HttpResponse {
    let status = StatusCode::from_u16(reponse.statut).unwrap_or(StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    if reponse.rejouee {
        builder.insert_header(("Idempotent-Replayed", "true"));
    }
    builder.json(reponse.corps)
}

/// Records a payment (ADMIN, DIRECTION, COMPTABLE). `Idempotency-Key`: the same key and body
/// replay the first answer (header `Idempotent-Replayed: true`) and record nothing; the same
/// key with another body → 409. More than what remains, or a draft or cancelled invoice → 400.
#[utoipa::path(post, path = "/api/v1/factures/{id}/paiements/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = paiements::PaiementInput,
    responses((status = 201, body = paiements::PaiementEnregistre), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409, description = "Clé d'idempotence déjà utilisée pour une autre requête")))]
pub async fn factures_paiements_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<paiements::PaiementInput>,
) -> ApiResult<HttpResponse> {
    let facture = path_id(&path)?;
    let cle = idempotency_key(&req)?;
    let mut conn = state.conn().await?;
    let reponse =
        paiements::enregistrer(&mut conn, &user.actor, facture, body.0, cle.as_deref()).await?;
    Ok(send(reponse))
}

/// Records a payment naming its invoice (`{"facture", …}`); same rules as
/// `factures/<id>/paiements/`.
#[utoipa::path(post, path = "/api/v1/paiements/", tag = "finances", security(("jwt" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = paiements::NouveauPaiement,
    responses((status = 201, body = paiements::PaiementEnregistre), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)))]
pub async fn paiements_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<paiements::NouveauPaiement>,
) -> ApiResult<HttpResponse> {
    let (facture, input) = body.0.separer();
    let cle = idempotency_key(&req)?;
    let mut conn = state.conn().await?;
    let reponse =
        paiements::enregistrer(&mut conn, &user.actor, facture, input, cle.as_deref()).await?;
    Ok(send(reponse))
}

#[utoipa::path(get, path = "/api/v1/paiements/{id}/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = paiements::PaiementOut), (status = 401), (status = 404)))]
pub async fn paiements_get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(paiements::get(&mut conn, &user.actor, path_id(&path)?).await?))
}

/// The receipt PDF; 404 outside the scope or before it is rendered.
#[utoipa::path(get, path = "/api/v1/paiements/{id}/recu/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 401), (status = 404)))]
pub async fn paiements_recu(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (relative, filename) = {
        let mut conn = state.conn().await?;
        paiements::recu(&mut conn, &user.actor, path_id(&path)?).await?
    };
    stream_pdf(&state, &relative, filename).await
}

/// A pupil's statement for a school year (the active one by default): invoices, payments,
/// balance due.
#[utoipa::path(get, path = "/api/v1/eleves/{id}/releve/", tag = "finances", security(("jwt" = [])),
    params(("id" = i64, Path), ("annee_scolaire" = Option<i64>, Query)),
    responses((status = 200, body = releve::Releve), (status = 400), (status = 401), (status = 404)))]
pub async fn eleves_releve(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req);
    let mut errors = FieldErrors::new();
    let annee = params.parse_id("annee_scolaire", &mut errors);
    errors.into_result()?;
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok()
        .json(releve::releve(&mut conn, &user.actor, path_id(&path)?, annee).await?))
}
