//! The local binary as a small company would run it in production, through its real server
//! (`infentre::serve_on` on a loopback socket): mail through a real SMTP server, the client's
//! address from the TCP peer (and from `X-Forwarded-For` only from a trusted proxy).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use shared::clock::SystemClock;

/// A running local server; stops when dropped.
struct Server {
    url: String,
    store: Arc<shared::store::sqlite::SqliteStore>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn serve(settings: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let source: HashMap<&str, &str> = settings.iter().copied().collect();
    // A clock that stands still: the throttling windows are fixed 15 minutes, and a run that
    // crossed a window's end on the system clock would see its counts reset.
    let clock = infentre_tests::shared_clock(&infentre_tests::clock());
    let local = infentre::open(dir.path(), format!("http://{addr}"), &source, clock).unwrap();
    let store = local.engine.store.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(infentre::serve_on(local, listener, Duration::from_secs(3600), async move {
        stopped.await.unwrap_or_default();
    }));
    Server { url: format!("http://{addr}"), store, _stop: stop, _dir: dir }
}

/// An HTTP client whose connections come from `from` (any 127.x.y.z is loopback on Linux).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(from.parse::<IpAddr>().ok()).build().unwrap()
}

async fn failed_login(client: &reqwest::Client, server: &Server, n: usize, forwarded_for: Option<&str>) -> u16 {
    let mut request = client
        .post(format!("{}/v1/sessions", server.url))
        .json(&json!({"email": format!("nobody-{n}@example.com"), "password": "not the password"}));
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Fills one client's bucket: 50 failures per address per 15 minutes (LOGIN_PER_ADDRESS).
async fn exhaust(client: &reqwest::Client, server: &Server, forwarded_for: Option<&str>) {
    let limit = shared::throttle::LOGIN_PER_ADDRESS.max_failures as usize;
    for n in 0..limit {
        assert_eq!(failed_login(client, server, n, forwarded_for).await, 401, "failure {n}");
    }
    assert_eq!(failed_login(client, server, limit, forwarded_for).await, 429, "the bucket is full");
}

#[tokio::test]
async fn logins_from_two_loopback_addresses_are_throttled_separately_and_a_spoofed_forward_is_ignored() {
    let server = serve(&[]).await;
    let first = client_from("127.0.0.1");
    let second = client_from("127.0.0.2");

    exhaust(&first, &server, None).await;

    assert_eq!(failed_login(&second, &server, 1000, None).await, 401, "127.0.0.2 has its own bucket");
    assert_eq!(
        failed_login(&first, &server, 1001, Some("203.0.113.9")).await,
        429,
        "127.0.0.1 is no trusted proxy: its X-Forwarded-For changes nothing"
    );
}

#[tokio::test]
async fn a_trusted_proxy_reports_the_client_address() {
    let server = serve(&[("INFENTRE_TRUSTED_PROXIES", "127.0.0.3")]).await;
    let proxy = client_from("127.0.0.3");

    exhaust(&proxy, &server, Some("198.51.100.7")).await;

    assert_eq!(
        failed_login(&proxy, &server, 1000, Some("198.51.100.8")).await,
        401,
        "another client behind the same proxy has its own bucket"
    );
    assert_eq!(
        failed_login(&proxy, &server, 1001, Some("198.51.100.8, 198.51.100.7")).await,
        429,
        "only the hop the proxy appended counts, not what the client wrote before it"
    );
}

#[tokio::test]
async fn a_visitors_choice_is_kept_with_the_masked_address_the_proxy_reports() {
    let server = serve(&[("INFENTRE_TRUSTED_PROXIES", "127.0.0.0/8")]).await;

    let response = client_from("127.0.0.5")
        .post(format!("{}/v1/cookie-consents", server.url))
        .header("x-forwarded-for", "198.51.100.77")
        .json(&json!({"analytics": true, "marketing": false}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 201);
    let items = format!("{:?}", server.store.dump().await.unwrap());
    assert!(items.contains("198.51.100.0/24"), "the client's /24 is kept: {items}");
    assert!(!items.contains("198.51.100.77") && !items.contains("127.0.0.5"), "never the full address or the proxy's");
}

/// A real SMTP server (aiosmtpd, installed in the test venv by scripts/test) on a free port.
struct SmtpSink {
    port: u16,
    maildir: PathBuf,
    process: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Ours, by its id: it would also stop when its standard input closes.
        if self.process.kill().is_ok() {
            self.process.wait().ok();
        }
    }
}

fn python() -> PathBuf {
    std::env::var_os("INFENTRE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"))
}

