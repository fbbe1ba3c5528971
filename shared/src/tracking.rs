//! Usage events: the message the tracking function queues and the tracking worker stores.
//!
//! An event is stored only while `analytics_cookies` is granted, keyed by its id (a
//! redelivered message overwrites the same item: no duplicates), spread over the user's
//! event partitions, and expires 3 years after it happened at the latest.
//!
//! The queue carries an [`EventMessage`]: ids only, never the client's properties, the
//! address or the browser string. The event waits in the user's partition (erased with them)
//! until the worker stores it, so a message stuck in the dead-letter queue holds nothing that
//! erasure cannot reach.

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

/// One usage event on the tracking queue: ids only. The event itself (name, times, the
/// client's properties, and the request's address and browser when the consent allowed them)
/// waits as a [`TrackedEvent`] in the user's partition ([`TrackedEvent::pending_item`]), so it
/// is erased with them and lives [`PENDING_SECONDS`] at most, and a message stuck in the
/// dead-letter queue holds nothing that erasure cannot reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMessage {
    pub user_id: String,
    pub event_id: String,
}

impl EventMessage {
    /// Where the event waits for the tracking worker.
    pub fn pending_key(&self) -> Key {
        keys::pending_event(&self.user_id, &self.event_id)
    }
}

/// How long an event waits for the tracking worker: longer than a message can wait in the
/// queue and its dead-letter queue (14 days). The worker deletes it once handled.
pub const PENDING_SECONDS: i64 = 15 * 24 * 3600;

impl TrackedEvent {
    /// The event waiting for the tracking worker, in the user's partition.
    pub fn pending_item(&self, now: i64) -> Result<Item, StoreError> {
        Ok(Item::new(keys::pending_event(&self.user_id, &self.event_id), "pending_event")
            .with_data(self)?
            .expires_at(now + PENDING_SECONDS))
    }

    /// Its message on the tracking queue.
    pub fn message(&self) -> EventMessage {
        EventMessage { user_id: self.user_id.clone(), event_id: self.event_id.clone() }
    }
}
