//! Erasure jobs nobody is running (a crashed worker, a message lost or dead-lettered) are
//! finished here, after everything else the run does, each slice with its own deadline. A job
//! that keeps failing is counted, reported to the DPO once, and skipped: it never blocks the
//! other jobs or the rest of the sweep.

use std::time::{Duration, Instant};

use shared::Platform;
use shared::erasure::job::{self, SLICE_MARGIN, SliceOutcome};
use shared::mail::{self, Email};

use crate::RunError;

/// A job idle this long is stalled (a live one checkpoints after every page).
pub const IDLE_AFTER_SECONDS: i64 = 10 * 60;
/// Failed slices after which a job is skipped and the DPO told.
pub const MAX_FAILURES: u32 = 3;
/// The time one job gets per run.
pub const PER_JOB: Duration = Duration::from_secs(60);
/// Jobs looked at per run at most.
const PER_RUN: usize = 50;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    pub finished: usize,
    pub failing: usize,
}

/// Runs stalled jobs until `budget` is spent.
pub async fn resume(platform: &Platform, now: i64, budget: Duration) -> Result<Resumed, RunError> {
    let started = Instant::now();
    let (jobs, corrupt) = job::stalled(platform, now - IDLE_AFTER_SECONDS, PER_RUN).await?;
    let mut resumed = Resumed { failing: corrupt, ..Resumed::default() };
    for stalled in jobs {
        if stalled.failures >= MAX_FAILURES {
            resumed.failing += 1;
            continue;
        }
        let left = budget.saturating_sub(started.elapsed());
        if left < SLICE_MARGIN {
            break;
        }
        // The slice stops itself SLICE_MARGIN before its deadline; the timeout is the backstop
        // for a step that hangs.
        let slice = PER_JOB.min(left);
        let deadline = Instant::now() + slice;
        let failures = match tokio::time::timeout(slice, job::run_slice(platform, &stalled.id, deadline, false)).await {
            Ok(Ok(SliceOutcome::Completed)) => {
                resumed.finished += 1;
                continue;
            }
            Ok(Ok(_)) => continue,
            Ok(Err(err)) => {
                tracing::error!(job_id = %stalled.id, error = %err, "a stalled erasure job failed again");
                job::load(platform, &stalled.id).await?.map_or(0, |job| job.failures)
            }
            Err(_) => {
                tracing::error!(job_id = %stalled.id, "a stalled erasure job ran out of its time");
                job::record_failure(platform, &stalled.id).await?
            }
        };
        if failures >= MAX_FAILURES {
            resumed.failing += 1;
            alarm(platform, &stalled.id, failures).await?;
        }
    }
    if resumed.finished > 0 {
        tracing::warn!(finished = resumed.finished, "finished erasure jobs nobody was running");
    }
    Ok(resumed)
}

/// The DPO's alarm: once, when a job reaches the failure limit (ids only).
async fn alarm(platform: &Platform, job_id: &str, failures: u32) -> Result<(), RunError> {
    tracing::error!(job_id, failures, alarm = "erasure_job_failing", "an erasure job keeps failing; skipped");
    let notice = Email::transactional(
        platform.settings.dpo.email.clone(),
        format!("Erasure job {job_id} keeps failing"),
        format!(
            "The erasure job {job_id} failed {failures} times. The retention sweeper skips it from now on; \
             the subject stays fenced (nothing new is recorded about them). Look at the logs for its errors, \
             then reset its failure count to let the sweeper finish it.\n\n{}\n",
            job::progress_path(&platform.settings.public_base_url, job_id)
        ),
    );
    mail::enqueue(platform, vec![notice]).await?;
    Ok(())
}
