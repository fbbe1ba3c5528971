//! Login and logout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts::{self, SignedIn};
use shared::domain::Role;
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ClientAddress};
use shared::responses::{JsonBody, SessionWrite, Throttled, Unavailable};
use shared::session::{self, AuthUser};
use utoipa::ToSchema;

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
    /// Purposes given under an older version of the privacy notice that a new version asks
    /// about again: not in force until given again (`PUT /v1/me/consents/{purpose}`).
    pub ask_again: Vec<shared::consent::PurposeId>,
}

/// Signs in. Unknown address, wrong password and unverified account give the same 401.
#[utoipa::path(post, path = "/v1/sessions", tag = "accounts", request_body = LoginRequest,
    responses(JsonBody, Throttled, Unavailable,
        (status = 201, body = SessionCreated, headers(("Set-Cookie" = String, description = "__Host-infentre_session; HttpOnly; Secure; SameSite=Lax"))),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(platform): State<Platform>,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let client = client.map(|c| c.0.0);
    let SignedIn { user, session } = accounts::login(&platform, &request.email, &request.password, client).await?;
    let expires_at =
        chrono::DateTime::from_timestamp(session.expires_at, 0).map(shared::clock::rfc3339).unwrap_or_default();
    let ask_again =
        shared::consent::to_ask_again(platform.store.as_ref(), &user.user_id, &platform.settings.policy_version)
            .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session::cookie(&session.token));
    let body = SessionCreated {
        ask_again,
        token: session.token,
        csrf_token: session.csrf_token,
        user_id: user.user_id,
        organisation_id: user.organisation_id,
        role: user.role,
        expires_at,
    };
    Ok((StatusCode::CREATED, headers, Json(body)))
}

/// Signs out: the session ends now.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "accounts",
    responses(SessionWrite, (status = 204, description = "Signed out")),
    security(("session" = []), ("bearer" = [])))]
pub async fn logout(State(platform): State<Platform>, user: AuthUser) -> Result<impl IntoResponse, ApiError> {
    session::revoke(platform.store.as_ref(), &user.session_hash).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, session::clear_cookie())]))
}
