//! The web: server-rendered pages (askama templates, Fluent catalogs in English and Swedish),
//! the cookie banner `consent.js` with its stylesheet, and a demo page that embeds it.
//! Pages work without JavaScript: forms post and redirect. Every page sends a strict CSP (no
//! inline script or style, `frame-ancestors 'none'`).

mod account;
pub mod banner;
mod case_desk;
mod center;
mod confirm;
pub mod csrf;
mod desks;
pub mod i18n;
mod language;
mod links;
#[cfg(test)]
mod markdown;
pub mod notice;
mod pages;
mod public_complaint;
mod recovery;
mod signed_in;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use shared::Platform;

/// Every (method, path) this function serves, as API Gateway routes: the deployment test
/// checks `template.yaml` routes exactly these to the web function, and none of the API's.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/privacy"),
    ("GET", "/privacy/versions/{version}"),
    ("GET", "/privacy/cookies"),
    ("GET", "/privacy/subprocessors"),
    ("GET", "/privacy/contact"),
    ("POST", "/language"),
    ("GET", "/consent.js"),
    ("GET", "/consent.css"),
    ("GET", "/assets/{file}"),
    ("GET", "/demo/consent-banner"),
    ("GET", "/verify-email"),
    ("POST", "/verify-email"),
    ("GET", "/accept-invitation"),
    ("POST", "/accept-invitation"),
    ("GET", "/unsubscribe"),
    ("POST", "/unsubscribe"),
    ("GET", "/confirm-request"),
    ("POST", "/confirm-request"),
    ("GET", "/sign-in"),
    ("POST", "/sign-in"),
    ("GET", "/sign-up"),
    ("POST", "/sign-up"),
    ("POST", "/sign-out"),
    ("GET", "/account"),
    ("POST", "/account/consents"),
    // The admin and operator desks (desks.rs).
    ("GET", "/admin"),
    ("POST", "/admin/members/role"),
    ("POST", "/admin/members/remove"),
    ("POST", "/admin/invitations"),
    ("POST", "/admin/invitations/revoke"),
    ("POST", "/admin/rights-requests/approve"),
    ("POST", "/admin/rights-requests/deny"),
    ("POST", "/admin/recipients/erase"),
    ("POST", "/admin/cancel"),
    ("GET", "/operator"),
    ("POST", "/operator/rights-requests/extend"),
    ("POST", "/operator/rights-requests/resolve"),
    ("GET", "/desks.css"),
    // The privacy center and password recovery (center.rs, recovery.rs).
    ("GET", "/reset-password"),
    ("POST", "/reset-password"),
    ("GET", "/reset-password/new"),
    ("POST", "/reset-password/new"),
    ("GET", "/resend-verification"),
    ("POST", "/resend-verification"),
    ("GET", "/account/history"),
    ("GET", "/account/requests"),
    ("POST", "/account/requests"),
    ("GET", "/account/requests/{id}/export"),
    ("GET", "/account/settings"),
    ("POST", "/account/email"),
    ("POST", "/account/password"),
    ("GET", "/account/cancel"),
    ("POST", "/account/cancel"),
    ("GET", "/account/complaint"),
    ("POST", "/account/complaint"),
    // The complaint page for anyone (public_complaint.rs).
    ("GET", "/complaint"),
    ("POST", "/complaint"),
    // The operator desk's cases and letters (case_desk.rs).
    ("GET", "/operator/cases"),
    ("GET", "/operator/cases/{id}"),
    ("POST", "/operator/cases/classify"),
    ("POST", "/operator/cases/link"),
    ("POST", "/operator/cases/reply"),
    ("POST", "/operator/cases/close"),
    ("GET", "/operator/letters"),
    ("POST", "/operator/letters"),
];

/// The pages' Content Security Policy: only our own scripts, styles and images, no inline
/// code, no framing, forms post only to us.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The routes of this function; [`shared::http::app`] completes them (health, security
/// headers, request logs) for Lambda and the local server alike.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/", get(pages::home))
        .route("/privacy", get(pages::notice))
        .route("/privacy/versions/{version}", get(pages::archived_notice))
        .route("/privacy/cookies", get(pages::cookies))
        .route("/privacy/subprocessors", get(pages::subprocessors))
        .route("/privacy/contact", get(pages::contact))
        .route("/language", post(language::switch_language))
        .route("/consent.js", get(banner::script))
        .route("/consent.css", get(banner::stylesheet))
        .route("/assets/{file}", get(banner::asset))
        .route("/demo/consent-banner", get(pages::demo))
        .route("/verify-email", get(links::verify_page).post(links::verify))
        .route("/accept-invitation", get(links::invitation_page).post(links::accept_invitation))
        .route("/unsubscribe", get(links::unsubscribe_page).post(links::unsubscribe))
        .route("/confirm-request", get(confirm::page).post(confirm::confirm))
        .route("/sign-in", get(account::sign_in_form).post(account::sign_in))
        .route("/sign-up", get(account::sign_up_form).post(account::sign_up))
        .route("/sign-out", post(account::sign_out))
        .route("/account", get(account::account))
        .route("/account/consents", post(account::change_consent))
        .route("/reset-password", get(recovery::reset_form).post(recovery::request_reset))
        .route("/reset-password/new", get(recovery::new_password_page).post(recovery::set_new_password))
        .route("/resend-verification", get(recovery::resend_form).post(recovery::resend))
        .route("/account/history", get(center::history))
        .route("/account/requests", get(center::requests).post(center::file_request))
        .route("/account/requests/{id}/export", get(center::export))
        .route("/account/settings", get(center::settings))
        .route("/account/email", post(center::change_email))
        .route("/account/password", post(center::change_password))
        .route("/account/cancel", get(center::cancel_form).post(center::cancel))
        .route("/account/complaint", get(center::complaint).post(center::file_complaint))
        .merge(desks::routes())
        .merge(case_desk::routes())
        .route("/complaint", get(public_complaint::form).post(public_complaint::file))
        .layer(middleware::from_fn(page_headers))
}

async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    // The same path answers in the language of the cookie or of Accept-Language.
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
    response
}
