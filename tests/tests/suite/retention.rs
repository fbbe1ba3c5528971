//! Retention on both engines, with the clock moved: usage data never older than 3 years,
//! invoices kept under the bookkeeping law past a cancellation and purged after, one
//! inactivity reminder for those who consented, deadline alerts to the DPO, expired exports
//! deleted, interrupted erasures finished, one sweep at a time, and a report of each run.

use chrono::Duration;
use infentre_tests::backend::Backend;
use infentre_tests::{on_both_engines, outbox_files, stripe_signature};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::erasure;
use shared::retention::RetentionReport;

const PASSWORD: &str = "keep it no longer";
const BUDGET: u64 = 10_000;

async fn run(b: &Backend) -> RetentionReport {
    retention_sweeper::run(&b.platform, BUDGET).await.expect("a retention run")
}

/// Items mentioning `needle`, but the run reports (which name kinds, with counts).
async fn stored(b: &Backend, needle: &str) -> usize {
    b.table_text().await.iter().filter(|t| t.contains(needle) && !t.contains("retention_report")).count()
}

async fn stripe(b: &Backend, body: &Value, signature: Option<String>) -> (u16, Value) {
    let body = body.to_string();
    let signature = signature.unwrap_or_else(|| stripe_signature(b.clock.epoch_seconds(), body.as_bytes()));
    let request = http::Request::post("/v1/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn invoice_event(event_id: &str, organisation_id: &str, created: i64, status: &str) -> Value {
    json!({
        "id": event_id, "object": "event", "type": "invoice.paid", "created": created,
        "data": {"object": {
            "id": "in_1PxYZ", "object": "invoice", "customer": "cus_9s6XKzkNRiz8i3",
            "customer_email": "billing@compilers.example", "customer_name": "Grace Hopper",
            "currency": "SEK", "amount_due": 49900, "amount_paid": 49900, "total": 49900,
            "created": created, "status": status, "status_transitions": {"paid_at": created + 60},
            "metadata": {"organisation_id": organisation_id},
        }},
    })
}

on_both_engines!(
    three_years_on_no_usage_event_remains_and_the_run_is_reported,
    invoices_survive_the_cancellation_until_their_purge_date,
    stripe_events_are_signed_deduplicated_and_minimal,
    one_reminder_for_the_inactive_who_consented_and_none_for_the_others,
    the_dpo_is_alerted_once_before_and_once_after_a_deadline,
    expired_exports_are_deleted_with_their_records,
    an_erasure_a_crash_interrupted_is_finished,
    a_poisoned_erasure_does_not_stop_alerts_or_other_erasures,
    one_sweep_at_a_time,
);

async fn three_years_on_no_usage_event_remains_and_the_run_is_reported(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    let events: Vec<_> = (0..5).map(|i| json!({"name": "page_view", "properties": {"n": i}})).collect();
    assert_eq!(b.post("/v1/events", ada.bearer(), json!({ "events": events })).await.0, 202);
    b.store_events().await;
    assert_eq!(stored(&b, "usage_event").await, 5);
    drop(operator);

    b.clock.advance(Duration::days(3 * 365 + 2));
    let report = run(&b).await;

    assert_eq!(stored(&b, "usage_event").await, 0, "nothing older than 3 years");
    assert_eq!(report.erased.get("usage_event"), Some(&5));
    assert!(report.complete);
    let operator = b.login("dpo@infentre.com", PASSWORD).await;
    let (status, reports) = b.get("/v1/operator/retention-reports", operator.bearer()).await;
    assert_eq!(status, 200, "{reports}");
    assert_eq!(reports["items"][0]["erased"]["usage_event"], 5);
    let text = reports.to_string();
    assert!(!text.contains(&ada.user_id) && !text.contains("ada@"), "counts only: {text}");
    let ada = b.login("ada@example.com", PASSWORD).await;
    assert_eq!(b.get("/v1/operator/retention-reports", ada.bearer()).await.0, 403);
}

async fn invoices_survive_the_cancellation_until_their_purge_date(b: Backend) {
    let grace = b.admin("grace@example.com", PASSWORD, "Compilers").await;
    let now = b.clock.epoch_seconds();
    let (status, body) = stripe(&b, &invoice_event("evt_1", &grace.organisation_id, now, "paid"), None).await;
    assert_eq!((status, body), (200, json!({"status": "stored"})));

    let cancelled = b.cancel("/v1/organisations/current", &grace, PASSWORD).await;
    let retained = &cancelled["retained"][0];
    assert_eq!(retained["kind"], "invoice");
    assert!(retained["legal_basis"].as_str().unwrap().contains("Bokföringslagen"));
    let purge_after = chrono::NaiveDate::parse_from_str(retained["purge_after"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let today = b.clock.now().date_naive();
    assert!(purge_after > today + Duration::days(7 * 365), "{purge_after}: 7 years after the fiscal year");
    assert_eq!(b.count_of(&grace.user_id).await, 0, "the admin is erased");
    assert_eq!(stored(&b, "in_1PxYZ").await, 1, "the invoice is kept");

    b.clock.set((purge_after - Duration::days(1)).and_hms_opt(12, 0, 0).unwrap().and_utc());
    run(&b).await;
    assert_eq!(stored(&b, "in_1PxYZ").await, 1, "kept until its purge date");
    b.clock.set((purge_after + Duration::days(1)).and_hms_opt(12, 0, 0).unwrap().and_utc());
    let report = run(&b).await;
    assert_eq!(stored(&b, "in_1PxYZ").await, 0, "purged when the hold ends");
    assert_eq!(report.erased.get("invoice"), Some(&1));
}

async fn stripe_events_are_signed_deduplicated_and_minimal(b: Backend) {
    let grace = b.admin("grace@example.com", PASSWORD, "Compilers").await;
    let now = b.clock.epoch_seconds();
    let event = invoice_event("evt_2", &grace.organisation_id, now, "open");
    let body = event.to_string();

    let forged = stripe_signature(now, b"{}");
    assert_eq!(stripe(&b, &event, Some(forged)).await.0, 400, "a signature over another body");
    let stale = stripe_signature(now - 301, body.as_bytes());
    assert_eq!(stripe(&b, &event, Some(stale)).await.0, 400, "more than 300 s old");
    let future = stripe_signature(now + 301, body.as_bytes());
    assert_eq!(stripe(&b, &event, Some(future)).await.0, 400, "more than 300 s ahead");
    assert_eq!(stripe(&b, &event, Some(String::new())).await.0, 400, "no signature");
    assert_eq!(stored(&b, "in_1PxYZ").await, 0, "nothing stored from refused events");

    assert_eq!(stripe(&b, &event, None).await.1["status"], "stored");
    assert_eq!(stripe(&b, &event, None).await.1["status"], "duplicate");
    let older = invoice_event("evt_0", &grace.organisation_id, now - 100, "draft");
    assert_eq!(stripe(&b, &older, None).await.1["status"], "ignored", "an older event does not win");
    let other = json!({"id": "evt_3", "object": "event", "type": "customer.created", "created": now, "data": {"object": {"id": "cus_1", "email": "x@example.com"}}});
    assert_eq!(stripe(&b, &other, None).await, (200, json!({"status": "ignored"})));

    // Stripe sends events of one second in any order: the furthest status wins.
    let paid = invoice_event("evt_4", &grace.organisation_id, now + 10, "paid");
    let open_again = invoice_event("evt_5", &grace.organisation_id, now + 10, "open");
    assert_eq!(stripe(&b, &paid, None).await.1["status"], "stored");
    assert_eq!(stripe(&b, &open_again, None).await.1["status"], "ignored");

    let table = b.table_text().await;
    let invoice: Vec<&String> = table.iter().filter(|t| t.contains("in_1PxYZ")).collect();
    assert_eq!(invoice.len(), 1);
    for absent in ["billing@compilers.example", "Grace Hopper", "x@example.com", "draft"] {
        assert!(!table.iter().any(|t| t.contains(absent)), "{absent} was stored");
    }
    assert!(invoice[0].contains("paid"), "{}", invoice[0]);
}

async fn one_reminder_for_the_inactive_who_consented_and_none_for_the_others(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let bob = b.admin("bob@example.com", PASSWORD, "Elsewhere").await;
    b.put("/v1/me/consents/inactivity_reminders", ada.bearer(), json!({"granted": true})).await;
    b.put("/v1/me/consents/product_updates", bob.bearer(), json!({"granted": true})).await;
    b.deliver_mail().await;

    b.clock.advance(Duration::days(20));
    assert_eq!(run(&b).await.reminders_queued, 0, "not inactive long enough");
    b.clock.advance(Duration::days(12));
    assert_eq!(run(&b).await.reminders_queued, 1);
    b.deliver_mail().await;
    let mails = outbox_files(&b.outbox);
    // (The outbox kept the signup mails 72 hours only.)
    let reminders: Vec<&String> = mails.iter().filter(|m| m.contains("have not seen you")).collect();
    assert_eq!(reminders.len(), 1);
    assert!(reminders[0].contains("To: ada@example.com"));
    assert!(reminders[0].contains("List-Unsubscribe"), "reminders need consent, so they carry the unsubscribe headers");

    for _ in 0..3 {
        b.clock.advance(Duration::days(5));
        assert_eq!(run(&b).await.reminders_queued, 0, "one reminder, not one per run");
    }
}

async fn the_dpo_is_alerted_once_before_and_once_after_a_deadline(b: Backend) {
    let grace = b.admin("grace@example.com", PASSWORD, "Compilers").await;
    let ada = b.member(&grace, "ada@example.com", PASSWORD, "member").await;
    let (status, filed) = b.post("/v1/rights-requests", ada.bearer(), json!({"type": "access"})).await;
    assert_eq!(status, 201);
    let id = filed["id"].as_str().unwrap();
    b.deliver_mail().await;
    let alerts = |b: &Backend| {
        outbox_files(&b.outbox)
            .into_iter()
            .filter(|m| m.contains("To: hello@infentre.com") && m.contains(id))
            .collect::<Vec<_>>()
    };

    assert_eq!(run(&b).await.deadline_alerts, 0, "30 days to go");
    b.clock.advance(Duration::days(24));
    assert_eq!(run(&b).await.deadline_alerts, 1, "within 7 days");
    assert_eq!(run(&b).await.deadline_alerts, 0, "once");
    b.clock.advance(Duration::days(7));
    assert_eq!(run(&b).await.deadline_alerts, 1, "overdue");
    assert_eq!(run(&b).await.deadline_alerts, 0, "once");
    b.deliver_mail().await;
    let sent = alerts(&b);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent.iter().filter(|m| m.contains("OVERDUE")).count(), 1);
    assert_eq!(sent.iter().filter(|m| m.contains("is due within 7 days")).count(), 1);
}

async fn expired_exports_are_deleted_with_their_records(b: Backend) {
    let grace = b.admin("grace@example.com", PASSWORD, "Compilers").await;
    let (_, filed) = b.post("/v1/rights-requests", grace.bearer(), json!({"type": "access"})).await;
    b.process_rights().await;
    let id = filed["id"].as_str().unwrap();
    let prefix = erasure::export_prefix(&grace.user_id);
    assert_eq!(b.platform.blobs.list(&prefix).await.unwrap().len(), 2, "JSON and CSV zip");

    b.clock.advance(Duration::days(8));
    let report = run(&b).await;
    assert_eq!(report.exports_deleted, 2);
    assert_eq!(report.erased.get("export"), Some(&2));
    assert!(b.platform.blobs.list(&prefix).await.unwrap().is_empty());
    let grace = b.login("grace@example.com", PASSWORD).await;
    let (status, problem) = b.get(&format!("/v1/rights-requests/{id}/export"), grace.bearer()).await;
    assert_eq!((status, problem["code"].as_str()), (410, Some("export_expired")));
}

async fn an_erasure_a_crash_interrupted_is_finished(b: Backend) {
    let grace = b.admin("grace@example.com", PASSWORD, "Compilers").await;
    let ada = b.member(&grace, "ada@example.com", PASSWORD, "member").await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    // The cancellation fenced Ada and recorded the job; its queue message is lost.
    let (status, _) = b.delete("/v1/me", ada.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202);
    let lost = b.take_messages(shared::queue::QueueName::Rights).await;
    assert_eq!(lost.records.len(), 1, "the job's message");

    assert_eq!(run(&b).await.erasures_resumed, 0, "a young job may still be running");
    b.clock.advance(Duration::minutes(11));
    let report = run(&b).await;

    assert_eq!(report.erasures_resumed, 1);
    assert_eq!(b.count_of(&ada.user_id).await, 0);
    assert_eq!(b.count_of("ada@example.com").await, 0, "the job forgot its subject");
    assert_eq!(run(&b).await.erasures_resumed, 0);
}

/// A job that fails every time (here: its record lost its target).
async fn poison(b: &Backend) -> String {
    let id = format!("poisoned{}", ulid::Ulid::new());
    let now = b.clock.epoch_seconds();
    let job = json!({
        "id": id, "target": null, "status": "queued",
        "checkpoint": {"phase": "groups", "pass": 1, "group": 0, "cursors": []},
        "erased": {}, "exports_erased": 0, "retained": [], "late_items": 0, "member_jobs": 0, "pages": 0,
        "slices": 0, "failures": 0, "created_at": now, "updated_at": now, "completed_at": null,
        "rights_request_id": null, "notify": null, "version": 0, "runner": null, "lease_until": null,
    });
    let item = shared::store::Item::new(shared::keys::erasure_job(&id), "erasure_job")
        .with_data(&job)
        .unwrap()
        .with_index(shared::store::Index::Gsi1, shared::keys::open_erasure_job(now, &id));
    b.platform.store.put(item, None).await.unwrap();
    id
}

async fn a_poisoned_erasure_does_not_stop_alerts_or_other_erasures(b: Backend) {
    let grace = b.admin("grace@example.com", PASSWORD, "Compilers").await;
    let ada = b.member(&grace, "ada@example.com", PASSWORD, "member").await;
    let (status, filed) = b.post("/v1/rights-requests", grace.bearer(), json!({"type": "access"})).await;
    assert_eq!(status, 201);
    let poisoned = poison(&b).await;
    let (status, _) = b.delete("/v1/me", ada.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202);
    b.take_messages(shared::queue::QueueName::Rights).await;

    b.clock.advance(Duration::days(24));
    let report = run(&b).await;
    assert_eq!(report.deadline_alerts, 1, "the alert goes out");
    assert_eq!(report.erasures_resumed, 1, "the other erasure finishes");
    let left: Vec<String> = b.table_text().await.into_iter().filter(|t| t.contains(&ada.user_id)).collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(report.erasures_failing, 0, "one failure is not yet a failing job: {report:?}");

    for _ in 0..2 {
        b.clock.advance(Duration::minutes(11));
        run(&b).await;
    }
    b.clock.advance(Duration::minutes(11));
    let report = run(&b).await;
    assert_eq!(report.erasures_failing, 1, "counted and skipped");
    b.deliver_mail().await;
    let alarms: Vec<String> = outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| m.contains("To: hello@infentre.com") && m.contains(&poisoned))
        .collect();
    assert_eq!(alarms.len(), 1, "the DPO is told once");
    let id = filed["id"].as_str().unwrap();
    assert!(outbox_files(&b.outbox).iter().any(|m| m.contains("To: hello@infentre.com") && m.contains(id)));
}

async fn one_sweep_at_a_time(b: Backend) {
    let lease = shared::store::Item::new(shared::store::Key::new("SWEEPER", "LEASE"), "sweeper_lease")
        .with_data(&json!({"holder": "another run"}))
        .unwrap()
        .expires_at(b.clock.epoch_seconds() + 900);
    b.platform.store.put(lease, None).await.unwrap();
    assert!(matches!(retention_sweeper::run(&b.platform, BUDGET).await, Err(retention_sweeper::RunError::Busy)));
    b.clock.advance(Duration::minutes(16));
    assert!(retention_sweeper::run(&b.platform, BUDGET).await.is_ok(), "a crashed run's lease lapses");
    assert!(retention_sweeper::run(&b.platform, BUDGET).await.is_ok(), "a finished run releases it");
}
