//! Both engines behind one test fixture: the local binary's router on SQLite, and the
//! functions' routers on moto (DynamoDB, SQS, S3), each with the mail worker delivering to an
//! outbox folder and the marketing worker sharing with a local recorder that stands in for
//! Google Analytics and Facebook.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::FutureExt;
use serde_json::{Value, json};
use shared::Platform;
use shared::aws::{AwsSettings, RequestCounter};
use shared::clock::ManualClock;
use shared::mail::Mailer;
use shared::mail::sendgrid::SendGridMailer;
use shared::queue::poller::{Poller, Worker};
use shared::queue::{Queue, QueueError, QueueName};
use shared::store::sqlite::SqliteStore;

use crate::recorder::{MarketingRecorder, SendGridStandIn};
use crate::{
    Auth, call, clock, create_bucket, create_queues, create_table, embedded_engine, moto_clients, shared_clock,
    token_mailed_to, unique,
};

pub struct Backend {
    pub app: Router,
    /// Every message body put on any queue, by anyone (producers, workers, the test itself).
    pub queued: QueuedBodies,
    pub platform: Platform,
    pub mail: Poller,
    /// The mailer the mail worker sends with (tests wrap it to play a provider failure).
    pub mailer: Arc<dyn Mailer>,
    pub tracking: Poller,
    pub marketing: Poller,
    pub rights: Poller,
    pub recorder: MarketingRecorder,
    /// On moto, mail goes through SendGrid's API to this stand-in, which files it in `outbox`.
    pub sendgrid: Option<SendGridStandIn>,
    pub outbox: PathBuf,
    pub clock: ManualClock,
    pub requests: Option<RequestCounter>,
    pub sqlite: Option<Arc<SqliteStore>>,
    pub dynamo: Option<(aws_sdk_dynamodb::Client, String)>,
    pub dirs: Vec<tempfile::TempDir>,
}

/// Every message body put on a queue, recorded as it is sent.
#[derive(Debug, Clone, Default)]
pub struct QueuedBodies(Arc<std::sync::Mutex<Vec<(QueueName, String)>>>);

impl QueuedBodies {
    pub fn all(&self) -> Vec<(QueueName, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Messages carry ids, never an e-mail address, an IP address, a browser string or a value
    /// a client gave as an event property ([`PROPERTY_MARKER`], which tests put in the
    /// properties they send): a message stuck in a dead-letter queue holds nothing erasure
    /// cannot reach by id.
    pub fn assert_ids_only(&self) {
        for (queue, body) in self.all() {
            let personal = body.contains('@')
                || body.contains("Mozilla")
                || body.contains(PROPERTY_MARKER)
                || has_ipv4(&body)
                || has_ipv6(&body);
            assert!(!personal, "a {} message holds personal data: {body}", queue.as_str());
        }
    }
}

/// A value tests send as a client's event property: whatever a client puts there may be
/// personal, so no queue message may carry it ([`QueuedBodies::assert_ids_only`]).
pub const PROPERTY_MARKER: &str = "client-property-value-7f3a";

/// A dotted quad of numbers 0..=255 anywhere in the text.
fn has_ipv4(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).any(|token| {
        let parts: Vec<&str> = token.split('.').collect();
        parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
    })
}

/// Something an IPv6 parser accepts (at least two colons) anywhere in the text.
fn has_ipv6(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
        .any(|token| token.matches(':').count() >= 2 && token.parse::<std::net::Ipv6Addr>().is_ok())
}

/// The engine's queue, recording each body it is given.
#[derive(Debug)]
struct RecordingQueue {
    inner: Arc<dyn Queue>,
    queued: QueuedBodies,
}

#[async_trait::async_trait]
impl Queue for RecordingQueue {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), QueueError> {
        self.queued.0.lock().unwrap_or_else(|p| p.into_inner()).extend(bodies.iter().map(|b| (queue, b.clone())));
        self.inner.send_batch(queue, bodies).await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<shared::queue::ReceivedMessage>, QueueError> {
        self.inner.receive(queue, max, visibility).await
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(queue, receipt).await
    }

