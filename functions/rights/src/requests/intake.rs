//! Filing a request: validated, checked against the last-admin rule, stored with its lock and
//! its place in the open list, queued at once when an admin files it, and announced by e-mail.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::Platform;
use shared::accounts;
use shared::domain::{EmailAddress, Role};
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::mail;
use shared::queue::QueueName;
use shared::responses::{JsonBody, SessionWrite, Throttled};
use shared::rights::{self, RequestType, RightsMessage, RightsRequest, SaveError, Status, emails};
use shared::session::AuthUser;
use utoipa::ToSchema;

use super::{RequestView, illegal};

const MAX_DETAILS: usize = 2_000;

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

/// Erasure cannot be undone, and a new address takes the account over: both need the
/// password, not only a session.
fn needs_password(new: &NewRequest) -> bool {
    new.kind == RequestType::Erasure || new.changes.as_ref().is_some_and(|changes| changes.contains_key("email"))
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

pub(crate) async fn enqueue(platform: &Platform, request_id: &str) -> Result<(), ApiError> {
    let body =
        serde_json::to_string(&RightsMessage { request_id: request_id.to_owned() }).map_err(ApiError::internal)?;
    platform.queue.send(QueueName::Rights, body).await?;
    Ok(())
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
    if new.details.as_ref().is_some_and(|d| d.chars().count() > MAX_DETAILS) {
        return Err(ApiError::unprocessable("details_too_long", "`details` is at most 2,000 characters."));
    }
    check_changes(new.kind, &new.changes)?;
    let user = accounts::load_user(&platform, &auth.user_id).await?;
    if needs_password(&new) {
        let Some(password) = new.password.as_deref() else {
            return Err(ApiError::unprocessable(
                "password_required",
                "An erasure or a new address needs your current password in `password`.",
            ));
        };
        accounts::confirm_password(&platform, &user, password).await?;
    }
    if new.kind == RequestType::Erasure {
        accounts::refuse_last_admin(&platform, &user).await?;
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
    request.transition(Status::AwaitingOrganisationApproval, auth.user_id.clone(), None, now).map_err(illegal)?;
    if by_admin {
        request
            .transition(Status::Queued, auth.user_id.clone(), Some("filed by an admin: no approval needed".into()), now)
            .map_err(illegal)?;
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
        for member in accounts::members(&platform, &auth.organisation_id).await? {
            if member.role == Role::Admin {
                notices.push(emails::awaiting_approval(&platform.settings, &member.email, &request));
            }
        }
    }
    mail::enqueue(platform.queue.as_ref(), notices).await?;
    tracing::info!(request_id = %request.id, kind = request.kind.as_str(), "rights request filed");
    Ok((StatusCode::CREATED, Json(request.into())))
}
