//! The distributed engine's adapters against moto, beside the same work on SQLite, in one run:
//! tracking worker throughput (one SQS batch of 100 events of a consenting user).
//!
//! moto answers from one Python process on loopback, so these figures show our request
//! pattern's cost (requests per operation, serialisation), not DynamoDB's latency.
//!
//! `INFENTRE_TEST_MOTO_URL=http://127.0.0.1:5055 cargo bench -p infentre-tests --bench on_moto`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use shared::Platform;
use shared::consent::{self, Method, PurposeId};
use shared::queue::batch::SqsEvent;
use shared::store::BatchOp;

const USER: &str = "01JBENCHUSER0000000000000A";

/// One SQS batch of 100 events and the waiting events it names (put back before each run: the
/// worker deletes them once handled).
fn batch_of_100(platform: &Platform) -> (SqsEvent, Vec<BatchOp>) {
    let now_ms = platform.clock.epoch_seconds() * 1000;
    let (waiting, records): (Vec<_>, Vec<_>) = (0..100)
        .map(|n| {
            let (item, message) = infentre_tests::page_view_pending(USER, "01JBENCHORG000000000000000", n, now_ms);
            let record = json!({"messageId": format!("m{n}"), "body": serde_json::to_string(&message).unwrap()});
            (BatchOp::Put(item), record)
        })
        .unzip();
    (serde_json::from_value(json!({ "Records": records })).unwrap(), waiting)
}

fn tracking(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engines = runtime.block_on(async {
        let sqlite = infentre_tests::backend::sqlite().await;
        let moto = infentre_tests::backend::moto().await;
        for b in [&sqlite, &moto] {
            consent::record(&b.platform, USER, PurposeId::AnalyticsCookies, true, Method::Api).await.unwrap();
        }
        [("sqlite", sqlite), ("moto", moto)]
    });
    let mut group = c.benchmark_group("tracking_worker_batch_of_100");
    group.throughput(Throughput::Elements(100));
    group.sample_size(10);
    for (name, backend) in &engines {
        let (event, waiting) = batch_of_100(&backend.platform);
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| async {
                backend.platform.store.batch_write(waiting.clone()).await.unwrap();
                let response = tracking_worker::handle(&backend.platform, event.clone()).await.unwrap();
                assert!(response.batch_item_failures.is_empty());
            })
        });
    }
    group.finish();
    if let Some(requests) = &engines[1].1.requests {
        let platform = &engines[1].1.platform;
        let (event, waiting) = batch_of_100(platform);
        runtime.block_on(platform.store.batch_write(waiting)).unwrap();
        requests.reset();
        runtime.block_on(tracking_worker::handle(platform, event)).unwrap();
        println!("moto requests for one batch of 100: {:?}", requests.snapshot());
    }
}

criterion_group!(on_moto, tracking);
criterion_main!(on_moto);
