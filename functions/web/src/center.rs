//! The privacy center under `/account`, for the signed-in person: the history of their
//! consents with each receipt, their rights requests (file one, follow its status and
//! deadline, download an export), their address and password, cancelling the account, and
//! complain to the DPO. Every form carries the CSRF token and posts; the pages work without
//! JavaScript. Handlers parse, call a use case of `shared`, and render.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::Platform;
use shared::accounts::{self, AccountError, UserRecord};
use shared::complaints::{self, ComplaintError};
use shared::config::{Party, SupervisoryAuthority};
use shared::consent::{self, LedgerEntry, Method};
use shared::domain::EmailAddress;
use shared::erasure::Retained;
use shared::rights::requester::{self, ExportError, ExportFormat, FileError, Requester};
use shared::rights::{self, RequestType, RightsRequest, Status};
use shared::session::{self, SessionRecord};

use crate::account::see_other;
use crate::pages::{Layout, failed, render, request};
use crate::signed_in::{PageForm, page_forms, session_of, signed_in_post};

/// How many entries one page of a list shows.
const PAGE: u32 = 50;

/// A date and time as people read it, in UTC.
fn when(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

fn day(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// The signed-in person (session and account), or the response to send instead: to sign in
/// and come back here.
async fn signed_in(
    platform: &Platform,
    headers: &HeaderMap,
    back: &str,
) -> Result<(SessionRecord, UserRecord), Response> {
    match session_of(platform, headers).await {
        Ok(session) => account_of(platform, headers, session, back).await,
        Err(err) => Err(failed(platform, headers, &err)),
    }
}

/// A form post of the centre, from `back`: its token (else the "form expired" page), then the
/// signed-in person, as [`signed_in`].
async fn posted<F: PageForm>(
    platform: &Platform,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    back: &str,
) -> Result<(F, SessionRecord, UserRecord), Response> {
    let (form, session) = signed_in_post(platform, headers, form, back).await?;
    let (session, user) = account_of(platform, headers, session, back).await?;
    Ok((form, session, user))
}

page_forms!(RequestForm, EmailForm, PasswordForm, CancelForm, ComplaintForm);

/// The person of a session; without one, to sign in and come back to `back`.
async fn account_of(
    platform: &Platform,
    headers: &HeaderMap,
    session: Option<SessionRecord>,
    back: &str,
) -> Result<(SessionRecord, UserRecord), Response> {
    let Some(session) = session else { return Err(see_other(&format!("/sign-in?next={back}"), None)) };
    match accounts::load_user(platform, &session.user_id).await {
        Ok(user) => Ok((session, user)),
        Err(AccountError::AccountGone) => Err(see_other("/sign-in", Some(session::clear_cookie()))),
        Err(err) => Err(failed(platform, headers, &err)),
    }
}

// ---- Consent history and receipts --------------------------------------------------------------

pub struct HistoryRow {
    pub when: String,
    pub purpose: String,
    pub granted: bool,
    pub method: String,
    pub policy_version: String,
    pub receipt_id: String,
}

#[derive(Template)]
#[template(path = "history.html")]
struct History {
    l: Layout,
    rows: Vec<HistoryRow>,
    older: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

fn method_id(method: Method) -> &'static str {
    match method {
        Method::Api => "method-api",
        Method::CookieBanner => "method-cookie-banner",
        Method::UnsubscribeLink => "method-unsubscribe-link",
        Method::Gpc => "method-gpc",
        Method::Operator => "method-operator",
        Method::Email => "method-email",
    }
}

/// Every change of the person's consents, newest first; each receipt downloads from the API
/// (the same session cookie signs it in).
pub async fn history(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<CursorQuery>, QueryRejection>,
) -> Response {
    let (session, _) = match signed_in(&platform, &headers, "/account/history").await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let cursor = query.ok().and_then(|q| q.0.cursor);
    let ledger = consent::ledger_query(&session.user_id).limit(PAGE).cursor(cursor);
    let page = match platform.store.query(ledger).await {
        Ok(page) => page,
        Err(err) => return failed(&platform, &headers, &err),
    };
    let entries: Result<Vec<LedgerEntry>, _> = page.items.iter().map(|item| item.data::<LedgerEntry>()).collect();
    let entries = match entries {
        Ok(entries) => entries,
        Err(err) => return failed(&platform, &headers, &err),
    };
    let r = request(&platform, &headers, "/account/history", "history-title");
    let rows = entries
        .into_iter()
        .map(|e| HistoryRow {
            when: when(e.recorded_at),
            purpose: r.layout.t(&format!("{}-title", crate::pages::message_id("purpose", e.purpose.as_str()))),
            granted: e.granted,
            method: r.layout.t(method_id(e.method)),
            policy_version: e.policy_version,
            receipt_id: e.receipt_id,
        })
        .collect();
    let older = page.cursor.map(|c| format!("/account/history?cursor={}", urlencode(&c)));
    render(StatusCode::OK, &History { l: r.layout, rows, older }, r.set_cookie)
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- Rights requests ------------------------------------------------------------------------

pub struct RequestRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub open: bool,
    pub filed: String,
    pub due: String,
    pub overdue: bool,
    /// Whether a completed access or portability request has an export to download.
    pub export: bool,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct Requests {
    l: Layout,
    rows: Vec<RequestRow>,
    error: Option<String>,
    details: String,
    new_email: String,
}

fn type_id(kind: RequestType) -> &'static str {
    match kind {
        RequestType::Access => "request-type-access",
        RequestType::Portability => "request-type-portability",
        RequestType::Correction => "request-type-correction",
        RequestType::Erasure => "request-type-erasure",
    }
}

fn status_id(status: Status) -> &'static str {
    match status {
        Status::AwaitingOrganisationApproval => "request-status-awaiting",
        Status::Queued => "request-status-queued",
        Status::Processing => "request-status-processing",
        Status::Completed => "request-status-completed",
        Status::Denied => "request-status-denied",
        Status::Failed => "request-status-failed",
    }
}

async fn requests_page(
    platform: &Platform,
    headers: &HeaderMap,
    user_id: &str,
    status: StatusCode,
    error: Option<&str>,
    (details, new_email): (String, String),
) -> Response {
    let own = match requester::own_requests(platform, user_id, PAGE, None).await {
        Ok((own, _)) => own,
        Err(err) => return failed(platform, headers, &err),
    };
    let now = platform.clock.epoch_seconds();
    let r = request(platform, headers, "/account/requests", "requests-title");
    let rows = own
        .into_iter()
        .map(|q: RightsRequest| RequestRow {
            kind: r.layout.t(type_id(q.kind)),
            status: r.layout.t(status_id(q.status)),
            open: q.status.is_open(),
            filed: day(q.created_at),
            due: day(q.due_at),
            overdue: q.status.is_open() && q.due_at < now,
            export: q.status == Status::Completed
                && matches!(q.kind, RequestType::Access | RequestType::Portability)
                && q.exports.as_ref().is_some_and(|e| e.expires_at > now),
            id: q.id,
        })
        .collect();
    let error = error.map(|id| r.layout.t(id));
    render(status, &Requests { l: r.layout, rows, error, details, new_email }, r.set_cookie)
}

pub async fn requests(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    match signed_in(&platform, &headers, "/account/requests").await {
        Ok((session, _)) => {
            requests_page(&platform, &headers, &session.user_id, StatusCode::OK, None, Default::default()).await
        }
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    csrf: String,
    #[serde(rename = "type")]
    kind: RequestType,
    #[serde(default)]
    details: String,
    /// Correction: the corrected address.
    #[serde(default)]
    new_email: String,
    /// Erasure and a new address: the current password.
    #[serde(default)]
    password: String,
}

/// Files a request and shows the list with it; a refusal shows why, keeping what was typed.
pub async fn file_request(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<RequestForm>, FormRejection>,
) -> Response {
    let (form, session, _) = match posted(&platform, &headers, form, "/account/requests").await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let changes = (form.kind == RequestType::Correction).then(|| {
        let mut changes = Map::new();
        changes.insert("email".into(), Value::String(form.new_email.trim().to_owned()));
        changes
    });
    let by =
        Requester { user_id: session.user_id.clone(), organisation_id: session.organisation_id, role: session.role };
    let details = Some(form.details.clone()).filter(|d| !d.trim().is_empty());
    let password = Some(form.password.as_str()).filter(|p| !p.is_empty());
    let error = match requester::file(&platform, &by, form.kind, details, changes, password).await {
        Ok(_) => return see_other("/account/requests", None),
        Err(FileError::Duplicate { .. }) => "request-duplicate",
        Err(FileError::Invalid(_)) => "email-invalid",
        Err(FileError::Refused { code: "details_too_long", .. }) => "request-details-too-long",
        Err(FileError::Refused { code: "password_required", .. }) => "request-password-required",
        Err(FileError::Account(AccountError::InvalidCredentials)) => "password-wrong",
        Err(FileError::Account(AccountError::RateLimited(_))) => "sign-in-throttled",
        Err(FileError::Refused { .. }) => "email-invalid",
        Err(FileError::Account(AccountError::LastAdmin)) => "request-last-admin",
        Err(err) => return failed(&platform, &headers, &err),
    };
    let kept = (form.details, form.new_email);
    requests_page(&platform, &headers, &session.user_id, StatusCode::UNPROCESSABLE_ENTITY, Some(error), kept).await
}

#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// The link of the e-mail that says an export is ready: signed in, straight to a fresh
/// signed download link; signed out, to sign in and back here.
pub async fn export(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> Response {
    let format =
        query.ok().and_then(|q| q.0.format).and_then(|f| ExportFormat::parse(&f)).unwrap_or(ExportFormat::Json);
    if id.len() != 26 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return export_outcome(&platform, &headers, StatusCode::NOT_FOUND, "export-missing");
    }
    let back = format!("/account/requests/{id}/export?format={}", format.as_str());
    let (session, _) = match signed_in(&platform, &headers, &urlencode(&back)).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let request = match rights::load(&platform, &id).await {
        Ok(Some(request)) => request,
        Ok(None) => return export_outcome(&platform, &headers, StatusCode::NOT_FOUND, "export-missing"),
        Err(err) => return failed(&platform, &headers, &err),
    };
    match requester::export_link(&platform, &session.user_id, &request, format).await {
        Ok(link) => see_other(&link.url, None),
        Err(ExportError::NotFound(_)) => export_outcome(&platform, &headers, StatusCode::NOT_FOUND, "export-missing"),
        Err(ExportError::NotReady) => export_outcome(&platform, &headers, StatusCode::CONFLICT, "export-not-ready"),
        Err(ExportError::Expired) => export_outcome(&platform, &headers, StatusCode::GONE, "export-expired"),
        Err(ExportError::FormatUnavailable) => {
            export_outcome(&platform, &headers, StatusCode::UNPROCESSABLE_ENTITY, "export-json-only")
        }
        Err(err) => failed(&platform, &headers, &err),
    }
}

fn export_outcome(platform: &Platform, headers: &HeaderMap, status: StatusCode, text: &str) -> Response {
    crate::links::outcome(platform, headers, status, ("export-title", text), ("/account/requests", "requests-back"))
}

// ---- Address and password --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "settings.html")]
struct Settings {
    l: Layout,
    email: String,
    email_error: Option<String>,
    password_error: Option<String>,
    notice: Option<String>,
}

fn settings_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    email: String,
    (email_error, password_error, notice): (Option<&str>, Option<&str>, Option<&str>),
) -> Response {
    let r = request(platform, headers, "/account/settings", "settings-title");
    let page = Settings {
        email,
        email_error: email_error.map(|id| r.layout.t(id)),
        password_error: password_error.map(|id| r.layout.t(id)),
        notice: notice.map(|id| r.layout.t(id)),
        l: r.layout,
    };
    render(status, &page, r.set_cookie)
}

#[derive(Debug, Deserialize)]
pub struct SettingsQuery {
    done: Option<String>,
}

pub async fn settings(
    State(platform): State<Platform>,
    headers: HeaderMap,
    query: Result<Query<SettingsQuery>, QueryRejection>,
) -> Response {
    let (_, user) = match signed_in(&platform, &headers, "/account/settings").await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let notice = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("email") => Some("settings-email-sent"),
        Some("password") => Some("settings-password-changed"),
        _ => None,
    };
    settings_page(&platform, &headers, StatusCode::OK, user.email, (None, None, notice))
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
    current_password: String,
}

