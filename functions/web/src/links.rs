//! The pages behind the links we e-mail: verify an address (a new account's or a changed
//! one), accept an invitation (set a password), unsubscribe. A GET only shows the page and
//! its one button; the change is the button's POST, because mail scanners prefetch links and
//! must not use them up. A used, expired or unknown link gets a page that says so and what to
//! do next.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shared::Platform;
use shared::accounts::{self, AccountError, TokenKind};
use shared::consent::PurposeId;

use crate::i18n::{catalog, negotiate};
use crate::pages::{Layout, failed, render, request};
use crate::signed_in::{checked, page_forms};

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub(crate) token: String,
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    csrf: String,
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) password: Option<String>,
}

/// A page with one form: the link's token, and for an invitation a new password.
#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    l: Layout,
    action: &'static str,
    token: String,
    text: String,
    button: String,
    password: bool,
    error: Option<String>,
}

pub(crate) use crate::pages::Outcome;

pub(crate) fn outcome(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    (title, text): (&str, &str),
    (next_href, next): (&'static str, &str),
) -> Response {
    let r = request(platform, headers, "/", title);
    let page = Outcome { text: r.layout.t(text), next: r.layout.t(next), next_href, l: r.layout };
    render(status, &page, r.set_cookie)
}

/// What a dead link's page says, per flow.
fn invalid_link(platform: &Platform, headers: &HeaderMap, text: &str) -> Response {
    outcome(platform, headers, StatusCode::GONE, ("link-invalid-title", text), ("/privacy/contact", "link-contact"))
}

/// A dead verification link: a new one can be asked for.
fn dead_verify_link(platform: &Platform, headers: &HeaderMap) -> Response {
    let next = ("/resend-verification", "resend-title");
    outcome(platform, headers, StatusCode::GONE, ("link-invalid-title", "verify-invalid"), next)
}

/// A link's page: `(action, title id, button id)`, its text, the token, and whether it asks
/// for a new password.
#[allow(clippy::too_many_arguments, reason = "one page, its parts named")]
pub(crate) fn link_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    (action, title, button): (&'static str, &str, &str),
    text: String,
    token: String,
    password: bool,
    error: Option<&str>,
) -> Response {
    let r = request(platform, headers, action, title);
    let button = r.layout.t(button);
    let error = error.map(|id| r.layout.t(id));
    let page = LinkPage { action, token, text, button, password, error, l: r.layout };
    render(status, &page, r.set_cookie)
}

page_forms!(TokenForm);

// ---- Verify an address -------------------------------------------------------------------

pub async fn verify_page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(TokenQuery { token })) = query else {
        return dead_verify_link(&platform, &headers);
    };
    let kind = match accounts::load_token(&platform, &token, &[TokenKind::VerifyEmail, TokenKind::ChangeEmail]).await {
        Ok((_, record)) => record.kind,
        Err(AccountError::InvalidToken) => return dead_verify_link(&platform, &headers),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let (title, text) = match kind {
        TokenKind::ChangeEmail => ("change-title", "change-text"),
        _ => ("verify-title", "verify-text"),
    };
    let text = catalog(negotiate(&headers)).t(text);
    link_page(&platform, &headers, StatusCode::OK, ("/verify-email", title, "verify-button"), text, token, false, None)
}

pub async fn verify(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, "/") {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    match accounts::verify_email(&platform, &form.token).await {
        Ok(_) => outcome(
            &platform,
            &headers,
            StatusCode::OK,
            ("verified-title", "verified-text"),
            ("/sign-in", "link-sign-in"),
        ),
        Err(AccountError::InvalidToken) => dead_verify_link(&platform, &headers),
        Err(AccountError::EmailTaken(_)) => outcome(
            &platform,
            &headers,
            StatusCode::CONFLICT,
            ("change-taken-title", "change-taken-text"),
            ("/privacy/contact", "link-contact"),
        ),
        Err(err) => failed(&platform, &headers, &err),
    }
}

// ---- Accept an invitation ----------------------------------------------------------------

pub async fn invitation_page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(TokenQuery { token })) = query else {
        return invalid_link(&platform, &headers, "invitation-invalid");
    };
    show_invitation(&platform, &headers, token, StatusCode::OK, None).await
}

/// The invitation's page, naming the organisation; again with the password rule after a
/// refused password (never echoing it back).
async fn show_invitation(
    platform: &Platform,
    headers: &HeaderMap,
    token: String,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let invitation = match accounts::load_token(platform, &token, &[TokenKind::Invitation]).await {
        Ok((_, record)) => record,
        Err(AccountError::InvalidToken) => return invalid_link(platform, headers, "invitation-invalid"),
        Err(err) => return failed(platform, headers, &err),
    };
    let organisation = match accounts::load_organisation(platform, &invitation.organisation_id).await {
        Ok(organisation) => organisation,
        Err(AccountError::OrganisationGone) => return invalid_link(platform, headers, "invitation-invalid"),
        Err(err) => return failed(platform, headers, &err),
    };
    let text = catalog(negotiate(headers)).t1("invitation-text", "organisation", &organisation.name);
    let page = ("/accept-invitation", "invitation-title", "invitation-button");
    link_page(platform, headers, status, page, text, token, true, error)
}

pub async fn accept_invitation(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, "/") {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    let password = form.password.as_deref().unwrap_or_default();
    let lang = negotiate(&headers);
    match accounts::accept_invitation(&platform, &form.token, password, lang).await {
        Ok(_) => {
            outcome(&platform, &headers, StatusCode::OK, ("joined-title", "joined-text"), ("/sign-in", "link-sign-in"))
        }
        Err(AccountError::Invalid(_)) => {
            show_invitation(&platform, &headers, form.token, StatusCode::UNPROCESSABLE_ENTITY, Some("password-rule"))
                .await
        }
        Err(AccountError::InvalidToken) => invalid_link(&platform, &headers, "invitation-invalid"),
        Err(AccountError::EmailTaken(_)) => outcome(
            &platform,
            &headers,
            StatusCode::CONFLICT,
            ("invitation-taken-title", "invitation-taken-text"),
            ("/privacy/contact", "link-contact"),
        ),
        Err(err) => failed(&platform, &headers, &err),
    }
}

// ---- Unsubscribe -------------------------------------------------------------------------

fn purpose_text(purpose: PurposeId) -> &'static str {
    match purpose {
        PurposeId::InactivityReminders => "unsubscribe-reminders",
        _ => "unsubscribe-updates",
    }
}

pub async fn unsubscribe_page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let now = platform.clock.epoch_seconds();
    let Some((token, (_, purpose))) = query.ok().and_then(|Query(q)| {
        shared::unsubscribe::verify(&platform.settings.signing_key, &q.token, now).map(|v| (q.token, v))
    }) else {
        return invalid_link(&platform, &headers, "unsubscribe-invalid");
    };
    let text = catalog(negotiate(&headers)).t(purpose_text(purpose));
    let page = ("/unsubscribe", "unsubscribe-title", "unsubscribe-button");
    link_page(&platform, &headers, StatusCode::OK, page, text, token, false, None)
}

pub async fn unsubscribe(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, "/") {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    match shared::unsubscribe::withdraw(&platform, &form.token).await {
        Ok(Some(_)) => outcome(
            &platform,
            &headers,
            StatusCode::OK,
            ("unsubscribed-title", "unsubscribed-text"),
            ("/privacy", "link-notice"),
        ),
        Ok(None) => invalid_link(&platform, &headers, "unsubscribe-invalid"),
        Err(err) => failed(&platform, &headers, &err),
    }
}
