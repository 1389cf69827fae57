//! Invoices (`factures/`): drafts with their lines (totals computed here, never taken from
//! the client), issued with the next gap-free number (`emettre/`), cancelled while nothing
//! was paid (`annuler/`). Reads are scoped in SQL: the till sees every invoice, a family its
//! children's once issued; outside the scope an invoice is not found.

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::time::{self, serde_conakry};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::StatutFacture;
use ecole_db::schema::{annees_scolaires, classes, eleves, factures, lignes_facture, users};
use ecole_jobs::payloads::GenererFacturePdf;
use ecole_jobs::{NewJob, enqueue};
use serde::{Deserialize, Serialize};

use crate::montants::MONTANT_MAX;
use crate::numerotation::{self, Serie};
use crate::{Acces, exiger_caisse};

/// Days between today and the default due date.
pub const ECHEANCE_PAR_DEFAUT_JOURS: u64 = 30;
/// Lines an invoice may hold.
pub const LIGNES_MAX: usize = 100;

/// The `factures` row.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = factures, check_for_backend(diesel::pg::Pg))]
pub struct Facture {
    pub id: i64,
    pub numero: Option<String>,
    pub eleve_id: i64,
    pub annee_scolaire_id: i64,
    pub date_emission: Option<NaiveDate>,
    pub date_echeance: NaiveDate,
    pub montant_total: i64,
    pub montant_paye: i64,
    pub statut: StatutFacture,
    pub fichier_pdf: Option<String>,
    pub dernier_rappel_le: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Facture {
    pub fn montant_restant(&self) -> i64 {
        self.montant_total - self.montant_paye
    }
}

/// One line as sent: `{"libelle", "quantite", "prix_unitaire"}`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LigneInput {
    pub libelle: String,
    /// 1 when absent.
    #[serde(default = "un")]
    pub quantite: i32,
    /// GNF.
    pub prix_unitaire: i64,
}

fn un() -> i32 {
    1
}

/// `POST factures/`, `PUT factures/<id>/` (drafts only).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactureInput {
    pub eleve: i64,
    /// The pupil's class's year (else the active year) when absent.
    #[serde(default)]
    pub annee_scolaire: Option<i64>,
    /// 30 days from today when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_echeance: Option<NaiveDate>,
    pub lignes: Vec<LigneInput>,
}

/// `PATCH factures/<id>/` (drafts only): the fields given; `lignes` replaces every line.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacturePatch {
    pub eleve: Option<i64>,
    pub annee_scolaire: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_echeance: Option<NaiveDate>,
    pub lignes: Option<Vec<LigneInput>>,
}

/// `POST factures/<id>/annuler/`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnulationInput {
    /// Why (kept in the audit journal).
    #[serde(default)]
    pub motif: Option<String>,
}

/// A line of an invoice.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LigneOut {
    pub id: i64,
    pub libelle: String,
    pub quantite: i32,
    pub prix_unitaire: i64,
    pub montant: i64,
    /// The fee of the schedule this line bills, for generated invoices.
    pub frais: Option<i64>,
}

/// An invoice as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FactureOut {
    pub id: i64,
    /// `FAC-2026-000123`; `null` while a draft.
    pub numero: Option<String>,
    pub eleve: i64,
    pub eleve_nom: String,
    pub matricule: String,
    /// The pupil's current class.
    pub classe: Option<i64>,
    pub classe_nom: Option<String>,
    pub annee_scolaire: i64,
    #[schema(value_type = Option<String>, format = Date)]
    pub date_emission: Option<NaiveDate>,
    #[schema(value_type = String, format = Date)]
    pub date_echeance: NaiveDate,
    pub montant_total: i64,
    pub montant_paye: i64,
    pub montant_restant: i64,
    pub statut: StatutFacture,
    /// Issued, not fully paid, due date passed.
    pub en_retard: bool,
    /// `/api/v1/factures/<id>/pdf/` once the PDF exists.
    pub pdf_url: Option<String>,
    #[serde(serialize_with = "serde_conakry::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dernier_rappel_le: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// `factures/<id>/`: the invoice and its lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FactureDetail {
    #[serde(flatten)]
    pub facture: FactureOut,
    pub lignes: Vec<LigneOut>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactureOrdering {
    Numero,
    DateEmission,
    DateEcheance,
    MontantTotal,
    MontantRestant,
    Eleve,
    Statut,
}

