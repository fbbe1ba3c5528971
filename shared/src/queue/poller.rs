//! Feeds a queue to a worker the way Lambda's SQS event source does: receive a batch, hand it
//! over as an SQS event, delete the records that succeeded, leave the failed ones to become
//! visible again (and to reach the dead-letter queue after the maximum receives).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;

use super::batch::{SqsBatchResponse, SqsEvent};
use super::{MAX_BATCH_MESSAGES, Queue, QueueError, QueueName};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A worker: the same function the Lambda handler calls with the event it receives.
pub type Worker = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, Result<SqsBatchResponse, BoxError>> + Send + Sync>;

#[derive(Clone)]
pub struct Poller {
    pub queue: Arc<dyn Queue>,
    pub name: QueueName,
    pub worker: Worker,
    /// How long a received message stays hidden (the template's visibility timeout).
    pub visibility: Duration,
    /// Messages handed to the worker at once (the template's `BatchSize`): receives of 10
    /// are gathered up to this.
    pub batch_size: usize,
}

impl Poller {
    /// Receives and processes one batch; returns how many messages it received.
    pub async fn poll_once(&self) -> Result<usize, QueueError> {
        let mut messages = Vec::new();
        while messages.len() < self.batch_size.max(1) {
            let want = (self.batch_size.max(1) - messages.len()).min(MAX_BATCH_MESSAGES);
            let received = self.queue.receive(self.name, want, self.visibility).await?;
            let last = received.len() < want;
            messages.extend(received);
            if last {
                break;
            }
        }
        if messages.is_empty() {
            return Ok(0);
        }
        let records: Vec<_> = messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt,
                    "body": m.body,
                    "attributes": { "ApproximateReceiveCount": m.receive_count.to_string() },
                    "eventSource": "aws:sqs",
                })
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": records }))
            .map_err(|err| QueueError::Invalid(err.to_string()))?;
        // A panicking worker fails the batch (its messages come back after the visibility
        // timeout) and leaves the poller, and the process, running.
        let outcome = std::panic::AssertUnwindSafe((self.worker)(event)).catch_unwind().await;
        let outcome = outcome.unwrap_or_else(|_| Err("the worker panicked".into()));
        match outcome {
            Ok(response) => {
                let failed: HashSet<_> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
                for message in messages.iter().filter(|m| !failed.contains(&m.message_id)) {
                    self.queue.delete(self.name, &message.receipt).await?;
                }
            }
            Err(err) => {
                tracing::warn!(queue = self.name.as_str(), error = %err, "batch failed; messages will be redelivered");
            }
        }
        Ok(messages.len())
    }

    /// Processes until the queue has nothing visible: for tests and one-shot commands.
    pub async fn drain(&self) -> Result<usize, QueueError> {
        let mut total = 0;
        loop {
            match self.poll_once().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// Polls until `shutdown` turns true, resting `idle` when the queue is empty.
    pub async fn run(self, idle: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let rest = match self.poll_once().await {
                Ok(0) => idle,
                Ok(_) => Duration::ZERO,
                Err(err) => {
                    tracing::error!(queue = self.name.as_str(), error = %err, "polling failed");
                    idle
                }
            };
            if !rest.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(rest) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}
