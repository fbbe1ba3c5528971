//! Usage events: the message the tracking function queues and the tracking worker stores.
//!
//! An event is stored only while `analytics_cookies` is granted, keyed by its id (a
//! redelivered message overwrites the same item: no duplicates), spread over the user's
//! event partitions, and expires 3 years after it happened at the latest.
//!
//! The queue carries an [`EventMessage`]: ids and the event, never the address or browser
//! string. Those wait in a [`RequestContext`] in the user's partition (erased with them),
//! so a message stuck in the dead-letter queue holds nothing that erasure cannot reach.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::keys;
use crate::store::{Item, Key, StoreError};

/// "We keep this information no longer than 3 years."
pub const RETENTION_SECONDS: i64 = 3 * 365 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedEvent {
    pub event_id: String,
    pub user_id: String,
    pub organisation_id: String,
    pub name: String,
    /// Unix milliseconds.
    pub occurred_at_ms: i64,
    pub received_at: i64,
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Browser information and address: present only when the consent was in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl TrackedEvent {
    pub fn key(&self) -> Key {
        let shard = crate::hash::shard_of(&self.event_id, keys::USAGE_EVENT_SHARDS);
        Key::new(keys::usage_events(&self.user_id, shard), keys::usage_event_sort(self.occurred_at_ms, &self.event_id))
    }

    /// The stored item: expires 3 years after the event happened.
    pub fn item(&self) -> Result<Item, StoreError> {
        let expires_at = self.occurred_at_ms.div_euclid(1000) + RETENTION_SECONDS;
        Ok(Item::new(self.key(), "usage_event").with_data(self)?.expires_at(expires_at))
    }
}

/// One usage event on the tracking queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMessage {
    pub event_id: String,
    pub user_id: String,
    pub organisation_id: String,
    pub name: String,
    /// Unix milliseconds.
    pub occurred_at_ms: i64,
    pub received_at: i64,
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// The request's [`RequestContext`], when the consent allowed keeping its address and browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
}

impl EventMessage {
    /// The event to store, with the address and browser of its request when still found.
    pub fn into_tracked(self, context: Option<&RequestContext>) -> TrackedEvent {
        TrackedEvent {
            event_id: self.event_id,
            user_id: self.user_id,
            organisation_id: self.organisation_id,
            name: self.name,
            occurred_at_ms: self.occurred_at_ms,
            received_at: self.received_at,
            properties: self.properties,
            ip: context.and_then(|c| c.ip.clone()),
            user_agent: context.and_then(|c| c.user_agent.clone()),
        }
    }
}

/// How long a request's address and browser wait for the tracking worker: longer than a
/// message can wait in the queue and its dead-letter queue (14 days).
pub const CONTEXT_SECONDS: i64 = 15 * 24 * 3600;

/// The address and browser string of one `POST /v1/events` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl RequestContext {
    pub fn item(&self, user_id: &str, context_id: &str, now: i64) -> Result<Item, StoreError> {
        Ok(Item::new(keys::request_context(user_id, context_id), "request_context")
            .with_data(self)?
            .expires_at(now + CONTEXT_SECONDS))
    }
}
