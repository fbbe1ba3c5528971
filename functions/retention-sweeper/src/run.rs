//! One scheduled run of the sweeper, under a lease, ending in a report.

use std::time::{Duration, Instant};

use shared::Platform;
use shared::keys;
use shared::retention::RetentionReport;
use shared::store::{Condition, Item};

use tokio::time::timeout;

use crate::{RunError, SweepReport, alerts, erase_calls, erasures, reminders, sweep_with_exports};

/// A run holds the lease at most this long; a crashed run's lease lapses by itself.
const LEASE_SECONDS: i64 = 15 * 60;
/// The steps' time budgets (the Lambda's timeout is 300 s).
const SWEEP_TIME: Duration = Duration::from_secs(120);
const ALERTS_TIME: Duration = Duration::from_secs(30);
const REMINDERS_TIME: Duration = Duration::from_secs(30);
const ERASURES_TIME: Duration = Duration::from_secs(90);
const ANNOUNCE_TIME: Duration = Duration::from_secs(10);
const ERASE_CALLS_TIME: Duration = Duration::from_secs(15);
const ERASE_CALLS_MARGIN: Duration = Duration::from_secs(3);

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
        erasures_failing = report.erasures_failing,
        erase_calls_requeued = report.erase_calls_requeued,
        erase_calls_failing = report.erase_calls_failing,
        reminders_queued = report.reminders_queued,
        deadline_alerts = report.deadline_alerts,
        complete = report.complete,
        "retention run"
    );
    Ok(report)
}

/// Each step has its own time budget: one that runs out is reported and the next run
/// continues it; the steps after it still run. Stalled erasure jobs come last, each with its
/// own deadline, so however big or broken one is, alerts and reminders have gone out.
async fn steps(platform: &Platform, budget: u64, run_id: &str, now: i64) -> Result<RetentionReport, RunError> {
    let mut out_of_time = Vec::new();
    let sweep =
        sweep_with_exports(platform.store.as_ref(), Some(platform.blobs.as_ref()), platform.clock.as_ref(), budget);
    let swept = match timeout(SWEEP_TIME, sweep).await {
        Ok(swept) => swept?,
        Err(_) => {
            out_of_time.push("sweep".to_owned());
            SweepReport::default()
        }
    };
    let deadline_alerts = match timeout(ALERTS_TIME, alerts::send(platform, now)).await {
        Ok(sent) => sent?,
        Err(_) => {
            out_of_time.push("deadline_alerts".to_owned());
            0
        }
    };
    let reminders_queued = match timeout(REMINDERS_TIME, reminders::send(platform, now)).await {
        Ok(queued) => queued?,
        Err(_) => {
            out_of_time.push("reminders".to_owned());
            0
        }
    };
    // The notice version in force is announced to every user once (a broadcast job keyed by
    // the version); a failure here is retried next run and stops no other step.
    match timeout(ANNOUNCE_TIME, shared::broadcast::announce_policy(platform)).await {
        Ok(Ok(true)) => tracing::info!("new privacy notice version: announcement started"),
        Ok(Ok(false)) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "could not start the notice version's announcement"),
        Err(_) => out_of_time.push("policy_announcement".to_owned()),
    }
    // Broadcast jobs whose step message was lost or dead-lettered go on: a new step each
    // (logged per job); a failure here is retried next run.
    match timeout(ANNOUNCE_TIME, shared::broadcast::resume_stalled(platform, now)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "stalled broadcast jobs could not be resumed; next run"),
        Err(_) => out_of_time.push("broadcast_resume".to_owned()),
    }
    // The local outbox folder keeps sent mail a short while (INFENTRE_OUTBOX_RETENTION_HOURS).
    let mut erased = swept.erased;
    if let Some(sent) = &platform.sent_mail {
        match sent.expire().await {
            Ok(0) => {}
            Ok(n) => *erased.entry("sent_mail_copy".to_owned()).or_default() += n as u64,
            Err(err) => tracing::warn!(error = %err, "old sent mail copies could not be deleted; next run"),
        }
    }
    // Art. 19 erase calls left failing: queued again when due (the step stops itself at its
    // budget; the timeout is the backstop for a call that hangs).
    let erase_calls =
        match timeout(ERASE_CALLS_TIME, erase_calls::requeue_due(platform, now, ERASE_CALLS_TIME - ERASE_CALLS_MARGIN))
            .await
        {
            Ok(done) => done?,
            Err(_) => {
                out_of_time.push("erase_calls".to_owned());
                erase_calls::Requeued::default()
            }
        };
    let erasures = erasures::resume(platform, now, ERASURES_TIME).await?;
    let complete = swept.complete && out_of_time.is_empty();
    Ok(RetentionReport {
        id: run_id.to_owned(),
        started_at: shared::clock::rfc3339_from_epoch(now),
        duration_ms: 0,
        erased,
        exports_deleted: swept.exports_deleted,
        erasures_resumed: erasures.finished,
        erasures_failing: erasures.failing,
        erase_calls_requeued: erase_calls.requeued,
        erase_calls_failing: erase_calls.failing,
        steps_out_of_time: out_of_time,
        reminders_queued,
        deadline_alerts,
        complete,
    })
}
