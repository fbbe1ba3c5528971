//! The port of a service a function's IAM role does not grant (`template.yaml`): the binary
//! carries no client for it, and every call fails, as the call would on AWS (AccessDenied).
//! The Lambda harness (`tests/lambda/run_functions.py`) runs each function's journeys and
//! records its requests, so a function that needs the service is caught before deployment.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::blob::{BlobError, BlobStore, SignedUrl};
use crate::queue::{Queue, QueueError, QueueName, ReceivedMessage};

/// The service's name ("SQS", "S3"), for the error.
#[derive(Debug, Clone, Copy)]
pub struct NotGranted(pub &'static str);

#[derive(Debug, thiserror::Error)]
#[error("this function has no {0} client: its role does not grant {0}")]
pub struct NotGrantedError(&'static str);

impl NotGranted {
    fn queue_error(self) -> QueueError {
        QueueError::Backend(Box::new(NotGrantedError(self.0)))
    }

    fn blob_error(self) -> BlobError {
        BlobError::Backend(Box::new(NotGrantedError(self.0)))
    }
}

#[async_trait]
impl Queue for NotGranted {
    async fn send_batch(&self, _queue: QueueName, _bodies: Vec<String>) -> Result<(), QueueError> {
        Err(self.queue_error())
    }

    async fn receive(
        &self,
        _queue: QueueName,
        _max: usize,
        _visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Err(self.queue_error())
    }

    async fn delete(&self, _queue: QueueName, _receipt: &str) -> Result<(), QueueError> {
        Err(self.queue_error())
    }

    async fn receive_dead_letters(&self, _queue: QueueName, _max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
        Err(self.queue_error())
    }
}

#[async_trait]
impl BlobStore for NotGranted {
    async fn put(&self, _key: &str, _bytes: Bytes, _content_type: &str) -> Result<(), BlobError> {
        Err(self.blob_error())
    }

    async fn get(&self, _key: &str) -> Result<Option<Bytes>, BlobError> {
        Err(self.blob_error())
    }

    async fn list(&self, _prefix: &str) -> Result<Vec<String>, BlobError> {
        Err(self.blob_error())
    }

    async fn delete_prefix(&self, _prefix: &str) -> Result<usize, BlobError> {
        Err(self.blob_error())
    }

    async fn signed_url(&self, _key: &str, _lifetime: Duration) -> Result<SignedUrl, BlobError> {
        Err(self.blob_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_fails_naming_the_service() {
        let port = NotGranted("S3");
        let err = port.list("exports/").await.unwrap_err();
        let source = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(source.contains("no S3 client"), "{source}");
        assert!(port.signed_url("a", Duration::from_secs(1)).await.is_err());
        assert!(NotGranted("SQS").send(QueueName::Mail, "{}".to_owned()).await.is_err());
    }
}
