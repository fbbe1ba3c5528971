//! How often links may be asked for by address (see `reset`): apart, so that the erasure
//! registry can name the counters without depending on the use cases.

use crate::throttle::Limit;

/// Reset links mailed to one address: 3 an hour (each request counts, answered or not).
pub const RESET_PER_ACCOUNT: Limit = Limit { scope: "reset_account", max_failures: 3, window_seconds: 3600 };
/// Reset requests from one client address: 20 an hour.
pub const RESET_PER_CLIENT: Limit = Limit { scope: "reset_client", max_failures: 20, window_seconds: 3600 };
/// Verification links mailed again to one address: 3 an hour.
pub const RESEND_PER_ACCOUNT: Limit = Limit { scope: "resend_account", max_failures: 3, window_seconds: 3600 };
/// Resend requests from one client address: 20 an hour.
pub const RESEND_PER_CLIENT: Limit = Limit { scope: "resend_client", max_failures: 20, window_seconds: 3600 };

/// Password changes of one account: 5 an hour. Each costs two argon2 runs (the current
/// password checked, the new one hashed) and mails a notice; a right current password gives
/// its login attempt back, so without this a session could loop them.
pub const PASSWORD_CHANGES_PER_ACCOUNT: Limit =
    Limit { scope: "password_change_account", max_failures: 5, window_seconds: 3600 };

/// The per-address counters kept about a subject (erasure deletes their partitions).
pub const PER_ACCOUNT_LIMITS: [Limit; 3] = [RESET_PER_ACCOUNT, RESEND_PER_ACCOUNT, PASSWORD_CHANGES_PER_ACCOUNT];
