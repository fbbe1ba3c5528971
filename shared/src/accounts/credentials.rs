//! The use cases that hash or check a password: signup, login, accepting an invitation,
//! re-checking the password before an irreversible act, changing it.

use super::passwords;
use super::{AccountError, AccountRef, EmailClaim, OrganisationRecord, TokenKind, TokenRecord, UserRecord};
use super::{UNVERIFIED_TTL_SECONDS, VERIFICATION_TTL_SECONDS, emails, load_token};
use crate::Platform;
use crate::domain::{EmailAddress, NewPassword, OrganisationName, Region, Role};
use crate::lang::Lang;
use crate::session::{self, NewSession};
use crate::store::{Condition, StoreError, TransactOp, Update};
use crate::throttle::{LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS};
use crate::{mail, tokens};

/// What a signup asks for, unchecked.
#[derive(Debug)]
pub struct SignupForm<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub organisation_name: &'a str,
    pub region: Option<Region>,
    /// The language of the e-mails (from the page, or `Accept-Language`).
    pub lang: Lang,
}

/// Creates an organisation and its first user (admin, unverified) and e-mails a verification
/// link. Succeeds the same when the address is already registered; that address gets a
/// notice instead, so the caller learns nothing.
#[tracing::instrument(skip_all)]
pub async fn signup(platform: &Platform, form: SignupForm<'_>) -> Result<(), AccountError> {
    let email = EmailAddress::parse(form.email)?;
    let password = NewPassword::parse(form.password, Some(&email))?;
    let name = OrganisationName::parse(form.organisation_name)?;
    let password_hash = passwords::hash(password.expose()).await?;

    let now = platform.clock.epoch_seconds();
    let unverified_until = now + UNVERIFIED_TTL_SECONDS;
    let user_id = ulid::Ulid::new().to_string();
    let organisation_id = ulid::Ulid::new().to_string();
    let token = tokens::generate();
    let token_hash = crate::hash::sha256_hex(token.as_bytes());
    let user = UserRecord {
        user_id: user_id.clone(),
        organisation_id: organisation_id.clone(),
        email: email.as_str().to_owned(),
        email_canonical: email.canonical().to_owned(),
        role: Role::Admin,
        email_verified: false,
        password_hash,
        created_at: now,
        last_active_at: None,
        reminded_at: None,
        lang: form.lang,
    };
    let organisation = OrganisationRecord {
        organisation_id: organisation_id.clone(),
        name: name.as_str().to_owned(),
        region: form.region.unwrap_or_default(),
        created_at: now,
    };
    let verification = TokenRecord {
        kind: TokenKind::VerifyEmail,
        organisation_id: organisation_id.clone(),
        user_id: Some(user_id.clone()),
        email: None,
        role: None,
    };
    let claim = EmailClaim { user_id: user_id.clone() };
    let put = |item| TransactOp::Put { item, condition: Some(Condition::NotExists) };
    /// The operation that claims the address: its failure means the address is taken.
    const CLAIM_OP: usize = 0;
    let created = platform
        .store
        .transact(vec![
            put(claim.item(email.canonical())?.expires_at(unverified_until)),
            put(organisation.item()?.expires_at(unverified_until)),
            put(user.item()?.expires_at(unverified_until)),
            put(verification.item(&token_hash, now + VERIFICATION_TTL_SECONDS)?),
        ])
        .await;
    let notice = match created {
        Ok(()) => emails::verify_address(&platform.settings, email.as_str(), &token, form.lang),
        // The address is taken: nothing was written; its owner is told, the caller is not.
        Err(StoreError::ConditionFailed { operation: Some(CLAIM_OP) }) => {
            emails::already_registered(email.as_str(), form.lang)
        }
        Err(err) => return Err(err.into()),
    };
    mail::enqueue(platform.queue.as_ref(), vec![notice]).await?;
    Ok(())
}

/// The user behind an address, if any, checked against a password in constant work: an
/// unknown address costs one argon2 verification, like a known one.
async fn check_password(
    platform: &Platform,
    email: &EmailAddress,
    password: &str,
) -> Result<Option<UserRecord>, AccountError> {
    let user = match platform.store.get(&EmailClaim::key(email.canonical())).await? {
        Some(claim) => {
            let claim: EmailClaim = claim.data()?;
            super::find_user(platform, &claim.user_id).await?
        }
        None => None,
    };
    let matches = passwords::verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
    Ok(user.filter(|_| matches))
}

/// A signed-in user and their new session.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserRecord,
    pub session: NewSession,
}

