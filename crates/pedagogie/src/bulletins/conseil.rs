//! Teachers' appreciations (`bulletins/appreciations/`, `…/saisie/`) and the class council
//! (`bulletins/conseil/`): a short text per pupil, subject and period written by the
//! subject's teacher in the class (or management); the council's general appreciation,
//! distinction or sanction and, on the year's last period, its decision (ADMIN, DIRECTION).
//!
//! Both are copied into the bulletin when it is computed, not read when it is served or
//! rendered: a published PDF (and its SHA-256) always matches the detail the API serves, and
//! never changes silently. A change made after the computation flags the pupil's bulletin
//! (`a_recalculer`, by the statement triggers of the `appreciations` and `conseils_classe`
//! tables, in the change's transaction): an unpublished one cannot be published before it is
//! computed again; a published one keeps its PDF until a forced regeneration makes a new
//! version and tells the families. Every change is written to `audit_log` (before → after).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role};
use ecole_db::enums::{CodePeriode, DecisionConseil, Distinction};
use ecole_db::schema::{
    annees_scolaires, appreciations, bulletins, classes, conseils_classe, eleves,
    historique_classes, matieres, periodes, users,
};
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;

/// At most this many characters in an appreciation (teacher's or council's).
pub const TEXTE_MAX: usize = 200;
/// At most this many pupils in one bulk entry.
pub const SAISIE_MAX: usize = 200;

/// `POST bulletins/appreciations/`: an empty `texte` removes the appreciation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppreciationInput {
    pub eleve: i64,
    pub classe: i64,
    pub matiere: i64,
    pub periode: CodePeriode,
    /// At most 200 characters (spaces and line breaks collapsed); empty: removed.
    #[serde(default)]
    pub texte: String,
}

/// One pupil of `POST bulletins/appreciations/saisie/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LigneAppreciation {
    pub eleve: i64,
    #[serde(default)]
    pub texte: String,
}

/// `POST bulletins/appreciations/saisie/`: a class's appreciations in one subject and
/// period, all or nothing (at most 200 pupils).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppreciationsSaisie {
    pub classe: i64,
    pub matiere: i64,
    pub periode: CodePeriode,
    pub appreciations: Vec<LigneAppreciation>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppreciationOut {
    pub eleve: i64,
    pub eleve_nom: String,
    pub classe: i64,
    pub matiere: i64,
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    /// Empty: no appreciation (removed).
    pub texte: String,
    /// The user who wrote it.
    pub redigee_par: Option<i64>,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// What a bulk entry did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SaisieAppreciations {
    /// Written or changed.
    pub enregistrees: usize,
    /// Removed (empty text).
    pub supprimees: usize,
    /// Sent again unchanged.
    pub inchangees: usize,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = appreciations)]
struct Appreciation {
    id: i64,
    eleve_id: i64,
    classe_id: i64,
    matiere_id: i64,
    annee_scolaire_id: i64,
    periode: CodePeriode,
    texte: String,
    redigee_par: Option<i64>,
    updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = appreciations)]
struct NewAppreciation {
    eleve_id: i64,
    classe_id: i64,
    matiere_id: i64,
    annee_scolaire_id: i64,
    periode: CodePeriode,
    texte: String,
    redigee_par: Option<i64>,
}

