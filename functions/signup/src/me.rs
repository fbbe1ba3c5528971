//! The signed-in user's own account: read, correct, cancel.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::clock::rfc3339_from_epoch as time;
use shared::domain::{EmailAddress, NewPassword, Region, Role};
use shared::erasure::{self, Retained, Subject};
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::session::{self, AuthUser};
use shared::store::{Condition, Index, Query, StoreError, Update, query_all};
use shared::throttle::LOGIN_PER_ACCOUNT;
use shared::{keys, mail, tokens};
use utoipa::ToSchema;

use crate::emails;
use crate::passwords;
use crate::records::{OrganisationRecord, TokenKind, TokenRecord, UserRecord, VERIFICATION_TTL_SECONDS};

/// The account, if it still exists.
pub async fn find_user(platform: &Platform, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
    match platform.store.get(&UserRecord::key(user_id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// The caller's account; 401 if it was erased while the session lived on.
pub async fn load_user(platform: &Platform, user_id: &str) -> Result<UserRecord, ApiError> {
    find_user(platform, user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Sign in: the account no longer exists."))
}

pub(crate) async fn load_organisation(
    platform: &Platform,
    organisation_id: &str,
) -> Result<OrganisationRecord, ApiError> {
    match platform.store.get(&OrganisationRecord::key(organisation_id)).await? {
        Some(item) => Ok(item.data()?),
        None => Err(ApiError::not_found("The organisation no longer exists.")),
    }
}

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
#[utoipa::path(get, path = "/v1/me", tag = "accounts", responses((status = 200, body = Me), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn get_me(State(platform): State<Platform>, auth: AuthUser) -> Result<Json<Me>, ApiError> {
    let user = load_user(&platform, &auth.user_id).await?;
    let organisation = load_organisation(&platform, &auth.organisation_id).await?;
    Ok(Json(Me {
        user_id: user.user_id,
        email: user.email,
        role: user.role,
        email_verified: user.email_verified,
        created_at: time(user.created_at),
        last_active_at: user.last_active_at.map(time),
        organisation: OrganisationSummary {
            id: organisation.organisation_id,
            name: organisation.name,
            region: organisation.region,
        },
    }))
}

/// Either a new e-mail address, or the current and a new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    pub email: Option<String>,
    pub current_password: Option<String>,
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
    responses(
        (status = 200, body = CorrectionAccepted),
        (status = 401, description = "invalid_credentials: the current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn correct_me(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<CorrectionRequest>,
) -> Result<Json<CorrectionAccepted>, ApiError> {
    let user = load_user(&platform, &auth.user_id).await?;
    match request {
        CorrectionRequest { email: Some(email), current_password: None, new_password: None } => {
            let new = EmailAddress::parse(&email)?;
            start_email_change(&platform, &user, &new).await?;
            Ok(Json(CorrectionAccepted { status: "verification_sent" }))
        }
        CorrectionRequest { email: None, current_password: Some(current), new_password: Some(new) } => {
            confirm_password(&platform, &user, &current).await?;
            let email = EmailAddress::parse(&user.email)?;
            let new = NewPassword::parse(&new, Some(&email))?;
            let password_hash = passwords::hash(new.expose()).await?;
            platform
                .store
                .update(
                    &UserRecord::key(&user.user_id),
                    "user",
                    Update::new().set("password_hash", password_hash),
                    Some(Condition::Exists),
                )
                .await?;
            session::revoke_all(platform.store.as_ref(), &user.user_id, Some(&auth.session_hash)).await?;
            mail::enqueue(platform.queue.as_ref(), vec![emails::password_changed(&user.email)]).await?;
            Ok(Json(CorrectionAccepted { status: "password_changed" }))
        }
        _ => Err(ApiError::unprocessable(
            "invalid_body",
            "Send either {\"email\"} or {\"current_password\", \"new_password\"}.",
        )),
    }
}

/// Starts replacing the account's address: the new one must be confirmed by the link mailed
/// to it; the old one is told. Shared with correction requests (the rights function).
pub async fn start_email_change(platform: &Platform, user: &UserRecord, new: &EmailAddress) -> Result<(), ApiError> {
    if new.canonical() == user.email_canonical {
        return Err(ApiError::unprocessable("invalid_email", "That is already the account's address."));
    }
    let token = tokens::generate();
    let token_hash = keys::sha256_hex(token.as_bytes());
    let record = TokenRecord {
        kind: TokenKind::ChangeEmail,
        organisation_id: user.organisation_id.clone(),
        user_id: Some(user.user_id.clone()),
        email: Some(new.as_str().to_owned()),
        role: None,
    };
    let expires_at = platform.clock.epoch_seconds() + VERIFICATION_TTL_SECONDS;
    platform.store.put(record.item(&token_hash, expires_at)?, Some(Condition::NotExists)).await?;
    let notices = vec![
        emails::confirm_new_address(&platform.settings, new.as_str(), &token),
        emails::address_change_requested(&user.email),
    ];
    mail::enqueue(platform.queue.as_ref(), notices).await?;
    Ok(())
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

/// Re-checks the password before an irreversible act.
pub(crate) async fn confirm_password(platform: &Platform, user: &UserRecord, password: &str) -> Result<(), ApiError> {
    LOGIN_PER_ACCOUNT.check(platform, &user.email_canonical).await?;
    if passwords::verify(password, Some(&user.password_hash)).await? {
        Ok(())
    } else {
        LOGIN_PER_ACCOUNT.record_failure(platform, &user.email_canonical).await?;
        Err(crate::sessions::invalid_credentials())
    }
}

/// Cancels the account: everything about the user is erased now, but what the law requires
/// us to keep. Every session ends. The last admin of an organisation with other members
/// must cancel the organisation instead; a sole member's organisation goes with them.
#[utoipa::path(delete, path = "/v1/me", tag = "accounts", request_body = PasswordConfirmation,
    responses(
        (status = 200, body = Cancelled),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn cancel_me(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(request): ApiJson<PasswordConfirmation>,
) -> Result<Json<Cancelled>, ApiError> {
    let user = load_user(&platform, &auth.user_id).await?;
    confirm_password(&platform, &user, &request.password).await?;
    let report = erase_account(&platform, &user).await?;
    Ok(Json(Cancelled { erased: true, retained: report.retained }))
}

/// Erases an account: the whole organisation with it when it is the last member; refused
/// (409 `last_admin`) for the only admin of an organisation that has other members.
pub async fn erase_account(platform: &Platform, user: &UserRecord) -> Result<erasure::ErasureReport, ApiError> {
    refuse_last_admin(platform, user).await?;
    let pending = if is_last_member(platform, user).await? {
        erasure::Pending::Organisation { organisation_id: user.organisation_id.clone() }
    } else {
        let subject = Subject { user_id: user.user_id.clone(), canonical_email: user.email_canonical.clone() };
        erasure::Pending::Subject { subject }
    };
    erasure::erase_journaled(platform, pending).await.map_err(ApiError::internal)
}

async fn other_members(platform: &Platform, user: &UserRecord) -> Result<Vec<UserRecord>, ApiError> {
    let members = query_all(
        platform.store.as_ref(),
        Query::index(Index::Gsi1, keys::organisation_members(&user.organisation_id)).limit(1_000),
    )
    .await?;
    Ok(members
        .iter()
        .map(|m| m.data::<UserRecord>())
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|m| m.user_id != user.user_id)
        .collect())
}

async fn is_last_member(platform: &Platform, user: &UserRecord) -> Result<bool, ApiError> {
    Ok(other_members(platform, user).await?.is_empty())
}

/// The erasure of the only admin would leave the other members without anyone to act for
/// the organisation.
pub async fn refuse_last_admin(platform: &Platform, user: &UserRecord) -> Result<(), ApiError> {
    let others = other_members(platform, user).await?;
    if user.role == Role::Admin && !others.is_empty() && !others.iter().any(|m| m.role == Role::Admin) {
        return Err(ApiError::conflict(
            "last_admin",
            "You are the organisation's only admin: invite another admin first, or cancel the organisation.",
        ));
    }
    Ok(())
}
