//! `livres/`: the catalogue. Each book shows its copies: `exemplaires_total` (those not lost)
//! and `exemplaires_disponibles` (not lost and not lent). The ISBN is checked and stored as
//! ISBN-13; it is unique when present.

use chrono::{DateTime, Datelike, Utc};
use diesel::dsl::{count_star, exists};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest};
use ecole_db::schema::{emprunts, exemplaires, livres};
use serde::{Deserialize, Serialize};

use crate::recherche::{Terme, biblio_pli, termes};
use crate::{exemplaires as copies, exiger_bibliothecaire, isbn};

/// Copies created with a book at most (`nombre_exemplaires`).
pub const MAX_NOUVEAUX_EXEMPLAIRES: u32 = 200;

/// A row of `livres`, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = livres, check_for_backend(diesel::pg::Pg))]
pub struct LivreRow {
    pub id: i64,
    pub isbn: Option<String>,
    pub titre: String,
    pub auteur: String,
    pub editeur: String,
    pub annee_publication: Option<i32>,
    pub categorie: String,
    pub cote: String,
    pub exemplaires_total: i32,
    pub exemplaires_disponibles: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A book of the catalogue with its copies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Livre {
    pub id: i64,
    /// ISBN-13, digits only (an ISBN-10 given is converted).
    pub isbn: Option<String>,
    pub titre: String,
    pub auteur: String,
    pub editeur: String,
    pub annee_publication: Option<i32>,
    pub categorie: String,
    /// Shelf mark.
    pub cote: String,
    /// Copies not lost.
    pub exemplaires_total: i32,
    /// Copies not lost and not lent.
    pub exemplaires_disponibles: i32,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<LivreRow> for Livre {
    fn from(row: LivreRow) -> Livre {
        Livre {
            id: row.id,
            isbn: row.isbn,
            titre: row.titre,
            auteur: row.auteur,
            editeur: row.editeur,
            annee_publication: row.annee_publication,
            categorie: row.categorie,
            cote: row.cote,
            exemplaires_total: row.exemplaires_total,
            exemplaires_disponibles: row.exemplaires_disponibles,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// `POST livres/`, `PUT livres/<id>/`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LivreInput {
    /// ISBN-10 or ISBN-13, hyphens allowed.
    #[serde(default)]
    pub isbn: Option<String>,
    pub titre: String,
    #[serde(default)]
    pub auteur: String,
    #[serde(default)]
    pub editeur: String,
    #[serde(default)]
    pub annee_publication: Option<i32>,
    #[serde(default)]
    pub categorie: String,
    #[serde(default)]
    pub cote: String,
    /// `POST` only: copies to create with the book (barcodes `BIB-<livre>-<n>`), 0 by default.
    #[serde(default)]
    pub nombre_exemplaires: Option<u32>,
}

/// `PATCH livres/<id>/` (`"isbn": null` removes the ISBN).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LivrePatch {
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub isbn: Option<Option<String>>,
    pub titre: Option<String>,
    pub auteur: Option<String>,
    pub editeur: Option<String>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<i32>)]
    pub annee_publication: Option<Option<i32>>,
    pub categorie: Option<String>,
    pub cote: Option<String>,
}

impl From<LivreInput> for LivrePatch {
    /// `PUT`: every field, absent ones emptied.
    fn from(input: LivreInput) -> Self {
        LivrePatch {
            isbn: Some(input.isbn),
            titre: Some(input.titre),
            auteur: Some(input.auteur),
            editeur: Some(input.editeur),
            annee_publication: Some(input.annee_publication),
            categorie: Some(input.categorie),
            cote: Some(input.cote),
        }
    }
}

/// A book's fields, checked and normalised (trimmed, ISBN-13).
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = livres, treat_none_as_null = true)]
pub struct LivreData {
    pub isbn: Option<String>,
    pub titre: String,
    pub auteur: String,
    pub editeur: String,
    pub annee_publication: Option<i32>,
    pub categorie: String,
    pub cote: String,
}

fn longueur(errors: &mut FieldErrors, champ: &str, valeur: &str, max: usize) {
    if valeur.chars().count() > max {
        errors.add(champ, format!("Au plus {max} caractères."));
    }
}

/// A book's fields as received, before [`LivreData::verifier`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LivreBrut<'a> {
    pub isbn: Option<&'a str>,
    pub titre: &'a str,
    pub auteur: &'a str,
    pub editeur: &'a str,
    pub annee_publication: Option<i32>,
    pub categorie: &'a str,
    pub cote: &'a str,
}

