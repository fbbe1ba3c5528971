//! The tracking worker: stores the usage events of the tracking queue.
//!
//! Consent is checked again here, once per user per batch, so a withdrawal between the
//! request and the write stops the event. The users' checks, the write chunks and the
//! marketing sends are independent: each group is in flight together (bounded). Events are written with BatchWriteItem in chunks of
//! 25 under keys made from their ids, so a redelivered batch overwrites rather than
//! duplicates. A malformed message fails alone; a failed write fails the records it carried.
//!
//! Events of a user whose erasure started between the consent check and the write are
//! deleted again right after it (the fence, see `shared::erasure::fence`).
//!
//! When marketing sync is on, stored events of users who granted `marketing_sharing` are
//! queued for the marketing worker (which checks the consent again when it sends): the event
//! waits in the user's partition, the message carries its ids only.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use shared::Platform;
use shared::concurrent::{IO_CONCURRENCY, map_bounded};
use shared::consent::{self, PurposeId};
use shared::erasure::fence;
use shared::marketing::{EventSource, SharedEvent, SyncMessage};
use shared::queue::QueueName;
use shared::queue::batch::{BatchError, SqsBatchResponse, SqsEvent};
use shared::store::{BatchOp, Item, Key, StoreError};
use shared::tracking::{EventMessage, TrackedEvent};

pub async fn handle(platform: &Platform, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
    let total = event.records.len();
    let mut response = SqsBatchResponse::default();
    let mut messages: Vec<(String, EventMessage)> = Vec::with_capacity(total);
    for record in event.records {
        let message_id = record.message_id.ok_or(BatchError::MissingMessageId)?;
        match serde_json::from_str::<EventMessage>(record.body.as_deref().unwrap_or_default()) {
            Ok(message) => messages.push((message_id, message)),
            Err(err) => {
                tracing::warn!(%message_id, kind = ?err.classify(), "malformed tracking message");
                response.add_failure(message_id);
            }
        }
    }
    let decoded = pending_events(platform, messages, &mut response).await;
    let handled: Vec<(String, Key)> =
        decoded.iter().map(|(message_id, tracked)| (message_id.clone(), tracked.message().pending_key())).collect();

    // One consent check per user for the whole batch.
    let consented =
        consents(platform, decoded.iter().map(|(_, tracked)| &tracked.user_id), PurposeId::AnalyticsCookies).await;
    let mut writes: Vec<(String, BatchOp, TrackedEvent)> = Vec::with_capacity(decoded.len());
    let mut dropped = 0usize;
    for (message_id, tracked) in decoded {
        let granted = match &consented[&tracked.user_id] {
            Ok(granted) => *granted,
            Err(err) => {
                tracing::warn!(%message_id, error = %err, "consent check failed");
                response.add_failure(message_id);
                continue;
            }
        };
        if !granted {
            dropped += 1;
            continue;
        }
        match tracked.item() {
            Ok(item) => writes.push((message_id, BatchOp::Put(item), tracked)),
            Err(err) => {
                tracing::warn!(%message_id, error = %err, "event cannot be stored");
                response.add_failure(message_id);
            }
        }
    }

    // Chunks of 25 (one BatchWriteItem each); a chunk that fails fails its records only.
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut stored: Vec<(String, TrackedEvent)> = Vec::with_capacity(writes.len());
    let size = shared::store::MAX_BATCH_WRITE_ITEMS;
    let writes = &writes;
    let written = map_bounded((0..writes.len()).step_by(size), IO_CONCURRENCY, |start| async move {
        let chunk = &writes[start..writes.len().min(start + size)];
        let ops = chunk.iter().map(|(_, op, _)| op.clone()).collect();
        (chunk, platform.store.batch_write(ops).await)
    })
    .await;
    for (chunk, outcome) in written {
        match outcome {
            Ok(()) => {
                *by_kind.entry("stored").or_default() += chunk.len();
                stored.extend(chunk.iter().map(|(message_id, _, tracked)| (message_id.clone(), tracked.clone())));
            }
            Err(err) => {
                tracing::warn!(error = %err, records = chunk.len(), "event write failed; SQS will redeliver");
                for (message_id, _, _) in chunk {
                    response.add_failure(message_id.clone());
                }
            }
        }
    }
    let stored = undo_if_fenced(platform, stored, &mut response).await;
    let undone = by_kind.get("stored").copied().unwrap_or(0) - stored.len();
    if undone > 0 {
        *by_kind.entry("undone").or_default() += undone;
    }
    if platform.settings.marketing_sync {
        let queued = queue_for_marketing(platform, stored, &mut response).await;
        *by_kind.entry("queued_for_marketing").or_default() += queued;
    }
    forget_pending(platform, handled, &mut response).await;
    tracing::info!(
        stored = by_kind.get("stored").copied().unwrap_or(0),
        queued_for_marketing = by_kind.get("queued_for_marketing").copied().unwrap_or(0),
        dropped,
        undone = by_kind.get("undone").copied().unwrap_or(0),
        failed = response.batch_item_failures.len(),
        "tracking batch"
    );
    if total > 0 && response.batch_item_failures.len() == total {
        return Err(BatchError::AllFailed(total));
    }
    Ok(response)
}

