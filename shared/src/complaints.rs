//! Complaints to the DPO, the one use case behind `POST /v1/complaints` and the privacy
//! center's form: checked, bounded per person, stored with the complainant (erased with them)
//! and told to the DPO by e-mail.

use crate::Platform;
use crate::clock::rfc3339_from_epoch as time;
use crate::config::{Party, SupervisoryAuthority};
use crate::domain::{EmailAddress, Invalid};
use crate::erasure::fence::{self, FencedWrite};
use crate::keys;
use crate::mail::{self, Email};
use crate::operator::ComplaintEntry;
use crate::queue::QueueError;
use crate::store::{Condition, Index, IndexKey, Item, StoreError};
use crate::throttle::{COMPLAINTS_PER_USER, Limit, ThrottleError};

/// The longest message, in characters (after trimming).
pub const MAX_MESSAGE: usize = 10_000;

/// What the complainant is answered: the complaint's id and whom else they may turn to.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub id: String,
    pub dpo: Party,
    pub supervisory_authority: SupervisoryAuthority,
}

#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {
    #[error("The message is 1 to 10,000 characters.")]
    InvalidMessage,
    #[error("too many complaints; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// The complainant's erasure started after their session was checked.
    #[error("the complainant is being erased")]
    AccountGone,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<ThrottleError> for ComplaintError {
    fn from(err: ThrottleError) -> Self {
        match err {
            ThrottleError::Limited { retry_after_seconds } => ComplaintError::RateLimited { retry_after_seconds },
            ThrottleError::Store(err) => ComplaintError::Store(err),
        }
    }
}

/// Files a complaint of `user_id` (of `organisation_id`) with the DPO.
pub async fn file(
    platform: &Platform,
    user_id: &str,
    organisation_id: &str,
    message: &str,
) -> Result<Receipt, ComplaintError> {
    let message = message.trim();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE {
        return Err(ComplaintError::InvalidMessage);
    }
    // Each complaint e-mails the DPO: bounded per person.
    COMPLAINTS_PER_USER.count(platform, user_id).await?;
    let id = ulid::Ulid::new().to_string();
    let complaint = ComplaintEntry {
        id: id.clone(),
        user_id: Some(user_id.to_owned()),
        organisation_id: Some(organisation_id.to_owned()),
        contact: None,
        name: None,
        message: message.to_owned(),
        status: "received".into(),
        created_at: time(platform.clock.epoch_seconds()),
    };
    // Filed in the complainant's partition: erased with them, like everything about them.
    let item = Item::new(keys::complaint(user_id, &id), "complaint")
        .with_data(&complaint)?
        .with_index(Index::Gsi3, IndexKey::new(keys::COMPLAINTS_LISTING, &id));
    // Refused if the complainant's erasure started after their session was checked.
    let complainant = [user_id, organisation_id];
    match fence::put_unless_fenced(platform.store.as_ref(), item, Some(Condition::NotExists), &complainant).await {
        Ok(()) => {}
        Err(FencedWrite::Fenced) => return Err(ComplaintError::AccountGone),
        Err(err) => return Err(StoreError::from(err).into()),
    }
    let notice = Email::transactional(
        platform.settings.dpo.email.clone(),
        format!("New complaint {id}"),
        format!(
            "A user filed a complaint.\n\nComplaint: {id}\nUser: {user_id}\n\
             Organisation: {organisation_id}\n\n{message}\n"
        ),
    );
    mail::enqueue_about(platform, user_id, vec![notice]).await?;
    // The id only: the message and the person stay out of the logs.
    tracing::info!(complaint_id = %id, "complaint filed");
    Ok(Receipt {
        id,
        dpo: platform.settings.dpo.clone(),
        supervisory_authority: platform.settings.supervisory_authority.clone(),
    })
}

