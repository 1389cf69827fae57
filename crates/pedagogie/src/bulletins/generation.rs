//! Computing and storing report cards for a period, for one class or many at once: a
//! constant number of queries whatever the number of classes and pupils (7 to load, 6 to
//! store), the rules of [`crate::calcul`], bulletins upserted in place (recomputing never
//! duplicates; a published one only with `force`), their lines and one PDF job per bulletin
//! written by set-based statements in one transaction.

use std::collections::{HashMap, HashSet};

use bigdecimal::BigDecimal;
use chrono::NaiveDate;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Integer, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::{DomainError, DomainResult};
use ecole_db::enums::{CodePeriode, Sexe, StatutBulletin, StatutEleve, StatutPresence, TypeNote};
use ecole_db::schema::{
    bulletin_lignes, bulletins, classes, enseignants, enseignements, matieres, notes, periodes,
    presences, regles_bulletin, users,
};
use ecole_jobs::payloads::GenererBulletinPdf;
use ecole_jobs::{NewJob, enqueue_many};

use crate::calcul::{self, EleveNotes, NoteBrute, Regles, ResultatClasse, calculer_classe};

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

/// A subject of a class: class, subject, coefficient, class override, teacher's names.
type SubjectRow = (i64, i64, i32, Option<i32>, Option<String>, Option<String>);
/// A grade: pupil, subject, subject's coefficient, type, value and scale in hundredths.
type GradeRow = (i64, i64, i32, TypeNote, i64, i64);

/// A pupil a class holds at the period's end.
#[derive(QueryableByName)]
struct Member {
    #[diesel(sql_type = BigInt)]
    classe: i64,
    #[diesel(sql_type = BigInt)]
    eleve: i64,
    #[diesel(sql_type = Text)]
    sexe: Sexe,
    #[diesel(sql_type = Text)]
    statut: StatutEleve,
}

/// A subject graded in a class for the period, with the subject's own coefficient.
#[derive(QueryableByName)]
struct Graded {
    #[diesel(sql_type = BigInt)]
    classe: i64,
    #[diesel(sql_type = BigInt)]
    matiere: i64,
    #[diesel(sql_type = Integer)]
    coefficient: i32,
}

/// What a generation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    pub bulletins: Vec<i64>,
    /// Published bulletins left as they were (no `force`).
    pub publies_ignores: usize,
    /// Classes left as they were because some of their bulletins are published (no `force`).
    pub classes_ignorees: Vec<i64>,
    /// Published bulletins recomputed (`force`): each got a new version.
    pub nouvelles_versions: usize,
}

/// Computes and stores the bulletins of `classe` for `periode` (see [`generer`]).
pub async fn generer_classe(
    conn: &mut AsyncPgConnection,
    classe: i64,
    periode: CodePeriode,
    force: bool,
) -> DomainResult<Generation> {
    generer(conn, &[classe], periode, force).await
}

/// Classes of one school year computed for a period, not stored yet: what [`calculer`]
/// reads (a fresh computation, for checks), what [`generer`] stores.
pub struct Calcul {
    regles: Regles,
    pub annee: i64,
    pub periode: CodePeriode,
    /// `(pupil, status)` → days.
    attendance: HashMap<(i64, StatutPresence), i32>,
    pub classes: Vec<CalculClasse>,
}

/// One class of a [`Calcul`].
pub struct CalculClasse {
    pub classe: i64,
    /// Subject → teacher's name.
    teacher: HashMap<i64, String>,
    pub result: ResultatClasse,
}

