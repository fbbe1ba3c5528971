//! Stripe's signed webhook: invoices kept under the bookkeeping law, nothing else.
//!
//! The signature (`Stripe-Signature: t=...,v1=...`) is HMAC-SHA256 of `"{t}.{raw body}"` with
//! the endpoint secret; any `v1` may match (secret rotation) and the timestamp must be within
//! 300 s of now either way. Of an invoice we keep ids, amounts, currency, status and dates, with
//! a legal hold until 7 years after the end of its fiscal year; the item expires then, so the
//! sweeper purges it, and an organisation's cancellation lists it as retained meanwhile.
//! Redeliveries store nothing twice; an older event never overwrites a newer one.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use shared::Platform;
use shared::error::{ApiError, Problem};
use shared::keys;
use shared::store::{Condition, Item};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

pub const SIGNATURE_HEADER: &str = "stripe-signature";
pub const TOLERANCE_SECONDS: i64 = 300;
pub const BODY_LIMIT: usize = 512 * 1024;
/// Deliveries are retried by Stripe for up to 3 days; remember event ids longer.
const EVENT_MEMORY_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    Stale,
    Mismatch,
}

/// Checks a `Stripe-Signature` header against the raw body.
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {} // v0 and unknown schemes do not count
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS as u64 {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Malformed)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = shared::hash::hex(&mac.finalize().into_bytes());
    let matches = candidates.iter().any(|candidate| bool::from(candidate.as_bytes().ct_eq(expected.as_bytes())));
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// What we keep of a Stripe invoice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invoice {
    pub invoice_id: String,
    pub organisation_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub total: i64,
    /// Unix seconds.
    pub created: i64,
    pub paid_at: Option<i64>,
    /// The Stripe event this version came from (newer events win).
    pub stripe_event_created: i64,
    /// How far along the invoice is (draft 0, open 1, uncollectible 2, paid or void 3): among
    /// events of the same second, which Stripe sends in any order, the furthest wins.
    pub status_rank: i64,
}

fn status_rank(status: Option<&str>) -> i64 {
    match status {
        Some("paid" | "void") => 3,
        Some("uncollectible") => 2,
        Some("open") => 1,
        _ => 0,
    }
}

/// Our organisation id, from the invoice's metadata or its subscription's.
fn organisation_of(object: &Value) -> Option<String> {
    let paths: [&[&str]; 3] = [
        &["metadata", "organisation_id"],
        &["subscription_details", "metadata", "organisation_id"],
        &["parent", "subscription_details", "metadata", "organisation_id"],
    ];
    paths.iter().find_map(|path| {
        let value = path.iter().try_fold(object, |v, key| v.get(*key))?;
        ulid::Ulid::from_string(value.as_str()?).ok().map(|id| id.to_string())
    })
}

fn id_field(object: &Value, field: &str, prefix: &str) -> Option<String> {
    object.get(field)?.as_str().filter(|id| id.starts_with(prefix) && id.len() <= 255).map(str::to_owned)
}

impl Invoice {
    fn from_event(object: &Value, event_created: i64) -> Option<Self> {
        let organisation_id = organisation_of(object);
        let status = object.get("status").and_then(|v| v.as_str()).filter(|s| s.len() <= 32).map(str::to_owned);
        let currency = object.get("currency")?.as_str().filter(|c| c.len() == 3 && c.is_ascii())?.to_lowercase();
        Some(Self {
            invoice_id: id_field(object, "id", "in_")?,
            organisation_id,
            customer_id: id_field(object, "customer", "cus_"),
            status_rank: status_rank(status.as_deref()),
            status,
            currency,
            amount_due: object.get("amount_due").and_then(Value::as_i64).unwrap_or(0),
            amount_paid: object.get("amount_paid").and_then(Value::as_i64).unwrap_or(0),
            total: object.get("total").and_then(Value::as_i64).unwrap_or(0),
            created: object.get("created")?.as_i64()?,
            paid_at: object.get("status_transitions").and_then(|t| t.get("paid_at")).and_then(Value::as_i64),
            stripe_event_created: event_created,
        })
    }

