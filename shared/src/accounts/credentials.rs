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
use crate::throttle::{LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS, MAIL_PER_RECIPIENT, SIGNUP_PER_CLIENT};
use crate::{mail, tokens};

/// What a signup asks for, unchecked.
#[derive(Debug)]
pub struct SignupForm<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub organisation_name: &'a str,
    pub region: Option<Region>,
    /// The client's address, for the per-client limit.
    pub client: Option<std::net::IpAddr>,
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
    // Limited before the hash and the mail: per client (the work) and per address (the mail).
    if let Some(client) = form.client {
        SIGNUP_PER_CLIENT.count(platform, &client.to_string()).await?;
    }
    MAIL_PER_RECIPIENT.count(platform, email.canonical()).await?;
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
    let ops = vec![
        put(claim.item(email.canonical())?.expires_at(unverified_until)),
        put(organisation.item()?.expires_at(unverified_until)),
        put(user.item()?.expires_at(unverified_until)),
        put(verification.item(&token_hash, now + VERIFICATION_TTL_SECONDS)?),
    ];
    let mut created = platform.store.transact(ops.clone()).await;
    // The address is held. An earlier signup for it that nobody verified is replaced, never
    // kept: its link, whoever clicks it, must not activate someone else's password (its user
    // goes, so its token finds nothing).
    if let Err(StoreError::ConditionFailed { operation: Some(CLAIM_OP) }) = created
        && let Some(pending) = unverified_holder(platform, &email).await?
    {
        let mut ops = ops;
        ops[CLAIM_OP] = TransactOp::Put {
            item: claim.item(email.canonical())?.expires_at(unverified_until),
            condition: Some(Condition::equals("user_id", pending.user_id.as_str())),
        };
        ops.push(TransactOp::Delete {
            key: UserRecord::key(&pending.user_id),
            condition: Some(Condition::equals("email_verified", false)),
        });
        ops.push(TransactOp::Delete { key: OrganisationRecord::key(&pending.organisation_id), condition: None });
        created = platform.store.transact(ops).await;
    }
    let notice = match created {
        Ok(()) => emails::verify_address(&platform.settings, email.as_str(), &token, form.lang),
        // The address is taken (or the pending signup was verified meanwhile): nothing was
        // written; its owner is told, the caller is not.
        Err(StoreError::ConditionFailed { .. }) => emails::already_registered(email.as_str(), form.lang),
        Err(err) => return Err(err.into()),
    };
    mail::enqueue(platform, vec![notice]).await?;
    Ok(())
}

/// The account holding an address's claim if it was never verified (an abandoned or squatted
/// signup), alone in its organisation as every signup is.
async fn unverified_holder(platform: &Platform, email: &EmailAddress) -> Result<Option<UserRecord>, AccountError> {
    let Some(claim) = platform.store.get(&EmailClaim::key(email.canonical())).await? else { return Ok(None) };
    let claim: EmailClaim = claim.data()?;
    let holder = super::find_user(platform, &claim.user_id).await?;
    Ok(holder.filter(|user| !user.email_verified))
}

/// A user id no account has (ULIDs are never all zero): read in place of the user behind an
/// unknown address.
const NOBODY: &str = "00000000000000000000000000";

/// The user behind an address, if any, checked against a password in constant work: an
/// unknown address costs one argon2 verification and the same two reads as a known one, so
/// neither the work nor the round trips tell which addresses have accounts (L17).
async fn check_password(
    platform: &Platform,
    email: &EmailAddress,
    password: &str,
) -> Result<Option<UserRecord>, AccountError> {
    let holder = match platform.store.get(&EmailClaim::key(email.canonical())).await? {
        Some(claim) => claim.data::<EmailClaim>()?.user_id,
        None => NOBODY.to_owned(),
    };
    let user = super::find_user(platform, &holder).await?;
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
    // Counted before the password is checked, so parallel guesses count too; a right
    // password gives its attempts back.
    let by_address = LOGIN_PER_ADDRESS.acquire(platform, &address).await?;
    let Ok(email) = EmailAddress::parse(email) else {
        // Not an address at all: still a wrong login, and just as slow.
        passwords::verify(password, None).await?;
        return Err(AccountError::InvalidCredentials);
    };
    let by_account = LOGIN_PER_ACCOUNT.acquire(platform, email.canonical()).await?;

    // Unverified fails like a wrong password, before any further read (L17).
    let user = check_password(platform, &email, password).await?.filter(|u| u.email_verified);
    // An account being erased signs in no more (its fence also refuses the session itself).
    // The attempt was counted before the check (atomically), so a failure needs no record.
    let fenced = match &user {
        Some(u) => crate::erasure::fence::any(platform, &[&u.user_id, &u.organisation_id]).await?.is_some(),
        None => false,
    };
    let Some(user) = user.filter(|_| !fenced) else {
        return Err(AccountError::InvalidCredentials);
    };
    LOGIN_PER_ADDRESS.refund(platform, by_address).await?;
    // The account's window starts afresh: its attempt goes with it.
    drop(by_account);
    LOGIN_PER_ACCOUNT.clear(platform, email.canonical()).await?;

    let operator = super::operators::is_operator(platform, &user).await?;
    let session = session::create(platform, &user.user_id, &user.organisation_id, user.role, operator).await?;
    super::records::note_activity(platform.store.as_ref(), &user.user_id, platform.clock.epoch_seconds()).await?;
    Ok(SignedIn { user, session })
}

/// Re-checks the password before an irreversible act (throttled like a login).
pub async fn confirm_password(platform: &Platform, user: &UserRecord, password: &str) -> Result<(), AccountError> {
    let attempt = LOGIN_PER_ACCOUNT.acquire(platform, &user.email_canonical).await?;
    if passwords::verify(password, Some(&user.password_hash)).await? {
        LOGIN_PER_ACCOUNT.refund(platform, attempt).await?;
        Ok(())
    } else {
        Err(AccountError::InvalidCredentials)
    }
}

/// Replaces the password after checking the current one; every other session ends, and
/// pending address changes and reset links die with the old password (whoever started them
/// may have held it), as after a reset.
pub async fn change_password(
    platform: &Platform,
    user: &UserRecord,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<(), AccountError> {
    // Counted before any argon2 work, per address (erased with the person).
    super::limits::PASSWORD_CHANGES_PER_ACCOUNT.count(platform, &user.email_canonical).await?;
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
    super::revocation::revoke_tokens(platform, &user.user_id, &[TokenKind::ChangeEmail, TokenKind::PasswordReset])
        .await?;
    mail::enqueue(platform, vec![emails::password_changed(&user.email, user.lang)]).await?;
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
    super::count_hash_against(platform, &token_hash).await?;
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
        // An organisation being erased takes no new member: its job may have listed the
        // members already, and would never erase one who joined after.
        crate::erasure::fence::guard(&invitation.organisation_id),
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
