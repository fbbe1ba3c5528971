//! Tracking: consented usage events.

mod events;

use axum::Router;
use axum::routing::post;
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new().route("/v1/events", post(events::record_events))
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(events::record_events), tags((name = "tracking", description = "Usage events, stored only with consent")))]
pub struct ApiDoc;