impl LivreData {
    /// Trims and checks every field (ISBN by its check digit), reporting each error by field.
    pub fn verifier(brut: LivreBrut<'_>, errors: &mut FieldErrors) -> LivreData {
        let LivreBrut {
            isbn,
            titre,
            auteur,
            editeur,
            annee_publication,
            categorie,
            cote,
        } = brut;
        let isbn = match isbn.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match isbn::normaliser(raw) {
                Ok(n) => Some(n),
                Err(m) => {
                    errors.add("isbn", m);
                    None
                }
            },
        };
        let titre = titre.trim().to_string();
        if titre.is_empty() {
            errors.add("titre", "Ce champ ne peut pas être vide.");
        }
        longueur(errors, "titre", &titre, 300);
        let data = LivreData {
            isbn,
            titre,
            auteur: auteur.trim().to_string(),
            editeur: editeur.trim().to_string(),
            annee_publication,
            categorie: categorie.trim().to_string(),
            cote: cote.trim().to_string(),
        };
        longueur(errors, "auteur", &data.auteur, 200);
        longueur(errors, "editeur", &data.editeur, 200);
        longueur(errors, "categorie", &data.categorie, 100);
        longueur(errors, "cote", &data.cote, 50);
        if let Some(annee) = annee_publication {
            let max = ecole_core::time::today().year() + 1;
            if !(1400..=max).contains(&annee) {
                errors.add(
                    "annee_publication",
                    format!("Année entre 1400 et {max} attendue."),
                );
            }
        }
        data
    }
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    if unique_violation(&e).is_some() {
        DomainError::validation("isbn", "Un livre du catalogue a déjà cet ISBN.")
    } else {
        e.into()
    }
}

/// Sort keys of `?ordering=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivreOrdering {
    Titre,
    Auteur,
    AnneePublication,
    Categorie,
    CreatedAt,
}

impl LivreOrdering {
    pub const FIELDS: &'static [&'static str] = &[
        "titre",
        "auteur",
        "annee_publication",
        "categorie",
        "created_at",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "titre" => Self::Titre,
            "auteur" => Self::Auteur,
            "annee_publication" => Self::AnneePublication,
            "categorie" => Self::Categorie,
            "created_at" => Self::CreatedAt,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct LivreFilter {
    /// Words of the title, the author or the ISBN.
    pub search: Option<String>,
    /// Exact category, case ignored.
    pub categorie: Option<String>,
    /// Books with (or without) a copy on the shelf.
    pub disponible: Option<bool>,
    pub ordering: Vec<(LivreOrdering, bool)>,
}

type Boxed = livres::BoxedQuery<'static, diesel::pg::Pg>;

/// The filters other than the search words.
fn filtres(filter: &LivreFilter) -> Boxed {
    let mut q = livres::table.into_boxed();
    if let Some(categorie) = filter.categorie.as_deref() {
        q = q.filter(ecole_db::lower(livres::categorie).eq(categorie.trim().to_lowercase()));
    }
    match filter.disponible {
        Some(true) => q = q.filter(livres::exemplaires_disponibles.gt(0)),
        Some(false) => q = q.filter(livres::exemplaires_disponibles.eq(0)),
        None => {}
    }
    q
}

/// `?ordering=` (the title by default), then the id.
fn trier(mut q: Boxed, ordering: &[(LivreOrdering, bool)]) -> Boxed {
    for (field, desc) in ordering {
        q = match (field, desc) {
            (LivreOrdering::Titre, false) => q.then_order_by(livres::titre_tri.asc()),
            (LivreOrdering::Titre, true) => q.then_order_by(livres::titre_tri.desc()),
            (LivreOrdering::Auteur, false) => q.then_order_by(biblio_pli(livres::auteur).asc()),
            (LivreOrdering::Auteur, true) => q.then_order_by(biblio_pli(livres::auteur).desc()),
            (LivreOrdering::AnneePublication, false) => {
                q.then_order_by(livres::annee_publication.asc().nulls_last())
            }
            (LivreOrdering::AnneePublication, true) => {
                q.then_order_by(livres::annee_publication.desc().nulls_last())
            }
            (LivreOrdering::Categorie, false) => q.then_order_by(livres::categorie.asc()),
            (LivreOrdering::Categorie, true) => q.then_order_by(livres::categorie.desc()),
            (LivreOrdering::CreatedAt, false) => q.then_order_by(livres::created_at.asc()),
            (LivreOrdering::CreatedAt, true) => q.then_order_by(livres::created_at.desc()),
        };
    }
    if ordering.is_empty() {
        q = q.then_order_by(livres::titre_tri.asc());
    }
    q.then_order_by(livres::id.asc())
}

/// `livres/`: a constant number of queries whatever the page size (the copy counts are
/// columns the database keeps). Titles and authors sort as they are searched: accents and
/// case ignored (« Éducation » among the E).
///
/// - With `?search=`: one query, the page and its total (`count(*) OVER ()`), the words
///   looked up in the trigram index.
/// - Without: the count, then the page walking `livres_parcours_idx` in title order. That
///   index is partial (`exemplaires_total >= 0`, always true) so that only this query, which
///   states the predicate, may use it: a search walking it in title order would read the
///   whole catalogue for its total (PostgreSQL does not cost a window's full read).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &LivreFilter,
    page: PageRequest,
) -> DomainResult<Page<Livre>> {
    let termes = filter.search.as_deref().map(termes).unwrap_or_default();
    if termes.is_empty() {
        let count: i64 = filtres(filter).count().get_result(conn).await?;
        if count <= page.offset() {
            return Ok(Page {
                count,
                results: Vec::new(),
                request: page,
            });
        }
        let rows: Vec<LivreRow> = trier(
            filtres(filter).filter(livres::exemplaires_total.ge(0)),
            &filter.ordering,
        )
        .select(LivreRow::as_select())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
        return Ok(Page {
            count,
            results: rows.into_iter().map(Livre::from).collect(),
            request: page,
        });
    }
    let mut q = filtres(filter);
    for terme in termes {
        q = match terme {
            Terme::Isbn(isbn) => q.filter(livres::isbn.eq(isbn)),
            Terme::Motif(motif) => q.filter(livres::recherche.like(motif)),
        };
    }
    let rows: Vec<(LivreRow, i64)> = trier(q, &filter.ordering)
        .select((LivreRow::as_select(), count_star().over()))
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    // Past the last page there is no row to carry the count: the page is out of range anyway.
    let count = <[_]>::first(&rows).map(|(_, n)| *n).unwrap_or(0);
    Ok(Page {
        count,
        results: rows.into_iter().map(|(r, _)| r.into()).collect(),
        request: page,
    })
}

