//! Accounts and organisations: signup, e-mail verification, sessions, members, invitations, cancellation.

use axum::Router;
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
}
