//! The operator desk's pages for the hello@ channel and for requests received outside the
//! product: `/operator/cases` (the cases of a status, filtered by kind), one case with its
//! text and history (classify, link to an account, reply, close), and `/operator/letters`
//! (record a rights request received by letter or phone).
//!
//! As on the other desks: operator rights are re-checked against the stored account on every
//! request (`desks::shown_to`, `desks::posted`), every change is a form post with the CSRF
//! token that redirects back saying what happened (known codes only), and nothing needs
//! JavaScript. The handlers call the use cases the API calls (`shared::cases::desk`,
//! `shared::rights::recorded`).

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use shared::Platform;
use shared::accounts::records::EmailClaim;
use shared::cases::desk::{self, DeskError};
use shared::cases::{Case, CaseKind, CaseStatus};
use shared::domain::EmailAddress;
use shared::error::ApiError;
use shared::rights::RequestType;
use shared::rights::recorded::{self, Channel, Person, Recorded};
use shared::rights::requester::FileError;
use shared::session::AuthUser;

use crate::desks::{Desk, date, date_time, posted, see_other, shown_to};
use crate::i18n::Catalog;
use crate::pages::failed;
use crate::pages::{Layout, render, request};
use crate::signed_in::page_forms;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/operator/cases", get(cases))
        .route("/operator/cases/{id}", get(case))
        .route("/operator/cases/classify", post(classify))
        .route("/operator/cases/link", post(link))
        .route("/operator/cases/reply", post(reply))
        .route("/operator/cases/close", post(close))
        .route("/operator/letters", get(letters).post(record))
}

/// What a change did, shown once back on the page: the codes a redirect may carry.
const DONE: [&str; 5] = ["classified", "linked", "replied", "closed", "recorded"];
const ERRORS: [&str; 7] =
    ["not-found", "closed", "invalid-kind", "no-account", "invalid-reply", "invalid-outcome", "conflict"];

#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    done: Option<String>,
    error: Option<String>,
}

fn flash(l: &Catalog, flash: &Flash) -> (Option<String>, Option<String>) {
    let known = |code: &Option<String>, list: &[&str], prefix: &str| {
        code.as_deref().filter(|c| list.contains(c)).map(|c| l.t(&format!("{prefix}-{c}")))
    };
    (known(&flash.done, &DONE, "cases-done"), known(&flash.error, &ERRORS, "cases-error"))
}

fn kind_text(l: &Layout, kind: CaseKind) -> String {
    l.t(&format!("cases-kind-{}", kind.as_str()))
}

fn status_text(l: &Layout, status: CaseStatus) -> String {
    l.t(&format!("cases-status-{}", status.as_str()))
}

/// Back to the case's page with what happened. The id only ever comes back as a path
/// segment of our own site: anything but a plain id goes to the list instead.
fn back_to(case_id: &str, result: Result<&'static str, &'static str>) -> Response {
    if case_id.is_empty() || !case_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return see_other("/operator/cases?error=not-found".into());
    }
    match result {
        Ok(done) => see_other(format!("/operator/cases/{case_id}?done={done}")),
        Err(error) => see_other(format!("/operator/cases/{case_id}?error={error}")),
    }
}

/// The answer to a desk action on a case: back with what happened, or the error page.
fn outcome(
    platform: &Platform,
    headers: &HeaderMap,
    case_id: &str,
    result: Result<Case, DeskError>,
    done: &'static str,
) -> Response {
    let error = match result {
        Ok(_) => return back_to(case_id, Ok(done)),
        Err(DeskError::NotFound) => return see_other("/operator/cases?error=not-found".into()),
        Err(DeskError::Closed) => "closed",
        Err(DeskError::Invalid(_)) => match done {
            "linked" => "no-account",
            "replied" => "invalid-reply",
            _ => "invalid-outcome",
        },
        Err(DeskError::Store(shared::store::StoreError::TransactionConflict)) => "conflict",
        Err(err) => return failed(platform, headers, &err),
    };
    back_to(case_id, Err(error))
}

// ---- The list ---------------------------------------------------------------------------------

pub struct CaseRow {
    pub id: String,
    pub received: String,
    pub sender: String,
    pub subject: String,
    pub kind: String,
    pub linked: bool,
}