/// The events the messages name, waiting in their users' partitions: read together (one
/// BatchGetItem per 100). An event that is gone (erased with its user, or handled by an
/// earlier delivery) is acknowledged with no effect; a failed read fails every record (SQS
/// redelivers).
async fn pending_events(
    platform: &Platform,
    messages: Vec<(String, EventMessage)>,
    response: &mut SqsBatchResponse,
) -> Vec<(String, TrackedEvent)> {
    if messages.is_empty() {
        return Vec::new();
    }
    let keys = messages.iter().map(|(_, m)| m.pending_key()).collect();
    let found = match platform.store.batch_get(keys).await {
        Ok(items) => items,
        Err(err) => {
            tracing::warn!(error = %err, records = messages.len(), "pending events unreadable; SQS will redeliver");
            for (message_id, _) in messages {
                response.add_failure(message_id);
            }
            return Vec::new();
        }
    };
    let mut waiting: HashMap<Key, Item> = found.into_iter().map(|item| (item.key.clone(), item)).collect();
    let mut events = Vec::with_capacity(messages.len());
    for (message_id, message) in messages {
        let Some(item) = waiting.remove(&message.pending_key()) else { continue };
        match item.data::<TrackedEvent>() {
            // The key holds the message's ids; the stored event must be the same one.
            Ok(event) if event.message() == message => events.push((message_id, event)),
            Ok(_) => {
                tracing::warn!(%message_id, "pending event does not match its message");
                response.add_failure(message_id);
            }
            Err(err) => {
                tracing::warn!(%message_id, error = %err, "pending event unreadable");
                response.add_failure(message_id);
            }
        }
    }
    events
}

/// Deletes the waiting copies of the events this batch handled (stored, dropped or undone),
/// so nothing of them outlives the batch outside the stored events. A failed delete fails the
/// records: SQS redelivers them and the handling, idempotent, runs again.
async fn forget_pending(platform: &Platform, handled: Vec<(String, Key)>, response: &mut SqsBatchResponse) {
    let failed: BTreeSet<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let handled: Vec<(String, Key)> = handled.into_iter().filter(|(id, _)| !failed.contains(id.as_str())).collect();
    if handled.is_empty() {
        return;
    }
    let deletes = handled.iter().map(|(_, key)| BatchOp::Delete(key.clone())).collect();
    if let Err(err) = platform.store.batch_write(deletes).await {
        tracing::warn!(error = %err, records = handled.len(), "pending events not deleted; SQS will redeliver");
        for (message_id, _) in handled {
            response.add_failure(message_id);
        }
    }
}

/// Undoes the events of users whose erasure started meanwhile. The consent check came before
/// the write; if the person's fence went up between the two, their erasure job may already
/// have passed the events' partition, so whatever this batch wrote for them is deleted again
/// (the fence stands before the job reads anything, and is read here after the write: every
/// user's at once, one BatchGetItem). A failed check or undo fails the records: SQS
/// redelivers them and this runs again.
async fn undo_if_fenced(
    platform: &Platform,
    stored: Vec<(String, TrackedEvent)>,
    response: &mut SqsBatchResponse,
) -> Vec<(String, TrackedEvent)> {
    let users = stored.iter().map(|(_, tracked)| tracked.user_id.as_str());
    let fenced = match fence::fenced_among(platform.store.as_ref(), users).await {
        Ok(fenced) => fenced,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the erasure fences; SQS will redeliver");
            for (message_id, _) in stored {
                response.add_failure(message_id);
            }
            return Vec::new();
        }
    };
    let (mut kept, mut undo) = (Vec::with_capacity(stored.len()), Vec::new());
    for (message_id, tracked) in stored {
        if fenced.contains(&tracked.user_id) {
            undo.push((message_id, tracked));
        } else {
            kept.push((message_id, tracked));
        }
    }
    if !undo.is_empty() {
        let deletes = undo.iter().filter_map(|(_, tracked)| tracked.item().ok()).map(|item| BatchOp::Delete(item.key));
        if let Err(err) = platform.store.batch_write(deletes.collect()).await {
            tracing::warn!(error = %err, "could not undo events of an erased user; SQS will redeliver");
            for (message_id, _) in undo {
                response.add_failure(message_id);
            }
        }
    }
    kept
}

