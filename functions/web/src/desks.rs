//! The desks: the admin desk `/admin` (an organisation's admins: members and roles,
//! invitations, members' rights requests, erasing a customer's recipient record, cancelling the
//! organisation) and the operator desk `/operator` (open rights requests by deadline with the
//! overdue ones marked, extensions, complaints, retention reports).
//!
//! Every change is a form post with the CSRF token that redirects back with what happened
//! (`?done=` or `?error=`, each a known code), so the desks work without JavaScript. The
//! handlers only parse and call the use cases of `shared` (membership, rights decisions,
//! recipients, operator listings), which check the rules again on the account itself.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use shared::Platform;
use shared::accounts::membership::{self, MembershipError};
use shared::accounts::{self, AccountError};
use shared::domain::{EmailAddress, Role};
use shared::erasure::Retained;
use shared::error::ApiError;
use shared::rights::decisions::{self, Actor, DecisionError, Resolution};
use shared::rights::{RequestType, RightsRequest, Status};
use shared::session::{self, AuthUser, SessionRecord};
use shared::store::StoreError;

use crate::i18n::Catalog;
use crate::pages::{Layout, Outcome, failed, render, request};
use crate::signed_in::{PageForm, page_forms, signed_in_post};

/// The desks' routes; `crate::ROUTES` lists them for `template.yaml`.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/admin", get(admin_desk))
        .route("/admin/members/role", post(change_role))
        .route("/admin/members/remove", post(remove_member))
        .route("/admin/invitations", post(invite))
        .route("/admin/invitations/revoke", post(revoke_invitation))
        .route("/admin/rights-requests/approve", post(approve))
        .route("/admin/rights-requests/deny", post(deny))
        .route("/admin/recipients/erase", post(erase_recipient))
        .route("/admin/cancel", post(cancel_organisation))
        .route("/operator", get(operator_desk))
        .route("/operator/rights-requests/extend", post(extend))
        .route("/operator/rights-requests/resolve", post(resolve))
        .route("/desks.css", get(stylesheet))
}

const STYLESHEET: &str = include_str!("../assets/desks.css");

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], STYLESHEET)
        .into_response()
}

/// What a change did, shown once back on the desk: the codes a redirect may carry.
const DONE: [&str; 10] = [
    "role-changed",
    "member-removed",
    "invited",
    "invitation-revoked",
    "approved",
    "denied",
    "recipient-erased",
    "extended",
    "retried",
    "resolved",
];
const ERRORS: [&str; 17] = [
    "wrong-password",
    "last-admin",
    "self-removal",
    "conflict",
    "not-found",
    "invalid-email",
    "invalid-reason",
    "invalid-days",
    "already-extended",
    "deadline-passed",
    "not-open",
    "not-pending",
    "rate-limited",
    "invalid-role",
    "not-failed",
    "another-open",
    "invalid-action",
];

#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    done: Option<String>,
    error: Option<String>,
}

/// The message of a known code; anything else in the query shows nothing.
fn flash(l: &Catalog, flash: &Flash) -> (Option<String>, Option<String>) {
    let known = |code: &Option<String>, list: &[&str], prefix: &str| {
        code.as_deref().filter(|c| list.contains(c)).map(|c| l.t(&format!("{prefix}-{c}")))
    };
    (known(&flash.done, &DONE, "desk-done"), known(&flash.error, &ERRORS, "desk-error"))
}

/// Who is signed in, as their session says; `operator` is true only once [`admit`] has
/// re-checked it against the account for the operator desk.
pub(crate) struct Who {
    pub(crate) user_id: String,
    organisation_id: String,
    role: Role,
    operator: bool,
}

impl From<SessionRecord> for Who {
    fn from(s: SessionRecord) -> Self {
        Self { user_id: s.user_id, organisation_id: s.organisation_id, role: s.role, operator: s.operator }
    }
}

impl From<AuthUser> for Who {
    fn from(u: AuthUser) -> Self {
        Self { user_id: u.user_id, organisation_id: u.organisation_id, role: u.role, operator: u.operator }
    }
}

fn actor(who: &Who) -> Actor {
    Actor {
        user_id: who.user_id.clone(),
        organisation_id: who.organisation_id.clone(),
        role: who.role,
        operator: who.operator,
    }
}