/// Loads the grades, subjects and attendance of `classes` (which must belong to one school
/// year) in 7 queries whatever their number, and computes their report cards in memory.
pub async fn calculer(
    conn: &mut AsyncPgConnection,
    classes: &[i64],
    periode: CodePeriode,
) -> DomainResult<Calcul> {
    let regles = regles(conn).await?;
    let years: Vec<(i64, i64, i32)> = classes::table
        .filter(classes::id.eq_any(classes))
        .select((classes::id, classes::annee_scolaire_id, classes::bareme))
        .load(conn)
        .await?;
    let wanted: HashSet<i64> = classes.iter().copied().collect();
    if years.len() != wanted.len() {
        return Err(DomainError::NotFound);
    }
    let Some(annee) = <[(i64, i64, i32)]>::first(&years).map(|(_, a, _)| *a) else {
        return Err(DomainError::NotFound);
    };
    let bareme_of: HashMap<i64, i32> = years.iter().map(|(c, _, b)| (*c, *b)).collect();
    if years.iter().any(|(_, a, _)| *a != annee) {
        return Err(DomainError::validation(
            "classe",
            "Les classes d'une génération appartiennent à une même année scolaire.",
        ));
    }
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
    // Subjects taught in each class, with the class's coefficient and the teacher's name.
    let subjects: Vec<SubjectRow> = enseignements::table
        .inner_join(matieres::table)
        .left_join(enseignants::table.inner_join(users::table))
        .filter(enseignements::classe_id.eq_any(classes))
        .select((
            enseignements::classe_id,
            matieres::id,
            matieres::coefficient,
            enseignements::coefficient,
            users::first_name.nullable(),
            users::last_name.nullable(),
        ))
        .order((enseignements::classe_id, matieres::id))
        .load(conn)
        .await?;
    // Subjects graded in each class for the period, assigned or not (their own coefficient):
    // one probe of `notes (classe_id, periode, matiere_id)` per (class, subject) pair instead
    // of a scan of every grade of the classes.
    let graded: Vec<Graded> = diesel::sql_query(
        "SELECT c.id AS classe, m.id AS matiere, m.coefficient \
         FROM unnest($1::int8[]) AS c (id) CROSS JOIN matieres m \
         WHERE EXISTS (SELECT 1 FROM notes n WHERE n.classe_id = c.id AND n.periode = $2 \
                       AND n.matiere_id = m.id AND n.annee_scolaire_id = $3)",
    )
    .bind::<Array<BigInt>, _>(classes)
    .bind::<Text, _>(periode.as_str())
    .bind::<BigInt, _>(annee)
    .load(conn)
    .await?;
    // The pupils each class holds at the period's end: each pupil's latest stay in a class of
    // the year begun by then, unless it ended before; a pupil admitted later counts in their
    // first class of the year.
    let members: Vec<Member> = diesel::sql_query(
        "SELECT m.classe_id AS classe, e.id AS eleve, e.sexe, e.statut \
         FROM (SELECT DISTINCT ON (h.eleve_id) h.eleve_id, h.classe_id, h.du, h.au \
               FROM historique_classes h JOIN classes c ON c.id = h.classe_id \
               WHERE c.annee_scolaire_id = $1 \
               ORDER BY h.eleve_id, (h.du <= $2) DESC, \
                 CASE WHEN h.du <= $2 THEN h.du END DESC, h.du, h.id DESC) m \
         JOIN eleves e ON e.id = m.eleve_id \
         WHERE m.classe_id = ANY($3) AND (m.du > $2 OR m.au IS NULL OR m.au > $2) \
         ORDER BY m.classe_id, e.id",
    )
    .bind::<BigInt, _>(annee)
    .bind::<Date, _>(fin)
    .bind::<Array<BigInt>, _>(classes)
    .load(conn)
    .await?;
    let member_ids: Vec<i64> = members.iter().map(|m| m.eleve).collect();
    // Every grade of theirs for the period, wherever it was given. NUMERIC(5, 2) values as
    // exact hundredths: no decimal decoding of 30 grades a pupil.
    let grades: Vec<GradeRow> = notes::table
        .inner_join(matieres::table)
        .filter(notes::eleve_id.eq_any(&member_ids))
        .filter(notes::annee_scolaire_id.eq(annee))
        .filter(notes::periode.eq(periode))
        .select((
            notes::eleve_id,
            notes::matiere_id,
            matieres::coefficient,
            notes::type_note,
            sql::<BigInt>("(notes.valeur * 100)::int8"),
            sql::<BigInt>("(notes.sur * 100)::int8"),
        ))
        .load(conn)
        .await?;
    // Their attendance over the period's dates, wherever it was taken.
    let attendance: Vec<(i64, StatutPresence, i64)> = presences::table
        .filter(presences::eleve_id.eq_any(&member_ids))
        .filter(presences::date.between(debut, fin))
        .filter(presences::statut.eq_any([
            StatutPresence::Absent,
            StatutPresence::Excuse,
            StatutPresence::Retard,
        ]))
        .group_by((presences::eleve_id, presences::statut))
        .select((presences::eleve_id, presences::statut, count_star()))
        .load(conn)
        .await?;

    let mut by_pupil: HashMap<i64, Vec<NoteBrute>> = HashMap::new();
    let mut own_coefficient: HashMap<i64, i32> = HashMap::new();
    for (eleve, matiere, coefficient, type_note, valeur, sur) in grades {
        own_coefficient.insert(matiere, coefficient);
        by_pupil.entry(eleve).or_default().push(NoteBrute {
            matiere,
            type_note,
            valeur,
            sur,
        });
    }
    let mut subjects_of: HashMap<i64, Vec<&SubjectRow>> = HashMap::new();
    for row in &subjects {
        subjects_of.entry(row.0).or_default().push(row);
    }
    let mut graded_of: HashMap<i64, Vec<(i64, i32)>> = HashMap::new();
    for Graded {
        classe,
        matiere,
        coefficient,
    } in graded
    {
        graded_of
            .entry(classe)
            .or_default()
            .push((matiere, coefficient));
    }
    let mut pupils_of: HashMap<i64, Vec<Member>> = HashMap::new();
    for m in members {
        pupils_of.entry(m.classe).or_default().push(m);
    }
    let mut sorted: Vec<i64> = wanted.into_iter().collect();
    sorted.sort_unstable();
    let computed = sorted
        .into_iter()
        .map(|classe| {
            let subjects = subjects_of.remove(&classe).unwrap_or_default();
            // The class's assignments (its coefficient, else the subject's), then every other
            // subject graded in the class (the subject's coefficient), in subject order.
            let mut matieres_coef: Vec<(i64, i32)> = subjects
                .iter()
                .map(|(_, m, c, o, _, _)| (*m, o.unwrap_or(*c)))
                .collect();
            let pupils = pupils_of.remove(&classe).unwrap_or_default();
            // Given in the class, or to its pupils elsewhere.
            let mut graded = graded_of.remove(&classe).unwrap_or_default();
            for p in &pupils {
                for n in by_pupil.get(&p.eleve).into_iter().flatten() {
                    if let Some(c) = own_coefficient.get(&n.matiere) {
                        graded.push((n.matiere, *c));
                    }
                }
            }
            for (m, c) in graded {
                if !matieres_coef.iter().any(|(id, _)| *id == m) {
                    matieres_coef.push((m, c));
                }
            }
            matieres_coef.sort_unstable();
            let teacher: HashMap<i64, String> = subjects
                .iter()
                .map(|(_, m, _, _, f, l)| {
                    let name = format!(
                        "{} {}",
                        f.as_deref().unwrap_or_default(),
                        l.as_deref().unwrap_or_default()
                    );
                    (*m, name.trim().to_string())
                })
                .collect();
            let input: Vec<EleveNotes> = pupils
                .into_iter()
                .map(|m| EleveNotes {
                    eleve: m.eleve,
                    sexe: m.sexe,
                    notes: by_pupil.remove(&m.eleve).unwrap_or_default(),
                    hors_classement: matches!(
                        m.statut,
                        StatutEleve::Exclu | StatutEleve::Transfere
                    ),
                })
                .collect();
            let bareme = bareme_of.get(&classe).copied().unwrap_or(20);
            CalculClasse {
                classe,
                teacher,
                result: calculer_classe(&regles, bareme, &matieres_coef, &input),
            }
        })
        .collect();
    Ok(Calcul {
        regles,
        annee,
        periode,
        attendance: attendance
            .into_iter()
            .map(|(e, s, n)| ((e, s), n as i32))
            .collect(),
        classes: computed,
    })
}

