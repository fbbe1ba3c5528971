//! The queue port: SQS in AWS, a durable table in the same SQLite file locally.
//!
//! Producers call [`Queue::send`] / [`Queue::send_batch`]. Consumers are the per-record worker
//! functions of [`batch`]: in AWS, Lambda's SQS event source calls them; locally the
//! [`poller`] receives, builds the same SQS event and deletes what succeeded, so both engines
//! run the same worker code with the same redelivery and dead-letter behaviour.

pub mod batch;
mod event;
#[cfg(feature = "embedded")]
pub mod poller;
#[cfg(feature = "embedded")]
pub mod sqlite;
#[cfg(feature = "aws-sqs")]
pub mod sqs;

use std::time::Duration;

use async_trait::async_trait;

/// SQS's limits, enforced in our code on both engines.
pub const MAX_BATCH_MESSAGES: usize = 10;
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// A message received this many times without being deleted goes to the dead-letter queue
/// (the template's `maxReceiveCount`).
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// The queues of the system, each with its dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// Every e-mail the system sends, consumed by the mail worker.
    Mail,
    /// Usage events, consumed by the tracking worker.
    Tracking,
    /// Accepted rights requests, consumed by the rights worker.
    Rights,
    /// Events to share with Google Analytics and Facebook, consumed by the marketing worker.
    Marketing,
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [QueueName::Mail, QueueName::Tracking, QueueName::Rights, QueueName::Marketing];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Mail => "mail",
            QueueName::Tracking => "tracking",
            QueueName::Rights => "rights",
            QueueName::Marketing => "marketing",
        }
    }
}

/// A message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Deletes this delivery of the message (a later redelivery has another receipt).
    pub receipt: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("message of {bytes} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")]
    MessageTooLarge { bytes: usize },
    #[error("invalid queue request: {0}")]
    Invalid(String),
    #[error("{failed} of the messages were not accepted by the queue")]
    NotAccepted { failed: usize },
    #[error("queue backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait Queue: Send + Sync + std::fmt::Debug {
    async fn send(&self, queue: QueueName, body: String) -> Result<(), QueueError> {
        self.send_batch(queue, vec![body]).await
    }

    /// Sends any number of messages in as few requests as SQS allows (10 messages and
    /// 256 KiB per request).
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), QueueError>;

    /// Up to `max` (1..=10) visible messages, hidden for `visibility` unless deleted.
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError>;

    /// Messages that reached the maximum number of receives, for operators.
    async fn receive_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<ReceivedMessage>, QueueError>;
}

/// Splits messages into SendMessageBatch-sized groups: at most 10 messages and 256 KiB each.
pub fn batches(bodies: Vec<String>) -> Result<Vec<Vec<String>>, QueueError> {
    let mut batches = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut current_bytes = 0;
    for body in bodies {
        let bytes = body.len();
        if bytes > MAX_MESSAGE_BYTES {
            return Err(QueueError::MessageTooLarge { bytes });
        }
        if body.is_empty() {
            return Err(QueueError::Invalid("empty message body".into()));
        }
        if current.len() == MAX_BATCH_MESSAGES || current_bytes + bytes > MAX_MESSAGE_BYTES {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += bytes;
        current.push(body);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

#[cfg(any(feature = "aws-sqs", feature = "embedded"))]
pub(crate) fn validate_receive(max: usize) -> Result<(), QueueError> {
    if max == 0 || max > MAX_BATCH_MESSAGES {
        return Err(QueueError::Invalid(format!("receive 1..={MAX_BATCH_MESSAGES} messages")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_messages_and_256_kib_at_most() {
        let small: Vec<String> = (0..21).map(|n| format!("m{n}")).collect();
        assert_eq!(batches(small).unwrap().iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 1]);

        let big = "x".repeat(100 * 1024);
        let sizes: Vec<_> = batches(vec![big.clone(), big.clone(), big]).unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 1]);
    }

    #[test]
    fn an_oversized_message_is_refused_before_sending() {
        let result = batches(vec!["x".repeat(MAX_MESSAGE_BYTES + 1)]);
        assert!(matches!(result, Err(QueueError::MessageTooLarge { .. })));
    }
}