/// A complaint from anyone, signed in or not: bounded per client address and per contact
/// address, as each one e-mails the DPO.
pub const PUBLIC_PER_CLIENT: Limit = crate::throttle::PUBLIC_COMPLAINTS_PER_CLIENT;
pub const PUBLIC_PER_ADDRESS: Limit = crate::throttle::PUBLIC_COMPLAINTS_PER_ADDRESS;
/// The longest name, in characters.
pub const MAX_NAME: usize = 200;
/// A complaint filed without a session is kept this long, then expires; an erasure of the
/// account with its contact address deletes it before (`erasure::LOCATIONS`, "public_complaints").
pub const PUBLIC_RETENTION_SECONDS: i64 = 3 * 365 * 24 * 3600;

/// What a complaint from anyone says.
#[derive(Debug, Clone)]
pub struct PublicComplaint<'a> {
    pub name: Option<&'a str>,
    pub contact: &'a str,
    pub message: &'a str,
    /// The client's address, for the per-client limit (absent: not limited per client).
    pub client: Option<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublicComplaintError {
    #[error(transparent)]
    Complaint(#[from] ComplaintError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl From<ThrottleError> for PublicComplaintError {
    fn from(err: ThrottleError) -> Self {
        PublicComplaintError::Complaint(err.into())
    }
}

impl From<StoreError> for PublicComplaintError {
    fn from(err: StoreError) -> Self {
        PublicComplaintError::Complaint(err.into())
    }
}

impl From<QueueError> for PublicComplaintError {
    fn from(err: QueueError) -> Self {
        PublicComplaintError::Complaint(err.into())
    }
}

/// Files a complaint from anyone (no sign-in): checked, bounded, stored under a hash of the
/// contact address (listed for operators beside the others, erased with the account of that
/// address), and told to the DPO by an e-mail filed under that address too.
pub async fn file_public(platform: &Platform, complaint: PublicComplaint<'_>) -> Result<Receipt, PublicComplaintError> {
    let message = complaint.message.trim();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE {
        return Err(ComplaintError::InvalidMessage.into());
    }
    let name = complaint.name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > MAX_NAME || n.contains(['\r', '\n'])) {
        return Err(Invalid::new("invalid_name", "The name is one line of at most 200 characters.").into());
    }
    let contact = EmailAddress::parse(complaint.contact)?;
    // Counted before anything is stored or mailed: per client (the work), per address (the mail).
    if let Some(client) = complaint.client {
        PUBLIC_PER_CLIENT.count(platform, &client.to_string()).await?;
    }
    PUBLIC_PER_ADDRESS.count(platform, contact.canonical()).await?;
    let now = platform.clock.epoch_seconds();
    let id = ulid::Ulid::new().to_string();
    let entry = ComplaintEntry {
        id: id.clone(),
        user_id: None,
        organisation_id: None,
        contact: Some(contact.as_str().to_owned()),
        name: name.map(str::to_owned),
        message: message.to_owned(),
        status: "received".into(),
        created_at: time(now),
    };
    let item = Item::new(keys::public_complaint(contact.canonical(), &id), "complaint")
        .with_data(&entry)?
        .with_index(Index::Gsi3, IndexKey::new(keys::COMPLAINTS_LISTING, &id))
        .expires_at(now + PUBLIC_RETENTION_SECONDS);
    platform.store.put(item, Some(Condition::NotExists)).await?;
    let mut notice = Email::transactional(
        platform.settings.dpo.email.clone(),
        format!("New complaint {id}"),
        format!(
            "Someone filed a complaint without signing in.\n\nComplaint: {id}\nAnswer to: {}\nName: {}\n\n{message}\n",
            contact.as_str(),
            name.unwrap_or("(not given)")
        ),
    );
    // Names the complainant by the hash of their address, so that their erasure finds our
    // copy of this e-mail to the DPO (the local outbox) as it finds the complaint.
    notice.headers.push((mail::ABOUT_HEADER.into(), crate::hash::sha256_hex(contact.canonical().as_bytes())));
    mail::enqueue_about_address(platform, contact.canonical(), vec![notice]).await?;
    tracing::info!(complaint_id = %id, "public complaint filed");
    Ok(Receipt {
        id,
        dpo: platform.settings.dpo.clone(),
        supervisory_authority: platform.settings.supervisory_authority.clone(),
    })
}