/// For the year's last period, each pupil's annual result (aligned on `cols.eleve`): the
/// mean of every period's average of record when each period of the year has one, and the
/// decision; `None` otherwise (incomplete). One query.
async fn annual_results(
    conn: &mut AsyncPgConnection,
    regles: &Regles,
    annee: i64,
    periode: CodePeriode,
    cols: &BulletinColumns,
) -> DomainResult<(Vec<Option<i64>>, Vec<Option<&'static str>>)> {
    let none = || (vec![None; cols.eleve.len()], vec![None; cols.eleve.len()]);
    if !periode.est_derniere() {
        return Ok(none());
    }
    let others: Vec<CodePeriode> = periode
        .periodes_de_l_annee()
        .iter()
        .copied()
        .filter(|p| *p != periode)
        .collect();
    let rows: Vec<(i64, Option<i64>, i32)> = bulletins::table
        .filter(bulletins::annee_scolaire_id.eq(annee))
        .filter(bulletins::periode.eq_any(&others))
        .filter(bulletins::eleve_id.eq_any(&cols.eleve))
        .select((
            bulletins::eleve_id,
            sql::<Nullable<BigInt>>("(bulletins.moyenne_generale * 100)::int8"),
            bulletins::bareme,
        ))
        .load(conn)
        .await?;
    let mut of_pupil: HashMap<i64, Vec<(i64, i32)>> = HashMap::new();
    for (eleve, moyenne, bareme) in rows {
        if let Some(m) = moyenne {
            of_pupil.entry(eleve).or_default().push((m, bareme));
        }
    }
    let (mut moyennes, mut decisions) = none();
    for (i, eleve) in cols.eleve.iter().enumerate() {
        let (Some(m), Some(values)) = (cols.moyenne[i], of_pupil.get(eleve)) else {
            continue;
        };
        if values.len() != others.len() {
            continue;
        }
        let mut values = values.clone();
        values.push((m, cols.bareme[i]));
        if let Some((moyenne, admis)) = calcul::annuel(regles, cols.bareme[i], &values) {
            moyennes[i] = Some(moyenne);
            decisions[i] = Some(if admis { "ADMIS" } else { "REDOUBLE" });
        }
    }
    Ok((moyennes, decisions))
}