    async fn receive_dead_letters(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<shared::queue::ReceivedMessage>, QueueError> {
        self.inner.receive_dead_letters(queue, max).await
    }
}

fn recording(platform: &mut Platform) -> QueuedBodies {
    let queued = QueuedBodies::default();
    platform.queue = Arc::new(RecordingQueue { inner: platform.queue.clone(), queued: queued.clone() });
    queued
}

/// The providers' stand-ins of one backend, checked once more when a journey ends.
pub struct StandIns {
    marketing: MarketingRecorder,
    sendgrid: Option<SendGridStandIn>,
}

impl StandIns {
    pub fn assert_valid(&self) {
        self.marketing.assert_valid();
        if let Some(sendgrid) = &self.sendgrid {
            sendgrid.assert_valid();
        }
    }
}

impl Backend {
    pub fn stand_ins(&self) -> StandIns {
        StandIns { marketing: self.recorder.clone(), sendgrid: self.sendgrid.clone() }
    }

    pub async fn deliver_mail(&self) {
        self.mail.drain().await.expect("mail queue drains");
    }

    /// Runs the tracking worker until its queue is empty.
    pub async fn store_events(&self) {
        self.tracking.drain().await.expect("tracking queue drains");
    }

    /// Runs the rights worker until its queue is empty.
    pub async fn process_rights(&self) {
        self.rights.drain().await.expect("rights queue drains");
    }

    /// Runs the marketing worker until its queue is empty.
    pub async fn share_events(&self) {
        self.marketing.drain().await.expect("marketing queue drains");
    }

    /// Takes every visible message of a queue, as the SQS event Lambda would get: tests hand it
    /// to a worker themselves, twice to play a redelivery.
    pub async fn take_messages(&self, queue: QueueName) -> shared::queue::batch::SqsEvent {
        let mut messages = Vec::new();
        loop {
            let got = self.platform.queue.receive(queue, 10, Duration::from_secs(60)).await.expect("receive");
            if got.is_empty() {
                break;
            }
            messages.extend(got);
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| json!({"messageId": m.message_id, "body": m.body, "attributes": {"ApproximateReceiveCount": "1"}}))
            .collect();
        serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
    }

    /// Every item of the table, as text, to look for traces of a person.
    pub async fn table_text(&self) -> Vec<String> {
        if let Some(store) = &self.sqlite {
            return store.dump().await.unwrap().iter().map(|item| format!("{item:?}")).collect();
        }
        let (client, table) = self.dynamo.as_ref().expect("one backend");
        let mut texts = Vec::new();
        let mut start = None;
        loop {
            // A scan is fine in a test that looks through everything; the product never scans.
            let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.unwrap();
            texts.extend(page.items.unwrap_or_default().iter().map(|item| format!("{item:?}")));
            start = page.last_evaluated_key;
            if start.is_none() {
                return texts;
            }
        }
    }

    /// Everything the system keeps, as text, read by brute force and not through the erasure
    /// registry: every table item, the local outbox folder's sent mail, every export file,
    /// every message of every queue and dead-letter queue (received with a short visibility,
    /// then visible again).
    pub async fn everything(&self) -> Vec<String> {
        let mut texts = self.table_text().await;
        // Locally the outbox folder is ours (copies of what we sent); on moto it is the
        // SendGrid stand-in's record of what it received, the provider's, not ours.
        if self.sendgrid.is_none() {
            texts.extend(crate::outbox_files(&self.outbox).into_iter().map(|mail| format!("outbox: {mail}")));
        }
        for key in self.platform.blobs.list("exports/").await.expect("list exports") {
            let bytes = self.platform.blobs.get(&key).await.expect("read an export").unwrap_or_default();
            texts.push(format!("{key}: {}", String::from_utf8_lossy(&bytes)));
        }
        for queue in QueueName::ALL {
            let mut seen = std::collections::HashSet::new();
            loop {
                let got = self.platform.queue.receive(queue, 10, Duration::from_secs(2)).await.expect("receive");
                let fresh: Vec<_> = got.into_iter().filter(|m| seen.insert(m.message_id.clone())).collect();
                if fresh.is_empty() {
                    break;
                }
                texts.extend(fresh.into_iter().map(|m| format!("{}: {}", queue.as_str(), m.body)));
            }
            for message in self.platform.queue.receive_dead_letters(queue, 10).await.expect("dead letters") {
                texts.push(format!("{} dead letter: {}", queue.as_str(), message.body));
            }
        }
        texts
    }

