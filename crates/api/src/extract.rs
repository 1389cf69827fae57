//! Extractors: the authenticated user, JSON bodies with field-level errors, query parameters.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ecole_core::{Actor, FieldErrors};
use ecole_users::User;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::internal)
}

/// The authenticated caller: a valid access token of an active user in an open session.
///
/// Checked by the [`crate::middleware::authenticate`] middleware of the authenticated
/// routes, before the handler and its extractors run (so before the body is read); this
/// extractor only takes what the middleware found.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub actor: Actor,
    pub user: User,
}

/// Checks the request's access token and its session (the middleware's work).
pub async fn authenticate(req: &HttpRequest) -> Result<CurrentUser, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::not_authenticated());
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::authentication_failed("En-tête Authorization invalide (Bearer attendu).")
        })?;
    let state = state(req)?;
    // The signature is checked before any database work.
    let Some((user_id, session_id)) = state.keys.verify_access(token) else {
        return Err(ApiError::authentication_failed("Jeton invalide ou expiré."));
    };
    let mut conn = state.conn().await?;
    match ecole_users::service::authenticate_claims(&mut conn, user_id, session_id).await? {
        Some((actor, user)) => {
            tracing::Span::current().record("user.id", actor.user_id);
            Ok(CurrentUser { actor, user })
        }
        None => Err(ApiError::authentication_failed("Jeton invalide ou expiré.")),
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions_mut().remove::<CurrentUser>();
        std::future::ready(found.ok_or_else(|| {
            // A handler taking CurrentUser on a route outside the authenticated scope: a bug
            // of the route table (routes::configure), never a client's doing.
            tracing::error!(http.path = %req.path(), "CurrentUser sur une route non authentifiée");
            ApiError::internal()
        }))
    }
}

/// A JSON body: `application/json` only (415), at most [`crate::BODY_LIMIT`] bytes (413),
/// unknown or mistyped fields reported by name (400).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// 415 unless the request says its body is JSON.
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    if is_json(req) {
        return Ok(());
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("aucun")
        .chars()
        .take(80)
        .collect::<String>();
    Err(ApiError::detail(
        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("Type de contenu « {ct} » non pris en charge : application/json attendu."),
    ))
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::payload_too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::field("non_field_errors", "Corps de requête illisible."))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns a serde error at a path into the contract's field errors, in French.
fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.inner();
    let message = inner.to_string();
    let mut errors = FieldErrors::new();
    if inner.is_syntax() || inner.is_eof() {
        errors.add(
            "non_field_errors",
            format!(
                "JSON mal formé (ligne {}, colonne {}).",
                inner.line(),
                inner.column()
            ),
        );
        return ApiError::validation(errors);
    }
    let field = if path == "." || path.is_empty() {
        None
    } else {
        Some(path)
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        let full = match &field {
            Some(prefix) => format!("{prefix}.{name}"),
            None => name.to_string(),
        };
        errors.add(&full, "Ce champ est obligatoire.");
    } else if let Some(name) = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
    {
        let full = match &field {
            Some(prefix) if !prefix.ends_with(name) => format!("{prefix}.{name}"),
            Some(prefix) => prefix.clone(),
            None => name.to_string(),
        };
        errors.add(&full, "Champ inconnu ou non modifiable.");
    } else {
        let detail = if message.contains("unknown variant") {
            let value = message.split('`').nth(1).unwrap_or("");
            format!("« {value} » n'est pas un choix valide.")
        } else if message.contains("invalid type") || message.contains("invalid value") {
            let expected = message
                .split("expected ")
                .nth(1)
                .unwrap_or("")
                .split(" at line")
                .next()
                .unwrap_or("");
            format!(
                "Type ou valeur invalide (attendu : {}).",
                translate_expected(expected)
            )
        } else {
            "Valeur invalide.".to_string()
        };
        errors.add(field.as_deref().unwrap_or("non_field_errors"), detail);
    }
    ApiError::validation(errors)
}

fn translate_expected(expected: &str) -> String {
    let e = expected.trim();
    if e.contains("a string") {
        "une chaîne de caractères".into()
    } else if e.contains("i64") || e.contains("integer") || e.contains("u64") || e.contains("i32") {
        "un nombre entier".into()
    } else if e.contains("a boolean") {
        "un booléen".into()
    } else if e.contains("struct") || e.contains("a map") {
        "un objet".into()
    } else if e.contains("sequence") {
        "une liste".into()
    } else {
        e.to_string()
    }
}

/// Whether a JSON text holds the escape `\u0000` in a string: PostgreSQL's text cannot store
/// that character, so it is refused at the door (400) rather than failing in the database.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2; // the escaped character, whatever it is
        } else {
            i += 1;
        }
    }
    false
}

