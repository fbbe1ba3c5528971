//! HTTP plumbing shared by every function's router: JSON bodies that fail with precise
//! problem+json, the body limit, fallbacks, request logs without personal data, and the
//! platform routes (`/healthz`, `/openapi.json`).
//!
//! Lambda and the local server call the same [`app`], so both answer alike.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Request bodies larger than this are refused with 413 (`payload_too_large`).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The OpenAPI document of the whole API, generated from code by `infentre openapi` and
/// checked to be current by a test.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// A JSON request body. Rejections become problem+json: 400 for malformed JSON, 422 for the
/// wrong shape (unknown fields, wrong types, missing fields), 415 for another content type,
/// 413 for an oversized body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as application/json.",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|err| {
            if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(DEFAULT_BODY_LIMIT)
            } else {
                ApiError::bad_request("invalid_body", err.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// 400 only when the bytes are not JSON at all; JSON of the wrong shape is 422, whatever
/// serde calls it (a number where an enum's string belongs is a "syntax" error to serde_json).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(rejection) => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
                Err(ApiError::unprocessable("invalid_body", rejection.body_text()))
            } else {
                Err(ApiError::bad_request("malformed_json", rejection.body_text()))
            }
        }
    }
}

/// `application/json` or any `application/*+json` (parameters such as `charset` aside), as
/// axum's `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || (subtype.ends_with("+json") && !subtype.contains('/')),
        None => false,
    }
}

/// Query parameters, with a 400 problem when they do not parse.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::bad_request("invalid_query", rejection.body_text())),
        }
    }
}

/// Completes a function's routes into the application both engines serve.
pub fn app(routes: Router) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(
            // Logs the route template, never the URL: paths and query strings carry tokens
            // and e-mail addresses.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route =
                        request.extensions().get::<MatchedPath>().map_or("unmatched", |path| path.as_str()).to_owned();
                    tracing::info_span!("request", method = %request.method(), route)
                })
                .on_request(())
                .on_response(|response: &Response, latency: std::time::Duration, _: &tracing::Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        "response"
                    );
                }),
        )
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "platform", responses((status = 200, description = "The service is up", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

// Only the signup function serves it (`template.yaml` routes it there), so the other Lambda
// packages do not carry its 0.3 MB. (The doc comment below is the operation's summary.)
/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "platform", responses((status = 200, description = "The OpenAPI 3.1 document of the API", content_type = "application/json")))]
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// The platform's own paths, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, openapi), components(schemas(crate::error::Problem)))]
pub struct PlatformApi;

/// A panic in one request ends that request with an opaque 500, never the server. The panic
/// message is not logged here: it may hold request data (the panic hook has printed it).
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal(std::io::Error::other("the request handler panicked")).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("There is nothing at this path.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This path does not take this method.",
    )
}

/// Errors produced below our handlers (a body over the limit before any extractor ran, an
/// undecodable path) come as bare or plain-text responses: give them a problem document too.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.starts_with(crate::error::PROBLEM_JSON) {
        return response;
    }
    if status.as_u16() == 413 {
        return ApiError::payload_too_large(DEFAULT_BODY_LIMIT).into_response();
    }
    if !content_type.is_empty() && !content_type.starts_with("text/plain") {
        return response;
    }
    // axum's own rejection texts say what was wrong with the request, nothing internal.
    let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let detail: String = String::from_utf8_lossy(&text).chars().take(300).collect();
    let detail =
        if detail.trim().is_empty() { status.canonical_reason().unwrap_or("Error").to_owned() } else { detail };
    let code = if status.is_server_error() { "internal_error" } else { "invalid_request" };
    ApiError::new(status, code, detail).into_response()
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // HTTPS only from the first visit on (browsers ignore it over plain HTTP, so the local
    // server on http://127.0.0.1 is unaffected); subdomains are not ours to decide.
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    response
}

/// The client's IP address, put in the request's extensions by the engine's entry point
/// (API Gateway's `sourceIp` in Lambda, the TCP peer or a trusted proxy's
/// `X-Forwarded-For` locally: [`crate::client_address`]). Used for throttling only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);
/// `limit` and `cursor` of every list endpoint: default 50, at most 200.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The `cursor` of the previous page.
    #[param(max_length = 8192, pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl ListParams {
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(limit @ 1..=200) => Ok(limit),
            Some(_) => Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 200.")),
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
