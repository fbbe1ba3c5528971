//! Tracking: consented usage events and the SendGrid event webhook.

use axum::Router;
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
}
