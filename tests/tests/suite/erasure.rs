//! Erasure as a job, on both engines: the fence that stands from the first instant, the job
//! that streams, checkpoints and resumes, the export/erasure race, and after each erasure an
//! independent look through everything the system keeps (not through the registry).

use std::time::{Duration, Instant};

use infentre_tests::backend::{Backend, Session};
use infentre_tests::pages::OpenForm;
use infentre_tests::{Auth, call, on_both_engines};
use serde_json::json;
use shared::accounts::AccountError;
use shared::clock::Clock;
use shared::consent::{self, Method, PurposeId, RecordError};
use shared::domain::Role;
use shared::erasure::job::{self, JobStatus, Origin, SliceOutcome, Target};
use shared::erasure::{Subject, fence};
use shared::queue::QueueName;
use shared::store::BatchOp;

const PASSWORD: &str = "analytical engine 1843";

on_both_engines!(
    a_cancellation_fences_at_once_and_a_second_one_gets_the_same_job,
    the_job_streams_checkpoints_and_resumes_from_redelivery,
    an_export_written_after_the_fence_is_refused_and_undone,
    an_erasure_filed_beside_an_export_completes_with_nothing_left,
    an_organisation_cancellation_fans_out_and_leaves_nothing,
    an_organisation_being_erased_takes_no_new_member_or_invitation,
    a_page_form_opened_before_the_fence_is_refused_after_it,
    a_member_being_erased_gets_no_new_role,
    no_rights_request_is_stored_for_someone_being_erased,
    bad_input_to_erasure,
    the_logs_of_a_journey_to_erasure_hold_no_address,
    a_mail_waiting_for_the_subject_is_erased_and_its_message_does_nothing,
    a_job_whose_saves_are_retried_after_they_landed_still_runs_to_the_end,
    the_link_waiting_for_a_new_address_is_erased_with_the_person,
    a_hand_back_that_fails_after_the_completion_is_retried_by_the_redelivery,
);

/// A queue that refuses the first hand-back of a rights request (a `RightsMessage`), as SQS
/// refusing a send or the Lambda dying right after the completion was saved.
#[derive(Debug)]
struct RefusesFirstHandBack {
    inner: std::sync::Arc<dyn shared::queue::Queue>,
    refused: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl shared::queue::Queue for RefusesFirstHandBack {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), shared::queue::QueueError> {
        let hand_back = queue == QueueName::Rights && bodies.iter().any(|body| body.contains("\"request_id\""));
        if hand_back && !self.refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(shared::queue::QueueError::NotAccepted { failed: bodies.len() });
        }
        self.inner.send_batch(queue, bodies).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<shared::queue::ReceivedMessage>, shared::queue::QueueError> {
        self.inner.receive(queue, max, visibility).await
    }
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), shared::queue::QueueError> {
        self.inner.delete(queue, receipt).await
    }
    async fn receive_dead_letters(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<shared::queue::ReceivedMessage>, shared::queue::QueueError> {
        self.inner.receive_dead_letters(queue, max).await
    }
}

/// The job is saved completed, then handing the request back fails: the job message fails,
/// and its redelivery (for a completed job) hands the request back, which completes; the
/// requester is told once.
async fn a_hand_back_that_fails_after_the_completion_is_retried_by_the_redelivery(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "admin").await;
    with_events(&b, &grace, 3).await;
    let erasure = json!({"type": "erasure", "password": PASSWORD});
    let (status, filed) = b.post("/v1/rights-requests", grace.bearer(), erasure).await;
    assert_eq!(status, 201, "{filed}");
    let request_path = format!("/v1/rights-requests/{}", filed["id"].as_str().unwrap());
    let mut platform = b.platform.clone();
    platform.queue =
        std::sync::Arc::new(RefusesFirstHandBack { inner: b.platform.queue.clone(), refused: Default::default() });

    let mut redelivered = 0;
    for _ in 0..100 {
        let event = b.take_messages(QueueName::Rights).await;
        if event.records.is_empty() {
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        // A batch of one that fails is the whole batch failing (an error to the Lambda).
        let failed = match rights_worker::handle_until(&platform, event.clone(), deadline).await {
            Ok(answer) => !answer.batch_item_failures.is_empty(),
            Err(shared::queue::batch::BatchError::AllFailed(1)) => true,
            Err(err) => panic!("{err}"),
        };
        if !failed {
            continue;
        }
        let (_, request) = b.get(&request_path, ada.bearer()).await;
        assert_ne!(request["status"], "completed", "not handed back: {request}");
        let answer = rights_worker::handle_until(&platform, event, deadline).await.unwrap();
        assert!(answer.batch_item_failures.is_empty(), "the redelivery hands the request back");
        redelivered += 1;
    }
    assert_eq!(redelivered, 1, "the hand-back failed once");

    let (status, request) = b.get(&request_path, ada.bearer()).await;
    assert_eq!((status, request["status"].as_str()), (200, Some("completed")), "{request}");
    b.deliver_mail().await;
    let told = infentre_tests::outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| m.contains("To: grace@example.com") && m.contains("Everything we held about you is erased"))
        .count();
    assert_eq!(told, 1, "the requester is told once");
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

