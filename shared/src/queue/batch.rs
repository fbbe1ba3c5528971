//! SQS partial batch failures (Powertools' batch processor, for Rust).
//!
//! One function per record; the records it fails come back in `batchItemFailures` so SQS
//! redelivers only those (and dead-letters them after the maximum receives). A body that does
//! not decode is that record's failure, never a panic. When every record failed the whole
//! invocation is an error, which also makes Lambda back off.

use std::fmt::Display;
use std::future::Future;

pub use super::event::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;

/// One record of an SQS event, as the worker sees it.
#[derive(Debug, Clone)]
pub struct Record {
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
}

impl Record {
    /// Decodes the body; the error says what is wrong without echoing the body (it may hold
    /// personal data).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, RecordError> {
        serde_json::from_str(&self.body).map_err(|err| {
            RecordError::Malformed(format!("line {} column {}: {:?}", err.line(), err.column(), err.classify()))
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("all {0} records of the batch failed")]
    AllFailed(usize),
    #[error("a record has no message id; the batch is retried whole")]
    MissingMessageId,
}

/// Runs `handler` on every record, up to `concurrency` at once, and reports the failures.
pub async fn process<F, Fut, E>(event: SqsEvent, concurrency: usize, handler: F) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(Record) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let total = event.records.len();
    let mut records = Vec::with_capacity(total);
    for message in event.records {
        let message_id = message.message_id.ok_or(BatchError::MissingMessageId)?;
        let receive_count = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        records.push(Record { message_id, body: message.body.unwrap_or_default(), receive_count });
    }

    // A record whose handler panics is that record's failure: SQS redelivers it, the rest of
    // the batch completes (where panics unwind; the Lambda builds abort, and Lambda retries).
    let outcomes: Vec<(String, Result<(), String>)> = futures::stream::iter(records)
        .map(|record| {
            let id = record.message_id.clone();
            let outcome = std::panic::AssertUnwindSafe(handler(record)).catch_unwind();
            async move {
                let outcome = match outcome.await {
                    Ok(result) => result.map_err(|err| err.to_string()),
                    Err(_) => Err("the handler panicked".to_owned()),
                };
                (id, outcome)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;

    let mut response = SqsBatchResponse::default();
    for (message_id, outcome) in outcomes {
        if let Err(err) = outcome {
            tracing::warn!(%message_id, error = %err, "record failed; SQS will redeliver it");
            response.add_failure(message_id);
        }
    }
    if total > 0 && response.batch_item_failures.len() == total {
        return Err(BatchError::AllFailed(total));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bodies: &[&str]) -> SqsEvent {
        let records: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| serde_json::json!({"messageId": format!("m{n}"), "body": body, "attributes": {"ApproximateReceiveCount": "2"}}))
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[derive(serde::Deserialize)]
    struct Job {
        n: u32,
    }

    async fn handle(record: Record) -> Result<(), RecordError> {
        assert_eq!(record.receive_count, 2);
        let job: Job = record.json()?;
        match job.n {
            13 => Err(RecordError::Failed("unlucky".into())),
            666 => panic!("a bug in one record's handling"),
            _ => Ok(()),
        }
    }

    #[tokio::test]
    async fn only_failed_records_are_reported() {
        let response =
            process(event(&[r#"{"n":1}"#, "not json", r#"{"n":13}"#, r#"{"n":2}"#]), 4, handle).await.unwrap();
        let mut failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        failed.sort();
        assert_eq!(failed, vec!["m1", "m2"]);
    }

    #[tokio::test]
    async fn a_panicking_record_fails_alone() {
        let response = process(event(&[r#"{"n":1}"#, r#"{"n":666}"#, r#"{"n":2}"#]), 2, handle).await.unwrap();
        let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        assert_eq!(failed, vec!["m1"]);
        let all = process(event(&[r#"{"n":666}"#]), 2, handle).await;
        assert!(matches!(all, Err(BatchError::AllFailed(1))));
    }

    #[tokio::test]
    async fn a_batch_where_every_record_fails_is_an_error() {
        let result = process(event(&["{", r#"{"n":13}"#]), 4, handle).await;
        assert!(matches!(result, Err(BatchError::AllFailed(2))));
    }

    #[tokio::test]
    async fn an_empty_batch_succeeds() {
        let response = process(event(&[]), 4, handle).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
}
