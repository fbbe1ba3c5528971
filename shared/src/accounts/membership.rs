//! Membership of an organisation, as its admins manage it: change a member's role, remove a
//! member, list and revoke pending invitations, and the history of those changes.
//!
//! Every use case acts on the acting admin's own organisation: a member or invitation of
//! another organisation is [`MembershipError::NoSuchMember`] / [`MembershipError::NoSuchInvitation`],
//! exactly as one that does not exist. The admin's role is read from their account, not
//! trusted from the session. Changes that could leave the organisation without an admin
//! (demoting or removing one) are serialised per organisation by a version on the
//! organisation item, so two admins demoting each other at once cannot both win. Role changes
//! and removals need the acting admin's current password (a stolen session alone must not
//! hand the organisation over or erase its members). Each change is kept as a history entry
//! with ids and roles only, erased with the organisation.

use serde::{Deserialize, Serialize};

use super::{AccountError, TokenKind, TokenRecord, UserRecord, confirm_password, load_user};
use crate::Platform;
use crate::domain::Role;
use crate::erasure;
use crate::keys;
use crate::mail::{self, Email};
use crate::session;
use crate::store::{Condition, Index, Item, Query, StoreError, TransactOp, Update};

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// Absent, erased, or in another organisation: one answer for all three.
    #[error("No such member in your organisation.")]
    NoSuchMember,
    #[error("No such pending invitation in your organisation.")]
    NoSuchInvitation,
    #[error("Only an admin of the organisation may do this.")]
    NotAdmin,
    /// Removing oneself is cancelling one's account, which has its own rules and confirmation.
    #[error("You cannot remove yourself: cancel your own account instead.")]
    SelfRemoval,
    /// Another membership change of the organisation happened meanwhile.
    #[error("The organisation's members changed meanwhile; reload and try again.")]
    Conflict,
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl From<StoreError> for MembershipError {
    fn from(err: StoreError) -> Self {
        MembershipError::Account(err.into())
    }
}

impl From<crate::queue::QueueError> for MembershipError {
    fn from(err: crate::queue::QueueError) -> Self {
        MembershipError::Account(err.into())
    }
}

impl From<erasure::ErasureError> for MembershipError {
    fn from(err: erasure::ErasureError) -> Self {
        MembershipError::Account(err.into())
    }
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MembershipAction {
    RoleChanged,
    MemberRemoved,
    InvitationRevoked,
}

/// One change of the organisation's membership: ids and roles, never an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipEvent {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// The admin's user id.
    pub by: String,
    pub action: MembershipAction,
    /// The member's user id, or the invitation's id.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_role: Option<Role>,
}

impl MembershipEvent {
    fn new(platform: &Platform, by: &str, action: MembershipAction, subject: &str) -> Self {
        Self {
            id: ulid::Ulid::new().to_string(),
            at: platform.clock.epoch_seconds(),
            by: by.to_owned(),
            action,
            subject: subject.to_owned(),
            from_role: None,
            to_role: None,
        }
    }

    fn put(&self, organisation_id: &str) -> Result<TransactOp, StoreError> {
        let item = Item::new(keys::membership_event(organisation_id, self.at, &self.id), "membership_event")
            .with_data(self)?;
        Ok(TransactOp::Put { item, condition: Some(Condition::NotExists) })
    }
}

/// An invitation not yet accepted and not expired. Its id is the hash under which its token
/// is kept: it names the invitation without being able to accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
}

/// The admin acting, as their account says now.
async fn acting_admin(
    platform: &Platform,
    user_id: &str,
    organisation_id: &str,
) -> Result<UserRecord, MembershipError> {
    let admin = load_user(platform, user_id).await?;
    if admin.role != Role::Admin || admin.organisation_id != organisation_id {
        return Err(MembershipError::NotAdmin);
    }
    Ok(admin)
}

/// A member of the admin's organisation; anyone else is [`MembershipError::NoSuchMember`].
async fn member_of(platform: &Platform, organisation_id: &str, user_id: &str) -> Result<UserRecord, MembershipError> {
    if ulid::Ulid::from_string(user_id).is_err() {
        return Err(MembershipError::NoSuchMember);
    }
    match super::find_user(platform, user_id).await? {
        Some(user) if user.organisation_id == organisation_id => Ok(user),
        _ => Err(MembershipError::NoSuchMember),
    }
}

async fn membership_version(platform: &Platform, organisation_id: &str) -> Result<TransactOp, MembershipError> {
    Ok(super::roster::version_guard(platform, organisation_id).await?)
}

fn role_value(role: Role) -> serde_json::Value {
    serde_json::to_value(role).unwrap_or_default()
}

