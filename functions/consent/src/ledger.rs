//! The signed-in user's consents: current state, changes, history, receipts; and the
//! one-click unsubscribe link.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::clock::rfc3339_from_epoch as time;
use shared::consent::{self, LedgerEntry, Method, PURPOSES, PurposeId};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery};
use shared::http::{ListParams, Paginated};
use shared::responses::{JsonBody, Query as QueryErrors, Session, SessionWrite, Unavailable};
use shared::session::AuthUser;
use shared::unsubscribe;
use utoipa::ToSchema;

fn unknown_purpose() -> ApiError {
    ApiError::not_found("There is no such purpose; see GET /v1/purposes.")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeState {
    /// Whether the consent counts now.
    pub granted: bool,
    pub updated_at: Option<String>,
    pub receipt_id: Option<String>,
    /// True when it was given under an older notice for a purpose that asks again.
    pub renewal_needed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyConsents {
    pub policy_version: String,
    pub purposes: BTreeMap<PurposeId, PurposeState>,
}

/// The caller's consent for every purpose (all default to not granted).
#[utoipa::path(get, path = "/v1/me/consents", tag = "consent", responses(Session, (status = 200, body = MyConsents)),
    security(("session" = []), ("bearer" = [])))]
pub async fn my_consents(State(platform): State<Platform>, auth: AuthUser) -> Result<Json<MyConsents>, ApiError> {
    let states = consent::states(platform.store.as_ref(), &auth.user_id).await?;
    let policy = &platform.settings.policy_version;
    let purposes = PurposeId::ALL
        .into_iter()
        .map(|purpose| {
            let view = match states.get(&purpose) {
                Some(state) => PurposeState {
                    granted: state.in_force(policy),
                    updated_at: Some(time(state.updated_at)),
                    receipt_id: Some(state.receipt_id.clone()),
                    renewal_needed: state.granted && !state.in_force(policy),
                },
                None => PurposeState { granted: false, updated_at: None, receipt_id: None, renewal_needed: false },
            };
            (purpose, view)
        })
        .collect();
    Ok(Json(MyConsents { policy_version: policy.clone(), purposes }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    pub granted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRecorded {
    pub receipt_id: String,
    pub purpose: PurposeId,
    pub granted: bool,
    pub recorded_at: String,
    pub policy_version: String,
    pub method: Method,
}

/// Gives or withdraws consent for one purpose. Withdrawing is as easy as giving, and counts
/// at once for every use. Sending the choice already in force records nothing new.
#[utoipa::path(put, path = "/v1/me/consents/{purpose}", tag = "consent", request_body = ConsentChange,
    params(("purpose" = String, Path, description = "A purpose id from GET /v1/purposes"),
        ("Sec-GPC" = Option<String>, Header, description = "Global Privacy Control: 1 records marketing_sharing as refused (method gpc)")),
    responses(JsonBody, SessionWrite,
        (status = 200, body = ConsentRecorded),
        (status = 404, description = "not_found: unknown purpose", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body: granted is missing or not a boolean", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn change_consent(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(purpose): Path<String>,
    headers: axum::http::HeaderMap,
    ApiJson(change): ApiJson<ConsentChange>,
) -> Result<Json<ConsentRecorded>, ApiError> {
    let purpose = PurposeId::parse(&purpose).ok_or_else(unknown_purpose)?;
    let gpc = consent::gpc_header(headers.get("sec-gpc").and_then(|v| v.to_str().ok()));
    let state = if gpc && purpose == PurposeId::MarketingSharing {
        // The browser refuses sharing: that wins over the body.
        consent::honour_gpc(&platform, &auth.user_id).await?
    } else {
        consent::record(&platform, &auth.user_id, purpose, change.granted, Method::Api).await?.0
    };
    Ok(Json(ConsentRecorded {
        receipt_id: state.receipt_id,
        purpose,
        granted: state.granted,
        recorded_at: time(state.updated_at),
        policy_version: state.policy_version,
        method: state.method,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    pub receipt_id: String,
    pub purpose: PurposeId,
    pub granted: bool,
    pub recorded_at: String,
    pub policy_version: String,
    /// SHA-256 of the notice text in force when the change was made.
    pub notice_sha256: String,
    pub method: Method,
}

impl From<LedgerEntry> for LedgerView {
    fn from(entry: LedgerEntry) -> Self {
        Self {
            receipt_id: entry.receipt_id,
            purpose: entry.purpose,
            granted: entry.granted,
            recorded_at: time(entry.recorded_at),
            policy_version: entry.policy_version,
            notice_sha256: entry.notice_sha256,
            method: entry.method,
        }
    }
}

/// Every change of the caller's consents, newest first.
#[utoipa::path(get, path = "/v1/me/consents/history", tag = "consent", params(ListParams),
    responses(QueryErrors, Session, (status = 200, body = Paginated<LedgerView>)), security(("session" = []), ("bearer" = [])))]
pub async fn history(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<LedgerView>>, ApiError> {
    let query = consent::ledger_query(&auth.user_id).limit(params.limit()?).cursor(params.cursor.clone());
    let page = platform.store.query(query).await?;
    let items = page
        .items
        .iter()
        .map(|item| item.data::<LedgerEntry>().map(LedgerView::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Paginated { items, cursor: page.cursor }))
}

/// A consent receipt in the Kantara Initiative Consent Receipt v1.1 format.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentReceipt {
    pub version: &'static str,
    pub jurisdiction: &'static str,
    pub consent_timestamp: i64,
    pub collection_method: Method,
    #[serde(rename = "consentReceiptID")]
    pub consent_receipt_id: String,
    pub language: &'static str,
    pub pii_principal_id: String,
    pub pii_controllers: Vec<PiiController>,
    pub policy_url: String,
    pub services: Vec<ReceiptService>,
    pub sensitive: bool,
    pub spi_cat: Vec<String>,
    /// Our additions: what the receipt records.
    pub granted: bool,
    pub policy_version: String,
    pub notice_sha256: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PiiController {
    pub pii_controller: String,
    pub contact: String,
    /// An object in the v1.1 schema; we hold the address as one line.
    pub address: ReceiptAddress,
    pub email: String,
    /// Required by v1.1: `INFENTRE_CONTROLLER_PHONE`, empty when none is configured.
    pub phone: String,
    pub on_behalf: bool,
}

/// The controller's postal address in schema.org `PostalAddress` terms, as Kantara's examples
/// write it: our configured address is one line, kept whole.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptAddress {
    pub street_address: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptService {
    pub service: &'static str,
    pub purposes: Vec<ReceiptPurpose>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPurpose {
    pub purpose: &'static str,
    pub purpose_category: Vec<&'static str>,
    pub consent_type: &'static str,
    pub pii_category: Vec<&'static str>,
    pub primary_purpose: bool,
    pub termination: &'static str,
    pub third_party_disclosure: bool,
    /// Present exactly when `thirdPartyDisclosure` is true, as v1.1 requires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_party_name: Option<String>,
}

/// A receipt of one of the caller's consent changes. Another user's receipt is not found.
#[utoipa::path(get, path = "/v1/consent-receipts/{receipt_id}", tag = "consent",
    params(("receipt_id" = String, Path, description = "From a consent change or the history")),
    responses(Session, (status = 200, body = ConsentReceipt),
        (status = 404, description = "not_found: no such receipt of yours", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn receipt(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(receipt_id): Path<String>,
) -> Result<Json<ConsentReceipt>, ApiError> {
    let not_found = || ApiError::not_found("There is no such receipt.");
    ulid::Ulid::from_string(&receipt_id).map_err(|_| not_found())?;
    let item = platform.store.get(&consent::ledger_key(&auth.user_id, &receipt_id)).await?.ok_or_else(not_found)?;
    let entry: LedgerEntry = item.data()?;
    let purpose = entry.purpose.purpose();
    let settings = &platform.settings;
    let third_parties: Vec<&str> = purpose.recipients.iter().copied().filter(|r| !r.starts_with("Infentre")).collect();
    Ok(Json(ConsentReceipt {
        version: "KI-CR-v1.1.0",
        jurisdiction: "SE",
        consent_timestamp: entry.recorded_at,
        collection_method: entry.method,
        consent_receipt_id: entry.receipt_id,
        language: "en",
        pii_principal_id: entry.user_id,
        pii_controllers: vec![PiiController {
            pii_controller: settings.controller.name.clone().unwrap_or_default(),
            contact: settings.dpo.email.clone(),
            address: ReceiptAddress { street_address: settings.controller.address.clone() },
            email: settings.controller.email.clone(),
            phone: settings.controller_phone.clone(),
            on_behalf: false,
        }],
        policy_url: format!("{}/v1/privacy-notice", settings.public_base_url),
        services: vec![ReceiptService {
            service: "Infentre platform",
            purposes: vec![ReceiptPurpose {
                purpose: purpose.description,
                purpose_category: vec![purpose.category],
                consent_type: "EXPLICIT",
                pii_category: purpose.pii_categories.to_vec(),
                primary_purpose: false,
                termination: purpose.retention,
                third_party_disclosure: !third_parties.is_empty(),
                third_party_name: (!third_parties.is_empty()).then(|| third_parties.join(", ")),
            }],
        }],
        sensitive: false,
        spi_cat: Vec::new(),
        granted: entry.granted,
        policy_version: entry.policy_version,
        notice_sha256: entry.notice_sha256,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeParams {
    /// The signed token from the e-mail's link.
    #[param(min_length = 1, max_length = 1024)]
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unsubscribed {
    pub purpose: PurposeId,
    pub granted: bool,
}

/// RFC 8058 one-click unsubscribe: withdraws the e-mail purpose named in the signed token.
#[utoipa::path(post, path = "/v1/unsubscribe", tag = "consent", params(UnsubscribeParams),
    responses(QueryErrors, Unavailable,
        (status = 200, body = Unsubscribed),
        (status = 400, description = "invalid_token: forged, altered or expired", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn unsubscribe(
    State(platform): State<Platform>,
    params: Result<Query<UnsubscribeParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Unsubscribed>, ApiError> {
    let invalid = || ApiError::bad_request("invalid_token", "The unsubscribe link is invalid or has expired.");
    let Ok(Query(params)) = params else { return Err(invalid()) };
    let purpose = unsubscribe::withdraw(&platform, &params.token).await?.ok_or_else(invalid)?;
    Ok(Json(Unsubscribed { purpose, granted: false }))
}

/// The purposes that need consent.
#[utoipa::path(get, path = "/v1/purposes", tag = "consent", responses((status = 200, body = Vec<shared::consent::Purpose>)))]
pub async fn purposes() -> Json<&'static [shared::consent::Purpose]> {
    Json(&PURPOSES)
}
