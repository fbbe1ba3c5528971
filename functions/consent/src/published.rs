//! What the privacy notice publishes: the notice itself, the cookie table, the
//! sub-processors, and the GPC support statement.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::Platform;
use shared::config::Party;
use shared::consent::{NOTICE_SHA256, NOTICE_TEXT};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CookieCategory {
    /// Needed for the service; no consent asked.
    StrictlyNecessary,
    /// Only with `analytics_cookies` consent.
    Analytics,
    /// Only with `marketing_sharing` consent.
    Marketing,
}

/// One cookie, in the shape of the API contract plus the TCF device-disclosure fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cookie {
    pub name: &'static str,
    pub domain: &'static str,
    pub provider: &'static str,
    pub purpose: CookieCategory,
    pub duration_seconds: u64,
    pub description: &'static str,
    /// TCF: `cookie`.
    #[serde(rename = "type")]
    pub storage_type: &'static str,
    /// TCF purpose ids (1 store/access, 3-4 personalised ads, 7-9 measurement, 10 improvement).
    pub tcf_purposes: &'static [u8],
}

/// The cookie table: the one declaration of every cookie the platform sets or lets set.
pub static COOKIES: [Cookie; 6] = [
    Cookie {
        name: "__Host-infentre_session",
        domain: "(the API's host)",
        provider: "Infentre",
        purpose: CookieCategory::StrictlyNecessary,
        duration_seconds: 43_200,
        description: "Keeps you signed in (verifying your identity).",
        storage_type: "cookie",
        tcf_purposes: &[],
    },
    Cookie {
        name: "infentre_consent",
        domain: "(the API's host)",
        provider: "Infentre",
        purpose: CookieCategory::StrictlyNecessary,
        duration_seconds: 34_128_000,
        description: "Remembers your cookie choice for 13 months.",
        storage_type: "cookie",
        tcf_purposes: &[],
    },
    Cookie {
        name: "_ga",
        domain: ".infentre.com",
        provider: "Google",
        purpose: CookieCategory::Analytics,
        duration_seconds: 63_072_000,
        description: "Google Analytics: distinguishes visitors to analyse use of the platform.",
        storage_type: "cookie",
        tcf_purposes: &[1, 8, 9, 10],
    },
    Cookie {
        name: "_ga_<container-id>",
        domain: ".infentre.com",
        provider: "Google",
        purpose: CookieCategory::Analytics,
        duration_seconds: 63_072_000,
        description: "Google Analytics: keeps the session state.",
        storage_type: "cookie",
        tcf_purposes: &[1, 8, 9, 10],
    },
    Cookie {
        name: "_fbp",
        domain: ".infentre.com",
        provider: "Facebook",
        purpose: CookieCategory::Marketing,
        duration_seconds: 7_776_000,
        description: "Facebook: identifies the browser for measuring and delivering advertising.",
        storage_type: "cookie",
        tcf_purposes: &[1, 3, 4, 7],
    },
    Cookie {
        name: "fr",
        domain: ".facebook.com",
        provider: "Facebook",
        purpose: CookieCategory::Marketing,
        duration_seconds: 7_776_000,
        description: "Facebook: delivers, measures and improves the relevance of advertising.",
        storage_type: "cookie",
        tcf_purposes: &[1, 3, 4, 7],
    },
];

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

#[derive(Debug, Serialize, ToSchema)]
pub struct Subprocessor {
    pub name: &'static str,
    pub service: &'static str,
    pub data: &'static str,
    pub location: &'static str,
    pub safeguards: &'static str,
}

/// The sub-processors: the AWS services this deployment really uses, and SendGrid; Google and
/// Facebook receive data only with `marketing_sharing` consent.
pub static SUBPROCESSORS: [Subprocessor; 4] = [
    Subprocessor {
        name: "Amazon Web Services EMEA SARL",
        service: "Cloud platform: API Gateway, Lambda, DynamoDB, SQS, S3 and CloudWatch Logs",
        data: "All account, consent, usage and e-mail interaction data; exports for rights requests",
        location: "EU (the deployment's AWS region; the template accepts EU regions only)",
        safeguards: "AWS GDPR Data Processing Addendum; encryption at rest and in transit; data stays in the EU region",
    },
    Subprocessor {
        name: "Twilio Inc. (SendGrid)",
        service: "E-mail delivery and delivery, open and click events",
        data: "Recipient e-mail addresses and e-mail content",
        location: "United States",
        safeguards: "Data Processing Addendum with Standard Contractual Clauses; EU-U.S. Data Privacy Framework",
    },
    Subprocessor {
        name: "Google LLC (Google Analytics)",
        service: "Usage analytics, only with marketing_sharing consent",
        data: "Usage events with a hashed identifier; never the IP address",
        location: "United States",
        safeguards: "Standard Contractual Clauses; EU-U.S. Data Privacy Framework",
    },
    Subprocessor {
        name: "Meta Platforms Ireland Ltd. (Facebook)",
        service: "Conversions API, only with marketing_sharing consent",
        data: "Usage events with a SHA-256 hash of the e-mail address; never the IP address",
        location: "Ireland and United States",
        safeguards: "Standard Contractual Clauses; EU-U.S. Data Privacy Framework",
    },
];

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
