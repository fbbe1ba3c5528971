//! Fixed-window failure counters in the store, with a time to live: login throttling per
//! account and per client address. Counters are keyed by a hash of what they count.

use crate::Platform;
use crate::keys;
use crate::store::{Key, StoreError, Update};

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// The window's failures reached the limit: try again after this long.
    #[error("rate limited for {retry_after_seconds} s")]
    Limited { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
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

    /// [`ThrottleError::Limited`] (429 with `Retry-After`) when the window's failures reached the limit.
    pub async fn check(&self, platform: &Platform, subject: &str) -> Result<(), ThrottleError> {
        let now = platform.clock.epoch_seconds();
        let (key, window_end) = self.key(subject, now);
        let failures = match platform.store.get(&key).await? {
            Some(item) => item.attrs.get("failures").and_then(serde_json::Value::as_i64).unwrap_or(0),
            None => 0,
        };
        if failures >= self.max_failures {
            return Err(ThrottleError::Limited { retry_after_seconds: (window_end - now).max(1) as u64 });
        }
        Ok(())
    }

    pub async fn record_failure(&self, platform: &Platform, subject: &str) -> Result<(), StoreError> {
        let now = platform.clock.epoch_seconds();
        let (key, window_end) = self.key(subject, now);
        let update = Update::new().add("failures", 1).expires_at(Some(window_end));
        platform.store.update(&key, "throttle", update, None).await?;
        Ok(())
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
