//! GDPR Art. 19: the recipients of a person's usage data are told when the person is erased.
//!
//! When an erasure job completes it queues one [`EraseMessage`] on the marketing queue (the
//! marketing worker holds the destinations and their credentials). The worker asks each
//! destination to erase ([`super::Destination::erase`]) and keeps one [`RecipientErasure`] per
//! erasure and destination, so the DPO can show who was told and when:
//! - Google Analytics: the User Deletion API for the user id we sent → `confirmed` with
//!   Google's deletion request time. A failure leaves the record `requested` with its attempts
//!   and the message fails, so the queue redelivers it later (after 5 receives it waits in the
//!   dead-letter queue, which raises the marketing alarm). The erasure itself never waits.
//!   A failed call also leaves a [`PendingCall`]: the retention sweeper queues it again after
//!   [`FIRST_REQUEUE_SECONDS`], then after twice as long each time, and after
//!   [`MAX_REQUEUES`] tells the DPO instead ([`due_calls`], [`requeue`], [`give_up`]), so a
//!   call never depends on someone redriving the dead-letter queue.
//! - Facebook: the Conversions API has no deletion call → `not_possible` with the reason.
//! - A destination that is not configured (locally: an outbox folder) received nothing, so
//!   nothing is sent or recorded for it.
//!
//! The records hold no personal data: the job id, the destination, times and counts. The
//! pseudonymous id travels only in the queue message, which lives as long as the marketing
//! queue keeps messages, and in a [`PendingCall`] while a call waits to be made again (it is
//! deleted once every destination is told). Records are kept [`RECORD_SECONDS`] (3 years) as
//! proof (Art. 5(2)).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Destination, DestinationId, SyncError, pseudonymous_id};
use crate::Platform;
use crate::keys;
use crate::queue::{QueueError, QueueName};
use crate::store::{Index, Item, Query, SortKey, StoreError};

/// How long the proof that recipients were told is kept: 3 years, the limitation period of
/// the claims it may have to answer.
pub const RECORD_SECONDS: i64 = 3 * 365 * 24 * 3600;

/// The marketing queue's message asking the destinations to erase one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseMessage {
    /// The erasure job, which the records are filed under.
    pub marketing_erasure: String,
    /// The pseudonymous id the destinations know the person by (never our user id).
    pub user: String,
}

/// What a destination did with an erase call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// The destination took the request (GA4: its `deletionRequestTime`).
    Confirmed { provider_time: Option<String> },
    /// The destination offers no way to erase what it received.
    NotPossible { reason: &'static str },
    /// Nothing ever left us for this destination (a local outbox): nothing to tell.
    NothingSent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    Requested,
    Confirmed,
    NotPossible,
}

/// One erasure's outcome at one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientErasure {
    pub erasure_job: String,
    pub destination: String,
    pub status: RecipientStatus,
    /// Why not possible.
    #[serde(default)]
    pub reason: Option<String>,
    pub attempts: u32,
    /// The last failure ("HTTP 500"), until confirmed.
    #[serde(default)]
    pub last_error: Option<String>,
    pub requested_at: i64,
    pub updated_at: i64,
    /// The destination's own time for the request (GA4's `deletionRequestTime`).
    #[serde(default)]
    pub provider_time: Option<String>,
}

impl RecipientErasure {
    fn item(&self) -> Result<Item, StoreError> {
        Ok(Item::new(keys::recipient_erasure(&self.erasure_job, &self.destination), "recipient_erasure")
            .with_data(self)?
            .expires_at(self.requested_at + RECORD_SECONDS))
    }

    fn done(&self) -> bool {
        self.status != RecipientStatus::Requested
    }
}

/// Queues the erase call for a completed erasure of `user_id`.
pub async fn request(platform: &Platform, job_id: &str, user_id: &str) -> Result<(), QueueError> {
    let message = EraseMessage { marketing_erasure: job_id.to_owned(), user: pseudonymous_id(user_id) };
    let body = serde_json::to_string(&message).map_err(|err| QueueError::Invalid(err.to_string()))?;
    platform.queue.send(QueueName::Marketing, body).await
}