impl FactureOrdering {
    pub const FIELDS: &'static [&'static str] = &[
        "numero",
        "date_emission",
        "date_echeance",
        "montant_total",
        "montant_restant",
        "eleve",
        "statut",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "numero" => Self::Numero,
            "date_emission" => Self::DateEmission,
            "date_echeance" => Self::DateEcheance,
            "montant_total" => Self::MontantTotal,
            "montant_restant" => Self::MontantRestant,
            "eleve" => Self::Eleve,
            "statut" => Self::Statut,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct FactureFilter {
    pub eleve: Option<i64>,
    pub annee_scolaire: Option<i64>,
    pub classe: Option<i64>,
    pub statut: Option<StatutFacture>,
    pub en_retard: Option<bool>,
    /// Number, pupil's names, matricule.
    pub search: Option<String>,
    pub ordering: Vec<(FactureOrdering, bool)>,
}

type Source = diesel::helper_types::InnerJoin<
    factures::table,
    diesel::helper_types::LeftJoin<
        diesel::helper_types::InnerJoin<eleves::table, users::table>,
        classes::table,
    >,
>;

type Boxed = diesel::helper_types::IntoBoxed<'static, Source, diesel::pg::Pg>;

/// Invoices the access covers: all, or the pupils' issued ones.
pub(crate) fn scoped(acces: &Acces) -> Boxed {
    let q = factures::table
        .inner_join(
            eleves::table
                .inner_join(users::table)
                .left_join(classes::table),
        )
        .into_boxed();
    match acces {
        Acces::Tout => q,
        Acces::Eleves(ids) => q
            .filter(factures::eleve_id.eq_any(ids.clone()))
            .filter(factures::statut.ne(StatutFacture::Brouillon)),
    }
}

pub(crate) type Row = (
    Facture,
    (String, Option<i64>, String, String),
    Option<String>,
);

macro_rules! row_select {
    () => {
        (
            Facture::as_select(),
            (
                eleves::matricule,
                eleves::classe_actuelle_id,
                users::first_name,
                users::last_name,
            ),
            classes::nom.nullable(),
        )
    };
}

pub(crate) fn to_out(row: Row, today: NaiveDate) -> FactureOut {
    let (f, (matricule, classe, first, last), classe_nom) = row;
    FactureOut {
        numero: f.numero.clone(),
        eleve: f.eleve_id,
        eleve_nom: format!("{first} {last}").trim().to_string(),
        matricule,
        classe,
        classe_nom,
        annee_scolaire: f.annee_scolaire_id,
        date_emission: f.date_emission,
        date_echeance: f.date_echeance,
        montant_total: f.montant_total,
        montant_paye: f.montant_paye,
        montant_restant: f.montant_restant(),
        statut: f.statut,
        en_retard: f.statut.accepte_paiement() && f.date_echeance < today,
        pdf_url: f
            .fichier_pdf
            .as_ref()
            .map(|_| format!("/api/v1/factures/{}/pdf/", f.id)),
        dernier_rappel_le: f.dernier_rappel_le,
        created_at: f.created_at,
        updated_at: f.updated_at,
        id: f.id,
    }
}

/// `factures/`: 2 queries (3 for a family), whatever the page size.
pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &FactureFilter,
    page: PageRequest,
) -> DomainResult<Page<FactureOut>> {
    let acces = Acces::for_list(conn, actor).await?;
    let today = time::today();
    let base = || {
        let mut q = scoped(&acces);
        if let Some(v) = filter.eleve {
            q = q.filter(factures::eleve_id.eq(v));
        }
        if let Some(v) = filter.annee_scolaire {
            q = q.filter(factures::annee_scolaire_id.eq(v));
        }
        if let Some(v) = filter.classe {
            q = q.filter(eleves::classe_actuelle_id.eq(v));
        }
        if let Some(v) = filter.statut {
            q = q.filter(factures::statut.eq(v));
        }
        match filter.en_retard {
            Some(true) => {
                q = q.filter(
                    factures::statut
                        .eq_any([StatutFacture::Emise, StatutFacture::PartiellementPayee])
                        .and(factures::date_echeance.lt(today)),
                )
            }
            Some(false) => {
                q = q.filter(diesel::dsl::not(
                    factures::statut
                        .eq_any([StatutFacture::Emise, StatutFacture::PartiellementPayee])
                        .and(factures::date_echeance.lt(today)),
                ))
            }
            None => {}
        }
        if let Some(term) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
            let p = ecole_core::contains_pattern(term.trim());
            q = q.filter(
                factures::numero
                    .ilike(p.clone())
                    .or(eleves::matricule.ilike(p.clone()).nullable())
                    .or(users::first_name.ilike(p.clone()).nullable())
                    .or(users::last_name.ilike(p).nullable()),
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
            (FactureOrdering::Numero, false) => {
                q.then_order_by(factures::numero.asc().nulls_last())
            }
            (FactureOrdering::Numero, true) => {
                q.then_order_by(factures::numero.desc().nulls_last())
            }
            (FactureOrdering::DateEmission, false) => {
                q.then_order_by(factures::date_emission.asc().nulls_last())
            }
            (FactureOrdering::DateEmission, true) => {
                q.then_order_by(factures::date_emission.desc().nulls_last())
            }
            (FactureOrdering::DateEcheance, false) => {
                q.then_order_by(factures::date_echeance.asc())
            }
            (FactureOrdering::DateEcheance, true) => {
                q.then_order_by(factures::date_echeance.desc())
            }
            (FactureOrdering::MontantTotal, false) => {
                q.then_order_by(factures::montant_total.asc())
            }
            (FactureOrdering::MontantTotal, true) => {
                q.then_order_by(factures::montant_total.desc())
            }
            (FactureOrdering::MontantRestant, false) => {
                q.then_order_by((factures::montant_total - factures::montant_paye).asc())
            }
            (FactureOrdering::MontantRestant, true) => {
                q.then_order_by((factures::montant_total - factures::montant_paye).desc())
            }
            (FactureOrdering::Eleve, false) => q
                .then_order_by(users::last_name.asc())
                .then_order_by(users::first_name.asc()),
            (FactureOrdering::Eleve, true) => q
                .then_order_by(users::last_name.desc())
                .then_order_by(users::first_name.desc()),
            (FactureOrdering::Statut, false) => q.then_order_by(factures::statut.asc()),
            (FactureOrdering::Statut, true) => q.then_order_by(factures::statut.desc()),
        };
    }
    let rows: Vec<Row> = q
        .then_order_by(factures::id.desc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: rows.into_iter().map(|r| to_out(r, today)).collect(),
        request: page,
    })
}

