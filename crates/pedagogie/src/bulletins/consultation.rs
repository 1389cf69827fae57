//! Reading report cards (`bulletins/`, `bulletins/<id>/`), scoped in SQL: the staff of the
//! school see every one, a teacher those of the classes they teach, a family only the
//! published ones of its own children. Outside the scope: not found.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::decimal::serialize_option_number;
use ecole_core::scope::Scope;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, Page, PageRequest, Role};
use ecole_db::enums::{CodePeriode, DecisionConseil, Distinction, Sexe, StatutBulletin};
use ecole_db::schema::{
    annees_scolaires, bulletin_lignes, bulletin_versions, bulletins, classes, eleves, matieres,
    users,
};
use serde::Serialize;

use crate::calcul::rang_imprime;

/// A report card as listed (`bulletins/`). Averages, class statistics included, are on
/// `bareme` (the class's: 10 in primary, else 20), as printed; `moyenne_generale_sur_20` is
/// the same average on /20.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulletinOut {
    pub id: i64,
    pub eleve: i64,
    pub eleve_nom: String,
    pub matricule: String,
    pub sexe: Sexe,
    pub classe: i64,
    pub classe_nom: String,
    pub bareme: i32,
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    pub periode_libelle: String,
    /// On `bareme`: the value of record (ranks, mention, honour roll follow it).
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_generale: Option<BigDecimal>,
    /// The same average on /20 (equal to `moyenne_generale` when `bareme` is 20).
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_generale_sur_20: Option<BigDecimal>,
    pub rang: Option<i32>,
    pub ex_aequo: bool,
    /// As printed: `1er`, `1ère`, `2ème ex`.
    pub rang_affiche: Option<String>,
    pub effectif: i32,
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_classe: Option<BigDecimal>,
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_max: Option<BigDecimal>,
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_min: Option<BigDecimal>,
    pub mention: Option<String>,
    pub tableau_honneur: bool,
    /// Unjustified absences (days `ABSENT`) over the period's dates.
    pub absences: i32,
    /// Justified absences (days `EXCUSE`).
    pub absences_justifiees: i32,
    pub retards: i32,
    pub statut: StatutBulletin,
    /// A grade, coefficient, assignment, attendance, appreciation or class council record
    /// changed since this bulletin was computed: generate it again (it cannot be published
    /// before; a published one keeps its PDF until a forced regeneration).
    pub a_recalculer: bool,
    /// 1, then + 1 each time the published bulletin is recomputed (a correction).
    pub version: i32,
    /// `/api/v1/bulletins/<id>/pdf/` once the PDF exists.
    pub pdf_url: Option<String>,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub genere_le: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// One subject line of a report card.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = LigneBulletinOut)]
pub struct LigneOut {
    pub matiere: i64,
    pub matiere_code: String,
    pub matiere_nom: String,
    pub coefficient: i32,
    /// On the bulletin's `bareme`; `null`: no grade (non classé).
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne: Option<BigDecimal>,
    /// The same average on /20.
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_sur_20: Option<BigDecimal>,
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub points: Option<BigDecimal>,
    pub rang_matiere: Option<i32>,
    pub ex_aequo: bool,
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_classe_matiere: Option<BigDecimal>,
    /// The teacher's appreciation as copied at the computation (`""`: none written).
    pub appreciation: String,
    pub enseignant: String,
}

/// The annual result, on the year's last period (3rd trimester, 2nd semester), as stored
/// when that bulletin was computed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Annuel {
    /// `complète`, or `incomplète`: a period of the year has no bulletin (or no average) or,
    /// for families, is not published; then no average and no computed decision.
    pub statut: String,
    /// The mean of the period averages, on the bulletin's bareme.
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_annuelle: Option<BigDecimal>,
    /// The decision printed: the class council's when it recorded one, else the computed one.
    pub decision: Option<String>,
    /// From the annual average: `Admis(e)` from the admission threshold, else `Redouble`.
    pub decision_calculee: Option<String>,
    /// Recorded by the class council (`Admis(e)`, `Redouble`, `Exclu(e)`); it overrides the
    /// computed one.
    pub decision_conseil: Option<String>,
}

/// What the class council recorded for the pupil and period, as copied into the bulletin
/// when it was computed (empty when nothing was recorded).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = ConseilBulletinOut)]
pub struct ConseilBulletin {
    /// The council's general appreciation (`""`: none).
    pub appreciation: String,
    pub distinction: Option<Distinction>,
    /// As printed: `Félicitations`, `Avertissement (conduite)`…
    pub distinction_libelle: Option<String>,
    /// The council's decision (year's last period only).
    pub decision: Option<DecisionConseil>,
}

