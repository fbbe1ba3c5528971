//! Marketing sync on both engines: usage goes to Google Analytics and Facebook only while
//! `marketing_sharing` is granted, checked when sending; identifiers hashed as each API asks,
//! never an address; each event once per destination; e-mail interactions as the sender's
//! usage, never the recipient's identity, and not at all once the recipient is suppressed.

use infentre_tests::backend::{Backend, PROPERTY_MARKER, Session};
use infentre_tests::recorder::{FACEBOOK_PATH, GA4_PATH, MarketingRecorder};
use infentre_tests::{on_both_engines, sendgrid_signature};
use marketing_worker::MarketingWorker;
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::hash::sha256_hex;
use shared::marketing::{Destination, DestinationId, HashedUser, SharedEvent, SyncMessage};
use shared::queue::QueueName;

const PASSWORD: &str = "sharing is optional";
const BROWSER: &str = "Mozilla/5.0 (Test) Firefox/999";

async fn ada(b: &Backend, sharing: bool) -> Session {
    let ada = b.admin("Ada.Lovelace@Example.com", PASSWORD, "Analytical Engines").await;
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    if sharing {
        b.put("/v1/me/consents/marketing_sharing", ada.bearer(), json!({"granted": true})).await;
    }
    ada
}

/// Each event carries [`PROPERTY_MARKER`] as a property: the queue scan after every test
/// proves it never reaches the marketing queue, and the destinations still get it.
async fn send_events(b: &Backend, session: &Session, n: usize) {
    let events: Vec<_> = (0..n)
        .map(|i| json!({"name": "page_view", "properties": {"page": format!("/p/{i}"), "note": PROPERTY_MARKER}}))
        .collect();
    let request = http::Request::post("/v1/events")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", session.token))
        .header("user-agent", BROWSER)
        .body(axum::body::Body::from(json!({ "events": events }).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    b.store_events().await;
}

fn worker(b: &Backend) -> MarketingWorker {
    MarketingWorker::new(b.platform.clone(), b.recorder.destinations())
}

/// Nothing that identifies a person in clear, and nothing of the browser or address, in
/// anything the recorder received.
fn assert_nothing_personal(recorder: &MarketingRecorder, needles: &[&str]) {
    for received in recorder.received() {
        let text = received.body.to_string().to_lowercase();
        for needle in needles.iter().chain(&["firefox", "127.0.0.1", "client_ip_address", "client_user_agent"]) {
            assert!(!text.contains(&needle.to_lowercase()), "{needle} was sent: {text}");
        }
    }
}

on_both_engines!(
    consented_usage_is_shared_with_hashed_identifiers_only,
    without_sharing_consent_nothing_is_queued_or_sent,
    a_withdrawal_stops_what_is_already_queued,
    an_erased_account_shares_nothing_still_queued,
    a_redelivery_sends_each_event_once_per_destination,
    a_failing_destination_is_retried_alone,
    the_same_event_twice_in_a_batch_is_sent_once,
    email_interactions_are_shared_as_the_senders_usage_unless_suppressed,
    what_a_destination_took_is_recorded_before_its_next_request,
    the_queue_carries_ids_and_the_events_wait_until_handled,
    an_event_erased_or_expired_while_queued_is_acknowledged_and_not_sent,
);

/// The marketing queue carries `{user_id, event_id}` only; the event (properties included)
/// waits in the user's partition, is read back by the worker and deleted once handled.
async fn the_queue_carries_ids_and_the_events_wait_until_handled(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 2).await;
    let event = b.take_messages(QueueName::Marketing).await;
    let mut waiting = Vec::new();
    for record in &event.records {
        let body: Value = serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
        let message: SyncMessage = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(body.as_object().unwrap().len(), 2, "ids only: {body}");
        assert_eq!(message.user_id, ada.user_id);
        let stored = b.platform.store.get(&message.pending_key()).await.unwrap().expect("the event waits");
        assert_eq!(stored.data::<SharedEvent>().unwrap().params["note"], PROPERTY_MARKER);
        waiting.push(message.pending_key());
    }

    let response = worker(&b).handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(b.recorder.at(GA4_PATH).len(), 1);
    for key in waiting {
        assert!(b.platform.store.get(&key).await.unwrap().is_none(), "the waiting copy is deleted once sent");
    }
}

/// An event that is no longer waiting (erased with its user's partition, or past the time a
/// destination would take it) is acknowledged with no effect; a failed send keeps the copy.
async fn an_event_erased_or_expired_while_queued_is_acknowledged_and_not_sent(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 2).await;
    let event = b.take_messages(QueueName::Marketing).await;
    let messages: Vec<SyncMessage> =
        event.records.iter().map(|r| serde_json::from_str(r.body.as_deref().unwrap()).unwrap()).collect();
    b.platform.store.delete(&messages[0].pending_key(), None).await.unwrap();

    b.recorder.answer(FACEBOOK_PATH, 500);
    let (response, summary) = worker(&b).process(event.clone()).await.unwrap();
    assert_eq!(summary.gone, 1, "the deleted one");
    assert_eq!(response.batch_item_failures.len(), 1, "the other failed at Facebook and comes back");
    assert!(b.platform.store.get(&messages[1].pending_key()).await.unwrap().is_some(), "kept for the retry");

    b.clock.advance(chrono::Duration::seconds(shared::marketing::PENDING_SECONDS_AFTER_EVENT + 1));
    b.recorder.answer(FACEBOOK_PATH, 200);
    let (response, summary) = worker(&b).process(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "acknowledged");
    assert_eq!(summary.gone, 2);
    assert_eq!(b.recorder.at(FACEBOOK_PATH).len(), 1, "only the failed request; nothing after expiry");
}

