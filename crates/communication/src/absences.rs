//! Absence alerts: the immediate SMS when a pupil is marked absent
//! (`communication.envoyer_notification_absence`) and the 17:00 round-up
//! (`pedagogie.notifier_absences_quotidiennes`: one message per parent naming every child
//! absent or late that day). Both mark the attendance rows `notification_envoyee` in the
//! transaction that creates the notifications, and use idempotency keys: running them twice
//! notifies once.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::DomainError;
use ecole_db::enums::{Sexe, StatutPresence, TypeNotification};
use ecole_db::schema::{classes, eleves, presences, users};
use ecole_jobs::{JobContext, JobError};
use serde_json::{Value, json};

use crate::gsm7::{SMS_MAX, message_length, signed_length};
use crate::service::{NouvelleNotification, notifier, parents_eleves, school_name};

/// A child in an absence message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enfant {
    pub eleve_id: i64,
    pub presence_id: i64,
    pub prenom: String,
    pub nom: String,
    pub sexe: Sexe,
    pub classe: String,
    pub statut: StatutPresence,
}

impl Enfant {
    fn full_name(&self) -> String {
        format!("{} {}", self.prenom.trim(), self.nom.trim())
            .trim()
            .to_string()
    }

    /// The first given name and the family name (`Mamadou Saliou` `Diallo` → `Mamadou Diallo`).
    fn short_name(&self) -> String {
        let first = self.prenom.split_whitespace().next().unwrap_or("");
        format!("{first} {}", self.nom.trim()).trim().to_string()
    }

    fn etat(&self) -> &'static str {
        match (self.statut, self.sexe) {
            (StatutPresence::Retard, _) => "en retard",
            (_, Sexe::F) => "absente",
            (_, Sexe::M) => "absent",
        }
    }

    fn marque(&self) -> &'static str {
        match (self.statut, self.sexe) {
            (StatutPresence::Retard, Sexe::F) => "est arrivée en retard",
            (StatutPresence::Retard, Sexe::M) => "est arrivé en retard",
            (_, Sexe::F) => "a été marquée absente",
            (_, Sexe::M) => "a été marqué absent",
        }
    }
}

fn date_fr(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// `a`, `a et b`, `a, b et c`.
fn enumerate(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} et {last}", init.join(", ")),
    }
}

const MOTIF: &str = " Merci de nous en indiquer le motif.";

/// Picks the richest wording whose SMS fits one segment: full names before the school's
/// name, the school's name before details. `tiers` go from full names to short names; in
/// each, wordings go from richest to shortest. Names come first in every wording.
fn fit(school: &str, tiers: Vec<Vec<String>>) -> String {
    for tier in &tiers {
        if let Some(v) = tier.iter().find(|v| signed_length(school, v) <= SMS_MAX) {
            return v.clone();
        }
        if let Some(v) = tier.iter().find(|v| message_length(v) <= SMS_MAX) {
            return v.clone();
        }
    }
    tiers
        .last()
        .and_then(|t| t.last())
        .cloned()
        .unwrap_or_default()
}

/// Title and message telling a parent about their children absent or late on `date`.
pub fn message_absences(school: &str, date: NaiveDate, enfants: &[Enfant]) -> (String, String) {
    let d = date_fr(date);
    let absents = enfants
        .iter()
        .filter(|e| e.statut != StatutPresence::Retard)
        .count();
    let retards = enfants.len() - absents;
    let titre = match (absents, retards) {
        (1, 0) => format!("Absence du {d}"),
        (_, 0) => format!("Absences du {d}"),
        (0, 1) => format!("Retard du {d}"),
        (0, _) => format!("Retards du {d}"),
        _ => format!("Absences et retards du {d}"),
    };
    let tiers: Vec<Vec<String>> = if let [e] = enfants {
        vec![
            vec![
                format!(
                    "{} ({}) {} le {d}.{MOTIF}",
                    e.full_name(),
                    e.classe,
                    e.marque()
                ),
                format!("{} ({}) {} le {d}.", e.full_name(), e.classe, e.marque()),
                format!("{} {} le {d}.", e.full_name(), e.marque()),
                format!("{} {} le {d}.", e.full_name(), e.etat()),
            ],
            vec![format!("{} {} le {d}.", e.short_name(), e.etat())],
        ]
    } else {
        let with_class: Vec<String> = enfants
            .iter()
            .map(|e| format!("{} ({}) {}", e.full_name(), e.classe, e.etat()))
            .collect();
        let without_class: Vec<String> = enfants
            .iter()
            .map(|e| format!("{} {}", e.full_name(), e.etat()))
            .collect();
        let short: Vec<String> = enfants
            .iter()
            .map(|e| format!("{} {}", e.short_name(), e.etat()))
            .collect();
        vec![
            vec![
                format!("Le {d} : {}.{MOTIF}", enumerate(&with_class)),
                format!("Le {d} : {}.", enumerate(&with_class)),
                format!("Le {d} : {}.", enumerate(&without_class)),
            ],
            vec![format!("Le {d} : {}.", enumerate(&short))],
        ]
    };
    (titre, fit(school, tiers))
}

