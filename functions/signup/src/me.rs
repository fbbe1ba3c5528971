//! The signed-in user's own account: read, correct, cancel.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts;
use shared::clock::rfc3339_from_epoch;
use shared::domain::{EmailAddress, Region, Role};
use shared::erasure::Retained;
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::responses::{JsonBody, Session, SessionWrite, Throttled};
use shared::session::AuthUser;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationSummary {
    pub id: String,
    pub name: String,
    pub region: Region,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: String,
    pub last_active_at: Option<String>,
    pub organisation: OrganisationSummary,
}

/// The signed-in user and their organisation.
#[utoipa::path(get, path = "/v1/me", tag = "accounts",
    responses(Session, (status = 200, body = Me),
        (status = 404, description = "not_found: the organisation is gone", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn get_me(State(platform): State<Platform>, auth: AuthUser) -> Result<Json<Me>, ApiError> {
    let user = accounts::load_user(&platform, &auth.user_id).await?;
    let organisation = accounts::load_organisation(&platform, &auth.organisation_id).await?;
    Ok(Json(Me {
        user_id: user.user_id,
        email: user.email,
        role: user.role,
        email_verified: user.email_verified,
        created_at: rfc3339_from_epoch(user.created_at),
        last_active_at: user.last_active_at.map(rfc3339_from_epoch),
        organisation: OrganisationSummary {
            id: organisation.organisation_id,
            name: organisation.name,
            region: organisation.region,
        },
    }))
}

/// A new e-mail address with the current password, or the current and a new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    #[schema(min_length = 3, max_length = 254)]
    pub email: Option<String>,
    pub current_password: Option<String>,
    /// 12 to 128 characters, not the e-mail address.
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionAccepted {
    /// `verification_sent` (the new address must be confirmed) or `password_changed`.
    pub status: &'static str,
}

/// Self-service correction. A new address is verified before it replaces the old one; a new
/// password signs out every other session.
#[utoipa::path(patch, path = "/v1/me", tag = "accounts", request_body = CorrectionRequest,
    responses(JsonBody, SessionWrite, Throttled,
        (status = 200, body = CorrectionAccepted),
        (status = 401, description = "invalid_credentials: the current password is wrong; or unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_email, weak_password, invalid_correction, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn correct_me(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<CorrectionRequest>,
) -> Result<Json<CorrectionAccepted>, ApiError> {
    let user = accounts::load_user(&platform, &auth.user_id).await?;
    match request {
        CorrectionRequest { email: Some(email), current_password: Some(current), new_password: None } => {
            let new = EmailAddress::parse(&email)?;
            // A new address takes the account over: a session alone is not enough.
            accounts::confirm_password(&platform, &user, &current).await?;
            accounts::start_email_change(&platform, &user, &new).await?;
            Ok(Json(CorrectionAccepted { status: "verification_sent" }))
        }
        CorrectionRequest { email: None, current_password: Some(current), new_password: Some(new) } => {
            accounts::change_password(&platform, &user, &current, &new, Some(&auth.session_hash)).await?;
            Ok(Json(CorrectionAccepted { status: "password_changed" }))
        }
        _ => Err(ApiError::unprocessable(
            "invalid_body",
            "Send either {\"email\", \"current_password\"} or {\"current_password\", \"new_password\"}.",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirmation {
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    pub erased: bool,
    /// Records kept because the law requires it, with their legal basis and purge date.
    pub retained: Vec<Retained>,
}

/// Cancels the account: everything about the user is erased now, but what the law requires
/// us to keep. Every session ends. The last admin of an organisation with other members
/// must cancel the organisation instead; a sole member's organisation goes with them.
#[utoipa::path(delete, path = "/v1/me", tag = "accounts", request_body = PasswordConfirmation,
    responses(JsonBody, SessionWrite, Throttled,
        (status = 200, body = Cancelled),
        (status = 401, description = "invalid_credentials: the password is wrong; or unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn cancel_me(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<PasswordConfirmation>,
) -> Result<Json<Cancelled>, ApiError> {
    let user = accounts::load_user(&platform, &auth.user_id).await?;
    accounts::confirm_password(&platform, &user, &request.password).await?;
    let report = accounts::erase_account(&platform, &user).await?;
    Ok(Json(Cancelled { erased: true, retained: report.retained }))
}
