//! `emprunts/`: lending a copy, returning it, and the loans each person may see.
//!
//! Lending, in one transaction: the copy's row is locked, then the borrower's (in that
//! order, so two loans never deadlock); the copy must not be lost nor lent, the borrower
//! active and under `BIBLIO_MAX_EMPRUNTS` open loans. The partial unique index
//! `emprunts_un_en_cours_par_exemplaire` is the last word: of two librarians lending the same
//! copy at the same moment, one succeeds and the other gets 409.
//!
//! Returning sets the return date and the copy's state; a copy returned `PERDU` closes the
//! loan as `PERDU`. Days late (return date − due date) × `BIBLIO_PENALITE_JOUR` is the
//! penalty, fixed at the return.

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, time};
use ecole_db::enums::{EtatExemplaire, Role, StatutEleve, StatutEmprunt};
use ecole_db::schema::{eleves, emprunts, exemplaires, livres, users};
use serde::{Deserialize, Serialize};

use crate::{AccesEmprunts, Regles, exiger_bibliothecaire};

/// A loan as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmpruntOut {
    pub id: i64,
    pub exemplaire: i64,
    pub code_barre: String,
    pub livre: i64,
    pub livre_titre: String,
    /// The borrower's user account.
    pub emprunteur: i64,
    pub emprunteur_nom: String,
    pub date_emprunt: NaiveDate,
    pub date_retour_prevue: NaiveDate,
    pub date_retour: Option<NaiveDate>,
    pub statut: StatutEmprunt,
    /// The copy's state when it came back.
    pub etat_retour: Option<EtatExemplaire>,
    /// Open and past its due date.
    pub en_retard: bool,
    /// Days past the due date: at the return, or today for an open loan.
    pub jours_retard: i64,
    /// GNF: fixed at the return; for an open loan, what it would be today.
    pub penalite: i64,
    /// The librarian who lent it.
    pub enregistre_par: Option<i64>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = emprunts, check_for_backend(diesel::pg::Pg))]
