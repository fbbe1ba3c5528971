//! Accounts and organisations: the records, their loaders, and the use cases that several
//! functions share (signup, verification, login, invitations, address change, password reset,
//! cancellation).
//!
//! Every function reads accounts through this module; none reads the user item by attribute
//! name. Use cases return [`AccountError`]; the HTTP edge turns it into a problem document.
//! Password hashing (argon2) sits behind the `passwords` feature, so workers that only load
//! or erase accounts do not link it.

pub mod emails;
mod error;
pub mod limits;
pub mod operators;
#[cfg(feature = "passwords")]
pub mod passwords;
pub mod placeholders;
pub mod records;
pub mod reset;
#[cfg(feature = "passwords")]
mod revocation;
mod roster;

pub use error::AccountError;
pub use records::{
    EmailClaim, INVITATION_TTL_SECONDS, OrganisationRecord, TokenKind, TokenRecord, UNVERIFIED_TTL_SECONDS, UserRecord,
    VERIFICATION_TTL_SECONDS,
};

use crate::Platform;
use crate::domain::{EmailAddress, Role};
use crate::erasure::job::{Origin, Started, Target};
use crate::erasure::{self, ErasureError, Subject, fence};
use crate::lang::Lang;
use crate::store::{Condition, StoreError, TransactOp, Update};
use crate::{mail, throttle, tokens};

