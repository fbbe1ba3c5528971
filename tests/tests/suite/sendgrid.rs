//! SendGrid's Event Webhook on both engines: signed, stored without the opener's IP address or
//! browser, deduplicated, filed under the organisation, and erasable per recipient.

use infentre_tests::backend::{Backend, Session};
use infentre_tests::{call, on_both_engines, sendgrid_signature};
use serde_json::{Value, json};
use shared::clock::Clock;

const PASSWORD: &str = "newsletters for all";
const OPENER_IP: &str = "198.51.100.23";
const OPENER_AGENT: &str = "Mozilla/5.0 (Macintosh) SecretBrowser/42";

async fn admin(b: &Backend) -> Session {
    b.admin("ada@example.com", PASSWORD, "Analytical Engines").await
}

fn open_event(organisation_id: &str, email: &str, sg_event_id: &str) -> Value {
    json!({
        "email": email, "timestamp": 1_795_900_000, "event": "open", "sg_event_id": sg_event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "ip": OPENER_IP,
        "useragent": OPENER_AGENT, "organisation_id": organisation_id, "category": ["product_updates"],
    })
}

async fn post_webhook(b: &Backend, body: &[u8], signature: Option<String>, timestamp: &str) -> (u16, Value) {
    let mut request = http::Request::post("/v1/webhooks/sendgrid").header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request
            .header("x-twilio-email-event-webhook-signature", signature)
            .header("x-twilio-email-event-webhook-timestamp", timestamp);
    }
    let response =
        tower::ServiceExt::oneshot(b.app.clone(), request.body(axum::body::Body::from(body.to_vec())).unwrap())
            .await
            .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Signed now, as SendGrid signs each delivery.
async fn deliver(b: &Backend, events: Value) -> (u16, Value) {
    let body = events.to_string();
    let now = b.clock.epoch_seconds().to_string();
    post_webhook(b, body.as_bytes(), Some(sendgrid_signature(&now, body.as_bytes())), &now).await
}

async fn interactions(b: &Backend) -> Vec<String> {
    b.table_text().await.into_iter().filter(|t| t.contains("email_interaction") && !t.contains("erasure_job")).collect()
}

on_both_engines!(
    a_signed_open_is_stored_without_the_openers_address_or_browser,
    unsigned_or_tampered_deliveries_store_nothing,
    a_retried_delivery_stores_nothing_twice,
    an_admin_erases_one_recipient_and_suppresses_them,
    a_cancelled_organisation_leaves_no_interaction,
    an_organisation_being_erased_keeps_no_new_interaction,
    stale_batches_and_cancelled_organisations_store_nothing,
    a_user_id_from_another_organisation_is_not_trusted,
    a_click_is_stored_without_its_query_string_or_fragment,
    events_from_the_future_are_ignored_not_a_panic,
);

async fn a_signed_open_is_stored_without_the_openers_address_or_browser(b: Backend) {
    let ada = admin(&b).await;
    let events = json!([
        open_event(&ada.organisation_id, "Customer@Example.net", "evt-1"),
        {"email": "x@example.net", "timestamp": 1, "event": "open", "sg_event_id": "evt-foreign"},
    ]);

    let (status, body) = deliver(&b, events).await;

    assert_eq!((status, body), (200, json!({"stored": 1, "ignored": 1})));
    assert_eq!(interactions(&b).await.len(), 1);
    let everything = b.table_text().await.join("\n");
    for secret in
        [OPENER_IP, "198.51.100", OPENER_AGENT, "SecretBrowser", "Customer@Example.net", "customer@example.net"]
    {
        assert!(!everything.contains(secret), "{secret} was stored");
    }
}

