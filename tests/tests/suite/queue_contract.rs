//! The queue contract, run against the embedded SQLite queue and SQS (moto), including the
//! poller that feeds workers exactly as Lambda's SQS event source does.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use infentre_tests::{create_queues, moto_clients, unique};
use shared::aws::RequestCounter;
use shared::embedded::SqliteDb;
use shared::queue::batch::{self, Record, RecordError, SqsEvent};
use shared::queue::poller::{Poller, Worker};
use shared::queue::sqlite::SqliteQueue;
use shared::queue::sqs::SqsQueue;
use shared::queue::{MAX_MESSAGE_BYTES, Queue, QueueError, QueueName};

/// Both engines redrive to the dead-letter queue after this many receives in these tests.
const MAX_RECEIVES: u32 = 2;
/// The shortest visibility SQS takes is one second; the embedded queue keeps real time too.
const VISIBILITY: Duration = Duration::from_secs(1);

struct Fixture {
    queue: Arc<dyn Queue>,
    requests: Option<RequestCounter>,
}

async fn sqlite() -> Fixture {
    // Visibility runs on real time here, as it does in SQS.
    let queue = SqliteQueue::new(SqliteDb::in_memory().unwrap(), Arc::new(shared::clock::SystemClock), MAX_RECEIVES);
    Fixture { queue: Arc::new(queue), requests: None }
}

async fn moto() -> Fixture {
    let clients = moto_clients().await;
    let urls = create_queues(&clients, &unique("q"), MAX_RECEIVES).await;
    clients.requests.reset();
    Fixture { queue: Arc::new(SqsQueue::new(clients.sqs.clone(), urls)), requests: Some(clients.requests) }
}

infentre_tests::contract!(
    sqlite_queue = sqlite,
    sqs_queue_on_moto = moto;

    a_sent_message_is_received_with_its_body_and_receive_count,
    a_received_message_is_hidden_then_redelivered_unless_deleted,
    a_batch_of_25_goes_out_in_3_requests_and_all_arrive,
    oversized_and_empty_messages_are_refused_before_sending,
    a_message_received_too_often_moves_to_the_dead_letter_queue,
    the_poller_deletes_successes_and_redelivers_failures,
    queues_are_separate,
    one_receive_never_returns_a_message_twice,
);

async fn receive_all(queue: &dyn Queue, name: QueueName) -> Vec<shared::queue::ReceivedMessage> {
    let mut all = Vec::new();
    for _ in 0..20 {
        let got = queue.receive(name, 10, Duration::from_secs(30)).await.unwrap();
        if got.is_empty() {
            break;
        }
        all.extend(got);
    }
    all
}

async fn a_sent_message_is_received_with_its_body_and_receive_count(f: Fixture) {
    f.queue.send(QueueName::Mail, r#"{"template":"verify","user_id":"01J"}"#.into()).await.unwrap();

    let received = f.queue.receive(QueueName::Mail, 10, VISIBILITY).await.unwrap();

    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, r#"{"template":"verify","user_id":"01J"}"#);
    assert_eq!(received[0].receive_count, 1);
    assert!(!received[0].message_id.is_empty() && !received[0].receipt.is_empty());
}

async fn a_received_message_is_hidden_then_redelivered_unless_deleted(f: Fixture) {
    f.queue.send_batch(QueueName::Tracking, vec!["keep".into(), "ack".into()]).await.unwrap();
    let first = f.queue.receive(QueueName::Tracking, 10, VISIBILITY).await.unwrap();
    assert_eq!(first.len(), 2);
    let ack = first.iter().find(|m| m.body == "ack").unwrap();
    f.queue.delete(QueueName::Tracking, &ack.receipt).await.unwrap();

    assert!(f.queue.receive(QueueName::Tracking, 10, VISIBILITY).await.unwrap().is_empty(), "hidden while in flight");
    tokio::time::sleep(VISIBILITY + Duration::from_millis(300)).await;

    let again = f.queue.receive(QueueName::Tracking, 10, VISIBILITY).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("keep", 2));
}

async fn a_batch_of_25_goes_out_in_3_requests_and_all_arrive(f: Fixture) {
    let bodies: Vec<String> = (0..25).map(|n| format!("event-{n:02}")).collect();
    f.queue.send_batch(QueueName::Tracking, bodies.clone()).await.unwrap();
    if let Some(requests) = &f.requests {
        assert_eq!(requests.get("SQS.SendMessageBatch"), 3, "⌈25/10⌉ requests");
    }

    let mut received: Vec<String> =
        receive_all(f.queue.as_ref(), QueueName::Tracking).await.into_iter().map(|m| m.body).collect();
    received.sort();
    assert_eq!(received, bodies);
}

