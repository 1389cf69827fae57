//! The REST contract's errors: `400 {"field": ["message"]}`, otherwise
//! `{"detail": "…", "code": "…"}`. A 500 logs its cause once and tells the client nothing.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use ecole_core::{DomainError, FieldErrors};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body)
    }
}

impl ApiError {
    pub fn detail(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "detail": detail.into(), "code": code }),
            retry_after: None,
        }
    }

    pub fn validation(errors: FieldErrors) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: serde_json::to_value(&errors.0).unwrap_or_else(|_| json!({})),
            retry_after: None,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(FieldErrors::single(field, message))
    }

    pub fn not_authenticated() -> Self {
        Self::detail(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            "Informations d'authentification non fournies.",
        )
    }

    pub fn authentication_failed(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::UNAUTHORIZED, "authentication_failed", detail)
    }

    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "not_found", "Ressource introuvable.")
    }

    pub fn permission_denied(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::FORBIDDEN, "permission_denied", detail)
    }

    pub fn internal() -> Self {
        Self::detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Erreur interne du serveur.",
        )
    }

    /// The generic body for a status produced outside our handlers (router, CORS, limits).
    pub fn for_status(status: StatusCode, method: &str) -> Self {
        match status.as_u16() {
            400 => Self::detail(status, "bad_request", "Requête invalide."),
            401 => Self::not_authenticated(),
            403 => {
                Self::permission_denied("Vous n'avez pas la permission d'effectuer cette action.")
            }
            404 => Self::not_found(),
            405 => Self::detail(
                status,
                "method_not_allowed",
                format!("Méthode « {method} » non autorisée."),
            ),
            406 => Self::detail(
                status,
                "not_acceptable",
                "Format de réponse demandé non disponible.",
            ),
            413 => Self::payload_too_large(),
            415 => Self::detail(
                status,
                "unsupported_media_type",
                "Type de contenu non pris en charge.",
            ),
            429 => Self::detail(status, "throttled", "Trop de requêtes."),
            503 => Self::detail(
                status,
                "service_unavailable",
                "Service temporairement indisponible.",
            ),
            s if s >= 500 => Self::internal(),
            _ => Self::detail(
                status,
                "error",
                status.canonical_reason().unwrap_or("Erreur"),
            ),
        }
    }

    pub fn payload_too_large() -> Self {
        Self::detail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Corps de requête trop volumineux (1 Mo au plus).",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation(errors) => ApiError::validation(errors),
            DomainError::AuthenticationFailed(m) => ApiError::authentication_failed(m),
            DomainError::PermissionDenied(m) => ApiError::permission_denied(m),
            DomainError::NotFound => ApiError::not_found(),
            DomainError::Conflict(m) => ApiError::detail(StatusCode::CONFLICT, "conflict", m),
            DomainError::Throttled {
                retry_after_secs,
                message,
            } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::detail(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
            },
            DomainError::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "service indisponible");
                ApiError {
                    retry_after: Some(5),
                    ..ApiError::detail(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "service_unavailable",
                        "Service temporairement indisponible, réessayez dans un instant.",
                    )
                }
            }
            DomainError::Internal(cause) => {
                tracing::error!(error.cause = %cause, "erreur interne");
                ApiError::internal()
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            ));
        }
        response.json(&self.body)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
