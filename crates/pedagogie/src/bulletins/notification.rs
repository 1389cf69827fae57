//! The `BULLETIN` notifications: when report cards are published, and when a published one is
//! corrected (a new version); to the pupil and each parent, by email, once per bulletin,
//! version and recipient (idempotency key).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_communication::{NouvelleNotification, TypeNotification, destinataires_eleves, notifier};
use ecole_core::DomainResult;
use ecole_db::enums::CodePeriode;
use ecole_db::schema::{annees_scolaires, bulletins, eleves, users};

/// Notifies the families of `published` `(bulletin, eleve)`; returns how many notifications
/// were created. A constant number of queries.
pub async fn bulletins_publies(
    conn: &mut AsyncPgConnection,
    published: &[(i64, i64)],
) -> DomainResult<usize> {
    avis(conn, published, None).await
}

/// Notifies the families of `corrected` `(bulletin, eleve)`, published bulletins whose
/// `version` (> 1) was just rendered: « Bulletin corrigé », once per version.
pub async fn bulletin_corrige(
    conn: &mut AsyncPgConnection,
    bulletin: (i64, i64),
    version: i32,
) -> DomainResult<usize> {
    avis(conn, &[bulletin], Some(version)).await
}

async fn avis(
    conn: &mut AsyncPgConnection,
    published: &[(i64, i64)],
    correction: Option<i32>,
) -> DomainResult<usize> {
    if published.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = published.iter().map(|(b, _)| *b).collect();
    let eleve_ids: Vec<i64> = published.iter().map(|(_, e)| *e).collect();
    type Row = (i64, i64, CodePeriode, String, String, String);
    let rows: Vec<Row> = bulletins::table
        .inner_join(eleves::table.inner_join(users::table))
        .inner_join(annees_scolaires::table)
        .filter(bulletins::id.eq_any(&ids))
        .select((
            bulletins::id,
            bulletins::eleve_id,
            bulletins::periode,
            annees_scolaires::nom,
            users::first_name,
            users::last_name,
        ))
        .load(conn)
        .await?;
    let recipients: HashMap<i64, Vec<i64>> = destinataires_eleves(conn, &eleve_ids).await?;
    let mut out = Vec::new();
    for (bulletin, eleve, periode, annee, first, last) in rows {
        let nom = format!("{first} {last}").trim().to_string();
        for user in recipients.get(&eleve).map(|v| v.as_slice()).unwrap_or(&[]) {
            let (titre, message, cle) = match correction {
                None => (
                    format!("Bulletin du {} disponible", periode.libelle()),
                    format!(
                        "Le bulletin de {nom} pour le {} ({annee}) est disponible.",
                        periode.libelle()
                    ),
                    format!("bulletin:{bulletin}:publie:{user}"),
                ),
                Some(version) => (
                    format!("Bulletin du {} corrigé", periode.libelle()),
                    format!(
                        "Le bulletin de {nom} pour le {} ({annee}) a été corrigé : la version \
                         {version} remplace la précédente.",
                        periode.libelle()
                    ),
                    format!("bulletin:{bulletin}:version:{version}:{user}"),
                ),
            };
            out.push(NouvelleNotification {
                utilisateur_id: *user,
                type_notification: TypeNotification::Bulletin,
                titre,
                message,
                lien_url: Some(format!("/api/v1/bulletins/{bulletin}/")),
                envoyer_par_email: true,
                envoyer_par_sms: false,
                cle: Some(cle),
            });
        }
    }
    Ok(notifier(conn, &out).await?.len())
}
