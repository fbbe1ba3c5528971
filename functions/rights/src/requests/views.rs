//! What each party sees: a requester their own requests, an admin their organisation's, an
//! operator the open ones by deadline; the export link for the requester alone.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::error::{ApiError, Problem};
use shared::http::{ApiQuery, ListParams, Paginated};
use shared::rights::requester::{self, ExportFormat};
use shared::rights::{self, RightsRequest};
use shared::session::AuthUser;
use shared::store::{Index, Query, StoreError};
use utoipa::{IntoParams, ToSchema};

use super::{RequestView, visible};

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
        None | Some("own") => Query::index(Index::Gsi3, shared::keys::user_rights(&auth.user_id)),
        Some("organisation") => {
            auth.require_admin()?;
            Query::index(Index::Gsi1, shared::keys::organisation_rights(&auth.organisation_id))
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
    let format = query.format.unwrap_or_else(|| "json".into());
    let parsed = ExportFormat::parse(&format)
        .ok_or_else(|| ApiError::bad_request("invalid_format", "format is `json` or `csv`."))?;
    let link = requester::export_link(&platform, &auth.user_id, &request, parsed).await?;
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
