//! Marketing sync: usage data shared with Google Analytics 4 (Measurement Protocol) and
//! Facebook (Conversions API), only while the user's `marketing_sharing` consent holds.
//!
//! Producers (the tracking worker, the SendGrid webhook) queue one [`SyncMessage`] per event;
//! the marketing worker checks the consent again when it sends, so a withdrawal stops
//! everything still queued. What leaves us: the event's name, time and bounded properties,
//! a hash of the user's id, and the SHA-256 of the user's normalised e-mail as each API asks.
//! Never an IP address or a browser string, and never an identifier of the organisations'
//! own customers (their interactions go out as events of the sending user).
//!
//! The port is [`Destination`]: over HTTPS in AWS ([`http`]), or an outbox folder of the
//! exact request bodies locally ([`outbox`]). Both send what the builders here produce.

pub mod erasure;
pub mod fields;
#[cfg(feature = "ga4-user-deletion")]
pub mod google;
#[cfg(feature = "providers")]
pub mod http;
#[cfg(feature = "embedded")]
pub mod outbox;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::{ConfigError, Source};
use crate::hash::sha256_hex;
use crate::keys;
use crate::store::{Item, Key, StoreError};

/// GA4 takes at most 25 events per request, all of one client.
pub const GA4_MAX_EVENTS: usize = 25;
/// GA4 drops events more than 72 hours old.
pub const GA4_MAX_AGE_SECONDS: i64 = 72 * 3600;
/// The Conversions API takes at most 1,000 events per request.
pub const FACEBOOK_MAX_EVENTS: usize = 1000;
/// The Conversions API refuses events more than 7 days old.
pub const FACEBOOK_MAX_AGE_SECONDS: i64 = 7 * 24 * 3600;

/// One event to share. It waits in the sharing user's partition ([`SharedEvent::pending_item`])
/// until the marketing worker handles it; the queue carries only its [`SyncMessage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedEvent {
    /// Unique per event (usage events: their id; e-mail interactions: `sg:` + SendGrid's id).
    pub event_id: String,
    /// Whose `marketing_sharing` consent decides.
    pub user_id: String,
    pub name: String,
    /// Unix seconds.
    pub occurred_at: i64,
    #[serde(default)]
    pub params: Map<String, Value>,
    /// For e-mail interactions: the organisation's recipient, checked against its suppressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<RecipientRef>,
    /// `website` for platform usage, `email` for e-mail interactions (Facebook's action source).
    pub source: EventSource,
}

/// One event on the marketing queue: ids only, never the event's properties (whatever a client
/// put there may be personal) nor a recipient's hashed address. A message stuck in the
/// dead-letter queue holds nothing that erasure cannot reach: the event itself waits in the
/// user's partition and is erased with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncMessage {
    pub user_id: String,
    pub event_id: String,
}

impl SyncMessage {
    /// Where its event waits for the marketing worker.
    pub fn pending_key(&self) -> Key {
        keys::marketing_event(&self.user_id, &self.event_id)
    }
}

/// How long an event waits for the marketing worker past the time it happened: as long as a
/// destination would still take it (Facebook's 7 days; GA4's 72 hours are shorter), and a day
/// for clock skew. A message that comes back later (from the dead-letter queue) finds nothing
/// and is acknowledged with no effect: no destination would have taken the event anyway.
pub const PENDING_SECONDS_AFTER_EVENT: i64 = FACEBOOK_MAX_AGE_SECONDS + 24 * 3600;

impl SharedEvent {
    /// The event waiting for the marketing worker, in the user's partition.
    pub fn pending_item(&self) -> Result<Item, StoreError> {
        Ok(Item::new(keys::marketing_event(&self.user_id, &self.event_id), "marketing_event")
            .with_data(self)?
            .expires_at(self.occurred_at.saturating_add(PENDING_SECONDS_AFTER_EVENT)))
    }