#[derive(QueryableByName)]
struct Saved {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    eleve_id: i64,
}

/// The bulletins to write, column by column (bound as arrays, unnested by PostgreSQL).
#[derive(Default)]
struct BulletinColumns {
    eleve: Vec<i64>,
    classe: Vec<i64>,
    moyenne: Vec<Option<i64>>,
    moyenne_sur_20: Vec<Option<i64>>,
    bareme: Vec<i32>,
    rang: Vec<Option<i32>>,
    ex_aequo: Vec<bool>,
    effectif: Vec<i32>,
    moyenne_classe: Vec<Option<i64>>,
    moyenne_max: Vec<Option<i64>>,
    moyenne_min: Vec<Option<i64>>,
    mention: Vec<Option<String>>,
    tableau_honneur: Vec<bool>,
    absences: Vec<i32>,
    absences_justifiees: Vec<i32>,
    retards: Vec<i32>,
    moyenne_annuelle: Vec<Option<i64>>,
    decision_annuelle: Vec<Option<&'static str>>,
}

/// The subject lines to write, column by column.
#[derive(Default)]
struct LineColumns {
    bulletin: Vec<i64>,
    matiere: Vec<i64>,
    coefficient: Vec<i32>,
    moyenne: Vec<Option<i64>>,
    moyenne_sur_20: Vec<Option<i64>>,
    points: Vec<Option<i64>>,
    rang: Vec<Option<i32>>,
    ex_aequo: Vec<bool>,
    moyenne_classe: Vec<Option<i64>>,
    enseignant: Vec<String>,
}