/// `ADMIS` → `Admis(e)`…
pub fn libelle_decision(code: &str) -> String {
    match code {
        "ADMIS" => "Admis(e)",
        "REDOUBLE" => "Redouble",
        "EXCLU" => "Exclu(e)",
        other => other,
    }
    .to_string()
}

/// `bulletins/<id>/`: the card with its lines (and the annual result on the last period).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulletinDetail {
    #[serde(flatten)]
    pub bulletin: BulletinOut,
    pub lignes: Vec<LigneOut>,
    pub conseil: ConseilBulletin,
    pub annuel: Option<Annuel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulletinOrdering {
    Rang,
    MoyenneGenerale,
    Eleve,
    Classe,
}

impl BulletinOrdering {
    pub const FIELDS: &'static [&'static str] = &["rang", "moyenne_generale", "eleve", "classe"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rang" => Some(Self::Rang),
            "moyenne_generale" => Some(Self::MoyenneGenerale),
            "eleve" => Some(Self::Eleve),
            "classe" => Some(Self::Classe),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct BulletinFilter {
    pub classe: Option<i64>,
    pub periode: Option<CodePeriode>,
    pub annee_scolaire: Option<i64>,
    pub eleve: Option<i64>,
    pub statut: Option<StatutBulletin>,
    pub a_recalculer: Option<bool>,
    pub search: Option<String>,
    pub ordering: Vec<(BulletinOrdering, bool)>,
}

/// Who reads report cards at all (within their scope).
fn can_read(actor: &Actor) -> bool {
    matches!(
        actor.role,
        Role::Admin | Role::Direction | Role::Enseignant | Role::Parent | Role::Eleve
    )
}

type Source = diesel::helper_types::InnerJoin<
    diesel::helper_types::InnerJoin<
        bulletins::table,
        diesel::helper_types::InnerJoin<eleves::table, users::table>,
    >,
    classes::table,
>;

fn scoped(scope: &Scope) -> diesel::helper_types::IntoBoxed<'static, Source, diesel::pg::Pg> {
    let q = bulletins::table
        .inner_join(eleves::table.inner_join(users::table))
        .inner_join(classes::table)
        .into_boxed();
    match scope {
        Scope::All => q,
        // Families: their own children's, once published.
        Scope::Eleves(ids) => q
            .filter(bulletins::eleve_id.eq_any(ids.clone()))
            .filter(bulletins::statut.eq(StatutBulletin::Publie)),
        Scope::Classes(ids) => q.filter(bulletins::classe_id.eq_any(ids.clone())),
    }
}

type Row = (
    (
        i64,
        i64,
        i64,
        i64,
        CodePeriode,
        Option<BigDecimal>,
        Option<i32>,
        bool,
        i32,
        Option<BigDecimal>,
        Option<BigDecimal>,
        Option<BigDecimal>,
    ),
    (
        Option<String>,
        bool,
        i32,
        i32,
        StatutBulletin,
        Option<String>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        bool,
        i32,
        i32,
    ),
    (String, Sexe, String, String),
    (String, i32, Option<BigDecimal>),
);

macro_rules! row_select {
    () => {
        (
            (
                bulletins::id,
                bulletins::eleve_id,
                bulletins::classe_id,
                bulletins::annee_scolaire_id,
                bulletins::periode,
                bulletins::moyenne_generale,
                bulletins::rang,
                bulletins::ex_aequo,
                bulletins::effectif,
                bulletins::moyenne_classe,
                bulletins::moyenne_max,
                bulletins::moyenne_min,
            ),
            (
                bulletins::mention,
                bulletins::tableau_honneur,
                bulletins::absences,
                bulletins::retards,
                bulletins::statut,
                bulletins::fichier_pdf,
                bulletins::genere_le,
                bulletins::updated_at,
                bulletins::a_recalculer,
                bulletins::version,
                bulletins::absences_justifiees,
            ),
            (
                eleves::matricule,
                eleves::sexe,
                users::first_name,
                users::last_name,
            ),
            (
                classes::nom,
                bulletins::bareme,
                bulletins::moyenne_generale_sur_20,
            ),
        )
    };
}

