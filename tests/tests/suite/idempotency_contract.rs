//! Idempotency (Powertools semantics) on both stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Duration;
use infentre_tests::{clock, create_table, moto_clients, shared_clock, unique};
use shared::clock::ManualClock;
use shared::embedded::SqliteDb;
use shared::idempotency::{Idempotency, IdempotencyError};
use shared::store::Store;
use shared::store::dynamodb::DynamoStore;
use shared::store::sqlite::SqliteStore;

struct Fixture {
    idempotency: Idempotency,
    clock: ManualClock,
}

fn fixture(store: Arc<dyn Store>, clock: ManualClock) -> Fixture {
    Fixture { idempotency: Idempotency::new(store, shared_clock(&clock)), clock }
}

async fn sqlite() -> Fixture {
    let clock = clock();
    fixture(Arc::new(SqliteStore::new(SqliteDb::in_memory().unwrap(), shared_clock(&clock))), clock)
}

async fn moto() -> Fixture {
    let clock = clock();
    let clients = moto_clients().await;
    let table = unique("idem");
    create_table(&clients, &table).await;
    fixture(Arc::new(DynamoStore::new(clients.dynamodb.clone(), table, shared_clock(&clock))), clock)
}

infentre_tests::contract!(
    sqlite_idempotency = sqlite,
    dynamodb_idempotency_on_moto = moto;

    a_repeated_call_replays_the_result_without_running_again,
    a_failure_frees_the_key_for_a_retry,
    a_call_in_progress_blocks_a_second_one,
    an_abandoned_claim_is_taken_over_after_its_timeout,
    an_expired_record_runs_the_work_again,
    a_key_reused_with_another_payload_is_refused,
);

type Outcome = Result<u32, IdempotencyError<String>>;

async fn run(f: &Fixture, runs: &AtomicU32, payload: &[u8]) -> Outcome {
    f.idempotency
        .run("mail-worker", "message-1", payload, || async {
            Ok::<_, String>(runs.fetch_add(1, Ordering::SeqCst) + 100)
        })
        .await
}

async fn a_repeated_call_replays_the_result_without_running_again(f: Fixture) {
    let runs = AtomicU32::new(0);
    assert_eq!(run(&f, &runs, b"p").await.unwrap(), 100);
    assert_eq!(run(&f, &runs, b"p").await.unwrap(), 100);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn a_failure_frees_the_key_for_a_retry(f: Fixture) {
    let failed: Outcome = f.idempotency.run("w", "k", b"p", || async { Err("SendGrid is down".to_owned()) }).await;
    assert!(matches!(failed, Err(IdempotencyError::Handler(_))));
    let retried: Outcome = f.idempotency.run("w", "k", b"p", || async { Ok(7) }).await;
    assert_eq!(retried.unwrap(), 7);
}

async fn a_call_in_progress_blocks_a_second_one(f: Fixture) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let idempotency = f.idempotency.clone();
    let first = tokio::spawn(async move {
        idempotency
            .run("w", "k", b"p", || async move {
                started_tx.send(()).unwrap();
                finish_rx.await.unwrap();
                Ok::<_, String>(1)
            })
            .await
    });
    started_rx.await.unwrap();

    let second: Outcome = f.idempotency.run("w", "k", b"p", || async { Ok(2) }).await;
    assert!(matches!(second, Err(IdempotencyError::InProgress)), "{second:?}");

    finish_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap(), 1);
}

async fn an_abandoned_claim_is_taken_over_after_its_timeout(f: Fixture) {
    // A claim whose invocation died: written, never completed.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let idempotency = f.idempotency.clone();
    let dead = tokio::spawn(async move {
        idempotency
            .run("w", "k", b"p", || async move {
                started_tx.send(()).unwrap();
                std::future::pending::<Result<u32, String>>().await
            })
            .await
    });
    started_rx.await.unwrap();
    dead.abort();

    f.clock.advance(Duration::seconds(61));
    let takeover: Outcome = f.idempotency.run("w", "k", b"p", || async { Ok(3) }).await;
    assert_eq!(takeover.unwrap(), 3);
}

async fn an_expired_record_runs_the_work_again(f: Fixture) {
    let runs = AtomicU32::new(0);
    run(&f, &runs, b"p").await.unwrap();
    f.clock.advance(Duration::hours(2));
    assert_eq!(run(&f, &runs, b"p").await.unwrap(), 101);
}

async fn a_key_reused_with_another_payload_is_refused(f: Fixture) {
    let runs = AtomicU32::new(0);
    run(&f, &runs, b"first").await.unwrap();
    assert!(matches!(run(&f, &runs, b"second").await, Err(IdempotencyError::PayloadMismatch)));
}
