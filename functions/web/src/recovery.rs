//! Getting back in: ask for a password reset link, set the new password with it, or ask for
//! a new verification link. The request pages answer alike for any address; the reset link's
//! page shows a form (a GET changes nothing) and its POST sets the password.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shared::Platform;
use shared::accounts::{self, AccountError, TokenKind, reset};
use shared::http::ClientAddress;

use crate::i18n::{catalog, negotiate};
use crate::links::{TokenForm, TokenQuery, link_page, outcome};
use crate::pages::failed;
use crate::pages::{Layout, render, request};
use crate::signed_in::{checked, page_forms};

/// A form that asks for an address only.
#[derive(Template)]
#[template(path = "address.html")]
struct AddressPage {
    l: Layout,
    action: &'static str,
    text: String,
    button: String,
    email: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AddressForm {
    csrf: String,
    email: String,
}

/// `(action, title, text, button)` of each address form.
const RESET: (&str, &str, &str, &str) = ("/reset-password", "reset-title", "reset-text", "reset-button");
const RESEND: (&str, &str, &str, &str) = ("/resend-verification", "resend-title", "resend-text", "resend-button");

fn address_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    (action, title, text, button): (&'static str, &str, &str, &str),
    email: String,
    error: Option<&str>,
) -> Response {
    let r = request(platform, headers, action, title);
    let page = AddressPage {
        action,
        text: r.layout.t(text),
        button: r.layout.t(button),
        email,
        error: error.map(|id| r.layout.t(id)),
        l: r.layout,
    };
    render(status, &page, r.set_cookie)
}

page_forms!(AddressForm);

/// The answer to an address form: the same page for any address, or why it was refused.
fn requested(
    platform: &Platform,
    headers: &HeaderMap,
    result: Result<(), AccountError>,
    page: (&'static str, &str, &str, &str),
    email: String,
    sent: (&str, &str),
) -> Response {
    match result {
        Ok(()) => outcome(platform, headers, StatusCode::OK, sent, ("/sign-in", "link-sign-in")),
        Err(AccountError::Invalid(_)) => {
            address_page(platform, headers, StatusCode::UNPROCESSABLE_ENTITY, page, email, Some("email-invalid"))
        }
        Err(AccountError::RateLimited(_)) => {
            address_page(platform, headers, StatusCode::TOO_MANY_REQUESTS, page, email, Some("requests-throttled"))
        }
        Err(err) => failed(platform, headers, &err),
    }
}

// ---- Ask for a reset link ------------------------------------------------------------------

pub async fn reset_form(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    address_page(&platform, &headers, StatusCode::OK, RESET, String::new(), None)
}

pub async fn request_reset(
    State(platform): State<Platform>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    form: Result<Form<AddressForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, RESET.0) {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    let result = reset::request_password_reset(&platform, &form.email, client.map(|c| c.0.0)).await;
    requested(&platform, &headers, result, RESET, form.email, ("reset-sent-title", "reset-sent-text"))
}

// ---- Ask for a new verification link -------------------------------------------------------

pub async fn resend_form(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    address_page(&platform, &headers, StatusCode::OK, RESEND, String::new(), None)
}

pub async fn resend(
    State(platform): State<Platform>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    form: Result<Form<AddressForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, RESEND.0) {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    let result = reset::resend_verification(&platform, &form.email, client.map(|c| c.0.0)).await;
    requested(&platform, &headers, result, RESEND, form.email, ("resend-sent-title", "resend-sent-text"))
}

// ---- The reset link: choose a new password -------------------------------------------------

/// A used, expired or unknown reset link: say so, and offer a new one.
fn dead_reset_link(platform: &Platform, headers: &HeaderMap) -> Response {
    outcome(
        platform,
        headers,
        StatusCode::GONE,
        ("link-invalid-title", "reset-invalid"),
        ("/reset-password", "reset-again"),
    )
}

async fn show_reset(
    platform: &Platform,
    headers: &HeaderMap,
    token: String,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    match accounts::load_token(platform, &token, &[TokenKind::PasswordReset]).await {
        Ok(_) => {}
        Err(AccountError::InvalidToken) => return dead_reset_link(platform, headers),
        Err(err) => return failed(platform, headers, &err),
    }
    let text = catalog(negotiate(headers)).t("new-password-text");
    let page = ("/reset-password/new", "new-password-title", "new-password-button");
    link_page(platform, headers, status, page, text, token, true, error)
}

pub async fn new_password_page(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else { return dead_reset_link(&platform, &headers) };
    show_reset(&platform, &headers, query.token, StatusCode::OK, None).await
}

pub async fn set_new_password(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, RESET.0) {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    let password = form.password.as_deref().unwrap_or_default();
    match reset::reset_password(&platform, &form.token, password).await {
        Ok(_) => outcome(
            &platform,
            &headers,
            StatusCode::OK,
            ("password-set-title", "password-set-text"),
            ("/sign-in", "link-sign-in"),
        ),
        Err(AccountError::Invalid(_)) => {
            show_reset(&platform, &headers, form.token, StatusCode::UNPROCESSABLE_ENTITY, Some("password-rule")).await
        }
        Err(AccountError::InvalidToken) => dead_reset_link(&platform, &headers),
        Err(err) => failed(&platform, &headers, &err),
    }
}
