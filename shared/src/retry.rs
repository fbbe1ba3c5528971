//! One retry policy for everything that waits and tries again: exponential delays, capped,
//! with jitter, for a bounded number of attempts. Used by the DynamoDB adapter (unprocessed
//! batch items), the SQS adapter (partly accepted batches) and optimistic locking (consent).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry (before jitter).
    pub first: Duration,
    /// No delay is longer than this.
    pub max: Duration,
    /// Tries in all, the first included.
    pub attempts: u32,
}

impl Backoff {
    /// DynamoDB's unprocessed items: 50 ms doubling to 2 s, 8 tries.
    pub const STORE: Backoff = Backoff { first: Duration::from_millis(50), max: Duration::from_secs(2), attempts: 8 };
    /// SQS entries failed through no fault of ours: 200 ms, then 400 ms, 3 tries.
    pub const QUEUE: Backoff =
        Backoff { first: Duration::from_millis(200), max: Duration::from_millis(400), attempts: 3 };
    /// Optimistic locking under contention: short, many tries, spread by jitter.
    pub const CONTENTION: Backoff =
        Backoff { first: Duration::from_millis(5), max: Duration::from_millis(125), attempts: 25 };

    /// The delay before retry number `retry` (1 = the first retry): exponential, capped, then
    /// jittered between 10 % and 100 % of it, so concurrent writers do not retry in step.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponential = self.first.saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        exponential.min(self.max).mul_f64(rand::random::<f64>().max(0.1))
    }

    /// Sleeps before retry number `retry`; true while tries remain (`retry < attempts`).
    pub async fn wait(&self, retry: u32) -> bool {
        if retry >= self.attempts {
            return false;
        }
        tokio::time::sleep(self.delay(retry)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_jittered_below_it() {
        let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(300), attempts: 5 };
        for retry in 1..=5 {
            let bound = Duration::from_millis(100 * 2u64.pow(retry - 1)).min(Duration::from_millis(300));
            for _ in 0..50 {
                let delay = backoff.delay(retry);
                assert!(delay <= bound && delay >= bound.mul_f64(0.1), "{retry}: {delay:?} vs {bound:?}");
            }
        }
    }

    #[tokio::test]
    async fn waiting_stops_after_the_last_attempt() {
        let backoff = Backoff { first: Duration::from_millis(1), max: Duration::from_millis(1), attempts: 3 };
        assert!(backoff.wait(1).await);
        assert!(backoff.wait(2).await);
        assert!(!backoff.wait(3).await, "three tries in all: no fourth");
    }
}