    /// Its message on the marketing queue.
    pub fn message(&self) -> SyncMessage {
        SyncMessage { user_id: self.user_id.clone(), event_id: self.event_id.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientRef {
    pub organisation_id: String,
    /// SHA-256 of the recipient's normalised address (as stored with the interactions).
    pub recipient: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Website,
    Email,
}

/// The user an event is shared for, in the hashed forms the APIs take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedUser {
    /// A stable pseudonymous id: SHA-256 of our user id (GA4's `client_id`, Facebook's `external_id`).
    pub id: String,
    /// GA4: SHA-256 of the address lower-cased, trimmed, dots removed before `@gmail.com`.
    pub ga4_email: String,
    /// Facebook: SHA-256 of the address trimmed and lower-cased.
    pub facebook_email: String,
}

impl HashedUser {
    pub fn new(user_id: &str, email: &str) -> Self {
        let email = email.trim().to_lowercase();
        let ga4 = match email.rsplit_once('@') {
            Some((local, domain)) if domain == "gmail.com" || domain == "googlemail.com" => {
                format!("{}@{domain}", local.replace('.', ""))
            }
            _ => email.clone(),
        };
        Self {
            id: pseudonymous_id(user_id),
            ga4_email: sha256_hex(ga4.as_bytes()),
            facebook_email: sha256_hex(email.as_bytes()),
        }
    }
}

/// The stable pseudonymous id a destination knows a user by: SHA-256 of our user id. GA4
/// has it as `client_id` and `user_id` (its User Deletion API erases by the latter),
/// Facebook as `external_id`.
pub fn pseudonymous_id(user_id: &str) -> String {
    sha256_hex(format!("infentre-user:{user_id}").as_bytes())
}

/// One event ready to go: the event and its user's identifiers.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub event: &'a SharedEvent,
    pub user: &'a HashedUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationId {
    GoogleAnalytics,
    Facebook,
}

impl DestinationId {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationId::GoogleAnalytics => "google_analytics",
            DestinationId::Facebook => "facebook",
        }
    }

    pub fn max_age_seconds(self) -> i64 {
        match self {
            DestinationId::GoogleAnalytics => GA4_MAX_AGE_SECONDS,
            DestinationId::Facebook => FACEBOOK_MAX_AGE_SECONDS,
        }
    }

    /// The requests for these events, split as the API requires.
    pub fn requests(self, events: &[Outgoing<'_>]) -> Vec<Request> {
        match self {
            DestinationId::GoogleAnalytics => ga4_requests(events),
            DestinationId::Facebook => facebook_requests(events),
        }
    }
}

