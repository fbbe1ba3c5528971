//! The marketing worker: shares queued events with Google Analytics and Facebook.
//!
//! The queue carries ids only ([`SyncMessage`]); the events wait in their users' partitions
//! and are read back together, and deleted once handled. An event no longer there (erased
//! with its user, or expired) is acknowledged with no effect.
//!
//! Everything is decided when sending, not when queueing: the user's `marketing_sharing`
//! consent (a withdrawal stops whatever is still queued), the user's existence (an erased
//! account shares nothing), the recipient's suppression for e-mail interactions, and each
//! API's age limit. Which destinations already took an event is recorded per event, so a
//! redelivery sends each event to each destination once; Facebook also deduplicates on
//! `event_id`. A destination that fails fails only the records it carried.
//!
//! The same queue carries the erase calls of completed erasures (Art. 19,
//! `shared::marketing::erasure`): each destination is told once, its outcome recorded, and a
//! failed call fails its message so the queue brings it back later.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use shared::Platform;
use shared::accounts;
use shared::concurrent::{IO_CONCURRENCY, map_bounded};
use shared::consent::{self, PurposeId};
use shared::keys;
use shared::marketing::erasure::{self, EraseMessage};
use shared::marketing::{Destination, DestinationId, HashedUser, Outgoing, SharedEvent, SyncMessage};
use shared::queue::batch::{BatchError, SqsBatchResponse, SqsEvent};
use shared::store::{BatchOp, Item, Key, StoreError};

/// How long a "sent" record is kept: longer than a message can live in the queue and its
/// dead-letter queue is not needed, as the APIs refuse events older than 7 days anyway.
const SENT_RECORD_SECONDS: i64 = 8 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct MarketingWorker {
    pub platform: Platform,
    pub destinations: Vec<Arc<dyn Destination>>,
}

/// What became of a batch, for the log line (counts only).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub sent: BTreeMap<&'static str, usize>,
    pub without_consent: usize,
    pub suppressed: usize,
    pub too_old: usize,
    /// Events no longer waiting (erased with their user, expired, or handled by an earlier
    /// delivery): acknowledged, nothing sent.
    pub gone: usize,
    pub failed: usize,
    /// Erase calls carried out (every destination told or recorded as not possible).
    pub erasures: usize,
}