async fn consented_usage_is_shared_with_hashed_identifiers_only(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 3).await;
    b.share_events().await;

    let hashed = HashedUser::new(&ada.user_id, "ada.lovelace@example.com");
    let ga4 = b.recorder.at(GA4_PATH);
    assert_eq!(ga4.len(), 1, "one Measurement Protocol request for one user's events");
    assert_eq!(ga4[0].query["measurement_id"], "G-TEST123");
    assert_eq!(ga4[0].query["api_secret"], "ga4-secret");
    assert_eq!(ga4[0].body["client_id"], hashed.id);
    assert_eq!(ga4[0].body["user_data"]["sha256_email_address"], json!([sha256_hex(b"ada.lovelace@example.com")]));
    let names: Vec<&Value> = ga4[0].body["events"].as_array().unwrap().iter().map(|e| &e["name"]).collect();
    assert_eq!(names, vec!["page_view"; 3]);
    assert_eq!(ga4[0].body["events"][0]["params"]["note"], PROPERTY_MARKER, "the properties still reach GA4");

    let facebook = b.recorder.at(FACEBOOK_PATH);
    assert_eq!(facebook.len(), 1);
    assert_eq!(facebook[0].query["access_token"], "fb-token");
    let data = facebook[0].body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for event in data {
        assert_eq!(event["custom_data"]["note"], PROPERTY_MARKER, "and Facebook, from the stored event");
        assert_eq!(event["action_source"], "other", "website events would need the browser string");
        assert_eq!(
            event["user_data"],
            json!({"em": [sha256_hex(b"ada.lovelace@example.com")], "external_id": [hashed.id]})
        );
    }
    assert_nothing_personal(&b.recorder, &["ada.lovelace", &ada.user_id]);
}

async fn without_sharing_consent_nothing_is_queued_or_sent(b: Backend) {
    let ada = ada(&b, false).await;
    send_events(&b, &ada, 3).await;
    assert!(b.take_messages(QueueName::Marketing).await.records.is_empty(), "nothing queued for sharing");
    b.share_events().await;
    assert!(b.recorder.received().is_empty());
}

async fn a_withdrawal_stops_what_is_already_queued(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 4).await;
    b.put("/v1/me/consents/marketing_sharing", ada.bearer(), json!({"granted": false})).await;

    b.share_events().await;

    assert!(b.recorder.received().is_empty(), "nothing sent after the withdrawal");
    assert!(b.take_messages(QueueName::Marketing).await.records.is_empty(), "the messages were consumed, not retried");
    send_events(&b, &ada, 2).await;
    assert!(b.take_messages(QueueName::Marketing).await.records.is_empty(), "nor queued any more");
}

