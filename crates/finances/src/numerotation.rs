//! Invoice and receipt numbers without gaps: `FAC-2026-000123`, `REC-2026-000045`.
//!
//! The counter of a (prefix, calendar year) is one row of `compteurs_numeros`, incremented by
//! an upsert that locks it until the caller's transaction ends. Concurrent transactions take
//! their numbers one after the other; one that rolls back gives its numbers back with it. So
//! the numbers that exist are exactly 1..=N. Take a number as late as possible in a
//! transaction: the row stays locked until commit.

use chrono::Datelike;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{DomainError, DomainResult};
use ecole_db::schema::compteurs_numeros;

/// Which series a number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serie {
    Facture,
    Recu,
}

impl Serie {
    pub fn prefixe(self) -> &'static str {
        match self {
            Serie::Facture => "FAC",
            Serie::Recu => "REC",
        }
    }
}

/// `FAC-2026-000123` (at least six digits).
pub fn formater(serie: Serie, annee: i32, numero: i64) -> String {
    format!("{}-{annee}-{numero:06}", serie.prefixe())
}

/// The calendar year numbers are taken in: today's, in Conakry.
pub fn annee_courante() -> i32 {
    ecole_core::time::today().year()
}

/// Takes `n` consecutive numbers of `serie` for `annee` in the caller's transaction and
/// returns the first (the others follow it).
pub async fn prendre(
    conn: &mut AsyncPgConnection,
    serie: Serie,
    annee: i32,
    n: i64,
) -> DomainResult<i64> {
    if n < 1 {
        return Err(DomainError::internal("au moins un numéro à prendre"));
    }
    let dernier: i64 = diesel::insert_into(compteurs_numeros::table)
        .values((
            compteurs_numeros::prefixe.eq(serie.prefixe()),
            compteurs_numeros::annee.eq(annee),
            compteurs_numeros::dernier.eq(n),
        ))
        .on_conflict((compteurs_numeros::prefixe, compteurs_numeros::annee))
        .do_update()
        .set(
            compteurs_numeros::dernier
                .eq(compteurs_numeros::dernier + excluded(compteurs_numeros::dernier)),
        )
        .returning(compteurs_numeros::dernier)
        .get_result(conn)
        .await?;
    Ok(dernier - n + 1)
}

/// One number, formatted.
pub async fn prochain(conn: &mut AsyncPgConnection, serie: Serie) -> DomainResult<String> {
    let annee = annee_courante();
    let numero = prendre(conn, serie, annee, 1).await?;
    Ok(formater(serie, annee, numero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeros_formates() {
        assert_eq!(formater(Serie::Facture, 2026, 123), "FAC-2026-000123");
        assert_eq!(formater(Serie::Recu, 2026, 45), "REC-2026-000045");
        assert_eq!(formater(Serie::Recu, 2027, 1_234_567), "REC-2027-1234567");
    }
}
