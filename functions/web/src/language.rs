//! The language switch of every page: remembers the choice in a cookie (and, signed in, on
//! the account, for the e-mails we send) and returns to the page.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::Platform;

use crate::i18n::{LANG_COOKIE, Lang};
use crate::pages::{failed, form_expired, secure};
use crate::signed_in::{page_forms, signed_in_post};

#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    csrf: String,
    lang: String,
    return_to: String,
}

page_forms!(LanguageForm);

/// Only a path on this site: never `//host` or an absolute URL (no open redirect).
fn local_path(path: &str) -> Option<&str> {
    let safe = path.starts_with('/') && !path.starts_with("//") && !path.contains(['\\', '\r', '\n']);
    safe.then_some(path)
}

/// The language switch: remembers the choice in a cookie and returns to the page.
pub async fn switch_language(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<LanguageForm>, FormRejection>,
) -> Response {
    let back = form.as_ref().ok().and_then(|Form(f)| local_path(&f.return_to)).unwrap_or("/").to_owned();
    let (form, session) = match signed_in_post(&platform, &headers, form, &back).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Some(lang) = Lang::from_code(&form.lang) else { return form_expired(&platform, &headers, &back) };
    // Signed in: the e-mails we send follow the choice too.
    if let Some(session) = session
        && let Err(err) = shared::accounts::set_language(&platform, &session.user_id, lang).await
    {
        return failed(&platform, &headers, &err);
    }
    let secure = if secure(&platform) { "; Secure" } else { "" };
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}", lang.code());
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_path("/privacy/cookies"), Some("/privacy/cookies"));
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "privacy", "/a\r\nSet-Cookie: x"] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}
