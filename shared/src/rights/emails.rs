//! What the rights function and worker tell people. Transactional: no consent needed.

use super::{RequestType, RightsRequest};
use crate::clock::rfc3339_from_epoch;
use crate::config::Settings;
use crate::mail::Email;

fn email(to: &str, subject: String, text: String) -> Email {
    Email {
        to: to.to_owned(),
        subject,
        text,
        html: None,
        headers: Vec::new(),
        category: "transactional".into(),
        organisation_id: None,
    }
}

fn what(kind: RequestType) -> &'static str {
    match kind {
        RequestType::Access => "access request (a copy of your data)",
        RequestType::Portability => "portability request (your data in a machine-readable form)",
        RequestType::Correction => "correction request",
        RequestType::Erasure => "erasure request",
    }
}

pub fn received(settings: &Settings, to: &str, request: &RightsRequest, awaiting_admin: bool) -> Email {
    let next = if awaiting_admin {
        "Your organisation's admin must approve it first (your organisation is responsible for your data on Infentre)."
    } else {
        "We have started on it."
    };
    email(
        to,
        format!("We received your {}", what(request.kind)),
        format!(
            "We received your {} ({}). {next}\n\nWe answer by {} at the latest. Follow it in your account: {}/account/requests\n",
            what(request.kind),
            request.id,
            rfc3339_from_epoch(request.due_at),
            settings.public_base_url,
        ),
    )
}

pub fn awaiting_approval(settings: &Settings, to: &str, request: &RightsRequest) -> Email {
    email(
        to,
        format!("A member's {} awaits your approval", what(request.kind)),
        format!(
            "A member of your organisation filed a {} ({}). As an admin, approve or deny it:\n{}/v1/rights-requests/{}\n\nIt must be answered by {}.\n",
            what(request.kind),
            request.id,
            settings.public_base_url,
            request.id,
            rfc3339_from_epoch(request.due_at)
        ),
    )
}

pub fn denied(to: &str, request: &RightsRequest, reason: &str, settings: &Settings) -> Email {
    email(
        to,
        format!("Your {} was denied", what(request.kind)),
        format!(
            "Your organisation's admin denied your {} ({}).\n\nTheir reason: {reason}\n\nYou may complain to our data protection officer ({}) or to {} ({}).\n",
            what(request.kind),
            request.id,
            settings.dpo.email,
            settings.supervisory_authority.name,
            settings.supervisory_authority.url
        ),
    )
}

pub fn extended(to: &str, request: &RightsRequest, reason: &str) -> Email {
    email(
        to,
        format!("More time for your {}", what(request.kind)),
        format!(
            "We need more time for your {} ({}), as GDPR Art. 12(3) allows.\n\nWhy: {reason}\n\nWe now answer by {}.\n",
            what(request.kind),
            request.id,
            rfc3339_from_epoch(request.due_at)
        ),
    )
}

pub fn completed(settings: &Settings, to: &str, request: &RightsRequest) -> Email {
    let next = match request.kind {
        RequestType::Access | RequestType::Portability => format!(
            "Download it (sign in if asked): {}/account/requests/{}/export (each visit gives a fresh link that lasts an hour; the export is kept 7 days).",
            settings.public_base_url, request.id
        ),
        RequestType::Correction => "If you asked for a new address, confirm it by the link we sent there.".into(),
        RequestType::Erasure => {
            "Everything we held about you is erased, except what the law requires us to keep. This is the last e-mail we send you.".into()
        }
    };
    email(
        to,
        format!("Your {} is done", what(request.kind)),
        format!("Your {} ({}) is done.\n\n{next}\n", what(request.kind), request.id),
    )
}

pub fn failed(settings: &Settings, to: &str, request: &RightsRequest) -> Email {
    email(
        to,
        format!("We could not complete your {}", what(request.kind)),
        format!(
            "We could not complete your {} ({}). Our staff have been alerted and will follow up before {}.\n\nYou may contact our data protection officer at {}.\n",
            what(request.kind),
            request.id,
            rfc3339_from_epoch(request.due_at),
            settings.dpo.email
        ),
    )
}
