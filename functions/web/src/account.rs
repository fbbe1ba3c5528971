//! Sign up, sign in, sign out, and the signed-in start page. Forms post and redirect; the
//! session is the API's (`__Host-infentre_session`), so pages and API share one sign-in.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::Platform;
use shared::accounts::{self, AccountError, SignedIn, SignupForm};
use shared::consent::{self, Method, PurposeId};
use shared::error::ApiError;
use shared::http::ClientAddress;
use shared::session::{self, AuthUser};

use crate::i18n::cookie;
use crate::pages::Outcome;
use crate::pages::{Layout, failed, render, request};
use crate::signed_in::{checked, page_forms, signed_in_post};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignIn {
    l: Layout,
    /// Where to go once signed in (a page of the account).
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUp {
    l: Layout,
    email: String,
    organisation: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account {
    l: Layout,
    email: String,
    organisation: String,
    role: String,
    consents: Vec<ConsentRow>,
}

/// One purpose on the account page: its state and the one button that changes it.
pub struct ConsentRow {
    pub id: &'static str,
    pub title: String,
    pub description: String,
    pub granted: bool,
    /// Given under an earlier notice and suspended until given again.
    pub renewal_needed: bool,
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a page of the account: never another site (no open redirect).
fn next_page(next: &str) -> &str {
    let safe = next.starts_with("/account") && !next.contains(['\\', '\r', '\n']) && !next.contains("//");
    if safe { next } else { "/account" }
}

#[derive(Debug, Deserialize)]
pub struct SignUpForm {
    csrf: String,
    email: String,
    password: String,
    organisation_name: String,
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    csrf: String,
    purpose: String,
    granted: bool,
}

page_forms!(SignInForm, SignUpForm, SignOutForm, ConsentForm);

/// Gives or withdraws one purpose: one click either way.
pub async fn change_consent(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let (form, user) = match signed_in_post(&platform, &headers, form, "/account").await {
        Ok((form, Some(user))) => (form, user),
        Ok((_, None)) => return see_other("/sign-in", None),
        Err(response) => return response,
    };
    let Some(purpose) = PurposeId::parse(&form.purpose) else { return see_other("/account", None) };
    // GPC refuses sharing on every consent write, the account page's too.
    let gpc = consent::gpc_header(headers.get("sec-gpc").and_then(|v| v.to_str().ok()));
    let recorded = if gpc && purpose == PurposeId::MarketingSharing {
        consent::honour_gpc(&platform, &user.user_id).await.map(|_| ())
    } else {
        consent::record(&platform, &user.user_id, purpose, form.granted, Method::Api).await.map(|_| ())
    };
    match recorded {
        Ok(()) => see_other("/account", None),
        Err(err) => failed(&platform, &headers, &err),
    }
}

pub(crate) fn see_other(to: &str, cookie: Option<HeaderValue>) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn sign_in_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    (email, next): (String, &str),
    error: Option<&str>,
) -> Response {
    let r = request(platform, headers, "/sign-in", "sign-in-title");
    let error = error.map(|id| r.layout.t(id));
    render(status, &SignIn { l: r.layout, next: next_page(next).to_owned(), email, error }, r.set_cookie)
}

pub async fn sign_in_form(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<axum::extract::Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = query.ok().map(|q| q.0.next).unwrap_or_default();
    sign_in_page(&platform, &headers, StatusCode::OK, (String::new(), &next), None)
}

pub async fn sign_in(
    State(platform): State<Platform>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, "/sign-in") {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    let client = client.map(|c| c.0.0);
    match accounts::login(&platform, &form.email, &form.password, client).await {
        Ok(SignedIn { session, .. }) => see_other(next_page(&form.next), Some(session::cookie(&session.token))),
        Err(AccountError::InvalidCredentials) => {
            let kept = (form.email, form.next.as_str());
            sign_in_page(&platform, &headers, StatusCode::UNAUTHORIZED, kept, Some("sign-in-failed"))
        }
        Err(AccountError::RateLimited(_)) => {
            let kept = (form.email, form.next.as_str());
            sign_in_page(&platform, &headers, StatusCode::TOO_MANY_REQUESTS, kept, Some("sign-in-throttled"))
        }
        Err(err) => failed(&platform, &headers, &err),
    }
}

fn sign_up_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    (email, organisation): (String, String),
    error: Option<&str>,
) -> Response {
    let r = request(platform, headers, "/sign-up", "sign-up-title");
    let error = error.map(|id| r.layout.t(id));
    render(status, &SignUp { l: r.layout, email, organisation, error }, r.set_cookie)
}

pub async fn sign_up_form(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    sign_up_page(&platform, &headers, StatusCode::OK, (String::new(), String::new()), None)
}

pub async fn sign_up(
    State(platform): State<Platform>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    form: Result<Form<SignUpForm>, FormRejection>,
) -> Response {
    let form = match checked(&platform, &headers, form, "/sign-up") {
        Ok(form) => form,
        Err(expired) => return *expired,
    };
    let signup = SignupForm {
        email: &form.email,
        password: &form.password,
        organisation_name: &form.organisation_name,
        region: None,
        client: client.map(|c| c.0.0),
        lang: crate::i18n::negotiate(&headers),
    };
    match accounts::signup(&platform, signup).await {
        // The same answer whether or not the address was taken: its owner gets a notice.
        Ok(()) => {
            let r = request(&platform, &headers, "/sign-up", "signed-up-title");
            let page = Outcome {
                text: r.layout.t("signed-up-text"),
                next: r.layout.t("link-sign-in"),
                next_href: "/sign-in",
                l: r.layout,
            };
            render(StatusCode::OK, &page, r.set_cookie)
        }
        Err(AccountError::Invalid(invalid)) => {
            let error = if invalid.code.contains("password") {
                "password-rule"
            } else if invalid.code.contains("email") {
                "email-invalid"
            } else {
                "organisation-invalid"
            };
            let kept = (form.email, form.organisation_name);
            sign_up_page(&platform, &headers, StatusCode::UNPROCESSABLE_ENTITY, kept, Some(error))
        }
        Err(err) => failed(&platform, &headers, &err),
    }
}

/// The signed-in start page; without a session, the sign-in page.
pub async fn account(
    State(platform): State<Platform>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
) -> Response {
    let Ok(user) = user else { return see_other("/sign-in", None) };
    let record = match accounts::load_user(&platform, &user.user_id).await {
        Ok(record) => record,
        Err(AccountError::AccountGone) => return see_other("/sign-in", Some(session::clear_cookie())),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let organisation = match accounts::load_organisation(&platform, &user.organisation_id).await {
        Ok(organisation) => organisation.name,
        Err(err) => return failed(&platform, &headers, &err),
    };
    let states = match consent::states(platform.store.as_ref(), &user.user_id).await {
        Ok(states) => states,
        Err(err) => return failed(&platform, &headers, &err),
    };
    let r = request(&platform, &headers, "/account", "account-title");
    let policy = &platform.settings.policy_version;
    let consents = PurposeId::ALL
        .into_iter()
        .map(|purpose| {
            let id = crate::pages::message_id("purpose", purpose.as_str());
            let state = states.get(&purpose);
            ConsentRow {
                id: purpose.as_str(),
                title: r.layout.t(&format!("{id}-title")),
                description: r.layout.t(&format!("{id}-desc")),
                granted: state.is_some_and(|s| s.in_force(policy)),
                renewal_needed: state.is_some_and(|s| s.granted && !s.in_force(policy)),
            }
        })
        .collect();
    let role = r.layout.t(if user.role == shared::domain::Role::Admin { "role-admin" } else { "role-member" });
    let page = Account { l: r.layout, email: record.email, organisation, role, consents };
    render(StatusCode::OK, &page, r.set_cookie)
}

/// Signs out: the session ends now, on the server, and its cookie goes.
pub async fn sign_out(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    if let Err(expired) = checked(&platform, &headers, form, "/account") {
        return *expired;
    }
    if let Some(hash) = cookie(&headers, session::COOKIE_NAME).and_then(|token| shared::tokens::hash(&token))
        && let Err(err) = session::revoke(platform.store.as_ref(), &hash).await
    {
        return failed(&platform, &headers, &err);
    }
    see_other("/sign-in", Some(session::clear_cookie()))
}
