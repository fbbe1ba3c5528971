//! Art. 19 on both engines: when a person is erased, Google Analytics is asked (through the
//! User Deletion API, signed in as the test service account) to delete the user id we sent it,
//! and Facebook is recorded as not possible. The stand-in checks the token grant's JWT with the
//! key's public half and the upsert body; a failing Google is retried later and never holds up
//! the erasure.

use std::collections::HashMap;
use std::sync::Arc;

use infentre_tests::backend::{Backend, Session};
use infentre_tests::on_both_engines;
use infentre_tests::recorder::{GA4_DELETION_PATH, GA4_PATH, GA4_PROPERTY_ID};
use marketing_worker::MarketingWorker;
use serde_json::{Value, json};
use shared::marketing::erasure::{self, EraseMessage, RecipientErasure, RecipientStatus};
use shared::marketing::{Destination, DestinationId, FACEBOOK_NO_DELETION, pseudonymous_id};
use shared::queue::QueueName;

const PASSWORD: &str = "tell the recipients";

async fn grace(b: &Backend) -> (Session, String) {
    let grace = b.admin("Grace.Hopper@Example.com", PASSWORD, "Compilers").await;
    let (_, me) = b.get("/v1/me", grace.bearer()).await;
    let user_id = me["user_id"].as_str().expect("the user id").to_owned();
    b.put("/v1/me/consents/analytics_cookies", grace.bearer(), json!({"granted": true})).await;
    b.put("/v1/me/consents/marketing_sharing", grace.bearer(), json!({"granted": true})).await;
    (grace, user_id)
}

/// Shares one usage event, so GA4 knows the user id the erasure must name.
async fn share_one_event(b: &Backend, who: &Session) -> String {
    let (status, _) = b.post("/v1/events", who.bearer(), json!({"events": [{"name": "page_view"}]})).await;
    assert_eq!(status, 202);
    b.store_events().await;
    b.share_events().await;
    let sent = b.recorder.at(GA4_PATH);
    assert_eq!(sent.len(), 1);
    sent[0].body["user_id"].as_str().expect("GA4 got a user id").to_owned()
}

/// The erasure job the erase call names: the person's own job (a sole admin's cancellation
/// erases the organisation, whose job runs one job per member).
fn erased_job(b: &Backend) -> String {
    let calls: Vec<EraseMessage> = b
        .queued
        .all()
        .into_iter()
        .filter(|(queue, _)| *queue == QueueName::Marketing)
        .filter_map(|(_, body)| serde_json::from_str(&body).ok())
        .collect();
    assert_eq!(calls.len(), 1, "one erase call queued: {calls:?}");
    calls[0].marketing_erasure.clone()
}

fn by_destination(records: &[RecipientErasure], destination: &str) -> RecipientErasure {
    records.iter().find(|r| r.destination == destination).cloned().unwrap_or_else(|| panic!("no {destination} record"))
}

on_both_engines!(
    an_erasure_asks_google_to_delete_the_id_it_was_sent_and_records_facebook_as_not_possible,
    a_failing_google_is_retried_later_and_the_erasure_completes_without_it,
    without_google_configured_nothing_is_sent_or_recorded_for_it,
    a_call_left_failing_is_queued_again_by_the_sweeper_until_google_confirms,
    a_call_that_keeps_failing_is_reported_once_and_does_not_block_the_others,
);

async fn sweep(b: &Backend) -> shared::retention::RetentionReport {
    retention_sweeper::run(&b.platform, retention_sweeper::BUDGET).await.expect("a retention run")
}

/// Every erase message waiting on the marketing queue, through the worker `receives` times
/// (each a failed receive while Google is down); then the messages are deleted, as SQS moves
/// them into the dead-letter queue.
async fn fail_every_receive(b: &Backend, receives: usize) {
    let mut received = Vec::new();
    loop {
        let got = b.platform.queue.receive(QueueName::Marketing, 10, std::time::Duration::from_secs(60)).await.unwrap();
        if got.is_empty() {
            break;
        }
        received.extend(got);
    }
    let records: Vec<Value> = received.iter().map(|m| json!({"messageId": m.message_id, "body": m.body})).collect();
    let event: shared::queue::batch::SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let worker = MarketingWorker::new(b.platform.clone(), b.recorder.destinations());
    for _ in 0..receives {
        let (response, _) = worker.process(event.clone()).await.unwrap();
        assert_eq!(response.batch_item_failures.len(), received.len(), "Google is down");
    }
    for message in received {
        b.platform.queue.delete(QueueName::Marketing, &message.receipt).await.unwrap();
    }
}

