//! Broadcast jobs nobody is moving: their step message was lost, or failed until it went to
//! the dead-letter queue. The retention sweeper queues a new step for each; a step resumes
//! from the job's checkpoint, and a duplicate of a live job's step changes nothing (the
//! version guard and the per-recipient markers), so re-queueing is always safe.

use super::{Job, Status, step};
use crate::Platform;
use crate::keys;
use crate::queue::QueueError;
use crate::store::{Index, MAX_QUERY_LIMIT, Query, StoreError};

/// A job untouched this long is stalled: a live one saves its checkpoint after every step of
/// 100 recipients, and a failing step's message is retried within minutes.
pub const IDLE_AFTER_SECONDS: i64 = 10 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Queues a step for every unfinished job idle since before `now - IDLE_AFTER_SECONDS`;
/// answers how many. A record that does not decode is logged and skipped.
pub async fn resume_stalled(platform: &Platform, now: i64) -> Result<usize, ResumeError> {
    let idle_since = now - IDLE_AFTER_SECONDS;
    let mut query = Query::index(Index::Gsi1, keys::OPEN_BROADCAST_JOBS).limit(MAX_QUERY_LIMIT);
    let mut resumed = 0;
    loop {
        let page = platform.store.query(query.clone()).await?;
        for item in &page.items {
            let job: Job = match item.data() {
                Ok(job) => job,
                Err(err) => {
                    tracing::error!(error = %err, "an open broadcast job does not decode");
                    continue;
                }
            };
            if job.status != Status::Completed && job.updated_at <= idle_since {
                step::queue_step(platform, &job.job_id).await?;
                tracing::warn!(job_id = %job.job_id, "a stalled broadcast job is resumed");
                resumed += 1;
            }
        }
        match page.cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(resumed),
        }
    }
}