/// Starts an address change, after the current password: the new address must be confirmed.
pub async fn change_email(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    let (form, _, user) = match posted(&platform, &headers, form, "/account/settings").await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let refuse = |status, id| settings_page(&platform, &headers, status, user.email.clone(), (Some(id), None, None));
    let new = match EmailAddress::parse(&form.email) {
        Ok(new) => new,
        Err(_) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "email-invalid"),
    };
    let result = match accounts::confirm_password(&platform, &user, &form.current_password).await {
        Ok(()) => accounts::start_email_change(&platform, &user, &new).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => see_other("/account/settings?done=email", None),
        Err(AccountError::InvalidCredentials) => refuse(StatusCode::UNAUTHORIZED, "password-wrong"),
        Err(AccountError::RateLimited(_)) => refuse(StatusCode::TOO_MANY_REQUESTS, "sign-in-throttled"),
        Err(AccountError::SameAddress) => refuse(StatusCode::UNPROCESSABLE_ENTITY, "settings-same-address"),
        Err(err) => failed(&platform, &headers, &err),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
}

/// Changes the password after the current one; every other session ends.
pub async fn change_password(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (form, _, user) = match posted(&platform, &headers, form, "/account/settings").await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let keep = crate::i18n::cookie(&headers, session::COOKIE_NAME).and_then(|token| shared::tokens::hash(&token));
    let result =
        accounts::change_password(&platform, &user, &form.current_password, &form.new_password, keep.as_deref()).await;
    let refuse = |status, id| settings_page(&platform, &headers, status, user.email.clone(), (None, Some(id), None));
    match result {
        Ok(()) => see_other("/account/settings?done=password", None),
        Err(AccountError::InvalidCredentials) => refuse(StatusCode::UNAUTHORIZED, "password-wrong"),
        Err(AccountError::RateLimited(_)) => refuse(StatusCode::TOO_MANY_REQUESTS, "sign-in-throttled"),
        Err(AccountError::Invalid(_)) => refuse(StatusCode::UNPROCESSABLE_ENTITY, "password-rule"),
        Err(err) => failed(&platform, &headers, &err),
    }
}

