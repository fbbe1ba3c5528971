//! Signup, login and authenticating a request, on the embedded engine (SQLite file, WAL).
//! argon2id at OWASP parameters dominates signup and login by design.
//!
//! `cargo bench -p infentre-signup --bench accounts`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::clock::SystemClock;
use tower::ServiceExt;

async fn call(app: &axum::Router, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            axum::body::Body::from(json.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = shared::embedded::Engine::open_with_defaults(dir.path(), Arc::new(SystemClock)).unwrap();
    let app = shared::http::app(signup::routes().with_state(engine.platform.clone()));

    // One verified account to log in with (verified directly in the store).
    let token = runtime.block_on(async {
        let body =
            json!({"email": "bench@example.com", "password": "benchmarking password", "organisation_name": "Bench"});
        assert_eq!(call(&app, "POST", "/v1/signup", None, Some(body)).await.0, 202);
        let items = engine.store.dump().await.unwrap();
        let user = items.iter().find(|i| i.entity_type == "user").unwrap();
        let update = shared::store::Update::new().set("email_verified", true);
        engine.platform.store.update(&user.key, "user", update, None).await.unwrap();
        let (status, session) = call(
            &app,
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "bench@example.com", "password": "benchmarking password"})),
        )
        .await;
        assert_eq!(status, 201);
        session["token"].as_str().unwrap().to_owned()
    });

    let mut group = c.benchmark_group("accounts");
    group.sample_size(30);
    let n = AtomicU64::new(0);
    group.bench_function("signup", |b| {
        b.to_async(&runtime).iter(|| async {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let body = json!({"email": format!("user{i}@example.com"), "password": "benchmarking password", "organisation_name": "Bench"});
            assert_eq!(call(&app, "POST", "/v1/signup", None, Some(body)).await.0, 202);
        })
    });
    group.bench_function("login", |b| {
        b.to_async(&runtime).iter(|| async {
            let body = json!({"email": "bench@example.com", "password": "benchmarking password"});
            assert_eq!(call(&app, "POST", "/v1/sessions", None, Some(body)).await.0, 201);
        })
    });
    group.sample_size(100);
    group.bench_function("authenticated_get_organisation", |b| {
        b.to_async(&runtime).iter(|| async {
            assert_eq!(call(&app, "GET", "/v1/organisations/current", Some(&token), None).await.0, 200);
        })
    });
    group.finish();
}

criterion_group!(accounts, benches);
criterion_main!(accounts);
