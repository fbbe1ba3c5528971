//! Tracking: consented usage events, SendGrid's e-mail events, Stripe's invoices.

mod events;
pub mod inbound;
pub mod sendgrid;
pub mod stripe;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, post};
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/v1/events", post(events::record_events))
        .route("/v1/webhooks/sendgrid", post(sendgrid::webhook).layer(DefaultBodyLimit::max(sendgrid::BODY_LIMIT)))
        .route(
            "/v1/webhooks/sendgrid-inbound",
            post(inbound::webhook).layer(DefaultBodyLimit::max(inbound::BODY_LIMIT)),
        )
        .route("/v1/webhooks/stripe", post(stripe::webhook).layer(DefaultBodyLimit::max(stripe::BODY_LIMIT)))
        .route("/v1/organisations/current/recipients/{email}", delete(sendgrid::erase_recipient))
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(events::record_events, sendgrid::webhook, inbound::webhook, stripe::webhook, sendgrid::erase_recipient),
    tags((name = "tracking", description = "Usage events and e-mail interactions, stored without IP addresses"))
)]
pub struct ApiDoc;
