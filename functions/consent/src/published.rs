//! What the privacy notice publishes: the notice itself, the cookie table, the
//! sub-processors, and the GPC support statement.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::Platform;
use shared::config::Party;
use shared::consent::{NOTICE_SHA256, NOTICE_TEXT};
use shared::published::{COOKIES, Cookie, SUBPROCESSORS, Subprocessor};
use utoipa::ToSchema;

/// The cookie table.
#[utoipa::path(get, path = "/v1/cookies", tag = "privacy", responses((status = 200, body = Vec<Cookie>)))]
pub async fn cookies() -> Json<&'static [Cookie]> {
    Json(&COOKIES)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrivacyNotice {
    pub version: String,
    pub last_updated: String,
    pub controller: Party,
    pub dpo: Party,
    /// The notice's text (Markdown) and its SHA-256, which every consent record carries.
    pub text: &'static str,
    pub text_sha256: String,
    /// Personal data is processed in the EU.
    pub data_residency: &'static str,
}

/// The privacy notice: its version and date, the controller, the DPO.
#[utoipa::path(get, path = "/v1/privacy-notice", tag = "privacy", responses((status = 200, body = PrivacyNotice)))]
pub async fn privacy_notice(State(platform): State<Platform>) -> Json<PrivacyNotice> {
    let settings = &platform.settings;
    Json(PrivacyNotice {
        version: settings.policy_version.clone(),
        last_updated: settings.policy_date.clone(),
        controller: settings.controller.clone(),
        dpo: settings.dpo.clone(),
        text: NOTICE_TEXT,
        text_sha256: NOTICE_SHA256.clone(),
        data_residency: "EU",
    })
}

#[utoipa::path(get, path = "/v1/subprocessors", tag = "privacy", responses((status = 200, body = Vec<Subprocessor>)))]
pub async fn subprocessors() -> Json<&'static [Subprocessor]> {
    Json(&SUBPROCESSORS)
}

/// When this GPC statement last changed.
pub const GPC_LAST_UPDATE: &str = "2026-11-29";

/// Global Privacy Control support (the GPC specification's well-known resource).
#[utoipa::path(get, path = "/.well-known/gpc.json", tag = "privacy",
    responses((status = 200, body = Object, example = json!({"gpc": true, "lastUpdate": "2026-11-29"}))))]
pub async fn gpc() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "gpc": true, "lastUpdate": GPC_LAST_UPDATE }))
}