/// Spaces and line breaks collapsed to one space, ends trimmed.
fn normaliser(texte: &str) -> String {
    texte.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_texte(field: &str, texte: &str, errors: &mut FieldErrors) -> String {
    let texte = normaliser(texte);
    if texte.chars().count() > TEXTE_MAX {
        errors.add(field, format!("Au plus {TEXTE_MAX} caractères."));
    }
    texte
}

/// May `actor` write or read the appreciations of `matiere` in `classe`? Management always;
/// a teacher for the (class, subject) pairs the `enseignements` give them.
async fn ensure_pair(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
    matiere: i64,
) -> DomainResult<()> {
    if MANAGEMENT.contains(&actor.role) {
        return Ok(());
    }
    if actor.role == Role::Enseignant {
        if crate::notes::teaches(conn, actor, classe, matiere).await? {
            return Ok(());
        }
        return Err(DomainError::PermissionDenied(
            "Vous ne pouvez apprécier que vos matières dans vos classes.".into(),
        ));
    }
    Err(DomainError::PermissionDenied(
        "Vous ne pouvez pas saisir d'appréciations.".into(),
    ))
}

/// The class's school year, once the class, the subject and the period are checked.
async fn check_classe_matiere_periode(
    conn: &mut AsyncPgConnection,
    classe: i64,
    matiere: i64,
    periode: CodePeriode,
    errors: &mut FieldErrors,
) -> DomainResult<Option<i64>> {
    let annee: Option<i64> = classes::table
        .find(classe)
        .select(classes::annee_scolaire_id)
        .first(conn)
        .await
        .optional()?;
    let n: i64 = matieres::table
        .filter(matieres::id.eq(matiere))
        .count()
        .get_result(conn)
        .await?;
    if n == 0 {
        errors.add("matiere", "Matière introuvable.");
    }
    let Some(annee) = annee else {
        errors.add("classe", "Classe introuvable.");
        return Ok(None);
    };
    check_periode(conn, annee, periode, errors).await?;
    Ok(Some(annee))
}

async fn check_periode(
    conn: &mut AsyncPgConnection,
    annee: i64,
    periode: CodePeriode,
    errors: &mut FieldErrors,
) -> DomainResult<()> {
    let n: i64 = periodes::table
        .filter(periodes::annee_scolaire_id.eq(annee))
        .filter(periodes::code.eq(periode))
        .count()
        .get_result(conn)
        .await?;
    if n == 0 {
        errors.add(
            "periode",
            format!(
                "Le {} n'est pas défini pour cette année.",
                periode.libelle()
            ),
        );
    }
    Ok(())
}

/// Writes one pupil's appreciation (an empty text removes it: `texte` is then `""`).
pub async fn ecrire(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: AppreciationInput,
) -> DomainResult<AppreciationOut> {
    let (eleve, classe, matiere, periode) =
        (input.eleve, input.classe, input.matiere, input.periode);
    let saisie = AppreciationsSaisie {
        classe: input.classe,
        matiere: input.matiere,
        periode: input.periode,
        appreciations: vec![LigneAppreciation {
            eleve: input.eleve,
            texte: input.texte,
        }],
    };
    let (written, _, annee) = enregistrer(conn, actor, saisie, false).await?;
    if let Some(out) = written.into_iter().next() {
        return Ok(out);
    }
    let names = noms(conn, &[eleve]).await?;
    Ok(AppreciationOut {
        eleve,
        eleve_nom: names.get(&eleve).cloned().unwrap_or_default(),
        classe,
        matiere,
        annee_scolaire: annee,
        periode,
        texte: String::new(),
        redigee_par: None,
        updated_at: None,
    })
}

/// Writes a class's appreciations in one subject and period (all or nothing).
pub async fn saisie(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: AppreciationsSaisie,
) -> DomainResult<SaisieAppreciations> {
    let (_, summary, _) = enregistrer(conn, actor, input, true).await?;
    Ok(summary)
}

/// Checks every line, then upserts the texts, removes the empty ones and audits the
/// changes in one transaction: a constant number of statements whatever the class size.
async fn enregistrer(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: AppreciationsSaisie,
    bulk: bool,
) -> DomainResult<(Vec<AppreciationOut>, SaisieAppreciations, i64)> {
    ensure_pair(conn, actor, input.classe, input.matiere).await?;
    let field = |i: usize, name: &str| {
        if bulk {
            format!("appreciations.{i}")
        } else {
            name.to_string()
        }
    };
    let mut errors = FieldErrors::new();
    if input.appreciations.is_empty() {
        errors.add("appreciations", "Au moins une appréciation est attendue.");
    }
    if input.appreciations.len() > SAISIE_MAX {
        errors.add(
            "appreciations",
            format!("Au plus {SAISIE_MAX} appréciations par saisie."),
        );
        return Err(DomainError::Validation(errors));
    }
    let annee = check_classe_matiere_periode(
        conn,
        input.classe,
        input.matiere,
        input.periode,
        &mut errors,
    )
    .await?;
    let wanted: Vec<i64> = input.appreciations.iter().map(|l| l.eleve).collect();
    // Pupils who were in the class at some point (the class they are in now or before).
    let members: HashSet<i64> = historique_classes::table
        .filter(historique_classes::classe_id.eq(input.classe))
        .filter(historique_classes::eleve_id.eq_any(&wanted))
        .select(historique_classes::eleve_id)
        .load::<i64>(conn)
        .await?
        .into_iter()
        .collect();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut lines: Vec<(i64, String)> = Vec::with_capacity(input.appreciations.len());
    for (i, line) in input.appreciations.iter().enumerate() {
        if !members.contains(&line.eleve) {
            errors.add(
                &field(i, "eleve"),
                format!("L'élève {} n'est pas dans cette classe.", line.eleve),
            );
        }
        if let Some(first) = seen.insert(line.eleve, i) {
            errors.add(
                &field(i, "eleve"),
                format!(
                    "L'élève {} figure deux fois (lignes {first} et {i}).",
                    line.eleve
                ),
            );
        }
        let texte = check_texte(&field(i, "texte"), &line.texte, &mut errors);
        lines.push((line.eleve, texte));
    }
    errors.into_result()?;
    let Some(annee) = annee else {
        return Err(DomainError::internal("validation incomplète"));
    };
    let (classe, matiere, periode) = (input.classe, input.matiere, input.periode);
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before: HashMap<i64, Appreciation> = appreciations::table
            .filter(appreciations::eleve_id.eq_any(&wanted))
            .filter(appreciations::matiere_id.eq(matiere))
            .filter(appreciations::annee_scolaire_id.eq(annee))
            .filter(appreciations::periode.eq(periode))
            .select(Appreciation::as_select())
            .for_update()
            .load(conn)
            .await?
            .into_iter()
            .map(|a| (a.eleve_id, a))
            .collect();
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        let mut inchangees = 0;
        for (eleve, texte) in &lines {
            match (before.get(eleve), texte.is_empty()) {
                (None, true) => inchangees += 1,
                (Some(a), true) => removed.push(a.id),
                (Some(a), false) if &a.texte == texte && a.classe_id == classe => inchangees += 1,
                _ => upserts.push(NewAppreciation {
                    eleve_id: *eleve,
                    classe_id: classe,
                    matiere_id: matiere,
                    annee_scolaire_id: annee,
                    periode,
                    texte: texte.clone(),
                    redigee_par: Some(actor.user_id),
                }),
            }
        }
        let written: Vec<Appreciation> = if upserts.is_empty() {
            Vec::new()
        } else {
            diesel::insert_into(appreciations::table)
                .values(&upserts)
                .on_conflict((
                    appreciations::eleve_id,
                    appreciations::matiere_id,
                    appreciations::annee_scolaire_id,
                    appreciations::periode,
                ))
                .do_update()
                .set((
                    appreciations::texte.eq(excluded(appreciations::texte)),
                    appreciations::classe_id.eq(excluded(appreciations::classe_id)),
                    appreciations::redigee_par.eq(excluded(appreciations::redigee_par)),
                ))
                .returning(Appreciation::as_returning())
                .get_results(conn)
                .await?
        };
        if !removed.is_empty() {
            diesel::delete(appreciations::table.filter(appreciations::id.eq_any(&removed)))
                .execute(conn)
                .await?;
        }
        let json = |a: &Appreciation| serde_json::to_value(a).ok();
        let mut entries: Vec<AuditEntry<'_>> = written
            .iter()
            .map(|a| {
                let old = before.get(&a.eleve_id);
                AuditEntry {
                    actor: Some(&actor),
                    action: if old.is_some() {
                        AuditAction::Update
                    } else {
                        AuditAction::Create
                    },
                    table: "appreciations",
                    row_id: Some(a.id),
                    before: old.and_then(json),
                    after: json(a),
                }
            })
            .collect();
        entries.extend(
            before
                .values()
                .filter(|a| removed.contains(&a.id))
                .map(|a| AuditEntry {
                    actor: Some(&actor),
                    action: AuditAction::Delete,
                    table: "appreciations",
                    row_id: Some(a.id),
                    before: json(a),
                    after: None,
                }),
        );
        audit::record_many(conn, entries).await?;
        let names = noms(
            conn,
            &written.iter().map(|a| a.eleve_id).collect::<Vec<_>>(),
        )
        .await?;
        let summary = SaisieAppreciations {
            enregistrees: written.len(),
            supprimees: removed.len(),
            inchangees,
        };
        // Unchanged lines are answered as they are stored.
        let mut out: Vec<AppreciationOut> = written
            .into_iter()
            .map(|a| appreciation_out(a, &names))
            .collect();
        if out.is_empty() && removed.is_empty() {
            let kept_names = noms(conn, &before.keys().copied().collect::<Vec<_>>()).await?;
            out = before
                .into_values()
                .map(|a| appreciation_out(a, &kept_names))
                .collect();
        }
        Ok((out, summary, annee))
    })
    .await
}