/// The lines of invoices, in their order, grouped by invoice (one query).
pub(crate) async fn lignes_de(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> DomainResult<Vec<(i64, LigneOut)>> {
    type L = (i64, i64, String, i32, i64, i64, Option<i64>);
    let rows: Vec<L> = lignes_facture::table
        .filter(lignes_facture::facture_id.eq_any(ids))
        .select((
            lignes_facture::facture_id,
            lignes_facture::id,
            lignes_facture::libelle,
            lignes_facture::quantite,
            lignes_facture::prix_unitaire,
            lignes_facture::montant,
            lignes_facture::frais_id,
        ))
        .order((lignes_facture::facture_id, lignes_facture::id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(facture, id, libelle, quantite, prix_unitaire, montant, frais)| {
                (
                    facture,
                    LigneOut {
                        id,
                        libelle,
                        quantite,
                        prix_unitaire,
                        montant,
                        frais,
                    },
                )
            },
        )
        .collect())
}

/// One invoice within the actor's scope (404 outside it).
pub async fn get_out(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<FactureOut> {
    let acces = Acces::for_row(conn, actor).await?;
    let row: Option<Row> = scoped(&acces)
        .filter(factures::id.eq(id))
        .select(row_select!())
        .first(conn)
        .await
        .optional()?;
    row.map(|r| to_out(r, time::today()))
        .ok_or(DomainError::NotFound)
}

/// `factures/<id>/`.
pub async fn get(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<FactureDetail> {
    let facture = get_out(conn, actor, id).await?;
    let lignes = lignes_de(conn, &[id])
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    Ok(FactureDetail { facture, lignes })
}

/// A line checked and priced: (libelle, quantite, prix_unitaire, montant).
type LignePrete = (String, i32, i64, i64);

/// Checks the lines and computes their amounts and the total (field errors name the line).
fn preparer_lignes(lignes: &[LigneInput], errors: &mut FieldErrors) -> (Vec<LignePrete>, i64) {
    if lignes.is_empty() {
        errors.add("lignes", "Une facture a au moins une ligne.");
    } else if lignes.len() > LIGNES_MAX {
        errors.add("lignes", format!("Au plus {LIGNES_MAX} lignes."));
    }
    let mut prepared = Vec::with_capacity(lignes.len());
    let mut total: i64 = 0;
    for (i, l) in lignes.iter().enumerate() {
        let field = |name: &str| format!("lignes.{i}.{name}");
        let libelle = l.libelle.trim().to_string();
        let longueur = libelle.chars().count();
        if longueur == 0 {
            errors.add(&field("libelle"), "Ce champ ne peut pas être vide.");
        } else if longueur > 200 {
            errors.add(&field("libelle"), "Au plus 200 caractères.");
        }
        if !(1..=10_000).contains(&l.quantite) {
            errors.add(&field("quantite"), "Entre 1 et 10 000.");
        }
        if l.prix_unitaire < 0 {
            errors.add(&field("prix_unitaire"), "Le prix ne peut pas être négatif.");
        } else if l.prix_unitaire > MONTANT_MAX / 1000 {
            errors.add(&field("prix_unitaire"), "Prix trop élevé.");
        }
        let montant = i64::from(l.quantite.clamp(0, 10_000))
            .saturating_mul(l.prix_unitaire.clamp(0, MONTANT_MAX / 1000));
        total = total.saturating_add(montant);
        prepared.push((libelle, l.quantite, l.prix_unitaire, montant));
    }
    if total > MONTANT_MAX {
        errors.add("lignes", "Montant total trop élevé.");
    } else if !lignes.is_empty() && total == 0 {
        errors.add("lignes", "Le montant total doit être positif.");
    }
    (prepared, total)
}

/// A pupil's year by default: their class's, else the active one.
async fn annee_par_defaut(
    conn: &mut AsyncPgConnection,
    classe_annee: Option<i64>,
) -> DomainResult<Option<i64>> {
    if classe_annee.is_some() {
        return Ok(classe_annee);
    }
    Ok(annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .optional()?)
}

/// Everything a draft needs, checked: pupil, year, due date, lines and total.
struct Brouillon {
    eleve: i64,
    annee: i64,
    echeance: NaiveDate,
    lignes: Vec<LignePrete>,
    total: i64,
}

async fn preparer(
    conn: &mut AsyncPgConnection,
    eleve: i64,
    annee: Option<i64>,
    echeance: Option<NaiveDate>,
    lignes: &[LigneInput],
) -> DomainResult<Brouillon> {
    let mut errors = FieldErrors::new();
    let pupil: Option<Option<i64>> = eleves::table
        .left_join(classes::table)
        .filter(eleves::id.eq(eleve))
        .select(classes::annee_scolaire_id.nullable())
        .first(conn)
        .await
        .optional()?;
    let mut annee_retenue = None;
    match pupil {
        None => errors.add("eleve", "Élève introuvable."),
        Some(classe_annee) => match annee {
            Some(a) => {
                let exists: Option<i64> = annees_scolaires::table
                    .find(a)
                    .select(annees_scolaires::id)
                    .first(conn)
                    .await
                    .optional()?;
                match exists {
                    Some(a) => annee_retenue = Some(a),
                    None => errors.add("annee_scolaire", "Année scolaire introuvable."),
                }
            }
            None => match annee_par_defaut(conn, classe_annee).await? {
                Some(a) => annee_retenue = Some(a),
                None => errors.add(
                    "annee_scolaire",
                    "Précisez l'année scolaire (l'élève n'a pas de classe et aucune année n'est active).",
                ),
            },
        },
    }
    let today = time::today();
    let echeance = echeance.unwrap_or_else(|| {
        today
            .checked_add_days(Days::new(ECHEANCE_PAR_DEFAUT_JOURS))
            .unwrap_or(today)
    });
    let (lignes, total) = preparer_lignes(lignes, &mut errors);
    errors.into_result()?;
    Ok(Brouillon {
        eleve,
        annee: annee_retenue.unwrap_or_default(),
        echeance,
        lignes,
        total,
    })
}

async fn inserer_lignes(
    conn: &mut AsyncPgConnection,
    facture: i64,
    lignes: &[LignePrete],
) -> DomainResult<()> {
    let rows: Vec<_> = lignes
        .iter()
        .map(|(libelle, quantite, prix, montant)| {
            (
                lignes_facture::facture_id.eq(facture),
                lignes_facture::libelle.eq(libelle),
                lignes_facture::quantite.eq(quantite),
                lignes_facture::prix_unitaire.eq(prix),
                lignes_facture::montant.eq(montant),
            )
        })
        .collect();
    diesel::insert_into(lignes_facture::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// The row, locked until the end of the caller's transaction.
pub(crate) async fn verrouiller(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Facture> {
    factures::table
        .find(id)
        .select(Facture::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

fn audit_facture<'a>(
    actor: &'a Actor,
    action: AuditAction,
    before: Option<&Facture>,
    after: Option<serde_json::Value>,
    id: i64,
) -> AuditEntry<'a> {
    AuditEntry {
        actor: Some(actor),
        action,
        table: "factures",
        row_id: Some(id),
        before: before.and_then(|b| serde_json::to_value(b).ok()),
        after,
    }
}

/// `POST factures/`: a draft (ADMIN, DIRECTION, COMPTABLE).
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: FactureInput,
) -> DomainResult<FactureDetail> {
    exiger_caisse(actor)?;
    let b = preparer(
        conn,
        input.eleve,
        input.annee_scolaire,
        input.date_echeance,
        &input.lignes,
    )
    .await?;
    let a = *actor;
    let id = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let f: Facture = diesel::insert_into(factures::table)
                .values((
                    factures::eleve_id.eq(b.eleve),
                    factures::annee_scolaire_id.eq(b.annee),
                    factures::date_echeance.eq(b.echeance),
                    factures::montant_total.eq(b.total),
                    factures::statut.eq(StatutFacture::Brouillon),
                ))
                .returning(Facture::as_returning())
                .get_result(conn)
                .await?;
            inserer_lignes(conn, f.id, &b.lignes).await?;
            let mut after = serde_json::to_value(&f).ok();
            if let Some(obj) = after.as_mut().and_then(|v| v.as_object_mut()) {
                obj.insert(
                    "lignes".into(),
                    serde_json::to_value(&input.lignes).unwrap_or_default(),
                );
            }
            audit::record(
                conn,
                audit_facture(&a, AuditAction::Create, None, after, f.id),
            )
            .await?;
            Ok(f.id)
        })
        .await?;
    get(conn, actor, id).await
}

fn deja_emise() -> DomainError {
    DomainError::Conflict(
        "Une facture émise ne se modifie plus : annulez-la et établissez-en une nouvelle.".into(),
    )
}

/// `PUT` (`patch` holds every field) or `PATCH factures/<id>/`: drafts only (409 otherwise).
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    patch: FacturePatch,
) -> DomainResult<FactureDetail> {
    exiger_caisse(actor)?;
    let a = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = verrouiller(conn, id).await?;
        if before.statut != StatutFacture::Brouillon {
            return Err(deja_emise());
        }
        let lignes: Vec<LigneInput> = match &patch.lignes {
            Some(l) => l.clone(),
            None => lignes_de(conn, &[id])
                .await?
                .into_iter()
                .map(|(_, l)| LigneInput {
                    libelle: l.libelle,
                    quantite: l.quantite,
                    prix_unitaire: l.prix_unitaire,
                })
                .collect(),
        };
        let b = preparer(
            conn,
            patch.eleve.unwrap_or(before.eleve_id),
            patch.annee_scolaire.or(Some(before.annee_scolaire_id)),
            patch.date_echeance.or(Some(before.date_echeance)),
            &lignes,
        )
        .await?;
        let after: Facture = diesel::update(factures::table.find(id))
            .set((
                factures::eleve_id.eq(b.eleve),
                factures::annee_scolaire_id.eq(b.annee),
                factures::date_echeance.eq(b.echeance),
                factures::montant_total.eq(b.total),
            ))
            .returning(Facture::as_returning())
            .get_result(conn)
            .await?;
        if patch.lignes.is_some() {
            diesel::delete(lignes_facture::table.filter(lignes_facture::facture_id.eq(id)))
                .execute(conn)
                .await?;
            inserer_lignes(conn, id, &b.lignes).await?;
        }
        let mut after_json = serde_json::to_value(&after).ok();
        if let (Some(obj), Some(l)) = (
            after_json.as_mut().and_then(|v| v.as_object_mut()),
            &patch.lignes,
        ) {
            obj.insert("lignes".into(), serde_json::to_value(l).unwrap_or_default());
        }
        audit::record(
            conn,
            audit_facture(&a, AuditAction::Update, Some(&before), after_json, id),
        )
        .await?;
        Ok(())
    })
    .await?;
    get(conn, actor, id).await
}

