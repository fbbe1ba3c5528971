//! SendGrid's signed Event Webhook, and the erasure of one recipient.
//!
//! The signature (ECDSA P-256 over the timestamp header followed by the raw body) is checked
//! before the body is even parsed. The opener's IP address and user agent are dropped before
//! anything is stored; only an allow-list of fields is kept. Interactions are filed under
//! the organisation (SendGrid returns our `organisation_id` custom argument) and the recipient,
//! identified by a hash of the normalised address, and kept at most 3 years. A duplicate
//! `sg_event_id` writes the same item again: SendGrid's retries store nothing twice. Nothing
//! is kept for an organisation that is gone or whose erasure has begun (its fence).
//!
//! With marketing sync on, an interaction whose e-mail was sent for one of our users (custom
//! argument `user_id`) is queued to be shared as that user's usage, under their
//! `marketing_sharing` consent and never with the recipient's identity; the marketing worker
//! drops it if the recipient is suppressed by then.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::Platform;
use shared::accounts::{self, AccountError};
use shared::domain::EmailAddress;
use shared::erasure::fence;
use shared::error::{ApiError, Problem};
use shared::marketing::{EventSource, RecipientRef, SharedEvent};
use shared::queue::QueueName;
use shared::session::AuthUser;
use shared::store::{BatchOp, Index, Item, Key};
use shared::tracking::RETENTION_SECONDS;
use shared::{keys, store};
use utoipa::ToSchema;

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
/// SendGrid posts batches of events; allow more than the API's usual 64 KiB.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// How old (or early) a signature may be: SendGrid documents none, ten minutes covers clock
/// skew and its delivery delay while bounding a replay.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 10 * 60;

/// Checks SendGrid's signature: base64 DER ECDSA over `timestamp || raw body`, SHA-256.
pub fn verify(key: &VerifyingKey, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(der) = STANDARD.decode(signature.trim()) else { return false };
    let Ok(signature) = Signature::from_der(&der) else { return false };
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.verify(&signed, &signature).is_ok()
}

/// What we keep of one SendGrid event: no address, no IP, no user agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub sg_event_id: String,
    pub organisation_id: String,
    /// SHA-256 of the recipient's normalised address.
    pub recipient: String,
    pub event: String,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sg_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Interaction {
    fn item(&self) -> Result<Item, store::StoreError> {
        let shard = shared::hash::shard_of(&self.sg_event_id, keys::INTERACTION_SHARDS);
        let key = Key::new(
            keys::recipient_interactions(&self.organisation_id, &self.recipient),
            keys::interaction_sort(self.timestamp, &self.sg_event_id),
        );
        Ok(Item::new(key, "email_interaction")
            .with_data(self)?
            .with_index(
                Index::Gsi1,
                keys::organisation_interaction(&self.organisation_id, shard, &self.recipient, &self.sg_event_id),
            )
            .expires_at(self.timestamp + RETENTION_SECONDS))
    }
}

impl Interaction {
    /// The interaction as the sending user's usage: the event, never the recipient's identity.
    fn shared_event(&self, user_id: String) -> SharedEvent {
        SharedEvent {
            event_id: format!("sg:{}", self.sg_event_id),
            user_id,
            name: format!("email_{}", self.event),
            occurred_at: self.timestamp,
            params: serde_json::Map::new(),
            recipient: Some(RecipientRef {
                organisation_id: self.organisation_id.clone(),
                recipient: self.recipient.clone(),
            }),
            source: EventSource::Email,
        }
    }
}

fn text(event: &Value, field: &str, max: usize) -> Option<String> {
    event.get(field).and_then(Value::as_str).filter(|s| !s.is_empty() && s.len() <= max).map(str::to_owned)
}

/// The page a click went to, without its query string or fragment: those carry tokens,
/// addresses and campaign ids we have no reason to keep for 3 years (L13).
pub fn clicked_page(url: &str) -> Option<String> {
    let page = url.split(['?', '#']).next().unwrap_or_default();
    (!page.is_empty()).then(|| page.to_owned())
}

pub use shared::recipients::recipient_hash;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResult {
    pub stored: usize,
    /// Events not ours (no organisation), malformed, or of a suppressed recipient.
    pub ignored: usize,
}