fn appreciation_out(a: Appreciation, names: &HashMap<i64, String>) -> AppreciationOut {
    AppreciationOut {
        eleve: a.eleve_id,
        eleve_nom: names.get(&a.eleve_id).cloned().unwrap_or_default(),
        classe: a.classe_id,
        matiere: a.matiere_id,
        annee_scolaire: a.annee_scolaire_id,
        periode: a.periode,
        texte: a.texte,
        redigee_par: a.redigee_par,
        updated_at: Some(a.updated_at),
    }
}

/// Pupils' names, `Prénom Nom`, in one query.
async fn noms(conn: &mut AsyncPgConnection, ids: &[i64]) -> DomainResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, String)> = eleves::table
        .inner_join(users::table)
        .filter(eleves::id.eq_any(ids))
        .select((eleves::id, users::first_name, users::last_name))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, f, l)| (id, format!("{f} {l}").trim().to_string()))
        .collect())
}

/// `GET bulletins/appreciations/?classe=&matiere=&periode=`: the appreciations written for a
/// class in a subject and period (management, or the subject's teacher in the class), in 2
/// queries after the scope check.
pub async fn lister(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
    matiere: i64,
    periode: CodePeriode,
) -> DomainResult<Vec<AppreciationOut>> {
    ensure_pair(conn, actor, classe, matiere).await?;
    let rows: Vec<(Appreciation, (String, String))> = appreciations::table
        .inner_join(eleves::table.inner_join(users::table))
        .filter(appreciations::classe_id.eq(classe))
        .filter(appreciations::matiere_id.eq(matiere))
        .filter(appreciations::periode.eq(periode))
        .select((
            Appreciation::as_select(),
            (users::first_name, users::last_name),
        ))
        .order((users::last_name.asc(), users::first_name.asc(), eleves::id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(a, (f, l))| {
            let names = HashMap::from([(a.eleve_id, format!("{f} {l}").trim().to_string())]);
            appreciation_out(a, &names)
        })
        .collect())
}

