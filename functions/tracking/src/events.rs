//! `POST /v1/events`: usage events of the signed-in user, stored only with consent.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::Platform;
use shared::consent::{self, PurposeId};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ClientAddress};
use shared::queue::QueueName;
use shared::responses::{JsonBody, SessionWrite};
use shared::session::AuthUser;
use shared::store::BatchOp;
use shared::tracking::{RETENTION_SECONDS, TrackedEvent};
use utoipa::ToSchema;

pub const MAX_EVENTS: usize = 100;
const MAX_NAME: usize = 64;
const MAX_PROPERTIES: usize = 25;
const MAX_PROPERTY_VALUE: usize = 512;
/// Clocks drift: an event may claim to be this far in the future.
const FUTURE_TOLERANCE_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsRequest {
    /// 1 to 100 events.
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<EventInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// 1 to 64 characters: lower-case letters, digits, `_ . : -`, starting with a letter.
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z][a-z0-9_.:-]*$")]
    pub name: String,
    /// RFC 3339; defaults to when the request arrived. Not in the future, not over 3 years old.
    #[schema(format = DateTime)]
    pub occurred_at: Option<String>,
    /// Up to 25 flat properties: strings (at most 512 characters), numbers, booleans, null.
    pub properties: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsAccepted {
    pub accepted: usize,
    /// How many will be stored: 0 without `analytics_cookies` consent.
    pub stored: usize,
}

fn invalid(detail: String) -> ApiError {
    ApiError::unprocessable("invalid_event", detail)
}

fn check_event(n: usize, event: &EventInput, now_ms: i64) -> Result<i64, ApiError> {
    let name = &event.name;
    let name_ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.:-".contains(c));
    if !name_ok {
        return Err(invalid(format!(
            "events[{n}].name must be 1 to {MAX_NAME} characters: lower-case letters, digits, _ . : -, starting with a letter."
        )));
    }
    let occurred_at_ms = match &event.occurred_at {
        None => now_ms,
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| invalid(format!("events[{n}].occurred_at is not an RFC 3339 time.")))?
            .timestamp_millis(),
    };
    if occurred_at_ms > now_ms + FUTURE_TOLERANCE_MS {
        return Err(invalid(format!("events[{n}].occurred_at is in the future.")));
    }
    if occurred_at_ms <= now_ms - RETENTION_SECONDS * 1000 {
        return Err(invalid(format!("events[{n}].occurred_at is older than the 3 years usage data is kept.")));
    }
    if let Some(properties) = &event.properties {
        if properties.len() > MAX_PROPERTIES {
            return Err(invalid(format!("events[{n}].properties has more than {MAX_PROPERTIES} entries.")));
        }
        for (key, value) in properties {
            let key_ok =
                !key.is_empty() && key.len() <= MAX_NAME && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok {
                return Err(invalid(format!(
                    "events[{n}].properties has an invalid key (letters, digits and _ only)."
                )));
            }
            let value_ok = match value {
                Value::String(s) => s.chars().count() <= MAX_PROPERTY_VALUE,
                Value::Number(_) | Value::Bool(_) | Value::Null => true,
                Value::Array(_) | Value::Object(_) => false,
            };
            if !value_ok {
                return Err(invalid(format!(
                    "events[{n}].properties.{key} must be a string of at most {MAX_PROPERTY_VALUE} characters, a number, a boolean or null."
                )));
            }
        }
    }
    Ok(occurred_at_ms)
}

/// Records usage events. They are stored (within seconds, by the tracking worker) only while
/// `analytics_cookies` is granted; the IP address and browser information only then too.
/// Either every event is valid and accepted, or none is. Stored events are limited per user
/// and UTC day (`INFENTRE_EVENTS_PER_USER_DAY`, default 10,000): over it, `429` with
/// `Retry-After` until the next day.
#[utoipa::path(post, path = "/v1/events", tag = "tracking", request_body = EventsRequest,
    params(("Sec-GPC" = Option<String>, Header, description = "Global Privacy Control: 1 records marketing_sharing as refused (method gpc) before the events are taken")),
    responses(JsonBody, SessionWrite,
        (status = 202, body = EventsAccepted),
        (status = 429, description = "rate_limited: the user's daily quota of stored events (INFENTRE_EVENTS_PER_USER_DAY, default 10,000) is used up; Retry-After says when the next UTC day starts", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the quota renews"))),
        (status = 422, description = "invalid_event or invalid_body; nothing is stored", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn record_events(
    State(platform): State<Platform>,
    auth: AuthUser,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(request): ApiJson<EventsRequest>,
) -> Result<(StatusCode, Json<EventsAccepted>), ApiError> {
    let count = request.events.len();
    if count == 0 || count > MAX_EVENTS {
        return Err(invalid(format!("Send 1 to {MAX_EVENTS} events, not {count}.")));
    }
    let now_ms = platform.clock.now().timestamp_millis();
    let times =
        request.events.iter().enumerate().map(|(n, e)| check_event(n, e, now_ms)).collect::<Result<Vec<_>, _>>()?;

    // The browser refuses sharing: recorded before these events could be shared.
    if consent::gpc_header(headers.get("sec-gpc").and_then(|v| v.to_str().ok())) {
        consent::honour_gpc(&platform, &auth.user_id).await?;
    }
    if !consent::is_granted(&platform, &auth.user_id, PurposeId::AnalyticsCookies).await? {
        return Ok((StatusCode::ACCEPTED, Json(EventsAccepted { accepted: count, stored: 0 })));
    }
    let ip = client.map(|c| c.0.0.to_string());
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect::<String>());
    // Only stored events count against the user's daily quota (429 with Retry-After).
    shared::throttle::take_event_quota(&platform, &auth.user_id, count as i64).await?;
    let received_at = now_ms / 1000;
    let events: Vec<TrackedEvent> = request
        .events
        .into_iter()
        .zip(times)
        .map(|(event, occurred_at_ms)| TrackedEvent {
            event_id: ulid::Ulid::new().to_string(),
            user_id: auth.user_id.clone(),
            organisation_id: auth.organisation_id.clone(),
            name: event.name,
            occurred_at_ms,
            received_at,
            properties: event.properties.unwrap_or_default(),
            ip: ip.clone(),
            user_agent: user_agent.clone(),
        })
        .collect();
    // The events wait in the user's partition (erased with them); the messages carry only ids.
    let pending =
        events.iter().map(|e| e.pending_item(received_at).map(BatchOp::Put)).collect::<Result<Vec<_>, _>>()?;
    platform.store.batch_write(pending).await?;
    let bodies = events
        .iter()
        .map(|e| serde_json::to_string(&e.message()).map_err(ApiError::internal))
        .collect::<Result<Vec<_>, _>>()?;
    // One message per event, in full batches of 10.
    platform.queue.send_batch(QueueName::Tracking, bodies).await?;
    Ok((StatusCode::ACCEPTED, Json(EventsAccepted { accepted: count, stored: count })))
}