async fn an_erased_account_shares_nothing_still_queued(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 2).await;
    b.cancel("/v1/me", &ada, PASSWORD).await;
    b.share_events().await;
    assert!(b.recorder.received().is_empty());
}

async fn a_redelivery_sends_each_event_once_per_destination(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 5).await;
    let event = b.take_messages(QueueName::Marketing).await;
    assert_eq!(event.records.len(), 5);
    let worker = worker(&b);

    for _ in 0..2 {
        let response = worker.handle(event.clone()).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }

    assert_eq!(b.recorder.at(GA4_PATH).len(), 1);
    assert_eq!(b.recorder.at(FACEBOOK_PATH).len(), 1);
}

async fn a_failing_destination_is_retried_alone(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 3).await;
    let event = b.take_messages(QueueName::Marketing).await;
    let worker = worker(&b);
    b.recorder.answer(FACEBOOK_PATH, 500);

    let (response, summary) = worker.process(event.clone()).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 3, "every record Facebook did not take fails");
    assert_eq!(summary.sent.get(DestinationId::GoogleAnalytics.as_str()), Some(&3));

    b.recorder.answer(FACEBOOK_PATH, 200);
    let (response, summary) = worker.process(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.sent.get(DestinationId::Facebook.as_str()), Some(&3));
    assert_eq!(summary.sent.get(DestinationId::GoogleAnalytics.as_str()), None, "GA4 already had them");
    assert_eq!(b.recorder.at(GA4_PATH).len(), 1);
    assert_eq!(b.recorder.at(FACEBOOK_PATH).len(), 2, "the failed request and its retry");
}

async fn the_same_event_twice_in_a_batch_is_sent_once(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 1).await;
    let mut event = b.take_messages(QueueName::Marketing).await;
    let mut copy = event.records[0].clone();
    copy.message_id = Some("a-redelivered-copy".into());
    event.records.push(copy);

    let response = worker(&b).handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    let ga4 = b.recorder.at(GA4_PATH);
    assert_eq!(ga4.len(), 1);
    assert_eq!(ga4[0].body["events"].as_array().unwrap().len(), 1, "GA4 does not deduplicate: we do");
}

async fn email_interactions_are_shared_as_the_senders_usage_unless_suppressed(b: Backend) {
    let ada = ada(&b, true).await;
    let now = b.clock.epoch_seconds();
    let open = |email: &str, id: &str| {
        json!({
            "email": email, "timestamp": now - 60, "event": "open", "sg_event_id": id,
            "ip": "198.51.100.23", "useragent": "SecretBrowser/42",
            "organisation_id": ada.organisation_id, "user_id": ada.user_id,
        })
    };
    let body = json!([open("bob@customer.example", "ev-bob"), open("carol@customer.example", "ev-carol")]).to_string();
    let timestamp = now.to_string();
    let request = http::Request::post("/v1/webhooks/sendgrid")
        .header("content-type", "application/json")
        .header("x-twilio-email-event-webhook-signature", sendgrid_signature(&timestamp, body.as_bytes()))
        .header("x-twilio-email-event-webhook-timestamp", &timestamp)
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Carol's data is erased (and she is suppressed) while her open waits in the queue.
    let (status, _) =
        b.delete("/v1/organisations/current/recipients/carol%40customer.example", ada.bearer(), json!({})).await;
    assert_eq!(status, 200);

    b.share_events().await;

    let facebook = b.recorder.at(FACEBOOK_PATH);
    assert_eq!(facebook.len(), 1);
    let data = facebook[0].body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "only Bob's open; Carol is suppressed");
    assert_eq!(data[0]["event_name"], "email_open");
    assert_eq!(data[0]["action_source"], "email");
    assert_eq!(data[0]["event_id"], "sg:ev-bob");
    assert_eq!(
        data[0]["user_data"]["em"],
        json!([sha256_hex(b"ada.lovelace@example.com")]),
        "the sender, who consented"
    );
    let bob = sha256_hex(b"bob@customer.example");
    assert_nothing_personal(&b.recorder, &["customer.example", &bob, "198.51.100.23", "SecretBrowser"]);
}

