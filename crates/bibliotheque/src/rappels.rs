//! `bibliotheque.rappels_emprunts_retard` (the beat, 08:00 Conakry): every open loan past its
//! due date gets one `EMPRUNT_RETARD` notification a day, to the borrower and, for a pupil,
//! to each parent. E-mail every day; SMS on the first day late and then once a week (a
//! daily SMS about a library book would be noise).
//!
//! Set-based, in one transaction: one `UPDATE … RETURNING` marks the loans reminded today (a
//! concurrent run waits on their rows, then finds them done), one query reads the loans'
//! books and borrowers, one the parents, then the notifications and their delivery jobs are
//! inserted in batches. Each notification also carries the key
//! `emprunt-retard-<loan>-<day>-<user>`: a job run twice notifies once.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_communication::{NouvelleNotification, TypeNotification, parents_eleves};
use ecole_core::{DomainError, DomainResult};
use ecole_db::enums::StatutEmprunt;
use ecole_db::schema::{eleves, emprunts, exemplaires, livres, users};
use ecole_finances::montants::format_gnf;
use ecole_jobs::{JobContext, JobError};
use serde_json::{Value, json};

use crate::Regles;
use crate::emprunts::{jours_de_retard, penalite};

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bilan {
    pub emprunts: usize,
    pub notifications: usize,
}

/// Whether the reminder of a loan `jours` days late goes by SMS too.
pub fn par_sms(jours: i64) -> bool {
    jours == 1 || (jours > 0 && jours % 7 == 0)
}

fn date_fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn jours_fr(n: i64) -> String {
    if n > 1 {
        format!("{n} jours")
    } else {
        format!("{n} jour")
    }
}

/// Reminds the loans overdue on `aujourdhui` not reminded yet that day.
pub async fn envoyer_rappels(
    conn: &mut AsyncPgConnection,
    aujourdhui: NaiveDate,
    regles: &Regles,
) -> DomainResult<Bilan> {
    let par_jour = regles.penalite_jour;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let ids: Vec<i64> = diesel::update(
            emprunts::table
                .filter(emprunts::statut.eq(StatutEmprunt::EnCours))
                .filter(emprunts::date_retour_prevue.lt(aujourdhui))
                .filter(
                    emprunts::dernier_rappel_le
                        .is_null()
                        .or(emprunts::dernier_rappel_le.lt(aujourdhui)),
                ),
        )
        .set(emprunts::dernier_rappel_le.eq(aujourdhui))
        .returning(emprunts::id)
        .get_results(conn)
        .await?;
        if ids.is_empty() {
            return Ok(Bilan::default());
        }
        type Detail = (i64, NaiveDate, String, String, i64, bool, String, String, Option<i64>);
        let details: Vec<Detail> = emprunts::table
            .inner_join(exemplaires::table.inner_join(livres::table))
            .inner_join(users::table.on(users::id.eq(emprunts::emprunteur_id)))
            .left_join(eleves::table.on(eleves::user_id.eq(emprunts::emprunteur_id)))
            .filter(emprunts::id.eq_any(&ids))
            .select((
                emprunts::id,
                emprunts::date_retour_prevue,
                livres::titre,
                exemplaires::code_barre,
                users::id,
                users::is_active,
                users::first_name,
                users::last_name,
                eleves::id.nullable(),
            ))
            .order(emprunts::id)
            .load(conn)
            .await?;
        let mut pupils: Vec<i64> = details.iter().filter_map(|d| d.8).collect();
        pupils.sort_unstable();
        pupils.dedup();
        let parents: HashMap<i64, Vec<i64>> = parents_eleves(conn, &pupils).await?;
        let jour = aujourdhui.format("%Y-%m-%d").to_string();
        let mut notifications = Vec::with_capacity(details.len() * 2);
        for (id, prevue, titre, code, user, actif, prenom, nom, eleve) in &details {
            let jours = jours_de_retard(*prevue, aujourdhui);
            let amende = penalite(jours, par_jour);
            let amende = if amende > 0 {
                format!(" Pénalité à ce jour : {}.", format_gnf(amende))
            } else {
                String::new()
            };
            let retard = jours_fr(jours);
            let echeance = date_fr(*prevue);
            let nouvelle = |destinataire: i64, message: String| NouvelleNotification {
                utilisateur_id: destinataire,
                type_notification: TypeNotification::EmpruntRetard,
                titre: "Livre à rendre à la bibliothèque".into(),
                message,
                lien_url: Some(format!("/api/v1/emprunts/{id}/")),
                envoyer_par_email: true,
                envoyer_par_sms: par_sms(jours),
                cle: Some(format!("emprunt-retard-{id}-{jour}-{destinataire}")),
            };
            if *actif {
                notifications.push(nouvelle(
                    *user,
                    format!(
                        "Le livre « {titre} » (exemplaire {code}) devait être rendu le {echeance} : \
                         {retard} de retard. Merci de le rapporter à la bibliothèque.{amende}"
                    ),
                ));
            }
            let nom = format!("{prenom} {nom}").trim().to_string();
            for parent in eleve
                .and_then(|e| parents.get(&e))
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                notifications.push(nouvelle(
                    *parent,
                    format!(
                        "{nom} devait rendre le livre « {titre} » à la bibliothèque le {echeance} : \
                         {retard} de retard.{amende}"
                    ),
                ));
            }
        }
        let created = ecole_communication::notifier(conn, &notifications).await?;
        Ok(Bilan {
            emprunts: ids.len(),
            notifications: created.len(),
        })
    })
    .await
}

/// The job: today in Conakry, the rules from the settings.
pub async fn rappels_emprunts_retard(ctx: JobContext) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let bilan = envoyer_rappels(
        &mut conn,
        ecole_core::time::today(),
        &Regles::from_settings(&ctx.settings),
    )
    .await?;
    tracing::info!(
        emprunts = bilan.emprunts,
        notifications = bilan.notifications,
        "rappels des emprunts en retard envoyés"
    );
    Ok(json!({
        "emprunts_relances": bilan.emprunts,
        "notifications": bilan.notifications,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_on_the_first_day_then_weekly() {
        let jours: Vec<i64> = (0..=21).filter(|j| par_sms(*j)).collect();
        assert_eq!(jours, [1, 7, 14, 21]);
        assert_eq!(jours_fr(1), "1 jour");
        assert_eq!(jours_fr(3), "3 jours");
    }
}