/// A store whose every transaction is sent twice and answered by the second attempt: what an
/// SDK retry does after the first attempt landed and its answer got lost, when the backend
/// ignores the idempotency token (moto does; DynamoDB honours it for 10 minutes).
#[derive(Debug)]
struct AnswerLost(std::sync::Arc<dyn shared::store::Store>);

#[async_trait::async_trait]
impl shared::store::Store for AnswerLost {
    async fn get(&self, key: &shared::store::Key) -> Result<Option<shared::store::Item>, shared::store::StoreError> {
        self.0.get(key).await
    }
    async fn put(
        &self,
        item: shared::store::Item,
        condition: Option<shared::store::Condition>,
    ) -> Result<(), shared::store::StoreError> {
        self.0.put(item, condition).await
    }
    async fn update(
        &self,
        key: &shared::store::Key,
        entity_type: &str,
        update: shared::store::Update,
        condition: Option<shared::store::Condition>,
    ) -> Result<shared::store::Item, shared::store::StoreError> {
        self.0.update(key, entity_type, update, condition).await
    }
    async fn delete(
        &self,
        key: &shared::store::Key,
        condition: Option<shared::store::Condition>,
    ) -> Result<Option<shared::store::Item>, shared::store::StoreError> {
        self.0.delete(key, condition).await
    }
    async fn query(&self, query: shared::store::Query) -> Result<shared::store::Page, shared::store::StoreError> {
        self.0.query(query).await
    }
    async fn transact(&self, ops: Vec<shared::store::TransactOp>) -> Result<(), shared::store::StoreError> {
        self.0.transact(ops.clone()).await?;
        self.0.transact(ops).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), shared::store::StoreError> {
        self.0.batch_write(ops).await
    }
    async fn batch_get(
        &self,
        keys: Vec<shared::store::Key>,
    ) -> Result<Vec<shared::store::Item>, shared::store::StoreError> {
        self.0.batch_get(keys).await
    }
}

/// The flake of the streaming test under load ("the job or its continuation is queued"): a
/// job save retried after it landed failed its own version condition, the runner took it for
/// another's move and stopped, lease held and no continuation queued. Now a save recognises
/// its own record, and the job runs to the end.
async fn a_job_whose_saves_are_retried_after_they_landed_still_runs_to_the_end(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    with_events(&b, &grace, 3).await;
    let mut platform = b.platform.clone();
    platform.store = std::sync::Arc::new(AnswerLost(b.platform.store.clone()));
    let user = shared::accounts::load_user(&b.platform, &grace.user_id).await.unwrap();
    let started = shared::accounts::erase_account(&platform, &user).await.unwrap();
    let mut rounds = 0;
    loop {
        let event = b.take_messages(QueueName::Rights).await;
        assert!(!event.records.is_empty(), "the job or its continuation is queued");
        let answer = rights_worker::handle_until(&platform, event, Instant::now()).await.unwrap();
        assert!(answer.batch_item_failures.is_empty());
        let saved = job::load(&b.platform, &started.job.id).await.unwrap().unwrap();
        if saved.status == JobStatus::Completed {
            break;
        }
        assert_eq!(saved.lease_until, None, "the lease is let go between slices");
        rounds += 1;
        assert!(rounds < 100, "the job makes progress");
    }
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

/// Log lines, as the Lambdas write them (JSON), captured on this thread.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn the_logs_of_a_journey_to_erasure_hold_no_address(b: Backend) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);

    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    with_events(&b, &grace, 3).await;
    let (status, _) = b.post("/v1/rights-requests", grace.bearer(), json!({"type": "access"})).await;
    assert_eq!(status, 201);
    b.process_rights().await;
    let (status, _) = b.post("/v1/complaints", grace.bearer(), json!({"message": "Please stop."})).await;
    assert_eq!(status, 201);
    let wrong =
        b.post("/v1/sessions", Auth::None, json!({"email": "grace@example.com", "password": "wrong one!!"})).await;
    assert_eq!(wrong.0, 401);
    b.cancel("/v1/me", &grace, PASSWORD).await;
    b.deliver_mail().await;
    drop(guard);

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.lines().count() > 10, "the journey logged: {logs}");
    let hash = shared::hash::sha256_hex(b"grace@example.com");
    for needle in ["grace@example.com", "ada@example.com", "@example.com", hash.as_str()] {
        let lines: Vec<&str> = logs.lines().filter(|line| line.contains(needle)).collect();
        assert!(lines.is_empty(), "{needle} is logged: {lines:#?}");
    }
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

