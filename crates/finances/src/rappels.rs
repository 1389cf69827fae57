//! `finances.envoyer_rappels_paiement` (the beat, 09:00 Conakry): every overdue invoice
//! (`EMISE` or `PARTIELLEMENT_PAYEE`, due before today) not reminded in the last
//! `RAPPEL_INTERVALLE_JOURS` days gets one `RAPPEL_PAIEMENT` notification to the pupil and
//! one to each parent (e-mail and SMS), in the seed's wording.
//!
//! Set-based, in one transaction: one `UPDATE … RETURNING` marks the invoices reminded (a
//! concurrent run waits on their rows, then finds them already reminded), one query reads the
//! pupils, one their parents, then the notifications and their delivery jobs are inserted in
//! batches — a constant number of statements whatever the number of invoices.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_communication::{NouvelleNotification, TypeNotification, parents_eleves};
use ecole_core::time::CONAKRY;
use ecole_core::{DomainError, DomainResult};
use ecole_db::enums::StatutFacture;
use ecole_db::schema::{eleves, factures, users};
use ecole_jobs::{JobContext, JobError};
use serde_json::{Value, json};

use crate::montants::format_gnf;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bilan {
    pub factures: usize,
    pub notifications: usize,
}

/// The instant before which a last reminder is old enough: the start (Conakry) of the day
/// `intervalle − 1` days before `aujourdhui`. Reminded on day D → due again on D + intervalle,
/// whatever the time of day of either run.
pub fn limite(aujourdhui: NaiveDate, intervalle_jours: u32) -> DateTime<Utc> {
    let jour = aujourdhui
        .checked_sub_days(Days::new(u64::from(intervalle_jours.max(1)) - 1))
        .unwrap_or(aujourdhui);
    jour.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(CONAKRY).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}

fn date_fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Reminds the invoices overdue on `aujourdhui`.
pub async fn envoyer_rappels(
    conn: &mut AsyncPgConnection,
    aujourdhui: NaiveDate,
    intervalle_jours: u32,
) -> DomainResult<Bilan> {
    let limite = limite(aujourdhui, intervalle_jours);
    conn.transaction::<_, DomainError, _>(async move |conn| {
        type Relance = (i64, Option<String>, i64, i64, i64, NaiveDate);
        let relancees: Vec<Relance> = diesel::update(
            factures::table
                .filter(
                    factures::statut
                        .eq_any([StatutFacture::Emise, StatutFacture::PartiellementPayee]),
                )
                .filter(factures::date_echeance.lt(aujourdhui))
                .filter(
                    factures::dernier_rappel_le
                        .is_null()
                        .or(factures::dernier_rappel_le.lt(limite)),
                ),
        )
        .set(factures::dernier_rappel_le.eq(diesel::dsl::now))
        .returning((
            factures::id,
            factures::numero,
            factures::eleve_id,
            factures::montant_total,
            factures::montant_paye,
            factures::date_echeance,
        ))
        .get_results(conn)
        .await?;
        if relancees.is_empty() {
            return Ok(Bilan::default());
        }
        let mut ids: Vec<i64> = relancees.iter().map(|r| r.2).collect();
        ids.sort_unstable();
        ids.dedup();
        // The pupils: their own account (when active) and their name.
        let pupils: HashMap<i64, (i64, bool, String)> = eleves::table
            .inner_join(users::table)
            .filter(eleves::id.eq_any(&ids))
            .select((
                eleves::id,
                users::id,
                users::is_active,
                users::first_name,
                users::last_name,
            ))
            .load::<(i64, i64, bool, String, String)>(conn)
            .await?
            .into_iter()
            .map(|(e, u, active, f, l)| (e, (u, active, format!("{f} {l}").trim().to_string())))
            .collect();
        let parents = parents_eleves(conn, &ids).await?;
        let jour = aujourdhui.format("%Y-%m-%d").to_string();
        let mut notifications = Vec::with_capacity(relancees.len() * 3);
        for (facture, numero, eleve, total, paye, echeance) in &relancees {
            let numero = numero.as_deref().unwrap_or("?");
            let reste = format_gnf(total - paye);
            let echeance = date_fr(*echeance);
            let lien = Some(format!("/factures/{facture}"));
            let nouvelle = |user: i64, message: String| NouvelleNotification {
                utilisateur_id: user,
                type_notification: TypeNotification::RappelPaiement,
                titre: "Rappel de paiement".into(),
                message,
                lien_url: lien.clone(),
                envoyer_par_email: true,
                envoyer_par_sms: true,
                cle: Some(format!("rappel:{facture}:{jour}:{user}")),
            };
            let nom = match pupils.get(eleve) {
                Some((user, active, nom)) => {
                    if *active {
                        notifications.push(nouvelle(
                            *user,
                            format!(
                                "Votre facture {numero} d'un montant restant de {reste} est en retard. Échéance : {echeance}."
                            ),
                        ));
                    }
                    nom.clone()
                }
                None => String::new(),
            };
            for parent in parents.get(eleve).map(Vec::as_slice).unwrap_or(&[]) {
                notifications.push(nouvelle(
                    *parent,
                    format!(
                        "Facture {numero} pour {nom} en retard. Montant restant : {reste}. Échéance : {echeance}."
                    ),
                ));
            }
        }
        let created = ecole_communication::notifier(conn, &notifications).await?;
        Ok(Bilan {
            factures: relancees.len(),
            notifications: created.len(),
        })
    })
    .await
}

/// The job: today in Conakry, `RAPPEL_INTERVALLE_JOURS` from the settings.
pub async fn envoyer_rappels_paiement(ctx: JobContext) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let bilan = envoyer_rappels(
        &mut conn,
        ecole_core::time::today(),
        ctx.settings.rappel_intervalle_jours,
    )
    .await?;
    tracing::info!(
        factures = bilan.factures,
        notifications = bilan.notifications,
        "rappels de paiement envoyés"
    );
    Ok(json!({
        "factures_relancees": bilan.factures,
        "notifications": bilan.notifications,
        "rappels_envoyes": bilan.factures,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limite_en_jours_de_conakry() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        assert_eq!(limite(d, 7).to_rfc3339(), "2026-11-20T00:00:00+00:00");
        assert_eq!(limite(d, 1).to_rfc3339(), "2026-11-26T00:00:00+00:00");
    }
}
