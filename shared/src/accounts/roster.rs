//! Who stays in an organisation, and the version that orders every change of it.
//!
//! Every change that could leave an organisation without an admin, or with no member left to
//! erase it (a cancellation, a removal, a role change), reads the organisation's membership
//! version first, then the members, and writes its effect in one transaction with the
//! condition that the version is unchanged, bumping it. Of two such changes that read the same
//! members, the second to write is refused (see [`super::AccountError::MembershipChanged`]),
//! and on retry it reads the first one's effect.
//!
//! Members whose erasure has begun (fenced) still have their user item until their job
//! deletes it; they do not count as staying.

use super::{AccountError, OrganisationRecord, UserRecord};
use crate::Platform;
use crate::store::{Condition, StoreError, TransactOp, Update};

/// The organisation item's attribute that orders membership changes.
const VERSION: &str = "membership_version";

/// The organisation's membership version, as the transaction operation that requires it still
/// to be that and bumps it.
pub(crate) async fn version_guard(platform: &Platform, organisation_id: &str) -> Result<TransactOp, AccountError> {
    let key = OrganisationRecord::key(organisation_id);
    let item = platform.store.get(&key).await?.ok_or(AccountError::OrganisationGone)?;
    let unchanged = match item.attrs.get(VERSION).and_then(|v| v.as_i64()) {
        Some(version) => Condition::equals(VERSION, version),
        None => Condition::AttributeNotExists(VERSION.into()),
    };
    Ok(TransactOp::Update {
        key,
        entity_type: "organisation".into(),
        update: Update::new().add(VERSION, 1),
        condition: Some(Condition::And(vec![Condition::Exists, unchanged])),
    })
}

/// The organisation's members other than `user_id` whose erasure has not begun.
pub(crate) async fn staying_besides(
    platform: &Platform,
    organisation_id: &str,
    user_id: &str,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut others = super::members(platform, organisation_id).await?;
    others.retain(|m| m.user_id != user_id);
    if others.is_empty() {
        return Ok(others);
    }
    let fenced =
        crate::erasure::fence::fenced_among(platform.store.as_ref(), others.iter().map(|m| m.user_id.as_str())).await?;
    others.retain(|m| !fenced.contains(&m.user_id));
    Ok(others)
}
