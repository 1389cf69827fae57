//! Routes of `/api/v1/` and the operational endpoints.

pub mod auth;
pub mod bibliotheque;
pub mod bulletins;
pub mod communication;
pub mod crud;
pub mod finances;
pub mod health;
pub mod jobs;
pub mod pedagogie;
pub mod structure;
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
                // The only routes served without a token.
                .service(web::resource("/auth/login").route(web::post().to(auth::login)))
                .service(web::resource("/auth/refresh").route(web::post().to(auth::refresh)))
                .service(web::resource("/auth/logout").route(web::post().to(auth::logout)))
                // Everything else: token and session checked before the handler reads anything.
                .service(
                    web::scope("")
                        .wrap(actix_web::middleware::from_fn(
                            crate::middleware::authenticate,
                        ))
                        .configure(configure_authenticated),
                ),
        );
}

fn configure_authenticated(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/password").route(web::post().to(auth::change_password)))
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
        .service(
            web::resource("/users/me/telephone").route(web::post().to(users::telephone_demander)),
        )
        .service(
            web::resource("/users/me/telephone/confirmer")
                .route(web::post().to(users::telephone_confirmer)),
        )
        .configure(configure_structure)
        .configure(configure_pedagogie)
        .configure(configure_bulletins)
        .configure(configure_communication)
        .configure(configure_finances)
        .configure(configure_bibliotheque)
        .service(web::resource("/jobs").route(web::post().to(jobs::create)))
        .service(web::resource("/jobs/{id:\\d+}").route(web::get().to(jobs::retrieve)))
        .service(
            web::resource("/users/{id:\\d+}")
                .route(web::get().to(users::retrieve))
                .route(web::put().to(users::update))
                .route(web::patch().to(users::partial_update))
                .route(web::delete().to(users::destroy)),
        );
}

const ID: &str = "{id:\\d+}";

fn configure_structure(cfg: &mut web::ServiceConfig) {
    use structure as s;
    cfg.service(
        web::resource("/etablissement")
            .route(web::get().to(s::etablissement_get))
            .route(web::put().to(s::etablissement_put)),
    )
    .service(
        web::resource("/etablissement/logo")
            .route(web::put().to(s::etablissement_logo_put))
            .route(web::delete().to(s::etablissement_logo_delete)),
    )
    .service(
        web::resource("/annees-scolaires")
            .route(web::get().to(s::annees_list))
            .route(web::post().to(s::annees_create)),
    )
    .service(
        web::resource(format!("/annees-scolaires/{ID}/activer"))
            .route(web::post().to(s::annees_activer)),
    )
    .service(
        web::resource(format!("/annees-scolaires/{ID}"))
            .route(web::get().to(s::annees_get))
            .route(web::put().to(s::annees_put))
            .route(web::patch().to(s::annees_patch))
            .route(web::delete().to(s::annees_delete)),
    )
    .service(
        web::resource("/periodes")
            .route(web::get().to(s::periodes_list))
            .route(web::post().to(s::periodes_create)),
    )
    .service(
        web::resource(format!("/periodes/{ID}"))
            .route(web::get().to(s::periodes_get))
            .route(web::put().to(s::periodes_put))
            .route(web::patch().to(s::periodes_patch))
            .route(web::delete().to(s::periodes_delete)),
    )
    .service(
        web::resource("/classes")
            .route(web::get().to(s::classes_list))
            .route(web::post().to(s::classes_create)),
    )
    .service(
        web::resource(format!("/classes/{ID}/eleves"))
            .route(web::get().to(pedagogie::classe_eleves)),
    )
    .service(
        web::resource(format!("/classes/{ID}"))
            .route(web::get().to(s::classes_get))
            .route(web::put().to(s::classes_put))
            .route(web::patch().to(s::classes_patch))
            .route(web::delete().to(s::classes_delete)),
    )
    .service(
        web::resource("/matieres")
            .route(web::get().to(s::matieres_list))
            .route(web::post().to(s::matieres_create)),
    )
    .service(
        web::resource(format!("/matieres/{ID}"))
            .route(web::get().to(s::matieres_get))
            .route(web::put().to(s::matieres_put))
            .route(web::patch().to(s::matieres_patch))
            .route(web::delete().to(s::matieres_delete)),
    )
    .service(
        web::resource("/enseignements")
            .route(web::get().to(s::enseignements_list))
            .route(web::post().to(s::enseignements_create)),
    )
    .service(
        web::resource(format!("/enseignements/{ID}"))
            .route(web::get().to(s::enseignements_get))
            .route(web::put().to(s::enseignements_put))
            .route(web::patch().to(s::enseignements_patch))
            .route(web::delete().to(s::enseignements_delete)),
    );
}

