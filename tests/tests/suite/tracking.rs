//! Usage tracking on both engines: stored only with consent (and the address and browser only
//! then), never twice, never longer than 3 years, and erased with the account.

use infentre_tests::backend::{Backend, PROPERTY_MARKER, Session};
use infentre_tests::{Auth, call, on_both_engines};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::queue::QueueName;

const PASSWORD: &str = "usage data is personal";
const CLIENT_IP: &str = "203.0.113.9";

async fn user(b: &Backend) -> Session {
    b.admin("ada@example.com", PASSWORD, "Analytical Engines").await
}

fn events(n: usize) -> Value {
    let events: Vec<_> =
        (0..n)
            .map(|i| json!({"name": "page_view", "properties": {"page": format!("/p/{i}"), "ms": i, "note": PROPERTY_MARKER}}))
            .collect();
    json!({ "events": events })
}

async fn send_events(b: &Backend, session: &Session, body: Value) -> (u16, Value) {
    let request = http::Request::post("/v1/events")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", session.token))
        .header("user-agent", "Mozilla/5.0 (Test) Firefox/999")
        // As the server puts it: the TCP peer (locally) or API Gateway's source address.
        .extension(shared::http::ClientAddress(CLIENT_IP.parse().unwrap()))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn stored_events(b: &Backend) -> Vec<String> {
    // Not the erasure job's record, which counts erased events by kind.
    b.table_text().await.into_iter().filter(|t| t.contains("usage_event") && !t.contains("erasure_job")).collect()
}

on_both_engines!(
    with_consent_events_are_stored_with_browser_information,
    without_consent_nothing_is_stored,
    a_withdrawal_before_the_write_stops_the_event,
    a_redelivered_batch_stores_no_duplicates,
    bad_event_batches_are_refused_whole,
    events_expire_three_years_after_they_happened,
    a_cancelled_account_leaves_no_usage_event,
    events_stored_after_the_fence_went_up_are_deleted_again,
    a_users_daily_quota_of_stored_events_answers_429_with_retry_after,
);

async fn a_users_daily_quota_of_stored_events_answers_429_with_retry_after(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    let limit = b.platform.settings.events_per_user_day;
    assert_eq!(limit, 10_000, "the default");
    // Most of today's quota is used (as by 99 full requests and 50 events).
    shared::throttle::take_event_quota(&b.platform, &ada.user_id, limit - 60).await.unwrap();

    assert_eq!(send_events(&b, &ada, events(50)).await.0, 202);
    let (status, _, problem) = call(&b.app, "POST", "/v1/events", ada.bearer(), Some(events(20))).await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")), "{problem}");
    assert_eq!(send_events(&b, &ada, events(10)).await.0, 202, "all or nothing: the 20 took none");
    let (status, headers, _) = call(&b.app, "POST", "/v1/events", ada.bearer(), Some(events(1))).await;
    assert_eq!(status, 429);
    let retry_after: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    let now = b.clock.epoch_seconds();
    assert_eq!(retry_after, 86_400 - now.rem_euclid(86_400), "until the next UTC day");

    // Without consent nothing is stored, so nothing counts; the next day the quota renews.
    b.clock.advance(chrono::Duration::seconds(retry_after));
    let ada = b.login("ada@example.com", PASSWORD).await;
    assert_eq!(send_events(&b, &ada, events(100)).await.0, 202);
    b.store_events().await;
    // The counters are erased with the person.
    b.cancel("/v1/me", &ada, PASSWORD).await;
    assert!(b.traces_of(&[&shared::throttle::event_quota_partition(&ada.user_id)]).await.is_empty());
}

async fn with_consent_events_are_stored_with_browser_information(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;

    let (status, body) = send_events(&b, &ada, events(3)).await;
    b.store_events().await;

    assert_eq!((status, body), (202, json!({"accepted": 3, "stored": 3})));
    let stored = stored_events(&b).await;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|t| t.contains("Firefox/999")), "browser information kept with consent");
    assert!(stored.iter().all(|t| t.contains(CLIENT_IP)), "the address kept with consent");
    assert!(stored.iter().all(|t| t.contains(PROPERTY_MARKER)), "the properties kept with consent");
    // They travelled beside the queue, not in it: the messages carried the user's and the
    // event's ids only (the scan after each test refuses the properties' marker too).
    let bodies: Vec<Value> = b
        .queued
        .all()
        .into_iter()
        .filter(|(q, _)| *q == QueueName::Tracking)
        .map(|(_, body)| serde_json::from_str(&body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3);
    for body in &bodies {
        let mut fields: Vec<&String> = body.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, vec!["event_id", "user_id"], "{body}");
    }
    // Handled, the waiting copies are gone: the stored events are all that is left.
    let waiting: Vec<String> = b.table_text().await.into_iter().filter(|t| t.contains("pending_event")).collect();
    assert!(waiting.is_empty(), "{waiting:?}");
}