// ---------------------------------------------------------------- class council

/// `POST bulletins/conseil/`: what the class council recorded for a pupil and period. An
/// omitted field keeps its value; `""` or `null` removes it; nothing left removes the record.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConseilInput {
    pub eleve: i64,
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    /// The council's general appreciation (at most 200 characters).
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub appreciation: Option<Option<String>>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<Distinction>)]
    pub distinction: Option<Option<Distinction>>,
    /// On the year's last period only (3rd trimester, 2nd semester): overrides the decision
    /// computed from the annual average.
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<DecisionConseil>)]
    pub decision: Option<Option<DecisionConseil>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConseilOut {
    pub eleve: i64,
    pub eleve_nom: String,
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    pub appreciation: String,
    pub distinction: Option<Distinction>,
    /// As printed: `Félicitations`, `Avertissement (conduite)`…
    pub distinction_libelle: Option<String>,
    /// The council's decision (last period only).
    pub decision: Option<DecisionConseil>,
    /// As printed: `Admis(e)`, `Redouble`, `Exclu(e)`.
    pub decision_libelle: Option<String>,
    /// The decision computed from the annual average by the last computation of the
    /// bulletin (`ADMIS`, `REDOUBLE`), when there is one.
    pub decision_calculee: Option<String>,
    /// The bulletin of this pupil and period, once computed.
    pub bulletin: Option<i64>,
    /// The record is newer than the bulletin's computation: generate it again.
    pub bulletin_a_recalculer: Option<bool>,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = conseils_classe)]
struct Conseil {
    id: i64,
    eleve_id: i64,
    annee_scolaire_id: i64,
    periode: CodePeriode,
    appreciation: String,
    distinction: Option<Distinction>,
    decision: Option<DecisionConseil>,
    saisi_par: Option<i64>,
    updated_at: DateTime<Utc>,
}

/// The bulletin of a pupil and period: id, stored computed decision, flag.
type BulletinRef = (i64, Option<String>, bool);

fn conseil_out(
    eleve: i64,
    annee: i64,
    periode: CodePeriode,
    c: Option<&Conseil>,
    nom: String,
    bulletin: Option<&BulletinRef>,
) -> ConseilOut {
    ConseilOut {
        eleve,
        eleve_nom: nom,
        annee_scolaire: annee,
        periode,
        appreciation: c.map(|c| c.appreciation.clone()).unwrap_or_default(),
        distinction: c.and_then(|c| c.distinction),
        distinction_libelle: c
            .and_then(|c| c.distinction)
            .map(|d| d.libelle().to_string()),
        decision: c.and_then(|c| c.decision),
        decision_libelle: c.and_then(|c| c.decision).map(|d| d.libelle().to_string()),
        decision_calculee: bulletin.and_then(|b| b.1.clone()),
        bulletin: bulletin.map(|b| b.0),
        bulletin_a_recalculer: bulletin.map(|b| b.2),
        updated_at: c.map(|c| c.updated_at),
    }
}

