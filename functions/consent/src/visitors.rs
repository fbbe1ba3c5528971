//! Cookie consent for visitors who are not signed in: proof kept with a masked address at
//! most, Global Privacy Control honoured, a consent cookie, and claiming by an account.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::consent::{self, Method, NOTICE_SHA256, PurposeId};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ClientAddress};
use shared::keys;
use shared::responses::{JsonBody, SessionWrite, Throttled, Unavailable};
use shared::session::AuthUser;
use shared::store::{BatchOp, Condition, Item, Key, Query, SortKey, Update, query_all};
use shared::throttle::Limit;
use utoipa::ToSchema;

pub const CONSENT_COOKIE: &str = "infentre_consent";
/// A banner choice is asked again after 13 months (and its proof then goes).
pub const CHOICE_LIFETIME_SECONDS: i64 = 395 * 24 * 3600;
/// Choices one visitor id may record. Counted on the visitor's state item, which lives
/// [`CHOICE_LIFETIME_SECONDS`] after the last choice it took, as does every proof before it:
/// the count starts again only when every proof it counted has expired, so a visitor's ledger
/// (which `claim` reads whole) never holds more than this.
pub const CHOICES_PER_VISITOR: i64 = 50;
/// The state item's attribute that counts them.
const CHOICES: &str = "choices";
/// The scope of the per-client counters of cookie choices (the limit is a setting).
const CHOICES_PER_CLIENT_SCOPE: &str = "cookie_consents_client";

fn state_key(visitor_id: &str) -> Key {
    keys::visitor_cookie_state(visitor_id)
}