pub(crate) fn see_other(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

fn message(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    (title, text): (&str, &str),
    (next_href, next): (&'static str, &str),
) -> Response {
    let r = request(platform, headers, next_href, title);
    let page = Outcome { text: r.layout.t(text), next: r.layout.t(next), next_href, l: r.layout };
    render(status, &page, r.set_cookie)
}

fn forbidden(platform: &Platform, headers: &HeaderMap, text: &str) -> Response {
    message(platform, headers, StatusCode::FORBIDDEN, ("desk-forbidden-title", text), ("/account", "desk-to-account"))
}

/// Who may use a desk.
#[derive(Clone, Copy)]
pub(crate) enum Desk {
    Admin,
    Operator,
}

impl Desk {
    fn path(self) -> &'static str {
        match self {
            Desk::Admin => "/admin",
            Desk::Operator => "/operator",
        }
    }

    /// Operators are re-checked against the account as it is now, like the API does.
    async fn admits(self, platform: &Platform, who: &Who) -> Result<bool, StoreError> {
        Ok(match self {
            Desk::Admin => who.role == Role::Admin,
            Desk::Operator => who.operator && shared::accounts::is_operator(platform, &who.user_id).await?,
        })
    }

    fn refusal(self) -> &'static str {
        match self {
            Desk::Admin => "desk-forbidden-admin",
            Desk::Operator => "desk-forbidden-operator",
        }
    }
}

/// The signed-in person a desk admits, or the answer for anyone else: the sign-in page for
/// the signed-out, a 403 page for the others.
async fn admit(platform: &Platform, headers: &HeaderMap, desk: Desk, who: Option<Who>) -> Result<Who, Box<Response>> {
    let Some(mut who) = who else { return Err(Box::new(see_other("/sign-in".into()))) };
    match desk.admits(platform, &who).await {
        Ok(true) => {
            // Operator powers only where they were just checked.
            who.operator = matches!(desk, Desk::Operator);
            Ok(who)
        }
        Ok(false) => Err(Box::new(forbidden(platform, headers, desk.refusal()))),
        Err(err) => Err(Box::new(failed(platform, headers, &err))),
    }
}

/// A desk's page: the API's extractor reads the session (and, as any request does, keeps it
/// alive while the desk is used).
pub(crate) async fn shown_to(
    platform: &Platform,
    headers: &HeaderMap,
    desk: Desk,
    user: Result<AuthUser, ApiError>,
) -> Result<Who, Box<Response>> {
    admit(platform, headers, desk, user.ok().map(Who::from)).await
}

/// A form post to a desk: its token checked, then the person.
pub(crate) async fn posted<F: PageForm>(
    platform: &Platform,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    desk: Desk,
) -> Result<(Who, F), Response> {
    let (form, session) = signed_in_post(platform, headers, form, desk.path()).await?;
    Ok((admit(platform, headers, desk, session.map(Who::from)).await.map_err(|r| *r)?, form))
}

fn back(desk: Desk, result: Result<&'static str, &'static str>) -> Response {
    match result {
        Ok(done) => see_other(format!("{}?done={done}", desk.path())),
        Err(error) => see_other(format!("{}?error={error}", desk.path())),
    }
}

fn membership_outcome(
    platform: &Platform,
    headers: &HeaderMap,
    result: Result<(), MembershipError>,
    done: &'static str,
) -> Response {
    let error = match result {
        Ok(()) => return back(Desk::Admin, Ok(done)),
        Err(MembershipError::NoSuchMember | MembershipError::NoSuchInvitation) => "not-found",
        Err(MembershipError::SelfRemoval) => "self-removal",
        Err(MembershipError::Conflict) => "conflict",
        Err(MembershipError::NotAdmin) => return forbidden(platform, headers, "desk-forbidden-admin"),
        Err(MembershipError::Account(err)) => match account_error(err) {
            Ok(code) => code,
            Err(err) => return failed(platform, headers, &err),
        },
    };
    back(Desk::Admin, Err(error))
}

/// The code of an account error a person can act on; any other is ours.
fn account_error(err: AccountError) -> Result<&'static str, AccountError> {
    match err {
        AccountError::InvalidCredentials => Ok("wrong-password"),
        AccountError::LastAdmin => Ok("last-admin"),
        AccountError::RateLimited(_) => Ok("rate-limited"),
        AccountError::Invalid(_) => Ok("invalid-email"),
        err => Err(err),
    }
}

