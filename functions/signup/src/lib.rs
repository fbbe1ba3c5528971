//! Accounts and organisations: signup, e-mail verification, sessions, members, invitations,
//! self-service correction and cancellation (an erasure job, fenced from its first instant).
//!
//! The handlers parse, call the use cases of `shared::accounts` and answer; the use cases
//! live there because the rights function and worker (and the web pages) need them too.

mod me;
mod members;
mod organisations;
mod recovery;
mod registration;
mod sessions;

use axum::Router;
use axum::routing::{delete, get, patch, post};
use shared::Platform;

/// The routes of this function; [`shared::http::app`] completes them for Lambda and the
/// local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/openapi.json", get(shared::http::openapi))
        .route("/v1/signup", post(registration::signup))
        .route("/v1/email-verifications", post(registration::verify_email))
        .route("/v1/sessions", post(sessions::login))
        .route("/v1/sessions/current", delete(sessions::logout))
        .route("/v1/me", get(me::get_me).patch(me::correct_me).delete(me::cancel_me))
        .route(
            "/v1/organisations/current",
            get(organisations::get_organisation).delete(organisations::cancel_organisation),
        )
        .route("/v1/organisations/current/members", get(organisations::list_members))
        .route("/v1/organisations/current/invitations", post(organisations::invite).get(members::list_invitations))
        .route("/v1/organisations/current/invitations/{id}", delete(members::revoke_invitation))
        .route(
            "/v1/organisations/current/members/{user_id}",
            patch(members::change_role).delete(members::remove_member),
        )
        .route("/v1/organisations/current/membership-history", get(members::history))
        .route("/v1/invitations/accept", post(organisations::accept_invitation))
        .route("/v1/password-reset-requests", post(recovery::request_reset))
        .route("/v1/password-resets", post(recovery::reset_password))
        .route("/v1/verification-requests", post(recovery::resend_verification))
        .route("/v1/erasure-jobs/{job_id}", get(me::erasure_progress))
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        registration::signup,
        registration::verify_email,
        sessions::login,
        sessions::logout,
        me::get_me,
        me::correct_me,
        me::cancel_me,
        me::erasure_progress,
        organisations::get_organisation,
        organisations::cancel_organisation,
        organisations::list_members,
        organisations::invite,
        organisations::accept_invitation,
        members::change_role,
        members::remove_member,
        members::list_invitations,
        members::revoke_invitation,
        members::history,
        recovery::request_reset,
        recovery::reset_password,
        recovery::resend_verification,
    ),
    tags((name = "accounts", description = "Signup, verification, sessions and the user's own account"),
         (name = "organisations", description = "The caller's organisation, its members and invitations"))
)]
pub struct ApiDoc;
