//! Consent: purposes, the consent ledger with receipts, cookie consent with GPC, the published privacy information.

use axum::Router;
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
}