/// SendGrid's Event Webhook (delivered, open, click, bounce, unsubscribe, ...), signed.
#[utoipa::path(post, path = "/v1/webhooks/sendgrid", tag = "tracking", operation_id = "sendgrid_webhook",
    params(
        ("X-Twilio-Email-Event-Webhook-Signature" = String, Header, description = "base64 DER ECDSA signature"),
        ("X-Twilio-Email-Event-Webhook-Timestamp" = String, Header, description = "unix seconds"),
    ),
    request_body(content = Vec<Object>, description = "SendGrid's JSON array of events"),
    responses(
        (status = 200, body = WebhookResult),
        (status = 400, description = "malformed_json", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "invalid_signature (bad, or more than 10 minutes off): nothing is stored", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "payload_too_large: the body is over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "webhook_not_configured; or unavailable: the store is busy", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn webhook(
    State(platform): State<Platform>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<WebhookResult>, ApiError> {
    let body = body.map_err(|_| ApiError::payload_too_large(BODY_LIMIT))?;
    let invalid = || ApiError::unauthorized("invalid_signature", "The webhook signature does not verify.");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (signature, timestamp) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER));
    let timestamp_ok = !timestamp.is_empty() && timestamp.len() <= 12 && timestamp.bytes().all(|b| b.is_ascii_digit());
    // An unsigned request is refused as such, configured or not.
    if !timestamp_ok || signature.is_empty() {
        return Err(invalid());
    }
    let Some(key) = platform.settings.sendgrid_webhook_key.as_ref() else {
        return Err(ApiError::webhook_not_configured("The SendGrid webhook key is not configured."));
    };
    if !verify(key, &timestamp, &body, &signature) {
        return Err(invalid());
    }
    // A signed batch is not valid forever: a captured or late copy could otherwise re-create
    // what an erasure removed.
    let signed_at: i64 = timestamp.parse().map_err(|_| invalid())?;
    let now = platform.clock.epoch_seconds();
    if (now - signed_at).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(ApiError::unauthorized("invalid_signature", "The webhook signature is older than 10 minutes."));
    }
    let events: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("malformed_json", "The body must be SendGrid's JSON array of events."))?;

    let mut ignored = 0;
    let mut suppressed: HashMap<(String, String), bool> = HashMap::new();
    let mut organisations: HashMap<String, bool> = HashMap::new();
    let mut members: HashMap<String, Option<String>> = HashMap::new();
    let mut interactions = Vec::with_capacity(events.len());
    let mut shared_as: Vec<Option<String>> = Vec::with_capacity(events.len());
    for mut event in events {
        // The opener's address and browser never go further than this line.
        if let Some(fields) = event.as_object_mut() {
            fields.remove("ip");
            fields.remove("useragent");
        }
        let parsed = (|| {
            let email = EmailAddress::parse(event.get("email")?.as_str()?).ok()?;
            Some(Interaction {
                sg_event_id: text(&event, "sg_event_id", 128)?,
                organisation_id: ulid::Ulid::from_string(&text(&event, "organisation_id", 64)?).ok()?.to_string(),
                recipient: recipient_hash(&email),
                event: text(&event, "event", 32)?,
                timestamp: event.get("timestamp")?.as_i64()?,
                sg_message_id: text(&event, "sg_message_id", 256),
                url: text(&event, "url", 2048).and_then(|url| clicked_page(&url)),
            })
        })();
        let Some(interaction) = parsed else {
            ignored += 1;
            continue;
        };
        // Already past its retention: nothing would ever sweep it. Nor can an event happen
        // after its batch was signed (give or take the clock skew we allow): a timestamp far
        // ahead is malformed, and near i64::MAX its expiry would overflow.
        if interaction.timestamp.saturating_add(RETENTION_SECONDS) <= now
            || interaction.timestamp > now + SIGNATURE_TOLERANCE_SECONDS
        {
            ignored += 1;
            continue;
        }
        // A cancelled organisation's events are dropped, never filed under its old id.
        let exists = match organisations.get(&interaction.organisation_id) {
            Some(known) => *known,
            None => {
                let found = match accounts::load_organisation(&platform, &interaction.organisation_id).await {
                    Ok(_) => true,
                    Err(AccountError::OrganisationGone) => false,
                    Err(err) => return Err(err.into()),
                };
                *organisations.entry(interaction.organisation_id.clone()).or_insert(found)
            }
        };
        if !exists {
            ignored += 1;
            continue;
        }
        let pair = (interaction.organisation_id.clone(), interaction.recipient.clone());
        let is_suppressed = match suppressed.get(&pair) {
            Some(known) => *known,
            None => {
                let key = keys::suppression(&pair.0, &pair.1);
                let found = platform.store.get(&key).await?.is_some();
                *suppressed.entry(pair).or_insert(found)
            }
        };
        if is_suppressed {
            ignored += 1;
            continue;
        }
        // The custom argument is the sender's claim: trusted only for a member of the event's
        // organisation, else the interaction is stored but shared as nobody's usage.
        let claimed =
            text(&event, "user_id", 64).and_then(|id| ulid::Ulid::from_string(&id).ok()).map(|u| u.to_string());
        let user_id = match claimed {
            None => None,
            Some(user_id) => {
                let organisation = match members.get(&user_id) {
                    Some(known) => known.clone(),
                    None => {
                        let found = accounts::find_user(&platform, &user_id).await?.map(|u| u.organisation_id);
                        members.entry(user_id.clone()).or_insert(found).clone()
                    }
                };
                organisation.filter(|o| *o == interaction.organisation_id).map(|_| user_id)
            }
        };
        shared_as.push(user_id);
        interactions.push(interaction);
    }
    let items = interactions.iter().map(Interaction::item).collect::<Result<Vec<_>, _>>()?;
    platform.store.batch_write(items.into_iter().map(BatchOp::Put).collect()).await?;
    // An organisation whose erasure began meanwhile: its job may be past the interactions
    // already, so what this batch wrote for it is deleted again. Read after the write, any
    // later fence stands before the job reads anything (as in the tracking worker).
    let fenced =
        fence::fenced_among(platform.store.as_ref(), interactions.iter().map(|i| i.organisation_id.as_str())).await?;
    if !fenced.is_empty() {
        let (undo, kept): (Vec<_>, Vec<_>) = interactions
            .into_iter()
            .zip(shared_as)
            .partition(|(interaction, _)| fenced.contains(&interaction.organisation_id));
        let deletes = undo.iter().map(|(i, _)| i.item().map(|item| BatchOp::Delete(item.key)));
        platform.store.batch_write(deletes.collect::<Result<_, _>>()?).await?;
        ignored += undo.len();
        (interactions, shared_as) = kept.into_iter().unzip();
    }
    let stored = interactions.len();
    let shared: Vec<SharedEvent> = if platform.settings.marketing_sync {
        interactions
            .iter()
            .zip(shared_as)
            .filter_map(|(interaction, user_id)| Some(interaction.shared_event(user_id?)))
            .collect()
    } else {
        Vec::new()
    };
    if !shared.is_empty() {
        // The events wait in their senders' partitions; the queue carries their ids only. A
        // failure answers 5xx: SendGrid retries, the writes are idempotent.
        let waiting = shared.iter().map(|event| event.pending_item().map(BatchOp::Put)).collect::<Result<_, _>>()?;
        platform.store.batch_write(waiting).await?;
        let bodies = shared
            .iter()
            .map(|event| serde_json::to_string(&event.message()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        platform.queue.send_batch(QueueName::Marketing, bodies).await?;
    }
    tracing::info!(stored, ignored, "sendgrid events");
    Ok(Json(WebhookResult { stored, ignored }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientErased {
    /// Interactions erased.
    pub erased: usize,
    /// Future interactions of this recipient are neither stored nor synced.
    pub suppressed: bool,
}

/// Erases every stored interaction of one recipient of the organisation's e-mails, and
/// suppresses them from now on (admins only).
#[utoipa::path(delete, path = "/v1/organisations/current/recipients/{email}", tag = "tracking",
    params(("email" = String, Path, description = "The recipient's address (URL-encoded)")),
    responses(shared::responses::SessionWrite,
        (status = 200, body = RecipientErased),
        (status = 403, description = "forbidden: admins only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_email", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(organisation_id = %auth.organisation_id))]
pub async fn erase_recipient(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(email): Path<String>,
) -> Result<Json<RecipientErased>, ApiError> {
    auth.require_admin()?;
    let email = EmailAddress::parse(&email)?;
    let erased = shared::recipients::erase_recipient(&platform, &auth.organisation_id, &email).await?;
    Ok(Json(RecipientErased { erased, suppressed: true }))
}

#[cfg(test)]
mod tests {
    use p256::pkcs8::DecodePublicKey;

    use super::*;

    // SendGrid's published test vector (their Go and Node SDKs' tests).
    const PUBLIC_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
    const SIGNATURE: &str =
        "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=";
    const TIMESTAMP: &str = "1588788367";
    const PAYLOAD: &str = r#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#;

    fn key() -> VerifyingKey {
        VerifyingKey::from_public_key_der(&STANDARD.decode(PUBLIC_KEY).unwrap()).unwrap()
    }

    #[test]
    fn a_clicked_url_keeps_neither_query_nor_fragment() {
        let cases = [
            ("https://example.com/offer?token=abc&email=c%40example.net#top", Some("https://example.com/offer")),
            ("https://example.com/a#b?c", Some("https://example.com/a")),
            ("https://example.com/plain", Some("https://example.com/plain")),
            ("?only=query", None),
            ("#only-fragment", None),
        ];
        for (url, page) in cases {
            assert_eq!(clicked_page(url).as_deref(), page, "{url}");
        }
    }

    #[test]
    fn sendgrids_test_vector_verifies() {
        assert!(verify(&key(), TIMESTAMP, PAYLOAD.as_bytes(), SIGNATURE));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let key = key();
        assert!(!verify(&key, TIMESTAMP, format!("{PAYLOAD}\r\n").as_bytes(), SIGNATURE), "CRLF appended");
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(PAYLOAD).unwrap()).unwrap();
        assert!(!verify(&key, TIMESTAMP, pretty.as_bytes(), SIGNATURE), "pretty-printed");
        assert!(!verify(&key, "1588788368", PAYLOAD.as_bytes(), SIGNATURE), "timestamp + 1");
        let mut altered = SIGNATURE.to_owned();
        altered.replace_range(10..11, if &SIGNATURE[10..11] == "A" { "B" } else { "A" });
        assert!(!verify(&key, TIMESTAMP, PAYLOAD.as_bytes(), &altered), "one character of the signature");
        assert!(!verify(&key, TIMESTAMP, PAYLOAD.as_bytes(), "not base64!"));
    }
}
