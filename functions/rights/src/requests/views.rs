//! What each party sees: a requester their own requests, an admin their organisation's, an
//! operator the open ones by deadline; the export link for the requester alone.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::error::{ApiError, Problem};
use shared::http::{ApiQuery, ListParams, Paginated};
use shared::responses::{Query, Session};
use shared::rights::requester;
use shared::rights::{self, RightsRequest};
use shared::session::AuthUser;
use shared::store::{Index, Query as StoreQuery, StoreError};
use utoipa::{IntoParams, ToSchema};

use super::{RequestView, visible};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `organisation` (admins): every request of the organisation; default: your own.
    #[param(inline)]
    pub scope: Option<Scope>,
    /// The `cursor` of the previous page.
    #[param(max_length = 8192, pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Own,
    Organisation,
}

/// Your own requests, newest first; an admin may ask for the organisation's.
#[utoipa::path(get, path = "/v1/rights-requests", tag = "rights", params(ListQuery), operation_id = "list_rights_requests",
    responses(Query, Session, (status = 200, body = Paginated<RequestView>),
        (status = 403, description = "forbidden: scope=organisation and not an admin", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListQuery>,
) -> Result<Json<Paginated<RequestView>>, ApiError> {
    let limit = ListParams { cursor: None, limit: params.limit }.limit()?;
    let query = match params.scope.unwrap_or(Scope::Own) {
        Scope::Own => StoreQuery::index(Index::Gsi3, shared::keys::user_rights(&auth.user_id)),
        Scope::Organisation => {
            auth.require_admin()?;
            StoreQuery::index(Index::Gsi1, shared::keys::organisation_rights(&auth.organisation_id))
        }
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
    responses(Session, (status = 200, body = RequestView),
        (status = 404, description = "not_found: no such request, or not yours to see", body = Problem, content_type = "application/problem+json")),
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
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `csv` (a zip of CSV files; access requests only).
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
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
    responses(Query, Session,
        (status = 200, body = ExportLink),
        (status = 404, description = "not_found: no such request, not the requester's, or a kind without export", body = Problem, content_type = "application/problem+json"),
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
    let format = match query.format.unwrap_or(ExportFormat::Json) {
        ExportFormat::Json => requester::ExportFormat::Json,
        ExportFormat::Csv => requester::ExportFormat::Csv,
    };
    let link = requester::export_link(&platform, &auth.user_id, &request, format).await?;
    Ok(Json(ExportLink { url: link.url, expires_at: link.expires_at.to_rfc3339(), format: format.as_str().to_owned() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OpenQuery {
    /// Only requests past their deadline.
    pub overdue: Option<bool>,
    /// The `cursor` of the previous page.
    #[param(max_length = 8192, pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Open requests of every organisation, earliest deadline first (operators).
#[utoipa::path(get, path = "/v1/operator/rights-requests", tag = "rights", params(OpenQuery),
    responses(Query, Session, (status = 200, body = Paginated<RequestView>),
        (status = 403, description = "forbidden: operators only", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list_open(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<OpenQuery>,
) -> Result<Json<Paginated<RequestView>>, ApiError> {
    auth.require_operator(&platform).await?;
    let limit = ListParams { cursor: None, limit: params.limit }.limit()?;
    let overdue_at = params.overdue.unwrap_or(false).then(|| platform.clock.epoch_seconds());
    let (requests, cursor) = rights::decisions::open_page(&platform, overdue_at, limit, params.cursor).await?;
    Ok(Json(Paginated { items: requests.into_iter().map(RequestView::from).collect(), cursor }))
}