/// The account, if it still exists.
pub async fn find_user(platform: &Platform, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
    match platform.store.get(&UserRecord::key(user_id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// Whether the account is an operator now: verified, and the allow-list record of its address
/// ([`operators`]) counts and is bound to this account. Checked on every operator request, so
/// a removal from the list or a change of address counts at once, whatever a session said at
/// login.
pub async fn is_operator(platform: &Platform, user_id: &str) -> Result<bool, StoreError> {
    match find_user(platform, user_id).await? {
        Some(user) => operators::is_operator(platform, &user).await,
        None => Ok(false),
    }
}

/// The caller's account; [`AccountError::AccountGone`] if it was erased while a session lived on.
pub async fn load_user(platform: &Platform, user_id: &str) -> Result<UserRecord, AccountError> {
    find_user(platform, user_id).await?.ok_or(AccountError::AccountGone)
}

pub async fn load_organisation(platform: &Platform, organisation_id: &str) -> Result<OrganisationRecord, AccountError> {
    match platform.store.get(&OrganisationRecord::key(organisation_id)).await? {
        Some(item) => Ok(item.data()?),
        None => Err(AccountError::OrganisationGone),
    }
}

/// Every member of an organisation, in order of joining.
pub async fn members(platform: &Platform, organisation_id: &str) -> Result<Vec<UserRecord>, StoreError> {
    records::members(platform.store.as_ref(), organisation_id).await
}

/// One page of an organisation's members, in order of joining.
pub async fn members_page(
    platform: &Platform,
    organisation_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<UserRecord>, Option<String>), StoreError> {
    let query =
        crate::store::Query::index(crate::store::Index::Gsi1, crate::keys::organisation_members(organisation_id))
            .limit(limit)
            .cursor(cursor);
    let page = platform.store.query(query).await?;
    let members = page.items.iter().map(|item| item.data::<UserRecord>()).collect::<Result<_, _>>()?;
    Ok((members, page.cursor))
}

/// Marks an inactive user as reminded now, unless a reminder went out since `cutoff`; false
/// when another run did it first or the account is gone (the mark comes before the mail, so
/// a crash can lose a reminder, never repeat one).
pub async fn mark_reminded(platform: &Platform, user_id: &str, now: i64, cutoff: i64) -> Result<bool, StoreError> {
    let not_reminded = Condition::And(vec![
        Condition::Exists,
        Condition::Or(vec![
            Condition::AttributeNotExists("reminded_at".into()),
            Condition::less_than("reminded_at", cutoff + 1),
        ]),
    ]);
    let update = Update::new().set("reminded_at", now);
    match platform.store.update(&UserRecord::key(user_id), "user", update, Some(not_reminded)).await {
        Ok(_) => Ok(true),
        Err(err) if err.is_condition_failed() => Ok(false),
        Err(err) => Err(err),
    }
}

/// Keeps the language the person chose, for the e-mails we send them; nothing to do when the
/// account is gone.
pub async fn set_language(platform: &Platform, user_id: &str, lang: Lang) -> Result<(), StoreError> {
    let update = Update::new().set("lang", lang.code());
    match platform.store.update(&UserRecord::key(user_id), "user", update, Some(Condition::Exists)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failed() => Ok(()),
        Err(err) => Err(err),
    }
}

/// A live single-use token of one of the given kinds, and its hash.
pub async fn load_token(
    platform: &Platform,
    token: &str,
    kinds: &[TokenKind],
) -> Result<(String, TokenRecord), AccountError> {
    let token_hash = tokens::hash(token).ok_or(AccountError::InvalidToken)?;
    let item = platform.store.get(&TokenRecord::key(&token_hash)).await?.ok_or(AccountError::InvalidToken)?;
    let record: TokenRecord = item.data()?;
    if !kinds.contains(&record.kind) {
        return Err(AccountError::InvalidToken);
    }
    Ok((token_hash, record))
}

/// Passwords one link may have hashed (accepting an invitation, resetting a password): the
/// link is used up only by the write that follows the hash, so without a count parallel
/// calls with one link would each cost an argon2 run until the first one used it.
pub const HASHES_PER_TOKEN: i64 = 5;

/// Counts one password hash against the link, *before* the hash, in one conditional update
/// of the token item: of any number of concurrent attempts at most [`HASHES_PER_TOKEN`] pass,
/// and past them the link counts as used ([`AccountError::InvalidToken`]). The count goes with
/// the token item (used, revoked or expired).
#[cfg(feature = "passwords")]
async fn count_hash_against(platform: &Platform, token_hash: &str) -> Result<(), AccountError> {
    const ATTEMPTS: &str = "hash_attempts";
    let key = TokenRecord::key(token_hash);
    let room = Condition::And(vec![
        Condition::Exists,
        Condition::Or(vec![
            Condition::AttributeNotExists(ATTEMPTS.into()),
            Condition::less_than(ATTEMPTS, HASHES_PER_TOKEN),
        ]),
    ]);
    // The entity type is only used when the item is absent, which the condition refuses.
    match platform.store.update(&key, "token", Update::new().add(ATTEMPTS, 1), Some(room)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failed() => Err(AccountError::InvalidToken),
        Err(err) => Err(err.into()),
    }
}

/// Who verified, joined or signed in.
#[derive(Debug, Clone)]
pub struct AccountRef {
    pub user_id: String,
    pub organisation_id: String,
}

/// Confirms an address: a new account's (which then stops expiring) or a changed one.
#[tracing::instrument(skip_all)]
pub async fn verify_email(platform: &Platform, token: &str) -> Result<AccountRef, AccountError> {
    let (token_hash, token) = load_token(platform, token, &[TokenKind::VerifyEmail, TokenKind::ChangeEmail]).await?;
    let user_id = token.user_id.clone().ok_or(AccountError::InvalidToken)?;
    let user_key = UserRecord::key(&user_id);
    let user: UserRecord = platform.store.get(&user_key).await?.ok_or(AccountError::InvalidToken)?.data()?;
    let consume = TransactOp::Delete { key: TokenRecord::key(&token_hash), condition: Some(Condition::Exists) };
    let update = |key, entity_type: &str, update| TransactOp::Update {
        key,
        entity_type: entity_type.to_owned(),
        update,
        condition: Some(Condition::Exists),
    };
    /// In an address change, the operation that claims the new address.
    const NEW_CLAIM_OP: usize = 1;
    let ops = match token.kind {
        TokenKind::VerifyEmail => vec![
            consume,
            update(user_key, "user", Update::new().set("email_verified", true).expires_at(None)),
            update(OrganisationRecord::key(&user.organisation_id), "organisation", Update::new().expires_at(None)),
            update(EmailClaim::key(&user.email_canonical), "email_claim", Update::new().expires_at(None)),
        ],
        TokenKind::ChangeEmail => {
            let new = EmailAddress::parse(token.email.as_deref().unwrap_or_default())
                .map_err(|_| AccountError::InvalidToken)?;
            let claim = EmailClaim { user_id: user_id.clone() };
            vec![
                consume,
                TransactOp::Put { item: claim.item(new.canonical())?, condition: Some(Condition::NotExists) },
                TransactOp::Delete { key: EmailClaim::key(&user.email_canonical), condition: None },
                TransactOp::Update {
                    key: user_key,
                    entity_type: "user".into(),
                    update: Update::new().set("email", new.as_str()).set("email_canonical", new.canonical()),
                    condition: Some(Condition::equals("email_canonical", user.email_canonical.clone())),
                },
            ]
        }
        TokenKind::Invitation | TokenKind::PasswordReset => return Err(AccountError::InvalidToken),
    };
    match platform.store.transact(ops).await {
        Ok(()) => Ok(AccountRef { user_id, organisation_id: user.organisation_id }),
        Err(StoreError::ConditionFailed { operation: Some(NEW_CLAIM_OP) }) if token.kind == TokenKind::ChangeEmail => {
            Err(AccountError::EmailTaken("The new address already belongs to an account."))
        }
        // Used by a concurrent request, or the account is gone.
        Err(StoreError::ConditionFailed { .. }) => Err(AccountError::InvalidToken),
        Err(err) => Err(err.into()),
    }
}

/// Starts replacing the account's address: the new one must be confirmed by the link mailed
/// to it; the old one is told. Shared by self-service and by correction requests.
pub async fn start_email_change(
    platform: &Platform,
    user: &UserRecord,
    new: &EmailAddress,
) -> Result<(), AccountError> {
    if new.canonical() == user.email_canonical {
        return Err(AccountError::SameAddress);
    }
    throttle::MAIL_PER_RECIPIENT.count(platform, new.canonical()).await?;
    let token = tokens::generate();
    let token_hash = crate::hash::sha256_hex(token.as_bytes());
    let record = TokenRecord {
        kind: TokenKind::ChangeEmail,
        organisation_id: user.organisation_id.clone(),
        user_id: Some(user.user_id.clone()),
        email: Some(new.as_str().to_owned()),
        role: None,
    };
    let expires_at = platform.clock.epoch_seconds() + VERIFICATION_TTL_SECONDS;
    platform.store.put(record.item(&token_hash, expires_at)?, Some(Condition::NotExists)).await?;
    let notices = vec![
        emails::confirm_new_address(&platform.settings, new.as_str(), &token, user.lang),
        emails::address_change_requested(&user.email, user.lang),
    ];
    // Filed under the person, not under the recipients: the new address is not theirs yet, so
    // an erasure that looked for waiting mail by their address alone would miss the link.
    mail::enqueue_about(platform, &user.user_id, notices).await?;
    Ok(())
}

/// Cancels an account: checks who may leave, then starts the erasure job
/// ([`erasure::job::begin`]): from this instant the account is fenced (no session, login or
/// write about it is accepted) and the job erases everything but what the law requires us to
/// keep. The whole organisation goes with its last member; the only admin of an organisation
/// that has other members is refused ([`AccountError::LastAdmin`]). If the account is being
/// erased already, the answer is that erasure's job. The result describes the job.
pub async fn erase_account(platform: &Platform, user: &UserRecord) -> Result<Started, AccountError> {
    start_account_erasure(platform, user, Origin::default(), Vec::new()).await
}

/// [`erase_account`] with writes that must land with the erasure's start or not at all (an
/// admin's removal of the member: the member still in their role, the history entry).
#[cfg(feature = "passwords")]
pub(crate) async fn erase_account_with(
    platform: &Platform,
    user: &UserRecord,
    with: Vec<TransactOp>,
) -> Result<Started, AccountError> {
    start_account_erasure(platform, user, Origin::default(), with).await
}

/// [`erase_account`] for a rights request: the job completes the request and tells the
/// requester when it is done.
pub async fn erase_account_requested(
    platform: &Platform,
    user: &UserRecord,
    request_id: &str,
) -> Result<Started, AccountError> {
    let origin = Origin {
        rights_request_id: Some(request_id.to_owned()),
        notify: Some(user.email.clone()),
        notify_lang: user.lang,
    };
    start_account_erasure(platform, user, origin, Vec::new()).await
}

async fn start_account_erasure(
    platform: &Platform,
    user: &UserRecord,
    origin: Origin,
    with: Vec<TransactOp>,
) -> Result<Started, AccountError> {
    if let Some(running) = erasure_under_way(platform, &user.user_id, &user.organisation_id).await? {
        return Ok(running);
    }
    // Read before the members: if another change of the membership lands after this read,
    // the job's transaction is refused (see `roster`).
    let unchanged = roster::version_guard(platform, &user.organisation_id).await?;
    let others = roster::staying_besides(platform, &user.organisation_id, &user.user_id).await?;
    refuse_last_admin_among(user, &others)?;
    let target = if others.is_empty() {
        Target::Organisation { organisation_id: user.organisation_id.clone() }
    } else {
        Target::Subject {
            subject: Subject { user_id: user.user_id.clone(), canonical_email: user.email_canonical.clone() },
        }
    };
    // The job's first step also takes their id out of the others' histories.
    let ops = std::iter::once(unchanged).chain(with).collect();
    match erasure::job::begin_unless_changed(platform, target, origin, ops).await {
        Err(ErasureError::Changed) => Err(AccountError::MembershipChanged),
        started => Ok(started?),
    }
}

/// The erasure already fencing a user or their organisation, if any.
pub async fn erasure_under_way(
    platform: &Platform,
    user_id: &str,
    organisation_id: &str,
) -> Result<Option<Started>, AccountError> {
    let Some(fence) = fence::any(platform, &[user_id, organisation_id]).await? else {
        return Ok(None);
    };
    let job = erasure::job::load(platform, &fence.job_id).await?;
    Ok(job.map(|job| Started { job, new: false }))
}

/// Cancels a whole organisation: one job that fences it at once (every member's session and
/// login refused), queues one erasure job per member, then erases its own items.
pub async fn erase_organisation(platform: &Platform, organisation_id: &str) -> Result<Started, AccountError> {
    let target = Target::Organisation { organisation_id: organisation_id.to_owned() };
    Ok(erasure::job::begin(platform, target, Origin::default()).await?)
}

/// The erasure of the only admin would leave the other members without anyone to act for
/// the organisation (an admin whose erasure has begun does not count).
pub async fn refuse_last_admin(platform: &Platform, user: &UserRecord) -> Result<(), AccountError> {
    refuse_last_admin_among(user, &roster::staying_besides(platform, &user.organisation_id, &user.user_id).await?)
}

fn refuse_last_admin_among(user: &UserRecord, others: &[UserRecord]) -> Result<(), AccountError> {
    if user.role == Role::Admin && !others.is_empty() && !others.iter().any(|m| m.role == Role::Admin) {
        return Err(AccountError::LastAdmin);
    }
    Ok(())
}

/// Invites someone to an organisation: a single-use link, valid 7 days, mailed to them.
/// Returns the normalised address and when the link expires. The e-mail is in `lang` (the
/// inviter's: the invitee has no account yet).
#[tracing::instrument(skip_all)]
pub async fn invite_in(
    platform: &Platform,
    organisation_id: &str,
    email: &str,
    role: Role,
    lang: Lang,
) -> Result<(EmailAddress, i64), AccountError> {
    let email = EmailAddress::parse(email)?;
    let organisation = load_organisation(platform, organisation_id).await?;
    throttle::MAIL_PER_RECIPIENT.count(platform, email.canonical()).await?;
    throttle::INVITATIONS_PER_ORGANISATION.count(platform, organisation_id).await?;
    let token = tokens::generate();
    let token_hash = crate::hash::sha256_hex(token.as_bytes());
    let expires_at = platform.clock.epoch_seconds() + INVITATION_TTL_SECONDS;
    let record = TokenRecord {
        kind: TokenKind::Invitation,
        organisation_id: organisation_id.to_owned(),
        user_id: None,
        email: Some(email.as_str().to_owned()),
        role: Some(role),
    };
    // Not once the organisation's erasure has begun: its job may be past the invitations.
    let item = record.item(&token_hash, expires_at)?;
    match fence::put_unless_fenced(platform.store.as_ref(), item, Some(Condition::NotExists), &[organisation_id]).await
    {
        Ok(()) => {}
        Err(fence::FencedWrite::Fenced) => return Err(AccountError::OrganisationGone),
        Err(err) => return Err(StoreError::from(err).into()),
    }
    let message = emails::invitation(&platform.settings, email.as_str(), &organisation.name, &token, lang);
    mail::enqueue(platform, vec![message]).await?;
    Ok((email, expires_at))
}

/// [`invite_in`] English.
pub async fn invite(
    platform: &Platform,
    organisation_id: &str,
    email: &str,
    role: Role,
) -> Result<(EmailAddress, i64), AccountError> {
    invite_in(platform, organisation_id, email, role, Lang::default()).await
}

#[cfg(feature = "passwords")]
mod credentials;
#[cfg(feature = "passwords")]
pub use credentials::*;
#[cfg(feature = "passwords")]
pub mod membership;