async fn without_consent_nothing_is_stored(b: Backend) {
    let ada = user(&b).await;
    let (status, body) = send_events(&b, &ada, events(5)).await;
    assert_eq!((status, body), (202, json!({"accepted": 5, "stored": 0})));
    b.store_events().await;
    assert!(stored_events(&b).await.is_empty());
    let queued = b.platform.queue.receive(QueueName::Tracking, 10, std::time::Duration::from_secs(1)).await.unwrap();
    assert!(queued.is_empty(), "nothing was even queued");
}

async fn a_withdrawal_before_the_write_stops_the_event(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    assert_eq!(send_events(&b, &ada, events(4)).await.1["stored"], 4);

    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": false})).await;
    b.store_events().await;

    assert!(stored_events(&b).await.is_empty(), "the worker checks consent again");
    assert_eq!(send_events(&b, &ada, events(1)).await.1["stored"], 0);
}

async fn a_redelivered_batch_stores_no_duplicates(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    send_events(&b, &ada, events(12)).await;
    let mut messages = Vec::new();
    loop {
        let got = b.platform.queue.receive(QueueName::Tracking, 10, std::time::Duration::from_secs(30)).await.unwrap();
        if got.is_empty() {
            break;
        }
        messages.extend(got);
    }
    let records: Vec<_> = messages
        .iter()
        .map(|m| json!({"messageId": m.message_id, "body": m.body, "attributes": {"ApproximateReceiveCount": "1"}}))
        .collect();
    let event: shared::queue::batch::SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();

    for _ in 0..2 {
        let response = tracking_worker::handle(&b.platform, event.clone()).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }

    assert_eq!(stored_events(&b).await.len(), 12);
}

async fn bad_event_batches_are_refused_whole(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    let future = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    let ancient = "2019-01-01T00:00:00Z";
    let cases = [
        (events(101), 422),
        (json!({"events": []}), 422),
        (json!({"events": [{"name": "ok"}, {"name": "Bad Name"}]}), 422),
        (json!({"events": [{"name": ""}]}), 422),
        (json!({"events": [{"name": "x".repeat(65)}]}), 422),
        (json!({"events": [{"name": "ok", "properties": {"nested": {"a": 1}}}]}), 422),
        (json!({"events": [{"name": "ok", "properties": {"long": "x".repeat(513)}}]}), 422),
        (json!({"events": [{"name": "ok", "occurred_at": future}]}), 422),
        (json!({"events": [{"name": "ok", "occurred_at": ancient}]}), 422),
        (json!({"events": [{"name": "ok", "occurred_at": "yesterday"}]}), 422),
        (json!({"events": [{"name": "ok", "ip": "1.2.3.4"}]}), 422),
        (json!({"events": "page_view"}), 422),
    ];
    for (body, status) in cases {
        let (got, problem) = send_events(&b, &ada, body.clone()).await;
        assert_eq!(got, status, "{body:.80}: {problem}");
        assert_eq!(problem["status"], status);
    }
    let (status, _, _) = call(&b.app, "POST", "/v1/events", Auth::None, Some(events(1))).await;
    assert_eq!(status, 401);
    b.store_events().await;
    assert!(stored_events(&b).await.is_empty(), "nothing partially stored");
}