fn google(records: &[RecipientErasure]) -> RecipientErasure {
    by_destination(records, "google_analytics")
}

/// The queue gave up on the call (5 receives, then the dead-letter queue); the sweeper queues
/// it again an hour later, and Google, back by then, confirms. Nothing is queued before it is
/// due, nor after it is confirmed.
async fn a_call_left_failing_is_queued_again_by_the_sweeper_until_google_confirms(b: Backend) {
    let (grace, _) = grace(&b).await;
    let sent_id = share_one_event(&b, &grace).await;
    b.recorder.answer(GA4_DELETION_PATH, 500);
    b.cancel("/v1/me", &grace, PASSWORD).await;
    let job_id = &erased_job(&b);
    fail_every_receive(&b, 5).await;
    let records = erasure::records(&b.platform, job_id).await.unwrap();
    assert_eq!((google(&records).status, google(&records).attempts), (RecipientStatus::Requested, 5));

    b.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(sweep(&b).await.erase_calls_requeued, 0, "not due yet");
    assert!(b.take_messages(QueueName::Marketing).await.records.is_empty());

    b.clock.advance(chrono::Duration::minutes(2));
    b.recorder.answer(GA4_DELETION_PATH, 200);
    let report = sweep(&b).await;
    assert_eq!((report.erase_calls_requeued, report.erase_calls_failing), (1, 0), "{report:?}");
    b.share_events().await;

    let records = erasure::records(&b.platform, job_id).await.unwrap();
    assert_eq!((google(&records).status, google(&records).attempts), (RecipientStatus::Confirmed, 6));
    let statuses: Vec<u16> = b.recorder.deletions().iter().map(|(_, status)| *status).collect();
    assert_eq!(statuses, vec![500, 500, 500, 500, 500, 200]);
    assert_eq!(b.recorder.deletions()[5].0["id"]["userId"], json!(sent_id), "the same pseudonymous id");
    assert!(b.platform.store.get(&shared::keys::erase_call(job_id)).await.unwrap().is_none(), "nothing waits");
    b.clock.advance(chrono::Duration::days(3));
    assert_eq!(sweep(&b).await.erase_calls_requeued, 0, "confirmed: never queued again");
}

/// Grace's call fails through every re-queue: the DPO is told once and the sweeper stops; Ada's
/// call, due in the same run, is queued again and confirmed all the same.
async fn a_call_that_keeps_failing_is_reported_once_and_does_not_block_the_others(b: Backend) {
    let (grace, _) = grace(&b).await;
    b.recorder.answer(GA4_DELETION_PATH, 500);
    b.cancel("/v1/me", &grace, PASSWORD).await;
    let grace_job = erased_job(&b);
    fail_every_receive(&b, 5).await;
    let mut backoffs = Vec::new();
    for requeues in 0..erasure::MAX_REQUEUES {
        let wait = erasure::PendingCall::backoff(requeues);
        backoffs.push(wait / 3600);
        b.clock.advance(chrono::Duration::seconds(wait));
        let report = sweep(&b).await;
        assert_eq!((report.erase_calls_requeued, report.erase_calls_failing), (1, 0), "re-queue {requeues}");
        fail_every_receive(&b, 1).await;
    }
    assert_eq!(backoffs, vec![1, 2, 4, 8, 16, 32], "an hour, then doubling");

    let ada = b.admin("Ada.Lovelace@Example.com", PASSWORD, "Engines").await;
    b.cancel("/v1/me", &ada, PASSWORD).await;
    fail_every_receive(&b, 5).await;
    let calls: Vec<String> = b
        .queued
        .all()
        .into_iter()
        .filter_map(|(_, body)| serde_json::from_str::<EraseMessage>(&body).ok())
        .map(|call| call.marketing_erasure)
        .filter(|job| *job != grace_job)
        .collect();
    let ada_job = calls.first().expect("Ada's erase call").clone();

    b.clock.advance(chrono::Duration::seconds(erasure::PendingCall::backoff(erasure::MAX_REQUEUES)));
    b.recorder.answer(GA4_DELETION_PATH, 200);
    let report = sweep(&b).await;
    assert_eq!((report.erase_calls_requeued, report.erase_calls_failing), (1, 1), "{report:?}");
    b.share_events().await;

    let ada_records = erasure::records(&b.platform, &ada_job).await.unwrap();
    assert_eq!(google(&ada_records).status, RecipientStatus::Confirmed, "Ada's call went through");
    let grace_records = erasure::records(&b.platform, &grace_job).await.unwrap();
    assert_eq!(google(&grace_records).status, RecipientStatus::Requested, "the proof of the attempts stays");
    assert_eq!(google(&grace_records).attempts, 5 + erasure::MAX_REQUEUES);
    assert!(b.platform.store.get(&shared::keys::erase_call(&grace_job)).await.unwrap().is_none(), "dropped");
    b.clock.advance(chrono::Duration::days(10));
    let report = sweep(&b).await;
    assert_eq!((report.erase_calls_requeued, report.erase_calls_failing), (0, 0), "reported once, then left");
    b.deliver_mail().await;
    let alarms: Vec<String> = infentre_tests::outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| m.contains(&format!("To: {}", b.platform.settings.dpo.email)) && m.contains(&grace_job))
        .collect();
    assert_eq!(alarms.len(), 1, "the DPO is told once");
}