type EnfantRow = (i64, i64, StatutPresence, String, String, Sexe, String);

/// The children behind these attendance rows.
async fn enfants(
    conn: &mut AsyncPgConnection,
    presence_ids: &[i64],
) -> Result<Vec<Enfant>, DomainError> {
    let rows: Vec<EnfantRow> = presences::table
        .inner_join(eleves::table.on(eleves::id.eq(presences::eleve_id)))
        .inner_join(users::table.on(users::id.eq(eleves::user_id)))
        .inner_join(classes::table.on(classes::id.eq(presences::classe_id)))
        .filter(presences::id.eq_any(presence_ids))
        .select((
            presences::id,
            presences::eleve_id,
            presences::statut,
            users::first_name,
            users::last_name,
            eleves::sexe,
            classes::nom,
        ))
        .order((users::last_name, users::first_name, presences::id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(presence_id, eleve_id, statut, prenom, nom, sexe, classe)| Enfant {
                eleve_id,
                presence_id,
                prenom,
                nom,
                sexe,
                classe,
                statut,
            },
        )
        .collect())
}

/// One notification per parent naming all their children of `enfants`, created with their
/// delivery jobs; the rows are then marked notified. Returns (notifications, parents).
async fn notify_parents(
    conn: &mut AsyncPgConnection,
    date: NaiveDate,
    enfants: &[Enfant],
    sms_only: bool,
) -> Result<(usize, usize), DomainError> {
    let eleve_ids: Vec<i64> = enfants.iter().map(|e| e.eleve_id).collect();
    let parents = parents_eleves(conn, &eleve_ids).await?;
    let mut by_parent: BTreeMap<i64, Vec<&Enfant>> = BTreeMap::new();
    for e in enfants {
        for parent in parents.get(&e.eleve_id).into_iter().flatten() {
            by_parent.entry(*parent).or_default().push(e);
        }
    }
    let school = school_name(conn).await?;
    let batch: Vec<NouvelleNotification> = by_parent
        .iter()
        .map(|(parent, children)| {
            let owned: Vec<Enfant> = children.iter().map(|e| (*e).clone()).collect();
            let (titre, message) = message_absences(&school, date, &owned);
            let ids: Vec<String> = owned.iter().map(|e| e.presence_id.to_string()).collect();
            let any_absent = owned.iter().any(|e| e.statut != StatutPresence::Retard);
            let lien = match owned.as_slice() {
                [one] => format!("/api/v1/presences/?date={date}&eleve={}", one.eleve_id),
                _ => format!("/api/v1/presences/?date={date}"),
            };
            NouvelleNotification {
                utilisateur_id: *parent,
                type_notification: if any_absent {
                    TypeNotification::Absence
                } else {
                    TypeNotification::Retard
                },
                titre,
                message,
                lien_url: Some(lien),
                envoyer_par_email: !sms_only,
                envoyer_par_sms: true,
                cle: Some(format!("absences:{parent}:{}", ids.join(","))),
            }
        })
        .collect();
    let created = notifier(conn, &batch).await?;
    let presence_ids: Vec<i64> = enfants.iter().map(|e| e.presence_id).collect();
    diesel::update(presences::table.filter(presences::id.eq_any(&presence_ids)))
        .set(presences::notification_envoyee.eq(true))
        .execute(conn)
        .await?;
    Ok((created.len(), by_parent.len()))
}

/// Immediate absence SMS go for today's and yesterday's absences only (issue #16: a roll call
/// for any past or future day would send SMS at the school's expense).
pub fn sms_immediat_permis(date: NaiveDate, today: NaiveDate) -> bool {
    let yesterday = today
        .checked_sub_days(chrono::Days::new(1))
        .unwrap_or(today);
    date == today || date == yesterday
}

