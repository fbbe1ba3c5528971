//! Bad input gets a precise problem+json answer from the shared HTTP plumbing, never a 500.

use axum::Router;
use axum::routing::post;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::Value;
use shared::error::ApiError;
use shared::http::{ApiJson, app};
use tower::ServiceExt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Consent {
    granted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Region {
    Eu,
    NonEu,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Signup {
    region: Region,
}

fn router() -> Router {
    app(Router::new()
        .route("/consent", post(|ApiJson(body): ApiJson<Consent>| async move { axum::Json(body.granted) }))
        .route(
            "/signup",
            post(|ApiJson(body): ApiJson<Signup>| async move { axum::Json(matches!(body.region, Region::Eu)) }),
        )
        .route(
            "/broken",
            post(|| async { Err::<(), _>(ApiError::internal(std::io::Error::other("disk on fire at /var/db"))) }),
        ))
}

async fn send(path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Option<String>, Value) {
    let mut request = http::Request::post(path);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = router().oneshot(request.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn problem(path: &str, content_type: Option<&str>, body: &str) -> (u16, String) {
    let (status, content_type, body) = send(path, content_type, body.as_bytes().to_vec()).await;
    assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    (status, body["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_valid_body_passes() {
    let (status, _, body) = send("/consent", Some("application/json"), br#"{"granted":true}"#.to_vec()).await;
    assert_eq!((status, body), (200, Value::Bool(true)));
}

#[tokio::test]
async fn malformed_json_is_400() {
    assert_eq!(problem("/consent", Some("application/json"), r#"{"granted":"#).await, (400, "malformed_json".into()));
}

#[tokio::test]
async fn a_wrong_type_is_422() {
    assert_eq!(
        problem("/consent", Some("application/json"), r#"{"granted":"yes"}"#).await,
        (422, "invalid_body".into())
    );
}

#[tokio::test]
async fn a_wrong_type_where_an_enum_belongs_is_422_not_malformed() {
    // serde_json calls these "syntax" errors; the body is JSON all the same.
    for body in [r#"{"region":-58800}"#, r#"{"region":{}}"#, r#"[null, null]"#, r#"{"region":"mars"}"#] {
        assert_eq!(problem("/signup", Some("application/json"), body).await, (422, "invalid_body".into()), "{body}");
    }
    assert_eq!(problem("/signup", Some("application/json"), r#"{"region":"eu""#).await, (400, "malformed_json".into()));
    assert_eq!(problem("/signup", Some("application/json"), "").await, (400, "malformed_json".into()));
}

#[tokio::test]
async fn a_json_suffix_media_type_is_json_too() {
    let (status, _, _) =
        send("/signup", Some("application/vnd.api+json; charset=utf-8"), br#"{"region":"eu"}"#.to_vec()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_unknown_field_is_422() {
    let (status, _, body) =
        send("/consent", Some("application/json"), br#"{"granted":true,"admin":true}"#.to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_body")));
    assert!(body["detail"].as_str().unwrap().contains("unknown field `admin`"));
}

#[tokio::test]
async fn a_missing_field_is_422() {
    assert_eq!(problem("/consent", Some("application/json"), "{}").await, (422, "invalid_body".into()));
}

#[tokio::test]
async fn another_content_type_is_415() {
    assert_eq!(
        problem("/consent", Some("text/plain"), r#"{"granted":true}"#).await,
        (415, "unsupported_media_type".into())
    );
    assert_eq!(problem("/consent", None, r#"{"granted":true}"#).await, (415, "unsupported_media_type".into()));
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let big = format!(r#"{{"granted":true,"pad":"{}"}}"#, "x".repeat(70 * 1024));
    assert_eq!(problem("/consent", Some("application/json"), &big).await, (413, "payload_too_large".into()));
}

#[tokio::test]
async fn an_internal_error_says_nothing_about_its_cause() {
    let (status, _, body) = send("/broken", None, Vec::new()).await;
    assert_eq!((status, body["code"].as_str()), (500, Some("internal_error")));
    let text = body.to_string();
    assert!(!text.contains("disk") && !text.contains("/var/db"), "{text}");
    assert!(text.contains("Error id: "));
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems_too() {
    assert_eq!(problem("/nowhere", Some("application/json"), "{}").await, (404, "not_found".into()));
    let response =
        router().oneshot(http::Request::get("/consent").body(axum::body::Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn an_undecodable_path_is_a_problem_too() {
    let app = app(Router::new().route(
        "/items/{id}",
        axum::routing::get(|axum::extract::Path(id): axum::extract::Path<u32>| async move { id.to_string() }),
    ));
    let response =
        app.oneshot(http::Request::get("/items/not-a-number").body(axum::body::Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}