/// Records the class council for a pupil and period (ADMIN, DIRECTION), audited.
pub async fn enregistrer_conseil(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: ConseilInput,
) -> DomainResult<ConseilOut> {
    actor.require(&[Role::Admin, Role::Direction])?;
    let mut errors = FieldErrors::new();
    let year: i64 = annees_scolaires::table
        .filter(annees_scolaires::id.eq(input.annee_scolaire))
        .count()
        .get_result(conn)
        .await?;
    if year == 0 {
        errors.add("annee_scolaire", "Année scolaire introuvable.");
    } else {
        check_periode(conn, input.annee_scolaire, input.periode, &mut errors).await?;
    }
    // A pupil who was in a class of that year.
    let member: Option<String> = eleves::table
        .inner_join(users::table)
        .inner_join(historique_classes::table.inner_join(classes::table))
        .filter(eleves::id.eq(input.eleve))
        .filter(classes::annee_scolaire_id.eq(input.annee_scolaire))
        .select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "trim(users.first_name || ' ' || users.last_name)",
        ))
        .first(conn)
        .await
        .optional()?;
    if member.is_none() {
        errors.add(
            "eleve",
            "Élève introuvable ou sans classe cette année scolaire.",
        );
    }
    let appreciation = input.appreciation.as_ref().map(|a| {
        check_texte(
            "appreciation",
            a.as_deref().unwrap_or_default(),
            &mut errors,
        )
    });
    if let Some(Some(_)) = input.decision
        && !input.periode.est_derniere()
    {
        errors.add(
            "decision",
            format!(
                "La décision de fin d'année se prend sur la dernière période ({}).",
                input.periode.derniere().libelle()
            ),
        );
    }
    errors.into_result()?;
    let nom = member.unwrap_or_default();
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let key = || {
            conseils_classe::table
                .filter(conseils_classe::eleve_id.eq(input.eleve))
                .filter(conseils_classe::annee_scolaire_id.eq(input.annee_scolaire))
                .filter(conseils_classe::periode.eq(input.periode))
        };
        let before: Option<Conseil> = key()
            .select(Conseil::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let bulletin: Option<BulletinRef> = bulletins::table
            .filter(bulletins::eleve_id.eq(input.eleve))
            .filter(bulletins::annee_scolaire_id.eq(input.annee_scolaire))
            .filter(bulletins::periode.eq(input.periode))
            .select((
                bulletins::id,
                bulletins::decision_annuelle,
                bulletins::a_recalculer,
            ))
            .first(conn)
            .await
            .optional()?;
        let new_appreciation = appreciation
            .or_else(|| before.as_ref().map(|b| b.appreciation.clone()))
            .unwrap_or_default();
        let distinction = input
            .distinction
            .unwrap_or_else(|| before.as_ref().and_then(|b| b.distinction));
        let decision = input
            .decision
            .unwrap_or_else(|| before.as_ref().and_then(|b| b.decision));
        let json = |c: &Conseil| {
            let mut v = serde_json::to_value(c).ok()?;
            // An override is read against the decision computed at the time.
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "decision_calculee".into(),
                    serde_json::json!(bulletin.as_ref().and_then(|b| b.1.clone())),
                );
            }
            Some(v)
        };
        let empty = new_appreciation.is_empty() && distinction.is_none() && decision.is_none();
        let after: Option<Conseil> = if empty {
            if before.is_some() {
                diesel::delete(key()).execute(conn).await?;
            }
            None
        } else if let Some(b) = &before
            && b.appreciation == new_appreciation
            && b.distinction == distinction
            && b.decision == decision
        {
            // Unchanged: nothing written, nothing flagged, nothing audited.
            let out = conseil_out(
                input.eleve,
                input.annee_scolaire,
                input.periode,
                Some(b),
                nom,
                bulletin.as_ref(),
            );
            return Ok(out);
        } else {
            Some(
                diesel::insert_into(conseils_classe::table)
                    .values((
                        conseils_classe::eleve_id.eq(input.eleve),
                        conseils_classe::annee_scolaire_id.eq(input.annee_scolaire),
                        conseils_classe::periode.eq(input.periode),
                        conseils_classe::appreciation.eq(&new_appreciation),
                        conseils_classe::distinction.eq(distinction),
                        conseils_classe::decision.eq(decision),
                        conseils_classe::saisi_par.eq(Some(actor.user_id)),
                    ))
                    .on_conflict((
                        conseils_classe::eleve_id,
                        conseils_classe::annee_scolaire_id,
                        conseils_classe::periode,
                    ))
                    .do_update()
                    .set((
                        conseils_classe::appreciation.eq(excluded(conseils_classe::appreciation)),
                        conseils_classe::distinction.eq(excluded(conseils_classe::distinction)),
                        conseils_classe::decision.eq(excluded(conseils_classe::decision)),
                        conseils_classe::saisi_par.eq(excluded(conseils_classe::saisi_par)),
                    ))
                    .returning(Conseil::as_returning())
                    .get_result(conn)
                    .await?,
            )
        };
        if before.is_some() || after.is_some() {
            let action = match (&before, &after) {
                (None, _) => AuditAction::Create,
                (Some(_), None) => AuditAction::Delete,
                (Some(_), Some(_)) => AuditAction::Update,
            };
            audit::record(
                conn,
                AuditEntry {
                    actor: Some(&actor),
                    action,
                    table: "conseils_classe",
                    row_id: after.as_ref().or(before.as_ref()).map(|c| c.id),
                    before: before.as_ref().and_then(json),
                    after: after.as_ref().and_then(json),
                },
            )
            .await?;
        }
        // The flag the trigger may just have set.
        let bulletin = match bulletin {
            Some((id, d, _)) => {
                let flag: bool = bulletins::table
                    .find(id)
                    .select(bulletins::a_recalculer)
                    .first(conn)
                    .await?;
                Some((id, d, flag))
            }
            None => None,
        };
        Ok(conseil_out(
            input.eleve,
            input.annee_scolaire,
            input.periode,
            after.as_ref(),
            nom,
            bulletin.as_ref(),
        ))
    })
    .await
}

