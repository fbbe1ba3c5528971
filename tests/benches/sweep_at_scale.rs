//! A table of 1,000,000 items (`INFENTRE_BENCH_ITEMS`) of which 1,000 are past retention
//! (`INFENTRE_BENCH_EXPIRED`): the sweep's time and store requests on SQLite and on moto,
//! next to what reading the whole table would cost (a Scan on DynamoDB, every row on SQLite).
//! Timed once each: a sweep consumes what it measures.
//!
//! `INFENTRE_TEST_MOTO_URL=http://127.0.0.1:5055 cargo bench -p infentre-tests --bench sweep_at_scale`

use std::time::Instant;

use infentre_tests::StoreFixture;
use shared::clock::Clock;
use shared::store::{BatchOp, Item, Key};

async fn seed(f: &StoreFixture, total: usize, expired: usize) {
    let now = f.clock.epoch_seconds();
    let mut ops = Vec::with_capacity(10_000);
    for i in 0..total {
        // Live items expire over the next three years; the expired ones did yesterday.
        let expires_at = if i < expired { now - 24 * 3600 } else { now + 86_400 + (i as i64 % 1_000) * 86_400 };
        let user = i % 5_000;
        let item = Item::new(Key::new(format!("USER#{user:05}#EVENTS#0"), format!("EVENT#{i:08}")), "usage_event")
            .with_data(&serde_json::json!({"name": "page_view", "page": format!("/p/{}", i % 100)}))
            .unwrap()
            .expires_at(expires_at);
        ops.push(BatchOp::Put(item));
        if ops.len() == 10_000 {
            f.store.batch_write(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    f.store.batch_write(ops).await.unwrap();
}

async fn measure(name: &str, f: StoreFixture, total: usize, expired: usize, scan: impl AsyncFnOnce() -> (usize, u64)) {
    let started = Instant::now();
    seed(&f, total, expired).await;
    println!("{name}: seeded {total} items ({expired} expired) in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(requests) = &f.requests {
        requests.reset();
    }
    let started = Instant::now();
    let report = retention_sweeper::sweep(f.store.as_ref(), &f.clock, 1_000_000).await.unwrap();
    let sweep_time = started.elapsed();
    let requests = f.requests.as_ref().map(|r| r.snapshot());
    println!("{name}: sweep erased {} in {:.3} s; requests {:?}", report.total(), sweep_time.as_secs_f64(), requests);
    assert_eq!(report.total(), expired as u64);
    let started = Instant::now();
    let (rows, scan_requests) = scan().await;
    println!(
        "{name}: reading the whole table instead: {rows} items in {:.3} s, {scan_requests} requests",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let total: usize = std::env::var("INFENTRE_BENCH_ITEMS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let expired: usize = std::env::var("INFENTRE_BENCH_EXPIRED").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let clock = infentre_tests::clock();
        let db = shared::embedded::SqliteDb::open(&dir.path().join("bench.sqlite3")).unwrap();
        let store =
            std::sync::Arc::new(shared::store::sqlite::SqliteStore::new(db, infentre_tests::shared_clock(&clock)));
        let sqlite = StoreFixture { store: store.clone(), clock, requests: None, data_dir: None };
        measure("sqlite", sqlite, total, expired, async || (store.dump().await.unwrap().len(), 0)).await;

        if std::env::var("INFENTRE_TEST_MOTO_URL").is_err() {
            println!("moto: skipped (INFENTRE_TEST_MOTO_URL is not set)");
            return;
        }
        let clients = infentre_tests::moto_clients().await;
        let table = infentre_tests::unique("sweep");
        infentre_tests::create_table(&clients, &table).await;
        let clock = infentre_tests::clock();
        let store = shared::store::dynamodb::DynamoStore::new(
            clients.dynamodb.clone(),
            table.clone(),
            infentre_tests::shared_clock(&clock),
        );
        let moto = StoreFixture {
            store: std::sync::Arc::new(store),
            clock,
            requests: Some(clients.requests.clone()),
            data_dir: None,
        };
        let dynamodb = clients.dynamodb.clone();
        measure("moto", moto, total, expired, async move || {
            let (mut rows, mut pages, mut start) = (0, 0, None);
            loop {
                let page = dynamodb.scan().table_name(&table).set_exclusive_start_key(start).send().await.unwrap();
                rows += page.items.unwrap_or_default().len();
                pages += 1;
                start = page.last_evaluated_key;
                if start.is_none() {
                    return (rows, pages);
                }
            }
        })
        .await;
    });
}
