//! A panic never takes the process down: a panicking request is answered 500 problem+json
//! and the server keeps serving; a panicking worker message fails alone and comes back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use futures::FutureExt;
use http_body_util::BodyExt;
use infentre_tests::{clock, shared_clock};
use serde_json::Value;
use shared::embedded::SqliteDb;
use shared::mail::{Email, MailError, Mailer, OutgoingMail};
use shared::queue::poller::{Poller, Worker};
use shared::queue::sqlite::SqliteQueue;
use shared::queue::{Queue, QueueName};
use tower::ServiceExt;

fn panicking_app() -> Router {
    shared::http::app(
        Router::new()
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("a bug in one handler")
                    }
                }),
            )
            .route("/fine", get(|| async { "fine" })),
    )
}

#[tokio::test]
async fn a_panicking_request_is_answered_500_problem_and_the_next_request_is_served() {
    let app = panicking_app();

    let response = app.clone().oneshot(http::Request::get("/panic").body(axum::body::Body::empty()).unwrap()).await;

    let response = response.expect("an answer, not a dropped connection");
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff", "the usual layers still apply");
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000", "HTTPS only (HSTS)");
    let body: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["code"], "internal_error");
    assert!(!body.to_string().contains("a bug in one handler"), "the panic stays inside: {body}");
    let next = app.oneshot(http::Request::get("/fine").body(axum::body::Body::empty()).unwrap()).await.unwrap();
    assert_eq!(next.status().as_u16(), 200);
}

#[tokio::test]
async fn a_panicking_request_on_a_real_socket_leaves_the_server_serving() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, panicking_app()).await });
    let client = reqwest::Client::new();

    let panicked = client.get(format!("{url}/panic")).send().await.unwrap();
    let fine = client.get(format!("{url}/fine")).send().await.unwrap();

    assert_eq!(panicked.status().as_u16(), 500);
    assert_eq!(fine.text().await.unwrap(), "fine");
}

#[tokio::test]
async fn a_panicking_worker_leaves_its_messages_for_redelivery_and_the_poller_running() {
    let clock = clock();
    let queue: Arc<dyn Queue> = Arc::new(SqliteQueue::new(SqliteDb::in_memory().unwrap(), shared_clock(&clock), 5));
    queue.send_batch(QueueName::Mail, vec!["one".into(), "two".into()]).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let worker: Worker = Arc::new(move |event| {
        let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            assert!(!first, "a bug that hits the first batch");
            assert_eq!(event.records.len(), 2);
            Ok(shared::queue::batch::SqsBatchResponse::default())
        }
        .boxed()
    });
    let visibility = Duration::from_secs(30);
    let poller = Poller { queue: queue.clone(), name: QueueName::Mail, worker, visibility, batch_size: 10 };

    assert_eq!(poller.poll_once().await.unwrap(), 2, "the panicking batch is received, and survived");
    assert_eq!(poller.poll_once().await.unwrap(), 0, "hidden until the visibility timeout");
    clock.advance(chrono::TimeDelta::seconds(31));
    assert_eq!(poller.poll_once().await.unwrap(), 2, "redelivered, and handled this time");
    clock.advance(chrono::TimeDelta::seconds(31));

    assert_eq!(poller.poll_once().await.unwrap(), 0, "handled messages are deleted");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A mail provider that panics on one recipient (a bug in an adapter), and sends the rest.
#[derive(Debug, Default)]
struct PanicsOnOneRecipient {
    sent: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Mailer for PanicsOnOneRecipient {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if email.to == "boom@example.com" {
            panic!("an adapter bug");
        }
        self.sent.lock().unwrap().push(email.to.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_worker_message_that_panics_fails_alone_and_the_rest_of_the_batch_is_sent() {
    let (engine, _dir) = infentre_tests::embedded_engine(&clock());
    let mailer = Arc::new(PanicsOnOneRecipient::default());
    let worker = mail_worker::MailWorker::new(engine.platform.clone(), mailer.clone());
    let email = |to: &str| Email::transactional(to, "Hello", "Hi");
    let emails = vec![email("ada@example.com"), email("boom@example.com"), email("bob@example.com")];
    shared::mail::enqueue(&engine.platform, emails).await.unwrap();
    let messages = engine.platform.queue.receive(QueueName::Mail, 10, Duration::from_secs(60)).await.unwrap();
    let mut records = Vec::new();
    for message in messages {
        // The message holds an id only: which recipient it is for is in the stored e-mail.
        let mail: OutgoingMail = serde_json::from_str(&message.body).unwrap();
        let to = shared::mail::stored(&engine.platform, &mail.id).await.unwrap().unwrap().to;
        let label = if to == "boom@example.com" { "m2" } else { "m1" };
        let id = format!("{label}-{}", mail.id);
        records.push(
            serde_json::json!({"messageId": id, "body": message.body, "attributes": {"ApproximateReceiveCount": "1"}}),
        );
    }
    assert_eq!(records.len(), 3);
    let event = serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();

    let response = worker.handle(event).await.expect("the batch completes");

    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed.len(), 1, "only the panicking record comes back: {failed:?}");
    assert!(failed[0].starts_with("m2-"), "{failed:?}");
    let mut sent = mailer.sent.lock().unwrap().clone();
    sent.sort();
    assert_eq!(sent, vec!["ada@example.com", "bob@example.com"]);
}