struct EmpruntRow {
    id: i64,
    exemplaire_id: i64,
    emprunteur_id: i64,
    date_emprunt: NaiveDate,
    date_retour_prevue: NaiveDate,
    date_retour: Option<NaiveDate>,
    statut: StatutEmprunt,
    etat_retour: Option<EtatExemplaire>,
    penalite: i64,
    enregistre_par: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

type Row = (EmpruntRow, String, i64, String, String, String);

/// Days late on `jour` for a loan due on `prevue` (0 when not late).
pub fn jours_de_retard(prevue: NaiveDate, jour: NaiveDate) -> i64 {
    (jour - prevue).num_days().max(0)
}

/// The penalty of `jours` days late, in GNF (saturating: never overflows).
pub fn penalite(jours: i64, par_jour: i64) -> i64 {
    jours.max(0).saturating_mul(par_jour.max(0))
}

fn to_out(row: Row, aujourdhui: NaiveDate, regles: &Regles) -> EmpruntOut {
    let (e, code_barre, livre, titre, prenom, nom) = row;
    let ouvert = e.statut == StatutEmprunt::EnCours;
    let jours = jours_de_retard(e.date_retour_prevue, e.date_retour.unwrap_or(aujourdhui));
    EmpruntOut {
        id: e.id,
        exemplaire: e.exemplaire_id,
        code_barre,
        livre,
        livre_titre: titre,
        emprunteur: e.emprunteur_id,
        emprunteur_nom: format!("{prenom} {nom}").trim().to_string(),
        date_emprunt: e.date_emprunt,
        date_retour_prevue: e.date_retour_prevue,
        date_retour: e.date_retour,
        statut: e.statut,
        etat_retour: e.etat_retour,
        en_retard: ouvert && jours > 0,
        jours_retard: jours,
        penalite: if ouvert {
            penalite(jours, regles.penalite_jour)
        } else {
            e.penalite
        },
        enregistre_par: e.enregistre_par,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

macro_rules! joined {
    () => {
        emprunts::table
            .inner_join(exemplaires::table.inner_join(livres::table))
            .inner_join(users::table.on(users::id.eq(emprunts::emprunteur_id)))
    };
}

macro_rules! row_select {
    ($($extra:expr)?) => {
        (
            EmpruntRow::as_select(),
            exemplaires::code_barre,
            livres::id,
            livres::titre,
            users::first_name,
            users::last_name,
            $($extra)?
        )
    };
}

/// Sort keys of `?ordering=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmpruntOrdering {
    DateEmprunt,
    DateRetourPrevue,
    DateRetour,
    Emprunteur,
}

impl EmpruntOrdering {
    pub const FIELDS: &'static [&'static str] = &[
        "date_emprunt",
        "date_retour_prevue",
        "date_retour",
        "emprunteur",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "date_emprunt" => Self::DateEmprunt,
            "date_retour_prevue" => Self::DateRetourPrevue,
            "date_retour" => Self::DateRetour,
            "emprunteur" => Self::Emprunteur,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct EmpruntFilter {
    pub statut: Option<StatutEmprunt>,
    /// A user account.
    pub emprunteur: Option<i64>,
    /// A pupil (their account's loans).
    pub eleve: Option<i64>,
    pub exemplaire: Option<i64>,
    pub livre: Option<i64>,
    pub en_retard: Option<bool>,
    /// Title, barcode, borrower's names.
    pub search: Option<String>,
    pub ordering: Vec<(EmpruntOrdering, bool)>,
}

/// `emprunts/`: one query for the page and its count (plus one for a parent's children).
pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    regles: &Regles,
    filter: &EmpruntFilter,
    page: PageRequest,
) -> DomainResult<Page<EmpruntOut>> {
    let acces = AccesEmprunts::of(conn, actor).await?;
    let aujourdhui = time::today();
    let mut q = joined!().into_boxed();
    if let AccesEmprunts::Emprunteurs(ids) = &acces {
        q = q.filter(emprunts::emprunteur_id.eq_any(ids.clone()));
    }
    if let Some(v) = filter.statut {
        q = q.filter(emprunts::statut.eq(v));
    }
    if let Some(v) = filter.emprunteur {
        q = q.filter(emprunts::emprunteur_id.eq(v));
    }
    if let Some(v) = filter.eleve {
        q = q.filter(
            emprunts::emprunteur_id.eq_any(
                eleves::table
                    .filter(eleves::id.eq(v))
                    .select(eleves::user_id),
            ),
        );
    }
    if let Some(v) = filter.exemplaire {
        q = q.filter(emprunts::exemplaire_id.eq(v));
    }
    if let Some(v) = filter.livre {
        q = q.filter(exemplaires::livre_id.eq(v));
    }
    let retard = emprunts::statut
        .eq(StatutEmprunt::EnCours)
        .and(emprunts::date_retour_prevue.lt(aujourdhui));
    match filter.en_retard {
        Some(true) => q = q.filter(retard),
        Some(false) => q = q.filter(diesel::dsl::not(retard)),
        None => {}
    }
    if let Some(term) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let p = ecole_core::contains_pattern(term);
        q = q.filter(
            livres::titre
                .ilike(p.clone())
                .or(exemplaires::code_barre.ilike(p.clone()))
                .or(users::first_name.ilike(p.clone()))
                .or(users::last_name.ilike(p)),
        );
    }
    for (field, desc) in &filter.ordering {
        q = match (field, desc) {
            (EmpruntOrdering::DateEmprunt, false) => q.then_order_by(emprunts::date_emprunt.asc()),
            (EmpruntOrdering::DateEmprunt, true) => q.then_order_by(emprunts::date_emprunt.desc()),
            (EmpruntOrdering::DateRetourPrevue, false) => {
                q.then_order_by(emprunts::date_retour_prevue.asc())
            }
            (EmpruntOrdering::DateRetourPrevue, true) => {
                q.then_order_by(emprunts::date_retour_prevue.desc())
            }
            (EmpruntOrdering::DateRetour, false) => {
                q.then_order_by(emprunts::date_retour.asc().nulls_last())
            }
            (EmpruntOrdering::DateRetour, true) => {
                q.then_order_by(emprunts::date_retour.desc().nulls_last())
            }
            (EmpruntOrdering::Emprunteur, false) => q
                .then_order_by(users::last_name.asc())
                .then_order_by(users::first_name.asc()),
            (EmpruntOrdering::Emprunteur, true) => q
                .then_order_by(users::last_name.desc())
                .then_order_by(users::first_name.desc()),
        };
    }
    if filter.ordering.is_empty() {
        q = q.then_order_by(emprunts::date_emprunt.desc());
    }
    type Counted = (EmpruntRow, String, i64, String, String, String, i64);
    let rows: Vec<Counted> = q
        .then_order_by(emprunts::id.desc())
        .select(row_select!(count_star().over()))
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count: <[_]>::first(&rows).map(|r| r.6).unwrap_or(0),
        results: rows
            .into_iter()
            .map(|(e, code, livre, titre, prenom, nom, _)| {
                to_out((e, code, livre, titre, prenom, nom), aujourdhui, regles)
            })
            .collect(),
        request: page,
    })
}