/// One request body, and which of the given events it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub events: Vec<usize>,
    pub body: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Worth retrying: network, 5xx, 429.
    #[error("{destination} is unavailable: {reason}")]
    Unavailable { destination: &'static str, reason: String },
    /// The destination refused the request (4xx): retrying will not help, but the records
    /// still fail so they reach the dead-letter queue for an operator to see.
    #[error("{destination} refused the request: {reason}")]
    Refused { destination: &'static str, reason: String },
}

/// Where shared events go. One call per request of [`DestinationId::requests`].
#[async_trait]
pub trait Destination: Send + Sync + std::fmt::Debug {
    fn id(&self) -> DestinationId;
    async fn send(&self, body: &Value) -> Result<(), SyncError>;
    /// Art. 19: asks the destination to erase what it received about the user known to it
    /// by `user` ([`pseudonymous_id`]). See [`erasure`].
    async fn erase(&self, user: &str) -> Result<erasure::Erased, SyncError>;
}

/// Why Facebook cannot be asked to erase.
pub const FACEBOOK_NO_DELETION: &str = "Meta's Conversions API offers no call to delete events it has received; \
     they stay with Meta under its own retention";

/// Names GA4 keeps for itself: events and parameters named so are dropped.
const GA4_RESERVED_EVENT_NAMES: [&str; 38] = [
    "ad_activeview",
    "ad_click",
    "ad_exposure",
    "ad_impression",
    "ad_query",
    "ad_reward",
    "adunit_exposure",
    "app_background",
    "app_clear_data",
    "app_exception",
    "app_remove",
    "app_store_refund",
    "app_store_subscription_cancel",
    "app_store_subscription_convert",
    "app_store_subscription_renew",
    "app_uninstall",
    "app_update",
    "app_upgrade",
    "dynamic_link_app_open",
    "dynamic_link_app_update",
    "dynamic_link_first_open",
    "error",
    "firebase_campaign",
    "firebase_in_app_message_action",
    "firebase_in_app_message_dismiss",
    "firebase_in_app_message_impression",
    "first_open",
    "first_visit",
    "in_app_purchase",
    "notification_dismiss",
    "notification_foreground",
    "notification_open",
    "notification_receive",
    "os_update",
    "session_start",
    "session_start_with_rollout",
    "user_engagement",
    "screen_view",
];
const GA4_RESERVED_PREFIXES: [&str; 3] = ["ga_", "google_", "firebase_"];

/// GA4 names: letters, digits and `_`, starting with a letter, at most 40 characters, and
/// neither a reserved name nor a reserved prefix (those get `e_` in front).
fn ga4_name(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(40).collect();
    let reserved = GA4_RESERVED_EVENT_NAMES.contains(&out.as_str())
        || GA4_RESERVED_PREFIXES.iter().any(|prefix| out.to_ascii_lowercase().starts_with(prefix));
    if reserved || !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out = format!("e_{out}");
        out.truncate(40);
    }
    out
}

/// Scalar parameters only, GA4's limits: 25 parameters, names of 40 and values of 100
/// characters. GA4 takes strings and numbers: a boolean goes as `"true"`/`"false"`.
fn ga4_params(params: &Map<String, Value>) -> Map<String, Value> {
    params
        .iter()
        .filter_map(|(name, value)| {
            let value = match value {
                Value::String(text) => Value::String(text.chars().take(100).collect()),
                Value::Number(_) => value.clone(),
                Value::Bool(flag) => Value::String(flag.to_string()),
                _ => return None,
            };
            Some((ga4_name(name), value))
        })
        .take(25)
        .collect()
}

/// Measurement Protocol requests: one per user and 25 events, with event-level timestamps.
pub fn ga4_requests(events: &[Outgoing<'_>]) -> Vec<Request> {
    let mut by_user: std::collections::BTreeMap<&str, Vec<usize>> = std::collections::BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        by_user.entry(event.user.id.as_str()).or_default().push(index);
    }
    let mut requests = Vec::new();
    for (client_id, indexes) in by_user {
        for chunk in indexes.chunks(GA4_MAX_EVENTS) {
            let user = events[chunk[0]].user;
            let body_events: Vec<Value> = chunk
                .iter()
                .map(|&index| {
                    let event = events[index].event;
                    json!({
                        "name": ga4_name(&event.name),
                        "timestamp_micros": event.occurred_at.saturating_mul(1_000_000),
                        "params": ga4_params(&event.params),
                    })
                })
                .collect();
            let body = json!({
                "client_id": client_id,
                // The same pseudonymous id as user id: the User Deletion API erases by it.
                "user_id": client_id,
                "user_data": { "sha256_email_address": [user.ga4_email] },
                "events": body_events,
            });
            requests.push(Request { events: chunk.to_vec(), body });
        }
    }
    requests
}

/// Meta requires `event_source_url` and `client_user_agent` for `website` events, and the
/// notice promises that no browser string leaves us: usage of the web app goes as `other`
/// ("a way that is not listed"), e-mail interactions as `email`.
fn facebook_action_source(source: EventSource) -> &'static str {
    match source {
        EventSource::Website => "other",
        EventSource::Email => "email",
    }
}

