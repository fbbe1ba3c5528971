//! Rights requests: access, portability, correction and erasure, complaints, deadlines.
//!
//! This function takes requests in and moves them through the workflow (approval by the
//! organisation's admin, denial, extension by an operator); the rights worker carries them
//! out. See `shared::rights` for the record and its state machine.

mod complaints;
pub mod emails;
mod requests;

use axum::Router;
use axum::routing::{get, post};
use shared::Platform;

pub use requests::RequestView;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/v1/rights-requests", post(requests::create).get(requests::list))
        .route("/v1/rights-requests/{id}", get(requests::get_one))
        .route("/v1/rights-requests/{id}/approve", post(requests::approve))
        .route("/v1/rights-requests/{id}/deny", post(requests::deny))
        .route("/v1/rights-requests/{id}/extend", post(requests::extend))
        .route("/v1/rights-requests/{id}/export", get(requests::export))
        .route("/v1/operator/rights-requests", get(requests::list_open))
        .route("/v1/operator/retention-reports", get(requests::retention_reports))
        .route("/v1/complaints", post(complaints::create))
        .route("/v1/operator/complaints", get(complaints::list))
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        requests::create,
        requests::list,
        requests::get_one,
        requests::approve,
        requests::deny,
        requests::extend,
        requests::export,
        requests::list_open,
        requests::retention_reports,
        complaints::create,
        complaints::list,
    ),
    tags((name = "rights", description = "Rights requests (GDPR Art. 15–20) and complaints"))
)]
pub struct ApiDoc;
