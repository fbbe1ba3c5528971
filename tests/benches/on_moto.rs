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

const USER: &str = "01JBENCHUSER0000000000000A";

fn batch_of_100(platform: &Platform) -> SqsEvent {
    let now_ms = platform.clock.epoch_seconds() * 1000;
    let records: Vec<_> = (0..100)
        .map(|n| {
            let event = infentre_tests::page_view_message(USER, "01JBENCHORG000000000000000", n, now_ms);
            json!({"messageId": format!("m{n}"), "body": serde_json::to_string(&event).unwrap()})
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
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
        let event = batch_of_100(&backend.platform);
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = tracking_worker::handle(&backend.platform, event.clone()).await.unwrap();
                assert!(response.batch_item_failures.is_empty());
            })
        });
    }
    group.finish();
    if let Some(requests) = &engines[1].1.requests {
        requests.reset();
        runtime
            .block_on(tracking_worker::handle(&engines[1].1.platform, batch_of_100(&engines[1].1.platform)))
            .unwrap();
        println!("moto requests for one batch of 100: {:?}", requests.snapshot());
    }
}

criterion_group!(on_moto, tracking);
criterion_main!(on_moto);
