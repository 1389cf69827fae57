//! The OpenAPI document, generated from the handlers, and Swagger UI served from the binary.

use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{
    auth, bibliotheque, bulletins, communication, finances, health, jobs, pedagogie, structure,
    users,
};

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
        users::me, users::update_me, users::telephone_demander, users::telephone_confirmer,
        jobs::retrieve, jobs::create,
        structure::etablissement_get, structure::etablissement_put,
        structure::etablissement_logo_put, structure::etablissement_logo_delete,
        structure::annees_list, structure::annees_create, structure::annees_get, structure::annees_put,
        structure::annees_patch, structure::annees_delete, structure::annees_activer,
        structure::periodes_list, structure::periodes_create, structure::periodes_get, structure::periodes_put,
        structure::periodes_patch, structure::periodes_delete,
        structure::classes_list, structure::classes_create, structure::classes_get, structure::classes_put,
        structure::classes_patch, structure::classes_delete,
        structure::matieres_list, structure::matieres_create, structure::matieres_get, structure::matieres_put,
        structure::matieres_patch, structure::matieres_delete,
        structure::enseignements_list, structure::enseignements_create, structure::enseignements_get,
        structure::enseignements_put, structure::enseignements_patch, structure::enseignements_delete,
        pedagogie::eleves_list, pedagogie::eleves_create, pedagogie::eleves_get, pedagogie::eleves_update,
        pedagogie::eleves_delete, pedagogie::eleves_import, pedagogie::eleves_parents, pedagogie::eleves_parents_link, pedagogie::eleves_parents_unlink, pedagogie::classe_eleves,
        pedagogie::parents_list, pedagogie::parents_create, pedagogie::parents_get, pedagogie::parents_update,
        pedagogie::parents_delete,
        pedagogie::enseignants_list, pedagogie::enseignants_create, pedagogie::enseignants_get,
        pedagogie::enseignants_update, pedagogie::enseignants_delete,
        pedagogie::notes_list, pedagogie::notes_create, pedagogie::notes_get, pedagogie::notes_put,
        pedagogie::notes_patch, pedagogie::notes_delete, pedagogie::notes_saisie,
        pedagogie::presences_list, pedagogie::presences_create, pedagogie::presences_get, pedagogie::presences_put,
        pedagogie::presences_patch, pedagogie::presences_delete, pedagogie::presences_appel,
        bulletins::list, bulletins::retrieve, bulletins::pdf, bulletins::versions, bulletins::generer, bulletins::publier,
        bulletins::regles_get, bulletins::regles_put, bulletins::regles_patch,
        bulletins::appreciations_list, bulletins::appreciations_create, bulletins::appreciations_saisie,
        bulletins::conseil_list, bulletins::conseil_create,
        communication::notifications_list, communication::notifications_lire,
        communication::notifications_tout_lire, communication::notifications_non_lues,
        finances::frais_list, finances::frais_create, finances::frais_get, finances::frais_put,
        finances::frais_patch, finances::frais_delete,
        finances::factures_list, finances::factures_create, finances::factures_get, finances::factures_put,
        finances::factures_patch, finances::factures_delete, finances::factures_emettre, finances::factures_annuler,
        finances::factures_pdf, finances::factures_generer, finances::factures_paiements_list,
        finances::factures_paiements_create, finances::paiements_list, finances::paiements_create,
        finances::paiements_get, finances::paiements_recu, finances::eleves_releve,
        bibliotheque::livres_list, bibliotheque::livres_create, bibliotheque::livres_get,
        bibliotheque::livres_put, bibliotheque::livres_patch, bibliotheque::livres_delete,
        bibliotheque::livres_import,
        bibliotheque::exemplaires_list, bibliotheque::exemplaires_create, bibliotheque::exemplaires_get,
        bibliotheque::exemplaires_put, bibliotheque::exemplaires_patch, bibliotheque::exemplaires_delete,
        bibliotheque::emprunts_list, bibliotheque::emprunts_create, bibliotheque::emprunts_get,
        bibliotheque::emprunts_update, bibliotheque::emprunts_delete, bibliotheque::emprunts_retour,
    ),
    components(schemas(auth::TokensOut)),
    modifiers(&JwtAuth),
    tags(
        (name = "authentification"), (name = "utilisateurs"), (name = "structure"), (name = "pédagogie"), (name = "bulletins"), (name = "communication"), (name = "finances"), (name = "bibliothèque"), (name = "jobs"), (name = "santé"),
    )
)]
pub struct ApiDoc;

/// `/api/v1/docs/` and `/api/v1/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/api/v1/docs/{_:.*}").url("/api/v1/openapi.json", document())
}

/// The published document: [`ApiDoc`] completed with what every handler shares (the
/// contract's error answers, bounds of ids and pages), see [`complete`].
pub fn document() -> utoipa::openapi::OpenApi {
    let doc = ApiDoc::openapi();
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    complete(&mut value);
    serde_json::from_value(value).unwrap_or(doc)
}

/// Query parameters naming a row by id (`?classe=3`).
const ID_PARAMS: &[&str] = &[
    "annee_scolaire",
    "classe",
    "eleve",
    "enseignant",
    "facture",
    "matiere",
    "emprunteur",
    "exemplaire",
    "livre",
    "utilisateur",
];

fn error_schema() -> Value {
    json!({"$ref": "#/components/schemas/Erreur"})
}

