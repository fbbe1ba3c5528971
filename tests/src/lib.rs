//! Fixtures for the contract suites and journeys: every port on both engines, fresh for each
//! test. The AWS side runs against moto in server mode, started by `scripts/test` which sets
//! `INFENTRE_TEST_MOTO_URL`.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use chrono::{DateTime, Utc};
use shared::aws::AwsClients;
use shared::clock::ManualClock;
use shared::queue::QueueName;
use shared::queue::sqs::QueueUrls;

/// Where moto listens; the moto-backed tests fail (not skip) without it.
pub fn moto_url() -> String {
    std::env::var("INFENTRE_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!("INFENTRE_TEST_MOTO_URL is not set: run the suite with scripts/test, which starts moto")
    })
}

/// A clock that starts at a fixed, realistic moment.
pub fn clock() -> ManualClock {
    ManualClock::new(start_time())
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-29T09:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// AWS clients pointed at moto, with dummy credentials, counting requests.
pub async fn moto_clients() -> AwsClients {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("eu-north-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    AwsClients::from_config(&config)
}

/// Creates a table with the keys, indexes and TTL of `template.yaml`.
pub async fn create_table(clients: &AwsClients, name: &str) {
    let key =
        |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    let attribute = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let gsi = |n: u8| {
        GlobalSecondaryIndex::builder()
            .index_name(format!("GSI{n}"))
            .key_schema(key(&format!("GSI{n}PK"), KeyType::Hash))
            .key_schema(key(&format!("GSI{n}SK"), KeyType::Range))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .unwrap()
    };
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range));
    for attr in ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK"] {
        request = request.attribute_definitions(attribute(attr));
    }
    for n in 1..=3 {
        request = request.global_secondary_indexes(gsi(n));
    }
    request.send().await.expect("create table on moto");
    clients
        .dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().unwrap(),
        )
        .send()
        .await
        .expect("enable TTL on moto");
}

/// Creates every queue with its dead-letter queue, redriven after `max_receives`.
pub async fn create_queues(clients: &AwsClients, prefix: &str, max_receives: u32) -> HashMap<QueueName, QueueUrls> {
    let mut urls = HashMap::new();
    for queue in QueueName::ALL {
        let dlq = clients
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-{}-dlq", queue.as_str()))
            .send()
            .await
            .expect("create DLQ on moto");
        let dead_letter_url = dlq.queue_url.expect("DLQ URL");
        let arn = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("DLQ attributes")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("DLQ ARN");
        let redrive = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.to_string()});
        let main = clients
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-{}", queue.as_str()))
            .attributes(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .expect("create queue on moto");
        urls.insert(queue, QueueUrls { url: main.queue_url.expect("queue URL"), dead_letter_url });
    }
    urls
}

pub async fn create_bucket(clients: &AwsClients, name: &str) {
    clients
        .s3
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuNorth1)
                .build(),
        )
        .send()
        .await
        .expect("create bucket on moto");
}

/// Both engines' clocks as the trait object the adapters take.
pub fn shared_clock(clock: &ManualClock) -> Arc<dyn shared::clock::Clock> {
    Arc::new(clock.clone())
}

/// The website that embeds the cookie banner, in the tests' settings.
pub const BANNER_ORIGIN: &str = "https://www.infentre.example";

/// A fresh embedded engine in a temporary data directory.
pub fn embedded_engine(clock: &ManualClock) -> (shared::embedded::Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary data directory");
    let public_key = sendgrid_public_key();
    let source: HashMap<&str, &str> = HashMap::from([
        ("INFENTRE_OPERATORS", "dpo@infentre.com"),
        ("INFENTRE_SENDGRID_WEBHOOK_PUBLIC_KEY", public_key.as_str()),
        ("INFENTRE_MARKETING_SYNC", "on"),
        ("INFENTRE_STRIPE_WEBHOOK_SECRET", STRIPE_SECRET),
        ("INFENTRE_COOKIE_CONSENT_ORIGINS", BANNER_ORIGIN),
    ]);
    let settings = shared::config::Settings::from_source(
        &source,
        "http://127.0.0.1:8080".into(),
        shared::signing::SigningKey::generate(),
    )
    .expect("settings");
    let engine = shared::embedded::Engine::open(dir.path(), settings, shared_clock(clock)).expect("engine");
    (engine, dir)
}