async fn unsigned_or_tampered_deliveries_store_nothing(b: Backend) {
    let ada = admin(&b).await;
    let body = json!([open_event(&ada.organisation_id, "c@example.net", "evt-1")]).to_string();
    let now = b.clock.epoch_seconds();
    let (ts, next) = (now.to_string(), (now + 1).to_string());
    let signature = sendgrid_signature(&ts, body.as_bytes());
    let tampered = body.replace("open", "click");
    // One character of the signature changed (a fixed position: `replace` could find nothing).
    let mut altered = signature.clone();
    let swap = if &altered[20..21] == "A" { "B" } else { "A" };
    altered.replace_range(20..21, swap);
    let cases = [
        (body.as_bytes().to_vec(), None, ts.as_str()),
        (tampered.as_bytes().to_vec(), Some(signature.clone()), &ts),
        (body.as_bytes().to_vec(), Some(signature.clone()), &next),
        (format!("{body}\r\n").into_bytes(), Some(signature.clone()), &ts),
        (body.as_bytes().to_vec(), Some(altered), &ts),
        (body.as_bytes().to_vec(), Some("garbage".into()), &ts),
    ];
    for (payload, signature, timestamp) in cases {
        let (status, problem) = post_webhook(&b, &payload, signature, timestamp).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("invalid_signature")));
    }
    // Signed but not SendGrid's shape: refused after the check, nothing stored.
    let (status, _) =
        post_webhook(&b, b"{\"not\":\"an array\"}", Some(sendgrid_signature(&ts, b"{\"not\":\"an array\"}")), &ts)
            .await;
    assert_eq!(status, 400);
    assert!(interactions(&b).await.is_empty());
}

/// M3: a signed batch replayed later, or one for an organisation that is gone, stores nothing.
async fn stale_batches_and_cancelled_organisations_store_nothing(b: Backend) {
    let ada = admin(&b).await;
    let body = json!([open_event(&ada.organisation_id, "c@example.net", "evt-1")]).to_string();
    let signed_at = b.clock.epoch_seconds();
    let ts = signed_at.to_string();
    let signature = sendgrid_signature(&ts, body.as_bytes());
    b.clock.advance(chrono::Duration::seconds(tracking::sendgrid::SIGNATURE_TOLERANCE_SECONDS + 1));

    let (status, problem) = post_webhook(&b, body.as_bytes(), Some(signature.clone()), &ts).await;

    assert_eq!((status, problem["code"].as_str()), (401, Some("invalid_signature")));
    assert!(interactions(&b).await.is_empty());

    // The organisation is cancelled; SendGrid (or anyone holding an old batch) delivers anew.
    b.cancel("/v1/organisations/current", &ada, PASSWORD).await;
    let (status, answer) = deliver(&b, serde_json::from_str(&body).unwrap()).await;
    assert_eq!((status, answer), (200, json!({"stored": 0, "ignored": 1})));
    assert_eq!(b.count_of(&ada.organisation_id).await, 0, "nothing re-created under the erased organisation");
}

/// M3: `user_id` is the sender's claim; an id from another organisation is not shared as ours.
async fn a_user_id_from_another_organisation_is_not_trusted(b: Backend) {
    let ada = admin(&b).await;
    let eve = b.admin("eve@example.org", "another organisation", "Eve Corp").await;
    let mut theirs = open_event(&ada.organisation_id, "c@example.net", "evt-eve");
    theirs["user_id"] = json!(eve.user_id);
    let mut ours = open_event(&ada.organisation_id, "d@example.net", "evt-ada");
    ours["user_id"] = json!(ada.user_id);

    let (status, answer) = deliver(&b, json!([theirs, ours])).await;

    assert_eq!((status, answer), (200, json!({"stored": 2, "ignored": 0})));
    // Both test backends share marketing: one message for Ada's open, none for the other.
    let shared: Vec<String> =
        b.take_messages(shared::queue::QueueName::Marketing).await.records.into_iter().filter_map(|r| r.body).collect();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert!(shared[0].contains(&ada.user_id) && !shared[0].contains(&eve.user_id));
}

/// L13: a clicked link's query string and fragment (tokens, addresses, campaign ids) are not kept.
async fn a_click_is_stored_without_its_query_string_or_fragment(b: Backend) {
    let ada = admin(&b).await;
    let mut click = open_event(&ada.organisation_id, "c@example.net", "evt-click");
    click["event"] = json!("click");
    click["url"] = json!("https://shop.example.com/offer?reset_token=s3cr3t&email=c%40example.net#utm_frag");

    let (status, answer) = deliver(&b, json!([click])).await;

    assert_eq!((status, answer), (200, json!({"stored": 1, "ignored": 0})));
    let stored = interactions(&b).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("https://shop.example.com/offer"), "{stored:?}");
    for secret in ["reset_token", "s3cr3t", "c%40example.net", "utm_frag"] {
        assert!(!stored[0].contains(secret), "{secret} was stored: {stored:?}");
    }
}

async fn a_retried_delivery_stores_nothing_twice(b: Backend) {
    let ada = admin(&b).await;
    let events = json!([
        open_event(&ada.organisation_id, "c@example.net", "evt-1"),
        open_event(&ada.organisation_id, "c@example.net", "evt-1"),
        open_event(&ada.organisation_id, "d@example.net", "evt-2"),
    ]);
    assert_eq!(deliver(&b, events.clone()).await.0, 200);
    assert_eq!(deliver(&b, events).await.0, 200);
    assert_eq!(interactions(&b).await.len(), 2);
}

