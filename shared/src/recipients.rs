//! The organisations' e-mail recipients (their customers): an admin erases one, which also
//! suppresses them, so their future interactions are neither stored nor synced. Shared by the
//! API and the admin desk.

use crate::Platform;
use crate::domain::EmailAddress;
use crate::keys;
use crate::store::{BatchOp, Item, Query, StoreError, query_all};

/// The hash that identifies a recipient in keys and records (never the address).
pub fn recipient_hash(email: &EmailAddress) -> String {
    crate::hash::sha256_hex(email.canonical().as_bytes())
}

/// Erases every stored interaction of one recipient of the organisation's e-mails and
/// suppresses them from now on; returns how many interactions were erased.
#[tracing::instrument(skip_all, fields(organisation_id = %organisation_id))]
pub async fn erase_recipient(
    platform: &Platform,
    organisation_id: &str,
    email: &EmailAddress,
) -> Result<usize, StoreError> {
    let recipient = recipient_hash(email);
    let key = keys::suppression(organisation_id, &recipient);
    // Suppress first: an event arriving during the erasure is not stored after it. Not once the
    // organisation's own erasure has begun (a suppression never expires: its job must see it).
    let suppression = Item::new(key, "recipient_suppression")
        .with_data(&serde_json::json!({ "recipient": recipient, "since": platform.clock.epoch_seconds() }))?;
    crate::erasure::fence::put_unless_fenced(platform.store.as_ref(), suppression, None, &[organisation_id]).await?;
    let interactions = query_all(
        platform.store.as_ref(),
        Query::partition(keys::recipient_interactions(organisation_id, &recipient)).limit(1_000),
    )
    .await?;
    let erased = interactions.len();
    platform.store.batch_write(interactions.into_iter().map(|i| BatchOp::Delete(i.key)).collect()).await?;
    Ok(erased)
}
