//! Sessions: opaque 256-bit tokens, stored only as SHA-256 hashes with a time to live, sent
//! back as the `__Host-infentre_session` cookie or as a Bearer token.
//!
//! Authenticating a request costs one store read. The session's idle expiry slides at most
//! every five minutes, and the user's `last_active_at` is written at most once an hour (a
//! conditional update), so busy users do not turn reads into writes.

#[cfg(feature = "http")]
mod auth;

#[cfg(feature = "http")]
pub use auth::{AuthUser, SessionEvenIfErasing, clear_cookie, cookie};
use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::domain::Role;
use crate::keys;
use crate::store::{BatchOp, Condition, Index, Item, Query, SortKey, Store, StoreError, query_all};
use crate::tokens;

pub const COOKIE_NAME: &str = "__Host-infentre_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without use...
pub const IDLE_TIMEOUT_SECONDS: i64 = 2 * 3600;
/// ...and after this long in any case.
pub const ABSOLUTE_TIMEOUT_SECONDS: i64 = 12 * 3600;

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
    let token_hash = crate::hash::sha256_hex(token.as_bytes());
    let record = SessionRecord {
        user_id: user_id.to_owned(),
        organisation_id: organisation_id.to_owned(),
        role,
        operator,
        csrf_hash: crate::hash::sha256_hex(csrf_token.as_bytes()),
        created_at: now,
        absolute_expires_at: now + ABSOLUTE_TIMEOUT_SECONDS,
        refreshed_at: now,
    };
    let expires_at = now + IDLE_TIMEOUT_SECONDS;
    let key = keys::session(&token_hash);
    let item = Item::new(key, "session")
        .with_data(&record)?
        .with_index(Index::Gsi1, keys::session_index(user_id, &token_hash))
        .expires_at(expires_at);
    // No session for a user or organisation being erased: the fence is checked atomically.
    crate::erasure::fence::put_unless_fenced(
        platform.store.as_ref(),
        item,
        Some(Condition::NotExists),
        &[user_id, organisation_id],
    )
    .await?;
    Ok(NewSession { token, csrf_token, expires_at })
}

/// Ends one session.
pub async fn revoke(store: &dyn Store, session_hash: &str) -> Result<(), StoreError> {
    let key = keys::session(session_hash);
    store.delete(&key, None).await.map(|_| ())
}

/// Ends every session of a user but `keep` (the one changing the password, say).
pub async fn revoke_all(store: &dyn Store, user_id: &str, keep: Option<&str>) -> Result<usize, StoreError> {
    let query = Query::index(Index::Gsi1, keys::subject_index(user_id))
        .sort(SortKey::BeginsWith(keys::SESSION_INDEX_PREFIX.into()));
    let sessions = query_all(store, query).await?;
    let keep = keep.map(|hash| keys::session(hash).pk);
    let deletes: Vec<BatchOp> =
        sessions.into_iter().filter(|s| Some(&s.key.pk) != keep.as_ref()).map(|s| BatchOp::Delete(s.key)).collect();
    let count = deletes.len();
    store.batch_write(deletes).await?;
    Ok(count)
}