async fn an_admin_erases_one_recipient_and_suppresses_them(b: Backend) {
    let ada = admin(&b).await;
    let other = b.admin("eve@example.org", "another organisation", "Eve Corp").await;
    let org = ada.organisation_id.clone();
    deliver(
        &b,
        json!([
            open_event(&org, "gone@example.net", "e1"),
            open_event(&org, "gone@example.net", "e2"),
            open_event(&org, "stays@example.net", "e3"),
            open_event(&other.organisation_id, "gone@example.net", "e4"),
        ]),
    )
    .await;
    assert_eq!(interactions(&b).await.len(), 4);
    let grace = b.member(&ada, "grace@example.com", "members cannot erase", "member").await;
    assert_eq!(
        b.delete("/v1/organisations/current/recipients/gone@example.net", grace.bearer(), Value::Null).await.0,
        403
    );

    let (status, body) =
        b.delete("/v1/organisations/current/recipients/Gone%40Example.net", ada.bearer(), Value::Null).await;

    assert_eq!((status, body), (200, json!({"erased": 2, "suppressed": true})));
    assert_eq!(interactions(&b).await.len(), 2, "the other recipient and the other organisation keep theirs");
    let (_, later) = deliver(&b, json!([open_event(&org, "gone@example.net", "e5")])).await;
    assert_eq!(later, json!({"stored": 0, "ignored": 1}), "suppressed from now on");
    let (status, problem) =
        b.delete("/v1/organisations/current/recipients/not-an-address", ada.bearer(), Value::Null).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_email")));
}

async fn a_cancelled_organisation_leaves_no_interaction(b: Backend) {
    let ada = admin(&b).await;
    let events: Vec<_> =
        (0..30).map(|n| open_event(&ada.organisation_id, &format!("c{n}@example.net"), &format!("e{n}"))).collect();
    deliver(&b, Value::Array(events)).await;
    b.delete("/v1/organisations/current/recipients/c0@example.net", ada.bearer(), Value::Null).await;

    b.cancel("/v1/organisations/current", &ada, PASSWORD).await;

    assert!(interactions(&b).await.is_empty());
    assert_eq!(b.count_of(&ada.organisation_id).await, 0, "interactions and suppressions went with it");
}

/// Its job may already be past the interactions (and SendGrid retries for 72 hours): what
/// arrives once the fence stands is not kept, even before the job has run.
async fn an_organisation_being_erased_keeps_no_new_interaction(b: Backend) {
    let ada = admin(&b).await;
    let (status, _, accepted) =
        call(&b.app, "DELETE", "/v1/organisations/current", ada.bearer(), Some(json!({"password": PASSWORD}))).await;
    assert_eq!(status, 202, "{accepted}");
    let events = json!([
        open_event(&ada.organisation_id, "late@example.net", "l1"),
        open_event(&ada.organisation_id, "late@example.net", "l2")
    ]);
    let (status, result) = deliver(&b, events).await;
    assert_eq!((status, result), (200, json!({"stored": 0, "ignored": 2})));
    assert!(interactions(&b).await.is_empty(), "nothing waits for the job to find");
    b.process_rights().await;
    assert_eq!(b.count_of(&ada.organisation_id).await, 0);
}

/// A signed batch's event cannot postdate the signature; one dated at the end of time would
/// overflow its expiry. Ignored, the rest stored.
async fn events_from_the_future_are_ignored_not_a_panic(b: Backend) {
    let ada = admin(&b).await;
    let mut far = open_event(&ada.organisation_id, "c@example.net", "evt-far");
    far["timestamp"] = json!(i64::MAX);
    let mut tomorrow = open_event(&ada.organisation_id, "c@example.net", "evt-tomorrow");
    tomorrow["timestamp"] = json!(b.clock.epoch_seconds() + 86_400);
    let mut now = open_event(&ada.organisation_id, "c@example.net", "evt-now");
    now["timestamp"] = json!(b.clock.epoch_seconds());

    let (status, answer) = deliver(&b, json!([far, tomorrow, now])).await;

    assert_eq!((status, answer), (200, json!({"stored": 1, "ignored": 2})));
    assert_eq!(interactions(&b).await.len(), 1);
}