fn smtp_sink() -> SmtpSink {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/smtp_sink.py");
    let mut process = std::process::Command::new(python())
        .arg(&script)
        .arg(&maildir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("{}: {err}; run the suite with scripts/test, which installs aiosmtpd", python().display())
        });
    let mut line = String::new();
    // The sink prints its port once it listens (or exits, and the line stays empty).
    std::io::BufReader::new(process.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| panic!("aiosmtpd did not start: {line:?}"));
    SmtpSink { port, maildir, process, _dir: dir }
}

impl SmtpSink {
    /// The messages the server has accepted, waiting up to `wait` for the first.
    async fn messages(&self, wait: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
                .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            files.sort();
            if !files.is_empty() || tokio::time::Instant::now() > deadline {
                return files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_verification_mail_of_a_signup_arrives_at_a_real_smtp_server_and_its_link_works() {
    let sink = smtp_sink();
    let port = sink.port.to_string();
    let server = serve(&[
        ("INFENTRE_MAIL_TRANSPORT", "smtp"),
        ("INFENTRE_SMTP_HOST", "127.0.0.1"),
        ("INFENTRE_SMTP_PORT", &port),
        ("INFENTRE_SMTP_SECURITY", "none"),
    ])
    .await;
    let client = reqwest::Client::new();

    let signup = client
        .post(format!("{}/v1/signup", server.url))
        .json(
            &json!({"email": "grace@example.com", "password": "a long enough password", "organisation_name": "Hopper"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status().as_u16(), 202);
    let messages = sink.messages(Duration::from_secs(20)).await;

    assert_eq!(messages.len(), 1, "the mail worker delivered the verification mail over SMTP");
    let mail = messages[0].replace("\r\n", "\n");
    for header in
        ["From: Infentre <no-reply@infentre.com>", "To: grace@example.com", "Subject: Verify your e-mail address"]
    {
        assert!(mail.contains(header), "missing {header:?} in\n{mail}");
    }
    assert!(mail.contains("Message-ID: <") && mail.contains("@infentre.com>"), "ids under the sender's domain: {mail}");
    let token = infentre_tests::token_in(&mail).expect("a verification link");
    let verified = client
        .post(format!("{}/v1/email-verifications", server.url))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status().as_u16(), 200, "{}", verified.json::<Value>().await.unwrap_or_default());
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_a_failure_worth_retrying() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let source: HashMap<&str, &str> = HashMap::from([
        ("INFENTRE_MAIL_TRANSPORT", "smtp"),
        ("INFENTRE_SMTP_HOST", "127.0.0.1"),
        ("INFENTRE_SMTP_PORT", port.as_str()),
        ("INFENTRE_SMTP_SECURITY", "none"),
    ]);
    let local = infentre::open(dir.path(), "http://127.0.0.1:8080".into(), &source, Arc::new(SystemClock)).unwrap();
    let email = shared::mail::Email::transactional("grace@example.com", "Hello", "Hi");

    let err = local.mailer.send(&email).await.unwrap_err();

    assert!(matches!(err, shared::mail::MailError::Unavailable(_)), "worth retrying: {err}");
}

#[test]
fn bad_mail_settings_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("INFENTRE_MAIL_TRANSPORT", "carrier-pigeon")], "INFENTRE_MAIL_TRANSPORT is invalid"),
        (&[("INFENTRE_MAIL_TRANSPORT", "smtp")], "INFENTRE_SMTP_HOST is not set"),
        (
            &[("INFENTRE_MAIL_TRANSPORT", "smtp"), ("INFENTRE_SMTP_HOST", "h.example"), ("INFENTRE_SMTP_PORT", "0")],
            "INFENTRE_SMTP_PORT is invalid",
        ),
        (&[("INFENTRE_MAIL_TRANSPORT", "sendgrid")], "SENDGRID_API_KEY is not set"),
        (&[("INFENTRE_MAIL_FROM", "Infentre <no-reply@infentre")], "INFENTRE_MAIL_FROM is invalid"),
    ];
    for (settings, expected) in cases {
        let source: HashMap<&str, &str> = settings.iter().copied().collect();
        let err =
            infentre::open(dir.path(), "http://127.0.0.1:8080".into(), &source, Arc::new(SystemClock)).unwrap_err();
        assert!(err.to_string().starts_with(expected), "{settings:?}: {err}");
    }
}