/// The independent look: no trace of the person's ids, address or address hash anywhere.
async fn assert_no_trace(b: &Backend, who: &Session, email: &str) {
    let hash = shared::hash::sha256_hex(email.to_lowercase().as_bytes());
    let lower = email.to_lowercase();
    // Counters are keyed by hashes of the id too; the fence is, by design (it outlives the job).
    let id_hash = shared::hash::sha256_hex(who.user_id.as_bytes());
    let mut traces = b.traces_of(&[who.user_id.as_str(), email, lower.as_str(), hash.as_str(), id_hash.as_str()]).await;
    traces.retain(|trace| !trace.contains("erasure_fence"));
    // The one exception: the last e-mail, telling the person their erasure is done, is sent
    // after it; the local outbox keeps its copy for its retention (72 hours) like any other.
    traces.retain(|trace| !(trace.starts_with("outbox: ") && trace.contains("X-Infentre-Category: erasure_notice")));
    assert!(traces.is_empty(), "traces of the erased person: {traces:#?}");
}

/// Nothing names the organisation, nor its hash (counters), but its fence.
async fn assert_no_organisation_trace(b: &Backend, organisation_id: &str) {
    let hash = shared::hash::sha256_hex(organisation_id.as_bytes());
    let mut traces = b.traces_of(&[organisation_id, hash.as_str()]).await;
    traces.retain(|trace| !trace.contains("erasure_fence"));
    assert!(traces.is_empty(), "traces of the erased organisation: {traces:#?}");
}

async fn a_mail_waiting_for_the_subject_is_erased_and_its_message_does_nothing(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    b.deliver_mail().await;
    let (status, _) = b.post("/v1/password-reset-requests", Auth::None, json!({"email": "grace@example.com"})).await;
    assert_eq!(status, 202);
    // The message holds the stored e-mail's id only; the e-mail waits filed under her address.
    let queued = b.queued.all();
    let (_, body) = queued.last().expect("the reset e-mail is queued");
    assert!(!body.contains("grace"), "{body}");

    b.cancel("/v1/me", &grace, PASSWORD).await;
    // The message stays on the queue (the e-mail was erased, not the message), and does nothing.
    b.deliver_mail().await;
    let to_grace: Vec<String> = infentre_tests::outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| m.contains("To: grace@example.com") && m.contains("Reset your password"))
        .collect();
    assert!(to_grace.is_empty(), "an erased person's waiting e-mail is not sent: {to_grace:?}");
    assert!(b.platform.queue.receive_dead_letters(QueueName::Mail, 10).await.unwrap().is_empty(), "acknowledged");
    assert!(b.platform.queue.receive(QueueName::Mail, 10, Duration::from_secs(1)).await.unwrap().is_empty());
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

