//! What the account use cases can fail with; `shared::error` maps each to its HTTP answer.

use crate::domain::Invalid;
use crate::erasure::ErasureError;
use crate::queue::QueueError;
use crate::store::StoreError;
use crate::throttle::ThrottleError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input that fails its domain rule (address, password, name).
    #[error("{}", .0.detail)]
    Invalid(#[from] Invalid),
    /// Unknown, used or expired link.
    #[error("The link is invalid, already used or expired.")]
    InvalidToken,
    /// Unknown address, wrong password or unverified account: deliberately one answer.
    #[error("The e-mail address or password is wrong, or the address is not verified yet.")]
    InvalidCredentials,
    #[error("{0}")]
    EmailTaken(&'static str),
    #[error("That is already the account's address.")]
    SameAddress,
    /// The only admin of an organisation with other members cannot leave it.
    #[error("You are the organisation's only admin: invite another admin first, or cancel the organisation.")]
    LastAdmin,
    /// Another cancellation, removal or role change in the organisation landed between this
    /// one's reading of the members and its write: decided on stale members, it is refused
    /// (retrying decides on the new ones).
    #[error(
        "The organisation's members changed meanwhile (another cancellation or role change came first); try again."
    )]
    MembershipChanged,
    /// The account was erased while a session lived on.
    #[error("Sign in: the account no longer exists.")]
    AccountGone,
    #[error("The organisation no longer exists.")]
    OrganisationGone,
    #[error("too many attempts; retry after {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Erasure(#[from] ErasureError),
    /// Hashing failed or its task died: ours, not the caller's.
    #[error("password hashing: {0}")]
    Hashing(String),
}

impl From<ThrottleError> for AccountError {
    fn from(err: ThrottleError) -> Self {
        match err {
            ThrottleError::Limited { retry_after_seconds } => AccountError::RateLimited(retry_after_seconds),
            ThrottleError::Store(err) => AccountError::Store(err),
        }
    }
}
