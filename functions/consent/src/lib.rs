//! Consent: purposes, the ledger with receipts, cookie consent with GPC, one-click
//! unsubscribe, and the published privacy information (notice, cookies, sub-processors).

mod broadcast;
mod cors;
mod ledger;
pub mod published;
pub mod visitors;

use axum::Router;
use axum::routing::{get, post, put};
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/v1/purposes", get(ledger::purposes))
        .route("/v1/me/consents", get(ledger::my_consents))
        .route("/v1/me/consents/history", get(ledger::history))
        .route("/v1/me/consents/{purpose}", put(ledger::change_consent))
        .route("/v1/consent-receipts/{receipt_id}", get(ledger::receipt))
        .route("/v1/unsubscribe", post(ledger::unsubscribe))
        .route("/v1/cookie-consents", post(cors::record_cookie_choice).options(cors::preflight))
        .route("/v1/me/cookie-consents/claim", post(visitors::claim))
        .route("/v1/cookies", get(published::cookies))
        .route("/v1/privacy-notice", get(published::privacy_notice))
        .route("/v1/subprocessors", get(published::subprocessors))
        .route("/.well-known/gpc.json", get(published::gpc))
        .route("/v1/operator/product-updates", post(broadcast::send_product_update))
        .route("/v1/operator/service-notices", post(broadcast::send_service_notice))
        .route("/v1/operator/broadcast-jobs/{job_id}", get(broadcast::progress))
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        cors::preflight,
        ledger::purposes,
        ledger::my_consents,
        ledger::change_consent,
        ledger::history,
        ledger::receipt,
        ledger::unsubscribe,
        visitors::record_cookie_choice,
        visitors::claim,
        published::cookies,
        published::privacy_notice,
        published::subprocessors,
        published::gpc,
        broadcast::send_product_update,
        broadcast::send_service_notice,
        broadcast::progress,
    ),
    tags((name = "consent", description = "Purposes, consent changes with proof, receipts, cookie consent, unsubscribe"),
         (name = "privacy", description = "The published privacy information"))
)]
pub struct ApiDoc;
