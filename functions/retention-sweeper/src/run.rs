//! One scheduled run of the sweeper, under a lease, ending in a report.

use std::time::Instant;

use shared::Platform;
use shared::erasure;
use shared::keys;
use shared::retention::RetentionReport;
use shared::store::{Condition, Item};

use crate::{RunError, alerts, reminders, sweep_with_exports};

/// A run holds the lease at most this long; a crashed run's lease lapses by itself.
const LEASE_SECONDS: i64 = 15 * 60;
/// Erasures younger than this may still be running in a request: leave them alone.
const INTERRUPTED_AFTER_SECONDS: i64 = 10 * 60;

/// One run: at most `budget` expired items erased; the next run continues from there.
pub async fn run(platform: &Platform, budget: u64) -> Result<RetentionReport, RunError> {
    let started = Instant::now();
    let now = platform.clock.epoch_seconds();
    let holder = ulid::Ulid::new().to_string();
    // "No live lease": an expired lease counts as absent, so a crashed run blocks nobody long.
    let lease = Item::new(keys::sweeper_lease(), "sweeper_lease")
        .with_data(&serde_json::json!({ "holder": holder }))?
        .expires_at(now + LEASE_SECONDS);
    match platform.store.put(lease, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failed() => return Err(RunError::Busy),
        Err(err) => return Err(err.into()),
    }
    let result = steps(platform, budget, &holder, now).await;
    // Released only if still ours.
    let release =
        platform.store.delete(&keys::sweeper_lease(), Some(Condition::equals("holder", holder.as_str()))).await;
    if let Some(err) = release.as_ref().err().filter(|err| !err.is_condition_failed()) {
        tracing::warn!(error = %err, "could not release the sweeper lease; it lapses by itself");
    }
    let mut report = result?;
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    platform.store.put(report.item(now)?, None).await?;
    tracing::info!(
        erased = report.erased.values().sum::<u64>(),
        exports_deleted = report.exports_deleted,
        erasures_resumed = report.erasures_resumed,
        reminders_queued = report.reminders_queued,
        deadline_alerts = report.deadline_alerts,
        complete = report.complete,
        "retention run"
    );
    Ok(report)
}

async fn steps(platform: &Platform, budget: u64, run_id: &str, now: i64) -> Result<RetentionReport, RunError> {
    let erasures_resumed = erasure::resume_interrupted(platform, now - INTERRUPTED_AFTER_SECONDS).await?;
    let swept =
        sweep_with_exports(platform.store.as_ref(), Some(platform.blobs.as_ref()), platform.clock.as_ref(), budget)
            .await?;
    let deadline_alerts = alerts::send(platform, now).await?;
    let reminders_queued = reminders::send(platform, now).await?;
    Ok(RetentionReport {
        id: run_id.to_owned(),
        started_at: shared::clock::rfc3339_from_epoch(now),
        duration_ms: 0,
        erased: swept.erased,
        exports_deleted: swept.exports_deleted,
        erasures_resumed,
        reminders_queued,
        deadline_alerts,
        complete: swept.complete,
    })
}
