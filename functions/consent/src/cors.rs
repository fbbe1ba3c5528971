//! CORS for `POST /v1/cookie-consents` alone: the banner runs on Infentre's own website and
//! app (other origins than the API), which may record a visitor's choice from the browser.
//! Only the configured origins get an answer they may read; no credentials, one method, one
//! header. Nothing else of the API is opened to other origins.

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Platform;
use shared::error::{ApiError, Problem};

/// How long a browser may reuse a preflight's answer.
const MAX_AGE_SECONDS: &str = "600";

/// The request's `Origin`, if it is one of the configured ones.
fn allowed_origin(platform: &Platform, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?.to_ascii_lowercase();
    platform.settings.cookie_consent_origins.contains(&text).then(|| origin.clone())
}

/// The preflight of a cross-origin cookie choice: allowed for the configured origins, for a
/// `POST` with `Content-Type`; refused (403, no CORS headers) otherwise.
#[utoipa::path(options, path = "/v1/cookie-consents", tag = "consent",
    params(
        ("Origin" = String, Header, description = "One of INFENTRE_COOKIE_CONSENT_ORIGINS"),
        ("Access-Control-Request-Method" = String, Header, description = "POST"),
    ),
    responses(
        (status = 204, description = "Allowed: Access-Control-Allow-Origin (the origin), -Methods (POST), -Headers (content-type), -Max-Age"),
        (status = 403, description = "cors_refused: not a configured origin, or not a POST", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn preflight(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let post = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).is_some_and(|m| m == "POST");
    match allowed_origin(&platform, &headers).filter(|_| post) {
        Some(origin) => (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
                (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST")),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type")),
                (header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECONDS)),
                (header::VARY, HeaderValue::from_static("Origin")),
            ],
        )
            .into_response(),
        None => {
            let refused =
                ApiError::new(StatusCode::FORBIDDEN, "cors_refused", "This origin may not record cookie choices here.");
            let mut response = refused.into_response();
            response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
            response
        }
    }
}

/// The choice itself ([`crate::visitors::record_cookie_choice`]); a configured origin may
/// read the answer (the visitor id).
pub async fn record_cookie_choice(State(platform): State<Platform>, request: Request) -> Response {
    let origin = allowed_origin(&platform, request.headers());
    let mut response = Handler::call(crate::visitors::record_cookie_choice, request, platform).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}
