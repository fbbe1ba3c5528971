//! Fixed-window counters in the store, with a time to live: login throttling per account and
//! per client address, and rate limits on what sends mail or hashes a password. Counters are
//! keyed by a hash of what they count, and counted before the work they limit.

use crate::Platform;
use crate::keys;
use crate::store::{Condition, Key, StoreError, Update};

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// The window's failures reached the limit: try again after this long.
    #[error("rate limited for {retry_after_seconds} s")]
    Limited { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One counted attempt: the counter it went into.
#[derive(Debug)]
pub struct Attempt {
    key: Key,
}

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub scope: &'static str,
    pub max_failures: i64,
    pub window_seconds: i64,
}

/// Five wrong passwords per account per 15 minutes.
pub const LOGIN_PER_ACCOUNT: Limit = Limit { scope: "login_account", max_failures: 5, window_seconds: 15 * 60 };
/// Fifty failures per client address per 15 minutes (many users may share an address).
pub const LOGIN_PER_ADDRESS: Limit = Limit { scope: "login_address", max_failures: 50, window_seconds: 15 * 60 };

/// Unsolicited mails to one address (signup links and notices, address-change links,
/// invitations) per hour: nobody can use us to flood a mailbox.
pub const MAIL_PER_RECIPIENT: Limit = Limit { scope: "mail_recipient", max_failures: 5, window_seconds: 3600 };
/// Signups per client address per hour: each costs an argon2 hash and a mail.
pub const SIGNUP_PER_CLIENT: Limit = Limit { scope: "signup_client", max_failures: 20, window_seconds: 3600 };
/// Invitations per organisation per day.
pub const INVITATIONS_PER_ORGANISATION: Limit =
    Limit { scope: "invitations_organisation", max_failures: 50, window_seconds: 24 * 3600 };
/// Complaints per person per day: each one e-mails the DPO.
pub const COMPLAINTS_PER_USER: Limit = Limit { scope: "complaints_user", max_failures: 10, window_seconds: 24 * 3600 };
/// Complaints without a session (`complaints::file_public`), per client and per contact address
/// a day: each one e-mails the DPO. Here, not in `complaints`, because erasure deletes the
/// per-address counters and `complaints` depends on erasure.
pub const PUBLIC_COMPLAINTS_PER_CLIENT: Limit =
    Limit { scope: "complaints_client", max_failures: 10, window_seconds: 24 * 3600 };
pub const PUBLIC_COMPLAINTS_PER_ADDRESS: Limit =
    Limit { scope: "complaints_address", max_failures: 3, window_seconds: 24 * 3600 };

impl Limit {
    fn key(&self, subject: &str, now: i64) -> (Key, i64) {
        let window = now.div_euclid(self.window_seconds);
        let key = keys::throttle(self.scope, &crate::hash::sha256_hex(subject.as_bytes()), window);
        (key, (window + 1) * self.window_seconds)
    }

    /// The partition of a subject's counters (erasure deletes it).
    pub fn partition(&self, subject: &str) -> String {
        keys::throttle_partition(self.scope, &crate::hash::sha256_hex(subject.as_bytes()))
    }

    /// Counts one attempt *before* the work it limits, in one conditional write: the count
    /// goes up only while it is below the limit, so of any number of concurrent attempts at
    /// most the limit pass (a read, then the work, then a write would let them all through).
    /// [`ThrottleError::Limited`] (429 with `Retry-After`) once the window is used up. An
    /// attempt that should not count (a right password) is given back with [`Limit::refund`].
    pub async fn acquire(&self, platform: &Platform, subject: &str) -> Result<Attempt, ThrottleError> {
        let now = platform.clock.epoch_seconds();
        let (key, window_end) = self.key(subject, now);
        let update = Update::new().add("failures", 1).expires_at(Some(window_end));
        let below = Condition::Or(vec![Condition::NotExists, Condition::less_than("failures", self.max_failures)]);
        match platform.store.update(&key, "throttle", update, Some(below)).await {
            Ok(_) => Ok(Attempt { key }),
            Err(err) if err.is_condition_failed() => {
                Err(ThrottleError::Limited { retry_after_seconds: (window_end - now).max(1) as u64 })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// A rate limit: counts one use, never given back.
    pub async fn count(&self, platform: &Platform, subject: &str) -> Result<(), ThrottleError> {
        self.acquire(platform, subject).await.map(|_| ())
    }

    /// Gives an attempt back to its window (if the window is still there).
    pub async fn refund(&self, platform: &Platform, attempt: Attempt) -> Result<(), StoreError> {
        let update = Update::new().add("failures", -1);
        match platform.store.update(&attempt.key, "throttle", update, Some(Condition::Exists)).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_condition_failed() => Ok(()),
            Err(err) => Err(err),
        }
    }

    pub async fn clear(&self, platform: &Platform, subject: &str) -> Result<(), StoreError> {
        let now = platform.clock.epoch_seconds();
        let (key, _) = self.key(subject, now);
        platform.store.delete(&key, None).await?;
        Ok(())
    }
}

/// The daily quota of stored usage events, per user: one counter per UTC day, expiring with it.
pub const EVENTS_PER_USER_DAY: &str = "events_day";

/// The partition of a user's event-quota counters (erasure deletes it).
pub fn event_quota_partition(user_id: &str) -> String {
    keys::throttle_partition(EVENTS_PER_USER_DAY, &crate::hash::sha256_hex(user_id.as_bytes()))
}

/// Takes `n` events from the user's quota for today, atomically: all `n` or none (then
/// [`ThrottleError::Limited`] until the next UTC day).
pub async fn take_event_quota(platform: &Platform, user_id: &str, n: i64) -> Result<(), ThrottleError> {
    const DAY: i64 = 24 * 3600;
    let limit = platform.settings.events_per_user_day;
    let now = platform.clock.epoch_seconds();
    let day = now.div_euclid(DAY);
    let next_day = (day + 1) * DAY;
    if n > limit {
        return Err(ThrottleError::Limited { retry_after_seconds: (next_day - now).max(1) as u64 });
    }
    let key = keys::throttle(EVENTS_PER_USER_DAY, &crate::hash::sha256_hex(user_id.as_bytes()), day);
    let room = crate::store::Condition::Or(vec![
        crate::store::Condition::AttributeNotExists("events".into()),
        crate::store::Condition::less_than("events", limit - n + 1),
    ]);
    let update = Update::new().add("events", n).expires_at(Some(next_day));
    match platform.store.update(&key, "event_quota", update, Some(room)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failed() => {
            Err(ThrottleError::Limited { retry_after_seconds: (next_day - now).max(1) as u64 })
        }
        Err(err) => Err(err.into()),
    }
}