    fn item(&self, platform: &Platform) -> Result<Item, shared::store::StoreError> {
        let date = chrono::DateTime::from_timestamp(self.created, 0).unwrap_or_default().date_naive();
        let bookkeeping = &platform.settings.bookkeeping;
        let until = bookkeeping.purge_after(date);
        let purge_at = until.and_hms_opt(23, 59, 59).map(|t| t.and_utc().timestamp()).unwrap_or(i64::MAX);
        let mut item = Item::new(keys::invoice(self.organisation_id.as_deref(), &self.invoice_id), "invoice")
            .with_data(self)?
            .expires_at(purge_at);
        item.attrs.insert(
            "legal_hold".into(),
            json!({"basis": bookkeeping.legal_basis, "until": until.format("%Y-%m-%d").to_string()}),
        );
        Ok(item)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StripeResult {
    /// `stored`, `duplicate` (already seen) or `ignored` (not an invoice, or older than what we have).
    pub status: &'static str,
}

/// Stripe's webhook: invoices under legal retention; every other event is acknowledged and ignored.
#[utoipa::path(post, path = "/v1/webhooks/stripe", tag = "tracking", operation_id = "stripe_webhook",
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    request_body(content = Object, description = "A Stripe event"),
    responses(
        (status = 200, body = StripeResult),
        (status = 400, description = "invalid_signature (bad or more than 300 s off) or malformed_event: nothing is stored", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "payload_too_large: the body is over 512 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "webhook_not_configured; or unavailable: the store is busy", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn webhook(
    State(platform): State<Platform>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<StripeResult>, ApiError> {
    let body = body.map_err(|_| ApiError::payload_too_large(BODY_LIMIT))?;
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // An unsigned request is refused as such, configured or not.
    if header.is_empty() {
        return Err(ApiError::bad_request("invalid_signature", "The Stripe-Signature header does not verify."));
    }
    let Some(secret) = platform.settings.stripe_webhook_secret.as_deref() else {
        return Err(ApiError::webhook_not_configured("The Stripe webhook secret is not configured."));
    };
    if let Err(err) = verify(header, &body, secret, platform.clock.epoch_seconds()) {
        tracing::warn!(?err, "stripe signature refused");
        return Err(ApiError::bad_request("invalid_signature", "The Stripe-Signature header does not verify."));
    }
    let malformed = || ApiError::bad_request("malformed_event", "The body is not a Stripe event.");
    let event: Value = serde_json::from_slice(&body).map_err(|_| malformed())?;
    let event_id = id_field(&event, "id", "evt_").ok_or_else(malformed)?;
    let kind = event.get("type").and_then(|v| v.as_str()).ok_or_else(malformed)?;
    let created = event.get("created").and_then(Value::as_i64).ok_or_else(malformed)?;
    let seen_key = keys::stripe_event(&event_id);
    if platform.store.get(&seen_key).await?.is_some() {
        return Ok(Json(StripeResult { status: "duplicate" }));
    }
    let mut status = "ignored";
    if kind.starts_with("invoice.") {
        let object = event.get("data").and_then(|d| d.get("object")).ok_or_else(malformed)?;
        let invoice = Invoice::from_event(object, created).ok_or_else(malformed)?;
        // An older event (Stripe does not deliver in order) never overwrites a newer one.
        let newer = Condition::Or(vec![
            Condition::NotExists,
            Condition::less_than("stripe_event_created", invoice.stripe_event_created),
            Condition::And(vec![
                Condition::equals("stripe_event_created", invoice.stripe_event_created),
                Condition::less_than("status_rank", invoice.status_rank + 1),
            ]),
        ]);
        match platform.store.put(invoice.item(&platform)?, Some(newer)).await {
            Ok(()) => status = "stored",
            Err(err) if err.is_condition_failed() => {}
            Err(err) => return Err(err.into()),
        }
    }
    // Remembered after the write: a failure above leaves Stripe free to retry.
    let seen = Item::new(seen_key, "stripe_event").expires_at(platform.clock.epoch_seconds() + EVENT_MEMORY_SECONDS);
    platform.store.put(seen, None).await?;
    tracing::info!(kind, status, "stripe event");
    Ok(Json(StripeResult { status }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector of ../shared/WEBHOOKS.md, made with Stripe's own library.
    const SECRET: &str = "whsec_test_secret";
    const PAYLOAD: &str = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", \"object\": \"terminal.reader\" } }\n}";
    const HEADER: &str = "t=1700000000,v1=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";

    #[test]
    fn stripes_test_vector_verifies() {
        assert_eq!(PAYLOAD.len(), 125);
        assert_eq!(verify(HEADER, PAYLOAD.as_bytes(), SECRET, 1_700_000_000), Ok(()));
        assert_eq!(verify(HEADER, PAYLOAD.as_bytes(), SECRET, 1_700_000_300), Ok(()), "300 s is within tolerance");
    }

    #[test]
    fn any_v1_may_match_and_v0_does_not_count() {
        let rotated = "t=1700000000,v1=00ff,v1=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";
        assert_eq!(verify(rotated, PAYLOAD.as_bytes(), SECRET, 1_700_000_000), Ok(()));
        let v0_only = "t=1700000000,v0=3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";
        assert_eq!(verify(v0_only, PAYLOAD.as_bytes(), SECRET, 1_700_000_000), Err(SignatureError::Malformed));
    }

    #[test]
    fn tampering_and_stale_timestamps_are_refused() {
        let body = PAYLOAD.replace("rdr_123", "rdr_124");
        assert_eq!(verify(HEADER, body.as_bytes(), SECRET, 1_700_000_000), Err(SignatureError::Mismatch));
        assert_eq!(verify(HEADER, PAYLOAD.as_bytes(), "whsec_other", 1_700_000_000), Err(SignatureError::Mismatch));
        assert_eq!(verify(HEADER, PAYLOAD.as_bytes(), SECRET, 1_700_000_301), Err(SignatureError::Stale));
        assert_eq!(verify(HEADER, PAYLOAD.as_bytes(), SECRET, 1_699_999_699), Err(SignatureError::Stale));
        assert_eq!(verify("v1=abc", PAYLOAD.as_bytes(), SECRET, 1_700_000_000), Err(SignatureError::Malformed));
        assert_eq!(verify("", PAYLOAD.as_bytes(), SECRET, 1_700_000_000), Err(SignatureError::Malformed));
    }
}