/// `communication.envoyer_notification_absence(presence_id)`: an SMS to each parent of a
/// pupil just marked absent (nothing if they are no longer absent, were notified, or the day
/// is older than yesterday).
pub async fn envoyer_notification_absence(
    ctx: &JobContext,
    presence_id: i64,
) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let result = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let row: Option<(StatutPresence, bool, NaiveDate)> = presences::table
                .find(presence_id)
                .select((
                    presences::statut,
                    presences::notification_envoyee,
                    presences::date,
                ))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some((statut, deja, date)) = row else {
                return Ok(json!({ "presence": presence_id, "detail": "présence supprimée" }));
            };
            if statut != StatutPresence::Absent {
                return Ok(
                    json!({ "presence": presence_id, "detail": "l'élève n'est plus marqué absent" }),
                );
            }
            if deja {
                return Ok(json!({ "presence": presence_id, "detail": "déjà notifiée" }));
            }
            if !sms_immediat_permis(date, ecole_core::time::today()) {
                return Ok(
                    json!({ "presence": presence_id, "detail": "absence trop ancienne : pas de SMS immédiat" }),
                );
            }
            let enfants = enfants(conn, &[presence_id]).await?;
            let (created, parents) = notify_parents(conn, date, &enfants, true).await?;
            Ok(json!({ "presence": presence_id, "notifications": created, "parents": parents }))
        })
        .await?;
    Ok(result)
}

/// `pedagogie.notifier_absences_quotidiennes()`: today's `ABSENT` and `RETARD` rows not yet
/// notified → one notification per parent (e-mail and SMS) naming every such child.
pub async fn notifier_absences_quotidiennes(ctx: &JobContext) -> Result<Value, JobError> {
    notifier_absences_du(ctx, ecole_core::time::today()).await
}

