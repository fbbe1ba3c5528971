//! What the rights function and worker tell people. Transactional: no consent needed.

use super::{RequestType, RightsRequest};
use crate::clock::rfc3339_from_epoch;
use crate::config::Settings;
use crate::lang::Lang;
use crate::mail::Email;
use crate::mail::texts::text;

fn what(lang: Lang, kind: RequestType) -> String {
    let id = match kind {
        RequestType::Access => "what-access",
        RequestType::Portability => "what-portability",
        RequestType::Correction => "what-correction",
        RequestType::Erasure => "what-erasure",
    };
    text(lang, id, &[])
}

/// A message about a request: its subject and body in `lang`, with the request's type and id
/// and the extra variables.
fn about(to: &str, lang: Lang, request: &RightsRequest, (subject, body): (&str, &str), vars: &[(&str, &str)]) -> Email {
    let what = what(lang, request.kind);
    let due = rfc3339_from_epoch(request.due_at);
    let mut all = vec![("what", what.as_str()), ("id", request.id.as_str()), ("due", due.as_str())];
    all.extend_from_slice(vars);
    Email::transactional(to, text(lang, subject, &all), text(lang, body, &all) + "\n")
}

pub fn received(settings: &Settings, to: &str, lang: Lang, request: &RightsRequest, awaiting_admin: bool) -> Email {
    let next = text(lang, if awaiting_admin { "received-awaiting" } else { "received-started" }, &[]);
    let link = format!("{}/account/requests", settings.public_base_url);
    about(to, lang, request, ("received-subject", "received-body"), &[("next", &next), ("link", &link)])
}

pub fn awaiting_approval(settings: &Settings, to: &str, lang: Lang, request: &RightsRequest) -> Email {
    // The admin desk, at the request: a page with its approve and deny buttons.
    let link = format!("{}/admin#request-{}", settings.public_base_url, request.id);
    about(to, lang, request, ("awaiting-subject", "awaiting-body"), &[("link", &link)])
}

pub fn denied(to: &str, lang: Lang, request: &RightsRequest, reason: &str, settings: &Settings) -> Email {
    let authority = &settings.supervisory_authority;
    let vars = [
        ("reason", reason),
        ("dpo", settings.dpo.email.as_str()),
        ("authority", authority.name.as_str()),
        ("authority_url", authority.url.as_str()),
    ];
    about(to, lang, request, ("denied-subject", "denied-body"), &vars)
}

pub fn extended(to: &str, lang: Lang, request: &RightsRequest, reason: &str) -> Email {
    about(to, lang, request, ("extended-subject", "extended-body"), &[("reason", reason)])
}

pub fn completed(settings: &Settings, to: &str, lang: Lang, request: &RightsRequest) -> Email {
    let next = match request.kind {
        RequestType::Access | RequestType::Portability => {
            let link = format!("{}/account/requests/{}/export", settings.public_base_url, request.id);
            text(lang, "completed-export", &[("link", &link)])
        }
        RequestType::Correction => text(lang, "completed-correction", &[]),
        RequestType::Erasure => text(lang, "completed-erasure", &[]),
    };
    about(to, lang, request, ("completed-subject", "completed-body"), &[("next", &next)])
}

pub fn failed(settings: &Settings, to: &str, lang: Lang, request: &RightsRequest) -> Email {
    about(to, lang, request, ("failed-subject", "failed-body"), &[("dpo", settings.dpo.email.as_str())])
}

/// An operator closed a failed request by hand: `outcome` is `completed` or `refused`.
pub fn resolved(
    settings: &Settings,
    to: &str,
    lang: Lang,
    request: &RightsRequest,
    outcome: &str,
    reason: &str,
) -> Email {
    let outcome = text(lang, &format!("resolved-{outcome}"), &[]);
    let authority = &settings.supervisory_authority;
    let vars = [
        ("outcome", outcome.as_str()),
        ("reason", reason),
        ("dpo", settings.dpo.email.as_str()),
        ("authority", authority.name.as_str()),
        ("authority_url", authority.url.as_str()),
    ];
    about(to, lang, request, ("resolved-subject", "resolved-body"), &vars)
}
