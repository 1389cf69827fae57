//! Computing and storing a class's report cards for a period: a constant number of queries
//! per class (never one per pupil), the rules of [`crate::calcul`], bulletins upserted in place
//! (recomputing never duplicates; a published one only with `force`), and one PDF job per
//! bulletin asked for in the same transaction.

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use chrono::{NaiveDate, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::{DomainError, DomainResult};
use ecole_db::enums::{CodePeriode, Sexe, StatutBulletin, StatutPresence, TypeNote};
use ecole_db::schema::{
    bulletin_lignes, bulletins, classes, eleves, enseignants, enseignements, matieres, notes,
    periodes, presences, regles_bulletin, users,
};
use ecole_jobs::payloads::GenererBulletinPdf;
use ecole_jobs::{NewJob, enqueue_many};

use crate::calcul::{EleveNotes, NoteBrute, Regles, calculer_classe};

/// The school's rules, from `regles_bulletin`.
pub async fn regles(conn: &mut AsyncPgConnection) -> DomainResult<Regles> {
    type Row = (
        i32,
        i32,
        BigDecimal,
        BigDecimal,
        BigDecimal,
        BigDecimal,
        BigDecimal,
        BigDecimal,
        BigDecimal,
        BigDecimal,
    );
    let r: Row = regles_bulletin::table
        .find(1)
        .select((
            regles_bulletin::poids_cours,
            regles_bulletin::poids_composition,
            regles_bulletin::seuil_excellent,
            regles_bulletin::seuil_tres_bien,
            regles_bulletin::seuil_bien,
            regles_bulletin::seuil_assez_bien,
            regles_bulletin::seuil_passable,
            regles_bulletin::seuil_insuffisant,
            regles_bulletin::seuil_tableau_honneur,
            regles_bulletin::seuil_admission,
        ))
        .first(conn)
        .await?;
    Ok(Regles {
        poids_cours: r.0.max(0) as u32,
        poids_composition: r.1.max(0) as u32,
        mentions: vec![
            (r.2, "Excellent".into()),
            (r.3, "Très bien".into()),
            (r.4, "Bien".into()),
            (r.5, "Assez bien".into()),
            (r.6, "Passable".into()),
            (r.7, "Insuffisant".into()),
        ],
        mention_defaut: "Faible".into(),
        tableau_honneur: r.8,
        seuil_admission: r.9,
    })
}

/// A subject of the class: id, coefficient, class override, teacher's first and last names.
type SubjectRow = (i64, i32, Option<i32>, Option<String>, Option<String>);

/// What a generation did for one class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    pub bulletins: Vec<i64>,
    /// Published bulletins left as they were (no `force`).
    pub publies_ignores: usize,
}

/// Computes and stores the bulletins of `classe` for `periode`.
pub async fn generer_classe(
    conn: &mut AsyncPgConnection,
    classe: i64,
    periode: CodePeriode,
    force: bool,
) -> DomainResult<Generation> {
    let calcul = calculer(conn, classe, periode).await?;
    enregistrer(conn, calcul, force).await
}

/// A class's period computed, not stored yet.
pub struct Calcul {
    regles: Regles,
    annee: i64,
    classe: i64,
    periode: CodePeriode,
    pupils: Vec<(i64, Sexe)>,
    teacher: HashMap<i64, String>,
    attendance: HashMap<(i64, StatutPresence), i32>,
    pub result: crate::calcul::ResultatClasse,
}