/// Signs in. Unknown address, wrong password and unverified account fail alike
/// ([`AccountError::InvalidCredentials`]); failures are throttled per account and per client.
#[tracing::instrument(skip_all)]
pub async fn login(
    platform: &Platform,
    email: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<SignedIn, AccountError> {
    let address = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    LOGIN_PER_ADDRESS.check(platform, &address).await?;
    let Ok(email) = EmailAddress::parse(email) else {
        // Not an address at all: still a wrong login, and just as slow.
        passwords::verify(password, None).await?;
        LOGIN_PER_ADDRESS.record_failure(platform, &address).await?;
        return Err(AccountError::InvalidCredentials);
    };
    LOGIN_PER_ACCOUNT.check(platform, email.canonical()).await?;

    let user = check_password(platform, &email, password).await?;
    let Some(user) = user.filter(|u| u.email_verified) else {
        LOGIN_PER_ACCOUNT.record_failure(platform, email.canonical()).await?;
        LOGIN_PER_ADDRESS.record_failure(platform, &address).await?;
        return Err(AccountError::InvalidCredentials);
    };
    LOGIN_PER_ACCOUNT.clear(platform, email.canonical()).await?;

    let operator = platform.settings.operators.iter().any(|o| o == &user.email_canonical);
    let session = session::create(platform, &user.user_id, &user.organisation_id, user.role, operator).await?;
    super::records::note_activity(platform.store.as_ref(), &user.user_id, platform.clock.epoch_seconds()).await?;
    Ok(SignedIn { user, session })
}

/// Re-checks the password before an irreversible act (throttled like a login).
pub async fn confirm_password(platform: &Platform, user: &UserRecord, password: &str) -> Result<(), AccountError> {
    LOGIN_PER_ACCOUNT.check(platform, &user.email_canonical).await?;
    if passwords::verify(password, Some(&user.password_hash)).await? {
        Ok(())
    } else {
        LOGIN_PER_ACCOUNT.record_failure(platform, &user.email_canonical).await?;
        Err(AccountError::InvalidCredentials)
    }
}

/// Replaces the password after checking the current one; every other session ends.
pub async fn change_password(
    platform: &Platform,
    user: &UserRecord,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<(), AccountError> {
    confirm_password(platform, user, current).await?;
    let email = EmailAddress::parse(&user.email)?;
    let new = NewPassword::parse(new, Some(&email))?;
    let password_hash = passwords::hash(new.expose()).await?;
    platform
        .store
        .update(
            &UserRecord::key(&user.user_id),
            "user",
            Update::new().set("password_hash", password_hash),
            Some(Condition::Exists),
        )
        .await?;
    session::revoke_all(platform.store.as_ref(), &user.user_id, keep_session).await?;
    mail::enqueue(platform.queue.as_ref(), vec![emails::password_changed(&user.email, user.lang)]).await?;
    Ok(())
}

/// Accepts an invitation: the invitee joins with the invited role, their address verified by
/// the link.
#[tracing::instrument(skip_all)]
pub async fn accept_invitation(
    platform: &Platform,
    token: &str,
    password: &str,
    lang: Lang,
) -> Result<AccountRef, AccountError> {
    let (token_hash, invitation) = load_token(platform, token, &[TokenKind::Invitation]).await?;
    let email =
        EmailAddress::parse(invitation.email.as_deref().unwrap_or_default()).map_err(|_| AccountError::InvalidToken)?;
    let role = invitation.role.ok_or(AccountError::InvalidToken)?;
    let password = NewPassword::parse(password, Some(&email))?;
    let password_hash = passwords::hash(password.expose()).await?;
    let user = UserRecord {
        user_id: ulid::Ulid::new().to_string(),
        organisation_id: invitation.organisation_id.clone(),
        email: email.as_str().to_owned(),
        email_canonical: email.canonical().to_owned(),
        role,
        email_verified: true,
        password_hash,
        created_at: platform.clock.epoch_seconds(),
        last_active_at: None,
        reminded_at: None,
        lang,
    };
    let claim = EmailClaim { user_id: user.user_id.clone() };
    /// The operation that claims the address: its failure means the address is taken.
    const CLAIM_OP: usize = 1;
    let ops = vec![
        TransactOp::Delete { key: TokenRecord::key(&token_hash), condition: Some(Condition::Exists) },
        TransactOp::Put { item: claim.item(email.canonical())?, condition: Some(Condition::NotExists) },
        TransactOp::Put { item: user.item()?, condition: Some(Condition::NotExists) },
        TransactOp::Check { key: OrganisationRecord::key(&invitation.organisation_id), condition: Condition::Exists },
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(AccountRef { user_id: user.user_id, organisation_id: user.organisation_id }),
        Err(StoreError::ConditionFailed { operation: Some(CLAIM_OP) }) => {
            Err(AccountError::EmailTaken("This address already has an Infentre account."))
        }
        Err(StoreError::ConditionFailed { .. }) => Err(AccountError::InvalidToken),
        Err(err) => Err(err.into()),
    }
}