/// `DELETE factures/<id>/`: drafts only (they have no number, so no gap appears).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    exiger_caisse(actor)?;
    let a = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = verrouiller(conn, id).await?;
        if before.statut != StatutFacture::Brouillon {
            return Err(DomainError::Conflict(
                "Seul un brouillon se supprime ; une facture émise s'annule.".into(),
            ));
        }
        diesel::delete(factures::table.find(id))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            audit_facture(&a, AuditAction::Delete, Some(&before), None, id),
        )
        .await?;
        Ok(())
    })
    .await
}

/// The PDF job of an invoice (rendering twice is harmless: the file is replaced).
pub(crate) fn pdf_job(facture: i64, requested_by: Option<i64>) -> DomainResult<NewJob> {
    Ok(NewJob::of(&GenererFacturePdf {
        facture_id: facture,
    })?
    .requested_by(requested_by))
}

/// `POST factures/<id>/emettre/`: `BROUILLON` → `EMISE` with the next `FAC-<year>-<n>`,
/// dated today; its PDF is asked for in the same transaction.
pub async fn emettre(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<FactureDetail> {
    exiger_caisse(actor)?;
    let a = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = verrouiller(conn, id).await?;
        if before.statut != StatutFacture::Brouillon {
            return Err(DomainError::Conflict(format!(
                "Cette facture est déjà {} : elle ne peut plus être émise.",
                before.statut.libelle()
            )));
        }
        let today = time::today();
        let mut errors = FieldErrors::new();
        if before.montant_total <= 0 {
            errors.add("non_field_errors", "Une facture de 0 GNF ne s'émet pas.");
        }
        if before.date_echeance < today {
            errors.add(
                "date_echeance",
                "L'échéance est déjà passée : modifiez-la avant d'émettre la facture.",
            );
        }
        errors.into_result()?;
        // Last: the counter row stays locked until commit.
        let numero = numerotation::prochain(conn, Serie::Facture).await?;
        let after: Facture = diesel::update(factures::table.find(id))
            .set((
                factures::numero.eq(&numero),
                factures::statut.eq(StatutFacture::Emise),
                factures::date_emission.eq(today),
            ))
            .returning(Facture::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            audit_facture(
                &a,
                AuditAction::Update,
                Some(&before),
                serde_json::to_value(&after).ok(),
                id,
            ),
        )
        .await?;
        enqueue(conn, pdf_job(id, Some(a.user_id))?).await?;
        Ok(())
    })
    .await?;
    get(conn, actor, id).await
}

