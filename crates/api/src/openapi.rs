//! The OpenAPI document, generated from the handlers, and Swagger UI served from the binary.

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
        users::me, users::update_me,
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
        pedagogie::eleves_delete, pedagogie::eleves_import, pedagogie::eleves_parents, pedagogie::eleves_parents_link, pedagogie::classe_eleves,
        pedagogie::parents_list, pedagogie::parents_create, pedagogie::parents_get, pedagogie::parents_update,
        pedagogie::parents_delete,
        pedagogie::enseignants_list, pedagogie::enseignants_create, pedagogie::enseignants_get,
        pedagogie::enseignants_update, pedagogie::enseignants_delete,
        pedagogie::notes_list, pedagogie::notes_create, pedagogie::notes_get, pedagogie::notes_put,
        pedagogie::notes_patch, pedagogie::notes_delete, pedagogie::notes_saisie,
        pedagogie::presences_list, pedagogie::presences_create, pedagogie::presences_get, pedagogie::presences_put,
        pedagogie::presences_patch, pedagogie::presences_delete, pedagogie::presences_appel,
        bulletins::list, bulletins::retrieve, bulletins::pdf, bulletins::generer, bulletins::publier,
        bulletins::regles_get, bulletins::regles_put, bulletins::regles_patch,
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
    SwaggerUi::new("/api/v1/docs/{_:.*}").url("/api/v1/openapi.json", ApiDoc::openapi())
}
