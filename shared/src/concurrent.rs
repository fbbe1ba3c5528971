//! Independent I/O in flight together, bounded: a worker's per-user reads and its batch
//! requests wait on one round trip at a time no more. The requests are the same (their
//! counts, asserted against moto, do not change); only their waiting overlaps.

use std::future::Future;

use futures::StreamExt;

/// Requests of one batch in flight at once: enough to hide round trips, few enough not to
/// take every connection of a client or trip DynamoDB's per-partition limits.
pub const IO_CONCURRENCY: usize = 8;

/// `work` for each item, up to `limit` at once; the results in the items' order.
pub async fn map_bounded<T, R, F, Fut>(items: impl IntoIterator<Item = T>, limit: usize, work: F) -> Vec<R>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures::stream::iter(items).map(work).buffered(limit.max(1)).collect().await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn keeps_order_and_the_bound() {
        let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = map_bounded(0..20u64, 3, |i| {
            let (running, peak) = (&running, &peak);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20 - i)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