async fn an_erasure_asks_google_to_delete_the_id_it_was_sent_and_records_facebook_as_not_possible(b: Backend) {
    let (grace, user_id) = grace(&b).await;
    let sent_id = share_one_event(&b, &grace).await;
    assert_eq!(sent_id, pseudonymous_id(&user_id), "GA4 knows the user by the pseudonymous id, not ours");

    b.cancel("/v1/me", &grace, PASSWORD).await;
    let job_id = &erased_job(&b);
    b.share_events().await;

    let deletions = b.recorder.deletions();
    assert_eq!(deletions.len(), 1, "{deletions:?}");
    let (body, status) = &deletions[0];
    assert_eq!(*status, 200);
    assert_eq!(body["id"], json!({"type": "USER_ID", "userId": sent_id}));
    assert_eq!(body["propertyId"], GA4_PROPERTY_ID);
    assert_eq!(b.recorder.token_grants(), 1, "one signed token grant");

    let records = erasure::records(&b.platform, job_id).await.unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    let google = by_destination(&records, "google_analytics");
    assert_eq!((google.status, google.attempts), (RecipientStatus::Confirmed, 1));
    assert!(google.provider_time.is_some(), "Google's deletion request time is kept as proof");
    let facebook = by_destination(&records, "facebook");
    assert_eq!(facebook.status, RecipientStatus::NotPossible);
    assert_eq!(facebook.reason.as_deref(), Some(FACEBOOK_NO_DELETION));

    // The proof names the job and the destinations, nothing of the person.
    let text = serde_json::to_string(&records).unwrap();
    for needle in [user_id.as_str(), sent_id.as_str(), "@", "grace"] {
        assert!(!text.to_lowercase().contains(needle), "{needle} in {text}");
    }
    assert!(b.traces_of(&[&user_id, "grace.hopper@example.com"]).await.is_empty());

    // A redelivered erase message tells nobody twice.
    let again = json!({"marketing_erasure": job_id, "user": sent_id}).to_string();
    b.platform.queue.send(QueueName::Marketing, again).await.unwrap();
    b.share_events().await;
    assert_eq!(b.recorder.deletions().len(), 1);
}

async fn a_failing_google_is_retried_later_and_the_erasure_completes_without_it(b: Backend) {
    let (grace, _) = grace(&b).await;
    let sent_id = share_one_event(&b, &grace).await;
    b.recorder.answer(GA4_DELETION_PATH, 500);

    // The job completes whatever Google does: it only queues the erase call.
    let progress = b.cancel("/v1/me", &grace, PASSWORD).await;
    let job_id = &erased_job(&b);

    let event = b.take_messages(QueueName::Marketing).await;
    assert_eq!(event.records.len(), 1, "one erase call queued");
    let worker = MarketingWorker::new(b.platform.clone(), b.recorder.destinations());
    let (response, summary) = worker.process(event.clone()).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1, "the message fails, so the queue brings it back");
    assert_eq!(summary.erasures, 0);
    let records = erasure::records(&b.platform, job_id).await.unwrap();
    let google = by_destination(&records, "google_analytics");
    assert_eq!((google.status, google.attempts), (RecipientStatus::Requested, 1));
    assert!(google.last_error.as_deref().unwrap_or_default().contains("HTTP 500"), "{google:?}");
    assert_eq!(by_destination(&records, "facebook").status, RecipientStatus::NotPossible);
    assert_eq!(progress["status"], "completed");
    let (status, own) = b.get(&format!("/v1/erasure-jobs/{job_id}"), infentre_tests::Auth::None).await;
    assert_eq!((status, own["status"].as_str()), (200, Some("completed")), "the person's own job too");

    // Google is back: the redelivery confirms, and Facebook is not asked again.
    b.recorder.answer(GA4_DELETION_PATH, 200);
    let (response, summary) = worker.process(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.erasures, 1);
    let records = erasure::records(&b.platform, job_id).await.unwrap();
    let google = by_destination(&records, "google_analytics");
    assert_eq!((google.status, google.attempts, google.last_error.clone()), (RecipientStatus::Confirmed, 2, None));
    assert_eq!(by_destination(&records, "facebook").attempts, 1);
    let statuses: Vec<u16> = b.recorder.deletions().iter().map(|(_, status)| *status).collect();
    assert_eq!(statuses, vec![500, 200]);
    let bodies: Vec<Value> = b.recorder.deletions().into_iter().map(|(body, _)| body["id"]["userId"].clone()).collect();
    assert_eq!(bodies, vec![json!(sent_id), json!(sent_id)]);
}