/// One loan within `acces`, the scope in the query (a loan outside it is never loaded).
async fn load_one(
    conn: &mut AsyncPgConnection,
    acces: &AccesEmprunts,
    id: i64,
    regles: &Regles,
) -> DomainResult<EmpruntOut> {
    let mut q = joined!().filter(emprunts::id.eq(id)).into_boxed();
    if let AccesEmprunts::Emprunteurs(ids) = acces {
        q = q.filter(emprunts::emprunteur_id.eq_any(ids.clone()));
    }
    let row: Row = q
        .select(row_select!())
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)?;
    Ok(to_out(row, time::today(), regles))
}

/// One loan, within the actor's scope (404 outside).
pub async fn get(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    regles: &Regles,
    id: i64,
) -> DomainResult<EmpruntOut> {
    let acces = AccesEmprunts::of(conn, actor).await?;
    load_one(conn, &acces, id, regles).await
}

/// `POST emprunts/`: the copy by id (`exemplaire`) or by barcode (`code_barre`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmpruntInput {
    #[serde(default)]
    pub exemplaire: Option<i64>,
    #[serde(default)]
    pub code_barre: Option<String>,
    /// The borrower's user account (a pupil, a teacher, any active account).
    pub emprunteur: i64,
    /// Today + `BIBLIO_DUREE_JOURS` by default.
    #[serde(default)]
    pub date_retour_prevue: Option<NaiveDate>,
}

/// `PUT`/`PATCH emprunts/<id>/`: moves the due date of an open loan.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmpruntUpdate {
    pub date_retour_prevue: NaiveDate,
}

/// `POST emprunts/<id>/retour/`, body optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetourInput {
    /// The copy's state as it comes back (its current state by default); `PERDU` closes the
    /// loan as lost.
    #[serde(default)]
    pub etat: Option<EtatExemplaire>,
    /// Today by default; never in the future nor before the loan.
    #[serde(default)]
    pub date_retour: Option<NaiveDate>,
}

/// A due date must come after the loan and within a year.
fn verifier_echeance(
    errors: &mut FieldErrors,
    debut: NaiveDate,
    prevue: NaiveDate,
    aujourdhui: NaiveDate,
) {
    let max = aujourdhui
        .checked_add_days(Days::new(365))
        .unwrap_or(aujourdhui);
    if prevue < debut.max(aujourdhui) {
        errors.add(
            "date_retour_prevue",
            "La date de retour prévue ne peut pas être passée.",
        );
    } else if prevue > max {
        errors.add(
            "date_retour_prevue",
            "La date de retour prévue est à un an au plus.",
        );
    }
}

fn conflit_deja_prete() -> DomainError {
    DomainError::Conflict("Cet exemplaire est déjà emprunté.".into())
}

