//! Managing the caller's organisation's members (admins only): change a role, remove a
//! member, list and revoke pending invitations, read the history of those changes. The rules
//! (tenant isolation, the last admin, the password, the history) are
//! `shared::accounts::membership`'s; these handlers parse and answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts::membership::{self, MembershipAction, MembershipEvent, PendingInvitation};
use shared::clock::rfc3339_from_epoch as time;
use shared::domain::Role;
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery, ListParams, Paginated};
use shared::responses::{JsonBody, Query, Session, SessionWrite, Throttled};
use shared::session::AuthUser;
use utoipa::ToSchema;

use crate::me::PasswordConfirmation;
use crate::organisations::Member;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
    /// The acting admin's own password.
    pub current_password: String,
}

/// Gives a member another role (admins only, with their password). The member's sessions
/// end, so the change holds at once; the organisation always keeps an admin.
#[utoipa::path(patch, path = "/v1/organisations/current/members/{user_id}", tag = "organisations",
    params(("user_id" = String, Path)), request_body = RoleChange,
    responses(JsonBody, SessionWrite, Throttled,
        (status = 200, body = Member),
        (status = 401, description = "unauthenticated, or invalid_credentials: wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden: admins only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such member in your organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_admin, or conflict: another change came first", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn change_role(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ApiJson(request): ApiJson<RoleChange>,
) -> Result<Json<Member>, ApiError> {
    auth.require_admin()?;
    let acting = (auth.user_id.as_str(), auth.organisation_id.as_str());
    let member = membership::change_role(&platform, acting, &request.current_password, &user_id, request.role).await?;
    Ok(Json(Member {
        user_id: member.user_id,
        email: member.email,
        role: member.role,
        created_at: time(member.created_at),
    }))
}

/// Removes a member (admins only, with their password): their account is erased and they are
/// told by e-mail. Not yourself (cancel your account instead), never the last admin.
#[utoipa::path(delete, path = "/v1/organisations/current/members/{user_id}", tag = "organisations",
    params(("user_id" = String, Path)), request_body = PasswordConfirmation,
    responses(JsonBody, SessionWrite, Throttled,
        (status = 204, description = "removed and erased"),
        (status = 401, description = "unauthenticated, or invalid_credentials: wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden: admins only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such member in your organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "self_removal, last_admin, or conflict: another change came first", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn remove_member(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ApiJson(request): ApiJson<PasswordConfirmation>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    let acting = (auth.user_id.as_str(), auth.organisation_id.as_str());
    membership::remove_member(&platform, acting, &request.password, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingInvitationView {
    /// Names the invitation (to revoke it); it cannot be used to accept it.
    pub id: String,
    pub email: String,
    pub role: Role,
    pub expires_at: String,
}

impl From<PendingInvitation> for PendingInvitationView {
    fn from(i: PendingInvitation) -> Self {
        Self { id: i.id, email: i.email, role: i.role, expires_at: time(i.expires_at) }
    }
}

/// The organisation's invitations not yet accepted nor expired (admins only).
#[utoipa::path(get, path = "/v1/organisations/current/invitations", tag = "organisations", params(ListParams),
    responses(Query, Session,
        (status = 200, body = Paginated<PendingInvitationView>),
        (status = 403, description = "forbidden: admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
pub async fn list_invitations(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<PendingInvitationView>>, ApiError> {
    auth.require_admin()?;
    let (invitations, cursor) =
        membership::invitations_page(&platform, &auth.organisation_id, params.limit()?, params.cursor.clone()).await?;
    Ok(Json(Paginated { items: invitations.into_iter().map(Into::into).collect(), cursor }))
}

/// Revokes a pending invitation (admins only): its link stops working at once.
#[utoipa::path(delete, path = "/v1/organisations/current/invitations/{id}", tag = "organisations",
    params(("id" = String, Path)),
    responses(SessionWrite,
        (status = 204, description = "revoked"),
        (status = 403, description = "forbidden: admins only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such pending invitation in your organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn revoke_invitation(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    membership::revoke_invitation(&platform, (&auth.user_id, &auth.organisation_id), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One change of the organisation's membership: ids and roles only.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipEventView {
    pub id: String,
    pub at: String,
    /// The admin's user id.
    pub by: String,
    pub action: MembershipAction,
    /// The member's user id, or the invitation's id.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_role: Option<Role>,
}

impl From<MembershipEvent> for MembershipEventView {
    fn from(e: MembershipEvent) -> Self {
        Self {
            id: e.id,
            at: time(e.at),
            by: e.by,
            action: e.action,
            subject: e.subject,
            from_role: e.from_role,
            to_role: e.to_role,
        }
    }
}

/// The history of role changes, removals and revoked invitations, newest first (admins only).
#[utoipa::path(get, path = "/v1/organisations/current/membership-history", tag = "organisations", operation_id = "membership_history", params(ListParams),
    responses(Query, Session,
        (status = 200, body = Paginated<MembershipEventView>),
        (status = 403, description = "forbidden: admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
pub async fn history(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<MembershipEventView>>, ApiError> {
    auth.require_admin()?;
    let (events, cursor) =
        membership::history_page(&platform, &auth.organisation_id, params.limit()?, params.cursor.clone()).await?;
    Ok(Json(Paginated { items: events.into_iter().map(Into::into).collect(), cursor }))
}