async fn events_expire_three_years_after_they_happened(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    let occurred = shared::clock::Clock::now(&b.clock) - chrono::Duration::days(30);
    let body = json!({"events": [{"name": "signed_in", "occurred_at": occurred.to_rfc3339()}]});
    send_events(&b, &ada, body).await;
    b.store_events().await;
    assert_eq!(stored_events(&b).await.len(), 1);

    b.clock.advance(chrono::Duration::days(3 * 365 - 30) + chrono::Duration::hours(1));
    let report = retention_sweeper::sweep(b.platform.store.as_ref(), b.platform.clock.as_ref(), 1_000).await.unwrap();

    assert_eq!(report.erased.get("usage_event"), Some(&1));
    assert!(stored_events(&b).await.is_empty());
}

async fn a_cancelled_account_leaves_no_usage_event(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    send_events(&b, &ada, events(40)).await;
    b.store_events().await;
    assert_eq!(stored_events(&b).await.len(), 40);
    // Five more wait for the worker when the account goes: erased where they wait.
    send_events(&b, &ada, events(5)).await;

    b.cancel("/v1/me", &ada, PASSWORD).await;
    b.store_events().await;

    assert!(stored_events(&b).await.is_empty());
    assert_eq!(b.count_of(&ada.user_id).await, 0);
}

/// The worker checks consent before the write and the fence after it: events of a person
/// whose erasure began in between do not wait for the job (which may be past them already).
async fn events_stored_after_the_fence_went_up_are_deleted_again(b: Backend) {
    let ada = user(&b).await;
    // A member: her own cancellation fences her at once (a last admin's fans out later).
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    b.put("/v1/me/consents/analytics_cookies", grace.bearer(), json!({"granted": true})).await;
    send_events(&b, &grace, events(5)).await;
    let (status, _) = b.delete("/v1/me", grace.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202);

    // The job has not run: her consent still stands when the worker checks it.
    b.store_events().await;
    let left = stored_events(&b).await;
    assert!(left.is_empty(), "undone at once: {left:#?}");
    b.process_rights().await;
    assert_eq!(b.count_of(&grace.user_id).await, 0);
}

#[tokio::test]
async fn ingestion_costs_full_batches_and_no_read_per_event() {
    let b = infentre_tests::backend::moto().await;
    let ada = user(&b).await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    let requests = b.requests.clone().unwrap();
    requests.reset();

    send_events(&b, &ada, events(75)).await;
    assert_eq!(requests.get("SQS.SendMessageBatch"), 8, "⌈75/10⌉");
    assert_eq!(requests.get("DynamoDB.UpdateItem"), 1, "the day's quota");
    assert_eq!(requests.get("DynamoDB.BatchWriteItem"), 3, "⌈75/25⌉: the events wait in the user's partition");
    requests.reset();
    b.store_events().await;

    assert_eq!(stored_events(&b).await.len(), 75);
    assert_eq!(
        requests.get("DynamoDB.BatchGetItem"),
        2,
        "the waiting events, read together (⌈75/100⌉); the users' erasure fences, after the write"
    );
    assert_eq!(
        requests.get("DynamoDB.BatchWriteItem"),
        6,
        "⌈75/25⌉ to store one batch of 75 from the queue, ⌈75/25⌉ to delete their waiting copies"
    );
    // With marketing sync on: analytics_cookies, then marketing_sharing (not granted here).
    assert_eq!(requests.get("DynamoDB.GetItem"), 2, "one check per purpose for the user, none per event");
    assert_eq!(requests.get("SQS.SendMessageBatch"), 0, "nothing queued for sharing without its consent");
}
