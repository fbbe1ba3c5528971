//! The caller's organisation: read, members, invitations, cancellation. Every path acts on
//! the organisation of the session, never on one named by the client: no request can reach
//! another organisation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::clock::rfc3339_from_epoch as time;
use shared::domain::{EmailAddress, ListParams, NewPassword, Paginated, Region, Role};
use shared::erasure;
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery};
use shared::session::AuthUser;
use shared::store::{Condition, Index, Query, StoreError, TransactOp};
use shared::{keys, mail, tokens};
use utoipa::ToSchema;

use crate::accounts::{invalid_token, load_token};
use crate::emails;
use crate::me::{Cancelled, PasswordConfirmation, confirm_password, load_organisation, load_user};
use crate::passwords;
use crate::records::{EmailClaim, INVITATION_TTL_SECONDS, TokenKind, TokenRecord, UserRecord};

#[derive(Debug, Serialize, ToSchema)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub region: Region,
    pub created_at: String,
}

/// The caller's organisation.
#[utoipa::path(get, path = "/v1/organisations/current", tag = "organisations", responses((status = 200, body = Organisation)),
    security(("session" = []), ("bearer" = [])))]
pub async fn get_organisation(
    State(platform): State<Platform>,
    auth: AuthUser,
) -> Result<Json<Organisation>, ApiError> {
    let organisation = load_organisation(&platform, &auth.organisation_id).await?;
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
    responses((status = 200, body = Paginated<Member>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list_members(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<Member>>, ApiError> {
    auth.require_admin()?;
    let query = Query::index(Index::Gsi1, keys::organisation_members(&auth.organisation_id))
        .limit(params.limit()?)
        .cursor(params.cursor.clone());
    let page = platform.store.query(query).await?;
    let items = page
        .items
        .iter()
        .map(|item| {
            let user: UserRecord = item.data()?;
            Ok(Member { user_id: user.user_id, email: user.email, role: user.role, created_at: time(user.created_at) })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Json(Paginated { items, cursor: page.cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
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
    responses((status = 201, body = Invitation), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn invite(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<InvitationRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    auth.require_admin()?;
    let email = EmailAddress::parse(&request.email)?;
    let organisation = load_organisation(&platform, &auth.organisation_id).await?;
    let token = tokens::generate();
    let token_hash = keys::sha256_hex(token.as_bytes());
    let expires_at = platform.clock.epoch_seconds() + INVITATION_TTL_SECONDS;
    let record = TokenRecord {
        kind: TokenKind::Invitation,
        organisation_id: auth.organisation_id.clone(),
        user_id: None,
        email: Some(email.as_str().to_owned()),
        role: Some(request.role),
    };
    platform.store.put(record.item(&token_hash, expires_at)?, Some(Condition::NotExists)).await?;
    let message = emails::invitation(&platform.settings, email.as_str(), &organisation.name, &token);
    mail::enqueue(platform.queue.as_ref(), vec![message]).await?;
    Ok((
        StatusCode::CREATED,
        Json(Invitation { email: email.as_str().to_owned(), role: request.role, expires_at: time(expires_at) }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    pub token: String,
    /// 12 to 128 characters, not the e-mail address.
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
    responses(
        (status = 201, body = Joined),
        (status = 400, description = "invalid_token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken: the address already has an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn accept_invitation(
    State(platform): State<Platform>,
    ApiJson(request): ApiJson<AcceptRequest>,
) -> Result<(StatusCode, Json<Joined>), ApiError> {
    let (token_hash, invitation) = load_token(&platform, &request.token, &[TokenKind::Invitation]).await?;
    let email = EmailAddress::parse(invitation.email.as_deref().unwrap_or_default()).map_err(|_| invalid_token())?;
    let role = invitation.role.ok_or_else(invalid_token)?;
    let password = NewPassword::parse(&request.password, Some(&email))?;
    let password_hash = passwords::hash(password.expose()).await?;
    let user = UserRecord {
        user_id: ulid::Ulid::new().to_string(),
        organisation_id: invitation.organisation_id.clone(),
        email: email.as_str().to_owned(),
        email_canonical: email.canonical().to_owned(),
        role,
        email_verified: true,
        password_hash,
        created_at: platform.clock.epoch_seconds(),
        last_active_at: None,
    };
    let claim = EmailClaim { user_id: user.user_id.clone() };
    let ops = vec![
        TransactOp::Delete { key: TokenRecord::key(&token_hash), condition: Some(Condition::Exists) },
        TransactOp::Put { item: claim.item(email.canonical())?, condition: Some(Condition::NotExists) },
        TransactOp::Put { item: user.item()?, condition: Some(Condition::NotExists) },
        TransactOp::Check {
            key: crate::records::OrganisationRecord::key(&invitation.organisation_id),
            condition: Condition::Exists,
        },
    ];
    match platform.store.transact(ops).await {
        Ok(()) => {
            Ok((StatusCode::CREATED, Json(Joined { user_id: user.user_id, organisation_id: user.organisation_id })))
        }
        Err(StoreError::ConditionFailed { operation: Some(1) }) => {
            Err(ApiError::conflict("email_taken", "This address already has an Infentre account."))
        }
        Err(StoreError::ConditionFailed { .. }) => Err(invalid_token()),
        Err(err) => Err(err.into()),
    }
}

/// Cancels the whole organisation (admins only): every member is erased as by their own
/// cancellation, then its invitations and the organisation itself.
#[utoipa::path(delete, path = "/v1/organisations/current", tag = "organisations", request_body = PasswordConfirmation,
    responses((status = 200, body = Cancelled), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn cancel_organisation(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<PasswordConfirmation>,
) -> Result<Json<Cancelled>, ApiError> {
    auth.require_admin()?;
    let user = load_user(&platform, &auth.user_id).await?;
    confirm_password(&platform, &user, &request.password).await?;
    let pending = erasure::Pending::Organisation { organisation_id: auth.organisation_id.clone() };
    let report = erasure::erase_journaled(&platform, pending).await.map_err(ApiError::internal)?;
    Ok(Json(Cancelled { erased: true, retained: report.retained }))
}
