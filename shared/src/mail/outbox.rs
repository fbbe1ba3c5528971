//! The embedded default: every e-mail becomes one RFC 5322 `.eml` file in the outbox folder.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use lettre::Message;
use lettre::message::header::ContentTransferEncoding;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use super::{Email, MailError, Mailer, check_headers};
use crate::clock::Clock;

#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
    clock: Arc<dyn Clock>,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &str, clock: Arc<dyn Clock>) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir).map_err(|err| MailError::Backend(Box::new(err)))?;
        let from = from.parse().map_err(|_| MailError::Rejected("the sender address is invalid".into()))?;
        Ok(Self { dir, from, clock })
    }

    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        check_headers(email)?;
        let to: Mailbox =
            email.to.parse().map_err(|_| MailError::Rejected("the recipient address is invalid".into()))?;
        let id = ulid::Ulid::new();
        let now = self.clock.now();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .date(now.into())
            .message_id(Some(format!("<{id}@infentre.local>")));
        for (name, value) in &email.headers {
            let name = HeaderName::new_from_ascii(name.clone())
                .map_err(|_| MailError::Rejected(format!("header {name:?} is not valid")))?;
            builder = builder.raw_header(HeaderValue::new(name, value.clone()));
        }
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Infentre-Category"),
            email.category.clone(),
        ));
        let message = match &email.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(readable(&email.text)))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(readable(html))),
            ),
            None => builder.header(ContentType::TEXT_PLAIN).body(readable(&email.text)),
        }
        .map_err(|err| MailError::Rejected(err.to_string()))?;

        let name = format!("{}-{id}.eml", now.format("%Y%m%dT%H%M%S"));
        let partial = self.dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, message.formatted()).await.map_err(|err| MailError::Backend(Box::new(err)))?;
        tokio::fs::rename(&partial, self.dir.join(name)).await.map_err(|err| MailError::Backend(Box::new(err)))?;
        Ok(())
    }
}

/// 8bit where RFC 5322 allows it (no NUL, lines under 998 bytes): the file stays readable
/// and links are not cut by quoted-printable soft line breaks. lettre itself switches to
/// quoted-printable past 76 characters, so the check is ours.
fn readable(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n");
    if !crlf.contains('\0') && crlf.split("\r\n").all(|line| line.len() <= 998) {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text.to_owned())
    }
}