/// The records of one erasure, one per destination told.
pub async fn records(platform: &Platform, job_id: &str) -> Result<Vec<RecipientErasure>, StoreError> {
    let mut found = Vec::new();
    for id in [DestinationId::GoogleAnalytics, DestinationId::Facebook] {
        if let Some(item) = platform.store.get(&keys::recipient_erasure(job_id, id.as_str())).await? {
            found.push(item.data()?);
        }
    }
    Ok(found)
}

/// Why an erase message must come back later.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error(transparent)]
    Destination(#[from] SyncError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Tells every destination not yet told, recording each outcome. Fails if a destination
/// could not be told (the message then comes back); the others' outcomes stay recorded.
pub async fn carry_out(
    platform: &Platform,
    destinations: &[Arc<dyn Destination>],
    message: &EraseMessage,
) -> Result<Vec<RecipientErasure>, EraseError> {
    let now = platform.clock.epoch_seconds();
    let mut outcomes = Vec::new();
    let mut first_failure = None;
    // A destination still `requested` from an earlier attempt: a pending call may wait.
    let mut retried = false;
    for destination in destinations {
        let id = destination.id();
        let key = keys::recipient_erasure(&message.marketing_erasure, id.as_str());
        let known: Option<RecipientErasure> = match platform.store.get(&key).await? {
            Some(item) => Some(item.data()?),
            None => None,
        };
        if let Some(record) = known.as_ref().filter(|record| record.done()) {
            outcomes.push(record.clone());
            continue;
        }
        retried |= known.is_some();
        let mut record = known.unwrap_or(RecipientErasure {
            erasure_job: message.marketing_erasure.clone(),
            destination: id.as_str().to_owned(),
            status: RecipientStatus::Requested,
            reason: None,
            attempts: 0,
            last_error: None,
            requested_at: now,
            updated_at: now,
            provider_time: None,
        });
        record.attempts += 1;
        record.updated_at = now;
        match destination.erase(&message.user).await {
            Ok(Erased::NothingSent) => continue,
            Ok(Erased::Confirmed { provider_time }) => {
                record.status = RecipientStatus::Confirmed;
                record.provider_time = provider_time;
                record.last_error = None;
            }
            Ok(Erased::NotPossible { reason }) => {
                record.status = RecipientStatus::NotPossible;
                record.reason = Some(reason.to_owned());
            }
            Err(err) => {
                tracing::warn!(error = %err, destination = id.as_str(), "erase call failed; it is retried");
                record.last_error = Some(err.to_string());
                first_failure.get_or_insert(err);
            }
        }
        platform.store.put(record.item()?, None).await?;
        outcomes.push(record);
    }
    match first_failure {
        Some(err) => {
            wait_for_sweeper(platform, message, now).await?;
            Err(err.into())
        }
        None => {
            // Every destination told: nothing waits any more (only an earlier failure left one).
            if retried {
                platform.store.delete(&keys::erase_call(&message.marketing_erasure), None).await?;
            }
            Ok(outcomes)
        }
    }
}

/// How long after a failed erase call the sweeper first queues it again. The queue has by
/// then retried it 5 times in about 15 minutes (3-minute visibility), so what is left is an
/// outage or a broken setting: an hour, then twice as long each time, gives an outage of a
/// day and more time to pass without calling Google every few minutes.
pub const FIRST_REQUEUE_SECONDS: i64 = 3600;
/// Times the sweeper queues one call again (1 + 2 + 4 + 8 + 16 + 32 hours: about 2.6 days
/// after the first failure) before it tells the DPO and stops.
pub const MAX_REQUEUES: u32 = 6;
/// An erase call that failed: what the sweeper needs to queue it again, indexed by when it is
/// due ([`keys::erase_call_due`]). Deleted once every destination is told, or when the sweeper
/// gives up (the record stays `requested` as proof of the attempts, and the last message
/// waits in the dead-letter queue for a redrive once the cause is fixed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCall {
    pub erasure_job: String,
    /// The pseudonymous id the destinations know the person by.
    pub user: String,
    /// Times the sweeper queued it again.
    pub requeues: u32,
    /// When the sweeper queues it next.
    pub due_at: i64,
    pub first_failed_at: i64,
}

