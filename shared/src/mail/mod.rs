//! The mail port. Every e-mail leaves through the mail worker (the outbox queue), which calls
//! one of these: SendGrid's v3 Mail Send API in AWS, a folder of `.eml` files locally.

#[cfg(feature = "embedded")]
pub mod outbox;
#[cfg(feature = "aws")]
pub mod sendgrid;

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Extra headers, such as RFC 8058's `List-Unsubscribe` and `List-Unsubscribe-Post`.
    pub headers: Vec<(String, String)>,
    /// A label for the provider's statistics (`transactional`, `product_updates`, ...).
    pub category: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this message; sending it again will not help.
    #[error("the message was rejected: {0}")]
    Rejected(String),
    /// The provider is unavailable or throttling; sending again later may succeed.
    #[error("the mail provider is unavailable: {0}")]
    Unavailable(String),
    #[error("mail backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

/// Header names we let through: RFC 5322 field names, and never one the adapter sets itself.
pub(crate) fn check_headers(email: &Email) -> Result<(), MailError> {
    const OURS: [&str; 8] = [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    ];
    for (name, value) in &email.headers {
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid_name || OURS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(MailError::Rejected(format!(
                "header {name:?} cannot be set"
            )));
        }
        if value.contains(['\r', '\n']) {
            return Err(MailError::Rejected(format!(
                "header {name} has a line break"
            )));
        }
    }
    if email.subject.contains(['\r', '\n']) || email.to.contains(['\r', '\n']) {
        return Err(MailError::Rejected("line break in a header".into()));
    }
    Ok(())
}
