//! The erasure job on a large subject: peak memory while it runs (SQLite), BatchWriteItem calls
//! and how many are in flight at once (moto), and `DELETE /v1/me`'s latency (both), for each
//! size in `INFENTRE_BENCH_SIZES` (default `100000,1000000` on SQLite; moto uses
//! `INFENTRE_BENCH_MOTO_SIZES`, default `20000`, as seeding moto is slow).
//!
//! Peak memory is the process's VmHWM, reset (`/proc/self/clear_refs`) after seeding, so it
//! is the job's own peak, not the seeding's. In-flight writes are counted by a store wrapper.
//!
//! `cargo bench -p infentre-tests --bench erasure_job`
//! `INFENTRE_TEST_MOTO_URL=http://127.0.0.1:5055 cargo bench -p infentre-tests --bench erasure_job`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use infentre_tests::backend::Backend;
use infentre_tests::call;
use serde_json::json;
use shared::Platform;
use shared::erasure::job::{self, SliceOutcome};
use shared::erasure::{self, Subject};
use shared::queue::QueueName;
use shared::store::{BatchOp, Condition, Item, Key, Page, Query, Store, StoreError, TransactOp, Update};

const PASSWORD: &str = "large subjects are slow";

/// A store that counts the batch writes in flight at once.
#[derive(Debug)]
struct InFlight {
    inner: Arc<dyn Store>,
    now: AtomicUsize,
    max: AtomicUsize,
    calls: AtomicUsize,
}

#[async_trait]
impl Store for InFlight {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        entity_type: &str,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        self.inner.update(key, entity_type, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.inner.transact(ops).await
    }
    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.batch_write(ops).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // "5" resets the peak resident set size to the current one (Linux 4.0+).
    if let Err(err) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("(could not reset the peak RSS: {err})");
    }
}

async fn seed(platform: &Platform, user_id: &str, organisation_id: &str, n: usize) {
    let now_ms = platform.clock.epoch_seconds() * 1000;
    let mut written = 0;
    while written < n {
        let chunk: Vec<BatchOp> = (written..(written + 5_000).min(n))
            .map(|i| {
                let event = infentre_tests::page_view(user_id, organisation_id, i as i64, now_ms);
                BatchOp::Put(event.item().expect("an event item"))
            })
            .collect();
        written += chunk.len();
        platform.store.batch_write(chunk).await.expect("seeding");
    }
}

async fn run(name: &str, b: Backend, n: usize) {
    let ada = b.admin("ada@example.com", PASSWORD, "Large").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let started = Instant::now();
    seed(&b.platform, &grace.user_id, &grace.organisation_id, n).await;
    println!("{name} n={n}: seeded in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let (status, _, accepted) =
        call(&b.app, "DELETE", "/v1/me", grace.bearer(), Some(json!({ "password": PASSWORD }))).await;
    let answered = started.elapsed();
    assert_eq!(status, 202, "{accepted}");
    println!("{name} n={n}: DELETE /v1/me answered 202 in {:.1} ms", answered.as_secs_f64() * 1000.0);
    let job_id = accepted["job_id"].as_str().expect("a job id").to_owned();
    b.take_messages(QueueName::Rights).await;

    let counted = Arc::new(InFlight {
        inner: b.platform.store.clone(),
        now: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
        calls: AtomicUsize::new(0),
    });
    let platform = Platform { store: counted.clone(), ..b.platform.clone() };
    if let Some(requests) = &b.requests {
        requests.reset();
    }
    reset_peak_rss();
    let before = peak_rss_kib();
    let started = Instant::now();
    let mut slices = 0;
    loop {
        slices += 1;
        let deadline = Instant::now() + Duration::from_secs(300);
        match job::run_slice(&platform, &job_id, deadline, false).await.expect("a slice") {
            SliceOutcome::Completed => break,
            SliceOutcome::Continues => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let peak = peak_rss_kib();
    let done = job::load(&b.platform, &job_id).await.unwrap().expect("the job");
    let erased = done.items_erased();
    println!(
        "{name} n={n}: job erased {erased} items in {:.1} s ({slices} slice(s), {} pages); peak RSS {:.1} MiB \
         (at start {:.1} MiB); batch_write calls {} (⌈{erased}/25⌉ = {}), at most {} in flight; AWS requests {:?}",
        elapsed.as_secs_f64(),
        done.pages,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        counted.calls.load(Ordering::SeqCst),
        erased.div_ceil(25),
        counted.max.load(Ordering::SeqCst),
        b.requests.as_ref().map(|r| r.snapshot()),
    );
    let subject = Subject { user_id: grace.user_id.clone(), canonical_email: "grace@example.com".into() };
    assert!(erasure::collect(&b.platform, &subject).await.unwrap().is_empty(), "nothing left");
}

fn sizes(variable: &str, default: &str) -> Vec<usize> {
    std::env::var(variable)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        for n in sizes("INFENTRE_BENCH_SIZES", "100000,1000000") {
            run("sqlite", infentre_tests::backend::sqlite().await, n).await;
        }
        if std::env::var("INFENTRE_TEST_MOTO_URL").is_ok() {
            for n in sizes("INFENTRE_BENCH_MOTO_SIZES", "20000") {
                run("moto", infentre_tests::backend::moto().await, n).await;
            }
        } else {
            println!("moto: skipped (INFENTRE_TEST_MOTO_URL is not set)");
        }
    });
}