fn decision_outcome(
    platform: &Platform,
    headers: &HeaderMap,
    desk: Desk,
    result: Result<RightsRequest, DecisionError>,
    done: &'static str,
) -> Response {
    let error = match result {
        Ok(_) => return back(desk, Ok(done)),
        Err(DecisionError::NotFound) => "not-found",
        Err(DecisionError::NotAwaitingApproval | DecisionError::Illegal(_)) => "not-pending",
        Err(DecisionError::NotOpen) => "not-open",
        Err(DecisionError::AlreadyExtended) => "already-extended",
        Err(DecisionError::DeadlinePassed) => "deadline-passed",
        Err(DecisionError::InvalidReason) => "invalid-reason",
        Err(DecisionError::InvalidDays) => "invalid-days",
        Err(DecisionError::Conflict) => "conflict",
        Err(DecisionError::NotFailed) => "not-failed",
        Err(DecisionError::AnotherOpen) => "another-open",
        Err(DecisionError::NotAdmin | DecisionError::NotOperator) => {
            return forbidden(platform, headers, desk.refusal());
        }
        Err(err @ (DecisionError::Store(_) | DecisionError::Queue(_))) => return failed(platform, headers, &err),
    };
    back(desk, Err(error))
}

pub(crate) fn date(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

pub(crate) fn date_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

fn role_text(l: &Layout, role: Role) -> String {
    l.t(if role == Role::Admin { "role-admin" } else { "role-member" })
}

fn type_text(l: &Layout, kind: RequestType) -> String {
    l.t(&format!("desk-type-{}", kind.as_str()))
}

fn status_text(l: &Layout, status: Status) -> String {
    let id = match status {
        Status::AwaitingOrganisationApproval => "awaiting",
        Status::Queued => "queued",
        Status::Processing => "processing",
        Status::Completed => "completed",
        Status::Denied => "denied",
        Status::Failed => "failed",
    };
    l.t(&format!("desk-status-{id}"))
}

// ---- The admin desk ---------------------------------------------------------------------------

pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub is_admin: bool,
    pub joined: String,
    pub is_you: bool,
}

pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub expires: String,
}

pub struct RequestRow {
    pub id: String,
    /// Who filed it, while they are a member.
    pub by: String,
    pub kind: String,
    pub status: String,
    pub received: String,
    pub due: String,
    pub pending: bool,
}

pub struct HistoryRow {
    pub at: String,
    pub text: String,
}

