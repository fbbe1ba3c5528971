//! The fence: from the instant an erasure starts, nothing new may be written about its
//! subject, so the erasure job can finish and stay finished.
//!
//! A fence is one item per erased user or organisation, keyed by the SHA-256 of the id
//! (`FENCE#<hash>`). It holds the erasure job's id, its state and when it started: no
//! address, no name, not even the id in clear. It is written in the same transaction that
//! queues the job, and every write about a subject adds [`guard`] to its transaction (or
//! calls [`put_unless_fenced`]), so a write either lands before the fence (and the job,
//! which starts after it, erases it) or is refused.
//!
//! While the job runs the fence never expires. When the job completes, the fence expires
//! [`FENCE_SECONDS`] later (15 days): longer than any message can wait in a queue or its
//! dead-letter queue (14 days, SQS's maximum retention), so no late write can outlive it.
//! After that the id is never used again (ids are random), so nothing needs fencing.

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::keys;
use crate::store::{Condition, Item, Key, Store, StoreError, TransactOp};

/// How long a fence outlives its completed erasure.
pub const FENCE_SECONDS: i64 = 15 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceState {
    Erasing,
    Erased,
}

/// What a fence holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    pub job_id: String,
    pub state: FenceState,
    pub since: i64,
}

impl Fence {
    pub fn item(&self, subject_id: &str) -> Result<Item, StoreError> {
        Item::new(keys::erasure_fence(subject_id), "erasure_fence").with_data(self)
    }
}

/// The fence of a user or organisation, if one stands.
pub async fn find(store: &dyn Store, subject_id: &str) -> Result<Option<Fence>, StoreError> {
    match store.get(&keys::erasure_fence(subject_id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// The first fence standing among several ids (a user and their organisation), in one read:
/// every authenticated request asks this, so it is one BatchGetItem on DynamoDB (not a
/// GetItem per id) and one trip to a read connection on SQLite.
pub async fn any(platform: &Platform, subject_ids: &[&str]) -> Result<Option<Fence>, StoreError> {
    let keys: Vec<_> = subject_ids.iter().map(|id| keys::erasure_fence(id)).collect();
    let found = platform.store.batch_get(keys.clone()).await?;
    // The batch does not keep the order: the first id's fence wins, as the ids were given.
    for key in &keys {
        if let Some(item) = found.iter().find(|item| &item.key == key) {
            return Ok(Some(item.data()?));
        }
    }
    Ok(None)
}

/// Which of these ids stand fenced, in one read (one BatchGetItem on DynamoDB per 100 ids;
/// none for no id).
pub async fn fenced_among<'a>(
    store: &dyn Store,
    subject_ids: impl IntoIterator<Item = &'a str>,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let ids: std::collections::BTreeMap<Key, &str> =
        subject_ids.into_iter().map(|id| (keys::erasure_fence(id), id)).collect();
    let found = store.batch_get(ids.keys().cloned().collect()).await?;
    Ok(found.iter().filter_map(|item| ids.get(&item.key).map(|id| (*id).to_owned())).collect())
}

/// The transaction operation that refuses a write about `subject_id` once it is fenced.
pub fn guard(subject_id: &str) -> TransactOp {
    TransactOp::Check { key: keys::erasure_fence(subject_id), condition: Condition::NotExists }
}

/// Why a guarded write did not land.
#[derive(Debug, thiserror::Error)]
pub enum FencedWrite {
    /// The subject is being erased or was erased.
    #[error("the subject is erased")]
    Fenced,
    /// The write's own condition failed.
    #[error("the condition was not met")]
    ConditionFailed,
    #[error(transparent)]
    Store(StoreError),
}

/// Puts an item unless any of the subjects is fenced (atomically).
pub async fn put_unless_fenced(
    store: &dyn Store,
    item: Item,
    condition: Option<Condition>,
    subject_ids: &[&str],
) -> Result<(), FencedWrite> {
    let mut ops = vec![TransactOp::Put { item, condition }];
    ops.extend(subject_ids.iter().map(|id| guard(id)));
    transact_unless_fenced(store, ops, 1).await
}

/// Runs a transaction whose operations from `first_guard` on are [`guard`]s.
pub async fn transact_unless_fenced(
    store: &dyn Store,
    ops: Vec<TransactOp>,
    first_guard: usize,
) -> Result<(), FencedWrite> {
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { operation: Some(op) }) if op >= first_guard => Err(FencedWrite::Fenced),
        Err(StoreError::ConditionFailed { .. }) => Err(FencedWrite::ConditionFailed),
        Err(err) => Err(FencedWrite::Store(err)),
    }
}

impl From<FencedWrite> for StoreError {
    /// For callers that treat a refused write as any failed condition.
    fn from(err: FencedWrite) -> Self {
        match err {
            FencedWrite::Fenced | FencedWrite::ConditionFailed => StoreError::ConditionFailed { operation: None },
            FencedWrite::Store(err) => err,
        }
    }
}
