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

/// The per-address counters kept about a subject (erasure deletes their partitions).
pub const PER_ACCOUNT_LIMITS: [Limit; 2] = [RESET_PER_ACCOUNT, RESEND_PER_ACCOUNT];