impl MarketingWorker {
    pub fn new(platform: Platform, destinations: Vec<Arc<dyn Destination>>) -> Self {
        Self { platform, destinations }
    }

    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        let total = event.records.len();
        let (response, summary) = self.process(event).await?;
        tracing::info!(
            sent = ?summary.sent,
            without_consent = summary.without_consent,
            suppressed = summary.suppressed,
            too_old = summary.too_old,
            gone = summary.gone,
            failed = summary.failed,
            erasures = summary.erasures,
            "marketing batch"
        );
        if total > 0 && response.batch_item_failures.len() == total {
            return Err(BatchError::AllFailed(total));
        }
        Ok(response)
    }

    pub async fn process(&self, event: SqsEvent) -> Result<(SqsBatchResponse, BatchSummary), BatchError> {
        let mut response = SqsBatchResponse::default();
        let mut summary = BatchSummary::default();
        let mut decoded: Vec<(String, SyncMessage)> = Vec::with_capacity(event.records.len());
        // The same event twice in one batch (a redelivered producer): sent once, and the copy
        // shares the fate of the first.
        let mut first_of: HashMap<String, String> = HashMap::new();
        let mut copies: Vec<(String, String)> = Vec::new();
        for record in event.records {
            let message_id = record.message_id.ok_or(BatchError::MissingMessageId)?;
            let body = record.body.as_deref().unwrap_or_default();
            if let Ok(erase) = serde_json::from_str::<EraseMessage>(body) {
                match erasure::carry_out(&self.platform, &self.destinations, &erase).await {
                    Ok(_) => summary.erasures += 1,
                    Err(err) => {
                        tracing::warn!(%message_id, error = %err, "erase call will be retried");
                        response.add_failure(message_id);
                        summary.failed += 1;
                    }
                }
                continue;
            }
            match serde_json::from_str::<SyncMessage>(body) {
                Ok(message) => match first_of.get(&message.event_id) {
                    Some(first) => copies.push((message_id, first.clone())),
                    None => {
                        first_of.insert(message.event_id.clone(), message_id.clone());
                        decoded.push((message_id, message));
                    }
                },
                Err(err) => {
                    tracing::warn!(%message_id, kind = ?err.classify(), "malformed marketing message");
                    response.add_failure(message_id);
                    summary.failed += 1;
                }
            }
        }

        // Who may be shared, read now and together: consent and account once per user (the
        // users' reads in flight together), then the waiting events and their sent records in
        // one batch read (BatchGetItem per 100 keys, not a GetItem per event), then the
        // suppressions of e-mail interactions' recipients (a second batch read, only if any).
        let user_ids: BTreeSet<String> = decoded.iter().map(|(_, message)| message.user_id.clone()).collect();
        let users: HashMap<String, Result<Option<HashedUser>, StoreError>> =
            map_bounded(user_ids, IO_CONCURRENCY, |user_id| async move {
                let user = self.shareable_user(&user_id).await;
                (user_id, user)
            })
            .await
            .into_iter()
            .collect();
        let mut wanted: Vec<Key> = Vec::new();
        for (_, message) in &decoded {
            if matches!(users[&message.user_id], Ok(Some(_))) {
                wanted.push(message.pending_key());
                wanted.push(keys::marketing_sent(&message.event_id));
            }
        }
        let found = self.read_together(wanted).await;
        let recipients: Vec<Key> = match &found {
            Ok(found) => decoded
                .iter()
                .filter_map(|(_, message)| found.get(&message.pending_key())?.data::<SharedEvent>().ok()?.recipient)
                .map(|recipient| keys::suppression(&recipient.organisation_id, &recipient.recipient))
                .collect::<BTreeSet<Key>>()
                .into_iter()
                .collect(),
            Err(_) => Vec::new(),
        };
        let suppressed = self.read_together(recipients).await;

        // The waiting copies to delete once the batch is handled (whatever became of the event).
        let mut handled: Vec<(String, Key)> = Vec::new();
        let mut ready: Vec<(String, SharedEvent, HashedUser, BTreeSet<DestinationId>)> = Vec::new();
        for (message_id, message) in decoded {
            let user = match &users[&message.user_id] {
                Ok(Some(user)) => user.clone(),
                Ok(None) => {
                    summary.without_consent += 1;
                    handled.push((message_id, message.pending_key()));
                    continue;
                }
                Err(err) => {
                    tracing::warn!(%message_id, error = %err, "consent check failed");
                    response.add_failure(message_id);
                    summary.failed += 1;
                    continue;
                }
            };
            let (found, suppressed) = match (&found, &suppressed) {
                (Ok(found), Ok(suppressed)) => (found, suppressed),
                (Err(err), _) | (_, Err(err)) => {
                    tracing::warn!(%message_id, error = %err, "waiting events, sent records or suppressions unreadable");
                    response.add_failure(message_id);
                    summary.failed += 1;
                    continue;
                }
            };
            // Erased with its user, or expired (no destination would take it any more), or
            // handled by an earlier delivery: acknowledged, nothing sent.
            let Some(waiting) = found.get(&message.pending_key()) else {
                summary.gone += 1;
                continue;
            };
            let event = match waiting.data::<SharedEvent>() {
                // The key holds the message's ids; the stored event must be the same one.
                Ok(event) if event.message() == message => event,
                Ok(_) => {
                    tracing::warn!(%message_id, "waiting event does not match its message");
                    response.add_failure(message_id);
                    summary.failed += 1;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(%message_id, error = %err, "waiting event unreadable");
                    response.add_failure(message_id);
                    summary.failed += 1;
                    continue;
                }
            };
            handled.push((message_id.clone(), message.pending_key()));
            if let Some(recipient) = &event.recipient
                && suppressed.contains_key(&keys::suppression(&recipient.organisation_id, &recipient.recipient))
            {
                summary.suppressed += 1;
                continue;
            }
            let already = found.get(&keys::marketing_sent(&event.event_id)).map(sent_destinations).unwrap_or_default();
            ready.push((message_id, event, user, already));
        }

        // Each destination: the events it has not taken yet and still accepts. What it took is
        // recorded at once, so a later failure (or a timeout) never makes us send it again.
        let now = self.platform.clock.epoch_seconds();
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        for destination in &self.destinations {
            let id = destination.id();
            let pending: Vec<usize> = (0..ready.len())
                .filter(|&i| !ready[i].3.contains(&id))
                .filter(|&i| {
                    let fresh = now - ready[i].1.occurred_at <= id.max_age_seconds();
                    if !fresh {
                        summary.too_old += 1;
                    }
                    fresh
                })
                .collect();
            let outgoing: Vec<Outgoing> =
                pending.iter().map(|&i| Outgoing { event: &ready[i].1, user: &ready[i].2 }).collect();
            let mut taken: Vec<usize> = Vec::new();
            for request in id.requests(&outgoing) {
                let carried = request.events.iter().map(|&j| pending[j]);
                match destination.send(&request.body).await {
                    Ok(()) => {
                        *summary.sent.entry(id.as_str()).or_default() += request.events.len();
                        taken.extend(carried);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, events = request.events.len(), "marketing destination failed");
                        failed.extend(carried);
                    }
                }
                // Recorded after each accepted request, not after the loop: should the Lambda
                // time out on a later request, a redelivery does not resend these (GA4 does
                // not deduplicate) (L2).
                for &i in &taken {
                    ready[i].3.insert(id);
                }
                let records: Vec<BatchOp> = taken
                    .drain(..)
                    .filter_map(|i| sent_record(&ready[i].1.event_id, &ready[i].3, now).ok())
                    .map(BatchOp::Put)
                    .collect();
                if records.is_empty() {
                    continue;
                }
                if let Err(err) = self.platform.store.batch_write(records).await {
                    // The events went out; a redelivery may send them again (Facebook deduplicates).
                    tracing::warn!(error = %err, "could not record sent events");
                }
            }
        }

        let mut failed_messages: BTreeSet<String> = BTreeSet::new();
        for i in failed {
            failed_messages.insert(ready[i].0.clone());
        }
        let already_failed: BTreeSet<String> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        for (copy, first) in copies {
            if failed_messages.contains(&first) || already_failed.contains(&first) {
                failed_messages.insert(copy);
            }
        }
        for message_id in failed_messages {
            response.add_failure(message_id);
            summary.failed += 1;
        }
        self.forget_waiting(handled, &mut response, &mut summary).await;
        Ok((response, summary))
    }

    /// The items of these keys that exist, in one batch read (none if there are no keys).
    async fn read_together(&self, keys: Vec<Key>) -> Result<HashMap<Key, Item>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let items = self.platform.store.batch_get(keys).await?;
        Ok(items.into_iter().map(|item| (item.key.clone(), item)).collect())
    }

    /// Deletes the waiting copies of the events this batch handled (sent, dropped, too old), so
    /// nothing of them outlives the batch. A failed delete fails the records: SQS redelivers
    /// them and the sent records keep the destinations from getting the events twice.
    async fn forget_waiting(
        &self,
        handled: Vec<(String, Key)>,
        response: &mut SqsBatchResponse,
        summary: &mut BatchSummary,
    ) {
        let failed: BTreeSet<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let handled: Vec<(String, Key)> =
            handled.into_iter().filter(|(message_id, _)| !failed.contains(message_id.as_str())).collect();
        if handled.is_empty() {
            return;
        }
        let deletes = handled.iter().map(|(_, key)| BatchOp::Delete(key.clone())).collect();
        if let Err(err) = self.platform.store.batch_write(deletes).await {
            tracing::warn!(error = %err, records = handled.len(), "waiting events not deleted; SQS will redeliver");
            for (message_id, _) in handled {
                response.add_failure(message_id);
                summary.failed += 1;
            }
        }
    }

    /// The user's hashed identifiers if they exist and share usage data now; `None` if not.
    async fn shareable_user(&self, user_id: &str) -> Result<Option<HashedUser>, StoreError> {
        if !consent::is_granted(&self.platform, user_id, PurposeId::MarketingSharing).await? {
            return Ok(None);
        }
        Ok(accounts::find_user(&self.platform, user_id).await?.map(|user| HashedUser::new(user_id, &user.email)))
    }
}

fn sent_destinations(item: &Item) -> BTreeSet<DestinationId> {
    let sent = item.attrs.get("sent").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    [DestinationId::GoogleAnalytics, DestinationId::Facebook]
        .into_iter()
        .filter(|id| sent.iter().any(|v| v.as_str() == Some(id.as_str())))
        .collect()
}

fn sent_record(event_id: &str, sent: &BTreeSet<DestinationId>, now: i64) -> Result<Item, StoreError> {
    let key = keys::marketing_sent(event_id);
    let sent: Vec<&str> = sent.iter().map(|id| id.as_str()).collect();
    Ok(Item::new(key, "marketing_sent")
        .with_data(&serde_json::json!({ "sent": sent }))?
        .expires_at(now + SENT_RECORD_SECONDS))
}