async fn oversized_and_empty_messages_are_refused_before_sending(f: Fixture) {
    let oversized = f.queue.send(QueueName::Mail, "x".repeat(MAX_MESSAGE_BYTES + 1)).await;
    assert!(matches!(oversized, Err(QueueError::MessageTooLarge { .. })));
    assert!(matches!(f.queue.send(QueueName::Mail, String::new()).await, Err(QueueError::Invalid(_))));
    assert!(matches!(f.queue.receive(QueueName::Mail, 11, VISIBILITY).await, Err(QueueError::Invalid(_))));
    if let Some(requests) = &f.requests {
        assert_eq!(requests.total(), 0, "nothing reached SQS");
    }
}

async fn a_message_received_too_often_moves_to_the_dead_letter_queue(f: Fixture) {
    f.queue.send(QueueName::Rights, "poison".into()).await.unwrap();
    for attempt in 1..=MAX_RECEIVES {
        let got = f.queue.receive(QueueName::Rights, 10, VISIBILITY).await.unwrap();
        assert_eq!(got.len(), 1, "delivery {attempt}");
        tokio::time::sleep(VISIBILITY + Duration::from_millis(300)).await;
    }

    // The receive after the last allowed one moves it instead of delivering it.
    assert!(f.queue.receive(QueueName::Rights, 10, VISIBILITY).await.unwrap().is_empty());
    let dead = f.queue.receive_dead_letters(QueueName::Rights, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
}

async fn the_poller_deletes_successes_and_redelivers_failures(f: Fixture) {
    f.queue
        .send_batch(QueueName::Mail, vec!["ok-1".into(), "fail".into(), "ok-2".into(), "not json".into()])
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let worker: Worker = {
        let seen = seen.clone();
        Arc::new(move |event: SqsEvent| {
            let seen = seen.clone();
            async move {
                let response = batch::process(event, 4, |record: Record| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push((record.body.clone(), record.receive_count));
                        match record.body.as_str() {
                            "fail" | "not json" => Err(RecordError::Failed("cannot".into())),
                            _ => Ok(()),
                        }
                    }
                })
                .await?;
                Ok(response)
            }
            .boxed()
        })
    };
    let poller =
        Poller { queue: f.queue.clone(), name: QueueName::Mail, worker, visibility: VISIBILITY, batch_size: 10 };

    let mut processed = 0;
    while processed < 4 {
        let n = poller.poll_once().await.unwrap();
        assert!(n > 0, "all four are visible at first");
        processed += n;
    }
    tokio::time::sleep(VISIBILITY + Duration::from_millis(300)).await;
    let redelivered = poller.poll_once().await.unwrap();

    assert_eq!(redelivered, 2, "only the two failures come back");
    let mut second_round: Vec<_> =
        seen.lock().unwrap().iter().filter(|(_, count)| *count == 2).map(|(body, _)| body.clone()).collect();
    second_round.sort();
    assert_eq!(second_round, ["fail", "not json"]);
}

async fn queues_are_separate(f: Fixture) {
    f.queue.send(QueueName::Mail, "for mail".into()).await.unwrap();
    assert!(f.queue.receive(QueueName::Tracking, 10, VISIBILITY).await.unwrap().is_empty());
    assert_eq!(f.queue.receive(QueueName::Mail, 10, VISIBILITY).await.unwrap().len(), 1);
}

async fn one_receive_never_returns_a_message_twice(f: Fixture) {
    f.queue.send_batch(QueueName::Mail, vec!["a".into(), "b".into()]).await.unwrap();
    // A zero visibility timeout leaves them visible at once, yet one call returns each once.
    let got = f.queue.receive(QueueName::Mail, 10, Duration::ZERO).await.unwrap();
    let mut bodies: Vec<_> = got.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, ["a", "b"]);
}

/// L5: the embedded queue keeps a dead letter as long as the template's dead-letter queues
/// keep theirs (14 days from sending), not for ever.
#[tokio::test]
async fn the_embedded_queue_drops_dead_letters_after_14_days() {
    let clock = infentre_tests::clock();
    let queue = SqliteQueue::new(SqliteDb::in_memory().unwrap(), infentre_tests::shared_clock(&clock), 1);
    queue.send(QueueName::Marketing, "poison".into()).await.unwrap();
    assert_eq!(queue.receive(QueueName::Marketing, 10, VISIBILITY).await.unwrap().len(), 1);
    clock.advance(chrono::Duration::seconds(2));
    assert!(queue.receive(QueueName::Marketing, 10, VISIBILITY).await.unwrap().is_empty(), "moved");

    clock.advance(chrono::Duration::days(13));
    assert_eq!(queue.receive_dead_letters(QueueName::Marketing, 10).await.unwrap().len(), 1, "kept 13 days");
    clock.advance(chrono::Duration::days(1));
    assert!(queue.receive(QueueName::Marketing, 10, VISIBILITY).await.unwrap().is_empty());
    assert!(queue.receive_dead_letters(QueueName::Marketing, 10).await.unwrap().is_empty(), "gone after 14");
}
