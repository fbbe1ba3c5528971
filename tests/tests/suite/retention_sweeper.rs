//! The retention sweeper on both stores: it erases what expired, keeps what did not, resumes
//! from its checkpoint and never needs a scan.

use chrono::Duration;
use retention_sweeper::sweep;
use shared::clock::Clock;
use shared::store::{BatchOp, Item, Key, Query, query_all};

use infentre_tests::{StoreFixture as Fixture, moto_store as moto, sqlite_store as sqlite};

infentre_tests::contract!(
    on_sqlite = sqlite,
    on_dynamodb_moto = moto;

    a_sweep_erases_what_expired_and_keeps_the_rest,
    a_sweep_with_a_small_budget_resumes_where_it_stopped,
    a_sweep_costs_requests_in_proportion_to_what_expired,
);

/// `n` usage events of one user, expiring `offset_seconds` from now.
async fn events(f: &Fixture, user: &str, n: usize, offset_seconds: i64) {
    let at = f.clock.epoch_seconds() + offset_seconds;
    let ops = (0..n)
        .map(|i| {
            BatchOp::Put(
                Item::new(Key::new(format!("USER#{user}"), format!("EVENT#{offset_seconds}#{i:04}")), "usage_event")
                    .expires_at(at),
            )
        })
        .collect();
    f.store.batch_write(ops).await.unwrap();
}

async fn remaining(f: &Fixture, user: &str) -> usize {
    query_all(f.store.as_ref(), Query::partition(format!("USER#{user}")).including_expired()).await.unwrap().len()
}

async fn a_sweep_erases_what_expired_and_keeps_the_rest(f: Fixture) {
    events(&f, "a", 30, 3600).await;
    f.store.put(Item::new(Key::new("USER#a", "PROFILE"), "user"), None).await.unwrap();
    // Two hours later the first events are past their retention; new ones arrive.
    f.clock.advance(Duration::hours(2));
    events(&f, "b", 5, 86_400).await;

    let report = sweep(f.store.as_ref(), &f.clock, 10_000).await.unwrap();

    assert!(report.complete);
    assert_eq!(report.erased.get("usage_event"), Some(&30));
    assert_eq!(remaining(&f, "a").await, 1, "only the profile, which never expires, is left");
    assert_eq!(remaining(&f, "b").await, 5, "unexpired events stay");
    let again = sweep(f.store.as_ref(), &f.clock, 10_000).await.unwrap();
    assert_eq!(again.total(), 0, "a second run finds nothing");
}

async fn a_sweep_with_a_small_budget_resumes_where_it_stopped(f: Fixture) {
    events(&f, "a", 40, 60).await;
    f.clock.advance(Duration::minutes(2));

    let first = sweep(f.store.as_ref(), &f.clock, 25).await.unwrap();
    assert!(!first.complete);
    assert!(first.total() >= 25 && first.total() < 40, "{first:?}");
    let second = sweep(f.store.as_ref(), &f.clock, 1_000).await.unwrap();

    assert!(second.complete);
    assert_eq!(first.total() + second.total(), 40, "nothing skipped, nothing counted twice");
    assert_eq!(remaining(&f, "a").await, 0);
}

async fn a_sweep_costs_requests_in_proportion_to_what_expired(f: Fixture) {
    let Some(requests) = &f.requests else { return };
    events(&f, "a", 10, 60).await;
    events(&f, "b", 200, 86_400 * 30).await;
    f.clock.advance(Duration::minutes(2));
    sweep(f.store.as_ref(), &f.clock, 1_000).await.unwrap(); // sets the checkpoint
    events(&f, "c", 10, 60).await;
    f.clock.advance(Duration::minutes(2));
    requests.reset();

    let report = sweep(f.store.as_ref(), &f.clock, 1_000).await.unwrap();

    assert_eq!(report.total(), 10);
    assert_eq!(requests.get("DynamoDB.Scan"), 0);
    assert_eq!(requests.get("DynamoDB.DeleteItem"), 10, "one conditional delete per expired item");
    // Today's expiry partitions, each read once (plus the checkpoint), whatever the table holds.
    assert!(requests.get("DynamoDB.Query") <= shared::store::expiry::EXPIRY_SHARDS as u64, "{:?}", requests.snapshot());
}