/// An address change mails a link to the new address, which is not the person's yet: the
/// erasure finds that e-mail by the person, and the new address is nowhere afterwards.
async fn the_link_waiting_for_a_new_address_is_erased_with_the_person(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    b.deliver_mail().await;
    let change = json!({"email": "countess@example.com", "current_password": PASSWORD});
    let (status, _, body) = call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(change)).await;
    assert_eq!(status, 200, "{body}");
    assert!(b.table_text().await.iter().any(|t| t.contains("countess@example.com")), "the link waits in the table");

    b.cancel("/v1/me", &ada, PASSWORD).await;
    b.deliver_mail().await;
    let to_new: Vec<String> = infentre_tests::outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| m.contains("To: countess@example.com"))
        .collect();
    assert!(to_new.is_empty(), "the erased person's link is not sent: {to_new:?}");
    assert_no_trace(&b, &ada, "ada@example.com").await;
    let traces = b.traces_of(&["countess@example.com"]).await;
    assert!(traces.is_empty(), "traces of the new address: {traces:#?}");
}

/// The local outbox folder keeps sent mail `INFENTRE_OUTBOX_RETENTION_HOURS` (72 by default):
/// the retention sweep deletes older files. (Erasure deletes the person's at once: the
/// independent look reads the folder after every erasure test on SQLite.)
#[tokio::test]
async fn the_local_outbox_keeps_sent_mail_for_72_hours() {
    let b = infentre_tests::backend::sqlite().await;
    b.admin("ada@example.com", PASSWORD, "Engines").await;
    let sent = infentre_tests::outbox_files(&b.outbox).len();
    assert!(sent >= 1, "the verification e-mail is in the outbox");

    b.clock.advance(chrono::Duration::hours(71));
    b.post("/v1/password-reset-requests", Auth::None, json!({"email": "ada@example.com"})).await;
    b.deliver_mail().await;
    let report = retention_sweeper::on_schedule(&b.platform).await.unwrap();
    assert_eq!(infentre_tests::outbox_files(&b.outbox).len(), sent + 1, "nothing is 72 hours old yet: {report}");

    b.clock.advance(chrono::Duration::hours(2));
    let report = retention_sweeper::on_schedule(&b.platform).await.unwrap();
    assert_eq!(report["erased"]["sent_mail_copy"], sent as u64, "{report}");
    let kept = infentre_tests::outbox_files(&b.outbox);
    assert_eq!(kept.len(), 1, "the 2-hour-old reset e-mail stays");
    assert!(kept[0].contains("Reset your password"));
}

async fn with_events(b: &Backend, who: &Session, n: usize) {
    b.put("/v1/me/consents/analytics_cookies", who.bearer(), json!({"granted": true})).await;
    let events: Vec<_> =
        (0..n).map(|i| json!({"name": "page_view", "properties": {"page": format!("/p/{i}")}})).collect();
    for chunk in events.chunks(100) {
        let (status, body) = b.post("/v1/events", who.bearer(), json!({ "events": chunk })).await;
        assert_eq!(status, 202, "{body}");
    }
    b.store_events().await;
}

