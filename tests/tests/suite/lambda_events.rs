//! The real event shapes in `events/` drive the same code Lambda runs.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use http_body_util::BodyExt;
use infentre_tests::{clock, embedded_engine, outbox_files};
use mail_worker::MailWorker;
use shared::queue::batch::SqsEvent;
use shared::store::{Item, Key};
use tower::ServiceExt;

fn app(engine: &shared::embedded::Engine) -> axum::Router {
    shared::http::app(signup::routes().with_state(engine.platform.clone()))
}

async fn call(app: axum::Router, event: &str) -> (u16, String, String) {
    let request = lambda_http::request::from_str(event).expect("an API Gateway HTTP API event");
    let response = app.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, content_type, body)
}

#[tokio::test]
async fn an_http_api_event_reaches_the_function_router() {
    let (engine, _dir) = embedded_engine(&clock());
    let (status, content_type, body) =
        call(app(&engine), include_str!("../../../events/apigw-http-get-healthz.json")).await;
    assert_eq!((status, content_type.as_str(), body.as_str()), (200, "application/json", r#"{"status":"ok"}"#));
}

#[tokio::test]
async fn an_unknown_route_is_a_problem_document() {
    let (engine, _dir) = embedded_engine(&clock());
    let (status, content_type, body) =
        call(app(&engine), include_str!("../../../events/apigw-http-post-unknown.json")).await;
    assert_eq!((status, content_type.as_str()), (404, "application/problem+json"));
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "not_found");
    assert!(!body.contains("secret-value"), "the query string is not echoed");
}

#[tokio::test]
async fn the_mail_worker_sends_once_and_reports_the_bad_record() {
    let (engine, _dir) = embedded_engine(&clock());
    let worker = MailWorker::new(engine.platform.clone(), engine.mailer.clone());
    let event: SqsEvent = serde_json::from_str(include_str!("../../../events/sqs-mail.json")).unwrap();
    // The message carries the id of an e-mail waiting in the table (as `mail::enqueue` stores it).
    let email = shared::mail::Email::transactional(
        "ada@example.com",
        "Verify your e-mail address",
        "Open this link to verify your address:\nhttps://app.infentre.com/verify?token=abc",
    );
    let waiting = Item::new(shared::keys::outgoing_mail("01JDXQ6W7N3V4Y8Z2K5M9P1R3T"), "outgoing_mail");
    engine.platform.store.put(waiting.with_data(&email).unwrap(), None).await.unwrap();

    let first = worker.handle(event.clone()).await.unwrap();
    let redelivered = worker.handle(event).await.unwrap();

    for response in [first, redelivered] {
        let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["2e1424d4-f796-459a-8184-9c92662be6da"], "only the malformed record fails");
    }
    let sent = outbox_files(engine.mailer.dir());
    assert_eq!(sent.len(), 1, "a redelivered message is not sent twice");
    assert!(sent[0].contains("Subject: Verify your e-mail address"));
    assert!(sent[0].contains("token=abc"));
    let key = shared::keys::outgoing_mail("01JDXQ6W7N3V4Y8Z2K5M9P1R3T");
    assert!(engine.platform.store.get(&key).await.unwrap().is_none(), "sent, the stored e-mail is deleted");
}

#[tokio::test]
async fn the_marketing_worker_drops_what_has_no_consent_and_reports_the_bad_record() {
    let (engine, _dir) = embedded_engine(&clock());
    let recorder = infentre_tests::recorder::MarketingRecorder::start().await;
    let worker = marketing_worker::MarketingWorker::new(engine.platform.clone(), recorder.destinations());
    let event: SqsEvent = serde_json::from_str(include_str!("../../../events/sqs-marketing.json")).unwrap();

    let response = worker.handle(event).await.unwrap();

    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"], "only the malformed record fails");
    assert!(recorder.received().is_empty(), "no such user, no consent: nothing shared");
}

#[tokio::test]
async fn the_scheduled_event_runs_a_retention_run() {
    let clock = clock();
    let (engine, _dir) = embedded_engine(&clock);
    let _event: EventBridgeEvent =
        serde_json::from_str(include_str!("../../../events/schedule-retention-sweep.json")).expect("a scheduled event");
    let expired = Item::new(Key::new("SESSION#h", "SESSION"), "session").expires_at(clock_now(&clock) - 60);
    engine.platform.store.put(expired, None).await.unwrap();

    // What the Lambda answers the schedule with: the run's report.
    let report = retention_sweeper::on_schedule(&engine.platform).await.unwrap();

    assert_eq!(report["erased"]["session"], 1, "{report}");
    assert!(engine.store.dump().await.unwrap().iter().all(|item| item.entity_type != "session"));
}

#[tokio::test]
async fn a_schedule_while_another_run_holds_the_lease_is_skipped_not_failed() {
    let clock = clock();
    let (engine, _dir) = embedded_engine(&clock);
    let lease = Item::new(shared::keys::sweeper_lease(), "sweeper_lease")
        .with_data(&serde_json::json!({"holder": "another run"}))
        .unwrap()
        .expires_at(clock_now(&clock) + 600);
    engine.platform.store.put(lease, None).await.unwrap();

    let answer = retention_sweeper::on_schedule(&engine.platform).await.unwrap();

    assert_eq!(answer, serde_json::json!({ "skipped": "another sweep holds the lease" }));
}

fn clock_now(clock: &shared::clock::ManualClock) -> i64 {
    use shared::clock::Clock;
    clock.epoch_seconds()
}