/// The destination port's contract: the outbox writes exactly the body the HTTP adapter posts.
#[tokio::test]
async fn a_batch_reads_each_user_once_and_the_events_in_one_batch_read() {
    let b = infentre_tests::backend::moto().await;
    let ada = ada(&b, true).await;
    send_events(&b, &ada, 10).await;
    let event = b.take_messages(QueueName::Marketing).await;
    assert_eq!(event.records.len(), 10);
    let requests = b.requests.clone().unwrap();
    requests.reset();

    let response = worker(&b).handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(b.recorder.at(GA4_PATH).len(), 1);
    assert_eq!(requests.get("DynamoDB.GetItem"), 2, "the user's consent and account, once for ten events");
    assert_eq!(requests.get("DynamoDB.BatchGetItem"), 1, "the ten waiting events and their sent records in one read");
    assert_eq!(
        requests.get("DynamoDB.BatchWriteItem"),
        3,
        "what each destination took, one write each, and the waiting events deleted in one"
    );
}

#[tokio::test]
async fn the_outbox_holds_exactly_what_http_would_send() {
    let recorder = MarketingRecorder::start_accepting_anything().await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"client_id": "abc", "events": [{"name": "page_view", "params": {"page": "/"}}]});
    for id in [DestinationId::GoogleAnalytics, DestinationId::Facebook] {
        let outbox = shared::marketing::outbox::OutboxDestination::new(dir.path(), id).unwrap();
        outbox.send(&body).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(outbox.dir()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "one file, no temporary left behind");
        let written: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        assert_eq!(written, body);
    }
    for destination in recorder.destinations() {
        destination.send(&body).await.unwrap();
    }
    let received: Vec<Value> = recorder.received().into_iter().map(|r| r.body).collect();
    assert_eq!(received, vec![body.clone(), body]);
}

#[tokio::test]
async fn a_refusing_destination_is_reported_as_refused_without_its_secret() {
    let recorder = MarketingRecorder::start_accepting_anything().await;
    recorder.answer(GA4_PATH, 400);
    let ga4 = recorder.destinations().into_iter().find(|d| d.id() == DestinationId::GoogleAnalytics).unwrap();
    let err = ga4.send(&json!({})).await.unwrap_err();
    assert!(matches!(err, shared::marketing::SyncError::Refused { .. }), "{err}");
    assert!(!err.to_string().contains("ga4-secret") && !format!("{ga4:?}").contains("ga4-secret"));
}

/// Lets the first request through to the recorder, then hangs as a destination that never
/// answers would, until the Lambda times out.
#[derive(Debug)]
struct HangsAfterFirst {
    inner: std::sync::Arc<dyn Destination>,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Destination for HangsAfterFirst {
    fn id(&self) -> DestinationId {
        self.inner.id()
    }
    async fn send(&self, body: &Value) -> Result<(), shared::marketing::SyncError> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return self.inner.send(body).await;
        }
        std::future::pending().await
    }
    async fn erase(&self, user: &str) -> Result<shared::marketing::erasure::Erased, shared::marketing::SyncError> {
        self.inner.erase(user).await
    }
}

/// L2: GA4 took the first of two requests, then the invocation died on the second; the
/// redelivery sends only what GA4 had not taken (it does not deduplicate).
async fn what_a_destination_took_is_recorded_before_its_next_request(b: Backend) {
    let ada = ada(&b, true).await;
    send_events(&b, &ada, shared::marketing::GA4_MAX_EVENTS + 5).await;
    let event = b.take_messages(QueueName::Marketing).await;
    let ga4 = b.recorder.destinations().into_iter().find(|d| d.id() == DestinationId::GoogleAnalytics).unwrap();
    let hanging = HangsAfterFirst { inner: ga4, calls: Default::default() };
    let dying = MarketingWorker::new(b.platform.clone(), vec![std::sync::Arc::new(hanging)]);

    let timed_out = tokio::time::timeout(std::time::Duration::from_secs(2), dying.process(event.clone())).await;
    assert!(timed_out.is_err(), "the second request hangs");
    assert_eq!(b.recorder.at(GA4_PATH).len(), 1);

    let (response, summary) = worker(&b).process(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.sent.get(DestinationId::GoogleAnalytics.as_str()), Some(&5), "only what GA4 had not taken");
    let ga4 = b.recorder.at(GA4_PATH);
    assert_eq!(ga4.len(), 2);
    assert_eq!(ga4[1].body["events"].as_array().map(Vec::len), Some(5));
}
