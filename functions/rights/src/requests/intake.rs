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
use shared::rights::recorded::{self, Channel, Person, Recorded};
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

/// A request received by letter or phone, as an operator records it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedRequest {
    pub channel: Channel,
    /// The day it reached us (UTC): the one-month deadline runs from it.
    #[schema(format = Date, example = "2026-11-02", max_length = 10)]
    pub received_on: String,
    #[serde(rename = "type")]
    pub kind: RequestType,
    /// The person's account, by its id ...
    #[schema(max_length = 64)]
    pub user_id: Option<String>,
    /// ... or by its address (exactly one of the two).
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// What the person asked, in short (at most 2,000 characters).
    #[schema(max_length = 2000)]
    pub details: Option<String>,
    /// Correction only: the corrected values, e.g. `{"email": "new@example.com"}`.
    pub changes: Option<Map<String, Value>>,
    /// The operator checked who the person is (GDPR Art. 12(6)); required.
    pub identity_verified: bool,
}

/// Records a request received outside the product, by letter or phone (operators only). It
/// follows the same workflow as one filed in the app (a member's waits for an admin), and
/// its deadline is one calendar month from `received_on`.
#[utoipa::path(post, path = "/v1/operator/rights-requests", tag = "rights", request_body = RecordedRequest, operation_id = "record_rights_request",
    responses(JsonBody, SessionWrite,
        (status = 201, body = RequestView),
        (status = 403, description = "forbidden: operators only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "duplicate_request (names the open one) or last_admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "person_required, unknown_person, identity_not_verified, invalid_received_on, details_too_long, changes_required, invalid_changes, invalid_email, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn record(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(new): ApiJson<RecordedRequest>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    auth.require_operator(&platform).await?;
    let person = match (new.user_id, new.email) {
        (Some(user_id), None) if user_id.len() <= 64 => Person::Account(user_id),
        (None, Some(email)) => Person::Address(email),
        _ => {
            return Err(ApiError::unprocessable(
                "person_required",
                "Name the person by `user_id` or by `email`, not both.",
            ));
        }
    };
    let recorded = Recorded {
        channel: new.channel,
        received_on: new.received_on,
        kind: new.kind,
        person,
        details: new.details,
        changes: new.changes,
        identity_verified: new.identity_verified,
    };
    let request = recorded::record(&platform, &auth.user_id, recorded).await?;
    Ok((StatusCode::CREATED, Json(request.into())))
}
