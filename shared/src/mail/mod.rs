//! The mail port. Every e-mail leaves through the mail worker (the outbox queue), which calls
//! one of these: SendGrid's v3 Mail Send API in AWS, a folder of `.eml` files locally.

pub mod copies;
pub mod mailbox;
#[cfg(any(feature = "embedded", feature = "smtp"))]
pub(crate) mod mime;
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

pub use copies::SentCopies;

use crate::Platform;
use crate::keys;
use crate::queue::{Queue, QueueError, QueueName};
use crate::store::{BatchOp, Index, IndexKey, Item};

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

/// RFC 3834's header. Everything we send is made by a machine and says so (`auto-generated`,
/// or `auto-replied` for the answers to mail received at hello@), so auto-responders leave it
/// unanswered: among them our own hello@ intake, where notices to a DPO whose address is
/// hello@ land. An operator's own answer says `no`.
pub const AUTO_SUBMITTED: &str = "Auto-Submitted";

/// The category of e-mails that answer something the person did (verification, receipts,
/// notices to the DPO): they need no consent.
pub const TRANSACTIONAL: &str = "transactional";

impl Email {
    /// Marks the e-mail as an automatic answer to a message received (`auto-replied`).
    pub fn auto_reply(self) -> Self {
        self.auto_submitted("auto-replied")
    }

    /// Marks the e-mail as written by a person (`no`): their correspondent's machines may answer it.
    pub fn written_by_a_person(self) -> Self {
        self.auto_submitted("no")
    }

    fn auto_submitted(mut self, value: &str) -> Self {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(AUTO_SUBMITTED));
        self.headers.push((AUTO_SUBMITTED.into(), value.into()));
        self
    }

    /// The extra headers as sent: the e-mail's own, and `Auto-Submitted: auto-generated`
    /// unless it says otherwise.
    pub fn sent_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case(AUTO_SUBMITTED)) {
            headers.push((AUTO_SUBMITTED.into(), "auto-generated".into()));
        }
        headers
    }

    /// A plain-text transactional e-mail: no extra headers, no organisation.
    pub fn transactional(to: impl Into<String>, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            html: None,
            headers: Vec::new(),
            category: TRANSACTIONAL.into(),
            organisation_id: None,
        }
    }
}

/// A message on the mail queue: one e-mail, sent at most once per `id`. It carries ids only:
/// the e-mail itself waits in the table under [`crate::keys::outgoing_mail`], filed under its
/// recipient's address so that erasure deletes it (then the message finds nothing and is
/// acknowledged), and a message in a dead-letter queue holds nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutgoingMail {
    /// The idempotency key (a redelivered message with the same id is not sent again) and
    /// the stored e-mail's id.
    pub id: String,
    /// Only for mail that needs consent: a text for everyone, with no address (`to` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// For mail that needs consent (product updates, reminders): whose and for what. The
    /// mail worker checks the consent when it sends, looks the address up then, and adds the
    /// RFC 8058 unsubscribe headers and link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentedRecipient>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentedRecipient {
    pub user_id: String,
    pub purpose: crate::consent::PurposeId,
}

/// How long a stored e-mail waits for the mail worker at most: longer than a message can
/// wait in a queue and its dead-letter queue (14 days), so a redriven message still finds it.
/// The worker deletes it once sent.
pub const OUTGOING_MAIL_SECONDS: i64 = 15 * 24 * 3600;

/// Puts e-mails on the mail queue (every e-mail the system sends goes this way). Each is
/// stored, filed under its recipient's address (erasure deletes what still waits), and the
/// message carries only its id.
pub async fn enqueue(platform: &Platform, emails: Vec<Email>) -> Result<(), QueueError> {
    queue_stored(platform, emails, Filing::Recipient).await
}

/// [`enqueue`] for e-mails about a user sent to someone else (the DPO told of their
/// complaint) or to an address not yet theirs (the link confirming a new address): filed under
/// the user (`keys::subject_index`), so their erasure deletes what still waits.
pub async fn enqueue_about(platform: &Platform, user_id: &str, emails: Vec<Email>) -> Result<(), QueueError> {
    queue_stored(platform, emails, Filing::Subject(user_id)).await
}