/// Locally an unconfigured GA4 is an outbox folder; in AWS it is absent. Either way nothing
/// reached Google, so nobody is asked and nothing is recorded for it.
async fn without_google_configured_nothing_is_sent_or_recorded_for_it(b: Backend) {
    let (grace, _) = grace(&b).await;
    b.cancel("/v1/me", &grace, PASSWORD).await;
    let job_id = erased_job(&b);
    let dir = tempfile::tempdir().unwrap();
    let outbox = shared::marketing::outbox::OutboxDestination::new(dir.path(), DestinationId::GoogleAnalytics).unwrap();
    let facebook = b.recorder.destinations().into_iter().filter(|d| d.id() == DestinationId::Facebook);
    for destinations in [facebook.collect::<Vec<_>>(), vec![Arc::new(outbox) as Arc<dyn Destination>]] {
        let worker = MarketingWorker::new(b.platform.clone(), destinations);
        let response = worker.handle(b.take_messages(QueueName::Marketing).await).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
        let message = json!({"marketing_erasure": job_id, "user": "x"}).to_string();
        b.platform.queue.send(QueueName::Marketing, message).await.unwrap();
    }
    let records = erasure::records(&b.platform, &job_id).await.unwrap();
    let destinations: Vec<&str> = records.iter().map(|r| r.destination.as_str()).collect();
    assert_eq!(destinations, vec!["facebook"]);
    assert!(b.recorder.deletions().is_empty() && b.recorder.token_grants() == 0);
    assert_eq!(std::fs::read_dir(dir.path().join("google_analytics")).unwrap().count(), 0, "nothing written");
}

/// The stand-in's checks bite: an assertion signed by another key, or asking for another
/// scope, is refused.
#[tokio::test]
async fn the_token_endpoint_refuses_an_assertion_it_cannot_verify() {
    use infentre_tests::provider_rules::ga4_user_deletion::{Expected, GRANT_TYPE, grant_violations};
    use infentre_tests::recorder::{MarketingRecorder, SERVICE_ACCOUNT_EMAIL};
    let recorder = MarketingRecorder::start().await;
    let signer = shared::marketing::google::Signer::from_json(&recorder.service_account_key()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let public =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/support/ga4/test-service-account.pub.der")).unwrap();
    let token_uri = format!("{}/token", recorder.url);
    let expected = Expected { client_email: SERVICE_ACCOUNT_EMAIL, token_uri: &token_uri, public_key: &public, now };
    let form = |assertion: String| {
        HashMap::from([("grant_type".to_owned(), GRANT_TYPE.to_owned()), ("assertion".to_owned(), assertion)])
    };

    let good = signer.assertion(now).unwrap();
    assert_eq!(grant_violations(&form(good.clone()), &expected), Vec::<String>::new());

    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{signing_input}.{}", "A".repeat(342));
    assert!(grant_violations(&form(forged), &expected).iter().any(|v| v.starts_with("signature")));
    let stale = signer.assertion(now - 7200).unwrap();
    assert!(grant_violations(&form(stale), &expected).iter().any(|v| v.starts_with("claims.iat")));
    let elsewhere = Expected { token_uri: "https://oauth2.googleapis.com/token", ..expected };
    assert!(grant_violations(&form(good), &elsewhere).iter().any(|v| v.starts_with("claims.aud")));
}
