//! The signed-in user's own account: read, correct, cancel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts;
use shared::clock::rfc3339_from_epoch;
use shared::domain::{EmailAddress, Region, Role};
use shared::erasure;
use shared::erasure::job::{ErasureProgress, Started};
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::responses::{JsonBody, Session, SessionWrite, Throttled, Unavailable};
use shared::session::{AuthUser, SessionEvenIfErasing};
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

/// The answer to a cancellation: `202 Accepted`, the erasure job's progress, and its URL in
/// `Location`.
pub type ErasureAccepted = (StatusCode, [(header::HeaderName, String); 1], Json<ErasureProgress>);

pub fn accepted(platform: &Platform, started: &Started) -> ErasureAccepted {
    let progress = ErasureProgress::of(&started.job, &platform.settings.public_base_url);
    (StatusCode::ACCEPTED, [(header::LOCATION, progress.progress_url.clone())], Json(progress))
}

/// Cancels the account. The password is checked, then at once every session ends, login
/// fails and nothing more is recorded about the user; an erasure job erases everything but
/// what the law requires us to keep (listed in the progress, with legal basis and purge
/// date). Follow it at `progress_url` (also in `Location`). Asked again while it runs, the
/// answer is the same job. The last admin of an organisation with other members must cancel
/// the organisation instead; a sole member's organisation goes with them.
#[utoipa::path(delete, path = "/v1/me", tag = "accounts", request_body = PasswordConfirmation,
    responses(JsonBody, SessionWrite, Throttled,
        (status = 202, description = "The erasure job, started now or already running", body = ErasureProgress,
            headers(("Location" = String, description = "The job's progress URL"))),
        (status = 401, description = "invalid_credentials: the password is wrong; or unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_admin, or membership_changed: another cancellation, removal or role change in the organisation came first (retry)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn cancel_me(
    State(platform): State<Platform>,
    SessionEvenIfErasing(auth): SessionEvenIfErasing,
    ApiJson(request): ApiJson<PasswordConfirmation>,
) -> Result<ErasureAccepted, ApiError> {
    // The session is still live while the job has not reached it: the same job is the answer.
    if let Some(running) = accounts::erasure_under_way(&platform, &auth.user_id, &auth.organisation_id).await? {
        return Ok(accepted(&platform, &running));
    }
    let user = accounts::load_user(&platform, &auth.user_id).await?;
    accounts::confirm_password(&platform, &user, &request.password).await?;
    let started = accounts::erase_account(&platform, &user).await?;
    Ok(accepted(&platform, &started))
}

/// An erasure job's progress. No sign-in: the person's sessions end as it starts; the job's
/// id is long and random, and the answer holds counts only.
#[utoipa::path(get, path = "/v1/erasure-jobs/{job_id}", tag = "accounts",
    params(("job_id" = String, Path, description = "From the cancellation's answer")),
    responses(Unavailable,
        (status = 200, body = ErasureProgress),
        (status = 404, description = "not_found: no such job (a completed job is kept 30 days)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn erasure_progress(
    State(platform): State<Platform>,
    Path(job_id): Path<String>,
) -> Result<Json<ErasureProgress>, ApiError> {
    let not_found = || ApiError::not_found("No such erasure job (a completed job is kept 30 days).");
    if job_id.len() > 128 {
        return Err(not_found());
    }
    let job = erasure::job::load(&platform, &job_id).await?.ok_or_else(not_found)?;
    Ok(Json(ErasureProgress::of(&job, &platform.settings.public_base_url)))
}
