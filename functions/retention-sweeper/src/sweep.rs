//! The sweep itself: the expiry index walked day by day from a checkpoint, each expired item
//! deleted on the condition that it is still expired.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shared::blob::BlobStore;
use shared::clock::Clock;
use shared::keys;
use shared::store::expiry;
use shared::store::{Condition, Index, Item, Query, SortKey, Store, StoreError};

/// How far back the first sweep looks when there is no checkpoint yet.
const FIRST_LOOKBACK_DAYS: i64 = 7;
/// Deletes in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Items erased, by kind (no keys, no personal data).
    pub erased: BTreeMap<String, u64>,
    /// The first day not yet fully swept, where the next run starts.
    pub resume_from: Option<NaiveDate>,
    /// False when the budget ran out before today was reached.
    pub complete: bool,
    /// Export files deleted (each before its record, so no file is ever left unrecorded).
    #[serde(default)]
    pub exports_deleted: usize,
}

impl SweepReport {
    pub fn total(&self) -> u64 {
        self.erased.values().sum()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    /// Every day before this one has been swept completely.
    next_day: NaiveDate,
}

/// Sweeps at most `budget` expired items.
pub async fn sweep(store: &dyn Store, clock: &dyn Clock, budget: u64) -> Result<SweepReport, StoreError> {
    sweep_with_exports(store, None, clock, budget).await
}

/// [`sweep`], deleting each expired export's file from `blobs` before its record: a file
/// that cannot be deleted keeps its record, and the next run tries again.
pub async fn sweep_with_exports(
    store: &dyn Store,
    blobs: Option<&dyn BlobStore>,
    clock: &dyn Clock,
    budget: u64,
) -> Result<SweepReport, StoreError> {
    let now = clock.now();
    let today = now.date_naive();
    let start = match store.get(&keys::sweeper_checkpoint()).await? {
        Some(item) => item.data::<Checkpoint>()?.next_day,
        None => today - Duration::days(FIRST_LOOKBACK_DAYS),
    };
    let mut report = SweepReport { complete: true, ..SweepReport::default() };
    let mut day = start;
    while day <= today {
        let finished = sweep_day(store, blobs, now.timestamp(), day, budget, &mut report).await?;
        if !finished {
            report.complete = false;
            break;
        }
        if day < today {
            // Only a day wholly in the past is done for good.
            let next = Checkpoint { next_day: day + Duration::days(1) };
            store.put(Item::new(keys::sweeper_checkpoint(), "sweeper_checkpoint").with_data(&next)?, None).await?;
        }
        day += Duration::days(1);
    }
    report.resume_from = Some(day.min(today));
    tracing::info!(erased = report.total(), complete = report.complete, "retention sweep");
    Ok(report)
}

/// What became of one expired item: its export files deleted, and its deletion (`Err(None)`:
/// left for the next run because its file could not be deleted).
type Outcome = (Item, usize, Result<Option<Item>, Option<StoreError>>);

/// Erases the expired items of one day; false if the budget ran out first.
async fn sweep_day(
    store: &dyn Store,
    blobs: Option<&dyn BlobStore>,
    now: i64,
    day: NaiveDate,
    budget: u64,
    report: &mut SweepReport,
) -> Result<bool, StoreError> {
    for partition in expiry::partitions_of_day(day) {
        let mut query =
            Query::index(Index::Gsi2, partition).sort(SortKey::LessThan(expiry::sort_key(now + 1))).including_expired();
        loop {
            let left = budget.saturating_sub(report.total());
            if left == 0 {
                return Ok(false);
            }
            // Never read more than the budget can erase.
            query.limit = u32::try_from(left.min(100)).unwrap_or(100);
            let page = store.query(query.clone()).await?;
            let expired: Vec<Item> = page.items.into_iter().filter(|item| item.is_expired_at(now)).collect();
            let results: Vec<Outcome> = futures::stream::iter(expired)
                .map(|item| async move {
                    // An export's record is keyed by its file (the expiry index holds keys only).
                    let file = (item.entity_type == "export").then(|| keys::export_file(&item.key)).flatten();
                    let mut file_deleted = 0;
                    if let (Some(blobs), Some(file)) = (blobs, file) {
                        match blobs.delete_prefix(file).await {
                            Ok(count) => file_deleted = count,
                            Err(err) => {
                                tracing::warn!(error = %err, "an expired export could not be deleted; kept for the next run");
                                return (item, file_deleted, Err(None));
                            }
                        }
                    }
                    // "Still absent for every reader" = still expired: a renewed item is kept.
                    let deleted = store.delete(&item.key, Some(Condition::NotExists)).await.map_err(Some);
                    (item, file_deleted, deleted)
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (item, file_deleted, result) in results {
                report.exports_deleted += file_deleted;
                match result {
                    Ok(_) => *report.erased.entry(item.entity_type).or_default() += 1,
                    Err(None) => {}
                    Err(Some(err)) if err.is_condition_failed() => {}
                    Err(Some(err)) => return Err(err),
                }
            }
            match page.cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    Ok(true)
}
