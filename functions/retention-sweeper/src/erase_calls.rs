//! Art. 19 erase calls that failed (`shared::marketing::erasure`): the queue retried each a few
//! times and then left it in the dead-letter queue. Here they are queued again once due, an
//! hour after the failure and twice as long each time; a call still failing after
//! `MAX_REQUEUES` is reported to the DPO once and dropped from the list. One call's failure is
//! counted and skipped, never stopping the others or the rest of the run.

use std::time::{Duration, Instant};

use shared::Platform;
use shared::mail::{self, Email};
use shared::marketing::erasure::{self, MAX_REQUEUES, PendingCall};

use crate::RunError;

/// Calls looked at per run at most.
const PER_RUN: u32 = 100;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Requeued {
    pub requeued: usize,
    /// Given up on (the DPO told), failed to queue again, or undecodable.
    pub failing: usize,
}

/// Queues the due calls again until `budget` is spent (the rest wait for the next run).
pub async fn requeue_due(platform: &Platform, now: i64, budget: Duration) -> Result<Requeued, RunError> {
    let started = Instant::now();
    let (calls, corrupt) = erasure::due_calls(platform, now, PER_RUN).await?;
    let mut done = Requeued { failing: corrupt, ..Requeued::default() };
    for call in calls {
        if started.elapsed() >= budget {
            break;
        }
        if call.requeues >= MAX_REQUEUES {
            done.failing += 1;
            if let Err(err) = give_up(platform, &call).await {
                tracing::error!(job_id = %call.erasure_job, error = %err, "could not report a failing erase call; next run");
            }
            continue;
        }
        match erasure::requeue(platform, &call).await {
            Ok(()) => done.requeued += 1,
            Err(err) => {
                tracing::warn!(job_id = %call.erasure_job, error = %err, "could not queue an erase call again; next run");
                done.failing += 1;
            }
        }
    }
    if done.requeued > 0 {
        tracing::warn!(requeued = done.requeued, "erase calls queued again");
    }
    Ok(done)
}

/// The DPO's alarm, once: the call is dropped from the list after the mail is queued (ids only).
async fn give_up(platform: &Platform, call: &PendingCall) -> Result<(), RunError> {
    let job_id = &call.erasure_job;
    tracing::error!(job_id = %job_id, requeues = call.requeues, alarm = "erase_call_failing", "an erase call keeps failing; given up");
    let notice = Email::transactional(
        platform.settings.dpo.email.clone(),
        format!("Erase call of erasure job {job_id} keeps failing"),
        format!(
            "Telling the marketing destinations (Art. 19) that the person of erasure job {job_id} was erased \
             failed again after {} attempts by the retention sweeper. Its record stays `requested` with the last \
             error. The sweeper stops trying; once the cause is fixed, redrive the marketing dead-letter queue \
             (its last message waits there 14 days).\n\n{}\n",
            call.requeues,
            shared::erasure::job::progress_path(&platform.settings.public_base_url, job_id)
        ),
    );
    mail::enqueue(platform, vec![notice]).await?;
    erasure::give_up(platform, call).await?;
    Ok(())
}