async fn a_cancellation_fences_at_once_and_a_second_one_gets_the_same_job(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    with_events(&b, &grace, 5).await;
    b.deliver_mail().await;

    let (status, headers, first) =
        call(&b.app, "DELETE", "/v1/me", grace.bearer(), Some(json!({"password": PASSWORD}))).await;
    assert_eq!((status, first["status"].as_str()), (202, Some("queued")), "{first}");
    assert!(headers.get("location").is_some());

    // Before the job has run: sessions, logins and writes about Grace are refused.
    assert_eq!(b.get("/v1/me", grace.bearer()).await.0, 401);
    let (status, _) = b.put("/v1/me/consents/product_updates", grace.bearer(), json!({"granted": true})).await;
    assert_eq!(status, 401);
    let (status, _, body) = call(
        &b.app,
        "POST",
        "/v1/sessions",
        Auth::None,
        Some(json!({"email": "grace@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_credentials")));
    let late = consent::record(&b.platform, &grace.user_id, PurposeId::ProductUpdates, true, Method::Api).await;
    assert!(matches!(late, Err(RecordError::Erased)), "a late consent write is refused: {late:?}");
    // Asked again (the session is not deleted yet): the same job, no password needed.
    let (status, again) = b.delete("/v1/me", grace.bearer(), json!({"password": "not checked again"})).await;
    assert_eq!((status, &again["job_id"]), (202, &first["job_id"]));
    // Ada is not affected.
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 200);

    b.process_rights().await;
    let (status, progress) =
        b.get(&format!("/v1/erasure-jobs/{}", first["job_id"].as_str().unwrap()), Auth::None).await;
    assert_eq!((status, progress["status"].as_str()), (200, Some("completed")), "{progress}");
    assert_eq!(progress["erased"]["usage_event"], 5, "{progress}");
    assert_eq!(progress["erased"]["user"], 1);
    let fence = fence::find(b.platform.store.as_ref(), &grace.user_id).await.unwrap().expect("the fence stays");
    assert_eq!(fence.state, fence::FenceState::Erased);
    b.deliver_mail().await;
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

async fn the_job_streams_checkpoints_and_resumes_from_redelivery(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    // More events than one page of every shard holds.
    let now_ms = b.clock.epoch_seconds() * 1000;
    let ops: Vec<BatchOp> = (0..2_600)
        .map(|i| {
            BatchOp::Put(infentre_tests::page_view(&grace.user_id, &grace.organisation_id, i, now_ms).item().unwrap())
        })
        .collect();
    b.platform.store.batch_write(ops).await.unwrap();
    let subject = Subject { user_id: grace.user_id.clone(), canonical_email: "grace@example.com".into() };
    let started = job::begin(&b.platform, Target::Subject { subject }, Origin::default()).await.unwrap();
    assert!(started.new);
    let id = started.job.id.clone();

    // A duplicate of the job's message: two runners compete, the lease lets one move it.
    let duplicate = serde_json::to_string(&job::JobMessage { erasure_job: id.clone() }).unwrap();
    b.platform.queue.send(QueueName::Rights, duplicate).await.unwrap();
    // Deliveries whose deadline has passed: one step each, then the continuation is queued.
    let mut rounds = 0;
    loop {
        let event = b.take_messages(QueueName::Rights).await;
        assert!(!event.records.is_empty(), "the job or its continuation is queued");
        let answer = rights_worker::handle_until(&b.platform, event, Instant::now()).await.unwrap();
        assert!(answer.batch_item_failures.is_empty());
        let saved = job::load(&b.platform, &id).await.unwrap().unwrap();
        if saved.status == JobStatus::Completed {
            assert!(saved.target.is_none(), "a completed job forgets its subject");
            break;
        }
        assert_eq!(saved.lease_until, None, "the lease is let go between slices");
        rounds += 1;
        assert!(rounds < 200, "the job makes progress");
    }
    let done = job::load(&b.platform, &id).await.unwrap().unwrap();
    assert_eq!(done.erased.get("usage_event"), Some(&2_600));
    assert!(done.pages >= 3, "more than one page per shard: {}", done.pages);
    assert!(done.slices >= 3, "resumed from the checkpoint, slice after slice: {}", done.slices);
    // A message for a job already completed is acknowledged and changes nothing.
    let before = b.table_text().await.len();
    assert_eq!(job::run_slice(&b.platform, &id, Instant::now(), true).await.unwrap(), SliceOutcome::AlreadyDone);
    assert_eq!(job::run_slice(&b.platform, "no-such-job", Instant::now(), true).await.unwrap(), SliceOutcome::Unknown);
    assert_eq!(b.table_text().await.len(), before);
    assert_eq!(job::load(&b.platform, &id).await.unwrap().unwrap().version, done.version, "the record is untouched");
    assert!(b.take_messages(QueueName::Rights).await.records.is_empty());
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

async fn an_export_written_after_the_fence_is_refused_and_undone(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let user = shared::accounts::load_user(&b.platform, &grace.user_id).await.unwrap();
    let started = shared::accounts::erase_account(&b.platform, &user).await.unwrap();
    // The export worker read Grace before her fence went up and writes now.
    let request = shared::rights::RightsRequest::new(
        ulid::Ulid::new().to_string(),
        grace.organisation_id.clone(),
        grace.user_id.clone(),
        shared::rights::RequestType::Portability,
        None,
        None,
        b.clock.epoch_seconds(),
    );
    let written = rights_worker::exports::write(&b.platform, &request, &user).await;
    assert!(matches!(written, Err(rights_worker::WorkError::RequesterGone)), "{written:?}");
    let prefix = shared::erasure::export_prefix(&grace.user_id);
    assert!(b.platform.blobs.list(&prefix).await.unwrap().is_empty(), "the file is undone");
    b.process_rights().await;
    assert_eq!(job::load(&b.platform, &started.job.id).await.unwrap().unwrap().status, JobStatus::Completed);
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

/// api-fuzzing D2: an erasure filed while an export of the same person runs.
async fn an_erasure_filed_beside_an_export_completes_with_nothing_left(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "admin").await;
    with_events(&b, &grace, 3).await;
    // An admin's requests are queued at once; the worker runs them side by side.
    let (status, portability) = b.post("/v1/rights-requests", grace.bearer(), json!({"type": "portability"})).await;
    assert_eq!(status, 201, "{portability}");
    let erasure = json!({"type": "erasure", "password": PASSWORD});
    let (status, erasure) = b.post("/v1/rights-requests", grace.bearer(), erasure).await;
    assert_eq!(status, 201, "{erasure}");
    b.process_rights().await;
    b.process_rights().await;

    let erasure_id = erasure["id"].as_str().unwrap();
    let (status, request) = b.get(&format!("/v1/rights-requests/{erasure_id}"), ada.bearer()).await;
    assert_eq!((status, request["status"].as_str()), (200, Some("completed")), "{request}");
    b.deliver_mail().await;
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

async fn an_organisation_cancellation_fans_out_and_leaves_nothing(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let alan = b.member(&ada, "alan@example.com", PASSWORD, "member").await;
    with_events(&b, &grace, 3).await;
    let (status, _, accepted) =
        call(&b.app, "DELETE", "/v1/organisations/current", ada.bearer(), Some(json!({"password": PASSWORD}))).await;
    assert_eq!(status, 202, "{accepted}");
    for member in [&ada, &grace, &alan] {
        assert_eq!(b.get("/v1/me", member.bearer()).await.0, 401, "every member refused at once");
    }
    b.process_rights().await;
    let (_, progress) = b.get(&format!("/v1/erasure-jobs/{}", accepted["job_id"].as_str().unwrap()), Auth::None).await;
    assert_eq!((progress["status"].as_str(), progress["member_jobs"].as_u64()), (Some("completed"), Some(3)));
    b.deliver_mail().await;
    for (member, email) in [(&ada, "ada@example.com"), (&grace, "grace@example.com"), (&alan, "alan@example.com")] {
        assert_no_trace(&b, member, email).await;
    }
    assert_no_organisation_trace(&b, &ada.organisation_id).await;
}

/// The organisation's job fans out over the members it finds, and deletes the invitations only
/// later: an invitee joining in between would be missed, so accepting (and inviting) checks
/// the fence.
async fn an_organisation_being_erased_takes_no_new_member_or_invitation(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let token = b.invitation_token(&ada, "grace@example.com", "member").await;
    let (status, _, accepted) =
        call(&b.app, "DELETE", "/v1/organisations/current", ada.bearer(), Some(json!({"password": PASSWORD}))).await;
    assert_eq!(status, 202, "{accepted}");
    // The job's first step: the fan-out, which finds Ada only.
    let job_id = accepted["job_id"].as_str().unwrap();
    let past = Instant::now() - Duration::from_secs(1);
    assert_eq!(job::run_slice(&b.platform, job_id, past, false).await.unwrap(), SliceOutcome::Continues);

    let (status, body) =
        b.post("/v1/invitations/accept", Auth::None, json!({"token": token, "password": PASSWORD})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_token")), "{body}");
    // Nor does an invitation written by a request that passed its session check just before.
    let late = shared::accounts::invite(&b.platform, &ada.organisation_id, "alan@example.com", Role::Member).await;
    assert!(matches!(late, Err(AccountError::OrganisationGone)), "{late:?}");
    b.process_rights().await;
    let (_, progress) = b.get(&format!("/v1/erasure-jobs/{job_id}"), Auth::None).await;
    assert_eq!((progress["status"].as_str(), progress["member_jobs"].as_u64()), (Some("completed"), Some(1)));
    for invitee in ["grace@example.com", "alan@example.com"] {
        assert_eq!(b.count_of(invitee).await, 0, "no account, claim or invitation of {invitee} is left");
    }
    assert_no_organisation_trace(&b, &ada.organisation_id).await;
}

/// The pages' forms check the fences as the API does: an admin's desk, open in a tab when the
/// organisation's cancellation went through, writes nothing more about it.
async fn a_page_form_opened_before_the_fence_is_refused_after_it(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let desk = OpenForm::of(&b, &ada, "/admin").await;
    let (status, _) = b.delete("/v1/organisations/current", ada.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202);

    let answer = desk.post(&b, "/admin/recipients/erase", &[("email", "reader@example.net")]).await;
    assert_eq!((answer.status, answer.location.as_str()), (303, "/sign-in"), "{}", answer.body);
    // Nor does a request that passed its session check just before the fence.
    let reader = shared::domain::EmailAddress::parse("reader@example.net").unwrap();
    let late = shared::recipients::erase_recipient(&b.platform, &ada.organisation_id, &reader).await;
    assert!(late.is_err(), "{late:?}");
    assert_eq!(b.count_of("SUPPRESSIONS").await, 0, "no suppression written");
    b.process_rights().await;
    assert_no_organisation_trace(&b, &ada.organisation_id).await;
}

/// The member's job takes their id out of the membership history once, at its first step,
/// and deletes their account later: a role change in between must not write a new entry.
async fn a_member_being_erased_gets_no_new_role(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let (status, accepted) = b.delete("/v1/me", grace.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202, "{accepted}");
    let past = Instant::now() - Duration::from_secs(1);
    let job_id = accepted["job_id"].as_str().unwrap();
    assert_eq!(job::run_slice(&b.platform, job_id, past, false).await.unwrap(), SliceOutcome::Continues);

    let promoted = shared::accounts::membership::change_role(
        &b.platform,
        (&ada.user_id, &ada.organisation_id),
        PASSWORD,
        &grace.user_id,
        Role::Admin,
    )
    .await;
    assert!(matches!(promoted, Err(shared::accounts::membership::MembershipError::NoSuchMember)), "{promoted:?}");
    b.process_rights().await;
    b.deliver_mail().await;
    assert_no_trace(&b, &grace, "grace@example.com").await;
}

/// A request waiting for approval is never picked up by the worker: one stored after the job
/// passed the requests would stay. Requests recorded by an operator, or a request in flight
/// when the fence went up, are refused in their own write.
async fn no_rights_request_is_stored_for_someone_being_erased(b: Backend) {
    use shared::rights::{self, CreateError, RequestType, RightsRequest};
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let (status, _) = b.delete("/v1/me", grace.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202);

    let now = b.clock.epoch_seconds();
    let request = |id: &str| {
        let (organisation, user) = (grace.organisation_id.clone(), grace.user_id.clone());
        RightsRequest::new(id.into(), organisation, user, RequestType::Access, None, None, now)
    };
    let late = rights::create(&b.platform, &mut request("late-request")).await;
    assert!(matches!(late, Err(CreateError::Erased)), "{late:?}");
    b.process_rights().await;
    b.deliver_mail().await;
    assert_no_trace(&b, &grace, "grace@example.com").await;
    assert!(b.traces_of(&["late-request"]).await.is_empty());
}

async fn bad_input_to_erasure(b: Backend) {
    let (status, _) = b.get("/v1/erasure-jobs/unknown", Auth::None).await;
    assert_eq!(status, 404, "an unknown job");
    let (status, _) = b.get(&format!("/v1/erasure-jobs/{}", "x".repeat(500)), Auth::None).await;
    assert_eq!(status, 404);
    // A job message for no job, and one that is malformed: acknowledged / failed alone.
    let body = serde_json::to_string(&job::JobMessage { erasure_job: "gone".into() }).unwrap();
    b.platform.queue.send(QueueName::Rights, body).await.unwrap();
    let event = b.take_messages(QueueName::Rights).await;
    let answer = rights_worker::handle(&b.platform, event).await.unwrap();
    assert!(answer.batch_item_failures.is_empty());
    // The deadline is honoured: a slice with no time left still makes one step.
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let user = shared::accounts::load_user(&b.platform, &ada.user_id).await.unwrap();
    let started = shared::accounts::erase_account(&b.platform, &user).await.unwrap();
    let outcome = job::run_slice(&b.platform, &started.job.id, Instant::now() - Duration::from_secs(1), false).await;
    assert_eq!(outcome.unwrap(), SliceOutcome::Continues);
}