/// The lock a generation of a year's period holds while it reads and stores: two generations
/// wait for each other, and a change of grades, coefficients, assignments or attendance (whose
/// triggers take it shared before flagging bulletins) is either seen or flagged afterwards.
pub(super) async fn verrouiller(
    conn: &mut AsyncPgConnection,
    annee: i64,
    periode: CodePeriode,
) -> DomainResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(format!("bulletins:{annee}:{}", periode.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Computes and stores the bulletins of `classes` (one school year) for `periode` in one
/// transaction: the period's lock first, then the grades are read and the results stored.
/// Without `force`, a class with a published bulletin for the period is left as it is (its
/// ranks stay one ranking); with `force`, published bulletins are recomputed, stay published
/// and get a new version (the previous PDF is kept).
pub async fn generer(
    conn: &mut AsyncPgConnection,
    classes: &[i64],
    periode: CodePeriode,
    force: bool,
) -> DomainResult<Generation> {
    let classes = classes.to_vec();
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let annee: Option<i64> = classes::table
            .filter(classes::id.eq_any(&classes))
            .select(classes::annee_scolaire_id)
            .first(conn)
            .await
            .optional()?;
        let Some(annee) = annee else {
            return Err(DomainError::NotFound);
        };
        verrouiller(conn, annee, periode).await?;
        let calcul = calculer(conn, &classes, periode).await?;
        if calcul.annee != annee {
            return Err(DomainError::validation(
                "classe",
                "Les classes d'une génération appartiennent à une même année scolaire.",
            ));
        }
        enregistrer(conn, calcul, force).await
    })
    .await
}

