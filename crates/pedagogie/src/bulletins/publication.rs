//! `bulletins/publier/`: a class's rendered report cards for a period become visible to
//! the families (`PDF_GENERE` → `PUBLIE`), and the pupil and each parent are told by email.
//! Refused (409) while one of them needs recomputing (a grade, coefficient, assignment or
//! attendance changed since it was computed).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role};
use ecole_db::enums::{CodePeriode, StatutBulletin};
use ecole_db::schema::bulletins;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublierInput {
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    pub classe: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Publication {
    /// Bulletins published now.
    pub publies: usize,
    /// Already published before.
    pub deja_publies: i64,
    /// Not publishable yet: their PDF is not rendered (`CALCULE`).
    pub en_attente_pdf: i64,
    /// Notifications created (pupil and parents of each published bulletin).
    pub notifications: usize,
}

/// Publishes (ADMIN, DIRECTION); bulletins still without a PDF stay as they are.
pub async fn publier(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &PublierInput,
) -> DomainResult<Publication> {
    actor.require(&[Role::Admin, Role::Direction])?;
    let mut errors = FieldErrors::new();
    super::travaux::check_classe_de_l_annee(conn, input.classe, input.annee_scolaire, &mut errors)
        .await?;
    errors.into_result()?;
    let actor = *actor;
    let input = input.clone();
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // No generation of the period meanwhile, and no change slips between the check
        // below and the publication (the triggers that flag bulletins wait for this lock).
        super::generation::verrouiller(conn, input.annee_scolaire, input.periode).await?;
        let of_class = || {
            bulletins::table
                .filter(bulletins::classe_id.eq(input.classe))
                .filter(bulletins::annee_scolaire_id.eq(input.annee_scolaire))
                .filter(bulletins::periode.eq(input.periode))
        };
        let stale: i64 = of_class()
            .filter(bulletins::a_recalculer.eq(true))
            .filter(bulletins::statut.ne(StatutBulletin::Publie))
            .count()
            .get_result(conn)
            .await?;
        if stale > 0 {
            let which = if stale == 1 {
                "1 bulletin doit être recalculé".to_string()
            } else {
                format!("{stale} bulletins doivent être recalculés")
            };
            return Err(DomainError::Conflict(format!(
                "{which} (notes, coefficients, enseignements, présences, appréciations ou \
                 conseil de classe modifiés depuis le calcul) : générez à nouveau les \
                 bulletins de la classe avant de les publier."
            )));
        }
        let published: Vec<(i64, i64)> =
            diesel::update(of_class().filter(bulletins::statut.eq(StatutBulletin::PdfGenere)))
                .set(bulletins::statut.eq(StatutBulletin::Publie))
                .returning((bulletins::id, bulletins::eleve_id))
                .get_results(conn)
                .await?;
        let counts: Vec<(StatutBulletin, i64)> = of_class()
            .group_by(bulletins::statut)
            .select((bulletins::statut, diesel::dsl::count_star()))
            .load(conn)
            .await?;
        let count = |s: StatutBulletin| {
            counts
                .iter()
                .find(|(statut, _)| *statut == s)
                .map(|(_, n)| *n)
                .unwrap_or(0)
        };
        if published.is_empty() && count(StatutBulletin::Publie) == 0 {
            let message = if count(StatutBulletin::Calcule) > 0 {
                "Les PDF de ces bulletins ne sont pas encore générés."
            } else {
                "Aucun bulletin n'a été généré pour cette classe et cette période."
            };
            return Err(DomainError::Conflict(message.into()));
        }
        let notifications = super::notification::bulletins_publies(conn, &published).await?;
        if !published.is_empty() {
            audit::record(
                conn,
                AuditEntry {
                    actor: Some(&actor),
                    action: AuditAction::Update,
                    table: "bulletins",
                    row_id: None,
                    before: Some(serde_json::json!({
                        "classe": input.classe,
                        "periode": input.periode,
                        "statut": StatutBulletin::PdfGenere,
                    })),
                    after: Some(serde_json::json!({
                        "statut": StatutBulletin::Publie,
                        "bulletins": published.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                    })),
                },
            )
            .await?;
        }
        Ok(Publication {
            publies: published.len(),
            deja_publies: count(StatutBulletin::Publie) - published.len() as i64,
            en_attente_pdf: count(StatutBulletin::Calcule),
            notifications,
        })
    })
    .await
}