/// [`enqueue`] for e-mails about the holder of an address sent to someone else (the DPO told
/// of a complaint filed without a session): filed under that address, so the erasure of its
/// account deletes what still waits. Such e-mails carry [`ABOUT_HEADER`] for the sent copies.
pub async fn enqueue_about_address(platform: &Platform, canonical: &str, emails: Vec<Email>) -> Result<(), QueueError> {
    queue_stored(platform, emails, Filing::Address(canonical)).await
}

/// The header that names whom an e-mail to someone else is about, by the SHA-256 of their
/// canonical address: an erasure deletes our copies carrying their hash.
pub const ABOUT_HEADER: &str = "X-Infentre-About";

/// The category of the notices of an erasure itself: sent after it (the last e-mail to the
/// person), so the local outbox keeps their copy for its retention like any other.
pub const ERASURE_NOTICE: &str = "erasure_notice";

/// [`enqueue`] for the notices of an erasure itself (a removed member, the erasure done):
/// they must reach the person after their erasure started, so they are not filed under the
/// address. They are deleted once sent and expire after [`OUTGOING_MAIL_SECONDS`].
pub async fn enqueue_erasure_notice(platform: &Platform, emails: Vec<Email>) -> Result<(), QueueError> {
    queue_stored(platform, emails, Filing::Unfiled).await
}

/// Where a waiting e-mail is filed, for erasure to find it.
enum Filing<'a> {
    Recipient,
    Subject(&'a str),
    Address(&'a str),
    Unfiled,
}

async fn queue_stored(platform: &Platform, emails: Vec<Email>, filing: Filing<'_>) -> Result<(), QueueError> {
    let expires_at = platform.clock.epoch_seconds() + OUTGOING_MAIL_SECONDS;
    let mut writes = Vec::with_capacity(emails.len());
    let mut bodies = Vec::with_capacity(emails.len());
    for email in emails {
        let id = ulid::Ulid::new().to_string();
        let mut item = Item::new(keys::outgoing_mail(&id), "outgoing_mail")
            .with_data(&email)
            .map_err(|err| QueueError::Invalid(err.to_string()))?
            .expires_at(expires_at);
        match filing {
            Filing::Recipient => {
                item = item.with_index(Index::Gsi1, keys::outgoing_mail_index(&canonical(&email.to), &id));
            }
            Filing::Subject(user_id) => {
                let index = IndexKey::new(keys::subject_index(user_id), format!("MAIL#{id}"));
                item = item.with_index(Index::Gsi1, index);
            }
            Filing::Address(canonical) => {
                item = item.with_index(Index::Gsi1, keys::outgoing_mail_index(canonical, &id));
            }
            Filing::Unfiled => {}
        }
        writes.push(BatchOp::Put(item));
        let message = OutgoingMail { id, email: None, consent: None };
        bodies.push(serde_json::to_string(&message).map_err(|err| QueueError::Invalid(err.to_string()))?);
    }
    // Stored first: a message never points at nothing it was meant to find.
    for chunk in writes.chunks(crate::store::MAX_BATCH_WRITE_ITEMS) {
        platform.store.batch_write(chunk.to_vec()).await.map_err(|err| QueueError::Backend(Box::new(err)))?;
    }
    platform.queue.send_batch(QueueName::Mail, bodies).await
}

/// The address as accounts and erasure identify it (see `domain::EmailAddress::canonical`).
fn canonical(to: &str) -> String {
    match crate::domain::EmailAddress::parse(to) {
        Ok(address) => address.canonical().to_owned(),
        Err(_) => to.trim().to_lowercase(),
    }
}

/// The stored e-mail of a message, or `None` when it is gone (its recipient was erased, or it
/// was sent and deleted).
pub async fn stored(platform: &Platform, mail_id: &str) -> Result<Option<Email>, crate::store::StoreError> {
    match platform.store.get(&keys::outgoing_mail(mail_id)).await? {
        Some(item) if !item.is_expired_at(platform.clock.epoch_seconds()) => Ok(Some(item.data()?)),
        _ => Ok(None),
    }
}

/// Deletes a sent e-mail: the address is kept no longer than needed.
pub async fn forget(platform: &Platform, mail_id: &str) -> Result<(), crate::store::StoreError> {
    platform.store.delete(&keys::outgoing_mail(mail_id), None).await.map(|_| ())
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
                email: Some(Email {
                    to: String::new(),
                    subject: subject.to_owned(),
                    text: text.to_owned(),
                    html: None,
                    headers: Vec::new(),
                    category: purpose.as_str().to_owned(),
                    organisation_id: None,
                }),
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