/// Conversions API requests: up to 1,000 events each, deduplicated by Facebook on `event_id`.
pub fn facebook_requests(events: &[Outgoing<'_>]) -> Vec<Request> {
    let indexes: Vec<usize> = (0..events.len()).collect();
    indexes
        .chunks(FACEBOOK_MAX_EVENTS)
        .map(|chunk| {
            let data: Vec<Value> = chunk
                .iter()
                .map(|&index| {
                    let Outgoing { event, user } = events[index];
                    json!({
                        "event_name": event.name,
                        "event_time": event.occurred_at,
                        "event_id": event.event_id,
                        "action_source": facebook_action_source(event.source),
                        "user_data": {
                            "em": [user.facebook_email],
                            "external_id": [user.id],
                        },
                        "custom_data": event.params,
                    })
                })
                .collect();
            Request { events: chunk.to_vec(), body: json!({ "data": data }) }
        })
        .collect()
}

/// The destinations' settings. A destination without its settings is off.
#[derive(Debug, Clone, Default)]
pub struct DestinationSettings {
    pub google_analytics: Option<Ga4Settings>,
    pub facebook: Option<FacebookSettings>,
}

#[derive(Clone)]
pub struct Ga4Settings {
    /// `…/mp/collect`; the EU endpoint by default, so collection stays in the EU.
    pub endpoint: String,
    pub measurement_id: String,
    pub api_secret: String,
    /// The User Deletion API (Art. 19); without it an erasure records GA4 as `not_possible`.
    pub user_deletion: Option<Ga4UserDeletion>,
}

#[derive(Clone)]
pub struct Ga4UserDeletion {
    /// `…/userDeletion/userDeletionRequests:upsert`.
    pub endpoint: String,
    /// The GA4 property (numeric id) the measurement stream belongs to.
    pub property_id: String,
    /// The service account's JSON key (a secret); the account needs the property's
    /// `analytics.user.deletion` scope.
    pub service_account_key: String,
}

impl std::fmt::Debug for Ga4UserDeletion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ga4UserDeletion")
            .field("endpoint", &self.endpoint)
            .field("property_id", &self.property_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct FacebookSettings {
    /// The Graph API base with its version, e.g. `https://graph.facebook.com/v21.0`.
    pub endpoint: String,
    pub pixel_id: String,
    pub access_token: String,
}

impl std::fmt::Debug for Ga4Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ga4Settings").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FacebookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookSettings").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

pub const GA4_DEFAULT_ENDPOINT: &str = "https://region1.google-analytics.com/mp/collect";
pub const GA4_USER_DELETION_DEFAULT_ENDPOINT: &str =
    "https://www.googleapis.com/analytics/v3/userDeletion/userDeletionRequests:upsert";
pub const FACEBOOK_DEFAULT_ENDPOINT: &str = "https://graph.facebook.com/v21.0";

impl DestinationSettings {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let set = |name: &str| source.get(name).filter(|v| !v.trim().is_empty());
        let url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = set(name).unwrap_or_else(|| default.to_owned());
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::Invalid { name, reason: "must be an http(s) URL".into() })
            }
        };
        let google_analytics = match (set("INFENTRE_GA4_MEASUREMENT_ID"), set("INFENTRE_GA4_API_SECRET")) {
            (Some(measurement_id), Some(api_secret)) => Some(Ga4Settings {
                endpoint: url("INFENTRE_GA4_ENDPOINT", GA4_DEFAULT_ENDPOINT)?,
                measurement_id,
                api_secret,
                user_deletion: match (set("INFENTRE_GA4_PROPERTY_ID"), set("INFENTRE_GA4_SERVICE_ACCOUNT_KEY")) {
                    (Some(property_id), Some(service_account_key)) => Some(Ga4UserDeletion {
                        endpoint: url("INFENTRE_GA4_USER_DELETION_ENDPOINT", GA4_USER_DELETION_DEFAULT_ENDPOINT)?,
                        property_id,
                        service_account_key,
                    }),
                    (None, None) => None,
                    (Some(_), None) => return Err(ConfigError::Missing("INFENTRE_GA4_SERVICE_ACCOUNT_KEY")),
                    (None, Some(_)) => return Err(ConfigError::Missing("INFENTRE_GA4_PROPERTY_ID")),
                },
            }),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("INFENTRE_GA4_API_SECRET")),
            (None, Some(_)) => return Err(ConfigError::Missing("INFENTRE_GA4_MEASUREMENT_ID")),
        };
        let facebook = match (set("INFENTRE_FACEBOOK_PIXEL_ID"), set("INFENTRE_FACEBOOK_ACCESS_TOKEN")) {
            (Some(pixel_id), Some(access_token)) => Some(FacebookSettings {
                endpoint: url("INFENTRE_FACEBOOK_ENDPOINT", FACEBOOK_DEFAULT_ENDPOINT)?,
                pixel_id,
                access_token,
            }),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("INFENTRE_FACEBOOK_ACCESS_TOKEN")),
            (None, Some(_)) => return Err(ConfigError::Missing("INFENTRE_FACEBOOK_PIXEL_ID")),
        };
        Ok(Self { google_analytics, facebook })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(name: &str, params: Value) -> SharedEvent {
        SharedEvent {
            event_id: "01J0000000000000000000000A".into(),
            user_id: "01J0000000000000000000000U".into(),
            name: name.into(),
            occurred_at: 1_790_000_000,
            params: params.as_object().cloned().unwrap_or_default(),
            recipient: None,
            source: EventSource::Website,
        }
    }

    #[test]
    fn emails_are_normalised_as_each_api_asks() {
        let user = HashedUser::new("u1", "  John.Smith@GMail.com ");
        assert_eq!(user.facebook_email, sha256_hex(b"john.smith@gmail.com"));
        assert_eq!(user.ga4_email, sha256_hex(b"johnsmith@gmail.com"));
        let other = HashedUser::new("u1", "Jo.Ann@Example.com");
        assert_eq!(other.ga4_email, sha256_hex(b"jo.ann@example.com"));
        assert_eq!(user.id, other.id, "the pseudonymous id depends on the user id only");
        assert_eq!(user.id.len(), 64);
    }

    #[test]
    fn ga4_bodies_respect_the_protocols_limits() {
        let user = HashedUser::new("u1", "a@example.com");
        let long = "x".repeat(300);
        let messages: Vec<SharedEvent> = (0..30)
            .map(|_| message("9 page-view", json!({"path": "/a", "nested": {"no": 1}, "long": long, "n": 3})))
            .collect();
        let events: Vec<Outgoing> = messages.iter().map(|event| Outgoing { event, user: &user }).collect();
        let requests = ga4_requests(&events);
        assert_eq!(requests.len(), 2, "25 events per request");
        assert_eq!(requests[1].events, (25..30).collect::<Vec<_>>());
        let bodies: Vec<Value> = requests.into_iter().map(|r| r.body).collect();
        assert_eq!(bodies[0]["events"].as_array().unwrap().len(), 25);
        let event = &bodies[0]["events"][0];
        assert_eq!(event["name"], "e_9_page_view");
        assert_eq!(event["timestamp_micros"], 1_790_000_000_000_000i64);
        assert!(event["params"].get("nested").is_none(), "objects are not GA4 parameters");
        assert_eq!(event["params"]["long"].as_str().unwrap().len(), 100);
        assert_eq!(bodies[0]["client_id"], user.id);
        assert_eq!(bodies[0]["user_data"]["sha256_email_address"][0], user.ga4_email);
        let text = bodies[0].to_string();
        assert!(!text.contains("a@example.com") && !text.contains("ip"), "{text}");
    }

    #[test]
    fn ga4_reserved_names_and_booleans_are_made_acceptable() {
        let user = HashedUser::new("u1", "a@example.com");
        let message = message("session_start", json!({"google_page": "/a", "first": true}));
        let body = &ga4_requests(&[Outgoing { event: &message, user: &user }])[0].body;
        let event = &body["events"][0];
        assert_eq!(event["name"], "e_session_start");
        assert_eq!(event["params"], json!({"e_google_page": "/a", "first": "true"}));
    }

    #[test]
    fn facebook_bodies_carry_hashed_identifiers_and_no_address() {
        let user = HashedUser::new("u1", "a@example.com");
        let message = message("page_view", json!({"path": "/a"}));
        let requests = facebook_requests(&[Outgoing { event: &message, user: &user }]);
        assert_eq!(requests.len(), 1);
        let event = &requests[0].body["data"][0];
        assert_eq!(event["event_id"], message.event_id);
        assert_eq!(event["action_source"], "other", "website events would need the browser string");
        assert_eq!(event["user_data"]["em"][0], user.facebook_email);
        let user_data = event["user_data"].as_object().unwrap();
        assert!(!user_data.contains_key("client_ip_address") && !user_data.contains_key("client_user_agent"));
    }

    #[test]
    fn a_destination_needs_all_its_settings() {
        let none = std::collections::HashMap::new();
        let settings = DestinationSettings::from_source(&none).unwrap();
        assert!(settings.google_analytics.is_none() && settings.facebook.is_none());
        let half = std::collections::HashMap::from([("INFENTRE_GA4_MEASUREMENT_ID", "G-1")]);
        assert!(DestinationSettings::from_source(&half).is_err());
        let ga4 = std::collections::HashMap::from([
            ("INFENTRE_GA4_MEASUREMENT_ID", "G-1"),
            ("INFENTRE_GA4_API_SECRET", "secret"),
        ]);
        let settings = DestinationSettings::from_source(&ga4).unwrap();
        assert_eq!(settings.google_analytics.unwrap().endpoint, GA4_DEFAULT_ENDPOINT);
        assert!(!format!("{:?}", DestinationSettings::from_source(&ga4).unwrap()).contains("secret"));
    }

    #[test]
    fn ga4_user_deletion_needs_its_property_and_key_and_hides_the_key() {
        let base = [("INFENTRE_GA4_MEASUREMENT_ID", "G-1"), ("INFENTRE_GA4_API_SECRET", "secret")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let source: std::collections::HashMap<_, _> = base.iter().chain(extra).copied().collect();
            DestinationSettings::from_source(&source)
        };
        let ga4 = with(&[]).unwrap().google_analytics.unwrap();
        assert!(ga4.user_deletion.is_none(), "off unless configured");
        assert!(with(&[("INFENTRE_GA4_PROPERTY_ID", "123")]).is_err());
        assert!(with(&[("INFENTRE_GA4_SERVICE_ACCOUNT_KEY", "{}")]).is_err());
        let settings = with(&[("INFENTRE_GA4_PROPERTY_ID", "123"), ("INFENTRE_GA4_SERVICE_ACCOUNT_KEY", "{\"k\":1}")])
            .unwrap()
            .google_analytics
            .unwrap();
        let deletion = settings.user_deletion.as_ref().unwrap();
        assert_eq!(deletion.endpoint, GA4_USER_DELETION_DEFAULT_ENDPOINT);
        assert_eq!(deletion.property_id, "123");
        assert!(!format!("{settings:?}").contains("\"k\""), "the key never shows in Debug");
    }

    #[test]
    fn ga4_knows_the_user_by_the_pseudonym_it_is_asked_to_delete() {
        let user = HashedUser::new("u1", "a@example.com");
        let message = message("page_view", json!({}));
        let body = &ga4_requests(&[Outgoing { event: &message, user: &user }])[0].body;
        assert_eq!(body["user_id"], pseudonymous_id("u1"));
        assert_eq!(body["client_id"], body["user_id"]);
    }
}
