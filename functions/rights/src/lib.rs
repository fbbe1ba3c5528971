//! Rights requests: access, portability, correction and erasure, complaints, deadlines.
//!
//! This function takes requests in and moves them through the workflow (approval by the
//! organisation's admin, denial, extension by an operator); the rights worker carries them
//! out. See `shared::rights` for the record and its state machine.

mod cases;
mod complaints;
mod requests;
mod retention_reports;

use axum::Router;
use axum::routing::{get, post};
use shared::Platform;

pub use requests::RequestView;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/v1/rights-requests", post(requests::intake::create).get(requests::views::list))
        .route("/v1/rights-requests/{id}", get(requests::views::get_one))
        .route("/v1/rights-requests/{id}/approve", post(requests::decisions::approve))
        .route("/v1/rights-requests/{id}/deny", post(requests::decisions::deny))
        .route("/v1/rights-requests/{id}/extend", post(requests::decisions::extend))
        .route("/v1/rights-requests/{id}/resolve", post(requests::decisions::resolve))
        .route("/v1/rights-requests/{id}/export", get(requests::views::export))
        .route("/v1/operator/rights-requests", get(requests::views::list_open).post(requests::intake::record))
        .route("/v1/operator/retention-reports", get(retention_reports::retention_reports))
        .route("/v1/complaints", post(complaints::create))
        .route("/v1/public-complaints", post(complaints::create_public))
        .route("/v1/operator/complaints", get(complaints::list))
        .route("/v1/case-confirmations", get(cases::preview).post(cases::confirm))
        .route("/v1/operator/cases", get(cases::list))
        .route("/v1/operator/cases/{id}", get(cases::get_one))
        .route("/v1/operator/cases/{id}/classify", post(cases::classify))
        .route("/v1/operator/cases/{id}/link", post(cases::link))
        .route("/v1/operator/cases/{id}/reply", post(cases::reply))
        .route("/v1/operator/cases/{id}/close", post(cases::close))
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        requests::intake::create,
        requests::intake::record,
        requests::views::list,
        requests::views::get_one,
        requests::decisions::approve,
        requests::decisions::deny,
        requests::decisions::extend,
        requests::decisions::resolve,
        requests::views::export,
        requests::views::list_open,
        retention_reports::retention_reports,
        complaints::create,
        complaints::create_public,
        complaints::list,
        cases::preview,
        cases::confirm,
        cases::list,
        cases::get_one,
        cases::classify,
        cases::link,
        cases::reply,
        cases::close,
    ),
    tags(
        (name = "rights", description = "Rights requests (GDPR Art. 15–20) and complaints"),
        (name = "cases", description = "The hello@ channel: confirmation links and the operators' desk of inbound e-mail")
    )
)]
pub struct ApiDoc;
