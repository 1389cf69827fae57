//! Grades: exact decimals, `0 ≤ valeur ≤ sur`, a pupil of the class that year, written by
//! management or by the teacher of that (class, subject), every change audited.

use std::collections::{HashMap, HashSet};

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::decimal::{from_json_number, round_half_up, serialize_number};
use ecole_core::scope::Scope;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::enums::{CodePeriode, TypeNote};
use ecole_db::schema::{
    annees_scolaires, classes, eleves, enseignants, enseignements, matieres, notes, periodes,
};
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = notes, check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: i64,
    #[serde(rename = "eleve")]
    pub eleve_id: i64,
    #[serde(rename = "matiere")]
    pub matiere_id: i64,
    #[serde(rename = "classe")]
    pub classe_id: i64,
    #[serde(rename = "annee_scolaire")]
    pub annee_scolaire_id: i64,
    pub periode: CodePeriode,
    pub type_note: TypeNote,
    #[serde(serialize_with = "serialize_number")]
    pub valeur: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    pub sur: BigDecimal,
    pub date_evaluation: NaiveDate,
    pub commentaire: String,
    pub saisie_par: Option<i64>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Note {
    /// `round(valeur / sur × 20, 2)`, half-up (the seed: 15.5/20 → 15.5; 8/10 → 16.0).
    pub fn note_sur_20(&self) -> BigDecimal {
        note_sur_20(&self.valeur, &self.sur)
    }
}

pub fn note_sur_20(valeur: &BigDecimal, sur: &BigDecimal) -> BigDecimal {
    round_half_up(&(valeur * BigDecimal::from(20) / sur), 2)
}