#[derive(Template)]
#[template(path = "operator_cases.html")]
struct CasesPage {
    l: Layout,
    error: Option<String>,
    /// (code, text, chosen) of each status, and of each kind ("" is every kind).
    statuses: Vec<(&'static str, String, bool)>,
    kinds: Vec<(&'static str, String, bool)>,
    rows: Vec<CaseRow>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    cursor: Option<String>,
    error: Option<String>,
}

/// How many cases one page lists.
const PAGE: u32 = 50;

pub async fn cases(
    State(platform): State<Platform>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    if let Err(response) = shown_to(&platform, &headers, Desk::Operator, user).await {
        return *response;
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let status = query.status.as_deref().and_then(CaseStatus::parse).unwrap_or(CaseStatus::Open);
    let kind = query.kind.as_deref().and_then(CaseKind::parse);
    let cursor = query.cursor.clone().filter(|c| c.len() <= 8192);
    let (found, next) = match desk::list(&platform, status, kind, PAGE, cursor).await {
        Ok(found) => found,
        // A cursor that is not ours: the first page.
        Err(shared::store::StoreError::InvalidCursor) => (Vec::new(), None),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let r = request(&platform, &headers, "/operator/cases", "cases-title");
    let l = &r.layout;
    let (_, error) = flash(crate::i18n::catalog(l.lang), &Flash { done: None, error: query.error });
    let next = next.map(|cursor| {
        let kind = kind.map(|k| format!("&kind={}", k.as_str())).unwrap_or_default();
        format!("/operator/cases?status={}{kind}&cursor={cursor}", status.as_str())
    });
    let page = CasesPage {
        error,
        statuses: CaseStatus::ALL.iter().map(|s| (s.as_str(), status_text(l, *s), *s == status)).collect(),
        kinds: std::iter::once(("", l.t("cases-kind-any"), kind.is_none()))
            .chain(CaseKind::ALL.iter().map(|k| (k.as_str(), kind_text(l, *k), Some(*k) == kind)))
            .collect(),
        rows: found
            .into_iter()
            .map(|c| CaseRow {
                received: date_time(c.received_at),
                kind: kind_text(l, c.kind),
                linked: c.user_id.is_some(),
                sender: c.sender,
                subject: c.subject,
                id: c.id,
            })
            .collect(),
        next,
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

// ---- One case ---------------------------------------------------------------------------------

pub struct EventRow {
    pub at: String,
    pub action: String,
    pub by: String,
    pub note: Option<String>,
}

#[derive(Template)]
#[template(path = "operator_case.html")]
struct CasePage {
    l: Layout,
    done: Option<String>,
    error: Option<String>,
    case: Case,
    received: String,
    kind: String,
    suggested: String,
    status: String,
    open: bool,
    closed_at: Option<String>,
    kinds: Vec<(&'static str, String, bool)>,
    history: Vec<EventRow>,
    max_outcome: usize,
}

pub async fn case(
    State(platform): State<Platform>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    Path(id): Path<String>,
    query: Result<Query<Flash>, QueryRejection>,
) -> Response {
    if let Err(response) = shown_to(&platform, &headers, Desk::Operator, user).await {
        return *response;
    }
    let case = match desk::get(&platform, &id).await {
        Ok(case) => case,
        Err(DeskError::NotFound) => return see_other("/operator/cases?error=not-found".into()),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let r = request(&platform, &headers, &format!("/operator/cases/{}", case.id), "case-title");
    let l = &r.layout;
    let (done, error) = flash(crate::i18n::catalog(l.lang), &query.map(|Query(q)| q).unwrap_or_default());
    let page = CasePage {
        done,
        error,
        received: date_time(case.received_at),
        kind: kind_text(l, case.kind),
        suggested: kind_text(l, case.suggested_kind),
        status: status_text(l, case.status),
        open: case.status != CaseStatus::Closed,
        closed_at: case.closed_at.map(date_time),
        kinds: CaseKind::ALL.iter().map(|k| (k.as_str(), kind_text(l, *k), *k == case.kind)).collect(),
        history: case
            .history
            .iter()
            .map(|e| EventRow {
                at: e.at.replace('T', " ").chars().take(16).collect(),
                action: {
                    let id = format!("case-action-{}", e.action);
                    let text = l.t(&id);
                    if text == id { e.action.clone() } else { text }
                },
                by: e.by.clone(),
                note: e.note.clone(),
            })
            .collect(),
        max_outcome: desk::MAX_OUTCOME,
        case,
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

#[derive(Debug, Deserialize)]
pub struct ClassifyForm {
    csrf: String,
    id: String,
    kind: String,
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    csrf: String,
    id: String,
    /// The account's id, or its address.
    account: String,
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    csrf: String,
    id: String,
    message: String,
}

#[derive(Debug, Deserialize)]
pub struct CloseForm {
    csrf: String,
    id: String,
    outcome: String,
}

page_forms!(ClassifyForm, LinkForm, ReplyForm, CloseForm);

pub async fn classify(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ClassifyForm>, FormRejection>,
) -> Response {
    let (who, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Some(kind) = CaseKind::parse(&form.kind) else { return back_to(&form.id, Err("invalid-kind")) };
    let result = desk::classify(&platform, &who.user_id, &form.id, kind).await;
    outcome(&platform, &headers, &form.id, result, "classified")
}

/// The account an operator named, by id or by address (a verified account's claim).
async fn account_of(platform: &Platform, named: &str) -> Result<Option<String>, shared::store::StoreError> {
    let named = named.trim();
    if !named.contains('@') {
        return Ok((!named.is_empty()).then(|| named.to_owned()));
    }
    let Ok(email) = EmailAddress::parse(named) else { return Ok(None) };
    match platform.store.get(&EmailClaim::key(email.canonical())).await? {
        Some(claim) => Ok(Some(claim.data::<EmailClaim>()?.user_id)),
        None => Ok(None),
    }
}

pub async fn link(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Response {
    let (who, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let user_id = match account_of(&platform, &form.account).await {
        Ok(Some(user_id)) => user_id,
        Ok(None) => return back_to(&form.id, Err("no-account")),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let result = desk::link(&platform, &who.user_id, &form.id, &user_id).await;
    outcome(&platform, &headers, &form.id, result, "linked")
}

pub async fn reply(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ReplyForm>, FormRejection>,
) -> Response {
    let (who, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let result = desk::reply(&platform, &who.user_id, &form.id, &form.message).await;
    outcome(&platform, &headers, &form.id, result, "replied")
}

pub async fn close(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Response {
    let (who, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let result = desk::close(&platform, &who.user_id, &form.id, &form.outcome).await;
    outcome(&platform, &headers, &form.id, result, "closed")
}

// ---- Requests by letter or phone ----------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct LetterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    received_on: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    new_email: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    identity_verified: Option<String>,
}

page_forms!(LetterForm);

#[derive(Template)]
#[template(path = "operator_letters.html")]
struct LettersPage {
    l: Layout,
    done: Option<String>,
    error: Option<String>,
    form: LetterForm,
    today: String,
    types: Vec<(&'static str, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LettersQuery {
    done: Option<String>,
    request: Option<String>,
}

const TYPES: [RequestType; 4] =
    [RequestType::Access, RequestType::Portability, RequestType::Correction, RequestType::Erasure];

fn letters_page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    done: Option<String>,
    error: Option<&str>,
    form: LetterForm,
) -> Response {
    let r = request(platform, headers, "/operator/letters", "letters-title");
    let l = &r.layout;
    let page = LettersPage {
        done,
        error: error.map(|id| l.t(id)),
        today: date(platform.clock.epoch_seconds()),
        types: TYPES.iter().map(|t| (t.as_str(), l.t(&format!("desk-type-{}", t.as_str())))).collect(),
        form: LetterForm { csrf: String::new(), ..form },
        l: r.layout,
    };
    render(status, &page, r.set_cookie)
}

pub async fn letters(
    State(platform): State<Platform>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    query: Result<Query<LettersQuery>, QueryRejection>,
) -> Response {
    if let Err(response) = shown_to(&platform, &headers, Desk::Operator, user).await {
        return *response;
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let l = crate::i18n::catalog(crate::i18n::negotiate(&headers));
    // The recorded request's id is shown only as the plain id it is.
    let done = (query.done.as_deref() == Some("recorded"))
        .then(|| query.request.filter(|id| id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())))
        .flatten()
        .map(|id| l.t1("letters-recorded", "id", &id));
    letters_page(&platform, &headers, StatusCode::OK, done, None, LetterForm::default())
}

/// The message of a refusal an operator can act on; any other error is ours.
fn refusal(err: &FileError) -> Option<&'static str> {
    Some(match err {
        FileError::Refused { code: "identity_not_verified", .. } => "letters-error-identity",
        FileError::Refused { code: "invalid_received_on", .. } => "letters-error-day",
        FileError::Refused { code: "unknown_person", .. } => "letters-error-person",
        FileError::Refused { code: "details_too_long", .. } => "letters-error-details",
        FileError::Refused { .. } | FileError::Invalid(_) => "letters-error-changes",
        FileError::Duplicate { .. } => "letters-error-duplicate",
        FileError::Account(shared::accounts::AccountError::LastAdmin) => "letters-error-last-admin",
        _ => return None,
    })
}

pub async fn record(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<LetterForm>, FormRejection>,
) -> Response {
    let (who, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let invalid = |form, id| letters_page(&platform, &headers, StatusCode::UNPROCESSABLE_ENTITY, None, Some(id), form);
    let channel = match form.channel.as_str() {
        "letter" => Channel::Letter,
        "phone" => Channel::Phone,
        _ => return invalid(form, "letters-error-channel"),
    };
    let Some(kind) = TYPES.into_iter().find(|t| t.as_str() == form.kind) else {
        return invalid(form, "letters-error-type");
    };
    let account = form.account.trim();
    let person = if account.contains('@') {
        Person::Address(account.to_owned())
    } else if !account.is_empty() && account.len() <= 64 {
        Person::Account(account.to_owned())
    } else {
        return invalid(form, "letters-error-person");
    };
    // A correction of the address: the corrected value, as the API takes it in `changes`.
    let changes = (kind == RequestType::Correction && !form.new_email.trim().is_empty()).then(|| {
        let mut changes = serde_json::Map::new();
        changes.insert("email".into(), serde_json::Value::String(form.new_email.trim().to_owned()));
        changes
    });
    let recorded = Recorded {
        channel,
        received_on: form.received_on.trim().to_owned(),
        kind,
        person,
        details: Some(form.details.clone()).filter(|d| !d.trim().is_empty()),
        changes,
        identity_verified: form.identity_verified.is_some(),
    };
    match recorded::record(&platform, &who.user_id, recorded).await {
        Ok(request) => see_other(format!("/operator/letters?done=recorded&request={}", request.id)),
        Err(err) => match refusal(&err) {
            Some(id) => invalid(form, id),
            None => failed(&platform, &headers, &err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_message_the_case_pages_compose_exists_in_every_language() {
        let composed = DONE
            .iter()
            .map(|c| format!("cases-done-{c}"))
            .chain(ERRORS.iter().map(|c| format!("cases-error-{c}")))
            .chain(CaseKind::ALL.iter().map(|k| format!("cases-kind-{}", k.as_str())))
            .chain(CaseStatus::ALL.iter().map(|s| format!("cases-status-{}", s.as_str())))
            .chain(
                [
                    "letters-error-identity",
                    "letters-error-day",
                    "letters-error-person",
                    "letters-error-details",
                    "letters-error-changes",
                    "letters-error-duplicate",
                    "letters-error-last-admin",
                    "letters-error-channel",
                    "letters-error-type",
                    "letters-recorded",
                ]
                .map(str::to_owned),
            );
        for id in composed {
            for lang in Lang::ALL {
                assert!(crate::i18n::catalog(lang).has(&id), "{lang:?} lacks {id}");
            }
        }
    }

    #[test]
    fn only_plain_case_ids_come_back_in_a_redirect() {
        let location = |r: Response| r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(location(back_to("01JCASE", Ok("closed"))).as_deref(), Some("/operator/cases/01JCASE?done=closed"));
        for bad in ["", "../admin", "x?y", "//evil.example"] {
            assert_eq!(
                location(back_to(bad, Ok("closed"))).as_deref(),
                Some("/operator/cases?error=not-found"),
                "{bad}"
            );
        }
    }
}
