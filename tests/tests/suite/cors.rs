//! CORS on `POST /v1/cookie-consents` alone, on both engines: the configured origins (the
//! website and app that embed the banner) may post a choice and read the answer; other
//! origins get no CORS header, and no other route answers a preflight.

use http_body_util::BodyExt;
use infentre_tests::backend::Backend;
use infentre_tests::{BANNER_ORIGIN, on_both_engines};
use tower::ServiceExt;

on_both_engines!(
    the_banner_s_origins_may_post_cookie_choices_and_read_the_answer,
    other_origins_and_other_routes_get_no_cors,
);

async fn send(b: &Backend, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> http::Response<Vec<u8>> {
    let mut request = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = b.app.clone().oneshot(request.body(axum::body::Body::from(body.to_owned())).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes().to_vec())
}

fn header<'a>(response: &'a http::Response<Vec<u8>>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

const CHOICE: &str = r#"{"analytics": true, "marketing": false}"#;

async fn the_banner_s_origins_may_post_cookie_choices_and_read_the_answer(b: Backend) {
    let preflight = [
        ("origin", BANNER_ORIGIN),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let answer = send(&b, "OPTIONS", "/v1/cookie-consents", &preflight, "").await;
    assert_eq!(answer.status(), 204);
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(BANNER_ORIGIN));
    assert_eq!(header(&answer, "access-control-allow-methods"), Some("POST"));
    assert_eq!(header(&answer, "access-control-allow-headers"), Some("content-type"));
    assert!(header(&answer, "access-control-allow-credentials").is_none(), "no cookies cross origins");
    assert!(header(&answer, "vary").is_some_and(|v| v.contains("Origin")));

    let choice = [("origin", BANNER_ORIGIN), ("content-type", "application/json")];
    let answer = send(&b, "POST", "/v1/cookie-consents", &choice, CHOICE).await;
    assert_eq!(answer.status(), 201, "{}", String::from_utf8_lossy(answer.body()));
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(BANNER_ORIGIN));
    let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
    assert!(body["visitor_id"].is_string());
}

async fn other_origins_and_other_routes_get_no_cors(b: Backend) {
    for (origin, method) in [("https://evil.example", "POST"), (BANNER_ORIGIN, "DELETE"), ("null", "POST")] {
        let preflight = [("origin", origin), ("access-control-request-method", method)];
        let answer = send(&b, "OPTIONS", "/v1/cookie-consents", &preflight, "").await;
        assert_eq!(answer.status(), 403, "{origin} {method}");
        assert!(header(&answer, "access-control-allow-origin").is_none());
    }
    let choice = [("origin", "https://evil.example"), ("content-type", "application/json")];
    let answer = send(&b, "POST", "/v1/cookie-consents", &choice, CHOICE).await;
    assert_eq!(answer.status(), 201, "a simple request still reaches us; the browser keeps the answer from the page");
    assert!(header(&answer, "access-control-allow-origin").is_none());

    let preflight = [("origin", BANNER_ORIGIN), ("access-control-request-method", "POST")];
    for path in ["/v1/me/consents/product_updates", "/v1/events", "/v1/sessions"] {
        let answer = send(&b, "OPTIONS", path, &preflight, "").await;
        assert!(header(&answer, "access-control-allow-origin").is_none(), "{path}");
        assert_ne!(answer.status(), 204, "{path}");
    }
}
