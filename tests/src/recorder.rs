//! Stand-ins for the providers on free loopback ports: Google Analytics' Measurement
//! Protocol, Facebook's Conversions API and SendGrid's Mail Send. Each records every request,
//! checks its body against the provider's rules ([`crate::provider_rules`]) and answers a
//! body that breaks one with 400, as SendGrid does (GA4 would answer 2xx and drop the hit:
//! the stand-in is stricter on purpose). Reading what a stand-in received fails the test if
//! any body broke a rule, and the journeys check every stand-in once more at their end.
//! Google's token endpoint and User Deletion API stand here too: the token grant's JWT must
//! verify with the test service account's public key, and the upsert needs a token it issued.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::marketing::http::HttpDestination;
use shared::marketing::{Destination, DestinationSettings, FacebookSettings, Ga4Settings, Ga4UserDeletion};

use crate::provider_rules;

#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Value,
}

/// Bodies that broke a provider's rules, with what they broke. Shared by a stand-in's clones.
#[derive(Clone, Default)]
struct Violations(Arc<Mutex<Vec<String>>>);

impl Violations {
    fn record(&self, what: &str, body: &Value, found: Vec<String>) {
        let mut all = self.0.lock().expect("violations lock");
        all.extend(found.into_iter().map(|v| format!("{what}: {v}\n    in {body}")));
    }

    fn assert_none(&self, who: &str) {
        let all = self.0.lock().expect("violations lock").clone();
        assert!(all.is_empty(), "{who} received bodies that break its rules:\n{}", all.join("\n"));
    }
}

#[derive(Clone)]
pub struct MarketingRecorder {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// Answers by path prefix; 200 for GA4 (it answers 204) and Facebook otherwise.
    failing: Arc<Mutex<HashMap<&'static str, u16>>>,
    /// The sending time for the age rules: the test's clock.
    clock: Arc<dyn Clock>,
    checked: bool,
    violations: Violations,
    /// Access tokens issued by the token endpoint.
    tokens: Arc<Mutex<Vec<String>>>,
    /// Token grants answered (successful or not).
    grants: Arc<AtomicUsize>,
    /// Bodies of the user deletion requests received, with the answer given.
    deletions: Arc<Mutex<Vec<(Value, u16)>>>,
}

pub const GA4_PATH: &str = "/mp/collect";
pub const GOOGLE_TOKEN_PATH: &str = "/token";
pub const GA4_DELETION_PATH: &str = "/analytics/v3/userDeletion/userDeletionRequests:upsert";
pub const GA4_PROPERTY_ID: &str = "123456789";
pub const SERVICE_ACCOUNT_EMAIL: &str = "erasure@infentre-test.iam.gserviceaccount.com";
/// A throw-away RSA key made for these tests (openssl genpkey), and its public half.
const SERVICE_ACCOUNT_PEM: &str = include_str!("../support/ga4/test-service-account.pem");
const SERVICE_ACCOUNT_PUBLIC: &[u8] = include_bytes!("../support/ga4/test-service-account.pub.der");
pub const FACEBOOK_PATH: &str = "/v21.0/1234567890/events";

impl MarketingRecorder {
    /// A recorder that checks bodies against the rules, with the system clock.
    pub async fn start() -> Self {
        Self::start_with(Arc::new(SystemClock), true).await
    }