/// Lends a copy (BIBLIOTHECAIRE, ADMIN).
pub async fn emprunter(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    regles: &Regles,
    input: EmpruntInput,
) -> DomainResult<EmpruntOut> {
    exiger_bibliothecaire(actor)?;
    let aujourdhui = time::today();
    let mut errors = FieldErrors::new();
    let code = input
        .code_barre
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from);
    match (input.exemplaire, &code) {
        (None, None) => errors.add(
            "exemplaire",
            "Indiquez l'exemplaire (« exemplaire ») ou son code-barres (« code_barre »).",
        ),
        (Some(_), Some(_)) => errors.add(
            "non_field_errors",
            "Indiquez l'exemplaire ou son code-barres, pas les deux.",
        ),
        _ => {}
    }
    let prevue = input.date_retour_prevue.unwrap_or_else(|| {
        aujourdhui
            .checked_add_days(Days::new(u64::from(regles.duree_jours)))
            .unwrap_or(aujourdhui)
    });
    verifier_echeance(&mut errors, aujourdhui, prevue, aujourdhui);
    errors.into_result()?;
    let (actor, regles_tx) = (*actor, *regles);
    let id = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            // 1. The copy, locked: a concurrent loan of it waits here, then sees this one.
            let champ = if input.exemplaire.is_some() {
                "exemplaire"
            } else {
                "code_barre"
            };
            let introuvable = || DomainError::validation(champ, "Exemplaire introuvable.");
            let exemplaire: i64 = match (input.exemplaire, &code) {
                (Some(id), _) => id,
                (None, Some(c)) => exemplaires::table
                    .filter(exemplaires::code_barre.eq(c))
                    .select(exemplaires::id)
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(introuvable)?,
                (None, None) => return Err(introuvable()),
            };
            let etat: EtatExemplaire = exemplaires::table
                .find(exemplaire)
                .select(exemplaires::etat)
                .for_no_key_update()
                .first(conn)
                .await
                .optional()?
                .ok_or_else(introuvable)?;
            if etat == EtatExemplaire::Perdu {
                return Err(DomainError::validation(
                    champ,
                    "Cet exemplaire est déclaré perdu : il ne peut pas être emprunté.",
                ));
            }
            let prete: bool = diesel::select(diesel::dsl::exists(
                emprunts::table
                    .filter(emprunts::exemplaire_id.eq(exemplaire))
                    .filter(emprunts::statut.eq(StatutEmprunt::EnCours)),
            ))
            .get_result(conn)
            .await?;
            if prete {
                return Err(conflit_deja_prete());
            }
            // 2. The borrower, locked: their open loans are counted once at a time.
            let emprunteur: Option<(bool, Role)> = users::table
                .find(input.emprunteur)
                .select((users::is_active, users::role))
                .for_no_key_update()
                .first(conn)
                .await
                .optional()?;
            let Some((actif, role)) = emprunteur else {
                return Err(DomainError::validation(
                    "emprunteur",
                    "Utilisateur introuvable.",
                ));
            };
            if !actif {
                return Err(DomainError::validation(
                    "emprunteur",
                    "Ce compte est désactivé : il ne peut pas emprunter.",
                ));
            }
            if role == Role::Eleve {
                let statut: Option<StatutEleve> = eleves::table
                    .filter(eleves::user_id.eq(input.emprunteur))
                    .select(eleves::statut)
                    .first(conn)
                    .await
                    .optional()?;
                if let Some(s) = statut.filter(|s| *s != StatutEleve::Actif) {
                    return Err(DomainError::validation(
                        "emprunteur",
                        format!("Cet élève n'est plus actif ({s}) : il ne peut pas emprunter."),
                    ));
                }
            }
            let en_cours: i64 = emprunts::table
                .filter(emprunts::emprunteur_id.eq(input.emprunteur))
                .filter(emprunts::statut.eq(StatutEmprunt::EnCours))
                .count()
                .get_result(conn)
                .await?;
            if en_cours >= i64::from(regles_tx.max_emprunts) {
                return Err(DomainError::validation(
                    "emprunteur",
                    format!(
                        "Cette personne a déjà {en_cours} emprunt(s) en cours : {} au plus \
                         (BIBLIO_MAX_EMPRUNTS). Un livre doit d'abord être rendu.",
                        regles_tx.max_emprunts
                    ),
                ));
            }
            // 3. The loan; the partial unique index settles any race left.
            diesel::insert_into(emprunts::table)
                .values((
                    emprunts::exemplaire_id.eq(exemplaire),
                    emprunts::emprunteur_id.eq(input.emprunteur),
                    emprunts::date_emprunt.eq(aujourdhui),
                    emprunts::date_retour_prevue.eq(prevue),
                    emprunts::statut.eq(StatutEmprunt::EnCours),
                    emprunts::enregistre_par.eq(actor.user_id),
                ))
                .returning(emprunts::id)
                .get_result::<i64>(conn)
                .await
                .map_err(|e| {
                    if unique_violation(&e).is_some() {
                        conflit_deja_prete()
                    } else {
                        e.into()
                    }
                })
        })
        .await?;
    load_one(conn, &AccesEmprunts::Tout, id, regles).await
}

