//! Intake and workflow of rights requests.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::Platform;
use shared::clock::rfc3339_from_epoch as time;
use shared::domain::{EmailAddress, ListParams, Paginated, Role};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery};
use shared::queue::QueueName;
use shared::rights::{
    self, EXPORT_LINK_SECONDS, Extension, HistoryEntry, MAX_EXTENSION_DAYS, RequestType, RightsMessage, RightsRequest,
    SaveError, Status,
};
use shared::session::AuthUser;
use shared::store::{Index, Query, StoreError};
use shared::{keys, mail};
use signup::account::UserRecord;
use utoipa::{IntoParams, ToSchema};

use crate::emails;

const MAX_DETAILS: usize = 2_000;
const MAX_REASON: usize = 1_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    #[serde(rename = "type")]
    pub kind: RequestType,
    /// Free text for the organisation and us (at most 2,000 characters).
    pub details: Option<String>,
    /// Correction only: the corrected values, e.g. `{"email": "new@example.com"}`.
    pub changes: Option<Map<String, Value>>,
}

/// A request as its requester, its organisation's admins and operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: RequestType,
    pub status: Status,
    pub organisation_id: String,
    /// Absent once an erasure is complete: the request is then anonymous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub created_at: String,
    pub due_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<Extension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub history: Vec<HistoryEntry>,
}

impl From<RightsRequest> for RequestView {
    fn from(r: RightsRequest) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            status: r.status,
            organisation_id: r.organisation_id,
            user_id: r.user_id,
            created_at: time(r.created_at),
            due_at: time(r.due_at),
            details: r.details,
            changes: r.changes,
            extension: r.extension,
            failure_reason: r.failure_reason,
            history: r.history,
        }
    }
}

fn store_error(err: SaveError) -> ApiError {
    match err {
        SaveError::Conflict => {
            ApiError::conflict("conflict", "The request changed meanwhile (someone else decided first); reload it.")
        }
        SaveError::Store(err) => err.into(),
    }
}

/// Checks the correction's `changes`: only known fields, each valid.
fn check_changes(kind: RequestType, changes: &Option<Map<String, Value>>) -> Result<(), ApiError> {
    match (kind, changes) {
        (RequestType::Correction, None) => Err(ApiError::unprocessable(
            "changes_required",
            "A correction needs `changes`, e.g. {\"email\": \"new@example.com\"}.",
        )),
        (RequestType::Correction, Some(changes)) => {
            if changes.is_empty() {
                return Err(ApiError::unprocessable("changes_required", "`changes` is empty."));
            }
            for (field, value) in changes {
                match (field.as_str(), value) {
                    ("email", Value::String(email)) => {
                        EmailAddress::parse(email)?;
                    }
                    ("email", _) => {
                        return Err(ApiError::unprocessable("invalid_changes", "`email` must be a string."));
                    }
                    _ => {
                        return Err(ApiError::unprocessable(
                            "invalid_changes",
                            "Only `email` can be corrected by request; your other data is yours to edit in the app.",
                        ));
                    }
                }
            }
            Ok(())
        }
        (_, Some(_)) => Err(ApiError::unprocessable("invalid_changes", "Only a correction takes `changes`.")),
        (_, None) => Ok(()),
    }
}

async fn enqueue(platform: &Platform, request_id: &str) -> Result<(), ApiError> {
    let body =
        serde_json::to_string(&RightsMessage { request_id: request_id.to_owned() }).map_err(ApiError::internal)?;
    platform.queue.send(QueueName::Rights, body).await?;
    Ok(())
}

