//! What the privacy notice publishes as data: the cookie table and the sub-processors. One
//! declaration each, served by the consent function, shown on the public pages and listed in
//! every access export's recipients.

use serde::Serialize;

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
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
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Cookie {
    pub name: &'static str,
    pub domain: &'static str,
    pub provider: &'static str,
    pub purpose: CookieCategory,
    pub duration_seconds: u64,
    pub description: &'static str,
    /// TCF: `cookie`, or `web` for browser storage.
    #[serde(rename = "type")]
    pub storage_type: &'static str,
    /// TCF purpose ids (1 store/access, 3-4 personalised ads, 7-9 measurement, 10 improvement).
    pub tcf_purposes: &'static [u8],
}

/// The cookie table: the one declaration of every cookie the platform sets or lets set.
pub static COOKIES: [Cookie; 9] = [
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
        name: "infentre_consent",
        domain: "(the site that embeds consent.js)",
        provider: "Infentre",
        purpose: CookieCategory::StrictlyNecessary,
        duration_seconds: 34_128_000,
        description: "Local storage kept by the cookie banner: your choice, the notice version it was made under and a random visitor id, for 13 months.",
        storage_type: "web",
        tcf_purposes: &[],
    },
    Cookie {
        name: "infentre_lang",
        domain: "(the web pages' host)",
        provider: "Infentre",
        purpose: CookieCategory::StrictlyNecessary,
        duration_seconds: 31_536_000,
        description: "Remembers the language you chose for the pages.",
        storage_type: "cookie",
        tcf_purposes: &[],
    },
    Cookie {
        name: "infentre_csrf",
        domain: "(the web pages' host)",
        provider: "Infentre",
        purpose: CookieCategory::StrictlyNecessary,
        duration_seconds: 43_200,
        description: "Protects the pages' forms against cross-site request forgery.",
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

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
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
        data: "Usage events with a pseudonymous id and a SHA-256 hash of the e-mail address; never the IP address",
        location: "United States",
        safeguards: "Standard Contractual Clauses; EU-U.S. Data Privacy Framework",
    },
    Subprocessor {
        name: "Meta Platforms Ireland Ltd. (Facebook)",
        service: "Conversions API, only with marketing_sharing consent",
        data: "Usage events with a pseudonymous id and a SHA-256 hash of the e-mail address; never the IP address",
        location: "Ireland and United States",
        safeguards: "Standard Contractual Clauses; EU-U.S. Data Privacy Framework",
    },
];