fn configure_pedagogie(cfg: &mut web::ServiceConfig) {
    use pedagogie as p;
    cfg.service(
        web::resource("/eleves")
            .route(web::get().to(p::eleves_list))
            .route(web::post().to(p::eleves_create)),
    )
    .service(web::resource("/eleves/import").route(web::post().to(p::eleves_import)))
    .service(
        web::resource(format!("/eleves/{ID}/parents"))
            .route(web::get().to(p::eleves_parents))
            .route(web::post().to(p::eleves_parents_link)),
    )
    .service(
        web::resource(format!("/eleves/{ID}/parents/{{parent_id:\\d+}}"))
            .route(web::delete().to(p::eleves_parents_unlink)),
    )
    .service(
        web::resource(format!("/eleves/{ID}"))
            .route(web::get().to(p::eleves_get))
            .route(web::put().to(p::eleves_update))
            .route(web::patch().to(p::eleves_update))
            .route(web::delete().to(p::eleves_delete)),
    )
    .service(
        web::resource("/parents")
            .route(web::get().to(p::parents_list))
            .route(web::post().to(p::parents_create)),
    )
    .service(
        web::resource(format!("/parents/{ID}"))
            .route(web::get().to(p::parents_get))
            .route(web::put().to(p::parents_update))
            .route(web::patch().to(p::parents_update))
            .route(web::delete().to(p::parents_delete)),
    )
    .service(
        web::resource("/enseignants")
            .route(web::get().to(p::enseignants_list))
            .route(web::post().to(p::enseignants_create)),
    )
    .service(
        web::resource(format!("/enseignants/{ID}"))
            .route(web::get().to(p::enseignants_get))
            .route(web::put().to(p::enseignants_update))
            .route(web::patch().to(p::enseignants_update))
            .route(web::delete().to(p::enseignants_delete)),
    )
    .service(web::resource("/notes/saisie").route(web::post().to(p::notes_saisie)))
    .service(
        web::resource("/notes")
            .route(web::get().to(p::notes_list))
            .route(web::post().to(p::notes_create)),
    )
    .service(
        web::resource(format!("/notes/{ID}"))
            .route(web::get().to(p::notes_get))
            .route(web::put().to(p::notes_put))
            .route(web::patch().to(p::notes_patch))
            .route(web::delete().to(p::notes_delete)),
    )
    .service(web::resource("/presences/appel").route(web::post().to(p::presences_appel)))
    .service(
        web::resource("/presences")
            .route(web::get().to(p::presences_list))
            .route(web::post().to(p::presences_create)),
    )
    .service(
        web::resource(format!("/presences/{ID}"))
            .route(web::get().to(p::presences_get))
            .route(web::put().to(p::presences_put))
            .route(web::patch().to(p::presences_patch))
            .route(web::delete().to(p::presences_delete)),
    );
}

fn configure_bulletins(cfg: &mut web::ServiceConfig) {
    use bulletins as b;
    cfg.service(web::resource("/bulletins").route(web::get().to(b::list)))
        .service(web::resource("/bulletins/generer").route(web::post().to(b::generer)))
        .service(web::resource("/bulletins/publier").route(web::post().to(b::publier)))
        .service(
            web::resource("/bulletins/appreciations")
                .route(web::get().to(b::appreciations_list))
                .route(web::post().to(b::appreciations_create)),
        )
        .service(
            web::resource("/bulletins/appreciations/saisie")
                .route(web::post().to(b::appreciations_saisie)),
        )
        .service(
            web::resource("/bulletins/conseil")
                .route(web::get().to(b::conseil_list))
                .route(web::post().to(b::conseil_create)),
        )
        .service(
            web::resource("/bulletins/regles")
                .route(web::get().to(b::regles_get))
                .route(web::put().to(b::regles_put))
                .route(web::patch().to(b::regles_patch)),
        )
        .service(web::resource(format!("/bulletins/{ID}/pdf")).route(web::get().to(b::pdf)))
        .service(
            web::resource(format!("/bulletins/{ID}/versions")).route(web::get().to(b::versions)),
        )
        .service(web::resource(format!("/bulletins/{ID}")).route(web::get().to(b::retrieve)));
}