/// Files a request. A member's waits for an admin of their organisation; an admin's is
/// queued at once. One open request per type and person (409 names the open one).
#[utoipa::path(post, path = "/v1/rights-requests", tag = "rights", request_body = NewRequest,
    responses(
        (status = 201, body = RequestView),
        (status = 409, description = "duplicate_request (names the open one) or last_admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn create(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(new): ApiJson<NewRequest>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    if new.details.as_ref().is_some_and(|d| d.chars().count() > MAX_DETAILS) {
        return Err(ApiError::unprocessable("details_too_long", "`details` is at most 2,000 characters."));
    }
    check_changes(new.kind, &new.changes)?;
    let user = signup::account::load_user(&platform, &auth.user_id).await?;
    if new.kind == RequestType::Erasure {
        signup::account::refuse_last_admin(&platform, &user).await?;
    }
    let now = platform.clock.epoch_seconds();
    let mut request = RightsRequest::new(
        ulid::Ulid::new().to_string(),
        auth.organisation_id.clone(),
        auth.user_id.clone(),
        new.kind,
        new.details.filter(|d| !d.trim().is_empty()),
        new.changes,
        now,
    );
    let by_admin = auth.role == Role::Admin;
    request.transition(Status::AwaitingOrganisationApproval, auth.user_id.clone(), None, now);
    if by_admin {
        request.transition(
            Status::Queued,
            auth.user_id.clone(),
            Some("filed by an admin: no approval needed".into()),
            now,
        );
    }
    match rights::create(&platform, &mut request).await {
        Ok(()) => {}
        Err(SaveError::Conflict) => {
            let open = rights::open_request_of(&platform, &auth.user_id, new.kind).await?.unwrap_or_default();
            return Err(ApiError::conflict(
                "duplicate_request",
                format!("You already have an open {} request: {open}", new.kind.as_str()),
            ));
        }
        Err(SaveError::Store(err)) => return Err(err.into()),
    }
    if by_admin && let Err(err) = enqueue(&platform, &request.id).await {
        // Nothing half-done: the request disappears and the caller may try again.
        rights::withdraw_creation(&platform, &request).await?;
        return Err(err);
    }
    let mut notices = vec![emails::received(&platform.settings, &user.email, &request, !by_admin)];
    if !by_admin {
        // The organisation's admins decide: tell them there is something to decide.
        let members = shared::store::query_all(
            platform.store.as_ref(),
            Query::index(Index::Gsi1, keys::organisation_members(&auth.organisation_id)).limit(1_000),
        )
        .await?;
        for member in members {
            let member: UserRecord = member.data()?;
            if member.role == Role::Admin {
                notices.push(emails::awaiting_approval(&platform.settings, &member.email, &request));
            }
        }
    }
    mail::enqueue(platform.queue.as_ref(), notices).await?;
    tracing::info!(request_id = %request.id, kind = request.kind.as_str(), "rights request filed");
    Ok((StatusCode::CREATED, Json(request.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `organisation` (admins): every request of the organisation; default: your own.
    pub scope: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Your own requests, newest first; an admin may ask for the organisation's.
#[utoipa::path(get, path = "/v1/rights-requests", tag = "rights", params(ListQuery),
    responses((status = 200, body = Paginated<RequestView>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListQuery>,
) -> Result<Json<Paginated<RequestView>>, ApiError> {
    let limit = ListParams { cursor: None, limit: params.limit }.limit()?;
    let query = match params.scope.as_deref() {
        None | Some("own") => Query::index(Index::Gsi3, rights::user_listing(&auth.user_id)),
        Some("organisation") => {
            auth.require_admin()?;
            Query::index(Index::Gsi1, rights::organisation_listing(&auth.organisation_id))
        }
        Some(_) => return Err(ApiError::bad_request("invalid_scope", "scope is `own` or `organisation`.")),
    };
    let page = platform.store.query(query.backward().limit(limit).cursor(params.cursor)).await?;
    let items = page
        .items
        .iter()
        .map(|item| item.data::<RightsRequest>().map(RequestView::from))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Json(Paginated { items, cursor: page.cursor }))
}

/// The request, for its requester, an admin of its organisation, or an operator; anyone else
/// gets 404, as if it did not exist.
async fn visible(platform: &Platform, auth: &AuthUser, id: &str) -> Result<RightsRequest, ApiError> {
    let not_found = || ApiError::not_found("No such rights request.");
    if ulid::Ulid::from_string(id).is_err() {
        return Err(not_found());
    }
    let request = rights::load(platform, id).await?.ok_or_else(not_found)?;
    let admin_of_it = auth.role == Role::Admin && auth.organisation_id == request.organisation_id;
    if request.is_requester(&auth.user_id) || admin_of_it || auth.operator { Ok(request) } else { Err(not_found()) }
}

#[utoipa::path(get, path = "/v1/rights-requests/{id}", tag = "rights",
    params(("id" = String, Path)),
    responses((status = 200, body = RequestView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn get_one(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(visible(&platform, &auth, &id).await?.into()))
}

/// A request an admin of its organisation may decide on.
async fn decidable(platform: &Platform, auth: &AuthUser, id: &str) -> Result<RightsRequest, ApiError> {
    let request = visible(platform, auth, id).await?;
    if auth.organisation_id != request.organisation_id {
        return Err(ApiError::not_found("No such rights request."));
    }
    auth.require_admin()?;
    if request.status != Status::AwaitingOrganisationApproval {
        return Err(ApiError::conflict(
            "invalid_status",
            "Only a request awaiting approval can be approved or denied.",
        ));
    }
    Ok(request)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    pub status: Status,
}

/// An admin approves a member's request: it is queued for the worker.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/approve", tag = "rights",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Decision),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid_status, or conflict: another admin decided first", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn approve(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Decision>, ApiError> {
    let mut request = decidable(&platform, &auth, &id).await?;
    // Queued first: if the approval then loses to another admin's decision, the worker finds
    // the request denied and drops the message; if it wins, the message is already there.
    enqueue(&platform, &request.id).await?;
    let due_at = request.due_at;
    request.transition(Status::Queued, format!("admin:{}", auth.user_id), None, platform.clock.epoch_seconds());
    rights::save(&platform, &mut request, due_at).await.map_err(store_error)?;
    Ok(Json(Decision { status: Status::Queued }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Told to the requester (at most 1,000 characters).
    pub reason: String,
}

fn check_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(ApiError::unprocessable("invalid_reason", "A reason of 1 to 1,000 characters is required."));
    }
    Ok(reason.to_owned())
}

/// An admin denies a member's request, with a reason the requester is told.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/deny", tag = "rights", request_body = Reason,
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Decision),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn deny(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Decision>, ApiError> {
    let reason = check_reason(&body.reason)?;
    let mut request = decidable(&platform, &auth, &id).await?;
    let due_at = request.due_at;
    request.transition(
        Status::Denied,
        format!("admin:{}", auth.user_id),
        Some(reason.clone()),
        platform.clock.epoch_seconds(),
    );
    rights::save(&platform, &mut request, due_at).await.map_err(store_error)?;
    if let Some(user_id) = &request.user_id
        && let Ok(user) = signup::account::load_user(&platform, user_id).await
    {
        mail::enqueue(
            platform.queue.as_ref(),
            vec![emails::denied(&user.email, &request, &reason, &platform.settings)],
        )
        .await?;
    }
    Ok(Json(Decision { status: Status::Denied }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    pub reason: String,
    /// 1 to 61 days (two months at most, GDPR Art. 12(3)).
    pub days: i64,
}

/// An operator extends an open request's deadline, once; the requester is told why.
#[utoipa::path(post, path = "/v1/rights-requests/{id}/extend", tag = "rights", request_body = ExtensionRequest,
    params(("id" = String, Path)),
    responses(
        (status = 200, body = RequestView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_extended or not open", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn extend(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ExtensionRequest>,
) -> Result<Json<RequestView>, ApiError> {
    auth.require_operator()?;
    let reason = check_reason(&body.reason)?;
    if !(1..=MAX_EXTENSION_DAYS).contains(&body.days) {
        return Err(ApiError::unprocessable("invalid_days", "An extension is 1 to 61 days (two months at most)."));
    }
    let mut request = visible(&platform, &auth, &id).await?;
    if !request.status.is_open() {
        return Err(ApiError::conflict("invalid_status", "Only an open request can be extended."));
    }
    if request.extension.is_some() {
        return Err(ApiError::conflict("already_extended", "A request can be extended once."));
    }
    let now = platform.clock.epoch_seconds();
    let previous_due = request.due_at;
    request.due_at += body.days * 24 * 3600;
    request.extension = Some(Extension { days: body.days, reason: reason.clone(), at: time(now) });
    let note = format!("deadline extended by {} days", body.days);
    let status = request.status;
    request.history.push(HistoryEntry {
        at: time(now),
        from: Some(status),
        to: status,
        by: format!("operator:{}", auth.user_id),
        note: Some(note),
    });
    rights::save(&platform, &mut request, previous_due).await.map_err(store_error)?;
    if let Some(user_id) = &request.user_id
        && let Ok(user) = signup::account::load_user(&platform, user_id).await
    {
        mail::enqueue(platform.queue.as_ref(), vec![emails::extended(&user.email, &request, &reason)]).await?;
    }
    Ok(Json(request.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `csv` (a zip of CSV files; access requests only).
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportLink {
    pub url: String,
    pub expires_at: String,
    pub format: String,
}

/// A time-limited link to the export of a completed access or portability request, for its
/// requester only.
#[utoipa::path(get, path = "/v1/rights-requests/{id}/export", tag = "rights",
    params(("id" = String, Path), ExportQuery),
    responses(
        (status = 200, body = ExportLink),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "not_ready: the request is not completed", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "export_expired: exports are kept 7 days", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "format_unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
pub async fn export(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Json<ExportLink>, ApiError> {
    let request = visible(&platform, &auth, &id).await?;
    if !request.is_requester(&auth.user_id) {
        // Admins and operators see the request, never the person's data.
        return Err(ApiError::not_found("No export for you here: only the requester can download it."));
    }
    if !matches!(request.kind, RequestType::Access | RequestType::Portability) {
        return Err(ApiError::not_found("This kind of request has no export."));
    }
    let Some(exports) = request.exports.filter(|_| request.status == Status::Completed) else {
        return Err(ApiError::conflict("not_ready", "The export is not ready yet."));
    };
    if exports.expires_at <= platform.clock.epoch_seconds() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "export_expired",
            "Exports are kept 7 days; this one is gone. File a new request for a fresh copy.",
        ));
    }
    let format = query.format.unwrap_or_else(|| "json".into());
    let key = match format.as_str() {
        "json" => exports.json,
        "csv" => exports
            .csv_zip
            .ok_or_else(|| ApiError::unprocessable("format_unavailable", "This export is available as JSON only."))?,
        _ => return Err(ApiError::bad_request("invalid_format", "format is `json` or `csv`.")),
    };
    let link = platform
        .blobs
        .signed_url(&key, std::time::Duration::from_secs(EXPORT_LINK_SECONDS as u64))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(ExportLink { url: link.url, expires_at: link.expires_at.to_rfc3339(), format }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OpenQuery {
    /// Only requests past their deadline.
    pub overdue: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Open requests of every organisation, earliest deadline first (operators).
#[utoipa::path(get, path = "/v1/operator/rights-requests", tag = "rights", params(OpenQuery),
    responses((status = 200, body = Paginated<RequestView>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list_open(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<OpenQuery>,
) -> Result<Json<Paginated<RequestView>>, ApiError> {
    auth.require_operator()?;
    let limit = ListParams { cursor: None, limit: params.limit }.limit()?;
    let now = platform.clock.epoch_seconds();
    let query = rights::open_query(params.overdue.unwrap_or(false).then_some(now)).limit(limit).cursor(params.cursor);
    let page = platform.store.query(query).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for entry in &page.items {
        let Some(id) = entry.attrs.get("request_id").and_then(|v| v.as_str()) else { continue };
        match rights::load(&platform, id).await? {
            Some(request) => items.push(request.into()),
            // Erased with its requester: its entry goes too.
            None => rights::drop_open_entry(&platform, &entry.key).await?,
        }
    }
    Ok(Json(Paginated { items, cursor: page.cursor }))
}

/// What each retention sweep did, newest first (operators).
#[utoipa::path(get, path = "/v1/operator/retention-reports", tag = "rights", params(ListParams),
    responses((status = 200, body = Paginated<shared::retention::RetentionReport>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn retention_reports(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<shared::retention::RetentionReport>>, ApiError> {
    auth.require_operator()?;
    let query = shared::retention::reports_query().limit(params.limit()?).cursor(params.cursor.clone());
    let page = platform.store.query(query).await?;
    let items = page.items.iter().map(|item| item.data()).collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Json(Paginated { items, cursor: page.cursor }))
}
