//! A consent change and the consent check on the embedded engine (SQLite file, WAL).
//!
//! `cargo bench -p infentre-consent --bench consent`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use shared::clock::SystemClock;
use shared::consent::{self, Method, PurposeId};

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = shared::embedded::Engine::open_with_defaults(dir.path(), Arc::new(SystemClock)).unwrap();
    let platform = engine.platform.clone();
    let mut group = c.benchmark_group("consent");
    let n = AtomicU64::new(0);
    group.bench_function("change", |b| {
        b.to_async(&runtime).iter(|| async {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let (_, written) =
                consent::record(&platform, "01JBENCHUSER", PurposeId::ProductUpdates, i.is_multiple_of(2), Method::Api)
                    .await
                    .unwrap();
            assert!(written);
        })
    });
    group.bench_function("check", |b| {
        b.to_async(&runtime).iter(|| async {
            consent::is_granted(&platform, "01JBENCHUSER", PurposeId::ProductUpdates).await.unwrap();
        })
    });
    group.finish();
}

criterion_group!(consent_benches, benches);
criterion_main!(consent_benches);
