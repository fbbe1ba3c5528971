//! RFC 5322 messages built with lettre: the outbox's `.eml` files and what SMTP sends are
//! the same bytes.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use super::{Email, MailError, check_headers};

/// The message for `email` from `from`, dated `now`, with `Message-ID: <{id}@{id_domain}>`.
pub(crate) fn message(
    from: &Mailbox,
    email: &Email,
    now: chrono::DateTime<chrono::Utc>,
    id: &str,
    id_domain: &str,
) -> Result<Message, MailError> {
    check_headers(email)?;
    let to: Mailbox = email.to.parse().map_err(|_| MailError::Rejected("the recipient address is invalid".into()))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .date(now.into())
        .message_id(Some(format!("<{id}@{id_domain}>")));
    for (name, value) in email.sent_headers() {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| MailError::Rejected(format!("header {name:?} is not valid")))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    builder = builder
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Infentre-Category"), email.category.clone()));
    match &email.html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(readable(&email.text)))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(readable(html))),
        ),
        None => builder.header(ContentType::TEXT_PLAIN).body(readable(&email.text)),
    }
    .map_err(|err| MailError::Rejected(err.to_string()))
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
