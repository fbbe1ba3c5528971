//! Getting back in: a password reset link, and a new verification link, both requested by
//! address. Either answer is the same whether or not the address has an account (no
//! enumeration; neither path hashes a password, so they take the same order of time), and
//! both are throttled per address and per client address.
//!
//! A reset link is a single-use token stored as its SHA-256 under the user's subject index
//! (erased with them), valid an hour. Setting the new password ends every session and
//! revokes the user's pending address changes and other reset links.

use std::net::IpAddr;

use super::{AccountError, EmailClaim, TokenKind, TokenRecord, UserRecord, VERIFICATION_TTL_SECONDS, emails};
use crate::Platform;
use crate::domain::EmailAddress;
use crate::store::Condition;
use crate::throttle::Limit;

pub use super::limits::{RESEND_PER_ACCOUNT, RESEND_PER_CLIENT, RESET_PER_ACCOUNT, RESET_PER_CLIENT};
use crate::{mail, tokens};

/// How long a reset link works.
pub const RESET_TTL_SECONDS: i64 = 3600;

/// Counts this request against both limits (atomically, before any work): every request
/// counts, so the throttle says nothing about whether the address has an account.
async fn throttle(
    platform: &Platform,
    (per_account, per_client): (Limit, Limit),
    email: &EmailAddress,
    client: Option<IpAddr>,
) -> Result<(), AccountError> {
    let client = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    per_client.count(platform, &client).await?;
    per_account.count(platform, email.canonical()).await?;
    Ok(())
}

/// The account that owns an address, if any.
async fn owner(platform: &Platform, email: &EmailAddress) -> Result<Option<UserRecord>, AccountError> {
    match platform.store.get(&EmailClaim::key(email.canonical())).await? {
        Some(claim) => {
            let claim: EmailClaim = claim.data()?;
            Ok(super::find_user(platform, &claim.user_id).await?)
        }
        None => Ok(None),
    }
}

/// Stores a new single-use token for `user` and returns it (only its hash is kept).
async fn issue(platform: &Platform, user: &UserRecord, kind: TokenKind, ttl: i64) -> Result<String, AccountError> {
    let token = tokens::generate();
    let token_hash = crate::hash::sha256_hex(token.as_bytes());
    let record = TokenRecord {
        kind,
        organisation_id: user.organisation_id.clone(),
        user_id: Some(user.user_id.clone()),
        email: None,
        role: None,
    };
    let expires_at = platform.clock.epoch_seconds() + ttl;
    platform.store.put(record.item(&token_hash, expires_at)?, Some(Condition::NotExists)).await?;
    Ok(token)
}

/// Mails a reset link if the address belongs to a verified account; otherwise does nothing.
/// Succeeds alike either way.
#[tracing::instrument(skip_all)]
pub async fn request_password_reset(
    platform: &Platform,
    email: &str,
    client: Option<IpAddr>,
) -> Result<(), AccountError> {
    let email = EmailAddress::parse(email)?;
    throttle(platform, (RESET_PER_ACCOUNT, RESET_PER_CLIENT), &email, client).await?;
    // An unverified account gets no reset: its owner has not shown the address is theirs
    // (a new verification link is the way in).
    let Some(user) = owner(platform, &email).await?.filter(|u| u.email_verified) else { return Ok(()) };
    let token = issue(platform, &user, TokenKind::PasswordReset, RESET_TTL_SECONDS).await?;
    mail::enqueue(platform, vec![emails::reset_password(&platform.settings, &user.email, &token, user.lang)]).await?;
    Ok(())
}

/// Mails a new verification link if the address belongs to an account not verified yet;
/// otherwise does nothing. Succeeds alike either way.
#[tracing::instrument(skip_all)]
pub async fn resend_verification(platform: &Platform, email: &str, client: Option<IpAddr>) -> Result<(), AccountError> {
    let email = EmailAddress::parse(email)?;
    throttle(platform, (RESEND_PER_ACCOUNT, RESEND_PER_CLIENT), &email, client).await?;
    let Some(user) = owner(platform, &email).await?.filter(|u| !u.email_verified) else { return Ok(()) };
    let token = issue(platform, &user, TokenKind::VerifyEmail, VERIFICATION_TTL_SECONDS).await?;
    mail::enqueue(platform, vec![emails::verify_address(&platform.settings, &user.email, &token, user.lang)]).await?;
    Ok(())
}

#[cfg(feature = "passwords")]
pub use set::reset_password;

#[cfg(feature = "passwords")]
mod set {
    use super::super::{AccountRef, load_token, passwords};
    use super::*;
    use crate::domain::NewPassword;
    use crate::session;
    use crate::store::{StoreError, TransactOp, Update};
    use crate::throttle::LOGIN_PER_ACCOUNT;

    /// Sets a new password with a reset link: the link is used up, every session ends, and
    /// pending address changes and other reset links of the account die with it (whoever
    /// started them may have held the old password).
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(platform: &Platform, token: &str, password: &str) -> Result<AccountRef, AccountError> {
        let (token_hash, record) = load_token(platform, token, &[TokenKind::PasswordReset]).await?;
        let user_id = record.user_id.ok_or(AccountError::InvalidToken)?;
        let user = super::super::find_user(platform, &user_id).await?.ok_or(AccountError::InvalidToken)?;
        let email = EmailAddress::parse(&user.email)?;
        let password = NewPassword::parse(password, Some(&email))?;
        super::super::count_hash_against(platform, &token_hash).await?;
        let password_hash = passwords::hash(password.expose()).await?;
        let ops = vec![
            TransactOp::Delete { key: TokenRecord::key(&token_hash), condition: Some(Condition::Exists) },
            TransactOp::Update {
                key: UserRecord::key(&user_id),
                entity_type: "user".into(),
                update: Update::new().set("password_hash", password_hash),
                condition: Some(Condition::Exists),
            },
        ];
        match platform.store.transact(ops).await {
            Ok(()) => {}
            // Used by a concurrent request, or the account is gone.
            Err(StoreError::ConditionFailed { .. }) => return Err(AccountError::InvalidToken),
            Err(err) => return Err(err.into()),
        }
        session::revoke_all(platform.store.as_ref(), &user_id, None).await?;
        super::super::revocation::revoke_tokens(
            platform,
            &user_id,
            &[TokenKind::ChangeEmail, TokenKind::PasswordReset],
        )
        .await?;
        // The mailbox's owner is back in: earlier wrong guesses no longer lock them out.
        LOGIN_PER_ACCOUNT.clear(platform, &user.email_canonical).await?;
        mail::enqueue(platform, vec![emails::password_changed(&user.email, user.lang)]).await?;
        Ok(AccountRef { user_id, organisation_id: user.organisation_id })
    }
}
