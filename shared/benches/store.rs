//! The store on SQLite (a WAL file on disk, as the local server runs it): put, get, and a
//! query reading a whole 1,000-item partition.
//!
//! `cargo bench -p infentre-shared --features embedded --bench store`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use shared::clock::SystemClock;
use shared::embedded::SqliteDb;
use shared::store::sqlite::SqliteStore;
use shared::store::{BatchOp, Item, Key, Query, Store, query_all};

fn event(pk: &str, n: u64) -> Item {
    Item::new(Key::new(pk, format!("EVENT#{n:08}")), "usage_event")
        .with_data(&json!({"name": "page_view", "properties": {"path": "/settings", "ms": 123}}))
        .unwrap()
        .expires_at(4_000_000_000)
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::new(SqliteDb::open(&dir.path().join("bench.sqlite3")).unwrap(), Arc::new(SystemClock)));
    let mut group = c.benchmark_group("sqlite_store");
    group.throughput(Throughput::Elements(1));

    let counter = AtomicU64::new(0);
    group.bench_function("put", |b| {
        b.to_async(&runtime).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            store.put(event("USER#put", n), None).await.unwrap();
        })
    });

    runtime.block_on(async {
        let ops = (0..1_000).map(|n| BatchOp::Put(event("USER#thousand", n))).collect();
        store.batch_write(ops).await.unwrap();
    });
    group.bench_function("get", |b| {
        b.to_async(&runtime).iter(|| async {
            let item = store.get(&Key::new("USER#thousand", "EVENT#00000500")).await.unwrap();
            assert!(item.is_some());
        })
    });

    group.throughput(Throughput::Elements(1_000));
    group.bench_function("query_1000_item_partition", |b| {
        b.to_async(&runtime).iter(|| async {
            let items = query_all(store.as_ref(), Query::partition("USER#thousand").limit(1_000)).await.unwrap();
            assert_eq!(items.len(), 1_000);
        })
    });
    group.finish();
}

criterion_group!(store, benches);
criterion_main!(store);
