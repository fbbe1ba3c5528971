//! Sessions: opaque 256-bit tokens, stored only as SHA-256 hashes with a time to live, sent
//! back as the `__Host-infentre_session` cookie or as a Bearer token.
//!
//! Authenticating a request costs one store read. The session's idle expiry slides at most
//! every five minutes, and the user's `last_active_at` is written at most once an hour (a
//! conditional update), so busy users do not turn reads into writes.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::domain::Role;
use crate::error::ApiError;
use crate::keys;
use crate::store::{
    BatchOp, Condition, Index, IndexKey, Item, Key, Query, SortKey, Store, StoreError, Update, query_all,
};
use crate::tokens;

pub const COOKIE_NAME: &str = "__Host-infentre_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without use...
pub const IDLE_TIMEOUT_SECONDS: i64 = 2 * 3600;
/// ...and after this long in any case.
pub const ABSOLUTE_TIMEOUT_SECONDS: i64 = 12 * 3600;
const REFRESH_EVERY_SECONDS: i64 = 5 * 60;
const ACTIVITY_EVERY_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user_id: String,
    pub organisation_id: String,
    pub role: Role,
    pub operator: bool,
    pub csrf_hash: String,
    pub created_at: i64,
    pub absolute_expires_at: i64,
    pub refreshed_at: i64,
}

/// What the client gets once, at login.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub async fn create(
    platform: &Platform,
    user_id: &str,
    organisation_id: &str,
    role: Role,
    operator: bool,
) -> Result<NewSession, StoreError> {
    let now = platform.clock.epoch_seconds();
    let token = tokens::generate();
    let csrf_token = tokens::generate();
    let token_hash = keys::sha256_hex(token.as_bytes());
    let record = SessionRecord {
        user_id: user_id.to_owned(),
        organisation_id: organisation_id.to_owned(),
        role,
        operator,
        csrf_hash: keys::sha256_hex(csrf_token.as_bytes()),
        created_at: now,
        absolute_expires_at: now + ABSOLUTE_TIMEOUT_SECONDS,
        refreshed_at: now,
    };
    let expires_at = now + IDLE_TIMEOUT_SECONDS;
    let (pk, sk) = keys::session(&token_hash);
    let item = Item::new(Key::new(pk, sk), "session")
        .with_data(&record)?
        .with_index(Index::Gsi1, IndexKey::new(keys::subject_index(user_id), format!("SESSION#{token_hash}")))
        .expires_at(expires_at);
    platform.store.put(item, Some(Condition::NotExists)).await?;
    Ok(NewSession { token, csrf_token, expires_at })
}

/// Ends one session.
pub async fn revoke(store: &dyn Store, session_hash: &str) -> Result<(), StoreError> {
    let (pk, sk) = keys::session(session_hash);
    store.delete(&Key::new(pk, sk), None).await.map(|_| ())
}

/// Ends every session of a user but `keep` (the one changing the password, say).
pub async fn revoke_all(store: &dyn Store, user_id: &str, keep: Option<&str>) -> Result<usize, StoreError> {
    let query = Query::index(Index::Gsi1, keys::subject_index(user_id)).sort(SortKey::BeginsWith("SESSION#".into()));
    let sessions = query_all(store, query).await?;
    let keep = keep.map(|hash| keys::session(hash).0);
    let deletes: Vec<BatchOp> =
        sessions.into_iter().filter(|s| Some(&s.key.pk) != keep.as_ref()).map(|s| BatchOp::Delete(s.key)).collect();
    let count = deletes.len();
    store.batch_write(deletes).await?;
    Ok(count)
}

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

    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.operator { Ok(()) } else { Err(ApiError::forbidden("Only operators may do this.")) }
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

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let platform = Platform::from_ref(state);
        let (token, via_cookie) = presented_token(parts).ok_or_else(unauthenticated)?;
        let session_hash = tokens::hash(&token).ok_or_else(unauthenticated)?;
        let (pk, sk) = keys::session(&session_hash);
        let key = Key::new(pk, sk);
        let item = platform.store.get(&key).await?.ok_or_else(unauthenticated)?;
        let session: SessionRecord = item.data()?;
        let now = platform.clock.epoch_seconds();
        if now >= session.absolute_expires_at {
            return Err(unauthenticated());
        }
        let safe_method = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe_method {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let matches = keys::sha256_hex(presented.as_bytes()) == session.csrf_hash;
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
    note_activity(store, &session.user_id, now).await.map_err(Into::into)
}

/// Notes that the user was active (a login, or requests): written at most once an hour.
pub async fn note_activity(store: &dyn Store, user_id: &str, now: i64) -> Result<(), StoreError> {
    let (pk, sk) = keys::user(user_id);
    let stale = Condition::And(vec![
        Condition::Exists,
        Condition::Or(vec![
            Condition::AttributeNotExists("last_active_at".into()),
            Condition::less_than("last_active_at", now - ACTIVITY_EVERY_SECONDS + 1),
        ]),
    ]);
    // Filed by the day of activity too: the reminder job finds who went quiet on a day.
    let day = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().date_naive();
    let (index_pk, index_sk) = keys::activity(day, user_id);
    let update = Update::new()
        .set("last_active_at", now)
        .index(crate::store::Index::Gsi3, Some(crate::store::IndexKey::new(index_pk, index_sk)));
    match store.update(&Key::new(pk, sk), "user", update, Some(stale)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failed() => Ok(()),
        Err(err) => Err(err),
    }
}
