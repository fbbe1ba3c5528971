//! The retention sweeper's reports, for operators.

use axum::Json;
use axum::extract::State;
use shared::Platform;
use shared::error::{ApiError, Problem};
use shared::http::{ApiQuery, ListParams, Paginated};
use shared::session::AuthUser;

/// What each retention sweep did, newest first (operators).
#[utoipa::path(get, path = "/v1/operator/retention-reports", tag = "rights", params(ListParams),
    responses(shared::responses::Query, shared::responses::Session, (status = 200, body = Paginated<shared::retention::RetentionReport>),
        (status = 403, description = "forbidden: operators only", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn retention_reports(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<shared::retention::RetentionReport>>, ApiError> {
    auth.require_operator(&platform).await?;
    let (items, cursor) =
        shared::operator::retention_reports_page(&platform, params.limit()?, params.cursor.clone()).await?;
    Ok(Json(Paginated { items, cursor }))
}
