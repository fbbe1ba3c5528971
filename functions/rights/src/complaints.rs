//! Complaints to the DPO over the API: the use case is `shared::complaints::file` (stored with
//! the complainant, the DPO told by e-mail); the user is answered with the DPO's contact and the
//! supervisory authority's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::complaints;
use shared::config::{Party, SupervisoryAuthority};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery, ClientAddress};
use shared::http::{ListParams, Paginated};
use shared::responses::{JsonBody, SessionWrite, Throttled};
use shared::session::AuthUser;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComplaint {
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintReceipt {
    pub id: String,
    pub status: &'static str,
    pub dpo: Party,
    pub supervisory_authority: SupervisoryAuthority,
}

/// Files a complaint with the DPO.
#[utoipa::path(post, path = "/v1/complaints", tag = "rights", request_body = NewComplaint, operation_id = "create_complaint",
    responses(JsonBody, SessionWrite, Throttled,
        (status = 201, body = ComplaintReceipt),
        (status = 422, description = "invalid_message, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn create(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(new): ApiJson<NewComplaint>,
) -> Result<(StatusCode, Json<ComplaintReceipt>), ApiError> {
    let receipt = complaints::file(&platform, &auth.user_id, &auth.organisation_id, &new.message).await?;
    Ok((
        StatusCode::CREATED,
        Json(ComplaintReceipt {
            id: receipt.id,
            status: "received",
            dpo: receipt.dpo,
            supervisory_authority: receipt.supervisory_authority,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPublicComplaint {
    /// Optional, one line of at most 200 characters.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Where to answer.
    #[schema(min_length = 3, max_length = 254, example = "someone@example.com")]
    pub email: String,
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
}

/// Files a complaint with the DPO without signing in: anyone may complain, at any time. At
/// most 10 a day per client address and 3 a day per contact address (429 with `Retry-After`).
/// The answer names the DPO and the supervisory authority.
#[utoipa::path(post, path = "/v1/public-complaints", tag = "rights", request_body = NewPublicComplaint, operation_id = "create_public_complaint",
    responses(JsonBody, Throttled, shared::responses::Unavailable,
        (status = 201, body = ComplaintReceipt),
        (status = 422, description = "invalid_message, invalid_name, invalid_email, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_public(
    State(platform): State<Platform>,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(new): ApiJson<NewPublicComplaint>,
) -> Result<(StatusCode, Json<ComplaintReceipt>), ApiError> {
    let complaint = complaints::PublicComplaint {
        name: new.name.as_deref(),
        contact: &new.email,
        message: &new.message,
        client: client.map(|c| c.0.0),
    };
    let receipt = complaints::file_public(&platform, complaint).await.map_err(|err| match err {
        complaints::PublicComplaintError::Complaint(err) => ApiError::from(err),
        complaints::PublicComplaintError::Invalid(err) => ApiError::from(err),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(ComplaintReceipt {
            id: receipt.id,
            status: "received",
            dpo: receipt.dpo,
            supervisory_authority: receipt.supervisory_authority,
        }),
    ))
}

/// Complaints, newest first (operators).
#[utoipa::path(get, path = "/v1/operator/complaints", tag = "rights", params(ListParams), operation_id = "list_complaints",
    responses(shared::responses::Query, shared::responses::Session, (status = 200, body = Paginated<shared::operator::ComplaintEntry>),
        (status = 403, description = "forbidden: operators only", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<shared::operator::ComplaintEntry>>, ApiError> {
    auth.require_operator(&platform).await?;
    let (items, cursor) = shared::operator::complaints_page(&platform, params.limit()?, params.cursor.clone()).await?;
    Ok(Json(Paginated { items, cursor }))
}
