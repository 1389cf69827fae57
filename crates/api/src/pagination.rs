//! Django REST Framework's page-number pagination: `{"count", "next", "previous", "results"}`.

use actix_web::{HttpRequest, HttpResponse};
use ecole_core::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use ecole_core::{Page, PageRequest};
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::QueryParams;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paginated<T: utoipa::ToSchema> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

fn invalid_page() -> ApiError {
    ApiError::detail(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        "Page non valide.",
    )
}

/// `?page=` (a bad value is a 404, as DRF) and `?page_size=` (default 50; above 200 it is
/// brought down to 200; anything but a positive integer is a 400 naming the parameter).
pub fn page_request(params: &QueryParams) -> Result<PageRequest, ApiError> {
    let page = match params.get("page") {
        None => 1,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(invalid_page)?,
    };
    let page_size = match params.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 1)
            .map(|s| s.min(MAX_PAGE_SIZE))
            .ok_or_else(|| {
                ApiError::field(
                    "page_size",
                    format!(
                        "« {raw} » n'est pas une taille de page (entier de 1 à {MAX_PAGE_SIZE})."
                    ),
                )
            })?,
    };
    if page.checked_mul(page_size).is_none() {
        return Err(invalid_page());
    }
    Ok(PageRequest::new(page, page_size))
}

fn page_url(req: &HttpRequest, params: &QueryParams, page: Option<i64>) -> String {
    let info = req.connection_info();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut keys: Vec<&String> = params.0.keys().filter(|k| k.as_str() != "page").collect();
    keys.sort();
    if let Some(page) = page {
        query.append_pair("page", &page.to_string());
    }
    for key in keys {
        query.append_pair(key, &params.0[key]);
    }
    let query = query.finish();
    let path = req.path().trim_end_matches('/');
    if query.is_empty() {
        format!("{}://{}{}/", info.scheme(), info.host(), path)
    } else {
        format!("{}://{}{}/?{}", info.scheme(), info.host(), path, query)
    }
}

/// The paginated response, or 404 for a page past the end.
pub fn paginated<T: Serialize + utoipa::ToSchema>(
    req: &HttpRequest,
    params: &QueryParams,
    page: Page<T>,
) -> Result<HttpResponse, ApiError> {
    if page.is_out_of_range() {
        return Err(invalid_page());
    }
    let current = page.request.page;
    let next = page
        .has_next()
        .then(|| page_url(req, params, Some(current + 1)));
    let previous = page.has_previous().then(|| {
        if current == 2 {
            page_url(req, params, None)
        } else {
            page_url(req, params, Some(current - 1))
        }
    });
    Ok(HttpResponse::Ok().json(Paginated {
        count: page.count,
        next,
        previous,
        results: page.results,
    }))
}
