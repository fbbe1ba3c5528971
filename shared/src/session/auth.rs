//! The HTTP side of sessions: the `Set-Cookie` values and the [`AuthUser`] extractor that
//! authenticates a request (cookie with CSRF token, or Bearer) in one store read.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};

use super::{ABSOLUTE_TIMEOUT_SECONDS, COOKIE_NAME, CSRF_HEADER, IDLE_TIMEOUT_SECONDS, SessionRecord};
use crate::Platform;
use crate::domain::Role;
use crate::erasure::fence;
use crate::error::ApiError;
use crate::keys;
use crate::store::{Condition, Key, Store, Update};
use crate::tokens;

/// The idle expiry slides at most this often, so busy users do not turn reads into writes.
const REFRESH_EVERY_SECONDS: i64 = 5 * 60;

/// `Set-Cookie` for a new session.
pub fn cookie(token: &str) -> HeaderValue {
    let value =
        format!("{COOKIE_NAME}={token}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={ABSOLUTE_TIMEOUT_SECONDS}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-infentre_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0")
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub organisation_id: String,
    pub role: Role,
    /// The DPO and staff (granted by configuration).
    pub operator: bool,
    /// The hash of the session token (to end this session).
    pub session_hash: String,
}

impl AuthUser {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::forbidden("Only an admin of the organisation may do this.")),
        }
    }

    /// Operators are the allow-list in the settings (`INFENTRE_OPERATORS`), checked again on
    /// every operator request against the account as it is now (verified, with an address on
    /// the list), never only against the flag a session got at login: a removal from the list
    /// or a change of address counts at once.
    pub async fn require_operator(&self, platform: &Platform) -> Result<(), ApiError> {
        if self.is_operator_now(platform).await? {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only operators may do this."))
        }
    }

    /// Whether the caller is an operator now (see [`AuthUser::require_operator`]).
    pub async fn is_operator_now(&self, platform: &Platform) -> Result<bool, ApiError> {
        if !self.operator {
            return Ok(false);
        }
        Ok(crate::accounts::is_operator(platform, &self.user_id).await?)
    }
}

impl AuthUser {
    /// The caller as the rights decisions take them; operator rights checked against the
    /// account as it is now (see [`AuthUser::require_operator`]), not only the session's flag.
    pub async fn actor(&self, platform: &Platform) -> Result<crate::rights::decisions::Actor, ApiError> {
        Ok(crate::rights::decisions::Actor {
            user_id: self.user_id.clone(),
            organisation_id: self.organisation_id.clone(),
            role: self.role,
            operator: self.is_operator_now(platform).await?,
        })
    }
}

fn unauthenticated() -> ApiError {
    ApiError::unauthorized("unauthenticated", "Sign in: the session is missing, invalid or expired.")
}

/// The token and whether it came in the cookie.
fn presented_token(parts: &Parts) -> Option<(String, bool)> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), false));
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| (value.to_owned(), true))
}

impl<S> FromRequestParts<S> for AuthUser
where
    Platform: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// A live session of a user and organisation that are not being erased: the fence stands
    /// from the instant an erasure starts, before the job deletes any session.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let platform = Platform::from_ref(state);
        let auth = authenticate(parts, &platform).await?;
        if fence::any(&platform, &[&auth.user_id, &auth.organisation_id]).await?.is_some() {
            return Err(unauthenticated());
        }
        Ok(auth)
    }
}

/// A live session even if its user or organisation is being erased: only for the
/// cancellation endpoints, which then answer with the erasure under way.
#[derive(Debug, Clone)]
pub struct SessionEvenIfErasing(pub AuthUser);

impl<S> FromRequestParts<S> for SessionEvenIfErasing
where
    Platform: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(SessionEvenIfErasing(authenticate(parts, &Platform::from_ref(state)).await?))
    }
}

async fn authenticate(parts: &Parts, platform: &Platform) -> Result<AuthUser, ApiError> {
    {
        let (token, via_cookie) = presented_token(parts).ok_or_else(unauthenticated)?;
        let session_hash = tokens::hash(&token).ok_or_else(unauthenticated)?;
        let key = keys::session(&session_hash);
        let item = platform.store.get(&key).await?.ok_or_else(unauthenticated)?;
        let session: SessionRecord = item.data()?;
        let now = platform.clock.epoch_seconds();
        if now >= session.absolute_expires_at {
            return Err(unauthenticated());
        }
        let safe_method = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe_method {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let matches = crate::hash::sha256_hex(presented.as_bytes()) == session.csrf_hash;
            if presented.is_empty() || !matches {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "csrf_token_invalid",
                    "A request authenticated by cookie must carry the X-CSRF-Token from login.",
                ));
            }
        }
        if now - session.refreshed_at >= REFRESH_EVERY_SECONDS {
            record_activity(platform.store.as_ref(), &key, &session, now).await?;
        }
        Ok(AuthUser {
            user_id: session.user_id,
            organisation_id: session.organisation_id,
            role: session.role,
            operator: session.operator,
            session_hash,
        })
    }
}

/// Slides the idle expiry and notes the user's activity (at most hourly).
async fn record_activity(store: &dyn Store, key: &Key, session: &SessionRecord, now: i64) -> Result<(), ApiError> {
    let expires_at = (now + IDLE_TIMEOUT_SECONDS).min(session.absolute_expires_at);
    let slide = Update::new().set("refreshed_at", now).expires_at(Some(expires_at));
    match store.update(key, "session", slide, Some(Condition::Exists)).await {
        Ok(_) => {}
        Err(err) if err.is_condition_failed() => return Err(unauthenticated()),
        Err(err) => return Err(err.into()),
    }
    crate::accounts::records::note_activity(store, &session.user_id, now).await.map_err(Into::into)
}