/// The address with its host part removed: IPv4 to /24, IPv6 to /48.
pub fn mask(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieChoice {
    /// The visitor id from an earlier answer (the consent cookie); a new one is made if absent.
    #[schema(min_length = 26, max_length = 26)]
    pub visitor_id: Option<String>,
    pub analytics: bool,
    pub marketing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CookieConsentRecorded {
    pub visitor_id: String,
    pub receipt_id: String,
    pub analytics: bool,
    /// Always false when the browser sent `Sec-GPC: 1`.
    pub marketing: bool,
}

/// The proof of one banner choice.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct VisitorRecord {
    receipt_id: String,
    visitor_id: String,
    analytics: bool,
    marketing: bool,
    analytics_method: Method,
    marketing_method: Method,
    gpc: bool,
    recorded_at: i64,
    policy_version: String,
    notice_sha256: String,
    /// The client's network, never the full address.
    masked_address: Option<String>,
}

fn gpc(headers: &HeaderMap) -> bool {
    consent::gpc_header(headers.get("sec-gpc").and_then(|v| v.to_str().ok()))
}

/// Records a visitor's cookie choice. With `Sec-GPC: 1`, marketing is recorded as refused
/// with method `gpc`, whatever the body says. Limited per client address
/// (`INFENTRE_COOKIE_CONSENTS_PER_CLIENT_HOUR` an hour, default 1,000) and per visitor id (50
/// choices, counted until 13 months after the last one): over either, 429 with `Retry-After`.
#[utoipa::path(post, path = "/v1/cookie-consents", tag = "consent", request_body = CookieChoice,
    params(("Sec-GPC" = Option<String>, Header, description = "Global Privacy Control: 1 refuses marketing")),
    responses(JsonBody, Unavailable, Throttled,
        (status = 201, body = CookieConsentRecorded, headers(("Set-Cookie" = String, description = "infentre_consent, 13 months"))),
        (status = 422, description = "invalid_visitor_id, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn record_cookie_choice(
    State(platform): State<Platform>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(choice): ApiJson<CookieChoice>,
) -> Result<impl IntoResponse, ApiError> {
    let given = match choice.visitor_id {
        Some(id) => Some(
            ulid::Ulid::from_string(&id)
                .map_err(|_| {
                    ApiError::unprocessable("invalid_visitor_id", "visitor_id must be the id this API gave out.")
                })?
                .to_string(),
        ),
        None => None,
    };
    if let Some(client) = &client {
        let per_client = Limit {
            scope: CHOICES_PER_CLIENT_SCOPE,
            max_failures: platform.settings.cookie_consents_per_client_hour,
            window_seconds: 3600,
        };
        per_client.count(&platform, &client.0.0.to_string()).await?;
    }
    let new_visitor = given.is_none();
    let visitor_id = given.unwrap_or_else(|| ulid::Ulid::new().to_string());
    let gpc = gpc(&headers);
    let marketing = choice.marketing && !gpc;
    let now = platform.clock.epoch_seconds();
    let record = VisitorRecord {
        receipt_id: ulid::Ulid::new().to_string(),
        visitor_id: visitor_id.clone(),
        analytics: choice.analytics,
        marketing,
        analytics_method: Method::CookieBanner,
        marketing_method: if gpc { Method::Gpc } else { Method::CookieBanner },
        gpc,
        recorded_at: now,
        policy_version: platform.settings.policy_version.clone(),
        notice_sha256: NOTICE_SHA256.clone(),
        masked_address: client.map(|c| mask(c.0.0)),
    };
    let expires_at = now + CHOICE_LIFETIME_SECONDS;
    let proof = Item::new(keys::visitor_cookie_ledger(&visitor_id, &record.receipt_id), "visitor_consent")
        .with_data(&record)?
        .expires_at(expires_at);
    if new_visitor {
        // An id made here has no earlier choices: the first of its count, in one batch.
        let mut state =
            Item::new(state_key(&visitor_id), "visitor_consent_state").with_data(&record)?.expires_at(expires_at);
        state.attrs.insert(CHOICES.into(), 1.into());
        platform.store.batch_write(vec![BatchOp::Put(proof), BatchOp::Put(state)]).await?;
    } else {
        take_choice(&platform, &record, expires_at).await?;
        platform.store.put(proof, None).await?;
    }

    let cookie = format!(
        "{CONSENT_COOKIE}={visitor_id}:{}:{}; Path=/; Max-Age={CHOICE_LIFETIME_SECONDS}; SameSite=Lax; Secure",
        u8::from(record.analytics),
        u8::from(marketing)
    );
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(ApiError::internal)?);
    let body =
        CookieConsentRecorded { visitor_id, receipt_id: record.receipt_id, analytics: record.analytics, marketing };
    Ok((StatusCode::CREATED, response_headers, Json(body)))
}

/// Writes a known visitor's new state and counts the choice in one conditional update, so of
/// any number of concurrent choices at most [`CHOICES_PER_VISITOR`] are taken (before its proof
/// is written: a proof that then fails to land has spent its count, never the other way).
async fn take_choice(platform: &Platform, record: &VisitorRecord, expires_at: i64) -> Result<(), ApiError> {
    let key = state_key(&record.visitor_id);
    let serde_json::Value::Object(fields) = serde_json::to_value(record).map_err(ApiError::internal)? else {
        return Err(ApiError::internal("a visitor record is an object"));
    };
    let update = fields.into_iter().fold(Update::new(), |update, (name, value)| update.set(name, value));
    let update = update.add(CHOICES, 1).expires_at(Some(expires_at));
    let room = Condition::Or(vec![
        Condition::NotExists,
        // A state written before the count existed starts counting now.
        Condition::AttributeNotExists(CHOICES.into()),
        Condition::less_than(CHOICES, CHOICES_PER_VISITOR),
    ]);
    for _ in 0..2 {
        match platform.store.update(&key, "visitor_consent_state", update.clone(), Some(room.clone())).await {
            Ok(_) => return Ok(()),
            Err(err) if err.is_condition_failed() => {}
            Err(err) => return Err(err.into()),
        }
        let now = platform.clock.epoch_seconds();
        match platform.store.get(&key).await?.and_then(|item| item.expires_at) {
            Some(until) if until > now => {
                return Err(ApiError {
                    detail: format!(
                        "This visitor id has recorded its {CHOICES_PER_VISITOR} choices; the count starts again when they expire."
                    )
                    .into(),
                    ..ApiError::rate_limited((until - now) as u64)
                });
            }
            // Expired, and so is every proof it counted, but not yet deleted (DynamoDB deletes
            // expired items within days): the count starts again.
            _ => {
                platform.store.delete(&key, None).await?;
            }
        }
    }
    Err(ApiError::unavailable("Too many simultaneous choices for this visitor; try again."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The visitor id `POST /v1/cookie-consents` gave out.
    #[schema(min_length = 26, max_length = 26)]
    pub visitor_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Claimed {
    /// The account's consents the banner choice set.
    pub purposes: Vec<ClaimedPurpose>,
    /// Choices not carried over: made under an older notice for a purpose that asks again,
    /// or older than the account's own decision.
    pub not_carried_over: Vec<PurposeId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimedPurpose {
    pub purpose: PurposeId,
    pub granted: bool,
    pub receipt_id: String,
}

/// Carries a visitor's banner choice over to the signed-in account, then erases the visitor's
/// records: the account's ledger is the proof from now on.
///
/// - Only what the banner asked about is carried: its analytics choice is `analytics_cookies`.
///   Its marketing choice was about tags in the browser, not about sharing the account's usage
///   with Google and Facebook (`marketing_sharing`), so it is not carried; a GPC signal is
///   (as a refusal of sharing).
/// - The proof keeps the choice's own time, notice version and notice hash.
/// - A choice made under an older notice for a purpose that asks again is not carried, nor one
///   older than the account's own later decision.
#[utoipa::path(post, path = "/v1/me/cookie-consents/claim", tag = "consent", request_body = ClaimRequest,
    params(("Sec-GPC" = Option<String>, Header, description = "Global Privacy Control: 1 refuses marketing_sharing")),
    responses(JsonBody, SessionWrite, (status = 200, body = Claimed),
        (status = 404, description = "not_found: no cookie choice for this visitor id", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn claim(
    State(platform): State<Platform>,
    auth: AuthUser,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ClaimRequest>,
) -> Result<Json<Claimed>, ApiError> {
    let not_found = || ApiError::not_found("There is no cookie choice for this visitor id.");
    let visitor_id = ulid::Ulid::from_string(&request.visitor_id).map_err(|_| not_found())?.to_string();
    let state: VisitorRecord = platform.store.get(&state_key(&visitor_id)).await?.ok_or_else(not_found)?.data()?;
    let mut purposes = Vec::new();
    let mut not_carried_over = Vec::new();
    let purpose = PurposeId::AnalyticsCookies;
    let stale = state.policy_version != platform.settings.policy_version && purpose.purpose().ask_again_on_new_policy;
    let current = consent::states(platform.store.as_ref(), &auth.user_id).await?;
    let decided_later = current.get(&purpose).is_some_and(|c| c.updated_at >= state.recorded_at);
    if stale || decided_later {
        not_carried_over.push(purpose);
    } else {
        let given = consent::Given {
            at: state.recorded_at,
            policy_version: state.policy_version.clone(),
            notice_sha256: state.notice_sha256.clone(),
        };
        let (recorded, _) =
            consent::record_given(&platform, &auth.user_id, purpose, state.analytics, state.analytics_method, given)
                .await?;
        purposes.push(ClaimedPurpose { purpose, granted: recorded.granted, receipt_id: recorded.receipt_id });
    }
    if state.gpc || gpc(&headers) {
        let refused = consent::honour_gpc(&platform, &auth.user_id).await?;
        purposes.push(ClaimedPurpose {
            purpose: PurposeId::MarketingSharing,
            granted: false,
            receipt_id: refused.receipt_id,
        });
    }
    let records = query_all(
        platform.store.as_ref(),
        Query::partition(keys::visitor_partition(&visitor_id))
            .sort(SortKey::BeginsWith(keys::VISITOR_COOKIE_PREFIX.into())),
    )
    .await?;
    platform.store.batch_write(records.into_iter().map(|item| BatchOp::Delete(item.key)).collect()).await?;
    Ok(Json(Claimed { purposes, not_carried_over }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_to_their_network() {
        assert_eq!(mask("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(mask("2001:db8:abcd:12:34::1".parse().unwrap()), "2001:db8:abcd::/48");
    }
}