/// Gives a member another role. The member's sessions end (they carry the role), so a demoted
/// admin loses the rights at once and a promoted member gets them at the next sign-in.
/// Refused with [`AccountError::LastAdmin`] when it would leave no admin.
#[tracing::instrument(skip_all, fields(organisation_id = %organisation_id))]
pub async fn change_role(
    platform: &Platform,
    (admin_id, organisation_id): (&str, &str),
    password: &str,
    member_id: &str,
    to: Role,
) -> Result<UserRecord, MembershipError> {
    let admin = acting_admin(platform, admin_id, organisation_id).await?;
    confirm_password(platform, &admin, password).await?;
    let version = membership_version(platform, organisation_id).await?;
    let mut member = member_of(platform, organisation_id, member_id).await?;
    if member.role == to {
        return Ok(member);
    }
    if member.role == Role::Admin {
        // Even alone: an organisation without an admin could not be managed or cancelled. An
        // admin whose erasure has begun does not count.
        let staying = super::roster::staying_besides(platform, organisation_id, &member.user_id).await?;
        if !staying.iter().any(|m| m.role == Role::Admin) {
            return Err(AccountError::LastAdmin.into());
        }
    }
    let mut event = MembershipEvent::new(platform, admin_id, MembershipAction::RoleChanged, member_id);
    event.from_role = Some(member.role);
    event.to_role = Some(to);
    let update = TransactOp::Update {
        key: UserRecord::key(member_id),
        entity_type: "user".into(),
        update: Update::new().set("role", role_value(to)),
        condition: Some(Condition::And(vec![
            Condition::Exists,
            Condition::equals("organisation_id", organisation_id),
            Condition::equals("role", role_value(member.role)),
        ])),
    };
    // Not about a member (or organisation) whose erasure has begun: the member's job takes
    // their id out of the history once, at its start, and would miss this entry.
    let ops = vec![
        version,
        update,
        event.put(organisation_id)?,
        erasure::fence::guard(member_id),
        erasure::fence::guard(organisation_id),
    ];
    const FIRST_GUARD: usize = 3;
    match platform.store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { operation: Some(op) }) if op >= FIRST_GUARD => {
            return Err(MembershipError::NoSuchMember);
        }
        Err(err) if err.is_condition_failed() => return Err(MembershipError::Conflict),
        Err(err) => return Err(err.into()),
    }
    session::revoke_all(platform.store.as_ref(), member_id, None).await?;
    tracing::info!(member_id, "role changed");
    member.role = to;
    Ok(member)
}

/// Removes a member from the organisation: their account is erased, as by their own
/// cancellation, and they are told by e-mail. Not oneself ([`MembershipError::SelfRemoval`]),
/// and never the last admin.
#[tracing::instrument(skip_all, fields(organisation_id = %organisation_id))]
pub async fn remove_member(
    platform: &Platform,
    (admin_id, organisation_id): (&str, &str),
    password: &str,
    member_id: &str,
) -> Result<(), MembershipError> {
    let admin = acting_admin(platform, admin_id, organisation_id).await?;
    confirm_password(platform, &admin, password).await?;
    if member_id == admin_id {
        return Err(MembershipError::SelfRemoval);
    }
    let member = member_of(platform, organisation_id, member_id).await?;
    super::refuse_last_admin(platform, &member).await?;
    let mut event = MembershipEvent::new(platform, admin_id, MembershipAction::MemberRemoved, member_id);
    event.from_role = Some(member.role);
    let still_member = TransactOp::Check {
        key: UserRecord::key(member_id),
        condition: Condition::And(vec![
            Condition::Exists,
            Condition::equals("organisation_id", organisation_id),
            Condition::equals("role", role_value(member.role)),
        ]),
    };
    let organisation = super::load_organisation(platform, organisation_id).await?;
    // Erased as by their own cancellation, in the same transaction as the membership version
    // (read again there, after the members), the member's role and the history entry.
    match super::erase_account_with(platform, &member, vec![still_member, event.put(organisation_id)?]).await {
        Ok(_) => {}
        Err(AccountError::MembershipChanged) => return Err(MembershipError::Conflict),
        Err(err) => return Err(err.into()),
    }
    // Unfiled, so the erasure that just began leaves it to reach them.
    mail::enqueue_erasure_notice(platform, vec![removed_notice(&member.email, &organisation.name)]).await?;
    tracing::info!(member_id, "member removed");
    Ok(())
}

fn removed_notice(to: &str, organisation_name: &str) -> Email {
    let text = format!(
        "An admin of {organisation_name} removed you from the organisation on Infentre. Your account and everything we held about it have been erased.\n\nIf you think this is a mistake, contact the organisation's admins.\n"
    );
    Email {
        category: mail::ERASURE_NOTICE.into(),
        ..Email::transactional(to, "You were removed from an organisation on Infentre", text)
    }
}