fn to_out(r: Row) -> BulletinOut {
    let (
        (
            id,
            eleve,
            classe,
            annee_scolaire,
            periode,
            moyenne_generale,
            rang,
            ex_aequo,
            effectif,
            moyenne_classe,
            moyenne_max,
            moyenne_min,
        ),
        (
            mention,
            tableau_honneur,
            absences,
            retards,
            statut,
            fichier_pdf,
            genere_le,
            updated_at,
            a_recalculer,
            version,
            absences_justifiees,
        ),
        (matricule, sexe, first, last),
        (classe_nom, bareme, moyenne_generale_sur_20),
    ) = r;
    BulletinOut {
        id,
        eleve,
        eleve_nom: format!("{first} {last}").trim().to_string(),
        matricule,
        sexe,
        classe,
        classe_nom,
        bareme,
        annee_scolaire,
        periode,
        periode_libelle: periode.libelle().to_string(),
        moyenne_generale,
        moyenne_generale_sur_20,
        rang,
        ex_aequo,
        rang_affiche: rang.map(|r| rang_imprime(r.max(0) as u32, ex_aequo, sexe)),
        effectif,
        moyenne_classe,
        moyenne_max,
        moyenne_min,
        mention,
        tableau_honneur,
        absences,
        absences_justifiees,
        retards,
        statut,
        a_recalculer,
        version,
        pdf_url: fichier_pdf.map(|_| format!("/api/v1/bulletins/{id}/pdf/")),
        genere_le,
        updated_at,
    }
}

/// `bulletins/`: 2 queries (3 for a family or a teacher), whatever the page size.
pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &BulletinFilter,
    page: PageRequest,
) -> DomainResult<Page<BulletinOut>> {
    if !can_read(actor) {
        return Err(DomainError::PermissionDenied(
            "Vous n'avez pas accès aux bulletins.".into(),
        ));
    }
    let scope = Scope::of(conn, actor).await?;
    let base = || {
        let mut q = scoped(&scope);
        if let Some(v) = filter.classe {
            q = q.filter(bulletins::classe_id.eq(v));
        }
        if let Some(v) = filter.periode {
            q = q.filter(bulletins::periode.eq(v));
        }
        if let Some(v) = filter.annee_scolaire {
            q = q.filter(bulletins::annee_scolaire_id.eq(v));
        }
        if let Some(v) = filter.eleve {
            q = q.filter(bulletins::eleve_id.eq(v));
        }
        if let Some(v) = filter.statut {
            q = q.filter(bulletins::statut.eq(v));
        }
        if let Some(v) = filter.a_recalculer {
            q = q.filter(bulletins::a_recalculer.eq(v));
        }
        if let Some(term) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
            let p = ecole_core::contains_pattern(term);
            q = q.filter(
                eleves::matricule
                    .ilike(p.clone())
                    .or(users::first_name.ilike(p.clone()))
                    .or(users::last_name.ilike(p)),
            );
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
    let mut q = base().select(row_select!());
    for (field, desc) in &filter.ordering {
        q = match (field, desc) {
            (BulletinOrdering::Rang, false) => q.then_order_by(bulletins::rang.asc().nulls_last()),
            (BulletinOrdering::Rang, true) => q.then_order_by(bulletins::rang.desc().nulls_last()),
            (BulletinOrdering::MoyenneGenerale, false) => {
                q.then_order_by(bulletins::moyenne_generale.asc().nulls_last())
            }
            (BulletinOrdering::MoyenneGenerale, true) => {
                q.then_order_by(bulletins::moyenne_generale.desc().nulls_last())
            }
            (BulletinOrdering::Eleve, false) => q
                .then_order_by(users::last_name.asc())
                .then_order_by(users::first_name.asc()),
            (BulletinOrdering::Eleve, true) => q
                .then_order_by(users::last_name.desc())
                .then_order_by(users::first_name.desc()),
            (BulletinOrdering::Classe, false) => q.then_order_by(classes::nom.asc()),
            (BulletinOrdering::Classe, true) => q.then_order_by(classes::nom.desc()),
        };
    }
    if filter.ordering.is_empty() {
        q = q
            .then_order_by(classes::nom.asc())
            .then_order_by(bulletins::periode.asc())
            .then_order_by(bulletins::rang.asc().nulls_last())
            .then_order_by(users::last_name.asc());
    }
    let rows: Vec<Row> = q
        .then_order_by(bulletins::id.asc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: rows.into_iter().map(to_out).collect(),
        request: page,
    })
}