    /// The traces of `needles` in [`Backend::everything`].
    pub async fn traces_of(&self, needles: &[&str]) -> Vec<String> {
        self.everything().await.into_iter().filter(|text| needles.iter().any(|n| text.contains(n))).collect()
    }

    pub async fn count_of(&self, needle: &str) -> usize {
        self.table_text().await.iter().filter(|text| text.contains(needle)).count()
    }

    pub async fn post(&self, path: &str, auth: Auth<'_>, body: Value) -> (u16, Value) {
        let (status, _, body) = call(&self.app, "POST", path, auth, Some(body)).await;
        (status, body)
    }

    pub async fn put(&self, path: &str, auth: Auth<'_>, body: Value) -> (u16, Value) {
        let (status, _, body) = call(&self.app, "PUT", path, auth, Some(body)).await;
        (status, body)
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> (u16, Value) {
        let (status, _, body) = call(&self.app, "GET", path, auth, None).await;
        (status, body)
    }

    pub async fn delete(&self, path: &str, auth: Auth<'_>, body: Value) -> (u16, Value) {
        let (status, _, body) = call(&self.app, "DELETE", path, auth, Some(body)).await;
        (status, body)
    }

    /// Cancels by `DELETE path` (`/v1/me` or `/v1/organisations/current`): checks the `202`
    /// answer and its `Location`, runs the rights worker until the erasure jobs are done, and
    /// returns the job's final progress.
    pub async fn cancel(&self, path: &str, who: &Session, password: &str) -> Value {
        let (status, headers, accepted) =
            call(&self.app, "DELETE", path, who.bearer(), Some(json!({ "password": password }))).await;
        assert_eq!(status, 202, "{accepted}");
        let progress_url = accepted["progress_url"].as_str().expect("a progress URL");
        assert_eq!(headers.get("location").and_then(|v| v.to_str().ok()), Some(progress_url));
        let job_path = format!("/v1/erasure-jobs/{}", accepted["job_id"].as_str().expect("a job id"));
        assert!(progress_url.ends_with(&job_path), "{progress_url}");
        self.process_rights().await;
        let (status, progress) = self.get(&job_path, Auth::None).await;
        assert_eq!((status, progress["status"].as_str()), (200, Some("completed")), "{progress}");
        progress
    }

    /// Signs up, verifies by the mailed link, and signs in: the new admin's session token.
    pub async fn admin(&self, email: &str, password: &str, organisation: &str) -> Session {
        let (status, _) = self
            .post(
                "/v1/signup",
                Auth::None,
                json!({"email": email, "password": password, "organisation_name": organisation}),
            )
            .await;
        assert_eq!(status, 202);
        self.deliver_mail().await;
        // Mail goes to the address as typed, with the domain in lower case.
        let to = shared::domain::EmailAddress::parse(email).unwrap();
        let token = token_mailed_to(&self.outbox, to.as_str());
        let (status, body) =
            self.post("/v1/email-verifications", Auth::None, json!({"token": token.expect("verification mail")})).await;
        assert_eq!(status, 200, "{body}");
        self.login(email, password).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let (status, headers, body) =
            call(&self.app, "POST", "/v1/sessions", Auth::None, Some(json!({"email": email, "password": password})))
                .await;
        assert_eq!(status, 201, "{body}");
        let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
        Session {
            token: body["token"].as_str().unwrap().to_owned(),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            user_id: body["user_id"].as_str().unwrap().to_owned(),
            organisation_id: body["organisation_id"].as_str().unwrap().to_owned(),
            cookie,
        }
    }

    /// Invites and delivers: the token of the invitation's link.
    pub async fn invitation_token(&self, admin: &Session, email: &str, role: &str) -> String {
        let (status, body) = self
            .post("/v1/organisations/current/invitations", admin.bearer(), json!({"email": email, "role": role}))
            .await;
        assert_eq!(status, 201, "{body}");
        self.deliver_mail().await;
        token_mailed_to(&self.outbox, email).expect("invitation mail")
    }

    /// Invites, delivers, accepts, signs in: the new member's session.
    pub async fn member(&self, admin: &Session, email: &str, password: &str, role: &str) -> Session {
        let token = self.invitation_token(admin, email, role).await;
        let (status, body) =
            self.post("/v1/invitations/accept", Auth::None, json!({"token": token, "password": password})).await;
        assert_eq!(status, 201, "{body}");
        self.login(email, password).await
    }
}

pub struct Session {
    pub token: String,
    pub csrf: String,
    pub user_id: String,
    pub organisation_id: String,
    pub cookie: String,
}

impl Session {
    pub fn bearer(&self) -> Auth<'_> {
        Auth::Bearer(&self.token)
    }
}

fn tracking_poller(platform: &Platform) -> Poller {
    let worker_platform = platform.clone();
    let handler: Worker = Arc::new(move |event| {
        let platform = worker_platform.clone();
        async move { tracking_worker::handle(&platform, event).await.map_err(Into::into) }.boxed()
    });
    Poller {
        queue: platform.queue.clone(),
        name: QueueName::Tracking,
        worker: handler,
        visibility: Duration::from_secs(30),
        batch_size: 100,
    }
}

fn rights_poller(platform: &Platform) -> Poller {
    let worker_platform = platform.clone();
    let handler: Worker = Arc::new(move |event| {
        let platform = worker_platform.clone();
        async move { rights_worker::handle(&platform, event).await.map_err(Into::into) }.boxed()
    });
    Poller {
        queue: platform.queue.clone(),
        name: QueueName::Rights,
        worker: handler,
        visibility: Duration::from_secs(30),
        batch_size: 10,
    }
}

fn marketing_poller(platform: &Platform, recorder: &MarketingRecorder) -> Poller {
    let worker = Arc::new(marketing_worker::MarketingWorker::new(platform.clone(), recorder.destinations()));
    let handler: Worker = Arc::new(move |event| {
        let worker = worker.clone();
        async move { worker.handle(event).await.map_err(Into::into) }.boxed()
    });
    Poller {
        queue: platform.queue.clone(),
        name: QueueName::Marketing,
        worker: handler,
        visibility: Duration::from_secs(30),
        batch_size: 10,
    }
}

pub fn mail_poller(platform: &Platform, mailer: Arc<dyn Mailer>) -> Poller {
    let worker = Arc::new(mail_worker::MailWorker::new(platform.clone(), mailer));
    let handler: Worker = Arc::new(move |event| {
        let worker = worker.clone();
        async move { worker.handle(event).await.map_err(Into::into) }.boxed()
    });
    Poller {
        queue: platform.queue.clone(),
        name: QueueName::Mail,
        worker: handler,
        visibility: Duration::from_secs(30),
        batch_size: 10,
    }
}

pub async fn sqlite() -> Backend {
    let clock = clock();
    let (mut engine, dir) = embedded_engine(&clock);
    let queued = recording(&mut engine.platform);
    let recorder = MarketingRecorder::start_with_clock(shared_clock(&clock)).await;
    Backend {
        queued,
        marketing: marketing_poller(&engine.platform, &recorder),
        rights: rights_poller(&engine.platform),
        recorder,
        sendgrid: None,
        app: infentre::router(&engine),
        platform: engine.platform.clone(),
        mail: mail_poller(&engine.platform, engine.mailer.clone()),
        mailer: engine.mailer.clone(),
        tracking: tracking_poller(&engine.platform),
        outbox: engine.mailer.dir().clone(),
        clock,
        requests: None,
        sqlite: Some(engine.store.clone()),
        dynamo: None,
        dirs: vec![dir],
    }
}

pub async fn moto() -> Backend {
    let clock = clock();
    let clients = moto_clients().await;
    let name = unique("acct");
    create_table(&clients, &name).await;
    create_bucket(&clients, &name).await;
    let aws = AwsSettings {
        table: name.clone(),
        queues: create_queues(&clients, &name, 5).await,
        export_bucket: name.clone(),
    };
    let public_key = crate::sendgrid_public_key();
    let source: HashMap<&str, &str> = HashMap::from([
        ("INFENTRE_OPERATORS", "dpo@infentre.com"),
        ("INFENTRE_SENDGRID_WEBHOOK_PUBLIC_KEY", public_key.as_str()),
        ("INFENTRE_MARKETING_SYNC", "on"),
        ("INFENTRE_STRIPE_WEBHOOK_SECRET", crate::STRIPE_SECRET),
        ("INFENTRE_COOKIE_CONSENT_ORIGINS", crate::BANNER_ORIGIN),
    ]);
    let settings = shared::config::Settings::from_source(
        &source,
        "https://privacy.infentre.example".into(),
        shared::signing::SigningKey::generate(),
    )
    .unwrap();
    let mut platform = clients.platform(&aws, settings, shared_clock(&clock));
    let queued = recording(&mut platform);
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    // As the mail worker Lambda sends: SendGrid's API, from the configured (default) sender.
    let sendgrid = SendGridStandIn::start(Some(outbox.clone())).await;
    let mailer =
        Arc::new(SendGridMailer::new(&sendgrid.url, "SG.test-key", platform.settings.mail_from.clone()).unwrap());
    let recorder = MarketingRecorder::start_with_clock(shared_clock(&clock)).await;
    clients.requests.reset();
    Backend {
        queued,
        marketing: marketing_poller(&platform, &recorder),
        rights: rights_poller(&platform),
        recorder,
        sendgrid: Some(sendgrid),
        app: shared::http::app(
            signup::routes()
                .merge(consent::routes())
                .merge(tracking::routes())
                .merge(rights::routes())
                // The pages too (the web function), so their form posts run on both engines.
                .merge(web::routes())
                .with_state(platform.clone()),
        ),
        mail: mail_poller(&platform, mailer.clone()),
        mailer,
        tracking: tracking_poller(&platform),
        outbox,
        platform,
        clock,
        requests: Some(clients.requests.clone()),
        sqlite: None,
        dynamo: Some((clients.dynamodb.clone(), name)),
        dirs: vec![dir],
    }
}

/// Runs each named test once per engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod local_binary_on_sqlite {
            $( #[tokio::test] async fn $case() {
                let backend = $crate::backend::sqlite().await;
                let stand_ins = backend.stand_ins();
                let queued = backend.queued.clone();
                super::$case(backend).await;
                stand_ins.assert_valid();
                queued.assert_ids_only();
            } )*
        }
        mod functions_on_moto {
            $( #[tokio::test] async fn $case() {
                let backend = $crate::backend::moto().await;
                let stand_ins = backend.stand_ins();
                let queued = backend.queued.clone();
                super::$case(backend).await;
                stand_ins.assert_valid();
                queued.assert_ids_only();
            } )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_scan_finds_addresses_ips_and_browsers_and_passes_ids() {
        let queued = QueuedBodies::default();
        queued.0.lock().unwrap().push((QueueName::Mail, r#"{"id":"01JDXQ6W7N3V4Y8Z2K5M9P1R3T"}"#.into()));
        queued.assert_ids_only();
        let property = format!(r#"{{"properties":{{"note":"{PROPERTY_MARKER}"}}}}"#);
        for personal in [
            r#"{"to":"ada@example.com"}"#,
            r#"{"ip":"203.0.113.9"}"#,
            r#"{"ip":"2001:db8::1"}"#,
            "Mozilla/5.0",
            property.as_str(),
        ] {
            let queued = QueuedBodies::default();
            queued.0.lock().unwrap().push((QueueName::Tracking, personal.into()));
            let caught = std::panic::catch_unwind(|| queued.assert_ids_only());
            assert!(caught.is_err(), "{personal} passed the scan");
        }
        assert!(!has_ipv4("1795942800000 and v1.2.3") && !has_ipv6("MAIL#01JD:x"));
    }
}
