//! The mail port. Every e-mail leaves through the mail worker (the outbox queue), which calls
//! one of these: SendGrid's v3 Mail Send API in AWS, a folder of `.eml` files locally.

pub mod mailbox;
#[cfg(any(feature = "embedded", feature = "smtp"))]
mod mime;
#[cfg(feature = "embedded")]
pub mod outbox;
#[cfg(feature = "providers")]
pub mod sendgrid;
#[cfg(feature = "smtp")]
pub mod smtp;
pub mod texts;

pub use mailbox::Mailbox;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::queue::{Queue, QueueError, QueueName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Extra headers, such as RFC 8058's `List-Unsubscribe` and `List-Unsubscribe-Post`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// A label for the provider's statistics (`transactional`, `product_updates`, ...).
    pub category: String,
    /// The organisation an e-mail is sent for: SendGrid returns it with each delivery, open
    /// and click event (as a custom argument), which files the interaction under it.
    #[serde(default)]
    pub organisation_id: Option<String>,
}

/// A message on the mail queue: one e-mail, sent at most once per `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutgoingMail {
    /// The idempotency key: a redelivered message with the same id is not sent again.
    pub id: String,
    pub email: Email,
    /// For mail that needs consent (product updates, reminders): whose and for what. The
    /// mail worker checks the consent when it sends, looks the address up then (the message
    /// carries none), and adds the RFC 8058 unsubscribe headers and link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentedRecipient>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentedRecipient {
    pub user_id: String,
    pub purpose: crate::consent::PurposeId,
}

/// Puts e-mails on the mail queue (every e-mail the system sends goes this way).
pub async fn enqueue(queue: &dyn Queue, emails: Vec<Email>) -> Result<(), QueueError> {
    let bodies = emails
        .into_iter()
        .map(|email| {
            let message = OutgoingMail { id: ulid::Ulid::new().to_string(), email, consent: None };
            serde_json::to_string(&message).map_err(|err| QueueError::Invalid(err.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    queue.send_batch(QueueName::Mail, bodies).await
}

/// Queues one e-mail per user for a purpose that needs consent (in batches of 10). Only the
/// user id travels: the address is looked up, and the consent checked, at sending time.
pub async fn enqueue_consented(
    queue: &dyn Queue,
    user_ids: &[String],
    purpose: crate::consent::PurposeId,
    subject: &str,
    text: &str,
) -> Result<(), QueueError> {
    let bodies = user_ids
        .iter()
        .map(|user_id| {
            let message = OutgoingMail {
                id: ulid::Ulid::new().to_string(),
                email: Email {
                    to: String::new(),
                    subject: subject.to_owned(),
                    text: text.to_owned(),
                    html: None,
                    headers: Vec::new(),
                    category: purpose.as_str().to_owned(),
                    organisation_id: None,
                },
                consent: Some(ConsentedRecipient { user_id: user_id.clone(), purpose }),
            };
            serde_json::to_string(&message).map_err(|err| QueueError::Invalid(err.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    queue.send_batch(QueueName::Mail, bodies).await
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this message; sending it again will not help.
    #[error("the message was rejected: {0}")]
    Rejected(String),
    /// The provider is unavailable or throttling; sending again later may succeed.
    #[error("the mail provider is unavailable: {0}")]
    Unavailable(String),
    #[error("mail backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

/// Header names we let through: RFC 5322 field names, and never one the adapter sets itself.
#[cfg(any(feature = "providers", feature = "embedded", feature = "smtp"))]
pub(crate) fn check_headers(email: &Email) -> Result<(), MailError> {
    const OURS: [&str; 8] =
        ["from", "to", "subject", "date", "message-id", "mime-version", "content-type", "content-transfer-encoding"];
    for (name, value) in &email.headers {
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid_name || OURS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(MailError::Rejected(format!("header {name:?} cannot be set")));
        }
        if value.contains(['\r', '\n']) {
            return Err(MailError::Rejected(format!("header {name} has a line break")));
        }
    }
    if email.subject.contains(['\r', '\n']) || email.to.contains(['\r', '\n']) {
        return Err(MailError::Rejected("line break in a header".into()));
    }
    Ok(())
}