fn validation_schema() -> Value {
    json!({"anyOf": [
        {"$ref": "#/components/schemas/ErreursValidation"},
        {"$ref": "#/components/schemas/Erreur"},
    ]})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// What the handlers share and the annotations leave out, added to every operation:
/// - the error answers the middleware and extractors give (401 and 403 where a token is
///   needed, 400 where there is input, 404 for a path id or a page past the end, 413 and 415
///   where there is a body), each with the contract's JSON body and a French description;
/// - bounds the server enforces (ids ≥ 1, `page` ≥ 1, `page_size` 1..=200, dates, the fields
///   `ordering` accepts).
///
/// So a client, or a fuzzer, can tell a documented refusal from a bug.
pub fn complete(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert(
            "Erreur".into(),
            json!({
                "type": "object",
                "description": "Erreur : message en français et code stable.",
                "required": ["detail", "code"],
                "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
            }),
        );
        schemas.insert(
            "ErreursValidation".into(),
            json!({
                "type": "object",
                "description": "Erreurs de validation, par champ (`non_field_errors` pour l'ensemble).",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            }),
        );
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            complete_operation(path, operation);
            // One handler for PUT and PATCH: its second operation gets its own id.
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                let id = id.to_string();
                if !operation_ids.insert(id.clone()) {
                    operation["operationId"] = json!(format!("{id}_{method}"));
                }
            }
        }
    }
}

fn complete_operation(path: &str, operation: &mut Value) {
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let has_body = operation.get("requestBody").is_some();
    let mut has_params = false;
    let mut has_page = false;
    if let Some(params) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        has_params = !params.is_empty();
        for param in params.iter_mut() {
            let name = param
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            has_page |= name == "page";
            bound_parameter(&name, param);
        }
    }
    let has_path_id = path.contains('{');
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: &str, schema: Value| {
        let entry = responses.entry(status).or_insert_with(|| json!({}));
        if let Some(entry) = entry.as_object_mut() {
            let empty = entry
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                entry.insert("description".into(), json!(description));
            }
            entry
                .entry("content")
                .or_insert_with(|| json_content(schema));
        }
    };
    if has_body || has_params {
        add("400", "Données invalides", validation_schema());
    }
    if secured {
        add(
            "401",
            "Non authentifié : jeton absent, invalide ou expiré",
            error_schema(),
        );
        add("403", "Action non permise à ce rôle", error_schema());
    }
    if has_path_id || has_page {
        add(
            "404",
            "Introuvable, ou hors de votre périmètre (ou page au-delà de la fin)",
            error_schema(),
        );
    }
    if has_body {
        add("413", "Corps de requête trop volumineux", error_schema());
        add(
            "415",
            "Type de contenu non pris en charge (JSON attendu)",
            error_schema(),
        );
    }
    // Error answers the annotations list without a body (409, 429, 503…) get the contract's.
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5');
        // A 400 with a body of its own (an import report) may still come from the extractors.
        if status == "400"
            && let Some(schema) = response
                .get_mut("content")
                .and_then(|c| c.pointer_mut("/application~1json/schema"))
            && *schema != validation_schema()
        {
            let own = schema.take();
            *schema = json!({"anyOf": [
                own,
                {"$ref": "#/components/schemas/ErreursValidation"},
                {"$ref": "#/components/schemas/Erreur"},
            ]});
        }
        if is_error && !response.contains_key("content") {
            let schema = if status == "400" {
                validation_schema()
            } else {
                error_schema()
            };
            response.insert("content".into(), json_content(schema));
        }
        let empty = response
            .get("description")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if empty {
            let text = match status.as_str() {
                "200" => "Succès",
                "201" => "Créé",
                "202" => "Accepté : travail en file (voir status_url)",
                "204" => "Fait, sans contenu",
                "400" => "Données invalides",
                "401" => "Non authentifié",
                "403" => "Action non permise",
                "404" => "Introuvable",
                "409" => "Conflit avec l'état actuel",
                "413" => "Trop volumineux",
                "415" => "Type de contenu non pris en charge",
                "429" => "Trop de requêtes (voir Retry-After)",
                "503" => "Service indisponible",
                _ => "Réponse",
            };
            response.insert("description".into(), json!(text));
        }
    }
}

/// Bounds a parameter the way the server reads it.
fn bound_parameter(name: &str, param: &mut Value) {
    let location = param
        .get("in")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let description = param
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    let is_integer = schema.get("type").and_then(Value::as_str) == Some("integer");
    match name {
        "id" if location == "path" && is_integer => {
            schema.insert("minimum".into(), json!(1));
        }
        "page" if is_integer => {
            schema.insert("minimum".into(), json!(1));
        }
        "page_size" if is_integer => {
            // Above the maximum it is brought down to it (as DRF), not refused.
            schema.insert("minimum".into(), json!(1));
            param["description"] = json!(format!(
                "Taille de page : {0} par défaut, {1} au plus (au-delà : {1}).",
                ecole_core::page::DEFAULT_PAGE_SIZE,
                ecole_core::page::MAX_PAGE_SIZE
            ));
        }
        "date" | "date_min" | "date_max" => {
            schema.insert("format".into(), json!("date"));
        }
        "ordering" => {
            // "a, b, c ; préfixe - pour décroissant": the accepted fields come first.
            let fields: Vec<&str> = description
                .split(';')
                .next()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .collect();
            if !fields.is_empty() {
                // Up to 5 fields, commas and spaces around them as the server reads them.
                let one = format!("-?({})\\s*", fields.join("|"));
                schema.insert(
                    "pattern".into(),
                    json!(format!("^[\\s,]*({one}(,[\\s,]*{one}){{0,4}})?[\\s,]*$")),
                );
            }
        }
        n if ID_PARAMS.contains(&n) && is_integer => {
            schema.insert("minimum".into(), json!(1));
        }
        _ => {}
    }
}
