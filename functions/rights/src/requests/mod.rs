//! Rights requests over HTTP: intake ([`intake`]), decisions of admins and operators
//! ([`decisions`]) and what each party may see ([`views`]). The workflow's rules (which status
//! may follow which, optimistic locking, the open list) live in `shared::rights`.

pub mod decisions;
pub mod intake;
pub mod views;

use serde::Serialize;
use serde_json::{Map, Value};
use shared::Platform;
use shared::clock::rfc3339_from_epoch as time;
use shared::error::ApiError;
use shared::rights::{Extension, HistoryEntry, IllegalTransition, RequestType, RightsRequest, Status};
use shared::session::AuthUser;
use utoipa::ToSchema;

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

pub(crate) fn illegal(err: IllegalTransition) -> ApiError {
    ApiError::conflict("invalid_status", err.to_string())
}

/// The request, for its requester, an admin of its organisation, or an operator; anyone else
/// gets 404, as if it did not exist (the rule is `shared::rights::decisions::visible`).
pub(crate) async fn visible(platform: &Platform, auth: &AuthUser, id: &str) -> Result<RightsRequest, ApiError> {
    Ok(shared::rights::decisions::visible(platform, &actor(auth), id).await?)
}

/// The caller, as the decisions of `shared::rights` take them.
pub(crate) fn actor(auth: &AuthUser) -> shared::rights::decisions::Actor {
    shared::rights::decisions::Actor {
        user_id: auth.user_id.clone(),
        organisation_id: auth.organisation_id.clone(),
        role: auth.role,
        operator: auth.operator,
    }
}
