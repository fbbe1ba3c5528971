//! `POST /v1/cookie-consents` needs no sign-in, so what one visitor id and one client address
//! can make the ledger hold is capped (review L9), on both engines.

use std::sync::Arc;

use axum::Router;
use consent::visitors::{CHOICE_LIFETIME_SECONDS, CHOICES_PER_VISITOR};
use http_body_util::BodyExt;
use infentre_tests::backend::Backend;
use infentre_tests::on_both_engines;
use serde_json::{Value, json};
use shared::store::{Query, SortKey, query_all};

on_both_engines!(
    a_visitor_id_records_at_most_its_cap_of_choices_until_they_expire,
    a_client_address_posts_at_most_its_hourly_choices,
);

/// One banner choice, from `client` if given; the status, `Retry-After` and body.
async fn choose(app: &Router, client: Option<&str>, body: Value) -> (u16, Option<u64>, Value) {
    let mut request = http::Request::post("/v1/cookie-consents")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    if let Some(client) = client {
        request.extensions_mut().insert(shared::http::ClientAddress(client.parse().unwrap()));
    }
    let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The proofs the ledger holds for a visitor.
async fn proofs_of(b: &Backend, visitor_id: &str) -> usize {
    let key = shared::keys::visitor_cookie_ledger(visitor_id, "");
    let query = Query::partition(key.pk).sort(SortKey::BeginsWith(key.sk));
    query_all(b.platform.store.as_ref(), query).await.unwrap().len()
}

async fn a_visitor_id_records_at_most_its_cap_of_choices_until_they_expire(b: Backend) {
    let (status, _, first) = choose(&b.app, None, json!({"analytics": true, "marketing": false})).await;
    assert_eq!(status, 201, "{first}");
    let visitor_id = first["visitor_id"].as_str().unwrap().to_owned();
    let again = json!({"visitor_id": visitor_id, "analytics": false, "marketing": false});
    for n in 1..CHOICES_PER_VISITOR {
        let (status, _, body) = choose(&b.app, None, again.clone()).await;
        assert_eq!(status, 201, "choice {}: {body}", n + 1);
    }

    let (status, retry_after, problem) = choose(&b.app, None, again.clone()).await;

    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")), "{problem}");
    let retry_after = retry_after.expect("Retry-After");
    assert!(
        (CHOICE_LIFETIME_SECONDS - 5..=CHOICE_LIFETIME_SECONDS).contains(&(retry_after as i64)),
        "until the last choice's proof expires: {retry_after}"
    );
    assert_eq!(proofs_of(&b, &visitor_id).await, CHOICES_PER_VISITOR as usize, "the refused choice left no proof");
    let (status, _, _) = choose(&b.app, None, json!({"analytics": true, "marketing": true})).await;
    assert_eq!(status, 201, "another visitor is not affected");

    // When the state and every proof it counted have expired, the id may choose again.
    b.clock.advance(chrono::Duration::seconds(retry_after as i64 + 1));
    let (status, _, body) = choose(&b.app, None, again).await;
    assert_eq!(status, 201, "{body}");
}

async fn a_client_address_posts_at_most_its_hourly_choices(b: Backend) {
    let mut platform = b.platform.clone();
    let mut settings = (*platform.settings).clone();
    settings.cookie_consents_per_client_hour = 3;
    platform.settings = Arc::new(settings);
    let app = consent::routes().with_state(platform);
    let choice = json!({"analytics": true, "marketing": false});
    for _ in 0..3 {
        let (status, _, body) = choose(&app, Some("198.51.100.7"), choice.clone()).await;
        assert_eq!(status, 201, "{body}");
    }

    let (status, retry_after, problem) = choose(&app, Some("198.51.100.7"), choice.clone()).await;

    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")), "{problem}");
    assert!(retry_after.is_some_and(|s| (1..=3600).contains(&s)), "{retry_after:?}");
    let (status, _, _) = choose(&app, Some("203.0.113.9"), choice).await;
    assert_eq!(status, 201, "another address is not affected");
    // The counter is keyed by a hash: the address itself is stored nowhere.
    assert!(b.traces_of(&["198.51.100.7"]).await.is_empty());
}