/// The `.eml` files in an outbox folder, oldest first.
pub fn outbox_files(dir: &std::path::Path) -> Vec<String> {
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

/// Calls an app in process and returns status, headers and the JSON body (Null if none).
pub async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    body: Option<serde_json::Value>,
) -> (u16, http::HeaderMap, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = http::Request::builder().method(method).uri(path);
    match auth {
        Auth::None => {}
        Auth::Bearer(token) => request = request.header("authorization", format!("Bearer {token}")),
        Auth::Cookie { token, csrf } => {
            request = request.header("cookie", format!("__Host-infentre_session={token}"));
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
        }
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            axum::body::Body::from(json.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let response = app.clone().oneshot(request.body(body).expect("request")).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie { token: &'a str, csrf: Option<&'a str> },
}

/// The token of the newest e-mail to `to` in an outbox folder.
pub fn token_mailed_to(outbox: &std::path::Path, to: &str) -> Option<String> {
    outbox_files(outbox).into_iter().rev().filter(|mail| mail.contains(&format!("To: {to}"))).find_map(|m| token_in(&m))
}

/// The token of the first link with `token=` in a mail.
pub fn token_in(mail: &str) -> Option<String> {
    let start = mail.find("token=")? + "token=".len();
    Some(mail[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect())
}
pub mod backend;
pub mod intercepted;
pub mod pages;
pub mod provider_rules;
pub mod recorder;

/// The tests' stand-in for SendGrid's webhook signing key (fixed, so both engines share it).
pub fn sendgrid_signing_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a valid P-256 scalar")
}

/// Its public half as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo.
pub fn sendgrid_public_key() -> String {
    use base64::Engine;
    use p256::pkcs8::EncodePublicKey;
    let der = sendgrid_signing_key().verifying_key().to_public_key_der().expect("DER");
    base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
}

/// Signs a webhook body as SendGrid does: base64 DER ECDSA over `timestamp || body`.
pub fn sendgrid_signature(timestamp: &str, body: &[u8]) -> String {
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    let signature: p256::ecdsa::Signature = sendgrid_signing_key().sign(&signed);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

/// Runs one suite of cases against two fixtures, each in a module named for its adapter, so
/// the output shows every case passing on both (`sqlite_store::...`, `dynamodb_store_on_moto::...`).
#[macro_export]
macro_rules! contract {
    ($first:ident = $first_fixture:ident, $second:ident = $second_fixture:ident; $($case:ident),* $(,)?) => {
        mod $first {
            $( #[tokio::test] async fn $case() { super::$case(super::$first_fixture().await).await } )*
        }
        mod $second {
            $( #[tokio::test] async fn $case() { super::$case(super::$second_fixture().await).await } )*
        }
    };
}

/// A fresh store on each engine: SQLite in a new file, or a new table on moto.
pub struct StoreFixture {
    pub store: Arc<dyn shared::store::Store>,
    pub clock: ManualClock,
    /// AWS requests made since the fixture was built (moto only).
    pub requests: Option<shared::aws::RequestCounter>,
    /// The SQLite file's folder, deleted with the fixture.
    pub data_dir: Option<tempfile::TempDir>,
}

/// A file, not an in-memory database: reads then go through the read connections beside the
/// writer, as in the local server.
pub async fn sqlite_store() -> StoreFixture {
    let clock = clock();
    let dir = tempfile::tempdir().expect("temporary data directory");
    let db = shared::embedded::SqliteDb::open(&dir.path().join("store.sqlite3")).expect("SQLite file");
    let store = shared::store::sqlite::SqliteStore::new(db, shared_clock(&clock));
    StoreFixture { store: Arc::new(store), clock, requests: None, data_dir: Some(dir) }
}

pub async fn moto_store() -> StoreFixture {
    let clock = clock();
    let clients = moto_clients().await;
    let table = unique("store");
    create_table(&clients, &table).await;
    let store = shared::store::dynamodb::DynamoStore::new(clients.dynamodb.clone(), table, shared_clock(&clock));
    clients.requests.reset();
    StoreFixture { store: Arc::new(store), clock, requests: Some(clients.requests), data_dir: None }
}

/// The tests' Stripe endpoint secret.
pub const STRIPE_SECRET: &str = "whsec_test_secret";

/// A `Stripe-Signature` header for `body` at `timestamp`, as Stripe signs.
pub fn stripe_signature(timestamp: i64, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(STRIPE_SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},v1={}", shared::hash::hex(&mac.finalize().into_bytes()))
}

/// The `n`-th of a series of page views of one user, `n` milliseconds before `now_ms`, with
/// browser information (as stored with consent): benchmark data.
pub fn page_view(user_id: &str, organisation_id: &str, n: i64, now_ms: i64) -> shared::tracking::TrackedEvent {
    shared::tracking::TrackedEvent {
        event_id: ulid::Ulid::new().to_string(),
        user_id: user_id.to_owned(),
        organisation_id: organisation_id.to_owned(),
        name: "page_view".into(),
        occurred_at_ms: now_ms - n,
        received_at: now_ms / 1000,
        properties: serde_json::from_value(serde_json::json!({"page": format!("/p/{n}")})).expect("an object"),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("bench".into()),
    }
}

/// [`page_view`] as the tracking function leaves it: the event waiting in the user's
/// partition (the item to put) and its message on the tracking queue (ids only).
pub fn page_view_pending(
    user_id: &str,
    organisation_id: &str,
    n: i64,
    now_ms: i64,
) -> (shared::store::Item, shared::tracking::EventMessage) {
    let event = page_view(user_id, organisation_id, n, now_ms);
    (event.pending_item(now_ms / 1000).expect("a page view serialises"), event.message())
}
