//! The prologue of every page form post: the form parsed and its CSRF token checked, then who
//! is signed in. The API's extractor wants an `X-CSRF-Token` header that a form cannot send, so
//! these posts check the form's own token instead.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use shared::Platform;
use shared::erasure::fence;
use shared::session::{self, SessionRecord};
use shared::store::StoreError;

use crate::csrf;
use crate::i18n::cookie;
use crate::pages::{failed, form_expired};

/// A page's form: it carries the CSRF token in its field `csrf` (`csrf::CSRF_FIELD`).
pub(crate) trait PageForm {
    fn csrf(&self) -> &str;
}

/// Implements [`PageForm`] for forms whose token is their field `csrf`.
macro_rules! page_forms {
    ($($form:ty),* $(,)?) => {
        $(impl $crate::signed_in::PageForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}
pub(crate) use page_forms;

/// The posted form, if it parsed and its token is this browser's; otherwise the "form expired"
/// page, which leads back to `back`.
pub(crate) fn checked<F: PageForm>(
    platform: &Platform,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    back: &str,
) -> Result<F, Box<Response>> {
    form.ok()
        .map(|Form(f)| f)
        .filter(|f| csrf::verify(headers, &platform.settings.signing_key, f.csrf()))
        .ok_or_else(|| Box::new(form_expired(platform, headers, back)))
}

/// [`checked`], then the session of the cookie (`None` when signed out). The token comes first:
/// a post from another site never reaches the session.
pub(crate) async fn signed_in_post<F: PageForm>(
    platform: &Platform,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    back: &str,
) -> Result<(F, Option<SessionRecord>), Response> {
    let form = checked(platform, headers, form, back).map_err(|expired| *expired)?;
    match session_of(platform, headers).await {
        Ok(session) => Ok((form, session)),
        Err(err) => Err(failed(platform, headers, &err)),
    }
}

/// The session of the cookie, if it is still valid and neither its user nor its organisation
/// is being erased (as the API's `AuthUser`: the fence stands before the job deletes any
/// session, and every page post writes about one of them).
pub(crate) async fn session_of(platform: &Platform, headers: &HeaderMap) -> Result<Option<SessionRecord>, StoreError> {
    let Some(hash) = cookie(headers, session::COOKIE_NAME).and_then(|token| shared::tokens::hash(&token)) else {
        return Ok(None);
    };
    let Some(item) = platform.store.get(&shared::keys::session(&hash)).await? else { return Ok(None) };
    let record: SessionRecord = item.data()?;
    if platform.clock.epoch_seconds() >= record.absolute_expires_at {
        return Ok(None);
    }
    let fenced = fence::any(platform, &[&record.user_id, &record.organisation_id]).await?;
    Ok(fenced.is_none().then_some(record))
}
