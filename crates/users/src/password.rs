//! argon2id hashing (m = 19 MiB, t = 2, p = 1: OWASP's recommendation and the crate default),
//! always on a blocking thread.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use ecole_core::{DomainError, DomainResult};

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

fn hash_blocking(password: &str) -> DomainResult<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DomainError::internal(format!("hachage du mot de passe : {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist so that an
/// unknown username costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_blocking(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random))
            .unwrap_or_else(|_| {
                // Never matches anything: a well-formed hash of an unknown password.
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0h5Cq9cC2C1hQZ6Y3o3vZ2A9b8e0u1kB1rA6b3C4d5E".into()
            })
    })
}

pub async fn hash_password(password: &str) -> DomainResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(DomainError::internal)?
}

/// Verifies `password` against `hash`, or against a dummy hash when `hash` is `None`.
pub async fn verify_password(password: &str, hash: Option<&str>) -> DomainResult<bool> {
    let password = password.to_string();
    let hash = hash.map(str::to_string);
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_blocking(&password, &h),
        None => {
            let _ = verify_blocking(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(DomainError::internal)
}

/// Computes the dummy hash ahead of the first failed login, so its cost is not on that request.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash_password("unmotdepasse-solide").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password("unmotdepasse-solide", Some(&h))
                .await
                .unwrap()
        );
        assert!(!verify_password("autre-chose-123", Some(&h)).await.unwrap());
        assert!(!verify_password("x", None).await.unwrap());
        assert!(!verify_password("x", Some("pas-un-hash")).await.unwrap());
    }
}
