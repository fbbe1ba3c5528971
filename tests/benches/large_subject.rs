//! A subject with many usage events (100,000 by default, `INFENTRE_BENCH_EVENTS` to change):
//! the access export and the erasure, timed once each on SQLite and on moto, with the AWS
//! requests they used beside the floor (⌈N/25⌉ BatchWriteItem to erase, no Scan).
//!
//! Seeding 100,000 items into moto takes minutes; the operations are timed one at a time
//! because each destroys or depends on the seeded state.
//!
//! `INFENTRE_TEST_MOTO_URL=http://127.0.0.1:5055 cargo bench -p infentre-tests --bench large_subject`

use std::time::{Duration, Instant};

use infentre_tests::backend::Backend;
use shared::accounts::UserRecord;
use shared::erasure::job::{Origin, SliceOutcome, Target};
use shared::erasure::{self, Subject};
use shared::rights::{RequestType, RightsRequest};
use shared::store::BatchOp;

async fn seed(b: &Backend, user_id: &str, organisation_id: &str, n: usize) {
    let now_ms = b.platform.clock.epoch_seconds() * 1000;
    let mut ops = Vec::with_capacity(n);
    for i in 0..n {
        let event = infentre_tests::page_view(user_id, organisation_id, i as i64, now_ms);
        ops.push(BatchOp::Put(event.item().unwrap()));
    }
    for chunk in ops.chunks(2_500) {
        b.platform.store.batch_write(chunk.to_vec()).await.unwrap();
    }
}

async fn run(name: &str, b: Backend, n: usize) {
    let session = b.admin("ada@example.com", "large subjects are slow", "Large").await;
    let key = shared::keys::user(&session.user_id);
    let user: UserRecord = b.platform.store.get(&key).await.unwrap().unwrap().data().unwrap();
    let started = Instant::now();
    seed(&b, &user.user_id, &user.organisation_id, n).await;
    println!("{name}: seeded {n} events in {:.1} s", started.elapsed().as_secs_f64());

    let request = RightsRequest::new(
        ulid::Ulid::new().to_string(),
        user.organisation_id.clone(),
        user.user_id.clone(),
        RequestType::Access,
        None,
        None,
        b.platform.clock.epoch_seconds(),
    );
    if let Some(requests) = &b.requests {
        requests.reset();
    }
    let started = Instant::now();
    let exports = rights_worker::exports::write(&b.platform, &request, &user).await.unwrap();
    let export_time = started.elapsed();
    let json_bytes = b.platform.blobs.get(&exports.json).await.unwrap().map(|b| b.len()).unwrap_or(0);
    println!(
        "{name}: access export of {n} events (JSON {:.1} MB + CSV zip) in {:.2} s; requests {:?}",
        json_bytes as f64 / 1e6,
        export_time.as_secs_f64(),
        b.requests.as_ref().map(|r| r.snapshot())
    );

    if let Some(requests) = &b.requests {
        requests.reset();
    }
    let subject = Subject { user_id: user.user_id.clone(), canonical_email: user.email_canonical.clone() };
    let started = Instant::now();
    let target = Target::Subject { subject: subject.clone() };
    let job = erasure::job::begin(&b.platform, target, Origin::default()).await.unwrap().job;
    while erasure::job::run_slice(&b.platform, &job.id, Instant::now() + Duration::from_secs(300), false).await.unwrap()
        != SliceOutcome::Completed
    {}
    let erase_time = started.elapsed();
    let job = erasure::job::load(&b.platform, &job.id).await.unwrap().unwrap();
    let erased = job.items_erased();
    println!(
        "{name}: erasure job of {erased} items in {:.2} s; requests {:?}; floor ⌈{erased}/25⌉ = {} BatchWriteItem",
        erase_time.as_secs_f64(),
        b.requests.as_ref().map(|r| r.snapshot()),
        erased.div_ceil(25)
    );
    assert!(erasure::collect(&b.platform, &subject).await.unwrap().is_empty());
}

fn main() {
    let n: usize = std::env::var("INFENTRE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        run("sqlite", infentre_tests::backend::sqlite().await, n).await;
        if std::env::var("INFENTRE_TEST_MOTO_URL").is_ok() {
            run("moto", infentre_tests::backend::moto().await, n).await;
        } else {
            println!("moto: skipped (INFENTRE_TEST_MOTO_URL is not set)");
        }
    });
}
