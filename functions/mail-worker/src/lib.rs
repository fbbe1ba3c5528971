//! The mail worker: sends each e-mail of the mail queue once.
//!
//! A redelivered message is not sent again (idempotency on the message id). A provider outage
//! fails the record so SQS redelivers it later; after the maximum receives it waits in the
//! dead-letter queue for an operator.

use std::sync::Arc;

use shared::idempotency::{Idempotency, IdempotencyError};
use shared::mail::{MailError, Mailer, OutgoingMail};
use shared::queue::batch::{self, BatchError, Record, RecordError, SqsBatchResponse, SqsEvent};

/// How many e-mails of one batch are sent at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
pub struct MailWorker {
    pub mailer: Arc<dyn Mailer>,
    pub idempotency: Idempotency,
}

impl MailWorker {
    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        batch::process(event, CONCURRENCY, |record| self.send(record)).await
    }

    #[tracing::instrument(skip_all, fields(message_id = %record.message_id, receive_count = record.receive_count))]
    async fn send(&self, record: Record) -> Result<(), RecordError> {
        let mail: OutgoingMail = record.json()?;
        let outcome = self
            .idempotency
            .run("mail", &mail.id, record.body.as_bytes(), || async {
                self.mailer.send(&mail.email).await.map(|()| true)
            })
            .await;
        match outcome {
            Ok(_) => {
                tracing::info!(category = %mail.email.category, "e-mail sent");
                Ok(())
            }
            Err(IdempotencyError::Handler(MailError::Rejected(reason))) => {
                Err(RecordError::Failed(format!("the provider rejected the e-mail: {reason}")))
            }
            Err(err) => Err(RecordError::Failed(err.to_string())),
        }
    }
}
