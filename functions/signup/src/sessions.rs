//! Login and logout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::domain::{EmailAddress, Role};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ClientAddress};
use shared::session::{self, AuthUser};
use shared::throttle::{LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS};
use utoipa::ToSchema;

use crate::passwords;
use crate::records::{EmailClaim, UserRecord};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    /// The session token (also set as the `__Host-infentre_session` cookie).
    pub token: String,
    /// Send as `X-CSRF-Token` with unsafe requests authenticated by the cookie.
    pub csrf_token: String,
    pub user_id: String,
    pub organisation_id: String,
    pub role: Role,
    pub expires_at: String,
}

pub(crate) fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "The e-mail address or password is wrong, or the address is not verified yet.",
    )
}

/// The user behind an address, if any, checked against a password in constant work: an
/// unknown address costs one argon2 verification, like a known one.
pub(crate) async fn check_password(
    platform: &Platform,
    email: &EmailAddress,
    password: &str,
) -> Result<Option<UserRecord>, ApiError> {
    let user = match platform.store.get(&EmailClaim::key(email.canonical())).await? {
        Some(claim) => {
            let claim: EmailClaim = claim.data()?;
            match platform.store.get(&UserRecord::key(&claim.user_id)).await? {
                Some(item) => Some(item.data::<UserRecord>()?),
                None => None,
            }
        }
        None => None,
    };
    let matches = passwords::verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
    Ok(user.filter(|_| matches))
}

/// Signs in. Unknown address, wrong password and unverified account give the same 401.
#[utoipa::path(post, path = "/v1/sessions", tag = "accounts", request_body = LoginRequest,
    responses(
        (status = 201, body = SessionCreated, headers(("Set-Cookie" = String, description = "__Host-infentre_session; HttpOnly; Secure; SameSite=Lax"))),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited, with Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(platform): State<Platform>,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let address = client.map_or_else(|| "unknown".to_owned(), |c| c.0.0.to_string());
    LOGIN_PER_ADDRESS.check(&platform, &address).await?;
    let Ok(email) = EmailAddress::parse(&request.email) else {
        // Not an address at all: still a wrong login, and just as slow.
        passwords::verify(&request.password, None).await?;
        LOGIN_PER_ADDRESS.record_failure(&platform, &address).await?;
        return Err(invalid_credentials());
    };
    LOGIN_PER_ACCOUNT.check(&platform, email.canonical()).await?;

    let user = check_password(&platform, &email, &request.password).await?;
    let Some(user) = user.filter(|u| u.email_verified) else {
        LOGIN_PER_ACCOUNT.record_failure(&platform, email.canonical()).await?;
        LOGIN_PER_ADDRESS.record_failure(&platform, &address).await?;
        return Err(invalid_credentials());
    };
    LOGIN_PER_ACCOUNT.clear(&platform, email.canonical()).await?;

    let operator = platform.settings.operators.iter().any(|o| o == &user.email_canonical);
    let created = session::create(&platform, &user.user_id, &user.organisation_id, user.role, operator).await?;
    session::note_activity(platform.store.as_ref(), &user.user_id, platform.clock.epoch_seconds()).await?;
    let expires_at =
        chrono::DateTime::from_timestamp(created.expires_at, 0).map(shared::clock::rfc3339).unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session::cookie(&created.token));
    let body = SessionCreated {
        token: created.token,
        csrf_token: created.csrf_token,
        user_id: user.user_id,
        organisation_id: user.organisation_id,
        role: user.role,
        expires_at,
    };
    Ok((StatusCode::CREATED, headers, Json(body)))
}

/// Signs out: the session ends now.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "accounts",
    responses((status = 204, description = "Signed out"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn logout(State(platform): State<Platform>, user: AuthUser) -> Result<impl IntoResponse, ApiError> {
    session::revoke(platform.store.as_ref(), &user.session_hash).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, session::clear_cookie())]))
}