/// Loads a class's grades, subjects and attendance (7 queries) and computes its report
/// cards in memory.
pub async fn calculer(
    conn: &mut AsyncPgConnection,
    classe: i64,
    periode: CodePeriode,
) -> DomainResult<Calcul> {
    let regles = regles(conn).await?;
    let annee: i64 = classes::table
        .find(classe)
        .select(classes::annee_scolaire_id)
        .first(conn)
        .await?;
    let dates: Option<(NaiveDate, NaiveDate)> = periodes::table
        .filter(periodes::annee_scolaire_id.eq(annee))
        .filter(periodes::code.eq(periode))
        .select((periodes::date_debut, periodes::date_fin))
        .first(conn)
        .await
        .optional()?;
    let Some((debut, fin)) = dates else {
        return Err(DomainError::validation(
            "periode",
            format!(
                "Le {} n'est pas défini pour cette année.",
                periode.libelle()
            ),
        ));
    };
    // Subjects taught in the class, with the class's coefficient and the teacher's name.
    let subjects: Vec<SubjectRow> = enseignements::table
        .inner_join(matieres::table)
        .left_join(enseignants::table.inner_join(users::table))
        .filter(enseignements::classe_id.eq(classe))
        .select((
            matieres::id,
            matieres::coefficient,
            enseignements::coefficient,
            users::first_name.nullable(),
            users::last_name.nullable(),
        ))
        .order(matieres::id)
        .load(conn)
        .await?;
    let matieres_coef: Vec<(i64, i32)> = subjects
        .iter()
        .map(|(m, c, o, _, _)| (*m, o.unwrap_or(*c)))
        .collect();
    let teacher: HashMap<i64, String> = subjects
        .iter()
        .map(|(m, _, _, f, l)| {
            (
                *m,
                format!(
                    "{} {}",
                    f.clone().unwrap_or_default(),
                    l.clone().unwrap_or_default()
                )
                .trim()
                .to_string(),
            )
        })
        .collect();
    let pupils: Vec<(i64, Sexe)> = eleves::table
        .filter(eleves::classe_actuelle_id.eq(classe))
        .select((eleves::id, eleves::sexe))
        .order(eleves::id)
        .load(conn)
        .await?;
    let grades: Vec<(i64, i64, TypeNote, BigDecimal, BigDecimal)> = notes::table
        .filter(notes::classe_id.eq(classe))
        .filter(notes::annee_scolaire_id.eq(annee))
        .filter(notes::periode.eq(periode))
        .select((
            notes::eleve_id,
            notes::matiere_id,
            notes::type_note,
            notes::valeur,
            notes::sur,
        ))
        .load(conn)
        .await?;
    let attendance: Vec<(i64, StatutPresence, i64)> = presences::table
        .filter(presences::classe_id.eq(classe))
        .filter(presences::date.between(debut, fin))
        .filter(presences::statut.eq_any([StatutPresence::Absent, StatutPresence::Retard]))
        .group_by((presences::eleve_id, presences::statut))
        .select((presences::eleve_id, presences::statut, count_star()))
        .load(conn)
        .await?;
    let mut by_pupil: HashMap<i64, Vec<NoteBrute>> = HashMap::new();
    for (eleve, matiere, type_note, valeur, sur) in grades {
        by_pupil.entry(eleve).or_default().push(NoteBrute {
            matiere,
            type_note,
            valeur,
            sur,
        });
    }
    let input: Vec<EleveNotes> = pupils
        .iter()
        .map(|(id, sexe)| EleveNotes {
            eleve: *id,
            sexe: *sexe,
            notes: by_pupil.remove(id).unwrap_or_default(),
        })
        .collect();
    let result = calculer_classe(&regles, &matieres_coef, &input);
    Ok(Calcul {
        regles,
        annee,
        classe,
        periode,
        pupils,
        teacher,
        attendance: attendance
            .into_iter()
            .map(|(e, s, n)| ((e, s), n as i32))
            .collect(),
        result,
    })
}

