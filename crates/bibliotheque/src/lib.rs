//! The school library (docs/SPEC.md §2, §4, §5): the catalogue ([`livres`], ISBN checked by
//! [`isbn`], searched through a trigram index), its copies ([`exemplaires`]), loans and
//! returns ([`emprunts`]), the overdue reminders ([`rappels`]) and the CSV/XLSX import of the
//! catalogue ([`import`]).
//!
//! - BIBLIOTHECAIRE and ADMIN write; every signed-in user reads the catalogue and the copies.
//! - Loans: the library staff (and DIRECTION) see all; anyone else sees the loans they hold,
//!   and a parent also their children's. A loan outside the scope is not found (404).
//! - At most one open loan per copy is guaranteed by a partial unique index: of two
//!   librarians lending the same copy at the same moment, one gets 409.

pub mod emprunts;
pub mod exemplaires;
pub mod import;
pub mod isbn;
pub mod livres;
pub mod rappels;
pub mod recherche;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_config::Settings;
use ecole_core::{Actor, DomainResult, Role};
use ecole_db::schema::{eleve_parents, eleves, parents};

/// Who keeps the library: catalogue, copies, loans.
pub const BIBLIOTHECAIRES: &[Role] = &[Role::Admin, Role::Bibliothecaire];

/// `ok` or the 403 of someone who may not change the library.
pub fn exiger_bibliothecaire(actor: &Actor) -> DomainResult<()> {
    actor.require(BIBLIOTHECAIRES)
}

/// The library's rules, from the settings (`BIBLIO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regles {
    /// Open loans a borrower may hold at once.
    pub max_emprunts: u32,
    /// Default loan length in days.
    pub duree_jours: u32,
    /// GNF per day late.
    pub penalite_jour: i64,
}

impl Regles {
    pub fn from_settings(settings: &Settings) -> Regles {
        Regles {
            max_emprunts: settings.biblio_max_emprunts,
            duree_jours: settings.biblio_duree_jours,
            penalite_jour: settings.biblio_penalite_jour,
        }
    }
}

impl Default for Regles {
    fn default() -> Self {
        Regles {
            max_emprunts: 3,
            duree_jours: 14,
            penalite_jour: 0,
        }
    }
}

/// Whose loans an actor may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccesEmprunts {
    /// Every loan (ADMIN, DIRECTION, BIBLIOTHECAIRE).
    Tout,
    /// Loans held by these user accounts: one's own, and a parent's children's.
    Emprunteurs(Vec<i64>),
}

impl AccesEmprunts {
    /// No query for staff and pupils; one for a parent (their children's accounts).
    pub async fn of(conn: &mut AsyncPgConnection, actor: &Actor) -> DomainResult<AccesEmprunts> {
        Ok(match actor.role {
            Role::Admin | Role::Direction | Role::Bibliothecaire => AccesEmprunts::Tout,
            Role::Parent => {
                let mut ids: Vec<i64> = eleve_parents::table
                    .inner_join(parents::table)
                    .inner_join(eleves::table)
                    .filter(parents::user_id.eq(actor.user_id))
                    .select(eleves::user_id)
                    .load(conn)
                    .await?;
                ids.push(actor.user_id);
                ids.sort_unstable();
                ids.dedup();
                AccesEmprunts::Emprunteurs(ids)
            }
            _ => AccesEmprunts::Emprunteurs(vec![actor.user_id]),
        })
    }
}
