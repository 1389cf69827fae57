//! `exemplaires/`: the physical copies of a book, each with a unique barcode and a state
//! (`BON`, `ABIME`, `PERDU`). A copy is available when it is not lost and not lent.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, exists};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::enums::{EtatExemplaire, StatutEmprunt};
use ecole_db::schema::{emprunts, exemplaires, livres};
use serde::{Deserialize, Serialize};

use crate::exiger_bibliothecaire;

/// Rows per INSERT of generated copies.
const CHUNK: usize = 2_000;

/// A copy, with its book's title and the loan it is out on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Exemplaire {
    pub id: i64,
    pub livre: i64,
    pub livre_titre: String,
    pub code_barre: String,
    pub etat: EtatExemplaire,
    /// Not lost and not lent.
    pub disponible: bool,
    /// The open loan, if lent.
    pub emprunt_en_cours: Option<i64>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exemplaires, check_for_backend(diesel::pg::Pg))]
struct ExemplaireRow {
    id: i64,
    livre_id: i64,
    code_barre: String,
    etat: EtatExemplaire,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

type Row = (ExemplaireRow, String, Option<i64>);

impl From<Row> for Exemplaire {
    fn from((r, titre, emprunt): Row) -> Self {
        Exemplaire {
            id: r.id,
            livre: r.livre_id,
            livre_titre: titre,
            code_barre: r.code_barre,
            disponible: r.etat != EtatExemplaire::Perdu && emprunt.is_none(),
            etat: r.etat,
            emprunt_en_cours: emprunt,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `POST exemplaires/`, `PUT exemplaires/<id>/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemplaireInput {
    pub livre: i64,
    /// Letters, digits and `. _ / -`, 50 characters at most; unique.
    pub code_barre: String,
    /// `BON` by default.
    #[serde(default)]
    pub etat: Option<EtatExemplaire>,
}

/// `PATCH exemplaires/<id>/`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemplairePatch {
    pub livre: Option<i64>,
    pub code_barre: Option<String>,
    pub etat: Option<EtatExemplaire>,
}

impl From<ExemplaireInput> for ExemplairePatch {
    fn from(input: ExemplaireInput) -> Self {
        ExemplairePatch {
            livre: Some(input.livre),
            code_barre: Some(input.code_barre),
            etat: Some(input.etat.unwrap_or(EtatExemplaire::Bon)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ExemplaireFilter {
    pub livre: Option<i64>,
    pub etat: Option<EtatExemplaire>,
    pub disponible: Option<bool>,
    /// Exact barcode (a scanner's input).
    pub code_barre: Option<String>,
}

/// A barcode as stored: trimmed, `[A-Za-z0-9._/-]{1,50}`.
pub fn verifier_code_barre(raw: &str, errors: &mut FieldErrors) -> String {
    let code = raw.trim().to_string();
    if code.is_empty() {
        errors.add("code_barre", "Ce champ ne peut pas être vide.");
    } else if code.chars().count() > 50
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
    {
        errors.add(
            "code_barre",
            "Code-barres invalide : lettres, chiffres et . _ / - uniquement, 50 caractères au plus.",
        );
    }
    code
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    if unique_violation(&e).is_some() {
        DomainError::validation("code_barre", "Ce code-barres est déjà utilisé.")
    } else {
        e.into()
    }
}

macro_rules! joined {
    () => {
        exemplaires::table.inner_join(livres::table).left_join(
            emprunts::table.on(emprunts::exemplaire_id
                .eq(exemplaires::id)
                .and(emprunts::statut.eq(StatutEmprunt::EnCours))),
        )
    };
}

macro_rules! row_select {
    ($($extra:expr)?) => {
        (
            ExemplaireRow::as_select(),
            livres::titre,
            emprunts::id.nullable(),
            $($extra)?
        )
    };
}

/// `exemplaires/`: one query (the page and its total count).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ExemplaireFilter,
    page: PageRequest,
) -> DomainResult<Page<Exemplaire>> {
    let mut q = joined!().into_boxed();
    if let Some(livre) = filter.livre {
        q = q.filter(exemplaires::livre_id.eq(livre));
    }
    if let Some(etat) = filter.etat {
        q = q.filter(exemplaires::etat.eq(etat));
    }
    if let Some(code) = filter.code_barre.as_deref() {
        q = q.filter(exemplaires::code_barre.eq(code.trim().to_string()));
    }
    match filter.disponible {
        Some(true) => {
            q = q.filter(
                exemplaires::etat
                    .ne(EtatExemplaire::Perdu)
                    .and(emprunts::id.nullable().is_null()),
            )
        }
        Some(false) => {
            q = q.filter(
                exemplaires::etat
                    .eq(EtatExemplaire::Perdu)
                    .or(emprunts::id.nullable().is_not_null()),
            )
        }
        None => {}
    }
    let rows: Vec<(ExemplaireRow, String, Option<i64>, i64)> = q
        .select(row_select!(count_star().over()))
        .order((exemplaires::livre_id.asc(), exemplaires::code_barre.asc()))
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count: <[_]>::first(&rows).map(|r| r.3).unwrap_or(0),
        results: rows
            .into_iter()
            .map(|(r, titre, emprunt, _)| (r, titre, emprunt).into())
            .collect(),
        request: page,
    })
}

pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Exemplaire> {
    let row: Row = joined!()
        .filter(exemplaires::id.eq(id))
        .select(row_select!())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)?;
    Ok(row.into())
}

async fn livre_existe(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<bool> {
    Ok(diesel::select(exists(livres::table.find(id)))
        .get_result(conn)
        .await?)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: ExemplaireInput,
) -> DomainResult<Exemplaire> {
    exiger_bibliothecaire(actor)?;
    let mut errors = FieldErrors::new();
    let code = verifier_code_barre(&input.code_barre, &mut errors);
    if !livre_existe(conn, input.livre).await? {
        errors.add("livre", "Livre introuvable.");
    }
    errors.into_result()?;
    let id: i64 = diesel::insert_into(exemplaires::table)
        .values((
            exemplaires::livre_id.eq(input.livre),
            exemplaires::code_barre.eq(&code),
            exemplaires::etat.eq(input.etat.unwrap_or(EtatExemplaire::Bon)),
        ))
        .returning(exemplaires::id)
        .get_result(conn)
        .await
        .map_err(map_unique)?;
    get(conn, id).await
}

/// `PUT` or `PATCH`. A lent copy cannot be declared lost here: its loan's return does it.
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    patch: ExemplairePatch,
) -> DomainResult<Exemplaire> {
    exiger_bibliothecaire(actor)?;
    let before = get(conn, id).await?;
    let mut errors = FieldErrors::new();
    let code = verifier_code_barre(
        patch.code_barre.as_deref().unwrap_or(&before.code_barre),
        &mut errors,
    );
    let livre = patch.livre.unwrap_or(before.livre);
    if livre != before.livre && !livre_existe(conn, livre).await? {
        errors.add("livre", "Livre introuvable.");
    }
    errors.into_result()?;
    let etat = patch.etat.unwrap_or(before.etat);
    conn.transaction::<_, DomainError, _>(async move |conn| {
        // The copy's row lock orders this change with a loan of the same copy.
        exemplaires::table
            .find(id)
            .select(exemplaires::id)
            .for_no_key_update()
            .first::<i64>(conn)
            .await?;
        if etat == EtatExemplaire::Perdu && before.etat != EtatExemplaire::Perdu {
            let prete: Option<i64> = emprunts::table
                .filter(emprunts::exemplaire_id.eq(id))
                .filter(emprunts::statut.eq(StatutEmprunt::EnCours))
                .select(emprunts::id)
                .first(conn)
                .await
                .optional()?;
            if let Some(emprunt) = prete {
                return Err(DomainError::Conflict(format!(
                    "Cet exemplaire est emprunté : déclarez sa perte au retour de l'emprunt \
                     (POST emprunts/{emprunt}/retour/ avec « etat » PERDU)."
                )));
            }
        }
        diesel::update(exemplaires::table.find(id))
            .set((
                exemplaires::livre_id.eq(livre),
                exemplaires::code_barre.eq(&code),
                exemplaires::etat.eq(etat),
            ))
            .execute(conn)
            .await
            .map_err(map_unique)?;
        Ok(())
    })
    .await?;
    get(conn, id).await
}

/// Deletes a copy never lent (409 otherwise: its loans are history; declare it lost).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    exiger_bibliothecaire(actor)?;
    get(conn, id).await?;
    let prete: bool = diesel::select(exists(
        emprunts::table.filter(emprunts::exemplaire_id.eq(id)),
    ))
    .get_result(conn)
    .await?;
    if prete {
        return Err(DomainError::Conflict(
            "Cet exemplaire a déjà été emprunté : il reste pour l'historique (déclarez-le plutôt perdu)."
                .into(),
        ));
    }
    diesel::delete(exemplaires::table.find(id))
        .execute(conn)
        .await
        .map_err(|e| match e {
            // A loan recorded in between.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            ) => DomainError::Conflict("Cet exemplaire vient d'être emprunté.".into()),
            other => other.into(),
        })?;
    Ok(())
}

/// The barcode given to the `n`-th generated copy of a book: `BIB-000123-01`.
pub fn code_genere(livre: i64, n: usize) -> String {
    format!("BIB-{livre:06}-{n:02}")
}

/// Adds `n` copies in state `BON` to each book, with generated barcodes numbered after the
/// book's existing copies: a constant number of statements, plus one per barcode taken by
/// hand meanwhile. Returns the copies created. Call inside the caller's transaction.
pub(crate) async fn ajouter_generes(
    conn: &mut AsyncPgConnection,
    demandes: &[(i64, usize)],
) -> DomainResult<usize> {
    let demandes: Vec<(i64, usize)> = demandes.iter().copied().filter(|(_, n)| *n > 0).collect();
    if demandes.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = demandes.iter().map(|(id, _)| *id).collect();
    let existants = compter_tous(conn, &ids).await?;
    let mut suivant: HashMap<i64, usize> = HashMap::new();
    let mut lignes: Vec<(i64, String)> = Vec::new();
    for (livre, n) in &demandes {
        let debut = existants.get(livre).copied().unwrap_or(0) as usize + 1;
        for k in debut..debut + n {
            lignes.push((*livre, code_genere(*livre, k)));
        }
        suivant.insert(*livre, debut + n);
    }
    let mut crees: HashMap<i64, usize> = HashMap::new();
    for chunk in lignes.chunks(CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(livre, code)| {
                (
                    exemplaires::livre_id.eq(*livre),
                    exemplaires::code_barre.eq(code.as_str()),
                )
            })
            .collect();
        let inserted: Vec<i64> = diesel::insert_into(exemplaires::table)
            .values(&values)
            .on_conflict(exemplaires::code_barre)
            .do_nothing()
            .returning(exemplaires::livre_id)
            .get_results(conn)
            .await?;
        for livre in inserted {
            *crees.entry(livre).or_default() += 1;
        }
    }
    // A generated barcode someone typed by hand: take the next numbers.
    for (livre, n) in &demandes {
        let mut k = suivant.get(livre).copied().unwrap_or(1);
        let mut tentatives = 0;
        while crees.get(livre).copied().unwrap_or(0) < *n {
            tentatives += 1;
            if tentatives > 1_000 {
                return Err(DomainError::internal("aucun code-barres libre"));
            }
            let ok = diesel::insert_into(exemplaires::table)
                .values((
                    exemplaires::livre_id.eq(*livre),
                    exemplaires::code_barre.eq(code_genere(*livre, k)),
                ))
                .on_conflict(exemplaires::code_barre)
                .do_nothing()
                .execute(conn)
                .await?;
            *crees.entry(*livre).or_default() += ok;
            k += 1;
        }
    }
    Ok(crees.values().sum())
}

/// Copies of each book (lost ones included), in one query.
pub(crate) async fn compter_tous(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> DomainResult<HashMap<i64, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(exemplaires::table
        .filter(exemplaires::livre_id.eq_any(ids))
        .group_by(exemplaires::livre_id)
        .select((exemplaires::livre_id, count_star()))
        .load::<(i64, i64)>(conn)
        .await?
        .into_iter()
        .collect())
}