/// `GET bulletins/conseil/?classe=&periode=` (ADMIN, DIRECTION): every pupil of the class for
/// that period with what the council recorded (empty when nothing), in 3 queries.
pub async fn lister_conseil(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
    periode: CodePeriode,
) -> DomainResult<Vec<ConseilOut>> {
    actor.require(&[Role::Admin, Role::Direction])?;
    let annee: Option<i64> = classes::table
        .find(classe)
        .select(classes::annee_scolaire_id)
        .first(conn)
        .await
        .optional()?;
    let Some(annee) = annee else {
        return Err(DomainError::NotFound);
    };
    // The class's pupils: its bulletins of the period, else those who are in it now.
    let pupils: Vec<(i64, String, String, Option<BulletinRef>)> = {
        let with_bulletin: Vec<(i64, String, String, i64, Option<String>, bool)> = bulletins::table
            .inner_join(eleves::table.inner_join(users::table))
            .filter(bulletins::classe_id.eq(classe))
            .filter(bulletins::periode.eq(periode))
            .select((
                eleves::id,
                users::first_name,
                users::last_name,
                bulletins::id,
                bulletins::decision_annuelle,
                bulletins::a_recalculer,
            ))
            .load(conn)
            .await?;
        if with_bulletin.is_empty() {
            eleves::table
                .inner_join(users::table)
                .filter(eleves::classe_actuelle_id.eq(classe))
                .select((eleves::id, users::first_name, users::last_name))
                .load::<(i64, String, String)>(conn)
                .await?
                .into_iter()
                .map(|(e, f, l)| (e, f, l, None))
                .collect()
        } else {
            with_bulletin
                .into_iter()
                .map(|(e, f, l, b, d, flag)| (e, f, l, Some((b, d, flag))))
                .collect()
        }
    };
    let ids: Vec<i64> = pupils.iter().map(|p| p.0).collect();
    let records: HashMap<i64, Conseil> = conseils_classe::table
        .filter(conseils_classe::eleve_id.eq_any(&ids))
        .filter(conseils_classe::annee_scolaire_id.eq(annee))
        .filter(conseils_classe::periode.eq(periode))
        .select(Conseil::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(|c| (c.eleve_id, c))
        .collect();
    let mut out: Vec<ConseilOut> = pupils
        .into_iter()
        .map(|(e, f, l, b)| {
            conseil_out(
                e,
                annee,
                periode,
                records.get(&e),
                format!("{f} {l}").trim().to_string(),
                b.as_ref(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.eleve_nom.cmp(&b.eleve_nom).then(a.eleve.cmp(&b.eleve)));
    Ok(out)
}
