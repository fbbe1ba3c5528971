//! The tracking worker: stores the usage events of the tracking queue.
//!
//! Consent is checked again here, once per user per batch, so a withdrawal between the
//! request and the write stops the event. Events are written with BatchWriteItem in chunks of
//! 25 under keys made from their ids, so a redelivered batch overwrites rather than
//! duplicates. A malformed message fails alone; a failed write fails the records it carried.

use std::collections::{BTreeMap, HashMap};

use shared::Platform;
use shared::consent::{self, PurposeId};
use shared::queue::batch::{BatchError, SqsBatchResponse, SqsEvent};
use shared::store::BatchOp;
use shared::tracking::TrackedEvent;

pub async fn handle(platform: &Platform, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
    let total = event.records.len();
    let mut response = SqsBatchResponse::default();
    let mut decoded: Vec<(String, TrackedEvent)> = Vec::with_capacity(total);
    for record in event.records {
        let message_id = record.message_id.ok_or(BatchError::MissingMessageId)?;
        match serde_json::from_str::<TrackedEvent>(record.body.as_deref().unwrap_or_default()) {
            Ok(tracked) => decoded.push((message_id, tracked)),
            Err(err) => {
                tracing::warn!(%message_id, kind = ?err.classify(), "malformed tracking message");
                response.add_failure(message_id);
            }
        }
    }

    // One consent check per user for the whole batch.
    let mut consented: HashMap<String, bool> = HashMap::new();
    let mut writes: Vec<(String, BatchOp)> = Vec::with_capacity(decoded.len());
    let mut dropped = 0usize;
    for (message_id, tracked) in decoded {
        let granted = match consented.get(&tracked.user_id) {
            Some(granted) => *granted,
            None => match consent::is_granted(platform, &tracked.user_id, PurposeId::AnalyticsCookies).await {
                Ok(granted) => *consented.entry(tracked.user_id.clone()).or_insert(granted),
                Err(err) => {
                    tracing::warn!(%message_id, error = %err, "consent check failed");
                    response.add_failure(message_id);
                    continue;
                }
            },
        };
        if !granted {
            dropped += 1;
            continue;
        }
        match tracked.item() {
            Ok(item) => writes.push((message_id, BatchOp::Put(item))),
            Err(err) => {
                tracing::warn!(%message_id, error = %err, "event cannot be stored");
                response.add_failure(message_id);
            }
        }
    }

    // Chunks of 25 (one BatchWriteItem each); a chunk that fails fails its records only.
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for chunk in writes.chunks(shared::store::MAX_BATCH_WRITE_ITEMS) {
        let ops = chunk.iter().map(|(_, op)| op.clone()).collect();
        match platform.store.batch_write(ops).await {
            Ok(()) => *by_kind.entry("stored").or_default() += chunk.len(),
            Err(err) => {
                tracing::warn!(error = %err, records = chunk.len(), "event write failed; SQS will redeliver");
                for (message_id, _) in chunk {
                    response.add_failure(message_id.clone());
                }
            }
        }
    }
    tracing::info!(
        stored = by_kind.get("stored").copied().unwrap_or(0),
        dropped,
        failed = response.batch_item_failures.len(),
        "tracking batch"
    );
    if total > 0 && response.batch_item_failures.len() == total {
        return Err(BatchError::AllFailed(total));
    }
    Ok(response)
}