/// Parses a JSON body into `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field(
            "non_field_errors",
            "Corps de requête JSON vide.",
        ));
    }
    // Every body is an object: serde would also read a struct from an array, by position.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::field(
            "non_field_errors",
            "Un objet JSON ({ … }) est attendu.",
        ));
    }
    if has_nul_escape(bytes) {
        return Err(ApiError::field(
            "non_field_errors",
            "Le caractère nul (\\u0000) n'est accepté dans aucun champ.",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        // `3.0` is an integer for JSON Schema (and the OpenAPI document): read it as 3.
        Err(e)
            if e.inner()
                .to_string()
                .starts_with("invalid type: floating point") =>
        {
            let mut tree: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|_| json_error(e))?;
            whole_floats_to_integers(&mut tree);
            return serde_path_to_error::deserialize(tree).map_err(json_error);
        }
        Err(e) => return Err(json_error(e)),
    };
    de.end().map_err(|_| {
        ApiError::field(
            "non_field_errors",
            "Données superflues après le document JSON.",
        )
    })?;
    Ok(value)
}

/// Numbers written with a zero fraction (`12.0`) become integers, within the range a double
/// holds exactly.
fn whole_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// An optional JSON body: none (or an empty one, or `null`) is the default value; any other
/// must say it is JSON (415), as for every body.
pub fn optional_body<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        Ok(T::default())
    } else {
        require_json(req)?;
        if text.trim() == "null" {
            return Ok(T::default());
        }
        parse_json(bytes)
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            require_json(&req)?;
            let body = read_body(&req, &mut payload, crate::BODY_LIMIT).await?;
            parse_json(&body).map(ApiJson)
        })
    }
}

/// Query parameters as a map (last value wins); never fails.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub HashMap<String, String>);

impl QueryParams {
    pub fn from_request(req: &HttpRequest) -> Self {
        QueryParams(
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// A non-empty, trimmed value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// Parses a value; an unparsable one is a 400 naming the parameter.
    pub fn parse<T: std::str::FromStr>(&self, key: &str, errors: &mut FieldErrors) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.get(key)?;
        match raw.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.add(key, e.to_string());
                None
            }
        }
    }

    pub fn parse_bool(&self, key: &str, errors: &mut FieldErrors) -> Option<bool> {
        match self.get(key)?.to_ascii_lowercase().as_str() {
            "true" | "1" | "oui" => Some(true),
            "false" | "0" | "non" => Some(false),
            other => {
                errors.add(
                    key,
                    format!("« {other} » n'est pas un booléen (true ou false)."),
                );
                None
            }
        }
    }

    pub fn parse_id(&self, key: &str, errors: &mut FieldErrors) -> Option<i64> {
        let raw = self.get(key)?;
        match raw.parse::<i64>() {
            Ok(v) if v > 0 => Some(v),
            _ => {
                errors.add(key, format!("« {raw} » n'est pas un identifiant valide."));
                None
            }
        }
    }

    /// A date `AAAA-MM-JJ`; a bad one is a 400 naming the parameter.
    pub fn parse_date(&self, key: &str, errors: &mut FieldErrors) -> Option<chrono::NaiveDate> {
        let raw = self.get(key)?;
        match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add(key, format!("« {raw} » n'est pas une date (AAAA-MM-JJ)."));
                None
            }
        }
    }

    /// `?ordering=` against a list of field names.
    pub fn ordering_named(
        &self,
        fields: &'static [&'static str],
        errors: &mut FieldErrors,
    ) -> Vec<(&'static str, bool)> {
        self.ordering(
            |name| fields.iter().find(|f| **f == name).copied(),
            fields,
            errors,
        )
    }

    /// `?ordering=-a,b` against the accepted fields.
    pub fn ordering<F: Copy>(
        &self,
        parse: impl Fn(&str) -> Option<F>,
        accepted: &[&str],
        errors: &mut FieldErrors,
    ) -> Vec<(F, bool)> {
        let Some(raw) = self.get("ordering") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let parts: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() > 5 {
            errors.add("ordering", "Cinq champs de tri au plus.");
            return out;
        }
        for part in parts {
            let (name, desc) = match part.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (part, false),
            };
            match parse(name) {
                Some(field) => out.push((field, desc)),
                None => errors.add(
                    "ordering",
                    format!(
                        "Tri « {name} » impossible (champs possibles : {}).",
                        accepted.join(", ")
                    ),
                ),
            }
        }
        out
    }
}

/// Hops of `X-Forwarded-For` looked at, from the right; a longer chain is cut there.
const MAX_FORWARDED_HOPS: usize = 16;

/// The client's address behind `trusted` proxies (`TRUSTED_PROXIES`): the peer when it is not
/// one of them; otherwise `X-Forwarded-For` read from the right, each trusted hop skipped, the
/// first other address taken. Hops left of it were written by the client and are never
/// believed. An unreadable hop stops the walk at the last trusted address seen.
pub fn forwarded_client(
    peer: Option<IpAddr>,
    forwarded: &[&str],
    trusted: &[ecole_config::IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.map(|ip| ip.to_canonical())?;
    if !is_trusted(&client) {
        return Some(client);
    }
    let hops = forwarded
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','))
        .map(str::trim)
        .take(MAX_FORWARDED_HOPS);
    for hop in hops {
        let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

/// The client's address as the throttles count it (see [`forwarded_client`]).
pub fn client_ip(req: &HttpRequest, trusted: &[ecole_config::IpNet]) -> String {
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    forwarded_client(req.peer_addr().map(|a| a.ip()), &forwarded, trusted)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "inconnue".into())
}

