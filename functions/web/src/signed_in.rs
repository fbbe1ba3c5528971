//! Who is signed in, for the pages' form posts.

use axum::http::HeaderMap;
use shared::Platform;
use shared::session::{self, SessionRecord};
use shared::store::StoreError;

use crate::i18n::cookie;

/// The session of the cookie, for form posts: the API's extractor wants an `X-CSRF-Token`
/// header that a form cannot send, so these posts check the form's own token instead.
pub(crate) async fn session_of(platform: &Platform, headers: &HeaderMap) -> Result<Option<SessionRecord>, StoreError> {
    let Some(hash) = cookie(headers, session::COOKIE_NAME).and_then(|token| shared::tokens::hash(&token)) else {
        return Ok(None);
    };
    let Some(item) = platform.store.get(&shared::keys::session(&hash)).await? else { return Ok(None) };
    let record: SessionRecord = item.data()?;
    Ok((platform.clock.epoch_seconds() < record.absolute_expires_at).then_some(record))
}