/// Stores a computation, inside [`generer`]'s transaction: bulletins upserted in place, their
/// lines replaced, one PDF job each — a constant number of statements whatever its size.
async fn enregistrer(
    conn: &mut AsyncPgConnection,
    calcul: Calcul,
    force: bool,
) -> DomainResult<Generation> {
    let Calcul {
        regles,
        annee,
        periode,
        attendance,
        classes,
    } = calcul;
    let count =
        |eleve: i64, statut: StatutPresence| attendance.get(&(eleve, statut)).copied().unwrap_or(0);
    let pupils: Vec<i64> = classes
        .iter()
        .flat_map(|c| c.result.bulletins.iter().map(|b| b.eleve))
        .collect();
    let class_ids: Vec<i64> = classes.iter().map(|c| c.classe).collect();
    // Published bulletins of these classes or pupils for the period.
    let published: Vec<(i64, i64, i64)> = bulletins::table
        .filter(bulletins::annee_scolaire_id.eq(annee))
        .filter(bulletins::periode.eq(periode))
        .filter(
            bulletins::eleve_id
                .eq_any(&pupils)
                .or(bulletins::classe_id.eq_any(&class_ids)),
        )
        .filter(bulletins::statut.eq(StatutBulletin::Publie))
        .select((bulletins::id, bulletins::eleve_id, bulletins::classe_id))
        .load(conn)
        .await?;
    let mut skipped: HashSet<i64> = HashSet::new();
    let mut publies_ignores = 0;
    if !force && !published.is_empty() {
        let published_pupils: HashSet<i64> = published.iter().map(|(_, e, _)| *e).collect();
        for c in &classes {
            if published.iter().any(|(_, _, classe)| *classe == c.classe)
                || c.result
                    .bulletins
                    .iter()
                    .any(|b| published_pupils.contains(&b.eleve))
            {
                skipped.insert(c.classe);
            }
        }
        publies_ignores = published.len();
    }
    let mut cols = BulletinColumns::default();
    for c in classes.iter().filter(|c| !skipped.contains(&c.classe)) {
        let r = &c.result;
        for b in &r.bulletins {
            cols.eleve.push(b.eleve);
            cols.classe.push(c.classe);
            cols.moyenne.push(b.moyenne_generale);
            cols.moyenne_sur_20.push(b.moyenne_generale_sur_20);
            cols.bareme.push(r.bareme);
            cols.rang.push(b.rang.map(|r| r as i32));
            cols.ex_aequo.push(b.ex_aequo);
            cols.effectif.push(r.effectif as i32);
            cols.moyenne_classe.push(r.moyenne_classe);
            cols.moyenne_max.push(r.moyenne_max);
            cols.moyenne_min.push(r.moyenne_min);
            cols.mention.push(b.mention.clone());
            cols.tableau_honneur.push(b.tableau_honneur);
            cols.absences.push(count(b.eleve, StatutPresence::Absent));
            cols.absences_justifiees
                .push(count(b.eleve, StatutPresence::Excuse));
            cols.retards.push(count(b.eleve, StatutPresence::Retard));
        }
    }
    let mut classes_ignorees: Vec<i64> = skipped.into_iter().collect();
    classes_ignorees.sort_unstable();
    if cols.eleve.is_empty() {
        return Ok(Generation {
            bulletins: Vec::new(),
            publies_ignores,
            classes_ignorees,
            nouvelles_versions: 0,
        });
    }
    let annuel = annual_results(conn, &regles, annee, periode, &cols).await?;
    (cols.moyenne_annuelle, cols.decision_annuelle) = annuel;
    // The averages stored so far: the year's last bulletin of a pupil whose average changes
    // is flagged (its annual result used it).
    let before: HashMap<i64, (Option<i64>, i32)> = if periode.est_derniere() {
        HashMap::new()
    } else {
        bulletins::table
            .filter(bulletins::annee_scolaire_id.eq(annee))
            .filter(bulletins::periode.eq(periode))
            .filter(bulletins::eleve_id.eq_any(&cols.eleve))
            .select((
                bulletins::eleve_id,
                (
                    sql::<Nullable<BigInt>>("(bulletins.moyenne_generale * 100)::int8"),
                    bulletins::bareme,
                ),
            ))
            .load::<(i64, (Option<i64>, i32))>(conn)
            .await?
            .into_iter()
            .collect()
    };
    // Forced: the published bulletins recomputed now keep their current version's record.
    let versioned: Vec<i64> = if force {
        let computed: HashSet<i64> = cols.eleve.iter().copied().collect();
        published
            .iter()
            .filter(|(_, e, _)| computed.contains(e))
            .map(|(id, _, _)| *id)
            .collect()
    } else {
        Vec::new()
    };
    if !versioned.is_empty() {
        diesel::sql_query(
            "INSERT INTO bulletin_versions (bulletin_id, version, fichier_pdf, pdf_sha256, \
               bareme, moyenne_generale, rang, ex_aequo, genere_le) \
             SELECT id, version, fichier_pdf, pdf_sha256, bareme, moyenne_generale, rang, \
               ex_aequo, genere_le \
             FROM bulletins WHERE id = ANY($1) \
             ON CONFLICT (bulletin_id, version) DO NOTHING",
        )
        .bind::<Array<BigInt>, _>(&versioned)
        .execute(conn)
        .await?;
    }
    // A published bulletin stays published: version + 1, its new PDF is to be rendered (the
    // previous one stays where it is, listed in bulletin_versions).
    let saved: Vec<Saved> = diesel::sql_query(
        "INSERT INTO bulletins (eleve_id, classe_id, annee_scolaire_id, periode, \
           moyenne_generale, rang, ex_aequo, effectif, moyenne_classe, moyenne_max, \
           moyenne_min, mention, tableau_honneur, absences, retards, statut, genere_le, \
           bareme, moyenne_generale_sur_20, a_recalculer, moyenne_annuelle, \
           decision_annuelle, absences_justifiees, conseil_appreciation, conseil_distinction, \
           conseil_decision) \
         SELECT t.eleve, t.classe, $1, $2, t.moyenne * 0.01, t.rang, t.ex_aequo, \
           t.effectif, t.moyenne_classe * 0.01, t.moyenne_max * 0.01, t.moyenne_min * 0.01, \
           t.mention, t.tableau_honneur, t.absences, t.retards, 'CALCULE', now(), \
           t.bareme, t.moyenne_sur_20 * 0.01, FALSE, t.annuelle * 0.01, t.decision, \
           t.justifiees, COALESCE(cc.appreciation, ''), cc.distinction, cc.decision \
         FROM unnest($3::int8[], $4::int8[], $5::int8[], $6::int4[], $7::bool[], \
           $8::int4[], $9::int8[], $10::int8[], $11::int8[], $12::text[], $13::bool[], \
           $14::int4[], $15::int4[], $16::int4[], $17::int8[], $18::int8[], $19::text[], \
           $20::int4[]) \
           AS t(eleve, classe, moyenne, rang, ex_aequo, effectif, moyenne_classe, \
                moyenne_max, moyenne_min, mention, tableau_honneur, absences, retards, \
                bareme, moyenne_sur_20, annuelle, decision, justifiees) \
         LEFT JOIN conseils_classe cc ON cc.eleve_id = t.eleve \
           AND cc.annee_scolaire_id = $1 AND cc.periode = $2 \
         ON CONFLICT (eleve_id, annee_scolaire_id, periode) DO UPDATE SET \
           classe_id = excluded.classe_id, moyenne_generale = excluded.moyenne_generale, \
           rang = excluded.rang, ex_aequo = excluded.ex_aequo, \
           effectif = excluded.effectif, moyenne_classe = excluded.moyenne_classe, \
           moyenne_max = excluded.moyenne_max, moyenne_min = excluded.moyenne_min, \
           mention = excluded.mention, tableau_honneur = excluded.tableau_honneur, \
           absences = excluded.absences, retards = excluded.retards, \
           absences_justifiees = excluded.absences_justifiees, \
           genere_le = excluded.genere_le, bareme = excluded.bareme, \
           moyenne_generale_sur_20 = excluded.moyenne_generale_sur_20, \
           moyenne_annuelle = excluded.moyenne_annuelle, \
           decision_annuelle = excluded.decision_annuelle, \
           conseil_appreciation = excluded.conseil_appreciation, \
           conseil_distinction = excluded.conseil_distinction, \
           conseil_decision = excluded.conseil_decision, \
           a_recalculer = FALSE, \
           statut = CASE WHEN bulletins.statut = 'PUBLIE' THEN 'PUBLIE' ELSE 'CALCULE' END, \
           version = CASE WHEN bulletins.statut = 'PUBLIE' THEN bulletins.version + 1 \
                          ELSE bulletins.version END, \
           fichier_pdf = CASE WHEN bulletins.statut = 'PUBLIE' THEN NULL \
                              ELSE bulletins.fichier_pdf END, \
           pdf_sha256 = CASE WHEN bulletins.statut = 'PUBLIE' THEN NULL \
                             ELSE bulletins.pdf_sha256 END \
         RETURNING id, eleve_id",
    )
    .bind::<BigInt, _>(annee)
    .bind::<Text, _>(periode.as_str())
    .bind::<Array<BigInt>, _>(&cols.eleve)
    .bind::<Array<BigInt>, _>(&cols.classe)
    .bind::<Array<Nullable<BigInt>>, _>(&cols.moyenne)
    .bind::<Array<Nullable<Integer>>, _>(&cols.rang)
    .bind::<Array<Bool>, _>(&cols.ex_aequo)
    .bind::<Array<Integer>, _>(&cols.effectif)
    .bind::<Array<Nullable<BigInt>>, _>(&cols.moyenne_classe)
    .bind::<Array<Nullable<BigInt>>, _>(&cols.moyenne_max)
    .bind::<Array<Nullable<BigInt>>, _>(&cols.moyenne_min)
    .bind::<Array<Nullable<Text>>, _>(&cols.mention)
    .bind::<Array<Bool>, _>(&cols.tableau_honneur)
    .bind::<Array<Integer>, _>(&cols.absences)
    .bind::<Array<Integer>, _>(&cols.retards)
    .bind::<Array<Integer>, _>(&cols.bareme)
    .bind::<Array<Nullable<BigInt>>, _>(&cols.moyenne_sur_20)
    .bind::<Array<Nullable<BigInt>>, _>(&cols.moyenne_annuelle)
    .bind::<Array<Nullable<Text>>, _>(&cols.decision_annuelle)
    .bind::<Array<Integer>, _>(&cols.absences_justifiees)
    .load(conn)
    .await?;
    let ids: Vec<i64> = saved.iter().map(|s| s.id).collect();
    if !periode.est_derniere() {
        let changed: Vec<i64> = cols
            .eleve
            .iter()
            .zip(cols.moyenne.iter().zip(&cols.bareme))
            .filter(|(e, (m, b))| before.get(e) != Some(&(**m, **b)))
            .map(|(e, _)| *e)
            .collect();
        if !changed.is_empty() {
            // Taken shared like any change: a generation of the last period holding it
            // either read the new averages or is followed by the flag.
            let last = periode.derniere();
            diesel::sql_query("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))")
                .bind::<Text, _>(format!("bulletins:{annee}:{}", last.as_str()))
                .execute(conn)
                .await?;
            diesel::update(
                bulletins::table
                    .filter(bulletins::annee_scolaire_id.eq(annee))
                    .filter(bulletins::periode.eq(last))
                    .filter(bulletins::eleve_id.eq_any(&changed))
                    .filter(bulletins::a_recalculer.eq(false)),
            )
            .set(bulletins::a_recalculer.eq(true))
            .execute(conn)
            .await?;
        }
    }
    // Lines by pupil, with their class's teachers.
    let mut lines_of = HashMap::new();
    for c in &classes {
        for b in &c.result.bulletins {
            lines_of.insert(b.eleve, (&b.lignes, &c.teacher));
        }
    }
    diesel::delete(bulletin_lignes::table.filter(bulletin_lignes::bulletin_id.eq_any(&ids)))
        .execute(conn)
        .await?;
    let mut lines = LineColumns::default();
    for s in &saved {
        let Some((lignes, teacher)) = lines_of.get(&s.eleve_id) else {
            continue;
        };
        for l in lignes.iter() {
            lines.bulletin.push(s.id);
            lines.matiere.push(l.matiere);
            lines.coefficient.push(l.coefficient);
            lines.moyenne.push(l.moyenne);
            lines.moyenne_sur_20.push(l.moyenne_sur_20);
            lines.points.push(l.points);
            lines.rang.push(l.rang.map(|r| r as i32));
            lines.ex_aequo.push(l.ex_aequo);
            lines.moyenne_classe.push(l.moyenne_classe);
            lines
                .enseignant
                .push(teacher.get(&l.matiere).cloned().unwrap_or_default());
        }
    }
    // The teachers' appreciations are copied now, like the council's above: what is stored
    // (and served, and printed) is one computation, and a later change flags the bulletin.
    diesel::sql_query(
        "INSERT INTO bulletin_lignes (bulletin_id, matiere_id, coefficient, moyenne, points, \
           rang_matiere, ex_aequo, moyenne_classe_matiere, appreciation, enseignant, \
           moyenne_sur_20) \
         SELECT t.bulletin, t.matiere, t.coefficient, t.moyenne * 0.01, t.points * 0.01, \
           t.rang, t.ex_aequo, t.moyenne_classe * 0.01, COALESCE(ap.texte, ''), t.enseignant, \
           t.moyenne_sur_20 * 0.01 \
         FROM unnest($1::int8[], $2::int8[], $3::int4[], $4::int8[], $5::int8[], \
           $6::int4[], $7::bool[], $8::int8[], $9::text[], $10::int8[]) \
           AS t(bulletin, matiere, coefficient, moyenne, points, rang, ex_aequo, \
                moyenne_classe, enseignant, moyenne_sur_20) \
         JOIN bulletins b ON b.id = t.bulletin \
         LEFT JOIN appreciations ap ON ap.eleve_id = b.eleve_id \
           AND ap.matiere_id = t.matiere AND ap.annee_scolaire_id = b.annee_scolaire_id \
           AND ap.periode = b.periode",
    )
    .bind::<Array<BigInt>, _>(&lines.bulletin)
    .bind::<Array<BigInt>, _>(&lines.matiere)
    .bind::<Array<Integer>, _>(&lines.coefficient)
    .bind::<Array<Nullable<BigInt>>, _>(&lines.moyenne)
    .bind::<Array<Nullable<BigInt>>, _>(&lines.points)
    .bind::<Array<Nullable<Integer>>, _>(&lines.rang)
    .bind::<Array<Bool>, _>(&lines.ex_aequo)
    .bind::<Array<Nullable<BigInt>>, _>(&lines.moyenne_classe)
    .bind::<Array<Text>, _>(&lines.enseignant)
    .bind::<Array<Nullable<BigInt>>, _>(&lines.moyenne_sur_20)
    .execute(conn)
    .await?;
    let pdf_jobs = ids
        .iter()
        .map(|id| NewJob::of(&GenererBulletinPdf { bulletin_id: *id }))
        .collect::<DomainResult<Vec<_>>>()?;
    for chunk in pdf_jobs.chunks(2000) {
        enqueue_many(conn, chunk).await?;
    }
    Ok(Generation {
        bulletins: ids,
        publies_ignores,
        classes_ignorees,
        nouvelles_versions: versioned.len(),
    })
}
