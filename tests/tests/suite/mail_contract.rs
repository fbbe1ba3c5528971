//! The mail contract, run against the `.eml` outbox and SendGrid's API (a local server that
//! records what it receives stands in for SendGrid).

use std::sync::Arc;

use infentre_tests::recorder::SendGridStandIn;
use infentre_tests::{clock, shared_clock};
use serde_json::{Value, json};
use shared::config::DEFAULT_MAIL_FROM;
use shared::mail::outbox::OutboxMailer;
use shared::mail::sendgrid::SendGridMailer;
use shared::mail::{Email, MailError, Mailbox, Mailer};

/// One delivered e-mail, as either backend shows it.
#[derive(Debug, PartialEq, Eq)]
struct Delivered {
    to: String,
    subject: String,
    text: String,
    headers: Vec<(String, String)>,
}

enum Inbox {
    Outbox(std::path::PathBuf),
    SendGrid(SendGridStandIn),
}

struct Fixture {
    mailer: Arc<dyn Mailer>,
    inbox: Inbox,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    fn delivered(&self) -> Vec<Delivered> {
        match &self.inbox {
            Inbox::Outbox(dir) => {
                let mut files: Vec<_> = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect();
                files.sort();
                files.iter().map(|path| parse_eml(&std::fs::read_to_string(path).unwrap())).collect()
            }
            Inbox::SendGrid(stand_in) => stand_in.requests().iter().map(|(_, body)| from_sendgrid(body)).collect(),
        }
    }
}

/// The sender as production configures it by default: a display name and an address.
fn sender() -> Mailbox {
    Mailbox::parse(DEFAULT_MAIL_FROM).unwrap()
}

