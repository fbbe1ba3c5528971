//! Idempotency with Powertools' semantics, on the store port (so on both engines):
//!
//! 1. one conditional put claims the key as `INPROGRESS`; it succeeds if no record exists,
//!    the record has expired, or an `INPROGRESS` claim was abandoned (its in-progress expiry
//!    passed: the invocation that made it died);
//! 2. the work runs; on success the record becomes `COMPLETED` with the result, which later
//!    calls with the same key get back without running the work again;
//! 3. on failure the record is deleted, so a retry runs the work again.
//!
//! Expiry is checked in code against the injected clock; TTL only cleans up.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::clock::Clock;
use crate::keys;
use crate::retry::Backoff;
use crate::store::{Condition, Item, Key, Store, StoreError, Update};

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";
/// The mail queue's visibility timeout (`MailQueue` in template.yaml, 180 s): a copy of a
/// message SQS hands out again while the first is still being worked finds the claim held.
pub const IN_PROGRESS_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone)]
pub struct Idempotency {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// How long a completed result is replayed.
    pub expires_after: Duration,
    /// How long a claim holds before another invocation may take over: at least the queue's
    /// visibility timeout, so a message delivered twice at once is not worked twice (L3).
    pub in_progress_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError<E> {
    /// Another invocation holds the key right now; retry later.
    #[error("another invocation is processing the same request")]
    InProgress,
    /// The key was used before with a different payload.
    #[error("the idempotency key was used with a different payload")]
    PayloadMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Handler(E),
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    status: String,
    /// Unix seconds after which the record no longer counts.
    expiry: i64,
    in_progress_expiry: Option<i64>,
    payload_hash: String,
    #[serde(default)]
    data: Option<Value>,
}

impl Idempotency {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, expires_after: Duration::from_secs(3600), in_progress_timeout: IN_PROGRESS_TIMEOUT }
    }

    /// The store the records live in.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Runs `work` at most once (to completion) per `scope` and `key` within the expiry;
    /// `payload` is what the key stands for, checked on replays.
    pub async fn run<T, E, F, Fut>(
        &self,
        scope: &str,
        key: &str,
        payload: &[u8],
        work: F,
    ) -> Result<T, IdempotencyError<E>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = keys::idempotency(scope, &crate::hash::sha256_hex(key.as_bytes()));
        let record_key = key;
        let payload_hash = crate::hash::sha256_hex(payload);
        let now = self.clock.epoch_seconds();
        let expiry = now + self.expires_after.as_secs() as i64;
        let claim = Record {
            status: IN_PROGRESS.into(),
            expiry,
            in_progress_expiry: Some(now + self.in_progress_timeout.as_secs() as i64),
            payload_hash: payload_hash.clone(),
            data: None,
        };
        let item = Item::new(record_key.clone(), "idempotency").with_data(&claim)?.expires_at(expiry);
        let claimable = Condition::Or(vec![
            Condition::NotExists,
            Condition::less_than("expiry", now + 1),
            Condition::And(vec![
                Condition::equals("status", IN_PROGRESS),
                Condition::less_than("in_progress_expiry", now + 1),
            ]),
        ]);
        match self.store.put(item, Some(claimable)).await {
            Ok(()) => {}
            Err(err) if err.is_condition_failed() => {
                return self.replay(&record_key, &payload_hash).await;
            }
            Err(err) => return Err(err.into()),
        }

        match work().await {
            Ok(result) => {
                let data = serde_json::to_value(&result).map_err(|err| StoreError::Invalid(err.to_string()))?;
                self.complete(&record_key, data).await;
                Ok(result)
            }
            Err(err) => {
                // Free the key so a retry runs the work again.
                self.store.delete(&record_key, None).await?;
                Err(IdempotencyError::Handler(err))
            }
        }
    }

    /// Marks the record `COMPLETED`, retrying a failed write (L3). The work has happened:
    /// should every try fail, the result is still returned, so the caller acknowledges it
    /// rather than have a redelivery run the work (send the e-mail) again once the claim lapses.
    async fn complete(&self, key: &Key, data: Value) {
        let mut retry = 0;
        loop {
            let update = Update::new().set("status", COMPLETED).set("data", data.clone()).remove("in_progress_expiry");
            match self.store.update(key, "idempotency", update, Some(Condition::Exists)).await {
                Ok(_) => return,
                Err(err) => {
                    retry += 1;
                    if err.is_condition_failed() || !Backoff::STORE.wait(retry).await {
                        tracing::warn!(error = %err, "an idempotency record stays in progress until its timeout");
                        return;
                    }
                }
            }
        }
    }

    async fn replay<T: DeserializeOwned, E>(&self, key: &Key, payload_hash: &str) -> Result<T, IdempotencyError<E>> {
        let Some(item) = self.store.get(key).await? else {
            // Expired between our put and this read: the caller may simply retry.
            return Err(IdempotencyError::InProgress);
        };
        let record: Record = item.data()?;
        if record.payload_hash != payload_hash {
            return Err(IdempotencyError::PayloadMismatch);
        }
        match (record.status.as_str(), record.data) {
            (COMPLETED, Some(data)) => serde_json::from_value(data)
                .map_err(|err| IdempotencyError::Store(StoreError::Corrupt(format!("idempotency record: {err}")))),
            _ => Err(IdempotencyError::InProgress),
        }
    }
}
