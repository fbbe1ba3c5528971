//! The caller's organisation: read, members, invitations, cancellation. Every path acts on
//! the organisation of the session, never on one named by the client: no request can reach
//! another organisation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts;
use shared::clock::rfc3339_from_epoch as time;
use shared::domain::{Region, Role};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery, ListParams, Paginated};
use shared::responses::{JsonBody, Query, Session, SessionWrite, Throttled, Unavailable};
use shared::session::AuthUser;
use utoipa::ToSchema;

use crate::me::{ErasureAccepted, PasswordConfirmation, accepted};
use shared::erasure::job::ErasureProgress;
use shared::session::SessionEvenIfErasing;

#[derive(Debug, Serialize, ToSchema)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub region: Region,
    pub created_at: String,
}

/// The caller's organisation.
#[utoipa::path(get, path = "/v1/organisations/current", tag = "organisations",
    responses(Session, (status = 200, body = Organisation),
        (status = 404, description = "not_found: the organisation is gone", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn get_organisation(
    State(platform): State<Platform>,
    auth: AuthUser,
) -> Result<Json<Organisation>, ApiError> {
    let organisation = accounts::load_organisation(&platform, &auth.organisation_id).await?;
    Ok(Json(Organisation {
        id: organisation.organisation_id,
        name: organisation.name,
        region: organisation.region,
        created_at: time(organisation.created_at),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub created_at: String,
}

/// The organisation's members, in order of joining (admins only).
#[utoipa::path(get, path = "/v1/organisations/current/members", tag = "organisations", params(ListParams),
    responses(Query, Session, (status = 200, body = Paginated<Member>),
        (status = 403, description = "forbidden: admins only", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list_members(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<Member>>, ApiError> {
    auth.require_admin()?;
    let (members, cursor) =
        accounts::members_page(&platform, &auth.organisation_id, params.limit()?, params.cursor.clone()).await?;
    let items = members
        .into_iter()
        .map(|user| Member {
            user_id: user.user_id,
            email: user.email,
            role: user.role,
            created_at: time(user.created_at),
        })
        .collect();
    Ok(Json(Paginated { items, cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub email: String,
    pub role: Role,
    pub expires_at: String,
}

/// Invites someone to the organisation (admins only): they get a single-use link, valid 7 days.
#[utoipa::path(post, path = "/v1/organisations/current/invitations", tag = "organisations", request_body = InvitationRequest,
    responses(JsonBody, SessionWrite, Throttled, (status = 201, body = Invitation),
        (status = 403, description = "forbidden: admins only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: the organisation is gone", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_email, or invalid_body", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn invite(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<InvitationRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    auth.require_admin()?;
    // In the inviter's language: the invitee has no account yet.
    let lang = accounts::load_user(&platform, &auth.user_id).await?.lang;
    let (email, expires_at) =
        accounts::invite_in(&platform, &auth.organisation_id, &request.email, request.role, lang).await?;
    Ok((
        StatusCode::CREATED,
        Json(Invitation { email: email.as_str().to_owned(), role: request.role, expires_at: time(expires_at) }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
    /// 12 to 128 characters, not the e-mail address.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    pub user_id: String,
    pub organisation_id: String,
}

/// Accepts an invitation: the invitee joins with the invited role, their address verified by
/// the link.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "organisations", request_body = AcceptRequest,
    responses(JsonBody, Unavailable,
        (status = 201, body = Joined),
        (status = 400, description = "invalid_token; or malformed_json", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken: the address already has an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn accept_invitation(
    State(platform): State<Platform>,
    headers: axum::http::HeaderMap,
    ApiJson(request): ApiJson<AcceptRequest>,
) -> Result<(StatusCode, Json<Joined>), ApiError> {
    let lang = shared::lang::Lang::of_request(&headers);
    let joined = accounts::accept_invitation(&platform, &request.token, &request.password, lang).await?;
    Ok((StatusCode::CREATED, Json(Joined { user_id: joined.user_id, organisation_id: joined.organisation_id })))
}

/// Cancels the whole organisation (admins only). The password is checked, then at once every
/// member's session ends and login fails; one erasure job queues a job per member (each
/// erased as by their own cancellation), then erases the invitations, the recipients'
/// interactions and the organisation. Answers as `DELETE /v1/me`: the job, to follow at
/// `progress_url`; asked again while it runs, the same job.
#[utoipa::path(delete, path = "/v1/organisations/current", tag = "organisations", request_body = PasswordConfirmation,
    responses(JsonBody, SessionWrite, Throttled,
        (status = 202, description = "The erasure job, started now or already running", body = ErasureProgress,
            headers(("Location" = String, description = "The job's progress URL"))),
        (status = 401, description = "invalid_credentials: the password is wrong; or unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden: admins only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn cancel_organisation(
    State(platform): State<Platform>,
    SessionEvenIfErasing(auth): SessionEvenIfErasing,
    ApiJson(request): ApiJson<PasswordConfirmation>,
) -> Result<ErasureAccepted, ApiError> {
    auth.require_admin()?;
    if let Some(running) = accounts::erasure_under_way(&platform, &auth.user_id, &auth.organisation_id).await? {
        return Ok(accepted(&platform, &running));
    }
    let user = accounts::load_user(&platform, &auth.user_id).await?;
    accounts::confirm_password(&platform, &user, &request.password).await?;
    let started = accounts::erase_organisation(&platform, &auth.organisation_id).await?;
    Ok(accepted(&platform, &started))
}