// ---- Cancelling the account ------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cancel.html")]
struct Cancel {
    l: Layout,
    error: Option<String>,
}

fn cancel_page(platform: &Platform, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let r = request(platform, headers, "/account/cancel", "cancel-title");
    let error = error.map(|id| r.layout.t(id));
    render(status, &Cancel { l: r.layout, error }, r.set_cookie)
}

pub async fn cancel_form(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    match signed_in(&platform, &headers, "/account/cancel").await {
        Ok(_) => cancel_page(&platform, &headers, StatusCode::OK, None),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    csrf: String,
    password: String,
}

#[derive(Template)]
#[template(path = "cancelled.html")]
struct Cancelled {
    l: Layout,
    retained: Vec<Retained>,
}

/// Cancels the account after the password, through the same use case as the API, and shows
/// what the law requires us to keep, with its purge date.
pub async fn cancel(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<CancelForm>, FormRejection>,
) -> Response {
    let (form, _, user) = match posted(&platform, &headers, form, "/account/cancel").await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let result = match accounts::confirm_password(&platform, &user, &form.password).await {
        Ok(()) => accounts::erase_account(&platform, &user).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(started) => {
            let r = request(&platform, &headers, "/", "cancelled-title");
            let retained = started.job.retained;
            let mut response = render(StatusCode::OK, &Cancelled { l: r.layout, retained }, r.set_cookie);
            response.headers_mut().append(axum::http::header::SET_COOKIE, session::clear_cookie());
            response
        }
        Err(AccountError::InvalidCredentials) => {
            cancel_page(&platform, &headers, StatusCode::UNAUTHORIZED, Some("password-wrong"))
        }
        Err(AccountError::RateLimited(_)) => {
            cancel_page(&platform, &headers, StatusCode::TOO_MANY_REQUESTS, Some("sign-in-throttled"))
        }
        Err(AccountError::LastAdmin) => {
            cancel_page(&platform, &headers, StatusCode::CONFLICT, Some("cancel-last-admin"))
        }
        Err(AccountError::MembershipChanged) => {
            cancel_page(&platform, &headers, StatusCode::CONFLICT, Some("cancel-membership-changed"))
        }
        Err(err) => failed(&platform, &headers, &err),
    }
}

// ---- Complaints ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "complaint.html")]
struct Complaint {
    l: Layout,
    dpo: Party,
    authority: SupervisoryAuthority,
    /// The filed complaint's reference: the page confirms it instead of showing the form.
    received: Option<String>,
    error: Option<String>,
    message: String,
    max_message: usize,
}

fn complaint_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    received: Option<String>,
    error: Option<&str>,
    message: String,
) -> Response {
    let r = request(platform, headers, "/account/complaint", "complaint-title");
    let error = error.map(|id| r.layout.t(id));
    let page = Complaint {
        l: r.layout,
        dpo: platform.settings.dpo.clone(),
        authority: platform.settings.supervisory_authority.clone(),
        received,
        error,
        message,
        max_message: complaints::MAX_MESSAGE,
    };
    render(status, &page, r.set_cookie)
}