/// `POST factures/<id>/annuler/`: refused (409) once money was paid or when already
/// cancelled. An issued invoice keeps its number; its PDF is rendered again, marked cancelled.
pub async fn annuler(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: AnnulationInput,
) -> DomainResult<FactureDetail> {
    exiger_caisse(actor)?;
    let motif = input
        .motif
        .map(|m| m.trim().chars().take(500).collect::<String>())
        .filter(|m| !m.is_empty());
    let a = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = verrouiller(conn, id).await?;
        if before.statut == StatutFacture::Annulee {
            return Err(DomainError::Conflict("Cette facture est déjà annulée.".into()));
        }
        if before.montant_paye > 0 {
            return Err(DomainError::Conflict(
                "Des paiements ont été enregistrés sur cette facture : elle ne peut plus être annulée."
                    .into(),
            ));
        }
        let after: Facture = diesel::update(factures::table.find(id))
            .set(factures::statut.eq(StatutFacture::Annulee))
            .returning(Facture::as_returning())
            .get_result(conn)
            .await?;
        let mut after_json = serde_json::to_value(&after).ok();
        if let Some(obj) = after_json.as_mut().and_then(|v| v.as_object_mut()) {
            obj.insert("motif".into(), serde_json::json!(motif));
        }
        audit::record(
            conn,
            audit_facture(&a, AuditAction::Update, Some(&before), after_json, id),
        )
        .await?;
        if after.numero.is_some() {
            enqueue(conn, pdf_job(id, Some(a.user_id))?).await?;
        }
        Ok(())
    })
    .await?;
    get(conn, actor, id).await
}

/// The stored PDF of an invoice in scope: its path under the media root and a download
/// name. Not found before the PDF exists.
pub async fn pdf(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<(String, String)> {
    let acces = Acces::for_row(conn, actor).await?;
    let row: Option<(Option<String>, Option<String>)> = scoped(&acces)
        .filter(factures::id.eq(id))
        .select((factures::fichier_pdf, factures::numero))
        .first(conn)
        .await
        .optional()?;
    match row {
        Some((Some(fichier), numero)) => Ok((
            fichier,
            format!("facture_{}.pdf", numero.unwrap_or_else(|| id.to_string())),
        )),
        _ => Err(DomainError::NotFound),
    }
}
