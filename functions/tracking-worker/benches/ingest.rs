//! Tracking worker throughput on the embedded engine: one SQS batch of 100 events of a
//! consenting user (one consent read, one batch read of the waiting events, four 25-item batch
//! writes to store them and four to delete their waiting copies). Each iteration first puts the
//! waiting events back (as the tracking function leaves them), which the figure includes.
//!
//! `cargo bench -p infentre-tracking-worker --bench ingest`

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use shared::clock::SystemClock;
use shared::consent::{self, Method, PurposeId};
use shared::queue::batch::SqsEvent;
use shared::store::BatchOp;
use shared::tracking::TrackedEvent;

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = shared::embedded::Engine::open_with_defaults(dir.path(), Arc::new(SystemClock)).unwrap();
    let platform = engine.platform.clone();
    runtime.block_on(async {
        consent::record(&platform, "01JBENCHUSER", PurposeId::AnalyticsCookies, true, Method::Api).await.unwrap();
    });
    let now_ms = chrono::Utc::now().timestamp_millis();
    let events: Vec<TrackedEvent> = (0..100)
        .map(|n| TrackedEvent {
            event_id: ulid::Ulid::new().to_string(),
            user_id: "01JBENCHUSER".into(),
            organisation_id: "01JBENCHORG".into(),
            name: "page_view".into(),
            occurred_at_ms: now_ms - n,
            received_at: now_ms / 1000,
            properties: serde_json::from_value(json!({"page": format!("/p/{n}")})).unwrap(),
            ip: None,
            user_agent: None,
        })
        .collect();
    let waiting: Vec<BatchOp> = events.iter().map(|e| BatchOp::Put(e.pending_item(now_ms / 1000).unwrap())).collect();
    let records: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(n, e)| json!({"messageId": format!("m{n}"), "body": serde_json::to_string(&e.message()).unwrap()}))
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();

    let mut group = c.benchmark_group("tracking_worker");
    group.throughput(Throughput::Elements(100));
    group.bench_function("batch_of_100_events", |b| {
        b.to_async(&runtime).iter(|| async {
            platform.store.batch_write(waiting.clone()).await.unwrap();
            let response = tracking_worker::handle(&platform, event.clone()).await.unwrap();
            assert!(response.batch_item_failures.is_empty());
        })
    });
    group.finish();
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