/// Stores a computation: bulletins upserted in place (published ones only with `force`),
/// their lines replaced, one PDF job each — one transaction.
pub async fn enregistrer(
    conn: &mut AsyncPgConnection,
    calcul: Calcul,
    force: bool,
) -> DomainResult<Generation> {
    let Calcul {
        regles,
        annee,
        classe,
        periode,
        pupils,
        teacher,
        attendance,
        result,
    } = calcul;
    let count =
        |eleve: i64, statut: StatutPresence| attendance.get(&(eleve, statut)).copied().unwrap_or(0);
    // Published bulletins stay as they are unless forced.
    let published: Vec<i64> = bulletins::table
        .filter(bulletins::annee_scolaire_id.eq(annee))
        .filter(bulletins::periode.eq(periode))
        .filter(bulletins::eleve_id.eq_any(pupils.iter().map(|(id, _)| *id).collect::<Vec<_>>()))
        .filter(bulletins::statut.eq(StatutBulletin::Publie))
        .select(bulletins::eleve_id)
        .load(conn)
        .await?;
    let skipped = if force { 0 } else { published.len() };
    let now = Utc::now();
    let kept: Vec<_> = result
        .bulletins
        .iter()
        .filter(|b| force || !published.contains(&b.eleve))
        .collect();
    let rows: Vec<_> = kept
        .iter()
        .map(|b| {
            (
                bulletins::eleve_id.eq(b.eleve),
                bulletins::classe_id.eq(classe),
                bulletins::annee_scolaire_id.eq(annee),
                bulletins::periode.eq(periode),
                bulletins::moyenne_generale.eq(b.moyenne_generale.clone()),
                bulletins::rang.eq(b.rang.map(|r| r as i32)),
                bulletins::ex_aequo.eq(b.ex_aequo),
                bulletins::effectif.eq(result.effectif as i32),
                bulletins::moyenne_classe.eq(result.moyenne_classe.clone()),
                bulletins::moyenne_max.eq(result.moyenne_max.clone()),
                bulletins::moyenne_min.eq(result.moyenne_min.clone()),
                bulletins::mention.eq(b.mention.clone()),
                bulletins::tableau_honneur.eq(b.tableau_honneur),
                bulletins::absences.eq(count(b.eleve, StatutPresence::Absent)),
                bulletins::retards.eq(count(b.eleve, StatutPresence::Retard)),
                bulletins::statut.eq(StatutBulletin::Calcule),
                bulletins::genere_le.eq(now),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(Generation {
            bulletins: Vec::new(),
            publies_ignores: skipped,
        });
    }
    let lines_of: HashMap<i64, &Vec<crate::calcul::LigneCalculee>> =
        kept.iter().map(|b| (b.eleve, &b.lignes)).collect();
    let appreciation = |moyenne: &Option<BigDecimal>| match moyenne {
        Some(m) => regles.mention(m),
        None => "Non classé".to_string(),
    };
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // One generation of a class and period at a time (two requests, or the beat and a
        // request, wait for each other rather than interleave their lines).
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("bulletins:{classe}:{}", periode.as_str()))
            .execute(conn)
            .await?;
        let saved: Vec<(i64, i64)> = diesel::insert_into(bulletins::table)
            .values(&rows)
            .on_conflict((
                bulletins::eleve_id,
                bulletins::annee_scolaire_id,
                bulletins::periode,
            ))
            .do_update()
            .set((
                bulletins::classe_id.eq(excluded(bulletins::classe_id)),
                bulletins::moyenne_generale.eq(excluded(bulletins::moyenne_generale)),
                bulletins::rang.eq(excluded(bulletins::rang)),
                bulletins::ex_aequo.eq(excluded(bulletins::ex_aequo)),
                bulletins::effectif.eq(excluded(bulletins::effectif)),
                bulletins::moyenne_classe.eq(excluded(bulletins::moyenne_classe)),
                bulletins::moyenne_max.eq(excluded(bulletins::moyenne_max)),
                bulletins::moyenne_min.eq(excluded(bulletins::moyenne_min)),
                bulletins::mention.eq(excluded(bulletins::mention)),
                bulletins::tableau_honneur.eq(excluded(bulletins::tableau_honneur)),
                bulletins::absences.eq(excluded(bulletins::absences)),
                bulletins::retards.eq(excluded(bulletins::retards)),
                bulletins::statut.eq(excluded(bulletins::statut)),
                bulletins::genere_le.eq(excluded(bulletins::genere_le)),
            ))
            .returning((bulletins::id, bulletins::eleve_id))
            .get_results(conn)
            .await?;
        let ids: Vec<i64> = saved.iter().map(|(id, _)| *id).collect();
        diesel::delete(bulletin_lignes::table.filter(bulletin_lignes::bulletin_id.eq_any(&ids)))
            .execute(conn)
            .await?;
        let mut lines = Vec::new();
        for (bulletin, eleve) in &saved {
            for l in lines_of.get(eleve).map(|v| v.as_slice()).unwrap_or(&[]) {
                lines.push((
                    bulletin_lignes::bulletin_id.eq(*bulletin),
                    bulletin_lignes::matiere_id.eq(l.matiere),
                    bulletin_lignes::coefficient.eq(l.coefficient),
                    bulletin_lignes::moyenne.eq(l.moyenne.clone()),
                    bulletin_lignes::points.eq(l.points.clone()),
                    bulletin_lignes::rang_matiere.eq(l.rang.map(|r| r as i32)),
                    bulletin_lignes::ex_aequo.eq(l.ex_aequo),
                    bulletin_lignes::moyenne_classe_matiere.eq(l.moyenne_classe.clone()),
                    bulletin_lignes::appreciation.eq(appreciation(&l.moyenne)),
                    bulletin_lignes::enseignant
                        .eq(teacher.get(&l.matiere).cloned().unwrap_or_default()),
                ));
            }
        }
        for chunk in lines.chunks(5000) {
            diesel::insert_into(bulletin_lignes::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        let pdf_jobs = ids
            .iter()
            .map(|id| NewJob::of(&GenererBulletinPdf { bulletin_id: *id }))
            .collect::<DomainResult<Vec<_>>>()?;
        for chunk in pdf_jobs.chunks(2000) {
            enqueue_many(conn, chunk).await?;
        }
        Ok(Generation {
            bulletins: ids,
            publies_ignores: skipped,
        })
    })
    .await
}