/// A grade as the API shows it, with the read-only `note_sur_20`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoteOut {
    pub id: i64,
    pub eleve: i64,
    pub matiere: i64,
    pub classe: i64,
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    pub type_note: TypeNote,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub valeur: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub sur: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub note_sur_20: BigDecimal,
    pub date_evaluation: NaiveDate,
    pub commentaire: String,
    pub saisie_par: Option<i64>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<Note> for NoteOut {
    fn from(n: Note) -> Self {
        NoteOut {
            note_sur_20: n.note_sur_20(),
            id: n.id,
            eleve: n.eleve_id,
            matiere: n.matiere_id,
            classe: n.classe_id,
            annee_scolaire: n.annee_scolaire_id,
            periode: n.periode,
            type_note: n.type_note,
            valeur: n.valeur,
            sur: n.sur,
            date_evaluation: n.date_evaluation,
            commentaire: n.commentaire,
            saisie_par: n.saisie_par,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

fn default_sur() -> f64 {
    20.0
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub eleve: i64,
    pub matiere: i64,
    pub classe: i64,
    /// Deduced from the class; when given, it must match.
    #[serde(default)]
    pub annee_scolaire: Option<i64>,
    pub periode: CodePeriode,
    pub type_note: TypeNote,
    pub valeur: f64,
    #[serde(default = "default_sur")]
    pub sur: f64,
    pub date_evaluation: NaiveDate,
    #[serde(default)]
    pub commentaire: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotePatch {
    pub eleve: Option<i64>,
    pub matiere: Option<i64>,
    pub classe: Option<i64>,
    pub annee_scolaire: Option<i64>,
    pub periode: Option<CodePeriode>,
    pub type_note: Option<TypeNote>,
    pub valeur: Option<f64>,
    pub sur: Option<f64>,
    pub date_evaluation: Option<NaiveDate>,
    pub commentaire: Option<String>,
}

impl NotePatch {
    pub fn merge(self, n: &Note) -> NoteInput {
        use bigdecimal::ToPrimitive;
        NoteInput {
            eleve: self.eleve.unwrap_or(n.eleve_id),
            matiere: self.matiere.unwrap_or(n.matiere_id),
            classe: self.classe.unwrap_or(n.classe_id),
            annee_scolaire: self.annee_scolaire,
            periode: self.periode.unwrap_or(n.periode),
            type_note: self.type_note.unwrap_or(n.type_note),
            valeur: self
                .valeur
                .unwrap_or_else(|| n.valeur.to_f64().unwrap_or(f64::NAN)),
            sur: self
                .sur
                .unwrap_or_else(|| n.sur.to_f64().unwrap_or(f64::NAN)),
            date_evaluation: self.date_evaluation.unwrap_or(n.date_evaluation),
            commentaire: self.commentaire.unwrap_or_else(|| n.commentaire.clone()),
        }
    }
}

/// One pupil's value in a bulk entry.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaisieLigne {
    pub eleve: i64,
    pub valeur: f64,
    #[serde(default)]
    pub commentaire: String,
}

/// `notes/saisie/`: one evaluation for a whole class, all or nothing.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteSaisie {
    pub classe: i64,
    pub matiere: i64,
    pub periode: CodePeriode,
    pub type_note: TypeNote,
    pub date_evaluation: NaiveDate,
    #[serde(default = "default_sur")]
    pub sur: f64,
    pub notes: Vec<SaisieLigne>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteOrdering {
    DateEvaluation,
    Valeur,
    Eleve,
}

impl NoteOrdering {
    pub const FIELDS: &'static [&'static str] = &["date_evaluation", "valeur", "eleve"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "date_evaluation" => Some(Self::DateEvaluation),
            "valeur" => Some(Self::Valeur),
            "eleve" => Some(Self::Eleve),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NoteFilter {
    pub eleve: Option<i64>,
    pub classe: Option<i64>,
    pub matiere: Option<i64>,
    pub periode: Option<CodePeriode>,
    pub annee_scolaire: Option<i64>,
    pub type_note: Option<TypeNote>,
    pub date: Option<NaiveDate>,
    pub ordering: Vec<(NoteOrdering, bool)>,
}

/// Roles that read grades (within their scope).
fn can_read(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Direction | Role::Enseignant | Role::Parent | Role::Eleve
    )
}

fn scoped(scope: &Scope) -> notes::BoxedQuery<'static, diesel::pg::Pg> {
    let q = notes::table.into_boxed();
    match scope {
        Scope::All => q,
        Scope::Eleves(ids) => q.filter(notes::eleve_id.eq_any(ids.clone())),
        Scope::Classes(ids) => q.filter(notes::classe_id.eq_any(ids.clone())),
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &NoteFilter,
    page: PageRequest,
) -> DomainResult<Page<NoteOut>> {
    if !can_read(actor) {
        return Err(DomainError::PermissionDenied(
            "Vous n'avez pas accès aux notes.".into(),
        ));
    }
    let scope = Scope::of(conn, actor).await?;
    let base = || {
        let mut q = scoped(&scope);
        if let Some(v) = filter.eleve {
            q = q.filter(notes::eleve_id.eq(v));
        }
        if let Some(v) = filter.classe {
            q = q.filter(notes::classe_id.eq(v));
        }
        if let Some(v) = filter.matiere {
            q = q.filter(notes::matiere_id.eq(v));
        }
        if let Some(v) = filter.periode {
            q = q.filter(notes::periode.eq(v));
        }
        if let Some(v) = filter.annee_scolaire {
            q = q.filter(notes::annee_scolaire_id.eq(v));
        }
        if let Some(v) = filter.type_note {
            q = q.filter(notes::type_note.eq(v));
        }
        if let Some(v) = filter.date {
            q = q.filter(notes::date_evaluation.eq(v));
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    if count <= page.offset() {
        return Ok(Page {
            count,
            results: Vec::new(),
            request: page,
        });
    }
    let mut q = base().select(Note::as_select());
    for (field, desc) in &filter.ordering {
        q = match (field, desc) {
            (NoteOrdering::DateEvaluation, false) => q.then_order_by(notes::date_evaluation.asc()),
            (NoteOrdering::DateEvaluation, true) => q.then_order_by(notes::date_evaluation.desc()),
            (NoteOrdering::Valeur, false) => q.then_order_by(notes::valeur.asc()),
            (NoteOrdering::Valeur, true) => q.then_order_by(notes::valeur.desc()),
            (NoteOrdering::Eleve, false) => q.then_order_by(notes::eleve_id.asc()),
            (NoteOrdering::Eleve, true) => q.then_order_by(notes::eleve_id.desc()),
        };
    }
    if filter.ordering.is_empty() {
        q = q.then_order_by(notes::date_evaluation.desc());
    }
    let rows: Vec<Note> = q
        .then_order_by(notes::id.desc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: rows.into_iter().map(NoteOut::from).collect(),
        request: page,
    })
}

pub async fn get_row(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<Note> {
    if !can_read(actor) {
        return Err(DomainError::NotFound);
    }
    let scope = Scope::of(conn, actor).await?;
    scoped(&scope)
        .filter(notes::id.eq(id))
        .select(Note::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn get(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<NoteOut> {
    Ok(get_row(conn, actor, id).await?.into())
}

/// May `actor` grade `matiere` in `classe`? Management always; a teacher for their own pair.
async fn ensure_can_grade(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
    matiere: i64,
) -> DomainResult<()> {
    if MANAGEMENT.contains(&actor.role) {
        return Ok(());
    }
    if actor.role == Role::Enseignant {
        if teaches(conn, actor, classe, matiere).await? {
            return Ok(());
        }
        return Err(DomainError::PermissionDenied(
            "Vous ne pouvez noter que vos matières dans vos classes.".into(),
        ));
    }
    Err(DomainError::PermissionDenied(
        "Vous ne pouvez pas saisir de notes.".into(),
    ))
}

/// Does `actor` teach `matiere` in `classe` this year (an `enseignements` row of theirs in
/// the active school year)? Last year's assignments grant nothing any more.
pub(crate) async fn teaches(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
    matiere: i64,
) -> DomainResult<bool> {
    let n: i64 = enseignements::table
        .inner_join(enseignants::table)
        .filter(
            enseignements::annee_scolaire_id.eq_any(
                annees_scolaires::table
                    .filter(annees_scolaires::est_active.eq(true))
                    .select(annees_scolaires::id),
            ),
        )
        .filter(enseignants::user_id.eq(actor.user_id))
        .filter(enseignements::classe_id.eq(classe))
        .filter(enseignements::matiere_id.eq(matiere))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// What a grade's context must satisfy: the class and its year, the subject, the period's
/// dates, the value against its scale. Returns the year and the checked decimals.
struct Context {
    annee: i64,
    sur: BigDecimal,
}

/// The evaluation a grade belongs to.
struct Evaluation {
    classe: i64,
    matiere: i64,
    annee_given: Option<i64>,
    periode: CodePeriode,
    date: NaiveDate,
    sur: f64,
}

async fn check_context(
    conn: &mut AsyncPgConnection,
    evaluation: Evaluation,
    errors: &mut FieldErrors,
) -> DomainResult<Option<Context>> {
    let Evaluation {
        classe,
        matiere,
        annee_given,
        periode,
        date,
        sur,
    } = evaluation;
    let (zero, max) = (BigDecimal::from(0), BigDecimal::from(999));
    let class_year: Option<(i64, NaiveDate, NaiveDate)> = classes::table
        .inner_join(annees_scolaires::table)
        .filter(classes::id.eq(classe))
        .select((
            annees_scolaires::id,
            annees_scolaires::date_debut,
            annees_scolaires::date_fin,
        ))
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
    let sur = match from_json_number(sur, 2) {
        Ok(s) if s > zero && s <= max => Some(s),
        Ok(_) => {
            errors.add(
                "sur",
                "Le barème doit être strictement positif (au plus 999).",
            );
            None
        }
        Err(m) => {
            errors.add("sur", m);
            None
        }
    };
    let Some((annee, debut, fin)) = class_year else {
        errors.add("classe", "Classe introuvable.");
        return Ok(None);
    };
    if let Some(given) = annee_given
        && given != annee
    {
        errors.add(
            "annee_scolaire",
            "L'année scolaire ne correspond pas à celle de la classe.",
        );
    }
    let period: Option<(NaiveDate, NaiveDate)> = periodes::table
        .filter(periodes::annee_scolaire_id.eq(annee))
        .filter(periodes::code.eq(periode))
        .select((periodes::date_debut, periodes::date_fin))
        .first(conn)
        .await
        .optional()?;
    let (from, to, what) = match period {
        Some((a, b)) => (a, b, format!("du {}", periode.libelle())),
        None => (debut, fin, "de l'année scolaire".to_string()),
    };
    if date < from || date > to {
        errors.add(
            "date_evaluation",
            format!(
                "La date doit être comprise entre le {} et le {} (dates {what}).",
                from.format("%d/%m/%Y"),
                to.format("%d/%m/%Y")
            ),
        );
    }
    Ok(sur.map(|sur| Context { annee, sur }))
}

fn check_valeur(
    field: &str,
    valeur: f64,
    sur: &BigDecimal,
    errors: &mut FieldErrors,
) -> Option<BigDecimal> {
    let zero = BigDecimal::from(0);
    match from_json_number(valeur, 2) {
        Ok(v) if v >= zero && &v <= sur => Some(v),
        Ok(_) => {
            errors.add(
                field,
                format!(
                    "La note doit être comprise entre 0 et {}.",
                    sur.normalized()
                ),
            );
            None
        }
        Err(m) => {
            errors.add(field, m);
            None
        }
    }
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = notes)]
struct NoteValues {
    eleve_id: i64,
    matiere_id: i64,
    classe_id: i64,
    annee_scolaire_id: i64,
    periode: CodePeriode,
    type_note: TypeNote,
    valeur: BigDecimal,
    sur: BigDecimal,
    date_evaluation: NaiveDate,
    commentaire: String,
    saisie_par: Option<i64>,
}

async fn validate(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: NoteInput,
) -> DomainResult<NoteValues> {
    ensure_can_grade(conn, actor, input.classe, input.matiere).await?;
    let mut errors = FieldErrors::new();
    let evaluation = Evaluation {
        classe: input.classe,
        matiere: input.matiere,
        annee_given: input.annee_scolaire,
        periode: input.periode,
        date: input.date_evaluation,
        sur: input.sur,
    };
    let ctx = check_context(conn, evaluation, &mut errors).await?;
    let in_class: i64 = eleves::table
        .filter(eleves::id.eq(input.eleve))
        .filter(eleves::classe_actuelle_id.eq(input.classe))
        .count()
        .get_result(conn)
        .await?;
    if in_class == 0 {
        errors.add("eleve", "Cet élève n'est pas dans cette classe.");
    }
    let valeur = ctx
        .as_ref()
        .and_then(|c| check_valeur("valeur", input.valeur, &c.sur, &mut errors));
    if input.commentaire.chars().count() > 500 {
        errors.add("commentaire", "Au plus 500 caractères.");
    }
    errors.into_result()?;
    let (Some(ctx), Some(valeur)) = (ctx, valeur) else {
        return Err(DomainError::internal("validation incomplète"));
    };
    Ok(NoteValues {
        eleve_id: input.eleve,
        matiere_id: input.matiere,
        classe_id: input.classe,
        annee_scolaire_id: ctx.annee,
        periode: input.periode,
        type_note: input.type_note,
        valeur,
        sur: ctx.sur,
        date_evaluation: input.date_evaluation,
        commentaire: input.commentaire.trim().to_string(),
        saisie_par: Some(actor.user_id),
    })
}

fn json(note: &Note) -> Option<serde_json::Value> {
    serde_json::to_value(note).ok()
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: NoteInput,
) -> DomainResult<NoteOut> {
    let values = validate(conn, actor, input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let note: Note = diesel::insert_into(notes::table)
            .values(&values)
            .returning(Note::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Create,
                table: "notes",
                row_id: Some(note.id),
                before: None,
                after: json(&note),
            },
        )
        .await?;
        Ok(note.into())
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: NoteInput,
) -> DomainResult<NoteOut> {
    let before = get_row(conn, actor, id).await?;
    // The teacher must own both the old and the new (class, subject).
    ensure_can_grade(conn, actor, before.classe_id, before.matiere_id).await?;
    let values = validate(conn, actor, input).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let note: Note = diesel::update(notes::table.find(id))
            .set(&values)
            .returning(Note::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Update,
                table: "notes",
                row_id: Some(id),
                before: json(&before),
                after: json(&note),
            },
        )
        .await?;
        Ok(note.into())
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    let before = get_row(conn, actor, id).await?;
    ensure_can_grade(conn, actor, before.classe_id, before.matiere_id).await?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        diesel::delete(notes::table.find(id)).execute(conn).await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Delete,
                table: "notes",
                row_id: Some(id),
                before: json(&before),
                after: None,
            },
        )
        .await
    })
    .await
}

/// `notes/saisie/`: validates every line, then inserts them all (and their audit rows) in
/// one transaction; a single bad line changes nothing.
pub async fn saisie(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: NoteSaisie,
) -> DomainResult<Vec<NoteOut>> {
    ensure_can_grade(conn, actor, input.classe, input.matiere).await?;
    let mut errors = FieldErrors::new();
    if input.notes.is_empty() {
        errors.add("notes", "Au moins une note est attendue.");
    }
    if input.notes.len() > 200 {
        errors.add("notes", "Au plus 200 notes par saisie.");
    }
    let evaluation = Evaluation {
        classe: input.classe,
        matiere: input.matiere,
        annee_given: None,
        periode: input.periode,
        date: input.date_evaluation,
        sur: input.sur,
    };
    let ctx = check_context(conn, evaluation, &mut errors).await?;
    let class_pupils: HashSet<i64> = eleves::table
        .filter(eleves::classe_actuelle_id.eq(input.classe))
        .select(eleves::id)
        .load::<i64>(conn)
        .await?
        .into_iter()
        .collect();
    let mut seen = HashMap::new();
    let mut rows = Vec::with_capacity(input.notes.len());
    for (i, line) in input.notes.iter().enumerate() {
        let field = format!("notes.{i}");
        if !class_pupils.contains(&line.eleve) {
            errors.add(
                &field,
                format!("L'élève {} n'est pas dans cette classe.", line.eleve),
            );
        }
        if let Some(first) = seen.insert(line.eleve, i) {
            errors.add(
                &field,
                format!(
                    "L'élève {} figure deux fois (lignes {first} et {i}).",
                    line.eleve
                ),
            );
        }
        if let Some(ctx) = &ctx
            && let Some(valeur) = check_valeur(&field, line.valeur, &ctx.sur, &mut errors)
        {
            rows.push(NoteValues {
                eleve_id: line.eleve,
                matiere_id: input.matiere,
                classe_id: input.classe,
                annee_scolaire_id: ctx.annee,
                periode: input.periode,
                type_note: input.type_note,
                valeur,
                sur: ctx.sur.clone(),
                date_evaluation: input.date_evaluation,
                commentaire: line.commentaire.trim().to_string(),
                saisie_par: Some(actor.user_id),
            });
        }
    }
    errors.into_result()?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let created: Vec<Note> = diesel::insert_into(notes::table)
            .values(&rows)
            .returning(Note::as_returning())
            .get_results(conn)
            .await?;
        let entries = created
            .iter()
            .map(|n| AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Create,
                table: "notes",
                row_id: Some(n.id),
                before: None,
                after: json(n),
            })
            .collect();
        audit::record_many(conn, entries).await?;
        Ok(created.into_iter().map(NoteOut::from).collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_seed_note_sur_20() {
        let d = |s: &str| BigDecimal::from_str(s).unwrap();
        assert_eq!(note_sur_20(&d("15.5"), &d("20")), d("15.50"));
        assert_eq!(note_sur_20(&d("8"), &d("10")), d("16.00"));
        assert_eq!(note_sur_20(&d("7"), &d("30")), d("4.67"));
        assert_eq!(note_sur_20(&d("1"), &d("8")), d("2.50"));
    }
}