    /// A recorder that checks bodies, timing the age rules by `clock` (the sender's clock).
    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::start_with(clock, true).await
    }

    /// A recorder that takes any body: for tests of the transport itself, not of what we send.
    pub async fn start_accepting_anything() -> Self {
        Self::start_with(Arc::new(SystemClock), false).await
    }

    async fn start_with(clock: Arc<dyn Clock>, checked: bool) -> Self {
        // Bound first: the handlers' copy of the recorder knows its own URL (the token URI).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let recorder = Self {
            url: format!("http://{}", listener.local_addr().expect("bound")),
            received: Arc::default(),
            failing: Arc::default(),
            clock,
            checked,
            violations: Violations::default(),
            tokens: Arc::default(),
            grants: Arc::default(),
            deletions: Arc::default(),
        };
        let app = axum::Router::new()
            .route(GA4_PATH, post(record))
            .route(FACEBOOK_PATH, post(record))
            .route(GOOGLE_TOKEN_PATH, post(token))
            .route(GA4_DELETION_PATH, post(user_deletion))
            .with_state(recorder.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        recorder
    }

    /// Settings that point both destinations here.
    pub fn settings(&self) -> DestinationSettings {
        DestinationSettings {
            google_analytics: Some(Ga4Settings {
                endpoint: format!("{}{GA4_PATH}", self.url),
                measurement_id: "G-TEST123".into(),
                api_secret: "ga4-secret".into(),
                user_deletion: Some(Ga4UserDeletion {
                    endpoint: format!("{}{GA4_DELETION_PATH}", self.url),
                    property_id: GA4_PROPERTY_ID.into(),
                    service_account_key: self.service_account_key(),
                }),
            }),
            facebook: Some(FacebookSettings {
                endpoint: format!("{}/v21.0", self.url),
                pixel_id: "1234567890".into(),
                access_token: "fb-token".into(),
            }),
        }
    }

    /// The test service account's JSON key, as Google issues it, pointing at this token endpoint.
    pub fn service_account_key(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "infentre-test",
            "private_key_id": "test-key-1",
            "private_key": SERVICE_ACCOUNT_PEM,
            "client_email": SERVICE_ACCOUNT_EMAIL,
            "token_uri": self.token_uri(),
        })
        .to_string()
    }

    fn token_uri(&self) -> String {
        format!("{}{GOOGLE_TOKEN_PATH}", self.url)
    }

    /// The user deletion requests received, each with the status answered.
    pub fn deletions(&self) -> Vec<(Value, u16)> {
        self.assert_valid();
        self.deletions.lock().expect("recorder lock").clone()
    }

    /// Token grants received.
    pub fn token_grants(&self) -> usize {
        self.grants.load(Ordering::SeqCst)
    }

    pub fn destinations(&self) -> Vec<Arc<dyn Destination>> {
        HttpDestination::all(&self.settings())
            .expect("an HTTP client")
            .into_iter()
            .map(|d| Arc::new(d) as Arc<dyn Destination>)
            .collect()
    }

    /// Everything received; fails the test if any body broke the providers' rules.
    pub fn received(&self) -> Vec<Received> {
        self.assert_valid();
        self.received.lock().expect("recorder lock").clone()
    }

    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Makes requests to `path` answer `status` from now on.
    pub fn answer(&self, path: &'static str, status: u16) {
        self.failing.lock().expect("recorder lock").insert(path, status);
    }

    pub fn assert_valid(&self) {
        self.violations.assert_none("the GA4 / Conversions API stand-in");
    }
}

async fn record(
    State(recorder): State<MarketingRecorder>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    let found = match path.as_str() {
        GA4_PATH => provider_rules::ga4::violations(&body, recorder.clock.now().timestamp_micros()),
        _ => provider_rules::facebook::violations(&body, recorder.clock.epoch_seconds()),
    };
    let status = recorder.failing.lock().expect("recorder lock").get(path.as_str()).copied();
    recorder.received.lock().expect("recorder lock").push(Received { path: path.clone(), query, body: body.clone() });
    if recorder.checked && !found.is_empty() {
        recorder.violations.record(&path, &body, found.clone());
        return (StatusCode::BAD_REQUEST, Json(json!({ "validationMessages": found }))).into_response();
    }
    match status {
        Some(status) => StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        None if path == GA4_PATH => StatusCode::NO_CONTENT,
        None => StatusCode::OK,
    }
    .into_response()
}