impl PendingCall {
    /// Expires with the backoff's whole span and a week to spare: the sweeper deletes it long
    /// before, unless it stops running.
    fn item(&self) -> Result<Item, StoreError> {
        let span: i64 = (0..=MAX_REQUEUES).map(Self::backoff).sum();
        Ok(Item::new(keys::erase_call(&self.erasure_job), "erase_call")
            .with_data(self)?
            .with_index(Index::Gsi1, keys::erase_call_due(self.due_at, &self.erasure_job))
            .expires_at(self.first_failed_at + span + 7 * 24 * 3600))
    }

    /// The wait before the next re-queue: doubling from [`FIRST_REQUEUE_SECONDS`].
    pub fn backoff(requeues: u32) -> i64 {
        FIRST_REQUEUE_SECONDS.saturating_mul(1i64 << requeues.min(20))
    }
}

/// After a failed call: the call waits for the sweeper, due one backoff after this failure
/// (a redelivery keeps its count; a redrive after the sweeper gave up starts a new one).
async fn wait_for_sweeper(platform: &Platform, message: &EraseMessage, now: i64) -> Result<(), StoreError> {
    let key = keys::erase_call(&message.marketing_erasure);
    let call = match platform.store.get(&key).await? {
        Some(item) => {
            let call: PendingCall = item.data()?;
            PendingCall { due_at: now + PendingCall::backoff(call.requeues), ..call }
        }
        None => PendingCall {
            erasure_job: message.marketing_erasure.clone(),
            user: message.user.clone(),
            requeues: 0,
            due_at: now + PendingCall::backoff(0),
            first_failed_at: now,
        },
    };
    platform.store.put(call.item()?, None).await
}

/// The calls due by `now`, oldest first, at most `limit`: one query of the index. A call that
/// does not decode is counted, not returned (it must not stop the others).
pub async fn due_calls(platform: &Platform, now: i64, limit: u32) -> Result<(Vec<PendingCall>, usize), StoreError> {
    let query = Query::index(Index::Gsi1, keys::ERASE_CALLS_DUE)
        .sort(SortKey::LessThan(keys::erase_call_due_sort(now.saturating_add(1))))
        .limit(limit);
    let page = platform.store.query(query).await?;
    let mut calls = Vec::with_capacity(page.items.len());
    let mut corrupt = 0;
    for item in page.items {
        match item.data::<PendingCall>() {
            Ok(call) => calls.push(call),
            Err(err) => {
                tracing::error!(error = %err, "a pending erase call does not decode");
                corrupt += 1;
            }
        }
    }
    Ok((calls, corrupt))
}

/// Queues the call again and makes it due one (doubled) backoff later. Saved before sent: a
/// worker that fails it again at once then sets its own due time, which wins; a send that
/// fails leaves it due later, not lost.
pub async fn requeue(platform: &Platform, call: &PendingCall) -> Result<(), EraseError> {
    let now = platform.clock.epoch_seconds();
    let requeues = call.requeues + 1;
    let next = PendingCall { requeues, due_at: now + PendingCall::backoff(requeues), ..call.clone() };
    platform.store.put(next.item()?, None).await?;
    let message = EraseMessage { marketing_erasure: call.erasure_job.clone(), user: call.user.clone() };
    let body = serde_json::to_string(&message).map_err(|err| QueueError::Invalid(err.to_string()))?;
    Ok(platform.queue.send(QueueName::Marketing, body).await?)
}

/// The sweeper stops queuing the call (it told the DPO): the pseudonymous id goes with it.
pub async fn give_up(platform: &Platform, call: &PendingCall) -> Result<(), StoreError> {
    platform.store.delete(&keys::erase_call(&call.erasure_job), None).await.map(|_| ())
}
