//! Decisions on a request: an admin of its organisation approves or denies a member's
//! request; an operator extends a deadline once, with a reason, and resolves a failed
//! request.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::responses::{JsonBody, SessionWrite};
use shared::rights::Status;
use shared::rights::decisions::{self, Resolution};
use shared::session::AuthUser;
use utoipa::ToSchema;

use super::RequestView;

#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    pub status: Status,
}

/// An admin approves a member's request: it is queued for the worker.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/approve", tag = "rights",
    params(("id" = String, Path)),
    responses(SessionWrite,
        (status = 200, body = Decision),
        (status = 403, description = "forbidden: not an admin; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such request in your organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid_status, or conflict: another admin decided first", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn approve(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Decision>, ApiError> {
    let request = decisions::approve(&platform, &auth.actor(&platform).await?, &id).await?;
    Ok(Json(Decision { status: request.status }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Told to the requester (at most 1,000 characters).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// An admin denies a member's request, with a reason the requester is told.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/deny", tag = "rights", request_body = Reason,
    params(("id" = String, Path)),
    responses(JsonBody, SessionWrite,
        (status = 200, body = Decision),
        (status = 403, description = "forbidden: not an admin; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such request in your organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid_status, or conflict: another admin decided first", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_reason, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn deny(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Decision>, ApiError> {
    let request = decisions::deny(&platform, &auth.actor(&platform).await?, &id, &body.reason).await?;
    Ok(Json(Decision { status: request.status }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// Told to the requester (at most 1,000 characters).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
    /// 1 day to two further calendar months (GDPR Art. 12(3)), asked before the deadline.
    #[schema(minimum = 1, maximum = 62)]
    pub days: i64,
}

/// An operator extends an open request's deadline, once; the requester is told why.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/extend", tag = "rights", request_body = ExtensionRequest,
    params(("id" = String, Path)),
    responses(JsonBody, SessionWrite,
        (status = 200, body = RequestView),
        (status = 403, description = "forbidden: operators only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_extended, deadline_passed, invalid_status (not open), or conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_reason, invalid_days, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn extend(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ExtensionRequest>,
) -> Result<Json<RequestView>, ApiError> {
    let request = decisions::extend(&platform, &auth.actor(&platform).await?, &id, &body.reason, body.days).await?;
    Ok(Json(request.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    /// `retry` queues it again; `complete` or `refuse` close it.
    pub action: Resolution,
    /// Kept in the history and told to the requester; required to close (at most 1,000
    /// characters).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: Option<String>,
}

/// An operator resolves a failed request (which otherwise stays overdue): queues it again
/// for the worker, or closes it as completed or refused, with a reason the requester is told.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/resolve", tag = "rights", request_body = ResolutionRequest,
    params(("id" = String, Path)),
    responses(JsonBody, SessionWrite,
        (status = 200, body = RequestView),
        (status = 403, description = "forbidden: operators only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid_status (not failed), duplicate_request (a retry while the requester has another open request of the type), or conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_reason, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn resolve(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResolutionRequest>,
) -> Result<Json<RequestView>, ApiError> {
    let actor = auth.actor(&platform).await?;
    let request = decisions::resolve(&platform, &actor, &id, body.action, body.reason.as_deref()).await?;
    Ok(Json(request.into()))
}
