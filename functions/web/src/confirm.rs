//! The confirmation link mailed in answer to an e-mail to hello@ (`shared::cases::confirm`).
//! As every link page: the GET shows what will happen and one button (mail scanners prefetch
//! links and must not use them up); the button's POST carries it out. Works without JavaScript.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::Platform;
use shared::cases::confirm::{self, ConfirmError};
use shared::cases::{CaseKind, emails};

use crate::i18n;
use crate::links::{TokenForm, TokenQuery, link_page, outcome};
use crate::pages::failed;
use crate::signed_in::checked;

fn dead_link(platform: &Platform, headers: &HeaderMap) -> Response {
    let next = ("/privacy/contact", "link-contact");
    outcome(platform, headers, StatusCode::GONE, ("link-invalid-title", "confirm-request-invalid"), next)
}

pub async fn page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else { return dead_link(&platform, &headers) };
    let preview = match confirm::preview(&platform, &query.token).await {
        Ok(preview) => preview,
        Err(ConfirmError::InvalidLink) => return dead_link(&platform, &headers),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let lang = i18n::negotiate(&headers);
    let received = shared::clock::rfc3339_from_epoch(preview.case.received_at).chars().take(10).collect::<String>();
    let intro = i18n::catalog(lang).t1("confirm-request-text", "received", &received);
    let text = format!("{intro} {}.", emails::action(lang, preview.case.kind));
    let page = ("/confirm-request", "confirm-request-title", "confirm-request-button");
    link_page(&platform, &headers, StatusCode::OK, page, text, query.token, false, None)
}

pub async fn confirm(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, "/") {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    match confirm::confirm(&platform, &form.token).await {
        Ok(done) => {
            let text =
                if done.kind == CaseKind::WithdrawConsent { "confirmed-withdrawal" } else { "confirmed-request" };
            outcome(&platform, &headers, StatusCode::OK, ("confirmed-title", text), ("/account", "link-privacy-center"))
        }
        Err(ConfirmError::InvalidLink) => dead_link(&platform, &headers),
        Err(ConfirmError::AccountGone | ConfirmError::Refused(_)) => outcome(
            &platform,
            &headers,
            StatusCode::CONFLICT,
            ("confirm-refused-title", "confirm-refused-text"),
            ("/privacy/contact", "link-contact"),
        ),
        Err(err) => failed(&platform, &headers, &err),
    }
}
