//! JWT access tokens (HS256, `iss`/`aud`/`exp` checked) and opaque refresh tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ecole_config::Settings;
use ecole_core::{DomainError, DomainResult, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    /// User id, as a string (RFC 7519).
    pub sub: String,
    pub role: Role,
    /// Session (refresh-token family) id.
    pub sid: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub typ: String,
}

/// Signing material and token lifetimes, built once from the settings.
#[derive(Clone)]
pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl AuthKeys {
    pub fn from_settings(settings: &Settings) -> Self {
        let secret = settings.secret_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.leeway = settings.jwt_leeway.as_secs();
        validation.validate_exp = true;
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        AuthKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            access_ttl: settings.access_token_ttl,
            refresh_ttl: settings.refresh_token_ttl,
        }
    }

    pub fn issue_access(&self, user_id: i64, role: Role, session_id: Uuid) -> DomainResult<String> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            role,
            sid: session_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(DomainError::internal)
    }

    /// Decodes and checks an access token: signature, algorithm, issuer, audience, expiry.
    pub fn verify_access(&self, token: &str) -> Option<(i64, Uuid)> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        if data.claims.typ != "access" {
            return None;
        }
        let user_id = data.claims.sub.parse::<i64>().ok()?;
        Some((user_id, data.claims.sid))
    }
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// A new opaque refresh token (256 random bits) and the digest stored for it.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = digest_refresh_token(&token);
    (token, digest)
}

pub fn digest_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> AuthKeys {
        AuthKeys::from_settings(&Settings::for_tests("postgres://x/y", "redis://x", "t"))
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let sid = Uuid::new_v4();
        let t = k.issue_access(42, Role::Admin, sid).unwrap();
        assert_eq!(k.verify_access(&t), Some((42, sid)));
    }

    #[test]
    fn forged_tokens_are_refused() {
        let k = keys();
        let sid = Uuid::new_v4();
        let t = k.issue_access(42, Role::Parent, sid).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        // alg = none
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            k.verify_access(&format!("{none_header}.{}.", parts[1])),
            None
        );
        // edited payload, original signature
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let edited = URL_SAFE_NO_PAD.encode(
            payload
                .replace("PARENT", "ADMIN")
                .replace("\"42\"", "\"1\""),
        );
        assert_eq!(
            k.verify_access(&format!("{}.{}.{}", parts[0], edited, parts[2])),
            None
        );
        // foreign key
        let other = AuthKeys {
            encoding: EncodingKey::from_secret(b"une-autre-cle-secrete-de-32-caracteres!"),
            ..k.clone()
        };
        assert_eq!(
            k.verify_access(&other.issue_access(42, Role::Admin, sid).unwrap()),
            None
        );
        // expired
        let expired = AuthKeys {
            access_ttl: Duration::from_secs(0),
            ..k.clone()
        };
        let mut claims_token = expired.issue_access(42, Role::Admin, sid).unwrap();
        let mut validation = k.validation.clone();
        validation.leeway = 0;
        let strict = AuthKeys {
            validation,
            ..k.clone()
        };
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(strict.verify_access(&claims_token), None);
        claims_token.push('x');
        assert_eq!(k.verify_access(&claims_token), None);
        assert_eq!(k.verify_access("n'importe quoi"), None);
    }

    #[test]
    fn refresh_tokens_are_random_and_digested() {
        let (a, da) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(digest_refresh_token(&a), da);
        assert_eq!(da.len(), 32);
    }
}
