//! Decisions on a request: an admin of its organisation approves or denies a member's
//! request; an operator extends a deadline once, with a reason.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts;
use shared::clock::rfc3339_from_epoch as time;
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::mail;
use shared::rights::{self, Extension, MAX_EXTENSION_DAYS, RightsRequest, Status, emails};
use shared::session::AuthUser;
use utoipa::ToSchema;

use super::intake::enqueue;
use super::{RequestView, illegal, store_error, visible};

const MAX_REASON: usize = 1_000;

/// A request an admin of its organisation may decide on.
async fn decidable(platform: &Platform, auth: &AuthUser, id: &str) -> Result<RightsRequest, ApiError> {
    let request = visible(platform, auth, id).await?;
    if auth.organisation_id != request.organisation_id {
        return Err(ApiError::not_found("No such rights request."));
    }
    auth.require_admin()?;
    if request.status != Status::AwaitingOrganisationApproval {
        return Err(ApiError::conflict(
            "invalid_status",
            "Only a request awaiting approval can be approved or denied.",
        ));
    }
    Ok(request)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    pub status: Status,
}

/// An admin approves a member's request: it is queued for the worker.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/approve", tag = "rights",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Decision),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid_status, or conflict: another admin decided first", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn approve(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Decision>, ApiError> {
    let mut request = decidable(&platform, &auth, &id).await?;
    // Queued first: if the approval then loses to another admin's decision, the worker finds
    // the request denied and drops the message; if it wins, the message is already there.
    enqueue(&platform, &request.id).await?;
    let due_at = request.due_at;
    request
        .transition(Status::Queued, format!("admin:{}", auth.user_id), None, platform.clock.epoch_seconds())
        .map_err(illegal)?;
    rights::save(&platform, &mut request, due_at).await.map_err(store_error)?;
    Ok(Json(Decision { status: Status::Queued }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Told to the requester (at most 1,000 characters).
    pub reason: String,
}

fn check_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(ApiError::unprocessable("invalid_reason", "A reason of 1 to 1,000 characters is required."));
    }
    Ok(reason.to_owned())
}

/// An admin denies a member's request, with a reason the requester is told.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/deny", tag = "rights", request_body = Reason,
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Decision),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn deny(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Decision>, ApiError> {
    let reason = check_reason(&body.reason)?;
    let mut request = decidable(&platform, &auth, &id).await?;
    let due_at = request.due_at;
    request
        .transition(
            Status::Denied,
            format!("admin:{}", auth.user_id),
            Some(reason.clone()),
            platform.clock.epoch_seconds(),
        )
        .map_err(illegal)?;
    rights::save(&platform, &mut request, due_at).await.map_err(store_error)?;
    if let Some(user_id) = &request.user_id
        && let Ok(user) = accounts::load_user(&platform, user_id).await
    {
        mail::enqueue(
            platform.queue.as_ref(),
            vec![emails::denied(&user.email, user.lang, &request, &reason, &platform.settings)],
        )
        .await?;
    }
    Ok(Json(Decision { status: Status::Denied }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    pub reason: String,
    /// 1 to 61 days (two months at most, GDPR Art. 12(3)).
    pub days: i64,
}

/// An operator extends an open request's deadline, once; the requester is told why.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/extend", tag = "rights", request_body = ExtensionRequest,
    params(("id" = String, Path)),
    responses(
        (status = 200, body = RequestView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_extended or not open", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn extend(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ExtensionRequest>,
) -> Result<Json<RequestView>, ApiError> {
    auth.require_operator()?;
    let reason = check_reason(&body.reason)?;
    if !(1..=MAX_EXTENSION_DAYS).contains(&body.days) {
        return Err(ApiError::unprocessable("invalid_days", "An extension is 1 to 61 days (two months at most)."));
    }
    let mut request = visible(&platform, &auth, &id).await?;
    if !request.status.is_open() {
        return Err(ApiError::conflict("invalid_status", "Only an open request can be extended."));
    }
    if request.extension.is_some() {
        return Err(ApiError::conflict("already_extended", "A request can be extended once."));
    }
    let now = platform.clock.epoch_seconds();
    let previous_due = request.due_at;
    request.due_at += body.days * 24 * 3600;
    request.extension = Some(Extension { days: body.days, reason: reason.clone(), at: time(now) });
    request.note(format!("operator:{}", auth.user_id), format!("deadline extended by {} days", body.days), now);
    rights::save(&platform, &mut request, previous_due).await.map_err(store_error)?;
    if let Some(user_id) = &request.user_id
        && let Ok(user) = accounts::load_user(&platform, user_id).await
    {
        mail::enqueue(platform.queue.as_ref(), vec![emails::extended(&user.email, user.lang, &request, &reason)])
            .await?;
    }
    Ok(Json(request.into()))
}