/// One page of the organisation's pending invitations (expired ones are absent).
pub async fn invitations_page(
    platform: &Platform,
    organisation_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<PendingInvitation>, Option<String>), StoreError> {
    let query = Query::index(Index::Gsi1, keys::organisation_invitations(organisation_id)).limit(limit).cursor(cursor);
    let page = platform.store.query(query).await?;
    let mut invitations = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let record: TokenRecord = item.data()?;
        let id = item.key.pk.strip_prefix("TOKEN#").unwrap_or_default().to_owned();
        if let (TokenKind::Invitation, Some(email), Some(role), Some(expires_at)) =
            (record.kind, record.email, record.role, item.expires_at)
        {
            invitations.push(PendingInvitation { id, email, role, expires_at });
        }
    }
    Ok((invitations, page.cursor))
}

fn is_token_hash(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Revokes a pending invitation: its link stops working at once.
#[tracing::instrument(skip_all, fields(organisation_id = %organisation_id))]
pub async fn revoke_invitation(
    platform: &Platform,
    (admin_id, organisation_id): (&str, &str),
    invitation_id: &str,
) -> Result<(), MembershipError> {
    acting_admin(platform, admin_id, organisation_id).await?;
    if !is_token_hash(invitation_id) {
        return Err(MembershipError::NoSuchInvitation);
    }
    let key = TokenRecord::key(invitation_id);
    let item = platform.store.get(&key).await?.ok_or(MembershipError::NoSuchInvitation)?;
    let record: TokenRecord = item.data()?;
    if record.kind != TokenKind::Invitation || record.organisation_id != organisation_id {
        return Err(MembershipError::NoSuchInvitation);
    }
    let event = MembershipEvent::new(platform, admin_id, MembershipAction::InvitationRevoked, invitation_id);
    let delete = TransactOp::Delete {
        key,
        condition: Some(Condition::And(vec![Condition::Exists, Condition::equals("organisation_id", organisation_id)])),
    };
    match platform.store.transact(vec![delete, event.put(organisation_id)?]).await {
        Ok(()) => Ok(()),
        // Accepted or revoked meanwhile: no longer pending.
        Err(err) if err.is_condition_failed() => Err(MembershipError::NoSuchInvitation),
        Err(err) => Err(err.into()),
    }
}

/// One page of the organisation's membership history, newest first.
pub async fn history_page(
    platform: &Platform,
    organisation_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<MembershipEvent>, Option<String>), StoreError> {
    let query = Query::partition(keys::membership_history(organisation_id)).backward().limit(limit).cursor(cursor);
    let page = platform.store.query(query).await?;
    let events = page.items.iter().map(|item| item.data()).collect::<Result<_, _>>()?;
    Ok((events, page.cursor))
}

/// What the law makes us keep when the organisation is cancelled (its invoices, under the
/// bookkeeping law), with the legal basis and the purge date: shown before an admin confirms.
pub async fn retained_on_cancellation(
    platform: &Platform,
    organisation_id: &str,
) -> Result<Vec<erasure::Retained>, StoreError> {
    #[derive(Deserialize)]
    struct Hold {
        basis: String,
        until: String,
    }
    let invoices = crate::store::query_all(
        platform.store.as_ref(),
        Query::partition(keys::organisation_invoices(organisation_id)).limit(1_000),
    )
    .await?;
    let mut retained: Vec<erasure::Retained> = invoices
        .iter()
        .filter_map(|item| {
            let hold: Hold = serde_json::from_value(item.attrs.get("legal_hold")?.clone()).ok()?;
            Some(erasure::Retained { kind: item.entity_type.clone(), legal_basis: hold.basis, purge_after: hold.until })
        })
        .collect();
    retained.sort_by(|a, b| a.purge_after.cmp(&b.purge_after));
    Ok(retained)
}

/// Cancels the whole organisation (an admin, with their password): the erasure job erases every
/// member as by their own cancellation, then its invitations and the organisation itself;
/// what the law requires to keep is kept, and listed in the answer (read before the job
/// starts, since the job finds it only as it goes).
#[tracing::instrument(skip_all, fields(organisation_id = %organisation_id))]
pub async fn cancel_organisation(
    platform: &Platform,
    (admin_id, organisation_id): (&str, &str),
    password: &str,
) -> Result<(erasure::job::Started, Vec<erasure::Retained>), MembershipError> {
    let admin = acting_admin(platform, admin_id, organisation_id).await?;
    confirm_password(platform, &admin, password).await?;
    let retained = retained_on_cancellation(platform, organisation_id).await?;
    Ok((super::erase_organisation(platform, organisation_id).await?, retained))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lowercase_sha256_hex_names_an_invitation() {
        let hash = crate::hash::sha256_hex(b"token");
        assert!(is_token_hash(&hash));
        assert!(!is_token_hash(&hash.to_uppercase()));
        assert!(!is_token_hash(&hash[1..]));
        assert!(!is_token_hash("../../ORG#x"));
    }
}
