//! The queue on SQS: standard queues, each with a dead-letter queue set by its redrive policy
//! (in `template.yaml`).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};

use super::{Queue, QueueError, QueueName, ReceivedMessage, batches, validate_receive};
use crate::retry::Backoff;

/// The URLs of one queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueueUrls {
    pub url: String,
    pub dead_letter_url: String,
}

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    urls: HashMap<QueueName, QueueUrls>,
}

impl SqsQueue {
    pub fn new(client: Client, urls: HashMap<QueueName, QueueUrls>) -> Self {
        Self { client, urls }
    }

    fn urls(&self, queue: QueueName) -> Result<&QueueUrls, QueueError> {
        self.urls
            .get(&queue)
            .ok_or_else(|| QueueError::Invalid(format!("no URL configured for the {} queue", queue.as_str())))
    }

    async fn receive_from(
        &self,
        url: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max as i32)
            .visibility_timeout(i32::try_from(visibility.as_secs()).unwrap_or(i32::MAX))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                Some(ReceivedMessage {
                    message_id: m.message_id?,
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }
}

fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> QueueError {
    QueueError::Backend(Box::new(err))
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), QueueError> {
        let url = &self.urls(queue)?.url;
        for batch in batches(bodies)? {
            let mut pending: Vec<(String, String)> =
                batch.into_iter().enumerate().map(|(n, body)| (n.to_string(), body)).collect();
            // SQS may accept part of a batch; what failed through no fault of ours is sent again.
            let backoff = Backoff::QUEUE;
            for attempt in 0..backoff.attempts {
                if attempt > 0 {
                    backoff.wait(attempt).await;
                }
                let entries = pending
                    .iter()
                    .map(|(id, body)| SendMessageBatchRequestEntry::builder().id(id).message_body(body).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                let output = self
                    .client
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(backend)?;
                if let Some(ours) = output.failed.iter().find(|f| f.sender_fault) {
                    return Err(QueueError::Invalid(ours.message.clone().unwrap_or_else(|| ours.code.clone())));
                }
                let failed: std::collections::HashSet<&str> = output.failed.iter().map(|f| f.id.as_str()).collect();
                pending.retain(|(id, _)| failed.contains(id.as_str()));
                if pending.is_empty() {
                    break;
                }
            }
            if !pending.is_empty() {
                return Err(QueueError::NotAccepted { failed: pending.len() });
            }
        }
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max)?;
        self.receive_from(&self.urls(queue)?.url, max, visibility).await
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.urls(queue)?.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn receive_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max)?;
        self.receive_from(&self.urls(queue)?.dead_letter_url, max, Duration::from_secs(30)).await
    }
}