#[tokio::test]
async fn with_sendgrid_configured_the_local_binary_sends_through_its_api() {
    let stand_in = infentre_tests::recorder::SendGridStandIn::start(None).await;
    let server = serve(&[
        ("INFENTRE_MAIL_TRANSPORT", "sendgrid"),
        ("SENDGRID_API_KEY", "SG.local-key"),
        ("SENDGRID_BASE_URL", &stand_in.url),
    ])
    .await;

    let signup = reqwest::Client::new()
        .post(format!("{}/v1/signup", server.url))
        .json(
            &json!({"email": "grace@example.com", "password": "a long enough password", "organisation_name": "Hopper"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status().as_u16(), 202);
    let mut requests = Vec::new();
    for _ in 0..200 {
        requests = stand_in.requests();
        if !requests.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(requests.len(), 1, "the verification mail went to SendGrid");
    let (headers, body) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer SG.local-key");
    assert_eq!(body["personalizations"][0]["to"][0]["email"], "grace@example.com");
    assert_eq!(body["from"], json!({"email": "no-reply@infentre.com", "name": "Infentre"}));
}

#[tokio::test]
async fn a_configured_marketing_destination_goes_over_https_and_the_other_stays_a_folder() {
    let recorder = infentre_tests::recorder::MarketingRecorder::start().await;
    let endpoint = format!("{}{}", recorder.url, infentre_tests::recorder::GA4_PATH);
    let dir = tempfile::tempdir().unwrap();
    let source: HashMap<&str, &str> = HashMap::from([
        ("INFENTRE_GA4_MEASUREMENT_ID", "G-LOCAL"),
        ("INFENTRE_GA4_API_SECRET", "local-secret"),
        ("INFENTRE_GA4_ENDPOINT", endpoint.as_str()),
    ]);
    let local = infentre::open(dir.path(), "http://127.0.0.1:8080".into(), &source, Arc::new(SystemClock)).unwrap();
    let now = chrono::Utc::now().timestamp();
    let ga4_body = json!({"client_id": "c1", "events": [{"name": "page_view", "timestamp_micros": now * 1_000_000}]});
    let facebook_body = json!({"data": []});

    for destination in &local.destinations {
        match destination.id() {
            shared::marketing::DestinationId::GoogleAnalytics => destination.send(&ga4_body).await.unwrap(),
            shared::marketing::DestinationId::Facebook => destination.send(&facebook_body).await.unwrap(),
        }
    }

    assert_eq!(local.destinations.len(), 2);
    let received = recorder.received();
    assert_eq!(received.len(), 1, "GA4 over HTTP");
    assert_eq!(received[0].query["measurement_id"], "G-LOCAL");
    let folder = dir.path().join("marketing-outbox/facebook");
    assert_eq!(std::fs::read_dir(folder).unwrap().count(), 1, "Facebook, not configured, in its folder");
}
