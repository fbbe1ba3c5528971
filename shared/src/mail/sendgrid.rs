//! SendGrid's v3 Mail Send API (`POST /v3/mail/send`), over HTTPS with rustls.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::{Email, MailError, Mailbox, Mailer, check_headers};

pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";

#[derive(Clone)]
pub struct SendGridMailer {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    from: Mailbox,
}

impl std::fmt::Debug for SendGridMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendGridMailer").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl SendGridMailer {
    /// `base_url` is SendGrid's API (or, in tests, a local recorder); `from` our sender.
    pub fn new(base_url: &str, api_key: &str, from: Mailbox) -> Result<Self, MailError> {
        crate::tls::install_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| MailError::Backend(Box::new(err)))?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_owned(), api_key: api_key.to_owned(), from })
    }

    /// The request body SendGrid expects: bare addresses with the name apart, string-only
    /// custom arguments, text before HTML.
    pub fn body(&self, email: &Email) -> Value {
        let mut content = vec![json!({"type": "text/plain", "value": email.text})];
        if let Some(html) = &email.html {
            content.push(json!({"type": "text/html", "value": html}));
        }
        let headers: Map<String, Value> =
            email.sent_headers().into_iter().map(|(name, value)| (name, Value::from(value))).collect();
        let mut body = json!({
            "personalizations": [{"to": [{"email": email.to}]}],
            "from": from_object(&self.from),
            "subject": email.subject,
            "content": content,
            "categories": [email.category],
        });
        if !headers.is_empty() {
            body["headers"] = Value::Object(headers);
        }
        if let Some(organisation_id) = &email.organisation_id {
            body["custom_args"] = json!({ "organisation_id": organisation_id });
        }
        body
    }
}

#[async_trait]
impl Mailer for SendGridMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        check_headers(email)?;
        let response = self
            .http
            .post(format!("{}/v3/mail/send", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&self.body(email))
            .send()
            .await
            .map_err(|err| MailError::Unavailable(format!("request failed: {}", without_url(&err))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // SendGrid explains refusals in `errors[].message`; they name fields, not recipients.
        let detail = response.text().await.unwrap_or_default();
        let detail: String = detail.chars().take(300).collect();
        if status.as_u16() == 429 || status.is_server_error() {
            Err(MailError::Unavailable(format!("SendGrid answered {status}")))
        } else {
            Err(MailError::Rejected(format!("SendGrid answered {status}: {detail}")))
        }
    }
}

fn from_object(mailbox: &Mailbox) -> Value {
    match mailbox.name() {
        Some(name) => json!({"email": mailbox.address(), "name": name}),
        None => json!({"email": mailbox.address()}),
    }
}

fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}