/// One report card within the actor's scope.
pub async fn get_row(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<BulletinOut> {
    if !can_read(actor) {
        return Err(DomainError::NotFound);
    }
    let scope = Scope::of(conn, actor).await?;
    let row: Option<Row> = scoped(&scope)
        .filter(bulletins::id.eq(id))
        .select(row_select!())
        .first(conn)
        .await
        .optional()?;
    row.map(to_out).ok_or(DomainError::NotFound)
}

/// The subject lines of a card, in subject order.
pub async fn lignes(conn: &mut AsyncPgConnection, bulletin: i64) -> DomainResult<Vec<LigneOut>> {
    type L = (
        i64,
        String,
        String,
        i32,
        Option<BigDecimal>,
        Option<BigDecimal>,
        Option<i32>,
        bool,
        Option<BigDecimal>,
        String,
        String,
        Option<BigDecimal>,
    );
    let rows: Vec<L> = bulletin_lignes::table
        .inner_join(matieres::table)
        .filter(bulletin_lignes::bulletin_id.eq(bulletin))
        .select((
            bulletin_lignes::matiere_id,
            matieres::code,
            matieres::nom,
            bulletin_lignes::coefficient,
            bulletin_lignes::moyenne,
            bulletin_lignes::points,
            bulletin_lignes::rang_matiere,
            bulletin_lignes::ex_aequo,
            bulletin_lignes::moyenne_classe_matiere,
            bulletin_lignes::appreciation,
            bulletin_lignes::enseignant,
            bulletin_lignes::moyenne_sur_20,
        ))
        .order((matieres::nom.asc(), matieres::id.asc()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| LigneOut {
            matiere: r.0,
            matiere_code: r.1,
            matiere_nom: r.2,
            coefficient: r.3,
            moyenne: r.4,
            moyenne_sur_20: r.11,
            points: r.5,
            rang_matiere: r.6,
            ex_aequo: r.7,
            moyenne_classe_matiere: r.8,
            appreciation: r.9,
            enseignant: r.10,
        })
        .collect())
}

/// The class council's record of bulletin `id` and, when `periode` is the year's last
/// period, its annual result, as stored with it; with `publies_seulement` (families, and
/// the PDF they receive), the annual average and computed decision only if the bulletins of
/// the year's other periods are published (the council's decision is shown regardless).
/// 1 or 2 queries.
pub async fn conseil_et_annuel(
    conn: &mut AsyncPgConnection,
    id: i64,
    eleve: i64,
    annee: i64,
    periode: CodePeriode,
    publies_seulement: bool,
) -> DomainResult<(ConseilBulletin, Option<Annuel>)> {
    type Stored = (
        Option<BigDecimal>,
        Option<String>,
        String,
        Option<Distinction>,
        Option<DecisionConseil>,
    );
    let (moyenne, decision, appreciation, distinction, decision_conseil): Stored = bulletins::table
        .find(id)
        .select((
            bulletins::moyenne_annuelle,
            bulletins::decision_annuelle,
            bulletins::conseil_appreciation,
            bulletins::conseil_distinction,
            bulletins::conseil_decision,
        ))
        .first(conn)
        .await?;
    let conseil = ConseilBulletin {
        appreciation,
        distinction,
        distinction_libelle: distinction.map(|d| d.libelle().to_string()),
        decision: decision_conseil,
    };
    if !periode.est_derniere() {
        return Ok((conseil, None));
    }
    let mut complete = moyenne.is_some();
    if complete && publies_seulement {
        let others: Vec<CodePeriode> = periode
            .periodes_de_l_annee()
            .iter()
            .copied()
            .filter(|p| *p != periode)
            .collect();
        let published: i64 = bulletins::table
            .filter(bulletins::eleve_id.eq(eleve))
            .filter(bulletins::annee_scolaire_id.eq(annee))
            .filter(bulletins::periode.eq_any(&others))
            .filter(bulletins::statut.eq(StatutBulletin::Publie))
            .count()
            .get_result(conn)
            .await?;
        complete = published == others.len() as i64;
    }
    let decision_calculee = decision.filter(|_| complete).map(|d| libelle_decision(&d));
    let decision_conseil = decision_conseil.map(|d| d.libelle().to_string());
    Ok((
        conseil,
        Some(Annuel {
            statut: if complete { "complète" } else { "incomplète" }.to_string(),
            moyenne_annuelle: moyenne.filter(|_| complete),
            decision: decision_conseil
                .clone()
                .or_else(|| decision_calculee.clone()),
            decision_calculee,
            decision_conseil,
        }),
    ))
}

/// `bulletins/<id>/`.
pub async fn get(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<BulletinDetail> {
    let bulletin = get_row(conn, actor, id).await?;
    let lignes = lignes(conn, id).await?;
    let famille = matches!(actor.role, Role::Parent | Role::Eleve);
    let (conseil, annuel) = conseil_et_annuel(
        conn,
        id,
        bulletin.eleve,
        bulletin.annee_scolaire,
        bulletin.periode,
        famille,
    )
    .await?;
    Ok(BulletinDetail {
        bulletin,
        lignes,
        conseil,
        annuel,
    })
}

/// The stored PDF of a card in scope: its path under the media root and a safe download
/// name. Not found before the PDF exists.
pub async fn pdf(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<(String, String)> {
    if !can_read(actor) {
        return Err(DomainError::NotFound);
    }
    let scope = Scope::of(conn, actor).await?;
    let row: Option<(Option<String>, String, CodePeriode, String)> = scoped(&scope)
        .inner_join(
            annees_scolaires::table.on(annees_scolaires::id.eq(bulletins::annee_scolaire_id)),
        )
        .filter(bulletins::id.eq(id))
        .select((
            bulletins::fichier_pdf,
            eleves::matricule,
            bulletins::periode,
            annees_scolaires::nom,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((fichier, matricule, periode, annee)) = row else {
        return Err(DomainError::NotFound);
    };
    let Some(fichier) = fichier else {
        // In scope but not rendered yet: nothing to download.
        return Err(DomainError::NotFound);
    };
    Ok((fichier, download_name(&matricule, periode, &annee)))
}

/// One PDF of a bulletin: the current one and those its corrections replaced.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = VersionBulletinOut)]
pub struct VersionOut {
    pub version: i32,
    /// The current version (the one families see once it is published).
    pub courante: bool,
    /// Path under the media root; `null` while not rendered yet.
    pub fichier_pdf: Option<String>,
    /// SHA-256 of the PDF, hexadecimal.
    pub sha256: Option<String>,
    pub bareme: i32,
    #[serde(serialize_with = "serialize_option_number")]
    #[schema(value_type = Option<f64>)]
    pub moyenne_generale: Option<BigDecimal>,
    pub rang: Option<i32>,
    pub ex_aequo: bool,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub genere_le: Option<DateTime<Utc>>,
    /// When a correction replaced it; `null` for the current version.
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub remplacee_le: Option<DateTime<Utc>>,
}

/// A version's record: version, file, SHA-256, bareme, average, rank, ex aequo, computed at.
type VersionRow = (
    i32,
    Option<String>,
    Option<String>,
    i32,
    Option<BigDecimal>,
    Option<i32>,
    bool,
    Option<DateTime<Utc>>,
);

fn version_out(v: VersionRow, remplacee_le: Option<DateTime<Utc>>) -> VersionOut {
    VersionOut {
        version: v.0,
        courante: remplacee_le.is_none(),
        fichier_pdf: v.1,
        sha256: v.2,
        bareme: v.3,
        moyenne_generale: v.4,
        rang: v.5,
        ex_aequo: v.6,
        genere_le: v.7,
        remplacee_le,
    }
}

/// `bulletins/<id>/versions/` (ADMIN, DIRECTION): every version, newest first, in 2 queries.
/// Earlier PDFs are kept for the school's records, never served to families.
pub async fn versions(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<Vec<VersionOut>> {
    actor.require(&[Role::Admin, Role::Direction])?;
    let current: Option<VersionRow> = bulletins::table
        .find(id)
        .select((
            bulletins::version,
            bulletins::fichier_pdf,
            bulletins::pdf_sha256,
            bulletins::bareme,
            bulletins::moyenne_generale,
            bulletins::rang,
            bulletins::ex_aequo,
            bulletins::genere_le,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some(current) = current else {
        return Err(DomainError::NotFound);
    };
    let earlier: Vec<(VersionRow, DateTime<Utc>)> = bulletin_versions::table
        .filter(bulletin_versions::bulletin_id.eq(id))
        .filter(bulletin_versions::version.lt(current.0))
        .order(bulletin_versions::version.desc())
        .select((
            (
                bulletin_versions::version,
                bulletin_versions::fichier_pdf,
                bulletin_versions::pdf_sha256,
                bulletin_versions::bareme,
                bulletin_versions::moyenne_generale,
                bulletin_versions::rang,
                bulletin_versions::ex_aequo,
                bulletin_versions::genere_le,
            ),
            bulletin_versions::remplace_le,
        ))
        .load(conn)
        .await?;
    let mut out = vec![version_out(current, None)];
    out.extend(
        earlier
            .into_iter()
            .map(|(v, remplacee)| version_out(v, Some(remplacee))),
    );
    Ok(out)
}

/// `bulletin_2026-001_TRIMESTRE_1_2025-2026.pdf`: ASCII letters, digits, `-` and `_` only.
pub fn download_name(matricule: &str, periode: CodePeriode, annee: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "bulletin_{}_{}_{}.pdf",
        clean(matricule),
        periode.as_str(),
        clean(annee)
    )
}