fn parse_eml(text: &str) -> Delivered {
    let (head, body) = text.split_once("\r\n\r\n").expect("RFC 5322 header and body");
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push_str(line.trim_start());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let field = |name: &str| {
        fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let mut custom: Vec<_> =
        fields.iter().filter(|(n, _)| n.starts_with("List-") || n == "Auto-Submitted").cloned().collect();
    custom.sort();
    Delivered {
        to: field("To"),
        subject: field("Subject"),
        text: body.replace("\r\n", "\n").trim_end().to_owned(),
        headers: custom,
    }
}

fn from_sendgrid(body: &Value) -> Delivered {
    let mut headers: Vec<(String, String)> = body["headers"]
        .as_object()
        .map(|h| h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default();
    headers.sort();
    Delivered {
        to: body["personalizations"][0]["to"][0]["email"].as_str().unwrap_or_default().to_owned(),
        subject: body["subject"].as_str().unwrap_or_default().to_owned(),
        text: body["content"][0]["value"].as_str().unwrap_or_default().trim_end().to_owned(),
        headers,
    }
}

async fn outbox() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox");
    let mailer = OutboxMailer::new(path.clone(), &sender(), shared_clock(&clock())).unwrap();
    Fixture { mailer: Arc::new(mailer), inbox: Inbox::Outbox(path), _dir: Some(dir) }
}

async fn sendgrid() -> Fixture {
    let stand_in = SendGridStandIn::start(None).await;
    let mailer = SendGridMailer::new(&stand_in.url, "SG.test-key", sender()).unwrap();
    Fixture { mailer: Arc::new(mailer), inbox: Inbox::SendGrid(stand_in), _dir: None }
}

infentre_tests::contract!(
    outbox_mailer = outbox,
    sendgrid_mailer = sendgrid;
an_email_is_delivered_with_its_unsubscribe_headers, header_injection_is_refused_and_nothing_is_sent);

fn email() -> Email {
    Email {
        to: "ada@example.com".into(),
        subject: "New in Infentre: exports".into(),
        text: "Hello,\nthere is something new.\nUnsubscribe: https://app.example/v1/unsubscribe?token=abc.def".into(),
        html: None,
        headers: vec![
            ("List-Unsubscribe".into(), "<https://app.example/v1/unsubscribe?token=abc.def>".into()),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
        category: "product_updates".into(),
        organisation_id: None,
    }
}

async fn an_email_is_delivered_with_its_unsubscribe_headers(f: Fixture) {
    f.mailer.send(&email()).await.unwrap();

    let delivered = f.delivered();
    assert_eq!(delivered.len(), 1);
    let mail = &delivered[0];
    assert_eq!(mail.to, "ada@example.com");
    assert_eq!(mail.subject, "New in Infentre: exports");
    assert!(mail.text.contains("unsubscribe?token=abc.def"), "{}", mail.text);
    assert_eq!(
        mail.headers,
        vec![
            // RFC 3834: machine-made mail says so, and auto-responders leave it unanswered.
            ("Auto-Submitted".to_owned(), "auto-generated".to_owned()),
            ("List-Unsubscribe".to_owned(), "<https://app.example/v1/unsubscribe?token=abc.def>".to_owned()),
            ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()),
        ]
    );
}

async fn header_injection_is_refused_and_nothing_is_sent(f: Fixture) {
    let mut injected = email();
    injected.subject = "Hi\r\nBcc: everyone@example.com".into();
    assert!(matches!(f.mailer.send(&injected).await, Err(MailError::Rejected(_))));
    let mut overriding = email();
    overriding.headers.push(("From".into(), "ceo@example.com".into()));
    assert!(matches!(f.mailer.send(&overriding).await, Err(MailError::Rejected(_))));
    assert!(f.delivered().is_empty());
}

#[tokio::test]
async fn sendgrid_gets_the_api_key_and_both_parts_of_an_html_mail() {
    let stand_in = SendGridStandIn::start(None).await;
    let mailer = SendGridMailer::new(&stand_in.url, "SG.test-key", sender()).unwrap();
    let mut mail = email();
    mail.html = Some("<p>Hello</p>".into());
    mail.organisation_id = Some("01JORGANISATION".into());

    mailer.send(&mail).await.unwrap();

    let requests = stand_in.requests();
    let (headers, body) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer SG.test-key");
    assert_eq!(body["content"][0]["type"], "text/plain", "SendGrid wants text/plain first");
    assert_eq!(body["content"][1]["value"], "<p>Hello</p>");
    assert_eq!(body["categories"][0], "product_updates");
    assert_eq!(body["from"], json!({"email": "no-reply@infentre.com", "name": "Infentre"}), "name and address apart");
    assert_eq!(body["custom_args"], json!({"organisation_id": "01JORGANISATION"}));
}

#[tokio::test]
async fn a_body_sendgrid_would_refuse_fails_at_the_stand_in() {
    let stand_in = SendGridStandIn::start(None).await;
    let client = reqwest::Client::new();
    let body = json!({
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": DEFAULT_MAIL_FROM},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hi"}],
    });

    let response = client.post(format!("{}/v3/mail/send", stand_in.url)).json(&body).send().await.unwrap();

    assert_eq!(response.status().as_u16(), 400, "as SendGrid answers");
    let errors: Value = response.json().await.unwrap();
    assert!(errors["errors"][0]["message"].as_str().unwrap().starts_with("from.email"), "{errors}");
    let reading = std::panic::catch_unwind(|| stand_in.requests());
    assert!(reading.is_err(), "reading what the stand-in received fails the test");
}

#[tokio::test]
async fn sendgrid_refusals_and_outages_are_told_apart() {
    let stand_in = SendGridStandIn::start(None).await;
    let mailer = SendGridMailer::new(&stand_in.url, "SG.test-key", sender()).unwrap();

    stand_in.answer(400);
    assert!(matches!(mailer.send(&email()).await, Err(MailError::Rejected(_))));
    stand_in.answer(503);
    assert!(matches!(mailer.send(&email()).await, Err(MailError::Unavailable(_))));
    stand_in.answer(429);
    assert!(matches!(mailer.send(&email()).await, Err(MailError::Unavailable(_))));

    let unreachable = SendGridMailer::new("http://127.0.0.1:9", "k", sender()).unwrap();
    assert!(matches!(unreachable.send(&email()).await, Err(MailError::Unavailable(_))));
}

#[tokio::test]
async fn the_outbox_writes_one_rfc5322_file_per_email_with_encoded_unicode() {
    let f = outbox().await;
    let mut mail = email();
    mail.subject = "Välkommen till Infentre".into();
    f.mailer.send(&mail).await.unwrap();

    let Inbox::Outbox(dir) = &f.inbox else { unreachable!() };
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.is_ascii(), "headers are encoded for transport");
    for header in [
        "From: Infentre <no-reply@infentre.com>",
        "To: ada@example.com",
        "Message-ID: <",
        "Date: ",
        "Subject: =?utf-8?",
    ] {
        assert!(text.contains(header), "missing {header:?} in\n{text}");
    }
}
