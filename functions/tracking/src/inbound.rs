//! SendGrid's Inbound Parse webhook: e-mail to hello@ arrives here and goes to the one intake
//! (`shared::cases::intake`), as `.eml` files do locally.
//!
//! With "send raw" on (recommended), the whole MIME message is in the form field `email`;
//! without, the message is rebuilt from the parsed fields `from`, `subject`, `text` and the
//! `Message-ID` of `headers`. Attachment fields are skipped unread. When the parse webhook's
//! security policy signs requests (`INFENTRE_SENDGRID_INBOUND_PUBLIC_KEY` set), the ECDSA
//! signature over the timestamp and the raw body is checked first, as for the Event Webhook.
//! Too large or malformed → 4xx and nothing stored (SendGrid gives up after 3 days of retries).

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde::Serialize;
use shared::Platform;
use shared::cases::intake::{self, InboundMessage, IntakeError};
use shared::error::{ApiError, Problem};
use utoipa::ToSchema;

use crate::sendgrid::{SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, TIMESTAMP_HEADER, verify};

/// The largest form accepted: the raw message's limit and room for the other fields.
pub const BODY_LIMIT: usize = intake::MAX_RAW_BYTES + 512 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundResult {
    pub case_id: String,
    /// The same message came before: nothing new was stored or sent.
    pub duplicate: bool,
}

/// The fields the message is rebuilt from when SendGrid does not send it raw.
#[derive(Default)]
struct Fields {
    email: Option<Bytes>,
    from: Option<String>,
    subject: Option<String>,
    text: Option<String>,
    headers: Option<String>,
}

fn malformed(detail: &'static str) -> ApiError {
    ApiError::bad_request("malformed_message", detail)
}

async fn read_form(content_type: &str, body: Bytes) -> Result<Fields, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "SendGrid's Inbound Parse posts multipart/form-data.",
        )
    })?;
    let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(BODY_LIMIT as u64).per_field(intake::MAX_RAW_BYTES as u64));
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut fields = Fields::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(fields),
            Err(multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. }) => {
                return Err(ApiError::payload_too_large(intake::MAX_RAW_BYTES));
            }
            Err(_) => return Err(malformed("The body is not a well-formed multipart form.")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        // Attachments (`attachment1`, ...) and the rest are never read.
        if !matches!(name.as_str(), "email" | "from" | "subject" | "text" | "headers") {
            continue;
        }
        let value = match field.bytes().await {
            Ok(value) => value,
            Err(multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. }) => {
                return Err(ApiError::payload_too_large(intake::MAX_RAW_BYTES));
            }
            Err(_) => return Err(malformed("The body is not a well-formed multipart form.")),
        };
        let text = || String::from_utf8_lossy(&value).into_owned();
        match name.as_str() {
            "email" => fields.email = Some(value.clone()),
            "from" => fields.from = Some(text()),
            "subject" => fields.subject = Some(text()),
            "text" => fields.text = Some(text()),
            _ => fields.headers = Some(text()),
        }
    }
}

/// A header line's value cleaned of line breaks (it goes back into a header).
fn one_line(value: &str) -> String {
    value.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// The message: raw if SendGrid sent it so, else rebuilt from the parsed fields.
fn message_of(fields: Fields) -> Result<Vec<u8>, ApiError> {
    if let Some(raw) = fields.email {
        return Ok(raw.to_vec());
    }
    let from = fields.from.ok_or_else(|| malformed("The form has neither `email` nor `from`."))?;
    let message_id = fields.headers.as_deref().and_then(|headers| {
        headers.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("message-id").then(|| one_line(value.trim()))
        })
    });
    let mut raw =
        format!("From: {}\r\nSubject: {}\r\n", one_line(&from), one_line(&fields.subject.unwrap_or_default()));
    if let Some(id) = message_id {
        raw.push_str(&format!("Message-ID: {id}\r\n"));
    }
    raw.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    raw.push_str(&fields.text.unwrap_or_default());
    Ok(raw.into_bytes())
}

/// SendGrid's Inbound Parse: one e-mail to hello@, taken in as a case and answered.
#[utoipa::path(post, path = "/v1/webhooks/sendgrid-inbound", tag = "tracking", operation_id = "sendgrid_inbound_webhook",
    params(
        ("X-Twilio-Email-Event-Webhook-Signature" = Option<String>, Header, description = "base64 DER ECDSA signature (required when a key is configured)"),
        ("X-Twilio-Email-Event-Webhook-Timestamp" = Option<String>, Header, description = "unix seconds (required when a key is configured)"),
    ),
    request_body(content = String, content_type = "multipart/form-data", description = "SendGrid's parsed e-mail; with \"send raw\", the MIME message in the field `email`"),
    responses(
        (status = 200, body = InboundResult),
        (status = 400, description = "malformed_message: not a multipart form, or no sender", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "invalid_signature (bad, missing or more than 10 minutes off, with a key configured): nothing is stored", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "payload_too_large: the message is over 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "unsupported_media_type: not multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable: the store is busy", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn webhook(
    State(platform): State<Platform>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<InboundResult>, ApiError> {
    let body = body.map_err(|_| ApiError::payload_too_large(intake::MAX_RAW_BYTES))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let now = platform.clock.epoch_seconds();
    if let Some(key) = platform.settings.sendgrid_inbound_key.as_ref() {
        let invalid = || ApiError::unauthorized("invalid_signature", "The webhook signature does not verify.");
        let (signature, timestamp) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER));
        let signed_at: i64 = timestamp.parse().map_err(|_| invalid())?;
        if timestamp.len() > 12 || signature.is_empty() || !verify(key, &timestamp, &body, &signature) {
            return Err(invalid());
        }
        if (now - signed_at).abs() > SIGNATURE_TOLERANCE_SECONDS {
            return Err(ApiError::unauthorized("invalid_signature", "The webhook signature is older than 10 minutes."));
        }
    }
    let fields = read_form(&header("content-type"), body).await?;
    let raw = message_of(fields)?;
    match intake::intake(&platform, InboundMessage { raw, received_at: now }).await {
        Ok(taken) => Ok(Json(InboundResult { case_id: taken.case_id, duplicate: taken.duplicate })),
        Err(IntakeError::TooLarge) => Err(ApiError::payload_too_large(intake::MAX_RAW_BYTES)),
        Err(IntakeError::Malformed(detail)) => Err(malformed(detail)),
        Err(IntakeError::Store(err)) => Err(err.into()),
        Err(IntakeError::Queue(err)) => Err(err.into()),
    }
}