/// Queues the stored events of users who share usage data with Google and Facebook: each
/// event waits in its user's partition for the marketing worker (chunks of 25, one
/// BatchWriteItem each, in flight together) and the queue carries its ids only. The events are
/// written before their messages are sent, so a message never names an event that is not
/// there. A failed consent check, write or send fails the records: SQS redelivers them, the
/// writes are idempotent and the marketing worker skips what it already sent.
async fn queue_for_marketing(
    platform: &Platform,
    stored: Vec<(String, TrackedEvent)>,
    response: &mut SqsBatchResponse,
) -> usize {
    let sharing =
        consents(platform, stored.iter().map(|(_, tracked)| &tracked.user_id), PurposeId::MarketingSharing).await;
    let mut waiting: Vec<(String, Item, SyncMessage)> = Vec::new();
    for (message_id, tracked) in stored {
        match sharing[&tracked.user_id] {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => {
                response.add_failure(message_id);
                continue;
            }
        }
        let event = SharedEvent {
            event_id: tracked.event_id,
            user_id: tracked.user_id,
            name: tracked.name,
            occurred_at: tracked.occurred_at_ms.div_euclid(1000),
            params: tracked.properties,
            recipient: None,
            source: EventSource::Website,
        };
        match event.pending_item() {
            Ok(item) => waiting.push((message_id, item, event.message())),
            Err(_) => response.add_failure(message_id),
        }
    }
    let size = shared::store::MAX_BATCH_WRITE_ITEMS;
    let waiting = &waiting;
    let written = map_bounded((0..waiting.len()).step_by(size), IO_CONCURRENCY, |start| async move {
        let chunk = &waiting[start..waiting.len().min(start + size)];
        let puts = chunk.iter().map(|(_, item, _)| BatchOp::Put(item.clone())).collect();
        (chunk, platform.store.batch_write(puts).await)
    })
    .await;
    let mut messages: Vec<(String, String)> = Vec::with_capacity(waiting.len());
    for (chunk, outcome) in written {
        match outcome {
            Ok(()) => {
                for (message_id, _, message) in chunk {
                    match serde_json::to_string(message) {
                        Ok(body) => messages.push((message_id.clone(), body)),
                        Err(_) => response.add_failure(message_id.clone()),
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, records = chunk.len(), "events to share not written; SQS will redeliver");
                for (message_id, _, _) in chunk {
                    response.add_failure(message_id.clone());
                }
            }
        }
    }
    let mut queued = 0;
    let size = shared::queue::MAX_BATCH_MESSAGES;
    let messages = &messages;
    let sent = map_bounded((0..messages.len()).step_by(size), IO_CONCURRENCY, |start| async move {
        let chunk = &messages[start..messages.len().min(start + size)];
        let bodies = chunk.iter().map(|(_, body)| body.clone()).collect();
        (chunk, platform.queue.send_batch(QueueName::Marketing, bodies).await)
    })
    .await;
    for (chunk, outcome) in sent {
        match outcome {
            Ok(()) => queued += chunk.len(),
            Err(err) => {
                tracing::warn!(error = %err, records = chunk.len(), "marketing queue refused; SQS will redeliver");
                for (message_id, _) in chunk {
                    response.add_failure(message_id.clone());
                }
            }
        }
    }
    queued
}

/// Each distinct user's consent to `purpose`, the users' reads in flight together.
async fn consents<'a>(
    platform: &Platform,
    users: impl Iterator<Item = &'a String>,
    purpose: PurposeId,
) -> HashMap<String, Result<bool, StoreError>> {
    // Owned ids: the futures must not borrow the closure's argument (they are sent between threads).
    let users: BTreeSet<String> = users.cloned().collect();
    map_bounded(users, IO_CONCURRENCY, |user| async move {
        let granted = consent::is_granted(platform, &user, purpose).await;
        (user, granted)
    })
    .await
    .into_iter()
    .collect()
}