/// Google's token endpoint: a JWT bearer grant whose assertion verifies with the test key.
async fn token(
    State(recorder): State<MarketingRecorder>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    recorder.grants.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = reqwest::Url::parse(&format!("http://form/?{body}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let token_uri = recorder.token_uri();
    let expected = provider_rules::ga4_user_deletion::Expected {
        client_email: SERVICE_ACCOUNT_EMAIL,
        token_uri: &token_uri,
        public_key: SERVICE_ACCOUNT_PUBLIC,
        now: SystemClock.epoch_seconds(),
    };
    let mut found = provider_rules::ga4_user_deletion::grant_violations(&form, &expected);
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded") {
        found.push("content-type: application/x-www-form-urlencoded".into());
    }
    if !found.is_empty() {
        recorder.violations.record(GOOGLE_TOKEN_PATH, &json!(form), found);
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let access_token = format!("ya29.test-{}", ulid::Ulid::new());
    recorder.tokens.lock().expect("recorder lock").push(access_token.clone());
    Json(json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

/// The User Deletion API: a token this stand-in issued, and a valid upsert body.
async fn user_deletion(
    State(recorder): State<MarketingRecorder>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|token| recorder.tokens.lock().expect("recorder lock").iter().any(|t| t == token)) {
        recorder.deletions.lock().expect("recorder lock").push((body, 401));
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let found = provider_rules::ga4_user_deletion::upsert_violations(&body, GA4_PROPERTY_ID);
    if !found.is_empty() {
        recorder.violations.record(GA4_DELETION_PATH, &body, found.clone());
        recorder.deletions.lock().expect("recorder lock").push((body, 400));
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": found.join("; ")}}))).into_response();
    }
    let failing = recorder.failing.lock().expect("recorder lock").get(GA4_DELETION_PATH).copied();
    let status = failing.unwrap_or(200);
    recorder.deletions.lock().expect("recorder lock").push((body.clone(), status));
    if status != 200 {
        return StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response();
    }
    let mut answer = body;
    answer["deletionRequestTime"] =
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    Json(answer).into_response()
}

/// A stand-in for SendGrid's Mail Send. With a mail folder, each accepted message is also
/// written there as a small RFC 5322 text (From, To, Subject, headers, the text part), so the
/// journeys read mail sent through SendGrid as they read the outbox.
#[derive(Clone)]
pub struct SendGridStandIn {
    pub url: String,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    status: Arc<Mutex<u16>>,
    mail_dir: Option<PathBuf>,
    written: Arc<AtomicUsize>,
    violations: Violations,
}

impl SendGridStandIn {
    pub async fn start(mail_dir: Option<PathBuf>) -> Self {
        if let Some(dir) = &mail_dir {
            std::fs::create_dir_all(dir).expect("the stand-in's mail folder");
        }
        let mut stand_in = Self {
            url: String::new(),
            requests: Arc::default(),
            status: Arc::new(Mutex::new(202)),
            mail_dir,
            written: Arc::default(),
            violations: Violations::default(),
        };
        let app = axum::Router::new().route("/v3/mail/send", post(mail_send)).with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        stand_in.url = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        stand_in
    }

    /// Every request with its headers; fails the test if any body broke SendGrid's rules.
    pub fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.assert_valid();
        self.requests.lock().expect("stand-in lock").clone()
    }

    /// Makes valid requests answer `status` from now on (SendGrid answers 202).
    pub fn answer(&self, status: u16) {
        *self.status.lock().expect("stand-in lock") = status;
    }

    pub fn assert_valid(&self) {
        self.violations.assert_none("the SendGrid stand-in");
    }

    fn write(&self, body: &Value) {
        let Some(dir) = &self.mail_dir else { return };
        let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
        let from = match body.pointer("/from/name").and_then(Value::as_str) {
            Some(name) => format!("{name} <{}>", text("/from/email")),
            None => text("/from/email"),
        };
        let mut mail = format!(
            "From: {from}\r\nTo: {}\r\nSubject: {}\r\n",
            text("/personalizations/0/to/0/email"),
            text("/subject")
        );
        for (name, value) in body["headers"].as_object().into_iter().flatten() {
            mail.push_str(&format!("{name}: {}\r\n", value.as_str().unwrap_or_default()));
        }
        mail.push_str(&format!("X-Infentre-Category: {}\r\n\r\n{}", text("/categories/0"), text("/content/0/value")));
        let n = self.written.fetch_add(1, Ordering::SeqCst);
        std::fs::write(dir.join(format!("{n:06}-sendgrid.eml")), mail).expect("write the received mail");
    }
}

async fn mail_send(
    State(stand_in): State<SendGridStandIn>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let found = provider_rules::sendgrid::violations(&body);
    stand_in.requests.lock().expect("stand-in lock").push((headers, body.clone()));
    if !found.is_empty() {
        stand_in.violations.record("/v3/mail/send", &body, found.clone());
        let errors: Vec<Value> = found.iter().map(|v| json!({"message": v, "field": null, "help": null})).collect();
        return (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response();
    }
    let status = *stand_in.status.lock().expect("stand-in lock");
    if (200..300).contains(&status) {
        stand_in.write(&body);
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}