fn configure_communication(cfg: &mut web::ServiceConfig) {
    use communication as c;
    cfg.service(web::resource("/notifications").route(web::get().to(c::notifications_list)))
        .service(
            web::resource("/notifications/non-lues")
                .route(web::get().to(c::notifications_non_lues)),
        )
        .service(
            web::resource("/notifications/tout-lire")
                .route(web::post().to(c::notifications_tout_lire)),
        )
        .service(
            web::resource(format!("/notifications/{ID}/lire"))
                .route(web::post().to(c::notifications_lire)),
        );
}

fn configure_finances(cfg: &mut web::ServiceConfig) {
    use finances as f;
    cfg.service(
        web::resource("/frais")
            .route(web::get().to(f::frais_list))
            .route(web::post().to(f::frais_create)),
    )
    .service(
        web::resource(format!("/frais/{ID}"))
            .route(web::get().to(f::frais_get))
            .route(web::put().to(f::frais_put))
            .route(web::patch().to(f::frais_patch))
            .route(web::delete().to(f::frais_delete)),
    )
    .service(
        web::resource("/factures")
            .route(web::get().to(f::factures_list))
            .route(web::post().to(f::factures_create)),
    )
    .service(web::resource("/factures/generer").route(web::post().to(f::factures_generer)))
    .service(
        web::resource(format!("/factures/{ID}/emettre")).route(web::post().to(f::factures_emettre)),
    )
    .service(
        web::resource(format!("/factures/{ID}/annuler")).route(web::post().to(f::factures_annuler)),
    )
    .service(web::resource(format!("/factures/{ID}/pdf")).route(web::get().to(f::factures_pdf)))
    .service(
        web::resource(format!("/factures/{ID}/paiements"))
            .route(web::get().to(f::factures_paiements_list))
            .route(web::post().to(f::factures_paiements_create)),
    )
    .service(
        web::resource(format!("/factures/{ID}"))
            .route(web::get().to(f::factures_get))
            .route(web::put().to(f::factures_put))
            .route(web::patch().to(f::factures_patch))
            .route(web::delete().to(f::factures_delete)),
    )
    .service(
        web::resource("/paiements")
            .route(web::get().to(f::paiements_list))
            .route(web::post().to(f::paiements_create)),
    )
    .service(web::resource(format!("/paiements/{ID}/recu")).route(web::get().to(f::paiements_recu)))
    .service(web::resource(format!("/paiements/{ID}")).route(web::get().to(f::paiements_get)))
    .service(web::resource(format!("/eleves/{ID}/releve")).route(web::get().to(f::eleves_releve)));
}

fn configure_bibliotheque(cfg: &mut web::ServiceConfig) {
    use bibliotheque as b;
    cfg.service(
        web::resource("/livres")
            .route(web::get().to(b::livres_list))
            .route(web::post().to(b::livres_create)),
    )
    .service(web::resource("/livres/import").route(web::post().to(b::livres_import)))
    .service(
        web::resource(format!("/livres/{ID}"))
            .route(web::get().to(b::livres_get))
            .route(web::put().to(b::livres_put))
            .route(web::patch().to(b::livres_patch))
            .route(web::delete().to(b::livres_delete)),
    )
    .service(
        web::resource("/exemplaires")
            .route(web::get().to(b::exemplaires_list))
            .route(web::post().to(b::exemplaires_create)),
    )
    .service(
        web::resource(format!("/exemplaires/{ID}"))
            .route(web::get().to(b::exemplaires_get))
            .route(web::put().to(b::exemplaires_put))
            .route(web::patch().to(b::exemplaires_patch))
            .route(web::delete().to(b::exemplaires_delete)),
    )
    .service(
        web::resource("/emprunts")
            .route(web::get().to(b::emprunts_list))
            .route(web::post().to(b::emprunts_create)),
    )
    .service(
        web::resource(format!("/emprunts/{ID}/retour")).route(web::post().to(b::emprunts_retour)),
    )
    .service(
        web::resource(format!("/emprunts/{ID}"))
            .route(web::get().to(b::emprunts_get))
            .route(web::put().to(b::emprunts_update))
            .route(web::patch().to(b::emprunts_update))
            .route(web::delete().to(b::emprunts_delete)),
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
