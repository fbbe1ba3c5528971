//! Filing a request: validated, checked against the last-admin rule, stored with its lock and
//! its place in the open list, queued at once when an admin files it, and announced by e-mail.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::Platform;
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::responses::{JsonBody, SessionWrite, Throttled};
use shared::rights::RequestType;
use shared::rights::requester::{self, Requester};
use shared::session::AuthUser;
use utoipa::ToSchema;

use super::RequestView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    #[serde(rename = "type")]
    pub kind: RequestType,
    /// Free text for the organisation and us (at most 2,000 characters).
    #[schema(max_length = 2000)]
    pub details: Option<String>,
    /// Correction only: the corrected values, e.g. `{"email": "new@example.com"}`.
    pub changes: Option<Map<String, Value>>,
    /// Your current password: required for an erasure and for a correction of the address,
    /// which a stolen session alone must not be able to do.
    #[schema(max_length = 128)]
    pub password: Option<String>,
}

/// Files a request. A member's waits for an admin of their organisation; an admin's is
/// queued at once. One open request per type and person (409 names the open one).
#[utoipa::path(post, path = "/v1/rights-requests", tag = "rights", request_body = NewRequest, operation_id = "create_rights_request",
    responses(JsonBody, SessionWrite, Throttled,
        (status = 201, body = RequestView),
        (status = 401, description = "invalid_credentials: the password is wrong; or unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "duplicate_request (names the open one) or last_admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "details_too_long, changes_required, invalid_changes, invalid_email, password_required, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn create(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(new): ApiJson<NewRequest>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let by = Requester { user_id: auth.user_id, organisation_id: auth.organisation_id, role: auth.role };
    let request = requester::file(&platform, &by, new.kind, new.details, new.changes, new.password.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(request.into())))
}