/// How to complain: to our Data Protection Officer (the form), or to the supervisory authority.
pub async fn complaint(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    if let Err(response) = signed_in(&platform, &headers, "/account/complaint").await {
        return response;
    }
    complaint_page(&platform, &headers, StatusCode::OK, None, None, String::new())
}

#[derive(Debug, Deserialize)]
pub struct ComplaintForm {
    csrf: String,
    #[serde(default)]
    message: String,
}

/// Files a complaint through the same use case as the API; a refusal shows why, keeping what
/// was typed.
pub async fn file_complaint(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ComplaintForm>, FormRejection>,
) -> Response {
    let (form, session, _) = match posted(&platform, &headers, form, "/account/complaint").await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let (status, error) =
        match complaints::file(&platform, &session.user_id, &session.organisation_id, &form.message).await {
            Ok(receipt) => {
                return complaint_page(&platform, &headers, StatusCode::OK, Some(receipt.id), None, String::new());
            }
            Err(ComplaintError::InvalidMessage) => (StatusCode::UNPROCESSABLE_ENTITY, "complaint-invalid"),
            Err(ComplaintError::RateLimited { .. }) => (StatusCode::TOO_MANY_REQUESTS, "complaint-throttled"),
            // Erased since the session was checked: signed out, like any page of a gone account.
            Err(ComplaintError::AccountGone) => return see_other("/sign-in", Some(session::clear_cookie())),
            Err(err) => return failed(&platform, &headers, &err),
        };
    complaint_page(&platform, &headers, status, None, Some(error), form.message)
}