async fn row(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<LivreRow> {
    livres::table
        .find(id)
        .select(LivreRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

/// One book with its copies' counts.
pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Livre> {
    Ok(row(conn, id).await?.into())
}

/// A new book, and `nombre_exemplaires` copies with generated barcodes.
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: LivreInput,
) -> DomainResult<Livre> {
    exiger_bibliothecaire(actor)?;
    let mut errors = FieldErrors::new();
    let data = LivreData::verifier(
        LivreBrut {
            isbn: input.isbn.as_deref(),
            titre: &input.titre,
            auteur: &input.auteur,
            editeur: &input.editeur,
            annee_publication: input.annee_publication,
            categorie: &input.categorie,
            cote: &input.cote,
        },
        &mut errors,
    );
    let nombre = input.nombre_exemplaires.unwrap_or(0);
    if nombre > MAX_NOUVEAUX_EXEMPLAIRES {
        errors.add(
            "nombre_exemplaires",
            format!("Au plus {MAX_NOUVEAUX_EXEMPLAIRES} exemplaires à la fois."),
        );
    }
    errors.into_result()?;
    let id = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let id: i64 = diesel::insert_into(livres::table)
                .values(&data)
                .returning(livres::id)
                .get_result(conn)
                .await
                .map_err(map_unique)?;
            copies::ajouter_generes(conn, &[(id, nombre as usize)]).await?;
            Ok(id)
        })
        .await?;
    get(conn, id).await
}

/// `PUT` (every field) or `PATCH` (those given).
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    patch: LivrePatch,
) -> DomainResult<Livre> {
    exiger_bibliothecaire(actor)?;
    let before = row(conn, id).await?;
    let mut errors = FieldErrors::new();
    let isbn = match &patch.isbn {
        Some(v) => v.clone(),
        None => before.isbn.clone(),
    };
    let data = LivreData::verifier(
        LivreBrut {
            isbn: isbn.as_deref(),
            titre: patch.titre.as_deref().unwrap_or(&before.titre),
            auteur: patch.auteur.as_deref().unwrap_or(&before.auteur),
            editeur: patch.editeur.as_deref().unwrap_or(&before.editeur),
            annee_publication: patch.annee_publication.unwrap_or(before.annee_publication),
            categorie: patch.categorie.as_deref().unwrap_or(&before.categorie),
            cote: patch.cote.as_deref().unwrap_or(&before.cote),
        },
        &mut errors,
    );
    errors.into_result()?;
    diesel::update(livres::table.find(id))
        .set(&data)
        .execute(conn)
        .await
        .map_err(map_unique)?;
    get(conn, id).await
}

/// Deletes a book and its copies, unless one of them was ever lent (409).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    exiger_bibliothecaire(actor)?;
    row(conn, id).await?;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let prete: bool = diesel::select(exists(
            emprunts::table
                .inner_join(exemplaires::table)
                .filter(exemplaires::livre_id.eq(id)),
        ))
        .get_result(conn)
        .await?;
        if prete {
            return Err(DomainError::Conflict(
                "Ce livre a déjà été emprunté : il reste au catalogue pour l'historique des emprunts \
                 (déclarez plutôt ses exemplaires perdus)."
                    .into(),
            ));
        }
        diesel::delete(livres::table.find(id)).execute(conn).await?;
        Ok(())
    })
    .await
}