pub struct RetainedRow {
    pub kind: String,
    pub legal_basis: String,
    pub purge_after: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminDesk {
    l: Layout,
    organisation: String,
    done: Option<String>,
    error: Option<String>,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    requests: Vec<RequestRow>,
    history: Vec<HistoryRow>,
    retained: Vec<RetainedRow>,
}

/// How many requests and history entries the desk shows (the API pages through all).
const DESK_PAGE: u32 = 100;

pub async fn admin_desk(
    State(platform): State<Platform>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    query: Result<Query<Flash>, QueryRejection>,
) -> Response {
    let session = match shown_to(&platform, &headers, Desk::Admin, user).await {
        Ok(session) => session,
        Err(response) => return *response,
    };
    let organisation_id = &session.organisation_id;
    let loaded = async {
        let organisation = accounts::load_organisation(&platform, organisation_id).await?;
        let members = accounts::members(&platform, organisation_id).await?;
        let (invitations, _) = membership::invitations_page(&platform, organisation_id, DESK_PAGE, None).await?;
        let (requests, _) = decisions::organisation_page(&platform, organisation_id, DESK_PAGE, None).await?;
        let (history, _) = membership::history_page(&platform, organisation_id, DESK_PAGE, None).await?;
        let retained = membership::retained_on_cancellation(&platform, organisation_id).await?;
        Ok::<_, AccountError>((organisation, members, invitations, requests, history, retained))
    };
    let (organisation, members, invitations, requests, history, retained) = match loaded.await {
        Ok(loaded) => loaded,
        Err(AccountError::OrganisationGone) => return see_other("/sign-in".into()),
        Err(err) => return failed(&platform, &headers, &err),
    };
    let r = request(&platform, &headers, "/admin", "desk-admin-title");
    let l = &r.layout;
    let (done, error) = flash(crate::i18n::catalog(l.lang), &query.map(|Query(q)| q).unwrap_or_default());
    let email_of = |user_id: &str| members.iter().find(|m| m.user_id == user_id).map(|m| m.email.clone());
    let history = history
        .iter()
        .map(|event| {
            // Ids only are kept; a name is shown while the person is still a member.
            let subject = email_of(&event.subject).unwrap_or_else(|| l.t("desk-history-someone"));
            let by = email_of(&event.by).unwrap_or_else(|| l.t("desk-history-an-admin"));
            let text = match event.action {
                membership::MembershipAction::RoleChanged => {
                    let role = event.to_role.map(|r| role_text(l, r)).unwrap_or_default();
                    format!("{by}: {} → {role}", l.t1("desk-history-role-changed", "member", &subject))
                }
                membership::MembershipAction::MemberRemoved => {
                    format!("{by}: {}", l.t("desk-history-member-removed"))
                }
                membership::MembershipAction::InvitationRevoked => {
                    format!("{by}: {}", l.t("desk-history-invitation-revoked"))
                }
            };
            HistoryRow { at: date_time(event.at), text }
        })
        .collect();
    let page = AdminDesk {
        organisation: organisation.name,
        done,
        error,
        members: members
            .iter()
            .map(|m| MemberRow {
                user_id: m.user_id.clone(),
                email: m.email.clone(),
                role: role_text(l, m.role),
                is_admin: m.role == Role::Admin,
                joined: date(m.created_at),
                is_you: m.user_id == session.user_id,
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id,
                email: i.email,
                role: role_text(l, i.role),
                expires: date(i.expires_at),
            })
            .collect(),
        requests: requests
            .into_iter()
            .map(|q| RequestRow {
                by: l.t1(
                    "desk-filed-by",
                    "member",
                    &q.user_id.as_deref().and_then(email_of).unwrap_or_else(|| l.t("desk-history-someone")),
                ),
                kind: type_text(l, q.kind),
                status: status_text(l, q.status),
                received: date(q.created_at),
                due: date(q.due_at),
                pending: q.status == Status::AwaitingOrganisationApproval,
                id: q.id,
            })
            .collect(),
        history,
        retained: retained.into_iter().map(|r| retained_row(crate::i18n::catalog(l.lang), r)).collect(),
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

fn retained_row(l: &Catalog, retained: Retained) -> RetainedRow {
    let id = format!("desk-kind-{}", retained.kind);
    let kind = if l.t(&id) == id { retained.kind } else { l.t(&id) };
    RetainedRow { kind, legal_basis: retained.legal_basis, purge_after: retained.purge_after }
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    csrf: String,
    user_id: String,
    role: String,
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf: String,
    user_id: String,
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    csrf: String,
    email: String,
    role: String,
}

#[derive(Debug, Deserialize)]
pub struct IdForm {
    csrf: String,
    id: String,
}

#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    csrf: String,
    id: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct ExtendForm {
    csrf: String,
    id: String,
    reason: String,
    days: String,
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    csrf: String,
    id: String,
    action: String,
    #[serde(default)]
    reason: String,
}

page_forms!(RoleForm, RemoveForm, InviteForm, IdForm, ReasonForm, EmailForm, PasswordForm, ExtendForm, ResolveForm);

fn parse_role(role: &str) -> Option<Role> {
    match role {
        "admin" => Some(Role::Admin),
        "member" => Some(Role::Member),
        _ => None,
    }
}

pub async fn change_role(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<RoleForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Some(role) = parse_role(&form.role) else { return back(Desk::Admin, Err("invalid-role")) };
    let acting = (session.user_id.as_str(), session.organisation_id.as_str());
    let result = membership::change_role(&platform, acting, &form.password, &form.user_id, role).await.map(|_| ());
    // Changing one's own role ends one's sessions: the desk is no longer theirs.
    if result.is_ok() && form.user_id == session.user_id {
        return see_other("/sign-in".into());
    }
    membership_outcome(&platform, &headers, result, "role-changed")
}

pub async fn remove_member(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<RemoveForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let acting = (session.user_id.as_str(), session.organisation_id.as_str());
    let result = membership::remove_member(&platform, acting, &form.password, &form.user_id).await;
    membership_outcome(&platform, &headers, result, "member-removed")
}

pub async fn invite(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<InviteForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Some(role) = parse_role(&form.role) else { return back(Desk::Admin, Err("invalid-role")) };
    let result = accounts::invite(&platform, &session.organisation_id, &form.email, role).await;
    membership_outcome(&platform, &headers, result.map(|_| ()).map_err(MembershipError::from), "invited")
}

pub async fn revoke_invitation(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<IdForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let acting = (session.user_id.as_str(), session.organisation_id.as_str());
    let result = membership::revoke_invitation(&platform, acting, &form.id).await;
    membership_outcome(&platform, &headers, result, "invitation-revoked")
}

pub async fn approve(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<IdForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let result = decisions::approve(&platform, &actor(&session), &form.id).await;
    decision_outcome(&platform, &headers, Desk::Admin, result, "approved")
}

pub async fn deny(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ReasonForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let result = decisions::deny(&platform, &actor(&session), &form.id, &form.reason).await;
    decision_outcome(&platform, &headers, Desk::Admin, result, "denied")
}

pub async fn erase_recipient(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Ok(email) = EmailAddress::parse(&form.email) else { return back(Desk::Admin, Err("invalid-email")) };
    match shared::recipients::erase_recipient(&platform, &session.organisation_id, &email).await {
        Ok(_) => back(Desk::Admin, Ok("recipient-erased")),
        Err(err) => failed(&platform, &headers, &err),
    }
}

#[derive(Template)]
#[template(path = "desk_cancelled.html")]
struct Cancelled {
    l: Layout,
    retained: Vec<RetainedRow>,
}

pub async fn cancel_organisation(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Admin).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let acting = (session.user_id.as_str(), session.organisation_id.as_str());
    match membership::cancel_organisation(&platform, acting, &form.password).await {
        Ok((_job, retained)) => {
            let r = request(&platform, &headers, "/", "desk-cancelled-title");
            let retained = retained.into_iter().map(|x| retained_row(crate::i18n::catalog(r.layout.lang), x)).collect();
            let mut response = render(StatusCode::OK, &Cancelled { l: r.layout, retained }, r.set_cookie);
            // Every session died with the accounts; the cookie goes too.
            response.headers_mut().append(header::SET_COOKIE, session::clear_cookie());
            response
        }
        Err(err) => membership_outcome(&platform, &headers, Err(err), ""),
    }
}

// ---- The operator desk ------------------------------------------------------------------------

pub struct OpenRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub received: String,
    pub due: String,
    pub overdue: bool,
    pub extended: Option<String>,
    /// Failed: why (kinds and counts only); it can be tried again or closed.
    pub failed: Option<String>,
}

pub struct ComplaintRow {
    pub id: String,
    pub received: String,
    pub message: String,
}

pub struct ReportRow {
    pub started: String,
    pub erased: String,
    pub exports_deleted: usize,
    pub reminders_queued: usize,
    pub deadline_alerts: usize,
    pub complete: bool,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorDesk {
    l: Layout,
    done: Option<String>,
    error: Option<String>,
    open: Vec<OpenRow>,
    overdue_count: usize,
    complaints: Vec<ComplaintRow>,
    reports: Vec<ReportRow>,
    max_days: i64,
}

pub async fn operator_desk(
    State(platform): State<Platform>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    query: Result<Query<Flash>, QueryRejection>,
) -> Response {
    if let Err(response) = shown_to(&platform, &headers, Desk::Operator, user).await {
        return *response;
    }
    let loaded = async {
        let (open, _) = decisions::open_page(&platform, None, 200, None).await?;
        let (complaints, _) = shared::operator::complaints_page(&platform, DESK_PAGE, None).await?;
        let (reports, _) = shared::operator::retention_reports_page(&platform, 20, None).await?;
        Ok::<_, StoreError>((open, complaints, reports))
    };
    let (open, complaints, reports) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return failed(&platform, &headers, &err),
    };
    let now = platform.clock.epoch_seconds();
    let r = request(&platform, &headers, "/operator", "desk-operator-title");
    let l = &r.layout;
    let (done, error) = flash(crate::i18n::catalog(l.lang), &query.map(|Query(q)| q).unwrap_or_default());
    let open: Vec<OpenRow> = open
        .into_iter()
        .map(|q| OpenRow {
            kind: type_text(l, q.kind),
            status: status_text(l, q.status),
            received: date(q.created_at),
            due: date_time(q.due_at),
            overdue: q.due_at < now,
            extended: q.extension.as_ref().map(|e| l.t1("desk-extended-by", "days", &e.days.to_string())),
            failed: (q.status == Status::Failed).then(|| q.failure_reason.unwrap_or_default()),
            id: q.id,
        })
        .collect();
    let page = OperatorDesk {
        done,
        error,
        overdue_count: open.iter().filter(|q| q.overdue).count(),
        open,
        complaints: complaints
            .into_iter()
            .map(|c| ComplaintRow {
                received: c.created_at.get(..10).unwrap_or_default().to_owned(),
                id: c.id,
                message: c.message,
            })
            .collect(),
        reports: reports
            .into_iter()
            .map(|x| ReportRow {
                started: x.started_at.replace('T', " ").chars().take(16).collect(),
                erased: if x.erased.is_empty() {
                    "0".into()
                } else {
                    x.erased.iter().map(|(kind, n)| format!("{kind}: {n}")).collect::<Vec<_>>().join(", ")
                },
                exports_deleted: x.exports_deleted,
                reminders_queued: x.reminders_queued,
                deadline_alerts: x.deadline_alerts,
                complete: x.complete,
            })
            .collect(),
        max_days: shared::rights::MAX_EXTENSION_DAYS,
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

pub async fn extend(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ExtendForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Ok(days) = form.days.trim().parse::<i64>() else { return back(Desk::Operator, Err("invalid-days")) };
    let result = decisions::extend(&platform, &actor(&session), &form.id, &form.reason, days).await;
    decision_outcome(&platform, &headers, Desk::Operator, result, "extended")
}

/// Resolves a failed request: tries it again, or closes it as completed or refused.
pub async fn resolve(
    State(platform): State<Platform>,
    headers: HeaderMap,
    form: Result<Form<ResolveForm>, FormRejection>,
) -> Response {
    let (session, form) = match posted(&platform, &headers, form, Desk::Operator).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let (resolution, done) = match form.action.as_str() {
        "retry" => (Resolution::Retry, "retried"),
        "complete" => (Resolution::Complete, "resolved"),
        "refuse" => (Resolution::Refuse, "resolved"),
        _ => return back(Desk::Operator, Err("invalid-action")),
    };
    let result = decisions::resolve(&platform, &actor(&session), &form.id, resolution, Some(&form.reason)).await;
    decision_outcome(&platform, &headers, Desk::Operator, result, done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_message_the_desks_compose_exists_in_every_language() {
        let composed = DONE
            .iter()
            .map(|c| format!("desk-done-{c}"))
            .chain(ERRORS.iter().map(|c| format!("desk-error-{c}")))
            .chain(
                [RequestType::Access, RequestType::Portability, RequestType::Correction, RequestType::Erasure]
                    .map(|k| format!("desk-type-{}", k.as_str())),
            )
            .chain(
                ["awaiting", "queued", "processing", "completed", "denied", "failed"]
                    .map(|s| format!("desk-status-{s}")),
            )
            .chain(["desk-kind-invoice".to_owned()]);
        for id in composed {
            for lang in Lang::ALL {
                assert!(crate::i18n::catalog(lang).has(&id), "{lang:?} lacks {id}");
            }
        }
    }

    #[test]
    fn only_known_codes_are_shown_back() {
        let shown = flash(
            crate::i18n::catalog(Lang::En),
            &Flash { done: Some("approved".into()), error: Some("<script>".into()) },
        );
        assert_eq!(shown, (Some("The request was approved and is being carried out.".into()), None));
    }

    #[test]
    fn a_record_kind_without_a_text_keeps_its_name() {
        let l = crate::i18n::catalog(Lang::Sv);
        let row = retained_row(
            l,
            Retained {
                kind: "invoice".into(),
                legal_basis: "Bokföringslagen".into(),
                purge_after: "2033-12-31".into(),
            },
        );
        assert_eq!(row.kind, "Faktura (id, belopp och datum)");
        let row =
            retained_row(l, Retained { kind: "ledger".into(), legal_basis: String::new(), purge_after: String::new() });
        assert_eq!(row.kind, "ledger");
    }
}