/// A file sent raw or as multipart (field `fichier`, `file` or `logo`), at most `limit`
/// bytes (`taille` names it in the 413 message): its content type and bytes.
pub async fn upload(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    taille: &str,
) -> Result<(String, web::BytesMut), ApiError> {
    use futures_util::StreamExt;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let too_large = || {
        ApiError::detail(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Fichier de {taille} au plus."),
        )
    };
    if content_type.starts_with("multipart/form-data") {
        let mut form = actix_multipart::Multipart::new(req.headers(), payload);
        while let Some(field) = form.next().await {
            let mut field =
                field.map_err(|_| ApiError::field("fichier", "Formulaire illisible."))?;
            let name = field.name().unwrap_or("").to_string();
            if !matches!(name.as_str(), "fichier" | "file" | "logo") {
                continue;
            }
            let field_type = field
                .content_type()
                .map(|m| m.essence_str().to_string())
                .unwrap_or_default();
            let mut bytes = web::BytesMut::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|_| ApiError::field("fichier", "Fichier illisible."))?;
                if bytes.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok((field_type, bytes));
        }
        return Err(ApiError::field(
            "fichier",
            "Joignez le fichier dans le champ « fichier ».",
        ));
    }
    let mut payload = payload.into_inner();
    let bytes = read_body(req, &mut payload, limit).await.map_err(|e| {
        if e.status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            e
        }
    })?;
    Ok((content_type, bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // ASVS 4.0.3 V7.1.4 / V2.2.1: the address the throttles and the audit see is the client's,
    // never one a client wrote into X-Forwarded-For.
    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_hops_only() {
        let nets: Vec<ecole_config::IpNet> = vec![
            "172.31.250.0/24".parse().unwrap(),
            "10.0.0.7/32".parse().unwrap(),
        ];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let nginx = ip("172.31.250.3");
        // Not from a trusted proxy: the header is ignored.
        assert_eq!(
            forwarded_client(ip("41.77.1.2"), &["6.6.6.6"], &nets),
            ip("41.77.1.2")
        );
        // From nginx: the hop nginx appended, not what the client wrote on the left.
        assert_eq!(
            forwarded_client(nginx, &["6.6.6.6, 41.77.1.2"], &nets),
            ip("41.77.1.2")
        );
        assert_eq!(
            forwarded_client(nginx, &["41.77.1.2"], &nets),
            ip("41.77.1.2")
        );
        // Two trusted hops (a load balancer before nginx), several header lines.
        assert_eq!(
            forwarded_client(nginx, &["6.6.6.6", "41.77.1.2 , 10.0.0.7"], &nets),
            ip("41.77.1.2")
        );
        // No header: the proxy itself; an unreadable hop stops at the last trusted address.
        assert_eq!(forwarded_client(nginx, &[], &nets), nginx);
        assert_eq!(forwarded_client(nginx, &["6.6.6.6, inconnu"], &nets), nginx);
        assert_eq!(
            forwarded_client(nginx, &["1.1.1.1, x, 10.0.0.7"], &nets),
            ip("10.0.0.7")
        );
        // IPv4-mapped IPv6 peers are their IPv4 address.
        assert_eq!(
            forwarded_client(ip("::ffff:172.31.250.3"), &["41.77.1.2"], &nets),
            ip("41.77.1.2")
        );
        // No trusted proxy at all: always the peer.
        assert_eq!(forwarded_client(nginx, &["41.77.1.2"], &[]), nginx);
        assert_eq!(forwarded_client(None, &["41.77.1.2"], &nets), None);
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Corps {
        id: i64,
        notes: Vec<i32>,
        moyenne: f64,
    }

    #[test]
    fn whole_numbers_with_a_fraction_are_integers_and_others_are_refused() {
        let c: Corps = parse_json(br#"{"id": 3.0, "notes": [1, 2.0], "moyenne": 12.5}"#).unwrap();
        assert_eq!(
            c,
            Corps {
                id: 3,
                notes: vec![1, 2],
                moyenne: 12.5
            }
        );
        let e = parse_json::<Corps>(br#"{"id": 3.5, "notes": [], "moyenne": 1}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.body.get("id").is_some(), "{}", e.body);
        let e = parse_json::<Corps>(br#"[3, [], 1]"#).unwrap_err();
        assert!(e.body.get("non_field_errors").is_some());
        let e = parse_json::<Corps>(br#"{"id": 1, "notes": [], "moyenne": 1, "x": "a\u0000b"}"#)
            .unwrap_err();
        assert!(
            e.body["non_field_errors"][0]
                .as_str()
                .unwrap()
                .contains("nul")
        );
        // An escaped backslash before "u0000" is text, not a NUL.
        let e = parse_json::<Corps>(br#"{"id": 1, "notes": [], "moyenne": 1, "x": "a\\u0000"}"#)
            .unwrap_err();
        assert!(e.body.get("x").is_some(), "{}", e.body);
    }
}
