//! Idempotency (Powertools semantics) on both stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Duration;
use infentre_tests::{clock, create_table, moto_clients, shared_clock, unique};
use shared::clock::ManualClock;
use shared::embedded::SqliteDb;
use shared::idempotency::{IN_PROGRESS_TIMEOUT, Idempotency, IdempotencyError};
use shared::store::dynamodb::DynamoStore;
use shared::store::sqlite::SqliteStore;
use shared::store::{BatchOp, Item, Key, Page, Query, Store, StoreError, TransactOp, Update};

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
    a_claim_holds_as_long_as_the_mail_queue_hides_a_message,
    a_failed_completion_write_is_retried_so_the_work_never_runs_twice,
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

    f.clock.advance(Duration::seconds(IN_PROGRESS_TIMEOUT.as_secs() as i64 + 1));
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

/// L3: SQS may hand out a second copy of a message while the first is still being worked
/// (after its visibility timeout); the first's claim must still hold then.
async fn a_claim_holds_as_long_as_the_mail_queue_hides_a_message(f: Fixture) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let idempotency = f.idempotency.clone();
    let slow = tokio::spawn(async move {
        idempotency
            .run("w", "k", b"p", || async move {
                started_tx.send(()).unwrap();
                std::future::pending::<Result<u32, String>>().await
            })
            .await
    });
    started_rx.await.unwrap();

    f.clock.advance(Duration::seconds(179));
    let second: Outcome = f.idempotency.run("w", "k", b"p", || async { Ok(3) }).await;
    assert!(matches!(second, Err(IdempotencyError::InProgress)), "{second:?}");
    slow.abort();
}

/// L3: the work succeeded but the write that records it failed (once): it is retried, so a
/// redelivery after the claim lapses replays the result instead of running the work again.
async fn a_failed_completion_write_is_retried_so_the_work_never_runs_twice(f: Fixture) {
    let flaky = Arc::new(FailingUpdates { inner: f.idempotency_store(), failures: AtomicU32::new(1) });
    let idempotency = Idempotency::new(flaky.clone(), shared_clock(&f.clock));
    let runs = AtomicU32::new(0);
    let work = || async { Ok::<_, String>(runs.fetch_add(1, Ordering::SeqCst) + 100) };

    assert_eq!(idempotency.run("w", "k", b"p", work).await.unwrap(), 100);
    assert_eq!(flaky.failures.load(Ordering::SeqCst), 0, "the completion write was tried");
    f.clock.advance(Duration::seconds(IN_PROGRESS_TIMEOUT.as_secs() as i64 + 1));
    assert_eq!(idempotency.run("w", "k", b"p", work).await.unwrap(), 100);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

impl Fixture {
    fn idempotency_store(&self) -> Arc<dyn Store> {
        self.idempotency.store()
    }
}

/// A store whose first `failures` updates fail as a backend outage would.
#[derive(Debug)]
struct FailingUpdates {
    inner: Arc<dyn Store>,
    failures: AtomicU32,
}

#[async_trait::async_trait]
impl Store for FailingUpdates {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<shared::store::Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        entity_type: &str,
        update: Update,
        condition: Option<shared::store::Condition>,
    ) -> Result<Item, StoreError> {
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Backend("injected outage".into()));
        }
        self.inner.update(key, entity_type, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<shared::store::Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.inner.transact(ops).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        self.inner.batch_write(ops).await
    }
    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
}
