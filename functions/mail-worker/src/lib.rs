//! The mail worker: sends each e-mail of the mail queue once.
//!
//! A message carries the id of an e-mail stored in the table (no address): the worker reads
//! it, sends it and deletes it; when it is gone (erased with its recipient) the message is
//! acknowledged with no effect. A redelivered message is not sent again (idempotency on the
//! message id). Mail that needs
//! consent is checked right before sending, so a withdrawal between queueing and sending stops
//! it; it then gets the address from the account (the message carries none) and the RFC 8058
//! unsubscribe headers and link. A provider outage fails the record so SQS redelivers it
//! later; after the maximum receives it waits in the dead-letter queue for an operator.
//!
//! The queue also carries the steps of broadcast jobs (`shared::broadcast`): each mails one
//! page of recipients, at most once each, and queues the next step.

use std::sync::Arc;

use shared::Platform;
use shared::idempotency::{Idempotency, IdempotencyError};
use shared::mail::{self, Email, MailError, Mailer, OutgoingMail};
use shared::queue::batch::{self, BatchError, Record, RecordError, SqsBatchResponse, SqsEvent};
use shared::{accounts, unsubscribe};
use shared::{broadcast, consent};

/// How many e-mails of one batch are sent at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
pub struct MailWorker {
    pub platform: Platform,
    pub mailer: Arc<dyn Mailer>,
    pub idempotency: Idempotency,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    Sent,
    /// The consent was withdrawn (or the account erased) before sending.
    Withheld,
    /// The stored e-mail is gone: its recipient was erased (or it was sent already).
    Gone,
}

impl MailWorker {
    pub fn new(platform: Platform, mailer: Arc<dyn Mailer>) -> Self {
        let idempotency = Idempotency::new(platform.store.clone(), platform.clock.clone());
        Self { platform, mailer, idempotency }
    }

    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        batch::process(event, CONCURRENCY, |record| self.send(record)).await
    }

    #[tracing::instrument(skip_all, fields(message_id = %record.message_id, receive_count = record.receive_count))]
    async fn send(&self, record: Record) -> Result<(), RecordError> {
        if let Ok(step) = serde_json::from_str::<broadcast::StepMessage>(&record.body) {
            return broadcast::step(&self.platform, self.mailer.as_ref(), &step)
                .await
                .map_err(|err| RecordError::Failed(format!("broadcast step: {err}")));
        }
        let mail: OutgoingMail = record.json()?;
        let outcome = self.idempotency.run("mail", &mail.id, record.body.as_bytes(), || self.deliver(&mail)).await;
        match outcome {
            Ok(outcome) => {
                if outcome == Outcome::Sent && mail.email.is_none() {
                    // Sent: the stored e-mail (its address) goes. Should this fail, it expires.
                    if let Err(err) = mail::forget(&self.platform, &mail.id).await {
                        tracing::warn!(error = %err, "a sent e-mail could not be deleted; it expires");
                    }
                }
                tracing::info!(?outcome, "e-mail done");
                Ok(())
            }
            Err(IdempotencyError::Handler(MailError::Rejected(reason))) => {
                Err(RecordError::Failed(format!("the provider rejected the e-mail: {reason}")))
            }
            Err(err) => Err(RecordError::Failed(err.to_string())),
        }
    }

    async fn deliver(&self, mail: &OutgoingMail) -> Result<Outcome, MailError> {
        let email = match (&mail.consent, &mail.email) {
            (Some(recipient), Some(template)) => match self.consented(template, recipient).await? {
                Some(email) => email,
                None => return Ok(Outcome::Withheld),
            },
            (Some(_), None) => return Err(MailError::Rejected("consented mail without its text".into())),
            (None, _) => {
                let found = mail::stored(&self.platform, &mail.id).await;
                match found.map_err(|err| MailError::Backend(Box::new(err)))? {
                    Some(email) => email,
                    // Erased with its recipient (or already sent): acknowledged, no effect.
                    None => return Ok(Outcome::Gone),
                }
            }
        };
        tracing::debug!(category = %email.category, "sending");
        self.mailer.send(&email).await.map(|()| Outcome::Sent)
    }

    /// The e-mail to send if the consent holds now, addressed and with unsubscribe headers.
    async fn consented(
        &self,
        template: &Email,
        recipient: &shared::mail::ConsentedRecipient,
    ) -> Result<Option<Email>, MailError> {
        let backend = |err: shared::store::StoreError| MailError::Backend(Box::new(err));
        if !consent::is_granted(&self.platform, &recipient.user_id, recipient.purpose).await.map_err(backend)? {
            return Ok(None);
        }
        let Some(user) = accounts::find_user(&self.platform, &recipient.user_id).await.map_err(backend)? else {
            return Ok(None);
        };
        let now = self.platform.clock.epoch_seconds();
        let (link, headers) = unsubscribe::headers(&self.platform.settings, &recipient.user_id, recipient.purpose, now);
        let mut email = template.clone();
        email.to = user.email;
        email.headers.extend(headers);
        email.text = format!(
            "{}\n\n--\nYou get this because you asked for it. Unsubscribe with one click: {link}\n",
            email.text.trim_end()
        );
        Ok(Some(email))
    }
}