/// The open loan `id`, locked, or why it cannot change (404, 409). Its copy is locked first:
/// every writer locks a copy before its loans (and the book's counts after), so two of them
/// never wait on each other in a circle.
async fn verrouiller_ouvert(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> DomainResult<(i64, NaiveDate, NaiveDate)> {
    let exemplaire: i64 = emprunts::table
        .find(id)
        .select(emprunts::exemplaire_id)
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)?;
    exemplaires::table
        .find(exemplaire)
        .select(exemplaires::id)
        .for_no_key_update()
        .first::<i64>(conn)
        .await?;
    let (statut, debut, prevue, retour): (StatutEmprunt, NaiveDate, NaiveDate, Option<NaiveDate>) =
        emprunts::table
            .find(id)
            .select((
                emprunts::statut,
                emprunts::date_emprunt,
                emprunts::date_retour_prevue,
                emprunts::date_retour,
            ))
            .for_no_key_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(DomainError::NotFound)?;
    if statut != StatutEmprunt::EnCours {
        let quand = retour
            .map(|d| format!(" le {}", d.format("%d/%m/%Y")))
            .unwrap_or_default();
        return Err(DomainError::Conflict(match statut {
            StatutEmprunt::Perdu => {
                format!("Cet emprunt est clos : exemplaire déclaré perdu{quand}.")
            }
            _ => format!("Cet emprunt est clos : exemplaire rendu{quand}."),
        }));
    }
    Ok((exemplaire, debut, prevue))
}

/// `emprunts/<id>/retour/`: the return (or the loss) of a lent copy.
pub async fn retourner(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    regles: &Regles,
    id: i64,
    input: RetourInput,
) -> DomainResult<EmpruntOut> {
    exiger_bibliothecaire(actor)?;
    let aujourdhui = time::today();
    let par_jour = regles.penalite_jour;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let (exemplaire, debut, prevue) = verrouiller_ouvert(conn, id).await?;
        let date_retour = input.date_retour.unwrap_or(aujourdhui);
        if date_retour > aujourdhui {
            return Err(DomainError::validation(
                "date_retour",
                "La date de retour ne peut pas être dans le futur.",
            ));
        }
        if date_retour < debut {
            return Err(DomainError::validation(
                "date_retour",
                "La date de retour précède la date d'emprunt.",
            ));
        }
        let etat = match input.etat {
            Some(e) => e,
            None => {
                exemplaires::table
                    .find(exemplaire)
                    .select(exemplaires::etat)
                    .first::<EtatExemplaire>(conn)
                    .await?
            }
        };
        let statut = if etat == EtatExemplaire::Perdu {
            StatutEmprunt::Perdu
        } else {
            StatutEmprunt::Rendu
        };
        let montant = penalite(jours_de_retard(prevue, date_retour), par_jour);
        diesel::update(emprunts::table.find(id))
            .set((
                emprunts::statut.eq(statut),
                emprunts::date_retour.eq(date_retour),
                emprunts::etat_retour.eq(etat),
                emprunts::penalite.eq(montant),
            ))
            .execute(conn)
            .await?;
        diesel::update(exemplaires::table.find(exemplaire))
            .set(exemplaires::etat.eq(etat))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    load_one(conn, &AccesEmprunts::Tout, id, regles).await
}

/// Moves the due date of an open loan (BIBLIOTHECAIRE, ADMIN).
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    regles: &Regles,
    id: i64,
    input: EmpruntUpdate,
) -> DomainResult<EmpruntOut> {
    exiger_bibliothecaire(actor)?;
    let aujourdhui = time::today();
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let (_, debut, _) = verrouiller_ouvert(conn, id).await?;
        let mut errors = FieldErrors::new();
        verifier_echeance(&mut errors, debut, input.date_retour_prevue, aujourdhui);
        errors.into_result()?;
        diesel::update(emprunts::table.find(id))
            .set(emprunts::date_retour_prevue.eq(input.date_retour_prevue))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    load_one(conn, &AccesEmprunts::Tout, id, regles).await
}

/// Cancels a loan recorded by mistake (still open); a closed loan is history (409).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    exiger_bibliothecaire(actor)?;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        verrouiller_ouvert(conn, id).await?;
        diesel::delete(emprunts::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, j: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, j).unwrap_or_default()
    }

    #[test]
    fn late_days_and_penalty() {
        assert_eq!(jours_de_retard(d(11, 10), d(11, 10)), 0);
        assert_eq!(jours_de_retard(d(11, 10), d(11, 1)), 0);
        assert_eq!(jours_de_retard(d(11, 10), d(11, 13)), 3);
        assert_eq!(jours_de_retard(d(11, 28), d(12, 2)), 4);
        assert_eq!(penalite(3, 500), 1_500);
        assert_eq!(penalite(3, 0), 0);
        assert_eq!(penalite(i64::MAX, 1_000_000), i64::MAX);
    }
}
