//! `Idempotency-Key` (docs/SPEC.md §4) for requests that record money.
//!
//! The key is claimed first thing in the request's transaction, by inserting its row with a
//! fingerprint of who asked what. A concurrent request with the same key blocks on that
//! insert until the first one ends: if it committed, its answer is replayed (same
//! fingerprint) or the request refused with 409 (another fingerprint); if it rolled back, the
//! key is free again and the request runs. Only answers that recorded something are kept (a
//! refused request rolls back with its claim, so it may be sent again with the same key).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{DomainError, DomainResult};
use ecole_db::schema::requetes_idempotentes;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The header's name.
pub const EN_TETE: &str = "Idempotency-Key";

/// An answer to send as it is (status and JSON body); `rejouee` when it is a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Reponse {
    pub statut: u16,
    pub corps: Value,
    pub rejouee: bool,
}

/// 1 to 255 visible ASCII characters (a UUID, typically).
pub fn valider_cle(cle: &str) -> DomainResult<String> {
    let cle = cle.trim();
    if cle.is_empty() || cle.len() > 255 || !cle.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DomainError::validation(
            EN_TETE,
            "Clé d'idempotence invalide : 1 à 255 caractères ASCII visibles (un UUID, par exemple).",
        ));
    }
    Ok(cle.to_string())
}

/// SHA-256 of who (`utilisateur`), what (`operation`, e.g. `paiement:12`) and the parsed body
/// in its canonical serialisation (so spacing and field order do not matter).
pub fn empreinte(utilisateur: i64, operation: &str, corps: &impl Serialize) -> String {
    let json = serde_json::to_string(corps).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(utilisateur.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(operation.as_bytes());
    hasher.update(b"\n");
    hasher.update(json.as_bytes());
    hex::encode(hasher.finalize())
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Revendication {
    /// The key is ours until the transaction ends: run the request, then [`enregistrer`].
    Nouvelle,
    /// The key already answered this very request: send that answer again.
    Rejouer(Reponse),
}

/// Claims `cle` in the caller's transaction (waiting for a transaction that holds it).
pub async fn revendiquer(
    conn: &mut AsyncPgConnection,
    cle: &str,
    utilisateur: i64,
    empreinte: &str,
) -> DomainResult<Revendication> {
    let claimed: Option<String> = diesel::insert_into(requetes_idempotentes::table)
        .values((
            requetes_idempotentes::cle.eq(cle),
            requetes_idempotentes::utilisateur_id.eq(utilisateur),
            requetes_idempotentes::empreinte.eq(empreinte),
        ))
        .on_conflict_do_nothing()
        .returning(requetes_idempotentes::cle)
        .get_result(conn)
        .await
        .optional()?;
    if claimed.is_some() {
        return Ok(Revendication::Nouvelle);
    }
    let (stored, statut, corps): (String, Option<i32>, Option<Value>) =
        requetes_idempotentes::table
            .find(cle)
            .select((
                requetes_idempotentes::empreinte,
                requetes_idempotentes::statut_reponse,
                requetes_idempotentes::corps_reponse,
            ))
            .first(conn)
            .await?;
    if stored != empreinte {
        return Err(DomainError::Conflict(
            "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez-en une nouvelle."
                .into(),
        ));
    }
    match (statut, corps) {
        (Some(statut), Some(corps)) => Ok(Revendication::Rejouer(Reponse {
            statut: u16::try_from(statut).unwrap_or(200),
            corps,
            rejouee: true,
        })),
        // Committed rows always hold their answer; this would be a bug, not a user error.
        _ => Err(DomainError::internal("clé d'idempotence sans réponse")),
    }
}

/// Keeps the answer of a claimed key (same transaction as the claim).
pub async fn enregistrer(
    conn: &mut AsyncPgConnection,
    cle: &str,
    reponse: &Reponse,
) -> DomainResult<()> {
    diesel::update(requetes_idempotentes::table.find(cle))
        .set((
            requetes_idempotentes::statut_reponse.eq(i32::from(reponse.statut)),
            requetes_idempotentes::corps_reponse.eq(&reponse.corps),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cles_et_empreintes() {
        assert_eq!(valider_cle(" abc-123 ").ok().as_deref(), Some("abc-123"));
        assert!(valider_cle("").is_err());
        assert!(valider_cle("avec espace").is_err());
        assert!(valider_cle("clé").is_err());
        assert!(valider_cle(&"x".repeat(256)).is_err());
        let a = empreinte(1, "paiement:3", &serde_json::json!({"b": 1, "a": 2}));
        let b = empreinte(1, "paiement:3", &serde_json::json!({"a": 2, "b": 1}));
        assert_eq!(a, b);
        assert_ne!(
            a,
            empreinte(2, "paiement:3", &serde_json::json!({"a": 2, "b": 1}))
        );
        assert_ne!(
            a,
            empreinte(1, "paiement:4", &serde_json::json!({"a": 2, "b": 1}))
        );
    }
}
