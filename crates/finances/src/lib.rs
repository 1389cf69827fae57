//! The school's till (docs/SPEC.md §2, §4, §5): the fee schedule ([`frais`]), invoices and their
//! lines ([`factures`]), payments and receipts ([`paiements`]), a pupil's statement
//! ([`releve`]), the invoices of a whole level from the fee schedule ([`generation`]), the
//! PDFs ([`documents`]) and the payment reminders ([`rappels`]).
//!
//! - Money is `i64` GNF everywhere (the franc guinéen has no minor unit), at most
//!   [`montants::MONTANT_MAX`]; [`montants`] prints it (`1 500 000 GNF`, and in words).
//! - Invoice and receipt numbers (`FAC-2026-000123`, `REC-2026-000045`) come from a per-year
//!   counter row locked by the transaction that takes them ([`numerotation`]): no gap, even
//!   when transactions roll back or run concurrently.
//! - A payment locks its invoice row, checks what remains and updates `montant_paye` and
//!   `statut` in the same transaction; `Idempotency-Key` answers are kept in the database
//!   ([`idempotence`]).
//! - Writers: ADMIN, DIRECTION, COMPTABLE. Families read their own children's invoices and
//!   payments (not drafts); anyone else is refused. Every money change writes `audit_log`.

pub mod documents;
pub mod factures;
pub mod frais;
pub mod generation;
pub mod idempotence;
pub mod montants;
pub mod numerotation;
pub mod paiements;
pub mod rappels;
pub mod releve;

use ecole_core::scope::Scope;
use ecole_core::{Actor, DomainError, DomainResult, Role};

/// Who keeps the till: fee schedule, invoices, payments.
pub const CAISSE: &[Role] = &[Role::Admin, Role::Direction, Role::Comptable];

/// What finance rows an actor may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acces {
    /// The whole school (the till's keepers).
    Tout,
    /// These pupils' invoices and payments, drafts excepted (parents, pupils).
    Eleves(Vec<i64>),
}

impl Acces {
    /// `None`: no access to finances at all (teachers, librarians).
    pub async fn of(
        conn: &mut diesel_async::AsyncPgConnection,
        actor: &Actor,
    ) -> DomainResult<Option<Acces>> {
        Ok(match actor.role {
            Role::Admin | Role::Direction | Role::Comptable => Some(Acces::Tout),
            Role::Parent | Role::Eleve => match Scope::of(conn, actor).await? {
                Scope::Eleves(ids) => Some(Acces::Eleves(ids)),
                _ => Some(Acces::Eleves(Vec::new())),
            },
            _ => None,
        })
    }

    /// For lists: refuses (403) those who have no access at all.
    pub async fn for_list(
        conn: &mut diesel_async::AsyncPgConnection,
        actor: &Actor,
    ) -> DomainResult<Acces> {
        Acces::of(conn, actor).await?.ok_or_else(|| {
            DomainError::PermissionDenied("Vous n'avez pas accès aux finances.".into())
        })
    }

    /// For one row: those without access get "not found", as outside their scope.
    pub async fn for_row(
        conn: &mut diesel_async::AsyncPgConnection,
        actor: &Actor,
    ) -> DomainResult<Acces> {
        Acces::of(conn, actor).await?.ok_or(DomainError::NotFound)
    }
}

/// `ok` or the 403 of someone who may not write to the till.
pub fn exiger_caisse(actor: &Actor) -> DomainResult<()> {
    actor.require(CAISSE)
}