/// The round-up for one day (the job uses today in Conakry).
pub async fn notifier_absences_du(ctx: &JobContext, date: NaiveDate) -> Result<Value, JobError> {
    let mut conn = ctx.pool.get().await?;
    let result = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            // Rows another run is handling are skipped, not waited for.
            let ids: Vec<i64> = presences::table
                .filter(presences::date.eq(date))
                .filter(presences::statut.eq_any([StatutPresence::Absent, StatutPresence::Retard]))
                .filter(presences::notification_envoyee.eq(false))
                .select(presences::id)
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            if ids.is_empty() {
                return Ok(json!({ "date": date, "eleves": 0, "notifications": 0, "parents": 0 }));
            }
            let enfants = enfants(conn, &ids).await?;
            let (created, parents) = notify_parents(conn, date, &enfants, false).await?;
            Ok(json!({
                "date": date,
                "eleves": enfants.len(),
                "notifications": created,
                "parents": parents,
            }))
        })
        .await?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7::sms_text;

    fn enfant(prenom: &str, nom: &str, sexe: Sexe, classe: &str, statut: StatutPresence) -> Enfant {
        Enfant {
            eleve_id: 1,
            presence_id: 1,
            prenom: prenom.into(),
            nom: nom.into(),
            sexe,
            classe: classe.into(),
            statut,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default()
    }

    const SCHOOL: &str = "Groupe Scolaire Privé Les Flamboyants de Kipé";

    #[test]
    fn one_child_keeps_the_full_sentence_when_it_fits() {
        let e = enfant("Aïssatou", "Bah", Sexe::F, "6ème A", StatutPresence::Absent);
        let (titre, message) = message_absences("École Sainte-Marie", day(), &[e]);
        assert_eq!(titre, "Absence du 26/11/2026");
        assert_eq!(
            message,
            "Aïssatou Bah (6ème A) a été marquée absente le 26/11/2026. Merci de nous en indiquer le motif."
        );
        let sms = sms_text("École Sainte-Marie", &message, None);
        assert_eq!(
            sms,
            "École Sainte-Marie : Aissatou Bah (6ème A) a été marquée absente le 26/11/2026. Merci de nous en indiquer le motif."
        );
    }

    #[test]
    fn three_children_with_long_guinean_names_fit_one_segment_with_every_name() {
        let children = [
            enfant(
                "Thierno Mamadou Saliou",
                "Diallo",
                Sexe::M,
                "Terminale SM",
                StatutPresence::Absent,
            ),
            enfant(
                "Fatoumata Binta Kadiatou",
                "Barry",
                Sexe::F,
                "10ème Année B",
                StatutPresence::Retard,
            ),
            enfant(
                "Mohamed Lamine Abdoulaye",
                "Kouyaté",
                Sexe::M,
                "7ème Année A",
                StatutPresence::Absent,
            ),
        ];
        let (titre, message) = message_absences(SCHOOL, day(), &children);
        assert_eq!(titre, "Absences et retards du 26/11/2026");
        let sms = sms_text(SCHOOL, &message, Some("https://ecole.gn/api/v1/presences/"));
        assert!(
            crate::gsm7::length(&sms) <= SMS_MAX,
            "{} : {sms}",
            crate::gsm7::length(&sms)
        );
        for name in [
            "Thierno Mamadou Saliou Diallo",
            "Fatoumata Binta Kadiatou Barry",
            "Mohamed Lamine Abdoulaye Kouyaté",
        ] {
            assert!(sms.contains(name), "{name} absent de « {sms} »");
        }
        assert!(!sms.contains("https"), "le lien part en premier : {sms}");
        assert!(sms.contains("en retard") && sms.contains("absent"));
        assert!(
            sms.chars()
                .all(|c| crate::gsm7::transliterate(&c.to_string()) == c.to_string())
        );
    }

    #[test]
    fn four_children_keep_every_name_and_lose_the_school_first() {
        let children = [
            enfant(
                "Elhadj Mamadou Alpha Oumar",
                "Bah",
                Sexe::M,
                "Terminale SE",
                StatutPresence::Absent,
            ),
            enfant(
                "N'Famara Ibrahima",
                "Soumah",
                Sexe::M,
                "11ème Année",
                StatutPresence::Absent,
            ),
            enfant(
                "Hadja Mariama Djenabou",
                "Sow",
                Sexe::F,
                "8ème Année",
                StatutPresence::Absent,
            ),
            enfant(
                "Mamadou Aliou",
                "Condé",
                Sexe::M,
                "CM2",
                StatutPresence::Retard,
            ),
        ];
        let (titre, message) = message_absences(SCHOOL, day(), &children);
        assert_eq!(titre, "Absences et retards du 26/11/2026");
        let sms = sms_text(SCHOOL, &message, None);
        assert!(crate::gsm7::length(&sms) <= SMS_MAX, "{sms}");
        for name in [
            "Elhadj Mamadou Alpha Oumar Bah",
            "N'Famara Ibrahima Soumah",
            "Hadja Mariama Djenabou Sow",
            "Mamadou Aliou Condé",
        ] {
            assert!(sms.contains(name), "{name} absent de « {sms} »");
        }
        assert!(sms.starts_with("Le 26/11/2026 : "), "{sms}");
        assert!(!sms.ends_with("..."), "{sms}");
    }

    #[test]
    fn five_children_with_long_names_fall_back_to_short_names() {
        let children: Vec<Enfant> = [
            ("Elhadj Mamadou Alpha Oumar", "Bah"),
            ("N'Famara Ibrahima", "Soumah"),
            ("Hadja Mariama Djenabou", "Sow"),
            ("Mamadou Aliou Thierno", "Condé"),
            ("Fatoumata Binta Kadiatou", "Baldé"),
        ]
        .iter()
        .map(|(p, n)| enfant(p, n, Sexe::M, "CM2", StatutPresence::Absent))
        .collect();
        let (_, message) = message_absences(SCHOOL, day(), &children);
        let sms = sms_text(SCHOOL, &message, None);
        assert!(crate::gsm7::length(&sms) <= SMS_MAX, "{sms}");
        for name in [
            "Elhadj Bah",
            "N'Famara Soumah",
            "Hadja Sow",
            "Mamadou Condé",
            "Fatoumata Baldé",
        ] {
            assert!(sms.contains(name), "{name} absent de « {sms} »");
        }
    }

    #[test]
    fn only_late_children() {
        let e = enfant("Ousmane", "Camara", Sexe::M, "CP1", StatutPresence::Retard);
        let (titre, message) = message_absences("École", day(), &[e.clone(), e]);
        assert_eq!(titre, "Retards du 26/11/2026");
        assert!(
            message.starts_with("Le 26/11/2026 : Ousmane Camara (CP1) en retard et Ousmane Camara")
        );
    }
}
